/* Unit tests of the front end's sans-I/O parts: the FastCGI reader fed at
 * every split point and one byte at a time, the request encoders decoded
 * back, the configuration parser's values and errors, addresses, and which
 * environment variables are forwarded. Run under valgrind by
 * tests/test_frontend.py; prints "frontend-unit: N passed, M failed". */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "address.h"
#include "buf.h"
#include "cgienv.h"
#include "config.h"
#include "fastcgi.h"
#include "scgi.h"

static int passed, failed;

#define CHECK(cond)                                                                                                  \
    do {                                                                                                             \
        if (cond) {                                                                                                  \
            passed++;                                                                                                \
        } else {                                                                                                     \
            failed++;                                                                                                \
            fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond);                                 \
        }                                                                                                            \
    } while (0)

/* ---- FastCGI reader ------------------------------------------------------ */

struct collected {
    struct buf out, err;
};

static void collect(void *ctx, enum fcgi_type type, const unsigned char *p, size_t n)
{
    struct collected *c = ctx;
    (void)buf_append(type == FCGI_STDOUT ? &c->out : &c->err, p, n);
}

static void record(struct buf *b, int version, int type, unsigned id, const void *content, size_t len, int pad)
{
    unsigned char h[8] = {(unsigned char)version, (unsigned char)type, (unsigned char)(id >> 8), (unsigned char)id,
                          (unsigned char)(len >> 8), (unsigned char)len, (unsigned char)pad, 0};
    (void)buf_append(b, h, 8);
    (void)buf_append(b, content, len);
    static const unsigned char zeros[255];
    (void)buf_append(b, zeros, (size_t)pad);
}

static struct buf answer_stream(void)
{
    struct buf s = {0};
    static const unsigned char end[8] = {0, 0, 1, 2, FCGI_REQUEST_COMPLETE, 0, 0, 0};
    record(&s, 1, FCGI_STDOUT, 1, "Status: 200 OK\r\n", 16, 0);
    record(&s, 1, FCGI_STDERR, 1, "warn", 4, 3);
    record(&s, 1, FCGI_STDOUT, 2, "not ours", 8, 0);         /* another request id */
    record(&s, 1, 11, 0, "\x01\x02\x03\x04\x05\x06\x07\x08", 8, 0); /* UNKNOWN_TYPE */
    record(&s, 1, FCGI_STDOUT, 1, "\r\nbody", 6, 7);
    record(&s, 1, FCGI_STDOUT, 1, "", 0, 0);
    record(&s, 1, FCGI_STDERR, 1, "", 0, 0);
    record(&s, 1, FCGI_END_REQUEST, 1, end, 8, 5);
    (void)buf_append(&s, "trailing junk", 13);
    return s;
}

static int feed_in_pieces(const struct buf *s, size_t piece, size_t first, struct collected *c,
                          struct fcgi_reader *r)
{
    fcgi_reader_init(r, 1);
    size_t off = 0;
    enum fcgi_feed f = FCGI_FEED_MORE;
    while (off < s->len && f == FCGI_FEED_MORE) {
        size_t n = off == 0 && first ? first : piece;
        if (n > s->len - off)
            n = s->len - off;
        f = fcgi_reader_feed(r, s->p + off, n, collect, c);
        off += n;
    }
    return f;
}

