//! A module's manifest.toml: any text is a manifest or an error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pyhost::matrix::manifest::Manifest;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(manifest) = Manifest::parse(text) {
        // What the matrix does with a manifest it accepted.
        for version in ["2.7", "3.9", "3.13", "3", "", "x.y.z"] {
            let _ = manifest.expectation(version);
        }
        let _ = manifest.timeout();
    }
});
