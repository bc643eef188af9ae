#include "Python.h"
#if PY_MAJOR_VERSION >= 3
#define IS_PY3K
#define PyInt_AsLong(o) PyLong_AsLong(o)
#endif

typedef struct { PyObject_HEAD int n; } Counter;

static PyObject *counter_add(Counter *self, PyObject *args)
{
    char *s; int len;
    if (!PyArg_ParseTuple(args, "s#:add", &s, &len)) /* no PY_SSIZE_T_CLEAN */
        return NULL;
    self->n += len;
    return PyInt_FromLong(self->n);
}

static void counter_dealloc(Counter *self) { self->ob_type->tp_free((PyObject *)self); }

static PyTypeObject CounterType = {
#ifdef IS_PY3K
    PyVarObject_HEAD_INIT(NULL, 0)
#else
    PyObject_HEAD_INIT(NULL)
    0,
#endif
    "counter.Counter", sizeof(Counter), 0, (destructor)counter_dealloc,
    0, 0, 0, (cmpfunc)counter_compare, 0,
};

#if PY_VERSION_HEX >= 0x030C0000 && !defined(HAVE_OLD)
static struct PyModuleDef def = { PyModuleDef_HEAD_INIT, "counter", NULL, -1, NULL };
PyMODINIT_FUNC PyInit_counter(void) { Py_TYPE(&CounterType) = &PyType_Type; return PyModule_Create(&def); }
#else
PyMODINIT_FUNC initcounter(void) { Py_InitModule3("counter", NULL, "doc"); }
#endif
