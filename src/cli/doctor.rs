//! `pyhost doctor`: every CPython on this machine, and which pyhost can embed.

use std::fmt::Write as _;

use crate::matrix::doctor::{self, Found};

use super::print_stdout;

/// List every Python interpreter on this machine (PATH, pyenv, uv, asdf,
/// conda, /usr/local, /opt, scripts/install-pythons), where each was found,
/// whether pyhost can embed it and the fix when not. Exits 1 when a version
/// CI requires (2.7, 3.9, 3.11, 3.13) has no interpreter pyhost can embed.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// A group of the listing: its title, and which interpreters belong to it.
type Section = (&'static str, fn(&Found) -> bool);

/// A search slower than this says how long it took.
const SLOW_SECONDS: f64 = 1.0;

pub fn run(args: Args) -> anyhow::Result<i32> {
    let discovery = doctor::discover();
    let status = if discovery.missing_required.is_empty() { 0 } else { 1 };
    if args.json {
        let mut value = serde_json::to_value(&discovery)?;
        value["required"] = serde_json::json!(doctor::REQUIRED);
        print_stdout(&format!("{}\n", serde_json::to_string_pretty(&value)?))?;
        return Ok(status);
    }
    let all = &discovery.interpreters;
    let mut text = format!("Required (CI fails without them; scripts/install-pythons installs them: {}):\n", {
        doctor::REQUIRED.join(", ")
    });
    for version in doctor::REQUIRED {
        match discovery.for_label(version) {
            Some(found) => line(&mut text, found),
            None => {
                let _ =
                    writeln!(text, "  MISSING {version:<6} none that pyhost can embed; run scripts/install-pythons");
            }
        }
    }
    let sections: [Section; 3] = [
        ("Extras (not required; the matrix tests them too)", |f| !f.required && f.column),
        ("Cannot be embedded", |f| !f.embeddable && f.label.is_some()),
        ("Also found (the version has its column above; name it with --python PATH)", |f| !f.column && f.embeddable),
    ];
    for (title, belongs) in sections {
        let members: Vec<&Found> = all.iter().filter(|f| belongs(f)).collect();
        if !members.is_empty() {
            let _ = writeln!(text, "{title}:");
            members.into_iter().for_each(|f| line(&mut text, f));
        }
    }
    let broken: Vec<&Found> = all.iter().filter(|f| f.label.is_none()).collect();
    if !broken.is_empty() {
        let _ = writeln!(text, "Do not run:");
        for found in broken {
            let _ = writeln!(text, "  {}: {}", found.executable.display(), found.problem.as_deref().unwrap_or("?"));
        }
    }
    let columns: Vec<&str> = discovery.columns().filter_map(|f| f.label.as_deref()).collect();
    let _ = writeln!(
        text,
        "{} interpreters found ({} files probed); the matrix's default columns: {}",
        all.len(),
        discovery.probed,
        columns.join(" ")
    );
    let _ = writeln!(text, "Run under one of them: pyhost --python <path or version> COMMAND");
    if discovery.seconds > SLOW_SECONDS {
        let _ = writeln!(
            text,
            "(the search took {:.1} s: each file found is run once to ask what it is)",
            discovery.seconds
        );
    }
    print_stdout(&text)?;
    Ok(status)
}

/// `  ok      3.11   3.11.2    /usr/bin/python3.11  (scripts/install-pythons, PATH)`, and why it cannot be embedded.
fn line(text: &mut String, found: &Found) {
    let mark = if found.embeddable { "ok" } else { "no" };
    let label = found.label.as_deref().unwrap_or("?");
    let version = found.version.as_deref().unwrap_or("?");
    let sources: Vec<&str> = found.found_in.iter().map(|s| s.describe()).collect();
    let _ =
        writeln!(text, "  {mark:<7} {label:<6} {version:<9} {}  ({})", found.executable.display(), sources.join(", "));
    if let Some(problem) = &found.problem {
        let _ = writeln!(text, "          {problem}");
    }
}
