//! Fuzz target `folded_log`: see `arclamp::fuzz::folded_log`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| arclamp::fuzz::folded_log(data));
