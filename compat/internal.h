/*
 * Shared by the compat/ C files only: the one place that includes Python.h. Rust never
 * sees this file; it sees pyhost_compat.h.
 */
#ifndef PYHOST_COMPAT_INTERNAL_H
#define PYHOST_COMPAT_INTERNAL_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "pyhost_compat.h"

#if PY_MAJOR_VERSION == 3 && PY_MINOR_VERSION < 5
#error "pyhost builds against Python 2.7 or 3.5 and later"
#endif

#define PH_PY2 (PY_MAJOR_VERSION == 2)
/* True when the headers are at least major.minor (any release level). */
#define PH_PY_AT_LEAST(major, minor) (PY_VERSION_HEX >= (((major) << 24) | ((minor) << 16)))

/* _PyRuntime, the process-wide runtime state, which only CPython's internal
 * headers describe, for the files that define PH_NEED_RUNTIME_STATE before
 * including this one (3.12 and 3.13 only: what they read there moves in
 * 3.14). 3.12's public headers, included above without Py_BUILD_CORE, define
 * _PyGC_FINALIZED as a macro that the internal pycore_gc.h then defines as a
 * function, so the macro goes first. */
#if defined(PH_NEED_RUNTIME_STATE) && PH_PY_AT_LEAST(3, 12) && !PH_PY_AT_LEAST(3, 14)
#undef _PyGC_FINALIZED
#define Py_BUILD_CORE 1
#include "internal/pycore_runtime.h"
#undef Py_BUILD_CORE
#endif

/* PyModuleObject, whose md_gil says whether an extension module declared
 * that it runs without the GIL, for the file that defines
 * PH_NEED_MODULE_OBJECT (free-threaded builds only: md_gil exists there). */
#if defined(PH_NEED_MODULE_OBJECT) && defined(Py_GIL_DISABLED)
#define Py_BUILD_CORE 1
#include "internal/pycore_moduleobject.h"
#undef Py_BUILD_CORE
#endif

/* Python 2.7 declares many parameters `char *` that 3.x declares `const char *`
 * (PyObject_CallMethod, PySys_GetObject, Py_InitModule4...). Passing through
 * this cast compiles on both without warnings; 2.7 does not write to them. */
#define PH_MUT(s) ((char *)(s))

/* malloc'd copies, so every buffer we hand out is freed with ph_free. */
char *ph_copy(const char *data, size_t len);
char *ph_copy_str(const char *text);
/* printf into a new buffer. */
char *ph_format(const char *format, ...);

/* Releases the GIL the calling thread holds and leaves no thread state
 * current, like PyEval_SaveThread, and ends the thread's gilstate binding, so
 * that another thread may delete the state (see thread_states.c). Every GIL
 * compat takes is given back through this. */
PyThreadState *ph_detach(void);

/* The interpreter the calling thread is running (GIL held). */
PyInterpreterState *ph_current_interp(void);

/* Creates a sub-interpreter as the host makes them (own GIL or shared), with
 * the GIL of the calling thread's current state held. Returns its first
 * state, current now with its GIL held; or NULL, a message in *err and the
 * caller's state current again. ph_interpreter_new and the soak's baseline
 * share it, so both make exactly the same interpreter. */
PyThreadState *ph_new_interpreter_current(int isolation, char **err);
/* ph_debug_hook_refusal with the main interpreter's GIL held (debug_hooks.c). */
char *ph_debug_hook_refusal_held(int isolation);

/* Gives the main interpreter its id (0) where Python has no ids (< 3.7). */
void ph_interp_register_main(void);

/* The native module: on 3.x an inittab entry added before initialization
 * (multi-phase init makes a fresh module per interpreter); on 2.x created
 * explicitly in each interpreter, because 2.x's import machinery would copy
 * the first interpreter's module dict, state pointer included, into the next. */
void ph_native_register_inittab(void);
int ph_native_attach(void);

#endif
