//! The host process's memory, as the kernel and the allocator see it, for
//! the report (`ctl status`) and for `pyhost bench soak`, which sets the
//! host's growth per restart against plain CPython's. Resident memory alone
//! cannot tell a leak from memory the allocator holds free for reuse; the
//! allocator's own figures can.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Memory {
    /// Resident memory (VmRSS), in KiB.
    pub rss_kib: u64,
    /// What malloc has handed out and not had back: live C and Rust
    /// allocations, Python's large objects and its interpreters' and thread
    /// states' memory. Python's small objects live in arenas it maps itself,
    /// outside this. Absent where the C library does not say (not glibc).
    pub heap_in_use_kib: Option<u64>,
    /// What malloc holds free for reuse: resident, yet nobody's.
    pub heap_free_kib: Option<u64>,
}

/// This process's memory now.
pub fn current() -> Memory {
    let (heap_in_use_kib, heap_free_kib) = match heap() {
        Some((in_use, free)) => (Some(in_use / 1024), Some(free / 1024)),
        None => (None, None),
    };
    Memory { rss_kib: resident_kib(), heap_in_use_kib, heap_free_kib }
}

fn resident_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap_or_default();
    line.split_whitespace().nth(1).and_then(|v| v.parse().ok()).unwrap_or(0)
}

/// (bytes in use, bytes free) in malloc's heap, every arena counted.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn heap() -> Option<(u64, u64)> {
    // SAFETY: mallinfo2 only reads the allocator's statistics (under its
    // arena locks) and returns them by value.
    let info = unsafe { libc::mallinfo2() };
    // uordblks: in use in the arenas; hblkhd: blocks mapped on their own
    // (large ones), all in use; fordblks: free in the arenas.
    Some(((info.uordblks + info.hblkhd) as u64, info.fordblks as u64))
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn heap() -> Option<(u64, u64)> {
    None
}
