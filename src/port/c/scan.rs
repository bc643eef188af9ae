//! Matching port/rules/c.toml against one C file: first the preprocessor
//! pass (which versions each token is compiled for, the file's own macros,
//! PY_SSIZE_T_CLEAN), then the rules over the code and the macro bodies.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use super::cond::{self, Macros, Versions};
use super::lex::{self, Item, Tok, TokKind};
use crate::port::Version;
use crate::port::rules::{self, Breaks, Matcher};

/// One finding of the C side, before it is judged against the targets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CFinding {
    pub rule: &'static str,
    pub line: u32,
    pub column: u32,
    /// The byte range of the construct, for a later rewrite.
    pub start: usize,
    pub end: usize,
    pub detail: Option<String>,
    /// The versions this code is compiled for and not already handled by
    /// the file's own macros: the finding counts only for these.
    pub versions: Versions,
}

#[derive(Debug, Clone, Default)]
pub struct CScan {
    pub findings: Vec<CFinding>,
    pub lines: u64,
}

/// The functions that take a Py_BuildValue/PyArg_Parse format, and which
/// argument (from 0) it is; true for the PyArg_Parse family.
const FORMAT_FUNCTIONS: &[(&str, usize, bool)] = &[
    ("PyArg_ParseTuple", 1, true),
    ("PyArg_ParseTupleAndKeywords", 2, true),
    ("PyArg_Parse", 1, true),
    ("PyArg_VaParse", 1, true),
    ("PyArg_VaParseTupleAndKeywords", 2, true),
    ("_PyArg_ParseTuple_SizeT", 1, true),
    ("Py_BuildValue", 0, false),
    ("Py_VaBuildValue", 0, false),
    ("PyObject_CallFunction", 1, false),
    ("PyObject_CallMethod", 2, false),
    ("PyEval_CallFunction", 1, false),
    ("PyEval_CallMethod", 2, false),
];

/// How deep local `#include "..."` files are followed, and how large one may be.
const INCLUDE_DEPTH: u32 = 8;
const MAX_HEADER: u64 = 8 << 20;
/// How far (in tokens) a call's arguments, a `(`'s `)` or a declaration are
/// looked for: real code is far shorter, and a hostile file stays linear.
const REACH: usize = 4_000;

/// What the rules of the table match, by name.
struct Table {
    names: HashMap<&'static str, (&'static str, &'static str)>,
    prefixes: Vec<(&'static str, &'static str, &'static str)>,
    members: HashMap<&'static str, (&'static str, &'static str)>,
    lvalues: HashMap<&'static str, (&'static str, &'static str)>,
    by_matcher: HashMap<Matcher, &'static str>,
    /// Names a version removed, and that version (for `#ifdef NAME`).
    removed: HashMap<&'static str, Version>,
}

fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t = Table {
            names: HashMap::new(),
            prefixes: Vec::new(),
            members: HashMap::new(),
            lvalues: HashMap::new(),
            by_matcher: HashMap::new(),
            removed: HashMap::new(),
        };
        for (rule, c) in rules::c() {
            let id = rule.id.as_str();
            if let Some(m) = c.matcher {
                t.by_matcher.insert(m, id);
            }
            for (name, fix) in &c.names {
                if c.matcher == Some(Matcher::Lvalue) {
                    t.lvalues.insert(name, (id, fix));
                } else {
                    t.names.insert(name, (id, fix));
                    if let Breaks::From(v) = rule.breaks {
                        t.removed.insert(name, v);
                    }
                }
            }
            for (prefix, fix) in &c.prefixes {
                t.prefixes.push((prefix, id, fix));
            }
            for (member, fix) in &c.members {
                t.members.insert(member, (id, fix));
            }
        }
        t.prefixes.sort_by_key(|(p, _, _)| std::cmp::Reverse(p.len()));
        t
    })
}

fn matcher_rule(m: Matcher) -> &'static str {
    table().by_matcher.get(&m).copied().unwrap_or_else(|| panic!("port/rules/c.toml has no rule for {m:?}"))
}

/// A code token and the versions it may be compiled for.
pub(super) type Seg = Vec<(Tok, Versions)>;

