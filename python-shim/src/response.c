/*
 * smisk.core.Response: the response being written (one object per run(),
 * reattached to every request).
 *
 * `headers` is a plain Python list the application edits freely; begin()
 * hands it to the library, which validates every line (no CR/LF/NUL, a
 * token name) and sends exactly the headers plus one blank line (W-13).
 * Body writes go straight to the library's buffered FastCGI output. Cookie
 * formatting and the sendfile header are the library's.
 */
#include "shim.h"

#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The library sends its output buffer once 64 KiB accumulate: a write (or
 * header block) this long reaches the socket and may block, so the GIL is
 * released around it; shorter ones are normally a memcpy. */
#define WRITE_RELEASE_GIL 65536

static int check_request(ResponseObject *r)
{
    if (r->handle == NULL) {
        PyErr_SetString(PyExc_OSError, "response used outside a request");
        return -1;
    }
    return 0;
}

static int check_not_begun(ResponseObject *r, const char *what)
{
    if (check_request(r) < 0)
        return -1;
    if (smisk_response_has_begun(r->handle)) {
        PyErr_Format(PyExc_OSError, "%s: output has already begun", what);
        return -1;
    }
    return 0;
}

static PyObject *headers_list(ResponseObject *r)
{
    if (r->headers == NULL)
        r->headers = PyList_New(0);
    return r->headers;
}

/* Adds one header line; *total (if given) grows by its length. */
static int add_header_obj(ResponseObject *r, PyObject *line, size_t *total)
{
    view v;
    smisk_status st;
    if (!PyUnicode_Check(line) && !PyBytes_Check(line)) {
        PyErr_Format(PyExc_TypeError, "header lines must be str, not %.100s", Py_TYPE(line)->tp_name);
        return -1;
    }
    if (view_get(line, &v, "header") < 0)
        return -1;
    st = smisk_response_add_header(r->handle, (const char *)v.ptr, v.len);
    if (total != NULL)
        *total += v.len;
    view_release(&v);
    if (st != SMISK_OK) {
        raise_status(st);
        return -1;
    }
    return 0;
}

static PyObject *resp_begin(ResponseObject *r, PyObject *unused)
{
    PyObject *cookie = NULL;
    size_t total = 0;
    smisk_status st;
    (void)unused;
    if (check_not_begun(r, "begin()") < 0)
        return NULL;
    if (request_session_cookie(r->request, &cookie) < 0)
        return NULL;
    if (cookie != NULL) {
        int rc = add_header_obj(r, cookie, &total);
        Py_DECREF(cookie);
        if (rc < 0)
            goto fail;
    }
    if (r->headers != NULL) {
        Py_ssize_t i;
        if (!PyList_Check(r->headers)) {
            PyErr_SetString(PyExc_TypeError, "response.headers must be a list of str");
            goto fail;
        }
        for (i = 0; i < PyList_GET_SIZE(r->headers); i++)
            if (add_header_obj(r, PyList_GET_ITEM(r->headers, i), &total) < 0)
                goto fail;
    }
    /* The header block opens the output buffer, so a small one is never
     * sent here: releasing the GIL for it would cost a GIL round trip per
     * request for nothing. */
    if (total >= WRITE_RELEASE_GIL) {
        Py_BEGIN_ALLOW_THREADS
        st = smisk_response_begin(r->handle);
        Py_END_ALLOW_THREADS
    } else {
        st = smisk_response_begin(r->handle);
    }
    if (st != SMISK_OK) {
        raise_status(st);
        goto fail;
    }
    Py_RETURN_NONE;
fail:
    /* Nothing was sent: drop what was added so an error page can follow. */
    smisk_response_clear_headers(r->handle);
    return NULL;
}

int response_begin_if_needed(ResponseObject *r)
{
    PyObject *res;
    if (smisk_response_has_begun(r->handle))
        return 0;
    if (r->custom_begin)
        res = PyObject_CallMethodObjArgs((PyObject *)r, str_begin, NULL);
    else
        res = resp_begin(r, NULL);
    if (res == NULL)
        return -1;
    Py_DECREF(res);
    return 0;
}

