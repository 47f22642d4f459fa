/* The response helpers through the C ABI: smisk_cookie_options_init,
 * smisk_cookie_format, smisk_request_url, smisk_sendfile_header,
 * smisk_request_sendfile_header, smisk_response_write_file,
 * smisk_response_send_file (and its halves, smisk_response_prepare_file and
 * smisk_response_stream_file), the header list (smisk_response_push_header,
 * _set_headers, _header_count, _header_at, _headers_size), the gateway
 * checks (smisk_gateway_header, _status, _hop_by_hop), smisk_request_is_https,
 * smisk_last_errno and smisk_response_error_page. Success paths are
 * checked against the exact bytes a FastCGI peer receives; error paths
 * (NULL, bad lengths, wrong state, unsupported server) against the status
 * and "nothing was written". Each request is a real one: a client thread
 * speaks raw FastCGI over a unix socket in a private temp dir. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "check.h"

static char sock_path[256];

/* ---- helpers ---------------------------------------------------------- */

static int mem_eq(const void *a, size_t alen, const void *b, size_t blen) {
    return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

/* str == the n bytes at p */
static int bytes_are(const uint8_t *p, size_t n, const char *str) { return mem_eq(p, n, str, strlen(str)); }

static int contains(const void *hay, size_t n, const char *needle) {
    return memmem(hay, n, needle, strlen(needle)) != NULL;
}

/* Formats a cookie; returns the status and, on success, a malloc'd
 * NUL-terminated copy in *text (NULL on failure). */
static smisk_status cookie(const char *name, const char *value, size_t value_len, const smisk_cookie_options *o,
                           char **text) {
    uint8_t *out = (uint8_t *)"unchanged";
    size_t len = 12345;
    smisk_status st = smisk_cookie_format((const uint8_t *)name, name ? strlen(name) : 0, (const uint8_t *)value,
                                          value_len, o, &out, &len);
    *text = NULL;
    if (st == SMISK_OK) {
        *text = malloc(len + 1);
        memcpy(*text, out, len);
        (*text)[len] = '\0';
        smisk_bytes_free(out, len);
    } else {
        /* outputs are written only on success */
        CHECK(len == 12345 && memcmp(out, "unchanged", 9) == 0);
    }
    return st;
}

static void check_cookie(const char *name, const char *value, size_t value_len, const smisk_cookie_options *o,
                         const char *want, int line) {
    char *got = NULL;
    smisk_status st = cookie(name, value, value_len, o, &got);
    int ok = st == SMISK_OK && got != NULL && strcmp(got, want) == 0;
    if (!ok)
        fprintf(stderr, "line %d: cookie: status %d, got \"%s\", want \"%s\"\n", line, (int)st, got ? got : "(null)",
                want);
    CHECK(ok);
    free(got);
}
#define CHECK_COOKIE(n, v, o, want) check_cookie((n), (v), strlen(v), (o), (want), __LINE__)

static smisk_status sendfile_line(const char *sw, const char *path, size_t path_len, char **text) {
    uint8_t *out = (uint8_t *)"unchanged";
    size_t len = 777;
    smisk_status st = smisk_sendfile_header((const uint8_t *)sw, sw ? strlen(sw) : 0, (const uint8_t *)path,
                                            path_len, &out, &len);
    *text = NULL;
    if (st == SMISK_OK) {
        *text = malloc(len + 1);
        memcpy(*text, out, len);
        (*text)[len] = '\0';
        smisk_bytes_free(out, len);
    } else {
        CHECK(len == 777 && memcmp(out, "unchanged", 9) == 0);
    }
    return st;
}

static void check_sendfile(const char *sw, const char *path, const char *want, int line) {
    char *got = NULL;
    smisk_status st = sendfile_line(sw, path, strlen(path), &got);
    int ok = st == SMISK_OK && strcmp(got, want) == 0;
    if (!ok) fprintf(stderr, "line %d: sendfile: status %d, got \"%s\"\n", line, (int)st, got ? got : "(null)");
    CHECK(ok);
    free(got);
}
#define CHECK_SENDFILE(sw, path, want) check_sendfile((sw), (path), (want), __LINE__)

/* ---- one FastCGI exchange ---------------------------------------------- */

#define MAX_PARAMS 16

struct exchange {
    const char *params[MAX_PARAMS * 2 + 1]; /* name, value, ..., NULL */
    int hang_up;                             /* close right after sending the request */
    /* results */
    unsigned char *raw;
    size_t raw_len, raw_cap;
    unsigned char *out; /* STDOUT stream contents */
    size_t out_len;
    int ended;          /* END_REQUEST seen */
    int ok;
    pthread_t thread;
};

static size_t put_header(unsigned char *o, int type, size_t len) {
    o[0] = 1;
    o[1] = (unsigned char)type;
    o[2] = 0;
    o[3] = 1;
    o[4] = (unsigned char)(len >> 8);
    o[5] = (unsigned char)len;
    o[6] = 0;
    o[7] = 0;
    return 8;
}

static void *client_main(void *arg) {
    struct exchange *x = arg;
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    strncpy(sa.sun_path, sock_path, sizeof sa.sun_path - 1);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        if (fd >= 0) close(fd);
        return NULL;
    }
    unsigned char req[8192], pairs[4096];
    size_t at = 0, pl = 0;
    static const unsigned char begin[8] = {0, 1, 0, 0, 0, 0, 0, 0};
    at += put_header(req + at, 1, 8);
    memcpy(req + at, begin, 8);
    at += 8;
    for (int i = 0; x->params[i] != NULL; i += 2) {
        size_t nl = strlen(x->params[i]), vl = strlen(x->params[i + 1]);
        pairs[pl++] = (unsigned char)nl;
        pairs[pl++] = (unsigned char)vl;
        memcpy(pairs + pl, x->params[i], nl);
        pl += nl;
        memcpy(pairs + pl, x->params[i + 1], vl);
        pl += vl;
    }
    at += put_header(req + at, 4, pl);
    memcpy(req + at, pairs, pl);
    at += pl;
    at += put_header(req + at, 4, 0);
    at += put_header(req + at, 5, 0);
    if (write(fd, req, at) != (ssize_t)at) {
        close(fd);
        return NULL;
    }
    if (x->hang_up) {
        close(fd);
        x->ok = 1;
        return NULL;
    }
    for (;;) {
        if (x->raw_cap - x->raw_len < 65536) {
            x->raw_cap = x->raw_cap * 2 + 65536;
            x->raw = realloc(x->raw, x->raw_cap);
        }
        ssize_t n = read(fd, x->raw + x->raw_len, x->raw_cap - x->raw_len);
        if (n <= 0) break;
        x->raw_len += (size_t)n;
    }
    close(fd);
    /* reassemble STDOUT; the stream must be well-formed records */
    x->out = malloc(x->raw_len + 1);
    size_t pos = 0;
    while (pos + 8 <= x->raw_len) {
        const unsigned char *h = x->raw + pos;
        size_t len = ((size_t)h[4] << 8) | h[5], pad = h[6];
        if (h[0] != 1 || pos + 8 + len + pad > x->raw_len) return NULL;
        if (h[1] == 6) {
            memcpy(x->out + x->out_len, h + 8, len);
            x->out_len += len;
        } else if (h[1] == 3) {
            x->ended = 1;
        }
        pos += 8 + len + pad;
    }
    x->ok = pos == x->raw_len && x->ended;
    return NULL;
}

/* Starts a client sending the given params and accepts its request. */
static smisk_request *start(smisk_server *server, struct exchange *x) {
    smisk_request *req = NULL;
    if (pthread_create(&x->thread, NULL, client_main, x) != 0) return NULL;
    smisk_status st = smisk_server_accept(server, 5000, &req);
    CHECK(st == SMISK_OK && req != NULL);
    return st == SMISK_OK ? req : NULL;
}

