/* The key-value session store over the C API: a backend made of C
 * callbacks on a small in-memory table. Ids are checked before a callback
 * runs, values are framed (and verified when read back), the ttl reaches
 * set/touch, a failing callback is SMISK_ERR_IO with its message, a request
 * whose store is down is served without its session, release runs once,
 * and the frame pair round-trips. */
#include <stdlib.h>

#include "check.h"

#define SLOTS 4

typedef struct {
    char id[SMISK_SESSION_ID_LEN];
    uint8_t value[512];
    size_t len;
    int used;
} slot;

typedef struct {
    slot slots[SLOTS];
    int down;
    int calls;
    uint64_t last_ttl;
    int released;
} table;

static slot *find(table *t, const uint8_t *id, size_t n, int create) {
    int i;
    if (n != SMISK_SESSION_ID_LEN)
        return NULL;
    for (i = 0; i < SLOTS; i++)
        if (t->slots[i].used && memcmp(t->slots[i].id, id, n) == 0)
            return &t->slots[i];
    if (!create)
        return NULL;
    for (i = 0; i < SLOTS; i++)
        if (!t->slots[i].used) {
            memcpy(t->slots[i].id, id, n);
            t->slots[i].used = 1;
            return &t->slots[i];
        }
    return NULL;
}

static int32_t fail(table *t, smisk_session_reply *reply) {
    (void)t;
    smisk_session_reply_error(reply, (const uint8_t *)"connection refused", 18);
    return -1;
}

static int32_t kv_get(void *ctx, const uint8_t *id, size_t n, smisk_session_reply *reply) {
    table *t = ctx;
    slot *s;
    t->calls++;
    if (t->down)
        return fail(t, reply);
    s = find(t, id, n, 0);
    if (s != NULL)
        smisk_session_reply_value(reply, s->value, s->len);
    return 0;
}

static int32_t kv_set(void *ctx, const uint8_t *id, size_t n, const uint8_t *v, size_t vl, uint64_t ttl,
                      smisk_session_reply *reply) {
    table *t = ctx;
    slot *s;
    t->calls++;
    if (t->down || vl > sizeof(s->value))
        return fail(t, reply);
    s = find(t, id, n, 1);
    if (s == NULL)
        return fail(t, reply);
    memcpy(s->value, v, vl);
    s->len = vl;
    t->last_ttl = ttl;
    return 0;
}

static int32_t kv_touch(void *ctx, const uint8_t *id, size_t n, uint64_t ttl, smisk_session_reply *reply) {
    table *t = ctx;
    t->calls++;
    if (t->down)
        return fail(t, reply);
    t->last_ttl = ttl;
    return find(t, id, n, 0) != NULL ? 1 : 0;
}

static int32_t kv_remove(void *ctx, const uint8_t *id, size_t n, smisk_session_reply *reply) {
    table *t = ctx;
    slot *s;
    t->calls++;
    if (t->down)
        return fail(t, reply);
    s = find(t, id, n, 0);
    if (s != NULL)
        s->used = 0;
    return 0;
}

static void kv_release(void *ctx) {
    ((table *)ctx)->released++;
}

static smisk_session_store *open_store(table *t) {
    smisk_session_backend b;
    smisk_session_store *store = NULL;
    memset(&b, 0, sizeof b);
    b.ctx = t;
    b.get = kv_get;
    b.set = kv_set;
    b.touch = kv_touch;
    b.remove = kv_remove;
    b.release = kv_release;
    CHECK_OK(smisk_session_store_new_backend(&b, &store));
    return store;
}

