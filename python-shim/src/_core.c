/*
 * smisk.core._core -- the CPython 3 face of libsmisk (first increment).
 *
 * This module only converts Python objects to and from the C API declared in
 * include/smisk.h; every parser and codec lives in the Rust library. What it
 * guarantees: no C API error is ever swallowed (each becomes a Python
 * exception carrying smisk_last_error()), every library-allocated buffer is
 * released exactly once, and str/bytes types are preserved as documented in
 * python-shim/README.md. What it costs: one copy of the input into the
 * library result and one copy of that result into a new Python object.
 *
 * This file holds the error mapping, the codec parts (uid, pack, URL,
 * smisk.core.xml) and the module init; application.c, request.c,
 * response.c, stream.c and sessions.c hold the serving types.
 */
#include "shim.h"

#include <structmember.h>
#include <string.h>

PyObject *InvalidSessionError;
PyObject *RequestTooLargeError;
PyObject *str_service, *str_begin, *str_error;

/* ---- errors ---------------------------------------------------------- */

/* Raises the Python exception matching a failed smisk call, with the
 * library's thread-local message (read before any other smisk call can
 * overwrite it). Always returns NULL so callers can `return raise_status(s)`. */
PyObject *raise_status(smisk_status st)
{
    const char *msg = smisk_last_error();
    PyObject *type;
    if (msg == NULL || msg[0] == '\0')
        msg = smisk_status_str((int32_t)st);
    switch (st) {
    case SMISK_ERR_INVALID:
    case SMISK_ERR_MULTIPART_MALFORMED:
    case SMISK_ERR_MULTIPART_BOUNDARY:
    case SMISK_ERR_BODY_TRUNCATED:
        type = PyExc_ValueError;
        break;
    case SMISK_ERR_TOO_LARGE:
    case SMISK_ERR_BODY_TOO_LARGE:
    case SMISK_ERR_TOO_MANY_PARTS:
    case SMISK_ERR_TOO_MANY_FIELDS:
    case SMISK_ERR_PART_HEADER_TOO_LARGE:
    case SMISK_ERR_FIELD_TOO_LARGE:
        type = RequestTooLargeError;
        break;
    case SMISK_ERR_NO_SESSION:
    case SMISK_ERR_SESSION_ID:
        type = InvalidSessionError;
        break;
    case SMISK_ERR_IO:
    case SMISK_ERR_ABORTED: {
        /* OSError(errno, message) picks the subclass (FileNotFoundError,
         * PermissionError ...) from the errno the library reports. */
        int err = smisk_last_errno();
        PyObject *exc;
        if (err == 0) {
            type = PyExc_OSError;
            break;
        }
        exc = PyObject_CallFunction(PyExc_OSError, "is", err, msg);
        if (exc != NULL) {
            PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
            Py_DECREF(exc);
        }
        return NULL;
    }
    case SMISK_ERR_TIMEOUT:
        type = PyExc_TimeoutError;
        break;
    case SMISK_ERR_NO_MEMORY:
        return PyErr_NoMemory();
    case SMISK_ERR_UNSUPPORTED:
        type = PyExc_NotImplementedError;
        break;
    default:
        /* NULL, STATE, PANIC, BUFFER_TOO_SMALL, STOPPED ...: a shim bug or
         * an internal error, never the caller's input. */
        type = PyExc_SystemError;
        break;
    }
    PyErr_SetString(type, msg);
    return NULL;
}

/* ---- text/bytes plumbing --------------------------------------------- */


int view_get(PyObject *o, view *v, const char *what)
{
    v->is_str = 0;
    v->has_buf = 0;
    if (PyBytes_CheckExact(o)) {
        /* bytes is immutable and the caller holds it: its storage is the
         * view, without the buffer protocol's export and release. */
        v->ptr = (const uint8_t *)PyBytes_AS_STRING(o);
        v->len = (size_t)PyBytes_GET_SIZE(o);
        return 0;
    }
    if (PyUnicode_Check(o)) {
        Py_ssize_t n;
        const char *p = PyUnicode_AsUTF8AndSize(o, &n);
        if (p == NULL)
            return -1;
        v->ptr = (const uint8_t *)p;
        v->len = (size_t)n;
        v->is_str = 1;
        return 0;
    }
    if (PyObject_CheckBuffer(o)) {
        if (PyObject_GetBuffer(o, &v->buf, PyBUF_SIMPLE) < 0)
            return -1;
        v->has_buf = 1;
        v->ptr = (const uint8_t *)v->buf.buf;
        v->len = (size_t)v->buf.len;
        return 0;
    }
    PyErr_Format(PyExc_TypeError, "%s must be str or bytes, not %.100s", what,
                 Py_TYPE(o)->tp_name);
    return -1;
}

