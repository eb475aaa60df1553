//! Fuzz target `message`: see `arclamp::fuzz::message`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| arclamp::fuzz::message(data));
