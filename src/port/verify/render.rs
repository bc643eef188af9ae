//! The before/after grid of `pyhost port verify`: text for people (in
//! colour on a terminal), JSON, and Markdown.

use std::fmt::Write as _;

use super::{CellChange, Verdict, VerifyResult};
use crate::matrix::outcome::Change;
use crate::matrix::render::{first_line, markdown_grid};

const BETTER: &str = "▲";
const WORSE: &str = "▼";

/// "unloadable → pass ▲": the raw results, marked when they changed, and
/// `!` when the result after is not what [ported.expect] declares.
fn cell_text(cell: &CellChange) -> String {
    let mark = match cell.change {
        Change::Better => format!(" {BETTER}"),
        Change::Worse => format!(" {WORSE}"),
        Change::Same => String::new(),
    };
    let unmet = if cell.ported_unmet { "!" } else { "" };
    format!("{} → {}{unmet}{mark}", cell.before.outcome.raw(), cell.after.outcome.raw())
}

fn counts(result: &VerifyResult) -> String {
    let count = |change| result.cells.iter().filter(|c| c.change == change).count();
    format!(
        "{} modules, {} cells: {} better, {} worse, {} the same",
        result.modules.len(),
        result.cells.len(),
        count(Change::Better),
        count(Change::Worse),
        count(Change::Same)
    )
}

const LEGEND: &str = "▲ better, ▼ worse, by the raw result: pass > fail > unloadable > crash = hang \
                      (xfail counts as fail, xpass as pass); ! not what the manifest's [ported.expect] says";

pub fn text(result: &VerifyResult, written: Option<bool>, color: bool) -> String {
    let width = result.modules.iter().map(|m| m.id.len()).max().unwrap_or(6).max(6);
    let texts: Vec<Vec<String>> = result
        .modules
        .iter()
        .map(|m| {
            result
                .interpreters
                .iter()
                .map(|c| result.cell(&m.id, &c.label).map(cell_text).unwrap_or_else(|| "-".into()))
                .collect()
        })
        .collect();
    let cell_width = texts
        .iter()
        .flatten()
        .map(|t| t.chars().count())
        .chain(result.interpreters.iter().map(|c| c.label.len()))
        .max()
        .unwrap_or(4);
    let mut out = format!("{:<width$}", "module");
    for column in &result.interpreters {
        let _ = write!(out, "  {:<cell_width$}", column.label);
    }
    out = out.trim_end().to_string() + "\n";
    for (module, row) in result.modules.iter().zip(&texts) {
        let _ = write!(out, "{:<width$}", module.id);
        for (column, text) in result.interpreters.iter().zip(row) {
            let pad = cell_width.saturating_sub(text.chars().count());
            let painted = match (color, result.cell(&module.id, &column.label).map(|c| c.change)) {
                (true, Some(Change::Worse)) => format!("\x1b[1;31m{text}\x1b[0m"),
                (true, Some(Change::Better)) => format!("\x1b[32m{text}\x1b[0m"),
                _ => text.clone(),
            };
            let _ = write!(out, "  {painted}{}", " ".repeat(pad));
        }
        out = out.trim_end().to_string() + "\n";
    }
    let _ = writeln!(out, "\n{}\n{LEGEND}", counts(result));
    for column in result.interpreters.iter().filter(|c| c.problem.is_some()) {
        let _ = writeln!(out, "  {}: {}", column.label, first_line(&column.problem));
    }
    for cell in result.worse() {
        let _ = writeln!(
            out,
            "  worse: {} on {}: {} → {}: {}",
            cell.module,
            cell.interpreter,
            cell.before.outcome.raw(),
            cell.after.outcome.raw(),
            first_line(&cell.after.detail)
        );
    }
    for cell in result.ported_unmet() {
        let _ = writeln!(
            out,
            "  not as [ported.expect] says: {} on {}: {} (expected {}) {}",
            cell.module,
            cell.interpreter,
            cell.after.outcome,
            cell.after.expectation.outcome,
            first_line(&cell.after.detail)
        );
    }
    out.push_str(&verdicts(result, written));
    out
}

/// What happened to each module's rewrite.
fn verdicts(result: &VerifyResult, written: Option<bool>) -> String {
    let mut out = String::new();
    let rewritten = result.modules.iter().filter(|m| m.verdict != Verdict::Unchanged).count();
    let kept: Vec<_> = result.modules.iter().filter(|m| m.verdict == Verdict::Kept).collect();
    let rejected: Vec<_> = result.modules.iter().filter(|m| m.verdict == Verdict::Rejected).collect();
    let _ = writeln!(
        out,
        "\nthe rewrite (--style {}) changes {rewritten} of {} modules: {} with no cell worse, {} with a cell worse",
        result.style.name(),
        result.modules.len(),
        kept.len(),
        rejected.len()
    );
    match written {
        None => {}
        Some(_) => {
            let done: Vec<_> = kept.iter().filter(|m| m.written).map(|m| m.id.as_str()).collect();
            if !done.is_empty() {
                let _ = writeln!(out, "written: {}", done.join(", "));
            }
            for module in &rejected {
                let cells: Vec<String> = result
                    .worse()
                    .filter(|c| c.module == module.id)
                    .map(|c| format!("{} {} → {}", c.interpreter, c.before.outcome.raw(), c.after.outcome.raw()))
                    .collect();
                let _ = writeln!(
                    out,
                    "not written, left byte for byte as it was: {} ({}; worse: {})",
                    module.id,
                    module.folder.display(),
                    cells.join(", ")
                );
            }
        }
    }
    for path in &result.unverified {
        let _ =
            writeln!(out, "not written: {} is outside every module folder, so no self_test covers it", path.display());
    }
    for error in &result.errors {
        let _ = writeln!(out, "not rewritten: {}: {}", error.path.display(), error.error);
    }
    let decisions: Vec<_> = result.modules.iter().flat_map(|m| m.remaining.iter()).collect();
    if !decisions.is_empty() {
        let _ = writeln!(out, "left for a person (lines as in the rewrite; pyhost port check names each):");
        for f in decisions {
            let _ = writeln!(
                out,
                "  {}:{}:{}: {} [{}] {}",
                f.path.display(),
                f.line,
                f.column,
                f.rule,
                f.kind,
                f.detail.as_deref().unwrap_or(&f.message)
            );
        }
    }
    out
}

pub fn json(result: &VerifyResult) -> String {
    serde_json::to_string_pretty(result).expect("a result serializes") + "\n"
}

pub fn markdown(result: &VerifyResult) -> String {
    let labels: Vec<&str> = result.interpreters.iter().map(|c| c.label.as_str()).collect();
    let mut out = markdown_grid(&labels, result.modules.iter().map(|m| m.id.as_str()), |module, interpreter| {
        match result.cell(module, interpreter) {
            Some(c) if c.change == Change::Worse => format!("**{}**", cell_text(c)),
            Some(c) => cell_text(c),
            None => "-".into(),
        }
    });
    let _ = writeln!(out, "\n{}. {LEGEND}.", counts(result));
    out
}
