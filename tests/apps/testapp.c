/* testapp.c -- the FastCGI application the integration tests drive (through
 * nginx, spawn-fcgi, or a raw FastCGI client). Routes by SCRIPT_NAME:
 *
 *   /hello               "Hello World!\n"
 *   /params              every param as NAME=VALUE\n, in order
 *   /echo                reads the body; answers "len=N crc=HEX\n" (CRC-32, zlib's)
 *   /echo?lines          the same, reading with smisk_request_readline
 *   /mirror              streams the body back as the response body (full duplex:
 *                        nginx does not send more body once a response starts,
 *                        so drive it directly or with small bodies)
 *   /big?N               N bytes of the pattern (i % 251), in 16 KiB writes
 *   /stderr              writes a line to FastCGI STDERR, answers "ok\n"
 *   /status?CODE         answers with "Status: CODE Test"
 *   /badheader           tries a header with CRLF; answers the status it got
 *   /stats               "requests=N aborted=M conns=C rss_kb=K\n"
 *   /sleep?MS            sleeps MS milliseconds, then answers "slept\n"
 *   /nothing             writes nothing (finish sends an empty header block)
 *   /form?LIMIT          parses the body as a form (max_multipart_size and
 *                        max_formdata_size = LIMIT when given; uploads go to
 *                        $SMISK_TEST_UPLOAD_DIR); lists "field NAME=VALUE" and
 *                        "file NAME filename=F type=T size=N crc=X" lines; a
 *                        limit error answers 413, a malformed body 400
 *
 * Usage: testapp ADDRESS|-   Environment: SMISK_TEST_READ_TIMEOUT_MS,
 * SMISK_TEST_MAX_PARAMS_BYTES, SMISK_TEST_MAX_CONNS, SMISK_TEST_WRITE_TIMEOUT_MS,
 * SMISK_TEST_KEEPALIVE_TIMEOUT_MS set the matching limits.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "smisk.h"

static unsigned long requests_served = 0;
static unsigned long requests_aborted = 0;

static int param_is(smisk_request *r, const char *name, const char *want) {
    const char *v;
    size_t n;
    if (smisk_request_param(r, name, strlen(name), &v, &n) != SMISK_OK) return 0;
    return n == strlen(want) && memcmp(v, want, n) == 0;
}

static long query_number(smisk_request *r) {
    const char *v;
    size_t n;
    char tmp[32];
    if (smisk_request_param(r, "QUERY_STRING", 12, &v, &n) != SMISK_OK || n == 0 || n >= sizeof tmp)
        return 0;
    memcpy(tmp, v, n);
    tmp[n] = 0;
    return strtol(tmp, NULL, 10);
}

static uint32_t crc32_update(uint32_t crc, const unsigned char *p, size_t n) {
    static uint32_t table[256];
    if (table[1] == 0) {
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            table[i] = c;
        }
    }
    crc = ~crc;
    for (size_t i = 0; i < n; i++) crc = table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
    return ~crc;
}

static long rss_kb(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    if (!f) return -1;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "VmHWM:", 6) == 0) kb = strtol(line + 6, NULL, 10);
    }
    fclose(f);
    return kb;
}

static smisk_status text(smisk_request *r, const char *body) {
    static const char ct[] = "Content-Type: text/plain";
    smisk_status st = smisk_response_add_header(r, ct, sizeof ct - 1);
    if (st != SMISK_OK) return st;
    return smisk_response_write(r, body, strlen(body));
}

static uint32_t file_crc(const char *path) {
    unsigned char chunk[65536];
    uint32_t crc = 0;
    size_t n;
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) crc = crc32_update(crc, chunk, n);
    fclose(f);
    return crc;
}

static smisk_status serve_form(smisk_request *r) {
    smisk_form_limits limits;
    smisk_form_limits_default(&limits);
    long limit = query_number(r);
    if (limit > 0) limits.max_multipart_size = limits.max_formdata_size = limit;
    const char *dir = getenv("SMISK_TEST_UPLOAD_DIR");
    smisk_form *form = NULL;
    smisk_status st = smisk_request_parse_form(r, &limits, (const uint8_t *)dir, dir ? strlen(dir) : 0, &form);
    char line[1024];
    if (st != SMISK_OK) {
        const char *status = smisk_status_is_too_large(st) ? "Status: 413 Request Entity Too Large"
                                                            : "Status: 400 Bad Request";
        smisk_response_add_header(r, status, strlen(status));
        snprintf(line, sizeof line, "error=%d %s\n", (int)st, smisk_last_error());
        return text(r, line);
    }
    snprintf(line, sizeof line, "kind=%d\n", (int)smisk_form_get_kind(form));
    st = text(r, line);
    for (size_t i = 0; st == SMISK_OK && i < smisk_form_field_count(form); i++) {
        const uint8_t *n, *v;
        size_t nl, vl;
        bool has;
        smisk_form_field_at(form, i, &n, &nl, &v, &vl, &has);
        snprintf(line, sizeof line, "field %.*s%s%.*s\n", (int)nl, (const char *)n, has ? "=" : "",
                 (int)vl, (const char *)v);
        st = smisk_response_write(r, line, strlen(line));
    }
    for (size_t i = 0; st == SMISK_OK && i < smisk_form_file_count(form); i++) {
        smisk_form_file f;
        smisk_form_file_at(form, i, &f);
        snprintf(line, sizeof line, "file %.*s filename=%.*s type=%.*s size=%llu crc=%08x\n",
                 (int)f.name_len, (const char *)f.name, (int)f.filename_len, (const char *)f.filename,
                 (int)f.content_type_len, (const char *)f.content_type, (unsigned long long)f.size,
                 (unsigned)file_crc(f.path));
        st = smisk_response_write(r, line, strlen(line));
    }
    smisk_form_free(form); /* removes every temp file */
    return st;
}

