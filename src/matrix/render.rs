//! The matrix on the terminal (a grid, in colour on a terminal) and in the
//! machine formats: JSON (the whole result), JUnit XML (one testcase per
//! cell), Markdown and a self-contained HTML page.

use std::fmt::Write as _;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use super::outcome::Outcome;
use super::{Cell, Changes, MatrixResult};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
    Junit,
    Markdown,
    Html,
}

pub fn render(result: &MatrixResult, format: Format, color: bool) -> String {
    match format {
        Format::Table => table(result, color),
        Format::Json => serde_json::to_string_pretty(result).expect("a result serializes") + "\n",
        Format::Junit => junit(result),
        Format::Markdown => markdown(result),
        Format::Html => html(result),
    }
}

/// How a cell reads in a grid: the outcome, marked when unexpected.
fn label(cell: Option<&Cell>) -> String {
    match cell {
        None => "-".into(),
        Some(c) if c.expected => c.outcome.name().into(),
        Some(c) => format!("{}!", c.outcome.name()),
    }
}

pub(crate) fn first_line(text: &Option<String>) -> String {
    let text = text.as_deref().unwrap_or_default();
    // A traceback's last line says what happened; other details lead with it.
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let line = if text.starts_with("Traceback") { lines.last() } else { lines.first() };
    line.map(|l| l.trim().to_string()).unwrap_or_default()
}

fn summary(result: &MatrixResult) -> String {
    let unexpected = result.cells.iter().filter(|c| !c.expected).count();
    format!("{} cells: {} as expected, {} not", result.cells.len(), result.cells.len() - unexpected, unexpected)
}

pub fn table(result: &MatrixResult, color: bool) -> String {
    let width = result.modules.iter().map(|m| m.id.len()).max().unwrap_or(6).max(6);
    let columns: Vec<&str> = result.interpreters.iter().map(|c| c.label.as_str()).collect();
    let cell_width = columns.iter().map(|c| c.len()).chain([16]).max().unwrap_or(16);
    let mut out = format!("{:<width$}", "module");
    for column in &columns {
        let _ = write!(out, "  {column:<cell_width$}");
    }
    out.push('\n');
    for row in &result.modules {
        let _ = write!(out, "{:<width$}", row.id);
        for column in &columns {
            let cell = result.cell(&row.id, column);
            let text = format!("{:<cell_width$}", label(cell));
            let painted = match (color, cell) {
                (true, Some(c)) if !c.expected => format!("\x1b[1;31m{text}\x1b[0m"),
                (true, Some(c)) if c.outcome == Outcome::Pass => format!("\x1b[32m{text}\x1b[0m"),
                (true, Some(_)) => format!("\x1b[33m{text}\x1b[0m"),
                _ => text,
            };
            let _ = write!(out, "  {painted}");
        }
        out = out.trim_end().to_string();
        out.push('\n');
    }
    let _ = writeln!(out, "\n{}  (! = not what the manifest expects)", summary(result));
    for column in result.interpreters.iter().filter(|c| c.problem.is_some()) {
        let _ = writeln!(out, "  {}: {}", column.label, first_line(&column.problem));
    }
    for column in &result.left_out {
        let _ = writeln!(
            out,
            "  not in the grid: Python {} ({}): {}",
            column.version.as_deref().unwrap_or(&column.label),
            column.executable.as_deref().unwrap_or("?"),
            first_line(&column.problem)
        );
    }
    // A missing interpreter or a failed build is one line above, not a line per cell.
    let whole_column = |c: &&Cell| matches!(c.outcome, Outcome::SkippedMissing | Outcome::BuildError);
    for cell in result.cells.iter().filter(|c| !c.expected).filter(|c| !whole_column(c)) {
        let _ = writeln!(
            out,
            "  {} on {}: {} (expected {}) {}",
            cell.module,
            cell.interpreter,
            cell.outcome,
            cell.expectation.outcome,
            first_line(&cell.detail)
        );
    }
    out
}

pub fn changes(changes: &Changes) -> String {
    let mut out = String::new();
    for (title, list) in [("regressions", &changes.regressions), ("fixes", &changes.fixes)] {
        let _ = writeln!(out, "{title} against the baseline: {}", list.len());
        for (module, interpreter, before, now) in list {
            let _ = writeln!(out, "  {module} on {interpreter}: {before} -> {now}");
        }
    }
    out
}

fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Characters XML 1.0 cannot hold at all (control codes from tracebacks).
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push('?'),
            c => out.push(c),
        }
    }
    out
}

/// One testsuite per interpreter, one testcase per cell; a cell that is not
/// as expected is a failure, a missing interpreter a skip.
pub fn junit(result: &MatrixResult) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let failures = result.cells.iter().filter(|c| !c.expected && c.outcome != Outcome::SkippedMissing).count();
    let _ =
        writeln!(out, "<testsuites name=\"pyhost matrix\" tests=\"{}\" failures=\"{failures}\">", result.cells.len());
    for column in &result.interpreters {
        let cells: Vec<&Cell> = result.cells.iter().filter(|c| c.interpreter == column.label).collect();
        let failed = cells.iter().filter(|c| !c.expected && c.outcome != Outcome::SkippedMissing).count();
        let skipped = cells.iter().filter(|c| c.outcome == Outcome::SkippedMissing).count();
        let time: f64 = cells.iter().map(|c| c.seconds).sum();
        let _ = writeln!(
            out,
            "  <testsuite name=\"Python {}\" tests=\"{}\" failures=\"{failed}\" skipped=\"{skipped}\" time=\"{time:.3}\">",
            xml_escape(&column.label),
            cells.len()
        );
        for cell in cells {
            let _ = write!(
                out,
                "    <testcase classname=\"python-{}\" name=\"{}\" time=\"{:.3}\"",
                xml_escape(&cell.interpreter),
                xml_escape(&cell.module),
                cell.seconds
            );
            let message = format!("{} (expected {})", cell.outcome, cell.expectation.outcome);
            let detail = xml_escape(cell.detail.as_deref().unwrap_or_default());
            if cell.outcome == Outcome::SkippedMissing {
                let _ = writeln!(out, ">\n      <skipped message=\"{}\"/>\n    </testcase>", xml_escape(&message));
            } else if !cell.expected {
                let _ = writeln!(
                    out,
                    ">\n      <failure message=\"{}\">{detail}</failure>\n    </testcase>",
                    xml_escape(&message)
                );
            } else {
                let _ = writeln!(out, "/>");
            }
        }
        let _ = writeln!(out, "  </testsuite>");
    }
    out.push_str("</testsuites>\n");
    out
}

