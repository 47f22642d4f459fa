/*
 * log-dump: one program in two roles, after libfcgi's log-dump example.
 * As an Authorizer (FCGI_ROLE=AUTHORIZER) it admits a request whose
 * QUERY_STRING is the key in LOG_KEY (its own environment; default
 * "letmein"). As a Responder it sends the text file LOG_FILE (its own
 * environment) line by line, numbered, read with fopen / fgets / fclose of
 * the stdio layer; a missing file is a 404 and a line on the error
 * stream. Written for smisk's drop-in libfcgi to libfcgi's API.
 */
#include "fcgi_config.h"

#include <stdlib.h>
#include <string.h>

#include "fcgi_stdio.h"

int main(void) {
    const char *log_file = getenv("LOG_FILE");
    const char *key = getenv("LOG_KEY");
    char line[4096];
    if (key == NULL) key = "letmein";

    while (FCGI_Accept() >= 0) {
        const char *role = getenv("FCGI_ROLE");
        const char *query = getenv("QUERY_STRING");
        if (role != NULL && strcmp(role, "AUTHORIZER") == 0) {
            if (query != NULL && strcmp(query, key) == 0) {
                printf("Status: 200 OK\r\nVariable-LOG_ACCESS: granted\r\n\r\n");
            } else {
                printf("Status: 403 Forbidden\r\nContent-type: text/plain\r\n\r\nno\n");
            }
            continue;
        }
        FILE *f = log_file ? fopen(log_file, "r") : NULL;
        if (f == NULL) {
            printf("Status: 404 Not Found\r\nContent-type: text/plain\r\n\r\nno log file\n");
            fprintf(stderr, "log-dump: cannot open %s\n", log_file ? log_file : "(LOG_FILE unset)");
            continue;
        }
        printf("Content-type: text/plain\r\n\r\n");
        {
            int n = 0;
            while (fgets(line, sizeof line, f) != NULL) printf("%4d: %s", ++n, line);
            printf("-- %d lines\n", n);
        }
        fclose(f);
    }
    return 0;
}
