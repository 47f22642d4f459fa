/* The in-flight limit, counted across every front end process: a file of
 * max_in_flight one-byte slots, each taken with a POSIX record lock
 * (fcntl F_SETLK on byte i). The kernel drops a process's record locks when
 * it exits, however it exits (SIGKILL, a crash, a web server's timeout), so
 * a slot can never leak and there is no counter to repair or IPC object to
 * clean up. A full house costs max_in_flight fcntl calls; the search starts
 * at a slot derived from the pid so concurrent front ends rarely collide.
 *
 * Record locks belong to the process and survive exec: the fallback CGI,
 * exec'ed in place of the front end with the slot fd left open, keeps
 * its slot until it exits. */
#ifndef SMISK_FRONTEND_SLOTS_H
#define SMISK_FRONTEND_SLOTS_H

enum slot_result { SLOT_TAKEN, SLOT_NONE_FREE, SLOT_ERROR };

/* Takes one of max slots in the file at path (created 0600 if missing).
 * SLOT_TAKEN: *fd holds it (close-on-exec) until the process exits or
 * closes it; *slot says which. SLOT_ERROR: errno says why. */
enum slot_result slots_take(const char *path, long max, int *fd, long *slot);

/* How many of the max slots are taken right now (for --status and tests);
 * -1 on error. */
long slots_busy(const char *path, long max);

#endif
