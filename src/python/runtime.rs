//! The embedded Python runtime: initialized once per process, owner of the
//! main interpreter and of every sub-interpreter not yet ended.

use std::ffi::{CString, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, ThreadId};
use std::time::Duration;

use super::error::{Error, Result};
use super::interpreter::{Inner, Interpreter, Isolation, Phase};
use super::interpreter_info::check_supported;
use super::teardown::{self, Teardown};
use super::{ffi, fork, gil, host_call, text};

const UNINITIALIZED: u8 = 0;
const RUNNING: u8 = 1;
/// Finalized, or given up on (a leftover thread made finalizing unsafe):
/// either way no Python code may run again in this process.
const CLOSED: u8 = 2;

static STATE: AtomicU8 = AtomicU8::new(UNINITIALIZED);

pub(crate) fn is_running() -> bool {
    STATE.load(Ordering::Acquire) == RUNNING
}

pub(crate) fn ensure_running() -> Result<()> {
    match STATE.load(Ordering::Acquire) {
        RUNNING => Ok(()),
        CLOSED => Err(Error::Finalized),
        _ => Err(Error::Usage("Python is not initialized; call Python::initialize first".into())),
    }
}

pub(crate) fn close() {
    STATE.store(CLOSED, Ordering::Release);
}

/// Settings applied before the main interpreter starts.
#[derive(Debug, Clone)]
pub struct InitConfig {
    /// Defaults to the chosen interpreter's executable, so that Python
    /// computes its prefix (and sys.executable) as that interpreter would.
    pub program_name: Option<PathBuf>,
    pub home: Option<PathBuf>,
    /// Replaces the computed module search path when not empty.
    pub search_path: Vec<PathBuf>,
    pub argv: Vec<OsString>,
    pub import_site: bool,
    /// Off by default: the host owns SIGINT and SIGTERM.
    pub install_signal_handlers: bool,
}

impl Default for InitConfig {
    fn default() -> Self {
        InitConfig {
            program_name: super::loader::chosen().ok().map(|py| py.executable.clone()),
            home: None,
            search_path: Vec::new(),
            argv: vec![OsString::new()],
            import_site: true,
            install_signal_handlers: false,
        }
    }
}

/// The process's Python. Dropping it finalizes Python (see `finalize`).
pub struct Python {
    main: Interpreter,
    init_thread: ThreadId,
    finished: bool,
}

/// Sub-interpreters created and not yet ended, oldest first.
static LIVE: Mutex<Vec<Interpreter>> = Mutex::new(Vec::new());

pub(crate) fn live() -> std::sync::MutexGuard<'static, Vec<Interpreter>> {
    LIVE.lock().unwrap_or_else(|p| p.into_inner())
}

impl Python {
    /// Starts the main interpreter. Once per process: CPython cannot be
    /// reliably started again after it is finalized.
    pub fn initialize(config: &InitConfig) -> Result<Python> {
        super::loader::load()?;
        if STATE.compare_exchange(UNINITIALIZED, RUNNING, Ordering::AcqRel, Ordering::Acquire).is_err() {
            return Err(Error::Usage("Python can be initialized only once per process".into()));
        }
        let bytes = |p: &PathBuf| -> Result<CString> { gil::c_string(p.as_os_str().as_bytes(), "a path") };
        let program_name = config.program_name.as_ref().map(bytes).transpose()?;
        let home = config.home.as_ref().map(bytes).transpose()?;
        let search_path = config.search_path.iter().map(bytes).collect::<Result<Vec<_>>>()?;
        let argv =
            config.argv.iter().map(|a| gil::c_string(a.as_bytes(), "an argument")).collect::<Result<Vec<_>>>()?;
        let search_ptrs: Vec<*const libc::c_char> = search_path.iter().map(|s| s.as_ptr()).collect();
        let argv_ptrs: Vec<*const libc::c_char> = argv.iter().map(|s| s.as_ptr()).collect();
        let raw = ffi::ph_init_config {
            program_name: program_name.as_ref().map_or(std::ptr::null(), |s| s.as_ptr()),
            home: home.as_ref().map_or(std::ptr::null(), |s| s.as_ptr()),
            search_path: search_ptrs.as_ptr(),
            search_path_len: search_ptrs.len(),
            argv: argv_ptrs.as_ptr(),
            argc: argv_ptrs.len(),
            import_site: config.import_site as i32,
            install_signal_handlers: config.install_signal_handlers as i32,
        };
        host_call::install();
        fork::watch();
        let mut main_ts: *mut ffi::ph_tstate = std::ptr::null_mut();
        let mut err: *mut libc::c_char = std::ptr::null_mut();
        // SAFETY: every pointer in raw outlives the call; Python is not yet
        // initialized (STATE was UNINITIALIZED).
        let status = unsafe { ffi::api().ph_initialize(&raw, &mut main_ts, &mut err) };
        if status != 0 {
            close();
            // SAFETY: on failure err is a compat buffer (or NULL).
            return Err(Error::Init(unsafe { text::owned_c_str_lossy(err) }));
        }
        let main = Interpreter { inner: Inner::new(main_ts, Isolation::Main, None) };
        Ok(Python { main, init_thread: thread::current().id(), finished: false })
    }

    pub fn main(&self) -> &Interpreter {
        &self.main
    }

    /// A handle other threads can keep, to make interpreters.
    pub fn handle(&self) -> PythonHandle {
        PythonHandle { main: self.main.clone() }
    }

