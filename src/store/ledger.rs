//! The ledger (stream mode): what has been committed, kept in Redis beside the streams so
//! that committing a delta and acknowledging its entries are one atomic step. Each write is
//! a Lua script (in `ledger/`), run as one unit by Redis:
//!
//! ```text
//! arclamp:{group}:epochs               hash  consumer -> epoch (its fencing token)
//! arclamp:{group}:idx:{channel}:{hour} hash  segment path -> section ("OFF LEN SAMPLES STACKS")
//! arclamp:{group}:open:{channel}       zset  "{period}/{window}" -> window end (ms): not sealed yet
//! arclamp:{group}:lease                string the housekeeper's token (seals, trims, GC)
//! arclamp:{group}:unread:{channel}     string entries trimmed before the group read them, reported
//! arclamp:{group}:pubsub-writer        string pub/sub and bridge modes: the writer lease's token
//! arclamp:{group}:bridge-tail:{channel} list the last messages bridge mode appended, newest first
//! arclamp:{group}:bridge-last-batch    string the id of the last batch bridge mode appended
//! ```
//!
//! - **commit**: a replica's segment sections are indexed and its entries XACKed, only if
//!   the epoch it read them under is still its own;
//! - **claim**: entries another consumer left pending too long are taken over, that consumer
//!   fenced first (its epoch bumped), so a paused process cannot commit them again;
//! - **watermark**: how far a stream is final (everything below is acknowledged), which
//!   says which windows can be sealed and how far the stream can be trimmed;
//! - **seal** and **lease**: the housekeeper forgets a window once its logs are written;
//! - **live**: one consistent snapshot of a window not sealed yet (which of its hours are
//!   sealed, the committed sections of the others), to read it while live.
//!
//! Invariant: a sample counts only through an indexed section, and an entry is indexed by
//! exactly one commit (the one that acknowledged it). A segment whose commit never ran is
//! an orphan nobody reads; its entries are still pending and are counted again, once.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use redis::aio::MultiplexedConnection;
use redis::streams::{StreamInfoConsumersReply, StreamInfoGroupsReply};
use redis::{AsyncCommands, RedisError, Script, Value};

use crate::ingest::stream::{parse_entry_list, EntryId, ReplyError, StreamEntry};
use crate::ops::status::GroupView;
use crate::store::segment::SectionRef;

static COMMIT: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("ledger/commit.lua")));
static CLAIM: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("ledger/claim.lua")));
static WATERMARK: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("ledger/watermark.lua")));
static SEAL: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("ledger/seal.lua")));
static LEASE: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("ledger/lease.lua")));
static UNREAD: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("ledger/unread.lua")));
static LIVE: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("ledger/live.lua")));
static BRIDGE: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("ledger/bridge.lua")));
static BRIDGE_WRITER: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("ledger/bridge_writer.lua")));

/// Bridge mode: how many of the last appended messages of each channel are kept beside
/// the stream, for the next writer to find where this one stopped.
pub const BRIDGE_TAIL: usize = 16;

/// Entries taken over per claim call (one call holds Redis for well under a millisecond).
pub const CLAIM_PAGE: usize = 1000;

/// A ledger operation that did not happen.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// This consumer has been fenced: another replica claimed its entries (or it restarted).
    /// Its uncommitted delta must be dropped; the entries are counted by whoever holds them.
    #[error("fenced: {0}")]
    Fenced(String),
    /// The housekeeping lease is held by another replica.
    #[error("not the lease holder: {0}")]
    NotLeaseHolder(String),
    /// A section was committed to a window while it was being sealed; seal again later.
    #[error("the window changed while it was sealed: {0}")]
    Changed(String),
    /// Redis failed or did not answer; the outcome of a write is unknown.
    #[error("Redis: {0}")]
    Redis(#[from] RedisError),
    /// Redis answered something the ledger never writes.
    #[error(transparent)]
    Reply(#[from] ReplyError),
}

impl LedgerError {
    fn from_script(error: RedisError) -> LedgerError {
        let detail = error.detail().unwrap_or_default().to_owned();
        match error.code() {
            Some("FENCED") => LedgerError::Fenced(detail),
            Some("NOTLEASE") => LedgerError::NotLeaseHolder(detail),
            Some("CHANGED") => LedgerError::Changed(detail),
            _ => LedgerError::Redis(error),
        }
    }
}

/// One section a commit indexes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitSection {
    /// Its channel (stream key).
    pub channel: String,
    /// The hourly window it belongs to.
    pub hour: String,
    /// Where it is.
    pub section: SectionRef,
    /// The windows it counts in (`{period}/{window}`) with their end (ms): they stay open
    /// until sealed.
    pub windows: Vec<(String, i64)>,
}

