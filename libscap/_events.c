/* libscap._events: turn packed event records into Event objects.
 *
 * Why the Python C API here, when the other helpers use cffi: this is the one
 * step whose output is Python objects, and cffi cannot return them. Building
 * an Event (a tuple subclass) from a 48-byte record in Python took ~270 ns
 * (struct unpack, tuple concatenation, tuple.__new__ copy); here it is one
 * allocation and the integer objects, for the savefile reader and the live
 * engine alike (benchmarks/test_scap_read.py, test_live_throughput.py).
 *
 * Record layout (SCAN_RECORD_SIZE in _scan.h, "<QQQIHIHQI"):
 *   off u64, ts u64, tid u64, len u32, type u16, nparams u32, cpu u16, num u64, flags u32
 * An Event is the tuple (buf, off, ts, tid, len, type, nparams, cpu, num, flags). */
#include "_events.h" /* Python.h first */

#include <string.h>
#include <limits.h>
#include <structmember.h>

#include "_bytes.h"
#include "_scan.h"

/* The int objects of recently seen thread ids, direct-mapped by value: most events
 * come from a few threads, and one shared (immutable) int saves an allocation and
 * a free per event. Holds strong references, for the life of the process. */
#define TID_CACHE 64
static uint64_t tid_vals[TID_CACHE];
static PyObject *tid_objs[TID_CACHE];

static PyObject *tid_object(uint64_t tid)
{
    unsigned k = (unsigned)(tid % TID_CACHE);
    if (tid_objs[k] && tid_vals[k] == tid)
        return Py_NewRef(tid_objs[k]);
    PyObject *o = PyLong_FromUnsignedLongLong(tid);
    if (o) {
        Py_XSETREF(tid_objs[k], Py_NewRef(o));
        tid_vals[k] = tid;
    }
    return o;
}

/* cpu 0xFFFF is "unknown" in records from the live engine when a ring serves
 * several CPUs; the savefile keeps the stored value as is (see cpu_minus_one). */
static PyObject *build(PyTypeObject *cls, PyObject *buf, const uint8_t *r, uint64_t off, int cpu_minus_one)
{
    PyObject *ev = cls->tp_alloc(cls, 10);
    if (!ev)
        return NULL;
    uint16_t cpu = rd16(r + 34);
    PyObject *items[9] = {
        PyLong_FromUnsignedLongLong(off),
        PyLong_FromUnsignedLongLong(rd64(r + 8)),
        tid_object(rd64(r + 16)),
        PyLong_FromUnsignedLong(rd32(r + 24)),
        PyLong_FromLong(rd16(r + 28)),
        PyLong_FromUnsignedLong(rd32(r + 30)),
        (cpu_minus_one && cpu == 0xFFFF) ? PyLong_FromLong(-1) : PyLong_FromLong(cpu),
        PyLong_FromUnsignedLongLong(rd64(r + 36)),
        PyLong_FromUnsignedLong(rd32(r + 44)),
    };
    Py_INCREF(buf);
    PyTuple_SET_ITEM(ev, 0, buf);
    for (int i = 0; i < 9; i++) {
        if (!items[i]) {
            for (int j = i + 1; j < 9; j++)
                Py_XDECREF(items[j]);
            Py_DECREF(ev); /* frees the items already set */
            return NULL;
        }
        PyTuple_SET_ITEM(ev, i + 1, items[i]);
    }
    /* An Event holds bytes, ints and (later, in its __dict__) its own parameter
     * cache: nothing that can lead back to it, so no cycle the collector would
     * have to find. Untracked, a million events do not cost a million visits
     * by generation-0 collections (~75 ns per event measured). */
    PyObject_GC_UnTrack(ev);
    return ev;
}

PyDoc_STRVAR(make_events_doc,
"make_events(cls, buf, records, n, cpu_minus_one=False, cls2=None, buf2=None) -> list\n\n"
"Events of type cls (a tuple subclass) over buf, one per packed record of\n"
"records[:n * SCAN_RECORD_SIZE]. With cpu_minus_one, cpu 0xFFFF becomes -1.\n"
"A record whose off has CONV_ARENA_BIT set (the savefile converter's output)\n"
"is an event of type cls2 over buf2 at off without that bit.");

static int is_tuple_class(PyTypeObject *cls)
{
    if (PyType_IsSubtype(cls, &PyTuple_Type))
        return 1;
    PyErr_SetString(PyExc_TypeError, "cls must be a tuple subclass");
    return 0;
}

static PyObject *make_events(PyObject *self, PyObject *args)
{
    PyTypeObject *cls, *cls2 = NULL;
    PyObject *buf, *buf2 = Py_None, *cls2_obj = Py_None;
    Py_buffer rec;
    Py_ssize_t n;
    int cpu_minus_one = 0;

    if (!PyArg_ParseTuple(args, "O!Oy*n|pOO", &PyType_Type, &cls, &buf, &rec, &n, &cpu_minus_one,
                          &cls2_obj, &buf2))
        return NULL;
    if (!is_tuple_class(cls)) {
        PyBuffer_Release(&rec);
        return NULL;
    }
    if (cls2_obj != Py_None) {
        if (!PyType_Check(cls2_obj) || !is_tuple_class((PyTypeObject *)cls2_obj)) {
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_TypeError, "cls2 must be a tuple subclass");
            PyBuffer_Release(&rec);
            return NULL;
        }
        cls2 = (PyTypeObject *)cls2_obj;
    }
    if (n < 0 || n > rec.len / SCAN_RECORD_SIZE) {
        PyBuffer_Release(&rec);
        PyErr_Format(PyExc_ValueError, "%zd records do not fit in a buffer of %zd bytes", n, rec.len);
        return NULL;
    }
    PyObject *list = PyList_New(n);
    if (list) {
        const uint8_t *r = rec.buf;
        for (Py_ssize_t i = 0; i < n; i++, r += SCAN_RECORD_SIZE) {
            uint64_t off = rd64(r);
            PyObject *ev;
            if (off & CONV_ARENA_BIT) {
                if (!cls2) {
                    PyErr_SetString(PyExc_ValueError, "a converted record without cls2/buf2");
                    Py_CLEAR(list);
                    break;
                }
                ev = build(cls2, buf2, r, off & ~CONV_ARENA_BIT, cpu_minus_one);
            } else {
                ev = build(cls, buf, r, off, cpu_minus_one);
            }
            if (!ev) {
                Py_CLEAR(list);
                break;
            }
            PyList_SET_ITEM(list, i, ev);
        }
    }
    PyBuffer_Release(&rec);
    return list;
}

/* -- first parameter access ----------------------------------------------
 *
 * EventBase is the C base of libscap.event.Event (a tuple subclass, nothing
 * added to the tuple's layout). Its param(i) decodes the fixed-size numeric
 * and the C-string parameter types straight from the event's buffer: no
 * bounds tuple, no copy of the bytes, no per-event __dict__, no schema
 * objects. The parameter-length array is walked (and validated: it must fit
 * the event, as Event._param_bounds requires) on every call, which in C costs
 * less than a cache lookup would. Anything else -- another parameter type, an
 * index out of range, a type beyond the table, a malformed event, a buffer
 * that is not bytes-like -- goes to the Python method _param_slow(i), the
 * reference implementation, which decodes (and caches) or raises with context.
 * The per-type tables come from libscap.event through set_schema(). */

