/*
 * smisk.core.Application, run(), and the module functions bind / unbind /
 * listening.
 *
 * run() hands the process to the library's smisk_run() (accept loop,
 * prefork supervision, signals, CGI mode) with the GIL released; the
 * library calls back once per request, and the callback takes the GIL only
 * while Python code runs. Per request: attach the handle to the shared
 * Request/Response, call service(), begin() if the application did not,
 * on an exception call error() (the library's escaped error page), then
 * write back the session; the library finishes the request and removes the
 * temp files after the callback returns. A failure after the
 * response (say, an unwritable session store) is logged and never stops
 * the server.
 *
 * Hooks: application_will_start() / application_did_stop() run in each
 * serving process (the workers with forks), around its requests; forks go
 * through PyOS_BeforeFork / PyOS_AfterFork_* so the interpreter stays
 * consistent in the children.
 */
#include "shim.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <structmember.h>
#include <unistd.h>

static smisk_server *g_server;        /* bind()/unbind()/run() */
static ApplicationObject *g_running;  /* the application in run() */
static PyThreadState *g_tstate;       /* saved while the library runs */
static PyObject *g_pending_type, *g_pending_value, *g_pending_tb; /* raised by run() */

static smisk_server *server(void)
{
    if (g_server == NULL) {
        smisk_status st = smisk_server_new(&g_server);
        if (st != SMISK_OK) {
            raise_status(st);
            return NULL;
        }
    }
    return g_server;
}

ApplicationObject *app_current(void)
{
    PyObject *cur;
    if (g_running != NULL)
        return g_running;
    cur = PyDict_GetItemString(ApplicationType.tp_dict, "current"); /* borrowed */
    if (cur != NULL && PyObject_TypeCheck(cur, &ApplicationType))
        return (ApplicationObject *)cur;
    return NULL;
}

static int set_current(PyObject *app)
{
    if (PyDict_SetItemString(ApplicationType.tp_dict, "current", app) < 0)
        return -1;
    PyType_Modified(&ApplicationType);
    return 0;
}

/* Keeps the first exception for run() to raise once the library returns. */
static void save_pending(void)
{
    PyObject *t, *v, *tb;
    PyErr_Fetch(&t, &v, &tb);
    if (g_pending_type == NULL) {
        PyErr_NormalizeException(&t, &v, &tb);
        g_pending_type = t;
        g_pending_value = v;
        g_pending_tb = tb;
    } else {
        Py_XDECREF(t);
        Py_XDECREF(v);
        Py_XDECREF(tb);
    }
}

/* Prints the current exception to sys.stderr without PyErr_Print's special
 * handling of SystemExit (which would exit the process). */
static void print_exception(void)
{
    PyObject *t, *v, *tb, *mod, *res = NULL;
    PyErr_Fetch(&t, &v, &tb);
    PyErr_NormalizeException(&t, &v, &tb);
    mod = PyImport_ImportModule("traceback");
    if (mod != NULL && t != NULL)
        res = PyObject_CallMethod(mod, "print_exception", "OOO", t, v ? v : Py_None, tb ? tb : Py_None);
    Py_XDECREF(res);
    Py_XDECREF(mod);
    PyErr_Clear();
    Py_XDECREF(t);
    Py_XDECREF(v);
    Py_XDECREF(tb);
}

static int is_stop_exception(void)
{
    return PyErr_ExceptionMatches(PyExc_SystemExit) || PyErr_ExceptionMatches(PyExc_KeyboardInterrupt);
}

/* ---- the per-request callback -------------------------------------------- */

static int handle_exception(ApplicationObject *app)
{
    PyObject *t, *v, *tb, *res;
    if (is_stop_exception()) {
        /* sys.exit() or KeyboardInterrupt in service(): stop serving and
         * raise it from run(); this request gets the library's 500. */
        save_pending();
        smisk_run_stop();
        return 1;
    }
    PyErr_Fetch(&t, &v, &tb);
    PyErr_NormalizeException(&t, &v, &tb);
    if (tb != NULL && v != NULL)
        PyException_SetTraceback(v, tb);
    res = PyObject_CallMethodObjArgs((PyObject *)app, str_error, t, v ? v : Py_None, tb ? tb : Py_None, NULL);
    Py_XDECREF(t);
    Py_XDECREF(v);
    Py_XDECREF(tb);
    if (res == NULL) {
        if (is_stop_exception()) {
            save_pending();
            smisk_run_stop();
        } else {
            print_exception();
        }
        return 1; /* the library answers 500 if nothing was sent */
    }
    Py_DECREF(res);
    if (response_begin_if_needed(app->response) < 0) {
        print_exception();
        return 1;
    }
    return 0;
}