int body_view(PyObject *data, view *v, PyObject **tmp)
{
    *tmp = NULL;
    if (PyUnicode_Check(data)) {
        ApplicationObject *app = app_current();
        if (app == NULL || app->charset_is_utf8)
            return view_get(data, v, "data");
        *tmp = PyUnicode_AsEncodedString(data, app->charset_utf8, "strict");
        if (*tmp == NULL)
            return -1;
        return view_get(*tmp, v, "data");
    }
    if (!PyObject_CheckBuffer(data)) {
        PyErr_Format(PyExc_TypeError, "response data must be bytes or str, not %.100s",
                     Py_TYPE(data)->tp_name);
        return -1;
    }
    return view_get(data, v, "data");
}

/* Writes one chunk: empty ones do not begin the response. */
static int write_chunk(ResponseObject *r, PyObject *data)
{
    view v;
    PyObject *tmp;
    smisk_status st;
    if (body_view(data, &v, &tmp) < 0)
        return -1;
    if (v.len == 0) {
        view_release(&v);
        Py_XDECREF(tmp);
        return 0;
    }
    if (response_begin_if_needed(r) < 0) {
        view_release(&v);
        Py_XDECREF(tmp);
        return -1;
    }
    if (v.len >= WRITE_RELEASE_GIL) {
        Py_BEGIN_ALLOW_THREADS
        st = smisk_response_write(r->handle, v.ptr, v.len);
        Py_END_ALLOW_THREADS
    } else {
        st = smisk_response_write(r->handle, v.ptr, v.len);
    }
    view_release(&v);
    Py_XDECREF(tmp);
    if (st != SMISK_OK) {
        raise_status(st);
        return -1;
    }
    return 0;
}

int response_write(ResponseObject *r, PyObject *data)
{
    if (check_request(r) < 0 || write_chunk(r, data) < 0)
        return -1;
    return 0;
}