/// Everything one commit writes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommitPlan {
    /// The segment holding the sections.
    pub segment: String,
    /// The sections, by (channel, hour).
    pub sections: Vec<CommitSection>,
    /// The entries acknowledged, by stream.
    pub acks: BTreeMap<String, Vec<EntryId>>,
}

/// A page of entries taken over from other consumers.
#[derive(Debug, Default)]
pub struct Claimed {
    /// Where the next page starts; `None` when every idle entry was seen.
    pub next: Option<String>,
    /// Entries that were pending but had been trimmed from the stream: lost.
    pub trimmed: u64,
    /// The entries now held by this consumer.
    pub entries: Vec<StreamEntry>,
}

/// How far a stream is final.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Watermark {
    /// Every entry below this time (ms) is acknowledged and none can be added: windows
    /// ending at or before it can be sealed.
    pub final_before_ms: i64,
    /// Every entry below this id is acknowledged: the stream can be trimmed to it.
    pub trim_to: EntryId,
}

/// Where one hour of a live window's samples are, at the instant of a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum HourSource {
    /// Sealed: its hourly log is final.
    Sealed(String),
    /// Open: its committed sections, by segment path.
    Open(String, Vec<(String, SectionRef)>),
}

/// One field of an hour's index: a segment and its section there; a section in a form the
/// ledger never writes is an error.
fn index_entry(segment: String, section: &str) -> Result<(String, SectionRef), LedgerError> {
    match SectionRef::parse(section) {
        Some(section) => Ok((segment, section)),
        None => Err(ReplyError::new(format!(
            "index entry {section:?} of {segment} is not OFF LEN SAMPLES STACKS"
        ))
        .into()),
    }
}

/// A lease in Redis: one holder at a time (by token), kept by renewing it before its time
/// to live runs out, taken by another once it lapses.
#[derive(Debug, Clone)]
pub struct Lease {
    key: String,
}

impl Lease {
    /// The lease kept at `key`.
    pub fn new(key: String) -> Lease {
        Lease { key }
    }

    /// Take or keep the lease for `ttl_ms`; true while `token` holds it.
    pub async fn hold(
        &self,
        con: &mut MultiplexedConnection,
        token: &str,
        ttl_ms: u64,
    ) -> Result<bool, LedgerError> {
        let held: i64 = LEASE
            .key(&self.key)
            .arg(token)
            .arg(ttl_ms.max(1))
            .invoke_async(con)
            .await
            .map_err(LedgerError::from_script)?;
        Ok(held == 1)
    }

    /// Give the lease back, if `token` holds it.
    pub async fn release(
        &self,
        con: &mut MultiplexedConnection,
        token: &str,
    ) -> Result<(), LedgerError> {
        let _: i64 = LEASE
            .key(&self.key)
            .arg(token)
            .arg(0)
            .invoke_async(con)
            .await
            .map_err(LedgerError::from_script)?;
        Ok(())
    }
}

/// Bridge mode: this instance's pub/sub subscription, as told to the writer lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subscription {
    /// It (re)subscribed since the last call: it gets a new, younger number.
    New,
    /// Still subscribed since the last call: it keeps its number.
    Kept,
    /// Not subscribed (Redis lost, shutting down): it has no number.
    None,
}

impl Subscription {
    fn as_arg(self) -> &'static str {
        match self {
            Subscription::New => "new",
            Subscription::Kept => "kept",
            Subscription::None => "none",
        }
    }
}

