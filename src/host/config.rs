//! The host's configuration: a TOML file, with command-line flags on top.
//!
//! ```toml
//! module_dirs = ["py3-fixtures"]          # relative to this file
//! enable = ["rest", "dashboard"]          # or enable = "all"
//! isolation = "shared"                    # own-gil | shared | main (default: best available)
//! python_path = ["{cache}/pyhost/site/{python_version}"]   # added like site.addsitedir
//! log_level = "info"
//! tick_interval = 1.0                     # seconds between `tick` notifications
//! shutdown_timeout = 10.0                 # seconds a module gets to stop (notify, shutdown, serve)
//! load_timeout = 30.0                     # seconds a module's import and __init__ may take
//! notify_queue_limit = 1000               # events waiting per module; beyond it the oldest is dropped
//! probe = true                            # find extensions that refuse sub-interpreters first
//! probe_cache = true                      # reuse the probe's verdicts while their files are unchanged
//! strict_modes = true                     # refuse code others can write (see strict_modes.rs)
//! thread_stack_size = "8M"                # stack of the threads that run modules (default: ulimit -s)
//! start_jobs = 2                          # own-GIL modules started at once (default: 1)
//!
//! [restart]
//! policy = "on-failure"                   # or "never"
//! backoff = 1.0                           # seconds before the first restart, doubled after
//! limit = 3                               # restarts per module, then it stays failed
//!
//! [modules.rest]
//! isolation = "main"
//! restart = "never"                       # this module's own policy
//! load_timeout = 60.0                     # this module's own load timeout
//! notify_queue_limit = 10                 # this module's own queue limit
//! options = { port = 8081 }
//! ```
//!
//! A mistake is an error that names the key and, for a typo, the close
//! match: unknown keys, values out of range, a `[modules.NAME]` for a
//! module that is not there (checked at start, once modules are found).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use serde::Deserialize;

