/*
 * pyhost's version-abstraction layer: one C API with the same signatures on
 * Python 2.7 and every Python 3 from 3.5 on.
 *
 * This header is what the Rust side sees (bindgen reads it). It deliberately
 * does NOT include Python.h: the CPython types are opaque here, so the
 * generated bindings are identical for every interpreter, and the only code
 * that knows which Python it was compiled against is in the compat/ C files.
 *
 * Conventions:
 *  - "GIL held" means: the calling thread has made a thread state of the
 *    object's interpreter current (ph_tstate_acquire) and not released it.
 *  - Functions returning ph_obj* return a NEW reference, or NULL with a
 *    Python exception set (fetch it with ph_error_fetch).
 *  - Text crosses this boundary as UTF-8, file-system paths as raw bytes.
 *  - Buffers handed out by this layer are freed with ph_free.
 */
#ifndef PYHOST_COMPAT_H
#define PYHOST_COMPAT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Same struct tags as CPython's PyObject, PyThreadState, PyInterpreterState. */
typedef struct _object ph_obj;
typedef struct _ts ph_tstate;
typedef struct _is ph_interp;

void ph_free(void *buffer);

/* ---------------------------------------------------------------- version */

/* PY_VERSION_HEX of the headers this layer was compiled against. */
unsigned long ph_header_hexversion(void);
/* Py_GetVersion() of the libpython actually loaded; safe before initialization. */
const char *ph_runtime_version(void);
/* 1 when interpreters with their own GIL can be made safely here (3.12.4+). */
int ph_supports_own_gil(void);
/* NULL when they can; otherwise why not, for people (free with ph_free). */
char *ph_own_gil_refusal(void);

/* -------------------------------------------------------------- lifecycle */

typedef struct ph_init_config {
    /* File-system bytes, NUL-terminated; NULL leaves Python's default. The
     * host passes the real interpreter's path so that prefix computation
     * (and sys.executable) match a standalone interpreter's. */
    const char *program_name;
    const char *home;
    /* Replaces the computed module search path when search_path_len > 0. */
    const char *const *search_path;
    size_t search_path_len;
    /* sys.argv of the main interpreter (file-system bytes). */
    const char *const *argv;
    size_t argc;
    int import_site;
    /* 0 for a host program: the host owns SIGINT and SIGTERM. */
    int install_signal_handlers;
} ph_init_config;

/* Initializes the main interpreter and registers the host's native module.
 * Returns with the GIL released; *main_ts is the calling thread's state in
 * the main interpreter. Returns 0, or -1 with a message in *err (ph_free). */
int ph_initialize(const ph_init_config *config, ph_tstate **main_ts, char **err);
/* Finalizes Python. main_ts: the calling thread's main-interpreter state, GIL
 * not held. Returns 0, or Py_FinalizeEx's -1 when flushing buffers failed. */
int ph_finalize(ph_tstate *main_ts);

/* ----------------------------------------------------------- interpreters */

#define PH_ISOLATION_SHARED 1 /* classic sub-interpreter, shares the main GIL */
#define PH_ISOLATION_OWN_GIL 2 /* 3.12+: its own GIL, runs in parallel */
#define PH_ISOLATION_MAIN 3    /* the main interpreter itself (the soak's baseline only) */

/* Creates a sub-interpreter. parent: a thread state of the calling thread in
 * any live interpreter, GIL not held (the GIL is taken and released here).
 * Returns the new interpreter's thread state for the calling thread, with no
 * GIL held; or NULL with a message in *err (ph_free). */
ph_tstate *ph_interpreter_new(ph_tstate *parent, int isolation, char **err);
/* Ends a sub-interpreter. ts: the calling thread's state in it, and the
 * interpreter's only thread state; GIL not held. parent: a state of the
 * calling thread in the main interpreter, needed to hand back a shared GIL.
 * Returns with no GIL held. */
void ph_interpreter_end(ph_tstate *ts, ph_tstate *parent, int isolation);
/* NULL when an interpreter of this isolation is safe with the debugging hooks
 * active now (tracemalloc); otherwise why not and what to do, for people
 * (ph_free). parent: the calling thread's main-interpreter state, GIL not
 * held (taken and released here). ph_interpreter_new refuses the same. */
char *ph_debug_hook_refusal(ph_tstate *parent, int isolation);
ph_interp *ph_tstate_interp(ph_tstate *ts);
/* A stable id: PyInterpreterState_GetID on 3.7+, a counter before. */
int64_t ph_interp_id(ph_interp *interp);
/* Number of thread states of the interpreter (GIL of interp held). */
size_t ph_interp_thread_count(ph_interp *interp);

/* ---------------------------------------------------------- thread states */

