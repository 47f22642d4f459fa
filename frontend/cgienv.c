#include "cgienv.h"

#include <stdlib.h>
#include <string.h>

static const char *const REQUEST_VARS[] = {
    /* RFC 3875 section 4.1 */
    "AUTH_TYPE", "CONTENT_LENGTH", "CONTENT_TYPE", "GATEWAY_INTERFACE", "PATH_INFO", "PATH_TRANSLATED",
    "QUERY_STRING", "REMOTE_ADDR", "REMOTE_HOST", "REMOTE_IDENT", "REMOTE_USER", "REQUEST_METHOD", "SCRIPT_NAME",
    "SERVER_NAME", "SERVER_PORT", "SERVER_PROTOCOL", "SERVER_SOFTWARE",
    /* what nginx, lighttpd and Apache also give FastCGI and SCGI applications */
    "REQUEST_URI", "DOCUMENT_URI", "DOCUMENT_ROOT", "SCRIPT_FILENAME", "REMOTE_PORT", "SERVER_ADDR", "HTTPS",
    "REQUEST_SCHEME", "CONTEXT_PREFIX", "CONTEXT_DOCUMENT_ROOT", "SERVER_ADMIN", "REDIRECT_STATUS",
    "REDIRECT_URI"};

static int name_is(const char *name, size_t len, const char *want)
{
    return strlen(want) == len && memcmp(name, want, len) == 0;
}

int cgienv_is_request_var(const char *name, size_t len, const char *const *extra, size_t n_extra)
{
    if (len > 5 && memcmp(name, "HTTP_", 5) == 0)
        return 1;
    for (size_t i = 0; i < sizeof REQUEST_VARS / sizeof *REQUEST_VARS; i++)
        if (name_is(name, len, REQUEST_VARS[i]))
            return 1;
    for (size_t i = 0; i < n_extra; i++)
        if (name_is(name, len, extra[i]))
            return 1;
    return 0;
}

int cgienv_collect(char *const *env, const char *const *extra, size_t n_extra, struct cgivar **out, size_t *n)
{
    size_t count = 0;
    while (env[count] != NULL)
        count++;
    struct cgivar *vars = malloc((count ? count : 1) * sizeof *vars);
    if (vars == NULL)
        return -1;
    size_t k = 0;
    for (size_t i = 0; i < count; i++) {
        const char *e = env[i];
        const char *eq = strchr(e, '=');
        if (eq == NULL || eq == e)
            continue;
        size_t len = (size_t)(eq - e);
        if (!cgienv_is_request_var(e, len, extra, n_extra))
            continue;
        vars[k].name = e;
        vars[k].name_len = len;
        vars[k].value = eq + 1;
        vars[k].value_len = strlen(eq + 1);
        k++;
    }
    *out = vars;
    *n = k;
    return 0;
}
