//! Placement verdicts kept from one start to the next.
//!
//! The probe (placement.rs) costs each module about what a bare interpreter
//! costs: a new interpreter in a child process, pyhost's bootstrap, the
//! module's import. Its verdict only changes when something it rests on
//! does, so the host keeps each final verdict (never a hung import, nor a
//! module the probe ended without one) in the user's cache, with the files
//! it rests on: module.py, the file of every module its import brought in
//! (the extensions among them), and the site folders the host gives it (a
//! package installed there changes the folder, and may change what a
//! `try: import x` finds). A verdict is reused only when the interpreter,
//! pyhost itself, the module's path, its isolation and its site folders are
//! the ones it was found with, and every file is still the same one (size,
//! mtime, ctime, inode); else the module is probed again.
//!
//! An entry is one small JSON file, written to a temporary file and renamed
//! into place, so a host starting beside another never reads half of one.
//! One that cannot be read is ignored (a warning), never fatal.
//!
//! Entries are named by their question, so a module probed again replaces
//! its own; what would only grow is the set of questions: one per module
//! folder ever probed. The first verdict a host keeps therefore prunes the
//! entries of modules that no longer exist (a temporary folder, a module
//! moved or removed), damaged ones, and the temporary files of a host killed
//! while writing one.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::placement::Verdict;
use crate::python::{Isolation, info};

/// What a verdict was asked for: it is reused for the same question only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Question {
    /// The interpreter and the pyhost that probed.
    identity: String,
    module: PathBuf,
    isolation: Isolation,
    site_dirs: Vec<PathBuf>,
}

/// One file as it was when the verdict was found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Seen {
    path: PathBuf,
    size: u64,
    mtime_ns: i128,
    ctime_ns: i128,
    inode: u64,
}

impl Seen {
    fn now(path: &Path) -> std::io::Result<Seen> {
        let meta = std::fs::metadata(path)?;
        let ns = |s: i64, n: i64| i128::from(s) * 1_000_000_000 + i128::from(n);
        Ok(Seen {
            path: path.to_path_buf(),
            size: meta.len(),
            mtime_ns: ns(meta.mtime(), meta.mtime_nsec()),
            ctime_ns: ns(meta.ctime(), meta.ctime_nsec()),
            inode: meta.ino(),
        })
    }

    fn unchanged(&self) -> bool {
        Seen::now(&self.path).is_ok_and(|now| now == *self)
    }
}

/// One kept verdict, as stored.
#[derive(Debug, Serialize, Deserialize)]
struct Entry {
    question: Question,
    verdict: Verdict,
    files: Vec<Seen>,
}

/// The kept verdicts of this interpreter and this pyhost.
pub struct KeptVerdicts {
    dir: PathBuf,
    identity: String,
    /// The interpreter's compat object: part of an entry's file name, so a
    /// pyhost built again replaces its entries rather than adding new ones,
    /// while each interpreter keeps its own.
    interpreter: String,
    /// False: verdicts are only written (`pyhost run --reprobe`).
    read: bool,
    /// The folder made (and checked) and pruned, once per host, at its
    /// first kept verdict; Err: why nothing can be kept there.
    ready: std::sync::OnceLock<Result<(), String>>,
}

impl KeptVerdicts {
    /// The store under the user's cache (`cache::placement_dir`); None when
    /// there is no cache folder, or when another user could write it (a
    /// planted verdict would put a module where its probe would not).
    pub fn open(read: bool) -> Option<KeptVerdicts> {
        let dir = crate::cache::placement_dir()?;
        if let Some(why) = dir.exists().then(|| crate::cache::untrusted(&dir)).flatten() {
            tracing::warn!("placement verdicts are neither kept nor reused: {why}");
            return None;
        }
        let interpreter = info().compat_object.clone();
        Some(KeptVerdicts { dir, identity: identity(), interpreter, read, ready: std::sync::OnceLock::new() })
    }

    fn question(&self, module: &Path, isolation: Isolation, site_dirs: &[PathBuf]) -> Question {
        Question {
            identity: self.identity.clone(),
            module: module.to_path_buf(),
            isolation,
            site_dirs: site_dirs.to_vec(),
        }
    }

    fn file_for(&self, question: &Question) -> PathBuf {
        let mut parts = vec![self.interpreter.as_bytes().to_vec(), question.isolation.name().as_bytes().to_vec()];
        parts.push(question.module.as_os_str().as_encoded_bytes().to_vec());
        parts.extend(question.site_dirs.iter().map(|d| d.as_os_str().as_encoded_bytes().to_vec()));
        self.dir.join(format!("{:016x}.json", crate::cache::hash(&parts)))
    }

