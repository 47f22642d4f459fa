#include "slots.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

static int lock_byte(int fd, long i, int cmd, struct flock *fl)
{
    memset(fl, 0, sizeof *fl);
    fl->l_type = F_WRLCK;
    fl->l_whence = SEEK_SET;
    fl->l_start = (off_t)i;
    fl->l_len = 1;
    int r;
    do
        r = fcntl(fd, cmd, fl);
    while (r != 0 && errno == EINTR);
    return r;
}

enum slot_result slots_take(const char *path, long max, int *fd, long *slot)
{
    int f = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (f < 0)
        return SLOT_ERROR;
    long first = (long)(getpid() % max);
    for (long k = 0; k < max; k++) {
        long i = (first + k) % max;
        struct flock fl;
        /* Locks past the end of the file are allowed: the file stays empty
         * and only its locks matter. */
        if (lock_byte(f, i, F_SETLK, &fl) == 0) {
            *fd = f;
            *slot = i;
            return SLOT_TAKEN;
        }
        if (errno != EAGAIN && errno != EACCES) {
            int e = errno;
            (void)close(f);
            errno = e;
            return SLOT_ERROR;
        }
    }
    (void)close(f);
    return SLOT_NONE_FREE;
}

long slots_busy(const char *path, long max)
{
    int f = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
    if (f < 0)
        return errno == ENOENT ? 0 : -1;
    long busy = 0;
    for (long i = 0; i < max; i++) {
        struct flock fl;
        if (lock_byte(f, i, F_GETLK, &fl) != 0) {
            (void)close(f);
            return -1;
        }
        busy += fl.l_type != F_UNLCK;
    }
    (void)close(f);
    return busy;
}
