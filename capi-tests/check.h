/* Minimal assertion helpers shared by the C API tests (C99, header-only).
 * Each test program includes this once, calls CHECK* freely and ends main()
 * with `return check_summary(argv[0]);`, which prints
 * "<name>: N passed, M failed" and returns non-zero on any failure. */
#ifndef SMISK_CAPI_CHECK_H
#define SMISK_CAPI_CHECK_H

#include <stdio.h>
#include <string.h>

#include "smisk.h"

static int check_passed_ = 0;
static int check_failed_ = 0;

static void check_report_(int ok, const char *file, int line, const char *expr) {
    if (ok) {
        check_passed_++;
    } else {
        check_failed_++;
        fprintf(stderr, "%s:%d: CHECK failed: %s (last error: %s)\n", file, line, expr,
                smisk_last_error());
    }
}

/* CHECK(cond): cond must hold. */
#define CHECK(cond) check_report_((cond) ? 1 : 0, __FILE__, __LINE__, #cond)

/* CHECK_STATUS(call, expected): call returns the expected smisk_status. */
#define CHECK_STATUS(call, expected)                                                       \
    do {                                                                                   \
        smisk_status check_st_ = (call);                                                   \
        if (check_st_ != (expected)) {                                                     \
            fprintf(stderr, "%s:%d: %s returned %d (%s), expected %d\n", __FILE__, __LINE__, \
                    #call, (int)check_st_, smisk_status_str((int)check_st_), (int)(expected)); \
        }                                                                                  \
        check_report_(check_st_ == (expected), __FILE__, __LINE__, #call);                 \
    } while (0)

#define CHECK_OK(call) CHECK_STATUS(call, SMISK_OK)

/* CHECK_MEM(ptr, len, literal): len bytes at ptr equal the string literal. */
#define CHECK_MEM(ptr, len, lit)                                                           \
    check_report_((len) == sizeof(lit) - 1 && memcmp((ptr), (lit), sizeof(lit) - 1) == 0,  \
                  __FILE__, __LINE__, #ptr " == " #lit)

static int check_summary(const char *name) {
    const char *base = strrchr(name, '/');
    printf("%s: %d passed, %d failed\n", base ? base + 1 : name, check_passed_, check_failed_);
    return check_failed_ == 0 && check_passed_ > 0 ? 0 : 1;
}

#endif
