//! The per-user cache folder the project's scripts fill: interpreters
//! (pyhost/pythons), their list (pyhost/pythons.txt), fixture packages
//! (pyhost/site/<version>), and what the host keeps itself (compat objects,
//! interpreter probes, placement verdicts). Same rule as the scripts:
//! $XDG_CACHE_HOME, else ~/.cache.

use std::path::PathBuf;

pub fn dir() -> Option<PathBuf> {
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))
}

/// Where the host keeps its placement verdicts (host/kept_verdicts.rs):
/// $PYHOST_PLACEMENT_CACHE, else pyhost/placement in `dir()`. The variable
/// lets tests and the bench use a folder of their own without moving the
/// other caches (compat objects, fixture packages).
pub fn placement_dir() -> Option<PathBuf> {
    match std::env::var_os("PYHOST_PLACEMENT_CACHE").filter(|d| !d.is_empty()) {
        Some(folder) => Some(PathBuf::from(folder)),
        None => Some(dir()?.join("pyhost/placement")),
    }
}

/// FNV-1a over the parts, each preceded by its length.
pub fn hash(parts: &[Vec<u8>]) -> u64 {
    parts.iter().fold(0xcbf2_9ce4_8422_2325, |hash, part| {
        // The length first, so that ("ab", "c") and ("a", "bc") differ.
        let hash = (part.len() as u64).to_le_bytes().iter().fold(hash, fnv);
        part.iter().fold(hash, fnv)
    })
}

fn fnv(hash: u64, byte: &u8) -> u64 {
    (hash ^ *byte as u64).wrapping_mul(0x0100_0000_01b3)
}
