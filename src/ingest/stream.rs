//! Redis Streams as arclamp reads them: entry ids (`1700000000000-0`: the Redis server's
//! time in milliseconds and a sequence number), and the raw replies of `XREADGROUP` and
//! `XCLAIM` walked without copying a payload.
//!
//! An entry's field `data` carries exactly what a `PUBLISH` would: one or more collapsed
//! lines. The entry belongs to the windows of its id's time, so a backlog read late still
//! lands in the hour it was produced in. Pure parsing: connections, acks and commits live
//! with the actors and the store.

use std::fmt;

use redis::Value;

/// A stream entry id: milliseconds of the Redis server's clock, and a sequence number
/// that orders entries of the same millisecond.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct EntryId {
    /// Milliseconds since the Unix epoch.
    pub ms: u64,
    /// Sequence within the millisecond.
    pub seq: u64,
}

impl EntryId {
    /// Parse `MS-SEQ` (Redis always writes both parts).
    pub fn parse(text: &[u8]) -> Option<EntryId> {
        let text = std::str::from_utf8(text).ok()?;
        let (ms, seq) = text.split_once('-')?;
        Some(EntryId {
            ms: ms.parse().ok()?,
            seq: seq.parse().ok()?,
        })
    }

    /// The time of the entry, as a UTC date and time (`None` past chrono's range).
    pub fn time(self) -> Option<chrono::DateTime<chrono::Utc>> {
        chrono::DateTime::from_timestamp_millis(i64::try_from(self.ms).ok()?)
    }
}

impl fmt::Display for EntryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// What an entry carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// The `data` field: one or more collapsed lines.
    Data(Vec<u8>),
    /// The entry has no `data` field (a producer's mistake): acknowledged, counted as
    /// rejected.
    NoData,
    /// The entry was trimmed from the stream while it was pending: Redis remembers its id
    /// but not its body. A real loss, counted.
    Trimmed,
}

/// One entry of a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamEntry {
    /// Index of its stream in the key list the read was made with.
    pub stream: usize,
    /// Its id.
    pub id: EntryId,
    /// Its body.
    pub body: Body,
}

/// A reply that is not what Redis sends for the command: the connection is not to be
/// trusted any more.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unexpected reply from Redis: {0}")]
pub struct ReplyError(String);

impl ReplyError {
    /// A reply described by `what`.
    pub fn new(what: impl Into<String>) -> ReplyError {
        ReplyError(what.into())
    }
}

/// The entries of an `XREADGROUP ... STREAMS k1 k2 ... id1 id2 ...` reply (RESP2 array
/// or RESP3 map; `Nil` when a `BLOCK` ran out). `keys` are the stream names the read was
/// made with, in order; an entry of a stream not among them is an error.
pub fn parse_read(reply: Value, keys: &[String]) -> Result<Vec<StreamEntry>, ReplyError> {
    let streams: Vec<(Value, Value)> = match reply {
        Value::Nil => return Ok(Vec::new()),
        Value::Map(pairs) => pairs,
        Value::Array(items) => items
            .into_iter()
            .map(|item| match item {
                Value::Array(pair) => two(pair),
                other => Err(ReplyError(format!("a stream item {other:?}"))),
            })
            .collect::<Result<_, _>>()?,
        other => return Err(ReplyError(format!("XREADGROUP answered {other:?}"))),
    };
    let mut out = Vec::new();
    for (key, entries) in streams {
        let Value::BulkString(key) = key else {
            return Err(ReplyError(format!("a stream name {key:?}")));
        };
        let stream = keys
            .iter()
            .position(|k| k.as_bytes() == key.as_slice())
            .ok_or_else(|| {
                ReplyError(format!(
                    "entries of stream {:?}, which was not read",
                    String::from_utf8_lossy(&key)
                ))
            })?;
        parse_entries(entries, stream, &mut out)?;
    }
    Ok(out)
}

/// The entries of an `XCLAIM` (or `XRANGE`) reply: an array of `[id, fields]`, all of
/// stream `stream`.
pub fn parse_entry_list(reply: Value, stream: usize) -> Result<Vec<StreamEntry>, ReplyError> {
    let mut out = Vec::new();
    parse_entries(reply, stream, &mut out)?;
    Ok(out)
}

fn two(mut pair: Vec<Value>) -> Result<(Value, Value), ReplyError> {
    if pair.len() != 2 {
        return Err(ReplyError(format!("a pair of {} items", pair.len())));
    }
    let second = pair.pop().unwrap_or(Value::Nil);
    let first = pair.pop().unwrap_or(Value::Nil);
    Ok((first, second))
}

fn parse_entries(
    entries: Value,
    stream: usize,
    out: &mut Vec<StreamEntry>,
) -> Result<(), ReplyError> {
    let entries = match entries {
        Value::Array(entries) => entries,
        Value::Nil => return Ok(()),
        other => return Err(ReplyError(format!("an entry list {other:?}"))),
    };
    out.reserve(entries.len());
    for entry in entries {
        let Value::Array(mut parts) = entry else {
            return Err(ReplyError(format!("an entry {entry:?}")));
        };
        // Redis 8.4's XREADGROUP ... CLAIM appends two fields; only the first two matter.
        parts.truncate(2);
        let fields = if parts.len() == 2 { parts.pop() } else { None };
        let id = match parts.pop() {
            Some(Value::BulkString(id)) => EntryId::parse(&id),
            Some(Value::SimpleString(id)) => EntryId::parse(id.as_bytes()),
            _ => None,
        }
        .ok_or_else(|| ReplyError("an entry without a valid id".into()))?;
        let body = match fields {
            Some(Value::Array(fields)) => data_field(fields).map_or(Body::NoData, Body::Data),
            Some(Value::Map(fields)) => fields
                .into_iter()
                .find(|(name, _)| is_data(name))
                .and_then(|(_, value)| bytes_of(value))
                .map_or(Body::NoData, Body::Data),
            // `[id, nil]`: trimmed while pending.
            Some(Value::Nil) | None => Body::Trimmed,
            Some(other) => return Err(ReplyError(format!("entry fields {other:?}"))),
        };
        out.push(StreamEntry { stream, id, body });
    }
    Ok(())
}