/// The preprocessor pass: what the file compiles for which version.
struct Pre<'a> {
    macros: Macros,
    /// The code, and each `#define` body as a segment of its own.
    code: Seg,
    bodies: Vec<Seg>,
    /// Versions whose Python.h was included, and those with PY_SSIZE_T_CLEAN defined then.
    python_h: Versions,
    clean: Versions,
    dir: Option<&'a Path>,
    included: HashSet<PathBuf>,
}

#[derive(Clone, Copy)]
struct Frame {
    may: Versions,
    must: Versions,
    rest_may: Versions,
    rest_must: Versions,
}

fn removed(name: &str) -> Option<Version> {
    table().removed.get(name).copied()
}

impl Pre<'_> {
    /// Runs the directives of `items`; keeps code only when `keep_code`
    /// (a local header is read for its macros; its own findings come
    /// when it is checked as a file).
    fn run(&mut self, items: Vec<Item>, base: Frame, keep_code: bool, depth: u32) {
        let mut stack: Vec<Frame> = Vec::new();
        for item in items {
            let top = *stack.last().unwrap_or(&base);
            match item {
                Item::Code(tok) => {
                    if keep_code && !top.may.is_empty() {
                        self.code.push((tok, top.may));
                    }
                }
                Item::Directive { name, tokens, .. } => match name.as_str() {
                    "if" | "ifdef" | "ifndef" => {
                        let (t, f) = self.condition(&name, &tokens);
                        stack.push(Frame {
                            may: top.may.and(t),
                            must: top.must.and(t.minus(f)),
                            rest_may: top.may.and(f),
                            rest_must: top.must.and(f.minus(t)),
                        });
                    }
                    "elif" | "elifdef" | "elifndef" => {
                        let (t, f) = self.condition(&name, &tokens);
                        if let Some(fr) = stack.last_mut() {
                            *fr = Frame {
                                may: fr.rest_may.and(t),
                                must: fr.rest_must.and(t.minus(f)),
                                rest_may: fr.rest_may.and(f),
                                rest_must: fr.rest_must.and(f.minus(t)),
                            };
                        }
                    }
                    "else" => {
                        if let Some(fr) = stack.last_mut() {
                            *fr = Frame { may: fr.rest_may, must: fr.rest_must, ..*fr };
                            fr.rest_may = Versions::NONE;
                            fr.rest_must = Versions::NONE;
                        }
                    }
                    "endif" => {
                        stack.pop();
                    }
                    _ if top.may.is_empty() => {}
                    "define" => self.define(&tokens, top, keep_code),
                    "undef" => {
                        if let Some(t) = tokens.first() {
                            self.macros.undef(&t.text, top.must);
                        }
                    }
                    "include" => self.include(&tokens, top, depth),
                    _ => {}
                },
            }
        }
    }

    fn condition(&self, directive: &str, tokens: &[Tok]) -> (Versions, Versions) {
        let synthetic =
            |text: &str| Tok { kind: TokKind::Ident, text: text.into(), line: 0, column: 0, start: 0, end: 0 };
        let toks: Vec<Tok> = match directive {
            "ifdef" | "elifdef" => [synthetic("defined")].into_iter().chain(tokens.first().cloned()).collect(),
            "ifndef" | "elifndef" => {
                let bang = Tok { kind: TokKind::Punct, ..synthetic("!") };
                [bang, synthetic("defined")].into_iter().chain(tokens.first().cloned()).collect()
            }
            _ => tokens.to_vec(),
        };
        cond::split(&toks, &self.macros, &removed)
    }

    fn define(&mut self, tokens: &[Tok], top: Frame, keep_code: bool) {
        let Some(name) = tokens.first().filter(|t| t.kind == TokKind::Ident) else { return };
        let function_like = tokens.get(1).is_some_and(|t| t.text == "(" && t.start == name.end);
        let body_start =
            if function_like { tokens.iter().position(|t| t.text == ")").map_or(tokens.len(), |i| i + 1) } else { 1 };
        let body = tokens[body_start.min(tokens.len())..].to_vec();
        // A macro that expands to an error handles nothing: pyhost/legacy_compat.h's
        // PyString_* when the file has not said bytes or text.
        if body.iter().any(|t| t.text.starts_with("PYHOST__NO_") || t.text.starts_with("define_PYHOST_")) {
            return;
        }
        if keep_code && !body.is_empty() {
            self.bodies.push(body.iter().map(|t| (t.clone(), top.may)).collect());
        }
        self.macros.define(&name.text, top.may, top.must, if function_like { None } else { Some(body) });
    }

    fn include(&mut self, tokens: &[Tok], top: Frame, depth: u32) {
        let (target, local) = match tokens.first() {
            Some(t) if t.kind == TokKind::Str => (t.text.trim_matches('"').to_string(), true),
            Some(t) if t.text == "<" => {
                (tokens[1..].iter().take_while(|t| t.text != ">").map(|t| t.text.as_str()).collect::<String>(), false)
            }
            _ => return,
        };
        if target == super::fix::HEADER && !local {
            self.compat_header(top, depth);
            return;
        }
        if target == "Python.h" {
            let new = top.may.minus(self.python_h);
            self.clean = self.clean.or(new.and(self.macros.defined_for("PY_SSIZE_T_CLEAN")));
            self.python_h = self.python_h.or(new);
            return;
        }
        let Some(dir) = self.dir.filter(|_| local && depth < INCLUDE_DEPTH) else { return };
        let path = dir.join(&target);
        if !self.included.insert(path.clone()) {
            return;
        }
        // Only a regular file of a header's size: `#include "/dev/zero"` is not read.
        let header = std::fs::metadata(&path).is_ok_and(|m| m.is_file() && m.len() <= MAX_HEADER);
        if let Some(source) = header.then(|| std::fs::read(&path).ok()).flatten() {
            // The header's own includes are relative to the header.
            let sub_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
            let mut inner = Pre {
                macros: std::mem::take(&mut self.macros),
                code: Vec::new(),
                bodies: Vec::new(),
                python_h: self.python_h,
                clean: self.clean,
                dir: Some(&sub_dir),
                included: std::mem::take(&mut self.included),
            };
            inner.run(lex::lex(&source), top, false, depth + 1);
            self.macros = inner.macros;
            self.python_h = inner.python_h;
            self.clean = inner.clean;
            self.included = inner.included;
        }
    }
}

