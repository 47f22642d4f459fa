/*
 * Declarations shared by the files of the smisk.core._core extension.
 *
 * Every file converts Python objects to and from the C API of include/smisk.h
 * and nothing else: parsing, framing, cookies, sessions and URLs live in the
 * Rust library. Conventions: a function returning PyObject* returns a new
 * reference or NULL with an exception set; one returning int returns 0 on
 * success and -1 with an exception set.
 */
#ifndef SMISK_SHIM_H
#define SMISK_SHIM_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdbool.h>
#include <stdint.h>

#include "smisk.h"

/* ---- errors and text (_core.c) ---------------------------------------- */

extern PyObject *InvalidSessionError;
extern PyObject *RequestTooLargeError;

/* Raises the Python exception for a failed smisk call, with the library's
 * message. Always returns NULL. */
PyObject *raise_status(smisk_status st);

/* A borrowed view of the bytes of a str (UTF-8) or bytes-like object. */
typedef struct {
    const uint8_t *ptr;
    size_t len;
    int is_str;
    Py_buffer buf;
    int has_buf;
} view;

int view_get(PyObject *o, view *v, const char *what);
void view_release(view *v);

/* Lossless text for bytes that are usually UTF-8 (URL components). */
PyObject *text_from(const uint8_t *p, size_t n);

/* The state of one query/form/cookie decomposition into a dict. */
typedef struct {
    PyObject *dict;
    PyObject *charset; /* str, or NULL for raw bytes */
    const char *enc;   /* UTF-8 of charset, owned by it */
    int tolerant;
} query_ctx;

/* smisk_pair_fn that stores one field into ctx->dict (repeats become lists). */
int32_t add_pair(void *ctxp, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl,
                 bool has_value);
/* Decodes a value like add_pair does (charset, Latin-1 fallback if tolerant). */
PyObject *decode_value(query_ctx *c, const uint8_t *p, size_t n);

typedef struct {
    PyObject_HEAD
    smisk_url *url;
} URLObject;

extern PyTypeObject URLType;
/* Wraps (and takes ownership of) a URL handle. */
PyObject *url_wrap(smisk_url *u);

/* ---- Stream (stream.c) ------------------------------------------------- */

enum stream_kind { STREAM_INPUT = 0, STREAM_OUTPUT = 1, STREAM_ERRORS = 2 };

typedef struct {
    PyObject_HEAD
    smisk_request *handle; /* the current request, NULL outside one */
    int kind;
} StreamObject;

extern PyTypeObject StreamType;
PyObject *stream_new(int kind);

/* ---- Application / Request / Response --------------------------------- */

typedef struct ApplicationObject ApplicationObject;
typedef struct RequestObject RequestObject;
typedef struct ResponseObject ResponseObject;

struct RequestObject {
    PyObject_HEAD
    PyObject *inst_dict;
    smisk_request *handle; /* valid only while a request is served */
    ApplicationObject *app; /* strong, set by run() */
    StreamObject *input;
    StreamObject *errors;
    /* Lazily built, cleared after each request. */
    PyObject *env, *url, *get, *post, *files, *cookies, *referring_url;
    smisk_form *form;
    int form_parsed;
    /* Sessions: state handle, the data object (NULL: not loaded yet). */
    smisk_session_state *sess;
    PyObject *sess_store; /* the store object the state was made from */
    PyObject *session;
    long long max_multipart_size;
    long long max_formdata_size;
};

struct ResponseObject {
    PyObject_HEAD
    PyObject *inst_dict;
    smisk_request *handle;
    RequestObject *request; /* strong, set by run() */
    StreamObject *out;
    PyObject *headers; /* the HeaderList mirroring the library's lines, or NULL */
    int custom_begin;  /* a subclass overrides begin(): call it through Python */
};

struct ApplicationObject {
    PyObject_HEAD
    PyObject *inst_dict;
    PyObject *request_class, *response_class, *sessions_class;
    PyObject *sessions;
    RequestObject *request;
    ResponseObject *response;
    /* The same objects, or None before run(): what the `request` and
     * `response` attributes read. Object member slots, because CPython's
     * specializing interpreter reads a slot directly at an attribute load
     * while a getter is a full lookup and a call each time (service()
     * reads self.response at least once per request). */
    PyObject *request_attr, *response_attr;
    PyObject *charset;    /* str */
    const char *charset_utf8; /* owned by charset */
    int charset_is_utf8;
    int tolerant;
    PyObject *show_traceback;
    int forks;
    long long max_requests;
    int worker_index;
};