    /// The kept verdict on `module` for this question, if nothing it rests
    /// on changed since.
    pub fn lookup(&self, name: &str, module: &Path, isolation: Isolation, site_dirs: &[PathBuf]) -> Option<Verdict> {
        if !self.read {
            return None;
        }
        let question = self.question(module, isolation, site_dirs);
        let file = self.file_for(&question);
        let text = match std::fs::read(&file) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return None,
            Err(error) => {
                tracing::warn!(
                    "[{name}] cannot read its kept placement verdict {} ({error}); probing it",
                    file.display()
                );
                return None;
            }
        };
        let entry: Entry = match serde_json::from_slice(&text) {
            Ok(entry) => entry,
            Err(error) => {
                tracing::warn!(
                    "[{name}] its kept placement verdict {} is damaged ({error}); ignoring it and probing the module",
                    file.display()
                );
                return None;
            }
        };
        if entry.question != question || !matches!(entry.verdict, Verdict::Fine | Verdict::MainOnly(_)) {
            tracing::debug!("[{name}] the kept placement verdict {} answers another question", file.display());
            return None;
        }
        if let Some(changed) = entry.files.iter().find(|seen| !seen.unchanged()) {
            tracing::debug!(
                "[{name}] {} changed since its placement was probed; probing it again",
                changed.path.display()
            );
            return None;
        }
        Some(entry.verdict)
    }

    /// Keeps a final verdict on `module` with the files it rests on. A
    /// cache: failing to write only costs the next start a probe.
    pub fn keep(
        &self,
        name: &str,
        module: &Path,
        isolation: Isolation,
        site_dirs: &[PathBuf],
        verdict: &Verdict,
        files: &[PathBuf],
    ) {
        if let Err(why) = self.try_keep(module, isolation, site_dirs, verdict, files) {
            tracing::debug!("[{name}] its placement verdict is not kept: {why}");
        }
    }

    /// Makes the folder, checking who may change it (a walk up to `/`), and
    /// prunes it: once per host, not once per verdict.
    fn ready(&self) -> Result<(), String> {
        self.ready
            .get_or_init(|| {
                crate::cache::create_private_dir(&self.dir).map_err(|e| format!("{}: {e}", self.dir.display()))?;
                self.prune();
                Ok(())
            })
            .clone()
    }

    /// Removes the entries no start can reuse: a module that is gone, an
    /// entry that cannot be read, and a temporary file older than an hour
    /// (a host writing one renames it within milliseconds).
    fn prune(&self) {
        let Ok(listing) = std::fs::read_dir(&self.dir) else { return };
        let mut removed = 0;
        for file in listing.flatten().map(|e| e.path()) {
            let name = file.file_name().unwrap_or_default().to_string_lossy().into_owned();
            let stale = if name.starts_with(".verdict-") {
                let age = std::fs::metadata(&file).and_then(|m| m.modified()).ok().and_then(|t| t.elapsed().ok());
                age.is_some_and(|age| age > std::time::Duration::from_secs(3600))
            } else if name.ends_with(".json") {
                let entry = std::fs::read(&file).ok().and_then(|text| serde_json::from_slice::<Entry>(&text).ok());
                entry.is_none_or(|entry| std::fs::symlink_metadata(&entry.question.module).is_err())
            } else {
                false
            };
            if stale && std::fs::remove_file(&file).is_ok() {
                removed += 1;
            }
        }
        if removed > 0 {
            tracing::debug!("removed {removed} kept placement verdicts no start can reuse from {}", self.dir.display());
        }
    }

    fn try_keep(
        &self,
        module: &Path,
        isolation: Isolation,
        site_dirs: &[PathBuf],
        verdict: &Verdict,
        files: &[PathBuf],
    ) -> Result<(), String> {
        if !matches!(verdict, Verdict::Fine | Verdict::MainOnly(_)) {
            return Err("not a final verdict".into());
        }
        let mut paths: Vec<PathBuf> = vec![module.to_path_buf()];
        paths.extend(site_dirs.iter().cloned());
        for file in files {
            if file.is_relative() {
                return Err(format!("{} is a relative path", file.display()));
            }
            paths.push(file.clone());
            // 2.7 names the bytecode it loaded; the source beside it is what changes.
            let text = file.to_string_lossy();
            if let Some(source) = text.strip_suffix(['c', 'o']).filter(|s| s.ends_with(".py")).map(PathBuf::from)
                && source.exists()
            {
                paths.push(source);
            }
        }
        paths.sort();
        paths.dedup();
        let seen = paths
            .iter()
            .map(|p| Seen::now(p).map_err(|e| format!("{}: {e}", p.display())))
            .collect::<Result<_, _>>()?;
        let question = self.question(module, isolation, site_dirs);
        let file = self.file_for(&question);
        let entry = Entry { question, verdict: verdict.clone(), files: seen };
        let text = serde_json::to_vec(&entry).map_err(|e| e.to_string())?;
        self.ready()?;
        // A rename: a host reading at the same time sees the old entry or the new, never half of one.
        let mut partial = tempfile::Builder::new()
            .prefix(".verdict-")
            .tempfile_in(&self.dir)
            .map_err(|e| format!("{}: {e}", self.dir.display()))?;
        use std::io::Write;
        partial.write_all(&text).map_err(|e| e.to_string())?;
        partial.persist(&file).map_err(|e| format!("{}: {}", file.display(), e.error))?;
        Ok(())
    }
}

/// The interpreter (the compat object is built per interpreter, and the
/// library is the code that runs), what its sys.path starts from
/// (PYTHONPATH, PYTHONHOME), and the pyhost that probed (its checks may
/// change from one build to the next).
fn identity() -> String {
    let stat = |path: &Path| {
        Seen::now(path).map_or_else(|_| "?".to_string(), |s| format!("{}:{}:{}", s.size, s.mtime_ns, s.inode))
    };
    let py = info();
    let exe = std::env::current_exe().unwrap_or_default();
    let env = |name: &str| std::env::var_os(name).map(|v| v.to_string_lossy().into_owned());
    format!(
        "pyhost {} {} {}; python {} {} {} {}; PYTHONPATH {:?} PYTHONHOME {:?}",
        env!("CARGO_PKG_VERSION"),
        exe.display(),
        stat(&exe),
        py.version,
        py.compat_object,
        py.library,
        stat(Path::new(&py.library)),
        env("PYTHONPATH"),
        env("PYTHONHOME")
    )
}
