/*
 * smisk.core.Request: the request being served (one object per run(),
 * reattached to every request).
 *
 * Everything is computed lazily from the library's request handle and
 * dropped when the request ends: env, url, get, post/files (one form parse,
 * streamed by the library, files spooled to a private directory), cookies
 * and the session. Outside a request the handle is NULL and every accessor
 * answers "empty" instead of crashing. Decoding follows the
 * application's charset and tolerant settings; the parsing itself is the
 * library's (smisk_parse_query, smisk_parse_cookies, smisk_request_parse_form,
 * smisk_session_state_*).
 */
#include "shim.h"

#include <string.h>
#include <structmember.h>
#include <unistd.h>


/* A FastCGI param of the current request, borrowed from the library. */
static int param(RequestObject *r, const char *name, const char **v, size_t *n)
{
    if (r->handle == NULL)
        return 0;
    return smisk_request_param(r->handle, name, strlen(name), v, n) == SMISK_OK;
}

static void ctx_init(RequestObject *r, query_ctx *c, PyObject *dict)
{
    static PyObject *utf8 = NULL;
    ApplicationObject *a = r->app;
    c->dict = dict;
    if (a != NULL && a->charset != NULL) {
        c->charset = a->charset;
        c->enc = a->charset_utf8;
        c->tolerant = a->tolerant;
        return;
    }
    if (utf8 == NULL)
        utf8 = PyUnicode_InternFromString("utf-8");
    c->charset = utf8;
    c->enc = "utf-8";
    c->tolerant = 1;
}

static PyObject *cached(PyObject **slot, PyObject *value)
{
    if (value != NULL && *slot == NULL) {
        Py_INCREF(value);
        *slot = value;
    }
    return value;
}

/* ---- env / url / get / cookies ----------------------------------------- */

/* Consecutive requests from one web server send the same param names in
 * the same order and many equal values. The env of the last request is kept
 * as a private template (never handed out), with its key and value str
 * objects by param index. When the next request sends the same names in
 * the same order, its env is a copy of the template (CPython clones the
 * hash table in one pass) with only the values that differ set: inserting
 * every param into a new dict costs about three times as much. Otherwise the
 * env is built param by param, reusing the str objects of the same index
 * where the bytes are equal (str is immutable; their hashes stay cached),
 * and becomes the next template. It holds no more than one request's params
 * (at most ENV_SLOTS of them, within the library's params size limit) between
 * requests.
 *
 * A gateway keeps its own template that also holds the items it adds to
 * every env (env_extra_fn): copying them with the params is cheaper than
 * inserting them into each copy. */

/* Room for what a gateway adds to the params (smisk.wsgi puts in 11 keys). */
#define ENV_EXTRA_KEYS 12

/* request.env's template (no extra items). */
static env_template core_tmpl;

void env_template_clear(env_template *t)
{
    size_t i;
    Py_CLEAR(t->dict);
    Py_CLEAR(t->done);
    PyMem_Free(t->raw);
    t->raw = NULL;
    for (i = 0; i < ENV_SLOTS; i++) {
        Py_CLEAR(t->keys[i]);
        Py_CLEAR(t->vals[i]);
    }
}

static int str_is(PyObject *o, const char *p, size_t n)
{
    return o != NULL && (size_t)PyUnicode_GET_LENGTH(o) == n && PyUnicode_KIND(o) == PyUnicode_1BYTE_KIND &&
           memcmp(PyUnicode_1BYTE_DATA(o), p, n) == 0;
}

/* A new reference to the str of these Latin-1 bytes: *slot's when equal,
 * else a new one that replaces *slot (slot may be NULL). */
static PyObject *latin1_reused(PyObject **slot, const char *p, size_t n)
{
    PyObject *o;
    if (slot != NULL && str_is(*slot, p, n)) {
        Py_INCREF(*slot);
        return *slot;
    }
    o = PyUnicode_DecodeLatin1(p, (Py_ssize_t)n, NULL);
    if (o != NULL && slot != NULL) {
        Py_INCREF(o);
        Py_XSETREF(*slot, o);
    }
    return o;
}

static PyObject *new_env_dict(size_t params)
{
#if PY_VERSION_HEX < 0x030D0000
    /* Sized once: growing from empty rehashes the table three or four times
     * for nginx's ~20 params. Public API has no presized constructor, and
     * 3.13 made this one internal. */
    return _PyDict_NewPresized((Py_ssize_t)(params + ENV_EXTRA_KEYS));
#else
    (void)params;
    return PyDict_New();
#endif
}

