/*
 * The baseline for `pyhost bench`: the host-to-module call the Rust layer
 * makes (take the interpreter's GIL with this thread's state, call a method,
 * release), written straight against the C API. The bench prints the Rust
 * layer's cost as a ratio to this, measured in the same run.
 */
#include "internal.h"

int ph_bench_raw_calls(ph_tstate *ts, ph_obj *obj, const char *method, size_t count) {
    for (size_t i = 0; i < count; i++) {
        PyEval_RestoreThread(ts);
        PyObject *result = PyObject_CallMethod(obj, PH_MUT(method), NULL);
        if (result == NULL) {
            PyErr_Clear();
            ph_detach();
            return -1;
        }
        Py_DECREF(result);
        PyEval_SaveThread();
    }
    /* Leave the thread unbound, as every other release in compat does. */
    PyEval_RestoreThread(ts);
    ph_detach();
    return 0;
}
