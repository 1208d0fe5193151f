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

static PyMethodDef methods[] = {
    {"make_events", make_events, METH_VARARGS, make_events_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "libscap._events",
    "Packed event records -> Event objects, in C (see _events.c).", -1, methods,
};

PyMODINIT_FUNC PyInit__events(void)
{
    PyObject *m = PyModule_Create(&module);
    if (m && PyModule_AddIntConstant(m, "SCAN_RECORD_SIZE", SCAN_RECORD_SIZE) < 0)
        Py_CLEAR(m);
    return m;
}