enum {
    K_SLOW = 0, K_I8, K_I16, K_I32, K_I64, K_U8, K_U16, K_U32, K_U64, K_BOOL, K_DOUBLE, K_CSTR,
    K_MAX
};
#define MAX_PARAMS 32
static Py_ssize_t n_types;        /* event types in the table */
static uint8_t *large_tab;        /* per type: u32 parameter lengths */
static uint8_t *kind_tab;         /* per type, MAX_PARAMS kinds (K_SLOW beyond the entry) */
static PyObject *str_param_slow;  /* "_param_slow" */
static PyObject *str_raw_param_slow;  /* "_raw_param_slow" */

static const int kind_size[K_MAX] = {0, 1, 2, 4, 8, 1, 2, 4, 8, 4, 8, 0};

PyDoc_STRVAR(set_schema_doc,
"set_schema(large, kinds)\n\n"
"large: bytes, one per event type (non-zero: u32 parameter lengths);\n"
"kinds: bytes of len(large) * 32 decoder kinds (0: Python's _param_slow).");

static PyObject *set_schema(PyObject *self, PyObject *args)
{
    Py_buffer large, kinds;
    if (!PyArg_ParseTuple(args, "y*y*", &large, &kinds))
        return NULL;
    PyObject *ret = NULL;
    if (kinds.len != large.len * MAX_PARAMS) {
        PyErr_SetString(PyExc_ValueError, "kinds must hold 32 entries per event type");
        goto out;
    }
    for (Py_ssize_t k = 0; k < kinds.len; k++)
        if (((const uint8_t *)kinds.buf)[k] >= K_MAX) {
            PyErr_SetString(PyExc_ValueError, "unknown decoder kind");
            goto out;
        }
    uint8_t *l = PyMem_Malloc(large.len + 1), *kd = PyMem_Malloc(kinds.len + 1);
    if (!l || !kd) {
        PyMem_Free(l);
        PyMem_Free(kd);
        PyErr_NoMemory();
        goto out;
    }
    memcpy(l, large.buf, large.len);
    memcpy(kd, kinds.buf, kinds.len);
    PyMem_Free(large_tab);
    PyMem_Free(kind_tab);
    large_tab = l;
    kind_tab = kd;
    n_types = large.len;
    ret = Py_NewRef(Py_None);
out:
    PyBuffer_Release(&large);
    PyBuffer_Release(&kinds);
    return ret;
}

static PyObject *param_slow(PyObject *self, PyObject *i)
{
    return PyObject_CallMethodOneArg(self, str_param_slow, i);
}

static PyObject *raw_param_slow(PyObject *self, PyObject *i)
{
    return PyObject_CallMethodOneArg(self, str_raw_param_slow, i);
}

/* item k of the event tuple as an unsigned value; -1 if it is not one */
static int item_u64(PyObject *self, Py_ssize_t k, uint64_t *out)
{
    PyObject *o = PyTuple_GET_ITEM(self, k);
    if (!PyLong_CheckExact(o))
        return -1;
    unsigned long long v = PyLong_AsUnsignedLongLong(o);
    if (v == (unsigned long long)-1 && PyErr_Occurred()) {
        PyErr_Clear();
        return -1;
    }
    *out = v;
    return 0;
}

/* The bytes of parameter i of a well-formed event whose type is in the table:
 * 0 with *p, *n set; -1 for anything the slow path must handle. */
int locate(PyObject *self, Py_ssize_t i, const uint8_t **p, uint64_t *n, uint64_t *etype_out)
{
    uint64_t off, len, etype, nparams;
    if (!kind_tab || PyTuple_GET_SIZE(self) < 7 || i < 0)
        return -1;
    if (item_u64(self, 1, &off) || item_u64(self, 4, &len) || item_u64(self, 5, &etype) ||
        item_u64(self, 6, &nparams))
        return -1;
    if ((uint64_t)i >= nparams || etype >= (uint64_t)n_types)
        return -1;
    PyObject *buf = PyTuple_GET_ITEM(self, 0);
    if (!PyBytes_Check(buf))
        return -1;
    uint64_t size = (uint64_t)PyBytes_GET_SIZE(buf);
    if (off > size || len > size - off)
        return -1;
    const uint8_t *ev = (const uint8_t *)PyBytes_AS_STRING(buf) + off;
    int large = large_tab[etype];
    uint64_t width = large ? 4 : 2;
    if (len < 26 || nparams > (len - 26) / width)
        return -1;
    uint64_t data = 26 + width * nparams, total = 0, start = 0;
    const uint8_t *lens = ev + 26;
    for (uint64_t k = 0; k < nparams; k++) {
        uint64_t l = large ? rd32(lens + 4 * k) : rd16(lens + 2 * k);
        if (k == (uint64_t)i) {
            start = total;
            *n = l;
        }
        total += l;
    }
    if (total > len - data)
        return -1;
    *p = ev + data + start;
    *etype_out = etype;
    return 0;
}

/* An exact int's value as a parameter index; -1 (left to the slow path, which
 * raises the right error) for anything else or a value out of range. */
static inline Py_ssize_t fast_index(PyObject *arg)
{
    Py_ssize_t i = PyLong_CheckExact(arg) ? PyLong_AsSsize_t(arg) : -1;
    if (i == -1 && PyErr_Occurred())
        PyErr_Clear();
    return i;
}

PyDoc_STRVAR(param_doc,
"param(i) -> value\n\n"
"Parameter i decoded by its PT_* type (bytes where the table has no entry);\n"
"None for an empty parameter. Raises ScapError for a malformed event.");

PyObject *ev_param(PyObject *self, PyObject *arg)
{
    const uint8_t *p;
    uint64_t n, etype;
    Py_ssize_t i = fast_index(arg);
    if (i < 0 || i >= MAX_PARAMS || locate(self, i, &p, &n, &etype))
        return param_slow(self, arg);
    int kind = kind_tab[etype * MAX_PARAMS + i];
    if (kind == K_SLOW)
        return param_slow(self, arg);
    if (n == 0)
        Py_RETURN_NONE;
    if (kind == K_CSTR) {
        const uint8_t *end = memchr(p, 0, n);
        return PyUnicode_DecodeUTF8((const char *)p, end ? end - p : (Py_ssize_t)n, "surrogateescape");
    }
    if (n != (uint64_t)kind_size[kind])
        return param_slow(self, arg); /* raises the size error with context */
    switch (kind) {
    case K_I8: return PyLong_FromLong((int8_t)p[0]);
    case K_I16: return PyLong_FromLong((int16_t)rd16(p));
    case K_I32: return PyLong_FromLong((int32_t)rd32(p));
    case K_I64: return PyLong_FromLongLong((int64_t)rd64(p));
    case K_U8: return PyLong_FromLong(p[0]);
    case K_U16: return PyLong_FromLong(rd16(p));
    case K_U32: return PyLong_FromUnsignedLong(rd32(p));
    case K_U64: return PyLong_FromUnsignedLongLong(rd64(p));
    case K_BOOL: return PyBool_FromLong(rd32(p) != 0);
    case K_DOUBLE: {
        double d;
        memcpy(&d, p, 8);
        return PyFloat_FromDouble(d);
    }
    }
    return param_slow(self, arg);
}

