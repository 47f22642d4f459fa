/* Request bodies from C: the multipart push parser (any chunking, events,
 * errors) and the request-level form API (read callback, fields, spooled
 * files, keep, cleanup on free and on every error). Run under valgrind. */
#include <dirent.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"

static const char BODY[] =
    "preamble\r\n"
    "--XyZ\r\n"
    "Content-Disposition: form-data; name=\"a;b\"\r\n"
    "\r\n"
    "v1\r\n"
    "--XyZ\r\n"
    "Content-Disposition: form-data; name=\"up\"; filename=\"x.bin\"\r\n"
    "Content-Type: application/octet-stream\r\n"
    "\r\n"
    "\r\n--Xy\0\r\n\n\r\n"
    "--XyZ\r\n"
    "Content-Disposition: form-data; name=\"empty\"\r\n"
    "\r\n"
    "\r\n"
    "--XyZ\r\n"
    "Content-Disposition: form-data; name=\"nofile\"; filename=\"\"\r\n"
    "\r\n"
    "\r\n"
    "--XyZ--\r\n"
    "epilogue";
#define BODY_LEN (sizeof BODY - 1)
static const uint8_t FILE_DATA[] = "\r\n--Xy\0\r\n\n";
#define FILE_LEN (sizeof FILE_DATA - 1)

/* Feeds BODY in chunks of `chunk` bytes and checks the event sequence. */
static void parse_in_chunks(size_t chunk) {
    smisk_multipart *p = NULL;
    CHECK_OK(smisk_multipart_new((const uint8_t *)"XyZ", 3, 0, 0, &p));
    uint8_t data[4][64];
    size_t data_len[4] = {0, 0, 0, 0};
    int begins = 0, ends = 0, closes = 0, part = -1;
    for (size_t off = 0; off < BODY_LEN; off += chunk) {
        size_t n = BODY_LEN - off < chunk ? BODY_LEN - off : chunk;
        const uint8_t *in = (const uint8_t *)BODY + off;
        for (int guard = 0; guard < 1000; guard++) {
            size_t used = 0;
            smisk_multipart_event ev;
            if (smisk_multipart_next(p, in, n, &used, &ev) != SMISK_OK) {
                CHECK(0);
                break;
            }
            in += used;
            n -= used;
            if (ev.kind == SMISK_MULTIPART_NEED_MORE) {
                CHECK(n == 0);
                break;
            }
            if (ev.kind == SMISK_MULTIPART_PART_BEGIN) {
                part = begins++;
                CHECK(ev.has_name);
                if (part == 0) {
                    CHECK_MEM(ev.name, ev.name_len, "a;b");
                    CHECK(!ev.has_filename && !ev.has_content_type);
                } else if (part == 1) {
                    CHECK(ev.has_filename && ev.has_content_type);
                    CHECK_MEM(ev.filename, ev.filename_len, "x.bin");
                    CHECK_MEM(ev.content_type, ev.content_type_len, "application/octet-stream");
                    CHECK(ev.headers_len > 0 && memcmp(ev.headers, "Content-Disposition", 19) == 0);
                } else if (part == 3) {
                    CHECK(ev.has_filename && ev.filename_len == 0);
                }
            } else if (ev.kind == SMISK_MULTIPART_DATA) {
                CHECK(part >= 0 && part < 4 && ev.data_len > 0);
                if (part >= 0 && part < 4 && data_len[part] + ev.data_len <= sizeof data[0]) {
                    memcpy(data[part] + data_len[part], ev.data, ev.data_len);
                    data_len[part] += ev.data_len;
                }
            } else if (ev.kind == SMISK_MULTIPART_PART_END) {
                ends++;
            } else if (ev.kind == SMISK_MULTIPART_END) {
                closes++;
            }
        }
    }
    CHECK(begins == 4 && ends == 4 && closes == 1);
    CHECK_MEM(data[0], data_len[0], "v1");
    CHECK(data_len[1] == FILE_LEN && memcmp(data[1], FILE_DATA, FILE_LEN) == 0);
    CHECK(data_len[2] == 0 && data_len[3] == 0);
    CHECK_OK(smisk_multipart_finish(p));
    smisk_multipart_free(p);
}

