//! One hosted module: its interpreter, instance, serve thread and notify
//! queue, and the state machine loading, failing and unloading move it
//! through. Lifecycle operations on a module are serialized by `ops`; the
//! state mutex is only ever held briefly, never while Python runs.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::python::{EndOutcome, Error, Interpreter, Isolation, OwnedObj};

use super::notify::{Notice, NotifyQueue};
use super::placement::is_refusal;
use super::pyside::{self, Meta};
use super::report::{ModuleReport, State, ThreadReport};
use super::supervisor::{HostEvent, Shared};

/// What exists while a module is loaded.
pub(crate) struct Live {
    pub interpreter: Interpreter,
    pub instance: Arc<OwnedObj>,
    pub meta: Meta,
    pub queue: Arc<NotifyQueue>,
    pub serve: Option<JoinHandle<()>>,
    pub dispatcher: JoinHandle<()>,
}

pub(crate) struct SlotState {
    pub status: State,
    pub isolation: Option<Isolation>,
    pub placement: Option<String>,
    pub error: Option<String>,
    pub restarts: u32,
    pub leftover: Vec<ThreadReport>,
    /// Bumped at every load, so a thread of an earlier load that reports
    /// late cannot fail the current one.
    pub generation: u64,
    pub live: Option<Live>,
    pub restart_at: Option<Instant>,
    /// The supervisor has dealt with the latest failure (cleaned up, and
    /// scheduled a restart or not): until then a failure may not be final.
    pub failure_handled: bool,
}

pub struct Slot {
    pub name: String,
    pub path: PathBuf,
    ops: Mutex<()>,
    state: Mutex<SlotState>,
    /// Notifications dropped from this module's full queues, all instances.
    dropped: Arc<AtomicU64>,
}

/// How a load went wrong.
enum LoadError {
    /// An extension refuses sub-interpreters: try the main interpreter.
    Refused(String),
    Unloadable(String),
    Failed(String),
}