/* A new thread state for the calling OS thread; no GIL needed. */
ph_tstate *ph_tstate_new(ph_interp *interp);
/* Takes the interpreter's GIL and makes ts current (PyEval_RestoreThread). */
void ph_tstate_acquire(ph_tstate *ts);
/* Releases the GIL and leaves no thread state current (PyEval_SaveThread). */
ph_tstate *ph_tstate_release(void);
/* Disposes of the calling thread's own ts, which must not be current: takes
 * the GIL, clears ts, releases, deletes. */
void ph_tstate_dispose_own(ph_tstate *ts);
/* Disposes of another thread's ts of the interpreter whose GIL is held. */
void ph_tstate_dispose_other(ph_tstate *ts);
/* PyThread_get_thread_ident(): what threading.get_ident() returns here. */
unsigned long ph_thread_ident(void);
/* The innermost Python frame of ts, a state of the interpreter whose GIL is
 * held (ts need not be current): a new reference, or None when ts runs no
 * Python code. For reading where another thread sits, e.g. a hung import. */
ph_obj *ph_tstate_frame(ph_tstate *ts);

/* ----------------------------------------------------------------- errors */

typedef struct ph_error {
    char *type_name; /* "ValueError", "SystemExit", ... */
    char *message;   /* str(exception) */
    char *traceback; /* the whole formatted traceback, as Python prints it */
    int is_system_exit;
    int exit_code;      /* for SystemExit: what the interpreter would exit with */
    char *exit_message; /* for SystemExit: what it would print first, or NULL */
} ph_error;

/* Takes the pending exception (GIL held) and formats it WITHOUT PyErr_Print,
 * which would exit the process on SystemExit. Returns 1 and fills *out when
 * an exception was pending (free with ph_error_clear), 0 otherwise. */
int ph_error_fetch(ph_error *out);
void ph_error_clear(ph_error *error);
/* Raises RuntimeError(message) in the current interpreter. */
void ph_error_set_runtime(const char *message_utf8);

/* ---------------------------------------------------------------- objects */

void ph_incref(ph_obj *obj);
void ph_decref(ph_obj *obj);
ph_obj *ph_none(void);
int ph_is_none(ph_obj *obj);
ph_obj *ph_import(const char *name_utf8);
ph_obj *ph_getattr(ph_obj *obj, const char *name_utf8);
int ph_setattr(ph_obj *obj, const char *name_utf8, ph_obj *value);
/* callable(*args) where args is a tuple or NULL. */
ph_obj *ph_call(ph_obj *callable, ph_obj *args);
/* obj.name(), the cheapest call there is (no argument tuple). */
ph_obj *ph_call_method0(ph_obj *obj, const char *name_utf8);
ph_obj *ph_tuple_new(size_t len);
/* Steals item. */
int ph_tuple_set(ph_obj *tuple, size_t index, ph_obj *item);
/* len(obj) and obj[index] for any sequence; -1/NULL with an error set. */
int64_t ph_len(ph_obj *obj);
ph_obj *ph_item(ph_obj *sequence, size_t index);
ph_obj *ph_int_from_i64(int64_t value);
int ph_int_as_i64(ph_obj *obj, int64_t *value);
int ph_is_true(ph_obj *obj);
/* The __dict__ of this interpreter's __main__ module (borrowed). */
ph_obj *ph_main_dict(void);
/* Evaluates a Python expression in globals (NULL: __main__'s dict). */
ph_obj *ph_eval(const char *expression_utf8, ph_obj *globals);
/* Compiles source bytes (a PEP 263 coding cookie is honoured) under the
 * given file name (file-system bytes) and executes it in globals (NULL:
 * __main__'s dict). Returns 0, or -1 with an exception set. */
int ph_exec(const char *source, size_t len, const char *filename, ph_obj *globals);
/* Flushes this interpreter's sys.stdout and sys.stderr, ignoring errors. */
void ph_flush_std_streams(void);
/* Sets sys.argv of the current interpreter from file-system bytes. */
int ph_sys_set_argv(const char *const *argv, size_t argc);

/* ------------------------------------------------------------------- text */

/* The native str type (bytes on 2.x, unicode on 3.x) from UTF-8. */
ph_obj *ph_str_from_utf8(const char *data, size_t len);
/* UTF-8 of a str (2.x: str as is, unicode encoded); bytes are refused on 3.x.
 * *out is a new buffer (ph_free). Returns 0, or -1 with an exception set. */
int ph_str_to_utf8(ph_obj *obj, char **out, size_t *len);
/* str(obj) as UTF-8, never failing: falls back to a placeholder. */
char *ph_str_of(ph_obj *obj);
ph_obj *ph_bytes_from(const char *data, size_t len);
int ph_bytes_to(ph_obj *obj, char **out, size_t *len);
/* A native path from raw file-system bytes: on 3.x decoded with the
 * file-system encoding and surrogateescape, so undecodable bytes survive. */
