#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| tallyboard_fuzz::note(data));
