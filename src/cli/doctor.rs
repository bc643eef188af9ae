//! `pyhost doctor`: which interpreters on this machine can be embedded.

use crate::matrix::doctor;

use super::print_stdout;

/// List the Python interpreters on this machine that pyhost can be built
/// against, with headers and libpython found or missing, and the fix for
/// what is missing.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> anyhow::Result<i32> {
    let mut found = doctor::scan();
    found.sort_by_key(|f| doctor::version_key(f.version.as_deref().unwrap_or("0")));
    if args.json {
        print_stdout(&format!("{}\n", serde_json::to_string_pretty(&found)?))?;
        return Ok(0);
    }
    let mut text = String::new();
    for f in &found {
        let version = f.version.as_deref().unwrap_or("?");
        let executable = f.executable.as_ref().unwrap_or(&f.candidate).display().to_string();
        if f.embeddable {
            text.push_str(&format!("ok       Python {version:<8} {executable}\n"));
            text.push_str(&format!(
                "           headers   {}\n",
                f.include_dir.as_ref().map(|p| p.display().to_string()).unwrap_or_default()
            ));
            text.push_str(&format!(
                "           libpython {}\n",
                f.library.as_ref().map(|p| p.display().to_string()).unwrap_or_default()
            ));
        } else {
            text.push_str(&format!("missing  Python {version:<8} {executable}\n"));
            text.push_str(&format!("           {}\n", f.problem.as_deref().unwrap_or("unknown problem")));
        }
    }
    let usable = found.iter().filter(|f| f.embeddable).count();
    text.push_str(&format!(
        "{usable} of {} interpreters can be embedded (choose one: pyhost --python <path> COMMAND)\n",
        found.len()
    ));
    print_stdout(&text)?;
    Ok(0)
}
