/*
 * echo: the request's environment and body, on the stdio layer
 * (fcgi_stdio.h: printf, getchar and getenv reach the request).
 * Written for smisk's drop-in libfcgi to libfcgi's API, after the echo
 * example libfcgi ships; built against either library's headers.
 */
#include "fcgi_config.h"

#include <stdlib.h>
#include <string.h>

#include "fcgi_stdio.h"

extern char **environ;

static void print_env(const char *label, char **envp) {
    printf("%s:<br>\n<pre>\n", label);
    for (; envp != NULL && *envp != NULL; envp++) printf("%s\n", *envp);
    printf("</pre><p>\n");
}

int main(void) {
    int count = 0;
    while (FCGI_Accept() >= 0) {
        const char *cl = getenv("CONTENT_LENGTH");
        long len = cl ? strtol(cl, NULL, 10) : 0;
        long i;
        printf("Content-type: text/html\r\n\r\n"
               "<title>FastCGI echo</title>"
               "<h1>FastCGI echo</h1>\n"
               "Request number %d<p>\n",
               ++count);
        if (len <= 0) {
            printf("No data from standard input.<p>\n");
        } else {
            printf("Standard input:<br>\n<pre>\n");
            for (i = 0; i < len; i++) {
                int c = getchar();
                if (c < 0) {
                    printf("Error: Not enough bytes received on standard input<p>\n");
                    break;
                }
                putchar(c);
            }
            printf("\n</pre><p>\n");
        }
        print_env("Request environment", environ);
    }
    return 0;
}
