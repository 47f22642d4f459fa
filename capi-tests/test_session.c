/* Session store, session ids and the per-request session state through the
 * C API: round trips, hostile ids, NULL arguments, ownership of returned
 * buffers (valgrind checks every one is released), cookie text, GC. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"

#define LIT(s) (const uint8_t *)(s), (sizeof(s) - 1)

static char base[] = "/tmp/smisk-capi-session-XXXXXX";
static char store_dir[128];

/* Removes every entry of store_dir, then the directories. */
static void cleanup(void) {
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
    if (system(cmd) != 0) {
        fprintf(stderr, "cleanup of %s failed\n", base);
    }
}

static size_t count_files(void) {
    char cmd[300];
    size_t n = 0;
    FILE *p;
    snprintf(cmd, sizeof cmd, "ls -A '%s' | wc -l", store_dir);
    p = popen(cmd, "r");
    if (p != NULL) {
        if (fscanf(p, "%zu", &n) != 1) {
            n = (size_t)-1;
        }
        pclose(p);
    }
    return n;
}

static void test_ids(void) {
    uint8_t id[SMISK_SESSION_ID_LEN];
    uint8_t id2[SMISK_SESSION_ID_LEN];
    uint8_t small[8];
    size_t n = 0;
    size_t i;
    CHECK_OK(smisk_session_id_new(id, sizeof id, &n));
    CHECK(n == SMISK_SESSION_ID_LEN);
    for (i = 0; i < n; i++) {
        CHECK((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'v'));
    }
    CHECK(smisk_session_id_is_valid(id, n) == 1);
    CHECK_OK(smisk_session_id_new(id2, sizeof id2, &n));
    CHECK(memcmp(id, id2, SMISK_SESSION_ID_LEN) != 0);
    CHECK_STATUS(smisk_session_id_new(small, sizeof small, &n), SMISK_ERR_BUFFER_TOO_SMALL);
    CHECK(n == SMISK_SESSION_ID_LEN);
    CHECK_STATUS(smisk_session_id_new(id, sizeof id, NULL), SMISK_ERR_NULL);

    CHECK(smisk_session_id_is_valid(LIT("0123456789abcdefghijklmnopqrstuv")) == 1);
    CHECK(smisk_session_id_is_valid(LIT("0123456789abcdefghijklmnopqrstuw")) == 0);
    CHECK(smisk_session_id_is_valid(LIT("../x")) == 0);
    CHECK(smisk_session_id_is_valid(LIT("")) == 0);
    CHECK(smisk_session_id_is_valid(LIT("0123456789abcdefghijklmnopqrst\r\n")) == 0);
    CHECK(smisk_session_id_is_valid(LIT("0123456789abcdefghijklmnopqrstu\0")) == 0);
    CHECK(smisk_session_id_is_valid(NULL, 32) == 0);
}

