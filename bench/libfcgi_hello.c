/*
 * The hello-world responder written on libfcgi (Debian libfcgi-dev), the
 * baseline that bench/fcgi-bench compares the smisk hello (examples/hello.c)
 * against. It answers every request with exactly the bytes the smisk hello
 * sends, so the load generator can verify both with the same expected string.
 *
 * Usage: libfcgi_hello ADDRESS
 *   ADDRESS is a unix socket path (contains '/') or host:port / :port, passed
 *   straight to FCGX_OpenSocket.
 *
 * Build: cc -std=c99 -O2 -Wall -Wextra -Werror -o libfcgi_hello libfcgi_hello.c -lfcgi
 *
 * It is written the way libfcgi's own examples are (one FCGX_Request, an
 * FCGX_Accept_r loop), because that is how libfcgi is used in the wild and what
 * the benchmark should measure; no tuning beyond that.
 */
#include <fcgiapp.h>
#include <stdio.h>
#include <string.h>

static const char BODY[] = "Content-Type: text/plain\r\n\r\nHello World!\n";

int main(int argc, char **argv) {
    FCGX_Request req;
    int sock;

    if (argc != 2) {
        fprintf(stderr, "usage: %s ADDRESS (unix socket path or host:port)\n", argv[0]);
        return 2;
    }
    if (FCGX_Init() != 0) {
        fprintf(stderr, "libfcgi_hello: FCGX_Init failed\n");
        return 1;
    }
    /* Backlog 1024: the 32-connection rows must not be limited by listen(2). */
    sock = FCGX_OpenSocket(argv[1], 1024);
    if (sock < 0) {
        fprintf(stderr, "libfcgi_hello: cannot listen on %s\n", argv[1]);
        return 1;
    }
    if (FCGX_InitRequest(&req, sock, 0) != 0) {
        fprintf(stderr, "libfcgi_hello: FCGX_InitRequest failed\n");
        return 1;
    }
    while (FCGX_Accept_r(&req) >= 0) {
        /* sizeof - 1: the terminating NUL is not part of the answer. */
        FCGX_PutStr(BODY, (int)(sizeof BODY - 1), req.out);
        FCGX_Finish_r(&req);
    }
    return 0;
}