use crate::python::Isolation;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Enable {
    All,
    Only(Vec<String>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RestartPolicy {
    Never,
    OnFailure,
}

/// The host log's level (`PYHOST_LOG` and `-v` still override it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    Off,
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

impl LogLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Off => "off",
            LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
            LogLevel::Trace => "trace",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Restart {
    pub policy: RestartPolicy,
    pub backoff: Duration,
    pub limit: u32,
}

#[derive(Debug, Clone, Default)]
pub struct ModuleConfig {
    pub isolation: Option<Isolation>,
    /// Overrides restart.policy for this module.
    pub restart: Option<RestartPolicy>,
    pub options: serde_json::Map<String, serde_json::Value>,
    /// Overrides the global load_timeout for this module.
    pub load_timeout: Option<Duration>,
    /// Overrides the global notify_queue_limit for this module.
    pub notify_queue_limit: Option<usize>,
}

/// Everything `pyhost run` needs, resolved.
#[derive(Debug, Clone)]
pub struct HostConfig {
    pub module_dirs: Vec<PathBuf>,
    pub enable: Enable,
    pub isolation: Option<Isolation>,
    pub python_path: Vec<PathBuf>,
    pub log_level: Option<LogLevel>,
    pub tick_interval: Duration,
    pub shutdown_timeout: Duration,
    /// How long importing module.py and running __init__ may take before
    /// the module is given up on (its thread is left where it hangs).
    pub load_timeout: Duration,
    /// Events that may wait for a module's notify(); beyond, the oldest go.
    pub notify_queue_limit: usize,
    pub probe: bool,
    /// Keep the probe's verdicts for the next start, and reuse those kept
    /// while nothing they rest on changed (kept_verdicts.rs).
    pub probe_cache: bool,
    /// Probe every module again and keep the new verdicts, not reading the
    /// kept ones (`pyhost run --reprobe`; not a key of the file).
    pub reprobe: bool,
    /// Refuse module and package paths that others than root and the
    /// host's user can write (see strict_modes.rs); false only warns.
    pub strict_modes: bool,
    /// Bytes of stack for the threads the host starts to run Python code;
    /// None: what a thread Python starts gets (see python::threads).
    pub thread_stack_size: Option<usize>,
    /// Own-GIL modules whose interpreters are made and loaded at once at
    /// start; None: one per CPU. Other isolations always load one by one.
    pub start_jobs: Option<usize>,
    pub restart: Restart,
    pub modules: BTreeMap<String, ModuleConfig>,
}

impl Default for HostConfig {
    fn default() -> Self {
        HostConfig {
            module_dirs: Vec::new(),
            enable: Enable::Only(Vec::new()),
            isolation: None,
            python_path: Vec::new(),
            log_level: None,
            tick_interval: Duration::from_secs(1),
            shutdown_timeout: Duration::from_secs(10),
            load_timeout: DEFAULT_LOAD_TIMEOUT,
            notify_queue_limit: DEFAULT_NOTIFY_QUEUE_LIMIT,
            probe: true,
            probe_cache: true,
            reprobe: false,
            strict_modes: true,
            thread_stack_size: None,
            start_jobs: None,
            restart: Restart { policy: RestartPolicy::Never, backoff: Duration::from_secs(1), limit: 3 },
            modules: BTreeMap::new(),
        }
    }
}

impl HostConfig {
    pub fn module(&self, name: &str) -> ModuleConfig {
        self.modules.get(name).cloned().unwrap_or_default()
    }

    pub fn restart_policy(&self, name: &str) -> RestartPolicy {
        self.modules.get(name).and_then(|m| m.restart).unwrap_or(self.restart.policy)
    }

    pub fn load_timeout(&self, name: &str) -> Duration {
        self.modules.get(name).and_then(|m| m.load_timeout).unwrap_or(self.load_timeout)
    }

    pub fn notify_queue_limit(&self, name: &str) -> usize {
        self.modules.get(name).and_then(|m| m.notify_queue_limit).unwrap_or(self.notify_queue_limit)
    }

    pub fn is_enabled(&self, name: &str) -> bool {
        match &self.enable {
            Enable::All => true,
            Enable::Only(names) => names.iter().any(|n| n == name),
        }
    }

    /// Reads a TOML file; relative paths in it are relative to its folder,
    /// wherever pyhost runs from.
    pub fn from_file(path: &Path) -> anyhow::Result<HostConfig> {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        let base = config_folder(path)?;
        HostConfig::parse(&text, &base).with_context(|| format!("{} is not a valid pyhost config", path.display()))
    }

    /// A config's text, with relative paths taken from `base`. Reads no
    /// file and needs no Python (the fuzzer calls it).
    pub fn parse(text: &str, base: &Path) -> anyhow::Result<HostConfig> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| anyhow::anyhow!(with_suggestion(&e)))?;
        raw.resolve(base)
    }

    /// Names in the config must name modules that exist: a `[modules.NAME]`
    /// or an enabled name that matches nothing is a typo, not a no-op.
    /// Checked once the modules are found, before any is loaded.
    pub fn check_module_names<'a>(&self, found: impl IntoIterator<Item = &'a str> + Clone) -> anyhow::Result<()> {
        let listing = || found.clone().into_iter().collect::<Vec<_>>().join(", ");
        let known = |name: &str| found.clone().into_iter().any(|f| f == name);
        for name in self.modules.keys() {
            if !known(name) {
                bail!(
                    "unknown module `{name}` in [modules.{name}]{} (modules found: {})",
                    did_you_mean(name, found.clone()),
                    listing()
                );
            }
        }
        if let Enable::Only(names) = &self.enable {
            for name in names {
                if !known(name) {
                    bail!(
                        "module `{name}` is enabled but not found in {}{} (modules found: {})",
                        self.module_dirs.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", "),
                        did_you_mean(name, found.clone()),
                        listing()
                    );
                }
            }
        }
        Ok(())
    }
}

