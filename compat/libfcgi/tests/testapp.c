/*
 * The test program the integration tests drive through the drop-in (and,
 * for comparison, through Debian's libfcgi): tests/apps/testapp.c's
 * routes, written on libfcgi's FCGX interface.
 *
 *   /hello     "Hello World!\n"
 *   /echo      reads the body; "len=N crc=HEX\n" (CRC-32, zlib's);
 *              /echo?lines reads it with FCGX_GetLine, /echo?chars with
 *              FCGX_GetChar (pushing every byte back once with
 *              FCGX_UnGetChar and reading it again)
 *   /mirror    streams the body back as it arrives (full duplex)
 *   /big?N     N bytes of the pattern (i % 251), in 16 KiB writes
 *   /stderr    a line on the error stream, "ok\n" on stdout
 *   /env       every param, "name=value\n"
 *   /stats     "requests=N aborted=M conns=0 rss_kb=K\n" (libfcgi has no
 *              connection count)
 *   /nothing   writes nothing at all
 *
 * A request whose body could not be read or whose answer could not be
 * written counts as aborted and ends with exit status 1.
 *
 * Usage: testapp ADDRESS   (FCGX_OpenSocket's syntax; "-": fd 0)
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fcgiapp.h"

static unsigned long requests_served, requests_aborted;

static uint32_t crc32_update(uint32_t crc, const unsigned char *p, size_t n) {
    crc = ~crc;
    while (n--) {
        int k;
        crc ^= *p++;
        for (k = 0; k < 8; k++) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

static long rss_kb(void) {
    char line[256];
    long kb = -1;
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0) kb = strtol(line + 6, NULL, 10);
    fclose(f);
    return kb;
}

static int is(FCGX_Request *r, const char *name, const char *value) {
    const char *v = FCGX_GetParam(name, r->envp);
    return v && strcmp(v, value) == 0;
}

static long query_number(FCGX_Request *r) {
    const char *q = FCGX_GetParam("QUERY_STRING", r->envp);
    return q ? strtol(q, NULL, 10) : 0;
}

/* 0, or -1 once a write failed. */
static int text(FCGX_Request *r, const char *body) {
    if (FCGX_PutS("Content-Type: text/plain\r\n\r\n", r->out) < 0) return -1;
    return FCGX_PutS(body, r->out) < 0 ? -1 : 0;
}

static int serve(FCGX_Request *r) {
    static char buf[65536];
    char line[256];
    if (is(r, "SCRIPT_NAME", "/hello")) return text(r, "Hello World!\n");
    if (is(r, "SCRIPT_NAME", "/echo")) {
        uint32_t crc = 0;
        unsigned long long len = 0;
        int n;
        if (is(r, "QUERY_STRING", "lines")) {
            while (FCGX_GetLine(buf, 1000, r->in) != NULL) {
                n = (int)strlen(buf);
                crc = crc32_update(crc, (const unsigned char *)buf, (size_t)n);
                len += (unsigned long long)n;
            }
        } else if (is(r, "QUERY_STRING", "chars")) {
            while ((n = FCGX_GetChar(r->in)) != EOF) {
                unsigned char c;
                if (FCGX_UnGetChar(n, r->in) != n || FCGX_GetChar(r->in) != n) return -1;
                c = (unsigned char)n;
                crc = crc32_update(crc, &c, 1);
                len++;
            }
        } else {
            while ((n = FCGX_GetStr(buf, (int)sizeof buf, r->in)) > 0) {
                crc = crc32_update(crc, (const unsigned char *)buf, (size_t)n);
                len += (unsigned long long)n;
            }
        }
        if (FCGX_GetError(r->in) != 0) return -1;
        snprintf(line, sizeof line, "len=%llu crc=%08x\n", len, (unsigned)crc);
        return text(r, line);
    }
    if (is(r, "SCRIPT_NAME", "/mirror")) {
        int n;
        if (text(r, "") < 0) return -1;
        while ((n = FCGX_GetStr(buf, (int)sizeof buf, r->in)) > 0)
            if (FCGX_PutStr(buf, n, r->out) < 0) return -1;
        return FCGX_GetError(r->in) != 0 ? -1 : 0;
    }
    if (is(r, "SCRIPT_NAME", "/big")) {
        long total = query_number(r), sent = 0;
        if (text(r, "") < 0) return -1;
        while (sent < total) {
            long chunk = total - sent < 16384 ? total - sent : 16384, i;
            for (i = 0; i < chunk; i++) buf[i] = (char)((sent + i) % 251);
            if (FCGX_PutStr(buf, (int)chunk, r->out) < 0) return -1;
            sent += chunk;
        }
        return 0;
    }
    if (is(r, "SCRIPT_NAME", "/stderr")) {
        FCGX_PutS("testapp: a line for the error log\n", r->err);
        return text(r, "ok\n");
    }
    if (is(r, "SCRIPT_NAME", "/env")) {
        char **e;
        if (text(r, "") < 0) return -1;
        for (e = r->envp; *e; e++)
            if (FCGX_FPrintF(r->out, "%s\n", *e) < 0) return -1;
        return 0;
    }
    if (is(r, "SCRIPT_NAME", "/stats")) {
        snprintf(line, sizeof line, "requests=%lu aborted=%lu conns=0 rss_kb=%ld\n", requests_served,
                 requests_aborted, rss_kb());
        return text(r, line);
    }
    if (is(r, "SCRIPT_NAME", "/nothing")) return 0;
    if (FCGX_PutS("Status: 404 Not Found\r\n", r->out) < 0) return -1;
    return text(r, "no such route\n");
}

int main(int argc, char **argv) {
    FCGX_Request r;
    int sock = 0;
    if (argc != 2) {
        fprintf(stderr, "usage: %s ADDRESS|-\n", argv[0]);
        return 2;
    }
    FCGX_Init();
    if (strcmp(argv[1], "-") != 0) {
        sock = FCGX_OpenSocket(argv[1], 0);
        if (sock < 0) {
            perror("testapp: FCGX_OpenSocket");
            return 1;
        }
    }
    FCGX_InitRequest(&r, sock, 0);
    while (FCGX_Accept_r(&r) >= 0) {
        int failed = serve(&r) < 0 || FCGX_GetError(r.out) != 0;
        requests_served++;
        if (failed) {
            requests_aborted++;
            FCGX_SetExitStatus(1, r.out);
        }
        FCGX_Finish_r(&r);
    }
    FCGX_Free(&r, 1);
    return 0;
}
