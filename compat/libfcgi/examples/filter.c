/*
 * filter: a FastCGI Filter (FCGI_ROLE=FILTER): reads its stdin to the end,
 * then the data file with FCGI_StartFilterData, and answers with both
 * lengths, FCGI_DATA_LENGTH, and the data upper-cased. A responder request
 * gets a 400 (FCGI_StartFilterData fails for it). No web server in Debian
 * sends the Filter role; the tests send it with a raw client. Written for
 * smisk's drop-in libfcgi to libfcgi's API.
 */
#include "fcgi_config.h"

#include <ctype.h>
#include <stdlib.h>

#include "fcgi_stdio.h"

int main(void) {
    static char data[1 << 20];
    while (FCGI_Accept() >= 0) {
        long in = 0, n = 0;
        int c;
        const char *declared = getenv("FCGI_DATA_LENGTH");
        while (getchar() != EOF) in++;
        if (FCGI_StartFilterData() != 0) {
            printf("Status: 400 Bad Request\r\nContent-type: text/plain\r\n\r\n"
                   "not a filter request (stdin %ld bytes)\n", in);
            continue;
        }
        while (n < (long)sizeof data && (c = getchar()) != EOF) data[n++] = (char)toupper(c);
        printf("Content-type: text/plain\r\n\r\nstdin %ld data %ld declared %s\n", in, n,
               declared ? declared : "-");
        fwrite(data, 1, (size_t)n, stdout);
        FCGI_SetExitStatus(n > 0 ? 0 : 3);
    }
    return 0;
}
