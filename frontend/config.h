/* The front end's configuration: a short text file of "key = value" lines
 * (lines starting with '#' are comments, so the file can itself be the CGI
 * script, with "#!/usr/local/bin/smisk-frontend" as its first line). The
 * keys, their defaults and their meaning are in docs/deployment.md; unknown
 * keys and malformed values are errors, never ignored. */
#ifndef SMISK_FRONTEND_CONFIG_H
#define SMISK_FRONTEND_CONFIG_H

#include <stddef.h>

#include "address.h"

/* The largest configuration file read: a bigger one is an error. */
#define CONFIG_MAX_BYTES (1024 * 1024)

struct config {
    char *text; /* the file, NUL-terminated; string values point into it */
    char *dir;  /* the file's directory: relative paths are taken from it */
    struct address addr;
    const char *address_text;
    const char *start;    /* shell command that starts the daemon, or NULL */
    const char *fallback; /* shell command run as one-shot CGI, or NULL */
    long start_timeout_ms;
    long timeout_ms;      /* silence tolerated from the daemon or the web server */
    long max_in_flight;   /* 0: no limit */
    long retry_after;     /* seconds, in the 503's Retry-After */
    char *state;          /* prefix of the lock, slot and failed-start files */
    char *pid_file;
    char *log_file;       /* the daemon's stdout and stderr; NULL: /dev/null */
    const char **env;     /* "NAME=VALUE" for the daemon */
    size_t n_env;
    const char **pass_env; /* extra variable names forwarded to the daemon */
    size_t n_pass_env;
};

/* Reads and parses the file at path. 0, or -1 with *err a newly allocated
 * message (NULL when out of memory). */
int config_load(const char *path, struct config *c, char **err);
/* Parses text (len bytes, may be not NUL-terminated); dir resolves relative
 * paths. The same results as config_load. */
int config_parse(const char *text, size_t len, const char *dir, struct config *c, char **err);
void config_free(struct config *c);

#endif
