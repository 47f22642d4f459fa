/*
 * smisk.core.Stream: the request body (input), the response body (out) and
 * the web server's error log (errors) of the current FastCGI request.
 *
 * A Stream is bound to the request being served by its owner (Request or
 * Response) and unbound when the request ends; used outside a request every
 * method raises OSError instead of touching freed memory. Reads
 * release the GIL (they may wait on the socket); results are bytes, b'' at
 * the end of the body. Lengths always come from the Python
 * object, never from the caller.
 */
#include "shim.h"

#include <limits.h>

static int stream_check(StreamObject *s)
{
    if (s->handle == NULL) {
        PyErr_SetString(PyExc_OSError, "stream used outside a request");
        return -1;
    }
    return 0;
}

static int need_input(StreamObject *s)
{
    if (stream_check(s) < 0)
        return -1;
    if (s->kind != STREAM_INPUT) {
        PyErr_SetString(PyExc_OSError, "stream is not readable");
        return -1;
    }
    return 0;
}

static int need_output(StreamObject *s)
{
    if (stream_check(s) < 0)
        return -1;
    if (s->kind == STREAM_INPUT) {
        PyErr_SetString(PyExc_OSError, "stream is not writable");
        return -1;
    }
    return 0;
}

static int size_arg(PyObject *o, Py_ssize_t *out)
{
    if (o == NULL || o == Py_None) {
        *out = -1;
        return 0;
    }
    *out = PyNumber_AsSsize_t(o, PyExc_OverflowError);
    if (*out == -1 && PyErr_Occurred())
        return -1;
    return 0;
}

/* Reads up to `limit` bytes (negative: no limit) into a new bytes object,
 * stopping at EOF, or after a newline when `line`. */
static PyObject *read_bytes(StreamObject *s, Py_ssize_t limit, int line)
{
    Py_ssize_t size, got = 0;
    PyObject *res;
    smisk_status st;

    if (limit == 0)
        return PyBytes_FromStringAndSize(NULL, 0);
    size = line ? 1024 : 65536;
    if (limit > 0 && limit < size)
        size = limit;
    res = PyBytes_FromStringAndSize(NULL, size);
    if (res == NULL)
        return NULL;
    for (;;) {
        size_t n = 0;
        char *buf = PyBytes_AS_STRING(res);
        /* The bytes object is not shared yet, so filling it without the GIL
         * is safe. */
        Py_BEGIN_ALLOW_THREADS
        if (line)
            st = smisk_request_readline(s->handle, buf + got, (size_t)(size - got), &n);
        else
            st = smisk_request_read(s->handle, buf + got, (size_t)(size - got), &n);
        Py_END_ALLOW_THREADS
        if (st != SMISK_OK) {
            Py_DECREF(res);
            return raise_status(st);
        }
        got += (Py_ssize_t)n;
        if (n == 0 || got == limit)
            break;
        if (line && buf[got - 1] == '\n')
            break;
        if (!line && got < size)
            break; /* read fills the buffer unless the body ended */
        if (got == size) {
            Py_ssize_t next = size > PY_SSIZE_T_MAX / 2 ? PY_SSIZE_T_MAX : size * 2;
            if (limit > 0 && next > limit)
                next = limit;
            if (_PyBytes_Resize(&res, next) < 0)
                return NULL;
            size = next;
        }
    }
    if (got != size && _PyBytes_Resize(&res, got) < 0)
        return NULL;
    return res;
}

static PyObject *stream_read(StreamObject *s, PyObject *args)
{
    PyObject *o = NULL;
    Py_ssize_t n;
    if (!PyArg_ParseTuple(args, "|O:read", &o) || size_arg(o, &n) < 0 || need_input(s) < 0)
        return NULL;
    return read_bytes(s, n, 0);
}

