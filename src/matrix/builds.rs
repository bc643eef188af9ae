//! Building pyhost against one interpreter, for the matrix: a target
//! directory per interpreter (target/py<version>, the one scripts/test-all
//! uses), so a rerun with nothing changed rebuilds nothing.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

pub struct Built {
    /// The binary, or the compiler's first error.
    pub binary: Result<PathBuf, String>,
    pub seconds: f64,
}

/// The first error of a cargo build, with the lines that explain it.
fn first_error(output: &str) -> String {
    let lines: Vec<&str> = output.lines().collect();
    match lines.iter().position(|l| l.trim_start().starts_with("error")) {
        Some(start) => lines[start..].iter().take(8).cloned().collect::<Vec<_>>().join("\n"),
        None => lines.iter().rev().take(8).rev().cloned().collect::<Vec<_>>().join("\n"),
    }
}

pub fn build(source: &Path, python: &Path, label: &str) -> Built {
    let started = Instant::now();
    let target = source.join("target").join(format!("py{}", label.replace(['#', '/'], "-")));
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .args(["build", "--release", "--bin", "pyhost", "--manifest-path"])
        .arg(source.join("Cargo.toml"))
        .env("PYHOST_PYTHON", python)
        .env("CARGO_TARGET_DIR", &target)
        .env_remove("PYO3_PYTHON")
        .output();
    let binary = match output {
        Err(e) => Err(format!("cannot run cargo: {e}")),
        Ok(output) if !output.status.success() => Err(first_error(&String::from_utf8_lossy(&output.stderr))),
        Ok(_) => Ok(target.join("release/pyhost")),
    };
    Built { binary, seconds: started.elapsed().as_secs_f64() }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_first_error_is_kept() {
        let output = "   Compiling x\nwarning: unused\nerror: failed to run custom build command for `pyhost`\n  error: no headers\nmore\n";
        assert!(super::first_error(output).starts_with("error: failed to run custom build command"));
    }
}
