/*
 * threaded: THREADS threads (default 4; env THREADED_THREADS, 1..64), each
 * with its own FCGX_Request on the socket in fd 0, taking turns at
 * FCGX_Accept_r under one mutex, as libfcgi's threaded example does. Each
 * answer names its thread and the request counts so far; env
 * THREADED_DELAY_MS (0..10000) makes every request take that long, and
 * THREADED_NO_LOCK=1 leaves the mutex out (the threads then call
 * FCGX_Accept_r at the same time).
 * main returns once every thread's FCGX_Accept_r returned < 0 (at a
 * shutdown). Written for smisk's drop-in libfcgi to libfcgi's API.
 */
#define _POSIX_C_SOURCE 200809L
#include "fcgi_config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "fcgiapp.h"

#define MAX_THREADS 64

static int thread_count = 4;
static long delay_ms = 0;
static int use_lock = 1;
static int counts[MAX_THREADS];
static pthread_mutex_t accept_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t counts_mutex = PTHREAD_MUTEX_INITIALIZER;

static long env_number(const char *name, long lo, long hi, long dflt) {
    const char *v = getenv(name);
    long n = v ? strtol(v, NULL, 10) : dflt;
    return n < lo || n > hi ? dflt : n;
}

static void *serve(void *arg) {
    int id = (int)(long)arg;
    FCGX_Request request;
    FCGX_InitRequest(&request, 0, 0);
    for (;;) {
        int rc, i;
        char *server_name;
        if (use_lock) pthread_mutex_lock(&accept_mutex);
        rc = FCGX_Accept_r(&request);
        if (use_lock) pthread_mutex_unlock(&accept_mutex);
        if (rc < 0) break;
        server_name = FCGX_GetParam("SERVER_NAME", request.envp);
        FCGX_FPrintF(request.out,
                     "Content-type: text/html\r\n\r\n"
                     "<title>FastCGI Hello! (multi-threaded C, fcgiapp library)</title>"
                     "<h1>FastCGI Hello! (multi-threaded C, fcgiapp library)</h1>"
                     "Thread %d<p>Request counts for %d threads running on host <i>%s</i><p><code>",
                     id, thread_count, server_name ? server_name : "?");
        if (delay_ms > 0) {
            struct timespec ts;
            ts.tv_sec = delay_ms / 1000;
            ts.tv_nsec = (delay_ms % 1000) * 1000000L;
            /* The whole delay, even when a signal interrupts the sleep. */
            while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
            }
        }
        pthread_mutex_lock(&counts_mutex);
        ++counts[id];
        for (i = 0; i < thread_count; i++) FCGX_FPrintF(request.out, "%5d ", counts[i]);
        pthread_mutex_unlock(&counts_mutex);
        FCGX_Finish_r(&request);
    }
    FCGX_Free(&request, 1);
    return NULL;
}

int main(void) {
    pthread_t ids[MAX_THREADS];
    int i;
    thread_count = (int)env_number("THREADED_THREADS", 1, MAX_THREADS, 4);
    delay_ms = env_number("THREADED_DELAY_MS", 0, 10000, 0);
    use_lock = !env_number("THREADED_NO_LOCK", 0, 1, 0);
    FCGX_Init();
    for (i = 1; i < thread_count; i++) pthread_create(&ids[i], NULL, serve, (void *)(long)i);
    serve((void *)0);
    for (i = 1; i < thread_count; i++) pthread_join(ids[i], NULL);
    fprintf(stderr, "threaded: every thread stopped\n");
    return 0;
}