void view_release(view *v)
{
    if (v->has_buf)
        PyBuffer_Release(&v->buf);
    v->has_buf = 0;
}

/* Inputs at least this long are processed without the GIL; below it the
 * release/re-acquire costs more than it frees. */
#define NOGIL_BYTES ((size_t)64 * 1024)

typedef smisk_status (*bytes_fn)(const uint8_t *, size_t, uint8_t **, size_t *);

/* Applies a (bytes -> library buffer) transform, type-preserving: str in ->
 * str out (UTF-8, strict), bytes in -> bytes out. An unchanged result returns
 * the argument itself, as the original did. */
static PyObject *transform(PyObject *arg, bytes_fn fn)
{
    view v;
    uint8_t *out = NULL;
    size_t out_len = 0;
    smisk_status st;
    PyObject *res;

    if (!PyUnicode_Check(arg) && !PyBytes_Check(arg)) {
        PyErr_Format(PyExc_TypeError, "expected str or bytes, not %.100s",
                     Py_TYPE(arg)->tp_name);
        return NULL;
    }
    if (view_get(arg, &v, "argument") < 0)
        return NULL;
    if (v.len >= NOGIL_BYTES) {
        /* The input is immutable (bytes, or the UTF-8 cache of a str we hold
         * a reference to) and the library touches no Python state. */
        Py_BEGIN_ALLOW_THREADS
        st = fn(v.ptr, v.len, &out, &out_len);
        Py_END_ALLOW_THREADS
    } else {
        st = fn(v.ptr, v.len, &out, &out_len);
    }
    if (st != SMISK_OK) {
        view_release(&v);
        return raise_status(st);
    }
    if (out_len == v.len && (out_len == 0 || memcmp(out, v.ptr, out_len) == 0)) {
        Py_INCREF(arg);
        res = arg;
    } else if (v.is_str) {
        res = PyUnicode_DecodeUTF8((const char *)out, (Py_ssize_t)out_len, "strict");
    } else {
        res = PyBytes_FromStringAndSize((const char *)out, (Py_ssize_t)out_len);
    }
    smisk_bytes_free(out, out_len);
    view_release(&v);
    return res;
}

/* Component text <-> Python: lossless for any bytes a parsed URL may hold. */
PyObject *text_from(const uint8_t *p, size_t n)
{
    return PyUnicode_DecodeUTF8((const char *)p, (Py_ssize_t)n, "surrogateescape");
}

static PyObject *text_to_bytes(PyObject *o)
{
    if (PyUnicode_Check(o))
        return PyUnicode_AsEncodedString(o, "utf-8", "surrogateescape");
    if (PyBytes_Check(o)) {
        Py_INCREF(o);
        return o;
    }
    PyErr_Format(PyExc_TypeError, "expected str, bytes or None, not %.100s",
                 Py_TYPE(o)->tp_name);
    return NULL;
}

/* ---- uid / pack ------------------------------------------------------ */

static int nbits_arg(PyObject *o, int32_t *out)
{
    long n;
    if (o == NULL || o == Py_None) {
        *out = 5;
        return 0;
    }
    if (!PyLong_Check(o)) {
        PyErr_Format(PyExc_TypeError, "nbits must be an int, not %.100s",
                     Py_TYPE(o)->tp_name);
        return -1;
    }
    n = PyLong_AsLong(o);
    if ((n == -1 && PyErr_Occurred()) || n < INT32_MIN || n > INT32_MAX) {
        /* Same message as the library gives for in-range bad values. */
        PyErr_Clear();
        PyErr_Format(PyExc_ValueError, "Invalid number of bits: %R", o);
        return -1;
    }
    *out = (int32_t)n;
    return 0;
}