/// pyhost's compat header and the vendored headers it includes, in the
/// order it includes them: what they #define for a version counts as
/// handled there, as a file's own defines do (PyInt_* on 3.x by py3c).
const COMPAT_HEADERS: &[&str] = &[
    include_str!("../../../include/py3c/comparison.h"),
    include_str!("../../../include/py3c/compat.h"),
    include_str!("../../../include/py3c/py3shims.h"),
    include_str!("../../../include/py3c/tpflags.h"),
    include_str!("../../../include/pythoncapi_compat.h"),
    include_str!("../../../include/pyhost/legacy_compat.h"),
];

impl Pre<'_> {
    /// `#include <pyhost/legacy_compat.h>`: its macros (and Python.h, which it includes).
    fn compat_header(&mut self, top: Frame, depth: u32) {
        if !self.included.insert(PathBuf::from(super::fix::HEADER)) {
            return;
        }
        let python_h = Tok { kind: TokKind::Punct, text: "<".into(), line: 0, column: 0, start: 0, end: 0 };
        let name = |text: &str| Tok { kind: TokKind::Ident, text: text.into(), ..python_h.clone() };
        self.include(
            &[python_h.clone(), name("Python"), name("."), name("h"), Tok { text: ">".into(), ..python_h }],
            top,
            depth,
        );
        // The header's switches: a file that has not defined one has not.
        for switch in ["PYHOST_PYSTRING_IS_BYTES", "PYHOST_PYSTRING_IS_TEXT", "PYHOST_CHAR_PATHS"] {
            self.macros.defines.entry(switch.to_string()).or_default();
        }
        for text in COMPAT_HEADERS {
            let items = lex::lex(text.as_bytes());
            // Its include guard is not defined yet: known, so what it guards
            // is compiled for certain (an unknown macro would leave it "may be").
            let directives: Vec<(&str, Option<&str>)> = items
                .iter()
                .filter_map(|item| match item {
                    Item::Directive { name, tokens, .. } => {
                        Some((name.as_str(), tokens.first().map(|t| t.text.as_str())))
                    }
                    Item::Code(_) => None,
                })
                .take(2)
                .collect();
            if let [("ifndef", Some(guard)), ("define", Some(defined))] = directives[..]
                && guard == defined
            {
                self.macros.defines.entry(guard.to_string()).or_default();
            }
            self.run(items, top, false, depth + 1);
        }
    }
}

