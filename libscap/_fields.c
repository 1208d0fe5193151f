/* libscap._events.FieldReader: libsinsp's most read fields, in C.
 *
 * Why: a rule set is compiled per event code into one Python function
 * (libsinsp.filter.compile_matcher), and what it costs is mostly its calls of
 * field extractors: ~150-450 ns each in Python (a call, a property, slot reads,
 * string slicing), ~9 of them for every open event of the official rules. A
 * FieldReader is called the same way (vectorcall) and does the same reads at
 * the __slots__ offsets of SinspEvent, FdInfo and ThreadInfo (given once by
 * set_field_types), ~40 ns.
 *
 * Each reader covers its field's common case and hands everything else to
 * ``generic``, the Python extractor it stands for (the reference: an unset or
 * unknown fd, an object of another type, a value of an unexpected type). The
 * fd and open-flag readers assume an event of one code that has an fd / the
 * flags at ``n`` (the Python side makes them for such codes only), as the
 * Python extractors they replace do. tests/test_field_readers.py compares every
 * reader with its Python extractor on every event of the shared captures. */
#include "_events.h"

#include <stddef.h>
#include <structmember.h>

enum {
    R_FD_NUM = 1,     /* fd.num: the SinspEvent's fd after the fdinfo look-up */
    R_FD_NAME,        /* fd.name: the FdInfo's name */
    R_FD_TYPECHAR,    /* fd.typechar: obj maps the FdInfo's type to its letter */
    R_FD_DIRECTORY,   /* fd.directory: a file's directory, a directory's name */
    R_OPEN_BIT,       /* evt.is_open_read/write: parameter n (flags) & bits */
    R_THREAD_ATTR,    /* a ThreadInfo slot (obj: its name), or dflt when empty */
    R_SPLIT_ARG,      /* evt.arg of a flags/errno parameter n: obj(code, n, raw) */
    R_MAX
};

/* set_field_types(): the types whose slots readers read, the slots' offsets */
static PyTypeObject *sevt_type, *fdinfo_type, *tinfo_type;
static PyObject *fdinfo_unset, *str_fdinfo;
static Py_ssize_t off_evt, off_tinfo, off_fdinfo, off_fd, off_fi_name, off_fi_type;

typedef struct {
    PyObject_HEAD
    vectorcallfunc vectorcall;
    int kind;
    Py_ssize_t n, off;          /* parameter index; R_THREAD_ATTR: the slot's offset */
    unsigned long long bits;
    PyObject *generic, *obj, *dflt, *code;
    PyObject *index;            /* n as an int object, made once */
    PyObject *texts;            /* R_SPLIT_ARG only: raw bytes -> the field's text, a bounded cache */
} Reader;

#define MAX_TEXTS 4096

/* The SinspEvent's fdinfo (new reference; NULL with an error), through the
 * property when the loop left it unset. */
static PyObject *fdinfo_of(PyObject *sevt)
{
    PyObject *fi = *(PyObject **)((char *)sevt + off_fdinfo);
    if (fi && fi != fdinfo_unset)
        return Py_NewRef(fi);
    return PyObject_GetAttr(sevt, str_fdinfo);
}

static PyObject *call_generic(Reader *r, PyObject *sevt)
{
    return PyObject_CallOneArg(r->generic, sevt);
}

/* fd.directory of a file or directory fd (a str name): upstream's rules */
static PyObject *directory(PyObject *name, int is_file)
{
    if (!is_file)
        return Py_NewRef(name);
    Py_ssize_t len = PyUnicode_GET_LENGTH(name);
    Py_ssize_t pos = PyUnicode_FindChar(name, '/', 0, len, -1);
    if (pos == -2)
        return NULL;
    if (pos <= 0)
        return PyUnicode_FromString("/");
    return pos < len - 1 ? PyUnicode_Substring(name, 0, pos) : Py_NewRef(name);
}