static PyObject *core_uid(PyObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"nbits", "node", NULL};
    PyObject *nbits_o = NULL, *node_o = NULL;
    int32_t nbits;
    view node;
    uint8_t buf[64];
    size_t n = 0;
    smisk_status st;
    (void)self;

    if (!PyArg_ParseTupleAndKeywords(args, kw, "|OO:uid", kwlist, &nbits_o, &node_o))
        return NULL;
    if (nbits_arg(nbits_o, &nbits) < 0)
        return NULL;
    memset(&node, 0, sizeof(node));
    if (node_o != NULL && node_o != Py_None && view_get(node_o, &node, "node") < 0)
        return NULL;
    st = smisk_uid(nbits, node.ptr, node.len, buf, sizeof(buf), &n);
    view_release(&node);
    if (st != SMISK_OK)
        return raise_status(st);
    if (nbits == 0 || nbits == -1)
        return PyBytes_FromStringAndSize((const char *)buf, (Py_ssize_t)n);
    return PyUnicode_DecodeASCII((const char *)buf, (Py_ssize_t)n, "strict");
}

static PyObject *core_pack(PyObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"data", "nbits", NULL};
    Py_buffer data;
    PyObject *nbits_o = NULL, *res;
    int32_t nbits;
    size_t need = 0, n = 0;
    smisk_status st;
    (void)self;

    if (!PyArg_ParseTupleAndKeywords(args, kw, "y*|O:pack", kwlist, &data, &nbits_o))
        return NULL;
    if (nbits_arg(nbits_o, &nbits) < 0) {
        PyBuffer_Release(&data);
        return NULL;
    }
    /* First call sizes the result (and validates nbits) without writing. */
    st = smisk_pack(data.buf, (size_t)data.len, nbits, NULL, 0, &need);
    if (st != SMISK_OK && st != SMISK_ERR_BUFFER_TOO_SMALL) {
        PyBuffer_Release(&data);
        return raise_status(st);
    }
    if (need > (size_t)PY_SSIZE_T_MAX) {
        PyBuffer_Release(&data);
        return PyErr_NoMemory();
    }
    res = PyUnicode_New((Py_ssize_t)need, 127);
    if (res == NULL) {
        PyBuffer_Release(&data);
        return NULL;
    }
    if (need > 0) {
        /* PyUnicode_New(.., 127) is compact ASCII: need writable bytes. */
        uint8_t *dst = PyUnicode_1BYTE_DATA(res);
        /* `data` is a locked buffer export (a bytearray cannot resize while
         * it is held) and `res` is not visible to other threads yet. */
        Py_BEGIN_ALLOW_THREADS
        st = smisk_pack(data.buf, (size_t)data.len, nbits, dst, need, &n);
        Py_END_ALLOW_THREADS
        if (st != SMISK_OK || n != need) {
            PyBuffer_Release(&data);
            Py_DECREF(res);
            return st != SMISK_OK ? raise_status(st)
                                  : PyErr_Format(PyExc_SystemError, "pack size mismatch");
        }
    }
    PyBuffer_Release(&data);
    return res;
}

/* ---- query decomposition --------------------------------------------- */


static PyObject *decode_key(query_ctx *c, const uint8_t *p, size_t n)
{
    if (c->charset == NULL)
        return PyBytes_FromStringAndSize((const char *)p, (Py_ssize_t)n);
    return PyUnicode_Decode((const char *)p, (Py_ssize_t)n, c->enc, "replace");
}

PyObject *decode_value(query_ctx *c, const uint8_t *p, size_t n)
{
    PyObject *v;
    if (c->charset == NULL)
        return PyBytes_FromStringAndSize((const char *)p, (Py_ssize_t)n);
    v = PyUnicode_Decode((const char *)p, (Py_ssize_t)n, c->enc, "strict");
    if (v == NULL && c->tolerant && PyErr_ExceptionMatches(PyExc_UnicodeDecodeError)) {
        PyErr_Clear();
        v = PyUnicode_DecodeLatin1((const char *)p, (Py_ssize_t)n, "strict");
    }
    return v;
}

/* Stores one field: a repeated key turns the value into a list. Returns
 * non-zero (stopping the parse) with a Python exception set on failure. */
