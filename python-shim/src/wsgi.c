/*
 * smisk.core._core.WSGIGatewayBase: the per-request path of smisk.wsgi's
 * Gateway (service, environ, start_response) as direct C calls.
 *
 * Why in C: in the same-vCPU benchmark each Python frame the gateway ran per
 * request (service, environ, start_response, the header check, the body
 * write) cost about as much as the whole smisk.core hello.
 *
 * Policy is the library's: the scheme (smisk_request_is_https), and what a
 * valid status and header item is (smisk_gateway_status,
 * smisk_gateway_header, smisk_gateway_hop_by_hop). This file converts the
 * Python objects and keeps two small bounded caches of statuses and
 * (name, value) items that passed, with their finished lines, so a repeated
 * item costs one dict lookup. The lines go to the response's header list in
 * the library, which validates them when it sends the block.
 *
 * What the Python subclass provides, it passes to __init__: the environ
 * items every request shares, the write() callable start_response returns,
 * and send_result(result) for every result the fast path does not send
 * itself (anything but a one-block list or tuple of bytes).
 */
#include "shim.h"

#include <structmember.h>

/* At most this many static environ items are compared per request. */
#define SNAP_MAX 32

typedef struct {
    ApplicationObject app;
    PyObject *wsgi_app;
    /* From __init__ (see above). */
    PyObject *static_env, *write, *send_result;
    /* Looked up at the first request: start_response as the application
     * gets it (a subclass may override it), and whether environ() is
     * overridden (then it is called). */
    int ready;
    int custom_environ;
    PyObject *start_response;
    /* Per request: the status start_response accepted (NULL: not called). */
    PyObject *status;
    long code;
    int has_length;
    /* The environ template (params, static_env's items and wsgi.input) and
     * what it was made with: static_env's items in order and wsgi.input
     * (strong references; snap_n -1: too many items to compare, no
     * template). A change of either makes a new template. */
    env_template tmpl;
    PyObject *snap[2 * SNAP_MAX];
    Py_ssize_t snap_n;
    PyObject *snap_input;
#if PY_VERSION_HEX < 0x030C0000
    /* static_env and its version when the snapshot was taken: every change
     * of a dict gives it a new version, so an equal one needs no item by
     * item comparison (3.12 deprecated the field). */
    PyObject *snap_dict;
    uint64_t snap_version;
#endif
} GatewayObject;

static PyTypeObject GatewayType;

/* Interned keys and values of the environ completion. The six from
 * K_HTTP_CONTENT_TYPE on are what the per-request part reads (pinned in
 * the environ template). */
enum {
    K_WSGI_INPUT, K_URL_SCHEME, K_HTTP_CONTENT_TYPE, K_CONTENT_TYPE, K_HTTP_CONTENT_LENGTH, K_CONTENT_LENGTH,
    K_PATH_INFO, K_SCRIPT_NAME, K_REQUEST_METHOD, V_HTTP, V_HTTPS, V_SLASH, V_EMPTY, N_STRINGS
};
#define N_PINNED (K_SCRIPT_NAME - K_HTTP_CONTENT_TYPE + 1)
static const char *const string_text[N_STRINGS] = {
    "wsgi.input", "wsgi.url_scheme", "HTTP_CONTENT_TYPE", "CONTENT_TYPE", "HTTP_CONTENT_LENGTH",
    "CONTENT_LENGTH", "PATH_INFO", "SCRIPT_NAME", "REQUEST_METHOD", "http", "https", "/", ""};
static PyObject *S[N_STRINGS];

/* The str value of env[key], borrowed; NULL when absent (or on error, with
 * an exception set: check PyErr_Occurred()). */
