/*
 * Creating and ending sub-interpreters.
 *
 * Py_NewInterpreter exists on every version. 3.12 added
 * Py_NewInterpreterFromConfig, whose interpreters can have their own GIL and
 * so run in parallel; those refuse single-phase extension modules, which is
 * how the host learns that a module must fall back to the main interpreter.
 */
#include "internal.h"

static void register_interp(PyInterpreterState *interp);
static void forget_interp(PyInterpreterState *interp);

#if PH_PY_AT_LEAST(3, 12)
static char *status_text(PyStatus status) {
    return ph_format("%s%s%s", status.func ? status.func : "", status.func ? ": " : "",
                     status.err_msg ? status.err_msg : "unknown error");
}
#endif

PyThreadState *ph_new_interpreter_current(int isolation, char **err) {
    PyThreadState *ts = NULL;
    *err = NULL;
    /* tracemalloc makes sub-interpreters hang or abort on some versions
     * (debug_hooks.c); refused here too, for callers that skip the host's check. */
    char *hook_refusal = ph_debug_hook_refusal_held(isolation);
    if (hook_refusal != NULL) {
        *err = hook_refusal;
        return NULL;
    }
    if (isolation == PH_ISOLATION_OWN_GIL) {
        /* Also refused here, for callers that skip the host's check. */
        char *refusal = ph_own_gil_refusal();
        if (refusal != NULL) {
            *err = refusal;
            return NULL;
        }
#if PH_PY_AT_LEAST(3, 12)
        PyInterpreterConfig config = {
            .use_main_obmalloc = 0,
            .allow_fork = 0,            /* forking a process with several GILs is unsafe */
            .allow_exec = 1,            /* subprocess (fork + exec) stays usable */
            .allow_threads = 1,
            .allow_daemon_threads = 1,  /* real modules (CherryPy) start daemon threads */
            .check_multi_interp_extensions = 1,
            .gil = PyInterpreterConfig_OWN_GIL,
        };
        PyStatus status = Py_NewInterpreterFromConfig(&ts, &config);
        if (PyStatus_Exception(status)) {
            *err = status_text(status);
            ts = NULL; /* the parent is current again, its GIL held */
        }
#endif
    } else {
        ts = Py_NewInterpreter();
        if (ts == NULL) *err = ph_copy_str("Py_NewInterpreter failed");
    }
    return ts;
}

ph_tstate *ph_interpreter_new(ph_tstate *parent, int isolation, char **err) {
    PyEval_RestoreThread(parent);
    PyThreadState *ts = ph_new_interpreter_current(isolation, err);
    if (ts == NULL) {
        ph_detach();
        return NULL;
    }
    /* The new state is current now, and its GIL held. */
    register_interp(ts->interp);
    if (ph_native_attach() < 0) {
        ph_error error;
        if (ph_error_fetch(&error)) {
            *err = ph_format("could not create the " PH_NATIVE_MODULE_NAME " module: %s", error.traceback);
            ph_error_clear(&error);
        }
        ph_detach();
        ph_interpreter_end(ts, parent, isolation);
        return NULL;
    }
    ph_detach();
    return ts;
}

#if PH_PY_AT_LEAST(3, 0) && !PH_PY_AT_LEAST(3, 10)
/* Before 3.10, threading._shutdown, which Py_EndInterpreter runs, asserts
 * that threading's "main thread" still holds its thread-state lock. In a
 * sub-interpreter that thread is whichever one first imported threading:
 * the host thread that loaded the module, whose state is long gone and its
 * lock released. So every interpreter ended on 3.9 printed "Exception
 * ignored in: <module 'threading'> ... assert tlock.locked()" (3.10 skips
 * that step off the main thread: bpo-1596321). Taking the released lock
 * again makes the assertion hold; _shutdown releases it at once and goes on
 * to join the other threads as before. Best effort: any error is dropped. */
static void rearm_threading_main_lock(void) {
    PyObject *threading = PyDict_GetItemString(PyImport_GetModuleDict(), "threading"); /* borrowed */
    if (threading == NULL) return;
    PyObject *main = PyObject_GetAttrString(threading, "_main_thread");
    PyObject *lock = main ? PyObject_GetAttrString(main, "_tstate_lock") : NULL;
    PyObject *stopped = main ? PyObject_GetAttrString(main, "_is_stopped") : NULL;
    if (lock != NULL && lock != Py_None && stopped == Py_False) {
        PyObject *locked = PyObject_CallMethod(lock, "locked", NULL);
        if (locked == Py_False) Py_XDECREF(PyObject_CallMethod(lock, "acquire", "O", Py_False));
        Py_XDECREF(locked);
    }
    Py_XDECREF(stopped);
    Py_XDECREF(lock);
    Py_XDECREF(main);
    PyErr_Clear();
}
#else
static void rearm_threading_main_lock(void) {}
#endif