static PyObject *stream_readline(StreamObject *s, PyObject *args)
{
    PyObject *o = NULL;
    Py_ssize_t n;
    if (!PyArg_ParseTuple(args, "|O:readline", &o) || size_arg(o, &n) < 0 || need_input(s) < 0)
        return NULL;
    return read_bytes(s, n, 1);
}

/* readlines(hint): lines until EOF, or until their total size reaches a
 * positive hint (io.IOBase semantics). */
static PyObject *stream_readlines(StreamObject *s, PyObject *args)
{
    PyObject *o = NULL, *list;
    Py_ssize_t hint, total = 0;
    if (!PyArg_ParseTuple(args, "|O:readlines", &o) || size_arg(o, &hint) < 0 ||
        need_input(s) < 0)
        return NULL;
    list = PyList_New(0);
    if (list == NULL)
        return NULL;
    for (;;) {
        PyObject *line = read_bytes(s, -1, 1);
        Py_ssize_t n;
        if (line == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        n = PyBytes_GET_SIZE(line);
        if (n == 0) {
            Py_DECREF(line);
            break;
        }
        if (PyList_Append(list, line) < 0) {
            Py_DECREF(line);
            Py_DECREF(list);
            return NULL;
        }
        Py_DECREF(line);
        total += n;
        if (hint > 0 && total >= hint)
            break;
    }
    return list;
}

static PyObject *stream_iternext(StreamObject *s)
{
    PyObject *line;
    if (need_input(s) < 0)
        return NULL;
    line = read_bytes(s, -1, 1);
    if (line != NULL && PyBytes_GET_SIZE(line) == 0) {
        Py_DECREF(line);
        return NULL; /* StopIteration */
    }
    return line;
}

static PyObject *stream_iter(StreamObject *s)
{
    Py_INCREF(s);
    return (PyObject *)s;
}

static int write_view(StreamObject *s, const uint8_t *p, size_t n)
{
    smisk_status st;
    if (n == 0)
        return 0;
    if (s->kind == STREAM_ERRORS)
        st = smisk_request_write_stderr(s->handle, p, n);
    else
        st = smisk_request_write_stdout(s->handle, p, n);
    if (st != SMISK_OK) {
        raise_status(st);
        return -1;
    }
    return 0;
}

/* str is written as UTF-8 (the error log and raw output have no charset of
 * their own); anything with the buffer protocol as its bytes. */
static int write_obj(StreamObject *s, PyObject *o)
{
    view v;
    int rc;
    if (PyUnicode_Check(o)) {
        Py_ssize_t n;
        const char *p = PyUnicode_AsUTF8AndSize(o, &n);
        if (p == NULL)
            return -1;
        return write_view(s, (const uint8_t *)p, (size_t)n);
    }
    if (view_get(o, &v, "data") < 0)
        return -1;
    rc = write_view(s, v.ptr, v.len);
    view_release(&v);
    return rc;
}

static PyObject *stream_write(StreamObject *s, PyObject *data)
{
    if (need_output(s) < 0 || write_obj(s, data) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *stream_writelines(StreamObject *s, PyObject *iterable)
{
    PyObject *it, *item;
    if (need_output(s) < 0)
        return NULL;
    it = PyObject_GetIter(iterable);
    if (it == NULL)
        return NULL;
    while ((item = PyIter_Next(it)) != NULL) {
        int rc = write_obj(s, item);
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

static PyObject *stream_write_byte(StreamObject *s, PyObject *o)
{
    long b = PyLong_AsLong(o);
    uint8_t c;
    if (b == -1 && PyErr_Occurred())
        return NULL;
    if (b < 0 || b > 255) {
        PyErr_SetString(PyExc_ValueError, "byte must be in range(0, 256)");
        return NULL;
    }
    if (need_output(s) < 0)
        return NULL;
    c = (uint8_t)b;
    if (write_view(s, &c, 1) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *stream_flush(StreamObject *s, PyObject *unused)
{
    smisk_status st;
    (void)unused;
    if (stream_check(s) < 0)
        return NULL;
    if (s->kind == STREAM_INPUT)
        Py_RETURN_NONE;
    Py_BEGIN_ALLOW_THREADS
    st = smisk_request_flush(s->handle);
    Py_END_ALLOW_THREADS
    if (st != SMISK_OK)
        return raise_status(st);
    Py_RETURN_NONE;
}

/* The streams belong to the request; closing is flushing. */
static PyObject *stream_close(StreamObject *s, PyObject *unused)
{
    if (s->handle == NULL || s->kind == STREAM_INPUT)
        Py_RETURN_NONE;
    return stream_flush(s, unused);
}

static PyObject *stream_readable(StreamObject *s, PyObject *unused)
{
    (void)unused;
    return PyBool_FromLong(s->kind == STREAM_INPUT);
}

static PyObject *stream_writable(StreamObject *s, PyObject *unused)
{
    (void)unused;
    return PyBool_FromLong(s->kind != STREAM_INPUT);
}

static PyObject *stream_get_closed(StreamObject *s, void *c)
{
    (void)c;
    return PyBool_FromLong(s->handle == NULL);
}

static PyObject *stream_repr(StreamObject *s)
{
    static const char *const names[] = {"input", "out", "errors"};
    return PyUnicode_FromFormat("<smisk.core.Stream %s%s>", names[s->kind],
                                s->handle == NULL ? " (no request)" : "");
}

static PyMethodDef stream_methods[] = {
    {"read", (PyCFunction)stream_read, METH_VARARGS,
     "read(size=-1) -> bytes: up to size bytes, all remaining when size < 0; b'' at EOF."},
    {"readline", (PyCFunction)stream_readline, METH_VARARGS,
     "readline(size=-1) -> bytes: one line including its b'\\n'; b'' at EOF."},
    {"readlines", (PyCFunction)stream_readlines, METH_VARARGS,
     "readlines(hint=-1) -> list of lines, until EOF or hint bytes."},
    {"write", (PyCFunction)stream_write, METH_O, "write(data): bytes-like, or str (UTF-8)."},
    {"writelines", (PyCFunction)stream_writelines, METH_O, "writelines(iterable): write each item."},
    {"write_byte", (PyCFunction)stream_write_byte, METH_O, "write_byte(int): write one byte."},
    {"flush", (PyCFunction)stream_flush, METH_NOARGS, "flush(): send buffered output now."},
    {"close", (PyCFunction)stream_close, METH_NOARGS, "close(): flush (the request owns the stream)."},
    {"readable", (PyCFunction)stream_readable, METH_NOARGS, NULL},
    {"writable", (PyCFunction)stream_writable, METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef stream_getset[] = {
    {"closed", (getter)stream_get_closed, NULL, "True outside a request.", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

PyTypeObject StreamType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "smisk.core.Stream",
    .tp_basicsize = sizeof(StreamObject),
    .tp_dealloc = (destructor)PyObject_Del,
    .tp_repr = (reprfunc)stream_repr,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A FastCGI stream of the current request (not instantiable).",
    .tp_iter = (getiterfunc)stream_iter,
    .tp_iternext = (iternextfunc)stream_iternext,
    .tp_methods = stream_methods,
    .tp_getset = stream_getset,
};

PyObject *stream_new(int kind)
{
    StreamObject *s = PyObject_New(StreamObject, &StreamType);
    if (s == NULL)
        return NULL;
    s->handle = NULL;
    s->kind = kind;
    return (PyObject *)s;
}

int stream_init_module(PyObject *m)
{
    if (PyType_Ready(&StreamType) < 0)
        return -1;
    Py_INCREF(&StreamType);
    if (PyModule_AddObject(m, "Stream", (PyObject *)&StreamType) < 0) {
        Py_DECREF(&StreamType);
        return -1;
    }
    return 0;
}