PyDoc_STRVAR(raw_param_doc,
"raw_param(i) -> bytes\n\n"
"The bytes of parameter i as stored. Raises ScapError for a malformed event,\n"
"IndexError for an index out of range (through Python's _raw_param_slow).");

static PyObject *ev_raw_param(PyObject *self, PyObject *arg)
{
    const uint8_t *p;
    uint64_t n, etype;
    Py_ssize_t i = fast_index(arg);
    if (i < 0 || locate(self, i, &p, &n, &etype))
        return raw_param_slow(self, arg);
    return PyBytes_FromStringAndSize((const char *)p, (Py_ssize_t)n);
}

PyDoc_STRVAR(opt_param_doc,
"opt_param(i) -> value\n\n"
"param(i), or None when the event (an old layout) has no parameter i\n"
"(i >= nparams).");

static PyObject *ev_opt_param(PyObject *self, PyObject *arg)
{
    uint64_t nparams;
    if (PyLong_CheckExact(arg) && PyTuple_GET_SIZE(self) >= 7 && !item_u64(self, 6, &nparams)) {
        Py_ssize_t i = PyLong_AsSsize_t(arg);
        if (i == -1 && PyErr_Occurred())
            PyErr_Clear();
        else if (i >= 0 && (uint64_t)i >= nparams)
            Py_RETURN_NONE;
    }
    return ev_param(self, arg);
}

static PyMethodDef event_methods[] = {
    {"opt_param", ev_opt_param, METH_O, opt_param_doc},
    {"param", ev_param, METH_O, param_doc},
    {"raw_param", ev_raw_param, METH_O, raw_param_doc},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject EventBase = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "libscap._events.EventBase",
    .tp_doc = PyDoc_STR("C base of libscap.event.Event: a tuple with param(i) in C."),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_methods = event_methods,
};


/* ---- libsinsp's event loop (libsinsp/inspector.py, Inspector._run) ----------------
 *
 * The per-event dispatch of the Inspector, as an iterator: count the event, run
 * the inspector's deferred work, look its thread up by tid (a missing_thread()
 * row for an unknown one unless the type forbids it), re-point the one reused
 * SinspEvent, call the parser of its type, purge when due, call the listeners,
 * skip hidden and state-only events and those the filter rejects, return the
 * SinspEvent. What is rare (deferred removals, purges, unknown threads, parse
 * errors, filters, listeners) calls back into the Inspector's Python; what every
 * event does is here: ~300 ns per event as a Python generator, the floor of the
 * interpreter for that much work. The SinspEvent's and ThreadInfo's __slots__,
 * and the Inspector's slots for what the loop reads or counts per event, are
 * accessed at their member offsets (read from their types once): no dict
 * lookup by name per event. */

/* A fast path's spec (see fast_close, fast_open), read once when the loop is made
 * from the (kind, ...) tuple the Python parser declares as its fast_path. */
typedef struct {
    long etype;
    int kind;
    long pos[6];                        /* close: fd; open: name, flags, mode, dev, ino, dirfd */
    unsigned long long o_directory, o_cloexec;
    PyObject *type_f, *type_d;          /* borrowed from the specs dict the loop holds */
    int dev_needs_ino;
} FastSpec;

#define MAX_FAST 16
enum { FAST_CLOSE = 1, FAST_OPEN = 2 };

typedef struct {
    PyObject_HEAD
    PyObject *insp, *batches, *cur, *cur_iter, *sevt, *tmap, *parsers, *kinds, *listeners;
    PyObject *missing_thread, *unset, *errors, *tinfo_type;
    Py_ssize_t idx, off_evt, off_num, off_tinfo, off_fdinfo, off_fd, off_last;
    /* the Inspector's slots */
    Py_ssize_t off_deferred, off_filter, off_next_purge, off_not_returned, off_parse_errors;
    Py_ssize_t off_fd_to_remove, off_tid_to_remove, off_wanted, off_return_at, off_skipped;
    /* the fast paths (see fast_close, fast_open): their specs (the dict they are read
     * from owns the objects they point to), the FdInfo prototype new rows copy, the
     * offsets of FdInfo's and ThreadInfo's slots */
    PyObject *fast_specs, *fdinfo_proto;
    FastSpec fast[MAX_FAST];
    int n_fast;
    Py_ssize_t n_fdi_slots, fdi_slots[32];
    Py_ssize_t off_fdi_fd, off_fdi_type, off_fdi_name, off_fdi_nameraw, off_fdi_openflags, off_fdi_mode,
        off_fdi_dev, off_fdi_ino, off_fdi_cloexec, off_t_tid, off_t_fdtable, off_t_fs;
    long long num, next_purge;
    unsigned long long state_only_mask;
    int done;
} Loop;

static PyObject *s_run_deferred, *s_purge, *s_lastaccess, *minus_one, *one;

Py_ssize_t member_offset(PyTypeObject *tp, const char *name)
{
    PyObject *d = PyObject_GetAttrString((PyObject *)tp, name);
    if (!d)
        return -1;
    Py_ssize_t off = -1;
    if (Py_IS_TYPE(d, &PyMemberDescr_Type) && ((PyMemberDescrObject *)d)->d_member->type == T_OBJECT_EX)
        off = ((PyMemberDescrObject *)d)->d_member->offset;
    else
        PyErr_Format(PyExc_TypeError, "%s.%s is no __slots__ member", tp->tp_name, name);
    Py_DECREF(d);
    return off;
}

static inline void set_slot(PyObject *o, Py_ssize_t off, PyObject *v)
{
    PyObject **p = (PyObject **)((char *)o + off);
    PyObject *old = *p;
    *p = Py_NewRef(v);
    Py_XDECREF(old);
}

/* One spec tuple into a FastSpec; -1 with ValueError for a malformed one. */
static int fast_read_spec(FastSpec *f, PyObject *etype, PyObject *spec)
{
    Py_ssize_t n = PyTuple_Check(spec) ? PyTuple_GET_SIZE(spec) : 0;
    f->etype = PyLong_AsLong(etype);
    f->kind = n ? (int)PyLong_AsLong(PyTuple_GET_ITEM(spec, 0)) : 0;
    if (PyErr_Occurred())
        return -1;
    int npos = f->kind == FAST_CLOSE ? 1 : 6;
    if (!((f->kind == FAST_CLOSE && n == 2) || (f->kind == FAST_OPEN && n == 12))) {
        PyErr_Format(PyExc_ValueError, "malformed fast path spec for event type %ld", f->etype);
        return -1;
    }
    for (int i = 0; i < 6; i++)
        f->pos[i] = i < npos ? PyLong_AsLong(PyTuple_GET_ITEM(spec, i + 1)) : -1;
    if (f->kind == FAST_OPEN) {
        f->o_directory = PyLong_AsUnsignedLongLongMask(PyTuple_GET_ITEM(spec, 7));
        f->o_cloexec = PyLong_AsUnsignedLongLongMask(PyTuple_GET_ITEM(spec, 8));
        f->type_f = PyTuple_GET_ITEM(spec, 9);
        f->type_d = PyTuple_GET_ITEM(spec, 10);
        f->dev_needs_ino = PyObject_IsTrue(PyTuple_GET_ITEM(spec, 11));
    }
    if (PyErr_Occurred())
        return -1;
    /* close: the fd; open: flags, mode, dev and ino (name and dirfd may be absent: -1) */
    for (int i = f->kind == FAST_CLOSE ? 0 : 1; i < (f->kind == FAST_CLOSE ? 1 : 5); i++)
        if (f->pos[i] < 0) {
            PyErr_Format(PyExc_ValueError, "fast path spec for event type %ld lacks a position", f->etype);
            return -1;
        }
    return 0;
}