static void test_store(void) {
    smisk_session_store *store = NULL;
    uint8_t *data = NULL;
    size_t len = 99;
    uint8_t buf[256];
    uint64_t ttl = 0;
    double p = -1;
    int32_t fsync_on = -1;
    size_t max = 0;
    smisk_session_gc_stats stats;
    static const uint8_t payload[] = {'m', 'a', 'r', 0, 's', 'h', 'a', 'l'};
    const char *sid = "0123456789abcdefghijklmnopqrstuv";
    struct stat st;
    char path[256];

    CHECK_STATUS(smisk_session_store_new((const uint8_t *)store_dir, strlen(store_dir), NULL, 0,
                                         NULL),
                 SMISK_ERR_NULL);
    CHECK_STATUS(smisk_session_store_new((const uint8_t *)store_dir, strlen(store_dir), LIT("a/b"),
                                         &store),
                 SMISK_ERR_INVALID);
    CHECK(store == NULL); /* output written only on success */
    CHECK_OK(smisk_session_store_new((const uint8_t *)store_dir, strlen(store_dir), NULL, 0,
                                     &store));
    CHECK(store != NULL);
    CHECK(stat(store_dir, &st) == 0 && (st.st_mode & 0777) == 0700);

    CHECK_OK(smisk_session_store_dir(store, buf, sizeof buf, &len));
    CHECK(len == strlen(store_dir) && memcmp(buf, store_dir, len) == 0);
    CHECK_OK(smisk_session_store_file_prefix(store, buf, sizeof buf, &len));
    CHECK(len == strlen(store_dir) + 1 && buf[len - 1] == '/');
    CHECK_STATUS(smisk_session_store_dir(store, buf, 3, &len), SMISK_ERR_BUFFER_TOO_SMALL);
    CHECK(len == strlen(store_dir));

    CHECK_OK(smisk_session_store_get_ttl(store, &ttl));
    CHECK(ttl == 900);
    CHECK_OK(smisk_session_store_get_gc_probability(store, &p));
    CHECK(p > 0.099 && p < 0.101);
    CHECK_OK(smisk_session_store_get_fsync(store, &fsync_on));
    CHECK(fsync_on == 0);
    CHECK_OK(smisk_session_store_get_max_payload(store, &max));
    CHECK(max == 16u << 20);
    CHECK_STATUS(smisk_session_store_set_gc_probability(store, 2.0), SMISK_ERR_INVALID);
    CHECK_OK(smisk_session_store_set_gc_probability(store, 0.0));
    CHECK_OK(smisk_session_store_set_fsync(store, 1));
    CHECK_OK(smisk_session_store_get_fsync(store, &fsync_on));
    CHECK(fsync_on == 1);
    CHECK_OK(smisk_session_store_set_ttl(store, 60));
    CHECK_STATUS(smisk_session_store_get_ttl(NULL, &ttl), SMISK_ERR_NULL);

    /* Round trip, binary-safe. */
    CHECK_STATUS(smisk_session_store_read(store, (const uint8_t *)sid, 32, &data, &len),
                 SMISK_ERR_NO_SESSION);
    CHECK(data == NULL);
    CHECK_OK(smisk_session_store_write(store, (const uint8_t *)sid, 32, payload, sizeof payload));
    CHECK_OK(smisk_session_store_read(store, (const uint8_t *)sid, 32, &data, &len));
    CHECK(len == sizeof payload && data != NULL && memcmp(data, payload, len) == 0);
    smisk_bytes_free(data, len);
    snprintf(path, sizeof path, "%s/%s", store_dir, sid);
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
    CHECK_OK(smisk_session_store_refresh(store, (const uint8_t *)sid, 32));

    /* Empty payload is (NULL, 0). */
    CHECK_OK(smisk_session_store_write(store, (const uint8_t *)sid, 32, NULL, 0));
    data = (uint8_t *)1;
    CHECK_OK(smisk_session_store_read(store, (const uint8_t *)sid, 32, &data, &len));
    CHECK(data == NULL && len == 0);

    /* Hostile ids are rejected before any file is touched. */
    CHECK_STATUS(smisk_session_store_read(store, LIT("../x"), &data, &len), SMISK_ERR_SESSION_ID);
    CHECK_STATUS(smisk_session_store_write(store, LIT("../../etc/passwd"), payload, 1),
                 SMISK_ERR_SESSION_ID);
    CHECK_STATUS(smisk_session_store_refresh(store, LIT("a/b")), SMISK_ERR_SESSION_ID);
    CHECK_STATUS(smisk_session_store_destroy(store, LIT("")), SMISK_ERR_SESSION_ID);
    CHECK_STATUS(smisk_session_store_destroy(store, LIT("0123456789abcdefghijklmnopqrstu\0")),
                 SMISK_ERR_SESSION_ID);
    CHECK(strstr(smisk_last_error(), "invalid session id") != NULL);
    CHECK(strcmp(smisk_status_str(SMISK_ERR_NO_SESSION),
                 "no session (missing, expired or does not verify)") == 0);
    CHECK(strcmp(smisk_status_str(SMISK_ERR_SESSION_ID), "malformed session id") == 0);
    CHECK_STATUS(smisk_session_store_read(store, NULL, 32, &data, &len), SMISK_ERR_NULL);
    CHECK_STATUS(smisk_session_store_read(store, (const uint8_t *)sid, 32, NULL, &len),
                 SMISK_ERR_NULL);

    /* Limits. */
    CHECK_OK(smisk_session_store_set_max_payload(store, 4));
    CHECK_STATUS(smisk_session_store_write(store, (const uint8_t *)sid, 32, payload, 5),
                 SMISK_ERR_TOO_LARGE);
    CHECK_OK(smisk_session_store_set_max_payload(store, 16u << 20));

    /* GC with nothing expired, then destroy. */
    CHECK_OK(smisk_session_store_gc(store, &stats));
    CHECK(stats.scanned == 1 && stats.removed_sessions == 0 && stats.removed_temps == 0);
    CHECK_OK(smisk_session_store_gc(store, NULL));
    CHECK_OK(smisk_session_store_destroy(store, (const uint8_t *)sid, 32));
    CHECK_OK(smisk_session_store_destroy(store, (const uint8_t *)sid, 32));
    CHECK_STATUS(smisk_session_store_refresh(store, (const uint8_t *)sid, 32),
                 SMISK_ERR_NO_SESSION);
    CHECK(count_files() == 0);

    smisk_session_store_free(store);
    smisk_session_store_free(NULL);
}

