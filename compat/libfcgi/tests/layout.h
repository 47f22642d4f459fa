/* The table both sides of the ABI check fill in (see layout.c). */
#ifndef LAYOUT_H
#define LAYOUT_H

struct layout_entry {
    const char *what;
    long value;
};

extern const struct layout_entry layout_stock[];
extern const struct layout_entry layout_ours[];

#endif
