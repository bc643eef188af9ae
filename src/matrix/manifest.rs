//! A fixture's manifest.toml: what the module is for, the outcome expected
//! under each interpreter (with the reason), and how to run it.
//!
//! ```toml
//! description = "dict.iteritems(), gone in Python 3"
//! [expect]
//! default = { outcome = "pass" }
//! "3" = { outcome = "fail", reason = "no dict.iteritems() on Python 3" }
//! [run]
//! timeout = 20
//! needs = ["echo"]
//! options = { port = 0 }
//! restart = "on-failure"
//! ```
//! Expectation keys are "2.7"-style versions, a major version ("3"), or
//! "default"; the most specific one wins.
//!
//! A legacy module may also say what to expect once `pyhost port fix` has
//! rewritten it, with the same keys; `pyhost port verify` and `pyhost matrix
//! --ported` judge the rewritten copy by it (a module without it is expected
//! to do after the port what it did before):
//!
//! ```toml
//! [ported.expect]
//! default = { outcome = "pass" }
//! ```
//!
//! A module with a native part (C sources pyhost builds per interpreter,
//! see native.rs) says so in `[native]`, and may expect `build-error`.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

use super::outcome::Outcome;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub expect: BTreeMap<String, Expectation>,
    #[serde(default)]
    pub run: RunSettings,
    /// What to expect after `pyhost port fix`.
    pub ported: Option<Ported>,
    /// C sources pyhost builds per interpreter (see native.rs).
    pub native: Option<super::native::Native>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ported {
    #[serde(default)]
    pub expect: BTreeMap<String, Expectation>,
}

