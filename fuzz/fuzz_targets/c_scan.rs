//! The C side of `pyhost port check` and `port fix`: any bytes are a C file
//! it scans, giving findings whose positions lie inside the file, and
//! rewrites, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pyhost::port::c::{fix::fix_source, scan_source};

fuzz_target!(|data: &[u8]| {
    let scan = scan_source(None, data);
    for f in &scan.findings {
        assert!(f.start < f.end && f.end <= data.len(), "{f:?}");
        assert!(f.line >= 1 && u64::from(f.line) <= scan.lines.max(1), "{f:?}");
    }
    let fixed = fix_source(None, data);
    assert!(fixed.rewritten.iter().all(|f| scan.findings.contains(f)));
    if fixed.rewritten.is_empty() {
        assert_eq!(fixed.source, data);
    }
});
