/*
 * smisk.core._core.WSGIGatewayBase: the per-request path of smisk.wsgi's
 * Gateway (service, environ, start_response) as direct C calls.
 *
 * Why in C: in the same-vCPU benchmark each Python frame the gateway ran per
 * request (service, environ, start_response, the header check, the body
 * write) cost about as much as the whole smisk.core hello. The policy stays
 * in smisk/wsgi: headers never seen before are validated by
 * smisk.wsgi.headers.header_lines (this file only looks up the caches that
 * function fills), and every result other than a one-block list or tuple of
 * bytes, write(), file wrappers and error pages are handled by
 * Gateway._send_result and friends in Python.
 *
 * The Python subclass provides, read once at the first request:
 *   _static_environ()  -> dict merged into every environ
 *   _header_lines, _good_status, _good_items  (smisk.wsgi.headers)
 *   _send_result(result)           every result the fast path does not take
 *   write                          the callable start_response returns
 */
#include "shim.h"

#include <structmember.h>

typedef struct {
    ApplicationObject app;
    PyObject *wsgi_app;
    /* Read from the subclass at the first request (see above). */
    int ready;
    int custom_environ; /* a subclass overrides environ(): call it */
    PyObject *static_env, *start_response, *write, *send_result;
    PyObject *header_lines, *good_status, *good_items;
    /* Per request: the status start_response accepted (NULL: not called). */
    PyObject *status;
    long code;
    int has_length;
} GatewayObject;

static PyTypeObject GatewayType;

/* Interned keys and values of the environ completion. */
enum {
    K_WSGI_INPUT, K_URL_SCHEME, K_HTTPS, K_REQUEST_SCHEME, K_HTTP_CONTENT_TYPE, K_CONTENT_TYPE,
    K_HTTP_CONTENT_LENGTH, K_CONTENT_LENGTH, K_PATH_INFO, K_SCRIPT_NAME, K_REQUEST_METHOD,
    V_HTTP, V_HTTPS, V_SLASH, V_EMPTY, N_STRINGS
};
static const char *const string_text[N_STRINGS] = {
    "wsgi.input", "wsgi.url_scheme", "HTTPS", "REQUEST_SCHEME", "HTTP_CONTENT_TYPE", "CONTENT_TYPE",
    "HTTP_CONTENT_LENGTH", "CONTENT_LENGTH", "PATH_INFO", "SCRIPT_NAME", "REQUEST_METHOD",
    "http", "https", "/", ""};
static PyObject *S[N_STRINGS];

/* The str value of env[key], borrowed; NULL when absent (or on error, with
 * an exception set: check PyErr_Occurred()). */
static PyObject *env_get(PyObject *env, int key)
{
    return PyDict_GetItemWithError(env, S[key]);
}

static int is_ascii_ci(PyObject *v, const char *lower)
{
    Py_ssize_t i, n;
    const char *p;
    if (!PyUnicode_Check(v) || !PyUnicode_IS_ASCII(v))
        return 0;
    n = PyUnicode_GET_LENGTH(v);
    p = (const char *)PyUnicode_DATA(v);
    if ((size_t)n != strlen(lower))
        return 0;
    for (i = 0; i < n; i++) {
        char c = p[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != lower[i])
            return 0;
    }
    return 1;
}

/* Moves env[from] to env[to] unless env[to] is already non-empty: nginx
 * passes every request header, HTTP_CONTENT_TYPE/_LENGTH included, and CGI
 * (RFC 3875 §4.1.18) and wsgiref's validator want only the plain names. */
static int move_header_param(PyObject *env, int from, int to)
{
    PyObject *v = env_get(env, from), *cur;
    if (v == NULL)
        return PyErr_Occurred() ? -1 : 0;
    Py_INCREF(v);
    if (PyDict_DelItem(env, S[from]) < 0)
        goto fail;
    cur = env_get(env, to);
    if (cur == NULL && PyErr_Occurred())
        goto fail;
    if (cur == NULL || !PyObject_IsTrue(cur)) {
        if (PyDict_SetItem(env, S[to], v) < 0)
            goto fail;
    }
    Py_DECREF(v);
    return 0;
fail:
    Py_DECREF(v);
    return -1;
}

static int gateway_ready(GatewayObject *g);

/* The WSGI environ of the current request: the request's own env dict
 * (fresh for every request), completed in place. */
