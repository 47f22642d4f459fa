/*
 * The ABI check: every size, offset and constant of libfcgi's headers
 * (layout.c) must be the same with the drop-in's headers as with Debian's.
 * Prints one line per entry and "N passed, M failed"; exit status 1 on any
 * difference.
 */
#include <stdio.h>
#include <string.h>

#include "layout.h"

int main(void) {
    int passed = 0, failed = 0, i;
    for (i = 0; layout_stock[i].what != NULL || layout_ours[i].what != NULL; i++) {
        const struct layout_entry *a = &layout_stock[i], *b = &layout_ours[i];
        if (a->what == NULL || b->what == NULL || strcmp(a->what, b->what) != 0) {
            printf("FAIL table mismatch at entry %d\n", i);
            failed++;
            break;
        }
        if (a->value == b->value) {
            passed++;
        } else {
            printf("FAIL %s: Debian %ld, drop-in %ld\n", a->what, a->value, b->value);
            failed++;
        }
    }
    printf("layout: %d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