static void test_legacy_prefix(void) {
    smisk_session_store *store = NULL;
    char fp[200];
    uint8_t buf[256];
    size_t len = 0;
    CHECK_STATUS(smisk_session_store_new_file_prefix(LIT("no-slash"), &store), SMISK_ERR_INVALID);
    CHECK_STATUS(smisk_session_store_new_file_prefix(LIT("/tmp/smisk-sess."), &store),
                 SMISK_ERR_INVALID);
    CHECK(store == NULL);
    snprintf(fp, sizeof fp, "%s/legacy/smisk-sess.", base);
    CHECK_OK(smisk_session_store_new_file_prefix((const uint8_t *)fp, strlen(fp), &store));
    CHECK_OK(smisk_session_store_file_prefix(store, buf, sizeof buf, &len));
    CHECK(len == strlen(fp) && memcmp(buf, fp, len) == 0);
    smisk_session_store_free(store);
}

static void test_request_flow(void) {
    smisk_session_store *store = NULL;
    smisk_session_state *state = NULL;
    uint8_t *data = NULL;
    size_t len = 0;
    int32_t has = -1;
    int32_t kept = -1;
    int32_t outcome = -1;
    uint8_t id[SMISK_SESSION_ID_LEN];
    uint8_t id2[SMISK_SESSION_ID_LEN];
    size_t id_len = 0;
    char expect[200];

    CHECK_OK(smisk_session_store_new((const uint8_t *)store_dir, strlen(store_dir), NULL, 0,
                                     &store));
    CHECK_OK(smisk_session_store_set_gc_probability(store, 0.0));
    CHECK_STATUS(smisk_session_state_new(store, LIT("S ID"), &state), SMISK_ERR_INVALID);
    CHECK_STATUS(smisk_session_state_new(store, LIT("SID\r\nX"), &state), SMISK_ERR_INVALID);

    /* Request 1: no cookie, session read, then data set. */
    CHECK_OK(smisk_session_state_new(store, LIT("SID"), &state));
    CHECK_OK(smisk_session_state_add_cookie(state, LIT("../../etc/passwd"), &kept));
    CHECK(kept == 0);
    CHECK_OK(smisk_session_state_load(state, &data, &len, &has));
    CHECK(has == 0 && data == NULL && len == 0);
    CHECK(count_files() == 0); /* reading creates nothing */
    CHECK_OK(smisk_session_state_id(state, 0, id, sizeof id, &id_len));
    CHECK(id_len == 0);
    CHECK_OK(smisk_session_state_cookie(state, 1, 0, &data, &len));
    CHECK(data != NULL && len == 4 + 32 + 32);
    CHECK(memcmp(data, "SID=", 4) == 0);
    memcpy(id, data + 4, 32);
    CHECK(smisk_session_id_is_valid(id, 32) == 1);
    CHECK(memcmp(data + 36, "; Path=/; HttpOnly; SameSite=Lax", 32) == 0);
    CHECK(memchr(data, '\r', len) == NULL && memchr(data, '\n', len) == NULL);
    smisk_bytes_free(data, len);
    CHECK_OK(smisk_session_state_finish(state, LIT("payload-1"), 1, &outcome));
    CHECK(outcome == SMISK_SESSION_WRITTEN);
    CHECK_STATUS(smisk_session_state_finish(state, NULL, 0, 0, NULL), SMISK_ERR_STATE);
    smisk_session_state_free(state);
    CHECK(count_files() == 1);

    /* Request 2: cookie sent twice (stale first), unchanged data → refresh. */
    CHECK_OK(smisk_session_state_new(store, LIT("SID"), &state));
    CHECK_OK(smisk_session_state_add_cookie(state, LIT("vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv"), &kept));
    CHECK(kept == 1);
    CHECK_OK(smisk_session_state_add_cookie(state, id, 32, NULL));
    CHECK_OK(smisk_session_state_load(state, &data, &len, &has));
    CHECK(has == 1);
    CHECK_MEM(data, len, "payload-1");
    smisk_bytes_free(data, len);
    CHECK_OK(smisk_session_state_id(state, 0, id2, sizeof id2, &id_len));
    CHECK(id_len == 32 && memcmp(id, id2, 32) == 0);
    CHECK_STATUS(smisk_session_state_id(state, 0, id2, 31, &id_len), SMISK_ERR_BUFFER_TOO_SMALL);
    CHECK(id_len == 32);
    CHECK_OK(smisk_session_state_cookie(state, 1, 1, &data, &len));
    CHECK(data == NULL && len == 0); /* the client already has the id */
    CHECK_OK(smisk_session_state_finish(state, LIT("payload-1"), 1, &outcome));
    CHECK(outcome == SMISK_SESSION_REFRESHED);
    smisk_session_state_free(state);

    /* Request 3: re-key (validated), then destroy under HTTPS. */
    CHECK_OK(smisk_session_state_new(store, LIT("SID"), &state));
    CHECK_OK(smisk_session_state_add_cookie(state, id, 32, NULL));
    CHECK_STATUS(smisk_session_state_set_id(state, LIT("x\r\nSet-Cookie: a=b")),
                 SMISK_ERR_SESSION_ID);
    CHECK_OK(smisk_session_state_destroy(state));
    CHECK(count_files() == 0);
    CHECK_OK(smisk_session_state_cookie(state, 0, 1, &data, &len));
    snprintf(expect, sizeof expect, "%s",
             "SID=; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Secure; "
             "HttpOnly; SameSite=Lax");
    CHECK(len == strlen(expect) && memcmp(data, expect, len) == 0);
    smisk_bytes_free(data, len);
    CHECK_OK(smisk_session_state_finish(state, NULL, 0, 0, &outcome));
    CHECK(outcome == SMISK_SESSION_NOTHING);
    smisk_session_state_free(state);

    /* The state keeps the store alive after smisk_session_store_free. */
    CHECK_OK(smisk_session_state_new(store, LIT("SID"), &state));
    smisk_session_store_free(store);
    CHECK_OK(smisk_session_state_id(state, 1, id2, sizeof id2, &id_len));
    CHECK(id_len == 32 && smisk_session_id_is_valid(id2, 32) == 1);
    CHECK_OK(smisk_session_state_finish(state, NULL, 0, 0, &outcome));
    CHECK(outcome == SMISK_SESSION_NOTHING);
    smisk_session_state_free(state);
    smisk_session_state_free(NULL);
    CHECK(count_files() == 0);
}

int main(int argc, char **argv) {
    (void)argc;
    if (mkdtemp(base) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(store_dir, sizeof store_dir, "%s/store", base);
    test_ids();
    test_store();
    test_legacy_prefix();
    test_request_flow();
    cleanup();
    return check_summary(argv[0]);
}