/// Which state of a module a cell ran: as written, or as `pyhost port fix` left it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum State {
    #[default]
    Original,
    Ported,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expectation {
    pub outcome: Outcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunSettings {
    /// Seconds the cell may take before it counts as a hang.
    pub timeout: Option<f64>,
    /// Other modules of the same folder loaded beside it.
    #[serde(default)]
    pub needs: Vec<String>,
    #[serde(default)]
    pub options: serde_json::Map<String, serde_json::Value>,
    pub restart: Option<String>,
}

impl Manifest {
    /// The manifest beside module.py, or an empty one (everything: pass).
    pub fn for_module(module_py: &Path) -> anyhow::Result<Manifest> {
        let path = module_py.with_file_name("manifest.toml");
        if !path.exists() {
            return Ok(Manifest::default());
        }
        let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
        Manifest::parse(&text).with_context(|| format!("{} is not a valid manifest", path.display()))
    }

    /// A manifest's text, checked. Reads no file and needs no Python (the
    /// fuzzer calls it).
    pub fn parse(text: &str) -> anyhow::Result<Manifest> {
        let manifest: Manifest = toml::from_str(text)?;
        if let Some(native) = &manifest.native {
            native.check().map_err(anyhow::Error::msg)?;
        }
        if let Some(timeout) = manifest.run.timeout {
            crate::host::config::seconds(timeout, "[run] timeout")?;
        }
        let ported =
            manifest.ported.iter().flat_map(|p| p.expect.iter().map(|(k, e)| (format!("ported.expect.{k}"), e)));
        for (key, expectation) in manifest.expect.iter().map(|(k, e)| (k.clone(), e)).chain(ported) {
            if expectation.outcome.is_expectable()
                && expectation.outcome != Outcome::Pass
                && expectation.reason.is_none()
            {
                bail!("the expectation for {key:?} ({}) needs a reason", expectation.outcome);
            }
            if !expectation.outcome.is_expectable() {
                bail!(
                    "{key:?} expects {}, but a manifest can only expect pass, fail, unloadable, crash, hang or \
                     build-error",
                    expectation.outcome
                );
            }
        }
        Ok(manifest)
    }

    /// `[run] timeout`, if the manifest sets one (parse() checked its range).
    pub fn timeout(&self) -> Option<Duration> {
        self.run.timeout.and_then(|t| Duration::try_from_secs_f64(t).ok())
    }

    /// The expectation for an interpreter "major.minor": exact, major, default, pass.
    pub fn expectation(&self, version: &str) -> Expectation {
        most_specific(&self.expect, version).unwrap_or(Expectation { outcome: Outcome::Pass, reason: None })
    }

    /// The expectation for a state of the module: after the port, the most
    /// specific key of [ported.expect], else what [expect] says.
    pub fn expectation_in(&self, state: State, version: &str) -> Expectation {
        match (state, &self.ported) {
            (State::Ported, Some(ported)) => {
                most_specific(&ported.expect, version).unwrap_or_else(|| self.expectation(version))
            }
            _ => self.expectation(version),
        }
    }

    /// Whether the manifest declares what to expect after the port.
    pub fn declares_ported(&self) -> bool {
        self.ported.as_ref().is_some_and(|p| !p.expect.is_empty())
    }
}

/// `version` is a column's label: "3.11", or "3.13t" for a free-threaded
/// build, which falls back on what "3.13" says.
fn most_specific(table: &BTreeMap<String, Expectation>, version: &str) -> Option<Expectation> {
    let with_gil = version.strip_suffix('t').unwrap_or(version);
    let major = version.split('.').next().unwrap_or_default();
    [version, with_gil, major, "default"].iter().find_map(|key| table.get(*key).cloned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_most_specific_expectation_wins() {
        let manifest: Manifest = toml::from_str(
            r#"
            [expect]
            default = { outcome = "pass" }
            "3" = { outcome = "fail", reason = "py3" }
            "3.13" = { outcome = "crash", reason = "3.13" }
            "#,
        )
        .unwrap();
        assert_eq!(manifest.expectation("2.7").outcome, Outcome::Pass);
        assert_eq!(manifest.expectation("3.9").outcome, Outcome::Fail);
        assert_eq!(manifest.expectation("3.13").outcome, Outcome::Crash);
        // Free-threaded 3.13 falls back on 3.13's key unless it has its own.
        assert_eq!(manifest.expectation("3.13t").outcome, Outcome::Crash);
        let own: Manifest = toml::from_str("[expect]\n\"3.13\" = { outcome = \"crash\", reason = \"x\" }\n\"3.13t\" = { outcome = \"hang\", reason = \"y\" }").unwrap();
        assert_eq!(own.expectation("3.13t").outcome, Outcome::Hang);
        assert_eq!(own.expectation("3.13").outcome, Outcome::Crash);
        assert_eq!(Manifest::default().expectation("3.11").outcome, Outcome::Pass);
    }

    #[test]
    fn ported_expectations_fall_back_to_the_original_ones() {
        let manifest: Manifest = toml::from_str(
            r#"
            [expect]
            default = { outcome = "pass" }
            "3" = { outcome = "unloadable", reason = "print statement" }
            [ported.expect]
            "3.13" = { outcome = "fail", reason = "a decision" }
            "#,
        )
        .unwrap();
        assert!(manifest.declares_ported());
        assert_eq!(manifest.expectation_in(State::Original, "3.13").outcome, Outcome::Unloadable);
        assert_eq!(manifest.expectation_in(State::Ported, "3.13").outcome, Outcome::Fail);
        // No ported key for 3.9 or 2.7: what [expect] says.
        assert_eq!(manifest.expectation_in(State::Ported, "3.9").outcome, Outcome::Unloadable);
        assert_eq!(manifest.expectation_in(State::Ported, "2.7").outcome, Outcome::Pass);
        assert!(!Manifest::default().declares_ported());
    }

    #[test]
    fn a_reason_is_required() {
        let dir = tempfile::tempdir().unwrap();
        let module = dir.path().join("module.py");
        std::fs::write(dir.path().join("manifest.toml"), "[expect]\n\"3\" = { outcome = \"fail\" }\n").unwrap();
        let error = Manifest::for_module(&module).unwrap_err();
        assert!(format!("{error:#}").contains("needs a reason"), "{error:#}");
        std::fs::write(dir.path().join("manifest.toml"), "[expect]\n\"3\" = { outcome = \"xpass\", reason = \"r\" }\n")
            .unwrap();
        assert!(format!("{:#}", Manifest::for_module(&module).unwrap_err()).contains("can only expect"));
        std::fs::write(dir.path().join("manifest.toml"), "[ported.expect]\n\"3\" = { outcome = \"fail\" }\n").unwrap();
        let error = format!("{:#}", Manifest::for_module(&module).unwrap_err());
        assert!(error.contains("\"ported.expect.3\"") && error.contains("needs a reason"), "{error}");
    }

    /// A negative, NaN or huge `[run] timeout` made the matrix panic in
    /// Duration::from_secs_f64 when it computed the cell's timeout.
    #[test]
    fn a_timeout_out_of_range_is_refused_not_a_panic() {
        for value in ["-5", "1e20", "nan", "inf"] {
            let error = format!("{:#}", Manifest::parse(&format!("[run]\ntimeout = {value}")).unwrap_err());
            assert!(error.contains("[run] timeout must be a number of seconds from 0 to 31536000"), "{error}");
        }
        assert_eq!(Manifest::parse("[run]\ntimeout = 2.5").unwrap().timeout(), Some(Duration::from_millis(2500)));
        let unchecked =
            Manifest { run: RunSettings { timeout: Some(-1.0), ..RunSettings::default() }, ..Manifest::default() };
        assert_eq!(unchecked.timeout(), None);
    }
}