static int handle_request(void *ctx, smisk_request *h)
{
    ApplicationObject *app = ctx;
    PyObject *res;
    int rc = 0;

    PyEval_RestoreThread(g_tstate);
    request_attach(app->request, h);
    response_attach(app->response, h);
    res = PyObject_CallMethodNoArgs((PyObject *)app, str_service);
    if (res != NULL) {
        Py_DECREF(res);
        if (response_begin_if_needed(app->response) < 0)
            rc = handle_exception(app);
    } else {
        rc = handle_exception(app);
    }
    /* The session is written back before the answer completes (the
     * client's next request sees it); the library finishes the request
     * once this returns (a 500 if nothing was sent and rc != 0), then
     * removes the form's temp files. */
    request_end_session(app->request);
    request_detach(app->request);
    response_detach(app->response);
    if (PyErr_Occurred())
        print_exception();
    g_tstate = PyEval_SaveThread();
    return rc;
}

/* ---- hooks ------------------------------------------------------------------ */

static void flush_std_streams(void)
{
    const char *names[] = {"stdout", "stderr"};
    size_t i;
    for (i = 0; i < 2; i++) {
        PyObject *f = PySys_GetObject(names[i]); /* borrowed */
        PyObject *r = f != NULL && f != Py_None ? PyObject_CallMethod(f, "flush", NULL) : NULL;
        Py_XDECREF(r);
        PyErr_Clear();
    }
}

static int hook_worker_start(void *ctx, int index)
{
    ApplicationObject *app = ctx;
    PyObject *res;
    int rc = 0;
    PyEval_RestoreThread(g_tstate);
    app->worker_index = index;
    res = PyObject_CallMethod((PyObject *)app, "application_will_start", NULL);
    if (res == NULL) {
        if (app->forks > 0)
            print_exception();
        else
            save_pending();
        rc = 1;
    }
    Py_XDECREF(res);
    flush_std_streams();
    g_tstate = PyEval_SaveThread();
    return rc;
}

static void hook_worker_stop(void *ctx, int index)
{
    ApplicationObject *app = ctx;
    PyObject *res;
    (void)index;
    PyEval_RestoreThread(g_tstate);
    res = PyObject_CallMethod((PyObject *)app, "application_did_stop", NULL);
    if (res == NULL) {
        if (app->forks > 0)
            print_exception();
        else
            save_pending();
    }
    Py_XDECREF(res);
    /* Workers end with _exit(): nothing else would flush Python's buffers. */
    flush_std_streams();
    g_tstate = PyEval_SaveThread();
}

static void hook_fork(void *ctx, int phase)
{
    (void)ctx;
    switch (phase) {
    case SMISK_FORK_BEFORE:
        /* The GIL stays held across fork(), as os.fork() does. */
        PyEval_RestoreThread(g_tstate);
        PyOS_BeforeFork();
        break;
    case SMISK_FORK_PARENT:
        PyOS_AfterFork_Parent();
        g_tstate = PyEval_SaveThread();
        break;
    default:
        PyOS_AfterFork_Child();
        g_tstate = PyEval_SaveThread();
        break;
    }
}

/* ---- run ---------------------------------------------------------------------- */

static PyObject *make_instance(PyObject *cls, PyTypeObject *base, const char *what)
{
    PyObject *args, *obj;
    if (!PyType_Check(cls) || !PyType_IsSubtype((PyTypeObject *)cls, base)) {
        PyErr_Format(PyExc_TypeError, "%s must be a subclass of %s", what, base->tp_name);
        return NULL;
    }
    /* Like the original: the subclass's __init__ is not called. */
    args = PyTuple_New(0);
    if (args == NULL)
        return NULL;
    obj = ((PyTypeObject *)cls)->tp_new((PyTypeObject *)cls, args, NULL);
    Py_DECREF(args);
    return obj;
}

static int setup_transaction(ApplicationObject *self)
{
    RequestObject *req;
    ResponseObject *resp;
    PyObject *mine, *base;

    req = (RequestObject *)make_instance(self->request_class, &RequestType, "request_class");
    if (req == NULL)
        return -1;
    resp = (ResponseObject *)make_instance(self->response_class, &ResponseType, "response_class");
    if (resp == NULL) {
        Py_DECREF(req);
        return -1;
    }
    Py_INCREF(self);
    Py_XSETREF(req->app, self);
    Py_INCREF(req);
    Py_XSETREF(resp->request, req);
    mine = PyObject_GetAttr((PyObject *)Py_TYPE(resp), str_begin);
    base = PyObject_GetAttr((PyObject *)&ResponseType, str_begin);
    resp->custom_begin = mine != base;
    Py_XDECREF(mine);
    Py_XDECREF(base);
    PyErr_Clear();
    Py_XSETREF(self->request, req);
    Py_XSETREF(self->response, resp);
    Py_INCREF(req);
    Py_XSETREF(self->request_attr, (PyObject *)req);
    Py_INCREF(resp);
    Py_XSETREF(self->response_attr, (PyObject *)resp);
    return 0;
}

