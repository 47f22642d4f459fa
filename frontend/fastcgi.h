/* The client side of FastCGI (version 1, the RESPONDER role, one request
 * per connection): the records the front end writes (BEGIN_REQUEST, the
 * PARAMS stream, STDIN) and a sans-I/O reader for what the daemon answers
 * (STDOUT, STDERR, END_REQUEST), fed any slices of bytes, one byte at a
 * time included. */
#ifndef SMISK_FRONTEND_FASTCGI_H
#define SMISK_FRONTEND_FASTCGI_H

#include <stddef.h>

#include "buf.h"
#include "cgienv.h"

#define FCGI_HEADER_LEN 8
#define FCGI_MAX_CONTENT 65535

enum fcgi_type {
    FCGI_BEGIN_REQUEST = 1,
    FCGI_ABORT_REQUEST = 2,
    FCGI_END_REQUEST = 3,
    FCGI_PARAMS = 4,
    FCGI_STDIN = 5,
    FCGI_STDOUT = 6,
    FCGI_STDERR = 7
};

/* protocolStatus of END_REQUEST */
enum { FCGI_REQUEST_COMPLETE = 0, FCGI_CANT_MPX_CONN = 1, FCGI_OVERLOADED = 2, FCGI_UNKNOWN_ROLE = 3 };

/* Writes a record header for content_len (<= FCGI_MAX_CONTENT) bytes, no
 * padding. */
void fcgi_header(unsigned char h[FCGI_HEADER_LEN], enum fcgi_type type, unsigned id, size_t content_len);

/* Appends BEGIN_REQUEST (RESPONDER, connection closed after the request),
 * the PARAMS records carrying vars, and the empty PARAMS record that ends
 * them. 0, or -1 (ENOMEM, or E2BIG for a name or value over 2^31 - 1). */
int fcgi_request_head(struct buf *out, unsigned id, const struct cgivar *vars, size_t n);

/* Appends one name-value pair in FastCGI's encoding (1-byte lengths below
 * 128, else 4 bytes with the top bit set). */
int fcgi_append_pair(struct buf *out, const char *name, size_t nlen, const char *value, size_t vlen);

/* What the daemon sends back. */
typedef void (*fcgi_sink)(void *ctx, enum fcgi_type type, const unsigned char *p, size_t n);

struct fcgi_reader {
    unsigned id; /* the request id answers are taken for */
    int state;
    unsigned char hdr[FCGI_HEADER_LEN];
    size_t have;          /* bytes of hdr, or of end, collected */
    enum fcgi_type type;  /* of the record being read */
    unsigned record_id;
    size_t content_left;
    size_t padding_left;
    unsigned char end[8]; /* END_REQUEST body */
    unsigned long app_status;
    int protocol_status;
};

enum fcgi_feed { FCGI_FEED_MORE, FCGI_FEED_END, FCGI_FEED_BAD };

void fcgi_reader_init(struct fcgi_reader *r, unsigned id);
/* Consumes n bytes: STDOUT and STDERR content of request id goes to sink
 * (possibly in several slices), other request ids and record types are
 * skipped. FCGI_FEED_END once END_REQUEST for id arrived (app_status and
 * protocol_status are then set; later bytes are ignored), FCGI_FEED_BAD for
 * a record of another version or a short END_REQUEST. */
enum fcgi_feed fcgi_reader_feed(struct fcgi_reader *r, const unsigned char *p, size_t n, fcgi_sink sink,
                                void *ctx);

#endif