static PyObject *read_fd(Reader *r, PyObject *sevt)
{
    PyObject *fi = fdinfo_of(sevt);
    if (!fi)
        return NULL;
    PyObject *out = NULL;
    if (r->kind == R_FD_NUM) {
        PyObject *fd = *(PyObject **)((char *)sevt + off_fd);
        out = fd ? Py_NewRef(fd) : call_generic(r, sevt);
    } else if (fi == Py_None || !Py_IS_TYPE(fi, fdinfo_type)) {
        out = call_generic(r, sevt);
    } else {
        PyObject *name = *(PyObject **)((char *)fi + off_fi_name);
        PyObject *type = *(PyObject **)((char *)fi + off_fi_type);
        if (!name || !type || !PyUnicode_CheckExact(name) || !PyUnicode_CheckExact(type)) {
            out = call_generic(r, sevt);
        } else if (r->kind == R_FD_NAME) {
            out = Py_NewRef(name);
        } else if (r->kind == R_FD_TYPECHAR) {
            PyObject *c = PyDict_GetItemWithError(r->obj, type);
            out = c ? Py_NewRef(c) : (PyErr_Occurred() ? NULL : Py_NewRef(type));
        } else { /* R_FD_DIRECTORY */
            int f = PyUnicode_CompareWithASCIIString(type, "f") == 0;
            int d = !f && PyUnicode_CompareWithASCIIString(type, "d") == 0;
            out = f || d ? directory(name, f) : Py_NewRef(Py_None);
        }
    }
    Py_DECREF(fi);
    return out;
}

static PyObject *read_open_bit(Reader *r, PyObject *evt, PyObject *sevt)
{
    PyObject *np = PyTuple_GET_ITEM(evt, 6);
    long nparams = PyLong_AsLong(np);
    if (nparams == -1 && PyErr_Occurred())
        return NULL;
    if (r->n >= nparams)
        Py_RETURN_FALSE;
    PyObject *v = ev_param(evt, r->index);
    if (!v)
        return NULL;
    if (v == Py_None) {
        Py_DECREF(v);
        Py_RETURN_FALSE;
    }
    if (!PyLong_CheckExact(v)) {
        Py_DECREF(v);
        return call_generic(r, sevt);
    }
    unsigned long long flags = PyLong_AsUnsignedLongLongMask(v);
    Py_DECREF(v);
    if (flags == (unsigned long long)-1 && PyErr_Occurred())
        return NULL;
    return PyBool_FromLong((flags & r->bits) != 0);
}

static PyObject *read_split_arg(Reader *r, PyObject *evt, PyObject *sevt)
{
    const uint8_t *p;
    uint64_t n, etype;
    if (locate(evt, r->n, &p, &n, &etype) || n == 0)
        return call_generic(r, sevt); /* absent, empty or malformed */
    PyObject *raw = PyBytes_FromStringAndSize((const char *)p, (Py_ssize_t)n);
    if (!raw)
        return NULL;
    PyObject *known = PyDict_GetItemWithError(r->texts, raw);
    if (known || PyErr_Occurred()) {
        Py_DECREF(raw);
        return known ? Py_NewRef(known) : NULL;
    }
    PyObject *texts = PyObject_CallFunctionObjArgs(r->obj, r->code, r->index, raw, NULL);
    if (!texts || !PyTuple_CheckExact(texts) || PyTuple_GET_SIZE(texts) != 2) {
        if (texts)
            PyErr_SetString(PyExc_TypeError, "a split text is a (value, resolved) tuple");
        Py_XDECREF(texts);
        Py_DECREF(raw);
        return NULL;
    }
    PyObject *resolved = PyTuple_GET_ITEM(texts, 1);
    int has = PyObject_IsTrue(resolved);
    PyObject *out = has < 0 ? NULL : Py_NewRef(has ? resolved : PyTuple_GET_ITEM(texts, 0));
    Py_DECREF(texts);
    if (out && PyDict_GET_SIZE(r->texts) >= MAX_TEXTS)
        PyDict_Clear(r->texts);
    if (out && PyDict_SetItem(r->texts, raw, out) < 0)
        Py_CLEAR(out);
    Py_DECREF(raw);
    return out;
}

