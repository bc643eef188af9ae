/*
 * Thread states, without PyGILState_*: those assume one thread state per OS
 * thread, which sub-interpreters break (one OS thread has a state in each
 * interpreter it calls into). The Rust Gil guard keeps its own table.
 *
 * Every GIL this layer takes is given back through ph_detach, which also
 * ends the thread's "gilstate" binding on 3.12+ (see below).
 */
#define PH_NEED_RUNTIME_STATE /* the binding's key lives in _PyRuntime */
#include "internal.h"

#include "pythread.h"

#if PH_PY_AT_LEAST(3, 14)
#error "compat/thread_states.c: unbind_gilstate() needs porting to this Python (3.14 keeps the binding elsewhere)"
#elif PH_PY_AT_LEAST(3, 12)
/* 3.12+ binds each OS thread to the last thread state it attached (a
 * thread-specific pointer that PyGILState_* read), and attaching the next
 * one writes through the old pointer. Deleting a state from another thread
 * clears the *deleting* thread's binding, not the owner's, so the owner is
 * left pointing at freed memory; that is what ending an interpreter from the
 * control thread did to the thread that created it (a use-after-free in
 * bind_gilstate_tstate under valgrind). The host does delete other threads'
 * states when it ends an interpreter, so a binding must not outlive the GIL
 * it came with: dropping it here keeps CPython's own invariant (the flag is
 * set exactly when the pointer names the state) and costs one TSS write. */
static void unbind_gilstate(PyThreadState *ts) {
    if (!ts->_status.bound_gilstate) return;
    ts->_status.bound_gilstate = 0;
    if (PyThread_tss_set(&_PyRuntime.autoTSSkey, NULL) != 0) Py_FatalError("pyhost: cannot unbind the gilstate");
}
#else
/* Before 3.12 attaching a state never reads the binding (only PyGILState_*
 * do), and it is set once per thread, by the first state made for it. */
static void unbind_gilstate(PyThreadState *ts) { (void)ts; }
#endif

PyThreadState *ph_detach(void) {
    PyThreadState *ts = PyThreadState_Get();
    unbind_gilstate(ts);
    return PyEval_SaveThread();
}

ph_tstate *ph_tstate_new(ph_interp *interp) { return PyThreadState_New(interp); }

void ph_tstate_acquire(ph_tstate *ts) { PyEval_RestoreThread(ts); }

ph_tstate *ph_tstate_release(void) { return ph_detach(); }

void ph_tstate_dispose_own(ph_tstate *ts) {
    /* Clearing runs Python code (thread-local destructors), so it needs the
     * GIL; deleting needs the state not to be current. */
    PyEval_RestoreThread(ts);
    PyThreadState_Clear(ts);
    ph_detach();
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