static void test_fcgi_reader(void)
{
    struct buf s = answer_stream();
    /* Whole, one byte at a time, and split once at every offset. */
    for (size_t split = 0; split <= s.len; split++) {
        for (int mode = 0; mode < 2; mode++) {
            if (mode == 1 && split > 0)
                break;
            struct collected c = {{0}, {0}};
            struct fcgi_reader r;
            int f = mode == 1 ? feed_in_pieces(&s, 1, 0, &c, &r) : feed_in_pieces(&s, s.len, split, &c, &r);
            int ok = f == FCGI_FEED_END && c.out.len == 22 && memcmp(c.out.p, "Status: 200 OK\r\n\r\nbody", 22) == 0 &&
                     c.err.len == 4 && memcmp(c.err.p, "warn", 4) == 0 && r.app_status == 0x102 &&
                     r.protocol_status == FCGI_REQUEST_COMPLETE;
            if (!ok)
                fprintf(stderr, "split %zu mode %d\n", split, mode);
            CHECK(ok);
            buf_free(&c.out);
            buf_free(&c.err);
        }
    }
    buf_free(&s);

    struct collected c = {{0}, {0}};
    struct fcgi_reader r;
    struct buf bad = {0};
    record(&bad, 2, FCGI_STDOUT, 1, "x", 1, 0);
    fcgi_reader_init(&r, 1);
    CHECK(fcgi_reader_feed(&r, bad.p, bad.len, collect, &c) == FCGI_FEED_BAD);
    bad.len = 0;
    record(&bad, 1, FCGI_END_REQUEST, 1, "\0\0\0\0", 4, 0); /* END_REQUEST shorter than 8 */
    fcgi_reader_init(&r, 1);
    CHECK(fcgi_reader_feed(&r, bad.p, bad.len, collect, &c) == FCGI_FEED_BAD);
    bad.len = 0;
    record(&bad, 1, FCGI_END_REQUEST, 7, "\0\0\0\0", 4, 0); /* another id's: skipped */
    record(&bad, 1, FCGI_STDOUT, 1, "y", 1, 0);
    fcgi_reader_init(&r, 1);
    CHECK(fcgi_reader_feed(&r, bad.p, bad.len, collect, &c) == FCGI_FEED_MORE && c.out.len == 1);
    /* A maximal record, then END with protocol status OVERLOADED. */
    bad.len = 0;
    unsigned char *big = calloc(1, FCGI_MAX_CONTENT);
    record(&bad, 1, FCGI_STDOUT, 1, big, FCGI_MAX_CONTENT, 255);
    record(&bad, 1, FCGI_END_REQUEST, 1, "\0\0\0\0\2\0\0\0", 8, 0);
    c.out.len = 0;
    fcgi_reader_init(&r, 1);
    CHECK(fcgi_reader_feed(&r, bad.p, bad.len, collect, &c) == FCGI_FEED_END && c.out.len == FCGI_MAX_CONTENT &&
          r.protocol_status == FCGI_OVERLOADED);
    free(big);
    buf_free(&bad);
    buf_free(&c.out);
    buf_free(&c.err);
}

/* ---- FastCGI and SCGI request encoders ---------------------------------- */

static size_t get_len(const unsigned char *p, size_t *used)
{
    if (p[0] < 128) {
        *used = 1;
        return p[0];
    }
    *used = 4;
    return ((size_t)(p[0] & 0x7f) << 24) | ((size_t)p[1] << 16) | ((size_t)p[2] << 8) | p[3];
}

static void test_fcgi_head(void)
{
    size_t long_len = 100000;
    char *long_value = malloc(long_len + 1);
    memset(long_value, 'v', long_len);
    long_value[long_len] = '\0';
    struct cgivar vars[] = {{"REQUEST_METHOD", 14, "GET", 3}, {"HTTP_X_LONG", 11, long_value, long_len},
                            {"QUERY_STRING", 12, "", 0}};
    struct buf b = {0};
    CHECK(fcgi_request_head(&b, 1, vars, 3) == 0);
    /* BEGIN_REQUEST: RESPONDER, flags 0. */
    CHECK(b.len > 16 && b.p[0] == 1 && b.p[1] == FCGI_BEGIN_REQUEST && b.p[5] == 8 && b.p[9] == 1 && b.p[10] == 0);
    struct buf params = {0};
    size_t off = 16, records = 0;
    int ended = 0;
    while (off + 8 <= b.len && !ended) {
        size_t len = (size_t)b.p[off + 4] << 8 | b.p[off + 5];
        CHECK(b.p[off + 1] == FCGI_PARAMS && b.p[off + 3] == 1);
        ended = len == 0;
        (void)buf_append(&params, b.p + off + 8, len);
        off += 8 + len + b.p[off + 6];
        records++;
    }
    CHECK(ended && off == b.len && records == 3); /* 100 KB of params: two records and the empty one */
    size_t pos = 0, k = 0;
    while (pos < params.len && k < 3) {
        size_t u1, u2;
        size_t nl = get_len(params.p + pos, &u1);
        size_t vl = get_len(params.p + pos + u1, &u2);
        pos += u1 + u2;
        CHECK(nl == vars[k].name_len && memcmp(params.p + pos, vars[k].name, nl) == 0);
        CHECK(vl == vars[k].value_len && memcmp(params.p + pos + nl, vars[k].value, vl) == 0);
        pos += nl + vl;
        k++;
    }
    CHECK(k == 3 && pos == params.len);
    buf_free(&params);
    buf_free(&b);
    free(long_value);
}

