/*
 * One side of the ABI check: the sizes, offsets and constant values that
 * libfcgi's headers define, as a table. Compiled twice, against Debian's
 * headers (-DSIDE=stock) and against the drop-in's (-DSIDE=ours);
 * layout_check.c compares the two tables entry by entry.
 */
#include <stddef.h>

#include "fastcgi.h"
#include "fcgi_config.h"
#include "fcgi_stdio.h"
#include "fcgiapp.h"
#include "fcgios.h"

#include "layout.h"

#define SIZE(t) {"sizeof(" #t ")", (long)sizeof(t)}
#define OFF(t, f) {"offsetof(" #t ", " #f ")", (long)offsetof(t, f)}
#define VALUE(m) {#m, (long)(m)}

#define TABLE_NAME(side) layout_##side
#define TABLE(side) TABLE_NAME(side)

const struct layout_entry TABLE(SIDE)[] = {
    SIZE(FCGX_Stream),
    OFF(FCGX_Stream, rdNext),
    OFF(FCGX_Stream, wrNext),
    OFF(FCGX_Stream, stop),
    OFF(FCGX_Stream, stopUnget),
    OFF(FCGX_Stream, isReader),
    OFF(FCGX_Stream, isClosed),
    OFF(FCGX_Stream, wasFCloseCalled),
    OFF(FCGX_Stream, FCGI_errno),
    OFF(FCGX_Stream, fillBuffProc),
    OFF(FCGX_Stream, emptyBuffProc),
    OFF(FCGX_Stream, data),
    SIZE(FCGX_Request),
    OFF(FCGX_Request, requestId),
    OFF(FCGX_Request, role),
    OFF(FCGX_Request, in),
    OFF(FCGX_Request, out),
    OFF(FCGX_Request, err),
    OFF(FCGX_Request, envp),
    OFF(FCGX_Request, paramsPtr),
    OFF(FCGX_Request, ipcFd),
    OFF(FCGX_Request, isBeginProcessed),
    OFF(FCGX_Request, keepConnection),
    OFF(FCGX_Request, appStatus),
    OFF(FCGX_Request, nWriters),
    OFF(FCGX_Request, flags),
    OFF(FCGX_Request, listen_sock),
    OFF(FCGX_Request, detached),
    SIZE(FCGX_ParamArray),
    SIZE(FCGI_FILE),
    OFF(FCGI_FILE, stdio_stream),
    OFF(FCGI_FILE, fcgx_stream),
    SIZE(FCGI_Header),
    OFF(FCGI_Header, type),
    OFF(FCGI_Header, requestIdB1),
    OFF(FCGI_Header, contentLengthB0),
    OFF(FCGI_Header, paddingLength),
    SIZE(FCGI_BeginRequestBody),
    OFF(FCGI_BeginRequestBody, flags),
    SIZE(FCGI_BeginRequestRecord),
    OFF(FCGI_BeginRequestRecord, body),
    SIZE(FCGI_EndRequestBody),
    OFF(FCGI_EndRequestBody, protocolStatus),
    SIZE(FCGI_EndRequestRecord),
    SIZE(FCGI_UnknownTypeBody),
    SIZE(FCGI_UnknownTypeRecord),
    SIZE(ClientData),
    VALUE(FCGX_UNSUPPORTED_VERSION),
    VALUE(FCGX_PROTOCOL_ERROR),
    VALUE(FCGX_PARAMS_ERROR),
    VALUE(FCGX_CALL_SEQ_ERROR),
    VALUE(FCGI_FAIL_ACCEPT_ON_INTR),
    VALUE(FCGI_LISTENSOCK_FILENO),
    VALUE(FCGI_MAX_LENGTH),
    VALUE(FCGI_HEADER_LEN),
    VALUE(FCGI_VERSION_1),
    VALUE(FCGI_BEGIN_REQUEST),
    VALUE(FCGI_ABORT_REQUEST),
    VALUE(FCGI_END_REQUEST),
    VALUE(FCGI_PARAMS),
    VALUE(FCGI_STDIN),
    VALUE(FCGI_STDOUT),
    VALUE(FCGI_STDERR),
    VALUE(FCGI_DATA),
    VALUE(FCGI_GET_VALUES),
    VALUE(FCGI_GET_VALUES_RESULT),
    VALUE(FCGI_UNKNOWN_TYPE),
    VALUE(FCGI_MAXTYPE),
    VALUE(FCGI_NULL_REQUEST_ID),
    VALUE(FCGI_KEEP_CONN),
    VALUE(FCGI_RESPONDER),
    VALUE(FCGI_AUTHORIZER),
    VALUE(FCGI_FILTER),
    VALUE(FCGI_REQUEST_COMPLETE),
    VALUE(FCGI_CANT_MPX_CONN),
    VALUE(FCGI_OVERLOADED),
    VALUE(FCGI_UNKNOWN_ROLE),
    VALUE(sizeof FCGI_MAX_CONNS),
    VALUE(sizeof FCGI_MAX_REQS),
    VALUE(sizeof FCGI_MPXS_CONNS),
    VALUE(STDIN_FILENO),
    VALUE(STDOUT_FILENO),
    VALUE(STDERR_FILENO),
    VALUE(HAVE_FPOS),
    VALUE(HAVE_STREAMBUF_CHAR_TYPE),
    {0, 0},
};