static smisk_status serve(smisk_server *server, smisk_request *r) {
    char buf[65536];
    char line[512];
    if (param_is(r, "SCRIPT_NAME", "/hello")) return text(r, "Hello World!\n");
    if (param_is(r, "SCRIPT_NAME", "/params")) {
        smisk_status st = text(r, "");
        size_t count = smisk_request_param_count(r);
        for (size_t i = 0; i < count && st == SMISK_OK; i++) {
            const char *n, *v;
            size_t nl, vl;
            st = smisk_request_param_at(r, i, &n, &nl, &v, &vl);
            if (st == SMISK_OK) st = smisk_response_write(r, n, nl);
            if (st == SMISK_OK) st = smisk_response_write(r, "=", 1);
            if (st == SMISK_OK) st = smisk_response_write(r, v, vl);
            if (st == SMISK_OK) st = smisk_response_write(r, "\n", 1);
        }
        return st;
    }
    if (param_is(r, "SCRIPT_NAME", "/echo")) {
        int lines = param_is(r, "QUERY_STRING", "lines");
        uint32_t crc = 0;
        uint64_t len = 0;
        for (;;) {
            size_t n = 0;
            smisk_status st = lines ? smisk_request_readline(r, buf, 1000, &n)
                                    : smisk_request_read(r, buf, sizeof buf, &n);
            if (st != SMISK_OK) return st;
            if (n == 0) break;
            crc = crc32_update(crc, (const unsigned char *)buf, n);
            len += n;
        }
        snprintf(line, sizeof line, "len=%llu crc=%08x\n", (unsigned long long)len, (unsigned)crc);
        return text(r, line);
    }
    if (param_is(r, "SCRIPT_NAME", "/mirror")) {
        smisk_status st = text(r, "");
        for (;;) {
            size_t n = 0;
            if (st == SMISK_OK) st = smisk_request_read(r, buf, sizeof buf, &n);
            if (st != SMISK_OK || n == 0) return st;
            st = smisk_response_write(r, buf, n);
        }
    }
    if (param_is(r, "SCRIPT_NAME", "/big")) {
        long total = query_number(r);
        for (size_t i = 0; i < 16384; i++) buf[i] = (char)(i % 251);
        smisk_status st = text(r, "");
        long sent = 0;
        while (st == SMISK_OK && sent < total) {
            long chunk = total - sent < 16384 ? total - sent : 16384;
            /* keep the pattern continuous across chunks: 16384 % 251 != 0 */
            size_t off = (size_t)(sent % 251);
            char tmp[16384 + 251];
            for (long i = 0; i < chunk; i++) tmp[i] = (char)((off + (size_t)i) % 251);
            st = smisk_response_write(r, tmp, (size_t)chunk);
            sent += chunk;
        }
        return st;
    }
    if (param_is(r, "SCRIPT_NAME", "/stderr")) {
        static const char msg[] = "testapp: a line for the error log\n";
        smisk_status st = smisk_request_write_stderr(r, msg, sizeof msg - 1);
        return st == SMISK_OK ? text(r, "ok\n") : st;
    }
    if (param_is(r, "SCRIPT_NAME", "/status")) {
        snprintf(line, sizeof line, "Status: %ld Test", query_number(r));
        smisk_status st = smisk_response_add_header(r, line, strlen(line));
        return st == SMISK_OK ? text(r, "status\n") : st;
    }
    if (param_is(r, "SCRIPT_NAME", "/badheader")) {
        static const char bad[] = "X-Bad: a\r\nInjected: yes";
        smisk_status st = smisk_response_add_header(r, bad, sizeof bad - 1);
        snprintf(line, sizeof line, "status=%d message=%s\n", (int)st, smisk_last_error());
        return text(r, line);
    }
    if (param_is(r, "SCRIPT_NAME", "/stats")) {
        snprintf(line, sizeof line, "requests=%lu aborted=%lu conns=%zu rss_kb=%ld\n",
                 requests_served, requests_aborted, smisk_server_connection_count(server), rss_kb());
        return text(r, line);
    }
    if (param_is(r, "SCRIPT_NAME", "/sleep")) {
        long ms = query_number(r);
        struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
        return text(r, "slept\n");
    }
    if (param_is(r, "SCRIPT_NAME", "/nothing")) return SMISK_OK;
    if (param_is(r, "SCRIPT_NAME", "/form")) return serve_form(r);
    smisk_response_add_header(r, "Status: 404 Not Found", 21);
    return text(r, "no such route\n");
}

