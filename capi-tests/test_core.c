/* Library-wide functions: version macros and function, status text and name, last
 * error, and smisk_bytes_free(NULL, 0). */
#include <string.h>

#include "check.h"

int main(int argc, char **argv) {
    (void)argc;
    char expected[32];
    snprintf(expected, sizeof expected, "%d.%d.%d", SMISK_VERSION_MAJOR, SMISK_VERSION_MINOR,
             SMISK_VERSION_PATCH);
    CHECK(strcmp(smisk_version(), expected) == 0);
    CHECK(smisk_version_number() == SMISK_VERSION_NUMBER);
    CHECK(SMISK_VERSION_NUMBER ==
          SMISK_VERSION_MAJOR * 10000 + SMISK_VERSION_MINOR * 100 + SMISK_VERSION_PATCH);

    CHECK(strcmp(smisk_status_str(SMISK_OK), "success") == 0);
    CHECK(strcmp(smisk_status_str(SMISK_ERR_NULL), "a required pointer argument was NULL") == 0);
    CHECK(strcmp(smisk_status_str(-1), "unknown status") == 0);
    CHECK(strcmp(smisk_status_str(123456), "unknown status") == 0);
    CHECK(strcmp(smisk_status_name(SMISK_OK), "SMISK_OK") == 0);
    CHECK(strcmp(smisk_status_name(SMISK_ERR_IO), "SMISK_ERR_IO") == 0);
    CHECK(strcmp(smisk_status_name(SMISK_ERR_SESSION_ID), "SMISK_ERR_SESSION_ID") == 0);
    CHECK(strcmp(smisk_status_name(15), "SMISK_UNKNOWN_STATUS") == 0);
    CHECK(strcmp(smisk_status_name(-1), "SMISK_UNKNOWN_STATUS") == 0);
    CHECK(smisk_last_error() != NULL);

    smisk_bytes_free(NULL, 0); /* documented no-op */
    return check_summary(argv[0]);
}