static int fast_read_specs(Loop *self)
{
    PyObject *etype, *spec;
    Py_ssize_t it = 0;
    self->n_fast = 0;
    while (PyDict_Next(self->fast_specs, &it, &etype, &spec)) {
        if (self->n_fast == MAX_FAST) {
            PyErr_SetString(PyExc_ValueError, "too many fast paths");
            return -1;
        }
        if (fast_read_spec(&self->fast[self->n_fast++], etype, spec) < 0) {
            if (!PyErr_ExceptionMatches(PyExc_ValueError)) { /* an item of the wrong type */
                PyErr_Clear();
                PyErr_Format(PyExc_ValueError, "malformed fast path spec for event type %S", etype);
            }
            return -1;
        }
    }
    return 0;
}

/* The offsets the fast paths use: every __slots__ member of FdInfo (a new row is
 * a copy of the prototype, then its own values) and the ThreadInfo members. */
static int fast_init(Loop *self, PyTypeObject *ttype)
{
    PyTypeObject *ft = Py_TYPE(self->fdinfo_proto);
    PyObject *names = PyObject_GetAttrString((PyObject *)ft, "__slots__");
    if (!names)
        return -1;
    PyObject *seq = PySequence_Fast(names, "FdInfo.__slots__ is no sequence");
    Py_DECREF(names);
    if (!seq)
        return -1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    if (n > (Py_ssize_t)(sizeof(self->fdi_slots) / sizeof(self->fdi_slots[0]))) {
        Py_DECREF(seq);
        PyErr_SetString(PyExc_ValueError, "FdInfo has too many slots for the fast paths");
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        const char *name = PyUnicode_AsUTF8(PySequence_Fast_GET_ITEM(seq, i));
        if (!name || (self->fdi_slots[i] = member_offset(ft, name)) < 0) {
            Py_DECREF(seq);
            return -1;
        }
    }
    Py_DECREF(seq);
    self->n_fdi_slots = n;
    if ((self->off_fdi_fd = member_offset(ft, "fd")) < 0 || (self->off_fdi_type = member_offset(ft, "type")) < 0 ||
        (self->off_fdi_name = member_offset(ft, "name")) < 0 ||
        (self->off_fdi_nameraw = member_offset(ft, "nameraw")) < 0 ||
        (self->off_fdi_openflags = member_offset(ft, "openflags")) < 0 ||
        (self->off_fdi_mode = member_offset(ft, "mode")) < 0 || (self->off_fdi_dev = member_offset(ft, "dev")) < 0 ||
        (self->off_fdi_ino = member_offset(ft, "ino")) < 0 ||
        (self->off_fdi_cloexec = member_offset(ft, "cloexec")) < 0 ||
        (self->off_t_tid = member_offset(ttype, "tid")) < 0 ||
        (self->off_t_fdtable = member_offset(ttype, "fdtable")) < 0 ||
        (self->off_t_fs = member_offset(ttype, "_fs")) < 0)
        return -1;
    return fast_read_specs(self);
}

static PyObject *loop_new(PyTypeObject *tp, PyObject *args, PyObject *kw)
{
    PyObject *insp, *batches, *sevt, *tmap, *parsers, *kinds, *listeners, *missing, *unset, *errors, *ttype;
    PyObject *specs, *proto;
    unsigned long long mask;
    if (!PyArg_ParseTuple(args, "OOOO!O!O!O!OOOO!KO!O:Loop", &insp, &batches, &sevt, &PyDict_Type, &tmap,
                          &PyTuple_Type, &parsers, &PyBytes_Type, &kinds, &PyList_Type, &listeners, &missing,
                          &unset, &errors, &PyType_Type, &ttype, &mask, &PyDict_Type, &specs, &proto))
        return NULL;
    if (PyTuple_GET_SIZE(parsers) < 65536 || PyBytes_GET_SIZE(kinds) < 65536) {
        PyErr_SetString(PyExc_ValueError, "parsers and kinds need 65536 entries");
        return NULL;
    }
    PyObject *it = PyObject_GetIter(batches);
    if (!it)
        return NULL;
    Loop *self = (Loop *)tp->tp_alloc(tp, 0);
    if (!self) {
        Py_DECREF(it);
        return NULL;
    }
    self->insp = Py_NewRef(insp);
    self->batches = it;
    self->sevt = Py_NewRef(sevt);
    self->tmap = Py_NewRef(tmap);
    self->parsers = Py_NewRef(parsers);
    self->kinds = Py_NewRef(kinds);
    self->listeners = Py_NewRef(listeners);
    self->missing_thread = Py_NewRef(missing);
    self->unset = Py_NewRef(unset);
    self->errors = Py_NewRef(errors);
    self->tinfo_type = Py_NewRef(ttype);
    self->fast_specs = Py_NewRef(specs);
    self->fdinfo_proto = Py_NewRef(proto);
    self->state_only_mask = mask;
    self->next_purge = 0;
    PyTypeObject *st = Py_TYPE(sevt);
    if ((self->off_evt = member_offset(st, "evt")) < 0 || (self->off_num = member_offset(st, "num")) < 0 ||
        (self->off_tinfo = member_offset(st, "tinfo")) < 0 ||
        (self->off_fdinfo = member_offset(st, "_fdinfo")) < 0 || (self->off_fd = member_offset(st, "fd")) < 0 ||
        (self->off_last = member_offset((PyTypeObject *)ttype, "lastaccess_ts")) < 0 ||
        (self->off_deferred = member_offset(Py_TYPE(insp), "_deferred")) < 0 ||
        (self->off_filter = member_offset(Py_TYPE(insp), "_filter")) < 0 ||
        (self->off_next_purge = member_offset(Py_TYPE(insp), "_next_purge")) < 0 ||
        (self->off_not_returned = member_offset(Py_TYPE(insp), "_not_returned")) < 0 ||
        (self->off_parse_errors = member_offset(Py_TYPE(insp), "_parse_errors")) < 0 ||
        (self->off_fd_to_remove = member_offset(Py_TYPE(insp), "_fd_to_remove")) < 0 ||
        (self->off_tid_to_remove = member_offset(Py_TYPE(insp), "_tid_to_remove")) < 0 ||
        (self->off_wanted = member_offset(Py_TYPE(insp), "_wanted")) < 0 ||
        (self->off_return_at = member_offset(Py_TYPE(insp), "return_at")) < 0 ||
        (self->off_skipped = member_offset(Py_TYPE(insp), "_skipped")) < 0 ||
        fast_init(self, (PyTypeObject *)ttype) < 0) {
        Py_DECREF(self);
        return NULL;
    }
    PyObject *num = PyObject_GetAttrString(sevt, "num");
    if (!num || (self->num = PyLong_AsLongLong(num)) == -1) {
        Py_XDECREF(num);
        if (PyErr_Occurred()) {
            Py_DECREF(self);
            return NULL;
        }
    }
    Py_XDECREF(num);
    return (PyObject *)self;
}

