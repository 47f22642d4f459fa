#include "daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "io.h"

extern char **environ;

/* A TCP connect that takes longer than this means a full backlog. */
#define CONNECT_TIMEOUT_MS 5000L

static long connect_timeout(const struct config *c)
{
    return c->timeout_ms < CONNECT_TIMEOUT_MS ? c->timeout_ms : CONNECT_TIMEOUT_MS;
}

/* ---- the lock ---------------------------------------------------------- */

static volatile sig_atomic_t alarmed;

static void on_alarm(int sig)
{
    (void)sig;
    alarmed = 1;
}

/* flock(LOCK_EX) until deadline (monotonic ms). The wait is cut by SIGALRM
 * from a repeating timer, so even an alarm that fires just before flock is
 * entered is followed by another one: the wait cannot outlive the deadline
 * by more than one period. 0, or -1 (ETIMEDOUT or flock's errno). */
static int lock_until(int fd, long long deadline)
{
    int r;
    do
        r = flock(fd, LOCK_EX | LOCK_NB);
    while (r != 0 && errno == EINTR);
    if (r == 0 || errno != EWOULDBLOCK)
        return r;

    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: flock must return EINTR */
    if (sigaction(SIGALRM, &sa, &old) != 0)
        return -1;
    const struct itimerval every = {{0, 50000}, {0, 50000}}, off = {{0, 0}, {0, 0}};
    int result = -1, err = ETIMEDOUT;
    if (setitimer(ITIMER_REAL, &every, NULL) != 0) {
        err = errno;
    } else {
        while (now_ms() < deadline) {
            if (flock(fd, LOCK_EX) == 0) {
                result = 0;
                break;
            }
            if (errno != EINTR) {
                err = errno;
                break;
            }
        }
        (void)setitimer(ITIMER_REAL, &off, NULL);
    }
    (void)sigaction(SIGALRM, &old, NULL);
    errno = err;
    return result;
}

/* ---- small state files -------------------------------------------------- */

/* Did a start fail less than retry_after seconds ago? */
static int recently_failed(const char *path, long retry_after)
{
    struct stat st;
    if (retry_after <= 0 || stat(path, &st) != 0)
        return 0;
    time_t now = time(NULL);
    return now >= st.st_mtime && now - st.st_mtime < retry_after;
}

static void note_failure(const char *path, const char *why)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        log_msg("cannot record the failed start in %s: %s", path, strerror(errno));
        return;
    }
    /* The mtime is the record; the text is for whoever looks. */
    if (write_all(fd, why, strlen(why), 1000) != 0 || write_all(fd, "\n", 1, 1000) != 0 || futimens(fd, NULL) != 0)
        log_msg("cannot record the failed start in %s: %s", path, strerror(errno));
    (void)close(fd);
}

static int write_pid_file(const char *path, pid_t pid)
{
    char *tmp = strf("%s.%ld.tmp", path, (long)getpid());
    char *text = strf("%ld\n", (long)pid);
    int r = -1, fd = -1;
    if (tmp == NULL || text == NULL)
        goto out;
    /* Written aside and renamed: a reader sees the old pid or the new one. */
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0 || write_all(fd, text, strlen(text), 1000) != 0 || close(fd) != 0) {
        if (fd >= 0)
            (void)close(fd);
        fd = -1;
        goto out;
    }
    fd = -1;
    r = rename(tmp, path);
out:
    if (r != 0) {
        log_msg("cannot write the pid file %s: %s", path, strerror(errno));
        if (tmp)
            (void)unlink(tmp);
    }
    free(tmp);
    free(text);
    return r;
}

/* The pid in the pid file and the file's mtime; 0 when there is none. */
static pid_t read_pid_file(const char *path, time_t *mtime)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return 0;
    char text[32];
    struct stat st;
    ssize_t n;
    do
        n = read(fd, text, sizeof text);
    while (n < 0 && errno == EINTR);
    int stat_ok = fstat(fd, &st) == 0;
    (void)close(fd);
    if (n <= 0 || (size_t)n == sizeof text || !stat_ok)
        return 0; /* empty, unreadable or longer than any pid: not a pid file */
    long pid = 0;
    for (ssize_t i = 0; i < n && text[i] != '\n'; i++) {
        if (text[i] < '0' || text[i] > '9' || pid > 4194304)
            return 0;
        pid = pid * 10 + (text[i] - '0');
    }
    *mtime = st.st_mtime;
    return (pid_t)pid;
}

