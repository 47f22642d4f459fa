/*
 * smisk.core.SessionStore and smisk.core.FileSessionStore.
 *
 * SessionStore is the abstract base (ttl, name; the four operations
 * raise NotImplementedError). FileSessionStore wraps the library's file
 * store (src/session/): ids are validated before any file is touched,
 * files are private, framed and written by temp file + rename. The payload
 * is marshal of builtin types (never pickle); anything that does not verify
 * reads as InvalidSessionError. File I/O runs without the GIL.
 *
 * The store handle is opened in tp_new, so a subclass that never calls the
 * base __init__ still has a working store.
 */
#include "shim.h"

#include <marshal.h>
#include <structmember.h>

/* What the library's key-value callbacks reach: the Python store object,
 * borrowed, cleared when that object goes away (the library may keep the
 * store alive a little longer inside a request's session state). Freed by
 * the library's release callback. */
typedef struct {
    PyObject *obj;
} kv_ctx;

typedef struct {
    PyObject_HEAD
    PyObject *inst_dict;
    smisk_session_store *store; /* NULL for the abstract base */
    PyObject *name;             /* the cookie name */
    long long ttl;              /* used by the abstract base only */
    kv_ctx *kv;                 /* KeyValueSessionStore only */
} SessionStoreObject;

static PyObject *abstract(PyObject *self, PyObject *args, const char *what)
{
    (void)self;
    (void)args;
    PyErr_SetString(PyExc_NotImplementedError, what);
    return NULL;
}

static PyObject *ss_read(PyObject *s, PyObject *a) { return abstract(s, a, "read"); }
static PyObject *ss_write(PyObject *s, PyObject *a) { return abstract(s, a, "write"); }
static PyObject *ss_refresh(PyObject *s, PyObject *a) { return abstract(s, a, "refresh"); }
static PyObject *ss_destroy(PyObject *s, PyObject *a) { return abstract(s, a, "destroy"); }

static PyObject *ss_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    SessionStoreObject *self = (SessionStoreObject *)type->tp_alloc(type, 0);
    (void)args;
    (void)kw;
    if (self == NULL)
        return NULL;
    self->name = PyUnicode_FromString(smisk_session_default_name());
    self->ttl = (long long)SMISK_SESSION_DEFAULT_TTL;
    if (self->name == NULL) {
        Py_DECREF(self);
        return NULL;
    }
    return (PyObject *)self;
}

static int ss_traverse(SessionStoreObject *self, visitproc visit, void *arg)
{
    Py_VISIT(self->inst_dict);
    Py_VISIT(self->name);
    return 0;
}

static int ss_clear(SessionStoreObject *self)
{
    Py_CLEAR(self->inst_dict);
    Py_CLEAR(self->name);
    return 0;
}

