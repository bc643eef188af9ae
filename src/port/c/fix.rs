//! `pyhost port fix` for C: the few rewrites of port/rules/c.toml that are
//! mechanical and keep 2.7's behaviour (each rule's `rewrite` column says
//! which). Everything else stays a finding.
//!
//! A rewrite starts from a finding of scan.rs that the file does not
//! already handle (so never in a comment, a string literal, or the branch
//! of a `#if PY_MAJOR_VERSION` that only the versions the rule spares
//! compile), and edits the token range around it:
//! - `PyMODINIT_FUNC initNAME(void) { m = Py_InitModule3("NAME", methods, doc); ... }`
//!   becomes `PYHOST_MODULE(NAME, doc, methods, NAME_exec)` and an exec
//!   function holding the old body (the call replaced by the module it is
//!   given, each `return;` by `return PyErr_Occurred() ? -1 : 0;`);
//! - `ob->ob_type`, `ob->ob_size`, `ob->ob_refcnt` read become `Py_TYPE(ob)`,
//!   `Py_SIZE(ob)`, `Py_REFCNT(ob)`; a statement that only assigns one
//!   (`ob->ob_type = t;`, `Py_TYPE(ob) = t;`) becomes `Py_SET_TYPE(ob, t);`
//!   (pythoncapi_compat defines Py_SET_* before 3.9); any other write stays;
//! - the names of the table's `rewrites` (PyInt_AsLong -> PyLong_AsLong);
//! - a Py_TPFLAGS_HAVE_* term of a `|` expression is removed.
//!
//! A rewrite that needs pyhost/legacy_compat.h adds its `#include` once,
//! after the file's Python.h (with PYHOST_MODULE_SHARED_GIL_ONLY defined
//! when the file keeps Python objects or types in C globals, which an
//! interpreter with its own GIL must not share).

use std::collections::HashMap;
use std::path::Path;

use super::lex::{self, Item, TokKind};
use super::scan::{CFinding, Seg, scan_source, segments};
use crate::port::rules;

/// The header the compat rewrites need, as the `#include` names it.
pub const HEADER: &str = "pyhost/legacy_compat.h";

/// A file as `fix` leaves it.
#[derive(Debug, Clone)]
pub struct CFixed {
    pub source: Vec<u8>,
    /// The findings (of the original's scan) a rewrite removed.
    pub rewritten: Vec<CFinding>,
}

/// One edit: replace `source[start..end]` by `text`.
#[derive(Debug, Clone)]
struct Edit {
    start: usize,
    end: usize,
    text: String,
}

