/*
 * Free-threaded CPython (3.13t, built --disable-gil, Py_GIL_DISABLED): the
 * GIL is off until an extension module that did not declare
 * Py_MOD_GIL_NOT_USED is imported, which turns it on for good in the
 * importing interpreter (and every interpreter that shares its GIL) with a
 * RuntimeWarning. What the host reports per module comes from here.
 *
 * Which modules declared it is only in the module object (md_gil), which
 * only the internal headers describe.
 */
#define PH_NEED_MODULE_OBJECT
#include "internal.h"

#include <string.h>

int ph_free_threaded(void) {
#ifdef Py_GIL_DISABLED
    return 1;
#else
    return 0;
#endif
}

#ifdef Py_GIL_DISABLED

/* Appends name and a newline to the buffer *out of *len bytes. */
static int append_line(char **out, size_t *len, const char *name, size_t name_len) {
    char *grown = (char *)realloc(*out, *len + name_len + 2);
    if (grown == NULL) return -1;
    memcpy(grown + *len, name, name_len);
    grown[*len + name_len] = '\n';
    grown[*len + name_len + 1] = '\0';
    *out = grown;
    *len += name_len + 1;
    return 0;
}

/* Extension modules (those made from a PyModuleDef: pure-Python modules have
 * none) whose md_gil says they need the GIL. */
static char *modules_needing_gil(void) {
    PyObject *modules = PyImport_GetModuleDict(); /* borrowed */
    PyObject *items = modules ? PyDict_Items(modules) : NULL;
    if (items == NULL) {
        PyErr_Clear();
        return NULL;
    }
    char *out = NULL;
    size_t len = 0;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(items); i++) {
        PyObject *item = PyList_GET_ITEM(items, i);
        PyObject *name = PyTuple_GET_ITEM(item, 0), *module = PyTuple_GET_ITEM(item, 1);
        if (!PyModule_Check(module) || PyModule_GetDef(module) == NULL) continue;
        if (((PyModuleObject *)module)->md_gil != Py_MOD_GIL_USED) continue;
        Py_ssize_t name_len = 0;
        const char *text = PyUnicode_Check(name) ? PyUnicode_AsUTF8AndSize(name, &name_len) : NULL;
        if (text == NULL) {
            PyErr_Clear();
            continue;
        }
        if (append_line(&out, &len, text, (size_t)name_len) < 0) break;
    }
    Py_DECREF(items);
    if (out != NULL && len > 0) out[len - 1] = '\0'; /* no trailing newline */
    return out;
}

int ph_gil_status(char **needed_by) {
    *needed_by = NULL;
    /* sys._is_gil_enabled() reads this interpreter's GIL, which is its own
     * for an own-GIL interpreter and the main interpreter's otherwise. */
    PyObject *is_enabled = PySys_GetObject("_is_gil_enabled"); /* borrowed */
    PyObject *answer = is_enabled ? PyObject_CallNoArgs(is_enabled) : NULL;
    int enabled = answer ? PyObject_IsTrue(answer) : -1;
    Py_XDECREF(answer);
    if (enabled < 0) {
        PyErr_Clear();
        enabled = 1; /* cannot tell: say the GIL may be on, the safe claim */
    }
    *needed_by = modules_needing_gil();
    return enabled;
}

#else

int ph_gil_status(char **needed_by) {
    *needed_by = NULL;
    return -1;
}

#endif
