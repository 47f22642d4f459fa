#include "io.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

long long now_ms(void)
{
    struct timespec ts;
    /* CLOCK_MONOTONIC cannot fail on Linux with a valid pointer; a zero
     * clock would only make deadlines expire early, never hang. */
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        return 0;
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    /* An interruption shortens the sleep; every caller re-checks its
     * deadline, so EINTR needs no retry here. */
    (void)nanosleep(&ts, NULL);
}

int wait_fd(int fd, short events, long timeout_ms)
{
    long long deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
    for (;;) {
        struct pollfd pf = {fd, events, 0};
        long left = -1;
        if (deadline >= 0) {
            long long d = deadline - now_ms();
            left = d < 0 ? 0 : (long)d;
        }
        int r = poll(&pf, 1, (int)left);
        if (r > 0)
            return 1;
        if (r == 0)
            return 0;
        if (errno != EINTR)
            return -1;
    }
}

int write_all(int fd, const void *p, size_t n, long timeout_ms)
{
    const unsigned char *c = p;
    while (n > 0) {
        ssize_t w = write(fd, c, n);
        if (w > 0) {
            c += w;
            n -= (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            int r = wait_fd(fd, POLLOUT, timeout_ms);
            if (r < 0)
                return -1;
            if (r == 0) {
                errno = ETIMEDOUT;
                return -1;
            }
            continue;
        }
        if (w == 0)
            errno = EIO; /* write(2) returns 0 only for n == 0 */
        return -1;
    }
    return 0;
}

int set_nonblock(int fd, int on)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0)
        return -1;
    int want = on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK;
    return want == fl ? 0 : fcntl(fd, F_SETFL, want);
}

int set_cloexec(int fd, int on)
{
    int fl = fcntl(fd, F_GETFD);
    if (fl < 0)
        return -1;
    int want = on ? fl | FD_CLOEXEC : fl & ~FD_CLOEXEC;
    return want == fl ? 0 : fcntl(fd, F_SETFD, want);
}

void log_msg(const char *fmt, ...)
{
    static const char prefix[] = "smisk-frontend: ";
    char small[512];
    va_list ap, again;
    va_start(ap, fmt);
    va_copy(again, ap);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        va_end(again);
        return;
    }
    size_t total = sizeof prefix - 1 + (size_t)n + 1;
    char *line = malloc(total + 1);
    if (line == NULL) {
        va_end(again);
        /* Out of memory: the message as far as it fits, marked as cut. */
        (void)!write(2, prefix, sizeof prefix - 1);
        (void)!write(2, small, strlen(small));
        (void)!write(2, "...\n", 4);
        return;
    }
    memcpy(line, prefix, sizeof prefix - 1);
    vsnprintf(line + sizeof prefix - 1, (size_t)n + 1, fmt, again);
    va_end(again);
    line[total - 1] = '\n';
    /* stderr is the web server's error log or a pipe to it: a failed write
     * has nowhere else to be reported. */
    (void)write_all(2, line, total, 1000);
    free(line);
}

char *strf(const char *fmt, ...)
{
    va_list ap, again;
    va_start(ap, fmt);
    va_copy(again, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = n < 0 ? NULL : malloc((size_t)n + 1);
    if (s != NULL)
        vsnprintf(s, (size_t)n + 1, fmt, again);
    va_end(again);
    return s;
}
