//! The ceiling for the stream-drain benchmark: a consumer that only reads a stream's
//! backlog through a consumer group (`XREADGROUP COUNT 1000`, replies walked as raw values,
//! as arclamp does) and acknowledges each batch (`XACK`), with the same redis crate. It
//! prints how many entries it read, the seconds it took and the CPU seconds it used.
//!
//! `count_stream_reader REDIS_URL STREAM GROUP COUNT`

use std::time::Instant;

use redis::Value;

mod common;

use common::cpu_seconds;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, url, stream, group, count] = args.as_slice() else {
        return Err("usage: count_stream_reader REDIS_URL STREAM GROUP COUNT".into());
    };
    let count: u64 = count.parse()?;
    let client = redis::Client::open(url.as_str())?;
    let config = redis::AsyncConnectionConfig::new().set_response_timeout(None);
    let mut con = client
        .get_multiplexed_async_connection_with_config(&config)
        .await?;
    let _: Result<(), _> = redis::cmd("XGROUP")
        .arg("CREATE")
        .arg(stream)
        .arg(group)
        .arg("0")
        .arg("MKSTREAM")
        .query_async(&mut con)
        .await;
    let keys = [stream.clone()];
    let started = Instant::now();
    let cpu_before = cpu_seconds();
    let mut read = 0u64;
    let mut bytes = 0u64;
    while read < count {
        let reply: Value = redis::cmd("XREADGROUP")
            .arg("GROUP")
            .arg(group)
            .arg("ceiling")
            .arg("COUNT")
            .arg(1000)
            .arg("BLOCK")
            .arg(2000)
            .arg("STREAMS")
            .arg(stream)
            .arg(">")
            .query_async(&mut con)
            .await?;
        let entries = arclamp::ingest::stream::parse_read(reply, &keys)?;
        if entries.is_empty() {
            break;
        }
        let ids: Vec<String> = entries.iter().map(|e| e.id.to_string()).collect();
        for entry in &entries {
            if let arclamp::ingest::stream::Body::Data(data) = &entry.body {
                bytes += data.len() as u64;
            }
        }
        read += entries.len() as u64;
        let _: i64 = redis::cmd("XACK")
            .arg(stream)
            .arg(group)
            .arg(&ids)
            .query_async(&mut con)
            .await?;
    }
    println!(
        "entries={read} seconds={:.3} cpu_seconds={:.3} mean_entry_bytes={}",
        started.elapsed().as_secs_f64(),
        cpu_seconds() - cpu_before,
        bytes / read.max(1)
    );
    Ok(())
}