static PyObject *env_get(PyObject *env, int key)
{
    return PyDict_GetItemWithError(env, S[key]);
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

static void snap_clear(GatewayObject *g)
{
    Py_ssize_t i;
    for (i = 0; i < 2 * SNAP_MAX; i++)
        Py_CLEAR(g->snap[i]);
    Py_CLEAR(g->snap_input);
    g->snap_n = -1;
#if PY_VERSION_HEX < 0x030C0000
    Py_CLEAR(g->snap_dict);
#endif
}

/* Whether static_env holds the same items (identical objects, same order)
 * and wsgi.input is the same object as when the template was made. */
static int snap_matches(GatewayObject *g, PyObject *input)
{
    Py_ssize_t pos = 0, i = 0;
    PyObject *k, *v;
    if (g->snap_n < 0 || g->snap_input != input || PyDict_GET_SIZE(g->static_env) != g->snap_n)
        return 0;
#if PY_VERSION_HEX < 0x030C0000
    if (g->snap_dict == g->static_env && ((PyDictObject *)g->static_env)->ma_version_tag == g->snap_version)
        return 1;
#endif
    while (PyDict_Next(g->static_env, &pos, &k, &v)) {
        if (i >= g->snap_n || g->snap[2 * i] != k || g->snap[2 * i + 1] != v)
            return 0;
        i++;
    }
    return i == g->snap_n;
}

static void snap_take(GatewayObject *g, PyObject *input)
{
    Py_ssize_t pos = 0, i = 0;
    PyObject *k, *v;
    snap_clear(g);
    if (PyDict_GET_SIZE(g->static_env) > SNAP_MAX)
        return;
    while (PyDict_Next(g->static_env, &pos, &k, &v) && i < SNAP_MAX) {
        Py_INCREF(k);
        g->snap[2 * i] = k;
        Py_INCREF(v);
        g->snap[2 * i + 1] = v;
        i++;
    }
    Py_INCREF(input);
    g->snap_input = input;
    g->snap_n = i;
#if PY_VERSION_HEX < 0x030C0000
    Py_INCREF(g->static_env);
    g->snap_dict = g->static_env;
    g->snap_version = ((PyDictObject *)g->static_env)->ma_version_tag;
#endif
}

/* env_extra_fn: static_env's items and wsgi.input, the part of the
 * completion that is the same for every request. */
static int add_static(void *ctx, PyObject *env, Py_ssize_t *added)
{
    GatewayObject *g = ctx;
    PyObject *input = (PyObject *)g->app.request->input;
    if (PyDict_Update(env, g->static_env) < 0 || PyDict_SetItem(env, S[K_WSGI_INPUT], input) < 0)
        return -1;
    /* wsgi.input also in static_env, or a snapshot too large to compare:
     * the count does not match and no template is kept. */
    *added = g->snap_n >= 0 && g->snap_input == input ? g->snap_n + 1 : -1;
    return 0;
}

/* The WSGI environ of the current request: the request's own env dict
 * (fresh for every request), completed in place. The params and the
 * static items come from the gateway's template (a copy with the changed
 * params set); what depends on the request's values is done on each. */
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
    if (!snap_matches(g, (PyObject *)req->input)) {
        Py_CLEAR(g->tmpl.dict);
        Py_CLEAR(g->tmpl.done);
        snap_take(g, (PyObject *)req->input);
    }
    g->tmpl.pin_names = &S[K_HTTP_CONTENT_TYPE];
    g->tmpl.npin = N_PINNED;
    env = request_env_with(req, &g->tmpl, add_static, g);
    if (env == NULL)
        return NULL;
    scheme = smisk_request_is_https(req->handle) ? S[V_HTTPS] : S[V_HTTP];
    if (PyDict_SetItem(env, S[K_URL_SCHEME], scheme) < 0)
        goto fail;
    /* The moves and the path below read only the pinned params: unchanged,
     * the kept completed env has them done already. */
    if (g->tmpl.from_done == 1)
        return env;
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
    env_template_set_done(&g->tmpl, env);
    return env;
fail:
    Py_DECREF(env);
    return NULL;
}

