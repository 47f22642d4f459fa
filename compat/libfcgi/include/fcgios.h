/*
 * fcgios.h: libfcgi 2.4's operating-system layer (OS_*), which its
 * cgi-fcgi bridge and some programs call directly. Written for smisk's
 * drop-in libfcgi from libfcgi's documented API.
 */
#ifndef _FCGIOS_H
#define _FCGIOS_H

#include "fcgi_config.h"

#include <sys/time.h>
#include <sys/types.h>
#include <errno.h>

#ifndef DLLAPI
#define DLLAPI
#endif

#if defined(__cplusplus) || defined(c_plusplus)
extern "C" {
#endif

#define OS_Errno errno
#define OS_SetErrno(err) errno = (err)

/* The drop-dead timeout (seconds, microseconds) libfcgi waits for a
 * closing connection to become readable. */
#define READABLE_UNIX_FD_DROP_DEAD_TIMEVAL 2, 0

#ifndef STDIN_FILENO
#define STDIN_FILENO 0
#endif
#ifndef STDOUT_FILENO
#define STDOUT_FILENO 1
#endif
#ifndef STDERR_FILENO
#define STDERR_FILENO 2
#endif
#ifndef MAXPATHLEN
#define MAXPATHLEN 1024
#endif
#ifndef X_OK
#define X_OK 0x01
#endif

#ifndef _CLIENTDATA
typedef void *ClientData;
#define _CLIENTDATA
#endif

/* Called when an asynchronous read or write is done: len is what read(2)
 * or write(2) returned. */
typedef void (*OS_AsyncProc)(ClientData clientData, int len);

DLLAPI int OS_LibInit(int stdioFds[3]);
DLLAPI void OS_LibShutdown(void);
/* FCGX_OpenSocket's implementation. */
DLLAPI int OS_CreateLocalIpcFd(const char *bindPath, int backlog);
/* Connects to a FastCGI server at a unix path or host:port; fd or -1. */
DLLAPI int OS_FcgiConnect(char *bindPath);
DLLAPI int OS_Read(int fd, char *buf, size_t len);
DLLAPI int OS_Write(int fd, char *buf, size_t len);
/* Forks a child running execPath with listenFd as its fd 0; 0 or -1. */
DLLAPI int OS_SpawnChild(char *execPath, int listenFd);
/* Queue one read (or write) on fd, done by OS_DoIo; -1 when one is
 * already queued in that direction. */
DLLAPI int OS_AsyncReadStdin(void *buf, int len, OS_AsyncProc procPtr,
                             ClientData clientData);
DLLAPI int OS_AsyncRead(int fd, int offset, void *buf, int len,
                        OS_AsyncProc procPtr, ClientData clientData);
DLLAPI int OS_AsyncWrite(int fd, int offset, void *buf, int len,
                         OS_AsyncProc procPtr, ClientData clientData);
DLLAPI int OS_Close(int fd, int shutdown);
DLLAPI int OS_CloseRead(int fd);
/* Waits (at most tmo; NULL: no limit) until a queued operation can run,
 * runs every one that can and calls its procedure. */
DLLAPI int OS_DoIo(struct timeval *tmo);
/* A blocking accept on listen_sock that admits only webServerAddrs
 * (comma-separated IPv4 addresses; NULL: any). */
DLLAPI int OS_Accept(int listen_sock, int fail_on_intr, const char *webServerAddrs);
DLLAPI int OS_IpcClose(int ipcFd, int shutdown);
/* TRUE when sock is an unconnected (listening) socket. */
DLLAPI int OS_IsFcgi(int sock);
DLLAPI void OS_SetFlags(int fd, int flags);
DLLAPI void OS_ShutdownPending(void);

#if defined(__cplusplus) || defined(c_plusplus)
}
#endif

#endif /* _FCGIOS_H */
