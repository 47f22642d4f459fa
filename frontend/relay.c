#include "relay.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fastcgi.h"
#include "io.h"

#define CHUNK 65536

struct relay {
    int sock;
    enum proto proto;
    long timeout_ms;
    struct buf up; /* bytes for the daemon: the header, then one body chunk at a time */
    size_t up_off;
    unsigned long long body_len, body_left;
    int up_closed; /* nothing more goes to the daemon */
    int sent_end;  /* FastCGI: the empty STDIN record is queued */
    unsigned char *raw;  /* FastCGI: bytes as read from the socket */
    unsigned char *down; /* answer bytes for stdout */
    size_t down_len, down_off;
    unsigned long long produced; /* answer bytes received */
    int answer_done;
    struct fcgi_reader rd;
};

static void sink(void *ctx, enum fcgi_type type, const unsigned char *p, size_t n)
{
    struct relay *r = ctx;
    if (type == FCGI_STDOUT) {
        /* Fits: the socket is read only into an empty down buffer and at
         * most CHUNK bytes at a time, and content is never longer than the
         * records it came in. */
        memcpy(r->down + r->down_len, p, n);
        r->down_len += n;
        r->produced += n;
    } else {
        /* The application's error stream: the web server's error log. */
        (void)write_all(2, p, n, 1000);
    }
}

/* Refills the up buffer when it has been sent. */
static int queue_more(struct relay *r)
{
    if (r->up_closed || r->up_off < r->up.len)
        return 0;
    r->up.len = r->up_off = 0;
    if (r->body_left > 0)
        return 0; /* stdin is polled for the next chunk */
    if (r->proto == PROTO_FASTCGI && !r->sent_end) {
        unsigned char h[FCGI_HEADER_LEN];
        fcgi_header(h, FCGI_STDIN, RELAY_FCGI_ID, 0);
        r->sent_end = 1;
        return buf_append(&r->up, h, sizeof h);
    }
    r->up_closed = 1; /* all of the request is with the daemon */
    return 0;
}

/* 1 read, 0 nothing now, -1 the web server's body ended early or failed. */
static int read_stdin(struct relay *r)
{
    size_t max = r->proto == PROTO_FASTCGI ? FCGI_MAX_CONTENT : CHUNK;
    size_t want = r->body_left < max ? (size_t)r->body_left : max;
    size_t hdr = r->proto == PROTO_FASTCGI ? FCGI_HEADER_LEN : 0;
    if (buf_reserve(&r->up, hdr + want) != 0) {
        log_msg("out of memory");
        return -1;
    }
    ssize_t n = read(0, r->up.p + hdr, want);
    if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
        return 0;
    if (n <= 0) {
        if (n == 0)
            log_msg("the web server sent %llu of %llu body bytes, then closed stdin",
                    r->body_len - r->body_left, r->body_len);
        else
            log_msg("reading the request body: %s", strerror(errno));
        return -1;
    }
    if (hdr)
        fcgi_header(r->up.p, FCGI_STDIN, RELAY_FCGI_ID, (size_t)n);
    r->up.len = hdr + (size_t)n;
    r->up_off = 0;
    r->body_left -= (unsigned long long)n;
    return 1;
}

/* 0 fine (sent or not now), -1 failed. */
static int send_up(struct relay *r)
{
    ssize_t n = send(r->sock, r->up.p + r->up_off, r->up.len - r->up_off, MSG_NOSIGNAL);
    if (n > 0) {
        r->up_off += (size_t)n;
        return 0;
    }
    if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
        return 0;
    if (n < 0 && (errno == EPIPE || errno == ECONNRESET)) {
        /* The daemon closed its side: it has answered, or will say why. */
        r->up_closed = 1;
        return 0;
    }
    log_msg("sending to the daemon: %s", strerror(errno));
    return -1;
}

/* 0 fine, -1 the daemon broke the protocol or the connection (logged). */
static int recv_down(struct relay *r)
{
    unsigned char *into = r->proto == PROTO_FASTCGI ? r->raw : r->down;
    ssize_t n = recv(r->sock, into, CHUNK, 0);
    if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
        return 0;
    int reset = n < 0 && errno == ECONNRESET;
    if (n < 0 && !reset) {
        log_msg("reading from the daemon: %s", strerror(errno));
        return -1;
    }
    if (n == 0 || reset) {
        r->answer_done = 1;
        if (r->proto == PROTO_FASTCGI) {
            if (r->produced > 0)
                log_msg("the daemon closed the connection before END_REQUEST: the answer may be cut");
            return r->produced > 0 ? -1 : 0;
        }
        if (reset && r->produced > 0)
            log_msg("the daemon reset the connection: the answer may be cut");
        return reset && r->produced > 0 ? -1 : 0;
    }
    if (r->proto == PROTO_SCGI) {
        r->down_len = (size_t)n;
        r->down_off = 0;
        r->produced += (unsigned long long)n;
        return 0;
    }
    r->down_len = r->down_off = 0;
    switch (fcgi_reader_feed(&r->rd, r->raw, (size_t)n, sink, r)) {
    case FCGI_FEED_MORE:
        return 0;
    case FCGI_FEED_END:
        r->answer_done = 1;
        return 0;
    case FCGI_FEED_BAD:
        break;
    }
    log_msg("the daemon sent a record that is not FastCGI 1");
    r->answer_done = 1;
    return -1;
}

