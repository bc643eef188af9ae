/*
 * The host's native module, _pyhost, defined once for every version.
 *
 * 3.x: multi-phase initialization (PEP 489), so each interpreter gets its
 *      own module object and its own state; on 3.12+ it declares that it
 *      supports a per-interpreter GIL, so it loads in isolated interpreters,
 *      and on 3.13+ that it runs without the GIL, so importing it leaves a
 *      free-threaded build free-threaded. That is true: its state is one
 *      counter, updated atomically, and the host-call pointer is set before
 *      Python starts; host_call itself serves interpreters in parallel.
 * 2.x: Py_InitModule4 in each interpreter, with the state in a capsule that
 *      the functions receive as `self`.
 */
#include "internal.h"

#include <stdlib.h>

typedef struct {
    /* host calls made through this interpreter's module; threads of one
     * interpreter run at once on a free-threaded build, hence atomic */
    long long calls;
} native_state;

static ph_host_call_fn host_call = NULL;

void ph_native_set_host_call(ph_host_call_fn fn) { host_call = fn; }

static native_state *state_of(PyObject *self) {
#if PH_PY2
    return (native_state *)PyCapsule_GetPointer(self, PH_NATIVE_MODULE_NAME ".state");
#else
    return (native_state *)PyModule_GetState(self);
#endif
}

PyDoc_STRVAR(call_doc,
             "call(method, payload) -> str\n\n"
             "Sends a request to the host program and returns its reply. The payload\n"
             "and the reply are text (JSON by convention); nothing else crosses.");

static PyObject *native_call(PyObject *self, PyObject *args) {
    const char *method = NULL;
    char *payload = NULL;
    Py_ssize_t payload_len = 0;
    /* et#: 3.x str is encoded to UTF-8; 2.x str and 3.x bytes pass as is. */
    if (!PyArg_ParseTuple(args, "set#:call", &method, "utf-8", &payload, &payload_len)) return NULL;
    native_state *state = state_of(self);
    if (state == NULL) {
        PyMem_Free(payload);
        return NULL;
    }
    __atomic_fetch_add(&state->calls, 1, __ATOMIC_RELAXED);
    if (host_call == NULL) {
        PyMem_Free(payload);
        PyErr_SetString(PyExc_RuntimeError, "no host program is attached to " PH_NATIVE_MODULE_NAME);
        return NULL;
    }
    int64_t interp = ph_interp_id(ph_current_interp());
    char *reply = NULL;
    size_t reply_len = 0;
    int rc;
    /* Without the GIL: the host may need other interpreters' GILs to answer. */
    Py_BEGIN_ALLOW_THREADS
    rc = host_call(interp, method, payload, (size_t)payload_len, &reply, &reply_len);
    Py_END_ALLOW_THREADS
    PyMem_Free(payload);
    PyObject *result = NULL;
    if (rc != 0) {
        PyObject *message = ph_str_from_utf8(reply ? reply : "host call failed", reply ? reply_len : 16);
        if (message != NULL) {
            PyErr_SetObject(PyExc_RuntimeError, message);
            Py_DECREF(message);
        }
    } else {
        result = ph_str_from_utf8(reply ? reply : "", reply ? reply_len : 0);
    }
    free(reply);
    return result;
}

PyDoc_STRVAR(interpreter_id_doc, "interpreter_id() -> int\n\nThe id of the interpreter running this code.");

static PyObject *native_interpreter_id(PyObject *self, PyObject *unused) {
    return ph_int_from_i64(ph_interp_id(ph_current_interp()));
}

PyDoc_STRVAR(stats_doc, "stats() -> dict\n\nCounters kept in this interpreter's module state.");

static PyObject *native_stats(PyObject *self, PyObject *unused) {
    native_state *state = state_of(self);
    if (state == NULL) return NULL;
    PyObject *stats = PyDict_New();
    PyObject *calls = ph_int_from_i64(__atomic_load_n(&state->calls, __ATOMIC_RELAXED));
    if (stats == NULL || calls == NULL || PyDict_SetItemString(stats, "calls", calls) < 0) {
        Py_XDECREF(stats);
        stats = NULL;
    }
    Py_XDECREF(calls);
    return stats;
}

static PyMethodDef native_methods[] = {
    {"call", native_call, METH_VARARGS, call_doc},
    {"interpreter_id", native_interpreter_id, METH_NOARGS, interpreter_id_doc},
    {"stats", native_stats, METH_NOARGS, stats_doc},
    {NULL, NULL, 0, NULL},
};

PyDoc_STRVAR(module_doc, "The pyhost host program's native interface.");

#if PH_PY2

static void free_state(PyObject *capsule) {
    free(PyCapsule_GetPointer(capsule, PH_NATIVE_MODULE_NAME ".state"));
}

void ph_native_register_inittab(void) {}

int ph_native_attach(void) {
    native_state *state = (native_state *)calloc(1, sizeof *state);
    if (state == NULL) return -1;
    PyObject *capsule = PyCapsule_New(state, PH_NATIVE_MODULE_NAME ".state", free_state);
    if (capsule == NULL) {
        free(state);
        return -1;
    }
    /* Creates the module in this interpreter's sys.modules; its functions
     * keep the capsule alive. */
    PyObject *module = Py_InitModule4(PH_MUT(PH_NATIVE_MODULE_NAME), native_methods, PH_MUT(module_doc), capsule,
                                      PYTHON_API_VERSION);
    Py_DECREF(capsule);
    return module ? 0 : -1;
}

#else

static PyModuleDef_Slot native_slots[] = {
#if PH_PY_AT_LEAST(3, 12)
    {Py_mod_multiple_interpreters, Py_MOD_PER_INTERPRETER_GIL_SUPPORTED},
#endif
#ifdef Py_mod_gil /* 3.13+; a build with a GIL ignores it */
    {Py_mod_gil, Py_MOD_GIL_NOT_USED},
#endif
    {0, NULL},
};

static struct PyModuleDef native_def = {
    PyModuleDef_HEAD_INIT,
    PH_NATIVE_MODULE_NAME,
    module_doc,
    sizeof(native_state), /* zeroed by Python for each module object */
    native_methods,
    native_slots,
    NULL,
    NULL,
    NULL,
};

static PyObject *init_native(void) { return PyModuleDef_Init(&native_def); }

void ph_native_register_inittab(void) { PyImport_AppendInittab(PH_NATIVE_MODULE_NAME, init_native); }

int ph_native_attach(void) { return 0; }

#endif
