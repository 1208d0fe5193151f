/* What _events.c shares with _fields.c (both are the libscap._events module). */
#ifndef FALCO_PY_EVENTS_H
#define FALCO_PY_EVENTS_H
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

/* Event.param(i): parameter i decoded (None when empty); the Python slow path for
 * anything the C tables do not cover. */
PyObject *ev_param(PyObject *self, PyObject *arg);
/* The bytes of parameter i of a well-formed event: 0 with *p, *n, *etype set; -1
 * for anything the Python slow path must handle. */
int locate(PyObject *self, Py_ssize_t i, const uint8_t **p, uint64_t *n, uint64_t *etype);
/* The offset of __slots__ member ``name`` of ``tp`` (-1 with TypeError otherwise). */
Py_ssize_t member_offset(PyTypeObject *tp, const char *name);

/* A slot's value (borrowed), AttributeError if unset. */
static inline PyObject *get_slot(PyObject *o, Py_ssize_t off, const char *name)
{
    PyObject *v = *(PyObject **)((char *)o + off);
    if (!v)
        PyErr_Format(PyExc_AttributeError, "%s is not set", name);
    return v;
}

/* _fields.c: the FieldReader type, added to the module. */
int fields_init_module(PyObject *m);
#endif
