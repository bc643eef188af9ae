//! The host: starts Python, places and loads the enabled modules, then
//! supervises them (ticks, failures, restarts, control requests) until a
//! signal, `--for` or `pyhost ctl stop`, and shuts down without aborting.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::{Value, json};

use crate::python::interpreter_info::{check_supported, default_isolation};
use crate::python::{InitConfig, Isolation, Python, PythonHandle, threads};

use super::bounded;
use super::calls;
use super::config::{HostConfig, RestartPolicy};
use super::control::{ControlHandle, ControlSocket};
use super::deadline;
use super::discovery::discover;
use super::kept_verdicts::KeptVerdicts;
use super::memory;
use super::module::Slot;
use super::placement::{self, ProbeRequest, Verdict};
use super::pyside::SpawnSupport;
use super::report::{InterpreterReport, Report, State};
use super::signals;
use super::state::StateStore;
use super::stop;
use super::strict_modes;

/// What wakes the supervisor.
pub enum HostEvent {
    /// Instance `generation` of module `name` failed: clean it up, maybe
    /// restart it, unless a newer instance has replaced it meanwhile.
    Failed { name: String, generation: u64 },
    /// `pyhost ctl stop`.
    Stop,
}

/// What the placement probe found, and which verdicts are still to come.
#[derive(Default)]
struct Verdicts {
    /// Module -> its verdict; None: the probe ended without one (the
    /// fallback at load time then places it).
    known: BTreeMap<String, Option<Verdict>>,
    /// Modules the probe started with the host will tell about: loading one
    /// waits until it has an entry in `known`.
    coming: BTreeSet<String>,
    /// Modules whose verdict in `known` an earlier start's probe found
    /// (kept_verdicts.rs), not this host's.
    kept: BTreeSet<String>,
}

/// Whether a module may load now, as far as its placement goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Awaited {
    /// Its verdict is in, or none was asked for (probe = false, main).
    Placed,
    /// The probe ended without a verdict on it.
    Unplaced,
    /// The host is stopping: load nothing more.
    Stopping,
}

/// What every thread of the host shares.
pub struct Shared {
    pub config: HostConfig,
    pub python: PythonHandle,
    /// Folders added to every interpreter with site.addsitedir.
    pub site_dirs: Vec<PathBuf>,
    pub slots: BTreeMap<String, Arc<Slot>>,
    pub state: StateStore,
    /// What the placement probe found, for the modules it probed.
    verdicts: Mutex<Verdicts>,
    /// Verdicts kept from earlier starts; None: probe = false or
    /// probe_cache = false, or no cache folder.
    kept_verdicts: Option<KeptVerdicts>,
    /// Notified each time a verdict comes in.
    verdict_came: Condvar,
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
    /// A verdict kept from an earlier start says so.
    pub fn placement_for(&self, name: &str) -> (Isolation, Option<String>) {
        let wanted = self.wanted_isolation(name);
        let (verdict, kept) = {
            let verdicts = self.verdicts();
            (verdicts.known.get(name).cloned().flatten(), verdicts.kept.contains(name))
        };
        match verdict {
            Some(Verdict::MainOnly(reason)) if wanted != Isolation::Main && kept => {
                (Isolation::Main, Some(format!("{reason} (kept from an earlier probe)")))
            }
            Some(Verdict::MainOnly(reason)) if wanted != Isolation::Main => (Isolation::Main, Some(reason)),
            Some(Verdict::Fine) if kept => (wanted, Some(format!("{wanted} is fine (kept from an earlier probe)"))),
            _ => (wanted, None),
        }
    }

    /// Why the module is not to be imported: its import hung in the
    /// placement probe, or killed the probe's copy of the process (the real
    /// import would hang the host's start, or end the host).
    pub fn not_to_import(&self, name: &str) -> Option<String> {
        match self.verdict(name) {
            Some(Verdict::Hung(message) | Verdict::Crashed(message)) => Some(message),
            _ => None,
        }
    }

    fn verdicts(&self) -> MutexGuard<'_, Verdicts> {
        self.verdicts.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn verdict(&self, name: &str) -> Option<Verdict> {
        self.verdicts().known.get(name).cloned().flatten()
    }