static int loop_traverse(Loop *self, visitproc visit, void *arg)
{
    Py_VISIT(self->insp); Py_VISIT(self->batches); Py_VISIT(self->cur);
    Py_VISIT(self->cur_iter); Py_VISIT(self->sevt); Py_VISIT(self->tmap); Py_VISIT(self->parsers);
    Py_VISIT(self->kinds); Py_VISIT(self->listeners); Py_VISIT(self->missing_thread); Py_VISIT(self->unset);
    Py_VISIT(self->errors); Py_VISIT(self->tinfo_type); Py_VISIT(self->fast_specs); Py_VISIT(self->fdinfo_proto);
    return 0;
}

static int loop_clear(Loop *self)
{
    Py_CLEAR(self->insp); Py_CLEAR(self->batches); Py_CLEAR(self->cur);
    Py_CLEAR(self->cur_iter); Py_CLEAR(self->sevt); Py_CLEAR(self->tmap); Py_CLEAR(self->parsers);
    Py_CLEAR(self->kinds); Py_CLEAR(self->listeners); Py_CLEAR(self->missing_thread); Py_CLEAR(self->unset);
    Py_CLEAR(self->errors); Py_CLEAR(self->tinfo_type); Py_CLEAR(self->fast_specs); Py_CLEAR(self->fdinfo_proto);
    self->done = 1;
    return 0;
}

