/*
 * authorizer: a FastCGI Authorizer on the stdio layer. It admits the user
 * and password named by AUTH_USER / AUTH_PASSWORD in its own environment
 * (default doe / xxxx) when the web server passes them as REMOTE_USER /
 * REMOTE_PASSWD: 200 with Variable- headers for the server; else 401 and
 * a Basic challenge. Written for smisk's drop-in libfcgi to libfcgi's
 * API, after libfcgi's authorizer example.
 */
#include "fcgi_config.h"

#include <stdlib.h>
#include <string.h>

#include "fcgi_stdio.h"

int main(void) {
    const char *user = getenv("AUTH_USER");
    const char *password = getenv("AUTH_PASSWORD");
    if (user == NULL) user = "doe";
    if (password == NULL) password = "xxxx";

    while (FCGI_Accept() >= 0) {
        const char *remote_user = getenv("REMOTE_USER");
        const char *remote_password = getenv("REMOTE_PASSWD");
        if (remote_user == NULL || remote_password == NULL || strcmp(remote_user, user) != 0 ||
            strcmp(remote_password, password) != 0) {
            printf("Status: 401 Unauthorized\r\n"
                   "WWW-Authenticate: Basic realm=\"Test\"\r\n"
                   "\r\n");
        } else {
            const char *process_id = getenv("QUERY_STRING");
            if (process_id == NULL || strlen(process_id) == 0) process_id = "0";
            printf("Status: 200 OK\r\n"
                   "Variable-AUTH_TYPE: Basic\r\n"
                   "Variable-REMOTE_PASSWD:\r\n"
                   "Variable-PROCESS_ID: %s\r\n"
                   "\r\n",
                   process_id);
        }
    }
    return 0;
}