/* Looks up what the first request needs, once. */
static int gateway_ready(GatewayObject *g)
{
    PyObject *own, *found;
    if (g->ready)
        return 0;
    if (g->static_env == NULL || g->write == NULL || g->send_result == NULL) {
        PyErr_SetString(PyExc_TypeError, "WSGIGatewayBase.__init__ was not called with environ, write and "
                                         "send_result (use smisk.wsgi.Gateway)");
        return -1;
    }
    Py_CLEAR(g->start_response);
    if ((g->start_response = PyObject_GetAttrString((PyObject *)g, "start_response")) == NULL)
        return -1;
    own = PyDict_GetItemString(GatewayType.tp_dict, "environ");
    found = PyObject_GetAttrString((PyObject *)Py_TYPE(g), "environ");
    if (found == NULL)
        return -1;
    g->custom_environ = found != own;
    Py_DECREF(found);
    g->ready = 1;
    return 0;
}

/* ---- start_response's checks and caches ------------------------------------ */

/* Statuses and items that passed: status -> (code, line); (name, value) ->
 * (line, is Content-Length). Keys are exact str (and tuples of them): an
 * equal str subclass must still go through the full check. Bounded: once
 * full, new entries are checked every time and not kept. */
#define CACHE_MAX 512
static PyObject *good_status, *good_items;

/* A line object for Latin-1 bytes: str when ASCII (as Response.headers
 * holds them), else bytes (the Latin-1 bytes themselves). */
static PyObject *latin1_line(const uint8_t *p, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (p[i] >= 0x80)
            return PyBytes_FromStringAndSize((const char *)p, (Py_ssize_t)n);
    return PyUnicode_DecodeASCII((const char *)p, (Py_ssize_t)n, NULL);
}

/* The library's verdict on a status: a new (code, line) entry (cached). */
static PyObject *status_entry(PyObject *status)
{
    PyObject *bytes, *line, *entry;
    uint16_t code = 0;
    smisk_status st;
    if (!PyUnicode_CheckExact(status)) {
        PyErr_Format(PyExc_TypeError, "status must be a str, not %.100s: %R", Py_TYPE(status)->tp_name, status);
        return NULL;
    }
    bytes = PyUnicode_AsLatin1String(status);
    if (bytes == NULL) {
        PyErr_Clear();
        PyErr_Format(PyExc_ValueError, "status must be 'NNN Reason' (Latin-1, no control characters): %R", status);
        return NULL;
    }
    st = smisk_gateway_status((const uint8_t *)PyBytes_AS_STRING(bytes), (size_t)PyBytes_GET_SIZE(bytes), &code);
    if (st != SMISK_OK) {
        Py_DECREF(bytes);
        return raise_status(st);
    }
    {
        Py_ssize_t n = PyBytes_GET_SIZE(bytes);
        uint8_t *buf = PyMem_Malloc((size_t)n + 8);
        if (buf == NULL) {
            Py_DECREF(bytes);
            return PyErr_NoMemory();
        }
        memcpy(buf, "Status: ", 8);
        memcpy(buf + 8, PyBytes_AS_STRING(bytes), (size_t)n);
        line = latin1_line(buf, (size_t)n + 8);
        PyMem_Free(buf);
    }
    Py_DECREF(bytes);
    if (line == NULL)
        return NULL;
    entry = Py_BuildValue("(iN)", (int)code, line);
    if (entry != NULL && PyDict_GET_SIZE(good_status) < CACHE_MAX && PyDict_SetItem(good_status, status, entry) < 0)
        Py_CLEAR(entry);
    return entry;
}

/* The library's verdict on one (name, value) item: a new (line,
 * is_length) entry (cached). */
