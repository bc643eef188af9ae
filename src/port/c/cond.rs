//! Which Python versions a line of C is compiled for: `#if` conditions
//! evaluated once per Python version, with the macros that name the version
//! (PY_MAJOR_VERSION, PY_MINOR_VERSION, PY_VERSION_HEX) known and every other
//! name unknown, so a branch is dropped only for the versions whose headers
//! certainly skip it.

use std::collections::HashMap;

use super::lex::{Tok, TokKind};
use crate::port::Version;

/// A set of Python versions: 2.0-2.7 and 3.0-3.55, one bit each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Versions(u64);

const PY2: u32 = 8;

impl Versions {
    pub const ALL: Versions = Versions(u64::MAX);
    pub const NONE: Versions = Versions(0);

    fn bit(v: Version) -> Option<u32> {
        match v.major {
            2 if v.minor < PY2 => Some(v.minor),
            3 if v.minor < 64 - PY2 => Some(PY2 + v.minor),
            _ => None,
        }
    }

    /// Whether `v` is in the set (a version the set cannot name is in ALL only).
    pub fn contains(self, v: Version) -> bool {
        match Self::bit(v) {
            Some(b) => self.0 & (1 << b) != 0,
            None => self == Versions::ALL,
        }
    }

    pub fn each() -> impl Iterator<Item = Version> {
        (0..64u32).map(|b| if b < PY2 { Version { major: 2, minor: b } } else { Version { major: 3, minor: b - PY2 } })
    }

    pub fn from_fn(f: impl Fn(Version) -> bool) -> Versions {
        Versions(Self::each().enumerate().filter(|(_, v)| f(*v)).fold(0, |acc, (b, _)| acc | (1 << b)))
    }

    pub fn and(self, other: Versions) -> Versions {
        Versions(self.0 & other.0)
    }

    pub fn or(self, other: Versions) -> Versions {
        Versions(self.0 | other.0)
    }

    pub fn minus(self, other: Versions) -> Versions {
        Versions(self.0 & !other.0)
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

/// One `#define`: the versions it may be in force for, those it certainly
/// is (no unknown condition around it), and its body.
#[derive(Debug, Clone)]
pub struct Define {
    pub may: Versions,
    pub must: Versions,
    /// None for a function-like macro (its value is unknown in `#if`).
    pub body: Option<Vec<Tok>>,
}

/// The macros a file defined so far (and those of local headers it includes).
#[derive(Debug, Default)]
pub struct Macros {
    pub defines: HashMap<String, Vec<Define>>,
}

/// Names that legacy code defines to mean "Python 3" (`#ifdef IS_PY3K`):
/// when the file does not define them itself, they count as set exactly on 3.x.
const PY3_FLAGS: &[&str] =
    &["IS_PY3K", "IS_PY3", "PY3K", "PY3", "PYTHON3", "IS_PYTHON3", "PY_3", "PY3_COMPAT", "PYTHON_3"];

impl Macros {
    pub fn define(&mut self, name: &str, may: Versions, must: Versions, body: Option<Vec<Tok>>) {
        self.defines.entry(name.to_string()).or_default().push(Define { may, must, body });
    }

    pub fn undef(&mut self, name: &str, may: Versions) {
        for d in self.defines.get_mut(name).into_iter().flatten() {
            d.may = d.may.minus(may);
            d.must = d.must.minus(may);
        }
    }

    /// The versions the file certainly defines `name` for.
    pub fn defined_for(&self, name: &str) -> Versions {
        self.defines.get(name).map_or(Versions::NONE, |ds| ds.iter().fold(Versions::NONE, |a, d| a.or(d.must)))
    }

    fn maybe_defined_for(&self, name: &str) -> Versions {
        self.defines.get(name).map_or(Versions::NONE, |ds| ds.iter().fold(Versions::NONE, |a, d| a.or(d.may)))
    }

    /// `defined(name)` under version `v`: Some(known) or None (unknown).
    fn is_defined(&self, name: &str, v: Version, removed: &dyn Fn(&str) -> Option<Version>) -> Option<bool> {
        if self.defines.contains_key(name) {
            // The file is taken to define its own macros wherever it needs them.
            if self.defined_for(name).contains(v) {
                return Some(true);
            }
            return if self.maybe_defined_for(name).contains(v) { None } else { Some(false) };
        }
        match name {
            "PY_MAJOR_VERSION" | "PY_MINOR_VERSION" | "PY_VERSION_HEX" | "PY_MICRO_VERSION" => Some(true),
            _ if PY3_FLAGS.contains(&name) => Some(v.major >= 3),
            // A macro the C table says a version removed is defined before it.
            _ => removed(name).map(|from| v < from),
        }
    }
}

/// The value of a preprocessor expression: known, or depends on what we do not know.
type Val = Option<i64>;

struct Eval<'a> {
    toks: &'a [Tok],
    pos: usize,
    v: Version,
    macros: &'a Macros,
    removed: &'a dyn Fn(&str) -> Option<Version>,
    /// Macro bodies being evaluated, one inside the other.
    depth: u32,
    /// Nested operators and parentheses: a hostile `#if ((((...` is unknown, not a stack overflow.
    nest: u32,
    /// Steps left for this condition: macros that each use the next many
    /// times grow exponentially, and then the value is unknown.
    budget: &'a std::cell::Cell<u32>,
}

/// How deep one condition's operators and parentheses may nest.
const MAX_NEST: u32 = 200;
/// How many tokens one condition may evaluate, macro bodies included, per version.
const BUDGET: u32 = 20_000;

impl Eval<'_> {
    fn peek(&self) -> &str {
        self.toks.get(self.pos).map_or("", |t| t.text.as_str())
    }

