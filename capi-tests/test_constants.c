/* Every constant smisk.h defines, used from C: its value, and its C type
 * where the value needs more than an int (the 2 GiB form limit once read as
 * -2147483648 here). tests/test_header.py checks that each SMISK_ macro of
 * the header is named in this file, so a new constant needs a check. */
#include <stdint.h>
#include <unistd.h>

#include <string.h>

#include "check.h"

/* C99 has no _Static_assert: a negative array size fails the build. */
#define STATIC_CHECK(name, cond) typedef char static_check_##name[(cond) ? 1 : -1]

STATIC_CHECK(multipart_size_is_64_bit, sizeof(SMISK_DEFAULT_MAX_MULTIPART_SIZE) == 8);
STATIC_CHECK(multipart_size_is_positive, SMISK_DEFAULT_MAX_MULTIPART_SIZE > 0);
STATIC_CHECK(formdata_size_is_64_bit, sizeof(SMISK_DEFAULT_MAX_FORMDATA_SIZE) == 8);

static int fork_phase_seen[3];

static void count_phase(void *ctx, int phase) {
    (void)ctx;
    if (phase >= 0 && phase < 3) fork_phase_seen[phase]++;
}

static int never_called(void *ctx, smisk_request *r) {
    (void)ctx;
    (void)r;
    return 0;
}

static void check_form_defaults(void) {
    CHECK(SMISK_DEFAULT_MAX_MULTIPART_SIZE == (int64_t)2 * 1024 * 1024 * 1024);
    CHECK(SMISK_DEFAULT_MAX_FORMDATA_SIZE == (int64_t)10 * 1024 * 1024);
    CHECK(SMISK_DEFAULT_MAX_PARTS == 1000);
    CHECK(SMISK_DEFAULT_MAX_PART_HEADER_BYTES == 16 * 1024);
    CHECK(SMISK_MAX_FIELDS_DEFAULT == 1000);
    CHECK(SMISK_MAX_BOUNDARY_LEN == 200);
    /* The macros are what the library uses when nothing is configured. */
    smisk_form_limits d;
    CHECK_OK(smisk_form_limits_default(&d));
    CHECK(d.max_multipart_size == SMISK_DEFAULT_MAX_MULTIPART_SIZE);
    CHECK(d.max_formdata_size == SMISK_DEFAULT_MAX_FORMDATA_SIZE);
    CHECK(d.max_parts == SMISK_DEFAULT_MAX_PARTS);
    CHECK(d.max_part_header_bytes == SMISK_DEFAULT_MAX_PART_HEADER_BYTES);
    CHECK(d.max_fields == SMISK_MAX_FIELDS_DEFAULT);
    /* A boundary of exactly the maximum is taken, one byte more is not. */
    char boundary[SMISK_MAX_BOUNDARY_LEN + 1];
    memset(boundary, 'b', sizeof boundary);
    smisk_multipart *p = NULL;
    CHECK_OK(smisk_multipart_new((const uint8_t *)boundary, SMISK_MAX_BOUNDARY_LEN, 0, 0, &p));
    smisk_multipart_free(p);
    p = NULL;
    CHECK_STATUS(smisk_multipart_new((const uint8_t *)boundary, SMISK_MAX_BOUNDARY_LEN + 1, 0, 0, &p),
                 SMISK_ERR_MULTIPART_BOUNDARY);
}

static void check_url_components(void) {
    CHECK(SMISK_URL_SCHEME == 0);
    CHECK(SMISK_URL_USER == 1);
    CHECK(SMISK_URL_PASSWORD == 2);
    CHECK(SMISK_URL_HOST == 3);
    CHECK(SMISK_URL_PATH == 4);
    CHECK(SMISK_URL_QUERY == 5);
    CHECK(SMISK_URL_FRAGMENT == 6);
    CHECK(SMISK_URL_COMPONENTS == 7);
    CHECK(SMISK_URL_USE == 0);
    CHECK(SMISK_URL_OMIT == 1);
    CHECK(SMISK_URL_REPLACE == 2);
    /* The component indices address what the parser fills. */
    smisk_url *u = NULL;
    const char text[] = "http://user:pw@example.org/p?q=1#f";
    CHECK_OK(smisk_url_parse((const uint8_t *)text, sizeof text - 1, &u));
    const uint8_t *value = NULL;
    size_t len = 0;
    bool present = false;
    CHECK_OK(smisk_url_get(u, SMISK_URL_HOST, &value, &len, &present));
    CHECK(present);
    CHECK_MEM(value, len, "example.org");
    CHECK_OK(smisk_url_get(u, SMISK_URL_QUERY, &value, &len, &present));
    CHECK_MEM(value, len, "q=1");
    CHECK_STATUS(smisk_url_get(u, SMISK_URL_COMPONENTS, &value, &len, &present), SMISK_ERR_INVALID);
    smisk_url_free(u);
}

