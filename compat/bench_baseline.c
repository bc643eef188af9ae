/*
 * The baselines for `pyhost bench`, written straight against the C API:
 *  - the host-to-module call the Rust layer makes (take the interpreter's GIL
 *    with this thread's state, call a method, release); the bench prints the
 *    Rust layer's cost as a ratio to this, measured in the same run;
 *  - notify delivery one event per GIL hold (`pyhost bench notify`): the
 *    same call per event as the host's batches make, with an acquire and a
 *    release around each;
 *  - one cycle of `pyhost bench soak`: an interpreter made, a script run in
 *    it, the interpreter ended, with nothing of the host around it; the soak
 *    prints the host's memory growth per restart beside this one's;
 *  - `pyhost bench scale`: N interpreters made and kept, each running a
 *    script (the module's import), then ended: what the host's start, memory
 *    and shutdown of N modules are set against. Own-GIL ones are also made
 *    from several threads at once (src/python/baseline.rs, bare_parallel),
 *    each thread with its own main-interpreter state, which
 *    ph_bench_bare_new takes as it is: the parallel start's baseline.
 */
#include "internal.h"

#include <unistd.h>

#include <string.h>

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

int ph_bench_raw_notify(ph_tstate *ts, ph_obj *deliver, ph_obj *obj, const char *const *events,
                        const char *const *payloads, size_t count) {
    for (size_t i = 0; i < count; i++) {
        PyEval_RestoreThread(ts);
        PyObject *event = ph_str_from_utf8(events[i], strlen(events[i]));
        PyObject *payload = ph_str_from_utf8(payloads[i], strlen(payloads[i]));
        PyObject *result = NULL;
        if (event != NULL && payload != NULL) result = PyObject_CallFunctionObjArgs(deliver, obj, event, payload, NULL);
        Py_XDECREF(event);
        Py_XDECREF(payload);
        if (result == NULL) {
            PyErr_Clear();
            ph_detach();
            return -1;
        }
        Py_DECREF(result);
        PyEval_SaveThread();
    }
    PyEval_RestoreThread(ts);
    ph_detach();
    return 0;
}

/* The script's exception as text in *err; the exception is cleared. */
static void take_error(char **err) {
    ph_error error;
    if (ph_error_fetch(&error)) {
        *err = ph_copy_str(error.traceback ? error.traceback : "the soak script raised");
        ph_error_clear(&error);
    } else {
        *err = ph_copy_str("the soak script failed without an exception");
    }
}

static int run_in_main(const char *script, char **err) {
    /* A fresh namespace per cycle, as a module imported anew gets. */
    PyObject *globals = PyDict_New();
    int status = -1;
    if (globals != NULL && PyDict_SetItemString(globals, "__builtins__", PyEval_GetBuiltins()) == 0) {
        status = ph_exec(script, strlen(script), "<soak baseline>", globals);
    }
    if (status < 0) take_error(err);
    if (globals != NULL) PyDict_Clear(globals); /* its functions refer back to it */
    Py_XDECREF(globals);
    return status;
}

int ph_bench_soak_cycle(ph_tstate *main_ts, int isolation, const char *script, char **err) {
    /* Every release leaves the thread unbound (ph_detach), as everywhere in
     * compat; what happens in between is plain CPython. */
    *err = NULL;
    PyEval_RestoreThread(main_ts);
    if (isolation == PH_ISOLATION_MAIN) {
        int status = run_in_main(script, err);
        ph_detach();
        return status;
    }
    PyThreadState *ts = ph_new_interpreter_current(isolation, err);
    if (ts == NULL) {
        ph_detach();
        return -1;
    }
    int status = ph_native_attach();
    if (status == 0) status = ph_exec(script, strlen(script), "<soak baseline>", NULL);
    if (status < 0) take_error(err);
    ph_flush_std_streams();
    /* A joined thread can still own its thread state for a moment: on 2.7
     * join() returns before the thread deletes it, and Py_EndInterpreter
     * aborts while another state exists. Any embedder has to wait for it
     * too (the host does, in teardown.rs), so this is no extra work. */
    for (int waited_ms = 0; ph_interp_thread_count(ts->interp) > 1; waited_ms++) {
        if (waited_ms == 10000) {
            if (*err == NULL) *err = ph_copy_str("a thread of the soak script was still alive after 10 s");
            ph_detach(); /* the interpreter is left alive: ending it would abort */
            return -1;
        }
        Py_BEGIN_ALLOW_THREADS
        usleep(1000);
        Py_END_ALLOW_THREADS
    }
    Py_EndInterpreter(ts);
    /* As in ph_interpreter_end: an own GIL ended with its interpreter; a
     * shared one is still held, and is released through the main state. */
    if (isolation != PH_ISOLATION_OWN_GIL) {
        PyThreadState_Swap(main_ts);
        ph_detach();
    }
    return status;
}

/* Ends the current interpreter; a shared GIL is handed back through main_ts. */
static void end_current(PyThreadState *ts, ph_tstate *main_ts, int isolation) {
    Py_EndInterpreter(ts);
    if (isolation != PH_ISOLATION_OWN_GIL) {
        PyThreadState_Swap(main_ts);
        ph_detach();
    }
}

ph_tstate *ph_bench_bare_new(ph_tstate *main_ts, int isolation, const char *script, char **err) {
    *err = NULL;
    PyEval_RestoreThread(main_ts);
    PyThreadState *ts = ph_new_interpreter_current(isolation, err);
    if (ts == NULL) {
        ph_detach();
        return NULL;
    }
    if (ph_exec(script, strlen(script), "<scale baseline>", NULL) < 0) {
        take_error(err);
        end_current(ts, main_ts, isolation);
        return NULL;
    }
    ph_detach();
    return ts;
}

void ph_bench_bare_end(ph_tstate *ts, ph_tstate *main_ts, int isolation) {
    PyEval_RestoreThread(ts);
    end_current(ts, main_ts, isolation);
}