ph_obj *ph_path_from_fs(const char *data, size_t len);
/* Raw file-system bytes of a path (str, bytes, or os.PathLike on 3.6+). */
int ph_path_to_fs(ph_obj *obj, char **out, size_t *len);

/* ------------------------------------------------------------------ bench */

/* count times: take the GIL with ts, call obj.method(), release. The raw
 * C-API baseline `pyhost bench` compares the Rust layer with. ts belongs to
 * the calling thread and is not current. Returns 0, or -1 if a call raised. */
int ph_bench_raw_calls(ph_tstate *ts, ph_obj *obj, const char *method, size_t count);
/* The notify bench's baseline, one event per GIL hold: for each of count
 * events, take the GIL with ts, call deliver(obj, events[i], payloads[i])
 * (both native str, from NUL-terminated UTF-8), release. ts as above.
 * Returns 0, or -1 if a call raised. */
int ph_bench_raw_notify(ph_tstate *ts, ph_obj *deliver, ph_obj *obj, const char *const *events,
                        const char *const *payloads, size_t count);
/* One cycle of the soak's baseline, plain CPython with no host around it:
 * for PH_ISOLATION_SHARED or PH_ISOLATION_OWN_GIL, a new sub-interpreter
 * made as the host makes them, `script` run in its __main__, the interpreter
 * ended, all on the calling thread; for PH_ISOLATION_MAIN, `script` run in
 * a fresh namespace of the main interpreter, then that namespace dropped.
 * main_ts: the calling thread's main-interpreter state, GIL not held.
 * Returns 0, or -1 with the script's traceback in *err (ph_free). */
int ph_bench_soak_cycle(ph_tstate *main_ts, int isolation, const char *script, char **err);
/* The baseline of `pyhost bench scale`: a bare sub-interpreter
 * (PH_ISOLATION_SHARED or PH_ISOLATION_OWN_GIL) made as the host makes
 * them, `script` run in its __main__, and left alive with no state current.
 * main_ts: the calling thread's main-interpreter state, GIL not held.
 * Own-GIL interpreters may be made by several threads at once, each with
 * its own main_ts, as the host's parallel start makes them (the parallel
 * baseline); compat refuses PH_ISOLATION_OWN_GIL where it does not exist.
 * Returns the new interpreter's first state (for ph_bench_bare_end, on this
 * thread), or NULL with the reason in *err (ph_free). */
ph_tstate *ph_bench_bare_new(ph_tstate *main_ts, int isolation, const char *script, char **err);
/* Ends what ph_bench_bare_new made, on the thread that made it. */
void ph_bench_bare_end(ph_tstate *ts, ph_tstate *main_ts, int isolation);

/* ----------------------------------------------------------------- puller */

/* The host's side of a puller: writes the next pair of UTF-8 texts (valid
 * until its next call) and returns 1, or returns 0 when there is none.
 * Called with the GIL held; it must not run Python code or take a GIL. */
typedef int (*ph_pull_fn)(void *ctx, const char **first, size_t *first_len, const char **second,
                          size_t *second_len);
/* A callable taking no arguments: each call returns the next pair from
 * pull(ctx) as a tuple of two native str, or None. GIL held. */
ph_obj *ph_puller_new(ph_pull_fn pull, void *ctx);
/* From now on the puller returns None and never touches ctx again. GIL held. */
void ph_puller_close(ph_obj *puller);

/* ----------------------------------------------------------- free threading */

/* Whether this is a free-threaded build (3.13t: Py_GIL_DISABLED). */
int ph_free_threaded(void);

/* The GIL of the interpreter the calling thread runs (attached). Returns -1
 * on a build with a GIL (nothing to say), else 1 when the GIL is enabled
 * (an extension module re-enabled it), 0 when it is not; *needed_by is then
 * a new buffer (ph_free) with the names, one per line, of the extension
 * modules in this interpreter's sys.modules that did not declare
 * Py_MOD_GIL_NOT_USED, each of which enabled the GIL when it was imported,
 * or NULL when there are none. */
int ph_gil_status(char **needed_by);

/* ---------------------------------------------------------- native module */

/* The host's native module, importable in every interpreter as this name. */
#define PH_NATIVE_MODULE_NAME "_pyhost"

/* Called by _pyhost.call(method, payload) with the GIL RELEASED, so the host
 * may take other interpreters' GILs. Returns 0 with a reply, or non-zero
 * with an error message, in *reply: a buffer from malloc, freed here. */
typedef int (*ph_host_call_fn)(int64_t interp_id, const char *method,
                               const char *payload, size_t payload_len,
                               char **reply, size_t *reply_len);
void ph_native_set_host_call(ph_host_call_fn fn);

#ifdef __cplusplus
}
#endif
#endif /* PYHOST_COMPAT_H */