/* ---- starting ----------------------------------------------------------- */

static int kept_var(const char *e)
{
    static const char *const KEEP[] = {"PATH", "HOME", "LANG", "LANGUAGE", "TZ", "TMPDIR", "USER", "LOGNAME"};
    const char *eq = strchr(e, '=');
    if (eq == NULL)
        return 0;
    size_t n = (size_t)(eq - e);
    if (n > 3 && memcmp(e, "LC_", 3) == 0)
        return 1;
    for (size_t i = 0; i < sizeof KEEP / sizeof *KEEP; i++)
        if (strlen(KEEP[i]) == n && memcmp(e, KEEP[i], n) == 0)
            return 1;
    return 0;
}

static int same_name(const char *a, const char *b)
{
    size_t n = strcspn(a, "=");
    return strncmp(a, b, n) == 0 && b[n] == '=';
}

/* The daemon's environment (see daemon.h): a NULL-terminated array whose
 * strings belong to environ and the configuration. */
static char **daemon_env(const struct config *c)
{
    size_t n = 0;
    while (environ[n])
        n++;
    char **env = malloc((n + c->n_env + 2) * sizeof *env);
    if (env == NULL)
        return NULL;
    size_t k = 0;
    int have_path = 0;
    for (size_t i = 0; i < n; i++) {
        if (!kept_var(environ[i]))
            continue;
        int overridden = 0;
        for (size_t j = 0; j < c->n_env && !overridden; j++)
            overridden = same_name(c->env[j], environ[i]);
        if (!overridden)
            env[k++] = environ[i];
        have_path |= same_name("PATH=", environ[i]);
    }
    for (size_t j = 0; j < c->n_env; j++) {
        env[k++] = (char *)c->env[j];
        have_path |= same_name("PATH=", c->env[j]);
    }
    if (!have_path)
        env[k++] = (char *)"PATH=/usr/local/bin:/usr/bin:/bin";
    env[k] = NULL;
    return env;
}

static void close_fds_from(int lowest, int keep)
{
#ifdef SYS_close_range
    if (keep < lowest) {
        if (syscall(SYS_close_range, (unsigned)lowest, ~0U, 0) == 0)
            return;
    } else if ((keep == lowest || syscall(SYS_close_range, (unsigned)lowest, (unsigned)keep - 1, 0) == 0) &&
               syscall(SYS_close_range, (unsigned)keep + 1, ~0U, 0) == 0) {
        return;
    }
#endif
    /* No close_range (ENOSYS on old kernels): every possible fd. */
    long max = sysconf(_SC_OPEN_MAX);
    if (max < 0 || max > 65536)
        max = 65536;
    for (long fd = lowest; fd < max; fd++)
        if (fd != keep)
            (void)close((int)fd);
}

struct child_failure {
    int stage; /* 0 setsid, 1 stdio, 2 chdir, 3 exec */
    int err;
};

static NORETURN void child_fail(int fd, int stage)
{
    struct child_failure f = {stage, errno};
    (void)!write(fd, &f, sizeof f);
    _exit(127);
}

/* Only async-signal-safe calls between fork and exec. */
static NORETURN void child(const struct config *c, int in, int out, int report, char **env)
{
    if (setsid() < 0)
        child_fail(report, 0);
    sigset_t none;
    sigemptyset(&none);
    (void)sigprocmask(SIG_SETMASK, &none, NULL);
    /* Handlers do not survive exec but ignored signals do: the web server's
     * SIG_IGN for SIGPIPE or SIGHUP must not reach the daemon. */
    for (int sig = 1; sig < 65; sig++)
        if (sig != SIGKILL && sig != SIGSTOP)
            (void)signal(sig, SIG_DFL);
    if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0)
        child_fail(report, 1);
    if (chdir(c->dir) != 0)
        child_fail(report, 2);
    close_fds_from(3, report);
    char *argv[] = {(char *)"sh", (char *)"-c", (char *)c->start, NULL};
    execve("/bin/sh", argv, env);
    child_fail(report, 3);
}

