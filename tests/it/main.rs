//! Integration tests: one binary, so the crate and its dependencies link once. Each module
//! is one area; `redis_server` is the shared harness.

mod publish_cli;
mod redis_server;
