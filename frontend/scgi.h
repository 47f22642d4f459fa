/* The SCGI request header (SCGI 1): a netstring "LEN:" of NUL-terminated
 * name and value pairs, CONTENT_LENGTH first and SCGI=1 required, then ",".
 * The body follows it unframed; the answer comes back as a plain CGI
 * response, so it is copied to stdout as it is. */
#ifndef SMISK_FRONTEND_SCGI_H
#define SMISK_FRONTEND_SCGI_H

#include <stddef.h>

#include "buf.h"
#include "cgienv.h"

/* Appends the header for a body of content_length bytes and the variables
 * vars (a CONTENT_LENGTH or SCGI among them is replaced by the required
 * ones). 0, or -1 when out of memory. */
int scgi_request_header(struct buf *out, unsigned long long content_length, const struct cgivar *vars, size_t n);

#endif
