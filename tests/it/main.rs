//! Integration tests: one test binary (each extra binary is another slow link on 2 cores).
//! They start real redis-server processes on free loopback ports and the real `arclamp`
//! binary, and stop both when done. `redis_server` and `arclamp` are the shared harness;
//! every other module is one area.

mod architecture;
mod arclamp;
mod bridge;
mod browser;
mod chaos;
mod config_cli;
mod copy;
mod deploy;
mod exports;
mod graph_load;
mod handover;
mod http_browser;
mod http_files;
mod http_limits;
mod http_pages;
mod import;
mod lifecycle;
mod migrate;
mod object_lifecycle;
mod object_storage;
mod observability;
mod on_demand;
mod php_producer;
mod publish_cli;
mod redis_server;
mod render_cli;
mod serve;
mod streams;
mod swift_server;
mod to_store;
