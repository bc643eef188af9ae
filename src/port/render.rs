//! Output of `pyhost port check`: text for people, JSON, and SARIF 2.1.0
//! for code-scanning services and editors.

use serde_json::{Value, json};

use super::{CheckReport, Finding, FixOutcome, Kind, rules};

fn targets_text(versions: &[super::Version]) -> String {
    versions.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(" ")
}

/// One line per finding: `path:line:col: RULE [kind, breaks 3.9 3.11] message (detail); fix: ... (auto)`.
pub fn finding_line(f: &Finding) -> String {
    let detail = f.detail.as_deref().map(|d| format!(" ({d})")).unwrap_or_default();
    let auto = if f.auto { "pyhost port fix does it" } else { "by hand" };
    let mut line = format!(
        "{}:{}:{}: {} [{}, breaks {}] {}{}\n    fix ({auto}): {}\n",
        f.path.display(),
        f.line,
        f.column,
        f.rule,
        f.kind,
        targets_text(&f.breaks_targets),
        f.message,
        detail,
        f.fix
    );
    if let Some(compat) = &f.compat {
        line.push_str(&format!("    compat header (pyhost/legacy_compat.h): {}\n", compat.replace('`', "")));
    }
    line
}

pub fn text(report: &CheckReport) -> String {
    let mut out = String::new();
    for f in &report.findings {
        out.push_str(&finding_line(f));
    }
    for e in &report.errors {
        out.push_str(&format!("{}: not checked: {}\n", e.path.display(), e.error.lines().last().unwrap_or("")));
    }
    let count = |kind: Kind| report.findings.iter().filter(|f| f.kind == kind).count();
    let files_with = report.findings.iter().map(|f| &f.path).collect::<std::collections::BTreeSet<_>>().len();
    out.push_str(&format!(
        "{} findings in {} of {} files ({} syntax, {} removed, {} semantic, {} decision); {} fixed by `pyhost port fix`; \
         targets {}",
        report.findings.len(),
        files_with,
        report.files,
        count(Kind::Syntax),
        count(Kind::Removed),
        count(Kind::Semantic),
        count(Kind::Decision),
        report.findings.iter().filter(|f| f.auto).count(),
        targets_text(&report.targets)
    ));
    if report.other_targets > 0 {
        out.push_str(&format!("; {} more break none of the targets", report.other_targets));
    }
    out.push('\n');
    out
}

pub fn json(report: &CheckReport) -> String {
    serde_json::to_string_pretty(report).expect("a report serializes") + "\n"
}

fn level(kind: Kind) -> &'static str {
    match kind {
        Kind::Syntax | Kind::Removed => "error",
        Kind::Semantic | Kind::Decision => "warning",
    }
}

/// A file path as a SARIF artifact URI: relative paths stay relative
/// (resolved against the working directory), bytes that are not URI-safe
/// are percent-encoded, so a path that is not UTF-8 survives.
fn uri(path: &std::path::Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    let mut out = String::new();
    for &b in path.as_os_str().as_bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

pub fn sarif(report: &CheckReport) -> String {
    let all = rules::all();
    let descriptors: Vec<Value> = all
        .iter()
        .map(|r| {
            json!({
                "id": r.id,
                "name": r.id.to_lowercase().replace('-', "_"),
                "shortDescription": { "text": r.message },
                "fullDescription": { "text": format!("{} (breaks {}). Fix: {}", r.message, r.breaks, r.fix) },
                "help": { "text": r.fix },
                "defaultConfiguration": { "level": level(r.kind) },
                "properties": { "kind": r.kind, "breaks": r.breaks, "auto": r.auto },
            })
        })
        .collect();
    let results: Vec<Value> = report
        .findings
        .iter()
        .map(|f| {
            let index = all.iter().position(|r| r.id == f.rule).expect("a known rule");
            let detail = f.detail.as_deref().map(|d| format!(" ({d})")).unwrap_or_default();
            json!({
                "ruleId": f.rule,
                "ruleIndex": index,
                "level": level(f.kind),
                "message": { "text": format!("{}{} - breaks {}. Fix: {}", f.message, detail,
                    targets_text(&f.breaks_targets), f.fix) },
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": { "uri": uri(&f.path), "uriBaseId": "%SRCROOT%" },
                        "region": { "startLine": f.line.max(1), "startColumn": f.column.max(1) },
                    }
                }],
                "properties": { "kind": f.kind, "breaksTargets": f.breaks_targets, "auto": f.auto,
                    "compat": f.compat },
            })
        })
        .collect();
    let log = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "pyhost port",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://pypi.org/project/fissix/",
                "rules": descriptors,
            }},
            "results": results,
            "properties": { "targets": report.targets },
        }]
    });
    serde_json::to_string_pretty(&log).expect("SARIF serializes") + "\n"
}

/// The unified diffs of every changed file, one after the other.
pub fn diff(outcome: &FixOutcome) -> Vec<u8> {
    let mut out = Vec::new();
    for file in outcome.changed() {
        out.extend_from_slice(&file.diff);
    }
    out
}

/// What `fix` did, for stderr: files changed, findings left and the decisions.
pub fn fix_summary(outcome: &FixOutcome, written: bool) -> String {
    let mut out = String::new();
    for file in &outcome.files {
        if let Some(error) = &file.error {
            out.push_str(&format!("{}: not fixed: {}\n", file.path.display(), error.lines().last().unwrap_or("")));
        }
        for f in &file.remaining {
            out.push_str(&format!("left: {}", finding_line(f)));
        }
    }
    let changed = outcome.changed().count();
    let remaining: usize = outcome.files.iter().map(|f| f.remaining.len()).sum();
    let decisions: usize = outcome.files.iter().flat_map(|f| &f.remaining).filter(|f| f.kind == Kind::Decision).count();
    out.push_str(&format!(
        "{changed} of {} files {} (--style {}); {remaining} findings left for a person, {decisions} of them decisions \
         (marked `# pyhost-port: decision` in Python files)\n",
        outcome.files.len(),
        if written { "rewritten" } else { "would change (the diff is on stdout; --write rewrites them)" },
        outcome.style.name()
    ));
    out
}