static PyObject *app_run(ApplicationObject *self, PyObject *unused)
{
    smisk_run_options opt;
    smisk_server *srv;
    smisk_status st;
    int sig = 0;
    (void)unused;

    if (g_running != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "run() is already in progress");
        return NULL;
    }
    srv = server();
    if (srv == NULL || setup_transaction(self) < 0)
        return NULL;
    smisk_run_options_init(&opt);
    opt.forks = self->forks;
    opt.max_requests = self->max_requests;
    opt.worker_start = hook_worker_start;
    opt.worker_stop = hook_worker_stop;
    opt.on_fork = hook_fork;
    opt.hook_ctx = self;
    if (set_current((PyObject *)self) < 0)
        return NULL;
    g_running = self;
    Py_INCREF(self);
    flush_std_streams();
    g_tstate = PyEval_SaveThread();
    st = smisk_run(srv, &opt, handle_request, self, &sig);
    PyEval_RestoreThread(g_tstate);
    g_running = NULL;
    Py_DECREF(self);
    if (g_pending_type != NULL) {
        PyErr_Restore(g_pending_type, g_pending_value, g_pending_tb);
        g_pending_type = g_pending_value = g_pending_tb = NULL;
        return NULL;
    }
    if (st == SMISK_ERR_STATE && !smisk_server_is_bound(srv)) {
        PyErr_SetString(PyExc_OSError, "Application must be run in a FastCGI environment: call "
                                       "smisk.core.bind(address) first, or start the program from a "
                                       "web server or spawn-fcgi (listening socket on fd 0)");
        return NULL;
    }
    if (st != SMISK_OK)
        return raise_status(st);
    if (sig == SIGINT) {
        PyErr_SetNone(PyExc_KeyboardInterrupt);
        return NULL;
    }
    Py_RETURN_NONE;
}

/* ---- error / service / exit ------------------------------------------------- */

static PyObject *join_format(const char *fn, PyObject *t, PyObject *v, PyObject *tb)
{
    PyObject *mod, *lines, *sep, *text = NULL;
    mod = PyImport_ImportModule("traceback");
    if (mod == NULL)
        return NULL;
    if (strcmp(fn, "format_exception_only") == 0)
        lines = PyObject_CallMethod(mod, fn, "OO", t, v);
    else
        lines = PyObject_CallMethod(mod, fn, "OOO", t, v, tb);
    Py_DECREF(mod);
    if (lines == NULL)
        return NULL;
    sep = PyUnicode_FromString("");
    if (sep != NULL)
        text = PyUnicode_Join(sep, lines);
    Py_XDECREF(sep);
    Py_DECREF(lines);
    return text;
}

static PyObject *app_error(ApplicationObject *self, PyObject *args)
{
    PyObject *t, *v, *tb, *full, *msg, *msg_stripped;
    const char *full_s, *msg_s;
    Py_ssize_t full_n, msg_n;
    int show, too_large;
    uint32_t status;
    smisk_request *h = self->response != NULL ? self->response->handle : NULL;
    smisk_status st;

    if (!PyArg_ParseTuple(args, "OOO:error", &t, &v, &tb))
        return NULL;
    full = join_format("format_exception", t, v, tb);
    if (full == NULL)
        return NULL;
    msg = join_format("format_exception_only", t, v, tb);
    msg_stripped = msg == NULL ? NULL : PyObject_CallMethod(msg, "strip", NULL);
    Py_XDECREF(msg);
    if (msg_stripped == NULL) {
        Py_DECREF(full);
        return NULL;
    }
    full_s = PyUnicode_AsUTF8AndSize(full, &full_n);
    msg_s = PyUnicode_AsUTF8AndSize(msg_stripped, &msg_n);
    show = PyObject_IsTrue(self->show_traceback);
    if (full_s == NULL || msg_s == NULL || show < 0) {
        Py_DECREF(full);
        Py_DECREF(msg_stripped);
        return NULL;
    }
    too_large = PyType_Check(t) && PyType_IsSubtype((PyTypeObject *)t, (PyTypeObject *)RequestTooLargeError);
    status = too_large ? 413 : 500;
    if (h == NULL) {
        /* Not serving: the log is all there is. */
        PySys_WriteStderr("%s", full_s);
        st = SMISK_OK;
    } else {
        /* The full traceback always goes to the web server's error log. */
        smisk_request_write_stderr(h, full_s, (size_t)full_n);
        st = smisk_response_error_page(h, status, (const uint8_t *)msg_s, (size_t)msg_n,
                                       show ? (const uint8_t *)full_s : NULL, show ? (size_t)full_n : 0);
    }
    Py_DECREF(full);
    Py_DECREF(msg_stripped);
    if (st != SMISK_OK && st != SMISK_ERR_ABORTED)
        return raise_status(st);
    Py_RETURN_NONE;
}