/// Scans the file at `path`, following its local `#include "..."` files for macros.
pub fn scan_file(path: &Path) -> std::io::Result<CScan> {
    let source = std::fs::read(path)?;
    Ok(scan_source(path.parent(), &source))
}

/// Scans `source`; `dir` is where its local includes are looked up (None: not followed).
pub fn scan_source(dir: Option<&Path>, source: &[u8]) -> CScan {
    let pre = preprocess(dir, source);
    let mut out = Vec::new();
    let mut m = Matching { pre: &pre, out: &mut out };
    m.segment(&pre.code);
    for body in &pre.bodies {
        m.segment(body);
    }
    out.sort_by_key(|f| (f.line, f.column, f.rule));
    out.dedup();
    let lines = source.iter().filter(|&&b| b == b'\n').count() as u64 + u64::from(!source.ends_with(b"\n"));
    CScan { findings: out, lines: if source.is_empty() { 0 } else { lines } }
}

/// The code of `source` and each `#define` body, as tokens with the
/// versions each is compiled for: what fix.rs rewrites.
pub(super) fn segments(dir: Option<&Path>, source: &[u8]) -> Vec<Seg> {
    let pre = preprocess(dir, source);
    std::iter::once(pre.code).chain(pre.bodies).collect()
}

fn preprocess<'a>(dir: Option<&'a Path>, source: &[u8]) -> Pre<'a> {
    let mut pre = Pre {
        macros: Macros::default(),
        code: Vec::new(),
        bodies: Vec::new(),
        python_h: Versions::NONE,
        clean: Versions::NONE,
        dir,
        included: HashSet::new(),
    };
    let all = Frame { may: Versions::ALL, must: Versions::ALL, rest_may: Versions::NONE, rest_must: Versions::NONE };
    pre.run(lex::lex(source), all, true, 0);
    pre
}

struct Matching<'a> {
    pre: &'a Pre<'a>,
    out: &'a mut Vec<CFinding>,
}

fn text(seg: &Seg, i: usize) -> &str {
    seg.get(i).map_or("", |(t, _)| t.text.as_str())
}

