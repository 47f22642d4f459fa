/* smisk-frontend: the CGI program in front of a persistent smisk (or any
 * SCGI or FastCGI) daemon. Started by the web server once per request, it
 * takes an in-flight slot, connects to the daemon (starting it when nothing
 * listens), forwards the request's CGI environment and body, and copies
 * the answer to stdout. When the daemon is down and cannot be started it
 * runs the configured fallback as an ordinary CGI program, or answers 503;
 * when too many requests are in flight it answers 503 at once.
 *
 * Usage (the configuration file may itself be the CGI script, its first
 * line "#!/usr/local/bin/smisk-frontend"):
 *   smisk-frontend FILE            serve one CGI request
 *   smisk-frontend --config FILE   the same
 *   smisk-frontend --check FILE    print the configuration as understood
 *   smisk-frontend --status FILE   is the daemon listening, slots in use
 * Without FILE: $SMISK_FRONTEND_CONFIG. Arguments after FILE are ignored
 * (Apache passes the words of a query without '=' there). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "address.h"
#include "answer.h"
#include "buf.h"
#include "cgienv.h"
#include "config.h"
#include "daemon.h"
#include "fastcgi.h"
#include "io.h"
#include "relay.h"
#include "scgi.h"
#include "slots.h"

#ifndef SMISK_FRONTEND_VERSION
#define SMISK_FRONTEND_VERSION "unknown"
#endif

extern char **environ;

static const char USAGE[] =
    "usage: smisk-frontend [--config] FILE     serve one CGI request (FILE: $SMISK_FRONTEND_CONFIG)\n"
    "       smisk-frontend --check FILE        print the configuration as understood\n"
    "       smisk-frontend --status FILE       is the daemon listening, how many requests are in flight\n"
    "       smisk-frontend --help | --version\n";

enum mode { MODE_SERVE, MODE_CHECK, MODE_STATUS };

/* CONTENT_LENGTH: absent or empty is 0; anything but decimal digits (or
 * beyond 2^62) is an error. */
static int body_length(unsigned long long *out)
{
    const char *s = getenv("CONTENT_LENGTH");
    unsigned long long v = 0;
    *out = 0;
    if (s == NULL || *s == '\0')
        return 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > (1ULL << 62) / 10)
            return -1;
        v = v * 10 + (unsigned long long)(*s - '0');
    }
    *out = v;
    return 0;
}

static const char *proto_name(enum proto p)
{
    return p == PROTO_SCGI ? "SCGI" : "FastCGI";
}

static int print_check(const struct config *c)
{
    printf("address        %s (%s, %s %s)\n", c->address_text, proto_name(c->addr.proto),
           c->addr.is_unix ? "unix socket" : "TCP", c->addr.is_unix ? address_unix_path(&c->addr) : "");
    printf("start          %s\n", c->start ? c->start : "(none: the daemon is started by someone else)");
    printf("start_timeout  %.3f s\n", (double)c->start_timeout_ms / 1000);
    printf("timeout        %.3f s\n", (double)c->timeout_ms / 1000);
    if (c->max_in_flight > 0)
        printf("max_in_flight  %ld (slots %s.slots)\n", c->max_in_flight, c->state);
    else
        printf("max_in_flight  0 (no limit)\n");
    printf("retry_after    %ld s\n", c->retry_after);
    printf("fallback       %s\n", c->fallback ? c->fallback : "(none: 503 when the daemon is down)");
    printf("lock           %s.lock\n", c->state);
    printf("failed start   %s.failed\n", c->state);
    printf("pid_file       %s\n", c->pid_file);
    printf("log            %s\n", c->log_file ? c->log_file : "/dev/null");
    printf("cwd            %s\n", c->dir);
    for (size_t i = 0; i < c->n_env; i++)
        printf("env            %s\n", c->env[i]);
    for (size_t i = 0; i < c->n_pass_env; i++)
        printf("pass_env       %s\n", c->pass_env[i]);
    return fflush(stdout) == 0 ? 0 : 1;
}

static int print_status(const struct config *c)
{
    int fd;
    enum connect_result r = address_connect(&c->addr, 2000, &fd);
    if (r == CONNECT_OK)
        (void)close(fd);
    printf("listening      %s\n", r == CONNECT_OK ? "yes" : r == CONNECT_BUSY ? "busy (backlog full)" : "no");
    char *slots = strf("%s.slots", c->state), *failed = strf("%s.failed", c->state);
    if (slots == NULL || failed == NULL)
        return 1;
    if (c->max_in_flight > 0)
        printf("in flight      %ld of %ld\n", slots_busy(slots, c->max_in_flight), c->max_in_flight);
    struct stat st;
    if (stat(failed, &st) == 0)
        printf("failed start   %ld s ago\n", (long)(time(NULL) - st.st_mtime));
    FILE *f = fopen(c->pid_file, "r");
    long pid = 0;
    if (f != NULL) {
        if (fscanf(f, "%ld", &pid) != 1)
            pid = 0;
        (void)fclose(f);
    }
    if (pid > 0)
        printf("daemon pid     %ld (%s)\n", pid, kill((pid_t)pid, 0) == 0 || errno == EPERM ? "alive" : "gone");
    free(slots);
    free(failed);
    return fflush(stdout) == 0 ? 0 : 1;
}

/* Replaces this process with the fallback CGI: the environment and stdin
 * are untouched (nothing of the body has been read), and the slot stays
 * held across exec (its fd left open) until the fallback exits. */