/// Rewrites `source` (nothing is written); `dir` is where its local
/// includes are looked up, as for the scan.
pub fn fix_source(dir: Option<&Path>, source: &[u8]) -> CFixed {
    let findings: Vec<CFinding> =
        scan_source(dir, source).findings.into_iter().filter(|f| !crate::port::c_handled(f)).collect();
    let segs = segments(dir, source);
    // Where each token starts: its segment and index.
    let mut at: HashMap<usize, (usize, usize)> = HashMap::new();
    for (s, seg) in segs.iter().enumerate() {
        for (i, (tok, _)) in seg.iter().enumerate() {
            at.entry(tok.start).or_insert((s, i));
        }
    }
    let mut fixer = Fixer { source, edits: Vec::new(), rewritten: Vec::new(), header: false, module: false };
    for f in &findings {
        let Some(&(s, i)) = at.get(&f.start) else { continue };
        let seg = &segs[s];
        // What this rewrite needs is kept only if its edits are.
        let (header, module) = (std::mem::take(&mut fixer.header), std::mem::take(&mut fixer.module));
        let edits = match f.rule {
            "C-PY2-INIT-FUNCTION" => fixer.module_init(seg, i, &findings),
            "C-PY2-OB-FIELD" => fixer.ob_field(seg, i),
            "C-LVALUE-PY-TYPE" | "C-LVALUE-PY-REFCNT" => fixer.lvalue_macro(seg, i),
            "C-PY2-TPFLAGS-HAVE" => fixer.tpflag(seg, i, &findings),
            rule => fixer.rename(rule, seg, i),
        };
        let kept = match edits {
            Some((edits, covered)) => {
                let added = fixer.add(edits);
                if added {
                    fixer.rewritten.push(f.clone());
                    fixer.rewritten.extend(covered);
                }
                added
            }
            None => false,
        };
        fixer.header = header || (kept && fixer.header);
        fixer.module = module || (kept && fixer.module);
    }
    if fixer.header && !includes_header(source) {
        let globals = fixer.module && segs.first().is_some_and(has_object_globals);
        let (at, newline) = include_point(source);
        let mut text = String::new();
        if newline {
            text.push('\n');
        }
        if globals {
            text.push_str(
                "/* pyhost port fix: this file keeps Python objects in C globals, which interpreters with \
                 their own GIL must not share */\n#define PYHOST_MODULE_SHARED_GIL_ONLY\n",
            );
        }
        text.push_str(&format!("#include <{HEADER}>\n"));
        fixer.edits.push(Edit { start: at, end: at, text });
    }
    let mut edits = fixer.edits;
    edits.sort_by_key(|e| (e.start, e.end));
    let mut out = Vec::with_capacity(source.len() + 256);
    let mut pos = 0;
    for e in &edits {
        if e.start < pos {
            continue; // overlapping edits are refused by Fixer::add; never cut a file
        }
        out.extend_from_slice(&source[pos..e.start]);
        out.extend_from_slice(e.text.as_bytes());
        pos = e.end;
    }
    out.extend_from_slice(&source[pos..]);
    let mut rewritten = fixer.rewritten;
    rewritten.sort_by_key(|f| (f.line, f.column, f.rule));
    rewritten.dedup();
    CFixed { source: out, rewritten }
}

type Rewrite = Option<(Vec<Edit>, Vec<CFinding>)>;

struct Fixer<'a> {
    source: &'a [u8],
    edits: Vec<Edit>,
    rewritten: Vec<CFinding>,
    /// Whether an edit needs pyhost/legacy_compat.h.
    header: bool,
    /// Whether the module init became PYHOST_MODULE.
    module: bool,
}

fn text(seg: &Seg, i: usize) -> &str {
    seg.get(i).map_or("", |(t, _)| t.text.as_str())
}

