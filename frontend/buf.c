#include "buf.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int buf_reserve(struct buf *b, size_t more)
{
    if (more <= b->cap - b->len)
        return 0;
    if (more > SIZE_MAX - b->len) {
        errno = ENOMEM;
        return -1;
    }
    size_t need = b->len + more;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need) {
        /* Doubling keeps appends amortised O(1); past SIZE_MAX / 2 the exact
         * size is the only one left. */
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    }
    unsigned char *p = realloc(b->p, cap);
    if (p == NULL) {
        errno = ENOMEM;
        return -1;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

int buf_append(struct buf *b, const void *data, size_t n)
{
    if (n == 0)
        return 0;
    if (buf_reserve(b, n) != 0)
        return -1;
    memcpy(b->p + b->len, data, n);
    b->len += n;
    return 0;
}

int buf_append_ull(struct buf *b, unsigned long long v)
{
    char digits[24]; /* 2^64 has 20 decimal digits */
    size_t i = sizeof digits;
    do {
        digits[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    return buf_append(b, digits + i, sizeof digits - i);
}

void buf_free(struct buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}