/* The env as a copy of the template when the names match it; NULL without
 * an exception when they do not (or there is no usable template), NULL with
 * one on a failure. */
static PyObject *env_from_template(smisk_request *h, env_template *t, size_t count)
{
    /* The params in one call (count <= ENV_SLOTS: the template exists);
     * the indexes of the changed values. */
    smisk_param ps[ENV_SLOTS];
    size_t i, j, n = 0, changed[ENV_SLOTS], nchanged = 0;
    if (t->dict == NULL || count != t->count)
        return NULL;
    if (smisk_request_params(h, ps, ENV_SLOTS, &n) != SMISK_OK || n != count)
        return NULL;
    t->pin_changed = 0;
    for (i = 0; i < count; i++) {
        const smisk_param *p = &ps[i];
        /* One comparison for name and value where the library keeps them
         * one after the other (as the FastCGI stream has them). */
        if (p->name_len == t->nlen[i] && p->value_len == t->vlen[i] && p->name + p->name_len == p->value &&
            memcmp(p->name, t->raw + t->raw_at[i], p->name_len + p->value_len) == 0)
            continue;
        if (!str_is(t->keys[i], p->name, p->name_len))
            return NULL;
        if (!str_is(t->vals[i], p->value, p->value_len)) {
            changed[nchanged++] = i;
            t->pin_changed |= t->pinned[i];
        }
    }
    if (t->pin_changed)
        Py_CLEAR(t->done);
    for (j = 0; j < nchanged; j++) {
        PyObject *val;
        i = changed[j];
        val = PyUnicode_DecodeLatin1(ps[i].value, (Py_ssize_t)ps[i].value_len, NULL);
        if (val == NULL || PyDict_SetItem(t->dict, t->keys[i], val) < 0) {
            Py_XDECREF(val);
            /* The template may be half updated: never use it again. */
            Py_CLEAR(t->dict);
            return NULL;
        }
        /* A param the completion does not read: the completed env gets
         * it as the template does. */
        if (t->done != NULL && PyDict_SetItem(t->done, t->keys[i], val) < 0) {
            Py_CLEAR(t->done);
            PyErr_Clear(); /* only the shortcut is lost */
        }
        Py_XSETREF(t->vals[i], val);
        /* The raw copy follows a value of the same length (a port, an id);
         * another one is compared as str from now on. */
        if (ps[i].value_len == t->vlen[i])
            memcpy(t->raw + t->raw_at[i] + t->nlen[i], ps[i].value, ps[i].value_len);
        else
            t->vlen[i] = SIZE_MAX;
    }
    if (t->done != NULL) {
        t->from_done = 1;
        return PyDict_Copy(t->done);
    }
    return PyDict_Copy(t->dict);
}

void env_template_set_done(env_template *t, PyObject *env)
{
    /* Only after a second request in a row with the same pinned params:
     * where they change every time (SCRIPT_NAME is the path with nginx's
     * stock params), the copy would be made for nothing. */
    if (t->npin == 0 || t->dict == NULL || t->pin_changed || t->from_done != 0 || t->done != NULL)
        return;
    if ((t->done = PyDict_Copy(env)) == NULL)
        PyErr_Clear(); /* only the shortcut is lost */
}

/* Lays out the raw copy of the params the template was just made from
 * (without it, every param is compared as str). */
static void raw_take(smisk_request *h, env_template *t, size_t count)
{
    smisk_param ps[ENV_SLOTS];
    size_t i, n = 0, total = 0;
    PyMem_Free(t->raw);
    t->raw = NULL;
    for (i = 0; i < ENV_SLOTS; i++)
        t->vlen[i] = SIZE_MAX;
    if (smisk_request_params(h, ps, ENV_SLOTS, &n) != SMISK_OK || n != count)
        return;
    for (i = 0; i < n; i++)
        total += ps[i].name_len + ps[i].value_len;
    if ((t->raw = PyMem_Malloc(total > 0 ? total : 1)) == NULL)
        return; /* only the shortcut is lost */
    total = 0;
    for (i = 0; i < n; i++) {
        t->raw_at[i] = total;
        t->nlen[i] = ps[i].name_len;
        t->vlen[i] = ps[i].value_len;
        memcpy(t->raw + total, ps[i].name, ps[i].name_len);
        memcpy(t->raw + total + ps[i].name_len, ps[i].value, ps[i].value_len);
        total += ps[i].name_len + ps[i].value_len;
    }
}