/* Finishes the request and waits for the client to read everything. */
static void finish(smisk_request *req, struct exchange *x) {
    CHECK_OK(smisk_request_finish(req, 0));
    pthread_join(x->thread, NULL);
    CHECK(x->ok);
}

static void release(struct exchange *x) {
    free(x->raw);
    free(x->out);
}

/* STDOUT split at the blank line: *head (without the blank line) and body. */
static int split(const struct exchange *x, size_t *head_len, const unsigned char **body, size_t *body_len) {
    const unsigned char *end = x->out ? memmem(x->out, x->out_len, "\r\n\r\n", 4) : NULL;
    if (end == NULL) return 0;
    *head_len = (size_t)(end - x->out) + 2;
    *body = end + 4;
    *body_len = x->out_len - (size_t)(*body - x->out);
    return 1;
}

#define SET_PARAMS(x, ...)                                        \
    do {                                                          \
        const char *p_[] = {__VA_ARGS__, NULL};                   \
        memset(&(x), 0, sizeof(x));                               \
        memcpy((x).params, p_, sizeof p_);                        \
    } while (0)

/* ---- cookies ---------------------------------------------------------- */

struct pairs {
    int count;
    uint8_t key[4][32], value[4][64];
    size_t key_len[4], value_len[4];
};

static int32_t collect_pair(void *ctx, const uint8_t *key, size_t key_len, const uint8_t *value, size_t value_len,
                            bool has_value) {
    struct pairs *p = ctx;
    if (p->count >= 4 || key_len > 32 || value_len > 64 || !has_value) return 1;
    memcpy(p->key[p->count], key, key_len);
    memcpy(p->value[p->count], value, value_len);
    p->key_len[p->count] = key_len;
    p->value_len[p->count] = value_len;
    p->count++;
    return 0;
}

static void test_cookies(void) {
    smisk_cookie_options o;
    CHECK_STATUS(smisk_cookie_options_init(NULL), SMISK_ERR_NULL);
    memset(&o, 0x5a, sizeof o);
    CHECK_OK(smisk_cookie_options_init(&o));
    CHECK(o.path == NULL && o.path_len == 0 && o.domain == NULL && o.domain_len == 0);
    CHECK(o.max_age == -1 && !o.secure && !o.http_only && o.same_site == NULL && o.same_site_len == 0);
    CHECK(o.now == -1);

    CHECK_COOKIE("n", "v", NULL, "n=v");
    CHECK_COOKIE("n", "v", &o, "n=v");
    check_cookie("a", NULL, 0, NULL, "a=", __LINE__); /* NULL value of length 0 */
    /* every token character is a valid name */
    CHECK_COOKIE("Az09!#$%&'*+-.^_`|~", "x", NULL, "Az09!#$%&'*+-.^_`|~=x");

    /* every combination of the six attributes, in the documented order */
    for (int mask = 0; mask < 64; mask++) {
        char want[512] = "sid=abc";
        smisk_cookie_options c;
        smisk_cookie_options_init(&c);
        c.now = 1795338000; /* Sun, 22 Nov 2026 09:00:00 GMT */
        if (mask & 1) {
            c.path = (const uint8_t *)"/app";
            c.path_len = 4;
            strcat(want, "; Path=/app");
        }
        if (mask & 2) {
            c.domain = (const uint8_t *)"example.com";
            c.domain_len = 11;
            strcat(want, "; Domain=example.com");
        }
        if (mask & 4) {
            c.max_age = 60;
            strcat(want, "; Max-Age=60; Expires=Sun, 22 Nov 2026 09:01:00 GMT");
        }
        if (mask & 8) {
            c.secure = true;
            strcat(want, "; Secure");
        }
        if (mask & 16) {
            c.http_only = true;
            strcat(want, "; HttpOnly");
        }
        if (mask & 32) {
            c.same_site = (const uint8_t *)"lax";
            c.same_site_len = 3;
            strcat(want, "; SameSite=Lax");
        }
        check_cookie("sid", "abc", 3, &c, want, __LINE__);
    }

    smisk_cookie_options_init(&o);
    o.same_site = (const uint8_t *)"STRICT";
    o.same_site_len = 6;
    CHECK_COOKIE("n", "v", &o, "n=v; SameSite=Strict");
    o.same_site = (const uint8_t *)"nOnE";
    o.same_site_len = 4;
    CHECK_COOKIE("n", "v", &o, "n=v; SameSite=None");
    /* the length counts, not a NUL: "laxative" cut to "lax" */
    o.same_site = (const uint8_t *)"laxative";
    o.same_site_len = 3;
    CHECK_COOKIE("n", "v", &o, "n=v; SameSite=Lax");

    /* Max-Age 0: Expires at the epoch whatever "now" is; below 0: session */
    smisk_cookie_options_init(&o);
    o.max_age = 0;
    o.now = 1000000;
    CHECK_COOKIE("gone", "", &o, "gone=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT");
    o.max_age = -5;
    CHECK_COOKIE("n", "v", &o, "n=v");
    o.max_age = INT64_MAX;
    o.now = INT64_MAX;
    CHECK_COOKIE("n", "v", &o, "n=v; Max-Age=9223372036854775807; Expires=Fri, 31 Dec 9999 23:59:59 GMT");
    o.max_age = 86400;
    o.now = 951696000; /* 2000-02-28 */
    CHECK_COOKIE("n", "v", &o, "n=v; Max-Age=86400; Expires=Tue, 29 Feb 2000 00:00:00 GMT");
    /* now -1: Expires counts from the current time */
    o.now = -1;
    o.max_age = 3600;
    char *live = NULL;
    CHECK_OK(cookie("n", "v", 1, &o, &live));
    CHECK(live != NULL && strncmp(live, "n=v; Max-Age=3600; Expires=", 27) == 0);
    CHECK(live != NULL && strlen(live) == 27 + 29 && strcmp(live + strlen(live) - 4, " GMT") == 0);
    CHECK(live != NULL && strstr(live, "1970") == NULL);
    free(live);

    /* values: every byte outside cookie-octet, and '%', becomes %XX;
     * explicit length, so a NUL inside is data */
    static const char odd[] = "a b;c,d\"e\\f%g\x7f\0\xff+=!~";
    check_cookie("k", odd, sizeof odd - 1, NULL, "k=a%20b%3Bc%2Cd%22e%5Cf%25g%7F%00%FF+=!~", __LINE__);
    check_cookie("k", "\r\nSet-Cookie: x=1", 17, NULL, "k=%0D%0ASet-Cookie:%20x=1", __LINE__);
    /* path and domain are written as given (not percent-encoded) */
    smisk_cookie_options_init(&o);
    o.path = (const uint8_t *)"/a b/%2F";
    o.path_len = 8;
    o.domain = (const uint8_t *)".example.com";
    o.domain_len = 12;
    CHECK_COOKIE("a", "b", &o, "a=b; Path=/a b/%2F; Domain=.example.com");

    /* the value round-trips through smisk_parse_cookies, among others */
    char *line = NULL;
    CHECK_OK(cookie("k", odd, sizeof odd - 1, NULL, &line));
    if (line != NULL) {
        char header[256];
        int n = snprintf(header, sizeof header, "x=1; %s; y=2", line);
        struct pairs got;
        memset(&got, 0, sizeof got);
        CHECK_OK(smisk_parse_cookies((const uint8_t *)header, (size_t)n, 10, collect_pair, &got));
        CHECK(got.count == 3);
        CHECK(bytes_are(got.key[1], got.key_len[1], "k"));
        CHECK(mem_eq(got.value[1], got.value_len[1], odd, sizeof odd - 1));
        free(line);
    }

    /* errors: outputs untouched (checked in cookie()) */
    char *t = NULL;
    uint8_t *out = NULL;
    size_t out_len = 0;
    CHECK_STATUS(smisk_cookie_format(NULL, 3, (const uint8_t *)"v", 1, NULL, &out, &out_len), SMISK_ERR_NULL);
    CHECK_STATUS(smisk_cookie_format((const uint8_t *)"n", 1, NULL, 1, NULL, &out, &out_len), SMISK_ERR_NULL);
    CHECK_STATUS(smisk_cookie_format((const uint8_t *)"n", 1, (const uint8_t *)"v", 1, NULL, NULL, &out_len),
                 SMISK_ERR_NULL);
    CHECK_STATUS(smisk_cookie_format((const uint8_t *)"n", 1, (const uint8_t *)"v", 1, NULL, &out, NULL),
                 SMISK_ERR_NULL);
    CHECK_STATUS(smisk_cookie_format((const uint8_t *)"name", 0, (const uint8_t *)"v", 1, NULL, &out, &out_len),
                 SMISK_ERR_INVALID); /* empty name */
    CHECK(strstr(smisk_last_error(), "empty") != NULL);
    CHECK_STATUS(cookie("a b", "v", 1, NULL, &t), SMISK_ERR_INVALID);
    CHECK(strstr(smisk_last_error(), "token") != NULL);
    CHECK_STATUS(cookie("a=b", "v", 1, NULL, &t), SMISK_ERR_INVALID);
    CHECK_STATUS(cookie("a;b", "v", 1, NULL, &t), SMISK_ERR_INVALID);
    CHECK_STATUS(cookie("\xc3\xa5", "v", 1, NULL, &t), SMISK_ERR_INVALID);
    CHECK_STATUS(cookie("(x)", "v", 1, NULL, &t), SMISK_ERR_INVALID);

    smisk_cookie_options_init(&o);
    o.path = (const uint8_t *)"";
    o.path_len = 0; /* non-NULL but empty */
    CHECK_STATUS(cookie("n", "v", 1, &o, &t), SMISK_ERR_INVALID);
    CHECK(strstr(smisk_last_error(), "path") != NULL);
    o.path = NULL;
    o.path_len = 3; /* NULL with a length */
    CHECK_STATUS(cookie("n", "v", 1, &o, &t), SMISK_ERR_NULL);
    o.path = (const uint8_t *)"/a;b";
    o.path_len = 4;
    CHECK_STATUS(cookie("n", "v", 1, &o, &t), SMISK_ERR_INVALID);
    o.path = (const uint8_t *)"/a\r\nSet-Cookie: x=y";
    o.path_len = 19;
    CHECK_STATUS(cookie("n", "v", 1, &o, &t), SMISK_ERR_INVALID);
    smisk_cookie_options_init(&o);
    o.domain = (const uint8_t *)"ex\xc3\xa5mple.com";
    o.domain_len = 13;
    CHECK_STATUS(cookie("n", "v", 1, &o, &t), SMISK_ERR_INVALID);
    CHECK(strstr(smisk_last_error(), "domain") != NULL);
    o.domain = NULL;
    o.domain_len = 1;
    CHECK_STATUS(cookie("n", "v", 1, &o, &t), SMISK_ERR_NULL);
    smisk_cookie_options_init(&o);
    o.same_site = (const uint8_t *)"laxx";
    o.same_site_len = 4;
    CHECK_STATUS(cookie("n", "v", 1, &o, &t), SMISK_ERR_INVALID);
    CHECK(strstr(smisk_last_error(), "SameSite") != NULL);
    o.same_site = (const uint8_t *)"lax";
    o.same_site_len = 2; /* "la" */
    CHECK_STATUS(cookie("n", "v", 1, &o, &t), SMISK_ERR_INVALID);
    o.same_site_len = 0; /* non-NULL, empty: not a SameSite value */
    CHECK_STATUS(cookie("n", "v", 1, &o, &t), SMISK_ERR_INVALID);
    o.same_site = NULL;
    o.same_site_len = 3;
    CHECK_STATUS(cookie("n", "v", 1, &o, &t), SMISK_ERR_NULL);
    smisk_cookie_options_init(&o);
    o.now = -2;
    CHECK_STATUS(cookie("n", "v", 1, &o, &t), SMISK_ERR_INVALID);
    CHECK(strstr(smisk_last_error(), "now") != NULL);
    CHECK(t == NULL);
}

