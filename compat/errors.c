/*
 * Exceptions captured as text. PyErr_Print is never used: with SystemExit
 * pending it exits the process, which a host must not let a module do.
 */
#include "internal.h"

#include <string.h>

/* Takes the pending exception as (type, value, traceback), value normalized. */
static int take(PyObject **type, PyObject **value, PyObject **traceback) {
#if PH_PY_AT_LEAST(3, 12)
    /* PyErr_Fetch is deprecated from 3.12: exceptions are single objects now. */
    PyObject *exc = PyErr_GetRaisedException();
    if (exc == NULL) return 0;
    *type = (PyObject *)Py_TYPE(exc);
    Py_INCREF(*type);
    *value = exc;
    *traceback = PyException_GetTraceback(exc);
    return 1;
#else
    PyErr_Fetch(type, value, traceback);
    if (*type == NULL) return 0;
    PyErr_NormalizeException(type, value, traceback);
    if (*value == NULL) {
        *value = Py_None;
        Py_INCREF(*value);
    }
#if !PH_PY2
    if (*traceback != NULL) PyException_SetTraceback(*value, *traceback);
#endif
    return 1;
#endif
}

/* A copy of the UTF-8 text of a native str or unicode object, or NULL. */
static char *text_of(PyObject *obj) {
    char *out = NULL;
    size_t len = 0;
    if (obj == NULL) return NULL;
    if (ph_str_to_utf8(obj, &out, &len) < 0) {
        PyErr_Clear();
        return NULL;
    }
    return out;
}

static char *type_name(PyObject *type) {
    /* __name__ rather than tp_name: 2.x can raise old-style class instances,
     * whose class is not a type object. */
    PyObject *name = PyObject_GetAttrString(type, "__name__");
    char *out = text_of(name);
    Py_XDECREF(name);
    if (name == NULL) PyErr_Clear();
    return out ? out : ph_copy_str("<unknown exception>");
}

static char *format_traceback(PyObject *type, PyObject *value, PyObject *traceback) {
    char *out = NULL;
    PyObject *module = PyImport_ImportModule("traceback");
    PyObject *lines = module ? PyObject_CallMethod(module, PH_MUT("format_exception"), PH_MUT("OOO"), type, value,
                                                   traceback ? traceback : Py_None)
                             : NULL;
    PyObject *empty = ph_str_from_utf8("", 0);
    PyObject *joined = (lines && empty) ? PyObject_CallMethod(empty, PH_MUT("join"), PH_MUT("O"), lines) : NULL;
    if (joined != NULL) {
        out = ph_str_of(joined);
    } else {
        PyErr_Clear();
    }
    Py_XDECREF(joined);
    Py_XDECREF(empty);
    Py_XDECREF(lines);
    Py_XDECREF(module);
    return out;
}

/* What the interpreter itself would exit with for this SystemExit (see
 * handle_system_exit in pythonrun.c): code None -> 0, an int -> itself,
 * anything else -> printed (returned in *message), and 1. */
static int system_exit_code(PyObject *value, char **message) {
    PyObject *code = PyObject_GetAttrString(value, "code");
    int result = 1;
    if (code == NULL) {
        PyErr_Clear();
    } else if (code == Py_None) {
        result = 0;
    } else if (PyLong_Check(code)
#if PH_PY2
               || PyInt_Check(code) /* PyLong_AsLong accepts a 2.x int too */
#endif
    ) {
        long n = PyLong_AsLong(code);
        if (n == -1 && PyErr_Occurred()) PyErr_Clear();
        result = (int)n;
    } else {
        *message = ph_str_of(code);
    }
    Py_XDECREF(code);
    return result;
}

int ph_error_fetch(ph_error *out) {
    PyObject *type = NULL, *value = NULL, *traceback = NULL;
    memset(out, 0, sizeof *out);
    if (!take(&type, &value, &traceback)) return 0;
    out->type_name = type_name(type);
    out->message = ph_str_of(value);
    out->is_system_exit = PyErr_GivenExceptionMatches(type, PyExc_SystemExit);
    if (out->is_system_exit) out->exit_code = system_exit_code(value, &out->exit_message);
    out->traceback = format_traceback(type, value, traceback);
    if (out->traceback == NULL) out->traceback = ph_format("%s: %s\n", out->type_name, out->message);
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(traceback);
    /* Nothing above may leave a new exception behind. */
    PyErr_Clear();
    return 1;
}

void ph_error_clear(ph_error *error) {
    free(error->type_name);
    free(error->message);
    free(error->traceback);
    free(error->exit_message);
    memset(error, 0, sizeof *error);
}

void ph_error_set_runtime(const char *message_utf8) { PyErr_SetString(PyExc_RuntimeError, message_utf8); }