static void parser_errors(void) {
    smisk_multipart *p = NULL;
    size_t off = 0, len = 0, used = 0;
    smisk_multipart_event ev;
    const char ct[] = "multipart/form-data; boundary=\"XyZ\"";
    CHECK_OK(smisk_multipart_boundary((const uint8_t *)ct, sizeof ct - 1, &off, &len));
    CHECK(len == 3 && memcmp(ct + off, "XyZ", 3) == 0);
    CHECK_STATUS(smisk_multipart_boundary((const uint8_t *)"multipart/form-data", 19, &off, &len),
                 SMISK_ERR_MULTIPART_BOUNDARY);
    CHECK_STATUS(smisk_multipart_new((const uint8_t *)"a\r\nb", 4, 0, 0, &p),
                 SMISK_ERR_MULTIPART_BOUNDARY);
    CHECK(p == NULL);
    CHECK_STATUS(smisk_multipart_new(NULL, 3, 0, 0, &p), SMISK_ERR_NULL);

    /* LF-only framing: malformed, and the error sticks. */
    CHECK_OK(smisk_multipart_new((const uint8_t *)"XyZ", 3, 0, 0, &p));
    const char lf[] = "--XyZ\nContent-Disposition: form-data; name=\"a\"\n\nv\n--XyZ--\n";
    CHECK_STATUS(smisk_multipart_next(p, (const uint8_t *)lf, sizeof lf - 1, &used, &ev),
                 SMISK_ERR_MULTIPART_MALFORMED);
    CHECK_STATUS(smisk_multipart_finish(p), SMISK_ERR_MULTIPART_MALFORMED);
    CHECK_STATUS(smisk_multipart_next(NULL, NULL, 0, &used, &ev), SMISK_ERR_NULL);
    smisk_multipart_free(p);

    /* Truncated body. */
    CHECK_OK(smisk_multipart_new((const uint8_t *)"XyZ", 3, 0, 0, &p));
    CHECK_OK(smisk_multipart_next(p, (const uint8_t *)"--XyZ\r\n", 7, &used, &ev));
    CHECK(used == 7 && ev.kind == SMISK_MULTIPART_NEED_MORE);
    CHECK_STATUS(smisk_multipart_finish(p), SMISK_ERR_BODY_TRUNCATED);
    smisk_multipart_free(p);

    /* Header cap of 32 bytes. */
    CHECK_OK(smisk_multipart_new((const uint8_t *)"XyZ", 3, 0, 32, &p));
    const char big[] = "--XyZ\r\nX-Long-Header: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    CHECK_STATUS(smisk_multipart_next(p, (const uint8_t *)big, sizeof big - 1, &used, &ev),
                 SMISK_ERR_PART_HEADER_TOO_LARGE);
    smisk_multipart_free(p);

    /* Part cap of 1. */
    CHECK_OK(smisk_multipart_new((const uint8_t *)"XyZ", 3, 1, 0, &p));
    const char two[] = "--XyZ\r\n\r\na\r\n--XyZ\r\n\r\nb\r\n--XyZ--";
    const uint8_t *in = (const uint8_t *)two;
    size_t n = sizeof two - 1;
    smisk_status st = SMISK_OK;
    for (int i = 0; i < 20 && st == SMISK_OK; i++) {
        st = smisk_multipart_next(p, in, n, &used, &ev);
        if (st == SMISK_OK) {
            in += used;
            n -= used;
            if (ev.kind == SMISK_MULTIPART_NEED_MORE) break;
        }
    }
    CHECK(st == SMISK_ERR_TOO_MANY_PARTS);
    smisk_multipart_free(p);
    smisk_multipart_free(NULL);
}

/* A read callback over a memory buffer, `step` bytes at most per call. */
typedef struct {
    const uint8_t *data;
    size_t len, pos, step;
    int fail_at_end;
} mem_source;

static int64_t mem_read(void *ctx, uint8_t *buf, size_t cap) {
    mem_source *s = ctx;
    size_t n = s->len - s->pos;
    if (n == 0 && s->fail_at_end) return -1;
    if (n > cap) n = cap;
    if (n > s->step) n = s->step;
    memcpy(buf, s->data + s->pos, n);
    s->pos += n;
    return (int64_t)n;
}

static int count_dir(const char *dir) {
    DIR *d = opendir(dir);
    int n = 0;
    if (!d) return -1;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) n++;
    }
    closedir(d);
    return n;
}

static const char CT[] = "multipart/form-data; boundary=XyZ";

