//! The host: starts Python, places and loads the enabled modules, then
//! supervises them (ticks, failures, restarts, control requests) until a
//! signal, `--for` or `pyhost ctl stop`, and shuts down without aborting.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::{Value, json};

use crate::python::interpreter_info::{check_supported, default_isolation};
use crate::python::{InitConfig, Isolation, Python, PythonHandle, threads};

use super::calls;
use super::config::{HostConfig, RestartPolicy};
use super::control::{ControlHandle, ControlSocket};
use super::deadline;
use super::discovery::discover;
use super::memory;
use super::module::Slot;
use super::placement::{self, ProbeRequest};
use super::pyside::SpawnSupport;
use super::report::{InterpreterReport, Report, State};
use super::signals;
use super::state::StateStore;
use super::strict_modes;

/// What wakes the supervisor.
pub enum HostEvent {
    /// Instance `generation` of module `name` failed: clean it up, maybe
    /// restart it, unless a newer instance has replaced it meanwhile.
    Failed { name: String, generation: u64 },
    /// `pyhost ctl stop`.
    Stop,
}

/// What the placement probe found about one module.
#[derive(Debug, Clone)]
enum Verdict {
    /// A sub-interpreter is fine.
    Fine,
    /// It must run in the main interpreter, for this reason.
    MainOnly(String),
    /// Its import did not finish: why, with the stack where it sat.
    Hung(String),
}

/// What every thread of the host shares.
pub struct Shared {
    pub config: HostConfig,
    pub python: PythonHandle,
    /// Folders added to every interpreter with site.addsitedir.
    pub site_dirs: Vec<PathBuf>,
    pub slots: BTreeMap<String, Arc<Slot>>,
    pub state: StateStore,
    /// Module -> what the placement probe found, for the modules it probed.
    verdicts: Mutex<BTreeMap<String, Verdict>>,
    pub events: Sender<HostEvent>,
    ticks: AtomicU64,
    /// What multiprocessing's spawned children of modules run first: written
    /// when a module first asks (few do), removed at shutdown.
    spawn_support: Mutex<Option<SpawnSupport>>,
    /// Set by a signal, `ctl stop`, --for, or the start of shutdown: the
    /// host is on its way out, and loads nothing more.
    stop: Arc<AtomicBool>,
}

impl Shared {
    /// The file multiprocessing's spawned children run first, written now
    /// if no module asked before.
    pub fn spawn_main(&self) -> std::io::Result<PathBuf> {
        let mut support = self.spawn_support.lock().unwrap_or_else(|p| p.into_inner());
        if support.is_none() {
            *support = Some(SpawnSupport::write()?);
        }
        Ok(support.as_ref().map(|s| s.main_file().to_path_buf()).unwrap_or_default())
    }

    /// Removes what `spawn_main` wrote (at exit: no child starts any more).
    fn remove_spawn_support(&self) {
        self.spawn_support.lock().unwrap_or_else(|p| p.into_inner()).take();
    }

    pub fn stopping(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }

    /// Asks the host to stop (the supervisor, startup and the probe look).
    pub fn request_stop(&self, why: &str) {
        if !self.stop.swap(true, Ordering::AcqRel) {
            tracing::info!("stopping {why}");
        }
    }

    /// How long an enable, disable or restart may take: unloading waits up
    /// to shutdown_timeout for the module to stop; probing it, up to the
    /// probe's bound; loading it, up to its load_timeout, twice when a
    /// sub-interpreter refused at load sends it to main.
    pub fn module_request_bound(&self) -> Duration {
        let config = &self.config;
        let load = config.modules.values().filter_map(|m| m.load_timeout).fold(config.load_timeout, Duration::max);
        let probe = placement::probe_bound_for_one(load, config.load_timeout);
        config.shutdown_timeout.saturating_add(probe).saturating_add(load.saturating_mul(2))
    }

    /// A module a control request may change: one that exists, while the
    /// host is not stopping.
    fn changeable(&self, name: &str) -> anyhow::Result<&Arc<Slot>> {
        let slot = self.slots.get(name).with_context(|| format!("there is no module `{name}`"))?;
        if self.stopping() {
            anyhow::bail!("the host is stopping; `{name}` is left as it is");
        }
        Ok(slot)
    }