extern PyTypeObject ApplicationType;
extern PyTypeObject RequestType;
extern PyTypeObject ResponseType;
extern PyTypeObject SessionStoreType;
extern PyTypeObject FileSessionStoreType;
extern PyTypeObject KeyValueSessionStoreType;

/* The application whose run() is in progress, else the current one. */
ApplicationObject *app_current(void);

/* request.c */
void request_attach(RequestObject *r, smisk_request *h);
/* Saves or refreshes the request's session; called before the answer is
 * complete, so the client's next request sees it. Never raises. */
void request_end_session(RequestObject *r);
/* Session write-back (if request_end_session was not called), the form
 * handed to the library (its temp files go when the request finishes),
 * cache reset. Never raises: problems are reported to the
 * request's error stream and sys.stderr. */
void request_detach(RequestObject *r);
/* What begin() hands to smisk_response_begin_with_session: the request's
 * session state (NULL when the session was never touched) and whether the
 * session holds data (loading it first). */
int request_session_for_begin(RequestObject *r, smisk_session_state **state, int *has_data);

void request_charset_changed(RequestObject *r);
/* request.env: the params dict, built at the first use in a request. */
PyObject *request_env(RequestObject *r);

/* The env of the last request and its param str objects by index (see
 * request.c); zero-initialised is empty. */
#define ENV_SLOTS 64
typedef struct {
    PyObject *dict; /* NULL: no usable template */
    size_t count;
    PyObject *keys[ENV_SLOTS];
    PyObject *vals[ENV_SLOTS];
    /* Each param's name and value bytes, one after the other, at raw_at[i]
     * in raw (PyMem); vlen[i] SIZE_MAX: out of date, compare the str. */
    char *raw;
    size_t raw_at[ENV_SLOTS], nlen[ENV_SLOTS], vlen[ENV_SLOTS];
    /* A gateway's completed env (what it does to each copy), kept while
     * the params it reads (pin_names: interned, set by the gateway) stay
     * the same from request to request; NULL: none. */
    PyObject *done;
    PyObject *const *pin_names;
    size_t npin;
    unsigned char pinned[ENV_SLOTS];
    int pin_changed; /* this request: a pinned param changed, or a new template */
    int from_done;   /* this request's env: 1 a copy of done, 0 to complete, -1 asked again */
} env_template;
void env_template_clear(env_template *t);
/* Keeps a copy of the env the gateway just completed, to be copied as it is
 * for the next requests whose pinned params do not change. */
void env_template_set_done(env_template *t, PyObject *env);
/* Adds a gateway's items to a new env in place; *added: how many it put
 * (an item whose key is a param's makes the template unusable). */
typedef int (*env_extra_fn)(void *ctx, PyObject *env, Py_ssize_t *added);
/* request.env with a gateway's items, from the gateway's own template t
 * (the gateway clears t->dict when its items change). When the env exists
 * already in this request, extra adds its items to it again. */
PyObject *request_env_with(RequestObject *r, env_template *t, env_extra_fn extra, void *ctx);

/* response.c */
void response_attach(ResponseObject *r, smisk_request *h);
void response_detach(ResponseObject *r);
/* begin() through Python dispatch when overridden, else directly. */
int response_begin_if_needed(ResponseObject *r);
/* Appends one header line (str or bytes) to the response's header list. */
int response_add_line(ResponseObject *r, PyObject *line);
/* Appends one ASCII header line given as bytes (what smisk makes itself). */
int response_add_ascii(ResponseObject *r, const char *p, size_t n);
/* Replaces the header list by these lines (str or bytes). */
int response_set_lines(ResponseObject *r, PyObject *const *lines, Py_ssize_t n);
/* response.write(data): begins the response if needed; empty data sends nothing. */
int response_write(ResponseObject *r, PyObject *data);
/* bytes to send for a str/bytes body chunk (str encoded with the charset). */
int body_view(PyObject *data, view *v, PyObject **tmp);

/* sessions.c */
/* The smisk_session_store behind a FileSessionStore, or NULL + TypeError. */
smisk_session_store *session_store_handle(PyObject *store);
PyObject *session_store_name(PyObject *store); /* new ref to a str */
PyObject *session_dumps(PyObject *data);        /* marshal bytes */
PyObject *session_loads(const uint8_t *p, size_t n);

/* application.c */
int application_init_module(PyObject *m);
int stream_init_module(PyObject *m);
int request_init_module(PyObject *m);
int response_init_module(PyObject *m);
int sessions_init_module(PyObject *m);
int wsgi_init_module(PyObject *m); /* wsgi.c: WSGIGatewayBase */

/* Interned attribute names used on hot paths. */
extern PyObject *str_service, *str_begin, *str_error;

#endif