/* ---- sendfile header (no request) -------------------------------------- */

static void test_sendfile_header(void) {
    CHECK_SENDFILE("lighttpd/1.4.69", "/srv/f.bin", "X-LIGHTTPD-send-file: /srv/f.bin");
    CHECK_SENDFILE("lighttpd/1.5.0", "/srv/f.bin", "X-Sendfile: /srv/f.bin");
    CHECK_SENDFILE("lighttpd/2.0.0", "/srv/f.bin", "X-Sendfile: /srv/f.bin");
    CHECK_SENDFILE("Apache/2.4.71 (Debian)", "/srv/f.bin", "X-Sendfile: /srv/f.bin");
    CHECK_SENDFILE("Apache", "/srv/f.bin", "X-Sendfile: /srv/f.bin"); /* ServerTokens Prod */
    CHECK_SENDFILE("nginx/1.22.1", "/protected/f.bin", "X-Accel-Redirect: /protected/f.bin");
    /* bytes other than CR, LF, NUL pass through; dots that are no ".." segment too */
    CHECK_SENDFILE("nginx/1", "/a b/\xff\t/..x/.y", "X-Accel-Redirect: /a b/\xff\t/..x/.y");

    char *t = NULL;
    /* the length counts: "/srv/fileXYZ" cut to "/srv/file" */
    CHECK_OK(sendfile_line("nginx/1", "/srv/fileXYZ", 9, &t));
    CHECK(t != NULL && strcmp(t, "X-Accel-Redirect: /srv/file") == 0);
    free(t);
    /* server_software is bounded by its length too: "nginx/1.22" cut to "nginx" */
    uint8_t *out = NULL;
    size_t len = 0;
    CHECK_STATUS(smisk_sendfile_header((const uint8_t *)"nginx/1.22", 5, (const uint8_t *)"/f", 2, &out, &len),
                 SMISK_ERR_UNSUPPORTED);

    CHECK_STATUS(sendfile_line("Caddy/2.7", "/f", 2, &t), SMISK_ERR_UNSUPPORTED);
    CHECK(strstr(smisk_last_error(), "not supported") != NULL && strstr(smisk_last_error(), "Caddy/2.7") != NULL);
    CHECK_STATUS(sendfile_line(NULL, "/f", 2, &t), SMISK_ERR_UNSUPPORTED);
    CHECK(strstr(smisk_last_error(), "unknown server software") != NULL);
    CHECK_STATUS(sendfile_line("Apache/1.3.42", "/f", 2, &t), SMISK_ERR_UNSUPPORTED);
    CHECK_STATUS(sendfile_line("NGINX/1.0", "/f", 2, &t), SMISK_ERR_UNSUPPORTED); /* case matters */
    CHECK_STATUS(sendfile_line("lighttpd", "/f", 2, &t), SMISK_ERR_UNSUPPORTED);

    /* bad paths are refused first, whatever the server */
    const char *bad[] = {"rel/f", "./f", "/a/../etc/passwd", "/..", "/a/..", "/a\r\nX-Injected: 1", "/a\n"};
    const char *servers[] = {"nginx/1", "lighttpd/1.4.69", "Apache/2.4", "Caddy/2"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        for (size_t j = 0; j < sizeof servers / sizeof *servers; j++)
            CHECK_STATUS(sendfile_line(servers[j], bad[i], strlen(bad[i]), &t), SMISK_ERR_INVALID);
    CHECK_STATUS(sendfile_line("nginx/1", "rel", 3, &t), SMISK_ERR_INVALID);
    CHECK(strstr(smisk_last_error(), "relative") != NULL);
    CHECK_STATUS(sendfile_line("nginx/1", "/a/../b", 7, &t), SMISK_ERR_INVALID);
    CHECK(strstr(smisk_last_error(), "..") != NULL);
    CHECK_STATUS(sendfile_line("nginx/1", "/a\0b", 4, &t), SMISK_ERR_INVALID); /* NUL inside the length */
    CHECK_STATUS(sendfile_line("nginx/1", "/f", 0, &t), SMISK_ERR_INVALID);   /* empty */
    CHECK(strstr(smisk_last_error(), "empty") != NULL);

    CHECK_STATUS(smisk_sendfile_header(NULL, 3, (const uint8_t *)"/f", 2, &out, &len), SMISK_ERR_NULL);
    CHECK_STATUS(smisk_sendfile_header((const uint8_t *)"nginx/1", 7, NULL, 2, &out, &len), SMISK_ERR_NULL);
    CHECK_STATUS(smisk_sendfile_header((const uint8_t *)"nginx/1", 7, (const uint8_t *)"/f", 2, NULL, &len),
                 SMISK_ERR_NULL);
    CHECK_STATUS(smisk_sendfile_header((const uint8_t *)"nginx/1", 7, (const uint8_t *)"/f", 2, &out, NULL),
                 SMISK_ERR_NULL);
    CHECK(t == NULL);
}

/* ---- request URL -------------------------------------------------------- */

static smisk_server *server;

/* The URL of a request with these params, as smisk_url_to_s text. */
static void check_url(struct exchange *x, const char *want, uint32_t want_port, int line) {
    smisk_request *req = start(server, x);
    if (req == NULL) return;
    smisk_url *url = NULL;
    uint8_t *text = NULL;
    size_t len = 0;
    uint32_t port = 99999;
    CHECK_OK(smisk_request_url(req, &url));
    CHECK_OK(smisk_url_to_s(url, NULL, &text, &len));
    CHECK_OK(smisk_url_get_port(url, &port));
    int ok = bytes_are(text, len, want) && port == want_port;
    if (!ok) fprintf(stderr, "line %d: url \"%.*s\" port %u, want \"%s\" port %u\n", line, (int)len, text, port, want,
                     want_port);
    CHECK(ok);
    smisk_bytes_free(text, len);
    smisk_url_free(url);
    finish(req, x);
    release(x);
}
#define CHECK_URL(x, want, port) check_url(&(x), (want), (port), __LINE__)

static void test_request_url(void) {
    struct exchange x;
    SET_PARAMS(x, "SERVER_NAME", "secure.example.com:8443", "SERVER_PORT", "443", "HTTPS", "on", "REMOTE_USER",
               "bob", "SCRIPT_NAME", "/app", "PATH_INFO", "/x/y", "QUERY_STRING", "url&x=1");
    CHECK_URL(x, "https://bob@secure.example.com:8443/app/x/y?url&x=1", 8443);
    SET_PARAMS(x, "HTTPS", "1", "SERVER_NAME", "h", "SERVER_PORT", "443", "PATH_INFO", "/p");
    CHECK_URL(x, "https://h:443/p", 443);
    SET_PARAMS(x, "HTTPS", "onion", "SERVER_NAME", "h", "SERVER_PORT", "80", "SCRIPT_NAME", "/s");
    CHECK_URL(x, "http://h/s", 80); /* port 80 is left out of the text */
    SET_PARAMS(x, "HTTPS", "OFF", "SERVER_NAME", "[::1]:8080", "SERVER_PORT", "1", "SCRIPT_NAME", "/a");
    CHECK_URL(x, "http://[::1]:8080/a", 8080);
    SET_PARAMS(x, "SERVER_NAME", "::1", "SERVER_PORT", "9", "SCRIPT_NAME", "/v6");
    CHECK_URL(x, "http://[::1]:9/v6", 9);
    SET_PARAMS(x, "SERVER_NAME", "h:x", "SERVER_PORT", "7", "SCRIPT_NAME", "/badport");
    CHECK_URL(x, "http://h:7/badport", 7);
    SET_PARAMS(x, "SERVER_NAME", "h", "SERVER_PORT", "65536", "SCRIPT_NAME", "/big");
    CHECK_URL(x, "http://h/big", 0);
    /* HTTP_HOST is the client's word and never used */
    SET_PARAMS(x, "HTTP_HOST", "evil.example:1", "SERVER_NAME", "real.example", "SERVER_PORT", "8000",
               "SCRIPT_NAME", "/h");
    CHECK_URL(x, "http://real.example:8000/h", 8000);
    SET_PARAMS(x, "HTTP_HOST", "evil.example:1", "SCRIPT_NAME", "/nohost");
    CHECK_URL(x, "http:///nohost", 0);
    /* REQUEST_URI up to '?' when SCRIPT_NAME and PATH_INFO are both empty */
    SET_PARAMS(x, "SERVER_NAME", "h", "SCRIPT_NAME", "", "PATH_INFO", "", "REQUEST_URI", "/r/s?x=1",
               "QUERY_STRING", "q=1");
    CHECK_URL(x, "http://h/r/s?q=1", 0);
    /* an empty query and an empty REMOTE_USER leave no trace */
    SET_PARAMS(x, "SERVER_NAME", "h", "SERVER_PORT", "81", "SCRIPT_NAME", "/x", "QUERY_STRING", "", "REMOTE_USER",
               "");
    CHECK_URL(x, "http://h:81/x", 81);

    /* present-but-empty query vs. absent query, through smisk_url_get */
    SET_PARAMS(x, "SERVER_NAME", "h", "SCRIPT_NAME", "/x", "QUERY_STRING", "");
    smisk_request *req = start(server, &x);
    if (req != NULL) {
        smisk_url *url = NULL;
        const uint8_t *p = NULL;
        size_t n = 1;
        bool present = false;
        CHECK_OK(smisk_request_url(req, &url));
        CHECK_OK(smisk_url_get(url, SMISK_URL_QUERY, &p, &n, &present));
        CHECK(present && n == 0);
        CHECK_OK(smisk_url_get(url, SMISK_URL_FRAGMENT, &p, &n, &present));
        CHECK(!present);
        CHECK_OK(smisk_url_get(url, SMISK_URL_SCHEME, &p, &n, &present));
        CHECK(present && bytes_are(p, n, "http"));
        smisk_url_free(url);
        CHECK_STATUS(smisk_request_url(req, NULL), SMISK_ERR_NULL);
        finish(req, &x);
        url = (smisk_url *)&x; /* must stay untouched */
        CHECK_STATUS(smisk_request_url(req, &url), SMISK_ERR_STATE);
        CHECK(url == (smisk_url *)&x);
        release(&x);
    }
    smisk_url *u = NULL;
    CHECK_STATUS(smisk_request_url(NULL, &u), SMISK_ERR_NULL);
    CHECK(u == NULL);
}

/* ---- error page ---------------------------------------------------------- */

static const char PAGE_HEAD[] = "<!DOCTYPE html>\n<html><head>";
static const char PAGE_TAIL[] = "</body></html>\r\n";

static void test_error_page(void) {
    struct exchange x;
    size_t head_len = 0, body_len = 0;
    const unsigned char *body = NULL;

    /* not begun: the headers added so far are dropped; exact header block */
    SET_PARAMS(x, "SERVER_SOFTWARE", "<b>srv</b>", "SERVER_NAME", "h\"&'", "SERVER_PORT", "8080");
    smisk_request *req = start(server, &x);
    if (req != NULL) {
        static const char msg[] = "ValueError: bad <script>alert(1)</script>";
        static const char detail[] = "Traceback:\n  File \"<x>\" & more";
        CHECK_OK(smisk_response_add_header(req, "X-Dropped: 1", 12));
        CHECK_OK(smisk_response_error_page(req, 500, (const uint8_t *)msg, sizeof msg - 1, (const uint8_t *)detail,
                                           sizeof detail - 1));
        CHECK(smisk_response_has_begun(req));
        finish(req, &x);
        CHECK(split(&x, &head_len, &body, &body_len));
        char want_head[256];
        snprintf(want_head, sizeof want_head,
                 "Status: 500 Internal Server Error\r\nContent-Type: text/html; charset=utf-8\r\n"
                 "Content-Length: %zu\r\nCache-Control: no-cache\r\n",
                 body_len);
        CHECK(bytes_are(x.out, head_len, want_head));
        CHECK(body_len > sizeof PAGE_HEAD && memcmp(body, PAGE_HEAD, sizeof PAGE_HEAD - 1) == 0);
        CHECK(body_len > sizeof PAGE_TAIL &&
              memcmp(body + body_len - (sizeof PAGE_TAIL - 1), PAGE_TAIL, sizeof PAGE_TAIL - 1) == 0);
        CHECK(contains(body, body_len,
                       "<body>\n<h1>Service Error</h1>\n"
                       "<p class=\"message\">ValueError: bad &lt;script&gt;alert(1)&lt;/script&gt;</p>\n"
                       "<pre class=\"traceback\">Traceback:\n  File &quot;&lt;x&gt;&quot; &amp; more</pre>\n"
                       "<hr/><address>&lt;b&gt;srv&lt;/b&gt; at h&quot;&amp;&#39; port 8080</address>\n"
                       "</body></html>\r\n"));
        CHECK(!contains(body, body_len, "<script>") && !contains(body, body_len, "<b>"));
        CHECK(!contains(x.out, x.out_len, "X-Dropped"));
        release(&x);
    }

    /* no params, no detail: "?" for the origin and the fixed sentence;
     * reason phrases for other codes */
    struct {
        uint32_t code;
        const char *status;
        const uint8_t *detail;
        size_t detail_len;
    } cases[] = {
        {413, "Status: 413 Content Too Large\r\n", NULL, 0},
        {404, "Status: 404 Not Found\r\n", (const uint8_t *)"ignored", 0}, /* length 0: no detail */
        {499, "Status: 499 Client Error\r\n", NULL, 5},                    /* NULL: no detail */
        {599, "Status: 599 Server Error\r\n", NULL, 0},
        {400, "Status: 400 Bad Request\r\n", NULL, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        SET_PARAMS(x, "SCRIPT_NAME", "/e");
        req = start(server, &x);
        if (req == NULL) continue;
        CHECK_OK(smisk_response_error_page(req, cases[i].code, (const uint8_t *)"m", 1, cases[i].detail,
                                           cases[i].detail_len));
        finish(req, &x);
        CHECK(split(&x, &head_len, &body, &body_len));
        CHECK(head_len > strlen(cases[i].status) && memcmp(x.out, cases[i].status, strlen(cases[i].status)) == 0);
        CHECK(contains(body, body_len,
                       "<p class=\"message\">m</p>\n"
                       "<pre class=\"traceback\">Additional information has been logged.</pre>\n"
                       "<hr/><address>? at ? port ?</address>\n"));
        char cl[64];
        snprintf(cl, sizeof cl, "\r\nContent-Length: %zu\r\n", body_len);
        CHECK(contains(x.out, head_len, cl));
        release(&x);
    }

    /* begun: only the fragment is appended, no second header block */
    SET_PARAMS(x, "SERVER_SOFTWARE", "nginx/1.22.1", "SERVER_NAME", "[::1]:81");
    req = start(server, &x);
    if (req != NULL) {
        CHECK_OK(smisk_response_add_header(req, "Content-Type: text/plain", 24));
        CHECK_OK(smisk_response_write(req, "partial ", 8));
        CHECK_OK(smisk_response_error_page(req, 503, (const uint8_t *)"late & <bad>", 12, NULL, 0));
        finish(req, &x);
        static const char want[] = "Content-Type: text/plain\r\n\r\npartial <h1>Service Error</h1>\n"
                                   "<p class=\"message\">late &amp; &lt;bad&gt;</p>\n"
                                   "<pre class=\"traceback\">Additional information has been logged.</pre>\n"
                                   "<hr/><address>nginx/1.22.1 at ::1 port 81</address>\n";
        CHECK(mem_eq(x.out, x.out_len, want, sizeof want - 1));
        release(&x);
    }

    /* errors: bad status codes write nothing; NULL; after finish */
    SET_PARAMS(x, "SCRIPT_NAME", "/e");
    req = start(server, &x);
    if (req != NULL) {
        uint32_t bad_codes[] = {0, 200, 399, 600, 1000};
        for (size_t i = 0; i < sizeof bad_codes / sizeof *bad_codes; i++)
            CHECK_STATUS(smisk_response_error_page(req, bad_codes[i], (const uint8_t *)"m", 1, NULL, 0),
                         SMISK_ERR_INVALID);
        CHECK(strstr(smisk_last_error(), "1000") != NULL);
        CHECK_STATUS(smisk_response_error_page(req, 500, NULL, 3, NULL, 0), SMISK_ERR_NULL);
        CHECK(!smisk_response_has_begun(req));
        CHECK_OK(smisk_response_error_page(req, 500, NULL, 0, NULL, 0)); /* empty message */
        finish(req, &x);
        CHECK(split(&x, &head_len, &body, &body_len));
        CHECK(contains(body, body_len, "<p class=\"message\"></p>"));
        CHECK_STATUS(smisk_response_error_page(req, 500, (const uint8_t *)"m", 1, NULL, 0), SMISK_ERR_STATE);
        release(&x);
    }
    CHECK_STATUS(smisk_response_error_page(NULL, 500, (const uint8_t *)"m", 1, NULL, 0), SMISK_ERR_NULL);
}

/* ---- files ---------------------------------------------------------------- */

static char dir[64], file_path[128], fifo_path[128], big_path[128];
static unsigned char *file_data;
static size_t file_size = 300000; /* > 4 chunks of 64 KiB, not a multiple of it */

static void make_files(void) {
    file_data = malloc(file_size);
    uint32_t s = 12345;
    for (size_t i = 0; i < file_size; i++) {
        s = s * 1103515245u + 12345u;
        file_data[i] = (i % 7 == 0) ? 0 : (unsigned char)(s >> 16); /* plenty of NULs */
    }
    snprintf(file_path, sizeof file_path, "%s/data.bin", dir);
    FILE *f = fopen(file_path, "wb");
    CHECK(f != NULL && fwrite(file_data, 1, file_size, f) == file_size);
    if (f) fclose(f);
    snprintf(fifo_path, sizeof fifo_path, "%s/fifo", dir);
    CHECK(mkfifo(fifo_path, 0600) == 0);
    /* big enough that the writes must fail once the peer is gone */
    snprintf(big_path, sizeof big_path, "%s/big.bin", dir);
    f = fopen(big_path, "wb");
    CHECK(f != NULL);
    for (int i = 0; f != NULL && i < 64; i++) CHECK(fwrite(file_data, 1, 65536, f) == 65536);
    if (f) fclose(f);
}

static void test_write_file(void) {
    struct exchange x;
    size_t head_len = 0, body_len = 0;
    const unsigned char *body = NULL;
    uint64_t written = 0;

    SET_PARAMS(x, "SCRIPT_NAME", "/wf");
    smisk_request *req = start(server, &x);
    if (req != NULL) {
        char missing[160];
        snprintf(missing, sizeof missing, "%s/missing.bin", dir);
        written = 42;
        CHECK_STATUS(smisk_response_write_file(req, missing, strlen(missing), &written), SMISK_ERR_IO);
        CHECK(strstr(smisk_last_error(), missing) != NULL);
        CHECK_STATUS(smisk_response_write_file(req, dir, strlen(dir), &written), SMISK_ERR_IO);
        CHECK(strstr(smisk_last_error(), "not a regular file") != NULL);
        CHECK_STATUS(smisk_response_write_file(req, fifo_path, strlen(fifo_path), &written), SMISK_ERR_IO);
        CHECK_STATUS(smisk_response_write_file(req, NULL, 5, &written), SMISK_ERR_NULL);
        CHECK_STATUS(smisk_response_write_file(req, "/tmp\0x", 6, &written), SMISK_ERR_INVALID);
        CHECK_STATUS(smisk_response_write_file(req, file_path, 0, &written), SMISK_ERR_INVALID);
        CHECK(written == 42 && !smisk_response_has_begun(req)); /* nothing sent, nothing written */
        CHECK_OK(smisk_response_add_header(req, "Content-Type: application/octet-stream", 38));
        /* the length counts: the path followed by junk */
        char padded[160];
        snprintf(padded, sizeof padded, "%sJUNK", file_path);
        CHECK_OK(smisk_response_write_file(req, padded, strlen(file_path), &written));
        CHECK(written == file_size);
        CHECK(smisk_response_has_begun(req));
        /* appends after output began; out_written may be NULL */
        CHECK_OK(smisk_response_write(req, "|", 1));
        CHECK_OK(smisk_response_write_file(req, file_path, strlen(file_path), NULL));
        finish(req, &x);
        CHECK(split(&x, &head_len, &body, &body_len));
        CHECK(bytes_are(x.out, head_len, "Content-Type: application/octet-stream\r\n"));
        CHECK(body_len == 2 * file_size + 1 && memcmp(body, file_data, file_size) == 0 && body[file_size] == '|' &&
              memcmp(body + file_size + 1, file_data, file_size) == 0);
        CHECK_STATUS(smisk_response_write_file(req, file_path, strlen(file_path), &written), SMISK_ERR_STATE);
        release(&x);
    }
    CHECK_STATUS(smisk_response_write_file(NULL, file_path, strlen(file_path), &written), SMISK_ERR_NULL);

    /* the web server goes away mid-file: SMISK_ERR_ABORTED, not a hang */
    SET_PARAMS(x, "SCRIPT_NAME", "/gone");
    x.hang_up = 1;
    req = start(server, &x);
    if (req != NULL) {
        pthread_join(x.thread, NULL);
        CHECK(x.ok);
        CHECK_STATUS(smisk_response_write_file(req, big_path, strlen(big_path), &written), SMISK_ERR_ABORTED);
        CHECK(smisk_request_is_aborted(req));
        smisk_request_finish(req, 0);
        release(&x);
    }
}

/* Runs send_file for a request with these params; returns its status. */
static smisk_status send_file_with(struct exchange *x, const char *path, int *begun) {
    smisk_request *req = start(server, x);
    if (req == NULL) return SMISK_ERR_PANIC;
    smisk_status st = smisk_response_send_file(req, path, strlen(path));
    *begun = smisk_response_has_begun(req);
    if (st == SMISK_OK && !*begun) CHECK_OK(smisk_response_add_header(req, "X-After: 1", 10));
    finish(req, x);
    return st;
}

static void test_send_file(void) {
    struct exchange x;
    int begun = 0;
    char want[256];
    size_t head_len = 0, body_len = 0;
    const unsigned char *body = NULL;

    /* known servers: only a header, nothing streamed, more headers allowed */
    struct {
        const char *software;
        const char *header;
    } known[] = {
        {"nginx/1.22.1", "X-Accel-Redirect"},
        {"lighttpd/1.4.69", "X-LIGHTTPD-send-file"},
        {"lighttpd/1.5.0", "X-Sendfile"},
        {"Apache/2.4.71 (Debian)", "X-Sendfile"},
    };
    for (size_t i = 0; i < sizeof known / sizeof *known; i++) {
        SET_PARAMS(x, "SERVER_SOFTWARE", known[i].software);
        CHECK_OK(send_file_with(&x, file_path, &begun));
        CHECK(!begun);
        snprintf(want, sizeof want, "%s: %s\r\nX-After: 1\r\n\r\n", known[i].header, file_path);
        CHECK(bytes_are(x.out, x.out_len, want));
        release(&x);
    }

    /* unknown server (or none): smisk streams, with Content-Length */
    const char *unknown[] = {"Caddy/2.7", "Apache/1.3.42", ""};
    for (size_t i = 0; i < sizeof unknown / sizeof *unknown; i++) {
        if (unknown[i][0])
            SET_PARAMS(x, "SERVER_SOFTWARE", unknown[i]);
        else
            SET_PARAMS(x, "SCRIPT_NAME", "/none");
        CHECK_OK(send_file_with(&x, file_path, &begun));
        CHECK(begun);
        CHECK(split(&x, &head_len, &body, &body_len));
        snprintf(want, sizeof want, "Content-Length: %zu\r\n", file_size);
        CHECK(bytes_are(x.out, head_len, want));
        CHECK(mem_eq(body, body_len, file_data, file_size));
        release(&x);
    }

    /* the SMISK_SENDFILE param overrides SERVER_SOFTWARE */
    SET_PARAMS(x, "SERVER_SOFTWARE", "Apache/2.4.71 (Debian)", "SMISK_SENDFILE", "stream");
    CHECK_OK(send_file_with(&x, file_path, &begun));
    CHECK(begun && split(&x, &head_len, &body, &body_len) && mem_eq(body, body_len, file_data, file_size));
    release(&x);
    SET_PARAMS(x, "SERVER_SOFTWARE", "Caddy/2.7", "SMISK_SENDFILE", "x-accel-redirect");
    CHECK_OK(send_file_with(&x, "/protected/f", &begun));
    CHECK(!begun && bytes_are(x.out, x.out_len, "X-Accel-Redirect: /protected/f\r\nX-After: 1\r\n\r\n"));
    release(&x);
    SET_PARAMS(x, "SERVER_SOFTWARE", "nginx/1.22.1", "SMISK_SENDFILE", "");
    CHECK_OK(send_file_with(&x, "/protected/f", &begun));
    CHECK(bytes_are(x.out, x.out_len, "X-Accel-Redirect: /protected/f\r\nX-After: 1\r\n\r\n"));
    release(&x);
    SET_PARAMS(x, "SERVER_SOFTWARE", "nginx/1.22.1", "SMISK_SENDFILE", "sometimes");
    CHECK_STATUS(send_file_with(&x, file_path, &begun), SMISK_ERR_INVALID);
    CHECK(strstr(smisk_last_error(), "SMISK_SENDFILE") != NULL && !begun);
    release(&x);

    /* smisk_request_sendfile_header: the same choice, as a line */
    SET_PARAMS(x, "SERVER_SOFTWARE", "Caddy/2.7", "SMISK_SENDFILE", "X-Sendfile");
    smisk_request *req = start(server, &x);
    if (req != NULL) {
        uint8_t *out = (uint8_t *)"unchanged";
        size_t len = 5;
        CHECK_OK(smisk_request_sendfile_header(req, "/srv/fXX", 6, &out, &len));
        CHECK(bytes_are(out, len, "X-Sendfile: /srv/f"));
        smisk_bytes_free(out, len);
        out = (uint8_t *)"unchanged";
        len = 5;
        CHECK_STATUS(smisk_request_sendfile_header(req, "srv/f", 5, &out, &len), SMISK_ERR_INVALID);
        CHECK_STATUS(smisk_request_sendfile_header(req, NULL, 5, &out, &len), SMISK_ERR_NULL);
        CHECK_STATUS(smisk_request_sendfile_header(req, "/f", 2, NULL, &len), SMISK_ERR_NULL);
        CHECK_STATUS(smisk_request_sendfile_header(req, "/f", 2, &out, NULL), SMISK_ERR_NULL);
        CHECK(len == 5 && memcmp(out, "unchanged", 9) == 0);
        CHECK(!smisk_response_has_begun(req));
        finish(req, &x);
        CHECK_STATUS(smisk_request_sendfile_header(req, "/f", 2, &out, &len), SMISK_ERR_STATE);
        release(&x);
    }
    SET_PARAMS(x, "SERVER_SOFTWARE", "nginx/1.22.1", "SMISK_SENDFILE", "STREAM");
    req = start(server, &x);
    if (req != NULL) {
        uint8_t *out = NULL;
        size_t len = 0;
        CHECK_STATUS(smisk_request_sendfile_header(req, "/f", 2, &out, &len), SMISK_ERR_UNSUPPORTED);
        CHECK(strstr(smisk_last_error(), "stream") != NULL);
        finish(req, &x);
        release(&x);
    }
    uint8_t *o = NULL;
    size_t ol = 0;
    CHECK_STATUS(smisk_request_sendfile_header(NULL, "/f", 2, &o, &ol), SMISK_ERR_NULL);

    /* refused paths, whatever the server; nothing is added or sent */
    const char *servers[] = {"nginx/1.22.1", "Caddy/2.7"};
    for (size_t i = 0; i < 2; i++) {
        SET_PARAMS(x, "SERVER_SOFTWARE", servers[i]);
        req = start(server, &x);
        if (req == NULL) continue;
        const char *bad[] = {"data.bin", "./data.bin", "/tmp/../etc/passwd", "/a\r\nX-Injected: 1"};
        for (size_t j = 0; j < sizeof bad / sizeof *bad; j++)
            CHECK_STATUS(smisk_response_send_file(req, bad[j], strlen(bad[j])), SMISK_ERR_INVALID);
        CHECK_STATUS(smisk_response_send_file(req, "/a\0b", 4), SMISK_ERR_INVALID);
        CHECK_STATUS(smisk_response_send_file(req, "", 0), SMISK_ERR_INVALID);
        CHECK_STATUS(smisk_response_send_file(req, NULL, 4), SMISK_ERR_NULL);
        CHECK(!smisk_response_has_begun(req));
        finish(req, &x);
        CHECK(bytes_are(x.out, x.out_len, "\r\n")); /* an empty header block only */
        release(&x);
    }

    /* a missing file while streaming: SMISK_ERR_IO before anything is sent,
     * so the application can still answer 404 */
    SET_PARAMS(x, "SERVER_SOFTWARE", "Caddy/2.7");
    req = start(server, &x);
    if (req != NULL) {
        char missing[160];
        snprintf(missing, sizeof missing, "%s/missing.bin", dir);
        CHECK_STATUS(smisk_response_send_file(req, missing, strlen(missing)), SMISK_ERR_IO);
        CHECK(strstr(smisk_last_error(), missing) != NULL);
        CHECK(!smisk_response_has_begun(req));
        CHECK_OK(smisk_response_error_page(req, 404, (const uint8_t *)"no such file", 12, NULL, 0));
        finish(req, &x);
        CHECK(x.out_len > 24 && memcmp(x.out, "Status: 404 Not Found\r\n", 23) == 0);
        CHECK(!contains(x.out, x.out_len, "Content-Length: 300000"));
        release(&x);
    }

    /* wrong state: after output began, after finish; NULL request */
    SET_PARAMS(x, "SERVER_SOFTWARE", "nginx/1.22.1");
    req = start(server, &x);
    if (req != NULL) {
        CHECK_OK(smisk_response_write(req, "x", 1));
        CHECK_STATUS(smisk_response_send_file(req, file_path, strlen(file_path)), SMISK_ERR_STATE);
        CHECK(strstr(smisk_last_error(), "begun") != NULL);
        finish(req, &x);
        CHECK(bytes_are(x.out, x.out_len, "\r\nx"));
        CHECK_STATUS(smisk_response_send_file(req, file_path, strlen(file_path)), SMISK_ERR_STATE);
        release(&x);
    }
    SET_PARAMS(x, "SERVER_SOFTWARE", "Caddy/2.7");
    req = start(server, &x);
    if (req != NULL) {
        CHECK_OK(smisk_response_begin(req));
        CHECK_STATUS(smisk_response_send_file(req, file_path, strlen(file_path)), SMISK_ERR_STATE);
        finish(req, &x);
        CHECK(bytes_are(x.out, x.out_len, "\r\n"));
        release(&x);
    }
    CHECK_STATUS(smisk_response_send_file(NULL, file_path, strlen(file_path)), SMISK_ERR_NULL);
}


/* ---- the header list, the scheme, the gateway checks ------------------- */

static void test_header_list(void) {
    struct exchange x;
    const uint8_t *line = NULL;
    size_t len = 0;
    smisk_slice lines[3] = {{(const uint8_t *)"B: 2", 4}, {(const uint8_t *)"Bad\nLine: x", 11},
                            {(const uint8_t *)"C: 3", 4}};

    SET_PARAMS(x, "SERVER_SOFTWARE", "test");
    smisk_request *req = start(server, &x);
    if (req == NULL) return;
    CHECK(smisk_response_header_count(req) == 0 && smisk_response_headers_size(req) == 0);
    CHECK_OK(smisk_response_push_header(req, "A: 1", 4));
    CHECK_OK(smisk_response_set_headers(req, lines, 3)); /* stored as given */
    CHECK(smisk_response_header_count(req) == 3);
    CHECK(smisk_response_headers_size(req) == 6 + 13 + 6);
    CHECK_OK(smisk_response_header_at(req, 1, &line, &len));
    CHECK(bytes_are(line, len, "Bad\nLine: x"));
    CHECK_STATUS(smisk_response_header_at(req, 3, &line, &len), SMISK_ERR_NOT_FOUND);
    /* validated when sent: nothing goes out, the list stays */
    CHECK_STATUS(smisk_response_begin(req), SMISK_ERR_INVALID);
    CHECK(!smisk_response_has_begun(req) && smisk_response_header_count(req) == 3);
    lines[1].ptr = (const uint8_t *)"Status: 204 No Content";
    lines[1].len = 22;
    CHECK_OK(smisk_response_set_headers(req, lines, 3));
    CHECK_OK(smisk_response_push_header(req, "Content-Length: 0", 17)); /* dropped for a 204 */
    CHECK_STATUS(smisk_response_set_headers(req, NULL, 1), SMISK_ERR_NULL);
    CHECK_OK(smisk_response_begin(req));
    CHECK_OK(smisk_response_push_header(req, "X-Late: 1", 9)); /* kept, not sent */
    CHECK(smisk_response_header_count(req) == 5);
    finish(req, &x);
    CHECK(bytes_are(x.out, x.out_len, "B: 2\r\nStatus: 204 No Content\r\nC: 3\r\n\r\n"));
    release(&x);
    CHECK(smisk_response_header_count(NULL) == 0);
    CHECK_STATUS(smisk_response_push_header(NULL, "A: 1", 4), SMISK_ERR_NULL);
}

static void test_scheme_and_session_cookie(void) {
    struct exchange x;
    const char *cases[][3] = {
        /* HTTPS, REQUEST_SCHEME, want */
        {NULL, "https", "1"}, {NULL, "HTTPS", "1"}, {"on", "http", "1"}, {"off", "https", "0"},
        {"", "https", "1"},   {NULL, "http", "0"},  {"1", NULL, "1"},   {NULL, NULL, "0"},
    };
    char tmpl[128];
    snprintf(tmpl, sizeof tmpl, "%s/sessions", dir);
    smisk_session_store *store = NULL;
    CHECK_OK(smisk_session_store_new((const uint8_t *)tmpl, strlen(tmpl), NULL, 0, &store));
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const char *https = cases[i][0], *scheme = cases[i][1];
        int want = cases[i][2][0] == '1';
        if (https && scheme) SET_PARAMS(x, "HTTPS", https, "REQUEST_SCHEME", scheme);
        else if (https) SET_PARAMS(x, "HTTPS", https);
        else if (scheme) SET_PARAMS(x, "REQUEST_SCHEME", scheme);
        else SET_PARAMS(x, "SERVER_NAME", "h");
        smisk_request *req = start(server, &x);
        if (req == NULL) break;
        CHECK(smisk_request_is_https(req) == want);
        smisk_url *u = NULL;
        const uint8_t *sp = NULL;
        size_t n = 0;
        bool present = false;
        CHECK_OK(smisk_request_url(req, &u));
        CHECK_OK(smisk_url_get(u, SMISK_URL_SCHEME, &sp, &n, &present));
        CHECK(present && bytes_are(sp, n, want ? "https" : "http"));
        smisk_url_free(u);
        /* the session cookie's Secure flag: the same answer */
        smisk_session_state *st = NULL;
        CHECK_OK(smisk_session_state_new_for_request(store, (const uint8_t *)"SID", 3, req, &st));
        CHECK_OK(smisk_response_begin_with_session(req, st, 1));
        finish(req, &x);
        CHECK(contains(x.out, x.out_len, "Set-Cookie: SID="));
        CHECK(contains(x.out, x.out_len, "; Secure") == want);
        CHECK_OK(smisk_session_state_finish(st, NULL, 0, 0, NULL));
        smisk_session_state_free(st);
        release(&x);
    }
    CHECK(!smisk_request_is_https(NULL));

    /* the session cookie is picked out of HTTP_COOKIE by the library */
    char id[SMISK_SESSION_ID_LEN];
    size_t idn = 0;
    CHECK_OK(smisk_session_id_new((uint8_t *)id, sizeof id, &idn));
    CHECK_OK(smisk_session_store_write(store, (const uint8_t *)id, idn, (const uint8_t *)"data", 4));
    char cookie[128];
    snprintf(cookie, sizeof cookie, "SID=../x; other=1; SID=%.*s", (int)idn, id);
    SET_PARAMS(x, "HTTP_COOKIE", cookie);
    smisk_request *req = start(server, &x);
    if (req != NULL) {
        smisk_session_state *st = NULL;
        uint8_t *p = NULL;
        size_t n = 0;
        int32_t has = 0;
        CHECK_OK(smisk_session_state_new_for_request(store, (const uint8_t *)"SID", 3, req, &st));
        CHECK_OK(smisk_session_state_load(st, &p, &n, &has));
        CHECK(has == 1 && bytes_are(p, n, "data"));
        smisk_bytes_free(p, n);
        CHECK_OK(smisk_response_begin_with_session(req, st, 1)); /* the client has the id: no cookie */
        CHECK_STATUS(smisk_response_begin_with_session(req, NULL, 0), SMISK_ERR_STATE);
        finish(req, &x);
        CHECK(!contains(x.out, x.out_len, "Set-Cookie"));
        CHECK_STATUS(smisk_session_state_new_for_request(store, (const uint8_t *)"SID", 3, req, &st), SMISK_ERR_STATE);
        smisk_session_state_free(st);
        release(&x);
    }
    CHECK_OK(smisk_session_store_destroy(store, (const uint8_t *)id, idn));
    smisk_session_store_free(store);
    CHECK(rmdir(tmpl) == 0);
}

static void test_gateway_checks(void) {
    uint8_t *line = NULL;
    size_t len = 0;
    bool is_length = true;
    uint16_t code = 0;
    CHECK_OK(smisk_gateway_header((const uint8_t *)"X-A", 3, (const uint8_t *)"caf\xe9", 4, &line, &len, &is_length));
    CHECK(bytes_are(line, len, "X-A: caf\xe9") && !is_length);
    smisk_bytes_free(line, len);
    CHECK_OK(smisk_gateway_header((const uint8_t *)"content-length", 14, (const uint8_t *)"5", 1, &line, &len,
                                  &is_length));
    CHECK(is_length);
    smisk_bytes_free(line, len);
    CHECK_STATUS(smisk_gateway_header((const uint8_t *)"Connection", 10, (const uint8_t *)"close", 5, &line, &len,
                                      NULL),
                 SMISK_ERR_INVALID);
    CHECK(strstr(smisk_last_error(), "hop-by-hop") != NULL);
    CHECK_STATUS(smisk_gateway_header((const uint8_t *)"X A", 3, (const uint8_t *)"v", 1, &line, &len, NULL),
                 SMISK_ERR_INVALID);
    CHECK_STATUS(smisk_gateway_header((const uint8_t *)"X", 1, (const uint8_t *)"a\r\nb", 4, &line, &len, NULL),
                 SMISK_ERR_INVALID);
    CHECK_STATUS(smisk_gateway_header(NULL, 1, (const uint8_t *)"v", 1, &line, &len, NULL), SMISK_ERR_NULL);
    CHECK_OK(smisk_gateway_status((const uint8_t *)"404 Not Found", 13, &code));
    CHECK(code == 404);
    CHECK_STATUS(smisk_gateway_status((const uint8_t *)"2000 OK", 7, &code), SMISK_ERR_INVALID);
    CHECK(code == 404);
    size_t k = 0;
    while (smisk_gateway_hop_by_hop(k) != NULL) k++;
    CHECK(k == 9 && strcmp(smisk_gateway_hop_by_hop(0), "connection") == 0);
}

/* prepare, then the caller's own begin, then the stream; errno for a
 * missing file */
static void test_prepare_and_stream(void) {
    struct exchange x;
    smisk_file *f = (smisk_file *)&x;
    size_t head_len = 0, body_len = 0;
    const unsigned char *body = NULL;
    uint64_t written = 0;
    char want[64];

    SET_PARAMS(x, "SERVER_SOFTWARE", "Caddy/2");
    smisk_request *req = start(server, &x);
    if (req == NULL) return;
    char missing[160];
    snprintf(missing, sizeof missing, "%s/missing", dir);
    CHECK_STATUS(smisk_response_prepare_file(req, missing, strlen(missing), &f), SMISK_ERR_IO);
    CHECK(smisk_last_errno() == ENOENT && f == (smisk_file *)&x);
    CHECK_OK(smisk_response_prepare_file(req, file_path, strlen(file_path), &f));
    CHECK(f != NULL && f != (smisk_file *)&x && !smisk_response_has_begun(req));
    CHECK_OK(smisk_response_add_header(req, "X-Own-Begin: 1", 14)); /* after the length, before the body */
    CHECK_OK(smisk_response_begin(req));
    CHECK_OK(smisk_response_stream_file(req, f, &written));
    CHECK(written == file_size);
    CHECK_STATUS(smisk_response_stream_file(req, NULL, NULL), SMISK_ERR_NULL);
    finish(req, &x);
    snprintf(want, sizeof want, "Content-Length: %zu\r\nX-Own-Begin: 1\r\n", file_size);
    CHECK(split(&x, &head_len, &body, &body_len) && mem_eq(x.out, head_len, want, strlen(want)));
    CHECK(mem_eq(body, body_len, file_data, file_size));
    release(&x);

    /* a web server that sends the file: no handle, only its header */
    SET_PARAMS(x, "SERVER_SOFTWARE", "nginx/1.22.1");
    req = start(server, &x);
    if (req == NULL) return;
    f = (smisk_file *)&x;
    CHECK_OK(smisk_response_prepare_file(req, file_path, strlen(file_path), &f));
    CHECK(f == NULL);
    finish(req, &x);
    CHECK(contains(x.out, x.out_len, "X-Accel-Redirect: "));
    release(&x);
    smisk_file_free(NULL);
}

int main(int argc, char **argv) {
    (void)argc;
    char tmpl[] = "/tmp/smisk-capi-resp-XXXXXX";
    CHECK(mkdtemp(tmpl) != NULL);
    snprintf(dir, sizeof dir, "%s", tmpl);
    snprintf(sock_path, sizeof sock_path, "%s/s.sock", dir);
    make_files();

    test_cookies();
    test_sendfile_header();

    CHECK_OK(smisk_server_new(&server));
    CHECK_OK(smisk_server_set_limit(server, SMISK_LIMIT_WRITE_TIMEOUT_MS, 10000));
    CHECK_OK(smisk_server_bind(server, sock_path, strlen(sock_path), 0));
    test_request_url();
    test_error_page();
    test_write_file();
    test_send_file();
    test_header_list();
    test_scheme_and_session_cookie();
    test_gateway_checks();
    test_prepare_and_stream();
    CHECK_OK(smisk_server_unbind(server));
    smisk_server_free(server);

    unlink(file_path);
    unlink(fifo_path);
    unlink(big_path);
    CHECK(rmdir(dir) == 0);
    free(file_data);
    return check_summary(argv[0]);
}
