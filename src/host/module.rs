//! One hosted module: its interpreter, instance, serve thread and notify
//! queue, and the state machine loading, failing and unloading move it
//! through. Lifecycle operations on a module are serialized by `ops`; the
//! state mutex is only ever held briefly, never while Python runs.
//!
//! ```text
//! disabled ──(enabled at start)──► pending ──(its turn)───┐
//!    │                                                    ▼
//!    └──(ctl enable, ctl restart)─────────────────────► loading ◄──(restart = "on-failure" after
//!                                                         │           its backoff; ctl restart)
//!      ┌────────────────┬─────────────────────────────────┼──────────────────────────┐
//!      │ imported,      │ __init__ raised, exited, or     │ syntax error, failed     │ the host began to
//!      │ __init__ done  │ did not return in load_timeout  │ import, no Module class, │ stop (the import
//!      │                │                                 │ or the import did not    │ is left running)
//!      ▼                ▼                                 ▼ finish in load_timeout   ▼
//!   running ──────► failed                            unloadable                 stopped
//!      │   serve(), notify() or shutdown()                                          ▲
//!      │   raised, or a guard caught                                                │
//!      │   os._exit or sys.exit                                                     │
//!      └──────────────── the host stops; ctl restart (then loading again) ──────────┘
//!
//! any state ──(ctl disable)──► disabled;  a module the host stops before its turn stays pending
//! ```
//!
//! - `running` means loaded: remote() and notify() reach the instance. The
//!   report's `serving` says whether serve() still runs. A serve() that
//!   returns normally leaves the module running with `serving: false`, as in
//!   ceph-mgr, where serve() is optional and a module whose serve() returned
//!   still answers; a serve() that raises fails the module.
//! - Each load makes a new instance, numbered by `generation`. The threads
//!   of an instance report failures with its generation, and the supervisor
//!   ignores a failure of an earlier generation (one that reaches it after a
//!   restart), so it can never fail the fresh instance.
//! - Loading (import and __init__) runs on a thread of its own, bounded by
//!   `load_timeout`; an import that does not finish leaves the module
//!   `unloadable` with the stack where it sat. A module whose import hung in
//!   the placement probe is marked so without being imported again. When the
//!   host begins to stop, a load under way is no longer waited for.
//! - Unloading (host stop, restart, disable, after a failure) is bounded by
//!   `shutdown_timeout` in all: notify delivery stops, `stopping` is set, a
//!   notify() in progress may finish, shutdown() runs, then serve() and
//!   notify() must return. At the host's shutdown every module is unloaded
//!   at once, each on a thread of its own (see `stop`): the timeouts run
//!   side by side; modules on a shared GIL go in a few at a time (one
//!   slow to stop gives its place up after a short grace), and the ending
//!   of interpreters takes turns.
//! - Whatever did not return in time (serve(), notify(), shutdown(), the
//!   import) is left running, and `leftover_threads` lists it, whatever
//!   instance it belonged to, until it ends; so do Python threads an
//!   instance left behind, whose interpreter is kept until they end.
//! - `ctl restart` unloads and loads under one lock, so no other operation
//!   sees the gap; a module never enabled is checked and probed first, as
//!   `ctl enable` does.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::python::{EndOutcome, Error, GilStatus, Interpreter, Isolation, Leftover, OwnedObj};

use super::bounded::{self, ModuleThread, Straggler, Waited};
use super::delivery;
use super::notify::{Notice, NotifyQueue};
use super::placement::is_refusal;
use super::pyside::{self, Meta};
use super::report::{ModuleReport, State, ThreadReport};
use super::stop::EndLanes;
use super::supervisor::{HostEvent, Shared};

/// What exists while a module is loaded.
pub(crate) struct Live {
    pub interpreter: Interpreter,
    pub instance: Arc<OwnedObj>,
    pub meta: Meta,
    pub queue: Arc<NotifyQueue>,
    pub serve: Option<ModuleThread>,
    /// serve() is running (set by its thread when it returns).
    pub serving: Arc<AtomicBool>,
    /// None for a module that listens for no event (empty NOTIFY_TYPES):
    /// `offer` never queues one for it, and an idle thread per module is
    /// memory and start time (issue 11).
    pub dispatcher: Option<ModuleThread>,
    pub generation: u64,
}