/// Bridge mode: what the writer lease says this instance is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriterRole {
    /// It holds the lease: it appends.
    Writer,
    /// Another holds the lease, or one subscribed longer should take it: it stands by.
    Standby,
    /// It holds the lease, but another instance has been subscribed longer (it received
    /// messages this one missed while resubscribing): it must hand the lease over.
    StepDown,
}

/// The ledger of one consumer group.
#[derive(Debug, Clone)]
pub struct Ledger {
    group: String,
    prefix: String,
}

impl Ledger {
    /// The ledger of consumer group `group`.
    pub fn new(group: &str) -> Ledger {
        Ledger {
            group: group.to_owned(),
            prefix: format!("arclamp:{group}"),
        }
    }

    /// The consumer group's name.
    pub fn group(&self) -> &str {
        &self.group
    }

    fn epochs_key(&self) -> String {
        format!("{}:epochs", self.prefix)
    }

    fn index_key(&self, channel: &str, hour: &str) -> String {
        format!("{}:idx:{channel}:{hour}", self.prefix)
    }

    fn open_key(&self, channel: &str) -> String {
        format!("{}:open:{channel}", self.prefix)
    }

    fn lease_key(&self) -> String {
        format!("{}:lease", self.prefix)
    }

    /// Create the group on `stream` when missing (and the stream with it), reading from
    /// the first entry, so entries written before the first start are counted.
    pub async fn ensure_group(
        &self,
        con: &mut MultiplexedConnection,
        stream: &str,
    ) -> Result<(), LedgerError> {
        let created: Result<(), RedisError> =
            con.xgroup_create_mkstream(stream, &self.group, "0").await;
        match created {
            Err(e) if e.code() == Some("BUSYGROUP") => Ok(()),
            other => Ok(other?),
        }
    }

    /// Start a new epoch for `consumer`: any commit made under an earlier one now fails.
    pub async fn new_epoch(
        &self,
        con: &mut MultiplexedConnection,
        consumer: &str,
    ) -> Result<u64, LedgerError> {
        Ok(con.hincr(self.epochs_key(), consumer, 1).await?)
    }

    /// Index `plan`'s sections and acknowledge its entries, atomically, if `consumer` still
    /// holds `epoch`. Returns the number of entries acknowledged.
    pub async fn commit(
        &self,
        con: &mut MultiplexedConnection,
        consumer: &str,
        epoch: u64,
        plan: &CommitPlan,
    ) -> Result<u64, LedgerError> {
        let mut invocation = COMMIT.key(self.epochs_key());
        let sections: Vec<serde_json::Value> = plan
            .sections
            .iter()
            .map(|s| {
                let (idx, open) = (
                    self.index_key(&s.channel, &s.hour),
                    self.open_key(&s.channel),
                );
                invocation.key(&idx).key(&open);
                let windows: Vec<(String, String)> = s
                    .windows
                    .iter()
                    .map(|(member, end)| (member.clone(), end.to_string()))
                    .collect();
                serde_json::json!({
                    "idx": idx,
                    "segment": plan.segment,
                    "section": s.section.to_string(),
                    "open": open,
                    "windows": windows,
                })
            })
            .collect();
        let acks: Vec<serde_json::Value> = plan
            .acks
            .iter()
            .map(|(stream, ids)| {
                invocation.key(stream);
                let ids: Vec<String> = ids.iter().map(EntryId::to_string).collect();
                serde_json::json!({ "stream": stream, "ids": ids })
            })
            .collect();
        let body = serde_json::json!({ "sections": sections, "acks": acks }).to_string();
        invocation
            .arg(&self.group)
            .arg(consumer)
            .arg(epoch)
            .arg(body)
            .invoke_async(con)
            .await
            .map_err(LedgerError::from_script)
    }