static PyObject *gateway_environ(GatewayObject *g, PyObject *unused)
{
    RequestObject *req = g->app.request;
    PyObject *env, *v, *scheme;
    (void)unused;
    if (req == NULL || req->handle == NULL) {
        PyErr_SetString(PyExc_OSError, "environ() outside a request");
        return NULL;
    }
    if (gateway_ready(g) < 0)
        return NULL;
    env = request_env(req);
    if (env == NULL)
        return NULL;
    if (PyDict_Update(env, g->static_env) < 0 || PyDict_SetItem(env, S[K_WSGI_INPUT], (PyObject *)req->input) < 0)
        goto fail;
    v = env_get(env, K_HTTPS);
    if (v != NULL)
        scheme = (is_ascii_ci(v, "on") || is_ascii_ci(v, "1")) ? S[V_HTTPS] : S[V_HTTP];
    else if (PyErr_Occurred())
        goto fail;
    else {
        v = env_get(env, K_REQUEST_SCHEME);
        if (v == NULL && PyErr_Occurred())
            goto fail;
        scheme = (v != NULL && PyUnicode_Check(v) && PyUnicode_CompareWithASCIIString(v, "https") == 0)
                     ? S[V_HTTPS]
                     : S[V_HTTP];
    }
    if (PyDict_SetItem(env, S[K_URL_SCHEME], scheme) < 0)
        goto fail;
    if (move_header_param(env, K_HTTP_CONTENT_TYPE, K_CONTENT_TYPE) < 0 ||
        move_header_param(env, K_HTTP_CONTENT_LENGTH, K_CONTENT_LENGTH) < 0)
        goto fail;
    v = env_get(env, K_SCRIPT_NAME);
    if (v == NULL && PyErr_Occurred())
        goto fail;
    if (env_get(env, K_PATH_INFO) == NULL) {
        int truthy;
        if (PyErr_Occurred())
            goto fail;
        /* nginx's stock fastcgi_params send the whole (decoded) path as
         * SCRIPT_NAME and no PATH_INFO: the application is mounted at the
         * root. */
        truthy = v != NULL ? PyObject_IsTrue(v) : 0;
        if (truthy < 0 || PyDict_SetItem(env, S[K_PATH_INFO], truthy ? v : S[V_SLASH]) < 0 ||
            PyDict_SetItem(env, S[K_SCRIPT_NAME], S[V_EMPTY]) < 0)
            goto fail;
    } else if (v != NULL && PyUnicode_Check(v) && PyUnicode_CompareWithASCIIString(v, "/") == 0) {
        if (PyDict_SetItem(env, S[K_SCRIPT_NAME], S[V_EMPTY]) < 0)
            goto fail;
    }
    return env;
fail:
    Py_DECREF(env);
    return NULL;
}

static PyObject *attr(PyObject *o, const char *name)
{
    return PyObject_GetAttrString(o, name);
}

/* Reads what the Python subclass provides, once. */
static int gateway_ready(GatewayObject *g)
{
    PyObject *self = (PyObject *)g, *own, *found;
    if (g->ready)
        return 0;
    Py_CLEAR(g->static_env);
    g->static_env = PyObject_CallMethod(self, "_static_environ", NULL);
    if (g->static_env == NULL)
        return -1;
    if (!PyDict_Check(g->static_env)) {
        PyErr_SetString(PyExc_TypeError, "_static_environ() must return a dict");
        return -1;
    }
#define FETCH(field, name)                                                                                   \
    do {                                                                                                     \
        Py_CLEAR(g->field);                                                                                  \
        if ((g->field = attr(self, name)) == NULL)                                                          \
            return -1;                                                                                       \
    } while (0)
    FETCH(start_response, "start_response");
    FETCH(write, "write");
    FETCH(send_result, "_send_result");
    FETCH(header_lines, "_header_lines");
    FETCH(good_status, "_good_status");
    FETCH(good_items, "_good_items");
#undef FETCH
    if (!PyDict_Check(g->good_status) || !PyDict_Check(g->good_items)) {
        PyErr_SetString(PyExc_TypeError, "_good_status and _good_items must be dicts");
        return -1;
    }
    own = PyDict_GetItemString(GatewayType.tp_dict, "environ");
    found = attr((PyObject *)Py_TYPE(self), "environ");
    if (found == NULL)
        return -1;
    g->custom_environ = found != own;
    Py_DECREF(found);
    g->ready = 1;
    return 0;
}

/* (lines, has_length, code) from the caches of smisk.wsgi.headers when the
 * status and every (str, str) item were validated before; 0 when something
 * is not cached (the caller then asks header_lines), -1 on error. */
