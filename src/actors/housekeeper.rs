//! The housekeeper (stream mode): on whichever replica holds the housekeeping lease, seals
//! windows whose every entry is committed, trims what the group has acknowledged from the
//! streams, and deletes segments nothing refers to any more.
//!
//! - An **hour** is sealed by merging its committed sections (from the segments the ledger
//!   indexes) into the hourly logs at their usual paths; a **longer window** (a day) by
//!   merging its hours' sealed `all` logs. Entry points' logs are derived from `all`. Then
//!   the ledger forgets the window and its graphs are rendered.
//! - A window is sealable once the stream's watermark passes its end: every entry before it
//!   acknowledged, none still to come (stream ids are the Redis server's clock).
//! - Sealing is deterministic (the same committed sections give the same bytes), so a seal
//!   interrupted by a crash is simply done again by the next lease holder.
//! - Every replica (lease or not) reads the group's state for `/metrics` and `/status`,
//!   and which windows are open, for the pages' live marks (windows not sealed yet are
//!   read on demand, see [`crate::graphs::live`]).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use actix::prelude::*;
use bytes::Bytes;
use redis::aio::MultiplexedConnection;

use crate::actors::render_queue::{RenderQueue, RenderRequest, UseRenderQueue};
use crate::ingest::stream::EntryId;
use crate::ops::events;
use crate::ops::live::Live;
use crate::store::layout::LogKey;
use crate::store::ledger::Ledger;
use crate::store::redis_connection::kept_or_new;
use crate::store::retention::{PeriodSpec, HOURLY};
use crate::store::seal;
use crate::store::segment;
use crate::store::storage::Storage;

/// Segments no index refers to are deleted once this old (a commit writes its segment
/// first, and rewrites it when its commit is retried later than a tenth of this).
const ORPHAN_AGE: Duration = Duration::from_secs(3600);
/// How often unreferenced segments are looked for.
const GC_EVERY: Duration = Duration::from_secs(60);
/// Consumers holding nothing and silent this long (or ten `claim_after`s) are processes
/// long gone: they leave the group's consumer list.
const FORGET_CONSUMERS_AFTER: Duration = Duration::from_secs(3600);
/// Producers that set entry ids themselves get this long past a window's end.
const GRACE: Duration = Duration::from_secs(2);

/// What the housekeeper needs from the config.
#[derive(Debug, Clone)]
pub struct HousekeeperSettings {
    /// The Redis URL.
    pub url: String,
    /// The stream keys.
    pub channels: Vec<String>,
    /// Every configured period (`hourly` among them).
    pub periods: Vec<PeriodSpec>,
    /// Entry points with a log of their own, per window.
    pub max_entry_points: usize,
    /// How often a pass runs.
    pub every: Duration,
    /// A consumer silent this long has its entries claimed: it no longer counts as active.
    pub claim_after: Duration,
    /// How long the lease lasts unless renewed.
    pub lease_ttl: Duration,
    /// This replica's lease token.
    pub token: String,
}

/// Windows not sealed yet, as `(period, window)`, as the last pass read them (any
/// replica): the pages' live marks.
pub type OpenWindows = Live<HashSet<(String, String)>>;

/// Give the lease back (shutdown), so another replica takes over at once.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ReleaseLease;

/// The housekeeper actor.
pub struct Housekeeper {
    settings: HousekeeperSettings,
    ledger: Ledger,
    storage: Arc<dyn Storage>,
    renders: Addr<RenderQueue>,
    connection: Option<MultiplexedConnection>,
    last_gc: Option<Instant>,
    released: bool,
    open_windows: Arc<OpenWindows>,
}

impl Housekeeper {
    /// A housekeeper asking `renders` for the graphs of what it seals.
    pub fn new(
        settings: HousekeeperSettings,
        ledger: Ledger,
        storage: Arc<dyn Storage>,
        renders: Addr<RenderQueue>,
        open_windows: Arc<OpenWindows>,
    ) -> Housekeeper {
        Housekeeper {
            settings,
            ledger,
            storage,
            renders,
            connection: None,
            last_gc: None,
            released: false,
            open_windows,
        }
    }
}