static PyObject *reader_call(Reader *r, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    if (PyVectorcall_NARGS(nargsf) != 1 || kwnames) {
        PyErr_SetString(PyExc_TypeError, "a field reader takes one event");
        return NULL;
    }
    PyObject *sevt = args[0];
    if (!sevt_type || !Py_IS_TYPE(sevt, sevt_type))
        return call_generic(r, sevt);
    PyObject *evt = *(PyObject **)((char *)sevt + off_evt);
    PyObject *tinfo = *(PyObject **)((char *)sevt + off_tinfo);
    if (!evt || !tinfo || !PyTuple_Check(evt) || PyTuple_GET_SIZE(evt) < 10)
        return call_generic(r, sevt);
    switch (r->kind) {
    case R_OPEN_BIT:
        return read_open_bit(r, evt, sevt);
    case R_SPLIT_ARG:
        return read_split_arg(r, evt, sevt);
    case R_THREAD_ATTR: {
        if (tinfo == Py_None)
            Py_RETURN_NONE;
        if (!Py_IS_TYPE(tinfo, tinfo_type))
            return call_generic(r, sevt);
        PyObject *v = *(PyObject **)((char *)tinfo + r->off);
        if (!v)
            return call_generic(r, sevt);
        if (r->dflt != Py_None) {
            int truth = PyObject_IsTrue(v);
            if (truth < 0)
                return NULL;
            if (!truth)
                return Py_NewRef(r->dflt);
        }
        return Py_NewRef(v);
    }
    default: /* the fd readers: no fd without a thread */
        if (tinfo == Py_None)
            Py_RETURN_NONE;
        return read_fd(r, sevt);
    }
}

static PyObject *reader_new(PyTypeObject *tp, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"kind", "generic", "obj", "n", "bits", "default", "code", NULL};
    int kind;
    PyObject *generic, *obj = Py_None, *dflt = Py_None, *code = Py_None;
    Py_ssize_t n = 0;
    unsigned long long bits = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "iO|OnKOO:FieldReader", kwlist, &kind, &generic, &obj, &n,
                                     &bits, &dflt, &code))
        return NULL;
    if (kind < 1 || kind >= R_MAX || !PyCallable_Check(generic) || n < 0) {
        PyErr_SetString(PyExc_ValueError, "FieldReader: bad kind, generic extractor or index");
        return NULL;
    }
    if (!sevt_type) {
        PyErr_SetString(PyExc_RuntimeError, "FieldReader: set_field_types() first");
        return NULL;
    }
    Py_ssize_t off = 0;
    if (kind == R_THREAD_ATTR) {
        if (!PyUnicode_Check(obj)) {
            PyErr_SetString(PyExc_TypeError, "FieldReader: a thread reader needs the slot name");
            return NULL;
        }
        if ((off = member_offset(tinfo_type, PyUnicode_AsUTF8(obj))) < 0)
            return NULL;
    }
    if ((kind == R_FD_TYPECHAR && !PyDict_Check(obj)) || (kind == R_SPLIT_ARG && !PyCallable_Check(obj))) {
        PyErr_SetString(PyExc_TypeError, "FieldReader: obj must be a dict (typechar) or callable (split arg)");
        return NULL;
    }
    Reader *r = (Reader *)tp->tp_alloc(tp, 0);
    if (!r)
        return NULL;
    r->vectorcall = (vectorcallfunc)reader_call;
    r->kind = kind;
    r->n = n;
    r->off = off;
    r->bits = bits;
    r->generic = Py_NewRef(generic);
    r->obj = Py_NewRef(obj);
    r->dflt = Py_NewRef(dflt);
    r->code = Py_NewRef(code);
    if (!(r->index = PyLong_FromSsize_t(n)) || (kind == R_SPLIT_ARG && !(r->texts = PyDict_New()))) {
        Py_DECREF(r);
        return NULL;
    }
    return (PyObject *)r;
}

static int reader_traverse(Reader *r, visitproc visit, void *arg)
{
    Py_VISIT(r->generic);
    Py_VISIT(r->obj);
    Py_VISIT(r->dflt);
    Py_VISIT(r->code);
    Py_VISIT(r->index);
    Py_VISIT(r->texts);
    return 0;
}

static int reader_clear(Reader *r)
{
    Py_CLEAR(r->generic);
    Py_CLEAR(r->obj);
    Py_CLEAR(r->dflt);
    Py_CLEAR(r->code);
    Py_CLEAR(r->index);
    Py_CLEAR(r->texts);
    return 0;
}

static void reader_dealloc(Reader *r)
{
    PyObject_GC_UnTrack(r);
    reader_clear(r);
    Py_TYPE(r)->tp_free((PyObject *)r);
}

static PyObject *reader_plain_call(PyObject *self, PyObject *args, PyObject *kw)
{
    return PyVectorcall_Call(self, args, kw);
}

