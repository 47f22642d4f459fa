/* The answers the front end gives itself, when the daemon cannot: a
 * complete CGI response (Status, Content-Type, Content-Length, and for 503
 * Retry-After) with a short HTML page. */
#ifndef SMISK_FRONTEND_ANSWER_H
#define SMISK_FRONTEND_ANSWER_H

/* Writes the answer for status (400, 500, 502 or 503) to stdout; a 503
 * carries Retry-After: retry_after (when > 0). 0, or -1 (logged). */
int answer_error(int status, long retry_after);

#endif
