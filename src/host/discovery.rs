//! Finding modules: one folder per module, holding `module.py` (the
//! ceph-mgr convention), in any of the module directories.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

/// Module name -> its module.py, sorted by name.
pub fn discover(dirs: &[PathBuf]) -> anyhow::Result<BTreeMap<String, PathBuf>> {
    let mut found: BTreeMap<String, PathBuf> = BTreeMap::new();
    for dir in dirs {
        let entries =
            std::fs::read_dir(dir).with_context(|| format!("cannot read module directory {}", dir.display()))?;
        for entry in entries {
            let folder = entry?.path();
            let file = folder.join("module.py");
            if !file.is_file() {
                continue;
            }
            let Some(name) = module_name(&folder) else {
                tracing::warn!("skipping {}: a module folder's name must be a UTF-8 identifier", folder.display());
                continue;
            };
            if let Some(previous) = found.get(&name) {
                bail!("two modules are named {name}: {} and {}", previous.display(), file.display());
            }
            found.insert(name, file);
        }
    }
    Ok(found)
}

fn module_name(folder: &Path) -> Option<String> {
    let name = folder.file_name()?.to_str()?;
    let valid = !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    valid.then(|| name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_with_module_py_are_modules() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["alpha", "beta", "not-valid", "empty"] {
            std::fs::create_dir(dir.path().join(name)).unwrap();
        }
        for name in ["alpha", "beta", "not-valid"] {
            std::fs::write(dir.path().join(name).join("module.py"), "").unwrap();
        }
        let found = discover(&[dir.path().to_path_buf()]).unwrap();
        assert_eq!(found.keys().collect::<Vec<_>>(), vec!["alpha", "beta"]);
        let error = discover(&[dir.path().to_path_buf(), dir.path().to_path_buf()]).unwrap_err();
        assert!(error.to_string().contains("two modules are named"), "{error}");
        assert!(discover(&[dir.path().join("missing")]).unwrap_err().to_string().contains("cannot read"));
    }
}