/// The absolute folder of a config file, which its relative paths start
/// from. `--config pyhost.toml` has "" as its parent: the current folder.
fn config_folder(path: &Path) -> anyhow::Result<PathBuf> {
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::canonicalize(parent).with_context(|| format!("cannot resolve the folder of {}", path.display()))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    module_dirs: Vec<PathBuf>,
    enable: Option<RawEnable>,
    isolation: Option<String>,
    #[serde(default)]
    python_path: Vec<PathBuf>,
    log_level: Option<LogLevel>,
    tick_interval: Option<f64>,
    shutdown_timeout: Option<f64>,
    load_timeout: Option<f64>,
    notify_queue_limit: Option<usize>,
    probe: Option<bool>,
    probe_cache: Option<bool>,
    strict_modes: Option<bool>,
    thread_stack_size: Option<RawSize>,
    start_jobs: Option<usize>,
    restart: Option<RawRestart>,
    #[serde(default)]
    modules: BTreeMap<String, RawModule>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawEnable {
    Word(String),
    List(Vec<String>),
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawSize {
    Bytes(i64),
    Text(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRestart {
    policy: Option<RestartPolicy>,
    backoff: Option<f64>,
    limit: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawModule {
    isolation: Option<String>,
    restart: Option<RestartPolicy>,
    #[serde(default)]
    options: toml::Table,
    load_timeout: Option<f64>,
    notify_queue_limit: Option<usize>,
}

/// Long enough for a module that imports a large framework on a busy
/// machine; short enough that a module stuck on a network call at import
/// does not pass for a slow one.
pub const DEFAULT_LOAD_TIMEOUT: Duration = Duration::from_secs(30);

/// At about 10 kB an event, 10 MB per module at most.
pub const DEFAULT_NOTIFY_QUEUE_LIMIT: usize = 1000;

fn queue_limit(value: usize, what: &str) -> anyhow::Result<usize> {
    if value == 0 {
        bail!("{what} must be 1 or more (it is how many events may wait for notify())");
    }
    Ok(value)
}

const ISOLATIONS: [&str; 3] = ["own-gil", "shared", "main"];

pub fn parse_isolation(text: &str) -> anyhow::Result<Isolation> {
    match text {
        "own-gil" => Ok(Isolation::OwnGil),
        "shared" => Ok(Isolation::Shared),
        "main" => Ok(Isolation::Main),
        other => bail!("isolation must be own-gil, shared or main, not `{other}`{}", did_you_mean(other, ISOLATIONS)),
    }
}

/// A stack size: bytes, or a number with a K, M or G suffix ("8M", "512K").
/// Below 1 MiB CPython's own frames do not fit; 1 GiB is plenty.
fn stack_size(raw: &RawSize) -> anyhow::Result<usize> {
    const KIB: u64 = 1 << 10;
    let bytes = match raw {
        RawSize::Bytes(n) => u64::try_from(*n).ok(),
        RawSize::Text(text) => {
            let text = text.trim();
            let digits = text.trim_end_matches(|c: char| c.is_ascii_alphabetic());
            let unit = match text[digits.len()..].to_ascii_lowercase().as_str() {
                "" | "b" => Some(1),
                "k" | "kb" | "kib" => Some(KIB),
                "m" | "mb" | "mib" => Some(KIB * KIB),
                "g" | "gb" | "gib" => Some(KIB * KIB * KIB),
                _ => None,
            };
            unit.zip(digits.trim().parse::<u64>().ok()).and_then(|(unit, n)| n.checked_mul(unit))
        }
    };
    match bytes {
        Some(bytes) if (KIB * KIB..=KIB * KIB * KIB).contains(&bytes) => Ok(bytes as usize),
        _ => bail!(
            "thread_stack_size must be between 1M and 1G, as bytes or with a K, M or G suffix (\"8M\"), not {raw:?}"
        ),
    }
}

/// The longest duration any setting takes, in seconds: 365 days. Longer
/// waits are mistakes (1e19 is 300 billion years), and past about 1.8e19
/// they do not fit in a Duration at all.
pub const MAX_SECONDS: f64 = 365.0 * 24.0 * 3600.0;

/// A number of seconds from a config key or a flag (`what` names it), from
/// 0 to [`MAX_SECONDS`]; NaN, infinities and negatives are refused too.
pub fn seconds(value: f64, what: &str) -> anyhow::Result<Duration> {
    if !(value.is_finite() && (0.0..=MAX_SECONDS).contains(&value)) {
        // 1e19 as written, not as twenty digits.
        let shown = if value.abs() >= 1e9 { format!("{value:e}") } else { value.to_string() };
        bail!("{what} must be a number of seconds from 0 to {MAX_SECONDS} (365 days), not {shown}");
    }
    Ok(Duration::from_secs_f64(value))
}

/// "; did you mean `x`?" when one of `candidates` is close to `word`, else "".
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(word, c), c))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| format!("; did you mean `{c}`?"))
        .unwrap_or_default()
}

/// serde names an unknown key or value and what it expected ("unknown
/// field `tick_intervall`, expected one of `module_dirs`, ..."); the close
/// match is added to that.
fn with_suggestion(error: &toml::de::Error) -> String {
    let text = error.to_string().trim_end().to_string();
    let message = error.message();
    if !(message.starts_with("unknown field") || message.starts_with("unknown variant")) {
        return text;
    }
    // The words in backquotes: the unknown one first, then those expected.
    let mut quoted = message.split('`').skip(1).step_by(2);
    match quoted.next() {
        Some(unknown) => format!("{text}{}", did_you_mean(unknown, quoted)),
        None => text,
    }
}

const PLACEHOLDERS: [&str; 2] = ["{cache}", "{python_version}"];

/// `{python_version}` -> `3.11` (the interpreter pyhost embeds; `3.13t` free-threaded), `{cache}`
/// -> `$XDG_CACHE_HOME` or `~/.cache`, `~/x` -> `$HOME/x`; a relative path
/// is taken from `base`. One config then serves builds for every version.
/// Any other `{word}` is a mistake (a literal brace otherwise is kept).
fn resolve_path(base: &Path, path: &Path, key: &str) -> anyhow::Result<PathBuf> {
    let text = path.to_string_lossy();
    let expanded;
    let path = if text.contains('{') {
        let cache = crate::cache::dir().unwrap_or_else(|| PathBuf::from(".cache"));
        let replaced = text
            .replace("{python_version}", &crate::python::chosen()?.label())
            .replace("{cache}", &cache.to_string_lossy());
        if let Some(word) = unknown_placeholder(&text) {
            bail!(
                "{key}: unknown placeholder `{word}` in \"{text}\"{} (there are {})",
                did_you_mean(word, PLACEHOLDERS),
                PLACEHOLDERS.join(" and ")
            );
        }
        expanded = PathBuf::from(replaced);
        expanded.as_path()
    } else {
        path
    };
    if let Ok(rest) = path.strip_prefix("~")
        && let Some(home) = std::env::var_os("HOME")
    {
        return Ok(PathBuf::from(home).join(rest));
    }
    let joined = if path.is_absolute() { path.to_path_buf() } else { base.join(path) };
    // "module_dirs = ['.']" should read as the folder, not "folder/./module".
    Ok(joined.components().filter(|c| *c != std::path::Component::CurDir).collect())
}

/// The first `{word}` in `text` that is not one of [`PLACEHOLDERS`].
fn unknown_placeholder(text: &str) -> Option<&str> {
    let mut rest = text;
    while let Some(start) = rest.find('{') {
        let after = &rest[start..];
        let end = after.find('}')?;
        let word = &after[..=end];
        let inner = &word[1..word.len() - 1];
        if !inner.is_empty()
            && inner.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !PLACEHOLDERS.contains(&word)
        {
            return Some(word);
        }
        rest = &after[1..];
    }
    None
}

impl RawConfig {
    fn resolve(self, base: &Path) -> anyhow::Result<HostConfig> {
        let defaults = HostConfig::default();
        let enable = match self.enable {
            None => defaults.enable,
            Some(RawEnable::Word(word)) if word == "all" => Enable::All,
            Some(RawEnable::Word(word)) => bail!("enable must be \"all\" or a list of module names, not \"{word}\""),
            Some(RawEnable::List(names)) => Enable::Only(names),
        };
        let restart = match self.restart {
            None => defaults.restart,
            Some(r) => Restart {
                policy: r.policy.unwrap_or(RestartPolicy::Never),
                backoff: r
                    .backoff
                    .map(|s| seconds(s, "restart.backoff"))
                    .transpose()?
                    .unwrap_or(defaults.restart.backoff),
                limit: r.limit.unwrap_or(defaults.restart.limit),
            },
        };
        let mut modules = BTreeMap::new();
        for (name, raw) in self.modules {
            let options = serde_json::to_value(&raw.options)?.as_object().cloned().unwrap_or_default();
            let isolation =
                raw.isolation.as_deref().map(parse_isolation).transpose().with_context(|| format!("modules.{name}"))?;
            let load_timeout =
                raw.load_timeout.map(|s| seconds(s, &format!("modules.{name}.load_timeout"))).transpose()?;
            let notify_queue_limit = raw
                .notify_queue_limit
                .map(|n| queue_limit(n, &format!("modules.{name}.notify_queue_limit")))
                .transpose()?;
            modules.insert(
                name,
                ModuleConfig { isolation, restart: raw.restart, options, load_timeout, notify_queue_limit },
            );
        }
        Ok(HostConfig {
            module_dirs: self
                .module_dirs
                .iter()
                .map(|p| resolve_path(base, p, "module_dirs"))
                .collect::<anyhow::Result<_>>()?,
            enable,
            isolation: self.isolation.as_deref().map(parse_isolation).transpose()?,
            python_path: self
                .python_path
                .iter()
                .map(|p| resolve_path(base, p, "python_path"))
                .collect::<anyhow::Result<_>>()?,
            log_level: self.log_level,
            tick_interval: self
                .tick_interval
                .map(|s| seconds(s, "tick_interval"))
                .transpose()?
                .unwrap_or(defaults.tick_interval),
            shutdown_timeout: self
                .shutdown_timeout
                .map(|s| seconds(s, "shutdown_timeout"))
                .transpose()?
                .unwrap_or(defaults.shutdown_timeout),
            load_timeout: self
                .load_timeout
                .map(|s| seconds(s, "load_timeout"))
                .transpose()?
                .unwrap_or(defaults.load_timeout),
            notify_queue_limit: self
                .notify_queue_limit
                .map(|n| queue_limit(n, "notify_queue_limit"))
                .transpose()?
                .unwrap_or(defaults.notify_queue_limit),
            probe: self.probe.unwrap_or(true),
            probe_cache: self.probe_cache.unwrap_or(true),
            reprobe: false,
            strict_modes: self.strict_modes.unwrap_or(true),
            thread_stack_size: self.thread_stack_size.as_ref().map(stack_size).transpose()?,
            start_jobs: self.start_jobs.map(start_jobs).transpose()?,
            restart,
            modules,
        })
    }
}

/// At least one; at most what a host has any use for.
fn start_jobs(jobs: usize) -> anyhow::Result<usize> {
    if !(1..=MAX_START_JOBS).contains(&jobs) {
        bail!("start_jobs must be from 1 to {MAX_START_JOBS} (1: one module after the other), not {jobs}");
    }
    Ok(jobs)
}

const MAX_START_JOBS: usize = 256;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_file_resolves() {
        let raw: RawConfig = toml::from_str(
            r#"
            module_dirs = ["mods", "/abs"]
            enable = ["a", "b"]
            isolation = "main"
            python_path = ["site"]
            tick_interval = 0.5
            [restart]
            policy = "on-failure"
            limit = 2
            [modules.a]
            isolation = "shared"
            options = { port = 8081, name = "x" }
            "#,
        )
        .unwrap();
        let config = raw.resolve(Path::new("/etc/pyhost")).unwrap();
        assert_eq!(config.module_dirs, vec![PathBuf::from("/etc/pyhost/mods"), PathBuf::from("/abs")]);
        assert_eq!(config.enable, Enable::Only(vec!["a".into(), "b".into()]));
        assert_eq!(config.isolation, Some(Isolation::Main));
        assert_eq!(config.python_path, vec![PathBuf::from("/etc/pyhost/site")]);
        assert_eq!(config.tick_interval, Duration::from_millis(500));
        assert_eq!(config.restart.policy, RestartPolicy::OnFailure);
        assert_eq!(config.restart.limit, 2);
        assert_eq!(config.module("a").isolation, Some(Isolation::Shared));
        assert_eq!(config.module("a").options["port"], 8081);
        assert!(config.is_enabled("b") && !config.is_enabled("c"));
    }

    #[test]
    fn load_timeout_and_queue_limit_have_defaults_and_per_module_values() {
        let raw: RawConfig = toml::from_str(
            r#"
            load_timeout = 5
            [modules.a]
            load_timeout = 0.5
            notify_queue_limit = 3
            "#,
        )
        .unwrap();
        let config = raw.resolve(Path::new("/")).unwrap();
        assert_eq!(config.load_timeout("a"), Duration::from_millis(500));
        assert_eq!(config.load_timeout("b"), Duration::from_secs(5));
        assert_eq!(config.notify_queue_limit("a"), 3);
        assert_eq!(config.notify_queue_limit("b"), DEFAULT_NOTIFY_QUEUE_LIMIT);
        let raw: RawConfig = toml::from_str("notify_queue_limit = 0").unwrap();
        assert!(raw.resolve(Path::new("/")).unwrap_err().to_string().contains("1 or more"));
        let raw: RawConfig = toml::from_str("[modules.a]\nload_timeout = -1").unwrap();
        assert!(raw.resolve(Path::new("/")).unwrap_err().to_string().contains("modules.a.load_timeout"));
    }

    #[test]
    fn placeholders_expand() {
        let raw: RawConfig = toml::from_str(r#"python_path = ["/site/{python_version}"]"#).unwrap();
        let config = raw.resolve(Path::new("/")).unwrap();
        let python = crate::python::chosen().unwrap();
        // A free-threaded build has site folders of its own: its extensions' ABI differs.
        let version = format!(
            "{}{}",
            crate::python::interpreter_info::minor_of(&python.version),
            if python.gil_disabled { "t" } else { "" }
        );
        assert_eq!(config.python_path, vec![PathBuf::from(format!("/site/{version}"))]);
    }

    #[test]
    fn mistakes_are_named() {
        let raw: Result<RawConfig, _> = toml::from_str("enabled = [\"a\"]");
        assert!(raw.unwrap_err().to_string().contains("unknown field `enabled`"));
        let raw: RawConfig = toml::from_str("isolation = \"own_gil\"").unwrap();
        assert!(raw.resolve(Path::new(".")).unwrap_err().to_string().contains("own-gil, shared or main"));
        let raw: RawConfig = toml::from_str("enable = \"some\"").unwrap();
        assert!(raw.resolve(Path::new(".")).is_err());
    }

    fn parse(text: &str) -> anyhow::Result<HostConfig> {
        HostConfig::parse(text, Path::new("/etc/pyhost"))
    }

    fn error(text: &str) -> String {
        format!("{:#}", parse(text).unwrap_err())
    }

    #[test]
    fn relative_paths_start_from_the_config_files_absolute_folder() {
        // `--config pyhost.toml`: the parent is "", which is the current folder.
        let cwd = std::env::current_dir().unwrap().canonicalize().unwrap();
        assert_eq!(config_folder(Path::new("pyhost.toml")).unwrap(), cwd);
        assert_eq!(config_folder(Path::new("./pyhost.toml")).unwrap(), cwd);
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("pyhost.toml"), "module_dirs = [\".\", \"mods\"]").unwrap();
        let config = HostConfig::from_file(&dir.path().join("pyhost.toml")).unwrap();
        let folder = dir.path().canonicalize().unwrap();
        assert_eq!(config.module_dirs, vec![folder.clone(), folder.join("mods")]);
        assert_eq!(parse("module_dirs = [\".\"]").unwrap().module_dirs, vec![PathBuf::from("/etc/pyhost")]);
    }

    #[test]
    fn durations_out_of_range_are_refused_naming_the_key_and_the_range() {
        for key in ["tick_interval", "shutdown_timeout"] {
            for value in ["1e19", "1e300", "inf", "-inf", "nan", "-1", "31536000.5"] {
                let message = error(&format!("{key} = {value}"));
                assert!(
                    message.contains(&format!("{key} must be a number of seconds from 0 to 31536000")),
                    "{message}"
                );
            }
            assert!(error(&format!("{key} = 1e19")).contains("not 1e19"));
            parse(&format!("{key} = 31536000")).unwrap();
        }
        let message = error("[restart]\nbackoff = 1e19");
        assert!(message.contains("restart.backoff must be a number of seconds from 0 to 31536000"), "{message}");
        assert!(seconds(f64::NAN, "--for").unwrap_err().to_string().contains("--for must be"));
        assert_eq!(seconds(MAX_SECONDS, "x").unwrap(), Duration::from_secs(31_536_000));
        assert_eq!(seconds(0.0, "x").unwrap(), Duration::ZERO);
    }

    #[test]
    fn stack_sizes_take_units_and_stay_in_range() {
        let size = |text: &str| parse(text).map(|c| c.thread_stack_size);
        assert_eq!(size("thread_stack_size = \"8M\"").unwrap(), Some(8 << 20));
        assert_eq!(size("thread_stack_size = \"1536k\"").unwrap(), Some(1536 << 10));
        assert_eq!(size("thread_stack_size = 16777216").unwrap(), Some(16 << 20));
        assert_eq!(size("").unwrap(), None);
        for bad in ["\"64K\"", "\"2T\"", "-1", "\"eight\"", "\"8X\""] {
            let error = error(&format!("thread_stack_size = {bad}"));
            assert!(error.contains("between 1M and 1G"), "{bad}: {error}");
        }
    }

    #[test]
    fn start_jobs_are_at_least_one() {
        let jobs = |text: &str| parse(text).map(|c| c.start_jobs);
        assert_eq!(jobs("").unwrap(), None);
        assert_eq!(jobs("start_jobs = 2").unwrap(), Some(2));
        for bad in ["0", "257"] {
            let error = error(&format!("start_jobs = {bad}"));
            assert!(error.contains("start_jobs must be from 1 to 256"), "{bad}: {error}");
        }
    }

    #[test]
    fn a_typo_names_the_close_match() {
        let message = error("tick_intervall = 1");
        assert!(message.contains("unknown field `tick_intervall`"), "{message}");
        assert!(message.contains("did you mean `tick_interval`?"), "{message}");
        let message = error("log_level = \"inf\"");
        assert!(message.contains("unknown variant `inf`") && message.contains("did you mean `info`?"), "{message}");
        assert!(error("log_level = \"warning\"").contains("did you mean `warn`?"));
        assert!(error("log_level = \"loud\"").contains("expected one of `off`, `error`"));
        assert!(!error("log_level = \"loud\"").contains("did you mean"));
        assert_eq!(parse("log_level = \"debug\"").unwrap().log_level, Some(LogLevel::Debug));
        assert!(error("[restart]\npolicy = \"on_failure\"").contains("did you mean `on-failure`?"));
        assert!(error("[restart]\nbackof = 1").contains("did you mean `backoff`?"));
        assert!(error("[modules.a]\noption = {}").contains("did you mean `options`?"));
        assert!(error("isolation = \"own_gil\"").contains("did you mean `own-gil`?"));
    }

    #[test]
    fn a_module_section_or_enabled_name_that_matches_no_module_is_refused() {
        let found = ["rest_api", "dashboard", "echo"];
        let config = parse("[modules.rest_apy]\noptions = { port = 1 }").unwrap();
        let message = config.check_module_names(found).unwrap_err().to_string();
        assert!(
            message.contains("unknown module `rest_apy` in [modules.rest_apy]; did you mean `rest_api`?"),
            "{message}"
        );
        assert!(message.contains("modules found: rest_api, dashboard, echo"), "{message}");
        let config = parse("enable = [\"dashbord\"]").unwrap();
        let message = config.check_module_names(found).unwrap_err().to_string();
        assert!(message.contains("module `dashbord` is enabled but not found"), "{message}");
        assert!(message.contains("did you mean `dashboard`?"), "{message}");
        let message = parse("[modules.zzz]").unwrap().check_module_names(found).unwrap_err().to_string();
        assert!(message.contains("unknown module `zzz`") && !message.contains("did you mean"), "{message}");
        parse("enable = [\"echo\"]\n[modules.rest_api]").unwrap().check_module_names(found).unwrap();
    }

    /// Found by the fuzzer (fuzz/corpus/config): a `{word}` that is not a
    /// placeholder made path expansion recurse until the stack overflowed.
    #[test]
    fn an_unknown_placeholder_is_an_error_not_a_stack_overflow() {
        let message = error("python_path = [\"{cache}/pyhost/site/{python_ver3ion}\"]");
        assert!(message.contains("unknown placeholder `{python_ver3ion}`"), "{message}");
        assert!(message.contains("did you mean `{python_version}`?"), "{message}");
        assert!(error("module_dirs = [\"/{x}\"]").contains("module_dirs: unknown placeholder `{x}`"));
        // Braces that are not a placeholder are kept.
        assert_eq!(parse("module_dirs = [\"/a{b/c}{\"]").unwrap().module_dirs, vec![PathBuf::from("/a{b/c}{")]);
    }
}
