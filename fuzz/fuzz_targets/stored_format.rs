//! Fuzz target `stored_format`: see `arclamp::fuzz::stored_format`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| arclamp::fuzz::stored_format(data));
