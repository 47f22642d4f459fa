#include "scgi.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

static int is_named(const struct cgivar *v, const char *name)
{
    return v->name_len == strlen(name) && memcmp(v->name, name, v->name_len) == 0;
}

static int add_pair(struct buf *b, const char *name, size_t nlen, const char *value, size_t vlen)
{
    if (buf_append(b, name, nlen) != 0 || buf_append(b, "", 1) != 0 || buf_append(b, value, vlen) != 0)
        return -1;
    return buf_append(b, "", 1);
}

int scgi_request_header(struct buf *out, unsigned long long content_length, const struct cgivar *vars, size_t n)
{
    /* The pairs are built first: the netstring's length prefix comes
     * before them. */
    struct buf pairs = {0};
    struct buf cl = {0};
    int r = -1;
    if (buf_append_ull(&cl, content_length) != 0)
        goto out;
    if (add_pair(&pairs, "CONTENT_LENGTH", 14, (const char *)cl.p, cl.len) != 0 ||
        add_pair(&pairs, "SCGI", 4, "1", 1) != 0)
        goto out;
    for (size_t i = 0; i < n; i++) {
        if (is_named(&vars[i], "CONTENT_LENGTH") || is_named(&vars[i], "SCGI"))
            continue;
        if (add_pair(&pairs, vars[i].name, vars[i].name_len, vars[i].value, vars[i].value_len) != 0)
            goto out;
    }
    if (buf_append_ull(out, pairs.len) != 0 || buf_append(out, ":", 1) != 0 ||
        buf_append(out, pairs.p, pairs.len) != 0 || buf_append(out, ",", 1) != 0)
        goto out;
    r = 0;
out:
    buf_free(&pairs);
    buf_free(&cl);
    return r;
}
