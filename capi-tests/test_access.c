/* Who may talk to the application, through the C ABI: the TCP peer
 * allow-list (smisk_server_set_allow / _clear_allow / _get_allow, the
 * FCGI_WEB_SERVER_ADDRS variable, refusal of a real peer on 127.0.0.2
 * before the application sees it) and the unix socket file's mode, owner
 * and group (smisk_server_set_socket_ownership). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "check.h"

/* BEGIN_REQUEST (keep-conn off), PARAMS SCRIPT_NAME=/a, end of PARAMS,
 * empty STDIN: a whole GET. */
static const unsigned char get_request[] = {
    1, 1, 0, 1, 0, 8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0,                     /* BEGIN */
    1, 4, 0, 1, 0, 15, 0, 0, 11, 2, 'S', 'C', 'R', 'I', 'P', 'T', '_', /* PARAMS */
    'N', 'A', 'M', 'E', '/', 'a',                                      /*  ...   */
    1, 4, 0, 1, 0, 0, 0, 0,                                            /* PARAMS end */
    1, 5, 0, 1, 0, 0, 0, 0,                                            /* STDIN end */
};

/* A TCP client from source address `from` (dotted quad) to 127.0.0.1:port
 * that has sent a whole request; -1 on failure. */
static int client_from(const char *from, int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in src, dst;
    struct timeval tv = {5, 0};
    memset(&src, 0, sizeof src);
    memset(&dst, 0, sizeof dst);
    src.sin_family = dst.sin_family = AF_INET;
    inet_pton(AF_INET, from, &src.sin_addr);
    dst.sin_addr.s_addr = htonl(0x7f000001);
    dst.sin_port = htons((uint16_t)port);
    if (fd < 0 || bind(fd, (struct sockaddr *)&src, sizeof src) != 0 ||
        connect(fd, (struct sockaddr *)&dst, sizeof dst) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0 ||
        write(fd, get_request, sizeof get_request) != (ssize_t)sizeof get_request) {
        if (fd >= 0) close(fd);
        return -1;
    }
    return fd;
}

/* Reads until EOF or reset; the number of bytes read. */
static size_t drain(int fd, char *buf, size_t cap) {
    size_t got = 0;
    for (int i = 0; i < 100; i++) {
        ssize_t n = read(fd, buf + got, cap - got);
        if (n <= 0) break;
        got += (size_t)n;
        if (got == cap) break;
    }
    return got;
}

static int port_of(smisk_server *server) {
    char buf[64];
    size_t len = 0;
    if (smisk_server_listening(server, buf, sizeof buf - 1, &len) != SMISK_OK) return -1;
    buf[len] = '\0';
    const char *colon = strrchr(buf, ':');
    return colon ? atoi(colon + 1) : -1;
}

static int allow_is(smisk_server *server, const char *want, smisk_allow_source want_source) {
    char buf[128];
    size_t len = 0;
    smisk_allow_source source = SMISK_ALLOW_SOURCE_SET;
    if (smisk_server_get_allow(server, buf, sizeof buf, &len, &source) != SMISK_OK) return 0;
    return len == strlen(want) && memcmp(buf, want, len) == 0 && source == want_source;
}

