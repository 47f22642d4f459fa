/*
 * fork and libfcgi, in the two ways programs meet it:
 *
 *   forker child    (stdio layer) every request forks a child that calls
 *                   exit(): the child runs the atexit handler FCGI_Accept
 *                   registered (FCGI_Finish) with a copy of the request.
 *                   The parent answers after the child is gone.
 *   forker prefork N  the parent serves one request, then forks N workers
 *                   that serve on the same socket (each in its own process,
 *                   each "worker PID"); SIGTERM to the parent is passed to
 *                   them, and it exits once they did.
 *
 * The socket is fd 0. Written for smisk's drop-in libfcgi's tests.
 */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fcgi_stdio.h"

#define MAX_WORKERS 16

static pid_t workers[MAX_WORKERS];
static int nworkers;

static void forward(int sig) {
    int i;
    for (i = 0; i < nworkers; i++) kill(workers[i], sig);
}

static int child_mode(void) {
    while (FCGI_Accept() >= 0) {
        pid_t pid;
        int status = 0;
        printf("Content-type: text/plain\r\n\r\nbefore the fork\n");
        pid = fork();
        if (pid == 0) exit(0); /* atexit: FCGI_Finish, in the child */
        if (pid > 0) waitpid(pid, &status, 0);
        printf("after the fork: the child exited with %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    }
    return 0;
}

static int prefork_mode(int n) {
    int i;
    struct sigaction sa;
    if (FCGI_Accept() < 0) return 1;
    printf("Content-type: text/plain\r\n\r\nparent %ld\n", (long)getpid());
    FCGI_Finish();
    for (i = 0; i < n && i < MAX_WORKERS; i++) {
        pid_t pid = fork();
        if (pid == 0) {
            while (FCGI_Accept() >= 0) printf("Content-type: text/plain\r\n\r\nworker %ld\n", (long)getpid());
            _exit(0);
        }
        if (pid > 0) workers[nworkers++] = pid;
    }
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = forward;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    for (i = 0; i < nworkers; i++) {
        while (waitpid(workers[i], NULL, 0) < 0) {
        }
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 2 && strcmp(argv[1], "child") == 0) return child_mode();
    if (argc >= 3 && strcmp(argv[1], "prefork") == 0) return prefork_mode(atoi(argv[2]));
    return 2;
}