static void test_scgi_head(void)
{
    struct cgivar vars[] = {{"REQUEST_METHOD", 14, "POST", 4}, {"CONTENT_LENGTH", 14, "999", 3},
                            {"SCGI", 4, "7", 1}, {"HTTP_HOST", 9, "h", 1}};
    struct buf b = {0};
    CHECK(scgi_request_header(&b, 12, vars, 4) == 0);
    static const char want[] = "57:CONTENT_LENGTH\00012\000SCGI\0001\000REQUEST_METHOD\000POST\000HTTP_HOST\000h\000,";
    CHECK(b.len == sizeof want - 1 && memcmp(b.p, want, b.len) == 0);
    buf_free(&b);
    b = (struct buf){0};
    CHECK(scgi_request_header(&b, 0, NULL, 0) == 0);
    static const char empty[] = "24:CONTENT_LENGTH\0000\000SCGI\0001\000,";
    CHECK(b.len == sizeof empty - 1 && memcmp(b.p, empty, b.len) == 0);
    buf_free(&b);
}

/* ---- configuration and addresses ---------------------------------------- */

static int parses(const char *text, struct config *c, char **err)
{
    return config_parse(text, strlen(text), "/etc/smisk", c, err);
}

static int parse_error_contains(const char *text, const char *want)
{
    struct config c;
    char *err = NULL;
    int r = parses(text, &c, &err);
    int ok = r != 0 && err != NULL && strstr(err, want) != NULL;
    if (!ok)
        fprintf(stderr, "config %s: error %s, wanted %s\n", text, err ? err : "(none)", want);
    free(err);
    config_free(&c);
    return ok;
}

static void test_config(void)
{
    struct config c;
    char *err = NULL;
    const char *text = "#!/usr/local/bin/smisk-frontend\n"
                       "# comment\n\n"
                       "  address = scgi:run/app.sock  \r\n"
                       "start = exec smisk-wsgi app:application --bind scgi:/x # not a comment\n"
                       "start_timeout = 2.5\n"
                       "timeout=0.25\n"
                       "max_in_flight = 0\n"
                       "env = A=1\n"
                       "env = B=x=y\n"
                       "pass_env = SMISK_SENDFILE  X_Y\n"
                       "pass_env = Z\n"
                       "log = daemon.log";
    CHECK(parses(text, &c, &err) == 0);
    CHECK(err == NULL);
    CHECK(c.addr.proto == PROTO_SCGI && c.addr.is_unix);
    CHECK(strcmp(address_unix_path(&c.addr), "/etc/smisk/run/app.sock") == 0);
    CHECK(c.start && strcmp(c.start, "exec smisk-wsgi app:application --bind scgi:/x # not a comment") == 0);
    CHECK(c.start_timeout_ms == 2500 && c.timeout_ms == 250 && c.max_in_flight == 0 && c.retry_after == 5);
    CHECK(strcmp(c.state, "/etc/smisk/run/app.sock") == 0);
    CHECK(strcmp(c.pid_file, "/etc/smisk/run/app.sock.pid") == 0);
    CHECK(strcmp(c.log_file, "/etc/smisk/daemon.log") == 0);
    CHECK(c.n_env == 2 && strcmp(c.env[1], "B=x=y") == 0);
    CHECK(c.n_pass_env == 3 && strcmp(c.pass_env[1], "X_Y") == 0 && strcmp(c.pass_env[2], "Z") == 0);
    CHECK(c.fallback == NULL);
    config_free(&c);

    CHECK(parses("address = 127.0.0.1:9000\nstate = /run/fe/app\n", &c, &err) == 0);
    CHECK(c.addr.proto == PROTO_FASTCGI && !c.addr.is_unix && c.addr.sa.ss_family == AF_INET);
    CHECK(((struct sockaddr_in *)&c.addr.sa)->sin_port == htons(9000));
    CHECK(c.start_timeout_ms == 10000 && c.timeout_ms == 60000 && c.max_in_flight == 32);
    CHECK(strcmp(c.pid_file, "/run/fe/app.pid") == 0);
    config_free(&c);
    CHECK(parses("address = fcgi:[::1]:4000\nstate = s\n", &c, &err) == 0);
    CHECK(c.addr.sa.ss_family == AF_INET6 && strcmp(c.state, "/etc/smisk/s") == 0);
    config_free(&c);

    CHECK(parse_error_contains("addres = /a.sock\n", "line 1: unknown key addres"));
    CHECK(parse_error_contains("address = /a.sock\naddress = /b.sock\n", "line 2: address given twice"));
    CHECK(parse_error_contains("address = /a.sock\nstart_timeout = 1.2345\n", "line 2: start_timeout"));
    CHECK(parse_error_contains("address = /a.sock\nstart_timeout = 0\n", "line 2: start_timeout"));
    CHECK(parse_error_contains("address = /a.sock\nmax_in_flight = -1\n", "max_in_flight"));
    CHECK(parse_error_contains("address = /a.sock\nmax_in_flight = 99999999999999999999\n", "max_in_flight"));
    CHECK(parse_error_contains("address = /a.sock\nretry_after = 1.5\n", "retry_after"));
    CHECK(parse_error_contains("start = x\n", "no address"));
    CHECK(parse_error_contains("address = 127.0.0.1:9000\n", "needs state"));
    CHECK(parse_error_contains("address = localhost:9000\nstate=/s\n", "numeric"));
    CHECK(parse_error_contains("address = 127.0.0.1:0\nstate=/s\n", "port"));
    CHECK(parse_error_contains("address = 127.0.0.1:65536\nstate=/s\n", "port"));
    CHECK(parse_error_contains("address = /a.sock\nenv = NOEQUALS\n", "env: expected NAME=VALUE"));
    CHECK(parse_error_contains("address = /a.sock\npass_env = A-B\n", "not a variable name"));
    CHECK(parse_error_contains("address = /a.sock\nstart =\n", "start has no value"));
    CHECK(parse_error_contains("address = /a.sock\njust words\n", "line 2: expected key = value"));
    char longpath[200];
    memset(longpath, 'p', sizeof longpath);
    memcpy(longpath, "address = /", 11);
    longpath[sizeof longpath - 1] = '\0';
    CHECK(parse_error_contains(longpath, "longer than"));
    struct config nul;
    CHECK(config_parse("address = /a\0", 13, "/", &nul, &err) != 0 && err && strstr(err, "NUL"));
    free(err);
    config_free(&nul);
    err = NULL;
    CHECK(config_load("/nonexistent/smisk-frontend.conf", &nul, &err) != 0 && err && strstr(err, "cannot open"));
    free(err);
    config_free(&nul);
}