    /// A new interpreter with the given isolation (`Main` returns the main
    /// interpreter itself). Any thread may call this.
    pub fn new_interpreter(&self, isolation: Isolation) -> Result<Interpreter> {
        self.handle().new_interpreter(isolation)
    }

    /// Ends every interpreter that can be ended, then finalizes Python when
    /// that is safe. `grace` is how long to wait for non-daemon threads.
    ///
    /// When a thread started by Python is still running in a sub-interpreter,
    /// that interpreter is left alive (Py_EndInterpreter would abort: "not the
    /// last thread") and Python is not finalized (Py_Finalize aborts on
    /// "remaining subinterpreters" on 3.9 and 3.11, and finalizing under running
    /// threads is where 2.7 and 3.13 crash or hang). Standard streams are
    /// flushed either way; the report says which path was taken.
    pub fn finalize(mut self, grace: Duration) -> Result<Teardown> {
        self.finish(grace)
    }

    fn finish(&mut self, grace: Duration) -> Result<Teardown> {
        if self.finished {
            return Ok(Teardown::default());
        }
        if thread::current().id() != self.init_thread {
            return Err(Error::Usage("Python must be finalized on the thread that initialized it".into()));
        }
        if gil::holds_any() {
            return Err(Error::Usage("cannot finalize Python while holding a GIL".into()));
        }
        self.finished = true;
        let mut report = Teardown::default();
        let subs: Vec<Interpreter> = live().iter().rev().cloned().collect();
        for interpreter in subs {
            teardown::end_into(&interpreter, grace, &mut report);
        }
        let main_threads = teardown::wait_for_threads(&self.main, grace)?;
        // Daemon threads of the main interpreter are Py_Finalize's to stop;
        // a non-daemon one would make it wait forever.
        if main_threads.threads.iter().any(|t| !t.daemon) {
            report.left.push(main_threads);
        }
        // A host thread still inside the main interpreter (a module placed
        // there whose import or shutdown() never returned) would wake up
        // under Py_Finalize, as a leftover Python thread would.
        if Inner::busy_elsewhere(&self.main.inner.lock()) {
            tracing::warn!("a host thread is still running code in the main interpreter");
            report.busy.push(self.main.id());
        }
        if !report.left.is_empty() || !report.busy.is_empty() {
            teardown::abandon(&self.main, &report);
            return Ok(report);
        }
        self.main.inner.set_phase(Phase::Closing);
        let main_lease = self.main.inner.checkout(true)?;
        // From here on no thread may touch Python: thread exits and owned
        // objects see the runtime closed and leave their states alone. A
        // thread already disposing of its state finishes first, or it would
        // be taking the GIL while Py_Finalize tears the interpreter down.
        {
            let _table = self.main.inner.lock();
            self.main.inner.set_phase(Phase::Ended);
        }
        self.main.inner.wait_for_disposals();
        close();
        // SAFETY: main_ts is this (the initializing) thread's main state; no
        // guard is held; every sub-interpreter has ended.
        let status = unsafe { ffi::api().ph_finalize(main_lease.ts()) };
        drop(main_lease);
        report.finalized = true;
        report.finalize_status = status;
        tracing::debug!(status, "Python finalized");
        Ok(report)
    }
}

impl Drop for Python {
    fn drop(&mut self) {
        if let Err(error) = self.finish(Duration::ZERO) {
            tracing::warn!("Python was not finalized: {error}");
        }
    }
}

/// What any thread may do with the runtime: reach the main interpreter and
/// make new ones. Finalizing stays with the `Python` owner.
#[derive(Clone)]
pub struct PythonHandle {
    main: Interpreter,
}

impl PythonHandle {
    pub fn main(&self) -> &Interpreter {
        &self.main
    }

    /// A new interpreter with the given isolation (`Main` returns the main
    /// interpreter itself).
    pub fn new_interpreter(&self, isolation: Isolation) -> Result<Interpreter> {
        if isolation == Isolation::Main {
            return Ok(self.main.clone());
        }
        check_supported(isolation)?;
        if gil::holds_any() {
            return Err(Error::Usage("cannot create an interpreter while holding a GIL".into()));
        }
        ensure_running()?;
        let parent = self.main.inner.checkout(false)?;
        // SAFETY: as for ph_interpreter_new below: this thread's
        // main-interpreter state, not current; compat takes and releases the
        // GIL and returns NULL or a buffer that owned_c_str_lossy frees.
        let refusal =
            unsafe { text::owned_c_str_lossy(ffi::api().ph_debug_hook_refusal(parent.ts(), isolation.to_ffi())) };
        if !refusal.is_empty() {
            return Err(Error::IsolationUnsafeWithDebugHooks { isolation, reason: refusal });
        }
        let mut err: *mut libc::c_char = std::ptr::null_mut();
        // SAFETY: the lease's state is this thread's main-interpreter state,
        // not current (this thread holds no guard); compat takes and
        // releases the GIL itself.
        let ts = unsafe { ffi::api().ph_interpreter_new(parent.ts(), isolation.to_ffi(), &mut err) };
        drop(parent);
        if ts.is_null() {
            // SAFETY: on failure err is a compat buffer (or NULL).
            return Err(Error::NewInterpreter(unsafe { text::owned_c_str_lossy(err) }));
        }
        let interpreter = Interpreter { inner: Inner::new(ts, isolation, Some(Arc::clone(&self.main.inner))) };
        live().push(interpreter.clone());
        tracing::debug!(interpreter = interpreter.id(), %isolation, "created interpreter");
        Ok(interpreter)
    }
}
