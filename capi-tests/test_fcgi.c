/* The FastCGI responder through the C ABI: every smisk_server_* /
 * smisk_request_* / smisk_response_* function, their error paths (NULL,
 * bad lengths, wrong state), driven by a raw FastCGI client thread over a
 * unix socket in a private temp dir. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "check.h"

static char sock_path[256];

/* ---- a minimal FastCGI client (runs in its own thread) ---- */

static size_t put_record(unsigned char *out, int type, int id, const void *content, size_t len) {
    out[0] = 1;
    out[1] = (unsigned char)type;
    out[2] = (unsigned char)(id >> 8);
    out[3] = (unsigned char)id;
    out[4] = (unsigned char)(len >> 8);
    out[5] = (unsigned char)len;
    out[6] = 0;
    out[7] = 0;
    if (len) memcpy(out + 8, content, len);
    return 8 + len;
}

static size_t put_pair(unsigned char *out, const char *name, const char *value) {
    size_t nl = strlen(name), vl = strlen(value), at = 0;
    out[at++] = (unsigned char)nl;
    out[at++] = (unsigned char)vl;
    memcpy(out + at, name, nl);
    at += nl;
    memcpy(out + at, value, vl);
    return at + vl;
}

struct client_result {
    unsigned char response[8192];
    size_t len;
    int ok;
};

static void *client_main(void *arg) {
    struct client_result *res = arg;
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    strncpy(sa.sun_path, sock_path, sizeof sa.sun_path - 1);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) return NULL;

    unsigned char req[4096], params[1024];
    size_t at = 0, pl = 0;
    static const unsigned char begin[8] = {0, 1, 0, 0, 0, 0, 0, 0};
    at += put_record(req + at, 1, 1, begin, 8);
    pl += put_pair(params + pl, "REQUEST_METHOD", "POST");
    pl += put_pair(params + pl, "SCRIPT_NAME", "/capi");
    params[pl++] = 3; /* a binary-safe value: NUL inside */
    params[pl++] = 3;
    memcpy(params + pl, "BINa\0b", 6);
    pl += 6;
    at += put_record(req + at, 4, 1, params, pl);
    at += put_record(req + at, 4, 1, NULL, 0);
    at += put_record(req + at, 5, 1, "line1\nline2\nrest", 16);
    at += put_record(req + at, 5, 1, NULL, 0);
    if (write(fd, req, at) != (ssize_t)at) return NULL;
    for (;;) {
        ssize_t n = read(fd, res->response + res->len, sizeof res->response - res->len);
        if (n <= 0) break;
        res->len += (size_t)n;
    }
    close(fd);
    res->ok = 1;
    return NULL;
}

static void on_alarm(int sig) { (void)sig; }

