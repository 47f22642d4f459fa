#include "address.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "io.h"

static int parse_port(const char *s, unsigned short *port)
{
    unsigned long v = 0;
    if (*s == '\0')
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        v = v * 10 + (unsigned long)(*s - '0');
        if (v > 65535)
            return -1;
    }
    if (v == 0)
        return -1;
    *port = (unsigned short)v;
    return 0;
}

static int parse_unix(const char *path, const char *base_dir, struct address *out, char **err)
{
    struct sockaddr_un *un = (struct sockaddr_un *)&out->sa;
    char *full = NULL;
    if (path[0] != '/') {
        full = strf("%s/%s", base_dir, path);
        if (full == NULL) {
            *err = NULL;
            return -1;
        }
        path = full;
    }
    size_t n = strlen(path);
    if (n >= sizeof un->sun_path) {
        /* A path the kernel cannot take is an error, never a shorter path. */
        *err = strf("unix socket path %s is longer than %zu bytes", path, sizeof un->sun_path - 1);
        free(full);
        return -1;
    }
    memset(un, 0, sizeof *un);
    un->sun_family = AF_UNIX;
    memcpy(un->sun_path, path, n + 1);
    out->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
    out->is_unix = 1;
    free(full);
    return 0;
}

int address_parse(const char *text, const char *base_dir, struct address *out, char **err)
{
    *err = NULL;
    memset(out, 0, sizeof *out);
    out->proto = PROTO_FASTCGI;
    if (strncmp(text, "scgi:", 5) == 0) {
        out->proto = PROTO_SCGI;
        text += 5;
    } else if (strncmp(text, "fcgi:", 5) == 0) {
        text += 5;
    }
    if (strchr(text, '/') != NULL)
        return parse_unix(text, base_dir, out, err);

    const char *colon = strrchr(text, ':');
    unsigned short port;
    if (colon == NULL || parse_port(colon + 1, &port) != 0) {
        *err = strf("address %s: expected a unix socket path, HOST:PORT or [IPV6]:PORT (port 1-65535)", text);
        return -1;
    }
    size_t hlen = (size_t)(colon - text);
    char *host = malloc(hlen + 1);
    if (host == NULL)
        return -1;
    memcpy(host, text, hlen);
    host[hlen] = '\0';
    int ok = 0;
    if (hlen >= 2 && host[0] == '[' && host[hlen - 1] == ']') {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&out->sa;
        host[hlen - 1] = '\0';
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(port);
        ok = inet_pton(AF_INET6, host + 1, &s6->sin6_addr) == 1;
        out->len = sizeof *s6;
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&out->sa;
        s4->sin_family = AF_INET;
        s4->sin_port = htons(port);
        ok = inet_pton(AF_INET, host, &s4->sin_addr) == 1;
        out->len = sizeof *s4;
    }
    if (!ok)
        /* Numeric only: a name would cost a resolver round trip per request. */
        *err = strf("address %s: the host must be a numeric IPv4 address or [IPv6] address", text);
    free(host);
    return ok ? 0 : -1;
}

const char *address_unix_path(const struct address *a)
{
    return ((const struct sockaddr_un *)&a->sa)->sun_path;
}

enum connect_result address_connect(const struct address *a, long timeout_ms, int *fd)
{
    int s = socket(a->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s < 0)
        return CONNECT_ERROR;
    int r = connect(s, (const struct sockaddr *)&a->sa, a->len);
    /* A non-blocking connect interrupted by a signal goes on in the
     * background, exactly like EINPROGRESS. */
    if (r != 0 && (errno == EINPROGRESS || errno == EINTR)) {
        /* TCP: the handshake completes (or fails) within the timeout. */
        int w = wait_fd(s, POLLOUT, timeout_ms);
        if (w <= 0) {
            int e = errno;
            (void)close(s);
            errno = w == 0 ? ETIMEDOUT : e;
            return w == 0 ? CONNECT_BUSY : CONNECT_ERROR;
        }
        int soerr = 0;
        socklen_t sl = sizeof soerr;
        if (getsockopt(s, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0)
            soerr = errno;
        r = soerr == 0 ? 0 : -1;
        errno = soerr;
    }
    if (r == 0) {
        *fd = s;
        return CONNECT_OK;
    }
    int e = errno;
    (void)close(s);
    errno = e;
    switch (e) {
    case ECONNREFUSED: /* a stale socket file, or no TCP listener */
    case ENOENT:       /* no socket file at all */
        return CONNECT_REFUSED;
    case EAGAIN:       /* a unix socket whose listen backlog is full */
    case ETIMEDOUT:
        return CONNECT_BUSY;
    default:
        return CONNECT_ERROR;
    }
}
