#include "fastcgi.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

enum { ST_HEADER, ST_CONTENT, ST_PADDING, ST_END, ST_BAD };

void fcgi_header(unsigned char h[FCGI_HEADER_LEN], enum fcgi_type type, unsigned id, size_t content_len)
{
    h[0] = 1; /* FCGI_VERSION_1 */
    h[1] = (unsigned char)type;
    h[2] = (unsigned char)(id >> 8);
    h[3] = (unsigned char)id;
    h[4] = (unsigned char)(content_len >> 8);
    h[5] = (unsigned char)content_len;
    h[6] = 0; /* padding: optional, and the front end writes none */
    h[7] = 0;
}

static int append_len(struct buf *out, size_t n)
{
    if (n < 128) {
        unsigned char c = (unsigned char)n;
        return buf_append(out, &c, 1);
    }
    if (n > 0x7fffffffu) {
        errno = E2BIG;
        return -1;
    }
    unsigned char c[4] = {(unsigned char)(0x80 | (n >> 24)), (unsigned char)(n >> 16), (unsigned char)(n >> 8),
                          (unsigned char)n};
    return buf_append(out, c, 4);
}

int fcgi_append_pair(struct buf *out, const char *name, size_t nlen, const char *value, size_t vlen)
{
    if (append_len(out, nlen) != 0 || append_len(out, vlen) != 0 || buf_append(out, name, nlen) != 0)
        return -1;
    return buf_append(out, value, vlen);
}

int fcgi_request_head(struct buf *out, unsigned id, const struct cgivar *vars, size_t n)
{
    unsigned char h[FCGI_HEADER_LEN];
    /* role RESPONDER (1), flags 0: the daemon closes after the answer. */
    static const unsigned char begin[8] = {0, 1, 0, 0, 0, 0, 0, 0};
    fcgi_header(h, FCGI_BEGIN_REQUEST, id, sizeof begin);
    if (buf_append(out, h, sizeof h) != 0 || buf_append(out, begin, sizeof begin) != 0)
        return -1;

    struct buf params = {0};
    for (size_t i = 0; i < n; i++) {
        if (fcgi_append_pair(&params, vars[i].name, vars[i].name_len, vars[i].value, vars[i].value_len) != 0) {
            buf_free(&params);
            return -1;
        }
    }
    /* The PARAMS stream is cut into records at any byte (the protocol lets a
     * pair span records), so a value of any length fits. */
    for (size_t off = 0; off < params.len;) {
        size_t chunk = params.len - off > FCGI_MAX_CONTENT ? FCGI_MAX_CONTENT : params.len - off;
        fcgi_header(h, FCGI_PARAMS, id, chunk);
        if (buf_append(out, h, sizeof h) != 0 || buf_append(out, params.p + off, chunk) != 0) {
            buf_free(&params);
            return -1;
        }
        off += chunk;
    }
    buf_free(&params);
    fcgi_header(h, FCGI_PARAMS, id, 0);
    return buf_append(out, h, sizeof h);
}

void fcgi_reader_init(struct fcgi_reader *r, unsigned id)
{
    memset(r, 0, sizeof *r);
    r->id = id;
    r->state = ST_HEADER;
}

static void header_done(struct fcgi_reader *r)
{
    r->type = (enum fcgi_type)r->hdr[1];
    r->record_id = (unsigned)r->hdr[2] << 8 | r->hdr[3];
    r->content_left = (size_t)r->hdr[4] << 8 | r->hdr[5];
    r->padding_left = r->hdr[6];
    r->have = 0;
    if (r->hdr[0] != 1) {
        r->state = ST_BAD;
        return;
    }
    int ours_end = r->type == FCGI_END_REQUEST && r->record_id == r->id;
    if (ours_end && r->content_left < sizeof r->end) {
        r->state = ST_BAD;
        return;
    }
    r->state = r->content_left ? ST_CONTENT : r->padding_left ? ST_PADDING : ST_HEADER;
}

static void end_done(struct fcgi_reader *r)
{
    r->app_status = (unsigned long)r->end[0] << 24 | (unsigned long)r->end[1] << 16 |
                    (unsigned long)r->end[2] << 8 | r->end[3];
    r->protocol_status = r->end[4];
    r->state = ST_END;
}

enum fcgi_feed fcgi_reader_feed(struct fcgi_reader *r, const unsigned char *p, size_t n, fcgi_sink sink,
                                void *ctx)
{
    while (n > 0 && r->state != ST_END && r->state != ST_BAD) {
        if (r->state == ST_HEADER) {
            size_t take = FCGI_HEADER_LEN - r->have;
            take = take < n ? take : n;
            memcpy(r->hdr + r->have, p, take);
            r->have += take;
            p += take;
            n -= take;
            if (r->have == FCGI_HEADER_LEN)
                header_done(r);
            continue;
        }
        if (r->state == ST_CONTENT) {
            size_t take = r->content_left < n ? r->content_left : n;
            if (r->record_id == r->id) {
                if (r->type == FCGI_STDOUT || r->type == FCGI_STDERR) {
                    sink(ctx, r->type, p, take);
                } else if (r->type == FCGI_END_REQUEST && r->have < sizeof r->end) {
                    size_t e = sizeof r->end - r->have;
                    e = e < take ? e : take;
                    memcpy(r->end + r->have, p, e);
                    r->have += e;
                }
            }
            p += take;
            n -= take;
            r->content_left -= take;
            if (r->content_left == 0) {
                if (r->type == FCGI_END_REQUEST && r->record_id == r->id) {
                    /* The last record of the request: its padding, and
                     * anything after, is of no interest. */
                    end_done(r);
                    break;
                }
                r->state = r->padding_left ? ST_PADDING : ST_HEADER;
            }
            continue;
        }
        /* ST_PADDING */
        size_t take = r->padding_left < n ? r->padding_left : n;
        p += take;
        n -= take;
        r->padding_left -= take;
        if (r->padding_left == 0)
            r->state = ST_HEADER;
    }
    return r->state == ST_END ? FCGI_FEED_END : r->state == ST_BAD ? FCGI_FEED_BAD : FCGI_FEED_MORE;
}