int main(int argc, char **argv) {
    (void)argc;
    char dir_template[] = "/tmp/smisk-capi-XXXXXX";
    char *dir = mkdtemp(dir_template);
    CHECK(dir != NULL);
    snprintf(sock_path, sizeof sock_path, "%s/s.sock", dir);

    /* ---- NULL handling of every function ---- */
    CHECK_STATUS(smisk_server_new(NULL), SMISK_ERR_NULL);
    smisk_server_free(NULL);
    CHECK_STATUS(smisk_server_set_limit(NULL, SMISK_LIMIT_MAX_CONNS, 1), SMISK_ERR_NULL);
    int64_t v = 0;
    CHECK_STATUS(smisk_server_get_limit(NULL, SMISK_LIMIT_MAX_CONNS, &v), SMISK_ERR_NULL);
    CHECK_STATUS(smisk_server_bind(NULL, "x", 1, 0), SMISK_ERR_NULL);
    CHECK_STATUS(smisk_server_unbind(NULL), SMISK_ERR_NULL);
    CHECK(!smisk_server_is_bound(NULL));
    size_t len = 0;
    char buf[256];
    CHECK_STATUS(smisk_server_listening(NULL, buf, sizeof buf, &len), SMISK_ERR_NULL);
    CHECK_STATUS(smisk_server_adopt_fd(NULL, 0), SMISK_ERR_NULL);
    int32_t fd = -1;
    CHECK_STATUS(smisk_server_listen_fd(NULL, &fd), SMISK_ERR_NULL);
    CHECK_STATUS(smisk_server_reset_after_fork(NULL), SMISK_ERR_NULL);
    smisk_request *request = NULL;
    CHECK_STATUS(smisk_server_accept(NULL, 0, &request), SMISK_ERR_NULL);
    CHECK(smisk_server_connection_count(NULL) == 0);
    const char *pv;
    size_t pvl;
    CHECK_STATUS(smisk_request_param(NULL, "A", 1, &pv, &pvl), SMISK_ERR_NULL);
    CHECK(smisk_request_param_count(NULL) == 0);
    const char *pn;
    size_t pnl;
    CHECK_STATUS(smisk_request_param_at(NULL, 0, &pn, &pnl, &pv, &pvl), SMISK_ERR_NULL);
    smisk_param params[4];
    size_t nparams = 99;
    CHECK_STATUS(smisk_request_params(NULL, params, 4, &nparams), SMISK_ERR_NULL);
    CHECK(smisk_request_id(NULL) == 0);
    CHECK(!smisk_request_keep_conn(NULL));
    CHECK(!smisk_request_is_aborted(NULL));
    CHECK(!smisk_request_is_active(NULL));
    CHECK_STATUS(smisk_request_read(NULL, buf, 1, &len), SMISK_ERR_NULL);
    CHECK_STATUS(smisk_request_readline(NULL, buf, 1, &len), SMISK_ERR_NULL);
    CHECK_STATUS(smisk_request_write_stdout(NULL, "x", 1), SMISK_ERR_NULL);
    CHECK_STATUS(smisk_request_write_stderr(NULL, "x", 1), SMISK_ERR_NULL);
    CHECK_STATUS(smisk_request_flush(NULL), SMISK_ERR_NULL);
    CHECK_STATUS(smisk_request_finish(NULL, 0), SMISK_ERR_NULL);
    CHECK_STATUS(smisk_response_add_header(NULL, "A: b", 4), SMISK_ERR_NULL);
    CHECK_STATUS(smisk_response_clear_headers(NULL), SMISK_ERR_NULL);
    CHECK_STATUS(smisk_response_begin(NULL), SMISK_ERR_NULL);
    CHECK(!smisk_response_has_begun(NULL));
    CHECK_STATUS(smisk_response_write(NULL, "x", 1), SMISK_ERR_NULL);
    CHECK(!smisk_fd_is_listening_socket(-1));

    /* ---- server set-up and its errors ---- */
    smisk_server *server = NULL;
    CHECK_OK(smisk_server_new(&server));
    CHECK(server != NULL);
    CHECK_OK(smisk_server_get_limit(server, SMISK_LIMIT_MAX_PARAMS_BYTES, &v));
    CHECK(v == 1048576);
    CHECK_OK(smisk_server_set_limit(server, SMISK_LIMIT_READ_TIMEOUT_MS, 5000));
    CHECK_OK(smisk_server_get_limit(server, SMISK_LIMIT_READ_TIMEOUT_MS, &v));
    CHECK(v == 5000);
    CHECK_STATUS(smisk_server_set_limit(server, 99, 1), SMISK_ERR_INVALID);
    CHECK_STATUS(smisk_server_set_limit(server, SMISK_LIMIT_MAX_CONNS, 0), SMISK_ERR_INVALID);
    CHECK_STATUS(smisk_server_set_limit(server, SMISK_LIMIT_MAX_CONNS, -5), SMISK_ERR_INVALID);
    CHECK_STATUS(smisk_server_get_limit(server, -1, &v), SMISK_ERR_INVALID);
    CHECK_STATUS(smisk_server_get_limit(server, 0, NULL), SMISK_ERR_NULL);
    CHECK(strstr(smisk_last_error(), "out_value") != NULL);

    CHECK_STATUS(smisk_server_listening(server, buf, sizeof buf, &len), SMISK_ERR_STATE);
    CHECK_STATUS(smisk_server_listen_fd(server, &fd), SMISK_ERR_NOT_FOUND);
    CHECK_STATUS(smisk_server_bind(server, "no-port-here", 12, 0), SMISK_ERR_INVALID);
    CHECK_STATUS(smisk_server_bind(server, "host:99999", 10, 0), SMISK_ERR_INVALID);
    CHECK_STATUS(smisk_server_bind(server, NULL, 5, 0), SMISK_ERR_NULL);
    CHECK_STATUS(smisk_server_bind(server, "\xff\xfe:80", 5, 0), SMISK_ERR_INVALID);
    /* explicit length: only the first 4 bytes count, so this is "1.2." */
    CHECK_STATUS(smisk_server_bind(server, "1.2.3.4:80", 4, 0), SMISK_ERR_INVALID);
    CHECK(!smisk_server_is_bound(server));

    CHECK_OK(smisk_server_bind(server, sock_path, strlen(sock_path), 0));
    CHECK(smisk_server_is_bound(server));
    CHECK_STATUS(smisk_server_bind(server, sock_path, strlen(sock_path), 0), SMISK_ERR_STATE);
    size_t needed = 0;
    CHECK_STATUS(smisk_server_listening(server, buf, 3, &needed), SMISK_ERR_BUFFER_TOO_SMALL);
    CHECK(needed == strlen(sock_path));
    CHECK_OK(smisk_server_listening(server, buf, sizeof buf, &len));
    CHECK(len == strlen(sock_path) && memcmp(buf, sock_path, len) == 0);
    CHECK_OK(smisk_server_listen_fd(server, &fd));
    CHECK(smisk_fd_is_listening_socket(fd));
    int plain = socket(AF_UNIX, SOCK_STREAM, 0); /* a socket, but not listening */
    CHECK(plain >= 0 && !smisk_fd_is_listening_socket(plain));
    close(plain);

    /* a second server on the same live path is refused, the file kept */
    smisk_server *other = NULL;
    CHECK_OK(smisk_server_new(&other));
    CHECK_STATUS(smisk_server_bind(other, sock_path, strlen(sock_path), 0), SMISK_ERR_IO);
    CHECK(strstr(smisk_last_error(), "listening") != NULL);
    /* adopt: a non-socket fd is refused, a listening socket accepted */
    CHECK_STATUS(smisk_server_adopt_fd(other, 1000), SMISK_ERR_INVALID);
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(0x7f000001);
    CHECK(bind(lfd, (struct sockaddr *)&sin, sizeof sin) == 0 && listen(lfd, 8) == 0);
    CHECK_OK(smisk_server_adopt_fd(other, lfd));
    CHECK_OK(smisk_server_listening(other, buf, sizeof buf, &len));
    CHECK(len > 10 && memcmp(buf, "127.0.0.1:", 10) == 0);
    CHECK_STATUS(smisk_server_adopt_fd(other, lfd), SMISK_ERR_STATE);
    CHECK_OK(smisk_server_reset_after_fork(other));
    smisk_server_free(other); /* closes lfd */

    /* accept: timeout, then a signal interrupts the wait */
    CHECK_STATUS(smisk_server_accept(server, 30, &request), SMISK_ERR_TIMEOUT);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, NULL);
    alarm(1);
    CHECK_STATUS(smisk_server_accept(server, 5000, &request), SMISK_ERR_INTERRUPTED);
    CHECK_STATUS(smisk_server_accept(server, 0, NULL), SMISK_ERR_NULL);

    /* ---- one real request ---- */
    struct client_result result;
    memset(&result, 0, sizeof result);
    pthread_t client;
    CHECK(pthread_create(&client, NULL, client_main, &result) == 0);
    CHECK_OK(smisk_server_accept(server, 5000, &request));
    CHECK(request != NULL);
    CHECK(smisk_request_is_active(request));
    CHECK(smisk_request_id(request) == 1);
    CHECK(!smisk_request_keep_conn(request));
    CHECK(!smisk_request_is_aborted(request));
    CHECK(smisk_server_connection_count(server) == 1);

    CHECK_OK(smisk_request_param(request, "REQUEST_METHOD", 14, &pv, &pvl));
    CHECK_MEM(pv, pvl, "POST");
    CHECK_OK(smisk_request_param(request, "BIN", 3, &pv, &pvl));
    CHECK(pvl == 3 && memcmp(pv, "a\0b", 3) == 0);
    CHECK_STATUS(smisk_request_param(request, "REQUEST_METHODX", 15, &pv, &pvl), SMISK_ERR_NOT_FOUND);
    CHECK_STATUS(smisk_request_param(request, "REQUEST_METHOD", 7, &pv, &pvl), SMISK_ERR_NOT_FOUND);
    CHECK_STATUS(smisk_request_param(request, NULL, 3, &pv, &pvl), SMISK_ERR_NULL);
    CHECK_STATUS(smisk_request_param(request, "BIN", 3, NULL, &pvl), SMISK_ERR_NULL);
    CHECK(smisk_request_param_count(request) == 3);
    CHECK_OK(smisk_request_param_at(request, 1, &pn, &pnl, &pv, &pvl));
    CHECK_MEM(pn, pnl, "SCRIPT_NAME");
    CHECK_MEM(pv, pvl, "/capi");
    CHECK_STATUS(smisk_request_param_at(request, 3, &pn, &pnl, &pv, &pvl), SMISK_ERR_NOT_FOUND);
    CHECK_STATUS(smisk_request_param_at(request, 0, NULL, &pnl, &pv, &pvl), SMISK_ERR_NULL);
    /* All at once: the same pointers as param_at, the count even without room. */
    CHECK_OK(smisk_request_params(request, params, 4, &nparams));
    CHECK(nparams == 3);
    CHECK_OK(smisk_request_param_at(request, 2, &pn, &pnl, &pv, &pvl));
    CHECK(params[2].name == pn && params[2].name_len == pnl && params[2].value == pv && params[2].value_len == pvl);
    CHECK_MEM(params[1].name, params[1].name_len, "SCRIPT_NAME");
    CHECK_MEM(params[1].value, params[1].value_len, "/capi");
    nparams = 0;
    CHECK_OK(smisk_request_params(request, params, 1, &nparams));
    CHECK(nparams == 3);
    CHECK_OK(smisk_request_params(request, NULL, 0, &nparams));
    CHECK(nparams == 3);
    CHECK_STATUS(smisk_request_params(request, NULL, 2, &nparams), SMISK_ERR_NULL);
    CHECK_STATUS(smisk_request_params(request, params, 4, NULL), SMISK_ERR_NULL);

    CHECK_OK(smisk_request_readline(request, buf, sizeof buf, &len));
    CHECK_MEM(buf, len, "line1\n");
    CHECK_OK(smisk_request_readline(request, buf, 3, &len)); /* buffer full first */
    CHECK_MEM(buf, len, "lin");
    CHECK_OK(smisk_request_read(request, buf, 0, &len)); /* zero-size read */
    CHECK(len == 0);
    CHECK_STATUS(smisk_request_read(request, NULL, 10, &len), SMISK_ERR_NULL);
    CHECK_STATUS(smisk_request_read(request, buf, 10, NULL), SMISK_ERR_NULL);
    CHECK_OK(smisk_request_read(request, buf, sizeof buf, &len));
    CHECK_MEM(buf, len, "e2\nrest");
    CHECK_OK(smisk_request_read(request, buf, sizeof buf, &len));
    CHECK(len == 0); /* end of body, repeatable */
    CHECK_OK(smisk_request_readline(request, buf, sizeof buf, &len));
    CHECK(len == 0);

    CHECK_STATUS(smisk_response_add_header(request, "Bad\r\nX: y", 9), SMISK_ERR_INVALID);
    CHECK_STATUS(smisk_response_add_header(request, "NoColon", 7), SMISK_ERR_INVALID);
    CHECK_STATUS(smisk_response_add_header(request, NULL, 4), SMISK_ERR_NULL);
    CHECK_OK(smisk_response_add_header(request, "X-Dropped: 1", 12));
    CHECK_OK(smisk_response_clear_headers(request));
    CHECK_OK(smisk_response_add_header(request, "Content-Type: text/plain", 24));
    CHECK(!smisk_response_has_begun(request));
    CHECK_OK(smisk_response_write(request, "", 0)); /* empty: does not begin */
    CHECK(!smisk_response_has_begun(request));
    CHECK_OK(smisk_response_write(request, "body-", 5));
    CHECK(smisk_response_has_begun(request));
    CHECK_STATUS(smisk_response_add_header(request, "X-Late: 1", 9), SMISK_ERR_STATE);
    CHECK_STATUS(smisk_response_clear_headers(request), SMISK_ERR_STATE);
    CHECK_STATUS(smisk_response_begin(request), SMISK_ERR_STATE);
    CHECK_STATUS(smisk_response_write(request, NULL, 3), SMISK_ERR_NULL);
    CHECK_OK(smisk_request_write_stdout(request, "raw", 3));
    CHECK_OK(smisk_request_write_stderr(request, "log line\n", 9));
    CHECK_OK(smisk_request_flush(request));
    smisk_form *form = NULL;
    CHECK_STATUS(smisk_request_parse_form(NULL, NULL, NULL, 0, &form), SMISK_ERR_NULL);
    CHECK_STATUS(smisk_request_parse_form(request, NULL, NULL, 0, NULL), SMISK_ERR_NULL);
    CHECK_OK(smisk_request_parse_form(request, NULL, NULL, 0, &form)); /* no CONTENT_TYPE */
    CHECK(smisk_form_get_kind(form) == SMISK_FORM_UNPARSED);
    CHECK(smisk_form_field_count(form) == 0);
    smisk_form_free(form);
    CHECK_OK(smisk_request_finish(request, 7));
    CHECK_STATUS(smisk_request_parse_form(request, NULL, NULL, 0, &form), SMISK_ERR_STATE);
    CHECK_OK(smisk_request_finish(request, 8)); /* idempotent */
    CHECK(!smisk_request_is_active(request));
    /* the handle stays valid after finish, but refuses work */
    CHECK_STATUS(smisk_response_write(request, "x", 1), SMISK_ERR_STATE);
    CHECK_STATUS(smisk_request_read(request, buf, sizeof buf, &len), SMISK_ERR_STATE);
    CHECK_STATUS(smisk_request_param(request, "BIN", 3, &pv, &pvl), SMISK_ERR_STATE);
    CHECK(smisk_request_param_count(request) == 0);
    CHECK_STATUS(smisk_request_flush(request), SMISK_ERR_STATE);
    pthread_join(client, NULL);

    /* what the client received: STDOUT with header block and body, STDERR,
     * the stream ends and END_REQUEST(app status 7) */
    CHECK(result.ok);
    static const char expect_out[] = "Content-Type: text/plain\r\n\r\nbody-raw";
    CHECK(result.len > 8 && memmem(result.response, result.len, expect_out, sizeof expect_out - 1) != NULL);
    CHECK(memmem(result.response, result.len, "log line\n", 9) != NULL);
    static const unsigned char end_request[16] = {1, 3, 0, 1, 0, 8, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0};
    CHECK(result.len >= 16 && memcmp(result.response + result.len - 16, end_request, 16) == 0);

    /* unbind removes the socket file; the server can be freed afterwards */
    CHECK_OK(smisk_server_unbind(server));
    CHECK(!smisk_server_is_bound(server));
    struct stat st;
    CHECK(stat(sock_path, &st) != 0 && errno == ENOENT);
    CHECK_OK(smisk_server_unbind(server)); /* no-op */
    smisk_server_free(server);
    rmdir(dir);
    return check_summary(argv[0]);
}
