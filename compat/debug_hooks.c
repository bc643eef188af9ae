/*
 * Debugging hooks a user may switch on in the environment that make some
 * isolations unsafe on some versions. Only tracemalloc does so far
 * (PYTHONTRACEMALLOC, -X tracemalloc, or a module calling
 * tracemalloc.start()); PYTHONMALLOC=debug, PYTHONDEVMODE,
 * PYTHONFAULTHANDLER, PYTHONPROFILEIMPORTTIME and PYTHONASYNCIODEBUG were
 * tried on every isolation and need nothing here.
 *
 * tracemalloc's hooks and tables are process-wide:
 * - 3.x before 3.12: its raw-allocator hook takes the GIL through
 *   PyGILState_Ensure, which knows only the thread's first (main-interpreter)
 *   state. Inside Py_NewInterpreter, once the new state is current, the first
 *   raw allocation waits for the GIL its own thread holds: the process hangs
 *   (plain `python3.11 -X tracemalloc -c "import _xxsubinterpreters as s;
 *   s.create()"` hangs the same way).
 * - 3.12 and later: an own-GIL interpreter allocates tracemalloc's table
 *   entries from its own obmalloc; stopping tracemalloc at finalization frees
 *   them into the main allocator and glibc aborts ("double free or
 *   corruption", "munmap_chunk(): invalid pointer"). CPython gh-134604 and
 *   gh-128679 (tracemalloc's state is not isolated between interpreters).
 * Whether tracemalloc is tracing is asked at each creation, not read from the
 * environment, so a module that starts it later is covered too.
 */
#include "internal.h"

#if !PH_PY2
/* 1 when tracemalloc is tracing, 0 when not or when that cannot be told
 * (the error is cleared). GIL held, main interpreter current. */
static int tracemalloc_is_tracing(void) {
    PyObject *module = PyImport_ImportModule("_tracemalloc");
    if (module == NULL) {
        PyErr_Clear();
        return 0;
    }
    PyObject *answer = PyObject_CallMethod(module, "is_tracing", NULL);
    Py_DECREF(module);
    if (answer == NULL) {
        PyErr_Clear();
        return 0;
    }
    int tracing = PyObject_IsTrue(answer) == 1;
    Py_DECREF(answer);
    return tracing;
}
#endif

#define PH_TRACEMALLOC_WHY "tracemalloc is tracing (PYTHONTRACEMALLOC or -X tracemalloc is set, or a module called tracemalloc.start())"

char *ph_debug_hook_refusal_held(int isolation) {
#if PH_PY2
    (void)isolation; /* 2.7 has no tracemalloc */
    return NULL;
#else
    if (isolation == PH_ISOLATION_MAIN || !tracemalloc_is_tracing()) return NULL;
#if PH_PY_AT_LEAST(3, 12)
    if (isolation != PH_ISOLATION_OWN_GIL) return NULL;
    return ph_copy_str(PH_TRACEMALLOC_WHY ": its process-wide tables are not safe with own-GIL interpreters "
                       "on this Python (they keep memory of the interpreter's own allocator, which stopping "
                       "tracemalloc at exit frees into the main one, and glibc kills the process; CPython "
                       "gh-134604). Unset PYTHONTRACEMALLOC, or use isolation = \"shared\"");
#else
    if (isolation != PH_ISOLATION_SHARED) return NULL; /* own-gil: refused for the version already */
    return ph_copy_str(PH_TRACEMALLOC_WHY ": before Python 3.12 its allocator hook deadlocks when a "
                       "sub-interpreter is created (it takes the GIL through PyGILState_Ensure, which does "
                       "not know sub-interpreters). Unset PYTHONTRACEMALLOC, or use isolation = \"main\"");
#endif
#endif
}

char *ph_debug_hook_refusal(ph_tstate *parent, int isolation) {
    if (isolation == PH_ISOLATION_MAIN) return NULL;
    PyEval_RestoreThread(parent);
    char *refusal = ph_debug_hook_refusal_held(isolation);
    ph_detach();
    return refusal;
}