fn describe(error: &Error) -> String {
    match error {
        Error::Python(exception) => exception.traceback.clone(),
        other => other.to_string(),
    }
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
                leftover: Vec::new(),
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
        ModuleReport {
            name: self.name.clone(),
            isolation: st.isolation,
            placement: st.placement.clone(),
            state: st.status,
            error: st.error.clone(),
            restarts: st.restarts,
            notifications_dropped: self.dropped.load(Ordering::Relaxed),
            leftover_threads: st.leftover.clone(),
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
        self.unload_held(shared, State::Stopped);
        {
            let mut st = self.state();
            st.restarts = st.restarts.saturating_add(1);
        }
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
            st.leftover.clear();
            st.restart_at = None;
            st.failure_handled = false;
            st.generation
        };
        let (mut isolation, mut placement) = shared.placement_for(&self.name);
        let mut attempt = self.try_load(shared, isolation);
        if let Err(LoadError::Refused(message)) = &attempt
            && isolation != Isolation::Main
        {
            tracing::warn!("[{}] refused a {isolation} interpreter ({message}); loading it in main", self.name);
            placement = Some(format!("refused a {isolation} interpreter at load: {message}"));
            isolation = Isolation::Main;
            attempt = self.try_load(shared, isolation);
        }
        let mut st = self.state();
        st.isolation = Some(isolation);
        st.placement = placement;
        match attempt {
            Ok((interpreter, instance, meta)) => {
                let instance = Arc::new(instance);
                let limit = shared.config.notify_queue_limit(&self.name);
                let queue = Arc::new(NotifyQueue::new(limit, Arc::clone(&self.dropped)));
                let dispatcher = self.spawn_dispatcher(shared, generation, &interpreter, &instance, &queue);
                let serve = meta.serves.then(|| self.spawn_serve(shared, generation, &interpreter, &instance));
                st.live = Some(Live { interpreter, instance, meta, queue, serve, dispatcher });
                st.status = State::Running;
                tracing::info!("[{}] running in {isolation} interpreter", self.name);
            }
            Err(LoadError::Unloadable(message)) => {
                tracing::error!("[{}] cannot be loaded: {message}", self.name);
                st.status = State::Unloadable;
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

    fn try_load(&self, shared: &Arc<Shared>, isolation: Isolation) -> Result<(Interpreter, OwnedObj, Meta), LoadError> {
        let interpreter = shared.python.new_interpreter(isolation).map_err(|e| LoadError::Failed(e.to_string()))?;
        let outcome = {
            let gil = interpreter.gil().map_err(|e| LoadError::Failed(e.to_string()))?;
            let module = (isolation != Isolation::Main).then_some(self.name.as_str());
            let options = serde_json::Value::Object(shared.config.module(&self.name).options);
            pyside::bootstrap(&gil, module, &shared.site_dirs)
                .and_then(|()| pyside::load(&gil, &self.name, &self.path, &options))
        };
        match outcome {
            Ok((instance, meta)) => Ok((interpreter, instance, meta)),
            Err(error) => {
                let classified = match &error {
                    Error::Python(e) if e.type_name == "Unloadable" => LoadError::Unloadable(e.message.clone()),
                    Error::Python(e) if is_refusal(e) => LoadError::Refused(e.message.clone()),
                    other => LoadError::Failed(describe(other)),
                };
                let leftover = self.retire(shared, &interpreter, Duration::ZERO);
                self.state().leftover.extend(leftover);
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
    ) -> JoinHandle<()> {
        let (slot, shared, interpreter, instance) =
            (shared.slot(&self.name), Arc::clone(shared), interpreter.clone(), Arc::clone(instance));
        thread::Builder::new()
            .name(format!("{}:serve", self.name))
            .spawn(move || {
                let outcome = interpreter.gil().and_then(|gil| pyside::serve(&gil, &instance));
                match outcome {
                    Ok(()) => tracing::info!("[{}] serve() returned", slot.name),
                    Err(error) => slot.fail(&shared, generation, describe(&error)),
                }
            })
            .expect("spawn a serve thread")
    }

    fn spawn_dispatcher(
        &self,
        shared: &Arc<Shared>,
        generation: u64,
        interpreter: &Interpreter,
        instance: &Arc<OwnedObj>,
        queue: &Arc<NotifyQueue>,
    ) -> JoinHandle<()> {
        let (slot, shared, interpreter, instance, queue) =
            (shared.slot(&self.name), Arc::clone(shared), interpreter.clone(), Arc::clone(instance), Arc::clone(queue));
        thread::Builder::new()
            .name(format!("{}:notify", self.name))
            .spawn(move || {
                // One queue and thread per module: a slow notify() delays
                // only its own module's events.
                while let Some(notice) = queue.next() {
                    let outcome = interpreter
                        .gil()
                        .and_then(|gil| pyside::notify(&gil, &instance, &notice.event, &notice.payload));
                    queue.delivered();
                    if let Err(error) = outcome {
                        queue.close();
                        slot.fail(&shared, generation, describe(&error));
                        break;
                    }
                }
            })
            .expect("spawn a notify thread")
    }

    /// Stops and unloads the module: no more notifications, shutdown(), up
    /// to the shutdown timeout for serve() to return, then the interpreter
    /// is ended (or left, with its threads reported). `to` is the state it
    /// ends in, unless it failed.
    pub(crate) fn unload(&self, shared: &Arc<Shared>, to: State) {
        let _ops = self.ops();
        self.unload_held(shared, to);
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
        self.unload_held(shared, State::Failed);
        true
    }

    fn unload_held(&self, shared: &Arc<Shared>, to: State) {
        let Some(live) = self.state().live.take() else {
            let mut st = self.state();
            if matches!(st.status, State::Running | State::Stopped) || to == State::Disabled {
                st.status = to;
            }
            return;
        };
        let Live { interpreter, instance, meta: _, queue, serve, dispatcher } = live;
        let timeout = shared.config.shutdown_timeout;
        // No notify() starts from here on; the events still waiting go.
        queue.close();
        // `stopping` first: the notify() in progress may wait on it. Then no
        // shutdown() beside a notify() the host started.
        let stopping = interpreter.gil().and_then(|gil| pyside::set_stopping(&gil, &instance));
        queue.wait_idle(Instant::now().checked_add(timeout));
        let shutdown = stopping.and_then(|()| interpreter.gil().and_then(|gil| pyside::shutdown(&gil, &instance)));
        if let Err(error) = shutdown {
            self.fail_current(shared, describe(&error));
        }
        let deadline = super::deadline::after(timeout);
        let mut stuck = Vec::new();
        for (what, handle) in [("serve()", serve), ("notify()", Some(dispatcher))] {
            if let Some(handle) = handle {
                if wait_until(&handle, deadline) {
                    let _ = handle.join();
                } else {
                    tracing::warn!("[{}] {what} did not return within {:?}; it is left running", self.name, timeout);
                    stuck.push(ThreadReport { name: format!("{what} (did not return)"), daemon: false });
                }
            }
        }
        drop(instance);
        let mut leftover = self.retire(shared, &interpreter, Duration::from_millis(200));
        leftover.extend(stuck);
        let mut st = self.state();
        st.leftover.extend(leftover);
        if !matches!(st.status, State::Failed | State::Unloadable) || to == State::Disabled {
            st.status = to;
        }
    }

    /// Ends a module's interpreter (a sub-interpreter) or, in main, only
    /// looks for threads the module left; returns those threads.
    fn retire(&self, _shared: &Shared, interpreter: &Interpreter, grace: Duration) -> Vec<ThreadReport> {
        if interpreter.is_main() {
            let threads = interpreter.gil().and_then(|gil| pyside::threads(&gil, &self.name)).unwrap_or_default();
            return threads.into_iter().map(|(name, daemon)| ThreadReport { name, daemon }).collect();
        }
        match interpreter.end(grace) {
            Ok(EndOutcome::Ended) => Vec::new(),
            Ok(EndOutcome::Left(left)) => {
                let mut threads: Vec<ThreadReport> =
                    left.threads.into_iter().map(|t| ThreadReport { name: t.name, daemon: t.daemon }).collect();
                if left.unnamed > 0 {
                    threads.push(ThreadReport {
                        name: format!("{} without a threading.Thread", left.unnamed),
                        daemon: true,
                    });
                }
                tracing::warn!(
                    "[{}] left threads running ({}); its interpreter is kept until exit",
                    self.name,
                    threads.iter().map(|t| t.name.as_str()).collect::<Vec<_>>().join(", ")
                );
                threads
            }
            Ok(EndOutcome::Busy) => Vec::new(), // a stuck serve(), reported by the caller
            Err(error) => {
                tracing::warn!("[{}] its interpreter could not be ended: {error}", self.name);
                Vec::new()
            }
        }
    }
}

fn wait_until(handle: &JoinHandle<()>, deadline: Instant) -> bool {
    while !handle.is_finished() {
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(10));
    }
    true
}