/* ---- forwarded variables ------------------------------------------------ */

static void test_cgienv(void)
{
    char *env[] = {"PATH=/bin", "REQUEST_METHOD=GET", "HTTP_COOKIE=a=b", "HTTP_=odd", "SECRET=1",
                   "QUERY_STRING=", "SMISK_SENDFILE=stream", "GATEWAY_INTERFACE=CGI/1.1", "=nameless", "NOEQ", NULL};
    struct cgivar *vars;
    size_t n;
    const char *extra[] = {"SMISK_SENDFILE"};
    CHECK(cgienv_collect(env, extra, 1, &vars, &n) == 0);
    CHECK(n == 5);
    CHECK(n == 5 && vars[0].name_len == 14 && strcmp(vars[0].value, "GET") == 0);
    CHECK(n == 5 && vars[1].name_len == 11 && strcmp(vars[1].value, "a=b") == 0);
    CHECK(n == 5 && vars[2].name_len == 12 && vars[2].value_len == 0);
    CHECK(n == 5 && strcmp(vars[3].value, "stream") == 0 && strcmp(vars[4].value, "CGI/1.1") == 0);
    free(vars);
    CHECK(cgienv_collect(env, NULL, 0, &vars, &n) == 0 && n == 4);
    free(vars);
}

static void test_buf(void)
{
    struct buf b = {0};
    CHECK(buf_append_ull(&b, 0) == 0 && buf_append_ull(&b, 18446744073709551615ULL) == 0);
    CHECK(b.len == 21 && memcmp(b.p, "018446744073709551615", 21) == 0);
    for (int i = 0; i < 100000; i++)
        (void)buf_append(&b, "x", 1);
    CHECK(b.len == 100021 && b.cap >= b.len);
    buf_free(&b);
    CHECK(b.p == NULL && b.len == 0);
}

int main(void)
{
    test_fcgi_reader();
    test_fcgi_head();
    test_scgi_head();
    test_config();
    test_cgienv();
    test_buf();
    printf("frontend-unit: %d passed, %d failed\n", passed, failed);
    return failed != 0;
}
