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
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#include "_scan.h"

static inline uint16_t rd16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static inline uint32_t rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static inline uint64_t rd64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

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
        PyLong_FromUnsignedLongLong(rd64(r + 16)),
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
static int locate(PyObject *self, Py_ssize_t i, const uint8_t **p, uint64_t *n, uint64_t *etype_out)
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

PyDoc_STRVAR(param_doc,
"param(i) -> value\n\n"
"Parameter i decoded by its PT_* type (bytes where the table has no entry);\n"
"None for an empty parameter. Raises ScapError for a malformed event.");

static PyObject *ev_param(PyObject *self, PyObject *arg)
{
    const uint8_t *p;
    uint64_t n, etype;
    Py_ssize_t i = PyLong_CheckExact(arg) ? PyLong_AsSsize_t(arg) : -1;
    if (i == -1 && PyErr_Occurred())
        PyErr_Clear();
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
    Py_ssize_t i = PyLong_CheckExact(arg) ? PyLong_AsSsize_t(arg) : -1;
    if (i == -1 && PyErr_Occurred())
        PyErr_Clear();
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

static PyMethodDef methods[] = {
    {"make_events", make_events, METH_VARARGS, make_events_doc},
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
              PyModule_AddObjectRef(m, "EventBase", (PyObject *)&EventBase) < 0))
        Py_CLEAR(m);
    return m;
}
