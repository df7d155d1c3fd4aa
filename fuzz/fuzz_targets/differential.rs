#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| actorc_fuzz::differential(data));
