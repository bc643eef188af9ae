//! The per-user cache folder the project's scripts fill: interpreters
//! (pyhost/pythons), their list (pyhost/pythons.txt), fixture packages
//! (pyhost/site/<version>). Same rule as the scripts: $XDG_CACHE_HOME, else
//! ~/.cache.

use std::path::PathBuf;

pub fn dir() -> Option<PathBuf> {
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))
}
