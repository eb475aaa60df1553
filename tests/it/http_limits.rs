//! What the HTTP side does with hostile clients: huge query strings and headers are
//! refused with a clear status, slow clients are cut off, and none of it keeps the service
//! from answering others. (Path tricks: `http_files`; request bursts: `on_demand`.)

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::time::{Duration, Instant};

use crate::arclamp::{http_request, Arclamp};
use crate::redis_server::RedisServer;

fn healthy(arclamp: &Arclamp) {
    let started = Instant::now();
    let response = http_request(arclamp.http_port, "GET", "/healthz", &[]).expect("answer");
    assert_eq!(response.status, 200);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "healthz took {:?}",
        started.elapsed()
    );
}

#[test]
fn an_oversized_query_string_is_refused_and_the_service_keeps_serving() {
    let redis = RedisServer::start();
    let arclamp = Arclamp::start(&redis, "");
    let huge = "a".repeat(100_000);
    for path in ["/", "/api/index.json", "/range.svg", "/api/top", "/diff"] {
        let target = format!("{path}?period=daily&x={huge}");
        let response = http_request(arclamp.http_port, "GET", &target, &[]).expect("answer");
        assert!(
            matches!(response.status, 400 | 414),
            "{path}: {} {}",
            response.status,
            response.text()
        );
        healthy(&arclamp);
    }
}

#[test]
fn oversized_headers_are_refused_with_431() {
    let redis = RedisServer::start();
    let arclamp = Arclamp::start(&redis, "");
    let header = format!("X-Padding: {}", "b".repeat(20_000));
    let response = http_request(arclamp.http_port, "GET", "/healthz", &[&header]).expect("answer");
    assert_eq!(response.status, 431, "{}", response.text());
    assert!(
        response.text().contains("at most 16384"),
        "{}",
        response.text()
    );
    // Past what the server reads at all: refused (or the connection dropped), not buffered.
    let enormous = format!("X-Padding: {}", "c".repeat(300_000));
    if let Some(response) = http_request(arclamp.http_port, "GET", "/healthz", &[&enormous]) {
        assert_eq!(response.status, 431, "{}", response.text());
    }
    healthy(&arclamp);
}

#[test]
fn slow_clients_are_cut_off_and_others_are_served_meanwhile() {
    let redis = RedisServer::start();
    let arclamp = Arclamp::start(&redis, "");
    // Forty clients that send half a request and then nothing (slowloris).
    let mut slow: Vec<TcpStream> = (0..40)
        .map(|_| {
            let mut stream =
                TcpStream::connect((Ipv4Addr::LOCALHOST, arclamp.http_port)).expect("connect");
            stream
                .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")
                .expect("send half a request");
            stream
        })
        .collect();
    healthy(&arclamp);
    let started = Instant::now();
    for stream in &mut slow {
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .expect("timeout");
        let mut answer = Vec::new();
        // The server answers 408 and closes; a read error would mean it kept the socket.
        stream
            .read_to_end(&mut answer)
            .expect("the server closes the connection");
        let answer = String::from_utf8_lossy(&answer);
        assert!(
            answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
            "{answer}"
        );
    }
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "slow clients cut off after {:?}",
        started.elapsed()
    );
    healthy(&arclamp);
}
