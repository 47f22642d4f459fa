/*
 * size: answers QUERY_STRING=N with exactly N bytes (a repeating pattern,
 * written in pieces of up to 64 KiB with fwrite), on the stdio layer.
 * Written for smisk's drop-in libfcgi to libfcgi's API, after libfcgi's
 * size example.
 */
#include "fcgi_config.h"

#include <stdlib.h>

#include "fcgi_stdio.h"

#define PIECE 65536
#define MAX_SIZE (256L << 20)

int main(void) {
    static char piece[PIECE];
    int i;
    for (i = 0; i < PIECE; i++) piece[i] = (char)('a' + i % 26);
    while (FCGI_Accept() >= 0) {
        const char *q = getenv("QUERY_STRING");
        long n = q ? strtol(q, NULL, 10) : 0;
        if (n < 0 || n > MAX_SIZE) n = 0;
        printf("Content-type: text/plain\r\nContent-Length: %ld\r\n\r\n", n);
        while (n > 0) {
            size_t k = n < PIECE ? (size_t)n : PIECE;
            if (fwrite(piece, 1, k, stdout) != k) break;
            n -= (long)k;
        }
    }
    return 0;
}
