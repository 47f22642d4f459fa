/* Reaching the daemon, and starting it when nothing listens.
 *
 * Exactly one start however many requests arrive at once: a front end that
 * finds nothing listening takes an exclusive flock on STATE.lock (the
 * kernel drops it if the front end dies), looks again (another front end
 * may have started the daemon meanwhile), and only then starts the command
 * and waits, holding the lock, until the daemon listens or start_timeout
 * passes. The others wait on the lock, bounded by the same timeout, and
 * find the daemon listening when they get it.
 *
 * The daemon is started with /bin/sh -c START in a session of its own
 * (setsid: a web server killing the CGI's process group does not reach
 * it), stdin from /dev/null, stdout and stderr to the log file (never the
 * web server's pipes, which would keep the request open), no inherited fds,
 * default signal dispositions, the configuration file's directory as cwd,
 * and an environment of PATH, HOME, LANG, LC_*, TZ, TMPDIR, USER, LOGNAME
 * and the configured env lines: nothing of the request that happened to
 * start it. Its pid goes to the pid file.
 *
 * A start that fails (the command exits, or nothing listens within
 * start_timeout; the process group is then killed) is recorded in
 * STATE.failed; for retry_after seconds requests do not try again but go to
 * the fallback or get 503, so a broken daemon costs one attempt per
 * retry_after instead of one per request. */
#ifndef SMISK_FRONTEND_DAEMON_H
#define SMISK_FRONTEND_DAEMON_H

#include "config.h"

enum daemon_result {
    DAEMON_CONNECTED, /* *fd is connected to it */
    DAEMON_BUSY,      /* it listens but takes no connection now: 503 */
    DAEMON_DOWN       /* not running and not startable: fallback or 503 */
};

enum daemon_result daemon_connect(const struct config *c, int *fd);

#endif
