#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io.h"

static int is_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r';
}

static char *trim(char *s)
{
    while (is_space(*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && is_space(s[n - 1]))
        s[--n] = '\0';
    return s;
}

/* "10", "0.5", "2.250": seconds with up to three decimals, as milliseconds,
 * within [min_ms, max_ms]. */
static int parse_seconds(const char *s, long min_ms, long max_ms, long *out)
{
    long ms = 0;
    int digits = 0, decimals = -1;
    for (; *s; s++) {
        if (*s == '.' && decimals < 0) {
            decimals = 0;
            continue;
        }
        if (*s < '0' || *s > '9' || decimals >= 3)
            return -1;
        if (ms > max_ms)
            return -1; /* stops the accumulation before it can overflow */
        ms = ms * 10 + (*s - '0');
        digits++;
        if (decimals >= 0)
            decimals++;
    }
    if (digits == 0)
        return -1;
    for (int i = decimals < 0 ? 0 : decimals; i < 3; i++) {
        if (ms > max_ms)
            return -1;
        ms *= 10;
    }
    if (ms < min_ms || ms > max_ms)
        return -1;
    *out = ms;
    return 0;
}

static int parse_count(const char *s, long min, long max, long *out)
{
    long v = 0;
    if (*s == '\0')
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > max)
            return -1;
        v = v * 10 + (*s - '0');
    }
    if (v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

static char *resolve(const char *dir, const char *path)
{
    return path[0] == '/' ? strf("%s", path) : strf("%s/%s", dir, path);
}

static int push(const char ***list, size_t *n, const char *item)
{
    const char **grown = realloc(*list, (*n + 1) * sizeof **list);
    if (grown == NULL)
        return -1;
    grown[(*n)++] = item;
    *list = grown;
    return 0;
}

static int valid_env_name(const char *s, size_t n)
{
    if (n == 0 || (s[0] >= '0' && s[0] <= '9'))
        return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!(ch == '_' || (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9')))
            return 0;
    }
    return 1;
}

/* Splits a pass_env value (names separated by blanks) in place. */
static int add_pass_env(struct config *c, char *v, int line, char **err)
{
    char *save = NULL;
    for (char *name = strtok_r(v, " \t", &save); name; name = strtok_r(NULL, " \t", &save)) {
        if (!valid_env_name(name, strlen(name))) {
            *err = strf("line %d: pass_env: %s is not a variable name", line, name);
            return -1;
        }
        if (push(&c->pass_env, &c->n_pass_env, name) != 0)
            return -1;
    }
    return 0;
}

enum key { K_ADDRESS, K_START, K_FALLBACK, K_START_TIMEOUT, K_TIMEOUT, K_MAX_IN_FLIGHT, K_RETRY_AFTER, K_STATE,
           K_PID_FILE, K_LOG, K_ENV, K_PASS_ENV, K_COUNT };
static const char *const KEYS[K_COUNT] = {"address", "start", "fallback", "start_timeout", "timeout",
                                          "max_in_flight", "retry_after", "state", "pid_file", "log", "env",
                                          "pass_env"};

static int set_value(struct config *c, enum key k, char *v, int line, char **err)
{
    switch (k) {
    case K_ADDRESS:
        c->address_text = v;
        return 0;
    case K_START:
        c->start = v;
        return 0;
    case K_FALLBACK:
        c->fallback = v;
        return 0;
    case K_START_TIMEOUT:
        if (parse_seconds(v, 1, 3600 * 1000L, &c->start_timeout_ms) != 0)
            break;
        return 0;
    case K_TIMEOUT:
        if (parse_seconds(v, 1, 24 * 3600 * 1000L, &c->timeout_ms) != 0)
            break;
        return 0;
    case K_MAX_IN_FLIGHT:
        if (parse_count(v, 0, 1L << 20, &c->max_in_flight) != 0)
            break;
        return 0;
    case K_RETRY_AFTER:
        if (parse_count(v, 0, 86400, &c->retry_after) != 0)
            break;
        return 0;
    case K_STATE:
        return (c->state = resolve(c->dir, v)) ? 0 : -1;
    case K_PID_FILE:
        return (c->pid_file = resolve(c->dir, v)) ? 0 : -1;
    case K_LOG:
        return (c->log_file = resolve(c->dir, v)) ? 0 : -1;
    case K_ENV: {
        const char *eq = strchr(v, '=');
        if (eq == NULL || !valid_env_name(v, (size_t)(eq - v))) {
            *err = strf("line %d: env: expected NAME=VALUE, got %s", line, v);
            return -1;
        }
        return push(&c->env, &c->n_env, v);
    }
    case K_PASS_ENV:
        return add_pass_env(c, v, line, err);
    case K_COUNT:
        break;
    }
    static const char *const WHAT[K_COUNT] = {
        [K_START_TIMEOUT] = "seconds, 0.001 to 3600", [K_TIMEOUT] = "seconds, 0.001 to 86400",
        [K_MAX_IN_FLIGHT] = "a count, 0 (no limit) to 1048576", [K_RETRY_AFTER] = "whole seconds, 0 to 86400"};
    *err = strf("line %d: %s = %s: expected %s", line, KEYS[k], v, WHAT[k] ? WHAT[k] : "a value");
    return -1;
}

static int parse_lines(struct config *c, char **err)
{
    int seen[K_COUNT] = {0};
    int line = 0;
    char *p = c->text;
    while (*p) {
        char *nl = strchr(p, '\n');
        if (nl)
            *nl = '\0';
        line++;
        char *s = trim(p);
        p = nl ? nl + 1 : p + strlen(p);
        if (*s == '\0' || *s == '#')
            continue;
        char *eq = strchr(s, '=');
        if (eq == NULL) {
            *err = strf("line %d: expected key = value", line);
            return -1;
        }
        *eq = '\0';
        char *key = trim(s), *value = trim(eq + 1);
        int k = 0;
        while (k < K_COUNT && strcmp(KEYS[k], key) != 0)
            k++;
        if (k == K_COUNT) {
            *err = strf("line %d: unknown key %s", line, key);
            return -1;
        }
        if (*value == '\0') {
            *err = strf("line %d: %s has no value", line, key);
            return -1;
        }
        if (seen[k]++ && k != K_ENV && k != K_PASS_ENV) {
            *err = strf("line %d: %s given twice", line, key);
            return -1;
        }
        if (set_value(c, (enum key)k, value, line, err) != 0)
            return -1;
    }
    return 0;
}

int config_parse(const char *text, size_t len, const char *dir, struct config *c, char **err)
{
    *err = NULL;
    memset(c, 0, sizeof *c);
    c->start_timeout_ms = 10000;
    c->timeout_ms = 60000;
    c->max_in_flight = 32;
    c->retry_after = 5;
    if (memchr(text, '\0', len) != NULL) {
        *err = strf("the file contains a NUL byte");
        return -1;
    }
    c->text = malloc(len + 1);
    c->dir = strf("%s", dir);
    if (c->text == NULL || c->dir == NULL)
        return -1;
    memcpy(c->text, text, len);
    c->text[len] = '\0';
    if (parse_lines(c, err) != 0)
        return -1;
    if (c->address_text == NULL) {
        *err = strf("no address (address = scgi:/path.sock, scgi:127.0.0.1:4000, /path.sock, ...)");
        return -1;
    }
    if (address_parse(c->address_text, c->dir, &c->addr, err) != 0)
        return -1;
    if (c->state == NULL) {
        if (!c->addr.is_unix) {
            *err = strf("a TCP address needs state = PATH-PREFIX (where the lock and slot files live)");
            return -1;
        }
        /* Beside the socket: the daemon's directory, which the front end's
         * user must be able to write anyway for the daemon to be reachable. */
        if ((c->state = strf("%s", address_unix_path(&c->addr))) == NULL)
            return -1;
    }
    if (c->pid_file == NULL && (c->pid_file = strf("%s.pid", c->state)) == NULL)
        return -1;
    return 0;
}

int config_load(const char *path, struct config *c, char **err)
{
    *err = NULL;
    memset(c, 0, sizeof *c);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        *err = strf("cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    char *text = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len == cap) {
            if (cap >= CONFIG_MAX_BYTES) {
                *err = strf("%s: larger than %d bytes", path, CONFIG_MAX_BYTES);
                goto fail;
            }
            cap = cap ? cap * 2 : 4096;
            char *grown = realloc(text, cap + 1);
            if (grown == NULL)
                goto fail;
            text = grown;
        }
        ssize_t n = read(fd, text + len, cap - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            *err = strf("cannot read %s: %s", path, strerror(errno));
            goto fail;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    (void)close(fd);
    fd = -1;

    /* The directory of the file, absolute: a web server may start the
     * script by a relative name from its own directory. */
    char *dir;
    const char *slash = strrchr(path, '/');
    if (path[0] == '/') {
        dir = slash == path ? strf("/") : strf("%.*s", (int)(slash - path), path);
    } else {
        char *cwd = getcwd(NULL, 0);
        if (cwd == NULL) {
            *err = strf("getcwd: %s", strerror(errno));
            goto fail;
        }
        dir = slash ? strf("%s/%.*s", cwd, (int)(slash - path), path) : strf("%s", cwd);
        free(cwd);
    }
    if (dir == NULL)
        goto fail;
    int r = config_parse(text, len, dir, c, err);
    free(dir);
    free(text);
    if (r != 0 && *err != NULL) {
        char *with_path = strf("%s: %s", path, *err);
        free(*err);
        *err = with_path;
    }
    return r;
fail:
    if (fd >= 0)
        (void)close(fd);
    free(text);
    return -1;
}

void config_free(struct config *c)
{
    free(c->text);
    free(c->dir);
    free(c->state);
    free(c->pid_file);
    free(c->log_file);
    free(c->env);
    free(c->pass_env);
    memset(c, 0, sizeof *c);
}