static void loop_dealloc(Loop *self)
{
    PyObject_GC_UnTrack(self);
    loop_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* the next raw event of the source (new reference), NULL at the end (or on error) */
static PyObject *next_raw(Loop *self)
{
    for (;;) {
        if (self->cur) {
            if (self->idx < PyList_GET_SIZE(self->cur))
                return Py_NewRef(PyList_GET_ITEM(self->cur, self->idx++));
            Py_CLEAR(self->cur);
        } else if (self->cur_iter) {
            PyObject *e = PyIter_Next(self->cur_iter);
            if (e || PyErr_Occurred())
                return e;
            Py_CLEAR(self->cur_iter);
        }
        PyObject *batch = PyIter_Next(self->batches);
        if (!batch)
            return NULL;
        if (PyList_CheckExact(batch)) {
            self->cur = batch;
            self->idx = 0;
        } else {
            self->cur_iter = PyObject_GetIter(batch);
            Py_DECREF(batch);
            if (!self->cur_iter)
                return NULL;
        }
    }
}


/* -- fast paths ---------------------------------------------------------------------
 * The most frequent state changes done here, for their common case, exactly as
 * the Python parser they mirror does them (libsinsp.parsers registers both; the
 * Python loop, Inspector._run_py, always runs the Python one and the tests
 * compare the two loops' states). Each returns 1 when it did the parser's work,
 * 0 to leave the event to the Python parser (an uncommon case, or a parameter
 * that does not decode: the parser then raises its own error), -1 on a failure
 * to propagate. */
/* opt_param(i) of an event (new reference; NULL with an error set) */
static PyObject *opt_param_at(PyObject *evt, long i)
{
    PyObject *idx = PyLong_FromLong(i);
    if (!idx)
        return NULL;
    PyObject *v = ev_opt_param(evt, idx);
    Py_DECREF(idx);
    return v;
}

/* the sign of an exact int: -1, 0 or 1; 2 for anything else */
static int int_sign(PyObject *v)
{
    if (!PyLong_CheckExact(v))
        return 2;
    int overflow;
    long long x = PyLong_AsLongLongAndOverflow(v, &overflow);
    if (overflow)
        return overflow;
    if (x == -1 && PyErr_Occurred()) {
        PyErr_Clear();
        return 2;
    }
    return x < 0 ? -1 : x > 0;
}

/* parse_close_exit: on success, the closed fd's row (the event's fdinfo, as
 * SinspEvent.fdinfo finds it) is removed before the next event (remove_fd_later) */
static int fast_close(Loop *self, PyObject *evt, PyObject *tinfo, const FastSpec *spec)
{
    PyObject *res = opt_param_at(evt, 0);
    if (!res) {
        PyErr_Clear();
        return 0;
    }
    int sign = res == Py_None ? -1 : int_sign(res);
    Py_DECREF(res);
    if (sign == 2)
        return 0;
    if (sign < 0)
        return 1; /* a failed close (or none) changes nothing */
    uint64_t nparams;
    long fd_pos = spec->pos[0];
    if (item_u64(evt, 6, &nparams) || fd_pos < 0 || (uint64_t)fd_pos >= nparams)
        return 0;
    PyObject *fdtable = *(PyObject **)((char *)tinfo + self->off_t_fdtable);
    PyObject *tid = *(PyObject **)((char *)tinfo + self->off_t_tid);
    PyObject *pending = *(PyObject **)((char *)self->insp + self->off_fd_to_remove);
    if (!fdtable || !PyDict_CheckExact(fdtable) || !tid || pending != Py_None)
        return 0;
    PyObject *fd = opt_param_at(evt, fd_pos);
    if (!fd) {
        PyErr_Clear();
        return 0;
    }
    if (fd == Py_None) {
        set_slot(self->sevt, self->off_fdinfo, Py_None);
        Py_DECREF(fd);
        return 1;
    }
    PyObject *fi = PyDict_GetItemWithError(fdtable, fd);
    if (!fi && PyErr_Occurred()) {
        Py_DECREF(fd);
        return -1;
    }
    set_slot(self->sevt, self->off_fd, fd);
    set_slot(self->sevt, self->off_fdinfo, fi ? fi : Py_None);
    if (fi) {
        PyObject *pair = PyTuple_Pack(2, tid, fd);
        if (!pair) {
            Py_DECREF(fd);
            return -1;
        }
        set_slot(self->insp, self->off_fd_to_remove, pair);
        set_slot(self->insp, self->off_deferred, Py_True);
        Py_DECREF(pair);
    }
    Py_DECREF(fd);
    return 1;
}

/* _run_deferred when all it has to do is the fd removal of a close: 1 done, 0 not */
static int fast_deferred(Loop *self)
{
    PyObject *insp = self->insp;
    PyObject *tid_rm = *(PyObject **)((char *)insp + self->off_tid_to_remove);
    PyObject *fd_rm = *(PyObject **)((char *)insp + self->off_fd_to_remove);
    if (tid_rm != Py_None || !fd_rm || !PyTuple_CheckExact(fd_rm) || PyTuple_GET_SIZE(fd_rm) != 2)
        return 0;
    PyObject *t = PyDict_GetItemWithError(self->tmap, PyTuple_GET_ITEM(fd_rm, 0));
    if (!t) {
        if (PyErr_Occurred())
            return -1;
    } else {
        PyObject *fdtable = Py_IS_TYPE(t, (PyTypeObject *)self->tinfo_type)
                                ? *(PyObject **)((char *)t + self->off_t_fdtable) : NULL;
        if (!fdtable || !PyDict_CheckExact(fdtable))
            return 0;
        if (PyDict_DelItem(fdtable, PyTuple_GET_ITEM(fd_rm, 1)) < 0) {
            if (!PyErr_ExceptionMatches(PyExc_KeyError))
                return -1;
            PyErr_Clear();
        }
    }
    set_slot(insp, self->off_deferred, Py_False);
    set_slot(insp, self->off_fd_to_remove, Py_None);
    return 1;
}

/* An ASCII path that is absolute and already normal (no "//", no "/." and no
 * trailing "/"): concatenate_paths returns it as it is. */
static int normal_absolute(PyObject *name)
{
    if (!PyUnicode_CheckExact(name) || !PyUnicode_IS_ASCII(name))
        return 0;
    Py_ssize_t n = PyUnicode_GET_LENGTH(name);
    const char *p = (const char *)PyUnicode_DATA(name);
    if (n < 2 || p[0] != '/' || p[n - 1] == '/')
        return 0;
    for (Py_ssize_t i = 0; i + 1 < n; i++)
        if (p[i] == '/' && (p[i + 1] == '/' || p[i + 1] == '.'))
            return 0;
    return 1;
}

/* a new FdInfo: the prototype's values, every slot (as FdInfo() sets them) */
static PyObject *new_fdinfo(Loop *self)
{
    PyTypeObject *ft = Py_TYPE(self->fdinfo_proto);
    PyObject *o = ft->tp_alloc(ft, 0);
    if (!o)
        return NULL;
    for (Py_ssize_t i = 0; i < self->n_fdi_slots; i++) {
        PyObject *v = *(PyObject **)((char *)self->fdinfo_proto + self->fdi_slots[i]);
        *(PyObject **)((char *)o + self->fdi_slots[i]) = Py_XNewRef(v);
    }
    return o;
}

/* The open family's exit (parse_open_exit, parse_openat_exit) for a successful
 * open of an absolute, already normal path: a file or directory row at the
 * returned fd. The spec's positions: name, flags, mode, dev, ino, dirfd (-1: the
 * path would be resolved against the cwd); dev_needs_ino: dev is 0 when ino is
 * empty. */
static int fast_open(Loop *self, PyObject *evt, PyObject *tinfo, const FastSpec *spec)
{
    const long *pos = spec->pos;
    uint64_t nparams;
    if (item_u64(evt, 6, &nparams))
        return 0;
    for (int i = 0; i < 6; i++)
        if (pos[i] >= 0 && (uint64_t)pos[i] >= nparams)
            return 0; /* an older layout: the Python parser's defaults */
    if (nparams < 1)
        return 0;
    PyObject *vals[7] = {NULL}; /* fd, name, flags, mode, dev, ino, dirfd */
    int ret = 0;
    if (!(vals[0] = opt_param_at(evt, 0)))
        goto decline;
    int sign = vals[0] == Py_None ? -1 : int_sign(vals[0]);
    if (sign == 2)
        goto out;
    if (sign < 0) {
        ret = 1; /* no fd: nothing to add */
        goto out;
    }
    for (int i = 0; i < 6; i++) {
        if (pos[i] >= 0 && !(vals[i + 1] = opt_param_at(evt, pos[i])))
            goto decline;
    }
    PyObject *name = vals[1];
    if (!name || !normal_absolute(name) || (pos[5] >= 0 && vals[6] == Py_None))
        goto out;
    if (vals[5] == Py_None && spec->dev_needs_ino)
        Py_XSETREF(vals[4], Py_NewRef(Py_None)); /* dev 0 below */
    Py_ssize_t base_len = 1; /* "." for a dirfd-relative call with an absolute name */
    if (pos[5] < 0) {
        PyObject *fs = *(PyObject **)((char *)tinfo + self->off_t_fs);
        if (!fs || !PyList_CheckExact(fs) || PyList_GET_SIZE(fs) < 1 || !PyUnicode_Check(PyList_GET_ITEM(fs, 0)))
            goto out;
        base_len = PyUnicode_GET_LENGTH(PyList_GET_ITEM(fs, 0));
    }
    if (base_len + PyUnicode_GET_LENGTH(name) + 1 > 4096)
        goto out; /* concatenate_paths' too-long name */
    for (int i = 2; i <= 5; i++) { /* present: fast_read_spec checked their positions */
        if (vals[i] == Py_None) {
            Py_SETREF(vals[i], PyLong_FromLong(0));
            if (!vals[i]) {
                ret = -1;
                goto out;
            }
        } else if (!PyLong_CheckExact(vals[i])) {
            goto out;
        }
    }
    PyObject *fdtable = *(PyObject **)((char *)tinfo + self->off_t_fdtable);
    if (!fdtable || !PyDict_CheckExact(fdtable))
        goto out;
    unsigned long long flags = PyLong_AsUnsignedLongLongMask(vals[2]);
    PyObject *fdi = new_fdinfo(self);
    if (!fdi) {
        ret = -1;
        goto out;
    }
    set_slot(fdi, self->off_fdi_fd, vals[0]);
    set_slot(fdi, self->off_fdi_type, (flags & spec->o_directory) ? spec->type_d : spec->type_f);
    set_slot(fdi, self->off_fdi_name, name);
    set_slot(fdi, self->off_fdi_nameraw, name);
    set_slot(fdi, self->off_fdi_openflags, vals[2]);
    set_slot(fdi, self->off_fdi_mode, vals[3]);
    set_slot(fdi, self->off_fdi_dev, vals[4]);
    set_slot(fdi, self->off_fdi_ino, vals[5]);
    set_slot(fdi, self->off_fdi_cloexec, (flags & spec->o_cloexec) ? Py_True : Py_False);
    if (PyDict_SetItem(fdtable, vals[0], fdi) < 0) {
        Py_DECREF(fdi);
        ret = -1;
        goto out;
    }
    set_slot(self->sevt, self->off_fdinfo, fdi);
    set_slot(self->sevt, self->off_fd, vals[0]);
    Py_DECREF(fdi);
    ret = 1;
    goto out;
decline:
    PyErr_Clear();
out:
    for (int i = 0; i < 7; i++)
        Py_XDECREF(vals[i]);
    return ret;
}

/* the fast path of the event's type, if it has one: 1 done, 0 not, -1 failure */
static int run_fast(Loop *self, long etype, PyObject *evt)
{
    const FastSpec *spec = NULL;
    for (int i = 0; i < self->n_fast && !spec; i++)
        if (self->fast[i].etype == etype)
            spec = &self->fast[i];
    PyObject *tinfo = *(PyObject **)((char *)self->sevt + self->off_tinfo);
    if (!spec || !tinfo || !Py_IS_TYPE(tinfo, (PyTypeObject *)self->tinfo_type) ||
        !PyObject_TypeCheck(evt, &EventBase))
        return 0;
    return spec->kind == FAST_CLOSE ? fast_close(self, evt, tinfo, spec) : fast_open(self, evt, tinfo, spec);
}

/* += 1 for an int counter in an Inspector slot */
static int bump(PyObject *insp, Py_ssize_t off, const char *name)
{
    PyObject *v = get_slot(insp, off, name);
    if (!v)
        return -1;
    PyObject *n = PyNumber_Add(v, one);
    if (!n)
        return -1;
    set_slot(insp, off, n);
    Py_DECREF(n);
    return 0;
}

static PyObject *call_method0(PyObject *o, PyObject *name)
{
    return PyObject_CallMethodNoArgs(o, name);
}

/* Inspector.return_only: is an event of type etype at time ts (ns) one not to return?
 * (-1: error) Its code is not in the _wanted bytes and it comes before return_at
 * (None: never). */
static int unwanted(Loop *self, long etype, long long ts)
{
    PyObject *wanted = get_slot(self->insp, self->off_wanted, "_wanted");
    if (!wanted)
        return -1;
    if (wanted == Py_None || !PyBytes_Check(wanted) || etype >= PyBytes_GET_SIZE(wanted) ||
        PyBytes_AS_STRING(wanted)[etype])
        return 0;
    PyObject *at = get_slot(self->insp, self->off_return_at, "return_at");
    if (!at)
        return -1;
    if (at == Py_None)
        return 1;
    int overflow;
    long long atv = PyLong_AsLongLongAndOverflow(at, &overflow);
    if (atv == -1 && PyErr_Occurred())
        return -1;
    if (overflow)
        return overflow > 0;
    return ts < atv;
}

static PyObject *loop_next(Loop *self)
{
    if (self->done)
        return NULL;
    PyObject *sevt = self->sevt, *insp = self->insp;
    for (;;) {
        PyObject *evt = next_raw(self);
        if (!evt)
            goto fail;
        if (!PyTuple_Check(evt) || PyTuple_GET_SIZE(evt) < 10) {
            PyErr_SetString(PyExc_TypeError, "an event is a 10-item tuple");
            Py_DECREF(evt);
            goto fail;
        }
        self->num++;
        PyObject *deferred = get_slot(insp, self->off_deferred, "_deferred");
        if (!deferred) {
            Py_DECREF(evt);
            goto fail;
        }
        if (deferred != Py_False && PyObject_IsTrue(deferred)) {
            int done = deferred == Py_True ? fast_deferred(self) : 0;
            if (done < 0) {
                Py_DECREF(evt);
                goto fail;
            }
            PyObject *r = done ? Py_NewRef(Py_None) : call_method0(insp, s_run_deferred);
            if (!r) {
                Py_DECREF(evt);
                goto fail;
            }
            Py_DECREF(r);
        }
        long etype = PyLong_AsLong(PyTuple_GET_ITEM(evt, 5));
        PyObject *ts = PyTuple_GET_ITEM(evt, 2), *tid = PyTuple_GET_ITEM(evt, 3);
        if (etype < 0 || etype > 65535) {
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_ValueError, "event type out of range");
            Py_DECREF(evt);
            goto fail;
        }
        unsigned char kind = (unsigned char)PyBytes_AS_STRING(self->kinds)[etype];
        PyObject *tinfo = PyDict_GetItemWithError(self->tmap, tid);
        if (tinfo) {
            Py_INCREF(tinfo);
        } else if (PyErr_Occurred()) {
            Py_DECREF(evt);
            goto fail;
        } else if (!(kind & 2)) {
            PyObject *args[2] = {tid, ts};
            tinfo = PyObject_Vectorcall(self->missing_thread, args, 2, NULL);
            if (!tinfo) {
                Py_DECREF(evt);
                goto fail;
            }
            if (tinfo == Py_None)
                Py_CLEAR(tinfo);
        }
        if (tinfo) {
            if (Py_IS_TYPE(tinfo, (PyTypeObject *)self->tinfo_type))
                set_slot(tinfo, self->off_last, ts);
            else if (PyObject_SetAttr(tinfo, s_lastaccess, ts) < 0) {
                Py_DECREF(tinfo);
                Py_DECREF(evt);
                goto fail;
            }
        }
        PyObject *num = PyLong_FromLongLong(self->num);
        if (!num) {
            Py_XDECREF(tinfo);
            Py_DECREF(evt);
            goto fail;
        }
        set_slot(sevt, self->off_evt, evt);
        set_slot(sevt, self->off_num, num);
        Py_DECREF(num);
        set_slot(sevt, self->off_tinfo, tinfo ? tinfo : Py_None);
        Py_XDECREF(tinfo);
        set_slot(sevt, self->off_fdinfo, self->unset);
        set_slot(sevt, self->off_fd, minus_one);
        PyObject *parser = PyTuple_GET_ITEM(self->parsers, etype);
        int fast_done = parser != Py_None ? run_fast(self, etype, evt) : 0;
        if (fast_done < 0) {
            Py_DECREF(evt);
            goto fail;
        }
        if (!fast_done && parser != Py_None) {
            PyObject *args[2] = {insp, sevt};
            PyObject *r = PyObject_Vectorcall(parser, args, 2, NULL);
            if (r)
                Py_DECREF(r);
            else if (PyErr_ExceptionMatches(self->errors)) {
                PyErr_Clear();
                if (bump(insp, self->off_parse_errors, "_parse_errors") < 0) {
                    Py_DECREF(evt);
                    goto fail;
                }
            } else {
                Py_DECREF(evt);
                goto fail;
            }
        }
        int overflow;
        long long tsv = PyLong_AsLongLongAndOverflow(ts, &overflow);
        if (overflow || (tsv == -1 && PyErr_Occurred())) {
            PyErr_Clear();
            tsv = LLONG_MAX; /* beyond int64: due */
        }
        if (tsv >= self->next_purge) {
            PyObject *r = PyObject_CallMethodOneArg(insp, s_purge, ts);
            if (!r) {
                Py_DECREF(evt);
                goto fail;
            }
            Py_DECREF(r);
            PyObject *np = get_slot(insp, self->off_next_purge, "_next_purge");
            if (!np) {
                Py_DECREF(evt);
                goto fail;
            }
            self->next_purge = PyLong_AsLongLong(np);
            if (self->next_purge == -1 && PyErr_Occurred()) {
                PyErr_Clear();
                self->next_purge = LLONG_MAX;
            }
        }
        Py_ssize_t nl = PyList_GET_SIZE(self->listeners);
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(self->listeners); i++) {
            PyObject *l = Py_NewRef(PyList_GET_ITEM(self->listeners, i));
            PyObject *r = PyObject_CallOneArg(l, sevt);
            Py_DECREF(l);
            if (!r) {
                Py_DECREF(evt);
                goto fail;
            }
            Py_DECREF(r);
        }
        (void)nl;
        int hidden = kind & 1;
        if (!hidden && self->state_only_mask) {
            unsigned long long fl = PyLong_AsUnsignedLongLongMask(PyTuple_GET_ITEM(evt, 9));
            if (fl == (unsigned long long)-1 && PyErr_Occurred()) {
                Py_DECREF(evt);
                goto fail;
            }
            hidden = (fl & self->state_only_mask) != 0;
        }
        Py_DECREF(evt); /* the SinspEvent holds it */
        if (!hidden) {
            int skip = unwanted(self, etype, tsv);
            if (skip < 0)
                goto fail;
            if (skip) {
                if (bump(insp, self->off_skipped, "_skipped") < 0)
                    goto fail;
                continue;
            }
            PyObject *flt = get_slot(insp, self->off_filter, "_filter");
            if (!flt)
                goto fail;
            if (flt == Py_None)
                return Py_NewRef(sevt);
            Py_INCREF(flt);
            PyObject *r = PyObject_CallOneArg(flt, sevt);
            Py_DECREF(flt);
            if (!r)
                goto fail;
            int ok = PyObject_IsTrue(r);
            Py_DECREF(r);
            if (ok < 0)
                goto fail;
            if (ok)
                return Py_NewRef(sevt);
        }
        if (bump(insp, self->off_not_returned, "_not_returned") < 0)
            goto fail;
    }
