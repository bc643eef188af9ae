//! A control-socket request line, as any local client may send it: a
//! request or an error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pyhost::host::control::parse_request;

fuzz_target!(|data: &[u8]| {
    let _ = parse_request(data);
});