static int run_fallback(const struct config *c, int slot_fd)
{
    log_msg("running the fallback CGI: %s", c->fallback);
    if (slot_fd >= 0 && set_cloexec(slot_fd, 0) != 0)
        log_msg("fcntl: %s (the fallback runs without its slot)", strerror(errno));
    (void)signal(SIGPIPE, SIG_DFL);
    char *argv[] = {(char *)"sh", (char *)"-c", (char *)c->fallback, NULL};
    execve("/bin/sh", argv, environ);
    log_msg("exec /bin/sh for the fallback: %s", strerror(errno));
    (void)signal(SIGPIPE, SIG_IGN);
    return -1;
}

static int serve(const struct config *c)
{
    unsigned long long body_len;
    if (body_length(&body_len) != 0) {
        log_msg("CONTENT_LENGTH %s is not a byte count", getenv("CONTENT_LENGTH"));
        answer_error(400, 0);
        return 1;
    }

    int slot_fd = -1;
    if (c->max_in_flight > 0) {
        char *path = strf("%s.slots", c->state);
        long slot;
        enum slot_result s = path ? slots_take(path, c->max_in_flight, &slot_fd, &slot) : SLOT_ERROR;
        if (s == SLOT_NONE_FREE) {
            log_msg("%ld requests in flight (max_in_flight): 503", c->max_in_flight);
            free(path);
            answer_error(503, c->retry_after);
            return 0;
        }
        if (s == SLOT_ERROR) {
            log_msg("cannot take a slot in %s: %s", path ? path : "(out of memory)", strerror(errno));
            free(path);
            answer_error(500, 0);
            return 1;
        }
        free(path);
    }

    /* The request header is built before the connection exists: the
     * daemon's connection is not held while memory is found. */
    struct cgivar *vars;
    size_t n;
    struct buf head = {0};
    if (cgienv_collect(environ, c->pass_env, c->n_pass_env, &vars, &n) != 0) {
        log_msg("out of memory");
        answer_error(500, 0);
        return 1;
    }
    int enc = c->addr.proto == PROTO_SCGI ? scgi_request_header(&head, body_len, vars, n)
                                          : fcgi_request_head(&head, RELAY_FCGI_ID, vars, n);
    free(vars);
    if (enc != 0) {
        log_msg("encoding the request: %s", strerror(errno));
        buf_free(&head);
        answer_error(500, 0);
        return 1;
    }

    int sock = -1;
    switch (daemon_connect(c, &sock)) {
    case DAEMON_CONNECTED:
        break;
    case DAEMON_BUSY:
        buf_free(&head);
        answer_error(503, c->retry_after);
        return 0;
    case DAEMON_DOWN:
        buf_free(&head);
        if (c->fallback != NULL)
            run_fallback(c, slot_fd);
        answer_error(503, c->retry_after);
        return 0;
    }

    enum relay_result r = relay(sock, c->addr.proto, &head, body_len, c->timeout_ms);
    (void)close(sock);
    switch (r) {
    case RELAY_OK:
        return 0;
    case RELAY_NO_ANSWER:
        answer_error(502, 0);
        return 1;
    case RELAY_OVERLOADED:
        answer_error(503, c->retry_after);
        return 0;
    case RELAY_FAILED:
        break;
    }
    return 1;
}

int main(int argc, char **argv)
{
    /* A web server gone mid-answer is an EPIPE to handle, not a death
     * before the slot and the daemon's connection are let go. */
    if (signal(SIGPIPE, SIG_IGN) == SIG_ERR || signal(SIGCHLD, SIG_DFL) == SIG_ERR) {
        log_msg("signal: %s", strerror(errno));
        return 1;
    }
    enum mode mode = MODE_SERVE;
    const char *path = NULL;
    if (argc >= 2) {
        const char *a = argv[1];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(USAGE, stdout);
            return 0;
        }
        if (strcmp(a, "--version") == 0) {
            printf("smisk-frontend %s\n", SMISK_FRONTEND_VERSION);
            return 0;
        }
        if (strcmp(a, "--config") == 0 || strcmp(a, "--check") == 0 || strcmp(a, "--status") == 0) {
            mode = a[3] == 'o' ? MODE_SERVE : a[3] == 'h' ? MODE_CHECK : MODE_STATUS;
            if (argc < 3) {
                fprintf(stderr, "smisk-frontend: %s needs a FILE\n%s", a, USAGE);
                return 2;
            }
            path = argv[2];
        } else if (a[0] == '-' && a[1] == '-') {
            fprintf(stderr, "smisk-frontend: unknown option %s\n%s", a, USAGE);
            return 2;
        } else {
            path = a;
        }
    }
    int cgi = getenv("GATEWAY_INTERFACE") != NULL;
    if (path == NULL)
        path = getenv("SMISK_FRONTEND_CONFIG");
    if (path == NULL || *path == '\0') {
        log_msg("no configuration file (give FILE or set SMISK_FRONTEND_CONFIG)");
        if (cgi && mode == MODE_SERVE)
            answer_error(500, 0);
        else
            fputs(USAGE, stderr);
        return 2;
    }
    struct config c;
    char *err = NULL;
    if (config_load(path, &c, &err) != 0) {
        log_msg("%s", err ? err : "out of memory reading the configuration");
        free(err);
        config_free(&c);
        if (cgi && mode == MODE_SERVE)
            answer_error(500, 0);
        return 2;
    }
    int rc;
    if (mode == MODE_CHECK) {
        rc = print_check(&c);
    } else if (mode == MODE_STATUS) {
        rc = print_status(&c);
    } else if (!cgi) {
        log_msg("not started as a CGI program (GATEWAY_INTERFACE is not set); try --check or --status");
        rc = 2;
    } else {
        rc = serve(&c);
    }
    config_free(&c);
    return rc;
}