    /// Disable and restart act on a loaded module: a load under way cannot
    /// be interrupted, so they are refused until it is over.
    fn not_loading(&self, slot: &Slot) -> anyhow::Result<()> {
        if slot.report().state == State::Loading {
            anyhow::bail!(
                "`{}` is still loading; try again once `pyhost ctl SOCKET status` shows it running or failed",
                slot.name
            );
        }
        Ok(())
    }

    pub fn slot(&self, name: &str) -> Arc<Slot> {
        Arc::clone(&self.slots[name])
    }

    /// The isolation a module is loaded with, and why, if it is not the asked-for one.
    pub fn placement_for(&self, name: &str) -> (Isolation, Option<String>) {
        let wanted = self.wanted_isolation(name);
        match self.verdicts().get(name) {
            Some(Verdict::MainOnly(reason)) if wanted != Isolation::Main => (Isolation::Main, Some(reason.clone())),
            _ => (wanted, None),
        }
    }

    /// Why the module is not to be imported again: its import hung in the
    /// placement probe (the real import would hang the same way).
    pub fn hung_in_probe(&self, name: &str) -> Option<String> {
        match self.verdicts().get(name) {
            Some(Verdict::Hung(message)) => Some(message.clone()),
            _ => None,
        }
    }

    fn verdicts(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Verdict>> {
        self.verdicts.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn wanted_isolation(&self, name: &str) -> Isolation {
        self.config.module(name).isolation.or(self.config.isolation).unwrap_or_else(default_isolation)
    }

    /// Stores a value and tells every module that listens for `state`.
    pub fn set_state(&self, key: &str, value: Value, by: &str) {
        self.state.set(key, value.clone());
        self.broadcast("state", &json!({ "key": key, "value": value, "by": by }).to_string());
    }

    pub fn broadcast(&self, event: &str, payload: &str) {
        for slot in self.slots.values() {
            slot.offer(event, payload);
        }
    }

    pub fn report(&self) -> Report {
        Report {
            interpreter: InterpreterReport::current(),
            modules: self.slots.values().map(|s| s.report()).collect(),
            finalized: None,
            forced_exit: None,
            memory: Some(memory::current()),
        }
    }

    pub fn disable(self: &Arc<Self>, name: &str) -> anyhow::Result<()> {
        let slot = self.changeable(name)?;
        self.not_loading(slot)?;
        slot.unload(self, State::Disabled);
        Ok(())
    }

    /// A fresh start for one module: unload it (whatever its state), then
    /// load it again in a new interpreter. Like `enable`, it checks the
    /// module's files (it may never have been enabled, so never checked)
    /// and probes it first if no probe has placed it yet (a module never
    /// enabled, or whose import hung).
    pub fn restart(self: &Arc<Self>, name: &str) -> anyhow::Result<()> {
        let slot = self.changeable(name)?;
        self.not_loading(slot)?;
        let paths = strict_modes::module_paths(&[(name.to_string(), slot.path.clone())]);
        strict_modes::enforce(&paths, self.config.strict_modes)?;
        slot.restart(self);
        Ok(())
    }

    /// Probes a module unless a probe has already said where it goes.
    pub fn probe_unless_known(&self, name: &str) {
        let known = matches!(self.verdicts().get(name), Some(Verdict::Fine | Verdict::MainOnly(_)));
        if !known {
            self.probe(&[name.to_string()]);
        }
    }

    /// Loads a module after a control request, probing its placement first.
    pub fn enable(self: &Arc<Self>, name: &str) -> anyhow::Result<()> {
        let slot = self.changeable(name)?;
        if !matches!(slot.report().state, State::Running | State::Loading) {
            // Enabled modules were checked at start; this one may not have been.
            let paths = strict_modes::module_paths(&[(name.to_string(), slot.path.clone())]);
            strict_modes::enforce(&paths, self.config.strict_modes)?;
            self.probe(&[name.to_string()]);
            slot.load(self);
        }
        Ok(())
    }

    fn probe(&self, names: &[String]) {
        if !self.config.probe {
            return;
        }
        let mut by_isolation: BTreeMap<&'static str, ProbeRequest> = BTreeMap::new();
        for name in names {
            let isolation = self.wanted_isolation(name);
            if isolation != Isolation::Main {
                let request = by_isolation.entry(isolation.name()).or_insert_with(|| ProbeRequest {
                    isolation,
                    site_dirs: self.site_dirs.clone(),
                    modules: Vec::new(),
                    load_timeouts: BTreeMap::new(),
                    extension_timeout: self.config.load_timeout,
                });
                request.modules.push((name.clone(), self.slots[name].path.clone()));
                request.load_timeouts.insert(name.clone(), self.config.load_timeout(name));
            }
        }
        for request in by_isolation.into_values() {
            let stop = Arc::clone(&self.stop);
            let bound = placement::probe_bound(&request);
            let result = placement::probe(&request, bound, move || stop.load(Ordering::Acquire));
            let mut verdicts = self.verdicts();
            for name in result.probed {
                let verdict = if let Some(message) = result.hung.get(&name) {
                    tracing::warn!("[{name}] its import did not finish in the placement probe");
                    Verdict::Hung(message.clone())
                } else if let Some(reason) = result.main_only.get(&name) {
                    tracing::info!("[{name}] placed in the main interpreter: {reason}");
                    Verdict::MainOnly(reason.clone())
                } else {
                    Verdict::Fine
                };
                verdicts.insert(name, verdict);
            }
        }
    }
}

/// Settings of one `pyhost run` beyond the config file.
#[derive(Debug, Default)]
pub struct RunOptions {
    pub duration: Option<Duration>,
    pub control: Option<PathBuf>,
    /// Where a forced exit (a second signal) writes the report.
    pub report: Option<PathBuf>,
}

pub struct Host {
    python: Python,
    shared: Arc<Shared>,
    events: Receiver<HostEvent>,
    control: Option<ControlHandle>,
}

impl Host {
    /// Starts the host: call it before the process starts any thread (see
    /// [`signals::watch`]). The control socket answers from before the
    /// placement probe; a signal or `ctl stop` during the probe or the loads
    /// ends them early, and `run` then returns at once.
    pub fn start(config: HostConfig, options: &RunOptions) -> anyhow::Result<Host> {
        let stop = Arc::new(AtomicBool::new(false));
        let for_signals: Arc<OnceLock<Weak<Shared>>> = Arc::default();
        watch_signals(&stop, &for_signals, options.report.clone())?;
        let modules = discover(&config.module_dirs)?;
        config.check_module_names(modules.keys().map(String::as_str))?;
        let enabled: Vec<(String, PathBuf)> =
            modules.iter().filter(|(name, _)| config.is_enabled(name)).map(|(n, p)| (n.clone(), p.clone())).collect();
        strict_modes::enforce(&strict_modes::paths_to_check(&config, &enabled), config.strict_modes)?;
        for (name, module) in &config.modules {
            if let Some(isolation) = module.isolation.or(config.isolation) {
                check_supported(isolation).with_context(|| format!("module {name}"))?;
            }
        }
        if let Some(isolation) = config.isolation {
            check_supported(isolation)?;
        }
        if let Some(bytes) = config.thread_stack_size {
            threads::set_stack_size(bytes);
        }
        let control = options.control.as_deref().map(ControlSocket::bind).transpose()?;
        let python = Python::initialize(&InitConfig::default())?;
        // threading takes the thread that first imports it for the main
        // thread. Modules load on threads of their own, so the main
        // interpreter imports it here, on the process's main thread, as a
        // Python program would.
        python.main().gil().and_then(|gil| gil.import("threading").map(drop))?;
        let (events_tx, events) = mpsc::channel();
        let site_dirs = config.python_path.clone();
        let slots = modules.into_iter().map(|(name, path)| (name.clone(), Arc::new(Slot::new(name, path)))).collect();
        let shared = Arc::new(Shared {
            config,
            python: python.handle(),
            site_dirs,
            slots,
            state: StateStore::default(),
            verdicts: Mutex::new(BTreeMap::new()),
            events: events_tx,
            ticks: AtomicU64::new(0),
            stop,
            spawn_support: Mutex::new(None),
        });
        let _ = for_signals.set(Arc::downgrade(&shared));
        let for_calls = Arc::clone(&shared);
        crate::python::set_handler(move |call| calls::handle(&for_calls, call));

        let enabled: Vec<String> = shared.slots.keys().filter(|n| shared.config.is_enabled(n)).cloned().collect();
        if enabled.is_empty() {
            tracing::warn!(
                "no module is enabled; found: {} (use --enable NAME,... or --all)",
                shared.slots.keys().cloned().collect::<Vec<_>>().join(", ")
            );
        }
        for name in &enabled {
            shared.slots[name].mark_pending();
        }
        // Up before the probe and the loads, which can take long, so `ctl
        // status` answers meanwhile (`pending`, `loading`).
        let control = control.map(|server| server.serve(Arc::clone(&shared)));
        if !shared.stopping() {
            shared.probe(&enabled);
        }
        load_at_start(&shared, &enabled);
        Ok(Host { python, shared, events, control })
    }

    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Supervises until a signal, the deadline or a stop request.
    pub fn run(&mut self, duration: Option<Duration>) {
        let deadline = duration.map(deadline::after);
        let tick_every = self.shared.config.tick_interval;
        let mut next_tick = deadline::after(tick_every);
        loop {
            if self.shared.stopping() {
                return;
            }
            let now = Instant::now();
            if deadline.is_some_and(|d| now >= d) {
                self.shared.request_stop("(--for expired)");
                return;
            }
            if !tick_every.is_zero() && now >= next_tick {
                let count = self.shared.ticks.fetch_add(1, Ordering::Relaxed) + 1;
                self.shared.broadcast("tick", &json!({ "count": count }).to_string());
                next_tick = deadline::after(tick_every);
            }
            self.restart_due();
            match self.events.recv_timeout(Duration::from_millis(50)) {
                Ok(HostEvent::Failed { name, generation }) => self.after_failure(&name, generation),
                Ok(HostEvent::Stop) => {
                    self.shared.request_stop("on request");
                    return;
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
    }

    /// A failed module is unloaded (its shutdown() may stop its threads) and,
    /// with restart = "on-failure", scheduled for a fresh interpreter. A
    /// failure of an instance that a restart has replaced is ignored.
    fn after_failure(&self, name: &str, generation: u64) {
        let slot = self.shared.slot(name);
        if !slot.unload_failed(&self.shared, generation) {
            tracing::debug!("[{name}] a failure of instance {generation}, since replaced, is ignored");
            return;
        }
        let restart = &self.shared.config.restart;
        let mut st = slot.state();
        st.failure_handled = true;
        if st.status != State::Failed || self.shared.config.restart_policy(name) != RestartPolicy::OnFailure {
            return;
        }
        if st.restarts >= restart.limit {
            tracing::warn!("[{name}] failed {} times; not restarting it again", st.restarts.saturating_add(1));
            return;
        }
        let delay = restart.backoff.saturating_mul(1 << st.restarts.min(16));
        tracing::info!("[{name}] restarting in {delay:?}");
        st.restart_at = Some(deadline::after(delay));
    }

    fn restart_due(&self) {
        let now = Instant::now();
        for slot in self.shared.slots.values() {
            let due = {
                let mut st = slot.state();
                let due = st.status == State::Failed && st.restart_at.is_some_and(|at| now >= at);
                if due {
                    st.restarts = st.restarts.saturating_add(1);
                }
                due
            };
            if due {
                slot.load(&self.shared);
            }
        }
    }

    /// Stops every module, ends every interpreter that can be ended, and
    /// finalizes Python when that is safe. Returns the final report.
    /// The control socket keeps answering meanwhile (`status` shows which
    /// module is slow to stop); requests that would change a module are refused.
    pub fn shutdown(self) -> Report {
        let Host { python, shared, control, .. } = self;
        shared.request_stop("(shutting down)");
        for slot in shared.slots.values() {
            slot.unload(&shared, State::Stopped);
        }
        // Modules that were never enabled are reported as disabled.
        let teardown = python.finalize(Duration::from_millis(200));
        let mut report = shared.report();
        report.finalized = Some(teardown.as_ref().is_ok_and(|t| t.finalized));
        if let Err(error) = teardown {
            tracing::warn!("Python was not finalized: {error}");
        }
        if let Some(control) = control {
            control.stop();
        }
        shared.remove_spawn_support();
        report
    }
}

/// Loads the enabled modules at start. Modules placed in own-GIL
/// interpreters are loaded `start_jobs` at a time (1 by default: loading one
/// by one is what the failure model documents, e.g. a signal stops the
/// start before the next module),
/// each on a thread of its own: CPython makes such interpreters from several
/// OS threads at once, each under its own GIL, so their imports run in
/// parallel. The others (shared, main, and every module before 3.12) load
/// one after the other first, as a shared GIL would serialize them anyway.
fn load_at_start(shared: &Arc<Shared>, enabled: &[String]) {
    let (parallel, serial): (Vec<&String>, Vec<&String>) =
        enabled.iter().partition(|name| shared.placement_for(name).0 == Isolation::OwnGil);
    let jobs = shared.config.start_jobs.unwrap_or(1).min(parallel.len());
    let not_loaded = |left: usize| tracing::info!("{left} module(s) not loaded: the host is stopping");
    for (done, name) in serial.iter().enumerate() {
        if shared.stopping() {
            not_loaded(enabled.len() - done);
            return;
        }
        shared.slots[name.as_str()].load_pending(shared);
    }
    if jobs <= 1 {
        for (done, name) in parallel.iter().enumerate() {
            if shared.stopping() {
                not_loaded(parallel.len() - done);
                return;
            }
            shared.slots[name.as_str()].load_pending(shared);
        }
        return;
    }
    tracing::info!("loading {} own-gil modules, {jobs} at a time", parallel.len());
    // Each job takes the next module not yet taken; a hung import holds up
    // only its own job, for its load_timeout.
    let next = AtomicU64::new(0);
    std::thread::scope(|s| {
        for job in 0..jobs {
            let (next, parallel) = (&next, &parallel);
            let started = threads::builder(format!("start:{job}")).spawn_scoped(s, move || {
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed) as usize;
                    let Some(name) = parallel.get(index) else { return };
                    if shared.stopping() {
                        return;
                    }
                    shared.slots[name.as_str()].load_pending(shared);
                }
            });
            if let Err(error) = started {
                // The jobs already started take every module anyway.
                tracing::warn!("could not start a thread to load modules in parallel: {error}");
                if job == 0 {
                    for name in parallel.iter() {
                        shared.slots[name.as_str()].load_pending(shared);
                    }
                }
                break;
            }
        }
    });
    let left = parallel.iter().filter(|name| shared.slots[name.as_str()].report().state == State::Pending).count();
    if left > 0 && shared.stopping() {
        not_loaded(left);
    }
}

/// The first SIGINT, SIGTERM or SIGHUP stops the host; a second one, when
/// stopping is stuck (a shutdown() that never returns, an import that
/// hangs), writes the report as things stand and exits at once.
fn watch_signals(
    stop: &Arc<AtomicBool>,
    shared: &Arc<OnceLock<Weak<Shared>>>,
    report: Option<PathBuf>,
) -> anyhow::Result<()> {
    let (stop, shared) = (Arc::clone(stop), Arc::clone(shared));
    signals::watch(
        move |signal| {
            let name = crate::child::signal_name(signal);
            tracing::info!("{name}: stopping (send it again to exit at once, without waiting for the modules)");
            stop.store(true, Ordering::Release);
        },
        move |signal| {
            let shared = shared.get().and_then(Weak::upgrade);
            forced_exit(shared.as_deref(), report.as_deref(), &crate::child::signal_name(signal))
        },
    )
    .context("cannot take SIGINT, SIGTERM and SIGHUP for the host")
}

fn forced_exit(shared: Option<&Shared>, report_path: Option<&Path>, signal: &str) -> ! {
    tracing::warn!("{signal} again: exiting now, without waiting for the modules");
    let mut report = match shared {
        Some(shared) => shared.report(),
        None => Report {
            interpreter: InterpreterReport::current(),
            modules: Vec::new(),
            finalized: None,
            forced_exit: None,
            memory: Some(memory::current()),
        },
    };
    report.finalized = Some(false);
    report.forced_exit = Some(format!("a second signal ({signal}) while stopping"));
    if let Some(shared) = shared {
        shared.remove_spawn_support();
    }
    if let Some(path) = report_path {
        match report.write(path) {
            Ok(()) => tracing::info!("report written to {}", path.display()),
            Err(error) => tracing::error!("{error:#}"),
        }
    }
    signals::exit_now(0)
}
