/*
 * smisk.core.Response: the response being written (one object per run(),
 * reattached to every request).
 *
 * `headers` is a list the application edits freely; it mirrors the
 * library's header list (see "the header list" below). begin() asks the
 * library to validate every line (no CR/LF/NUL, a token name) and to send
 * exactly the session cookie, the headers and one blank line. Body writes
 * go straight to the library's buffered FastCGI output. Cookie formatting
 * and send_file (the web server's header, or the file streamed) are the
 * library's.
 */
#include "shim.h"

#include <string.h>

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

/* ---- the header list ---------------------------------------------------
 *
 * The header lines live in the library's request (smisk_response_*
 * header functions) from the moment they are set. `headers` is a list
 * subclass that mirrors them: every change an application makes through it
 * is pushed to the library at once, and the library's own additions
 * (send_file, the WSGI gateway) are pulled into it. Lines are validated by
 * the library when the header block is sent. A list outside a request (a
 * standalone Response) is pushed when the response is attached to one; one
 * whose response went on to the next request is a plain list again. */

typedef struct {
    PyListObject list;
    ResponseObject *owner; /* borrowed; NULL: detached, a plain list */
} HeaderListObject;

static PyTypeObject HeaderListType;

/* list's own methods, called by the overrides below. */
enum { B_EXTEND, B_REMOVE, B_POP, B_CLEAR, B_SORT, B_REVERSE, N_BASE };
static const char *const base_names[N_BASE] = {"extend", "remove", "pop", "clear", "sort", "reverse"};
static PyObject *base_method[N_BASE];

/* The bytes of one header line: str (as UTF-8) or bytes. */
static int line_bytes(PyObject *line, const char **p, Py_ssize_t *n)
{
    if (PyUnicode_Check(line)) {
        *p = PyUnicode_AsUTF8AndSize(line, n);
        return *p == NULL ? -1 : 0;
    }
    if (PyBytes_Check(line)) {
        *p = PyBytes_AS_STRING(line);
        *n = PyBytes_GET_SIZE(line);
        return 0;
    }
    PyErr_Format(PyExc_TypeError, "header lines must be str, not %.100s", Py_TYPE(line)->tp_name);
    return -1;
}

static smisk_request *list_handle(HeaderListObject *h)
{
    return h->owner != NULL ? h->owner->handle : NULL;
}

/* Checks that every line is str or bytes and, when handle is not NULL,
 * makes them the library's header list. */
static int give_lines(smisk_request *handle, PyObject *const *items, Py_ssize_t n)
{
    smisk_slice small[16], *lines = small;
    Py_ssize_t i;
    smisk_status st;
    int rc = -1;
    if (n > (Py_ssize_t)(sizeof(small) / sizeof(small[0]))) {
        lines = PyMem_New(smisk_slice, (size_t)n);
        if (lines == NULL) {
            PyErr_NoMemory();
            return -1;
        }
    }
    for (i = 0; i < n; i++) {
        const char *p;
        Py_ssize_t len;
        if (line_bytes(items[i], &p, &len) < 0)
            goto done;
        lines[i].ptr = (const uint8_t *)p;
        lines[i].len = (size_t)len;
    }
    if (handle != NULL && (st = smisk_response_set_headers(handle, lines, (size_t)n)) != SMISK_OK) {
        raise_status(st);
        goto done;
    }
    rc = 0;
done:
    if (lines != small)
        PyMem_Free(lines);
    return rc;
}

/* Gives the library the list's lines (all of them). */
static int push_all(HeaderListObject *h)
{
    if (h->owner == NULL)
        return 0;
    return give_lines(list_handle(h), (PyObject *const *)h->list.ob_item, PyList_GET_SIZE(h));
}

/* After a change made by list's own code: the new lines go to the library;
 * when one of them cannot (not str or bytes), the list is put back as it
 * was before the change and the error is raised. Steals `before`. */
static int after_change(HeaderListObject *h, PyObject *before)
{
    PyObject *t, *v, *tb;
    if (push_all(h) == 0) {
        Py_DECREF(before);
        return 0;
    }
    PyErr_Fetch(&t, &v, &tb);
    if (PyList_SetSlice((PyObject *)h, 0, PyList_GET_SIZE(h), before) == 0)
        (void)push_all(h);
    PyErr_Clear();
    Py_DECREF(before);
    PyErr_Restore(t, v, tb);
    return -1;
}

/* The end of a change made by list's own code (result res, or NULL):
 * pushes it when the list is owned (before is the snapshot, stolen). */
