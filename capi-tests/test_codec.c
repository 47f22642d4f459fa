/* Codec C API: percent encode/escape/decode, XML escape/unescape, query and
 * cookie parsing through the callback, URL parse / get / set / to_s / uri,
 * uid and pack. Every spec vector that has a C-level meaning is checked here
 * byte for byte; buffers returned by the library are released with
 * smisk_bytes_free so valgrind proves nothing leaks. */
#include <stdlib.h>
#include <string.h>

#include "check.h"

#define LIT(s) (const uint8_t *)(s), (sizeof(s) - 1)

/* Runs a (input -> allocated output) function and compares with `want`. */
typedef smisk_status (*transform_fn)(const uint8_t *, size_t, uint8_t **, size_t *);

static int transform_is(transform_fn f, const void *in, size_t in_len, const void *want,
                        size_t want_len) {
    uint8_t *out = (uint8_t *)1;
    size_t out_len = 12345;
    if (f((const uint8_t *)in, in_len, &out, &out_len) != SMISK_OK) return 0;
    int ok = out_len == want_len && (want_len == 0 ? out == NULL : memcmp(out, want, want_len) == 0);
    if (!ok) fprintf(stderr, "  got %.*s\n", (int)out_len, out ? (const char *)out : "");
    smisk_bytes_free(out, out_len);
    return ok;
}

#define T(f, in, want) CHECK(transform_is(f, in, sizeof(in) - 1, want, sizeof(want) - 1))

/* Collects query/cookie pairs as "key=value" or "key" lines joined by '\n'
 * (NUL bytes shown as "\0"), so a whole parse compares as one string. */
struct pairs {
    char text[512];
    size_t len;
    int calls;
    int stop_after;
};

static void append(struct pairs *p, const uint8_t *s, size_t n) {
    for (size_t i = 0; i < n && p->len + 3 < sizeof p->text; i++) {
        if (s[i] == 0) {
            p->text[p->len++] = '\\';
            p->text[p->len++] = '0';
        } else {
            p->text[p->len++] = (char)s[i];
        }
    }
    p->text[p->len] = 0;
}

static int32_t collect(void *ctx, const uint8_t *key, size_t key_len, const uint8_t *value,
                       size_t value_len, bool has_value) {
    struct pairs *p = (struct pairs *)ctx;
    p->calls++;
    if (key == NULL) return 1; /* never NULL: fail loudly via STOPPED */
    if (p->len > 0) append(p, (const uint8_t *)"\n", 1);
    append(p, key, key_len);
    if (has_value) {
        if (value == NULL) return 1;
        append(p, (const uint8_t *)"=", 1);
        append(p, value, value_len);
    } else if (value != NULL || value_len != 0) {
        return 1;
    }
    return p->stop_after > 0 && p->calls >= p->stop_after;
}

static int parsed_is(int cookies, const char *in, const char *want) {
    struct pairs p;
    memset(&p, 0, sizeof p);
    smisk_status st = cookies ? smisk_parse_cookies((const uint8_t *)in, strlen(in),
                                                    SMISK_MAX_FIELDS_DEFAULT, collect, &p)
                              : smisk_parse_query((const uint8_t *)in, strlen(in),
                                                  SMISK_MAX_FIELDS_DEFAULT, collect, &p);
    if (st != SMISK_OK || strcmp(p.text, want) != 0) {
        fprintf(stderr, "  parse %s -> status %d, pairs:\n%s\n", in, (int)st, p.text);
        return 0;
    }
    return 1;
}