/// A sub-interpreter of an unloaded instance that could not be ended,
/// because threads still run in it; it is ended once they are gone.
struct Kept {
    interpreter: Interpreter,
    threads: Vec<ThreadReport>,
}

pub(crate) struct SlotState {
    pub status: State,
    pub isolation: Option<Isolation>,
    pub placement: Option<String>,
    pub error: Option<String>,
    pub restarts: u32,
    /// Free-threaded builds: the GIL of its interpreter, last looked at.
    pub gil: Option<GilStatus>,
    /// Threads the module started in the main interpreter, as of its last
    /// unload there.
    main_threads: Vec<ThreadReport>,
    kept: Vec<Kept>,
    stragglers: Vec<Straggler>,
    /// Bumped at every load, so a thread of an earlier load that reports
    /// late cannot fail the current one.
    pub generation: u64,
    pub live: Option<Live>,
    pub restart_at: Option<Instant>,
    /// The supervisor has dealt with the latest failure (cleaned up, and
    /// scheduled a restart or not): until then a failure may not be final.
    pub failure_handled: bool,
}

impl SlotState {
    fn leftover(&self) -> Vec<ThreadReport> {
        let mut threads: Vec<ThreadReport> = self.kept.iter().flat_map(|k| k.threads.iter().cloned()).collect();
        threads.extend(self.main_threads.iter().cloned());
        threads.extend(
            self.stragglers
                .iter()
                .filter(|s| s.is_running())
                .map(|s| ThreadReport { name: s.what.clone(), daemon: false }),
        );
        threads
    }
}

pub struct Slot {
    pub name: String,
    pub path: PathBuf,
    ops: Mutex<()>,
    state: Mutex<SlotState>,
    /// Notifications dropped from this module's full queues, all instances.
    dropped: Arc<AtomicU64>,
}

/// What a successful load yields, with its interpreter's GIL (free-threaded builds).
type Loaded = (Interpreter, OwnedObj, Meta, Option<GilStatus>);

/// How a load went wrong.
enum LoadError {
    /// An extension refuses sub-interpreters: try the main interpreter.
    Refused(String),
    Unloadable(String),
    Failed(String),
    /// The host began to stop while it loaded, and gave up waiting.
    Stopped(String),
}

fn describe(error: &Error) -> String {
    match error {
        Error::Python(exception) => exception.traceback.clone(),
        other => other.to_string(),
    }
}

/// Says in the log which extension modules turned the GIL on (free-threaded builds).
fn report_gil(name: &str, gil: Option<&GilStatus>) {
    match gil {
        Some(GilStatus { enabled: true, because }) if !because.is_empty() => {
            tracing::warn!(
                "[{name}] runs with the GIL: enabled by {}, not declared free-threading-safe",
                because.join(", ")
            )
        }
        Some(GilStatus { enabled: true, .. }) => {
            tracing::warn!("[{name}] runs with the GIL: another interpreter sharing its GIL enabled it")
        }
        _ => {}
    }
}

fn thread_reports(left: Leftover) -> Vec<ThreadReport> {
    let mut threads: Vec<ThreadReport> =
        left.threads.into_iter().map(|t| ThreadReport { name: t.name, daemon: t.daemon }).collect();
    if left.unnamed > 0 {
        threads.push(ThreadReport { name: format!("{} without a threading.Thread", left.unnamed), daemon: true });
    }
    threads
}

impl Slot {
    pub fn new(name: String, path: PathBuf) -> Slot {
        Slot {
            name,
            path,
            ops: Mutex::new(()),
            state: Mutex::new(SlotState {
                status: State::Disabled,
                isolation: None,
                placement: None,
                error: None,
                restarts: 0,
                gil: None,
                main_threads: Vec::new(),
                kept: Vec::new(),
                stragglers: Vec::new(),
                generation: 0,
                live: None,
                restart_at: None,
                failure_handled: false,
            }),
            dropped: Arc::new(AtomicU64::new(0)),
        }
    }