static PyObject *end_change(HeaderListObject *h, PyObject *before, PyObject *res)
{
    if (res == NULL || before == NULL) {
        Py_XDECREF(before);
        return res;
    }
    if (after_change(h, before) < 0)
        Py_CLEAR(res);
    return res;
}

/* A copy of the lines, to restore after a failed change (NULL: error). */
static PyObject *snapshot(HeaderListObject *h)
{
    return PyList_GetSlice((PyObject *)h, 0, PyList_GET_SIZE(h));
}

static PyObject *hl_append(HeaderListObject *h, PyObject *line)
{
    smisk_request *handle = list_handle(h);
    const char *p = NULL;
    Py_ssize_t n = 0;
    if (h->owner != NULL && line_bytes(line, &p, &n) < 0)
        return NULL;
    if (PyList_Append((PyObject *)h, line) < 0)
        return NULL;
    if (handle != NULL) {
        smisk_status st = smisk_response_push_header(handle, p, (size_t)n);
        if (st != SMISK_OK) {
            Py_ssize_t len = PyList_GET_SIZE(h);
            (void)PyList_SetSlice((PyObject *)h, len - 1, len, NULL);
            return raise_status(st);
        }
    }
    Py_RETURN_NONE;
}

static PyObject *hl_insert(HeaderListObject *h, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t at;
    PyObject *before;
    if (nargs != 2) {
        PyErr_Format(PyExc_TypeError, "insert expected 2 arguments, got %zd", nargs);
        return NULL;
    }
    at = PyNumber_AsSsize_t(args[0], PyExc_OverflowError);
    if (at == -1 && PyErr_Occurred())
        return NULL;
    if (h->owner == NULL) {
        if (PyList_Insert((PyObject *)h, at, args[1]) < 0)
            return NULL;
        Py_RETURN_NONE;
    }
    if ((before = snapshot(h)) == NULL)
        return NULL;
    if (PyList_Insert((PyObject *)h, at, args[1]) < 0) {
        Py_DECREF(before);
        return NULL;
    }
    if (after_change(h, before) < 0)
        return NULL;
    Py_RETURN_NONE;
}

/* Calls list's own method `which` on h, then pushes the result. */
static PyObject *forward(HeaderListObject *h, int which, PyObject *const *args, Py_ssize_t nargs,
                         PyObject *kwnames)
{
    PyObject *small[8], **call = small, *res, *before = NULL;
    Py_ssize_t i, total = nargs + (kwnames != NULL ? PyTuple_GET_SIZE(kwnames) : 0);
    if (total + 1 > (Py_ssize_t)(sizeof(small) / sizeof(small[0]))) {
        call = PyMem_New(PyObject *, (size_t)total + 1);
        if (call == NULL)
            return PyErr_NoMemory();
    }
    call[0] = (PyObject *)h;
    for (i = 0; i < total; i++)
        call[i + 1] = args[i];
    if (h->owner != NULL && (before = snapshot(h)) == NULL)
        res = NULL;
    else
        res = PyObject_Vectorcall(base_method[which], call, (size_t)nargs + 1, kwnames);
    if (call != small)
        PyMem_Free(call);
    return end_change(h, before, res);
}

#define FORWARD(name, which)                                                                                 \
    static PyObject *hl_##name(HeaderListObject *h, PyObject *const *args, Py_ssize_t nargs, PyObject *kw) \
    {                                                                                                        \
        return forward(h, which, args, nargs, kw);                                                           \
    }
FORWARD(extend, B_EXTEND)
FORWARD(remove, B_REMOVE)
FORWARD(pop, B_POP)
FORWARD(clear, B_CLEAR)
FORWARD(sort, B_SORT)
FORWARD(reverse, B_REVERSE)
#undef FORWARD

static int hl_ass_subscript(HeaderListObject *h, PyObject *key, PyObject *value)
{
    PyObject *before;
    int rc;
    if (h->owner == NULL)
        return PyList_Type.tp_as_mapping->mp_ass_subscript((PyObject *)h, key, value);
    if ((before = snapshot(h)) == NULL)
        return -1;
    rc = PyList_Type.tp_as_mapping->mp_ass_subscript((PyObject *)h, key, value);
    if (rc < 0) {
        Py_DECREF(before);
        return -1;
    }
    return after_change(h, before);
}

/* h[i] = value / del h[i] through the sequence protocol: the same change
 * as through the mapping one. */