static void test_store(void) {
    static table t;
    smisk_session_store *store = open_store(&t);
    uint8_t id[SMISK_SESSION_ID_LEN];
    size_t idlen = 0;
    uint8_t *data = NULL;
    size_t len = 0;
    uint64_t ttl = 0;
    smisk_session_backend none;

    memset(&none, 0, sizeof none);
    CHECK_STATUS(smisk_session_store_new_backend(&none, &store), SMISK_ERR_NULL);
    CHECK(smisk_session_store_is_file(store) == 0);
    CHECK_OK(smisk_session_id_new(id, sizeof id, &idlen));
    CHECK_STATUS(smisk_session_store_read(store, id, idlen, &data, &len), SMISK_ERR_NO_SESSION);
    CHECK_OK(smisk_session_store_write(store, id, idlen, (const uint8_t *)"payload", 7));
    CHECK(t.slots[0].used && t.slots[0].len == 7 + 40 && memcmp(t.slots[0].value, "\x89SMKSES\n", 8) == 0);
    CHECK(t.last_ttl == 900);
    CHECK_OK(smisk_session_store_read(store, id, idlen, &data, &len));
    CHECK(len == 7 && memcmp(data, "payload", 7) == 0);
    smisk_bytes_free(data, len);
    CHECK_OK(smisk_session_store_set_ttl(store, 60));
    CHECK_OK(smisk_session_store_get_ttl(store, &ttl));
    CHECK(ttl == 60);
    CHECK_OK(smisk_session_store_refresh(store, id, idlen));
    CHECK(t.last_ttl == 60);

    /* A flipped byte is no session; a malformed id never reaches a callback. */
    t.slots[0].value[30] ^= 1;
    CHECK_STATUS(smisk_session_store_read(store, id, idlen, &data, &len), SMISK_ERR_NO_SESSION);
    t.calls = 0;
    CHECK_STATUS(smisk_session_store_read(store, (const uint8_t *)"../x", 4, &data, &len), SMISK_ERR_SESSION_ID);
    CHECK_STATUS(smisk_session_store_write(store, (const uint8_t *)"A", 1, NULL, 0), SMISK_ERR_SESSION_ID);
    CHECK(t.calls == 0);

    /* File-only calls. */
    CHECK_STATUS(smisk_session_store_gc(store, NULL), SMISK_ERR_UNSUPPORTED);
    CHECK_STATUS(smisk_session_store_set_fsync(store, 1), SMISK_ERR_UNSUPPORTED);

    /* A failing server: SMISK_ERR_IO with the callback's message. */
    t.down = 1;
    CHECK_STATUS(smisk_session_store_read(store, id, idlen, &data, &len), SMISK_ERR_IO);
    CHECK(strstr(smisk_last_error(), "connection refused") != NULL);
    CHECK_STATUS(smisk_session_store_destroy(store, id, idlen), SMISK_ERR_IO);
    t.down = 0;
    CHECK_OK(smisk_session_store_destroy(store, id, idlen));
    CHECK(!t.slots[0].used);
    CHECK(t.released == 0);
    smisk_session_store_free(store);
    CHECK(t.released == 1);
}

static void test_request_when_down(void) {
    static table t;
    smisk_session_store *store = open_store(&t);
    smisk_session_state *state = NULL;
    uint8_t id[SMISK_SESSION_ID_LEN];
    size_t idlen = 0;
    uint8_t *data = NULL;
    size_t len = 0;
    int32_t has = 1, outcome = -1;

    CHECK_OK(smisk_session_id_new(id, sizeof id, &idlen));
    CHECK_OK(smisk_session_store_write(store, id, idlen, (const uint8_t *)"x", 1));
    t.down = 1;
    CHECK_OK(smisk_session_state_new(store, (const uint8_t *)"SID", 3, &state));
    smisk_session_store_free(store); /* the state keeps the store alive */
    CHECK(t.released == 0);
    CHECK_OK(smisk_session_state_add_cookie(state, id, idlen, NULL));
    CHECK_OK(smisk_session_state_load(state, &data, &len, &has));
    CHECK(has == 0 && data == NULL);
    CHECK_OK(smisk_session_state_cookie(state, 1, 0, &data, &len));
    CHECK(data == NULL && len == 0); /* the client's cookie is left alone */
    CHECK_STATUS(smisk_session_state_finish(state, (const uint8_t *)"y", 1, 1, &outcome), SMISK_ERR_IO);
    smisk_session_state_free(state);
    CHECK(t.released == 1);
    CHECK(t.slots[0].used && t.slots[0].len == 41); /* untouched */
}

static void test_frame(void) {
    uint8_t id[SMISK_SESSION_ID_LEN];
    size_t idlen = 0;
    uint8_t *framed = NULL, *payload = NULL;
    size_t flen = 0, plen = 0;
    CHECK_OK(smisk_session_id_new(id, sizeof id, &idlen));
    CHECK_OK(smisk_session_frame_encode(id, idlen, (const uint8_t *)"abc", 3, &framed, &flen));
    CHECK(flen == 43);
    CHECK_OK(smisk_session_frame_decode(id, idlen, framed, flen, &payload, &plen));
    CHECK(plen == 3 && memcmp(payload, "abc", 3) == 0);
    smisk_bytes_free(payload, plen);
    CHECK_STATUS(smisk_session_frame_decode(id, idlen, framed, flen - 1, &payload, &plen), SMISK_ERR_NO_SESSION);
    id[0] = id[0] == '0' ? '1' : '0';
    CHECK_STATUS(smisk_session_frame_decode(id, idlen, framed, flen, &payload, &plen), SMISK_ERR_NO_SESSION);
    CHECK_STATUS(smisk_session_frame_encode((const uint8_t *)"bad", 3, NULL, 0, &framed, &flen), SMISK_ERR_SESSION_ID);
    smisk_bytes_free(framed, flen);
}

int main(int argc, char **argv) {
    (void)argc;
    test_store();
    test_request_when_down();
    test_frame();
    return check_summary(argv[0]);
}