static PyObject *app_service(ApplicationObject *self, PyObject *unused)
{
    PyObject *line, *res;
    (void)unused;
    if (self->response == NULL || self->response->handle == NULL) {
        PyErr_SetString(PyExc_OSError, "service() outside a request");
        return NULL;
    }
    line = PyUnicode_FromString("Content-Type: text/html; charset=utf-8");
    if (line == NULL)
        return NULL;
    if (response_add_line(self->response, line) < 0) {
        Py_DECREF(line);
        return NULL;
    }
    Py_DECREF(line);
    line = PyUnicode_FromFormat("<html><body><h1>Smisk instance #%ld</h1><p>No services available</p>"
                                "</body></html>\n",
                                (long)getpid());
    if (line == NULL)
        return NULL;
    res = PyObject_CallMethod((PyObject *)self->response, "write", "O", line);
    Py_DECREF(line);
    return res;
}

static PyObject *app_exit(ApplicationObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    if (g_running != NULL)
        smisk_run_stop();
    Py_RETURN_NONE;
}

static PyObject *app_noop(ApplicationObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    Py_RETURN_NONE;
}

/* ---- attributes ---------------------------------------------------------------- */

static int set_charset(ApplicationObject *self, PyObject *v)
{
    const char *enc;
    PyObject *info, *s;
    if (v == NULL) {
        PyErr_SetString(PyExc_AttributeError, "charset cannot be deleted");
        return -1;
    }
    s = PyObject_Str(v);
    if (s == NULL)
        return -1;
    enc = PyUnicode_AsUTF8(s);
    info = enc == NULL ? NULL : PyCodec_Decoder(enc); /* unknown charsets fail here */
    if (info == NULL) {
        Py_DECREF(s);
        return -1;
    }
    Py_DECREF(info);
    Py_XSETREF(self->charset, s);
    self->charset_utf8 = enc;
    self->charset_is_utf8 = strcmp(enc, "utf-8") == 0 || strcmp(enc, "utf8") == 0 ||
                            strcmp(enc, "UTF-8") == 0;
    if (self->request != NULL)
        request_charset_changed(self->request);
    return 0;
}

static PyObject *app_get_charset(ApplicationObject *self, void *c)
{
    (void)c;
    Py_INCREF(self->charset);
    return self->charset;
}

static int app_set_charset(ApplicationObject *self, PyObject *v, void *c)
{
    (void)c;
    return set_charset(self, v);
}

static PyObject *app_get_tolerant(ApplicationObject *self, void *c)
{
    (void)c;
    return PyBool_FromLong(self->tolerant);
}

static int app_set_tolerant(ApplicationObject *self, PyObject *v, void *c)
{
    (void)c;
    if (v == NULL || !PyLong_Check(v)) { /* bool is an int */
        PyErr_SetString(PyExc_TypeError, "tolerant must be a boolean");
        return -1;
    }
    self->tolerant = PyObject_IsTrue(v);
    return 0;
}

static PyObject *app_get_forks(ApplicationObject *self, void *c)
{
    (void)c;
    return PyLong_FromLong(self->forks);
}

static int app_set_forks(ApplicationObject *self, PyObject *v, void *c)
{
    long n;
    (void)c;
    if (v == NULL || !PyLong_Check(v)) {
        PyErr_SetString(PyExc_TypeError, "forks must be an int");
        return -1;
    }
    n = PyLong_AsLong(v);
    if (n == -1 && PyErr_Occurred())
        return -1;
    if (n < 0 || n > (long)SMISK_MAX_FORKS) {
        PyErr_Format(PyExc_ValueError, "forks must be between 0 and %u", (unsigned)SMISK_MAX_FORKS);
        return -1;
    }
    self->forks = (int)n;
    return 0;
}