impl Actor for Housekeeper {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.run_interval(self.settings.every, |act, ctx| {
            if act.released {
                return;
            }
            let gc = act.last_gc.is_none_or(|t| t.elapsed() >= GC_EVERY);
            if gc {
                act.last_gc = Some(Instant::now());
            }
            let pass = Pass {
                settings: act.settings.clone(),
                ledger: act.ledger.clone(),
                storage: act.storage.clone(),
                connection: act.connection.take(),
                sealed: Vec::new(),
                open: None,
            };
            ctx.wait(pass.run(gc).into_actor(act).map(|pass, act, _| {
                act.connection = pass.connection;
                if let Some(open) = pass.open {
                    act.open_windows.replace(open);
                }
                for key in pass.sealed {
                    act.renders.do_send(RenderRequest { key });
                }
            }));
        });
    }
}

impl Handler<UseRenderQueue> for Housekeeper {
    type Result = ();

    fn handle(&mut self, UseRenderQueue(queue): UseRenderQueue, _: &mut Context<Self>) {
        self.renders = queue;
    }
}

impl Handler<ReleaseLease> for Housekeeper {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, _: ReleaseLease, _: &mut Context<Self>) -> Self::Result {
        self.released = true;
        let (ledger, token, url) = (
            self.ledger.clone(),
            self.settings.token.clone(),
            self.settings.url.clone(),
        );
        let connection = self.connection.take();
        Box::pin(async move {
            if let Ok(mut connection) = kept_or_new(connection, &url).await {
                let _ = ledger.release_lease(&mut connection, &token).await;
            }
            events::stream_lease_held(false);
        })
    }
}

/// One housekeeping pass.
struct Pass {
    settings: HousekeeperSettings,
    ledger: Ledger,
    storage: Arc<dyn Storage>,
    connection: Option<MultiplexedConnection>,
    /// Logs written by this pass, to render.
    sealed: Vec<LogKey>,
    /// The windows found open, when every channel's were read.
    open: Option<HashSet<(String, String)>>,
}

impl Pass {
    /// Run the pass; it hands itself back with what it found and wrote (the connection is
    /// `None` after a failure, to connect again next time).
    async fn run(mut self, gc: bool) -> Pass {
        let mut connection = match kept_or_new(self.connection.take(), &self.settings.url).await {
            Ok(c) => c,
            Err(e) => {
                events::housekeeping_failed(&format!("connecting to Redis: {e}"));
                return self;
            }
        };
        match self.housekeep(&mut connection, gc).await {
            Ok(()) => self.connection = Some(connection),
            Err(error) => events::housekeeping_failed(&error),
        }
        self
    }

    async fn housekeep(&mut self, con: &mut MultiplexedConnection, gc: bool) -> Result<(), String> {
        let ttl = self.settings.lease_ttl.as_millis() as u64;
        let held = self
            .ledger
            .hold_lease(con, &self.settings.token, ttl)
            .await
            .map_err(|e| e.to_string())?;
        events::stream_lease_held(held);
        // Every replica reports the group, so any replica's /metrics and /status show it.
        let active_within = self.settings.claim_after.as_millis() as u64;
        let mut open = HashSet::new();
        for channel in &self.settings.channels {
            if let Some(view) = self
                .ledger
                .group_view(con, channel, active_within)
                .await
                .map_err(|e| e.to_string())?
            {
                events::stream_group(channel, &view);
            }
            let members = self
                .ledger
                .sealable(con, channel, i64::MAX)
                .await
                .map_err(|e| e.to_string())?;
            open.extend(members.iter().filter_map(|(m, _)| {
                let (period, window) = m.split_once('/')?;
                Some((period.to_owned(), window.to_owned()))
            }));
        }
        self.open = Some(open);
        if !held {
            return Ok(());
        }
        for channel in self.settings.channels.clone() {
            let unread = self
                .ledger
                .unread_losses(con, &channel)
                .await
                .map_err(|e| e.to_string())?;
            events::stream_entries_lost(&channel, "unread", unread);
            let Some(mark) = self
                .ledger
                .watermark(con, &channel, GRACE.as_millis() as u64)
                .await
                .map_err(|e| e.to_string())?
            else {
                continue;
            };
            let mut members = self
                .ledger
                .sealable(con, &channel, mark.final_before_ms)
                .await
                .map_err(|e| e.to_string())?;
            // Hours before the longer windows that end with them: a day is merged from its
            // sealed hours.
            members.sort_by_key(|(member, end)| {
                (*end, member.split_once('/').map(|(p, _)| p) != Some(HOURLY))
            });
            for (member, _) in members {
                let started = Instant::now();
                match self.seal(con, &channel, &member).await {
                    Ok((samples, logs)) => {
                        events::window_sealed(&channel, &member, logs, samples, started.elapsed())
                    }
                    Err(error) => {
                        events::window_seal_failed(&channel, &member, &error);
                        // Later windows may need this one (a day its hours): next pass.
                        break;
                    }
                }
            }
            if mark.trim_to > EntryId::default() {
                let _: Result<i64, _> = redis::cmd("XTRIM")
                    .arg(&channel)
                    .arg("MINID")
                    .arg("~")
                    .arg(mark.trim_to.to_string())
                    .query_async(con)
                    .await;
            }
        }
        if gc {
            self.collect_garbage(con).await?;
            let idle = FORGET_CONSUMERS_AFTER.max(self.settings.claim_after * 10);
            for channel in &self.settings.channels {
                let forgotten = self
                    .ledger
                    .forget_idle_consumers(con, channel, idle.as_millis() as u64)
                    .await
                    .map_err(|e| e.to_string())?;
                events::stream_consumers_forgotten(channel, forgotten);
            }
        }
        Ok(())
    }

