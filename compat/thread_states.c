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

ph_obj *ph_tstate_frame(ph_tstate *ts) {
#if PH_PY_AT_LEAST(3, 9)
    /* 3.11+ keep frames unmaterialized; this makes the frame object, as
     * sys._current_frames does for the threads of its own interpreter. */
    PyObject *frame = (PyObject *)PyThreadState_GetFrame(ts);
#else
    PyObject *frame = (PyObject *)ts->frame;
    Py_XINCREF(frame);
#endif
    if (frame == NULL) {
        Py_INCREF(Py_None);
        return Py_None;
    }
    return frame;
}