static PyMemberDef reader_members[] = {
    {"generic", T_OBJECT_EX, offsetof(Reader, generic), READONLY,
     PyDoc_STR("the Python extractor this reader stands for")},
    {NULL, 0, 0, 0, NULL},
};

static PyObject *reader_cheap(PyObject *self, void *closure)
{
    Py_RETURN_TRUE;
}

static PyGetSetDef reader_getset[] = {
    {"cheap", reader_cheap, NULL,
     PyDoc_STR("True: a few tens of ns (the filter compiler may call it up front)"), NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject ReaderType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "libscap._events.FieldReader",
    .tp_doc = PyDoc_STR("FieldReader(kind, generic, obj=None, n=0, bits=0, default=None, code=None): "
                        "a field extractor in C (see _fields.c)."),
    .tp_basicsize = sizeof(Reader),
    .tp_members = reader_members,
    .tp_getset = reader_getset,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_vectorcall_offset = offsetof(Reader, vectorcall),
    .tp_call = reader_plain_call,
    .tp_new = reader_new,
    .tp_dealloc = (destructor)reader_dealloc,
    .tp_traverse = (traverseproc)reader_traverse,
    .tp_clear = (inquiry)reader_clear,
};

PyDoc_STRVAR(set_field_types_doc,
"set_field_types(SinspEvent, FdInfo, ThreadInfo, fdinfo_unset)\n\n"
"The classes FieldReaders read the __slots__ of, and the marker of an fdinfo\n"
"not looked up yet.");

static PyObject *set_field_types(PyObject *self, PyObject *args)
{
    PyTypeObject *st, *ft, *tt;
    PyObject *unset;
    if (!PyArg_ParseTuple(args, "O!O!O!O:set_field_types", &PyType_Type, &st, &PyType_Type, &ft, &PyType_Type,
                          &tt, &unset))
        return NULL;
    Py_ssize_t o_evt, o_tinfo, o_fdinfo, o_fd, o_name, o_type;
    if ((o_evt = member_offset(st, "evt")) < 0 || (o_tinfo = member_offset(st, "tinfo")) < 0 ||
        (o_fdinfo = member_offset(st, "_fdinfo")) < 0 || (o_fd = member_offset(st, "fd")) < 0 ||
        (o_name = member_offset(ft, "name")) < 0 || (o_type = member_offset(ft, "type")) < 0)
        return NULL;
    off_evt = o_evt, off_tinfo = o_tinfo, off_fdinfo = o_fdinfo, off_fd = o_fd;
    off_fi_name = o_name, off_fi_type = o_type;
    Py_XSETREF(sevt_type, (PyTypeObject *)Py_NewRef(st));
    Py_XSETREF(fdinfo_type, (PyTypeObject *)Py_NewRef(ft));
    Py_XSETREF(tinfo_type, (PyTypeObject *)Py_NewRef(tt));
    Py_XSETREF(fdinfo_unset, Py_NewRef(unset));
    Py_RETURN_NONE;
}

static PyMethodDef field_methods[] = {
    {"set_field_types", set_field_types, METH_VARARGS, set_field_types_doc},
    {NULL, NULL, 0, NULL},
};

int fields_init_module(PyObject *m)
{
    if (!str_fdinfo && !(str_fdinfo = PyUnicode_InternFromString("fdinfo")))
        return -1;
    if (PyType_Ready(&ReaderType) < 0 || PyModule_AddObjectRef(m, "FieldReader", (PyObject *)&ReaderType) < 0 ||
        PyModule_AddFunctions(m, field_methods) < 0)
        return -1;
    static const struct { const char *name; int value; } kinds[] = {
        {"R_FD_NUM", R_FD_NUM}, {"R_FD_NAME", R_FD_NAME}, {"R_FD_TYPECHAR", R_FD_TYPECHAR},
        {"R_FD_DIRECTORY", R_FD_DIRECTORY}, {"R_OPEN_BIT", R_OPEN_BIT}, {"R_THREAD_ATTR", R_THREAD_ATTR},
        {"R_SPLIT_ARG", R_SPLIT_ARG},
    };
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (PyModule_AddIntConstant(m, kinds[i].name, kinds[i].value) < 0)
            return -1;
    return 0;
}
