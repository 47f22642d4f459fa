/* prefork.c -- the application the process-model tests drive through
 * smisk_run(). Routes by PATH_INFO, or SCRIPT_NAME without one:
 *
 *   /pid          "pid=P worker=I served=N\n" (the serving process)
 *   /burn?US      burns US microseconds of CPU (default 1000), "burned pid=P\n"
 *   /sleep?MS     sleeps MS milliseconds, then "slept pid=P\n"
 *   /echo         answers the request body ("len=N\n" then the body)
 *   /fail         the handler returns non-zero (smisk answers 500)
 *   /crash        the worker aborts mid-request (SIGABRT)
 *   /exit         calls smisk_run_stop(), answers "stopping pid=P\n"
 *   anything else "Hello World!\n" (the load generator's expected answer)
 *
 * Usage: prefork ADDRESS|-    ("-": fd 0 is the listening socket)
 * Environment (all optional): SMISK_TEST_FORKS, SMISK_TEST_MAX_REQUESTS,
 * SMISK_TEST_DRAIN_MS, SMISK_TEST_BURN_US (CPU microseconds burned by every request), SMISK_TEST_BACKOFF_MS, SMISK_TEST_BACKOFF_MAX_MS,
 * SMISK_TEST_CRASH_AT_START ("abort": workers abort in worker_start; "fail":
 * worker_start returns non-zero).
 *
 * Lifecycle lines on stderr, one per event, for the tests to count:
 *   "prefork: fork-child pid=P"          (on_fork, child phase)
 *   "prefork: start worker=I pid=P"      (worker_start)
 *   "prefork: stop worker=I pid=P served=N"
 *   "prefork: run returned status=S signal=G pid=P"
 * Exit status: 0 when smisk_run() returned SMISK_OK, else 1.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "smisk.h"

static int worker_index = -1;
static long served = 0;
static long burn_us = 0;

/* The route: PATH_INFO when non-empty (a CGI script /app.cgi/pid), else
 * SCRIPT_NAME (nginx, the raw FastCGI client). */
static int script_is(smisk_request *r, const char *want) {
    const char *v;
    size_t n;
    if ((smisk_request_param(r, "PATH_INFO", 9, &v, &n) != SMISK_OK || n == 0) &&
        smisk_request_param(r, "SCRIPT_NAME", 11, &v, &n) != SMISK_OK)
        return 0;
    return n == strlen(want) && memcmp(v, want, n) == 0;
}

static long query_number(smisk_request *r, long fallback) {
    const char *v;
    size_t n;
    char tmp[32];
    if (smisk_request_param(r, "QUERY_STRING", 12, &v, &n) != SMISK_OK || n == 0 || n >= sizeof tmp)
        return fallback;
    memcpy(tmp, v, n);
    tmp[n] = 0;
    return strtol(tmp, NULL, 10);
}

static long env_number(const char *name, long fallback) {
    const char *v = getenv(name);
    return v && *v ? strtol(v, NULL, 10) : fallback;
}

static double cpu_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int reply(smisk_request *r, const char *text) {
    if (smisk_response_add_header(r, "Content-Type: text/plain", 24) != SMISK_OK) return 1;
    return smisk_response_write(r, text, strlen(text)) == SMISK_OK ? 0 : 1;
}

static void burn(long us) {
    double until = cpu_seconds() + (double)us / 1e6;
    volatile unsigned long spin = 0;
    while (cpu_seconds() < until) spin++;
}

static int handle(void *ctx, smisk_request *r) {
    char buf[128];
    (void)ctx;
    served++;
    if (burn_us > 0) burn(burn_us);
    if (script_is(r, "/pid")) {
        snprintf(buf, sizeof buf, "pid=%ld worker=%d served=%ld\n", (long)getpid(), worker_index, served);
        return reply(r, buf);
    }
    if (script_is(r, "/burn")) {
        burn(query_number(r, 1000));
        snprintf(buf, sizeof buf, "burned pid=%ld\n", (long)getpid());
        return reply(r, buf);
    }
    if (script_is(r, "/sleep")) {
        long ms = query_number(r, 100);
        struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
        snprintf(buf, sizeof buf, "slept pid=%ld\n", (long)getpid());
        return reply(r, buf);
    }
    if (script_is(r, "/echo")) {
        static char body[1 << 20];
        size_t n = 0;
        if (smisk_request_read(r, body, sizeof body, &n) != SMISK_OK) return 1;
        snprintf(buf, sizeof buf, "len=%zu\n", n);
        if (reply(r, buf)) return 1;
        return smisk_response_write(r, body, n) == SMISK_OK ? 0 : 1;
    }
    if (script_is(r, "/fail")) return 1;
    if (script_is(r, "/crash")) abort();
    if (script_is(r, "/exit")) {
        smisk_status st = smisk_run_stop();
        snprintf(buf, sizeof buf, "stopping pid=%ld status=%d\n", (long)getpid(), (int)st);
        return reply(r, buf);
    }
    return reply(r, "Hello World!\n");
}

static int on_start(void *ctx, int index) {
    const char *crash = getenv("SMISK_TEST_CRASH_AT_START");
    (void)ctx;
    worker_index = index;
    fprintf(stderr, "prefork: start worker=%d pid=%ld\n", index, (long)getpid());
    if (crash && strcmp(crash, "abort") == 0) abort();
    if (crash && strcmp(crash, "fail") == 0) return 1;
    return 0;
}

static void on_stop(void *ctx, int index) {
    (void)ctx;
    fprintf(stderr, "prefork: stop worker=%d pid=%ld served=%ld\n", index, (long)getpid(), served);
}

static void on_fork(void *ctx, int phase) {
    (void)ctx;
    if (phase == SMISK_FORK_CHILD) fprintf(stderr, "prefork: fork-child pid=%ld\n", (long)getpid());
}

int main(int argc, char **argv) {
    smisk_server *server = NULL;
    smisk_run_options opts;
    int sig = -1;
    smisk_status st;
    if (argc != 2) {
        fprintf(stderr, "usage: %s ADDRESS|-\n", argv[0]);
        return 2;
    }
    setvbuf(stderr, NULL, _IONBF, 0);
    if (smisk_server_new(&server) != SMISK_OK) return 1;
    if (strcmp(argv[1], "-") != 0 && smisk_server_bind(server, argv[1], strlen(argv[1]), 0) != SMISK_OK) {
        fprintf(stderr, "prefork: bind %s: %s\n", argv[1], smisk_last_error());
        return 1;
    }
    burn_us = env_number("SMISK_TEST_BURN_US", 0);
    smisk_run_options_init(&opts);
    opts.forks = (int)env_number("SMISK_TEST_FORKS", 0);
    opts.max_requests = env_number("SMISK_TEST_MAX_REQUESTS", 0);
    opts.drain_timeout_ms = env_number("SMISK_TEST_DRAIN_MS", 30000);
    opts.respawn_backoff_ms = env_number("SMISK_TEST_BACKOFF_MS", 100);
    opts.respawn_backoff_max_ms = env_number("SMISK_TEST_BACKOFF_MAX_MS", 10000);
    opts.worker_start = on_start;
    opts.worker_stop = on_stop;
    opts.on_fork = on_fork;
    st = smisk_run(server, &opts, handle, NULL, &sig);
    fprintf(stderr, "prefork: run returned status=%d signal=%d pid=%ld%s%s\n", (int)st, sig, (long)getpid(),
            st == SMISK_OK ? "" : " error=", st == SMISK_OK ? "" : smisk_last_error());
    smisk_server_free(server);
    return st == SMISK_OK ? 0 : 1;
}