static int hl_ass_item(HeaderListObject *h, Py_ssize_t i, PyObject *value)
{
    PyObject *key = PyLong_FromSsize_t(i);
    int rc = key == NULL ? -1 : hl_ass_subscript(h, key, value);
    Py_XDECREF(key);
    return rc;
}

static PyObject *hl_inplace(HeaderListObject *h, PyObject *other, Py_ssize_t times, int concat)
{
    PyObject *before = NULL, *res;
    if (h->owner != NULL && (before = snapshot(h)) == NULL)
        return NULL;
    res = concat ? PyList_Type.tp_as_sequence->sq_inplace_concat((PyObject *)h, other)
                 : PyList_Type.tp_as_sequence->sq_inplace_repeat((PyObject *)h, times);
    return end_change(h, before, res);
}

static PyObject *hl_inplace_concat(HeaderListObject *h, PyObject *other)
{
    return hl_inplace(h, other, 0, 1);
}

static PyObject *hl_inplace_repeat(HeaderListObject *h, Py_ssize_t n)
{
    return hl_inplace(h, NULL, n, 0);
}

static PyMethodDef hl_methods[] = {
    {"append", (PyCFunction)hl_append, METH_O, "Append a header line (str or bytes)."},
    {"insert", (PyCFunction)(void (*)(void))hl_insert, METH_FASTCALL, "Insert a header line before index."},
    {"extend", (PyCFunction)(void (*)(void))hl_extend, METH_FASTCALL | METH_KEYWORDS, "Append header lines."},
    {"remove", (PyCFunction)(void (*)(void))hl_remove, METH_FASTCALL | METH_KEYWORDS, "Remove the first equal line."},
    {"pop", (PyCFunction)(void (*)(void))hl_pop, METH_FASTCALL | METH_KEYWORDS, "Remove and return a line."},
    {"clear", (PyCFunction)(void (*)(void))hl_clear, METH_FASTCALL | METH_KEYWORDS, "Remove every line."},
    {"sort", (PyCFunction)(void (*)(void))hl_sort, METH_FASTCALL | METH_KEYWORDS, "Sort the lines."},
    {"reverse", (PyCFunction)(void (*)(void))hl_reverse, METH_FASTCALL | METH_KEYWORDS, "Reverse the lines."},
    {NULL, NULL, 0, NULL}};

static PySequenceMethods hl_as_sequence = {
    .sq_ass_item = (ssizeobjargproc)hl_ass_item,
    .sq_inplace_concat = (binaryfunc)hl_inplace_concat,
    .sq_inplace_repeat = (ssizeargfunc)hl_inplace_repeat,
};

static PyMappingMethods hl_as_mapping = {
    .mp_ass_subscript = (objobjargproc)hl_ass_subscript,
};

static PyTypeObject HeaderListType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "smisk.core.HeaderList",
    .tp_basicsize = sizeof(HeaderListObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_LIST_SUBCLASS, /* GC and traversal: list's */
    .tp_doc = "Response.headers: a list of header lines ('Name: value') that the response sends; "
              "changes reach the response as they are made.",
    .tp_methods = hl_methods,
    .tp_as_sequence = &hl_as_sequence,
    .tp_as_mapping = &hl_as_mapping,
};

/* The line object for header bytes from the library: str when they are
 * UTF-8 (nearly always ASCII), else bytes, so pushing it back gives the
 * same bytes. */
static PyObject *line_object(const uint8_t *p, size_t n)
{
    PyObject *o = PyUnicode_DecodeUTF8((const char *)p, (Py_ssize_t)n, "strict");
    if (o == NULL && PyErr_ExceptionMatches(PyExc_UnicodeDecodeError)) {
        PyErr_Clear();
        o = PyBytes_FromStringAndSize((const char *)p, (Py_ssize_t)n);
    }
    return o;
}

/* Appends the library's lines from index `from` on to the list (no push:
 * they are the library's already). */
static int pull_from(ResponseObject *r, size_t from)
{
    size_t i, n = r->handle != NULL ? smisk_response_header_count(r->handle) : 0;
    for (i = from; i < n; i++) {
        const uint8_t *p;
        size_t len;
        PyObject *line;
        smisk_status st = smisk_response_header_at(r->handle, i, &p, &len);
        if (st != SMISK_OK) {
            raise_status(st);
            return -1;
        }
        line = line_object(p, len);
        if (line == NULL || PyList_Append(r->headers, line) < 0) {
            Py_XDECREF(line);
            return -1;
        }
        Py_DECREF(line);
    }
    return 0;
}

