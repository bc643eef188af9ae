/*
 * legacy_tally: a small C extension written the Python 2 way, as the native
 * part of the legacy_cext module: Py_InitModule3, PyString_*, PyInt_*.
 *
 * It builds and imports on 2.7 only. On 3.x every one of those names is
 * gone; GCC 12 only warns about the undeclared calls, so without pyhost's
 * -Werror flags and symbol check it would build, then fail at import
 * ("undefined symbol: PyString_FromFormat"). legacy_cext_ported is this
 * file ported with pyhost/legacy_compat.h.
 */
#include <Python.h>

/* greet("ops") -> "hello, ops" (a str: text) */
static PyObject *
tally_greet(PyObject *self, PyObject *args)
{
    const char *name;

    if (!PyArg_ParseTuple(args, "s:greet", &name))
        return NULL;
    return PyString_FromFormat("hello, %s", name);
}

/* add(2, 3) -> 5 */
static PyObject *
tally_add(PyObject *self, PyObject *args)
{
    PyObject *a, *b;

    if (!PyArg_ParseTuple(args, "OO:add", &a, &b))
        return NULL;
    if (!PyInt_Check(a) || !PyInt_Check(b)) {
        PyErr_SetString(PyExc_TypeError, "add() takes two ints");
        return NULL;
    }
    return PyInt_FromLong(PyInt_AsLong(a) + PyInt_AsLong(b));
}

/* length("abc") -> 3: the string's size in bytes */
static PyObject *
tally_length(PyObject *self, PyObject *args)
{
    PyObject *text;

    if (!PyArg_ParseTuple(args, "O:length", &text))
        return NULL;
    if (!PyString_Check(text)) {
        PyErr_SetString(PyExc_TypeError, "length() takes a str");
        return NULL;
    }
    return PyInt_FromLong((long)PyString_Size(text));
}

static PyMethodDef tally_methods[] = {
    {"greet", tally_greet, METH_VARARGS, "greet(name) -> 'hello, name'"},
    {"add", tally_add, METH_VARARGS, "add(a, b) -> a + b"},
    {"length", tally_length, METH_VARARGS, "length(s) -> len(s) in bytes"},
    {NULL, NULL, 0, NULL}
};

PyMODINIT_FUNC
initlegacy_tally(void)
{
    PyObject *m;

    m = Py_InitModule3("legacy_tally", tally_methods, "Counting, the Python 2 way.");
    if (m == NULL)
        return;
    PyModule_AddIntConstant(m, "VERSION", 2);
}
