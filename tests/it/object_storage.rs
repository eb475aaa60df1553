//! The object-storage backends (`storage.kind = "swift"` and `"s3"`) against a real Swift,
//! through the same `storage::open` the service uses; what they stored is checked with raw
//! requests to Swift's native API.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use arclamp::config::Config;
use arclamp::store::storage::{self, ContentMeta, Storage, StorageError};
use bytes::Bytes;

use crate::arclamp::gzip;
use crate::swift_server::{request, unique_container, Api, SwiftServer, KEY};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn open(toml: &str) -> Arc<dyn Storage> {
    let config = Config::from_toml(toml).unwrap_or_else(|e| panic!("{e}\n{toml}"));
    storage::open(&config.storage).expect("open storage")
}

fn exercise_every_operation(api: Api) {
    let server = SwiftServer::shared();
    let container = unique_container("ops");
    // Listing pages of 3 objects, so a listing of 8 needs every page.
    let toml = server.storage_toml(api, &container, "arclamp/").replacen(
        "timeout = \"5s\"\n",
        "timeout = \"5s\"\nlist_page_size = 3\n",
        1,
    );
    let store = open(&toml);
    let rt = runtime();
    rt.block_on(async {
        // Nothing exists yet, not even the container.
        assert_eq!(store.get("logs/hourly/a.x.all.log.gz").await.unwrap(), None);
        assert!(store.list("logs/").await.unwrap().is_empty());
        assert_eq!(
            store.stat("logs/hourly/a.x.all.log.gz").await.unwrap(),
            None
        );
        store
            .check()
            .await
            .expect("a store without a container is ready");

        let log = "logs/hourly/2026-01-01_00.excimer.all.log.gz";
        store
            .put(log, Bytes::from_static(b"first"), ContentMeta::TRACE_LOG)
            .await
            .expect("put creates the container");
        store
            .put(log, Bytes::from_static(b"second!"), ContentMeta::TRACE_LOG)
            .await
            .expect("overwrite");
        assert_eq!(store.get(log).await.unwrap().unwrap(), &b"second!"[..]);
        let info = store.stat(log).await.unwrap().expect("stat");
        assert_eq!((info.path.as_str(), info.size), (log, 7));
        let age = SystemTime::now()
            .duration_since(info.modified)
            .unwrap_or_default();
        assert!(age < Duration::from_secs(300), "modified {age:?} ago");

        let svg_body = gzip(b"<svg xmlns=\"http://www.w3.org/2000/svg\"/>");
        let svg = "svgs/hourly/2026-01-01_00.excimer.all.svgz";
        store
            .put(svg, Bytes::from(svg_body.clone()), ContentMeta::SVGZ)
            .await
            .expect("put svg");

        // More objects than a listing page holds (3): every page is read.
        for hour in 1..=7 {
            let name = format!("logs/hourly/2026-01-01_{hour:02}.excimer.all.log.gz");
            store
                .put(&name, Bytes::from(vec![b'x'; hour]), ContentMeta::TRACE_LOG)
                .await
                .expect("put");
        }
        let mut listed: Vec<(String, u64)> = store
            .list("logs/hourly/")
            .await
            .unwrap()
            .into_iter()
            .map(|o| (o.path, o.size))
            .collect();
        listed.sort();
        assert_eq!(listed.len(), 8, "{listed:?}");
        assert_eq!(listed[0], (log.to_owned(), 7));
        assert_eq!(
            listed[7],
            ("logs/hourly/2026-01-01_07.excimer.all.log.gz".to_owned(), 7)
        );
        assert_eq!(store.list("").await.unwrap().len(), 9);
        assert_eq!(store.list("svgs/").await.unwrap().len(), 1);
        assert_eq!(
            store.list("logs/hourly/2026-01-01_0").await.unwrap().len(),
            8
        );
        assert_eq!(
            store.list("logs/hourly/2026-01-01_05").await.unwrap().len(),
            1
        );
        assert!(store.list("logs/daily/").await.unwrap().is_empty());

        store.delete(log).await.expect("delete");
        store
            .delete(log)
            .await
            .expect("deleting a missing object succeeds");
        assert_eq!(store.stat(log).await.unwrap(), None);
        assert_eq!(store.get(log).await.unwrap(), None);

        assert!(matches!(
            store
                .put("../escape", Bytes::new(), ContentMeta::SVGZ)
                .await,
            Err(StorageError::BadPath(_))
        ));
    });

    // The same names as on disk, under the prefix, seen through Swift's own API.
    let names = server.list_objects(&container, "");
    assert_eq!(names.len(), 8, "{names:?}");
    assert!(names.contains(&"arclamp/svgs/hourly/2026-01-01_00.excimer.all.svgz".to_owned()));
    assert!(names.iter().all(|n| n.starts_with("arclamp/")));
    // A plain proxy in front of the store can serve the graph as it is.
    let head = server.head_object(
        &container,
        "arclamp/svgs/hourly/2026-01-01_00.excimer.all.svgz",
    );
    assert_eq!(head.status, 200);
    assert_eq!(
        head.header("content-type"),
        Some("image/svg+xml"),
        "{head:?}"
    );
    assert_eq!(head.header("content-encoding"), Some("gzip"), "{head:?}");
    let stored = server
        .get_object(
            &container,
            "arclamp/svgs/hourly/2026-01-01_00.excimer.all.svgz",
        )
        .expect("stored");
    assert_eq!(
        arclamp::store::compress::maybe_gunzip(&stored)
            .unwrap()
            .as_ref(),
        b"<svg xmlns=\"http://www.w3.org/2000/svg\"/>"
    );
    let log_head = server.head_object(
        &container,
        "arclamp/logs/hourly/2026-01-01_03.excimer.all.log.gz",
    );
    assert_eq!(
        log_head.header("content-encoding"),
        Some("gzip"),
        "{log_head:?}"
    );
}