/* 0 fine, -1 the web server is gone. */
static int write_down(struct relay *r)
{
    ssize_t n = write(1, r->down + r->down_off, r->down_len - r->down_off);
    if (n > 0) {
        r->down_off += (size_t)n;
        if (r->down_off == r->down_len)
            r->down_off = r->down_len = 0;
        return 0;
    }
    if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
        return 0;
    log_msg("writing the answer: %s", n < 0 ? strerror(errno) : "no progress");
    return -1;
}

/* Reads and drops what is left of the body (bounded by the timeout per
 * read), so the web server's writes to our stdin end normally. */
static void drain_stdin(struct relay *r)
{
    while (r->body_left > 0) {
        int w = wait_fd(0, POLLIN, r->timeout_ms);
        if (w <= 0)
            return;
        size_t want = r->body_left < CHUNK ? (size_t)r->body_left : CHUNK;
        ssize_t n = read(0, r->raw, want);
        if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
            continue;
        if (n <= 0)
            return;
        r->body_left -= (unsigned long long)n;
    }
}

static enum relay_result loop(struct relay *r)
{
    for (;;) {
        if (queue_more(r) != 0) {
            log_msg("out of memory");
            return RELAY_FAILED;
        }
        if (r->answer_done && r->down_off == r->down_len)
            return RELAY_OK;
        struct pollfd pf[3];
        int up_pending = !r->up_closed && r->up_off < r->up.len;
        short sock_ev = (short)((up_pending ? POLLOUT : 0) | (!r->answer_done && r->down_len == 0 ? POLLIN : 0));
        int want_stdin = !r->up_closed && !up_pending && r->body_left > 0;
        int want_stdout = r->down_off < r->down_len;
        /* An fd with nothing asked of it is left out (-1): poll would
         * otherwise report its hang-up over and over. */
        pf[0] = (struct pollfd){sock_ev ? r->sock : -1, sock_ev, 0};
        pf[1] = (struct pollfd){want_stdin ? 0 : -1, POLLIN, 0};
        pf[2] = (struct pollfd){want_stdout ? 1 : -1, POLLOUT, 0};
        int n = poll(pf, 3, (int)r->timeout_ms);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            log_msg("poll: %s", strerror(errno));
            return RELAY_FAILED;
        }
        if (n == 0) {
            log_msg("no progress for %.3f s (%s); giving up on the request", (double)r->timeout_ms / 1000,
                    want_stdout ? "the web server does not read the answer"
                    : !r->answer_done && !up_pending && !want_stdin ? "the daemon does not answer"
                    : want_stdin ? "the web server sends no body" : "the daemon does not read the request");
            return RELAY_FAILED;
        }
        short err = POLLERR | POLLHUP;
        if (pf[2].revents) {
            if (write_down(r) != 0)
                return RELAY_FAILED;
        }
        if (pf[1].revents & (POLLIN | err)) {
            if (read_stdin(r) < 0)
                return RELAY_FAILED;
        }
        if ((pf[0].revents & (POLLOUT | err)) && up_pending) {
            if (send_up(r) != 0)
                return RELAY_FAILED;
        }
        if ((pf[0].revents & (POLLIN | err)) && (sock_ev & POLLIN)) {
            if (recv_down(r) != 0)
                return RELAY_FAILED;
        }
    }
}

enum relay_result relay(int sock, enum proto proto, struct buf *head, unsigned long long body_len,
                        long timeout_ms)
{
    struct relay r;
    memset(&r, 0, sizeof r);
    r.sock = sock;
    r.proto = proto;
    r.timeout_ms = timeout_ms;
    r.up = *head;
    *head = (struct buf){0};
    r.body_len = r.body_left = body_len;
    fcgi_reader_init(&r.rd, RELAY_FCGI_ID);
    r.raw = malloc(CHUNK);
    r.down = malloc(CHUNK);
    enum relay_result result = RELAY_FAILED;
    if (r.raw == NULL || r.down == NULL) {
        log_msg("out of memory");
        goto out;
    }
    /* Non-blocking both ways: one poll loop decides who moves; a blocking
     * write into a full pipe would stall the other direction. */
    if ((body_len > 0 && set_nonblock(0, 1) != 0) || set_nonblock(1, 1) != 0) {
        log_msg("fcntl O_NONBLOCK on stdin/stdout: %s", strerror(errno));
        goto out;
    }
    result = loop(&r);
    if (r.produced == 0 && (result == RELAY_OK || r.answer_done)) {
        int overloaded = proto == PROTO_FASTCGI && r.rd.protocol_status == FCGI_OVERLOADED;
        result = overloaded ? RELAY_OVERLOADED : RELAY_NO_ANSWER;
        log_msg("the daemon closed the connection without an answer%s",
                overloaded ? " (FastCGI: overloaded)" : "");
    }
    if (result == RELAY_OK && proto == PROTO_FASTCGI && r.rd.protocol_status != FCGI_REQUEST_COMPLETE)
        log_msg("FastCGI END_REQUEST protocol status %d", r.rd.protocol_status);
    if (result != RELAY_FAILED || r.answer_done) {
        /* Closing first tells the daemon (if it still reads) that nothing
         * more comes; then the web server's rest of the body is taken. */
        (void)shutdown(sock, SHUT_RDWR);
        drain_stdin(&r);
    }
out:
    free(r.raw);
    free(r.down);
    buf_free(&r.up);
    return result;
}