static PyObject *build_env(RequestObject *r, env_template *t, env_extra_fn extra, void *ctx)
{
    size_t i, count;
    Py_ssize_t added = 0;
    PyObject *env;
    if (r->handle == NULL)
        return PyDict_New();
    count = smisk_request_param_count(r->handle);
    env = env_from_template(r->handle, t, count);
    if (env != NULL || PyErr_Occurred())
        return env;
    /* Built param by param; the slots are reused and rewritten on the way,
     * so the old template no longer matches them. */
    Py_CLEAR(t->dict);
    Py_CLEAR(t->done);
    t->pin_changed = 1;
    env = new_env_dict(count);
    if (env == NULL)
        return NULL;
    for (i = 0; i < count; i++) {
        const char *k, *v;
        size_t kl, vl;
        PyObject *key, *val;
        int rc;
        if (smisk_request_param_at(r->handle, i, &k, &kl, &v, &vl) != SMISK_OK)
            break;
        key = latin1_reused(i < ENV_SLOTS ? &t->keys[i] : NULL, k, kl);
        /* Interned (once per new name): the lookups of the names a gateway
         * or application reads with interned str (every literal) then match
         * by identity instead of comparing the text. */
        if (key != NULL && !PyUnicode_CHECK_INTERNED(key)) {
            PyUnicode_InternInPlace(&key);
            if (i < ENV_SLOTS) {
                Py_INCREF(key);
                Py_XSETREF(t->keys[i], key);
            }
        }
        val = key == NULL ? NULL : latin1_reused(i < ENV_SLOTS ? &t->vals[i] : NULL, v, vl);
        rc = val == NULL ? -1 : PyDict_SetItem(env, key, val);
        Py_XDECREF(key);
        Py_XDECREF(val);
        if (rc < 0) {
            Py_DECREF(env);
            return NULL;
        }
    }
    if (extra != NULL && extra(ctx, env, &added) < 0) {
        Py_DECREF(env);
        return NULL;
    }
    /* A name sent twice (the last one wins in the dict) would make the
     * per-index update of the template wrong, and so would an extra item
     * with a param's name (the extra one wins): no template then. */
    if (i == count && count <= ENV_SLOTS && (size_t)PyDict_GET_SIZE(env) == count + (size_t)added) {
        size_t j;
        t->dict = PyDict_Copy(env);
        t->count = count;
        if (t->dict == NULL)
            PyErr_Clear(); /* only the shortcut is lost */
        else
            raw_take(r->handle, t, count);
        /* Interned keys: the pinned names are found by identity. */
        for (i = 0; i < count; i++) {
            t->pinned[i] = 0;
            for (j = 0; j < t->npin; j++)
                t->pinned[i] |= t->keys[i] == t->pin_names[j];
        }
    }
    return env;
}

PyObject *request_env_with(RequestObject *r, env_template *t, env_extra_fn extra, void *ctx)
{
    t->from_done = -1;
    t->pin_changed = 1;
    if (r->env != NULL) {
        Py_ssize_t added;
        /* Asked again in the same request: the extra items go in again. */
        if (extra != NULL && extra(ctx, r->env, &added) < 0)
            return NULL;
        Py_INCREF(r->env);
        return r->env;
    }
    if (r->handle == NULL)
        return PyDict_New();
    t->from_done = 0;
    r->env = build_env(r, t, extra, ctx);
    Py_XINCREF(r->env);
    return r->env;
}

PyObject *request_env(RequestObject *r)
{
    if (r->env != NULL) {
        Py_INCREF(r->env);
        return r->env;
    }
    return request_env_with(r, &core_tmpl, NULL, NULL);
}

static PyObject *req_get_env(RequestObject *r, void *c)
{
    (void)c;
    return request_env(r);
}

static PyObject *req_get_url(RequestObject *r, void *c)
{
    smisk_url *u = NULL;
    smisk_status st;
    (void)c;
    if (r->url != NULL) {
        Py_INCREF(r->url);
        return r->url;
    }
    if (r->handle == NULL)
        Py_RETURN_NONE;
    st = smisk_request_url(r->handle, &u);
    if (st != SMISK_OK)
        return raise_status(st);
    r->url = url_wrap(u);
    Py_XINCREF(r->url);
    return r->url;
}

