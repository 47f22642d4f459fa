/* Which variables of the CGI program's environment describe the request and
 * go to the daemon: the CGI/1.1 meta-variables (RFC 3875 section 4.1), the
 * request variables web servers add for FastCGI and SCGI too (REQUEST_URI,
 * HTTPS, DOCUMENT_ROOT, ...), every HTTP_* header variable, and the names a
 * configuration adds with pass_env. Nothing else: the web server's own
 * environment (PATH, secrets set with SetEnv for other scripts) stays here. */
#ifndef SMISK_FRONTEND_CGIENV_H
#define SMISK_FRONTEND_CGIENV_H

#include <stddef.h>

struct cgivar {
    const char *name; /* points into the environment entry, not NUL-terminated */
    size_t name_len;
    const char *value; /* NUL-terminated */
    size_t value_len;
};

/* The forwarded variables of env (a NULL-terminated "NAME=VALUE" array), in
 * its order, as a newly allocated array (free it) of *n entries. extra names
 * (n_extra of them) are forwarded too. 0, or -1 when out of memory. */
int cgienv_collect(char *const *env, const char *const *extra, size_t n_extra, struct cgivar **out, size_t *n);

/* Is NAME (len bytes) a request variable? Also what the daemon's own
 * environment must never inherit from the request that started it. */
int cgienv_is_request_var(const char *name, size_t len, const char *const *extra, size_t n_extra);

#endif