#[test]
fn every_storage_operation_works_on_swift() {
    exercise_every_operation(Api::Swift);
}

#[test]
fn every_storage_operation_works_on_s3() {
    exercise_every_operation(Api::S3);
}

/// A large object read as a stream: in pieces of at most `READ_PIECE`, exactly the stored
/// bytes, and never a mix of two versions when a checkpoint replaces it meanwhile.
fn stream_a_large_object(api: Api) {
    use futures_util::StreamExt;
    let server = SwiftServer::shared();
    let container = unique_container("stream");
    let store = open(&server.storage_toml(api, &container, ""));
    let piece = storage::READ_PIECE as usize;
    let log = "logs/daily/2026-01-01.excimer.all.log.gz";
    // Two and a half pieces of bytes that differ at every offset.
    let first: Vec<u8> = (0..piece * 5 / 2).map(|i| (i % 251) as u8).collect();
    runtime().block_on(async {
        assert!(store.get_stream(log).await.unwrap().is_none());
        store
            .put(log, Bytes::from(first.clone()), ContentMeta::TRACE_LOG)
            .await
            .expect("put");
        let stream = store.get_stream(log).await.unwrap().expect("it exists");
        assert_eq!(stream.size, first.len() as u64);
        let pieces: Vec<Bytes> = stream
            .pieces
            .map(|piece| piece.expect("piece"))
            .collect()
            .await;
        assert_eq!(pieces.len(), 3);
        assert!(pieces.iter().all(|p| p.len() <= piece));
        assert_eq!(pieces.concat(), first);

        // Replaced after the first piece was read: the rest is refused, not mixed in.
        let mut stream = store.get_stream(log).await.unwrap().expect("it exists");
        let head = stream.pieces.next().await.expect("a piece").expect("read");
        assert_eq!(head, first[..piece]);
        store
            .put(
                log,
                Bytes::from(vec![7u8; first.len()]),
                ContentMeta::TRACE_LOG,
            )
            .await
            .expect("replace");
        let next = stream.pieces.next().await.expect("an answer");
        assert!(next.is_err(), "a piece of another version was read");
    });
}

#[test]
fn large_objects_stream_in_pieces_on_swift() {
    stream_a_large_object(Api::Swift);
}

#[test]
fn large_objects_stream_in_pieces_on_s3() {
    stream_a_large_object(Api::S3);
}

#[test]
fn refused_credentials_are_named_without_showing_the_secret() {
    let server = SwiftServer::shared();
    for api in [Api::Swift, Api::S3] {
        let toml = server
            .storage_toml(api, &unique_container("denied"), "")
            .replace(&format!("= \"{KEY}\""), "= \"WrongPassw0rd\"");
        let store = open(&toml);
        let error = runtime()
            .block_on(store.put(
                "logs/hourly/x.c.all.log.gz",
                Bytes::from_static(b"x"),
                ContentMeta::TRACE_LOG,
            ))
            .expect_err("wrong key is refused")
            .to_string();
        assert!(!error.contains("WrongPassw0rd"), "{api:?}: {error}");
        assert!(
            error.contains("credentials") || error.contains("denied"),
            "{api:?}: {error}"
        );
    }
}

/// A private Swift with 3-second tokens: tokens are renewed before they expire and after
/// Swift forgets them (memcached restarted: the next request gets 401), and a store that
/// is down fails within `storage.timeout` instead of hanging.
#[test]
fn tokens_are_renewed_and_a_dead_store_fails_fast() {
    let mut server = SwiftServer::start_with_token_life(Duration::from_secs(3));
    let container = unique_container("tokens");
    let store = open(
        &server
            .storage_toml(Api::Swift, &container, "")
            .replace("timeout = \"5s\"", "timeout = \"3s\""),
    );
    let rt = runtime();
    let put = |n: u32| {
        rt.block_on(store.put(
            &format!("logs/hourly/2026-01-01_00.c.e{n}.log.gz"),
            Bytes::from(n.to_string()),
            ContentMeta::TRACE_LOG,
        ))
    };
    put(1).expect("first write");
    let (url, old_token) = server.native_token().expect("token");
    std::thread::sleep(Duration::from_secs(4));
    // The server really expires tokens: an old one is refused now.
    let stale = request(
        "HEAD",
        &format!("{url}/{container}"),
        &[("X-Auth-Token", &old_token)],
        b"",
    )
    .expect("answer");
    assert_eq!(
        stale.status, 401,
        "tokens must expire for this test to mean anything"
    );
    put(2).expect("write after the token's lifetime");
    // Swift forgets every token: the next request gets 401, the token is renewed and the
    // write retried.
    server.restart("memcached");
    put(3).expect("write after a 401");
    assert_eq!(server.list_objects(&container, "logs/").len(), 3);

    server.kill("proxy");
    let started = Instant::now();
    let error = put(4).expect_err("the store is down");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "a dead store must fail within storage.timeout, took {:?}",
        started.elapsed()
    );
    assert!(
        rt.block_on(store.check()).is_err(),
        "readiness fails while writes fail"
    );
    let message = error.to_string();
    assert!(!message.contains(KEY), "{message}");
    server.restart("proxy");
    put(4).expect("write once the store is back");
    rt.block_on(store.check())
        .expect("ready again after a successful write");
    assert_eq!(server.list_objects(&container, "logs/").len(), 4);
}