static PyObject *app_get_max_requests(ApplicationObject *self, void *c)
{
    (void)c;
    return PyLong_FromLongLong(self->max_requests);
}

static int app_set_max_requests(ApplicationObject *self, PyObject *v, void *c)
{
    long long n;
    (void)c;
    if (v == NULL || !PyLong_Check(v)) {
        PyErr_SetString(PyExc_TypeError, "max_requests must be an int");
        return -1;
    }
    n = PyLong_AsLongLong(v);
    if (n == -1 && PyErr_Occurred())
        return -1;
    if (n < 0) {
        PyErr_SetString(PyExc_ValueError, "max_requests must be >= 0 (0: never recycle)");
        return -1;
    }
    self->max_requests = n;
    return 0;
}

static PyObject *app_get_sessions(ApplicationObject *self, void *c)
{
    (void)c;
    if (self->sessions == NULL) {
        self->sessions = PyObject_CallNoArgs(self->sessions_class);
        if (self->sessions == NULL)
            return NULL;
    }
    Py_INCREF(self->sessions);
    return self->sessions;
}

static int app_set_sessions(ApplicationObject *self, PyObject *v, void *c)
{
    (void)c;
    Py_XINCREF(v);
    Py_XSETREF(self->sessions, v);
    return 0;
}

static PyMemberDef app_members[] = {
    {"request_class", T_OBJECT_EX, offsetof(ApplicationObject, request_class), 0,
     "Class of the request object run() creates (a Request subclass)."},
    {"response_class", T_OBJECT_EX, offsetof(ApplicationObject, response_class), 0,
     "Class of the response object run() creates (a Response subclass)."},
    {"sessions_class", T_OBJECT_EX, offsetof(ApplicationObject, sessions_class), 0,
     "Called without arguments to create `sessions` (default FileSessionStore)."},
    {"show_traceback", T_OBJECT_EX, offsetof(ApplicationObject, show_traceback), 0,
     "error() shows the traceback when true (default: SMISK_DEBUG is set)."},
    {"request", T_OBJECT_EX, offsetof(ApplicationObject, request_attr), READONLY,
     "The request object (None before run())."},
    {"response", T_OBJECT_EX, offsetof(ApplicationObject, response_attr), READONLY,
     "The response object (None before run())."},
    {"worker_index", T_INT, offsetof(ApplicationObject, worker_index), READONLY,
     "Index of this serving process (0..forks-1; 0 without forks)."},
    {NULL, 0, 0, 0, NULL}};