    /// Take over up to [`CLAIM_PAGE`] entries of `stream` that other consumers have held
    /// longer than `min_idle_ms`, starting at `start` (`-` for the first page).
    pub async fn claim(
        &self,
        con: &mut MultiplexedConnection,
        stream: &str,
        stream_index: usize,
        consumer: &str,
        min_idle_ms: u64,
        start: &str,
    ) -> Result<Claimed, LedgerError> {
        let reply: Value = CLAIM
            .key(stream)
            .key(self.epochs_key())
            .arg(&self.group)
            .arg(consumer)
            .arg(min_idle_ms)
            .arg(CLAIM_PAGE)
            .arg(start)
            .invoke_async(con)
            .await
            .map_err(LedgerError::from_script)?;
        let Value::Array(mut items) = reply else {
            return Err(ReplyError::new(format!("claim answered {reply:?}")).into());
        };
        if items.len() < 2 {
            return Err(ReplyError::new("claim answered too few items").into());
        }
        let entries = items.split_off(2);
        let trimmed = match &items[1] {
            Value::Int(n) => u64::try_from(*n).unwrap_or(0),
            other => return Err(ReplyError::new(format!("claim's lost count {other:?}")).into()),
        };
        let next = match &items[0] {
            Value::BulkString(next) if next.as_slice() != b"0" => {
                Some(String::from_utf8_lossy(next).into_owned())
            }
            _ => None,
        };
        Ok(Claimed {
            next,
            trimmed,
            entries: parse_entry_list(Value::Array(entries), stream_index)?,
        })
    }

    /// How far `stream` is final, allowing `grace_ms` for producers that set ids themselves.
    /// `None` when the stream or the group does not exist yet.
    pub async fn watermark(
        &self,
        con: &mut MultiplexedConnection,
        stream: &str,
        grace_ms: u64,
    ) -> Result<Option<Watermark>, LedgerError> {
        let (w, trim): (i64, String) = WATERMARK
            .key(stream)
            .arg(&self.group)
            .arg(grace_ms)
            .invoke_async(con)
            .await
            .map_err(LedgerError::from_script)?;
        if w == 0 {
            return Ok(None);
        }
        let trim_to = EntryId::parse(trim.as_bytes())
            .ok_or_else(|| ReplyError::new(format!("watermark's trim id {trim:?}")))?;
        Ok(Some(Watermark {
            final_before_ms: w,
            trim_to,
        }))
    }

    /// Take or keep the housekeeping lease for `ttl_ms`; true while `token` holds it.
    pub async fn hold_lease(
        &self,
        con: &mut MultiplexedConnection,
        token: &str,
        ttl_ms: u64,
    ) -> Result<bool, LedgerError> {
        Lease::new(self.lease_key()).hold(con, token, ttl_ms).await
    }

    /// Give the lease back (shutdown), if `token` holds it.
    pub async fn release_lease(
        &self,
        con: &mut MultiplexedConnection,
        token: &str,
    ) -> Result<(), LedgerError> {
        Lease::new(self.lease_key()).release(con, token).await
    }

    /// Pub/sub mode's writer lease: the one instance that counts and writes windows.
    pub fn writer_lease(&self) -> Lease {
        Lease::new(format!("{}:pubsub-writer", self.prefix))
    }

    /// Bridge mode: take or keep the writer lease for `ttl_ms`, recording this instance's
    /// `subscription` (kept `record_ms` unless renewed) so that the lease goes to the
    /// instance subscribed the longest: after a Redis restart or a dropped connection, the
    /// one that resubscribed first is the one that received everything since.
    pub async fn hold_bridge_writer(
        &self,
        con: &mut MultiplexedConnection,
        token: &str,
        ttl_ms: u64,
        subscription: Subscription,
        record_ms: u64,
    ) -> Result<WriterRole, LedgerError> {
        let role: i64 = BRIDGE_WRITER
            .key(self.writer_lease().key)
            .key(format!("{}:bridge-subscriptions", self.prefix))
            .key(format!("{}:bridge-subscription-counter", self.prefix))
            .arg(token)
            .arg(ttl_ms.max(1))
            .arg(subscription.as_arg())
            .arg(record_ms.max(1))
            .invoke_async(con)
            .await
            .map_err(LedgerError::from_script)?;
        Ok(match role {
            1 => WriterRole::Writer,
            2 => WriterRole::StepDown,
            _ => WriterRole::Standby,
        })
    }