fn is_data(name: &Value) -> bool {
    matches!(name, Value::BulkString(n) if n == b"data")
        || matches!(name, Value::SimpleString(n) if n == "data")
}

fn bytes_of(value: Value) -> Option<Vec<u8>> {
    match value {
        Value::BulkString(bytes) => Some(bytes),
        Value::SimpleString(text) => Some(text.into_bytes()),
        _ => None,
    }
}

/// The value of field `data` in `[f1, v1, f2, v2, ...]`, moved out.
fn data_field(fields: Vec<Value>) -> Option<Vec<u8>> {
    let mut fields = fields.into_iter();
    while let (Some(name), Some(value)) = (fields.next(), fields.next()) {
        if is_data(&name) {
            return bytes_of(value);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(text: &str) -> Value {
        Value::BulkString(text.as_bytes().to_vec())
    }

    fn entry(id: &str, fields: &[(&str, &str)]) -> Value {
        Value::Array(vec![
            bulk(id),
            Value::Array(
                fields
                    .iter()
                    .flat_map(|(name, value)| [bulk(name), bulk(value)])
                    .collect(),
            ),
        ])
    }

    #[test]
    fn ids_parse_order_and_print_back() {
        let id = EntryId::parse(b"1700000001000-7").unwrap();
        assert_eq!(
            id,
            EntryId {
                ms: 1_700_000_001_000,
                seq: 7
            }
        );
        assert_eq!(id.to_string(), "1700000001000-7");
        assert!(EntryId::parse(b"1700000001000-8").unwrap() > id);
        assert!(EntryId::parse(b"1700000000999-99").unwrap() < id);
        for bad in [&b""[..], b"12", b"-1", b"a-1", b"1-", b"1-2-3", b"\xff-1"] {
            assert_eq!(EntryId::parse(bad), None, "{bad:?}");
        }
        assert_eq!(id.time().unwrap().to_rfc3339(), "2023-11-14T22:13:21+00:00");
    }

    #[test]
    fn a_resp2_read_gives_every_entry_with_its_stream_and_body() {
        let keys = vec!["excimer".to_owned(), "excimer-wall".to_owned()];
        let reply = Value::Array(vec![
            Value::Array(vec![
                bulk("excimer-wall"),
                Value::Array(vec![entry("5-0", &[("data", "a;b 1\nc 2")])]),
            ]),
            Value::Array(vec![
                bulk("excimer"),
                Value::Array(vec![
                    entry("6-0", &[("other", "x"), ("data", "d 3")]),
                    entry("6-1", &[("other", "x")]),
                    Value::Array(vec![bulk("7-0"), Value::Nil]),
                ]),
            ]),
        ]);
        let entries = parse_read(reply, &keys).unwrap();
        assert_eq!(
            entries,
            vec![
                StreamEntry {
                    stream: 1,
                    id: EntryId { ms: 5, seq: 0 },
                    body: Body::Data(b"a;b 1\nc 2".to_vec())
                },
                StreamEntry {
                    stream: 0,
                    id: EntryId { ms: 6, seq: 0 },
                    body: Body::Data(b"d 3".to_vec())
                },
                StreamEntry {
                    stream: 0,
                    id: EntryId { ms: 6, seq: 1 },
                    body: Body::NoData
                },
                StreamEntry {
                    stream: 0,
                    id: EntryId { ms: 7, seq: 0 },
                    body: Body::Trimmed
                },
            ]
        );
    }

    #[test]
    fn a_resp3_map_and_a_timed_out_block_read_too() {
        let keys = vec!["excimer".to_owned()];
        let reply = Value::Map(vec![(
            bulk("excimer"),
            Value::Array(vec![entry("9-0", &[("data", "x 1")])]),
        )]);
        assert_eq!(parse_read(reply, &keys).unwrap().len(), 1);
        assert_eq!(parse_read(Value::Nil, &keys).unwrap(), vec![]);
    }

    #[test]
    fn replies_of_the_wrong_shape_are_errors_not_panics() {
        let keys = vec!["excimer".to_owned()];
        for reply in [
            Value::Int(3),
            Value::Array(vec![Value::Int(1)]),
            Value::Array(vec![Value::Array(vec![bulk("excimer")])]),
            Value::Array(vec![Value::Array(vec![
                bulk("other"),
                Value::Array(vec![]),
            ])]),
            Value::Array(vec![Value::Array(vec![
                bulk("excimer"),
                Value::Array(vec![entry("not-an-id", &[("data", "x 1")])]),
            ])]),
            Value::Array(vec![Value::Array(vec![
                bulk("excimer"),
                Value::Array(vec![Value::Array(vec![bulk("1-0"), Value::Int(5)])]),
            ])]),
        ] {
            assert!(parse_read(reply.clone(), &keys).is_err(), "{reply:?}");
        }
    }

    #[test]
    fn a_claim_reply_is_a_plain_entry_list() {
        let reply = Value::Array(vec![entry("3-1", &[("data", "x 1")])]);
        let entries = parse_entry_list(reply, 2).unwrap();
        assert_eq!(entries[0].stream, 2);
        assert_eq!(entries[0].id, EntryId { ms: 3, seq: 1 });
    }
}