static PyGetSetDef app_getset[] = {
    {"charset", (getter)app_get_charset, (setter)app_set_charset,
     "Charset for decoding input and encoding str output (default 'utf-8').", NULL},
    {"tolerant", (getter)app_get_tolerant, (setter)app_set_tolerant,
     "Decode undecodable input as Latin-1 instead of failing (default True).", NULL},
    {"forks", (getter)app_get_forks, (setter)app_set_forks,
     "0: serve in this process; N: a supervisor plus N worker processes.", NULL},
    {"max_requests", (getter)app_get_max_requests, (setter)app_set_max_requests,
     "Recycle a worker after this many requests (0: never; without forks run() returns).", NULL},
    {"sessions", (getter)app_get_sessions, (setter)app_set_sessions,
     "The session store (created from sessions_class on first use).", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyMethodDef app_methods[] = {
    {"run", (PyCFunction)app_run, METH_NOARGS,
     "run(): serve requests until stopped (SIGINT raises KeyboardInterrupt afterwards)."},
    {"service", (PyCFunction)app_service, METH_NOARGS, "service(): answer the current request (override)."},
    {"error", (PyCFunction)app_error, METH_VARARGS,
     "error(typ, val, tb): answer with the built-in error page (500, 413 for RequestTooLargeError)."},
    {"exit", (PyCFunction)app_exit, METH_NOARGS, "exit(): stop after the current request."},
    {"application_will_start", (PyCFunction)app_noop, METH_NOARGS,
     "Hook: called in each serving process before its first request."},
    {"application_did_stop", (PyCFunction)app_noop, METH_NOARGS,
     "Hook: called in each serving process after its last request."},
    {NULL, NULL, 0, NULL}};

static PyObject *app_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    ApplicationObject *self;
    const char *debug;
    PyObject *utf8;
    (void)args;
    (void)kw;
    self = (ApplicationObject *)type->tp_alloc(type, 0);
    if (self == NULL)
        return NULL;
    Py_INCREF(&RequestType);
    self->request_class = (PyObject *)&RequestType;
    Py_INCREF(&ResponseType);
    self->response_class = (PyObject *)&ResponseType;
    Py_INCREF(&FileSessionStoreType);
    self->sessions_class = (PyObject *)&FileSessionStoreType;
    debug = getenv("SMISK_DEBUG");
    self->show_traceback = (debug != NULL && debug[0] != '\0') ? Py_True : Py_False;
    Py_INCREF(self->show_traceback);
    Py_INCREF(Py_None);
    self->request_attr = Py_None;
    Py_INCREF(Py_None);
    self->response_attr = Py_None;
    self->tolerant = 1;
    utf8 = PyUnicode_FromString("utf-8");
    if (utf8 == NULL || set_charset(self, utf8) < 0 || set_current((PyObject *)self) < 0) {
        Py_XDECREF(utf8);
        Py_DECREF(self);
        return NULL;
    }
    Py_DECREF(utf8);
    return (PyObject *)self;
}

static int app_init(PyObject *self, PyObject *args, PyObject *kw)
{
    (void)self;
    (void)args;
    (void)kw;
    return 0; /* arguments are accepted and ignored, as in the original */
}

static int app_traverse(ApplicationObject *self, visitproc visit, void *arg)
{
    Py_VISIT(self->inst_dict);
    Py_VISIT(self->request_class);
    Py_VISIT(self->response_class);
    Py_VISIT(self->sessions_class);
    Py_VISIT(self->sessions);
    Py_VISIT(self->request);
    Py_VISIT(self->response);
    Py_VISIT(self->request_attr);
    Py_VISIT(self->response_attr);
    Py_VISIT(self->show_traceback);
    return 0;
}

static int app_clear(ApplicationObject *self)
{
    Py_CLEAR(self->inst_dict);
    Py_CLEAR(self->request_class);
    Py_CLEAR(self->response_class);
    Py_CLEAR(self->sessions_class);
    Py_CLEAR(self->sessions);
    Py_CLEAR(self->request);
    Py_CLEAR(self->response);
    Py_CLEAR(self->request_attr);
    Py_CLEAR(self->response_attr);
    Py_CLEAR(self->show_traceback);
    return 0;
}

static void app_dealloc(ApplicationObject *self)
{
    PyObject_GC_UnTrack(self);
    app_clear(self);
    Py_CLEAR(self->charset);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

PyTypeObject ApplicationType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "smisk.core.Application",
    .tp_basicsize = sizeof(ApplicationObject),
    .tp_dictoffset = offsetof(ApplicationObject, inst_dict),
    .tp_dealloc = (destructor)app_dealloc,
    .tp_traverse = (traverseproc)app_traverse,
    .tp_clear = (inquiry)app_clear,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "A smisk application: subclass it, override service(), call run().",
    .tp_methods = app_methods,
    .tp_members = app_members,
    .tp_getset = app_getset,
    .tp_init = app_init,
    .tp_new = app_new,
};

/* ---- bind / unbind / listening ---------------------------------------------- */

/* The allow-list argument as text: a str as it is, an iterable of str
 * joined with ','. New reference, or NULL with an exception set. The
 * library parses and judges it. */
static PyObject *allow_text(PyObject *allow)
{
    PyObject *sep, *joined;
    if (PyUnicode_Check(allow)) {
        Py_INCREF(allow);
        return allow;
    }
    sep = PyUnicode_FromString(",");
    if (sep == NULL)
        return NULL;
    joined = PyUnicode_Join(sep, allow);
    Py_DECREF(sep);
    if (joined == NULL && PyErr_ExceptionMatches(PyExc_TypeError)) {
        PyErr_Clear();
        PyErr_SetString(PyExc_TypeError, "allow must be a str or an iterable of str");
    }
    return joined;
}

/* smisk_server_set_allow() with a Python argument (None clears the list). */
static int set_allow(smisk_server *srv, PyObject *allow)
{
    PyObject *text;
    const char *p;
    Py_ssize_t n;
    smisk_status st;
    if (allow == Py_None) {
        st = smisk_server_clear_allow(srv);
        return st == SMISK_OK ? 0 : (raise_status(st), -1);
    }
    text = allow_text(allow);
    if (text == NULL)
        return -1;
    p = PyUnicode_AsUTF8AndSize(text, &n);
    st = p == NULL ? SMISK_OK : smisk_server_set_allow(srv, p, (size_t)n);
    Py_DECREF(text);
    if (p == NULL)
        return -1;
    return st == SMISK_OK ? 0 : (raise_status(st), -1);
}

/* A user or group argument as text: None -> NULL (the process's own), an
 * int as its decimal id, a str as it is. New reference. */
static int id_text(PyObject *o, PyObject **out, const char *what)
{
    *out = NULL;
    if (o == Py_None)
        return 0;
    if (PyLong_Check(o) && !PyBool_Check(o)) {
        *out = PyObject_Str(o);
        return *out == NULL ? -1 : 0;
    }
    if (PyUnicode_Check(o)) {
        Py_INCREF(o);
        *out = o;
        return 0;
    }
    PyErr_Format(PyExc_TypeError, "%s must be a name (str), an id (int) or None, not %.100s", what,
                 Py_TYPE(o)->tp_name);
    return -1;
}

/* smisk_server_set_socket_ownership() with Python arguments. */
static int set_ownership(smisk_server *srv, PyObject *mode, PyObject *owner, PyObject *group)
{
    PyObject *o = NULL, *g = NULL;
    const char *op = NULL, *gp = NULL;
    Py_ssize_t on = 0, gn = 0;
    int m = -1, overflow = 0, rc = -1;
    smisk_status st;
    if (mode != Py_None) {
        long v;
        if (!PyLong_Check(mode) || PyBool_Check(mode)) {
            PyErr_SetString(PyExc_TypeError, "mode must be an int (such as 0o660) or None");
            return -1;
        }
        v = PyLong_AsLongAndOverflow(mode, &overflow);
        if (v == -1 && PyErr_Occurred())
            return -1;
        if (overflow || v < 0 || v > INT32_MAX) {
            PyErr_SetString(PyExc_ValueError, "mode must be permission bits such as 0o660");
            return -1;
        }
        m = (int)v;
    }
    if (id_text(owner, &o, "owner") < 0 || id_text(group, &g, "group") < 0)
        goto done;
    if (o != NULL && (op = PyUnicode_AsUTF8AndSize(o, &on)) == NULL)
        goto done;
    if (g != NULL && (gp = PyUnicode_AsUTF8AndSize(g, &gn)) == NULL)
        goto done;
    st = smisk_server_set_socket_ownership(srv, m, op, (size_t)on, gp, (size_t)gn);
    if (st != SMISK_OK) {
        raise_status(st);
        goto done;
    }
    rc = 0;
done:
    Py_XDECREF(o);
    Py_XDECREF(g);
    return rc;
}

static PyObject *core_bind(PyObject *m, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"path", "backlog", "allow", "mode", "owner", "group", NULL};
    PyObject *addr, *allow = NULL, *mode = Py_None, *owner = Py_None, *group = Py_None;
    int backlog = 0;
    view v;
    smisk_server *srv;
    smisk_status st;
    (void)m;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "U|i$OOOO:bind", kwlist, &addr, &backlog, &allow, &mode,
                                     &owner, &group))
        return NULL;
    srv = server();
    if (srv == NULL)
        return NULL;
    if (smisk_server_is_bound(srv)) {
        PyErr_SetString(PyExc_OSError, "already bound");
        return NULL;
    }
    /* Everything is checked before the socket exists. */
    if ((allow != NULL && allow != Py_None && set_allow(srv, allow) < 0) ||
        set_ownership(srv, mode, owner, group) < 0)
        return NULL;
    if (view_get(addr, &v, "path") < 0)
        return NULL;
    st = smisk_server_bind(srv, (const char *)v.ptr, v.len, backlog);
    view_release(&v);
    if (st != SMISK_OK)
        return raise_status(st);
    Py_RETURN_NONE;
}

