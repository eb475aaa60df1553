//! Connections to Redis as arclamp's actors make them: TCP keepalive so that a silently
//! dead network is noticed, and timeouts that suit each use (commands answer within
//! [`NO_ANSWER`]; blocking reads are timed by their caller).

use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::io::tcp::{socket2::TcpKeepalive, TcpSettings};
use redis::{AsyncConnectionConfig, IntoConnectionInfo};

/// A read or command with no answer within this long ends the session (dead network).
pub const NO_ANSWER: Duration = Duration::from_secs(10);

/// A Redis client for `url` whose connections notice a silently dead network: TCP
/// keepalive after 5 s idle, probing every 2 s. Pub/sub and stream mode both connect so.
pub fn redis_client(url: &str) -> Result<redis::Client, redis::RedisError> {
    let keepalive = TcpKeepalive::new()
        .with_time(Duration::from_secs(5))
        .with_interval(Duration::from_secs(2));
    let info = url.into_connection_info()?.set_tcp_settings(
        TcpSettings::default()
            .set_nodelay(true)
            .set_keepalive(keepalive),
    );
    redis::Client::open(info)
}

/// A connection for commands (scripts, acknowledgements): answers within 10 s or fails.
pub async fn command_connection(url: &str) -> Result<MultiplexedConnection, redis::RedisError> {
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(5)))
        .set_response_timeout(Some(NO_ANSWER));
    redis_client(url)?
        .get_multiplexed_async_connection_with_config(&config)
        .await
}

/// `kept` (a command connection an actor holds on to between uses), or a new
/// [`command_connection`] when it has none (the first use, or the last one failed).
pub async fn kept_or_new(
    kept: Option<MultiplexedConnection>,
    url: &str,
) -> Result<MultiplexedConnection, redis::RedisError> {
    match kept {
        Some(connection) => Ok(connection),
        None => command_connection(url).await,
    }
}

/// A connection for blocking reads: redis-rs's default 500 ms response timeout would give
/// up on a `BLOCK 1000` read while Redis still delivers the entries into this consumer's
/// pending list, so this one has none (reads are timed out by the caller instead).
pub async fn reading_connection(url: &str) -> Result<MultiplexedConnection, redis::RedisError> {
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(5)))
        .set_response_timeout(None);
    redis_client(url)?
        .get_multiplexed_async_connection_with_config(&config)
        .await
}