    /// Keeps what the probe found about `name` and wakes the loads waiting
    /// for it. No verdict never replaces one (a `ctl enable` during the
    /// start may have probed the module already).
    fn record(&self, name: &str, verdict: Option<Verdict>) {
        match &verdict {
            Some(Verdict::Hung(_)) => tracing::warn!("[{name}] its import did not finish in the placement probe"),
            Some(Verdict::Crashed(_)) => tracing::warn!("[{name}] its import crashed the placement probe's copy"),
            Some(Verdict::MainOnly(reason)) => tracing::info!("[{name}] placed in the main interpreter: {reason}"),
            Some(Verdict::Fine) | None => {}
        }
        let mut verdicts = self.verdicts();
        match verdict {
            Some(verdict) => {
                verdicts.known.insert(name.to_string(), Some(verdict));
                verdicts.kept.remove(name);
            }
            None => {
                verdicts.known.entry(name.to_string()).or_insert(None);
            }
        }
        drop(verdicts);
        self.verdict_came.notify_all();
    }

    /// Waits until the probe has told about `name` (or will not), or the
    /// host stops.
    fn await_verdict(&self, name: &str) -> Awaited {
        let mut verdicts = self.verdicts();
        loop {
            if self.stopping() {
                return Awaited::Stopping;
            }
            match verdicts.known.get(name) {
                Some(Some(_)) => return Awaited::Placed,
                Some(None) => return Awaited::Unplaced,
                None if !verdicts.coming.contains(name) => return Awaited::Placed,
                None => {}
            }
            // The stop flag is set from a signal's thread, which cannot
            // notify: look at it now and then.
            verdicts = self
                .verdict_came
                .wait_timeout(verdicts, Duration::from_millis(50))
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
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
        let known = matches!(self.verdict(name), Some(Verdict::Fine | Verdict::MainOnly(_)));
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

    /// Takes a verdict kept from an earlier start, if nothing it rests on
    /// changed since: the module is then not probed.
    fn use_kept(&self, name: &str, isolation: Isolation) -> bool {
        let Some(kept) = &self.kept_verdicts else { return false };
        let Some(verdict) = kept.lookup(name, &self.slots[name].path, isolation, &self.site_dirs) else { return false };
        match &verdict {
            Verdict::MainOnly(reason) => {
                tracing::info!("[{name}] placed in the main interpreter: {reason} (kept from an earlier probe)")
            }
            _ => tracing::debug!("[{name}] placed by the verdict kept from an earlier probe"),
        }
        let mut verdicts = self.verdicts();
        verdicts.known.insert(name.to_string(), Some(verdict));
        verdicts.kept.insert(name.to_string());
        drop(verdicts);
        self.verdict_came.notify_all();
        true
    }

    /// The probe's requests for `names`, one per isolation asked for (main
    /// is not probed, nor a module with a kept verdict), in the order
    /// `load_at_start` loads them: own-gil last.
    fn probe_requests(&self, names: &[String]) -> Vec<ProbeRequest> {
        if !self.config.probe {
            return Vec::new();
        }
        let mut requests: Vec<ProbeRequest> = Vec::new();
        for name in names {
            let isolation = self.wanted_isolation(name);
            if isolation == Isolation::Main || self.use_kept(name, isolation) {
                continue;
            }
            let index = match requests.iter().position(|r| r.isolation == isolation) {
                Some(index) => index,
                None => {
                    requests.push(ProbeRequest {
                        isolation,
                        site_dirs: self.site_dirs.clone(),
                        modules: Vec::new(),
                        load_timeouts: BTreeMap::new(),
                        extension_timeout: self.config.load_timeout,
                    });
                    requests.len() - 1
                }
            };
            requests[index].modules.push((name.clone(), self.slots[name].path.clone()));
            requests[index].load_timeouts.insert(name.clone(), self.config.load_timeout(name));
        }
        requests.sort_by_key(|r| r.isolation == Isolation::OwnGil);
        requests
    }

    /// Probes `names` and keeps the verdicts; returns when it is over.
    fn probe(&self, names: &[String]) {
        self.run_probe(self.probe_requests(names));
    }

    fn run_probe(&self, requests: Vec<ProbeRequest>) {
        for request in requests {
            let stop = Arc::clone(&self.stop);
            let bound = placement::probe_bound(&request);
            placement::probe(&request, bound, move || stop.load(Ordering::Acquire), &|name, line| {
                let kept = line.as_ref().and_then(|l| Some((self.kept_verdicts.as_ref()?, l.files.as_ref()?)));
                let verdict = line.as_ref().map(|l| l.verdict.clone());
                self.record(name, verdict.clone());
                if let (Some((kept, files)), Some(verdict)) = (kept, verdict) {
                    let path = &self.slots[name].path;
                    kept.keep(name, path, request.isolation, &request.site_dirs, &verdict, files);
                }
            });
        }
    }

    /// Starts probing `names` on a thread of its own, so that each module
    /// can load as soon as its own verdict is in (`await_verdict`) rather
    /// than after the whole probe. Every module asked about gets an entry,
    /// whatever happens to the probe (see `Unplaced`).
    fn start_probe(self: &Arc<Self>, names: &[String]) -> Option<JoinHandle<()>> {
        let requests = self.probe_requests(names);
        if requests.is_empty() {
            return None;
        }
        let asked: Vec<String> = requests.iter().flat_map(|r| r.modules.iter().map(|(name, _)| name.clone())).collect();
        self.verdicts().coming.extend(asked.iter().cloned());
        /// Gives every module asked about an entry when the probe is over,
        /// even if its thread panicked: nothing waits for ever.
        struct Over(Arc<Shared>, Vec<String>);
        impl Drop for Over {
            fn drop(&mut self) {
                for name in &self.1 {
                    self.0.record(name, None);
                }
            }
        }
        let over = Over(Arc::clone(self), asked);
        let shared = Arc::clone(self);
        match threads::builder("probe").spawn(move || {
            let _over = over;
            shared.run_probe(requests);
        }) {
            Ok(running) => Some(running),
            Err(error) => {
                // The closure, and with it `over`, is gone: every module asked
                // about is unplaced, as when the probe fails.
                tracing::warn!("could not start the placement probe's thread ({error}); loading without it");
                None
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
        let kept_verdicts = (config.probe && config.probe_cache).then(|| KeptVerdicts::open(!config.reprobe)).flatten();
        let slots = modules.into_iter().map(|(name, path)| (name.clone(), Arc::new(Slot::new(name, path)))).collect();
        let shared = Arc::new(Shared {
            config,
            python: python.handle(),
            site_dirs,
            slots,
            state: StateStore::default(),
            verdicts: Mutex::new(Verdicts::default()),
            kept_verdicts,
            verdict_came: Condvar::new(),
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
        let probing = if shared.stopping() { None } else { shared.start_probe(&enabled) };
        load_at_start(&shared, &enabled);
        // Every verdict a load waited for is in; what is left is quick (a
        // module disabled meanwhile, or a probe being cancelled).
        if let Some(probing) = probing {
            let _ = probing.join();
        }
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

    /// Stops every module (all at once, see `stop`), ends every interpreter
    /// that can be ended, and finalizes Python when that is safe. Returns the final report.
    /// The control socket keeps answering meanwhile (`status` shows which
    /// module is slow to stop); requests that would change a module are refused.
    pub fn shutdown(self) -> Report {
        let Host { python, shared, control, .. } = self;
        shared.request_stop("(shutting down)");
        stop::stop_all(&shared);
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

/// Loads the enabled modules at start, each as soon as the placement
/// probe's verdict on it is in (the probe runs beside, see `start_probe`).
/// Modules that want own-GIL interpreters are loaded `start_jobs` at a time
/// (1 by default: loading one by one is what the failure model documents,
/// e.g. a signal stops the start before the next module), each on a thread
/// of its own: CPython makes such interpreters from several OS threads at
/// once, each under its own GIL, so their imports run in parallel. The
/// others (shared, main, and every module before 3.12) load one after the
/// other first, as a shared GIL would serialize them anyway. A module the
/// probe placed in main loads there at its turn.
///
/// Why loading a module as soon as its verdict is in keeps every main-only
/// module the first importer of the extension that refuses sub-interpreters:
/// a module is Fine only once each extension its import brought in was
/// imported again in a fresh interpreter without refusing (placement.rs),
/// so a Fine module imports no refusing extension, and a Hung one is not
/// imported at all; whatever order they load in, only main-only modules
/// import a refusing extension. A verdict kept from an earlier start is such
/// a verdict, on the same files (kept_verdicts.rs). A module the probe ended without a verdict
/// on (its child died or ran out of time) may import anything, so those
/// load last, after every module with a verdict, as when the whole probe
/// fails they load after none.
fn load_at_start(shared: &Arc<Shared>, enabled: &[String]) {
    let (parallel, serial): (Vec<String>, Vec<String>) =
        enabled.iter().cloned().partition(|name| shared.wanted_isolation(name) == Isolation::OwnGil);
    let jobs = shared.config.start_jobs.unwrap_or(1);
    let unplaced_serial = load_in_turn(shared, &serial, 1, false);
    let unplaced_parallel = load_in_turn(shared, &parallel, jobs, false);
    if !unplaced_serial.is_empty() || !unplaced_parallel.is_empty() {
        tracing::info!(
            "loading {} module(s) the placement probe has no verdict on, after the others",
            unplaced_serial.len() + unplaced_parallel.len()
        );
    }
    load_in_turn(shared, &unplaced_serial, 1, true);
    load_in_turn(shared, &unplaced_parallel, jobs, true);
    let left = enabled.iter().filter(|name| shared.slots[name.as_str()].report().state == State::Pending).count();
    if left > 0 && shared.stopping() {
        tracing::info!("{left} module(s) not loaded: the host is stopping");
    }
}

/// Loads `names` in order, `jobs` at a time, each once its verdict is in,
/// until the host stops. Returns, in order, the modules the probe ended
/// without a verdict on, left for later unless `unplaced_too`.
fn load_in_turn(shared: &Arc<Shared>, names: &[String], jobs: usize, unplaced_too: bool) -> Vec<String> {
    let unplaced: Mutex<Vec<(usize, String)>> = Mutex::default();
    // One module: whether the start goes on.
    let load = |index: usize, name: &String| -> bool {
        match shared.await_verdict(name) {
            Awaited::Stopping => return false,
            Awaited::Unplaced if !unplaced_too => {
                unplaced.lock().unwrap_or_else(|p| p.into_inner()).push((index, name.clone()));
            }
            Awaited::Placed | Awaited::Unplaced => shared.slots[name.as_str()].load_pending(shared),
        }
        !shared.stopping()
    };
    let jobs = jobs.min(names.len());
    if jobs <= 1 {
        for (index, name) in names.iter().enumerate() {
            if shared.stopping() || !load(index, name) {
                break;
            }
        }
    } else {
        tracing::info!("loading {} own-gil modules, {jobs} at a time", names.len());
        // Each job takes the next module not yet taken; a hung import holds
        // up only its own job, for its load_timeout.
        let next = AtomicU64::new(0);
        std::thread::scope(|s| {
            for job in 0..jobs {
                let (next, load) = (&next, &load);
                let started = threads::builder(format!("start:{job}")).spawn_scoped(s, move || {
                    // Each job's loads run on one thread of its own, not one
                    // thread per module (bounded.rs, `Worker`, says why).
                    bounded::with_worker(&format!("load:{job}"), || {
                        loop {
                            let index = next.fetch_add(1, Ordering::Relaxed) as usize;
                            let Some(name) = names.get(index) else { return };
                            if shared.stopping() || !load(index, name) {
                                return;
                            }
                        }
                    })
                });
                if let Err(error) = started {
                    // The jobs already started take every module anyway.
                    tracing::warn!("could not start a thread to load modules in parallel: {error}");
                    if job == 0 {
                        for (index, name) in names.iter().enumerate() {
                            if shared.stopping() || !load(index, name) {
                                break;
                            }
                        }
                    }
                    break;
                }
            }
        });
    }
    let mut unplaced = unplaced.into_inner().unwrap_or_else(|p| p.into_inner());
    unplaced.sort();
    unplaced.into_iter().map(|(_, name)| name).collect()
}

/// The first SIGINT, SIGTERM or SIGHUP stops the host; a second one, when
/// stopping is stuck (a shutdown() that never returns, an import that
/// hangs), writes the report as things stand and exits at once.
fn watch_signals(
    stop: &Arc<AtomicBool>,
    shared: &Arc<OnceLock<Weak<Shared>>>,
    report: Option<PathBuf>,
) -> anyhow::Result<()> {
    let (stop, shared, to_wake) = (Arc::clone(stop), Arc::clone(shared), Arc::clone(shared));
    signals::watch(
        move |signal| {
            let name = crate::child::signal_name(signal);
            tracing::info!("{name}: stopping (send it again to exit at once, without waiting for the modules)");
            stop.store(true, Ordering::Release);
            // Wakes the supervisor now rather than at its next look.
            if let Some(shared) = to_wake.get().and_then(Weak::upgrade) {
                let _ = shared.events.send(HostEvent::Stop);
            }
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
