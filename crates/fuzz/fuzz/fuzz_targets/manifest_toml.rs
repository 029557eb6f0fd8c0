#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| tallyboard_fuzz::manifest_toml(data));
