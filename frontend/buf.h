/* A growable byte buffer: the only way the front end holds bytes whose size
 * it does not know in advance (the request header, a FastCGI record being
 * framed). Growth is checked for overflow and fails with ENOMEM instead of
 * truncating. */
#ifndef SMISK_FRONTEND_BUF_H
#define SMISK_FRONTEND_BUF_H

#include <stddef.h>

struct buf {
    unsigned char *p;
    size_t len; /* bytes in use */
    size_t cap; /* bytes allocated */
};

/* Makes room for `more` bytes after len; 0, or -1 with errno = ENOMEM. */
int buf_reserve(struct buf *b, size_t more);
/* Appends n bytes; 0 or -1 (ENOMEM). */
int buf_append(struct buf *b, const void *data, size_t n);
/* Appends the decimal digits of v. */
int buf_append_ull(struct buf *b, unsigned long long v);
void buf_free(struct buf *b);

#endif