/// The index just past the `)` that closes the `(` at `open`.
fn close_paren(seg: &Seg, open: usize) -> Option<usize> {
    let mut depth = 0i32;
    for (i, (t, _)) in seg.iter().enumerate().skip(open).take(REACH) {
        match t.text.as_str() {
            "(" | "[" | "{" => depth += 1,
            ")" | "]" | "}" => {
                depth -= 1;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            ";" if depth <= 1 => return None,
            _ => {}
        }
    }
    None
}

impl Matching<'_> {
    fn push(&mut self, rule: &'static str, tok: &Tok, end: usize, detail: Option<String>, versions: Versions) {
        if versions.is_empty() {
            return;
        }
        self.out.push(CFinding { rule, line: tok.line, column: tok.column, start: tok.start, end, detail, versions });
    }

    fn segment(&mut self, seg: &Seg) {
        let t = table();
        let mut depth = 0i32;
        for i in 0..seg.len() {
            let (tok, versions) = (&seg[i].0, seg[i].1);
            match tok.text.as_str() {
                "{" => depth += 1,
                "}" => depth -= 1,
                _ => {}
            }
            if tok.kind != TokKind::Ident {
                continue;
            }
            let name = tok.text.as_str();
            // What the file's own macros cover on a version is handled there.
            let versions_left = versions.minus(self.pre.macros.defined_for(name));
            let prev = if i > 0 { text(seg, i - 1) } else { "" };
            if prev == "." || prev == "->" {
                if let Some(&(rule, fix)) = t.members.get(name) {
                    // `o->ob_type` on a PyObject* compiles everywhere; the struct of an object type does not.
                    if name.starts_with("ob_") && prev == "->" && base_is_object_pointer(seg, i - 1) {
                        continue;
                    }
                    let designated = prev == "." && i >= 2 && matches!(text(seg, i - 2), "{" | ",");
                    // A designated non-NULL `.tp_compare = f` is the crash rule's (below).
                    if !(designated && name == "tp_compare" && !is_null(&value_after_eq(seg, i + 1))) {
                        self.push(
                            rule,
                            &seg[i - 1].0,
                            tok.end,
                            Some(format!("{prev}{name}: use {fix}")),
                            versions_left,
                        );
                    }
                }
                continue;
            }
            if let Some(&(rule, fix)) = t.names.get(name) {
                self.push(rule, tok, tok.end, Some(format!("{name}: use {fix}")), versions_left);
            } else if let Some(&(prefix, rule, fix)) =
                t.prefixes.iter().find(|(p, _, _)| name.starts_with(p) && name.len() > p.len())
            {
                // "PyBytes_ (bytes) or PyUnicode_ (text)" for PyString_Check: PyBytes_Check, PyUnicode_Check.
                let rest = &name[prefix.len()..];
                let fix: Vec<String> = fix
                    .split(' ')
                    .map(|w| if w.ends_with('_') { format!("{w}{rest}") } else { w.to_string() })
                    .collect();
                self.push(rule, tok, tok.end, Some(format!("{name}: use {}", fix.join(" "))), versions_left);
            }
            if let Some(&(rule, fix)) = t.lvalues.get(name) {
                self.lvalue(seg, i, rule, fix, versions_left);
            }
            if depth == 0 && name.len() > 4 && name.starts_with("init") && text(seg, i + 1) == "(" {
                let exported = prev == "PyMODINIT_FUNC"
                    || (prev == ")" && i >= 4 && text(seg, i - 4) == "DL_EXPORT" && text(seg, i - 2) == "void");
                if exported {
                    let module = &name[4..];
                    let detail = format!("{name}: define PyInit_{module} instead");
                    self.push(matcher_rule(Matcher::InitFunction), tok, tok.end, Some(detail), versions);
                }
            }
            if let Some(&(_, arg, parse)) = FORMAT_FUNCTIONS.iter().find(|(f, _, _)| *f == name) {
                self.format_call(seg, i, arg, parse, versions);
            }
            if name == "PyTypeObject"
                && seg.get(i + 1).is_some_and(|(t, _)| t.kind == TokKind::Ident)
                && text(seg, i + 2) == "="
                && text(seg, i + 3) == "{"
            {
                self.type_initializer(seg, i + 3);
            }
        }
    }

    /// `Py_TYPE(x) = ...`, `Py_REFCNT(x)++`, `--Py_REFCNT(x)`...
    fn lvalue(&mut self, seg: &Seg, i: usize, rule: &'static str, fix: &str, versions: Versions) {
        if text(seg, i + 1) != "(" {
            return;
        }
        let Some(after) = close_paren(seg, i + 1) else { return };
        let prev = if i > 0 { text(seg, i - 1) } else { "" };
        let assigned = matches!(text(seg, after), "=" | "+=" | "-=" | "++" | "--") || matches!(prev, "++" | "--");
        if assigned {
            let name = &seg[i].0.text;
            let end = seg[after - 1].0.end;
            self.push(rule, &seg[i].0, end, Some(format!("{name}(...) assigned to: use {fix}")), versions);
        }
    }

    fn format_call(&mut self, seg: &Seg, i: usize, arg: usize, parse: bool, versions: Versions) {
        if text(seg, i + 1) != "(" {
            return;
        }
        // The arguments at the call's top level.
        let mut args: Vec<Vec<usize>> = vec![Vec::new()];
        let mut depth = 0;
        for (j, (t, _)) in seg.iter().enumerate().skip(i + 1).take(REACH) {
            match t.text.as_str() {
                "(" | "[" | "{" => {
                    depth += 1;
                    if depth == 1 {
                        continue;
                    }
                }
                ")" | "]" | "}" => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
                "," if depth == 1 => {
                    args.push(Vec::new());
                    continue;
                }
                ";" => return,
                _ => {}
            }
            args.last_mut().expect("one argument at least").push(j);
        }
        let Some(format_arg) = args.get(arg).filter(|a| !a.is_empty()) else { return };
        if !format_arg.iter().all(|&j| seg[j].0.kind == TokKind::Str) {
            return; // a format that is not a literal: not judged
        }
        let format: String = format_arg.iter().map(|&j| literal_text(&seg[j].0.text)).collect();
        // Units end at ':' or ';' (the function name or error message follows).
        let units = format.split([':', ';']).next().unwrap_or("");
        let first = &seg[format_arg[0]].0;
        let end = seg[*format_arg.last().expect("not empty")].0.end;
        let name = &seg[i].0.text;
        if units.contains('#') {
            let unclean = versions.minus(self.pre.clean);
            let detail = format!("{name} format \"{format}\"");
            self.push(matcher_rule(Matcher::HashFormat), first, end, Some(detail), unclean);
        }
        if parse {
            let units = format_units(units);
            let py_unicode: Vec<&str> =
                units.iter().copied().filter(|u| matches!(*u, "u" | "u#" | "Z" | "Z#")).collect();
            if !py_unicode.is_empty() {
                let detail = format!("{name} format \"{format}\": {}", py_unicode.join(", "));
                self.push(matcher_rule(Matcher::PyUnicodeFormat), first, end, Some(detail), versions);
            }
            let old_buffer: Vec<&str> = units.iter().copied().filter(|u| matches!(*u, "w" | "w#" | "t#")).collect();
            if !old_buffer.is_empty() {
                let detail = format!("{name} format \"{format}\": {}", old_buffer.join(", "));
                self.push(matcher_rule(Matcher::OldBufferFormat), first, end, Some(detail), versions);
            }
        }
    }

    /// `PyTypeObject X = { ... }`: a non-NULL tp_compare, positional or designated,
    /// judged once per version (the head is often under `#if PY_MAJOR_VERSION`).
    fn type_initializer(&mut self, seg: &Seg, open: usize) {
        let Some(close) = close_paren(seg, open) else { return };
        let mut flagged: HashMap<usize, Versions> = HashMap::new();
        for v in Versions::each() {
            let toks: Vec<usize> = (open + 1..close - 1).filter(|&j| seg[j].1.contains(v)).collect();
            if let Some(at) = tp_compare_value(seg, &toks) {
                let one = Versions::from_fn(|x| x == v);
                let e = flagged.entry(at).or_insert(Versions::NONE);
                *e = e.or(one);
            }
        }
        let mut flagged: Vec<_> = flagged.into_iter().collect();
        flagged.sort_by_key(|(at, _)| *at);
        for (at, versions) in flagged {
            let tok = &seg[at].0;
            let detail = format!("tp_compare = {}", tok.text);
            self.push(matcher_rule(Matcher::TpCompareSlot), tok, tok.end, Some(detail), versions);
        }
    }
}