    /// Pub/sub mode: record the marker nonce up to which the writer that is letting go
    /// counted (see [`crate::ingest::handover`]), for whoever takes the lease next.
    pub async fn record_handover(
        &self,
        con: &mut MultiplexedConnection,
        nonce: &str,
        keep_ms: u64,
    ) -> Result<(), LedgerError> {
        let _: () = con
            .pset_ex(self.handover_key(), nonce, keep_ms.max(1))
            .await?;
        Ok(())
    }

    /// Pub/sub mode: the handover nonce the previous writer left, taken (read and deleted).
    pub async fn take_handover(
        &self,
        con: &mut MultiplexedConnection,
    ) -> Result<Option<String>, LedgerError> {
        Ok(con.get_del(self.handover_key()).await?)
    }

    /// Bridge mode: append `messages` (channel, payload), in order, to the streams named
    /// after their channels, fenced by the writer lease `token` must hold; each stream
    /// capped near `max_len` entries (0: no cap). `batch` numbers the call: the same batch
    /// sent again (its answer was lost) is not appended twice. `Ok(None)` when `token` does
    /// not hold the lease (nothing was appended), else the number appended.
    pub async fn bridge_append(
        &self,
        con: &mut MultiplexedConnection,
        token: &str,
        batch: u64,
        max_len: u64,
        messages: &[(&str, &[u8])],
    ) -> Result<Option<usize>, LedgerError> {
        let mut channels: Vec<&str> = Vec::new();
        let mut invocation = BRIDGE.key(self.writer_lease().key);
        invocation
            .key(format!("{}:bridge-last-batch", self.prefix))
            .arg(token)
            .arg(max_len)
            .arg(BRIDGE_TAIL)
            .arg(format!("{token}:{batch}"));
        for (channel, payload) in messages {
            let number = match channels.iter().position(|c| c == channel) {
                Some(i) => i + 1,
                None => {
                    channels.push(channel);
                    channels.len()
                }
            };
            invocation.arg(number).arg(*payload);
        }
        for channel in &channels {
            invocation.key(*channel).key(self.bridge_tail_key(channel));
        }
        let appended: i64 = invocation
            .invoke_async(con)
            .await
            .map_err(LedgerError::from_script)?;
        Ok(usize::try_from(appended).ok())
    }

    /// Bridge mode: the last messages appended to `channel`'s stream (at most
    /// [`BRIDGE_TAIL`]), oldest first; empty when none were.
    pub async fn bridge_tail(
        &self,
        con: &mut MultiplexedConnection,
        channel: &str,
    ) -> Result<Vec<Vec<u8>>, LedgerError> {
        let mut newest_first: Vec<Vec<u8>> = con
            .lrange(self.bridge_tail_key(channel), 0, BRIDGE_TAIL as isize - 1)
            .await?;
        newest_first.reverse();
        Ok(newest_first)
    }

    fn bridge_tail_key(&self, channel: &str) -> String {
        format!("{}:bridge-tail:{channel}", self.prefix)
    }

    fn handover_key(&self) -> String {
        format!("{}:pubsub-handover", self.prefix)
    }

    /// The windows of `channel` not sealed yet that end at or before `until_ms`, as
    /// `({period}/{window}, end ms)`, earliest first.
    pub async fn sealable(
        &self,
        con: &mut MultiplexedConnection,
        channel: &str,
        until_ms: i64,
    ) -> Result<Vec<(String, i64)>, LedgerError> {
        let members: Vec<(String, f64)> = con
            .zrangebyscore_withscores(self.open_key(channel), "-inf", until_ms)
            .await?;
        Ok(members
            .into_iter()
            .map(|(member, end)| (member, end as i64))
            .collect())
    }