static void test_percent(void) {
    char printable[96];
    for (int i = 0; i < 95; i++) printable[i] = (char)(0x20 + i);
    CHECK(transform_is(smisk_url_escape, printable, 95,
                       LIT("%20!%22%23$%25&'()*+,-./0123456789%3A;%3C=%3E?%40"
                           "ABCDEFGHIJKLMNOPQRSTUVWXYZ%5B%5C%5D%5E_%60"
                           "abcdefghijklmnopqrstuvwxyz%7B%7C%7D~")));
    CHECK(transform_is(smisk_url_encode, printable, 95,
                       LIT("%20!%22%23%24%25%26'()*%2B%2C-.%2F0123456789%3A%3B%3C%3D%3E%3F%40"
                           "ABCDEFGHIJKLMNOPQRSTUVWXYZ%5B%5C%5D%5E_%60"
                           "abcdefghijklmnopqrstuvwxyz%7B%7C%7D~")));
    T(smisk_url_escape, "\x01\t\n\x7f\x80\xff", "%01%09%0A%7F%80%FF");
    T(smisk_url_escape, "a b", "a%20b");
    T(smisk_url_encode, "\xc3\xa5 \xc3\xa4", "%C3%A5%20%C3%A4");
    /* Embedded NUL is data, not a terminator. */
    T(smisk_url_escape, "a \0 ", "a%20%00%20");
    T(smisk_url_encode, "", "");
    /* A lone "+" is decoded too. */
    T(smisk_url_decode, "a+b", "a b");
    T(smisk_url_decode, "a+b%20", "a b ");
    T(smisk_url_decode, "%41", "A");
    T(smisk_url_decode, "%4", "%4");
    T(smisk_url_decode, "%zz", "%zz");
    T(smisk_url_decode, "100%", "100%");
    T(smisk_url_decode, "a%00b", "a\0b");
    T(smisk_url_decode, "%e5", "\xe5");
    T(smisk_url_decode, "%C3%A5", "\xc3\xa5");
    T(smisk_url_decode, "", "");

    /* decode(encode(x)) == x over all 256 byte values. */
    uint8_t all[256];
    for (int i = 0; i < 256; i++) all[i] = (uint8_t)i;
    uint8_t *enc = NULL, *dec = NULL;
    size_t enc_len = 0, dec_len = 0;
    CHECK_OK(smisk_url_encode(all, sizeof all, &enc, &enc_len));
    /* 62 alphanumerics and ! ' ( ) * - . _ ~ stay; the other 185 grow to 3. */
    CHECK(enc_len == 256 + 2 * (256 - 71));
    CHECK_OK(smisk_url_decode(enc, enc_len, &dec, &dec_len));
    CHECK(dec_len == 256 && memcmp(dec, all, 256) == 0);
    smisk_bytes_free(enc, enc_len);
    smisk_bytes_free(dec, dec_len);

    /* NULL handling. */
    uint8_t *out = NULL;
    size_t out_len = 0;
    CHECK_STATUS(smisk_url_encode(NULL, 3, &out, &out_len), SMISK_ERR_NULL);
    CHECK_STATUS(smisk_url_encode(LIT("x"), NULL, &out_len), SMISK_ERR_NULL);
    CHECK_STATUS(smisk_url_decode(LIT("x"), &out, NULL), SMISK_ERR_NULL);
    CHECK_OK(smisk_url_decode(NULL, 0, &out, &out_len));
    CHECK(out == NULL && out_len == 0);
}

static void test_xml(void) {
    T(smisk_xml_escape, "<&>\"'", "&lt;&amp;&gt;&quot;&#39;");
    T(smisk_xml_escape, "&amp;amp;", "&amp;amp;amp;");
    T(smisk_xml_unescape, "&amp;amp;", "&amp;");
    T(smisk_xml_unescape, "&#39;&apos;", "''");
    T(smisk_xml_unescape, "&AMP;", "&AMP;");
    T(smisk_xml_unescape, "&lt", "&lt");
    T(smisk_xml_unescape, "&quot", "&quot");
    T(smisk_xml_unescape, "&quot;x", "\"x");
    T(smisk_xml_unescape, "abc", "abc");
    T(smisk_xml_unescape, "", "");
    T(smisk_xml_unescape, "&#229;&#xe5;", "\xc3\xa5\xc3\xa5");
    T(smisk_xml_unescape, "&#0;&#xD800;&#", "&#0;&#xD800;&#");
    T(smisk_xml_unescape, "a\0&lt;", "a\0<");
}