static void ss_dealloc(SessionStoreObject *self)
{
    PyObject_GC_UnTrack(self);
    ss_clear(self);
    if (self->kv != NULL)
        self->kv->obj = NULL;
    smisk_session_store_free(self->store);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *ss_get_name(SessionStoreObject *self, void *c)
{
    (void)c;
    Py_INCREF(self->name);
    return self->name;
}

static int ss_set_name(SessionStoreObject *self, PyObject *v, void *c)
{
    (void)c;
    if (v == NULL || !PyUnicode_Check(v)) {
        PyErr_SetString(PyExc_TypeError, "name must be a str");
        return -1;
    }
    Py_INCREF(v);
    Py_SETREF(self->name, v);
    return 0;
}

static PyObject *ss_get_ttl(SessionStoreObject *self, void *c)
{
    uint64_t ttl;
    smisk_status st;
    (void)c;
    if (self->store == NULL)
        return PyLong_FromLongLong(self->ttl);
    st = smisk_session_store_get_ttl(self->store, &ttl);
    if (st != SMISK_OK)
        return raise_status(st);
    return PyLong_FromUnsignedLongLong(ttl);
}

static int ss_set_ttl(SessionStoreObject *self, PyObject *v, void *c)
{
    long long ttl;
    smisk_status st;
    (void)c;
    if (v == NULL || !PyLong_Check(v)) {
        PyErr_SetString(PyExc_TypeError, "ttl must be an int (seconds)");
        return -1;
    }
    ttl = PyLong_AsLongLong(v);
    if (ttl == -1 && PyErr_Occurred())
        return -1;
    if (ttl < 0) {
        PyErr_SetString(PyExc_ValueError, "ttl must not be negative");
        return -1;
    }
    if (self->store == NULL) {
        self->ttl = ttl;
        return 0;
    }
    st = smisk_session_store_set_ttl(self->store, (uint64_t)ttl);
    if (st != SMISK_OK) {
        raise_status(st);
        return -1;
    }
    return 0;
}

static PyMethodDef ss_methods[] = {
    {"read", ss_read, METH_O, "read(session_id) -> data; InvalidSessionError if there is none."},
    {"write", ss_write, METH_VARARGS, "write(session_id, data)"},
    {"refresh", ss_refresh, METH_O, "refresh(session_id): extend the session's lifetime."},
    {"destroy", ss_destroy, METH_O, "destroy(session_id): remove the session."},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef ss_getset[] = {
    {"name", (getter)ss_get_name, (setter)ss_set_name, "Session cookie name (default 'SID').", NULL},
    {"ttl", (getter)ss_get_ttl, (setter)ss_set_ttl, "Session lifetime in seconds (default 900).", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

PyTypeObject SessionStoreType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "smisk.core.SessionStore",
    .tp_basicsize = sizeof(SessionStoreObject),
    .tp_dictoffset = offsetof(SessionStoreObject, inst_dict),
    .tp_dealloc = (destructor)ss_dealloc,
    .tp_traverse = (traverseproc)ss_traverse,
    .tp_clear = (inquiry)ss_clear,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "Abstract session store: subclasses implement read, write, refresh, destroy.",
    .tp_methods = ss_methods,
    .tp_getset = ss_getset,
    .tp_new = ss_new,
};

/* ---- FileSessionStore -------------------------------------------------- */

static int open_store(SessionStoreObject *self, PyObject *dir, PyObject *file_prefix)
{
    smisk_session_store *store = NULL;
    smisk_status st;
    view v;

    if (file_prefix != NULL && file_prefix != Py_None) {
        PyObject *b = PyUnicode_Check(file_prefix) ? PyUnicode_EncodeFSDefault(file_prefix) : NULL;
        if (b == NULL) {
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_TypeError, "file_prefix must be a str");
            return -1;
        }
        st = smisk_session_store_new_file_prefix((const uint8_t *)PyBytes_AS_STRING(b),
                                                 (size_t)PyBytes_GET_SIZE(b), &store);
        Py_DECREF(b);
    } else if (dir != NULL && dir != Py_None) {
        PyObject *b;
        if (!PyUnicode_FSConverter(dir, &b))
            return -1;
        if (view_get(b, &v, "dir") < 0) {
            Py_DECREF(b);
            return -1;
        }
        st = smisk_session_store_new(v.ptr, v.len, NULL, 0, &store);
        view_release(&v);
        Py_DECREF(b);
    } else {
        st = smisk_session_store_new(NULL, 0, NULL, 0, &store);
    }
    if (st != SMISK_OK) {
        raise_status(st);
        return -1;
    }
    smisk_session_store_free(self->store);
    self->store = store;
    return 0;
}

static PyObject *fs_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    SessionStoreObject *self = (SessionStoreObject *)ss_new(type, args, kw);
    if (self != NULL && open_store(self, NULL, NULL) < 0)
        Py_CLEAR(self);
    return (PyObject *)self;
}

static int fs_init(SessionStoreObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"dir", "file_prefix", NULL};
    PyObject *dir = NULL, *prefix = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|O$O:FileSessionStore", kwlist, &dir, &prefix))
        return -1;
    if (dir == NULL && prefix == NULL)
        return 0; /* the default store opened by tp_new */
    return open_store(self, dir, prefix);
}

