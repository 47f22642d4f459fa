/*
 * fcgiapp.h: the FastCGI application interface of libfcgi 2.4 (FCGX_*),
 * as provided by smisk's drop-in libfcgi.so.0.
 *
 * Written for smisk from libfcgi's documented API. Every type has the
 * layout of libfcgi 2.4 (Debian's libfcgi0ldbl), so programs built against
 * either header run on either library. The include guard is libfcgi's, so
 * a header that includes "fcgiapp.h" after this one (libfcgi++'s fcgio.h)
 * gets these declarations.
 *
 * Lifetimes: the streams, envp and every string returned by FCGX_GetParam
 * belong to the request and are valid until FCGX_Finish_r (or the next
 * FCGX_Accept_r) on it. Functions taking a stream or request pointer do
 * nothing (and return an error value) when it is NULL.
 */
#ifndef _FCGIAPP_H
#define _FCGIAPP_H

#include <stdarg.h>

#ifndef DLLAPI
#define DLLAPI
#endif

#if defined(__cplusplus) || defined(c_plusplus)
extern "C" {
#endif

/* Stream error codes (FCGX_GetError); negative so they differ from EOF
 * and from errno values, which FCGX_GetError reports as they are. */
#define FCGX_UNSUPPORTED_VERSION -2
#define FCGX_PROTOCOL_ERROR -3
#define FCGX_PARAMS_ERROR -4
#define FCGX_CALL_SEQ_ERROR -5

/*
 * One direction of a request's byte streams, buffered like a stdio FILE.
 * A reader's bytes are rdNext..stop; a writer's free room is wrNext..stop.
 * When the buffer is used up the library's fillBuffProc / emptyBuffProc
 * refill or drain it. Programs should use the functions below; the fields
 * keep libfcgi's meaning for those that do not.
 */
typedef struct FCGX_Stream {
    unsigned char *rdNext;    /* reader: next byte to read; writer: == stop */
    unsigned char *wrNext;    /* writer: next free byte; reader: == stop */
    unsigned char *stop;      /* end of the valid bytes (reader) or room (writer) */
    unsigned char *stopUnget; /* reader: start of the buffer (for UnGetChar) */
    int isReader;
    int isClosed;             /* reader at end of stream, or closed/failed */
    int wasFCloseCalled;
    int FCGI_errno;           /* first error: > 0 errno, < 0 FCGX_*_ERROR */
    void (*fillBuffProc)(struct FCGX_Stream *stream);
    void (*emptyBuffProc)(struct FCGX_Stream *stream, int doClose);
    void *data;               /* the library's private state */
} FCGX_Stream;

/* A NULL-terminated array of "name=value" strings, like environ(7). */
typedef char **FCGX_ParamArray;

/* FCGX_InitRequest flag: FCGX_Accept_r returns when a signal interrupts
 * its wait instead of waiting on. */
#define FCGI_FAIL_ACCEPT_ON_INTR 1

/*
 * One request slot. A program declares one per thread, prepares it with
 * FCGX_InitRequest and passes it to FCGX_Accept_r / FCGX_Finish_r.
 */
typedef struct FCGX_Request {
    int requestId;            /* FastCGI request id of the current request */
    int role;                 /* FCGI_RESPONDER, FCGI_AUTHORIZER or FCGI_FILTER */
    FCGX_Stream *in;          /* FCGI_STDIN (then FCGI_DATA for a filter) */
    FCGX_Stream *out;         /* FCGI_STDOUT */
    FCGX_Stream *err;         /* FCGI_STDERR */
    char **envp;              /* the request's parameters */

    /* Library state below; kept for layout compatibility. */
    struct Params *paramsPtr; /* private to the library */
    int ipcFd;                /* the connection's descriptor, < 0: none */
    int isBeginProcessed;     /* a request is active */
    int keepConnection;       /* the web server keeps the connection */
    int appStatus;            /* sent in FCGI_END_REQUEST */
    int nWriters;             /* output streams still open (0..2) */
    int flags;                /* FCGI_FAIL_ACCEPT_ON_INTR */
    int listen_sock;          /* the listening socket it accepts on */
    int detached;
} FCGX_Request;

/* ------------------------------------------------------------ control */

/* Non-zero when the process was started as a CGI program (fd 0 is not a
 * listening socket), 0 when it is a FastCGI server. */
DLLAPI int FCGX_IsCGI(void);

/* Initialises the library; call once before FCGX_Accept_r. 0 on success. */
DLLAPI int FCGX_Init(void);

/* Opens a listening socket: a unix socket path, or ":port", "*:port",
 * "host:port" (TCP). backlog <= 0 means the system maximum. Returns the
 * descriptor, or -1 with errno set. */
DLLAPI int FCGX_OpenSocket(const char *path, int backlog);

/* Prepares a request slot to accept on sock (0: the socket the web server
 * passed on fd 0). flags: FCGI_FAIL_ACCEPT_ON_INTR or 0. Returns 0. */
DLLAPI int FCGX_InitRequest(FCGX_Request *request, int sock, int flags);

/* Finishes the slot's previous request, then waits for the next one and
 * fills in requestId, role, in, out, err and envp. Safe to call from
 * several threads, each with its own slot, on one socket. 0 on success;
 * < 0 when the program should stop (shut down, or an error). */
DLLAPI int FCGX_Accept_r(FCGX_Request *request);

/* Ends the slot's request: flushes out and err and sends the end of the
 * request with appStatus. Its streams and params are freed. */
DLLAPI void FCGX_Finish_r(FCGX_Request *request);

/* Frees the slot's streams and params; with close, also its connection.
 * A request not yet finished gets no answer. */
DLLAPI void FCGX_Free(FCGX_Request *request, int close);

/* FCGX_Accept_r on one request slot of the library's own (single-threaded
 * programs); its streams and params are stored through the arguments. */
DLLAPI int FCGX_Accept(FCGX_Stream **in, FCGX_Stream **out, FCGX_Stream **err,
                       FCGX_ParamArray *envp);

/* FCGX_Finish_r on the library's own request slot. */
DLLAPI void FCGX_Finish(void);

/* For a FCGI_FILTER request whose stdin was read to its end: the input
 * stream goes on with the FCGI_DATA stream. 0, or -1 (and the stream's
 * error FCGX_CALL_SEQ_ERROR) when called out of that order. */
DLLAPI int FCGX_StartFilterData(FCGX_Stream *stream);

/* Sets the exit status sent when the stream's request ends. */
DLLAPI void FCGX_SetExitStatus(int status, FCGX_Stream *stream);

/* --------------------------------------------------------- parameters */

/* The value of parameter name in envp, or NULL. */
DLLAPI char *FCGX_GetParam(const char *name, FCGX_ParamArray envp);

/* ------------------------------------------------------------ readers */

/* The next byte, or EOF (-1) at the end of the stream. */
DLLAPI int FCGX_GetChar(FCGX_Stream *stream);

/* Pushes c back (one byte after a read is guaranteed); c, or EOF. */
DLLAPI int FCGX_UnGetChar(int c, FCGX_Stream *stream);

/* Reads up to n bytes into str; fewer only at the end of the stream. */
DLLAPI int FCGX_GetStr(char *str, int n, FCGX_Stream *stream);

/* Reads a line of at most n - 1 bytes (with its '\n') and NUL-terminates
 * it; NULL when the stream was at its end already. */
DLLAPI char *FCGX_GetLine(char *str, int n, FCGX_Stream *stream);

/* EOF once the end of the stream has been seen, else 0. */
DLLAPI int FCGX_HasSeenEOF(FCGX_Stream *stream);

/* ------------------------------------------------------------ writers */

/* Writes one byte; the byte, or EOF on error. */
DLLAPI int FCGX_PutChar(int c, FCGX_Stream *stream);

/* Writes n bytes; n, or -1 on error. */
DLLAPI int FCGX_PutStr(const char *str, int n, FCGX_Stream *stream);

/* Writes a NUL-terminated string; its length, or -1 on error. */
DLLAPI int FCGX_PutS(const char *str, FCGX_Stream *stream);

/* printf-style output; the bytes written, or -1 on error. (No format
 * attribute: libfcgi has none, and a program that builds warning-free
 * against it must here too.) */
DLLAPI int FCGX_FPrintF(FCGX_Stream *stream, const char *format, ...);
DLLAPI int FCGX_VFPrintF(FCGX_Stream *stream, const char *format, va_list arg);

/* Sends buffered output now (server push); -1 on error. */
DLLAPI int FCGX_FFlush(FCGX_Stream *stream);

/* ------------------------------------------------------ either kind */

/* Closes the stream (a writer's output is sent first); -1 on error. */
DLLAPI int FCGX_FClose(FCGX_Stream *stream);

/* The stream's first error: 0 none, > 0 an errno value, < 0 FCGX_*_ERROR. */
DLLAPI int FCGX_GetError(FCGX_Stream *stream);

/* Clears the stream's error code. */
DLLAPI void FCGX_ClearError(FCGX_Stream *stream);

/* A stand-alone writer framing its bytes as records of streamType for
 * requestId on socket (used by the cgi-fcgi bridge), and its release. */
DLLAPI FCGX_Stream *FCGX_CreateWriter(int socket, int requestId, int bufflen,
                                      int streamType);
DLLAPI void FCGX_FreeStream(FCGX_Stream **stream);

/* Asks every FCGX_Accept_r to return -1 once the requests in flight are
 * done. Safe to call from a signal handler. */
DLLAPI void FCGX_ShutdownPending(void);

/* Marks a request as detached from / attached to its connection. */
DLLAPI int FCGX_Attach(FCGX_Request *r);
DLLAPI int FCGX_Detach(FCGX_Request *r);

#if defined(__cplusplus) || defined(c_plusplus)
}
#endif

#endif /* _FCGIAPP_H */