static PyObject *parse_pairs(RequestObject *r, const char *param_name, int cookies)
{
    const char *s;
    size_t n;
    query_ctx c;
    smisk_status st;
    PyObject *dict = PyDict_New();
    if (dict == NULL || !param(r, param_name, &s, &n) || n == 0)
        return dict;
    ctx_init(r, &c, dict);
    if (cookies)
        st = smisk_parse_cookies((const uint8_t *)s, n, SMISK_MAX_FIELDS_DEFAULT, add_pair, &c);
    else
        st = smisk_parse_query((const uint8_t *)s, n, SMISK_MAX_FIELDS_DEFAULT, add_pair, &c);
    if (st != SMISK_OK) {
        Py_DECREF(dict);
        if (st == SMISK_ERR_STOPPED && PyErr_Occurred())
            return NULL;
        return raise_status(st);
    }
    return dict;
}

static PyObject *req_get_get(RequestObject *r, void *c)
{
    (void)c;
    if (r->get != NULL) {
        Py_INCREF(r->get);
        return r->get;
    }
    return cached(&r->get, parse_pairs(r, "QUERY_STRING", 0));
}

static PyObject *req_get_cookies(RequestObject *r, void *c)
{
    (void)c;
    if (r->cookies != NULL) {
        Py_INCREF(r->cookies);
        return r->cookies;
    }
    return cached(&r->cookies, parse_pairs(r, "HTTP_COOKIE", 1));
}

/* Drops the decoded query so a charset change takes effect. */
void request_charset_changed(RequestObject *r)
{
    Py_CLEAR(r->get);
}

/* ---- post / files --------------------------------------------------------- */

static int add_file(PyObject *files, query_ctx *c, const smisk_form_file *f)
{
    PyObject *name, *entry, *old;
    int rc = -1;
    name = PyUnicode_Decode((const char *)f->name, (Py_ssize_t)f->name_len, c->enc, "replace");
    if (name == NULL)
        return -1;
    entry = Py_BuildValue("{s:N,s:N,s:N,s:K}", "filename",
                          PyUnicode_Decode((const char *)f->filename, (Py_ssize_t)f->filename_len, c->enc,
                                           "replace"),
                          "content_type",
                          PyUnicode_DecodeLatin1((const char *)f->content_type, (Py_ssize_t)f->content_type_len,
                                                 NULL),
                          "path", PyUnicode_DecodeFSDefaultAndSize(f->path, (Py_ssize_t)f->path_len), "size",
                          (unsigned long long)f->size);
    if (entry == NULL) {
        Py_DECREF(name);
        return -1;
    }
    old = PyDict_GetItemWithError(files, name);
    if (old == NULL) {
        if (!PyErr_Occurred())
            rc = PyDict_SetItem(files, name, entry);
    } else if (PyList_CheckExact(old)) {
        rc = PyList_Append(old, entry);
    } else {
        PyObject *list = PyList_New(2);
        if (list != NULL) {
            Py_INCREF(old);
            PyList_SET_ITEM(list, 0, old);
            Py_INCREF(entry);
            PyList_SET_ITEM(list, 1, entry);
            rc = PyDict_SetItem(files, name, list);
            Py_DECREF(list);
        }
    }
    Py_DECREF(name);
    Py_DECREF(entry);
    return rc;
}

static int parse_form(RequestObject *r)
{
    smisk_form_limits limits;
    smisk_form *form = NULL;
    smisk_status st;
    query_ctx c;
    size_t i, n;

    if (r->form_parsed)
        return 0;
    r->form_parsed = 1;
    r->post = PyDict_New();
    r->files = PyDict_New();
    if (r->post == NULL || r->files == NULL || r->handle == NULL)
        return r->post == NULL || r->files == NULL ? -1 : 0;
    smisk_form_limits_default(&limits);
    limits.max_multipart_size = r->max_multipart_size;
    limits.max_formdata_size = r->max_formdata_size;
    Py_BEGIN_ALLOW_THREADS
    st = smisk_request_parse_form(r->handle, &limits, NULL, 0, &form);
    Py_END_ALLOW_THREADS
    if (st != SMISK_OK) {
        raise_status(st);
        return -1;
    }
    r->form = form;
    ctx_init(r, &c, r->post);
    n = smisk_form_field_count(form);
    for (i = 0; i < n; i++) {
        const uint8_t *k, *v;
        size_t kl, vl;
        bool has;
        if (smisk_form_field_at(form, i, &k, &kl, &v, &vl, &has) != SMISK_OK)
            break;
        if (add_pair(&c, k, kl, v, vl, has) != 0)
            return -1;
    }
    n = smisk_form_file_count(form);
    for (i = 0; i < n; i++) {
        smisk_form_file f;
        if (smisk_form_file_at(form, i, &f) != SMISK_OK)
            break;
        if (add_file(r->files, &c, &f) < 0)
            return -1;
    }
    return 0;
}

