//! Fuzz target `url`: see `arclamp::fuzz::url`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| arclamp::fuzz::url(data));
