/* One request's bytes in both directions at once, in one poll loop:
 * the request header, then exactly CONTENT_LENGTH bytes of stdin (framed as
 * STDIN records for FastCGI) to the daemon; its answer (unframed from
 * STDOUT records for FastCGI, STDERR records to stderr) to stdout. Both
 * directions move at the same time, so a daemon that answers before it has
 * read the body cannot deadlock with a web server that writes the whole
 * body before it reads; every buffer is 64 KiB and every wait bounded by
 * the timeout (silence of the daemon or the web server that long ends the
 * request). A daemon that stops reading (it answered early) stops the
 * upload, the answer still goes out, and the rest of stdin is then read and
 * dropped so the web server is never left writing into a closed pipe. */
#ifndef SMISK_FRONTEND_RELAY_H
#define SMISK_FRONTEND_RELAY_H

#include "address.h"
#include "buf.h"

/* The FastCGI request id the front end uses (one request per connection). */
#define RELAY_FCGI_ID 1

enum relay_result {
    RELAY_OK,        /* the whole answer went to stdout */
    RELAY_NO_ANSWER, /* the daemon said nothing: the caller answers 502 */
    RELAY_OVERLOADED,/* FastCGI END_REQUEST with FCGI_OVERLOADED and no output: 503 */
    RELAY_FAILED     /* a part of the answer went out, or the web server left (logged) */
};

/* Runs the exchange on the connected, non-blocking socket sock; head is the
 * request header (freed here). Sets stdin and stdout non-blocking. */
enum relay_result relay(int sock, enum proto proto, struct buf *head, unsigned long long body_len,
                        long timeout_ms);

#endif