static PyObject *req_get_post(RequestObject *r, void *c)
{
    (void)c;
    if (parse_form(r) < 0)
        return NULL;
    Py_INCREF(r->post);
    return r->post;
}

static PyObject *req_get_files(RequestObject *r, void *c)
{
    (void)c;
    if (parse_form(r) < 0)
        return NULL;
    Py_INCREF(r->files);
    return r->files;
}

/* ---- sessions ------------------------------------------------------------- */

/* The session state of the request: the library picks the client's
 * session cookie out of HTTP_COOKIE (smisk_session_state_new_for_request). */
static int sess_state(RequestObject *r)
{
    PyObject *store, *name;
    smisk_session_store *h;
    smisk_session_state *state = NULL;
    smisk_status st;
    const char *n;
    Py_ssize_t nl = 0;

    if (r->sess != NULL)
        return 0;
    if (r->handle == NULL || r->app == NULL) {
        PyErr_SetString(PyExc_OSError, "sessions need a request being served");
        return -1;
    }
    store = PyObject_GetAttrString((PyObject *)r->app, "sessions");
    if (store == NULL)
        return -1;
    h = session_store_handle(store);
    name = h == NULL ? NULL : session_store_name(store);
    n = name == NULL ? NULL : PyUnicode_AsUTF8AndSize(name, &nl);
    if (n == NULL) {
        Py_XDECREF(name);
        Py_DECREF(store);
        return -1;
    }
    st = smisk_session_state_new_for_request(h, (const uint8_t *)n, (size_t)nl, r->handle, &state);
    Py_DECREF(name);
    if (st != SMISK_OK) {
        Py_DECREF(store);
        raise_status(st);
        return -1;
    }
    r->sess = state;
    r->sess_store = store;
    return 0;
}

static int sess_load(RequestObject *r)
{
    uint8_t *p = NULL;
    size_t n = 0;
    int32_t has = 0;
    smisk_status st;
    if (r->session != NULL)
        return 0;
    if (sess_state(r) < 0)
        return -1;
    Py_BEGIN_ALLOW_THREADS
    st = smisk_session_state_load(r->sess, &p, &n, &has);
    Py_END_ALLOW_THREADS
    if (st != SMISK_OK) {
        raise_status(st);
        return -1;
    }
    if (has) {
        r->session = session_loads(p, n);
        smisk_bytes_free(p, n);
        if (r->session == NULL) {
            /* A payload that verifies but does not unmarshal (another
             * Python version): treat as no session. */
            PyErr_Clear();
            Py_INCREF(Py_None);
            r->session = Py_None;
        }
    } else {
        Py_INCREF(Py_None);
        r->session = Py_None;
    }
    return 0;
}

static PyObject *req_get_session(RequestObject *r, void *c)
{
    (void)c;
    if (sess_load(r) < 0)
        return NULL;
    Py_INCREF(r->session);
    return r->session;
}

static int req_set_session(RequestObject *r, PyObject *v, void *c)
{
    smisk_status st;
    (void)c;
    if (sess_load(r) < 0)
        return -1;
    if (v == NULL || v == Py_None) {
        st = smisk_session_state_destroy(r->sess);
        if (st != SMISK_OK) {
            raise_status(st);
            return -1;
        }
        v = Py_None;
    }
    Py_INCREF(v);
    Py_SETREF(r->session, v);
    return 0;
}

static PyObject *too_late(void)
{
    PyErr_SetString(PyExc_OSError, "output already started: too late to send a session cookie");
    return NULL;
}

static PyObject *req_get_session_id(RequestObject *r, void *c)
{
    uint8_t buf[SMISK_SESSION_ID_LEN + 8];
    size_t n = 0;
    smisk_status st;
    (void)c;
    if (sess_load(r) < 0)
        return NULL;
    /* The library learns that headers went out only when it formats the
     * cookie; a session first touched after begin() needs this check. */
    st = smisk_session_state_id(r->sess, 0, buf, sizeof(buf), &n);
    if (st == SMISK_OK && n == 0) {
        if (smisk_response_has_begun(r->handle))
            return too_late();
        st = smisk_session_state_id(r->sess, 1, buf, sizeof(buf), &n);
    }
    if (st == SMISK_ERR_STATE)
        return too_late();
    if (st != SMISK_OK)
        return raise_status(st);
    return PyUnicode_DecodeASCII((const char *)buf, (Py_ssize_t)n, "strict");
}