static void test_query_and_cookies(void) {
    CHECK(parsed_is(0, "a=1;b=2", "a=1;b=2"));
    CHECK(parsed_is(0, "a", "a"));
    CHECK(parsed_is(0, "=x", "=x"));
    CHECK(parsed_is(0, "a=&b", "a=\nb"));
    CHECK(parsed_is(0, "a==b&a=b=c", "a==b\na=b=c"));
    CHECK(parsed_is(0, "a+b=c+d&%61=1& a=1", "a b=c d\na=1\n a=1"));
    CHECK(parsed_is(0, "&&&", ""));
    CHECK(parsed_is(0, "parse&x=%C3%A5&y=%E5&y=2&z&&w=a+b",
                    "parse\nx=\xc3\xa5\ny=\xe5\ny=2\nz\nw=a b"));
    CHECK(parsed_is(0, "a=%00&k%E5=v", "a=\\0\nk\xe5=v"));
    CHECK(parsed_is(1, "a=1; b=2;c=3; SID=zzz; a=x+y%20z; =bad; lone; q=\"quoted\"",
                    "a=1\nb=2\nc=3\nSID=zzz\na=x+y z\nlone\nq=\"quoted\""));
    CHECK(parsed_is(1, "x=\"un; y=%zz; \t z=\\\"", "x=\"un\ny=%zz\nz=\\\""));

    /* Field cap: nothing is delivered when it is exceeded. */
    struct pairs p;
    memset(&p, 0, sizeof p);
    CHECK_STATUS(smisk_parse_query(LIT("a&b&c"), 2, collect, &p), SMISK_ERR_TOO_LARGE);
    CHECK(p.calls == 0);
    CHECK_OK(smisk_parse_query(LIT("a&b&&&"), 2, collect, &p));
    CHECK(p.calls == 2);

    /* The callback can stop the parse. */
    memset(&p, 0, sizeof p);
    p.stop_after = 2;
    CHECK_STATUS(smisk_parse_cookies(LIT("a=1;b=2;c=3"), 10, collect, &p), SMISK_ERR_STOPPED);
    CHECK(p.calls == 2);
    CHECK(strcmp(smisk_status_str(SMISK_ERR_STOPPED), "stopped by the caller's callback") == 0);

    CHECK_STATUS(smisk_parse_query(LIT("a"), 10, NULL, NULL), SMISK_ERR_NULL);
    CHECK_STATUS(smisk_parse_query(NULL, 1, 10, collect, &p), SMISK_ERR_NULL);
}

/* Component text of a URL as a NUL-terminated string, "-" when absent. */
static const char *comp(const smisk_url *u, int32_t c) {
    static char buf[256];
    const uint8_t *ptr = NULL;
    size_t len = 0;
    bool present = true;
    if (smisk_url_get(u, c, &ptr, &len, &present) != SMISK_OK) return "<error>";
    if (!present) return ptr == NULL && len == 0 ? "-" : "<bad absent>";
    if (len >= sizeof buf) return "<too long>";
    memcpy(buf, ptr, len);
    buf[len] = 0;
    return buf;
}

static int url_is(const char *in, const char *scheme, const char *user, const char *password,
                  const char *host, uint32_t port, const char *path, const char *query,
                  const char *fragment) {
    smisk_url *u = NULL;
    if (smisk_url_parse((const uint8_t *)in, strlen(in), &u) != SMISK_OK) {
        fprintf(stderr, "  %s: %s\n", in, smisk_last_error());
        return 0;
    }
    uint32_t p = 99999;
    int ok = smisk_url_get_port(u, &p) == SMISK_OK && p == port;
    const char *want[7] = {scheme, user, password, host, path, query, fragment};
    for (int32_t c = 0; c < SMISK_URL_COMPONENTS; c++) {
        if (strcmp(comp(u, c), want[c]) != 0) {
            fprintf(stderr, "  %s: component %d is %s, want %s\n", in, (int)c, comp(u, c),
                    want[c]);
            ok = 0;
        }
    }
    smisk_url_free(u);
    return ok;
}

/* to_s of `in` with `fmt` (NULL: defaults) equals `want`. */
static int to_s_is(const char *in, const smisk_url_format *fmt, const char *want) {
    smisk_url *u = NULL;
    if (smisk_url_parse((const uint8_t *)in, strlen(in), &u) != SMISK_OK) return 0;
    uint8_t *out = NULL;
    size_t out_len = 0;
    int ok = smisk_url_to_s(u, fmt, &out, &out_len) == SMISK_OK && out_len == strlen(want) &&
             (out_len == 0 || memcmp(out, want, out_len) == 0);
    if (!ok) fprintf(stderr, "  to_s(%s) = %.*s, want %s\n", in, (int)out_len, out ? (char *)out : "", want);
    smisk_bytes_free(out, out_len);
    smisk_url_free(u);
    return ok;
}