    /// The committed sections of one hour of `channel`, by segment; a section the index
    /// holds in a form the ledger never writes is an error.
    pub async fn sections(
        &self,
        con: &mut MultiplexedConnection,
        channel: &str,
        hour: &str,
    ) -> Result<Vec<(String, SectionRef)>, LedgerError> {
        let fields: BTreeMap<String, String> = con.hgetall(self.index_key(channel, hour)).await?;
        fields
            .into_iter()
            .map(|(segment, section)| index_entry(segment, &section))
            .collect()
    }

    /// What window `member` (`{period}/{window}`) of `channel` holds, hour by hour, at one
    /// instant; `hours` are its hourly windows' names, in order. `None` once it is sealed.
    pub async fn live_snapshot(
        &self,
        con: &mut MultiplexedConnection,
        channel: &str,
        member: &str,
        hours: &[String],
    ) -> Result<Option<Vec<HourSource>>, LedgerError> {
        let mut invocation = LIVE.key(self.open_key(channel));
        invocation.arg(member);
        for hour in hours {
            invocation
                .key(self.index_key(channel, hour))
                .arg(format!("{}/{hour}", crate::store::retention::HOURLY));
        }
        let reply: Value = invocation
            .invoke_async(con)
            .await
            .map_err(LedgerError::from_script)?;
        let items = match reply {
            Value::Nil => return Ok(None),
            Value::Array(items) => items,
            other => return Err(ReplyError::new(format!("live answered {other:?}")).into()),
        };
        if items.len() != hours.len() {
            return Err(ReplyError::new("live answered a different number of hours").into());
        }
        let mut sources = Vec::with_capacity(hours.len());
        for (hour, item) in hours.iter().zip(items) {
            let fields = match item {
                Value::Nil => {
                    sources.push(HourSource::Sealed(hour.clone()));
                    continue;
                }
                Value::Array(fields) => fields,
                other => return Err(ReplyError::new(format!("live's hour {other:?}")).into()),
            };
            let mut sections = Vec::with_capacity(fields.len() / 2);
            for pair in fields.chunks(2) {
                let (Some(Value::BulkString(path)), Some(Value::BulkString(section))) =
                    (pair.first(), pair.get(1))
                else {
                    return Err(ReplyError::new("live's index is not field/value pairs").into());
                };
                sections.push(index_entry(
                    String::from_utf8_lossy(path).into_owned(),
                    &String::from_utf8_lossy(section),
                )?);
            }
            sections.sort_by(|a, b| a.0.cmp(&b.0));
            sources.push(HourSource::Open(hour.clone(), sections));
        }
        Ok(Some(sources))
    }

    /// Every segment an index still refers to (garbage collection keeps them).
    pub async fn referenced_segments(
        &self,
        con: &mut MultiplexedConnection,
    ) -> Result<std::collections::HashSet<String>, LedgerError> {
        let pattern = format!("{}:idx:*", self.prefix);
        let mut keys: Vec<String> = Vec::new();
        {
            let mut iter: redis::AsyncIter<String> = con.scan_match(&pattern).await?;
            while let Some(key) = futures_util::StreamExt::next(&mut iter).await {
                keys.push(key?);
            }
        }
        let mut segments = std::collections::HashSet::new();
        for key in keys {
            let fields: Vec<String> = con.hkeys(&key).await?;
            segments.extend(fields);
        }
        Ok(segments)
    }

    /// Forget window `member` of `channel` once its logs are written: its index (`hour`,
    /// for an hourly window) is deleted if it still holds exactly `merged` sections, and
    /// the window leaves the open set. Only the lease holder may.
    pub async fn seal(
        &self,
        con: &mut MultiplexedConnection,
        token: &str,
        channel: &str,
        member: &str,
        hour: Option<&str>,
        merged: usize,
    ) -> Result<(), LedgerError> {
        // A window longer than an hour has no index of its own: name one that never exists.
        let index = match hour {
            Some(hour) => self.index_key(channel, hour),
            None => format!("{}:no-index", self.prefix),
        };
        let _: i64 = SEAL
            .key(self.lease_key())
            .key(index)
            .key(self.open_key(channel))
            .arg(token)
            .arg(member)
            .arg(merged)
            .invoke_async(con)
            .await
            .map_err(LedgerError::from_script)?;
        Ok(())
    }