int32_t add_pair(void *ctxp, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl,
                        bool has_value)
{
    query_ctx *c = ctxp;
    PyObject *key, *val, *old;
    int rc = -1;

    key = decode_key(c, k, kl);
    if (key == NULL)
        return 1;
    if (has_value) {
        val = decode_value(c, v, vl);
        if (val == NULL) {
            Py_DECREF(key);
            return 1;
        }
    } else {
        Py_INCREF(Py_None);
        val = Py_None;
    }
    old = PyDict_GetItemWithError(c->dict, key); /* borrowed */
    if (old == NULL) {
        if (!PyErr_Occurred())
            rc = PyDict_SetItem(c->dict, key, val);
    } else if (PyList_CheckExact(old)) {
        rc = PyList_Append(old, val);
    } else {
        PyObject *list = PyList_New(2);
        if (list != NULL) {
            Py_INCREF(old);
            PyList_SET_ITEM(list, 0, old);
            Py_INCREF(val);
            PyList_SET_ITEM(list, 1, val);
            rc = PyDict_SetItem(c->dict, key, list);
            Py_DECREF(list);
        }
    }
    Py_DECREF(key);
    Py_DECREF(val);
    return rc < 0 ? 1 : 0;
}

static PyObject *url_decompose_query(PyObject *cls, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"string", "charset", "tolerant", NULL};
    PyObject *s, *charset = NULL, *tol = NULL, *str_s = NULL;
    query_ctx c;
    view v;
    smisk_status st;
    (void)cls;

    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|OO:decompose_query", kwlist, &s, &charset, &tol))
        return NULL;
    c.charset = NULL;
    c.enc = NULL;
    if (charset == NULL) {
        c.charset = PyUnicode_FromString("utf-8");
        if (c.charset == NULL)
            return NULL;
        c.enc = "utf-8";
    } else if (charset != Py_None) {
        PyObject *info;
        if (!PyUnicode_Check(charset)) {
            PyErr_SetString(PyExc_TypeError, "charset must be a str or None");
            return NULL;
        }
        Py_INCREF(charset);
        c.charset = charset;
        c.enc = PyUnicode_AsUTF8(charset);
        /* An unknown charset is an error up front, not on the first field. */
        info = c.enc == NULL ? NULL : PyCodec_Decoder(c.enc);
        if (info == NULL) {
            Py_DECREF(c.charset);
            return NULL;
        }
        Py_DECREF(info);
    }
    c.tolerant = tol == NULL ? 1 : PyObject_IsTrue(tol);
    if (c.tolerant < 0) {
        Py_XDECREF(c.charset);
        return NULL;
    }
    if (!PyUnicode_Check(s) && !PyBytes_Check(s) && !PyByteArray_Check(s)) {
        str_s = PyObject_Str(s);
        if (str_s == NULL) {
            Py_XDECREF(c.charset);
            return NULL;
        }
        s = str_s;
    }
    if (view_get(s, &v, "string") < 0) {
        Py_XDECREF(str_s);
        Py_XDECREF(c.charset);
        return NULL;
    }
    c.dict = PyDict_New();
    if (c.dict != NULL) {
        st = smisk_parse_query(v.ptr, v.len, SMISK_MAX_FIELDS_DEFAULT, add_pair, &c);
        if (st == SMISK_ERR_STOPPED && PyErr_Occurred()) {
            Py_CLEAR(c.dict);
        } else if (st != SMISK_OK) {
            Py_CLEAR(c.dict);
            raise_status(st);
        }
    }
    view_release(&v);
    Py_XDECREF(str_s);
    Py_XDECREF(c.charset);
    return c.dict;
}

/* ---- URL ------------------------------------------------------------- */


