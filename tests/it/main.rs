//! Integration tests: each module drives the real `arclamp` binary or the library from the
//! outside, the way an operator or the service would.

mod render_cli;
