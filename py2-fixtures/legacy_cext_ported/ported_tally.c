/*
 * ported_tally: legacy_cext's legacy_tally.c ported with
 * pyhost/legacy_compat.h. The functions are unchanged: PyInt_* comes from
 * py3c (PyLong_* on 3.x), PyString_* from the header once this file says its
 * strings are text. Only the init function changed, into PYHOST_MODULE:
 * Py_InitModule3 on 2.7, multi-phase init on 3.x, so own-GIL interpreters
 * (3.12+) import it too.
 */
#define PY_SSIZE_T_CLEAN
#define PYHOST_PYSTRING_IS_TEXT /* greetings and names are text: str on 2.7 and on 3.x */
#include <pyhost/legacy_compat.h>

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

/* length("abc") -> 3: the string's size in bytes (UTF-8 on 3.x) */
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

PYHOST_MODULE(ported_tally, "Counting, ported with pyhost/legacy_compat.h.", tally_methods, tally_exec)

/* What initlegacy_tally did after Py_InitModule3. */
static int
tally_exec(PyObject *m)
{
    return PyModule_AddIntConstant(m, "VERSION", 2);
}
