//! The host's configuration: a TOML file, with command-line flags on top.
//!
//! ```toml
//! module_dirs = ["py3-fixtures"]          # relative to this file
//! enable = ["rest", "dashboard"]          # or enable = "all"
//! isolation = "shared"                    # own-gil | shared | main (default: best available)
//! python_path = ["{cache}/pyhost/site/{python_version}"]   # added like site.addsitedir
//! log_level = "info"
//! tick_interval = 1.0                     # seconds between `tick` notifications
//! shutdown_timeout = 10.0                 # seconds serve() gets to return
//! probe = true                            # find extensions that refuse sub-interpreters first
//!
//! [restart]
//! policy = "on-failure"                   # or "never"
//! backoff = 1.0                           # seconds before the first restart, doubled after
//! limit = 3                               # restarts per module, then it stays failed
//!
//! [modules.rest]
//! isolation = "main"
//! restart = "never"                       # this module's own policy
//! options = { port = 8081 }
//! ```

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
}

/// Everything `pyhost run` needs, resolved.
#[derive(Debug, Clone)]
pub struct HostConfig {
    pub module_dirs: Vec<PathBuf>,
    pub enable: Enable,
    pub isolation: Option<Isolation>,
    pub python_path: Vec<PathBuf>,
    pub log_level: Option<String>,
    pub tick_interval: Duration,
    pub shutdown_timeout: Duration,
    pub probe: bool,
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
            probe: true,
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

    pub fn is_enabled(&self, name: &str) -> bool {
        match &self.enable {
            Enable::All => true,
            Enable::Only(names) => names.iter().any(|n| n == name),
        }
    }

    /// Reads a TOML file; relative paths in it are relative to its folder.
    pub fn from_file(path: &Path) -> anyhow::Result<HostConfig> {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        let raw: RawConfig =
            toml::from_str(&text).with_context(|| format!("{} is not a valid pyhost config", path.display()))?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        raw.resolve(&base).with_context(|| format!("in {}", path.display()))
    }
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
    log_level: Option<String>,
    tick_interval: Option<f64>,
    shutdown_timeout: Option<f64>,
    probe: Option<bool>,
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
}

pub fn parse_isolation(text: &str) -> anyhow::Result<Isolation> {
    match text {
        "own-gil" => Ok(Isolation::OwnGil),
        "shared" => Ok(Isolation::Shared),
        "main" => Ok(Isolation::Main),
        other => bail!("isolation must be own-gil, shared or main, not `{other}`"),
    }
}

pub fn seconds(value: f64, what: &str) -> anyhow::Result<Duration> {
    if !(value.is_finite() && value >= 0.0) {
        bail!("{what} must be a number of seconds, 0 or more (got {value})");
    }
    Ok(Duration::from_secs_f64(value))
}

/// `{python_version}` -> `3.11` (the interpreter pyhost embeds), `{cache}`
/// -> `$XDG_CACHE_HOME` or `~/.cache`, `~/x` -> `$HOME/x`; a relative path
/// is taken from `base`. One config then serves builds for every version.
fn resolve_path(base: &Path, path: &Path) -> PathBuf {
    let text = path.to_string_lossy();
    if text.contains('{') {
        let cache = crate::cache::dir().unwrap_or_else(|| PathBuf::from(".cache"));
        let expanded = text
            .replace("{python_version}", &crate::python::BUILD.minor_version())
            .replace("{cache}", &cache.to_string_lossy());
        return resolve_path(base, Path::new(&expanded));
    }
    if let Ok(rest) = path.strip_prefix("~")
        && let Some(home) = std::env::var_os("HOME")
    {
        return PathBuf::from(home).join(rest);
    }
    let joined = if path.is_absolute() { path.to_path_buf() } else { base.join(path) };
    // "module_dirs = ['.']" should read as the folder, not "folder/./module".
    joined.components().filter(|c| *c != std::path::Component::CurDir).collect()
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
            modules.insert(name, ModuleConfig { isolation, restart: raw.restart, options });
        }
        Ok(HostConfig {
            module_dirs: self.module_dirs.iter().map(|p| resolve_path(base, p)).collect(),
            enable,
            isolation: self.isolation.as_deref().map(parse_isolation).transpose()?,
            python_path: self.python_path.iter().map(|p| resolve_path(base, p)).collect(),
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
            probe: self.probe.unwrap_or(true),
            restart,
            modules,
        })
    }
}

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
    fn placeholders_expand() {
        let raw: RawConfig = toml::from_str(r#"python_path = ["/site/{python_version}"]"#).unwrap();
        let config = raw.resolve(Path::new("/")).unwrap();
        let version = crate::python::BUILD.minor_version();
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
}