static PyObject *item_entry(PyObject *item)
{
    PyObject *name, *value, *nb = NULL, *vb = NULL, *line, *entry = NULL;
    uint8_t *out = NULL;
    size_t out_len = 0;
    bool is_length = false;
    smisk_status st;
    if (!PyTuple_CheckExact(item) || PyTuple_GET_SIZE(item) != 2) {
        PyErr_Format(PyExc_TypeError, "each header must be a (name, value) tuple, not %R", item);
        return NULL;
    }
    name = PyTuple_GET_ITEM(item, 0);
    value = PyTuple_GET_ITEM(item, 1);
    if (!PyUnicode_CheckExact(name)) {
        PyErr_Format(PyExc_TypeError, "header names must be str, not %.100s: %R", Py_TYPE(name)->tp_name, name);
        return NULL;
    }
    if (!PyUnicode_CheckExact(value)) {
        PyErr_Format(PyExc_TypeError, "value of header %R must be a str, not %.100s", name, Py_TYPE(value)->tp_name);
        return NULL;
    }
    /* Native strings carry Latin-1 bytes (PEP 3333): those bytes are sent,
     * not the UTF-8 form Response.headers would use for a str. */
    if ((nb = PyUnicode_AsLatin1String(name)) == NULL) {
        PyErr_Clear();
        PyErr_Format(PyExc_ValueError, "invalid header name %R (must be an RFC 7230 token)", name);
        return NULL;
    }
    if ((vb = PyUnicode_AsLatin1String(value)) == NULL) {
        PyErr_Clear();
        PyErr_Format(PyExc_ValueError, "value of header %R is not Latin-1: %R", name, value);
        goto done;
    }
    st = smisk_gateway_header((const uint8_t *)PyBytes_AS_STRING(nb), (size_t)PyBytes_GET_SIZE(nb),
                              (const uint8_t *)PyBytes_AS_STRING(vb), (size_t)PyBytes_GET_SIZE(vb), &out, &out_len,
                              &is_length);
    if (st != SMISK_OK) {
        raise_status(st);
        goto done;
    }
    line = latin1_line(out, out_len);
    smisk_bytes_free(out, out_len);
    if (line == NULL)
        goto done;
    entry = Py_BuildValue("(NO)", line, is_length ? Py_True : Py_False);
    if (entry != NULL && PyDict_GET_SIZE(good_items) < CACHE_MAX && PyDict_SetItem(good_items, item, entry) < 0)
        Py_CLEAR(entry);
done:
    Py_XDECREF(nb);
    Py_XDECREF(vb);
    return entry;
}

/* The header lines of one start_response call: new references, in a
 * small array on the stack unless there are many. */
typedef struct {
    PyObject *small[24];
    PyObject **items;
    Py_ssize_t n;
} line_set;

static void line_set_clear(line_set *ls)
{
    Py_ssize_t i;
    for (i = 0; i < ls->n; i++)
        Py_DECREF(ls->items[i]);
    if (ls->items != ls->small)
        PyMem_Free(ls->items);
    ls->items = ls->small;
    ls->n = 0;
}

/* The last start_response call whose status and items were all exact str
 * and tuples of exact str, with what came of it. Those are immutable, and
 * the references here keep them alive: a call with the very same objects
 * (an application's constants: the usual case) gets the same lines
 * without hashing a tuple or looking anything up. */
#define LAST_MAX 8
static struct {
    PyObject *status;          /* NULL: nothing kept */
    PyObject *items[LAST_MAX]; /* the (name, value) tuples */
    Py_ssize_t n;
    PyObject *lines[LAST_MAX + 1];
    int has_length;
    long code;
} last;

static void last_clear(void)
{
    Py_ssize_t i;
    if (last.status == NULL)
        return;
    for (i = 0; i < last.n; i++)
        Py_CLEAR(last.items[i]);
    for (i = 0; i < last.n + 1; i++)
        Py_CLEAR(last.lines[i]);
    Py_CLEAR(last.status);
    last.n = 0;
}

/* Whether headers holds the same item objects as the last call. */
static int last_matches(PyObject *status, PyObject *headers)
{
    Py_ssize_t i;
    if (last.status == NULL || status != last.status || !PyList_CheckExact(headers) ||
        PyList_GET_SIZE(headers) != last.n)
        return 0;
    for (i = 0; i < last.n; i++)
        if (PyList_GET_ITEM(headers, i) != last.items[i])
            return 0;
    return 1;
}

