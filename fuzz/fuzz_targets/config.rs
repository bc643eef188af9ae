//! The host config parser: any text is a config or an error, never a panic.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use pyhost::host::HostConfig;
use pyhost::host::config::did_you_mean;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(config) = HostConfig::parse(text, Path::new("/etc/pyhost")) {
        // What the host does with a config before it loads anything.
        let found = ["echo", "rest_api", "dashboard"];
        let _ = config.check_module_names(found);
        for name in config.modules.keys() {
            let _ = did_you_mean(name, found);
            let _ = (config.module(name), config.restart_policy(name), config.is_enabled(name));
        }
    }
});