static PyObject *resp_write(ResponseObject *r, PyObject *data)
{
    if (response_write(r, data) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *resp_writelines(ResponseObject *r, PyObject *iterable)
{
    PyObject *it, *item;
    if (check_request(r) < 0)
        return NULL;
    it = PyObject_GetIter(iterable);
    if (it == NULL)
        return NULL;
    while ((item = PyIter_Next(it)) != NULL) {
        int rc = write_chunk(r, item);
        Py_DECREF(item);
        if (rc < 0) {
            Py_DECREF(it);
            return NULL;
        }
    }
    Py_DECREF(it);
    if (PyErr_Occurred())
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *resp_call(ResponseObject *r, PyObject *args, PyObject *kw)
{
    if (kw != NULL && PyDict_GET_SIZE(kw) > 0) {
        PyErr_SetString(PyExc_TypeError, "response() takes no keyword arguments");
        return NULL;
    }
    return resp_writelines(r, args);
}

static PyObject *resp_find_header(ResponseObject *r, PyObject *prefix)
{
    Py_ssize_t i, n;
    const char *p;
    Py_ssize_t pl;
    if (!PyUnicode_Check(prefix)) {
        PyErr_SetString(PyExc_TypeError, "find_header() takes a str");
        return NULL;
    }
    p = PyUnicode_AsUTF8AndSize(prefix, &pl);
    if (p == NULL)
        return NULL;
    if (r->headers == NULL || !PyList_Check(r->headers))
        return PyLong_FromLong(-1);
    n = PyList_GET_SIZE(r->headers);
    for (i = 0; i < n; i++) {
        PyObject *h = PyList_GET_ITEM(r->headers, i);
        const char *s;
        Py_ssize_t sl, j;
        if (!PyUnicode_Check(h))
            continue;
        s = PyUnicode_AsUTF8AndSize(h, &sl);
        if (s == NULL)
            return NULL;
        if (sl < pl)
            continue;
        for (j = 0; j < pl; j++) {
            char a = s[j], b = p[j];
            if (a >= 'A' && a <= 'Z')
                a = (char)(a + 32);
            if (b >= 'A' && b <= 'Z')
                b = (char)(b + 32);
            if (a != b)
                break;
        }
        if (j == pl)
            return PyLong_FromSsize_t(i);
    }
    return PyLong_FromLong(-1);
}

static int opt_text(PyObject *o, view *v, const char *what)
{
    memset(v, 0, sizeof(*v));
    if (o == NULL || o == Py_None)
        return 0;
    if (!PyUnicode_Check(o)) {
        PyErr_Format(PyExc_TypeError, "%s must be a str or None", what);
        return -1;
    }
    return view_get(o, v, what);
}

static PyObject *resp_set_cookie(ResponseObject *r, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"name",    "value",    "comment",   "domain",    "path", "secure",
                             "version", "max_age",  "http_only", "same_site", NULL};
    PyObject *name, *value, *comment = NULL, *domain = NULL, *path = NULL, *same_site = NULL, *line;
    int secure = 0, http_only = 0, version = 1;
    long long max_age = -1;
    view vn, vv, vd, vp, vs;
    smisk_cookie_options opt;
    uint8_t *out = NULL;
    size_t out_len = 0;
    smisk_status st;
    PyObject *list;
    int rc;

    if (!PyArg_ParseTupleAndKeywords(args, kw, "UU|OOOpiLpO:set_cookie", kwlist, &name, &value, &comment,
                                     &domain, &path, &secure, &version, &max_age, &http_only, &same_site))
        return NULL;
    (void)comment; /* RFC 6265 has no Comment attribute */
    (void)version; /* nor Version */
    if (r->handle != NULL && check_not_begun(r, "set_cookie()") < 0)
        return NULL;
    if (view_get(name, &vn, "name") < 0)
        return NULL;
    if (view_get(value, &vv, "value") < 0) {
        view_release(&vn);
        return NULL;
    }
    if (opt_text(domain, &vd, "domain") < 0 || opt_text(path, &vp, "path") < 0 ||
        opt_text(same_site, &vs, "same_site") < 0)
        return NULL;
    smisk_cookie_options_init(&opt);
    if (path == NULL || path == Py_None) {
        opt.path = (const uint8_t *)"/";
        opt.path_len = 1;
    } else {
        opt.path = vp.ptr != NULL ? vp.ptr : (const uint8_t *)"";
        opt.path_len = vp.len;
    }
    if (vd.ptr != NULL || (domain != NULL && domain != Py_None)) {
        opt.domain = vd.ptr != NULL ? vd.ptr : (const uint8_t *)"";
        opt.domain_len = vd.len;
    }
    if (same_site != NULL && same_site != Py_None) {
        opt.same_site = vs.ptr != NULL ? vs.ptr : (const uint8_t *)"";
        opt.same_site_len = vs.len;
    }
    opt.max_age = max_age < 0 ? -1 : max_age;
    opt.secure = secure != 0;
    opt.http_only = http_only != 0;
    st = smisk_cookie_format(vn.ptr, vn.len, vv.ptr, vv.len, &opt, &out, &out_len);
    view_release(&vn);
    view_release(&vv);
    view_release(&vd);
    view_release(&vp);
    view_release(&vs);
    if (st != SMISK_OK)
        return raise_status(st);
    line = PyUnicode_DecodeLatin1((const char *)out, (Py_ssize_t)out_len, NULL);
    smisk_bytes_free(out, out_len);
    if (line != NULL)
        Py_SETREF(line, PyUnicode_FromFormat("Set-Cookie: %U", line));
    if (line == NULL)
        return NULL;
    list = headers_list(r);
    rc = list == NULL ? -1 : PyList_Append(list, line);
    Py_DECREF(line);
    if (rc < 0)
        return NULL;
    Py_RETURN_NONE;
}

/* No server-side sendfile: smisk streams the file. It is opened and checked
 * before the response begins, so a missing file raises (and error() can
 * still answer a clean 500) instead of cutting a 200 short. */
static int stream_file(ResponseObject *r, PyObject *path)
{
    const char *p = PyBytes_AS_STRING(path);
    size_t n = (size_t)PyBytes_GET_SIZE(path);
    struct stat sb;
    uint64_t written = 0;
    smisk_status st;
    PyObject *line, *list;
    int fd, ok, rc;

    Py_BEGIN_ALLOW_THREADS
    /* O_NONBLOCK: a FIFO must not hang the worker; it is refused below. */
    fd = open(p, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    ok = fd >= 0 && fstat(fd, &sb) == 0;
    Py_END_ALLOW_THREADS
    if (!ok) {
        PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, path);
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    if (!S_ISREG(sb.st_mode)) {
        PyErr_Format(PyExc_OSError, "send_file: %R is not a regular file", path);
        return -1;
    }
    line = PyUnicode_FromFormat("Content-Length: %llu", (unsigned long long)sb.st_size);
    list = headers_list(r);
    rc = line == NULL || list == NULL ? -1 : PyList_Append(list, line);
    Py_XDECREF(line);
    if (rc < 0 || response_begin_if_needed(r) < 0)
        return -1;
    Py_BEGIN_ALLOW_THREADS
    st = smisk_response_write_file(r->handle, p, n, &written);
    Py_END_ALLOW_THREADS
    if (st != SMISK_OK) {
        raise_status(st);
        return -1;
    }
    return 0;
}

static PyObject *resp_send_file(ResponseObject *r, PyObject *arg)
{
    PyObject *path = NULL, *list, *line;
    uint8_t *out = NULL;
    size_t out_len = 0;
    smisk_status st;
    int rc;

    if (check_not_begun(r, "send_file()") < 0)
        return NULL;
    if (!PyUnicode_FSConverter(arg, &path))
        return NULL;
    st = smisk_request_sendfile_header(r->handle, PyBytes_AS_STRING(path), (size_t)PyBytes_GET_SIZE(path),
                                       &out, &out_len);
    if (st == SMISK_ERR_UNSUPPORTED) {
        rc = stream_file(r, path);
        Py_DECREF(path);
        if (rc < 0)
            return NULL;
        Py_RETURN_NONE;
    }
    Py_DECREF(path);
    if (st != SMISK_OK)
        return raise_status(st);
    line = PyUnicode_DecodeUTF8((const char *)out, (Py_ssize_t)out_len, "surrogateescape");
    smisk_bytes_free(out, out_len);
    if (line == NULL)
        return NULL;
    list = headers_list(r);
    rc = list == NULL ? -1 : PyList_Append(list, line);
    Py_DECREF(line);
    if (rc < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *resp_get_headers(ResponseObject *r, void *c)
{
    PyObject *h;
    (void)c;
    h = headers_list(r);
    Py_XINCREF(h);
    return h;
}

static int resp_set_headers(ResponseObject *r, PyObject *v, void *c)
{
    (void)c;
    if (v == NULL || v == Py_None) {
        Py_CLEAR(r->headers);
        return 0;
    }
    if (!PyList_Check(v)) {
        PyErr_SetString(PyExc_TypeError, "headers must be a list of str");
        return -1;
    }
    Py_INCREF(v);
    Py_XSETREF(r->headers, v);
    return 0;
}

static PyObject *resp_get_has_begun(ResponseObject *r, void *c)
{
    (void)c;
    return PyBool_FromLong(r->handle != NULL && smisk_response_has_begun(r->handle));
}

static PyObject *resp_get_out(ResponseObject *r, void *c)
{
    (void)c;
    Py_INCREF(r->out);
    return (PyObject *)r->out;
}

void response_attach(ResponseObject *r, smisk_request *h)
{
    r->handle = h;
    r->out->handle = h;
}

void response_detach(ResponseObject *r)
{
    Py_CLEAR(r->headers);
    r->handle = NULL;
    r->out->handle = NULL;
}

static PyObject *resp_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    ResponseObject *r;
    (void)args;
    (void)kw;
    r = (ResponseObject *)type->tp_alloc(type, 0);
    if (r == NULL)
        return NULL;
    r->out = (StreamObject *)stream_new(STREAM_OUTPUT);
    if (r->out == NULL) {
        Py_DECREF(r);
        return NULL;
    }
    return (PyObject *)r;
}

static int resp_traverse(ResponseObject *r, visitproc visit, void *arg)
{
    Py_VISIT(r->inst_dict);
    Py_VISIT(r->request);
    Py_VISIT(r->headers);
    return 0;
}

static int resp_clear(ResponseObject *r)
{
    Py_CLEAR(r->inst_dict);
    Py_CLEAR(r->request);
    Py_CLEAR(r->headers);
    return 0;
}

static void resp_dealloc(ResponseObject *r)
{
    PyObject_GC_UnTrack(r);
    resp_clear(r);
    Py_CLEAR(r->out);
    Py_TYPE(r)->tp_free((PyObject *)r);
}

static PyMethodDef resp_methods[] = {
    {"begin", (PyCFunction)resp_begin, METH_NOARGS,
     "begin(): send the header block (session cookie, then headers); once per request."},
    {"write", (PyCFunction)resp_write, METH_O,
     "write(data): bytes, or str encoded with the application's charset; begins if needed."},
    {"writelines", (PyCFunction)resp_writelines, METH_O, "writelines(iterable): write each item."},
    {"find_header", (PyCFunction)resp_find_header, METH_O,
     "find_header(prefix) -> index of the first header starting with prefix (any case), or -1."},
    {"set_cookie", (PyCFunction)(void (*)(void))resp_set_cookie, METH_VARARGS | METH_KEYWORDS,
     "set_cookie(name, value, comment=None, domain=None, path=None, secure=False, version=1, max_age=-1, "
     "http_only=False, same_site=None): add an RFC 6265 Set-Cookie header (path None means '/')."},
    {"send_file", (PyCFunction)resp_send_file, METH_O,
     "send_file(path): let the web server send the file (X-Accel-Redirect, X-Sendfile, "
     "X-LIGHTTPD-send-file, chosen from SERVER_SOFTWARE or the SMISK_SENDFILE param), or stream it "
     "with a Content-Length when the server has no such header. path must be absolute without '..' "
     "(else ValueError); a missing file raises OSError before anything is sent when streaming."},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef resp_getset[] = {
    {"headers", (getter)resp_get_headers, (setter)resp_set_headers, "Header lines ('Name: value') to send.",
     NULL},
    {"has_begun", (getter)resp_get_has_begun, NULL, "True once the header block was sent.", NULL},
    {"out", (getter)resp_get_out, NULL, "The raw response stream (bypasses headers).", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

PyTypeObject ResponseType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "smisk.core.Response",
    .tp_basicsize = sizeof(ResponseObject),
    .tp_dictoffset = offsetof(ResponseObject, inst_dict),
    .tp_dealloc = (destructor)resp_dealloc,
    .tp_traverse = (traverseproc)resp_traverse,
    .tp_clear = (inquiry)resp_clear,
    .tp_call = (ternaryfunc)resp_call,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "The response being written (reused for every request of a run).",
    .tp_methods = resp_methods,
    .tp_getset = resp_getset,
    .tp_new = resp_new,
};

int response_init_module(PyObject *m)
{
    if (PyType_Ready(&ResponseType) < 0)
        return -1;
    Py_INCREF(&ResponseType);
    if (PyModule_AddObject(m, "Response", (PyObject *)&ResponseType) < 0) {
        Py_DECREF(&ResponseType);
        return -1;
    }
    return 0;
}