/* Keeps a successful call when every object in it is immutable. */
static void last_keep(PyObject *status, PyObject *headers, const line_set *ls, int has_length, long code)
{
    Py_ssize_t i, n = PyList_GET_SIZE(headers);
    if (!PyUnicode_CheckExact(status) || n > LAST_MAX || ls->n != n + 1)
        return;
    for (i = 0; i < n; i++) {
        PyObject *item = PyList_GET_ITEM(headers, i);
        if (!PyTuple_CheckExact(item) || PyTuple_GET_SIZE(item) != 2 ||
            !PyUnicode_CheckExact(PyTuple_GET_ITEM(item, 0)) || !PyUnicode_CheckExact(PyTuple_GET_ITEM(item, 1)))
            return;
    }
    last_clear();
    for (i = 0; i < n; i++) {
        Py_INCREF(PyList_GET_ITEM(headers, i));
        last.items[i] = PyList_GET_ITEM(headers, i);
    }
    for (i = 0; i < n + 1; i++) {
        Py_INCREF(ls->items[i]);
        last.lines[i] = ls->items[i];
    }
    Py_INCREF(status);
    last.status = status;
    last.n = n;
    last.has_length = has_length;
    last.code = code;
}

/* The header lines for start_response(status, headers) into *ls
 * ('Status: ...' first), *has_length whether an item is a Content-Length,
 * *code the status code. Cached entries are used for exact str only;
 * everything else is checked by the library. */
static int header_lines(PyObject *status, PyObject *headers, line_set *ls, int *has_length, long *code)
{
    PyObject *entry;
    Py_ssize_t i, n;
    int len = 0;
    ls->items = ls->small;
    ls->n = 0;
    if (last_matches(status, headers)) {
        for (i = 0; i < last.n + 1; i++) {
            Py_INCREF(last.lines[i]);
            ls->items[ls->n++] = last.lines[i];
        }
        *has_length = last.has_length;
        *code = last.code;
        return 0;
    }
    entry = PyUnicode_CheckExact(status) ? PyDict_GetItemWithError(good_status, status) : NULL;
    if (entry != NULL)
        Py_INCREF(entry);
    else if (PyErr_Occurred() || (entry = status_entry(status)) == NULL)
        return -1;
    if (!PyList_CheckExact(headers)) {
        Py_DECREF(entry);
        PyErr_Format(PyExc_TypeError, "response_headers must be a list, not %.100s", Py_TYPE(headers)->tp_name);
        return -1;
    }
    *code = PyLong_AsLong(PyTuple_GET_ITEM(entry, 0));
    n = PyList_GET_SIZE(headers);
    if (n + 1 > (Py_ssize_t)(sizeof(ls->small) / sizeof(ls->small[0])) &&
        (ls->items = PyMem_New(PyObject *, (size_t)n + 1)) == NULL) {
        ls->items = ls->small;
        Py_DECREF(entry);
        PyErr_NoMemory();
        return -1;
    }
    Py_INCREF(PyTuple_GET_ITEM(entry, 1));
    ls->items[ls->n++] = PyTuple_GET_ITEM(entry, 1);
    Py_DECREF(entry);
    for (i = 0; i < n && i < PyList_GET_SIZE(headers); i++) {
        PyObject *item = PyList_GET_ITEM(headers, i), *e = NULL;
        if (PyTuple_CheckExact(item) && PyTuple_GET_SIZE(item) == 2 && PyUnicode_CheckExact(PyTuple_GET_ITEM(item, 0)) &&
            PyUnicode_CheckExact(PyTuple_GET_ITEM(item, 1))) {
            e = PyDict_GetItemWithError(good_items, item);
            Py_XINCREF(e);
        }
        if (e == NULL && (PyErr_Occurred() || (e = item_entry(item)) == NULL)) {
            line_set_clear(ls);
            return -1;
        }
        Py_INCREF(PyTuple_GET_ITEM(e, 0));
        ls->items[ls->n++] = PyTuple_GET_ITEM(e, 0);
        if (PyTuple_GET_ITEM(e, 1) == Py_True)
            len = 1;
        Py_DECREF(e);
    }
    if (i < n) {
        /* The list shrank under us (an item's __eq__ ran Python code). */
        line_set_clear(ls);
        PyErr_SetString(PyExc_RuntimeError, "response_headers changed during start_response()");
        return -1;
    }
    *has_length = len;
    last_keep(status, headers, ls, len, *code);
    return 0;
}