/* The status of to_s of `in` with `fmt` (for options that must fail). */
static smisk_status to_s_status(const char *in, const smisk_url_format *fmt) {
    smisk_url *u = NULL;
    if (smisk_url_parse((const uint8_t *)in, strlen(in), &u) != SMISK_OK) return SMISK_ERR_PANIC;
    uint8_t *out = (uint8_t *)1;
    size_t out_len = 7;
    smisk_status st = smisk_url_to_s(u, fmt, &out, &out_len);
    if (st == SMISK_OK) {
        smisk_bytes_free(out, out_len);
    } else if (out != (uint8_t *)1 || out_len != 7) {
        st = SMISK_ERR_PANIC; /* outputs must be untouched on failure */
    }
    smisk_url_free(u);
    return st;
}

static void test_url(void) {
    CHECK(url_is("host", "-", "-", "-", "host", 0, "-", "-", "-"));
    CHECK(url_is("host:80/p", "-", "-", "-", "host", 80, "/p", "-", "-"));
    CHECK(url_is("user:pass@host:1/x", "-", "user", "pass", "host", 1, "/x", "-", "-"));
    CHECK(url_is("mailto:foo@bar", "-", "mailto", "foo", "bar", 0, "-", "-", "-"));
    CHECK(url_is("//host/path", "-", "-", "-", "-", 0, "//host/path", "-", "-"));
    CHECK(url_is("/path?x#y", "-", "-", "-", "-", 0, "/path", "x", "y"));
    CHECK(url_is("http://host?q=1", "http", "-", "-", "host?q=1", 0, "-", "-", "-"));
    CHECK(url_is("HTTP://Host.COM/", "http", "-", "-", "Host.COM", 0, "/", "-", "-"));
    CHECK(url_is("file:///etc/passwd", "file", "-", "-", "-", 0, "/etc/passwd", "-", "-"));
    CHECK(url_is("http://", "http", "-", "-", "-", 0, "-", "-", "-"));
    CHECK(url_is("http://host/p?a#b?c", "http", "-", "-", "host", 0, "/p", "a", "b?c"));
    CHECK(url_is("http://h/p?", "http", "-", "-", "h", 0, "/p", "", "-"));
    CHECK(url_is("?q", "-", "-", "-", "?q", 0, "-", "-", "-"));
    CHECK(url_is("", "-", "-", "-", "-", 0, "-", "-", "-"));
    CHECK(url_is("http://[::1]:80/", "http", "-", "-", "::1", 80, "/", "-", "-"));

    const char *bad[] = {"foo/bar", "a:b:c", "http://a:b@c:d@e/", "http://host:abc/",
                         "http://host:-5/", "http://host:99999999999/", "http://[::1/"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        smisk_url *u = (smisk_url *)&bad; /* must stay untouched on failure */
        CHECK_STATUS(smisk_url_parse((const uint8_t *)bad[i], strlen(bad[i]), &u),
                     SMISK_ERR_INVALID);
        CHECK(u == (smisk_url *)&bad);
        CHECK(strncmp(smisk_last_error(), "Failed to parse URL", 19) == 0);
    }

    smisk_url_format f;
    CHECK_OK(smisk_url_format_init(&f));
    CHECK(to_s_is("http://host.name:1234/some/path", NULL, "http://host.name:1234/some/path"));
    f.mode[SMISK_URL_HOST] = SMISK_URL_REPLACE;
    f.text[SMISK_URL_HOST] = (const uint8_t *)"another.host";
    f.text_len[SMISK_URL_HOST] = 12;
    CHECK(to_s_is("http://host.name:1234/some/path", &f, "http://another.host:1234/some/path"));
    CHECK_OK(smisk_url_format_init(&f));
    f.port_mode = SMISK_URL_OMIT;
    CHECK(to_s_is("https://host:443/some/path", &f, "https://host/some/path"));
    CHECK(to_s_is("http://h:80/", NULL, "http://h/"));
    CHECK(to_s_is("https://h:443/", NULL, "https://h:443/"));
    CHECK_OK(smisk_url_format_init(&f));
    f.port80 = true;
    CHECK(to_s_is("http://h:80/", &f, "http://h:80/"));
    /* Fixed: "use the port" with no port emits none. */
    CHECK(to_s_is("http://h/", &f, "http://h/"));
    f.port_mode = SMISK_URL_REPLACE;
    f.port = 80;
    CHECK(to_s_is("http://h/", &f, "http://h:80/"));
    f.port80 = false;
    CHECK(to_s_is("http://h/", &f, "http://h/"));
    f.port = 70000;
    CHECK(to_s_status("http://h/", &f) == SMISK_ERR_INVALID);
    CHECK_OK(smisk_url_format_init(&f));
    f.mode[SMISK_URL_PATH] = SMISK_URL_REPLACE; /* empty replacement omits */
    CHECK(to_s_is("http://h/x", &f, "http://h"));
    CHECK_OK(smisk_url_format_init(&f));
    f.mode[SMISK_URL_USER] = SMISK_URL_REPLACE;
    f.text[SMISK_URL_USER] = (const uint8_t *)"bob";
    f.text_len[SMISK_URL_USER] = 3;
    f.mode[SMISK_URL_PASSWORD] = SMISK_URL_REPLACE;
    f.text[SMISK_URL_PASSWORD] = (const uint8_t *)"x";
    f.text_len[SMISK_URL_PASSWORD] = 1;
    CHECK(to_s_is("http://h/p", &f, "http://bob:x@h/p"));
    f.mode[SMISK_URL_USER] = SMISK_URL_USE;
    CHECK(to_s_is("http://h/p", &f, "http://h/p"));
    f.mode[SMISK_URL_SCHEME] = 42;
    CHECK(to_s_status("http://h/p", &f) == SMISK_ERR_INVALID);
    CHECK(to_s_is("http://h/p#", NULL, "http://h/p#"));
    CHECK(to_s_is("/p?q#f", NULL, "/p?q#f"));
    CHECK(to_s_is("mailto:foo@bar", NULL, "mailto:foo@bar"));
    CHECK(to_s_is("http://[::1]:8080/x", NULL, "http://[::1]:8080/x"));
    CHECK(to_s_is("", NULL, ""));

    /* new / set / get / clone / uri. */
    smisk_url *u = smisk_url_new();
    CHECK(u != NULL);
    CHECK(strcmp(comp(u, SMISK_URL_HOST), "-") == 0);
    CHECK_OK(smisk_url_set(u, SMISK_URL_SCHEME, LIT("HTTPS"), true));
    CHECK_OK(smisk_url_set(u, SMISK_URL_HOST, LIT("fe80::1"), true));
    CHECK_OK(smisk_url_set(u, SMISK_URL_PATH, LIT("/a\0b"), true));
    CHECK_OK(smisk_url_set(u, SMISK_URL_QUERY, NULL, 0, true));
    CHECK_OK(smisk_url_set_port(u, 8443));
    CHECK_STATUS(smisk_url_set_port(u, 65536), SMISK_ERR_INVALID);
    CHECK_STATUS(smisk_url_set(u, 7, LIT("x"), true), SMISK_ERR_INVALID);
    CHECK_STATUS(smisk_url_set(u, -1, LIT("x"), true), SMISK_ERR_INVALID);
    CHECK_STATUS(smisk_url_set(NULL, SMISK_URL_HOST, LIT("x"), true), SMISK_ERR_NULL);
    smisk_url *copy = NULL;
    CHECK_OK(smisk_url_clone(u, &copy));
    CHECK_OK(smisk_url_set(u, SMISK_URL_HOST, NULL, 0, false));
    CHECK(strcmp(comp(u, SMISK_URL_HOST), "-") == 0);
    CHECK(strcmp(comp(copy, SMISK_URL_HOST), "fe80::1") == 0);
    CHECK(strcmp(comp(copy, SMISK_URL_QUERY), "") == 0);
    uint8_t *out = NULL;
    size_t out_len = 0;
    CHECK_OK(smisk_url_to_s(copy, NULL, &out, &out_len));
    CHECK_MEM(out, out_len, "HTTPS://[fe80::1]:8443/a\0b");
    smisk_bytes_free(out, out_len);
    bool present = false;
    CHECK_OK(smisk_url_uri(copy, &out, &out_len, &present));
    CHECK(present);
    CHECK_MEM(out, out_len, "/a\0b");
    smisk_bytes_free(out, out_len);
    smisk_url *h = NULL;
    CHECK_OK(smisk_url_parse(LIT("http://h"), &h));
    CHECK_OK(smisk_url_uri(h, &out, &out_len, &present));
    CHECK(!present && out == NULL && out_len == 0);
    smisk_url_free(h);
    smisk_url_free(copy);
    smisk_url_free(u);
    smisk_url_free(NULL);
}

