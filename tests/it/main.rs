//! Integration tests: one test binary (each extra binary is another slow link on 2 cores).
//! They start real redis-server processes on free loopback ports and the real `arclamp`
//! binary, and stop both when done.

mod arclamp;
mod redis_server;
mod lifecycle;
mod serve;
