//! The ceiling for the end-to-end benchmark: a subscriber that only counts messages, with
//! the same redis crate and connection type arclamp uses. It prints the seconds between
//! its first and its last message and the CPU time it used, and exits after `COUNT`
//! messages (or `TIMEOUT_S`).
//!
//! `count_subscriber REDIS_URL CHANNEL COUNT [TIMEOUT_S]`

use std::time::{Duration, Instant};

use futures_util::StreamExt;

mod common;

use common::cpu_seconds;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, url, channel, count, rest @ ..] = args.as_slice() else {
        return Err("usage: count_subscriber REDIS_URL CHANNEL COUNT [TIMEOUT_S]".into());
    };
    let count: u64 = count.parse()?;
    let timeout = Duration::from_secs(rest.first().map_or(Ok(120), |t| t.parse())?);
    let client = redis::Client::open(url.as_str())?;
    let mut pubsub = client.get_async_pubsub().await?;
    pubsub.subscribe(channel).await?;
    println!("subscribed");
    let mut stream = pubsub.into_on_message();
    let (mut received, mut bytes, mut first) = (0u64, 0u64, None);
    let deadline = tokio::time::Instant::now() + timeout;
    while received < count {
        match tokio::time::timeout_at(deadline, stream.next()).await {
            Ok(Some(message)) => {
                first.get_or_insert_with(Instant::now);
                received += 1;
                bytes += message.get_payload_bytes().len() as u64;
            }
            Ok(None) => break,
            Err(_) => break,
        }
    }
    let seconds = first.map_or(0.0, |t| t.elapsed().as_secs_f64());
    println!(
        "received {received} messages, {bytes} bytes in {seconds:.3} s, {:.2} CPU seconds",
        cpu_seconds()
    );
    Ok(())
}
