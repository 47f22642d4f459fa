/* The daemon's address as the configuration names it (the same forms as
 * smisk's own bind, minus the wildcard ones that only make sense for a
 * listener), and a connect that distinguishes "nothing listens" (start the
 * daemon) from "it listens but is full" (answer 503) within a timeout. */
#ifndef SMISK_FRONTEND_ADDRESS_H
#define SMISK_FRONTEND_ADDRESS_H

#include <sys/socket.h>

enum proto { PROTO_FASTCGI, PROTO_SCGI };

struct address {
    enum proto proto;
    struct sockaddr_storage sa;
    socklen_t len;
    int is_unix;
};

/* Parses "scgi:ADDR", "fcgi:ADDR" or a bare ADDR (FastCGI), where ADDR is a
 * unix socket path (anything containing '/'; a relative one is taken
 * relative to base_dir), a numeric IPv4 "HOST:PORT" or "[IPV6]:PORT".
 * 0, or -1 with *err a newly allocated message. */
int address_parse(const char *text, const char *base_dir, struct address *out, char **err);

/* The path of a unix address (NUL-terminated inside out->sa). */
const char *address_unix_path(const struct address *a);

enum connect_result {
    CONNECT_OK,      /* *fd is a connected, non-blocking, close-on-exec socket */
    CONNECT_REFUSED, /* nothing listens there (ECONNREFUSED, ENOENT): start it */
    CONNECT_BUSY,    /* it listens but its backlog is full, or no answer in time */
    CONNECT_ERROR    /* anything else (EACCES, ...): errno says */
};

enum connect_result address_connect(const struct address *a, long timeout_ms, int *fd);

#endif