/* 3.13: a host thread that runs Python code (stopping a module, say) gets
 * a threading._DummyThread, and a thread-local object whose __del__ takes
 * it out of threading._active when the thread's state is cleared. For the
 * thread ending the interpreter that happens inside Py_EndInterpreter,
 * after threading's globals are gone: "Exception ignored in:
 * _DeleteDummyThreadOnDel.__del__ ... TypeError: 'NoneType' object does not
 * support the context manager protocol". Dropping the reference here runs
 * that __del__ now, while threading is whole. Other versions have no such
 * attribute, and nothing happens. Best effort: any error is dropped. */
static void drop_dummy_thread_now(void) {
    PyObject *threading = PyDict_GetItemString(PyImport_GetModuleDict(), "threading"); /* borrowed */
    if (threading == NULL) return;
    PyObject *info = PyObject_GetAttrString(threading, "_thread_local_info");
    if (info != NULL && PyObject_HasAttrString(info, "_track_dummy_thread_ref")) {
        (void)PyObject_DelAttrString(info, "_track_dummy_thread_ref");
    }
    Py_XDECREF(info);
    PyErr_Clear();
}

void ph_interpreter_end(ph_tstate *ts, ph_tstate *parent, int isolation) {
    PyEval_RestoreThread(ts);
    ph_flush_std_streams();
    rearm_threading_main_lock();
    drop_dummy_thread_now();
    forget_interp(ts->interp);
    Py_EndInterpreter(ts);
    /* No thread state is current now. An own GIL ended with its interpreter;
     * a shared one is still held and must be released through a state of
     * an interpreter that still exists. */
    if (isolation != PH_ISOLATION_OWN_GIL) {
        PyThreadState_Swap(parent);
        ph_detach();
    }
}

ph_interp *ph_tstate_interp(ph_tstate *ts) { return ts->interp; }

#if PH_PY_AT_LEAST(3, 7)

int64_t ph_interp_id(ph_interp *interp) { return PyInterpreterState_GetID(interp); }
static void register_interp(PyInterpreterState *interp) { (void)interp; }
static void forget_interp(PyInterpreterState *interp) { (void)interp; }

#else

/* Before 3.7 interpreters have no id. Give them the same ones 3.7+ does
 * (main 0, then 1, 2, ... never reused), so logs and reports read alike on
 * every version. Only live interpreters are in the table. */
#include <pthread.h>
#include <stdlib.h>

typedef struct {
    PyInterpreterState *interp;
    int64_t id;
} id_entry;

static pthread_mutex_t ids_lock = PTHREAD_MUTEX_INITIALIZER;
static id_entry *ids = NULL;
static size_t ids_len = 0, ids_cap = 0;
static int64_t next_id = 0;

static void register_interp(PyInterpreterState *interp) {
    pthread_mutex_lock(&ids_lock);
    if (ids_len == ids_cap) {
        size_t cap = ids_cap ? ids_cap * 2 : 16;
        id_entry *grown = (id_entry *)realloc(ids, cap * sizeof *ids);
        if (grown != NULL) {
            ids = grown;
            ids_cap = cap;
        }
    }
    if (ids_len < ids_cap) ids[ids_len++] = (id_entry){interp, next_id};
    next_id++;
    pthread_mutex_unlock(&ids_lock);
}

static void forget_interp(PyInterpreterState *interp) {
    pthread_mutex_lock(&ids_lock);
    for (size_t i = 0; i < ids_len; i++) {
        if (ids[i].interp == interp) {
            ids[i] = ids[--ids_len];
            break;
        }
    }
    pthread_mutex_unlock(&ids_lock);
}

int64_t ph_interp_id(ph_interp *interp) {
    int64_t id = -1;
    pthread_mutex_lock(&ids_lock);
    for (size_t i = 0; i < ids_len; i++) {
        if (ids[i].interp == interp) id = ids[i].id;
    }
    pthread_mutex_unlock(&ids_lock);
    return id;
}

#endif

void ph_interp_register_main(void) { register_interp(ph_current_interp()); }

size_t ph_interp_thread_count(ph_interp *interp) {
    size_t count = 0;
    for (PyThreadState *t = PyInterpreterState_ThreadHead(interp); t != NULL; t = PyThreadState_Next(t)) count++;
    return count;
}