    pub(crate) fn state(&self) -> MutexGuard<'_, SlotState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn ops(&self) -> MutexGuard<'_, ()> {
        self.ops.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn report(&self) -> ModuleReport {
        let st = self.state();
        let serving =
            st.status == State::Running && st.live.as_ref().is_some_and(|live| live.serving.load(Ordering::SeqCst));
        ModuleReport {
            name: self.name.clone(),
            isolation: st.isolation,
            placement: st.placement.clone(),
            state: st.status,
            error: st.error.clone(),
            restarts: st.restarts,
            serving,
            notifications_dropped: self.dropped.load(Ordering::Relaxed),
            leftover_threads: st.leftover(),
            gil: st.gil.clone(),
        }
    }

    /// The running instance and its interpreter, for a call into it.
    pub(crate) fn target(&self) -> Option<(Interpreter, Arc<OwnedObj>)> {
        let st = self.state();
        match (&st.status, &st.live) {
            (State::Running, Some(live)) => Some((live.interpreter.clone(), Arc::clone(&live.instance))),
            _ => None,
        }
    }

    /// Queues an event if the module is running and listens for it.
    pub(crate) fn offer(&self, event: &str, payload: &str) {
        let st = self.state();
        if let (State::Running, Some(live)) = (&st.status, &st.live)
            && live.meta.notify_types.iter().any(|t| t == event || t == "*")
        {
            live.queue.offer(Notice { event: event.to_string(), payload: payload.to_string() });
        }
    }

    /// Records what its interpreter's GIL is now, if `generation` is still the current load.
    fn note_gil(&self, generation: u64, status: GilStatus) {
        let mut st = self.state();
        if st.generation == generation {
            if st.gil.as_ref() != Some(&status) {
                report_gil(&self.name, Some(&status));
            }
            st.gil = Some(status);
        }
    }

    /// Marks the module failed, if `generation` is still the current load
    /// and it has not failed already; the supervisor then cleans up.
    pub(crate) fn fail(&self, shared: &Shared, generation: u64, error: String) {
        {
            let mut st = self.state();
            if st.generation != generation || !matches!(st.status, State::Running | State::Loading) {
                return;
            }
            st.status = State::Failed;
            st.error = Some(error.clone());
        }
        let first_line = error.lines().last().unwrap_or_default().to_string();
        tracing::error!("[{}] failed: {first_line}", self.name);
        let _ = shared.events.send(HostEvent::Failed { name: self.name.clone(), generation });
    }

    pub(crate) fn fail_current(&self, shared: &Shared, error: String) {
        let generation = self.state().generation;
        self.fail(shared, generation, error);
    }

    /// Loads the module (a fresh interpreter unless it is placed in main),
    /// starts its notify dispatcher and serve thread. Any outcome is
    /// recorded in the slot; nothing here fails the host.
    pub(crate) fn load(self: &Arc<Self>, shared: &Arc<Shared>) {
        let _ops = self.ops();
        self.load_held(shared);
    }

    /// Unloads the module and loads it again in a fresh interpreter, with
    /// no other lifecycle operation in between.
    pub(crate) fn restart(self: &Arc<Self>, shared: &Arc<Shared>) {
        let _ops = self.ops();
        self.unload_held(shared, State::Stopped, None);
        {
            let mut st = self.state();
            st.restarts = st.restarts.saturating_add(1);
        }
        shared.probe_unless_known(&self.name);
        self.load_held(shared);
    }

    /// Marks an enabled module as waiting for its turn at startup.
    pub(crate) fn mark_pending(&self) {
        let mut st = self.state();
        if st.status == State::Disabled {
            st.status = State::Pending;
        }
    }

    /// Loads the module if it is still waiting for its turn (a control
    /// request may have enabled or disabled it meanwhile).
    pub(crate) fn load_pending(self: &Arc<Self>, shared: &Arc<Shared>) {
        let _ops = self.ops();
        if self.state().status == State::Pending {
            self.load_held(shared);
        }
    }

    fn load_held(self: &Arc<Self>, shared: &Arc<Shared>) {
        // Once the host is stopping nothing new is loaded: shutdown unloads
        // each module once, and a load after that would outlive it.
        if shared.stopping() {
            return;
        }
        let generation = {
            let mut st = self.state();
            if matches!(st.status, State::Running | State::Loading) {
                return;
            }
            st.status = State::Loading;
            st.generation += 1;
            st.error = None;
            st.restart_at = None;
            st.failure_handled = false;
            st.stragglers.retain(Straggler::is_running);
            st.generation
        };
        if let Some(message) = shared.not_to_import(&self.name) {
            tracing::error!("[{}] cannot be loaded: {}", self.name, message.lines().last().unwrap_or_default());
            let mut st = self.state();
            st.status = State::Unloadable;
            st.error = Some(message);
            return;
        }
        let (mut isolation, mut placement) = shared.placement_for(&self.name);
        let timeout = shared.config.load_timeout(&self.name);
        let mut attempt = self.load_bounded(shared, isolation, timeout);
        if let Err(LoadError::Refused(message)) = &attempt
            && isolation != Isolation::Main
        {
            tracing::warn!("[{}] refused a {isolation} interpreter ({message}); loading it in main", self.name);
            placement = Some(format!("refused a {isolation} interpreter at load: {message}"));
            isolation = Isolation::Main;
            attempt = self.load_bounded(shared, isolation, timeout);
        }
        let mut st = self.state();
        st.isolation = Some(isolation);
        st.placement = placement;
        match attempt {
            Ok((interpreter, instance, meta, gil)) => {
                report_gil(&self.name, gil.as_ref());
                st.gil = gil;
                let instance = Arc::new(instance);
                let limit = shared.config.notify_queue_limit(&self.name);
                let queue = Arc::new(NotifyQueue::new(limit, Arc::clone(&self.dropped)));
                let dispatcher = (!meta.notify_types.is_empty())
                    .then(|| self.spawn_dispatcher(shared, generation, &interpreter, &instance, &queue));
                let serving = Arc::new(AtomicBool::new(meta.serves));
                let serve =
                    meta.serves.then(|| self.spawn_serve(shared, generation, &interpreter, &instance, &serving));
                st.live = Some(Live { interpreter, instance, meta, queue, serve, serving, dispatcher, generation });
                st.status = State::Running;
                tracing::info!("[{}] running in {isolation} interpreter", self.name);
            }
            Err(LoadError::Unloadable(message)) => {
                tracing::error!("[{}] cannot be loaded: {message}", self.name);
                st.status = State::Unloadable;
                st.error = Some(message);
            }
            Err(LoadError::Stopped(message)) => {
                st.status = State::Stopped;
                st.error = Some(message);
            }
            Err(LoadError::Failed(error) | LoadError::Refused(error)) => {
                tracing::error!("[{}] failed to start: {}", self.name, error.lines().last().unwrap_or_default());
                st.status = State::Failed;
                st.error = Some(error);
                drop(st);
                let _ = shared.events.send(HostEvent::Failed { name: self.name.clone(), generation });
            }
        }
    }

    /// `try_load` on a thread of its own, given up after `timeout`: the
    /// thread is then left where it hangs, and reported.
    fn load_bounded(
        self: &Arc<Self>,
        shared: &Arc<Shared>,
        isolation: Isolation,
        timeout: Duration,
    ) -> Result<Loaded, LoadError> {
        // The loading thread makes the interpreter; a hang is read there.
        let made: Arc<Mutex<Option<Interpreter>>> = Arc::default();
        let work = {
            let (slot, shared, made) = (Arc::clone(self), Arc::clone(shared), Arc::clone(&made));
            move || slot.try_load(&shared, isolation, &made)
        };
        let late = {
            let (slot, shared) = (Arc::clone(self), Arc::clone(shared));
            move |attempt: Result<Loaded, LoadError>| {
                if let Ok((interpreter, instance, _, _)) = attempt {
                    tracing::warn!(
                        "[{}] finished loading after it was given up; that instance is discarded",
                        slot.name
                    );
                    drop(instance);
                    // Once the host stops, ending interpreters is the teardown's.
                    if !shared.stopping() {
                        slot.retire(&interpreter, Duration::ZERO);
                    }
                }
            }
        };
        let stopping = {
            let shared = Arc::clone(shared);
            move || shared.stopping()
        };
        let name = format!("{}:load", self.name);
        let (thread, handle) = match bounded::run_bounded_unless(name, timeout, stopping, work, late) {
            Waited::Done(attempt) => return attempt,
            Waited::Lost => return Err(LoadError::Failed("the thread loading it panicked".into())),
            Waited::Abandoned { thread, handle } => (thread, handle),
        };
        let interpreter = made.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let stack = interpreter.and_then(|i| bounded::stack_of(&i, thread, &self.name));
        // pyhost.py's _host_load imports in _load_class, then calls __init__.
        let in_init = stack.as_ref().is_some_and(|frames| {
            !frames.iter().any(|f| f.contains("in _load_class")) && frames.iter().any(|f| f.contains("in _host_load"))
        });
        let folder = self.path.parent().unwrap_or(&self.path).to_string_lossy().into_owned();
        let doing = if in_init { "__init__()" } else { "import" };
        self.state().stragglers.push(Straggler { what: format!("{doing} (did not finish)"), handle });
        if shared.stopping() {
            let summary = format!("its {doing} had not finished when the host began to stop; it is left running");
            tracing::warn!("[{}] {summary}", self.name);
            return Err(LoadError::Stopped(bounded::describe_hang(&summary, stack, &folder)));
        }
        let secs = bounded::seconds(timeout);
        tracing::warn!("[{}] its {doing} did not finish in {secs}; it is left running", self.name);
        Err(if in_init {
            LoadError::Failed(bounded::describe_hang(&format!("__init__() did not return in {secs}"), stack, &folder))
        } else {
            LoadError::Unloadable(bounded::describe_hang(&format!("import did not finish in {secs}"), stack, &folder))
        })
    }

    fn try_load(
        &self,
        shared: &Arc<Shared>,
        isolation: Isolation,
        made: &Mutex<Option<Interpreter>>,
    ) -> Result<Loaded, LoadError> {
        let interpreter = shared.python.new_interpreter(isolation).map_err(|e| LoadError::Failed(e.to_string()))?;
        *made.lock().unwrap_or_else(|p| p.into_inner()) = Some(interpreter.clone());
        let outcome = {
            let gil = interpreter.gil().map_err(|e| LoadError::Failed(e.to_string()))?;
            let module = (isolation != Isolation::Main).then_some(self.name.as_str());
            let options = serde_json::Value::Object(shared.config.module(&self.name).options);
            pyside::bootstrap(&gil, module, &shared.site_dirs)
                .and_then(|()| pyside::load(&gil, &self.name, &self.path, &options))
                .map(|(instance, meta)| (instance, meta, gil.gil_status()))
        };
        match outcome {
            Ok((instance, meta, gil)) => Ok((interpreter, instance, meta, gil)),
            Err(error) => {
                let classified = match &error {
                    Error::Python(e) if e.type_name == "Unloadable" => LoadError::Unloadable(e.message.clone()),
                    Error::Python(e) if is_refusal(e) => LoadError::Refused(e.message.clone()),
                    other => LoadError::Failed(describe(other)),
                };
                self.retire(&interpreter, Duration::ZERO);
                Err(classified)
            }
        }
    }

    fn spawn_serve(
        &self,
        shared: &Arc<Shared>,
        generation: u64,
        interpreter: &Interpreter,
        instance: &Arc<OwnedObj>,
        serving: &Arc<AtomicBool>,
    ) -> ModuleThread {
        let (slot, shared, interpreter, instance, serving) = (
            shared.slot(&self.name),
            Arc::clone(shared),
            interpreter.clone(),
            Arc::clone(instance),
            Arc::clone(serving),
        );
        bounded::spawn_module_thread(format!("{}:serve", self.name), move || {
            let outcome = interpreter.gil().and_then(|gil| pyside::serve(&gil, &instance));
            serving.store(false, Ordering::SeqCst);
            match outcome {
                Ok(()) => tracing::info!("[{}] serve() returned; the module stays loaded", slot.name),
                Err(error) => slot.fail(&shared, generation, describe(&error)),
            }
        })
    }

    fn spawn_dispatcher(
        &self,
        shared: &Arc<Shared>,
        generation: u64,
        interpreter: &Interpreter,
        instance: &Arc<OwnedObj>,
        queue: &Arc<NotifyQueue>,
    ) -> ModuleThread {
        let (slot, shared, interpreter, instance, queue) =
            (shared.slot(&self.name), Arc::clone(shared), interpreter.clone(), Arc::clone(instance), Arc::clone(queue));
        // One queue and thread per module: a slow notify() delays only its
        // own module's events.
        bounded::spawn_module_thread(format!("{}:notify", self.name), move || {
            if let Err(error) = delivery::run(&queue, &interpreter, &instance) {
                queue.close();
                slot.fail(&shared, generation, describe(&error));
            }
        })
    }

    /// Stops and unloads the module: no more notifications, shutdown(), and
    /// serve() must return, all within the shutdown timeout; then the
    /// interpreter is ended (or kept, with its threads reported). `to` is
    /// the state it ends in, unless it failed.
    pub(crate) fn unload(&self, shared: &Arc<Shared>, to: State) {
        let _ops = self.ops();
        self.unload_held(shared, to, None);
    }

    /// `unload` at the host's shutdown, where every module stops at once:
    /// its interpreter is ended when `lanes` has room for it.
    pub(crate) fn unload_at_stop(&self, shared: &Arc<Shared>, lanes: &EndLanes) {
        let _ops = self.ops();
        self.unload_held(shared, State::Stopped, Some(lanes));
    }

    /// For the supervisor, after a failure of instance `generation`:
    /// unloads it, unless that instance is gone already (a restart came
    /// first), in which case the failure is stale and nothing is done.
    /// Returns whether it was current.
    pub(crate) fn unload_failed(&self, shared: &Arc<Shared>, generation: u64) -> bool {
        let _ops = self.ops();
        {
            let st = self.state();
            if st.generation != generation || st.status != State::Failed {
                return false;
            }
        }
        self.unload_held(shared, State::Failed, None);
        true
    }

    /// With `lanes` (the host's stop), a module on a shared GIL waits for
    /// its place in the stop gate, and interpreters are ended only when a
    /// lane has room (see `stop`); without, at once.
    fn unload_held(&self, shared: &Arc<Shared>, to: State, lanes: Option<&EndLanes>) {
        let live = self.state().live.take();
        let Some(live) = live else {
            let _lane = lanes.map(|l| l.enter(Isolation::Shared));
            self.recheck_kept();
            let mut st = self.state();
            if matches!(st.status, State::Running | State::Stopped) || to == State::Disabled {
                st.status = to;
            }
            return;
        };
        let Live { interpreter, instance, meta: _, queue, serve, serving: _, dispatcher, generation } = live;
        let timeout = shared.config.shutdown_timeout;
        let pass = lanes.and_then(|l| l.stopping(interpreter.isolation()));
        let deadline = super::deadline::after(timeout);
        queue.close();
        let mut stuck = Vec::new();
        let (shutdown_stuck, note) = self.call_shutdown(shared, generation, &interpreter, &instance, &queue, deadline);
        stuck.extend(shutdown_stuck);
        for (what, handle) in [("serve()", serve), ("notify()", dispatcher)] {
            if let Some(handle) = handle {
                if handle.over_by(deadline) {
                    let _ = handle.join();
                } else {
                    tracing::warn!(
                        "[{}] {what} did not return within {}; it is left running",
                        self.name,
                        bounded::seconds(timeout)
                    );
                    stuck.push(Straggler { what: format!("{what} (did not return)"), handle });
                }
            }
        }
        drop(instance);
        // Its Python work is done; ending it waits in a lane, not the gate.
        drop(pass);
        {
            let _lane = lanes.map(|l| l.enter(interpreter.isolation()));
            self.recheck_kept();
            self.retire(&interpreter, Duration::from_millis(200));
        }
        let mut st = self.state();
        st.stragglers.extend(stuck);
        if note.is_some() && st.error.is_none() {
            st.error = note;
        }
        if !matches!(st.status, State::Failed | State::Unloadable) || to == State::Disabled {
            st.status = to;
        }
    }

    /// Sets `stopping`, lets a notify() in progress finish, and calls
    /// shutdown(), on a thread of its own, until `deadline`. Returns that
    /// thread if it had not finished by then, with what to tell the user.
    fn call_shutdown(
        &self,
        shared: &Arc<Shared>,
        generation: u64,
        interpreter: &Interpreter,
        instance: &Arc<OwnedObj>,
        queue: &Arc<NotifyQueue>,
        deadline: Instant,
    ) -> (Option<Straggler>, Option<String>) {
        let notify_returned = Arc::new(AtomicBool::new(false));
        let work = {
            let (slot, shared, interpreter, instance, queue, notify_returned) = (
                shared.slot(&self.name),
                Arc::clone(shared),
                interpreter.clone(),
                Arc::clone(instance),
                Arc::clone(queue),
                Arc::clone(&notify_returned),
            );
            move || {
                // `stopping` first: the notify() in progress may wait on it.
                // The GIL once more, for what serve() or notify() imported.
                let stopping = interpreter.gil().and_then(|gil| {
                    if let Some(status) = gil.gil_status() {
                        slot.note_gil(generation, status);
                    }
                    pyside::set_stopping(&gil, &instance)
                });
                // No shutdown() beside a notify() the host started; one that
                // does not return delays shutdown(), which is still called,
                // late, since it may free what a restart needs (a port).
                notify_returned.store(queue.wait_idle(Some(deadline)), Ordering::SeqCst);
                let outcome =
                    stopping.and_then(|()| interpreter.gil().and_then(|gil| pyside::shutdown(&gil, &instance)));
                if let Err(error) = outcome {
                    slot.fail(&shared, generation, describe(&error));
                }
            }
        };
        let left = deadline.saturating_duration_since(Instant::now());
        let handle = match bounded::run_bounded(format!("{}:shutdown", self.name), left, work, |()| ()) {
            Waited::Done(()) | Waited::Lost => return (None, None),
            Waited::Abandoned { handle, .. } => handle,
        };
        let timeout = bounded::seconds(shared.config.shutdown_timeout);
        let note = if notify_returned.load(Ordering::SeqCst) {
            tracing::warn!("[{}] shutdown() did not return within {timeout}; it is left running", self.name);
            format!("shutdown() had not returned when the shutdown timeout ({timeout}) ran out; it is left running")
        } else {
            tracing::warn!("[{}] a notify() in progress did not return within {timeout}", self.name);
            format!(
                "a notify() in progress had not returned when the shutdown timeout ({timeout}) ran out; \
                 shutdown() is called after it, without waiting"
            )
        };
        (Some(Straggler { what: "shutdown() (did not return)".into(), handle }), Some(note))
    }

    /// Ends the interpreter of an unloaded instance if that is safe; one
    /// that still runs threads is kept, with them, for the report. In the
    /// main interpreter only the module's threads there are looked for.
    fn retire(&self, interpreter: &Interpreter, grace: Duration) {
        if interpreter.is_main() {
            let threads = interpreter.gil().and_then(|gil| pyside::threads(&gil, &self.name)).unwrap_or_default();
            self.state().main_threads =
                threads.into_iter().map(|(name, daemon)| ThreadReport { name, daemon }).collect();
            return;
        }
        let threads = match interpreter.end(grace) {
            Ok(EndOutcome::Ended) => return,
            Ok(EndOutcome::Left(left)) => {
                let threads = thread_reports(left);
                tracing::warn!(
                    "[{}] left threads running ({}); its interpreter is kept until they end",
                    self.name,
                    threads.iter().map(|t| t.name.as_str()).collect::<Vec<_>>().join(", ")
                );
                threads
            }
            // A host thread is stuck in it: a straggler, reported as such.
            Ok(EndOutcome::Busy) => Vec::new(),
            Err(error) => {
                tracing::warn!("[{}] its interpreter could not be ended: {error}", self.name);
                return;
            }
        };
        self.state().kept.push(Kept { interpreter: interpreter.clone(), threads });
    }

    /// Tries again to end the interpreters earlier instances left behind,
    /// so the report lists only threads that still run.
    fn recheck_kept(&self) {
        let kept = std::mem::take(&mut self.state().kept);
        let mut still = Vec::new();
        for mut k in kept {
            match k.interpreter.end(Duration::ZERO) {
                Ok(EndOutcome::Ended) => tracing::debug!("[{}] an earlier instance's interpreter ended", self.name),
                Ok(EndOutcome::Left(left)) => {
                    k.threads = thread_reports(left);
                    still.push(k);
                }
                Ok(EndOutcome::Busy) | Err(_) => still.push(k),
            }
        }
        self.state().kept.extend(still);
    }
}