static void env_limit(smisk_server *server, const char *var, int32_t which) {
    const char *v = getenv(var);
    if (v && *v) smisk_server_set_limit(server, which, strtoll(v, NULL, 10));
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s ADDRESS|-\n", argv[0]);
        return 2;
    }
    smisk_server *server = NULL;
    if (smisk_server_new(&server) != SMISK_OK) return 1;
    env_limit(server, "SMISK_TEST_READ_TIMEOUT_MS", SMISK_LIMIT_READ_TIMEOUT_MS);
    env_limit(server, "SMISK_TEST_MAX_PARAMS_BYTES", SMISK_LIMIT_MAX_PARAMS_BYTES);
    env_limit(server, "SMISK_TEST_MAX_CONNS", SMISK_LIMIT_MAX_CONNS);
    env_limit(server, "SMISK_TEST_WRITE_TIMEOUT_MS", SMISK_LIMIT_WRITE_TIMEOUT_MS);
    env_limit(server, "SMISK_TEST_KEEPALIVE_TIMEOUT_MS", SMISK_LIMIT_KEEPALIVE_TIMEOUT_MS);
    env_limit(server, "SMISK_TEST_LINGER_TIMEOUT_MS", SMISK_LIMIT_LINGER_TIMEOUT_MS);
    env_limit(server, "SMISK_TEST_LINGER_MAX_BYTES", SMISK_LIMIT_LINGER_MAX_BYTES);
    if (strcmp(argv[1], "-") != 0 &&
        smisk_server_bind(server, argv[1], strlen(argv[1]), 0) != SMISK_OK) {
        fprintf(stderr, "testapp: bind %s: %s\n", argv[1], smisk_last_error());
        return 1;
    }
    for (;;) {
        smisk_request *r = NULL;
        smisk_status st = smisk_server_accept(server, -1, &r);
        if (st == SMISK_ERR_INTERRUPTED) continue;
        if (st != SMISK_OK) {
            fprintf(stderr, "testapp: accept: %s\n", smisk_last_error());
            return 1;
        }
        st = serve(server, r);
        requests_served++;
        if (st == SMISK_ERR_ABORTED || smisk_request_is_aborted(r)) requests_aborted++;
        smisk_request_finish(r, st == SMISK_OK ? 0 : 1);
    }
}