static void form_multipart(const char *dir) {
    mem_source src = {(const uint8_t *)BODY, BODY_LEN, 0, 5, 0};
    char cl[32];
    snprintf(cl, sizeof cl, "%zu", (size_t)BODY_LEN);
    smisk_form *form = NULL;
    CHECK_OK(smisk_form_parse((const uint8_t *)CT, sizeof CT - 1, (const uint8_t *)cl, strlen(cl),
                              NULL, (const uint8_t *)dir, strlen(dir), mem_read, &src, &form));
    CHECK(src.pos == BODY_LEN);
    CHECK(smisk_form_get_kind(form) == SMISK_FORM_MULTIPART);
    CHECK(smisk_form_bytes_read(form) == BODY_LEN);
    CHECK(smisk_form_field_count(form) == 2);
    const uint8_t *name, *value;
    size_t name_len, value_len;
    bool has_value = false;
    CHECK_OK(smisk_form_field_at(form, 0, &name, &name_len, &value, &value_len, &has_value));
    CHECK_MEM(name, name_len, "a;b");
    CHECK_MEM(value, value_len, "v1");
    CHECK(has_value);
    CHECK_OK(smisk_form_field_at(form, 1, &name, &name_len, &value, &value_len, &has_value));
    CHECK_MEM(name, name_len, "empty");
    CHECK(value_len == 0 && has_value);
    CHECK_STATUS(smisk_form_field_at(form, 2, &name, &name_len, &value, &value_len, &has_value),
                 SMISK_ERR_NOT_FOUND);

    CHECK(smisk_form_file_count(form) == 1); /* the empty file input is skipped */
    smisk_form_file f;
    CHECK_OK(smisk_form_file_at(form, 0, &f));
    CHECK_MEM(f.name, f.name_len, "up");
    CHECK_MEM(f.filename, f.filename_len, "x.bin");
    CHECK_MEM(f.content_type, f.content_type_len, "application/octet-stream");
    CHECK(f.size == FILE_LEN);
    CHECK(strlen(f.path) == f.path_len && strncmp(f.path, dir, strlen(dir)) == 0);
    struct stat st;
    CHECK(stat(f.path, &st) == 0 && (st.st_mode & 0777) == 0600 && (size_t)st.st_size == FILE_LEN);
    FILE *fp = fopen(f.path, "rb");
    uint8_t got[64];
    size_t n = fp ? fread(got, 1, sizeof got, fp) : 0;
    if (fp) fclose(fp);
    CHECK(n == FILE_LEN && memcmp(got, FILE_DATA, FILE_LEN) == 0);
    CHECK_STATUS(smisk_form_file_at(form, 1, &f), SMISK_ERR_NOT_FOUND);
    CHECK(count_dir(dir) == 1);
    smisk_form_free(form);
    CHECK(count_dir(dir) == 0);

    /* A kept file survives smisk_form_free(). */
    src.pos = 0;
    CHECK_OK(smisk_form_parse((const uint8_t *)CT, sizeof CT - 1, NULL, 0, NULL,
                              (const uint8_t *)dir, strlen(dir), mem_read, &src, &form));
    CHECK_OK(smisk_form_file_keep(form, 0));
    CHECK_STATUS(smisk_form_file_keep(form, 9), SMISK_ERR_NOT_FOUND);
    char kept[4096];
    CHECK_OK(smisk_form_file_at(form, 0, &f));
    snprintf(kept, sizeof kept, "%s", f.path);
    smisk_form_free(form);
    CHECK(count_dir(dir) == 1);
    CHECK(unlink(kept) == 0);
}