/// The index of the token that closes the bracket at `open`.
fn matching(seg: &Seg, open: usize) -> Option<usize> {
    let mut depth = 0i32;
    for (i, (t, _)) in seg.iter().enumerate().skip(open) {
        match t.text.as_str() {
            "(" | "[" | "{" => depth += 1,
            ")" | "]" | "}" => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// The index of the token that opens the bracket closed at `close`.
fn matching_back(seg: &Seg, close: usize) -> Option<usize> {
    let mut depth = 0i32;
    for k in (0..=close).rev() {
        match text(seg, k) {
            ")" | "]" | "}" => depth += 1,
            "(" | "[" | "{" => {
                depth -= 1;
                if depth == 0 {
                    return Some(k);
                }
            }
            _ => {}
        }
    }
    None
}

/// The top-level arguments of the call whose `(` is at `open`, as token index ranges.
fn arguments(seg: &Seg, open: usize, close: usize) -> Vec<(usize, usize)> {
    let mut args = Vec::new();
    let (mut depth, mut start) = (0, open + 1);
    for k in open + 1..close {
        match text(seg, k) {
            "(" | "[" | "{" => depth += 1,
            ")" | "]" | "}" => depth -= 1,
            "," if depth == 0 => {
                args.push((start, k));
                start = k + 1;
            }
            _ => {}
        }
    }
    if start < close {
        args.push((start, close));
    }
    args
}

const ASSIGNMENTS: &[&str] = &["=", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "<<=", ">>=", "++", "--"];

impl Fixer<'_> {
    /// Adds edits unless one overlaps an edit already made.
    fn add(&mut self, edits: Vec<Edit>) -> bool {
        let overlaps = |a: &Edit, b: &Edit| a.start < b.end.max(b.start + 1) && b.start < a.end.max(a.start + 1);
        let clash = edits
            .iter()
            .enumerate()
            .any(|(n, e)| self.edits.iter().any(|d| overlaps(e, d)) || edits[n + 1..].iter().any(|d| overlaps(e, d)));
        if clash {
            return false;
        }
        self.edits.extend(edits);
        true
    }

    fn slice(&self, seg: &Seg, from: usize, to: usize) -> String {
        String::from_utf8_lossy(&self.source[seg[from].0.start..seg[to].0.end]).into_owned()
    }

    /// A name the table's `rewrites` column maps (PyInt_AsLong -> PyLong_AsLong).
    fn rename(&mut self, rule: &str, seg: &Seg, i: usize) -> Rewrite {
        let (_, c) = rules::c().find(|(r, _)| r.id == rule)?;
        let tok = &seg[i].0;
        let new = c.rewrites.get(&tok.text)?;
        Some((vec![Edit { start: tok.start, end: tok.end, text: new.clone() }], Vec::new()))
    }

    /// `A | Py_TPFLAGS_HAVE_X | B | Py_TPFLAGS_HAVE_Y`: the whole `|`
    /// expression at once, every removed flag of it dropped, so one pass
    /// is enough; the spacing around `|` is kept.
    fn tpflag(&mut self, seg: &Seg, i: usize, findings: &[CFinding]) -> Rewrite {
        // The run of names and `|` around the flag is the whole expression.
        let term = |k: usize| seg[k].0.kind == TokKind::Ident || text(seg, k) == "|";
        let mut first = i;
        while first > 0 && term(first - 1) {
            first -= 1;
        }
        let mut last = i;
        while last + 1 < seg.len() && term(last + 1) {
            last += 1;
        }
        let before = if first > 0 { text(seg, first - 1) } else { "" };
        let after = text(seg, last + 1);
        let opened = |k: usize| k == 0 || matches!(text(seg, k - 1), "=" | "," | "{" | "return" | "(");
        let bounded_left = matches!(before, "," | "{" | "=" | "|=" | "") || (before == "(" && opened(first - 1));
        let bounded_right = matches!(after, "," | "}" | ";" | ")" | "");
        // Names and `|` alternating, names at both ends.
        let alternating = (first..=last).all(|k| (k - first).is_multiple_of(2) || text(seg, k) == "|")
            && (first..=last).step_by(2).all(|k| seg[k].0.kind == TokKind::Ident)
            && (last - first).is_multiple_of(2);
        if !bounded_left || !bounded_right || first == last || !alternating {
            return None;
        }
        let (start, end) = (seg[first].0.start, seg[last].0.end);
        // No comment or directive inside: only the tokens, `|` and blanks.
        let inside: usize = (first..=last).map(|k| seg[k].0.end - seg[k].0.start).sum();
        let blanks = self.source[start..end].iter().filter(|b| b.is_ascii_whitespace()).count();
        if inside + blanks != end - start {
            return None;
        }
        let removed: Vec<&CFinding> = (first..=last)
            .step_by(2)
            .filter_map(|k| findings.iter().find(|f| f.rule == "C-PY2-TPFLAGS-HAVE" && f.start == seg[k].0.start))
            .collect();
        let kept: Vec<&str> = (first..=last)
            .step_by(2)
            .filter(|&k| !removed.iter().any(|f| f.start == seg[k].0.start))
            .map(|k| text(seg, k))
            .collect();
        if kept.is_empty() {
            return None; // nothing but removed flags: what stands there is a person's call
        }
        let spaced = self.source[seg[first].0.end..seg[first + 1].0.start].iter().any(|b| b.is_ascii_whitespace());
        let text = kept.join(if spaced { " | " } else { "|" });
        Some((vec![Edit { start, end, text }], removed.into_iter().cloned().collect()))
    }

    /// The start of the expression `base` in `base->ob_type` (`arrow` is
    /// the `->` or `.`): names, calls, subscripts and parentheses chained
    /// by `->` and `.`; None for anything else.
    fn base_start(seg: &Seg, arrow: usize) -> Option<usize> {
        let mut k = arrow.checked_sub(1)?;
        loop {
            let start = match text(seg, k) {
                ")" | "]" => {
                    let open = matching_back(seg, k)?;
                    if open > 0 && (seg[open - 1].0.kind == TokKind::Ident || matches!(text(seg, open - 1), ")" | "]"))
                    {
                        k = open - 1;
                        continue;
                    }
                    open
                }
                _ if seg[k].0.kind == TokKind::Ident => k,
                _ => return None,
            };
            if start >= 2 && matches!(text(seg, start - 1), "->" | ".") {
                k = start - 2;
                continue;
            }
            return Some(start);
        }
    }

    /// `ob->ob_type` read: `Py_TYPE(ob)`; `ob->ob_type = t;` alone: `Py_SET_TYPE(ob, t);`.
    fn ob_field(&mut self, seg: &Seg, arrow: usize) -> Rewrite {
        let member = arrow + 1;
        let (read, set) = match text(seg, member) {
            "ob_type" => ("Py_TYPE", "Py_SET_TYPE"),
            "ob_size" => ("Py_SIZE", "Py_SET_SIZE"),
            "ob_refcnt" => ("Py_REFCNT", "Py_SET_REFCNT"),
            _ => return None,
        };
        let start = Self::base_start(seg, arrow)?;
        let prev = if start > 0 { text(seg, start - 1) } else { ";" };
        if matches!(prev, "&" | "++" | "--" | "sizeof") || text(seg, member + 1) == "(" {
            return None;
        }
        let base = self.slice(seg, start, arrow - 1);
        let pointer = if text(seg, arrow) == "." { format!("&{base}") } else { base };
        let after = text(seg, member + 1);
        if ASSIGNMENTS.contains(&after) {
            return Some((vec![self.setter(seg, start, member, set, &pointer)?], Vec::new()));
        }
        let edit = Edit { start: seg[start].0.start, end: seg[member].0.end, text: format!("{read}({pointer})") };
        Some((vec![edit], Vec::new()))
    }

    /// `Py_TYPE(ob) = t;` as a statement of its own: `Py_SET_TYPE(ob, t);`.
    fn lvalue_macro(&mut self, seg: &Seg, i: usize) -> Rewrite {
        let set = match text(seg, i) {
            "Py_TYPE" => "Py_SET_TYPE",
            "Py_SIZE" => "Py_SET_SIZE",
            "Py_REFCNT" => "Py_SET_REFCNT",
            _ => return None,
        };
        let close = matching(seg, i + 1)?;
        if close <= i + 2 {
            return None;
        }
        let pointer = self.slice(seg, i + 2, close - 1);
        Some((vec![self.setter(seg, i, close, set, &pointer)?], Vec::new()))
    }

    /// A statement `LHS = value;` from `start` (LHS ends at `lhs_end`) as
    /// `SET(pointer, value);`, when it is exactly that.
    fn setter(&mut self, seg: &Seg, start: usize, lhs_end: usize, set: &str, pointer: &str) -> Option<Edit> {
        let statement_start = start == 0 || matches!(text(seg, start - 1), ";" | "{" | "}");
        if !statement_start || text(seg, lhs_end + 1) != "=" {
            return None;
        }
        let mut depth = 0;
        let mut semi = None;
        for k in lhs_end + 2..seg.len() {
            match text(seg, k) {
                "(" | "[" | "{" => depth += 1,
                ")" | "]" | "}" if depth == 0 => return None,
                ")" | "]" | "}" => depth -= 1,
                "," if depth == 0 => return None,
                ";" if depth == 0 => {
                    semi = Some(k);
                    break;
                }
                "=" if depth == 0 => return None, // a chained assignment
                _ => {}
            }
        }
        let semi = semi?;
        if semi == lhs_end + 2 {
            return None;
        }
        let value = self.slice(seg, lhs_end + 2, semi - 1);
        self.header = true;
        Some(Edit { start: seg[start].0.start, end: seg[semi].0.end, text: format!("{set}({pointer}, {value});") })
    }

    /// `PyMODINIT_FUNC initNAME(void) { ... Py_InitModule3("NAME", methods, doc) ... }`
    /// as `PYHOST_MODULE(NAME, doc, methods, NAME_exec)` and `static int NAME_exec(PyObject *pyhost_module) {...}`.
    fn module_init(&mut self, seg: &Seg, i: usize, findings: &[CFinding]) -> Rewrite {
        let name_tok = &seg[i].0;
        let module = name_tok.text.strip_prefix("init")?;
        let versions = seg[i].1;
        let head = match text(seg, i.checked_sub(1)?) {
            "PyMODINIT_FUNC" => i - 1,
            ")" if i >= 4 && text(seg, i - 4) == "DL_EXPORT" => i - 4,
            _ => return None,
        };
        let open = match (text(seg, i + 1), text(seg, i + 2), text(seg, i + 3)) {
            ("(", "void", ")") => i + 4,
            ("(", ")", _) => i + 3,
            _ => return None,
        };
        if text(seg, open) != "{" {
            return None;
        }
        let close = matching(seg, open)?;
        // Every token of the function compiled for the same versions: no
        // Python-version #if inside it (such a file handles both already).
        if (head..=close).any(|k| seg[k].1 != versions) {
            return None;
        }
        let calls: Vec<usize> = (open..close).filter(|&k| text(seg, k).starts_with("Py_InitModule")).collect();
        let [call] = calls[..] else { return None };
        let call_open = call + 1;
        let call_close = matching(seg, call_open)?;
        let args = arguments(seg, call_open, call_close);
        if args.iter().any(|(a, b)| a >= b) {
            return None;
        }
        let (name_arg, methods, doc) = match (text(seg, call), args.len()) {
            ("Py_InitModule", 2) => (args[0], self.slice(seg, args[1].0, args[1].1 - 1), "NULL".to_string()),
            ("Py_InitModule3", 3) => {
                (args[0], self.slice(seg, args[1].0, args[1].1 - 1), self.slice(seg, args[2].0, args[2].1 - 1))
            }
            ("Py_InitModule4", 5) => {
                // Py_InitModule3 is Py_InitModule4 with no self and this API version.
                let null_self =
                    (args[3].0..args[3].1).all(|k| matches!(text(seg, k), "NULL" | "0" | "(" | ")" | "*" | "PyObject"));
                if !null_self || self.slice(seg, args[4].0, args[4].1 - 1) != "PYTHON_API_VERSION" {
                    return None;
                }
                (args[0], self.slice(seg, args[1].0, args[1].1 - 1), self.slice(seg, args[2].0, args[2].1 - 1))
            }
            _ => return None,
        };
        // The import name, as a literal: "NAME" or "package.NAME".
        if name_arg.1 != name_arg.0 + 1 || seg[name_arg.0].0.kind != TokKind::Str {
            return None;
        }
        let literal = seg[name_arg.0].0.text.trim_matches('"').to_string();
        if literal != module && !literal.ends_with(&format!(".{module}")) {
            return None;
        }
        // methods and doc move above the function: no local of it may be among them.
        let locals: std::collections::HashSet<&str> =
            (open..call).filter(|&k| seg[k].0.kind == TokKind::Ident).map(|k| text(seg, k)).collect();
        for (a, b) in [args[1], args.get(2).copied().unwrap_or((0, 0))] {
            if (a..b).any(|k| seg[k].0.kind == TokKind::Ident && locals.contains(text(seg, k))) {
                return None;
            }
        }
        // `return;` only (the old init returns void).
        let mut edits = Vec::new();
        for k in open..close {
            if text(seg, k) == "return" {
                if text(seg, k + 1) != ";" {
                    return None;
                }
                let end = seg[k + 1].0.end;
                edits.push(Edit { start: seg[k].0.start, end, text: "return PyErr_Occurred() ? -1 : 0;".into() });
            }
        }
        let exec = {
            let wanted = format!("{module}_exec");
            let taken = |n: &str| lex::lex(self.source).iter().any(|it| matches!(it, Item::Code(t) if t.text == n));
            if taken(&wanted) { format!("pyhost_exec_{module}") } else { wanted }
        };
        edits.push(Edit {
            start: seg[head].0.start,
            end: seg[open].0.start,
            text: format!(
                "/* pyhost port fix: multi-phase init on 3.x, Py_InitModule on 2.x (pyhost/legacy_compat.h) */\n\
                 PYHOST_MODULE({module}, {doc}, {methods}, {exec})\n\nstatic int\n{exec}(PyObject *pyhost_module)\n"
            ),
        });
        edits.push(Edit { start: seg[call].0.start, end: seg[call_close].0.end, text: "pyhost_module".into() });
        // The end of the function: whatever ran to it succeeded unless an exception is set.
        let end = seg[close].0.start;
        let line_start = self.source[..end].iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
        let indented = self.source[line_start..end].iter().all(|b| *b == b' ' || *b == b'\t');
        let (at, text) = if indented {
            (line_start, "    return PyErr_Occurred() ? -1 : 0;\n".to_string())
        } else {
            (end, " return PyErr_Occurred() ? -1 : 0; ".to_string())
        };
        edits.push(Edit { start: at, end: at, text });
        self.header = true;
        self.module = true;
        let call_finding: Vec<CFinding> = findings
            .iter()
            .filter(|f| f.start == seg[call].0.start && f.rule == "C-PY2-MODULE-INIT")
            .cloned()
            .collect();
        Some((edits, call_finding))
    }
}

fn includes_header(source: &[u8]) -> bool {
    lex::lex(source).iter().any(|item| match item {
        Item::Directive { name, tokens, .. } if name == "include" => {
            let target: String = tokens.iter().map(|t| t.text.as_str()).collect();
            target.contains(HEADER)
        }
        _ => false,
    })
}

/// Where the `#include` goes: after the line including Python.h, else
/// after the last `#include` before the code, at the outermost `#if` depth
/// any include has (a header guard's, in a header), never inside an
/// `#ifdef FEATURE` block; else at the top. The bool: whether that line
/// lacks its newline (the end of the file).
fn include_point(source: &[u8]) -> (usize, bool) {
    let mut includes = Vec::new(); // (line, depth, is Python.h)
    let mut depth = 0u32;
    for item in &lex::lex(source) {
        match item {
            Item::Directive { name, .. } if matches!(name.as_str(), "if" | "ifdef" | "ifndef") => depth += 1,
            Item::Directive { name, .. } if name == "endif" => depth = depth.saturating_sub(1),
            Item::Directive { name, tokens, line } if name == "include" => {
                let target: String = tokens.iter().map(|t| t.text.as_str()).collect();
                includes.push((*line, depth, target.contains("Python.h")));
            }
            Item::Code(_) => break,
            _ => {}
        }
    }
    let Some(outer) = includes.iter().map(|i| i.1).min() else { return (0, false) };
    let at_outer = includes.iter().filter(|i| i.1 == outer);
    let line = match at_outer.clone().find(|i| i.2) {
        Some(python_h) => python_h.0,
        None => at_outer.max_by_key(|i| i.0).expect("one include at the outer depth").0,
    };
    // The end of that directive's line (continuations included: skip `\`-newlines).
    let mut current = 1u32;
    for (pos, &b) in source.iter().enumerate() {
        if b == b'\n' {
            let continued = pos > 0 && source[pos - 1] == b'\\';
            if current >= line && !continued {
                return (pos + 1, false);
            }
            current += 1;
        }
    }
    (source.len(), true)
}

/// Whether the file declares a `PyObject *` or a `PyTypeObject` at file scope.
fn has_object_globals(code: &Seg) -> bool {
    let mut depth = 0i32;
    for (k, (tok, _)) in code.iter().enumerate() {
        match tok.text.as_str() {
            "{" | "(" | "[" => depth += 1,
            "}" | ")" | "]" => depth -= 1,
            "PyObject" | "PyTypeObject" if depth == 0 => {
                let mut j = k + 1;
                while text(code, j) == "*" {
                    j += 1;
                }
                if code.get(j).is_some_and(|(t, _)| t.kind == TokKind::Ident)
                    && matches!(text(code, j + 1), ";" | "=" | "," | "[")
                {
                    return true;
                }
            }
            _ => {}
        }
    }
    false
}
