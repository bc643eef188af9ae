//! The C side of `pyhost port check`: any bytes are a C file it scans,
//! giving findings whose positions lie inside the file, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pyhost::port::c::scan_source;

fuzz_target!(|data: &[u8]| {
    let scan = scan_source(None, data);
    for f in &scan.findings {
        assert!(f.start < f.end && f.end <= data.len(), "{f:?}");
        assert!(f.line >= 1 && u64::from(f.line) <= scan.lines.max(1), "{f:?}");
    }
});