/* The header list, made on first use from the library's lines. */
static PyObject *headers_list(ResponseObject *r)
{
    HeaderListObject *h;
    if (r->headers != NULL)
        return r->headers;
    h = (HeaderListObject *)PyType_GenericAlloc(&HeaderListType, 0);
    if (h == NULL)
        return NULL;
    h->owner = r;
    r->headers = (PyObject *)h;
    if (pull_from(r, 0) < 0) {
        h->owner = NULL;
        Py_CLEAR(r->headers);
        return NULL;
    }
    return r->headers;
}

/* Lets the list go: it becomes a plain list for whoever still holds it,
 * and the next use makes a new one. */
static void drop_list(ResponseObject *r)
{
    if (r->headers != NULL)
        ((HeaderListObject *)r->headers)->owner = NULL;
    Py_CLEAR(r->headers);
}

/* At the end of a request: a list nobody else holds is emptied and kept
 * for the next request (no allocation per request); one the application
 * kept is let go. */
static void end_list(ResponseObject *r)
{
    if (r->headers != NULL && Py_REFCNT(r->headers) == 1) {
        /* list.clear() without giving the item array back: the next
         * request appends into it. */
        PyListObject *l = (PyListObject *)r->headers;
        Py_ssize_t i, n = Py_SIZE(l);
        Py_SET_SIZE(l, 0);
        for (i = 0; i < n; i++)
            Py_DECREF(l->ob_item[i]);
        return;
    }
    drop_list(r);
}

int response_add_line(ResponseObject *r, PyObject *line)
{
    PyObject *res;
    if (r->headers == NULL && r->handle != NULL) {
        /* Nobody looked at the list yet: the library's list is all there
         * is, and the list is made from it when someone does. */
        const char *p;
        Py_ssize_t n;
        smisk_status st;
        if (line_bytes(line, &p, &n) < 0)
            return -1;
        st = smisk_response_push_header(r->handle, p, (size_t)n);
        return st == SMISK_OK ? 0 : (raise_status(st), -1);
    }
    if (headers_list(r) == NULL)
        return -1;
    res = hl_append((HeaderListObject *)r->headers, line);
    Py_XDECREF(res);
    return res == NULL ? -1 : 0;
}

int response_add_ascii(ResponseObject *r, const char *p, size_t n)
{
    PyObject *line;
    int rc;
    if (r->headers == NULL && r->handle != NULL) {
        /* As response_add_line: no list yet, so the library's is all there
         * is; no str object is made for a line nobody looks at. */
        smisk_status st = smisk_response_push_header(r->handle, p, n);
        return st == SMISK_OK ? 0 : (raise_status(st), -1);
    }
    if ((line = PyUnicode_DecodeASCII(p, (Py_ssize_t)n, NULL)) == NULL)
        return -1;
    rc = response_add_line(r, line);
    Py_DECREF(line);
    return rc;
}

int response_set_lines(ResponseObject *r, PyObject *const *lines, Py_ssize_t n)
{
    PyObject *items;
    Py_ssize_t i;
    int rc;
    if (r->handle == NULL) {
        PyErr_SetString(PyExc_OSError, "response used outside a request");
        return -1;
    }
    if (give_lines(r->handle, lines, n) < 0)
        return -1;
    if (r->headers == NULL)
        return 0;
    /* Keep the list the application may hold in step. */
    items = PyList_New(n);
    if (items == NULL)
        return -1;
    for (i = 0; i < n; i++) {
        Py_INCREF(lines[i]);
        PyList_SET_ITEM(items, i, lines[i]);
    }
    rc = PyList_SetSlice(r->headers, 0, PyList_GET_SIZE(r->headers), items);
    Py_DECREF(items);
    return rc;
}