static void check_version(void) {
    CHECK(SMISK_VERSION_MAJOR == 0);
    CHECK(SMISK_VERSION_MINOR == 1);
    CHECK(SMISK_VERSION_PATCH == 0);
    CHECK(SMISK_VERSION_NUMBER == SMISK_VERSION_MAJOR * 10000 + SMISK_VERSION_MINOR * 100 + SMISK_VERSION_PATCH);
    CHECK(smisk_version_number() == SMISK_VERSION_NUMBER);
}

static void check_sessions(void) {
    CHECK(SMISK_SESSION_ID_LEN == 32);
    CHECK(SMISK_SESSION_NOTHING == 0);
    CHECK(SMISK_SESSION_REFRESHED == 1);
    CHECK(SMISK_SESSION_WRITTEN == 2);
    CHECK(SMISK_SESSION_DESTROYED == 3);
    /* The defaults every binding asks for instead of copying them. */
    CHECK(SMISK_SESSION_DEFAULT_TTL == 900);
    CHECK(strcmp(smisk_session_default_name(), "SID") == 0);
    uint8_t id[SMISK_SESSION_ID_LEN];
    size_t len = 0;
    CHECK_OK(smisk_session_id_new(id, sizeof id, &len));
    CHECK(len == SMISK_SESSION_ID_LEN);
    CHECK(smisk_session_id_is_valid(id, len) == 1);
    CHECK_STATUS(smisk_session_id_new(id, SMISK_SESSION_ID_LEN - 1, &len), SMISK_ERR_BUFFER_TOO_SMALL);
}

static void check_process(void) {
    CHECK(SMISK_MAX_FORKS == 1024);
    CHECK(SMISK_FORK_BEFORE == 0);
    CHECK(SMISK_FORK_PARENT == 1);
    CHECK(SMISK_FORK_CHILD == 2);
    /* forks above the maximum are refused before anything starts. */
    smisk_server *server = NULL;
    CHECK_OK(smisk_server_new(&server));
    smisk_run_options o;
    CHECK_OK(smisk_run_options_init(&o));
    o.forks = SMISK_MAX_FORKS + 1;
    o.on_fork = count_phase;
    CHECK_STATUS(smisk_run(server, &o, never_called, NULL, NULL), SMISK_ERR_INVALID);
    CHECK(fork_phase_seen[SMISK_FORK_BEFORE] == 0);
    smisk_server_free(server);
}

static void check_protocols(void) {
    CHECK(SMISK_PROTOCOL_FASTCGI == 0);
    CHECK(SMISK_PROTOCOL_SCGI == 1);
    smisk_server *server = NULL;
    CHECK_OK(smisk_server_new(&server));
    int32_t p = -1;
    CHECK_OK(smisk_server_get_protocol(server, &p));
    CHECK(p == SMISK_PROTOCOL_FASTCGI);
    CHECK_OK(smisk_server_set_protocol(server, SMISK_PROTOCOL_SCGI));
    CHECK_OK(smisk_server_get_protocol(server, &p));
    CHECK(p == SMISK_PROTOCOL_SCGI);
    CHECK_STATUS(smisk_server_set_protocol(server, 2), SMISK_ERR_INVALID);
    CHECK_STATUS(smisk_server_set_protocol(NULL, SMISK_PROTOCOL_SCGI), SMISK_ERR_NULL);
    CHECK_STATUS(smisk_server_get_protocol(server, NULL), SMISK_ERR_NULL);
    /* An scgi: address reports itself with the prefix. */
    char path[64];
    snprintf(path, sizeof path, "scgi:/tmp/smisk-capi-%d.sock", (int)getpid());
    CHECK_OK(smisk_server_set_protocol(server, SMISK_PROTOCOL_FASTCGI));
    CHECK_OK(smisk_server_bind(server, path, strlen(path), 0));
    char where[128];
    size_t len = 0;
    CHECK_OK(smisk_server_listening(server, where, sizeof where, &len));
    CHECK(len == strlen(path) && memcmp(where, path, len) == 0);
    smisk_server_free(server);
}

static void check_limits(void) {
    smisk_server *server = NULL;
    CHECK_OK(smisk_server_new(&server));
    int64_t v = 0;
    CHECK_OK(smisk_server_get_limit(server, SMISK_LIMIT_LINGER_TIMEOUT_MS, &v));
    CHECK(v == 30000);
    CHECK_OK(smisk_server_get_limit(server, SMISK_LIMIT_LINGER_MAX_BYTES, &v));
    CHECK(v == (int64_t)1 << 30);
    CHECK_OK(smisk_server_set_limit(server, SMISK_LIMIT_LINGER_MAX_BYTES, (int64_t)5 << 30));
    CHECK_OK(smisk_server_get_limit(server, SMISK_LIMIT_LINGER_MAX_BYTES, &v));
    CHECK(v == (int64_t)5 << 30);
    CHECK_STATUS(smisk_server_set_limit(server, SMISK_LIMIT_LINGER_TIMEOUT_MS, 0), SMISK_ERR_INVALID);
    smisk_server_free(server);
}

int main(int argc, char **argv) {
    (void)argc;
    check_form_defaults();
    check_url_components();
    check_version();
    check_sessions();
    check_process();
    check_limits();
    check_protocols();
    return check_summary(argv[0]);
}