static PyObject *core_set_allow(PyObject *m, PyObject *allow)
{
    smisk_server *srv = server();
    (void)m;
    if (srv == NULL || set_allow(srv, allow) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *core_allowed(PyObject *m, PyObject *unused)
{
    char buf[256];
    char *big = NULL;
    size_t n = 0;
    PyObject *text, *sep, *list;
    smisk_server *srv = server();
    smisk_status st;
    (void)m;
    (void)unused;
    if (srv == NULL)
        return NULL;
    st = smisk_server_get_allow(srv, buf, sizeof(buf), &n, NULL);
    if (st == SMISK_ERR_BUFFER_TOO_SMALL) {
        big = PyMem_Malloc(n);
        if (big == NULL)
            return PyErr_NoMemory();
        st = smisk_server_get_allow(srv, big, n, &n, NULL);
    }
    if (st != SMISK_OK) {
        PyMem_Free(big);
        return raise_status(st);
    }
    text = PyUnicode_FromStringAndSize(big ? big : buf, (Py_ssize_t)n);
    PyMem_Free(big);
    if (text == NULL)
        return NULL;
    sep = PyUnicode_FromString(",");
    list = sep == NULL ? NULL : PyUnicode_Split(text, sep, -1);
    Py_XDECREF(sep);
    Py_DECREF(text);
    return list;
}

static PyObject *core_unbind(PyObject *m, PyObject *unused)
{
    smisk_status st;
    (void)m;
    (void)unused;
    if (g_server == NULL)
        Py_RETURN_NONE;
    st = smisk_server_unbind(g_server);
    if (st != SMISK_OK)
        return raise_status(st);
    Py_RETURN_NONE;
}

static PyObject *core_listening(PyObject *m, PyObject *unused)
{
    char buf[512];
    size_t n = 0;
    smisk_status st;
    (void)m;
    (void)unused;
    if (g_server == NULL || !smisk_server_is_bound(g_server))
        Py_RETURN_NONE;
    st = smisk_server_listening(g_server, buf, sizeof(buf), &n);
    if (st != SMISK_OK)
        return raise_status(st);
    return PyUnicode_DecodeFSDefaultAndSize(buf, (Py_ssize_t)n);
}

/* set_protocol(name): "fastcgi" or "scgi", for sockets whose address names
 * none (fd 0, bind() without a "scgi:" prefix). The names are the library's
 * SMISK_PROTOCOL_* constants spelled out. */
static PyObject *core_set_protocol(PyObject *m, PyObject *arg)
{
    const char *name;
    int32_t protocol;
    smisk_server *srv;
    smisk_status st;
    (void)m;
    name = PyUnicode_Check(arg) ? PyUnicode_AsUTF8(arg) : NULL;
    if (name == NULL) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_TypeError, "set_protocol() takes 'fastcgi' or 'scgi'");
        return NULL;
    }
    if (strcmp(name, "fastcgi") == 0) {
        protocol = SMISK_PROTOCOL_FASTCGI;
    } else if (strcmp(name, "scgi") == 0) {
        protocol = SMISK_PROTOCOL_SCGI;
    } else {
        PyErr_Format(PyExc_ValueError, "unknown protocol %R: 'fastcgi' or 'scgi'", arg);
        return NULL;
    }
    srv = server();
    if (srv == NULL)
        return NULL;
    st = smisk_server_set_protocol(srv, protocol);
    if (st != SMISK_OK)
        return raise_status(st);
    Py_RETURN_NONE;
}

