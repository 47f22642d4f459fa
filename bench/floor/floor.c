/*
 * The kernel floor of a FastCGI hello on one kept-alive connection: a server
 * that does nothing but receive a request and send a canned answer, in three
 * I/O styles, so bench/floor/run can show how much of a real server's CPU per
 * request is left once the kernel's share is taken out.
 *
 *   block   blocking read + write on the one connection (2 syscalls per
 *           request; what libfcgi does, and it starves every other client)
 *   epoll   edge-triggered epoll_wait + read + send (3 syscalls; what any
 *           readiness loop that serves many connections needs)
 *   uring   io_uring: one io_uring_enter per request submits the answer and
 *           the next receive and waits for both (1 syscall)
 *
 * It is not a FastCGI server: it assumes each read returns exactly one whole
 * request (bench/fcgi-load sends each request in one write and waits for its
 * answer), checks only that the first record is a BEGIN_REQUEST for request
 * id 1, and answers the smisk hello's exact bytes. Never use it for anything
 * but this measurement.
 *
 * Usage: floor block|epoll|uring SOCKET_PATH [close]
 *   close: close the connection after each answer (FCGI_KEEP_CONN off)
 * Build: cc -std=gnu99 -O2 -Wall -Wextra -Werror -o floor floor.c -luring
 */
#define _GNU_SOURCE
#include <errno.h>
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define BODY "Content-Type: text/plain\r\n\r\nHello World!\n"

static unsigned char answer[64 + sizeof(BODY)];
static size_t answer_len;
static int close_after; /* one request per connection */

static void header(unsigned char *p, int type, size_t len)
{
    p[0] = 1;
    p[1] = (unsigned char)type;
    p[2] = 0;
    p[3] = 1; /* request id 1 */
    p[4] = (unsigned char)(len >> 8);
    p[5] = (unsigned char)len;
    p[6] = 0;
    p[7] = 0;
}

/* STDOUT (body), empty STDOUT, END_REQUEST (app status 0, complete). */
static void build_answer(void)
{
    size_t n = sizeof(BODY) - 1, off = 0;
    header(answer, 6, n);
    memcpy(answer + 8, BODY, n);
    off = 8 + n;
    header(answer + off, 6, 0);
    off += 8;
    header(answer + off, 3, 8);
    memset(answer + off + 8, 0, 8);
    answer_len = off + 16;
}

static int is_request(const unsigned char *buf, ssize_t n)
{
    return n >= 8 && buf[0] == 1 && buf[1] == 1 && buf[2] == 0 && buf[3] == 1;
}

static int listen_on(const char *path)
{
    struct sockaddr_un sa;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || strlen(path) >= sizeof(sa.sun_path))
        return -1;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    strcpy(sa.sun_path, path);
    unlink(path);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 128) < 0)
        return -1;
    return fd;
}

static unsigned char buf[65536];

static void serve_block(int conn)
{
    for (;;) {
        ssize_t n = read(conn, buf, sizeof(buf));
        if (n <= 0 || !is_request(buf, n))
            return;
        if (write(conn, answer, answer_len) != (ssize_t)answer_len || close_after)
            return;
    }
}

static void serve_epoll(int conn)
{
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP | EPOLLET, .data.fd = conn};
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, conn, &ev) < 0) {
        perror("epoll");
        exit(1);
    }
    for (;;) {
        struct epoll_event got;
        ssize_t n;
        if (epoll_wait(ep, &got, 1, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        n = recv(conn, buf, sizeof(buf), MSG_DONTWAIT);
        if (n < 0 && errno == EAGAIN)
            continue;
        if (n <= 0 || !is_request(buf, n))
            break;
        if (send(conn, answer, answer_len, MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)answer_len || close_after)
            break;
    }
    close(ep);
}

static struct io_uring ring; /* one for the process: set up in main */

static void serve_uring(int conn)
{
    struct io_uring_sqe *sqe;
    struct io_uring_cqe *cqe;
    sqe = io_uring_get_sqe(&ring);
    io_uring_prep_recv(sqe, conn, buf, sizeof(buf), 0);
    io_uring_sqe_set_data64(sqe, 1);
    io_uring_submit_and_wait(&ring, 1);
    for (;;) {
        unsigned head, seen = 0;
        ssize_t got = -1;
        int send_failed = 0;
        io_uring_for_each_cqe(&ring, head, cqe)
        {
            if (io_uring_cqe_get_data64(cqe) == 1)
                got = cqe->res;
            else if (cqe->res != (int)answer_len)
                send_failed = 1;
            seen++;
        }
        io_uring_cq_advance(&ring, seen);
        if (send_failed)
            break;
        if (got < 0) {
            /* Only the send completed so far: wait for the receive. */
            io_uring_submit_and_wait(&ring, 1);
            continue;
        }
        if (got == 0 || !is_request(buf, got))
            break;
        if (close_after) {
            sqe = io_uring_get_sqe(&ring);
            io_uring_prep_send(sqe, conn, answer, answer_len, MSG_NOSIGNAL);
            io_uring_sqe_set_data64(sqe, 2);
            io_uring_submit_and_wait(&ring, 1);
            break;
        }
        /* The answer, then the next receive; one enter waits for both. */
        sqe = io_uring_get_sqe(&ring);
        io_uring_prep_send(sqe, conn, answer, answer_len, MSG_NOSIGNAL);
        io_uring_sqe_set_data64(sqe, 2);
        sqe = io_uring_get_sqe(&ring);
        io_uring_prep_recv(sqe, conn, buf, sizeof(buf), 0);
        io_uring_sqe_set_data64(sqe, 1);
        io_uring_submit_and_wait(&ring, 2);
    }
}

int main(int argc, char **argv)
{
    int lfd;
    void (*serve)(int);
    if (argc < 3 || argc > 4 || (argc == 4 && strcmp(argv[3], "close") != 0)) {
        fprintf(stderr, "usage: %s block|epoll|uring SOCKET_PATH [close]\n", argv[0]);
        return 2;
    }
    close_after = argc == 4;
    if (strcmp(argv[1], "block") == 0)
        serve = serve_block;
    else if (strcmp(argv[1], "epoll") == 0)
        serve = serve_epoll;
    else if (strcmp(argv[1], "uring") == 0) {
        int rc = io_uring_queue_init(8, &ring, 0);
        if (rc < 0) {
            fprintf(stderr, "io_uring_queue_init: %s\n", strerror(-rc));
            return 1;
        }
        serve = serve_uring;
    }
    else {
        fprintf(stderr, "unknown mode %s\n", argv[1]);
        return 2;
    }
    build_answer();
    lfd = listen_on(argv[2]);
    if (lfd < 0) {
        perror("listen");
        return 1;
    }
    for (;;) {
        int conn = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (conn < 0) {
            if (errno == EINTR)
                continue;
            perror("accept");
            return 1;
        }
        serve(conn);
        close(conn);
    }
}