/* Starts the daemon; its pid, or -1 (logged). */
static pid_t spawn(const struct config *c)
{
    static const char *const STAGE[] = {"setsid", "redirecting stdin/stdout/stderr", "chdir", "exec /bin/sh"};
    const char *log_path = c->log_file ? c->log_file : "/dev/null";
    int in = -1, out = -1, report[2] = {-1, -1};
    pid_t pid = -1;
    char **env = daemon_env(c);
    if (env == NULL) {
        log_msg("out of memory");
        return -1;
    }
    in = open("/dev/null", O_RDONLY | O_CLOEXEC);
    out = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (in < 0 || out < 0) {
        log_msg("cannot open %s: %s", in < 0 ? "/dev/null" : log_path, strerror(errno));
        goto out;
    }
    if (pipe2(report, O_CLOEXEC) != 0) {
        log_msg("pipe: %s", strerror(errno));
        goto out;
    }
    pid = fork();
    if (pid < 0) {
        log_msg("fork: %s", strerror(errno));
        goto out;
    }
    if (pid == 0)
        child(c, in, out, report[1], env);
    (void)close(report[1]);
    report[1] = -1;
    /* EOF: the exec happened (the pipe is close-on-exec); a record: it did
     * not, and why. */
    struct child_failure f;
    ssize_t n;
    do
        n = read(report[0], &f, sizeof f);
    while (n < 0 && errno == EINTR);
    if (n != 0) {
        if (n == (ssize_t)sizeof f)
            log_msg("cannot start the daemon: %s: %s", STAGE[f.stage & 3], strerror(f.err));
        else
            log_msg("cannot start the daemon: no word from the child");
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
        }
        pid = -1;
    }
out:
    if (in >= 0)
        (void)close(in);
    if (out >= 0)
        (void)close(out);
    if (report[0] >= 0)
        (void)close(report[0]);
    if (report[1] >= 0)
        (void)close(report[1]);
    free(env);
    return pid;
}

/* Waits until the daemon listens (1) or gives up (0, logged): at deadline,
 * or at once when the process is gone. ours: pid is our child (waitpid
 * tells its exit); otherwise only whether it exists. */
static int wait_listening(const struct config *c, pid_t pid, int ours, long long deadline, int *fd)
{
    long step = 2;
    for (;;) {
        long long left = deadline - now_ms();
        enum connect_result r = address_connect(&c->addr, left < 1000 ? (left < 1 ? 1 : (long)left) : 1000, fd);
        if (r == CONNECT_OK)
            return 1;
        if (r == CONNECT_ERROR) {
            log_msg("connecting to %s: %s", c->address_text, strerror(errno));
            return 0;
        }
        if (ours) {
            int status;
            pid_t w = waitpid(pid, &status, WNOHANG);
            if (w == pid) {
                if (WIFEXITED(status))
                    log_msg("the daemon (%s) exited with status %d before it listened on %s", c->start,
                            WEXITSTATUS(status), c->address_text);
                else
                    log_msg("the daemon (%s) was killed by signal %d before it listened on %s", c->start,
                            WIFSIGNALED(status) ? WTERMSIG(status) : 0, c->address_text);
                return 0;
            }
        } else if (kill(pid, 0) != 0 && errno == ESRCH) {
            log_msg("the daemon (pid %ld) another front end started is gone", (long)pid);
            return 0;
        }
        left = deadline - now_ms();
        if (left <= 0) {
            log_msg("nothing listens on %s %.3f s after the daemon (pid %ld) was started", c->address_text,
                    (double)c->start_timeout_ms / 1000, (long)pid);
            return 0;
        }
        /* Short steps first (a hello starts in milliseconds), then 50 ms. */
        sleep_ms(step < left ? step : (long)left);
        step = step * 2 > 50 ? 50 : step * 2;
    }
}