static int req_set_session_id(RequestObject *r, PyObject *v, void *c)
{
    view sid;
    smisk_status st;
    (void)c;
    if (v == NULL || !PyUnicode_Check(v)) {
        PyErr_SetString(PyExc_TypeError, "session_id must be a str");
        return -1;
    }
    if (sess_load(r) < 0 || view_get(v, &sid, "session_id") < 0)
        return -1;
    st = smisk_session_state_set_id(r->sess, sid.ptr, sid.len);
    view_release(&sid);
    if (st == SMISK_ERR_STATE) {
        too_late();
        return -1;
    }
    if (st != SMISK_OK) {
        raise_status(st);
        return -1;
    }
    return 0;
}

int request_session_for_begin(RequestObject *r, smisk_session_state **state, int *has_data)
{
    *state = NULL;
    *has_data = 0;
    if (r == NULL || r->sess == NULL)
        return 0;
    if (sess_load(r) < 0)
        return -1;
    *state = r->sess;
    *has_data = r->session != Py_None;
    return 0;
}

/* Writes a problem found after the response (session write-back) to the
 * web server's log and to sys.stderr; the request and the process go on. */
static void report_unraisable(RequestObject *r, const char *what)
{
    PyObject *type, *value, *tb, *text = NULL;
    PyErr_Fetch(&type, &value, &tb);
    if (value != NULL)
        text = PyObject_Str(value);
    if (text != NULL) {
        const char *t = PyUnicode_AsUTF8(text);
        if (t != NULL) {
            char line[1024];
            int len = snprintf(line, sizeof(line), "smisk[%ld] %s: %s: %s\n", (long)getpid(), what,
                               type != NULL ? ((PyTypeObject *)type)->tp_name : "error", t);
            if (len > (int)sizeof(line) - 1)
                len = (int)sizeof(line) - 1;
            if (r->handle != NULL)
                smisk_request_write_stderr(r->handle, line, (size_t)len);
            PySys_WriteStderr("%s", line);
        }
    }
    PyErr_Clear();
    Py_XDECREF(text);
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
}

static void sess_finish(RequestObject *r)
{
    PyObject *bytes = NULL;
    int has = 0;
    smisk_status st;
    if (r->session != NULL && r->session != Py_None) {
        bytes = session_dumps(r->session);
        if (bytes == NULL) {
            report_unraisable(r, "session not saved");
            return;
        }
        has = 1;
    }
    Py_BEGIN_ALLOW_THREADS
    st = smisk_session_state_finish(r->sess, bytes ? (const uint8_t *)PyBytes_AS_STRING(bytes) : NULL,
                                    bytes ? (size_t)PyBytes_GET_SIZE(bytes) : 0, has, NULL);
    Py_END_ALLOW_THREADS
    Py_XDECREF(bytes);
    if (st != SMISK_OK) {
        raise_status(st);
        report_unraisable(r, "session not saved");
    }
}

/* ---- attach / detach ----------------------------------------------------- */

void request_attach(RequestObject *r, smisk_request *h)
{
    r->handle = h;
    r->input->handle = h;
    r->errors->handle = h;
}

void request_end_session(RequestObject *r)
{
    PyObject *type, *value, *tb;
    if (r->sess == NULL)
        return;
    PyErr_Fetch(&type, &value, &tb);
    sess_finish(r);
    smisk_session_state_free(r->sess);
    r->sess = NULL;
    PyErr_Restore(type, value, tb);
}

void request_detach(RequestObject *r)
{
    PyObject *type, *value, *tb;
    request_end_session(r);
    PyErr_Fetch(&type, &value, &tb);
    Py_CLEAR(r->sess_store);
    Py_CLEAR(r->session);
    /* The library removes every temp file the application did not move
     * away, right after the answer is complete. */
    if (r->form != NULL) {
        smisk_form_free_after_finish(r->form, r->handle);
        r->form = NULL;
    }
    r->form_parsed = 0;
    Py_CLEAR(r->env);
    Py_CLEAR(r->url);
    Py_CLEAR(r->get);
    Py_CLEAR(r->post);
    Py_CLEAR(r->files);
    Py_CLEAR(r->cookies);
    Py_CLEAR(r->referring_url);
    r->handle = NULL;
    r->input->handle = NULL;
    r->errors->handle = NULL;
    PyErr_Restore(type, value, tb);
}

/* ---- small members --------------------------------------------------------- */

static PyObject *req_get_method(RequestObject *r, void *c)
{
    const char *v;
    size_t n;
    (void)c;
    if (!param(r, "REQUEST_METHOD", &v, &n))
        Py_RETURN_NONE;
    return PyUnicode_DecodeLatin1(v, (Py_ssize_t)n, NULL);
}