/// The units of a PyArg_Parse format (before any `:` or `;`): a letter with
/// its `#`, `*`, `!` or `&` suffix, or `es`/`et` with theirs; brackets and `|`, `$` dropped.
fn format_units(units: &str) -> Vec<&str> {
    let bytes = units.as_bytes();
    let mut out = Vec::new();
    let mut k = 0;
    while k < bytes.len() {
        let start = k;
        if !bytes[k].is_ascii_alphabetic() {
            k += 1;
            continue;
        }
        k += 1;
        if bytes[start] == b'e' && k < bytes.len() && matches!(bytes[k], b's' | b't') {
            k += 1;
        }
        while k < bytes.len() && matches!(bytes[k], b'#' | b'*' | b'!' | b'&') {
            k += 1;
        }
        out.push(&units[start..k]);
    }
    out
}

/// Whether the pointer before the `->` at `arrow` is a PyObject* or
/// PyVarObject*: a cast `((PyObject *)x)->`, or a name whose nearest
/// declaration before it is `PyObject *name` (a parameter or a local).
fn base_is_object_pointer(seg: &Seg, arrow: usize) -> bool {
    let object = |t: &str| matches!(t, "PyObject" | "PyVarObject");
    if arrow == 0 {
        return false;
    }
    let base = &seg[arrow - 1].0;
    if base.text == ")" {
        // Back to the matching `(`, then look for a cast right after it.
        let mut depth = 0;
        for k in (0..arrow).rev() {
            match text(seg, k) {
                ")" => depth += 1,
                "(" => {
                    depth -= 1;
                    if depth == 0 {
                        return text(seg, k + 1) == "(" && object(text(seg, k + 2)) && text(seg, k + 3) == "*";
                    }
                }
                _ => {}
            }
        }
        return false;
    }
    if base.kind != TokKind::Ident {
        return false;
    }
    (2..arrow - 1)
        .rev()
        .find_map(|k| {
            let declared = seg[k].0.text == base.text
                && text(seg, k - 1) == "*"
                && matches!(text(seg, k + 1), "," | ")" | ";" | "=" | "[");
            declared.then(|| object(text(seg, k - 2)))
        })
        .unwrap_or(false)
}