fail:
    /* as a generator: an exception (or the end) finishes the loop */
    self->done = 1;
    return NULL;
}

/* next(loop, None) without the builtin's frame and StopIteration: Inspector.next */
static PyObject *loop_next_or_none(Loop *self, PyObject *unused)
{
    PyObject *r = loop_next(self);
    if (r || PyErr_Occurred())
        return r;
    Py_RETURN_NONE;
}

static PyMethodDef loop_methods[] = {
    {"next", (PyCFunction)loop_next_or_none, METH_NOARGS,
     PyDoc_STR("next() -> the next SinspEvent, or None at the end")},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject LoopType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "libscap._events.SinspLoop",
    .tp_doc = PyDoc_STR("SinspLoop(inspector, batches, sevt, threads_map, parsers, kinds, listeners, "
                        "missing_thread, fdinfo_unset, parse_errors, threadinfo_type, state_only_mask, "
                        "fast_specs, fdinfo_prototype): the Inspector's event loop (see _events.c)."),
    .tp_methods = loop_methods,
    .tp_basicsize = sizeof(Loop),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_new = loop_new,
    .tp_dealloc = (destructor)loop_dealloc,
    .tp_traverse = (traverseproc)loop_traverse,
    .tp_clear = (inquiry)loop_clear,
    .tp_iter = PyObject_SelfIter,
    .tp_iternext = (iternextfunc)loop_next,
};

