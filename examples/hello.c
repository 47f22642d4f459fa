/* hello.c -- the smallest smisk FastCGI responder: answers every request with
 * "Hello World!".
 *
 *   examples/hello /tmp/hello.sock      listen on a unix socket
 *   examples/hello 127.0.0.1:9000       listen on TCP
 *   examples/hello -                    serve the socket on fd 0 (spawn-fcgi,
 *                                       or a web server that starts it)
 */
#include <stdio.h>
#include <string.h>

#include "smisk.h"

static const char content_type[] = "Content-Type: text/plain";
static const char body[] = "Hello World!\n";

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s ADDRESS\n  ADDRESS: /path/to.sock, HOST:PORT, [IPV6]:PORT, "
                        "or - to serve fd 0\n", argv[0]);
        return 2;
    }
    smisk_server *server = NULL;
    if (smisk_server_new(&server) != SMISK_OK) {
        fprintf(stderr, "hello: %s\n", smisk_last_error());
        return 1;
    }
    if (strcmp(argv[1], "-") != 0) {
        if (smisk_server_bind(server, argv[1], strlen(argv[1]), 0) != SMISK_OK) {
            fprintf(stderr, "hello: cannot bind %s: %s\n", argv[1], smisk_last_error());
            smisk_server_free(server);
            return 1;
        }
        char where[512];
        size_t where_len = 0;
        if (smisk_server_listening(server, where, sizeof where, &where_len) == SMISK_OK) {
            fprintf(stderr, "hello: listening on %.*s\n", (int)where_len, where);
        }
    }

    for (;;) {
        smisk_request *request = NULL;
        smisk_status st = smisk_server_accept(server, -1, &request);
        if (st == SMISK_ERR_INTERRUPTED) {
            continue;
        }
        if (st != SMISK_OK) {
            fprintf(stderr, "hello: accept: %s\n", smisk_last_error());
            break;
        }
        /* A failure here means the web server went away mid-request; the
         * next accept carries on with other connections. */
        if (smisk_response_add_header(request, content_type, sizeof content_type - 1) == SMISK_OK) {
            smisk_response_write(request, body, sizeof body - 1);
        }
        smisk_request_finish(request, 0);
    }
    smisk_server_free(server);
    return 1;
}