/// The text of a string literal without its prefix and quotes (escapes kept).
fn literal_text(lit: &str) -> &str {
    let start = lit.find('"').map_or(0, |i| i + 1);
    let end = if lit.len() > start && lit.ends_with('"') { lit.len() - 1 } else { lit.len() };
    &lit[start..end]
}

/// The tokens after `=` at `i` up to the next top-level `,` or `}`.
fn value_after_eq(seg: &Seg, i: usize) -> Vec<String> {
    if text(seg, i) != "=" {
        return vec!["?".into()];
    }
    let mut out = Vec::new();
    let mut depth = 0;
    for (t, _) in seg[i + 1..].iter().take(REACH) {
        match t.text.as_str() {
            "(" | "{" | "[" => depth += 1,
            ")" | "}" | "]" if depth == 0 => break,
            ")" | "}" | "]" => depth -= 1,
            "," | ";" if depth == 0 => break,
            _ => {}
        }
        out.push(t.text.clone());
    }
    out
}

/// Whether an initializer value is a null pointer: `0`, `NULL`, `(cmpfunc)0`, `nullptr`...
fn is_null(value: &[String]) -> bool {
    let mut v: Vec<&str> = value.iter().map(String::as_str).collect();
    // Outer parentheses and a leading cast.
    loop {
        if v.len() >= 2 && v[0] == "(" && v[v.len() - 1] == ")" {
            v = v[1..v.len() - 1].to_vec();
        } else if v.len() >= 4 && v[0] == "(" {
            match v.iter().position(|t| *t == ")") {
                Some(p) if p + 1 < v.len() => v = v[p + 1..].to_vec(),
                _ => break,
            }
        } else {
            break;
        }
    }
    matches!(v.as_slice(), [] | ["0"] | ["NULL"] | ["0L"] | ["nullptr"] | ["0x0"] | ["((void*)0)"])
}

/// The token index of a non-NULL tp_compare value among `toks` (one
/// version's view of a PyTypeObject initializer), if there is one.
fn tp_compare_value(seg: &Seg, toks: &[usize]) -> Option<usize> {
    // Split at top-level commas.
    let mut elements: Vec<Vec<usize>> = vec![Vec::new()];
    let mut depth = 0;
    for &j in toks {
        match seg[j].0.text.as_str() {
            "(" | "[" | "{" => depth += 1,
            ")" | "]" | "}" => depth -= 1,
            "," if depth == 0 => {
                elements.push(Vec::new());
                continue;
            }
            _ => {}
        }
        elements.last_mut().expect("one element at least").push(j);
    }
    let words = |e: &Vec<usize>| e.iter().map(|&j| seg[j].0.text.clone()).collect::<Vec<_>>();
    // Designated: `.tp_compare = value`.
    for e in &elements {
        let w = words(e);
        if w.len() >= 3 && w[0] == "." && w[1] == "tp_compare" && w[2] == "=" {
            return (!is_null(&w[3..])).then(|| e[3.min(e.len() - 1)]);
        }
    }
    // Positional: tp_name is the first slot after the head macro.
    let first = elements.first().and_then(|e| e.first()).map(|&j| seg[j].0.text.as_str());
    let tp_name = match first {
        // PyVarObject_HEAD_INIT(type, size) "name": its expansion ends in a comma.
        Some("PyVarObject_HEAD_INIT") => 0,
        // PyObject_HEAD_INIT(type) 0 /* ob_size */, "name"
        Some("PyObject_HEAD_INIT") => 1,
        _ => return None,
    };
    let e = elements.get(tp_name + 7)?;
    let w = words(e);
    (!w.is_empty() && !w.iter().any(|x| x == "=") && !is_null(&w)).then(|| e[0])
}