static int cached_header_lines(GatewayObject *g, PyObject *status, PyObject *headers, PyObject **lines,
                               int *has_length, long *code)
{
    PyObject *entry, *out;
    Py_ssize_t i, n;
    int len = 0;
    if (!PyUnicode_CheckExact(status) || !PyList_CheckExact(headers))
        return 0;
    entry = PyDict_GetItemWithError(g->good_status, status);
    if (entry == NULL)
        return PyErr_Occurred() ? -1 : 0;
    if (!PyTuple_Check(entry) || PyTuple_GET_SIZE(entry) != 2)
        return 0;
    n = PyList_GET_SIZE(headers);
    out = PyList_New(n + 1);
    if (out == NULL)
        return -1;
    Py_INCREF(PyTuple_GET_ITEM(entry, 1));
    PyList_SET_ITEM(out, 0, PyTuple_GET_ITEM(entry, 1));
    for (i = 0; i < n; i++) {
        PyObject *item = PyList_GET_ITEM(headers, i), *e;
        /* Exact str only: an equal item of str subclasses must still be
         * refused by the full check. */
        if (!PyTuple_CheckExact(item) || PyTuple_GET_SIZE(item) != 2 ||
            !PyUnicode_CheckExact(PyTuple_GET_ITEM(item, 0)) || !PyUnicode_CheckExact(PyTuple_GET_ITEM(item, 1)))
            goto miss;
        e = PyDict_GetItemWithError(g->good_items, item);
        if (e == NULL) {
            if (PyErr_Occurred()) {
                Py_DECREF(out);
                return -1;
            }
            goto miss;
        }
        if (!PyTuple_Check(e) || PyTuple_GET_SIZE(e) != 2)
            goto miss;
        Py_INCREF(PyTuple_GET_ITEM(e, 0));
        PyList_SET_ITEM(out, i + 1, PyTuple_GET_ITEM(e, 0));
        if (PyTuple_GET_ITEM(e, 1) == Py_True)
            len = 1;
    }
    *code = PyLong_AsLong(PyTuple_GET_ITEM(entry, 0));
    if (*code == -1 && PyErr_Occurred()) {
        Py_DECREF(out);
        return -1;
    }
    *lines = out;
    *has_length = len;
    return 1;
miss:
    Py_DECREF(out);
    return 0;
}

static int response_begun(GatewayObject *g)
{
    ResponseObject *r = g->app.response;
    return r != NULL && r->handle != NULL && smisk_response_has_begun(r->handle);
}

/* raise exc_info[1].with_traceback(exc_info[2]) */
static PyObject *reraise(PyObject *exc_info)
{
    PyObject *val, *tb, *with;
    if (!PyTuple_Check(exc_info) || PyTuple_GET_SIZE(exc_info) != 3) {
        PyErr_SetString(PyExc_TypeError, "exc_info must be a (type, value, traceback) tuple");
        return NULL;
    }
    val = PyTuple_GET_ITEM(exc_info, 1);
    tb = PyTuple_GET_ITEM(exc_info, 2);
    with = PyObject_CallMethod(val, "with_traceback", "O", tb);
    if (with == NULL)
        return NULL;
    PyErr_SetObject((PyObject *)Py_TYPE(with), with);
    Py_DECREF(with);
    return NULL;
}

