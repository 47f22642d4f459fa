/*
 * echo-x: echo on the FCGX interface (FCGX_Accept and its streams):
 * FCGX_FPrintF, FCGX_GetChar / FCGX_PutChar, FCGX_GetParam, a line on the
 * error stream. Written for smisk's drop-in libfcgi to libfcgi's API,
 * after libfcgi's echo-x example.
 */
#include "fcgi_config.h"

#include <stdlib.h>

#include "fcgiapp.h"

static void print_env(FCGX_Stream *out, const char *label, char **envp) {
    FCGX_FPrintF(out, "%s:<br>\n<pre>\n", label);
    for (; *envp != NULL; envp++) FCGX_FPrintF(out, "%s\n", *envp);
    FCGX_FPrintF(out, "</pre><p>\n");
}

int main(void) {
    FCGX_Stream *in, *out, *err;
    FCGX_ParamArray envp;
    int count = 0;

    while (FCGX_Accept(&in, &out, &err, &envp) >= 0) {
        char *cl = FCGX_GetParam("CONTENT_LENGTH", envp);
        long len = cl ? strtol(cl, NULL, 10) : 0;
        long i;
        FCGX_FPrintF(out,
                     "Content-type: text/html\r\n\r\n"
                     "<title>FastCGI echo (fcgiapp version)</title>"
                     "<h1>FastCGI echo (fcgiapp version)</h1>\n"
                     "Request number %d<p>\n",
                     ++count);
        if (len <= 0) {
            FCGX_FPrintF(out, "No data from standard input.<p>\n");
        } else {
            FCGX_FPrintF(out, "Standard input:<br>\n<pre>\n");
            for (i = 0; i < len; i++) {
                int c = FCGX_GetChar(in);
                if (c < 0) {
                    FCGX_FPrintF(out, "Error: Not enough bytes received on standard input<p>\n");
                    break;
                }
                FCGX_PutChar(c, out);
            }
            FCGX_FPrintF(out, "\n</pre><p>\n");
        }
        print_env(out, "Request environment", envp);
        FCGX_FPrintF(err, "echo-x: request %d, %ld body bytes\n", count, len);
    }
    return 0;
}