    fn eat(&mut self, text: &str) -> bool {
        if self.peek() == text {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn ternary(&mut self) -> Val {
        let cond = self.binary(0);
        if !self.eat("?") {
            return cond;
        }
        let a = self.ternary();
        self.eat(":");
        let b = self.ternary();
        match cond {
            Some(c) => {
                if c != 0 {
                    a
                } else {
                    b
                }
            }
            None if a == b => a,
            None => None,
        }
    }

    fn binary(&mut self, min_prec: u8) -> Val {
        let mut left = self.unary();
        loop {
            let op = self.peek().to_string();
            let prec = match op.as_str() {
                "||" => 1,
                "&&" => 2,
                "|" => 3,
                "^" => 4,
                "&" => 5,
                "==" | "!=" => 6,
                "<" | ">" | "<=" | ">=" => 7,
                "<<" | ">>" => 8,
                "+" | "-" => 9,
                "*" | "/" | "%" => 10,
                _ => return left,
            };
            if prec < min_prec {
                return left;
            }
            self.pos += 1;
            let right = self.binary(prec + 1);
            left = match (op.as_str(), left, right) {
                // What short-circuits decides even when the other side is unknown.
                ("||", Some(a), _) if a != 0 => Some(1),
                ("||", _, Some(b)) if b != 0 => Some(1),
                ("&&", Some(0), _) | ("&&", _, Some(0)) => Some(0),
                (_, Some(a), Some(b)) => Some(match op.as_str() {
                    "||" => i64::from(a != 0 || b != 0),
                    "&&" => i64::from(a != 0 && b != 0),
                    "|" => a | b,
                    "^" => a ^ b,
                    "&" => a & b,
                    "==" => i64::from(a == b),
                    "!=" => i64::from(a != b),
                    "<" => i64::from(a < b),
                    ">" => i64::from(a > b),
                    "<=" => i64::from(a <= b),
                    ">=" => i64::from(a >= b),
                    "<<" => a.checked_shl(b as u32).unwrap_or(0),
                    ">>" => a.checked_shr(b as u32).unwrap_or(0),
                    "+" => a.wrapping_add(b),
                    "-" => a.wrapping_sub(b),
                    "*" => a.wrapping_mul(b),
                    "/" => a.checked_div(b)?,
                    _ => a.checked_rem(b)?,
                }),
                _ => None,
            };
        }
    }

    fn unary(&mut self) -> Val {
        self.nest += 1;
        let value = self.unary_inner();
        self.nest -= 1;
        value
    }

    fn unary_inner(&mut self) -> Val {
        let left = self.budget.get();
        if self.nest > MAX_NEST || left == 0 {
            self.pos = self.toks.len();
            self.budget.set(0);
            return None;
        }
        self.budget.set(left - 1);
        if self.eat("!") {
            return self.unary().map(|x| i64::from(x == 0));
        }
        if self.eat("-") {
            return self.unary().map(|x| x.wrapping_neg());
        }
        if self.eat("+") {
            return self.unary();
        }
        if self.eat("~") {
            return self.unary().map(|x| !x);
        }
        if self.eat("(") {
            let x = self.ternary();
            self.eat(")");
            return x;
        }
        let tok = self.toks.get(self.pos).cloned()?;
        self.pos += 1;
        match tok.kind {
            TokKind::Number => number(&tok.text),
            TokKind::Char => tok.text.as_bytes().get(1).map(|&b| i64::from(b)),
            TokKind::Ident if tok.text == "defined" => {
                let paren = self.eat("(");
                let name = self.toks.get(self.pos).map(|t| t.text.clone()).unwrap_or_default();
                self.pos += 1;
                if paren {
                    self.eat(")");
                }
                self.macros.is_defined(&name, self.v, self.removed).map(i64::from)
            }
            TokKind::Ident => {
                // A function-like use: skip its arguments, the value is unknown.
                if self.peek() == "(" {
                    self.skip_parens();
                    return None;
                }
                self.ident(&tok.text)
            }
            _ => None,
        }
    }

    fn skip_parens(&mut self) {
        let mut depth = 0;
        while let Some(t) = self.toks.get(self.pos) {
            self.pos += 1;
            match t.text.as_str() {
                "(" => depth += 1,
                ")" => {
                    depth -= 1;
                    if depth == 0 {
                        return;
                    }
                }
                _ => {}
            }
        }
    }

    fn ident(&mut self, name: &str) -> Val {
        let v = self.v;
        match name {
            "PY_MAJOR_VERSION" => return Some(v.major.into()),
            "PY_MINOR_VERSION" => return Some(v.minor.into()),
            // The micro version and release level are unknown: compare at
            // minor granularity, PY_VERSION_HEX >= 0x030900A4 is true for 3.10 only.
            "PY_VERSION_HEX" if self.peek_compares_hex() => return self.compare_hex(),
            _ => {}
        }
        if let Some(defines) = self.macros.defines.get(name) {
            let Some(d) = defines.iter().rev().find(|d| d.may.contains(v)) else {
                return Some(0); // Not defined for this version: 0 in #if.
            };
            if !d.must.contains(v) {
                return None;
            }
            let body = d.body.as_ref()?;
            if self.depth > 8 {
                return None;
            }
            let mut inner = Eval {
                toks: body,
                pos: 0,
                v,
                macros: self.macros,
                removed: self.removed,
                depth: self.depth + 1,
                nest: self.nest,
                budget: self.budget,
            };
            return if body.is_empty() { Some(0) } else { inner.ternary() };
        }
        if PY3_FLAGS.contains(&name) {
            return Some(i64::from(v.major >= 3));
        }
        None
    }

    fn peek_compares_hex(&self) -> bool {
        matches!(self.peek(), "<" | ">" | "<=" | ">=" | "==" | "!=")
            && self.toks.get(self.pos + 1).is_some_and(|t| t.kind == TokKind::Number)
    }

    /// `PY_VERSION_HEX <op> 0xMMmm....`: decided at minor granularity; a
    /// bound inside this minor version (0x030900A4 against 3.9) is unknown.
    fn compare_hex(&mut self) -> Val {
        let op = self.peek().to_string();
        self.pos += 1;
        let hex = number(&self.toks[self.pos].text)?;
        self.pos += 1;
        let (major, minor) = ((hex >> 24) & 0xff, (hex >> 16) & 0xff);
        let here = (i64::from(self.v.major), i64::from(self.v.minor));
        let ordering = here.cmp(&(major, minor));
        let low = hex & 0xffff == 0; // 0x03090000: the very first 3.9 build
        use std::cmp::Ordering::*;
        Some(i64::from(match (op.as_str(), ordering) {
            (_, Equal) if !(low && matches!(op.as_str(), ">=" | "<")) => return None,
            (">=", o) | (">", o) => o != Less,
            ("<", o) | ("<=", o) => o == Less,
            ("==", _) => false,
            _ => true,
        }))
    }
}

fn number(text: &str) -> Val {
    let t = text.trim_end_matches(['u', 'U', 'l', 'L']);
    if let Some(hex) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        i64::from_str_radix(hex, 16).ok()
    } else if t.len() > 1 && t.starts_with('0') {
        i64::from_str_radix(&t[1..], 8).ok()
    } else {
        t.parse().ok()
    }
}

/// The versions for which `#if <toks>` may be true, and those for which it may be false.
pub fn split(toks: &[Tok], macros: &Macros, removed: &dyn Fn(&str) -> Option<Version>) -> (Versions, Versions) {
    let (mut may_true, mut may_false) = (Versions::NONE, Versions::NONE);
    for (bit, v) in Versions::each().enumerate() {
        let budget = std::cell::Cell::new(BUDGET);
        let mut e = Eval { toks, pos: 0, v, macros, removed, depth: 0, nest: 0, budget: &budget };
        let value = e.ternary();
        let one = Versions(1 << bit);
        match value {
            Some(0) => may_false = may_false.or(one),
            Some(_) => may_true = may_true.or(one),
            None => {
                may_true = may_true.or(one);
                may_false = may_false.or(one);
            }
        }
    }
    (may_true, may_false)
}