static void test_allow_list(void) {
    smisk_server *server = NULL;
    char buf[128];
    size_t len = 0;
    CHECK_STATUS(smisk_server_set_allow(NULL, "any", 3), SMISK_ERR_NULL);
    CHECK_STATUS(smisk_server_clear_allow(NULL), SMISK_ERR_NULL);
    CHECK_STATUS(smisk_server_get_allow(NULL, buf, sizeof buf, &len, NULL), SMISK_ERR_NULL);
    CHECK_OK(smisk_server_new(&server));
    CHECK_STATUS(smisk_server_set_allow(server, NULL, 0), SMISK_ERR_NULL);
    CHECK_STATUS(smisk_server_get_allow(server, buf, sizeof buf, NULL, NULL), SMISK_ERR_NULL);

    /* The default, and the buffer contract. */
    unsetenv("FCGI_WEB_SERVER_ADDRS");
    CHECK(allow_is(server, "127.0.0.0/8,::1", SMISK_ALLOW_SOURCE_DEFAULT));
    CHECK_STATUS(smisk_server_get_allow(server, buf, 4, &len, NULL), SMISK_ERR_BUFFER_TOO_SMALL);
    CHECK(len == strlen("127.0.0.0/8,::1"));

    /* Set, canonical form, explicit length (the tail is not part of it). */
    CHECK_OK(smisk_server_set_allow(server, "10.1.0.0/16, ::1 [fd00::]/8 ignored", 27));
    CHECK(allow_is(server, "10.1.0.0/16,::1,fd00::/8", SMISK_ALLOW_SOURCE_SET));

    /* Malformed lists are errors that leave the list in force alone. */
    static const char *bad[] = {"", " , ", "10.0.0.300", "10.0.0.1/8", "localhost",
                                "10.0.0.0/33", "1.2.3.4:80", "\xff"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_STATUS(smisk_server_set_allow(server, bad[i], strlen(bad[i])), SMISK_ERR_INVALID);
    }
    CHECK_STATUS(smisk_server_set_allow(server, "10.0.0.1/8", 10), SMISK_ERR_INVALID);
    CHECK(strstr(smisk_last_error(), "10.0.0.0/8") != NULL); /* says what was meant */
    CHECK(allow_is(server, "10.1.0.0/16,::1,fd00::/8", SMISK_ALLOW_SOURCE_SET));

    /* The environment variable applies when nothing is set... */
    CHECK_OK(smisk_server_clear_allow(server));
    setenv("FCGI_WEB_SERVER_ADDRS", "192.168.1.1, 10.0.0.0/8", 1);
    CHECK(allow_is(server, "192.168.1.1,10.0.0.0/8", SMISK_ALLOW_SOURCE_ENV));
    /* ...a set list wins over it... */
    CHECK_OK(smisk_server_set_allow(server, "any", 3));
    CHECK(allow_is(server, "any", SMISK_ALLOW_SOURCE_SET));
    /* ...and a malformed one fails the start, naming the variable. */
    CHECK_OK(smisk_server_clear_allow(server));
    setenv("FCGI_WEB_SERVER_ADDRS", "10.0.0.1,web1", 1);
    CHECK_STATUS(smisk_server_get_allow(server, buf, sizeof buf, &len, NULL), SMISK_ERR_INVALID);
    CHECK_OK(smisk_server_bind(server, "127.0.0.1:0", 11, 0));
    smisk_request *request = NULL;
    CHECK_STATUS(smisk_server_accept(server, 0, &request), SMISK_ERR_INVALID);
    CHECK(strstr(smisk_last_error(), "FCGI_WEB_SERVER_ADDRS") != NULL);
    CHECK(strstr(smisk_last_error(), "web1") != NULL);

    /* A real peer: 127.0.0.2 is refused when only 127.0.0.1 is allowed. */
    setenv("FCGI_WEB_SERVER_ADDRS", "127.0.0.1", 1);
    int port = port_of(server);
    CHECK(port > 0);
    int refused = client_from("127.0.0.2", port);
    CHECK(refused >= 0);
    CHECK_STATUS(smisk_server_accept(server, 300, &request), SMISK_ERR_TIMEOUT);
    CHECK(smisk_server_connection_count(server) == 0);
    char reply[4096];
    CHECK(drain(refused, reply, sizeof reply) == 0); /* closed, not a byte sent */
    close(refused);
    /* ... and served when its network is allowed. */
    CHECK_OK(smisk_server_set_allow(server, "127.0.0.0/30", 12));
    int served = client_from("127.0.0.2", port);
    CHECK(served >= 0);
    CHECK_OK(smisk_server_accept(server, 5000, &request));
    const char *value = NULL;
    size_t value_len = 0;
    CHECK_OK(smisk_request_param(request, "SCRIPT_NAME", 11, &value, &value_len));
    CHECK_MEM(value, value_len, "/a");
    CHECK_OK(smisk_response_add_header(request, "Content-Type: text/plain", 24));
    CHECK_OK(smisk_response_write(request, "hello", 5));
    CHECK_OK(smisk_request_finish(request, 0));
    CHECK_STATUS(smisk_server_accept(server, 0, &request), SMISK_ERR_TIMEOUT);
    size_t got = drain(served, reply, sizeof reply);
    CHECK(got > 5 && memmem(reply, got, "hello", 5) != NULL);
    close(served);
    unsetenv("FCGI_WEB_SERVER_ADDRS");
    smisk_server_free(server);
}