static PyObject *req_get_referring_url(RequestObject *r, void *c)
{
    const char *v;
    size_t n;
    smisk_url *u = NULL;
    (void)c;
    if (r->referring_url != NULL) {
        Py_INCREF(r->referring_url);
        return r->referring_url;
    }
    if (!param(r, "HTTP_REFERER", &v, &n) || smisk_url_parse((const uint8_t *)v, n, &u) != SMISK_OK)
        Py_RETURN_NONE;
    r->referring_url = url_wrap(u);
    Py_XINCREF(r->referring_url);
    return r->referring_url;
}

static PyObject *req_get_is_active(RequestObject *r, void *c)
{
    (void)c;
    return PyBool_FromLong(r->handle != NULL);
}

static PyObject *req_get_input(RequestObject *r, void *c)
{
    (void)c;
    Py_INCREF(r->input);
    return (PyObject *)r->input;
}

static PyObject *req_get_errors(RequestObject *r, void *c)
{
    (void)c;
    Py_INCREF(r->errors);
    return (PyObject *)r->errors;
}

static PyObject *limit_get(long long v)
{
    return PyLong_FromLongLong(v);
}

static int limit_set(long long *slot, PyObject *v, const char *what)
{
    long long n;
    if (v == NULL || !PyLong_Check(v)) {
        PyErr_Format(PyExc_TypeError, "%s must be an int", what);
        return -1;
    }
    n = PyLong_AsLongLong(v);
    if (n == -1 && PyErr_Occurred())
        return -1;
    *slot = n < 0 ? -1 : n;
    return 0;
}

static PyObject *req_get_mms(RequestObject *r, void *c)
{
    (void)c;
    return limit_get(r->max_multipart_size);
}

static int req_set_mms(RequestObject *r, PyObject *v, void *c)
{
    (void)c;
    return limit_set(&r->max_multipart_size, v, "max_multipart_size");
}

static PyObject *req_get_mfs(RequestObject *r, void *c)
{
    (void)c;
    return limit_get(r->max_formdata_size);
}

static int req_set_mfs(RequestObject *r, PyObject *v, void *c)
{
    (void)c;
    return limit_set(&r->max_formdata_size, v, "max_formdata_size");
}

static PyObject *req_log_error(RequestObject *r, PyObject *msg)
{
    PyObject *argv0 = NULL, *line;
    const char *prog = "python", *slash, *text;
    Py_ssize_t n;
    smisk_status st;
    if (!PyUnicode_Check(msg)) {
        PyErr_SetString(PyExc_TypeError, "log_error() takes a str");
        return NULL;
    }
    if (r->handle == NULL) {
        PyErr_SetString(PyExc_OSError, "log_error() outside a request");
        return NULL;
    }
    {
        PyObject *argv = PySys_GetObject("argv"); /* borrowed */
        if (argv != NULL && PyList_Check(argv) && PyList_GET_SIZE(argv) > 0 &&
            PyUnicode_Check(PyList_GET_ITEM(argv, 0))) {
            argv0 = PyList_GET_ITEM(argv, 0);
            prog = PyUnicode_AsUTF8(argv0);
            if (prog == NULL) {
                PyErr_Clear();
                prog = "python";
            } else if ((slash = strrchr(prog, '/')) != NULL) {
                prog = slash + 1;
            }
        }
    }
    line = PyUnicode_FromFormat("%s[%ld] %U\n", prog, (long)getpid(), msg);
    if (line == NULL)
        return NULL;
    text = PyUnicode_AsUTF8AndSize(line, &n);
    if (text == NULL) {
        Py_DECREF(line);
        return NULL;
    }
    st = smisk_request_write_stderr(r->handle, text, (size_t)n);
    Py_DECREF(line);
    if (st != SMISK_OK)
        return raise_status(st);
    Py_RETURN_NONE;
}

static PyObject *req_iter(RequestObject *r)
{
    return PyObject_GetIter((PyObject *)r->input);
}

/* ---- type ------------------------------------------------------------------ */

static PyObject *req_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    RequestObject *r;
    (void)args;
    (void)kw;
    r = (RequestObject *)type->tp_alloc(type, 0);
    if (r == NULL)
        return NULL;
    r->input = (StreamObject *)stream_new(STREAM_INPUT);
    r->errors = (StreamObject *)stream_new(STREAM_ERRORS);
    r->max_multipart_size = SMISK_DEFAULT_MAX_MULTIPART_SIZE;
    r->max_formdata_size = SMISK_DEFAULT_MAX_FORMDATA_SIZE;
    if (r->input == NULL || r->errors == NULL) {
        Py_DECREF(r);
        return NULL;
    }
    return (PyObject *)r;
}