static PyObject *gateway_start_response(GatewayObject *g, PyObject *const *args, Py_ssize_t nargs,
                                        PyObject *kwnames)
{
    static const char *const names[3] = {"status", "headers", "exc_info"};
    PyObject *arg[3] = {NULL, NULL, Py_None}, *lines = NULL;
    Py_ssize_t i, nkw = kwnames != NULL ? PyTuple_GET_SIZE(kwnames) : 0;
    int has_length = 0, found;
    long code = 0;
    ResponseObject *resp = g->app.response;

    if (nargs > 3) {
        PyErr_Format(PyExc_TypeError, "start_response() takes at most 3 arguments (%zd given)", nargs);
        return NULL;
    }
    for (i = 0; i < nargs; i++)
        arg[i] = args[i];
    for (i = 0; i < nkw; i++) {
        PyObject *k = PyTuple_GET_ITEM(kwnames, i);
        int j, matched = 0;
        for (j = 0; j < 3 && !matched; j++) {
            if (PyUnicode_CompareWithASCIIString(k, names[j]) == 0) {
                if (j < nargs) {
                    PyErr_Format(PyExc_TypeError, "start_response() got multiple values for argument '%s'",
                                 names[j]);
                    return NULL;
                }
                arg[j] = args[nargs + i];
                matched = 1;
            }
        }
        if (!matched) {
            PyErr_Format(PyExc_TypeError, "start_response() got an unexpected keyword argument '%U'", k);
            return NULL;
        }
    }
    if (arg[0] == NULL || arg[1] == NULL) {
        PyErr_SetString(PyExc_TypeError, "start_response() needs status and headers");
        return NULL;
    }
    if (gateway_ready(g) < 0)
        return NULL;
    if (arg[2] != Py_None) {
        if (response_begun(g))
            return reraise(arg[2]);
    } else if (g->status != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "start_response() called a second time without exc_info (PEP 3333)");
        return NULL;
    }
    found = cached_header_lines(g, arg[0], arg[1], &lines, &has_length, &code);
    if (found < 0)
        return NULL;
    if (found == 0) {
        PyObject *res = PyObject_CallFunctionObjArgs(g->header_lines, arg[0], arg[1], NULL);
        if (res == NULL)
            return NULL;
        if (!PyTuple_Check(res) || PyTuple_GET_SIZE(res) != 3 || !PyList_Check(PyTuple_GET_ITEM(res, 0))) {
            Py_DECREF(res);
            PyErr_SetString(PyExc_TypeError, "_header_lines() must return (list, bool, int)");
            return NULL;
        }
        lines = PyTuple_GET_ITEM(res, 0);
        Py_INCREF(lines);
        has_length = PyObject_IsTrue(PyTuple_GET_ITEM(res, 1));
        code = PyLong_AsLong(PyTuple_GET_ITEM(res, 2));
        Py_DECREF(res);
        if (has_length < 0 || (code == -1 && PyErr_Occurred())) {
            Py_DECREF(lines);
            return NULL;
        }
    }
    if (resp == NULL) {
        Py_DECREF(lines);
        PyErr_SetString(PyExc_OSError, "start_response() outside a request");
        return NULL;
    }
    Py_XSETREF(resp->headers, lines);
    Py_INCREF(arg[0]);
    Py_XSETREF(g->status, arg[0]);
    g->has_length = has_length;
    g->code = code;
    Py_INCREF(g->write);
    return g->write;
}

/* The usual answer, a list or tuple of one bytes block after start_response:
 * with a Content-Length where HTTP allows one. 1 when sent, 0 when result is
 * of another shape, -1 on error. */
static int send_one_block(GatewayObject *g, PyObject *result, PyObject *env)
{
    ResponseObject *resp = g->app.response;
    PyObject *data;
    Py_ssize_t len;
    int sent;
    if (PyList_CheckExact(result)) {
        if (PyList_GET_SIZE(result) != 1)
            return 0;
        data = PyList_GET_ITEM(result, 0);
    } else if (PyTuple_CheckExact(result)) {
        if (PyTuple_GET_SIZE(result) != 1)
            return 0;
        data = PyTuple_GET_ITEM(result, 0);
    } else {
        return 0;
    }
    if (!PyBytes_CheckExact(data) || g->status == NULL || resp == NULL || resp->handle == NULL)
        return 0;
    len = PyBytes_GET_SIZE(data);
    if (!g->has_length && g->code >= 200 && g->code != 204 && g->code != 304 &&
        !smisk_response_has_begun(resp->handle)) {
        PyObject *method = env_get(env, K_REQUEST_METHOD), *line;
        int is_head;
        if (method == NULL && PyErr_Occurred())
            return -1;
        is_head = method != NULL && PyUnicode_Check(method) && PyUnicode_CompareWithASCIIString(method, "HEAD") == 0;
        if (!is_head) {
            if (resp->headers == NULL && (resp->headers = PyList_New(0)) == NULL)
                return -1;
            line = PyUnicode_FromFormat("Content-Length: %zd", len);
            if (line == NULL)
                return -1;
            if (PyList_Append(resp->headers, line) < 0) {
                Py_DECREF(line);
                return -1;
            }
            Py_DECREF(line);
        }
    }
    Py_INCREF(data);
    sent = response_write(resp, data);
    Py_DECREF(data);
    return sent < 0 ? -1 : 1;
}