static void test_socket_ownership(void) {
    smisk_server *server = NULL;
    char dir_template[] = "/tmp/smisk-capi-own-XXXXXX";
    char *dir = mkdtemp(dir_template);
    char path[256];
    struct stat st;
    CHECK(dir != NULL);
    snprintf(path, sizeof path, "%s/s.sock", dir);

    CHECK_STATUS(smisk_server_set_socket_ownership(NULL, -1, NULL, 0, NULL, 0), SMISK_ERR_NULL);
    CHECK_OK(smisk_server_new(&server));
    CHECK_STATUS(smisk_server_set_socket_ownership(server, -1, NULL, 4, NULL, 0), SMISK_ERR_NULL);
    CHECK_STATUS(smisk_server_set_socket_ownership(server, -1, NULL, 0, NULL, 2), SMISK_ERR_NULL);
    CHECK_STATUS(smisk_server_set_socket_ownership(server, 01000, NULL, 0, NULL, 0), SMISK_ERR_INVALID);
    CHECK_STATUS(smisk_server_set_socket_ownership(server, 04755, NULL, 0, NULL, 0), SMISK_ERR_INVALID);
    CHECK_STATUS(smisk_server_set_socket_ownership(server, -1, "no-such-user-smisk", 18, NULL, 0),
                 SMISK_ERR_INVALID);
    CHECK(strstr(smisk_last_error(), "no-such-user-smisk") != NULL);
    CHECK_STATUS(smisk_server_set_socket_ownership(server, -1, NULL, 0, "no-such-group-smisk", 19),
                 SMISK_ERR_INVALID);

    /* The default mode is 0660, whatever the umask. */
    mode_t old_mask = umask(0);
    CHECK_OK(smisk_server_bind(server, path, strlen(path), 0));
    CHECK(lstat(path, &st) == 0 && S_ISSOCK(st.st_mode) && (st.st_mode & 07777) == 0660);
    CHECK_OK(smisk_server_unbind(server));
    umask(old_mask);

    /* An explicit mode and the process's own group by number. */
    char gid[16];
    snprintf(gid, sizeof gid, "%u", (unsigned)getegid());
    CHECK_OK(smisk_server_set_socket_ownership(server, 0600, NULL, 0, gid, strlen(gid)));
    CHECK_OK(smisk_server_bind(server, path, strlen(path), 0));
    CHECK(lstat(path, &st) == 0 && (st.st_mode & 07777) == 0600 && st.st_gid == getegid());
    char buf[256];
    size_t len = 0;
    CHECK_OK(smisk_server_listening(server, buf, sizeof buf, &len));
    CHECK(len == strlen(path) && memcmp(buf, path, len) == 0);
    /* Ownership is for unix sockets: a TCP bind with it set is an error. */
    CHECK_OK(smisk_server_unbind(server));
    CHECK(lstat(path, &st) != 0 && errno == ENOENT);
    CHECK_STATUS(smisk_server_bind(server, "127.0.0.1:0", 11, 0), SMISK_ERR_INVALID);
    CHECK_OK(smisk_server_set_socket_ownership(server, -1, NULL, 0, NULL, 0));
    CHECK_OK(smisk_server_bind(server, "127.0.0.1:0", 11, 0));
    CHECK_OK(smisk_server_unbind(server));

    /* Another owner: root may give it away; anyone else gets EPERM and no file. */
    CHECK_OK(smisk_server_set_socket_ownership(server, 0660, "65534", 5, NULL, 0));
    if (geteuid() == 0) {
        CHECK_OK(smisk_server_bind(server, path, strlen(path), 0));
        CHECK(lstat(path, &st) == 0 && st.st_uid == 65534 && (st.st_mode & 07777) == 0660);
        CHECK_OK(smisk_server_unbind(server));
    } else {
        CHECK_STATUS(smisk_server_bind(server, path, strlen(path), 0), SMISK_ERR_IO);
        CHECK(lstat(path, &st) != 0);
    }
    smisk_server_free(server);
    CHECK(rmdir(dir) == 0); /* nothing left behind: no staging directory */
}

int main(int argc, char **argv) {
    (void)argc;
    test_allow_list();
    test_socket_ownership();
    return check_summary(argv[0]);
}
