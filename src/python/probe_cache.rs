//! The probe's answer for an interpreter, cached: probing runs the
//! interpreter (0.1 to 0.5 s, on every start of pyhost), and its answer
//! changes only when the interpreter does. Cached only when the candidate is
//! the interpreter itself: a version manager's shim (pyenv's) runs whichever
//! version is selected, so it is probed every time.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// `interpreters::probe`, answered from ~/.cache/pyhost/probes when the
/// executable is the same file (path, size, mtime, inode) as when it was probed.
pub fn probe(candidate: &Path) -> Result<String, String> {
    let Some(file) = cache_file(candidate) else { return interpreters::probe(candidate) };
    // The answer names the libpython the host loads: never one from a
    // folder another user could write (it is not stored there either).
    let trusted = file.parent().is_some_and(|dir| !dir.exists() || crate::cache::untrusted(dir).is_none());
    if !trusted {
        return interpreters::probe(candidate);
    }
    if let Ok(answer) = std::fs::read_to_string(&file) {
        return Ok(answer);
    }
    let answer = interpreters::probe(candidate)?;
    if reports_itself(candidate, &answer) {
        store(&file, &answer); // a cache: failing to write it only costs the next start a probe
    }
    Ok(answer)
}

fn cache_file(candidate: &Path) -> Option<PathBuf> {
    let real = std::fs::canonicalize(candidate).ok()?;
    let meta = std::fs::metadata(&real).ok()?;
    let parts = vec![
        real.as_os_str().as_encoded_bytes().to_vec(),
        meta.len().to_le_bytes().to_vec(),
        meta.mtime().to_le_bytes().to_vec(),
        meta.mtime_nsec().to_le_bytes().to_vec(),
        meta.ino().to_le_bytes().to_vec(),
        interpreters::PROBE.as_bytes().to_vec(),
    ];
    let dir = crate::cache::dir()?.join("pyhost/probes");
    Some(dir.join(format!("{:016x}.json", crate::cache::hash(&parts))))
}

/// Whether the probe ran the candidate itself (its real path is the
/// executable the probe reports), not something it started.
fn reports_itself(candidate: &Path, answer: &str) -> bool {
    let reported = serde_json::from_str::<serde_json::Value>(answer.trim())
        .ok()
        .and_then(|facts| facts["executable"].as_str().map(PathBuf::from));
    reported.is_some_and(|reported| std::fs::canonicalize(candidate).is_ok_and(|real| real == reported))
}

fn store(file: &Path, answer: &str) {
    let Some(dir) = file.parent() else { return };
    if crate::cache::create_private_dir(dir).is_err() {
        return;
    }
    if let Ok(mut partial) = tempfile::Builder::new().prefix(".probe-").tempfile_in(dir) {
        use std::io::Write;
        if partial.write_all(answer.as_bytes()).is_ok() {
            let _ = partial.persist(file);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::reports_itself;

    /// A wrapper script (as a version manager's shim is) runs another file:
    /// its answer must not be cached under the wrapper's name.
    #[test]
    fn only_the_interpreter_itself_is_cached() {
        // The first python3 that runs may itself be a shim (pyenv's): take what it runs.
        let first = interpreters::candidates("python3").into_iter().find(|p| interpreters::probe(p).is_ok()).unwrap();
        let facts: serde_json::Value = serde_json::from_str(&interpreters::probe(&first).unwrap()).unwrap();
        let python = std::path::PathBuf::from(facts["executable"].as_str().unwrap());
        let answer = interpreters::probe(&python).unwrap();
        assert!(reports_itself(&python, &answer), "{} does not report itself: {answer}", python.display());

        let dir = tempfile::tempdir().unwrap();
        let shim = dir.path().join("python3");
        std::fs::write(&shim, format!("#!/bin/sh\nexec '{}' \"$@\"\n", python.display())).unwrap();
        std::fs::set_permissions(&shim, std::fs::Permissions::from_mode(0o755)).unwrap();
        let answer = interpreters::probe(&shim).unwrap();
        assert!(!reports_itself(&shim, &answer), "a wrapper was taken for the interpreter: {answer}");
    }
}