static int req_traverse(RequestObject *r, visitproc visit, void *arg)
{
    Py_VISIT(r->inst_dict);
    Py_VISIT(r->app);
    Py_VISIT(r->env);
    Py_VISIT(r->url);
    Py_VISIT(r->get);
    Py_VISIT(r->post);
    Py_VISIT(r->files);
    Py_VISIT(r->cookies);
    Py_VISIT(r->referring_url);
    Py_VISIT(r->sess_store);
    Py_VISIT(r->session);
    return 0;
}

static int req_clear(RequestObject *r)
{
    Py_CLEAR(r->inst_dict);
    Py_CLEAR(r->app);
    Py_CLEAR(r->env);
    Py_CLEAR(r->url);
    Py_CLEAR(r->get);
    Py_CLEAR(r->post);
    Py_CLEAR(r->files);
    Py_CLEAR(r->cookies);
    Py_CLEAR(r->referring_url);
    Py_CLEAR(r->sess_store);
    Py_CLEAR(r->session);
    return 0;
}

static void req_dealloc(RequestObject *r)
{
    PyObject_GC_UnTrack(r);
    smisk_session_state_free(r->sess);
    smisk_form_free(r->form);
    req_clear(r);
    Py_CLEAR(r->input);
    Py_CLEAR(r->errors);
    Py_TYPE(r)->tp_free((PyObject *)r);
}

static PyGetSetDef req_getset[] = {
    {"env", (getter)req_get_env, NULL, "dict of the FastCGI params (str -> str, Latin-1).", NULL},
    {"url", (getter)req_get_url, NULL, "The URL of the request (smisk.core.URL).", NULL},
    {"get", (getter)req_get_get, NULL, "The decoded query string (dict).", NULL},
    {"post", (getter)req_get_post, NULL, "Form fields of the body (dict).", NULL},
    {"files", (getter)req_get_files, NULL, "Uploaded files of a multipart body (dict).", NULL},
    {"cookies", (getter)req_get_cookies, NULL, "The request's cookies (dict).", NULL},
    {"session", (getter)req_get_session, (setter)req_set_session,
     "Session data (None when there is none); assign None to end the session.", NULL},
    {"session_id", (getter)req_get_session_id, (setter)req_set_session_id,
     "The session id (created on first read); assign a valid id to re-key.", NULL},
    {"method", (getter)req_get_method, NULL, "REQUEST_METHOD or None.", NULL},
    {"referring_url", (getter)req_get_referring_url, NULL, "URL of HTTP_REFERER or None.", NULL},
    {"is_active", (getter)req_get_is_active, NULL, "True while a request is being served.", NULL},
    {"input", (getter)req_get_input, NULL, "The request body (Stream).", NULL},
    {"errors", (getter)req_get_errors, NULL, "The web server's error log (Stream).", NULL},
    {"max_multipart_size", (getter)req_get_mms, (setter)req_set_mms,
     "Largest multipart body in bytes (default 2 GiB; -1 unlimited; 0 leaves it unparsed).", NULL},
    {"max_formdata_size", (getter)req_get_mfs, (setter)req_set_mfs,
     "Largest url-encoded body in bytes (default 10 MiB; -1 unlimited; 0 leaves it unparsed).", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyMethodDef req_methods[] = {
    {"log_error", (PyCFunction)req_log_error, METH_O,
     "log_error(msg): write '<program>[<pid>] msg' as a line to the web server's error log."},
    {NULL, NULL, 0, NULL}};

PyTypeObject RequestType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "smisk.core.Request",
    .tp_basicsize = sizeof(RequestObject),
    .tp_dictoffset = offsetof(RequestObject, inst_dict),
    .tp_dealloc = (destructor)req_dealloc,
    .tp_traverse = (traverseproc)req_traverse,
    .tp_clear = (inquiry)req_clear,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "The request being served (reused for every request of a run).",
    .tp_iter = (getiterfunc)req_iter,
    .tp_methods = req_methods,
    .tp_getset = req_getset,
    .tp_new = req_new,
};

int request_init_module(PyObject *m)
{
    if (PyType_Ready(&RequestType) < 0)
        return -1;
    Py_INCREF(&RequestType);
    if (PyModule_AddObject(m, "Request", (PyObject *)&RequestType) < 0) {
        Py_DECREF(&RequestType);
        return -1;
    }
    return 0;
}