static void test_uid_pack(void) {
    uint8_t buf[64];
    size_t n = 0;
    uint8_t seq[20];
    for (int i = 0; i < 20; i++) seq[i] = (uint8_t)i;
    CHECK_OK(smisk_pack(seq, 20, 4, buf, sizeof buf, &n));
    CHECK_MEM(buf, n, "00102030405060708090a0b0c0d0e0f001112131");
    CHECK_OK(smisk_pack(seq, 20, 5, buf, sizeof buf, &n));
    CHECK_MEM(buf, n, "0804g1g05g1e0441ao2og6o1f04219c2");
    CHECK_OK(smisk_pack(seq, 20, 6, buf, sizeof buf, &n));
    CHECK_MEM(buf, n, "04w03gg16s029EM2cQw3f0h4ic1");
    CHECK_OK(smisk_pack(LIT("abc"), 4, buf, sizeof buf, &n));
    CHECK_MEM(buf, n, "162636");
    CHECK_OK(smisk_pack(LIT("abc"), 5, buf, sizeof buf, &n));
    CHECK_MEM(buf, n, "1jo66");
    CHECK_OK(smisk_pack(LIT("abc"), 6, buf, sizeof buf, &n));
    CHECK_MEM(buf, n, "x9So");
    uint8_t ff[20];
    memset(ff, 0xff, sizeof ff);
    CHECK_OK(smisk_pack(ff, 20, 6, buf, sizeof buf, &n));
    CHECK_MEM(buf, n, "--------------------------f");
    CHECK_OK(smisk_pack(NULL, 0, 5, buf, sizeof buf, &n));
    CHECK(n == 0);
    /* Too small: the size needed comes back, nothing is written. */
    memset(buf, '#', sizeof buf);
    CHECK_STATUS(smisk_pack(seq, 20, 5, buf, 10, &n), SMISK_ERR_BUFFER_TOO_SMALL);
    CHECK(n == 32 && buf[0] == '#');
    CHECK_STATUS(smisk_pack(LIT("abc"), 3, buf, sizeof buf, &n), SMISK_ERR_INVALID);
    CHECK(strcmp(smisk_last_error(), "Invalid number of bits: 3") == 0);
    CHECK_STATUS(smisk_pack(LIT("abc"), 0, buf, sizeof buf, &n), SMISK_ERR_INVALID);
    CHECK(strcmp(smisk_last_error(), "Invalid number of bits: 0") == 0);
    /* A long input (the original overflowed past 20 bytes). */
    size_t big_len = 100000;
    uint8_t *big = malloc(big_len);
    char *text = malloc(200000);
    CHECK(big != NULL && text != NULL);
    if (big && text) {
        memset(big, 0xa5, big_len);
        CHECK_OK(smisk_pack(big, big_len, 5, (uint8_t *)text, 200000, &n));
        CHECK(n == (big_len * 8 + 4) / 5);
    }
    free(big);
    free(text);

    char a[64], b[64];
    size_t an = 0, bn = 0;
    CHECK_OK(smisk_uid(5, NULL, 0, (uint8_t *)a, sizeof a, &an));
    CHECK_OK(smisk_uid(5, LIT("node"), (uint8_t *)b, sizeof b, &bn));
    CHECK(an == 32 && bn == 32 && memcmp(a, b, 32) != 0);
    int shape = 1;
    for (size_t i = 0; i < an; i++)
        shape &= (a[i] >= '0' && a[i] <= '9') || (a[i] >= 'a' && a[i] <= 'v');
    CHECK(shape);
    CHECK_OK(smisk_uid(4, NULL, 0, (uint8_t *)a, sizeof a, &an));
    CHECK(an == 40);
    CHECK_OK(smisk_uid(6, NULL, 0, (uint8_t *)a, sizeof a, &an));
    CHECK(an == 27);
    CHECK_OK(smisk_uid(0, NULL, 0, (uint8_t *)a, sizeof a, &an));
    CHECK(an == 20);
    CHECK_OK(smisk_uid(-1, NULL, 0, (uint8_t *)a, sizeof a, &an));
    CHECK(an == 20);
    CHECK_STATUS(smisk_uid(3, NULL, 0, (uint8_t *)a, sizeof a, &an), SMISK_ERR_INVALID);
    CHECK_STATUS(smisk_uid(5, NULL, 0, (uint8_t *)a, 31, &an), SMISK_ERR_BUFFER_TOO_SMALL);
    CHECK(an == 32);
}

int main(int argc, char **argv) {
    (void)argc;
    test_percent();
    test_xml();
    test_query_and_cookies();
    test_url();
    test_uid_pack();
    return check_summary(argv[0]);
}