    /// Entries of `stream` trimmed before this group read them, since the last call: they
    /// are lost (producers' `MAXLEN` too small for an outage, or Redis memory too small).
    pub async fn unread_losses(
        &self,
        con: &mut MultiplexedConnection,
        stream: &str,
    ) -> Result<u64, LedgerError> {
        self.unread(con, stream, "report").await
    }

    /// Before this group's first read of `stream`: remember how many entries it has
    /// already missed (added, and trimmed since), which its lag will not show later.
    pub async fn record_unread_baseline(
        &self,
        con: &mut MultiplexedConnection,
        stream: &str,
    ) -> Result<(), LedgerError> {
        self.unread(con, stream, "baseline").await.map(|_| ())
    }

    async fn unread(
        &self,
        con: &mut MultiplexedConnection,
        stream: &str,
        mode: &str,
    ) -> Result<u64, LedgerError> {
        let lost: i64 = UNREAD
            .key(stream)
            .key(format!("{}:unread:{stream}", self.prefix))
            .key(format!("{}:unread-before-first-read:{stream}", self.prefix))
            .arg(&self.group)
            .arg(mode)
            .invoke_async(con)
            .await
            .map_err(LedgerError::from_script)?;
        Ok(u64::try_from(lost).unwrap_or(0))
    }

    /// How the whole group stands on `stream` (every replica reports it, so `/metrics` and
    /// `/status` of any replica describe the group). A consumer counts as active when it
    /// asked Redis for entries within `active_within_ms`. `None` when the stream or the group
    /// does not exist yet.
    pub async fn group_view(
        &self,
        con: &mut MultiplexedConnection,
        stream: &str,
        active_within_ms: u64,
    ) -> Result<Option<GroupView>, LedgerError> {
        let groups: Result<StreamInfoGroupsReply, RedisError> = con.xinfo_groups(stream).await;
        let groups = match groups {
            Ok(groups) => groups,
            // XINFO on a missing key: nothing to report yet.
            Err(e) if e.detail().is_some_and(|d| d.contains("no such key")) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let Some(group) = groups.groups.into_iter().find(|g| g.name == self.group) else {
            return Ok(None);
        };
        let consumers: StreamInfoConsumersReply = con.xinfo_consumers(stream, &self.group).await?;
        let active_consumers = consumers
            .consumers
            .iter()
            .filter(|c| (c.idle as u64) < active_within_ms)
            .count() as u64;
        let length: u64 = con.xlen(stream).await?;
        let oldest_open: Vec<(String, f64)> =
            con.zrange_withscores(self.open_key(stream), 0, 0).await?;
        let open_windows: u64 = con.zcard(self.open_key(stream)).await?;
        Ok(Some(GroupView {
            length,
            lag: group.lag.map(|n| n as u64),
            pending: group.pending as u64,
            consumers: group.consumers as u64,
            active_consumers,
            open_windows,
            oldest_open_end_ms: oldest_open.first().map(|(_, end)| *end as i64),
        }))
    }

    /// Remove from the group on `stream` the consumers that hold no entry and have not
    /// asked for any in `idle_ms` (processes long gone: every process has a name of its
    /// own, so without this the group's consumer list only grows). Returns how many.
    pub async fn forget_idle_consumers(
        &self,
        con: &mut MultiplexedConnection,
        stream: &str,
        idle_ms: u64,
    ) -> Result<u64, LedgerError> {
        let consumers: StreamInfoConsumersReply = con.xinfo_consumers(stream, &self.group).await?;
        let mut forgotten = 0;
        for consumer in consumers.consumers {
            if consumer.pending == 0 && consumer.idle as u64 >= idle_ms {
                // DELCONSUMER drops the consumer's pending entries: checked empty above, and
                // a consumer idle this long cannot have read any since.
                let _: i64 = con
                    .xgroup_delconsumer(stream, &self.group, &consumer.name)
                    .await?;
                forgotten += 1;
            }
        }
        Ok(forgotten)
    }
}