    /// Merge window `member` (`{period}/{window}`) of `channel` into its logs, write them,
    /// and have the ledger forget it. Returns the window's samples and the logs written.
    async fn seal(
        &mut self,
        con: &mut MultiplexedConnection,
        channel: &str,
        member: &str,
    ) -> Result<(u64, usize), String> {
        let (period_name, window_name) = member
            .split_once('/')
            .ok_or_else(|| format!("{member:?} is not period/window"))?;
        let Some(spec) = self
            .settings
            .periods
            .iter()
            .find(|s| s.period.name() == period_name)
        else {
            // A period removed from the config: nothing to write it for.
            self.ledger
                .seal(con, &self.settings.token, channel, member, None, 0)
                .await
                .map_err(|e| e.to_string())?;
            return Ok((0, 0));
        };
        let hourly = period_name == HOURLY;
        let mut inputs: Vec<Bytes> = Vec::new();
        let mut merged_sections = 0;
        if hourly {
            let sections = self
                .ledger
                .sections(con, channel, window_name)
                .await
                .map_err(|e| e.to_string())?;
            merged_sections = sections.len();
            seal::read_sections(&*self.storage, &sections, &mut inputs)
                .await
                .map_err(|e| e.to_string())?;
        } else {
            let hours = seal::hours_of(&self.settings.periods, spec, window_name)
                .map_err(|e| e.to_string())?;
            for hour in hours {
                seal::read_sealed_hour(&*self.storage, channel, &hour, &mut inputs)
                    .await
                    .map_err(|e| e.to_string())?;
            }
        }
        let sealed = seal::merge_blocking(inputs, self.settings.max_entry_points).await?;
        let samples = sealed.all.samples;
        let key = |entry: &str| LogKey {
            period: period_name.to_owned(),
            window: window_name.to_owned(),
            channel: channel.to_owned(),
            entry: entry.to_owned(),
        };
        let mut written = Vec::new();
        for (entry, log) in sealed.logs() {
            let key = key(&entry);
            seal::write_log(&*self.storage, &key, log)
                .await
                .map_err(|e| e.to_string())?;
            written.push(key);
        }
        self.ledger
            .seal(
                con,
                &self.settings.token,
                channel,
                member,
                hourly.then_some(window_name),
                merged_sections,
            )
            .await
            .map_err(|e| e.to_string())?;
        let logs = written.len();
        self.sealed.extend(written);
        Ok((samples, logs))
    }

    /// Delete segments that no index refers to and that are old enough not to be waiting
    /// for their commit.
    async fn collect_garbage(&mut self, con: &mut MultiplexedConnection) -> Result<(), String> {
        let objects = self
            .storage
            .list(segment::PREFIX)
            .await
            .map_err(|e| e.to_string())?;
        let referenced = self
            .ledger
            .referenced_segments(con)
            .await
            .map_err(|e| e.to_string())?;
        let now = SystemTime::now();
        let mut deleted = 0;
        for object in objects {
            let old = now
                .duration_since(object.modified)
                .is_ok_and(|age| age >= ORPHAN_AGE);
            if old && !referenced.contains(&object.path) {
                self.storage
                    .delete(&object.path)
                    .await
                    .map_err(|e| e.to_string())?;
                deleted += 1;
            }
        }
        events::segments_collected(deleted);
        Ok(())
    }
}