/* WSGIGatewayBase.header_lines(status, headers): the checks of
 * start_response as a function -> (lines, has_length, code). */
static PyObject *gw_header_lines(PyObject *unused, PyObject *args)
{
    PyObject *status, *headers, *lines;
    line_set ls;
    Py_ssize_t i;
    int has_length = 0;
    long code = 0;
    (void)unused;
    if (!PyArg_ParseTuple(args, "OO:header_lines", &status, &headers))
        return NULL;
    if (header_lines(status, headers, &ls, &has_length, &code) < 0)
        return NULL;
    lines = PyList_New(ls.n);
    if (lines != NULL)
        for (i = 0; i < ls.n; i++) {
            Py_INCREF(ls.items[i]);
            PyList_SET_ITEM(lines, i, ls.items[i]);
        }
    line_set_clear(&ls);
    if (lines == NULL)
        return NULL;
    return Py_BuildValue("(NOl)", lines, has_length ? Py_True : Py_False, code);
}

/* WSGIGatewayBase._header_caches() -> (statuses, items, size): copies of
 * the caches, for tests. */
static PyObject *gw_header_caches(PyObject *unused, PyObject *noargs)
{
    (void)unused;
    (void)noargs;
    return Py_BuildValue("(NNi)", PyDict_Copy(good_status), PyDict_Copy(good_items), CACHE_MAX);
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
    PyObject *arg[3] = {NULL, NULL, Py_None};
    line_set ls;
    Py_ssize_t i, nkw = kwnames != NULL ? PyTuple_GET_SIZE(kwnames) : 0;
    int has_length = 0;
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
    if (header_lines(arg[0], arg[1], &ls, &has_length, &code) < 0)
        return NULL;
    if (resp == NULL || resp->handle == NULL) {
        line_set_clear(&ls);
        PyErr_SetString(PyExc_OSError, "start_response() outside a request");
        return NULL;
    }
    if (response_set_lines(resp, ls.items, ls.n) < 0) {
        line_set_clear(&ls);
        return NULL;
    }
    line_set_clear(&ls);
    Py_INCREF(arg[0]);
    Py_XSETREF(g->status, arg[0]);
    g->has_length = has_length;
    g->code = code;
    Py_INCREF(g->write);
    return g->write;
}

/* Adds "Content-Length: <len>". Formatted by hand: PyUnicode_FromFormat
 * and its printf machinery cost about a tenth of the whole WSGI hello. */
static int add_length_line(ResponseObject *resp, size_t len)
{
    static const char prefix[] = "Content-Length: ";
    char line[sizeof(prefix) - 1 + 20], digits[20];
    size_t n = 0, p = sizeof(prefix) - 1;
    memcpy(line, prefix, p);
    do {
        digits[n++] = (char)('0' + len % 10);
        len /= 10;
    } while (len > 0);
    while (n > 0)
        line[p++] = digits[--n];
    return response_add_ascii(resp, line, p);
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
        PyObject *method = env_get(env, K_REQUEST_METHOD);
        int is_head;
        if (method == NULL && PyErr_Occurred())
            return -1;
        is_head = method != NULL && PyUnicode_Check(method) && PyUnicode_CompareWithASCIIString(method, "HEAD") == 0;
        if (!is_head && add_length_line(resp, (size_t)len) < 0)
            return -1;
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
    {"header_lines", (PyCFunction)gw_header_lines, METH_VARARGS | METH_STATIC,
     "header_lines(status, headers) -> (lines, has_length, code): start_response's checks (the "
     "library's), as a function: the lines for Response.headers ('Status: ...' first; bytes where a "
     "value is not ASCII), whether an item is a Content-Length, and the status code."},
    {"_header_caches", (PyCFunction)gw_header_caches, METH_NOARGS | METH_STATIC,
     "_header_caches() -> (statuses, items, size): copies of the caches start_response reads."},
    {NULL, NULL, 0, NULL}};