/* A session id argument as bytes (str must be ASCII; the library rejects
 * anything that is not an id). */
static int sid_view(PyObject *sid, view *v)
{
    if (!PyUnicode_Check(sid) && !PyBytes_Check(sid)) {
        PyErr_Format(PyExc_TypeError, "session id must be a str, not %.100s", Py_TYPE(sid)->tp_name);
        return -1;
    }
    return view_get(sid, v, "session id");
}

PyObject *session_dumps(PyObject *data)
{
    return PyMarshal_WriteObjectToString(data, Py_MARSHAL_VERSION);
}

PyObject *session_loads(const uint8_t *p, size_t n)
{
    PyObject *o = PyMarshal_ReadObjectFromString((const char *)p, (Py_ssize_t)n);
    if (o == NULL && (PyErr_ExceptionMatches(PyExc_EOFError) || PyErr_ExceptionMatches(PyExc_ValueError) ||
                      PyErr_ExceptionMatches(PyExc_TypeError))) {
        PyErr_Clear();
        PyErr_SetString(InvalidSessionError, "invalid session data");
    }
    return o;
}

static PyObject *fs_read(SessionStoreObject *self, PyObject *sid)
{
    view v;
    uint8_t *p = NULL;
    size_t n = 0;
    smisk_status st;
    PyObject *res;
    if (sid_view(sid, &v) < 0)
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    st = smisk_session_store_read(self->store, v.ptr, v.len, &p, &n);
    Py_END_ALLOW_THREADS
    view_release(&v);
    if (st != SMISK_OK)
        return raise_status(st);
    res = session_loads(p, n);
    smisk_bytes_free(p, n);
    return res;
}

