//! The rule tables (compiled in): port/rules/python.toml, shared with the
//! Python side, and port/rules/c.toml, the C API table the C scanner
//! (src/port/c) reads. Both give ids, kinds, the versions each rule breaks,
//! messages and fixes, so findings from either look the same.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

pub const RULES_TOML: &str = include_str!("../../port/rules/python.toml");
pub const C_RULES_TOML: &str = include_str!("../../port/rules/c.toml");

/// A Python version as targets and rules name it: "2.7", "3.12".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    pub major: u32,
    pub minor: u32,
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

impl FromStr for Version {
    type Err = String;
    fn from_str(text: &str) -> Result<Version, String> {
        let bad = || format!("`{text}` is not a Python version such as 2.7 or 3.13");
        let (major, minor) = text.trim().split_once('.').ok_or_else(bad)?;
        Ok(Version { major: major.parse().map_err(|_| bad())?, minor: minor.parse().map_err(|_| bad())? })
    }
}

impl Serialize for Version {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// The versions a rule breaks: ">=3.12", "<3.0".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Breaks {
    From(Version),
    Before(Version),
}

impl Breaks {
    pub fn contains(&self, version: Version) -> bool {
        match *self {
            Breaks::From(from) => version >= from,
            Breaks::Before(before) => version < before,
        }
    }
}

impl fmt::Display for Breaks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Breaks::From(v) => write!(f, ">={v}"),
            Breaks::Before(v) => write!(f, "<{v}"),
        }
    }
}

impl<'de> Deserialize<'de> for Breaks {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Breaks, D::Error> {
        let text = String::deserialize(deserializer)?;
        let parsed = if let Some(v) = text.strip_prefix(">=") {
            v.parse().map(Breaks::From)
        } else if let Some(v) = text.strip_prefix('<') {
            v.parse().map(Breaks::Before)
        } else {
            Err(format!("`{text}`: expected \">=X.Y\" or \"<X.Y\""))
        };
        parsed.map_err(serde::de::Error::custom)
    }
}

impl Serialize for Breaks {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// The module cannot be imported.
    Syntax,
    /// A name or module that is gone, from the version in `breaks`.
    Removed,
    /// Runs, but gives a different result.
    Semantic,
    /// A person must choose; never guessed.
    Decision,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Syntax => "syntax",
            Kind::Removed => "removed",
            Kind::Semantic => "semantic",
            Kind::Decision => "decision",
        })
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Rule {
    pub id: String,
    pub kind: Kind,
    pub breaks: Breaks,
    pub auto: bool,
    pub message: String,
    pub fix: String,
    /// The data-driven matchers, for the Python side and the README's table.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub imports: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub modules: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attrs: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub methods: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub builtins: BTreeMap<String, String>,
    /// The C table's columns (port/rules/c.toml's header says what each means).
    #[serde(flatten)]
    pub c: Option<CRule>,
}

/// What a rule of port/rules/c.toml adds: the names it matches and the
/// facts the README's table shows.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct CRule {
    pub group: String,
    /// Identifiers -> what replaces each.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub names: BTreeMap<String, String>,
    /// Identifier prefixes -> what replaces names with that prefix.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub prefixes: BTreeMap<String, String>,
    /// Struct members (after `.` or `->`) -> replacement.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub members: BTreeMap<String, String>,
    /// A rule found by code rather than by name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matcher: Option<Matcher>,
    pub compat_py3c: String,
    pub compat_pythoncapi_compat: String,
    pub compat_pyhost: String,
    /// What `pyhost port fix` rewrites of it ("" = nothing: it stays a finding).
    pub rewrite: String,
    /// Names `port fix` replaces one for one (where 2.7's behaviour is kept).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub rewrites: BTreeMap<String, String>,
    pub source: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Matcher {
    InitFunction,
    Lvalue,
    TpCompareSlot,
    HashFormat,
    PyUnicodeFormat,
    OldBufferFormat,
}

#[derive(Debug, Deserialize)]
struct File {
    rule: Vec<Rule>,
}

/// Every rule, the Python table's then the C table's, in their order.
pub fn all() -> &'static [Rule] {
    static RULES: OnceLock<Vec<Rule>> = OnceLock::new();
    RULES.get_or_init(|| {
        let mut rules = toml::from_str::<File>(RULES_TOML).expect("port/rules/python.toml is valid").rule;
        let c = toml::from_str::<File>(C_RULES_TOML).expect("port/rules/c.toml is valid").rule;
        assert!(c.iter().all(|r| r.c.is_some()), "every rule of port/rules/c.toml has the C columns");
        rules.extend(c);
        rules
    })
}

/// The rules of port/rules/python.toml.
pub fn python() -> impl Iterator<Item = &'static Rule> {
    all().iter().filter(|r| r.c.is_none())
}

/// The rules of port/rules/c.toml, each with its C columns.
pub fn c() -> impl Iterator<Item = (&'static Rule, &'static CRule)> {
    all().iter().filter_map(|r| r.c.as_ref().map(|c| (r, c)))
}

pub fn get(id: &str) -> Option<&'static Rule> {
    all().iter().find(|r| r.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_parses_and_ids_are_unique() {
        let ids: std::collections::BTreeSet<_> = all().iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids.len(), all().len());
        assert!(python().count() >= 60, "{}", python().count());
        assert!(c().count() >= 20, "{}", c().count());
    }

    #[test]
    fn c_rules_name_their_group_source_and_matchers() {
        for (rule, c) in c() {
            assert!(rule.id.starts_with("C-"), "{}", rule.id);
            // A C rewrite applies to some of a rule's findings: each finding says whether.
            assert!(!rule.auto, "{}: auto is per finding on the C side", rule.id);
            assert!(!c.source.is_empty() && !c.group.is_empty(), "{}", rule.id);
            let matches = c.names.len() + c.prefixes.len() + c.members.len();
            assert!(matches > 0 || c.matcher.is_some(), "{} matches nothing", rule.id);
        }
        let v = |s: &str| s.parse::<Version>().unwrap();
        assert_eq!(get("C-LVALUE-PY-REFCNT").unwrap().breaks, Breaks::From(v("3.10")));
        assert_eq!(get("C-LVALUE-PY-TYPE").unwrap().breaks, Breaks::From(v("3.11")));
        assert_eq!(get("C-REMOVED-PY-UNICODE").unwrap().breaks, Breaks::From(v("3.12")));
        assert_eq!(get("C-REMOVED-CALL-API").unwrap().breaks, Breaks::From(v("3.13")));
        assert_eq!(get("C-PY2-COBJECT").unwrap().breaks, Breaks::From(v("3.2")));
    }

    #[test]
    fn removals_carry_the_version_that_removed_them() {
        let v = |s: &str| s.parse::<Version>().unwrap();
        let asyncore = get("PY-REMOVED-ASYNCORE").unwrap();
        assert!(asyncore.breaks.contains(v("3.12")) && asyncore.breaks.contains(v("3.13")));
        assert!(!asyncore.breaks.contains(v("3.11")) && !asyncore.breaks.contains(v("2.7")));
        assert_eq!(get("PY-REMOVED-COLLECTIONS-ABC").unwrap().breaks, Breaks::From(v("3.10")));
        assert_eq!(get("PY-REMOVED-TELNETLIB").unwrap().breaks, Breaks::From(v("3.13")));
        assert!(get("PY3-FSTRING").unwrap().breaks.contains(v("2.7")));
        assert!(!get("PY3-FSTRING").unwrap().breaks.contains(v("3.9")));
    }
}