/* WSGIGatewayBase(wsgi_app, *, environ, write, send_result): see the file
 * comment. wsgi_app is assigned as an attribute (a subclass may shadow the
 * slot with a class attribute; the instance dict then holds it). */
static int gw_init(GatewayObject *g, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"wsgi_app", "environ", "write", "send_result", NULL};
    PyObject *app = NULL, *env = NULL, *write = NULL, *send_result = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|O$OOO:WSGIGatewayBase", kwlist, &app, &env, &write, &send_result))
        return -1;
    if (env != NULL && !PyDict_Check(env)) {
        PyErr_SetString(PyExc_TypeError, "environ must be a dict");
        return -1;
    }
    if ((write != NULL && !PyCallable_Check(write)) || (send_result != NULL && !PyCallable_Check(send_result))) {
        PyErr_SetString(PyExc_TypeError, "write and send_result must be callable");
        return -1;
    }
    if (app != NULL && PyObject_SetAttrString((PyObject *)g, "wsgi_app", app) < 0)
        return -1;
    Py_XINCREF(env);
    Py_XSETREF(g->static_env, env);
    Py_XINCREF(write);
    Py_XSETREF(g->write, write);
    Py_XINCREF(send_result);
    Py_XSETREF(g->send_result, send_result);
    g->ready = 0;
    return 0;
}

static int gw_traverse(GatewayObject *g, visitproc visit, void *arg)
{
    Py_ssize_t i;
    /* The template and the snapshot hold static_env's values, among them
     * smisk.app: the gateway itself. */
    Py_VISIT(g->tmpl.dict);
    Py_VISIT(g->tmpl.done);
    for (i = 0; i < 2 * SNAP_MAX; i++)
        Py_VISIT(g->snap[i]);
    Py_VISIT(g->snap_input);
#if PY_VERSION_HEX < 0x030C0000
    Py_VISIT(g->snap_dict);
#endif
    Py_VISIT(g->wsgi_app);
    Py_VISIT(g->static_env);
    Py_VISIT(g->start_response);
    Py_VISIT(g->write);
    Py_VISIT(g->send_result);
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
    Py_CLEAR(g->status);
    env_template_clear(&g->tmpl);
    snap_clear(g);
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
    .tp_init = (initproc)gw_init,
};

int wsgi_init_module(PyObject *m)
{
    int i;
    for (i = 0; i < N_STRINGS; i++)
        if ((S[i] = PyUnicode_InternFromString(string_text[i])) == NULL)
            return -1;
    if ((good_status = PyDict_New()) == NULL || (good_items = PyDict_New()) == NULL)
        return -1;
    GatewayType.tp_base = &ApplicationType;
    if (PyType_Ready(&GatewayType) < 0)
        return -1;
    {
        /* The hop-by-hop names (the library's list), for smisk.wsgi. */
        PyObject *names = PyList_New(0), *frozen;
        const char *name;
        size_t k;
        if (names == NULL)
            return -1;
        for (k = 0; (name = smisk_gateway_hop_by_hop(k)) != NULL; k++) {
            PyObject *o = PyUnicode_FromString(name);
            if (o == NULL || PyList_Append(names, o) < 0) {
                Py_XDECREF(o);
                Py_DECREF(names);
                return -1;
            }
            Py_DECREF(o);
        }
        frozen = PyFrozenSet_New(names);
        Py_DECREF(names);
        if (frozen == NULL || PyDict_SetItemString(GatewayType.tp_dict, "HOP_BY_HOP", frozen) < 0) {
            Py_XDECREF(frozen);
            return -1;
        }
        Py_DECREF(frozen);
        PyType_Modified(&GatewayType);
    }
    Py_INCREF(&GatewayType);
    if (PyModule_AddObject(m, "WSGIGatewayBase", (PyObject *)&GatewayType) < 0) {
        Py_DECREF(&GatewayType);
        return -1;
    }
    return 0;
}
