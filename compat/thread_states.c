/*
 * Thread states, without PyGILState_*: those assume one thread state per OS
 * thread, which sub-interpreters break (one OS thread has a state in each
 * interpreter it calls into). The Rust Gil guard keeps its own table.
 */
#include "internal.h"

#include "pythread.h"

ph_tstate *ph_tstate_new(ph_interp *interp) { return PyThreadState_New(interp); }

void ph_tstate_acquire(ph_tstate *ts) { PyEval_RestoreThread(ts); }

ph_tstate *ph_tstate_release(void) { return PyEval_SaveThread(); }

void ph_tstate_dispose_own(ph_tstate *ts) {
    /* Clearing runs Python code (thread-local destructors), so it needs the
     * GIL; deleting needs the state not to be current. */
    PyEval_RestoreThread(ts);
    PyThreadState_Clear(ts);
    PyEval_SaveThread();
    PyThreadState_Delete(ts);
}

void ph_tstate_dispose_other(ph_tstate *ts) {
    PyThreadState_Clear(ts);
    PyThreadState_Delete(ts);
}

unsigned long ph_thread_ident(void) { return PyThread_get_thread_ident(); }
