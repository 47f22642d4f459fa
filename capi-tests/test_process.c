/* The process model through the C ABI: smisk_run_options_init, smisk_run,
 * smisk_run_stop. Error paths (NULL, bad options, no socket, no run), and a
 * forks=0 run in this process stopped by a SIGTERM that a helper thread sends
 * to the process (so it is delivered to a thread other than the loop's):
 * the run returns SIGTERM, and the caller's previous SIGTERM handler and
 * signal mask are back afterwards. Prefork behaviour is tested with real
 * processes in tests/test_process.py. */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

static int handler_calls = 0;
static volatile sig_atomic_t previous_handler_calls = 0;

static int handler(void *ctx, smisk_request *r) {
    (void)ctx;
    (void)r;
    handler_calls++;
    return 0;
}

static void previous_handler(int sig) {
    (void)sig;
    previous_handler_calls++;
}

static void *send_sigterm_later(void *arg) {
    struct timespec ts = {0, 300 * 1000000L};
    (void)arg;
    nanosleep(&ts, NULL);
    kill(getpid(), SIGTERM);
    return NULL;
}

static void check_bad_options(smisk_server *server) {
    smisk_run_options o;
    CHECK_OK(smisk_run_options_init(&o));
    o.forks = -1;
    CHECK_STATUS(smisk_run(server, &o, handler, NULL, NULL), SMISK_ERR_INVALID);
    CHECK_OK(smisk_run_options_init(&o));
    o.forks = 1025;
    CHECK_STATUS(smisk_run(server, &o, handler, NULL, NULL), SMISK_ERR_INVALID);
    CHECK_OK(smisk_run_options_init(&o));
    o.max_requests = -5;
    CHECK_STATUS(smisk_run(server, &o, handler, NULL, NULL), SMISK_ERR_INVALID);
    CHECK_OK(smisk_run_options_init(&o));
    o.drain_timeout_ms = -1;
    CHECK_STATUS(smisk_run(server, &o, handler, NULL, NULL), SMISK_ERR_INVALID);
    CHECK_OK(smisk_run_options_init(&o));
    o.respawn_backoff_ms = 0;
    CHECK_STATUS(smisk_run(server, &o, handler, NULL, NULL), SMISK_ERR_INVALID);
    CHECK_OK(smisk_run_options_init(&o));
    o.respawn_backoff_max_ms = o.respawn_backoff_ms - 1;
    CHECK_STATUS(smisk_run(server, &o, handler, NULL, NULL), SMISK_ERR_INVALID);
    CHECK_OK(smisk_run_options_init(&o));
    o.min_uptime_ms = 86400001;
    CHECK_STATUS(smisk_run(server, &o, handler, NULL, NULL), SMISK_ERR_INVALID);
}

int main(int argc, char **argv) {
    smisk_server *server = NULL;
    smisk_run_options o;
    int sig = -7;
    char dir[] = "/tmp/smisk-capi-process-XXXXXX";
    char path[128];
    struct sigaction prev, now;
    sigset_t mask_before, mask_after;
    pthread_t helper;
    (void)argc;

    /* Defaults. */
    CHECK_STATUS(smisk_run_options_init(NULL), SMISK_ERR_NULL);
    CHECK_OK(smisk_run_options_init(&o));
    CHECK(o.forks == 0 && o.max_requests == 0 && o.drain_timeout_ms == 30000);
    CHECK(o.respawn_backoff_ms == 100 && o.respawn_backoff_max_ms == 10000 && o.min_uptime_ms == 1000);
    CHECK(o.worker_start == NULL && o.worker_stop == NULL && o.on_fork == NULL && o.hook_ctx == NULL);

    /* No run in progress. */
    CHECK_STATUS(smisk_run_stop(), SMISK_ERR_STATE);

    /* NULL arguments. */
    CHECK_OK(smisk_server_new(&server));
    CHECK_STATUS(smisk_run(NULL, NULL, handler, NULL, &sig), SMISK_ERR_NULL);
    CHECK_STATUS(smisk_run(server, NULL, NULL, NULL, &sig), SMISK_ERR_NULL);
    CHECK(sig == -7);

    /* Bad options are rejected before anything happens. */
    check_bad_options(server);

    /* Not bound and fd 0 not a listening socket (valgrind runs us with a
     * terminal or /dev/null there). */
    CHECK_STATUS(smisk_run(server, NULL, handler, NULL, &sig), SMISK_ERR_STATE);
    CHECK(sig == -7);

    /* A real run, stopped by a process-directed SIGTERM sent from another
     * thread. */
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/s.sock", dir);
    CHECK_OK(smisk_server_bind(server, path, strlen(path), 0));
    memset(&prev, 0, sizeof prev);
    prev.sa_handler = previous_handler;
    sigemptyset(&prev.sa_mask);
    CHECK(sigaction(SIGTERM, &prev, NULL) == 0);
    CHECK(pthread_sigmask(SIG_SETMASK, NULL, &mask_before) == 0);
    CHECK(pthread_create(&helper, NULL, send_sigterm_later, NULL) == 0);
    CHECK_OK(smisk_run(server, NULL, handler, NULL, &sig));
    pthread_join(helper, NULL);
    CHECK(sig == SIGTERM);
    CHECK(handler_calls == 0);
    CHECK(previous_handler_calls == 0);
    CHECK(sigaction(SIGTERM, NULL, &now) == 0);
    CHECK(now.sa_handler == previous_handler);
    CHECK(pthread_sigmask(SIG_SETMASK, NULL, &mask_after) == 0);
    CHECK(sigismember(&mask_after, SIGTERM) == sigismember(&mask_before, SIGTERM));
    CHECK(sigismember(&mask_after, SIGCHLD) == sigismember(&mask_before, SIGCHLD));
    /* The previous handler really is in charge again. */
    raise(SIGTERM);
    CHECK(previous_handler_calls == 1);
    /* The server is still bound and can run again (stopped at once by a
     * stop request made before: none is pending, so use the thread again). */
    CHECK(smisk_server_is_bound(server));
    CHECK(pthread_create(&helper, NULL, send_sigterm_later, NULL) == 0);
    sig = 0;
    CHECK_OK(smisk_run(server, NULL, handler, NULL, &sig));
    pthread_join(helper, NULL);
    CHECK(sig == SIGTERM);

    smisk_server_free(server);
    rmdir(dir);
    return check_summary(argv[0]);
}
