/* Small I/O helpers shared by the parts of the front end: a monotonic clock,
 * waits and writes bounded by a timeout, and the one logging function (to
 * stderr, which a web server's CGI handler sends to its error log). */
#ifndef SMISK_FRONTEND_IO_H
#define SMISK_FRONTEND_IO_H

#include <stddef.h>

#if defined(__GNUC__)
#define NORETURN __attribute__((noreturn))
#else
#define NORETURN
#endif

/* Milliseconds of CLOCK_MONOTONIC (never jumps with the wall clock). */
long long now_ms(void);
/* Sleeps ms milliseconds (or less when a signal arrives). */
void sleep_ms(long ms);
/* poll() on one fd: 1 ready (or hung up / in error), 0 timed out, -1 error.
 * A negative timeout waits without bound. */
int wait_fd(int fd, short events, long timeout_ms);
/* Writes all n bytes, also to a non-blocking fd (EAGAIN waits for POLLOUT),
 * retrying EINTR; each wait bounded by timeout_ms. 0, or -1 with errno
 * (ETIMEDOUT when the reader stalled). */
int write_all(int fd, const void *p, size_t n, long timeout_ms);
/* Sets or clears O_NONBLOCK; 0 or -1. */
int set_nonblock(int fd, int on);
/* Sets or clears FD_CLOEXEC; 0 or -1. */
int set_cloexec(int fd, int on);
/* One "smisk-frontend: ..." line on stderr, written with a single write so
 * lines of concurrent front ends do not interleave. Never truncated: a long
 * message is allocated. */
void log_msg(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

/* A newly allocated formatted string (free it), or NULL when out of memory. */
char *strf(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

#endif