static int url_init(URLObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"url", NULL};
    PyObject *arg = NULL, *b;
    smisk_url *u = NULL;
    smisk_status st;

    if (!PyArg_ParseTupleAndKeywords(args, kw, "|O:URL", kwlist, &arg))
        return -1;
    if (arg == NULL || arg == Py_None) {
        u = smisk_url_new();
    } else if (PyObject_TypeCheck(arg, &URLType)) {
        st = smisk_url_clone(((URLObject *)arg)->url, &u);
        if (st != SMISK_OK) {
            raise_status(st);
            return -1;
        }
    } else {
        if (PyUnicode_Check(arg) || PyBytes_Check(arg)) {
            b = text_to_bytes(arg);
        } else {
            PyObject *s = PyObject_Str(arg);
            if (s == NULL)
                return -1;
            b = text_to_bytes(s);
            Py_DECREF(s);
        }
        if (b == NULL)
            return -1;
        st = smisk_url_parse((const uint8_t *)PyBytes_AS_STRING(b), (size_t)PyBytes_GET_SIZE(b), &u);
        Py_DECREF(b);
        if (st != SMISK_OK) {
            raise_status(st);
            return -1;
        }
    }
    smisk_url_free(self->url); /* __init__ may run twice */
    self->url = u;
    return 0;
}

static PyObject *url_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    URLObject *self = (URLObject *)type->tp_alloc(type, 0);
    (void)args;
    (void)kw;
    if (self == NULL)
        return NULL;
    /* Valid even if a subclass never calls __init__. */
    self->url = smisk_url_new();
    return (PyObject *)self;
}

