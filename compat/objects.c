/* Owned-reference helpers and code execution, identical in use on 2.x and 3.x. */
#include "internal.h"
#include <string.h>

void ph_incref(ph_obj *obj) { Py_INCREF(obj); }

/* A function, not the macro: its body differs between versions (immortal
 * objects in 3.12, biased reference counts in free-threaded builds). */
void ph_decref(ph_obj *obj) { Py_DECREF(obj); }

ph_obj *ph_none(void) {
    Py_INCREF(Py_None);
    return Py_None;
}

int ph_is_none(ph_obj *obj) { return obj == Py_None; }

ph_obj *ph_import(const char *name_utf8) { return PyImport_ImportModule(name_utf8); }

ph_obj *ph_getattr(ph_obj *obj, const char *name_utf8) { return PyObject_GetAttrString(obj, name_utf8); }

int ph_setattr(ph_obj *obj, const char *name_utf8, ph_obj *value) {
    return PyObject_SetAttrString(obj, name_utf8, value);
}

ph_obj *ph_call(ph_obj *callable, ph_obj *args) {
    if (args != NULL) return PyObject_CallObject(callable, args);
    PyObject *empty = PyTuple_New(0);
    if (empty == NULL) return NULL;
    PyObject *result = PyObject_CallObject(callable, empty);
    Py_DECREF(empty);
    return result;
}

ph_obj *ph_call_method0(ph_obj *obj, const char *name_utf8) {
    return PyObject_CallMethod(obj, PH_MUT(name_utf8), NULL);
}

ph_obj *ph_tuple_new(size_t len) { return PyTuple_New((Py_ssize_t)len); }

int ph_tuple_set(ph_obj *tuple, size_t index, ph_obj *item) {
    return PyTuple_SetItem(tuple, (Py_ssize_t)index, item);
}

int64_t ph_len(ph_obj *obj) { return (int64_t)PyObject_Length(obj); }

ph_obj *ph_item(ph_obj *sequence, size_t index) { return PySequence_GetItem(sequence, (Py_ssize_t)index); }

ph_obj *ph_int_from_i64(int64_t value) {
#if PH_PY2
    /* A 2.x int where it fits, as 2.x code expects (no "L" suffix). */
    if (value >= LONG_MIN && value <= LONG_MAX) return PyInt_FromLong((long)value);
#endif
    return PyLong_FromLongLong((long long)value);
}

int ph_int_as_i64(ph_obj *obj, int64_t *value) {
#if PH_PY2
    if (PyInt_Check(obj)) {
        *value = PyInt_AsLong(obj);
        return 0;
    }
#endif
    long long n = PyLong_AsLongLong(obj);
    if (n == -1 && PyErr_Occurred()) return -1;
    *value = (int64_t)n;
    return 0;
}

int ph_is_true(ph_obj *obj) { return PyObject_IsTrue(obj); }

ph_obj *ph_main_dict(void) {
    PyObject *main = PyImport_AddModule("__main__"); /* borrowed */
    return main ? PyModule_GetDict(main) : NULL;
}

ph_obj *ph_eval(const char *expression_utf8, ph_obj *globals) {
    if (globals == NULL) globals = ph_main_dict();
    if (globals == NULL) return NULL;
    return PyRun_String(expression_utf8, Py_eval_input, globals, globals);
}

int ph_exec(const char *source, size_t len, const char *filename, ph_obj *globals) {
    /* builtins.compile on bytes honours a PEP 263 coding cookie on both 2.x
     * and 3.x, which PyRun_String's UTF-8 assumption would not. */
    PyObject *builtins = PyImport_ImportModule(PH_PY2 ? "__builtin__" : "builtins");
    PyObject *src = PyBytes_FromStringAndSize(source, (Py_ssize_t)len);
    PyObject *name = ph_path_from_fs(filename, strlen(filename));
    PyObject *code = NULL, *result = NULL;
    if (globals == NULL) globals = ph_main_dict();
    if (builtins && src && name && globals) {
        code = PyObject_CallMethod(builtins, PH_MUT("compile"), PH_MUT("OOsii"), src, name, "exec", 0, 1);
    }
    if (code != NULL) {
#if PH_PY2
        result = PyEval_EvalCode((PyCodeObject *)code, globals, globals);
#else
        result = PyEval_EvalCode(code, globals, globals);
#endif
    }
    Py_XDECREF(result);
    Py_XDECREF(code);
    Py_XDECREF(name);
    Py_XDECREF(src);
    Py_XDECREF(builtins);
    return result ? 0 : -1;
}

static void flush(const char *name) {
    PyObject *stream = PySys_GetObject(PH_MUT(name)); /* borrowed */
    if (stream == NULL || stream == Py_None) return;
    PyObject *result = PyObject_CallMethod(stream, PH_MUT("flush"), NULL);
    if (result == NULL) PyErr_Clear();
    Py_XDECREF(result);
}

void ph_flush_std_streams(void) {
    flush("stderr");
    flush("stdout");
}

int ph_sys_set_argv(const char *const *argv, size_t argc) {
    PyObject *list = PyList_New(0);
    if (list == NULL) return -1;
    for (size_t i = 0; i < argc; i++) {
        PyObject *item = ph_path_from_fs(argv[i], strlen(argv[i]));
        if (item == NULL || PyList_Append(list, item) < 0) {
            Py_XDECREF(item);
            Py_DECREF(list);
            return -1;
        }
        Py_DECREF(item);
    }
    int rc = PySys_SetObject(PH_MUT("argv"), list);
    Py_DECREF(list);
    return rc;
}