static int loop_init_module(PyObject *m)
{
#define INTERN(var, s) if (!var && !(var = PyUnicode_InternFromString(s))) return -1;
    INTERN(s_run_deferred, "_run_deferred") INTERN(s_purge, "_purge") INTERN(s_lastaccess, "lastaccess_ts")
#undef INTERN
    if ((!minus_one && !(minus_one = PyLong_FromLong(-1))) || (!one && !(one = PyLong_FromLong(1))))
        return -1;
    if (PyType_Ready(&LoopType) < 0)
        return -1;
    return PyModule_AddObjectRef(m, "SinspLoop", (PyObject *)&LoopType);
}

PyDoc_STRVAR(join_bytes_doc,
"join_bytes(cls, parts) -> cls\n\n"
"The concatenation of parts (a list of bytes-like objects) as an instance of\n"
"cls, a subclass of bytes, copied once (cls(b\"\".join(parts)) copies twice:\n"
"the savefile reader's chunks are MiBs).");

static PyObject *join_bytes(PyObject *self, PyObject *args)
{
    PyTypeObject *cls;
    PyObject *parts;
    if (!PyArg_ParseTuple(args, "O!O!:join_bytes", &PyType_Type, &cls, &PyList_Type, &parts))
        return NULL;
    if (!PyType_IsSubtype(cls, &PyBytes_Type) || cls->tp_itemsize != 1) {
        PyErr_SetString(PyExc_TypeError, "join_bytes needs a subclass of bytes");
        return NULL;
    }
    Py_ssize_t n = PyList_GET_SIZE(parts), total = 0, done = 0;
    Py_buffer *views = PyMem_Calloc(n ? n : 1, sizeof(Py_buffer));
    if (!views)
        return PyErr_NoMemory();
    PyObject *out = NULL;
    for (; done < n; done++) {
        if (PyObject_GetBuffer(PyList_GET_ITEM(parts, done), &views[done], PyBUF_SIMPLE) < 0)
            goto out;
        if (views[done].len > PY_SSIZE_T_MAX - total) {
            done++;
            PyErr_NoMemory();
            goto out;
        }
        total += views[done].len;
    }
    /* as CPython's bytes_subtype_new: the type's allocator (it may add a __dict__),
     * the unknown hash, the trailing NUL of every bytes object */
    out = cls->tp_alloc(cls, total);
    if (!out)
        goto out;
    ((PyBytesObject *)out)->ob_shash = -1;
    char *dst = PyBytes_AS_STRING(out);
    for (Py_ssize_t i = 0; i < n; i++) {
        memcpy(dst, views[i].buf, views[i].len);
        dst += views[i].len;
    }
    *dst = 0;
out:
    for (Py_ssize_t i = 0; i < done; i++)
        PyBuffer_Release(&views[i]);
    PyMem_Free(views);
    return out;
}

static PyMethodDef methods[] = {
    {"make_events", make_events, METH_VARARGS, make_events_doc},
    {"join_bytes", join_bytes, METH_VARARGS, join_bytes_doc},
    {"set_schema", set_schema, METH_VARARGS, set_schema_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "libscap._events",
    "Packed event records -> Event objects, in C (see _events.c).", -1, methods,
};

PyMODINIT_FUNC PyInit__events(void)
{
    EventBase.tp_base = &PyTuple_Type;
    if (PyType_Ready(&EventBase) < 0)
        return NULL;
    if (!str_param_slow && !(str_param_slow = PyUnicode_InternFromString("_param_slow")))
        return NULL;
    if (!str_raw_param_slow && !(str_raw_param_slow = PyUnicode_InternFromString("_raw_param_slow")))
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m && (PyModule_AddIntConstant(m, "SCAN_RECORD_SIZE", SCAN_RECORD_SIZE) < 0 ||
              PyModule_AddIntConstant(m, "MAX_PARAMS", MAX_PARAMS) < 0 ||
              PyModule_AddIntConstant(m, "FAST_CLOSE", FAST_CLOSE) < 0 ||
              PyModule_AddIntConstant(m, "FAST_OPEN", FAST_OPEN) < 0 ||
              PyModule_AddObjectRef(m, "EventBase", (PyObject *)&EventBase) < 0 || loop_init_module(m) < 0 ||
              fields_init_module(m) < 0))
        Py_CLEAR(m);
    return m;
}