static PyObject *resp_begin(ResponseObject *r, PyObject *unused)
{
    smisk_session_state *sess = NULL;
    int has_data = 0;
    smisk_status st;
    (void)unused;
    if (check_not_begun(r, "begin()") < 0)
        return NULL;
    if (request_session_for_begin(r->request, &sess, &has_data) < 0)
        return NULL;
    /* The header block opens the output buffer, so a small one is never
     * sent here: releasing the GIL for it would cost a GIL round trip per
     * request for nothing. */
    if (smisk_response_headers_size(r->handle) >= WRITE_RELEASE_GIL) {
        Py_BEGIN_ALLOW_THREADS
        st = smisk_response_begin_with_session(r->handle, sess, has_data);
        Py_END_ALLOW_THREADS
    } else {
        st = smisk_response_begin_with_session(r->handle, sess, has_data);
    }
    if (st != SMISK_OK)
        return raise_status(st);
    Py_RETURN_NONE;
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

/* Whether the begin a write needs is the library's plain one, which its
 * write makes by itself: begin() not overridden, no session (the cookie
 * line), and a header block too small to release the GIL for. Saves the
 * begin call and its checks on every small answer. */
static int plain_begin(ResponseObject *r)
{
    return !r->custom_begin && (r->request == NULL || r->request->sess == NULL) &&
           smisk_response_headers_size(r->handle) < WRITE_RELEASE_GIL;
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
    if (!plain_begin(r) && response_begin_if_needed(r) < 0) {
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
    if (headers_list(r) == NULL)
        return NULL;
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
    rc = response_add_line(r, line);
    Py_DECREF(line);
    if (rc < 0)
        return NULL;
    Py_RETURN_NONE;
}

/* The library's send_file: a header for the web server, or the file opened
 * once and streamed with its Content-Length (exactly that many bytes). The
 * lines it adds are pulled into the list; between adding the
 * Content-Length and streaming, the response begins the usual way (a
 * subclass's begin() runs). */
static PyObject *resp_send_file(ResponseObject *r, PyObject *arg)
{
    PyObject *path = NULL;
    smisk_file *file = NULL;
    size_t before;
    smisk_status st;

    if (check_not_begun(r, "send_file()") < 0)
        return NULL;
    if (headers_list(r) == NULL || !PyUnicode_FSConverter(arg, &path))
        return NULL;
    before = smisk_response_header_count(r->handle);
    Py_BEGIN_ALLOW_THREADS
    st = smisk_response_prepare_file(r->handle, PyBytes_AS_STRING(path), (size_t)PyBytes_GET_SIZE(path), &file);
    Py_END_ALLOW_THREADS
    Py_DECREF(path);
    if (st != SMISK_OK)
        return raise_status(st);
    if (pull_from(r, before) < 0 || (file != NULL && response_begin_if_needed(r) < 0)) {
        smisk_file_free(file);
        return NULL;
    }
    if (file == NULL)
        Py_RETURN_NONE;
    Py_BEGIN_ALLOW_THREADS
    st = smisk_response_stream_file(r->handle, file, NULL);
    Py_END_ALLOW_THREADS
    if (st != SMISK_OK)
        return raise_status(st);
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

/* `headers = lines` copies the lines into the list (and so to the
 * library); None empties it. */
static int resp_set_headers(ResponseObject *r, PyObject *v, void *c)
{
    PyObject *list, *before, *items;
    (void)c;
    if (v != NULL && v != Py_None && !PyList_Check(v)) {
        PyErr_SetString(PyExc_TypeError, "headers must be a list of str");
        return -1;
    }
    if ((list = headers_list(r)) == NULL)
        return -1;
    if (v == list)
        return 0;
    if ((before = snapshot((HeaderListObject *)list)) == NULL)
        return -1;
    items = v == NULL || v == Py_None ? NULL : PyList_GetSlice(v, 0, PyList_GET_SIZE(v));
    if (items == NULL && v != NULL && v != Py_None) {
        Py_DECREF(before);
        return -1;
    }
    if (PyList_SetSlice(list, 0, PyList_GET_SIZE(list), items) < 0) {
        Py_XDECREF(items);
        Py_DECREF(before);
        return -1;
    }
    Py_XDECREF(items);
    return after_change((HeaderListObject *)list, before);
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
    /* Lines set before the request (a standalone response) go with it. */
    if (r->headers != NULL && PyList_GET_SIZE(r->headers) > 0 && push_all((HeaderListObject *)r->headers) < 0)
        PyErr_Clear();
}

void response_detach(ResponseObject *r)
{
    end_list(r);
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
    drop_list(r);
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
    int i;
    HeaderListType.tp_base = &PyList_Type;
    if (PyType_Ready(&HeaderListType) < 0 || PyType_Ready(&ResponseType) < 0)
        return -1;
    for (i = 0; i < N_BASE; i++)
        if ((base_method[i] = PyObject_GetAttrString((PyObject *)&PyList_Type, base_names[i])) == NULL)
            return -1;
    Py_INCREF(&ResponseType);
    if (PyModule_AddObject(m, "Response", (PyObject *)&ResponseType) < 0) {
        Py_DECREF(&ResponseType);
        return -1;
    }
    return 0;
}