/* With the lock held: is a start by a front end that died under way?
 * (A pid file younger than start_timeout naming a live process.) Then wait
 * for that one instead of starting a second daemon. */
static int wait_for_orphaned_start(const struct config *c, int *fd)
{
    time_t mtime;
    pid_t pid = read_pid_file(c->pid_file, &mtime);
    if (pid <= 0 || kill(pid, 0) != 0)
        return 0;
    long long age_ms = ((long long)time(NULL) - (long long)mtime) * 1000;
    if (age_ms < 0 || age_ms >= c->start_timeout_ms)
        return 0;
    return wait_listening(c, pid, 0, now_ms() + c->start_timeout_ms - age_ms, fd);
}

static enum daemon_result start_and_connect(const struct config *c, int *fd)
{
    enum daemon_result result = DAEMON_DOWN;
    char *lock_path = strf("%s.lock", c->state), *failed_path = strf("%s.failed", c->state);
    int lock = -1;
    if (lock_path == NULL || failed_path == NULL) {
        log_msg("out of memory");
        goto out;
    }
    if (recently_failed(failed_path, c->retry_after)) {
        log_msg("nothing listens on %s and a start failed less than %ld s ago (%s)", c->address_text,
                c->retry_after, failed_path);
        goto out;
    }
    lock = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (lock < 0) {
        log_msg("cannot open the lock file %s: %s", lock_path, strerror(errno));
        goto out;
    }
    /* The front end holding the lock may wait start_timeout itself; a
     * second more lets its daemon come up before this one gives up. */
    if (lock_until(lock, now_ms() + c->start_timeout_ms + 1000) != 0) {
        log_msg("waiting for %s (another request is starting the daemon): %s", lock_path, strerror(errno));
        goto out;
    }
    /* Whoever held the lock before may have started the daemon. */
    if (address_connect(&c->addr, connect_timeout(c), fd) == CONNECT_OK) {
        result = DAEMON_CONNECTED;
        goto out;
    }
    if (recently_failed(failed_path, c->retry_after)) {
        log_msg("nothing listens on %s: the start before this request failed", c->address_text);
        goto out;
    }
    if (wait_for_orphaned_start(c, fd)) {
        result = DAEMON_CONNECTED;
        goto out;
    }

    pid_t pid = spawn(c);
    if (pid < 0) {
        note_failure(failed_path, "the daemon could not be started");
        goto out;
    }
    (void)write_pid_file(c->pid_file, pid);
    if (wait_listening(c, pid, 1, now_ms() + c->start_timeout_ms, fd)) {
        log_msg("started the daemon (pid %ld): %s", (long)pid, c->start);
        if (unlink(failed_path) != 0 && errno != ENOENT)
            log_msg("cannot remove %s: %s", failed_path, strerror(errno));
        result = DAEMON_CONNECTED;
        goto out;
    }
    /* It did not come up in time: stop the whole group it may have forked,
     * so a late listener cannot meet the next attempt's daemon. */
    (void)kill(-pid, SIGKILL);
    (void)kill(pid, SIGKILL);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
    }
    (void)unlink(c->pid_file);
    note_failure(failed_path, "the daemon did not listen in time, or exited");
out:
    if (lock >= 0)
        (void)close(lock); /* releases the flock */
    free(lock_path);
    free(failed_path);
    return result;
}

enum daemon_result daemon_connect(const struct config *c, int *fd)
{
    switch (address_connect(&c->addr, connect_timeout(c), fd)) {
    case CONNECT_OK:
        return DAEMON_CONNECTED;
    case CONNECT_BUSY:
        log_msg("the daemon on %s accepts no connection (%s)", c->address_text, strerror(errno));
        return DAEMON_BUSY;
    case CONNECT_ERROR:
        log_msg("connecting to %s: %s", c->address_text, strerror(errno));
        return DAEMON_DOWN;
    case CONNECT_REFUSED:
        break;
    }
    if (c->start == NULL) {
        log_msg("nothing listens on %s, and no start command is configured", c->address_text);
        return DAEMON_DOWN;
    }
    return start_and_connect(c, fd);
}