static void form_errors(const char *dir) {
    smisk_form *form = NULL;
    smisk_form_limits lim;
    CHECK_OK(smisk_form_limits_default(&lim));
    CHECK(lim.max_multipart_size == 2147483648LL && lim.max_formdata_size == 10485760LL);
    CHECK(lim.max_parts == 1000 && lim.max_part_header_bytes == 16384 && lim.max_fields == 1000);

    /* Every prefix of the body with a CONTENT_LENGTH promising all of it:
     * truncated, and no temp file left behind. */
    char cl[32];
    snprintf(cl, sizeof cl, "%zu", (size_t)BODY_LEN);
    for (size_t cut = 0; cut < BODY_LEN; cut += 9) {
        mem_source src = {(const uint8_t *)BODY, cut, 0, 4, 0};
        CHECK_STATUS(smisk_form_parse((const uint8_t *)CT, sizeof CT - 1, (const uint8_t *)cl,
                                      strlen(cl), NULL, (const uint8_t *)dir, strlen(dir),
                                      mem_read, &src, &form),
                     SMISK_ERR_BODY_TRUNCATED);
        CHECK(count_dir(dir) == 0);
    }
    CHECK(form == NULL);

    /* Whole-body limit with unknown length: hit mid-file, files removed. */
    lim.max_multipart_size = 200;
    mem_source src = {(const uint8_t *)BODY, BODY_LEN, 0, 3, 0};
    CHECK_STATUS(smisk_form_parse((const uint8_t *)CT, sizeof CT - 1, NULL, 0, &lim,
                                  (const uint8_t *)dir, strlen(dir), mem_read, &src, &form),
                 SMISK_ERR_BODY_TOO_LARGE);
    CHECK(src.pos <= 201);
    CHECK(count_dir(dir) == 0);
    CHECK(smisk_status_is_too_large(SMISK_ERR_BODY_TOO_LARGE));
    CHECK(smisk_status_is_too_large(SMISK_ERR_FIELD_TOO_LARGE));
    CHECK(!smisk_status_is_too_large(SMISK_ERR_BODY_TRUNCATED));
    CHECK(!smisk_status_is_too_large(-5));

    /* The read callback fails. */
    CHECK_OK(smisk_form_limits_default(&lim));
    mem_source bad = {(const uint8_t *)BODY, 150, 0, 64, 1};
    CHECK_STATUS(smisk_form_parse((const uint8_t *)CT, sizeof CT - 1, NULL, 0, &lim,
                                  (const uint8_t *)dir, strlen(dir), mem_read, &bad, &form),
                 SMISK_ERR_IO);
    CHECK(count_dir(dir) == 0);

    /* Url-encoded: fields, the too-large check before reading, limit 0. */
    const char ue[] = "application/x-www-form-urlencoded";
    const char q[] = "a=1&b=x+y%21&flag";
    mem_source qs = {(const uint8_t *)q, sizeof q - 1, 0, 2, 0};
    CHECK_OK(smisk_form_parse((const uint8_t *)ue, sizeof ue - 1, NULL, 0, NULL, NULL, 0, mem_read,
                              &qs, &form));
    CHECK(smisk_form_get_kind(form) == SMISK_FORM_URLENCODED && smisk_form_field_count(form) == 3);
    const uint8_t *name, *value;
    size_t name_len, value_len;
    bool has_value = true;
    CHECK_OK(smisk_form_field_at(form, 1, &name, &name_len, &value, &value_len, &has_value));
    CHECK_MEM(value, value_len, "x y!");
    CHECK_OK(smisk_form_field_at(form, 2, &name, &name_len, &value, &value_len, &has_value));
    CHECK_MEM(name, name_len, "flag");
    CHECK(!has_value && value == NULL);
    smisk_form_free(form);

    lim.max_formdata_size = 4;
    qs.pos = 0;
    CHECK_STATUS(smisk_form_parse((const uint8_t *)ue, sizeof ue - 1, (const uint8_t *)"17", 2, &lim,
                                  NULL, 0, mem_read, &qs, &form),
                 SMISK_ERR_BODY_TOO_LARGE);
    CHECK(qs.pos == 0);
    lim.max_formdata_size = 0;
    CHECK_OK(smisk_form_parse((const uint8_t *)ue, sizeof ue - 1, NULL, 0, &lim, NULL, 0, mem_read,
                              &qs, &form));
    CHECK(smisk_form_get_kind(form) == SMISK_FORM_UNPARSED && qs.pos == 0);
    smisk_form_free(form);

    CHECK_STATUS(smisk_form_parse((const uint8_t *)ue, sizeof ue - 1, (const uint8_t *)"1x", 2, NULL,
                                  NULL, 0, mem_read, &qs, &form),
                 SMISK_ERR_INVALID);
    CHECK_STATUS(smisk_form_parse(NULL, 0, NULL, 0, NULL, NULL, 0, NULL, NULL, &form),
                 SMISK_ERR_NULL);
    CHECK(smisk_form_get_kind(NULL) == SMISK_FORM_UNPARSED);
    CHECK(smisk_form_field_count(NULL) == 0 && smisk_form_file_count(NULL) == 0);
    smisk_form_free(NULL);
}

int main(int argc, char **argv) {
    (void)argc;
    const size_t chunks[] = {1, 2, 3, 5, 8, 13, 64, 4096};
    for (size_t i = 0; i < sizeof chunks / sizeof chunks[0]; i++) parse_in_chunks(chunks[i]);
    parser_errors();

    char dir[] = "/tmp/smisk-capi-multipart-XXXXXX";
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    form_multipart(dir);
    form_errors(dir);
    CHECK(count_dir(dir) == 0);
    rmdir(dir);
    return check_summary(argv[0]);
}