static PyMethodDef module_functions[] = {
    {"bind", (PyCFunction)(void (*)(void))core_bind, METH_VARARGS | METH_KEYWORDS,
     "bind(path, backlog=0, *, allow=None, mode=None, owner=None, group=None): listen on a unix socket\n"
     "path or host:port, SCGI with a 'scgi:' prefix (backlog <= 0: system maximum). allow: the TCP peers served (see set_allow).\n"
     "mode/owner/group: of the unix socket file, in place before it appears (default 0o660, the\n"
     "process's user and group); owner and group are names or ids."},
    {"set_allow", core_set_allow, METH_O,
     "set_allow(allow): the TCP peers (web servers) served: a str or iterable of addresses and CIDR\n"
     "networks ('10.0.0.5', '10.0.0.0/8', '::1'), or 'any'. Others are closed unread. None: the\n"
     "FCGI_WEB_SERVER_ADDRS variable, else loopback only. Raises ValueError for a malformed list."},
    {"allowed", core_allowed, METH_NOARGS,
     "allowed() -> list of str: the allow-list that applies (canonical entries; ['any'] for all)."},
    {"unbind", core_unbind, METH_NOARGS, "unbind(): close the socket made by bind() (and remove a unix socket)."},
    {"listening", core_listening, METH_NOARGS,
     "listening() -> str or None: the address bound with bind() ('scgi:...' for an SCGI socket)."},
    {"set_protocol", core_set_protocol, METH_O,
     "set_protocol(name): 'fastcgi' (default) or 'scgi', the protocol of a socket whose address names\n"
     "none: fd 0 from a web server or spawn-fcgi, and bind() without a 'scgi:' / 'fcgi:' prefix."},
    {NULL, NULL, 0, NULL}};

int application_init_module(PyObject *m)
{
    if (PyType_Ready(&ApplicationType) < 0)
        return -1;
    if (PyDict_SetItemString(ApplicationType.tp_dict, "current", Py_None) < 0)
        return -1;
    Py_INCREF(&ApplicationType);
    if (PyModule_AddObject(m, "Application", (PyObject *)&ApplicationType) < 0) {
        Py_DECREF(&ApplicationType);
        return -1;
    }
    if (PyModule_AddIntConstant(m, "MAX_FORKS", (long)SMISK_MAX_FORKS) < 0)
        return -1;
    return PyModule_AddFunctions(m, module_functions);
}