static PyObject *fs_write(SessionStoreObject *self, PyObject *args)
{
    PyObject *sid, *data, *bytes;
    view v;
    smisk_status st;
    if (!PyArg_ParseTuple(args, "OO:write", &sid, &data))
        return NULL;
    bytes = session_dumps(data);
    if (bytes == NULL)
        return NULL;
    if (sid_view(sid, &v) < 0) {
        Py_DECREF(bytes);
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    st = smisk_session_store_write(self->store, v.ptr, v.len, (const uint8_t *)PyBytes_AS_STRING(bytes),
                                   (size_t)PyBytes_GET_SIZE(bytes));
    Py_END_ALLOW_THREADS
    view_release(&v);
    Py_DECREF(bytes);
    if (st != SMISK_OK)
        return raise_status(st);
    Py_RETURN_NONE;
}

typedef smisk_status (*sid_fn)(const smisk_session_store *, const uint8_t *, size_t);

static PyObject *sid_call(SessionStoreObject *self, PyObject *sid, sid_fn fn)
{
    view v;
    smisk_status st;
    if (sid_view(sid, &v) < 0)
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    st = fn(self->store, v.ptr, v.len);
    Py_END_ALLOW_THREADS
    view_release(&v);
    if (st != SMISK_OK)
        return raise_status(st);
    Py_RETURN_NONE;
}

static PyObject *fs_refresh(SessionStoreObject *self, PyObject *sid)
{
    return sid_call(self, sid, smisk_session_store_refresh);
}

static PyObject *fs_destroy(SessionStoreObject *self, PyObject *sid)
{
    return sid_call(self, sid, smisk_session_store_destroy);
}

static PyObject *fs_gc(SessionStoreObject *self, PyObject *unused)
{
    smisk_session_gc_stats stats;
    smisk_status st;
    (void)unused;
    Py_BEGIN_ALLOW_THREADS
    st = smisk_session_store_gc(self->store, &stats);
    Py_END_ALLOW_THREADS
    if (st != SMISK_OK)
        return raise_status(st);
    return Py_BuildValue("{s:n,s:n,s:n}", "scanned", (Py_ssize_t)stats.scanned, "removed_sessions",
                         (Py_ssize_t)stats.removed_sessions, "removed_temps", (Py_ssize_t)stats.removed_temps);
}

typedef smisk_status (*text_getter)(const smisk_session_store *, uint8_t *, size_t, size_t *);

static PyObject *get_text(SessionStoreObject *self, text_getter fn)
{
    uint8_t buf[4096];
    size_t n = 0;
    smisk_status st = fn(self->store, buf, sizeof(buf), &n);
    if (st != SMISK_OK)
        return raise_status(st);
    return PyUnicode_DecodeFSDefaultAndSize((const char *)buf, (Py_ssize_t)n);
}

static PyObject *fs_path(SessionStoreObject *self, PyObject *sid)
{
    view v;
    PyObject *prefix, *res;
    if (sid_view(sid, &v) < 0)
        return NULL;
    if (!smisk_session_id_is_valid(v.ptr, v.len)) {
        view_release(&v);
        PyErr_SetString(InvalidSessionError, "not a session id (32 characters of [0-9a-v])");
        return NULL;
    }
    view_release(&v);
    prefix = get_text(self, smisk_session_store_file_prefix);
    if (prefix == NULL)
        return NULL;
    res = PyUnicode_Concat(prefix, sid);
    Py_DECREF(prefix);
    return res;
}

static PyObject *fs_get_dir(SessionStoreObject *self, void *c)
{
    (void)c;
    return get_text(self, smisk_session_store_dir);
}

static PyObject *fs_get_prefix(SessionStoreObject *self, void *c)
{
    (void)c;
    return get_text(self, smisk_session_store_file_prefix);
}

/* Re-opens the store; the settings of the old one carry over. */
static int fs_set_prefix(SessionStoreObject *self, PyObject *v, void *c)
{
    uint64_t ttl;
    double gcp;
    int32_t fsync;
    size_t maxp;
    (void)c;
    if (v == NULL) {
        PyErr_SetString(PyExc_AttributeError, "file_prefix cannot be deleted");
        return -1;
    }
    if (smisk_session_store_get_ttl(self->store, &ttl) != SMISK_OK ||
        smisk_session_store_get_gc_probability(self->store, &gcp) != SMISK_OK ||
        smisk_session_store_get_fsync(self->store, &fsync) != SMISK_OK ||
        smisk_session_store_get_max_payload(self->store, &maxp) != SMISK_OK) {
        PyErr_SetString(PyExc_SystemError, "session store settings unreadable");
        return -1;
    }
    if (open_store(self, NULL, v) < 0)
        return -1;
    smisk_session_store_set_ttl(self->store, ttl);
    smisk_session_store_set_gc_probability(self->store, gcp);
    smisk_session_store_set_fsync(self->store, fsync);
    smisk_session_store_set_max_payload(self->store, maxp);
    return 0;
}

static PyObject *fs_get_gcp(SessionStoreObject *self, void *c)
{
    double p;
    smisk_status st = smisk_session_store_get_gc_probability(self->store, &p);
    (void)c;
    if (st != SMISK_OK)
        return raise_status(st);
    return PyFloat_FromDouble(p);
}

static int fs_set_gcp(SessionStoreObject *self, PyObject *v, void *c)
{
    double p;
    smisk_status st;
    (void)c;
    if (v == NULL) {
        PyErr_SetString(PyExc_AttributeError, "gc_probability cannot be deleted");
        return -1;
    }
    p = PyFloat_AsDouble(v);
    if (p == -1.0 && PyErr_Occurred())
        return -1;
    st = smisk_session_store_set_gc_probability(self->store, p);
    if (st != SMISK_OK) {
        raise_status(st);
        return -1;
    }
    return 0;
}

static PyObject *fs_get_fsync(SessionStoreObject *self, void *c)
{
    int32_t f;
    smisk_status st = smisk_session_store_get_fsync(self->store, &f);
    (void)c;
    if (st != SMISK_OK)
        return raise_status(st);
    return PyBool_FromLong(f);
}

static int fs_set_fsync(SessionStoreObject *self, PyObject *v, void *c)
{
    int f;
    smisk_status st;
    (void)c;
    if (v == NULL || (f = PyObject_IsTrue(v)) < 0) {
        if (v == NULL)
            PyErr_SetString(PyExc_AttributeError, "fsync cannot be deleted");
        return -1;
    }
    st = smisk_session_store_set_fsync(self->store, f);
    if (st != SMISK_OK) {
        raise_status(st);
        return -1;
    }
    return 0;
}

static PyObject *fs_get_maxp(SessionStoreObject *self, void *c)
{
    size_t n;
    smisk_status st = smisk_session_store_get_max_payload(self->store, &n);
    (void)c;
    if (st != SMISK_OK)
        return raise_status(st);
    return PyLong_FromSize_t(n);
}

static int fs_set_maxp(SessionStoreObject *self, PyObject *v, void *c)
{
    size_t n;
    smisk_status st;
    (void)c;
    if (v == NULL) {
        PyErr_SetString(PyExc_AttributeError, "max_payload cannot be deleted");
        return -1;
    }
    n = PyLong_AsSize_t(v);
    if (n == (size_t)-1 && PyErr_Occurred())
        return -1;
    st = smisk_session_store_set_max_payload(self->store, n);
    if (st != SMISK_OK) {
        raise_status(st);
        return -1;
    }
    return 0;
}

static PyMethodDef fs_methods[] = {
    {"read", (PyCFunction)fs_read, METH_O,
     "read(session_id) -> data; InvalidSessionError when there is no valid session."},
    {"write", (PyCFunction)fs_write, METH_VARARGS, "write(session_id, data): marshal data and store it atomically."},
    {"refresh", (PyCFunction)fs_refresh, METH_O, "refresh(session_id): extend the lifetime (missing: no-op)."},
    {"destroy", (PyCFunction)fs_destroy, METH_O, "destroy(session_id): remove (missing: no-op)."},
    {"gc", (PyCFunction)fs_gc, METH_NOARGS, "gc() -> dict: remove expired sessions and abandoned temp files now."},
    {"path", (PyCFunction)fs_path, METH_O, "path(session_id) -> str: the file a valid id is stored in."},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef fs_getset[] = {
    {"dir", (getter)fs_get_dir, NULL, "The private directory holding the session files.", NULL},
    {"file_prefix", (getter)fs_get_prefix, (setter)fs_set_prefix,
     "Directory plus file name prefix (legacy form, e.g. '/var/lib/app/sess/s.').", NULL},
    {"gc_probability", (getter)fs_get_gcp, (setter)fs_set_gcp, "Chance (0..1) that an operation also runs gc().",
     NULL},
    {"fsync", (getter)fs_get_fsync, (setter)fs_set_fsync, "Flush every write to disk (default False).", NULL},
    {"max_payload", (getter)fs_get_maxp, (setter)fs_set_maxp, "Largest session payload in bytes.", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

PyTypeObject FileSessionStoreType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "smisk.core.FileSessionStore",
    .tp_basicsize = sizeof(SessionStoreObject),
    .tp_dealloc = (destructor)ss_dealloc,
    .tp_traverse = (traverseproc)ss_traverse,
    .tp_clear = (inquiry)ss_clear,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "FileSessionStore(dir=None, *, file_prefix=None): sessions as private files, one per id.",
    .tp_methods = fs_methods,
    .tp_getset = fs_getset,
    .tp_init = (initproc)fs_init,
    .tp_new = fs_new,
};

/* ---- KeyValueSessionStore --------------------------------------------------- */

/* The callbacks run with the GIL released by the caller (store methods and
 * the request's session calls release it around library calls), so each
 * takes it for the Python call. */

static PyObject *str_kv_get, *str_kv_set, *str_kv_touch, *str_kv_delete;

/* The pending exception as the reply's error text ("Type: message"). */
static void reply_exception(smisk_session_reply *reply)
{
    PyObject *type, *value, *tb, *text = NULL;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    if (value != NULL)
        text = PyUnicode_FromFormat("%s: %S", Py_TYPE(value)->tp_name, value);
    if (text != NULL) {
        Py_ssize_t n = 0;
        const char *t = PyUnicode_AsUTF8AndSize(text, &n);
        if (t != NULL)
            smisk_session_reply_error(reply, (const uint8_t *)t, (size_t)n);
    }
    PyErr_Clear();
    Py_XDECREF(text);
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
}

static void reply_text(smisk_session_reply *reply, const char *text)
{
    smisk_session_reply_error(reply, (const uint8_t *)text, strlen(text));
}

/* Calls obj.<name>(id, *extra); NULL with the reply's error set on failure. */
static PyObject *kv_call(kv_ctx *ctx, PyObject *name, const uint8_t *id, size_t idl, PyObject *extra,
                         smisk_session_reply *reply)
{
    PyObject *sid, *args, *res = NULL;
    if (ctx->obj == NULL) {
        reply_text(reply, "the session store object is gone");
        return NULL;
    }
    sid = PyUnicode_DecodeASCII((const char *)id, (Py_ssize_t)idl, "strict");
    if (sid == NULL) {
        reply_exception(reply);
        return NULL;
    }
    args = PyTuple_Pack(1, sid);
    Py_DECREF(sid);
    if (args != NULL && extra != NULL)
        Py_SETREF(args, PySequence_Concat(args, extra));
    if (args != NULL) {
        PyObject *meth = PyObject_GetAttr(ctx->obj, name);
        if (meth != NULL) {
            res = PyObject_Call(meth, args, NULL);
            Py_DECREF(meth);
        }
        Py_DECREF(args);
    }
    if (res == NULL)
        reply_exception(reply);
    return res;
}

static int32_t kv_get_cb(void *ctxp, const uint8_t *id, size_t idl, smisk_session_reply *reply)
{
    PyGILState_STATE g = PyGILState_Ensure();
    int32_t rc = -1;
    PyObject *res = kv_call(ctxp, str_kv_get, id, idl, NULL, reply);
    if (res == Py_None) {
        rc = 0;
    } else if (res != NULL) {
        Py_buffer b;
        if (PyObject_GetBuffer(res, &b, PyBUF_SIMPLE) == 0) {
            rc = smisk_session_reply_value(reply, b.buf, (size_t)b.len) == SMISK_OK ? 0 : -1;
            PyBuffer_Release(&b);
        } else {
            PyErr_Clear();
            reply_text(reply, "kv_get must return bytes or None");
        }
    }
    Py_XDECREF(res);
    PyGILState_Release(g);
    return rc;
}

static int32_t kv_set_cb(void *ctxp, const uint8_t *id, size_t idl, const uint8_t *value, size_t vl, uint64_t ttl,
                         smisk_session_reply *reply)
{
    PyGILState_STATE g = PyGILState_Ensure();
    int32_t rc = -1;
    PyObject *extra = Py_BuildValue("(y#K)", (const char *)value, (Py_ssize_t)vl, (unsigned long long)ttl);
    PyObject *res = NULL;
    if (extra == NULL)
        reply_exception(reply);
    else
        res = kv_call(ctxp, str_kv_set, id, idl, extra, reply);
    if (res != NULL)
        rc = 0;
    Py_XDECREF(extra);
    Py_XDECREF(res);
    PyGILState_Release(g);
    return rc;
}

static int32_t kv_touch_cb(void *ctxp, const uint8_t *id, size_t idl, uint64_t ttl, smisk_session_reply *reply)
{
    PyGILState_STATE g = PyGILState_Ensure();
    int32_t rc = -1;
    PyObject *extra = Py_BuildValue("(K)", (unsigned long long)ttl);
    PyObject *res = NULL;
    if (extra == NULL)
        reply_exception(reply);
    else
        res = kv_call(ctxp, str_kv_touch, id, idl, extra, reply);
    if (res != NULL) {
        int t = PyObject_IsTrue(res);
        if (t < 0)
            reply_exception(reply);
        else
            rc = t;
    }
    Py_XDECREF(extra);
    Py_XDECREF(res);
    PyGILState_Release(g);
    return rc;
}

static int32_t kv_remove_cb(void *ctxp, const uint8_t *id, size_t idl, smisk_session_reply *reply)
{
    PyGILState_STATE g = PyGILState_Ensure();
    PyObject *res = kv_call(ctxp, str_kv_delete, id, idl, NULL, reply);
    int32_t rc = res != NULL ? 0 : -1;
    Py_XDECREF(res);
    PyGILState_Release(g);
    return rc;
}

static void kv_release_cb(void *ctxp)
{
    PyMem_RawFree(ctxp);
}

static PyObject *kv_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    SessionStoreObject *self = (SessionStoreObject *)ss_new(type, args, kw);
    smisk_session_backend b;
    smisk_status st;
    if (self == NULL)
        return NULL;
    self->kv = PyMem_RawMalloc(sizeof(kv_ctx));
    if (self->kv == NULL) {
        Py_DECREF(self);
        return PyErr_NoMemory();
    }
    self->kv->obj = (PyObject *)self;
    b.ctx = self->kv;
    b.get = kv_get_cb;
    b.set = kv_set_cb;
    b.touch = kv_touch_cb;
    b.remove = kv_remove_cb;
    b.release = kv_release_cb;
    st = smisk_session_store_new_backend(&b, &self->store);
    if (st != SMISK_OK) {
        PyMem_RawFree(self->kv);
        self->kv = NULL;
        Py_DECREF(self);
        return raise_status(st);
    }
    return (PyObject *)self;
}

static int kv_init(SessionStoreObject *self, PyObject *args, PyObject *kw)
{
    (void)self;
    (void)args;
    (void)kw;
    return 0; /* subclasses take their own arguments */
}

static PyObject *kv_abstract(PyObject *self, PyObject *args)
{
    (void)self;
    (void)args;
    PyErr_SetString(PyExc_NotImplementedError, "a KeyValueSessionStore subclass implements kv_get, kv_set, "
                                               "kv_touch and kv_delete");
    return NULL;
}

static PyMethodDef kv_methods[] = {
    {"read", (PyCFunction)fs_read, METH_O,
     "read(session_id) -> data; InvalidSessionError when there is no valid session."},
    {"write", (PyCFunction)fs_write, METH_VARARGS, "write(session_id, data): marshal, frame and store data."},
    {"refresh", (PyCFunction)fs_refresh, METH_O, "refresh(session_id): extend the lifetime (missing: InvalidSessionError)."},
    {"destroy", (PyCFunction)fs_destroy, METH_O, "destroy(session_id): remove (missing: no-op)."},
    {"kv_get", kv_abstract, METH_VARARGS, "kv_get(session_id) -> bytes or None: the stored value (override)."},
    {"kv_set", kv_abstract, METH_VARARGS, "kv_set(session_id, value, ttl): store, expiring in ttl seconds (override)."},
    {"kv_touch", kv_abstract, METH_VARARGS, "kv_touch(session_id, ttl) -> bool: extend an existing value (override)."},
    {"kv_delete", kv_abstract, METH_VARARGS, "kv_delete(session_id): remove the value (override)."},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef kv_getset[] = {
    {"max_payload", (getter)fs_get_maxp, (setter)fs_set_maxp, "Largest session payload in bytes.", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

PyTypeObject KeyValueSessionStoreType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "smisk.core.KeyValueSessionStore",
    .tp_basicsize = sizeof(SessionStoreObject),
    .tp_dealloc = (destructor)ss_dealloc,
    .tp_traverse = (traverseproc)ss_traverse,
    .tp_clear = (inquiry)ss_clear,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "Sessions on a key-value server. Subclasses implement kv_get, kv_set, kv_touch and kv_delete on "
              "framed values; ids, framing, verification and ttl are the library's.",
    .tp_methods = kv_methods,
    .tp_getset = kv_getset,
    .tp_init = (initproc)kv_init,
    .tp_new = kv_new,
};

/* ---- the frame, for tools and tests ----------------------------------------- */

typedef smisk_status (*frame_fn)(const uint8_t *, size_t, const uint8_t *, size_t, uint8_t **, size_t *);

static PyObject *frame_call(PyObject *args, const char *fmt, frame_fn fn)
{
    PyObject *sid;
    Py_buffer data;
    view v;
    uint8_t *p = NULL;
    size_t n = 0;
    smisk_status st;
    PyObject *res;
    if (!PyArg_ParseTuple(args, fmt, &sid, &data))
        return NULL;
    if (sid_view(sid, &v) < 0) {
        PyBuffer_Release(&data);
        return NULL;
    }
    st = fn(v.ptr, v.len, data.buf, (size_t)data.len, &p, &n);
    view_release(&v);
    PyBuffer_Release(&data);
    if (st != SMISK_OK)
        return raise_status(st);
    res = PyBytes_FromStringAndSize((const char *)p, (Py_ssize_t)n);
    smisk_bytes_free(p, n);
    return res;
}

static PyObject *mod_session_frame(PyObject *m, PyObject *args)
{
    (void)m;
    return frame_call(args, "Oy*:session_frame", smisk_session_frame_encode);
}

static PyObject *mod_session_unframe(PyObject *m, PyObject *args)
{
    (void)m;
    return frame_call(args, "Oy*:session_unframe", smisk_session_frame_decode);
}

static PyMethodDef frame_functions[] = {
    {"session_frame", mod_session_frame, METH_VARARGS,
     "session_frame(session_id, payload) -> bytes: payload framed as every session store keeps it."},
    {"session_unframe", mod_session_unframe, METH_VARARGS,
     "session_unframe(session_id, data) -> bytes: the payload; InvalidSessionError unless data is exactly a "
     "frame of this id."},
    {NULL, NULL, 0, NULL}};

smisk_session_store *session_store_handle(PyObject *store)
{
    if (!(PyObject_TypeCheck(store, &FileSessionStoreType) || PyObject_TypeCheck(store, &KeyValueSessionStoreType)) ||
        ((SessionStoreObject *)store)->store == NULL) {
        PyErr_Format(PyExc_TypeError,
                     "request sessions need a smisk.core.FileSessionStore or KeyValueSessionStore (or subclass), "
                     "not %.100s",
                     Py_TYPE(store)->tp_name);
        return NULL;
    }
    return ((SessionStoreObject *)store)->store;
}

PyObject *session_store_name(PyObject *store)
{
    PyObject *name = ((SessionStoreObject *)store)->name;
    Py_INCREF(name);
    return name;
}

int sessions_init_module(PyObject *m)
{
    FileSessionStoreType.tp_base = &SessionStoreType;
    KeyValueSessionStoreType.tp_base = &SessionStoreType;
    str_kv_get = PyUnicode_InternFromString("kv_get");
    str_kv_set = PyUnicode_InternFromString("kv_set");
    str_kv_touch = PyUnicode_InternFromString("kv_touch");
    str_kv_delete = PyUnicode_InternFromString("kv_delete");
    if (str_kv_get == NULL || str_kv_set == NULL || str_kv_touch == NULL || str_kv_delete == NULL)
        return -1;
    if (PyType_Ready(&SessionStoreType) < 0 || PyType_Ready(&FileSessionStoreType) < 0 ||
        PyType_Ready(&KeyValueSessionStoreType) < 0)
        return -1;
    if (PyModule_AddFunctions(m, frame_functions) < 0)
        return -1;
    Py_INCREF(&KeyValueSessionStoreType);
    if (PyModule_AddObject(m, "KeyValueSessionStore", (PyObject *)&KeyValueSessionStoreType) < 0) {
        Py_DECREF(&KeyValueSessionStoreType);
        return -1;
    }
    Py_INCREF(&SessionStoreType);
    if (PyModule_AddObject(m, "SessionStore", (PyObject *)&SessionStoreType) < 0) {
        Py_DECREF(&SessionStoreType);
        return -1;
    }
    Py_INCREF(&FileSessionStoreType);
    if (PyModule_AddObject(m, "FileSessionStore", (PyObject *)&FileSessionStoreType) < 0) {
        Py_DECREF(&FileSessionStoreType);
        return -1;
    }
    return 0;
}