static PyObject *gateway_service(GatewayObject *g, PyObject *unused)
{
    PyObject *env, *result, *app, *call[2];
    int sent;
    (void)unused;
    Py_CLEAR(g->status);
    if (gateway_ready(g) < 0)
        return NULL;
    env = g->custom_environ ? PyObject_CallMethod((PyObject *)g, "environ", NULL) : gateway_environ(g, NULL);
    if (env == NULL)
        return NULL;
    /* Held for the call: the application may rebind gateway.wsgi_app. A
     * subclass whose class attribute shadows the slot keeps it in its
     * instance dict: found by the ordinary lookup. */
    app = g->wsgi_app;
    if (app != NULL)
        Py_INCREF(app);
    else if ((app = PyObject_GetAttrString((PyObject *)g, "wsgi_app")) == NULL) {
        Py_DECREF(env);
        return NULL;
    }
    call[0] = env;
    call[1] = g->start_response;
    result = PyObject_Vectorcall(app, call, 2, NULL);
    Py_DECREF(app);
    if (result == NULL) {
        Py_DECREF(env);
        return NULL;
    }
    sent = send_one_block(g, result, env);
    if (sent == 0) {
        PyObject *r = PyObject_CallOneArg(g->send_result, result);
        sent = r != NULL ? 1 : -1;
        Py_XDECREF(r);
    }
    Py_DECREF(result);
    Py_DECREF(env);
    if (sent < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *gw_get_status(GatewayObject *g, void *c)
{
    (void)c;
    if (g->status == NULL)
        Py_RETURN_NONE;
    Py_INCREF(g->status);
    return g->status;
}

static int gw_set_status(GatewayObject *g, PyObject *v, void *c)
{
    (void)c;
    if (v == NULL || v == Py_None) {
        Py_CLEAR(g->status);
        return 0;
    }
    Py_INCREF(v);
    Py_XSETREF(g->status, v);
    return 0;
}

static PyGetSetDef gw_getset[] = {
    {"_status", (getter)gw_get_status, (setter)gw_set_status,
     "The status start_response() accepted for the current request, or None.", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyMemberDef gw_members[] = {
    {"wsgi_app", T_OBJECT_EX, offsetof(GatewayObject, wsgi_app), 0, "The WSGI application served."},
    {NULL, 0, 0, 0, NULL}};

static PyMethodDef gw_methods[] = {
    {"service", (PyCFunction)gateway_service, METH_NOARGS,
     "service(): calls wsgi_app(environ, start_response) and sends its result."},
    {"environ", (PyCFunction)gateway_environ, METH_NOARGS,
     "environ(): the WSGI environ of the current request (its env dict, completed in place)."},
    {"start_response", (PyCFunction)(void (*)(void))gateway_start_response, METH_FASTCALL | METH_KEYWORDS,
     "start_response(status, headers, exc_info=None): PEP 3333; returns write."},
    {NULL, NULL, 0, NULL}};

static int gw_traverse(GatewayObject *g, visitproc visit, void *arg)
{
    Py_VISIT(g->wsgi_app);
    Py_VISIT(g->static_env);
    Py_VISIT(g->start_response);
    Py_VISIT(g->write);
    Py_VISIT(g->send_result);
    Py_VISIT(g->header_lines);
    Py_VISIT(g->good_status);
    Py_VISIT(g->good_items);
    Py_VISIT(g->status);
    return ApplicationType.tp_traverse((PyObject *)g, visit, arg);
}

static void clear_fields(GatewayObject *g)
{
    g->ready = 0;
    Py_CLEAR(g->wsgi_app);
    Py_CLEAR(g->static_env);
    Py_CLEAR(g->start_response);
    Py_CLEAR(g->write);
    Py_CLEAR(g->send_result);
    Py_CLEAR(g->header_lines);
    Py_CLEAR(g->good_status);
    Py_CLEAR(g->good_items);
    Py_CLEAR(g->status);
}

static int gw_clear(GatewayObject *g)
{
    clear_fields(g);
    return ApplicationType.tp_clear((PyObject *)g);
}

static void gw_dealloc(GatewayObject *g)
{
    PyObject_GC_UnTrack(g);
    clear_fields(g);
    ApplicationType.tp_dealloc((PyObject *)g);
}

static PyTypeObject GatewayType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "smisk.core.WSGIGatewayBase",
    .tp_basicsize = sizeof(GatewayObject),
    .tp_dealloc = (destructor)gw_dealloc,
    .tp_traverse = (traverseproc)gw_traverse,
    .tp_clear = (inquiry)gw_clear,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "The request path of smisk.wsgi.Gateway in C; use smisk.wsgi.Gateway.",
    .tp_methods = gw_methods,
    .tp_members = gw_members,
    .tp_getset = gw_getset,
};

int wsgi_init_module(PyObject *m)
{
    int i;
    for (i = 0; i < N_STRINGS; i++)
        if ((S[i] = PyUnicode_InternFromString(string_text[i])) == NULL)
            return -1;
    GatewayType.tp_base = &ApplicationType;
    if (PyType_Ready(&GatewayType) < 0)
        return -1;
    Py_INCREF(&GatewayType);
    if (PyModule_AddObject(m, "WSGIGatewayBase", (PyObject *)&GatewayType) < 0) {
        Py_DECREF(&GatewayType);
        return -1;
    }
    return 0;
}