pub fn markdown(result: &MatrixResult) -> String {
    let labels: Vec<&str> = result.interpreters.iter().map(|c| c.label.as_str()).collect();
    let mut out = markdown_grid(&labels, result.modules.iter().map(|r| r.id.as_str()), |module, interpreter| {
        match result.cell(module, interpreter) {
            Some(c) if !c.expected => format!("**{}** ⚠", c.outcome),
            Some(c) => c.outcome.to_string(),
            None => "-".into(),
        }
    });
    let _ = writeln!(out, "\n{}. ⚠ marks a cell that is not what the module's manifest expects.", summary(result));
    out
}

/// A module × interpreter grid as a Markdown table, each cell's text from `cell(module, interpreter)`.
pub fn markdown_grid<'a>(
    interpreters: &[&str],
    modules: impl Iterator<Item = &'a str>,
    cell: impl Fn(&str, &str) -> String,
) -> String {
    let mut out = String::from("| module |");
    for label in interpreters {
        let _ = write!(out, " {label} |");
    }
    out.push_str("\n|---|");
    for _ in interpreters {
        out.push_str("---|");
    }
    out.push('\n');
    for module in modules {
        let _ = write!(out, "| `{module}` |");
        for interpreter in interpreters {
            let _ = write!(out, " {} |", cell(module, interpreter));
        }
        out.push('\n');
    }
    out
}

pub fn html(result: &MatrixResult) -> String {
    let mut out = String::from(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>pyhost matrix</title>\n<style>\n\
         body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}\n\
         th,td{border:1px solid #ccc;padding:.3em .6em;text-align:left}\n\
         td.pass{background:#d9f2d9}td.ok{background:#fff3cd}td.bad{background:#f8d7da;font-weight:bold}\n\
         td.missing{background:#eee;color:#666}\n</style></head><body>\n<h1>pyhost matrix</h1>\n",
    );
    let _ = writeln!(out, "<p>{}</p>\n<table>\n<tr><th>module</th>", xml_escape(&summary(result)));
    for column in &result.interpreters {
        let title = column.version.clone().unwrap_or_else(|| first_line(&column.problem));
        let _ = write!(out, "<th title=\"{}\">{}</th>", xml_escape(&title), xml_escape(&column.label));
    }
    out.push_str("</tr>\n");
    for row in &result.modules {
        let _ = write!(out, "<tr><th title=\"{}\">{}</th>", xml_escape(&row.description), xml_escape(&row.id));
        for column in &result.interpreters {
            match result.cell(&row.id, &column.label) {
                None => out.push_str("<td class=\"missing\">-</td>"),
                Some(c) => {
                    let class = match (c.expected, c.outcome) {
                        (false, Outcome::SkippedMissing) => "missing",
                        (false, _) => "bad",
                        (true, Outcome::Pass) => "pass",
                        (true, _) => "ok",
                    };
                    let mut title = format!("expected {}", c.expectation.outcome);
                    if let Some(reason) = &c.expectation.reason {
                        let _ = write!(title, ": {reason}");
                    }
                    if c.detail.is_some() {
                        let _ = write!(title, "\n{}", first_line(&c.detail));
                    }
                    let _ = write!(out, "<td class=\"{class}\" title=\"{}\">{}</td>", xml_escape(&title), c.outcome);
                }
            }
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n<p>Hover a cell for the expectation, its reason and what happened.</p>\n</body></html>\n");
    out
}

/// Progress on stderr while building and running, when it is a terminal.
pub struct Progress {
    enabled: bool,
}

pub struct Step(Option<ProgressBar>);

pub struct Bar(Option<ProgressBar>);

impl Progress {
    pub fn new(enabled: bool) -> Progress {
        Progress { enabled: enabled && std::io::IsTerminal::is_terminal(&std::io::stderr()) }
    }

    pub fn step(&self, message: &str) -> Step {
        if !self.enabled {
            eprintln!("pyhost: {message}");
            return Step(None);
        }
        let spinner = ProgressBar::new_spinner().with_message(message.to_string());
        spinner.enable_steady_tick(Duration::from_millis(120));
        Step(Some(spinner))
    }

    pub fn bar(&self, total: usize, message: &str) -> Bar {
        if !self.enabled {
            eprintln!("pyhost: {message}: {total} cells");
            return Bar(None);
        }
        let bar = ProgressBar::new(total as u64).with_message(message.to_string());
        bar.set_style(
            ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} ({elapsed})").expect("a valid template"),
        );
        Bar(Some(bar))
    }
}

impl Step {
    pub fn finish(self) {
        if let Some(spinner) = self.0 {
            spinner.finish_and_clear();
        }
    }
}

impl Bar {
    pub fn inc(&self) {
        if let Some(bar) = &self.0 {
            bar.inc(1);
        }
    }

    pub fn finish(self) {
        if let Some(bar) = self.0 {
            bar.finish_and_clear();
        }
    }
}