static void url_dealloc(URLObject *self)
{
    smisk_url_free(self->url);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *url_get_component(URLObject *self, void *closure)
{
    const uint8_t *p = NULL;
    size_t n = 0;
    bool present = false;
    smisk_status st = smisk_url_get(self->url, (int32_t)(intptr_t)closure, &p, &n, &present);
    if (st != SMISK_OK)
        return raise_status(st);
    if (!present)
        Py_RETURN_NONE;
    return text_from(p, n);
}

static int url_set_component(URLObject *self, PyObject *value, void *closure)
{
    int32_t idx = (int32_t)(intptr_t)closure;
    smisk_status st;
    if (value == NULL || value == Py_None) {
        st = smisk_url_set(self->url, idx, NULL, 0, false);
    } else {
        PyObject *b = text_to_bytes(value);
        if (b == NULL)
            return -1;
        st = smisk_url_set(self->url, idx, (const uint8_t *)PyBytes_AS_STRING(b),
                           (size_t)PyBytes_GET_SIZE(b), true);
        Py_DECREF(b);
    }
    if (st != SMISK_OK) {
        raise_status(st);
        return -1;
    }
    return 0;
}

static PyObject *url_get_port(URLObject *self, void *closure)
{
    uint32_t port = 0;
    smisk_status st = smisk_url_get_port(self->url, &port);
    (void)closure;
    if (st != SMISK_OK)
        return raise_status(st);
    return PyLong_FromUnsignedLong(port);
}

static int url_set_port(URLObject *self, PyObject *value, void *closure)
{
    long port = 0;
    smisk_status st;
    (void)closure;
    if (value != NULL && value != Py_None) {
        if (!PyLong_Check(value)) {
            PyErr_Format(PyExc_TypeError, "port must be an int, not %.100s", Py_TYPE(value)->tp_name);
            return -1;
        }
        port = PyLong_AsLong(value);
        if (port == -1 && PyErr_Occurred())
            return -1;
        if (port < 0 || port > 65535) {
            PyErr_Format(PyExc_ValueError, "port out of range 0-65535: %ld", port);
            return -1;
        }
    }
    st = smisk_url_set_port(self->url, (uint32_t)port);
    if (st != SMISK_OK) {
        raise_status(st);
        return -1;
    }
    return 0;
}

static PyObject *url_get_uri(URLObject *self, void *closure)
{
    uint8_t *out = NULL;
    size_t n = 0;
    bool present = false;
    PyObject *res;
    smisk_status st = smisk_url_uri(self->url, &out, &n, &present);
    (void)closure;
    if (st != SMISK_OK)
        return raise_status(st);
    if (!present) {
        smisk_bytes_free(out, n);
        Py_RETURN_NONE;
    }
    res = text_from(out, n);
    smisk_bytes_free(out, n);
    return res;
}

static const char *const component_names[SMISK_URL_COMPONENTS] = {
    "scheme", "user", "password", "host", "path", "query", "fragment"};

/* True for the values the original treats as "use the stored value":
 * True and the int 1. */
static int is_one(PyObject *o)
{
    int overflow = 0;
    return PyLong_Check(o) && PyLong_AsLongAndOverflow(o, &overflow) == 1 && !overflow;
}

static PyObject *url_to_s(URLObject *self, PyObject *args, PyObject *kw)
{
    smisk_url_format fmt;
    PyObject *held[SMISK_URL_COMPONENTS] = {NULL};
    PyObject *key, *value, *res = NULL;
    Py_ssize_t pos = 0;
    uint8_t *out = NULL;
    size_t n = 0;
    smisk_status st;
    int i;

    if (args != NULL && PyTuple_GET_SIZE(args) > 0) {
        PyErr_SetString(PyExc_TypeError, "to_s() takes keyword arguments only");
        return NULL;
    }
    st = smisk_url_format_init(&fmt);
    if (st != SMISK_OK)
        return raise_status(st);
    while (kw != NULL && PyDict_Next(kw, &pos, &key, &value)) {
        const char *name = PyUnicode_AsUTF8(key);
        if (name == NULL)
            goto done;
        if (strcmp(name, "port") == 0) {
            int t = value == Py_None ? 0 : PyObject_IsTrue(value);
            if (t < 0)
                goto done;
            if (is_one(value)) {
                fmt.port_mode = SMISK_URL_USE;
            } else if (!t) {
                fmt.port_mode = SMISK_URL_OMIT;
            } else if (PyLong_Check(value)) {
                long p = PyLong_AsLong(value);
                if (p == -1 && PyErr_Occurred())
                    goto done;
                if (p < 0 || p > 65535) {
                    PyErr_Format(PyExc_ValueError, "port out of range 0-65535: %ld", p);
                    goto done;
                }
                fmt.port_mode = SMISK_URL_REPLACE;
                fmt.port = (uint32_t)p;
            } else {
                PyErr_Format(PyExc_TypeError, "port must be a bool or an int, not %.100s",
                             Py_TYPE(value)->tp_name);
                goto done;
            }
            continue;
        }
        if (strcmp(name, "port80") == 0) {
            int t = PyObject_IsTrue(value);
            if (t < 0)
                goto done;
            fmt.port80 = t != 0;
            continue;
        }
        for (i = 0; i < SMISK_URL_COMPONENTS; i++)
            if (strcmp(name, component_names[i]) == 0)
                break;
        if (i == SMISK_URL_COMPONENTS) {
            PyErr_Format(PyExc_TypeError, "to_s() got an unexpected keyword argument '%s'", name);
            goto done;
        }
        if (is_one(value)) {
            fmt.mode[i] = SMISK_URL_USE;
        } else if ((PyUnicode_Check(value) && PyUnicode_GET_LENGTH(value) > 0) ||
                   (PyBytes_Check(value) && PyBytes_GET_SIZE(value) > 0)) {
            Py_XDECREF(held[i]);
            held[i] = text_to_bytes(value);
            if (held[i] == NULL)
                goto done;
            fmt.mode[i] = SMISK_URL_REPLACE;
            fmt.text[i] = (const uint8_t *)PyBytes_AS_STRING(held[i]);
            fmt.text_len[i] = (size_t)PyBytes_GET_SIZE(held[i]);
        } else {
            fmt.mode[i] = SMISK_URL_OMIT;
        }
    }
    st = smisk_url_to_s(self->url, &fmt, &out, &n);
    if (st != SMISK_OK) {
        raise_status(st);
        goto done;
    }
    res = text_from(out, n);
    smisk_bytes_free(out, n);
done:
    for (i = 0; i < SMISK_URL_COMPONENTS; i++)
        Py_XDECREF(held[i]);
    return res;
}

static PyObject *url_str(URLObject *self)
{
    return url_to_s(self, NULL, NULL);
}

static PyObject *url_repr(URLObject *self)
{
    PyObject *s = url_str(self), *r;
    if (s == NULL)
        return NULL;
    r = PyUnicode_FromFormat("<%s %R>", Py_TYPE(self)->tp_name, s);
    Py_DECREF(s);
    return r;
}

static PyObject *url_encode(PyObject *cls, PyObject *arg) { (void)cls; return transform(arg, smisk_url_encode); }
static PyObject *url_escape(PyObject *cls, PyObject *arg) { (void)cls; return transform(arg, smisk_url_escape); }
static PyObject *url_decode(PyObject *cls, PyObject *arg) { (void)cls; return transform(arg, smisk_url_decode); }

static PyGetSetDef url_getset[] = {
    {"scheme", (getter)url_get_component, (setter)url_set_component, "Scheme (lower-cased by the parser) or None.", (void *)(intptr_t)SMISK_URL_SCHEME},
    {"user", (getter)url_get_component, (setter)url_set_component, "User name or None.", (void *)(intptr_t)SMISK_URL_USER},
    {"password", (getter)url_get_component, (setter)url_set_component, "Password or None.", (void *)(intptr_t)SMISK_URL_PASSWORD},
    {"host", (getter)url_get_component, (setter)url_set_component, "Host (IPv6 without brackets) or None.", (void *)(intptr_t)SMISK_URL_HOST},
    {"port", (getter)url_get_port, (setter)url_set_port, "Port, 0 when not given.", NULL},
    {"path", (getter)url_get_component, (setter)url_set_component, "Path or None.", (void *)(intptr_t)SMISK_URL_PATH},
    {"query", (getter)url_get_component, (setter)url_set_component, "Query (without '?') or None.", (void *)(intptr_t)SMISK_URL_QUERY},
    {"fragment", (getter)url_get_component, (setter)url_set_component, "Fragment (without '#') or None.", (void *)(intptr_t)SMISK_URL_FRAGMENT},
    {"uri", (getter)url_get_uri, NULL, "path + ?query + #fragment, or None.", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyMethodDef url_methods[] = {
    {"to_s", (PyCFunction)(void (*)(void))url_to_s, METH_VARARGS | METH_KEYWORDS,
     "to_s(scheme=True, user=True, password=True, host=True, port=True, port80=False, path=True, query=True, fragment=True) -> str"},
    {"to_str", (PyCFunction)(void (*)(void))url_to_s, METH_VARARGS | METH_KEYWORDS, "Alias of to_s."},
    {"encode", (PyCFunction)url_encode, METH_O | METH_STATIC, "Percent-encode everything but A-Z a-z 0-9 !'()*-._~ (str->str, bytes->bytes)."},
    {"escape", (PyCFunction)url_escape, METH_O | METH_STATIC, "Percent-encode the unsafe characters only (str->str, bytes->bytes)."},
    {"decode", (PyCFunction)url_decode, METH_O | METH_STATIC, "Form-decode: '+' -> space, %XX -> byte (str->str strict UTF-8, bytes->bytes)."},
    {"unescape", (PyCFunction)url_decode, METH_O | METH_STATIC, "Alias of decode."},
    {"decompose_query", (PyCFunction)(void (*)(void))url_decompose_query, METH_VARARGS | METH_KEYWORDS | METH_STATIC,
     "decompose_query(string, charset='utf-8', tolerant=True) -> dict"},
    {NULL, NULL, 0, NULL}};

PyTypeObject URLType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "smisk.core.URL",
    .tp_basicsize = sizeof(URLObject),
    .tp_dealloc = (destructor)url_dealloc,
    .tp_repr = (reprfunc)url_repr,
    .tp_str = (reprfunc)url_str,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "URL(url=None): a parsed URL (components are str or None, port an int).",
    .tp_methods = url_methods,
    .tp_getset = url_getset,
    .tp_init = (initproc)url_init,
    .tp_new = url_new,
};

PyObject *url_wrap(smisk_url *u)
{
    URLObject *self = PyObject_New(URLObject, &URLType);
    if (self == NULL) {
        smisk_url_free(u);
        return NULL;
    }
    self->url = u;
    return (PyObject *)self;
}

/* ---- smisk.core.xml --------------------------------------------------- */

static PyObject *xml_escape(PyObject *m, PyObject *arg) { (void)m; return transform(arg, smisk_xml_escape); }
static PyObject *xml_unescape(PyObject *m, PyObject *arg) { (void)m; return transform(arg, smisk_xml_unescape); }

static PyMethodDef xml_methods[] = {
    {"escape", xml_escape, METH_O, "Escape & < > \" ' (str->str, bytes->bytes)."},
    {"unescape", xml_unescape, METH_O, "Replace the five named entities and numeric references (str->str, bytes->bytes)."},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef xml_module = {
    PyModuleDef_HEAD_INIT, "smisk.core.xml", "XML escaping (delegates to libsmisk).", -1, xml_methods,
    NULL, NULL, NULL, NULL};

/* ---- module ----------------------------------------------------------- */

static PyMethodDef core_methods[] = {
    {"uid", (PyCFunction)(void (*)(void))core_uid, METH_VARARGS | METH_KEYWORDS,
     "uid(nbits=5, node=None) -> str (bytes for nbits 0 or -1)"},
    {"pack", (PyCFunction)(void (*)(void))core_pack, METH_VARARGS | METH_KEYWORDS,
     "pack(data, nbits=5) -> str of ceil(8*len(data)/nbits) characters"},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef core_module = {
    PyModuleDef_HEAD_INIT, "smisk.core._core", "Native part of smisk.core (libsmisk C API).", -1,
    core_methods, NULL, NULL, NULL, NULL};

/* smisk.core.__build__: a build identifier in URN form, as the original's
 * (urn:rcsid:<revision>). The version is asked of the linked libsmisk, so it
 * names the library actually in use; setup.py adds the source revision when
 * it knows one (a git checkout, or $SMISK_BUILD_REVISION). */
#ifndef SMISK_SHIM_REVISION
#define SMISK_SHIM_REVISION ""
#endif

static PyObject *build_id(void)
{
    const char *revision = SMISK_SHIM_REVISION;
    if (revision[0] != '\0')
        return PyUnicode_FromFormat("urn:smisk:%s:rcsid:%s", smisk_version(), revision);
    return PyUnicode_FromFormat("urn:smisk:%s", smisk_version());
}

PyMODINIT_FUNC PyInit__core(void)
{
    PyObject *m, *xml, *build;

    if (PyType_Ready(&URLType) < 0)
        return NULL;
    m = PyModule_Create(&core_module);
    if (m == NULL)
        return NULL;
    InvalidSessionError = PyErr_NewExceptionWithDoc(
        "smisk.core.InvalidSessionError", "A session id has no valid stored session.", PyExc_ValueError, NULL);
    RequestTooLargeError = PyErr_NewExceptionWithDoc(
        "smisk.core.RequestTooLargeError", "A request or input exceeded a configured size or count limit.",
        PyExc_ValueError, NULL);
    xml = PyModule_Create(&xml_module);
    if (InvalidSessionError == NULL || RequestTooLargeError == NULL || xml == NULL)
        goto fail;
    str_service = PyUnicode_InternFromString("service");
    str_begin = PyUnicode_InternFromString("begin");
    str_error = PyUnicode_InternFromString("error");
    if (str_service == NULL || str_begin == NULL || str_error == NULL)
        goto fail;
    if (stream_init_module(m) < 0 || request_init_module(m) < 0 || response_init_module(m) < 0 ||
        sessions_init_module(m) < 0 || application_init_module(m) < 0 || wsgi_init_module(m) < 0)
        goto fail;
    Py_INCREF(&URLType);
    if (PyModule_AddObject(m, "URL", (PyObject *)&URLType) < 0) {
        Py_DECREF(&URLType);
        goto fail;
    }
    Py_INCREF(InvalidSessionError);
    if (PyModule_AddObject(m, "InvalidSessionError", InvalidSessionError) < 0) {
        Py_DECREF(InvalidSessionError);
        goto fail;
    }
    Py_INCREF(RequestTooLargeError);
    if (PyModule_AddObject(m, "RequestTooLargeError", RequestTooLargeError) < 0) {
        Py_DECREF(RequestTooLargeError);
        goto fail;
    }
    if (PyModule_AddObject(m, "xml", xml) < 0)
        goto fail;
    xml = NULL; /* reference stolen by the module */
    build = build_id();
    if (build == NULL || PyModule_AddObject(m, "__build__", build) < 0) {
        Py_XDECREF(build);
        goto fail;
    }
    return m;
fail:
    Py_XDECREF(xml);
    Py_DECREF(m);
    return NULL;
}
