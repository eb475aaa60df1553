//! The router: turns batches of raw Redis messages into samples and hands them to the
//! aggregator of each (period, window, channel, entry point), creating aggregators as
//! windows open and closing them as windows end.
//!
//! It runs on the ingest arbiter together with the aggregators, so handing a batch over is
//! a cheap same-thread message, and it owns the [`StackTable`] they share: each stack's
//! text is hashed once here and travels on as a 4-byte id.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::panic::AssertUnwindSafe;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use futures_util::future::join_all;

use crate::actors::aggregator::{
    AddSamples, Aggregator, AggregatorSettings, Close, Flush, FlushOutcome, Retune, WindowClosed,
};
use crate::actors::bridge::{Append, Bridge, FlushBridge};
use crate::actors::render_queue::{RenderQueue, UseRenderQueue};
use crate::config::{Config, PeriodSpec};
use crate::ingest::batch::{ingest_batch, ChannelState, Destination, IngestSettings};
use crate::ingest::handover::{Cut, Gate, Released, SubscriptionStatus};
use crate::ingest::sample::Limits;
use crate::ingest::stacks::StackTable;
use crate::ingest::window::Window;
use crate::ops::clock::Clock;
use crate::ops::events;
use crate::store::layout::LogKey;
use crate::store::storage::Storage;

/// One message as read from Redis.
#[derive(Debug)]
pub struct RawMessage {
    /// The channel it was published on.
    pub channel: Arc<str>,
    /// The message as the Redis client read it: its payload is parsed where it lies.
    pub message: redis::Msg,
}

/// Messages to parse and aggregate (or hold, while this instance stands by).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Ingest(pub Vec<RawMessage>);

/// Pub/sub and bridge modes: this instance now holds the writer lease. `cut` says where
/// the previous writer stopped (see [`crate::ingest::handover`]).
#[derive(Message)]
#[rtype(result = "()")]
pub struct TakeOver {
    /// Where the previous writer stopped.
    pub cut: Cut,
}

/// The subscriber's word, in line with its messages: the subscription started or ended.
/// Bridging, a writer whose subscription ended suspends (see [`crate::ingest::handover`]).
#[derive(Message)]
#[rtype(result = "()")]
pub struct SubscriptionChanged(pub SubscriptionStatus);

/// Bridge mode, the writer lease's word: this instance stays the writer, its subscription
/// `generation` being the oldest: forward what it held while suspended.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Resume {
    /// The subscription the decision was made for; a later one is decided again.
    pub generation: u64,
}

/// Bridge mode, the writer lease's word: an instance has been subscribed longer: stand
/// by. Answers once everything let through before is appended (`Some(true)`) or the
/// bridge is gone (`Some(false)`), so the lease can be let go; `None` when this writer is
/// handing over (shutting down), which lets the lease go itself, naming its marker.
#[derive(Message)]
#[rtype(result = "Option<bool>")]
pub struct StepDown;

/// Pub/sub mode, shutdown: count each channel up to marker `nonce` only. Answers whether
/// this instance is the writer (a standby has nothing to hand over).
#[derive(Message)]
#[rtype(result = "bool")]
pub struct HandOver {
    /// The marker's nonce.
    pub nonce: String,
}

/// Pub/sub mode, shutdown: whether the marker came back on every channel.
#[derive(Message)]
#[rtype(result = "bool")]
pub struct HandedOver;

/// Talk to this (new) router from now on: the supervisor's word, to the actors that send
/// to the router, after it replaced one that died.
#[derive(Message)]
#[rtype(result = "()")]
pub struct UseRouter(pub Addr<Router>);

/// Checkpoint every window (shutdown).
#[derive(Message)]
#[rtype(result = "FlushReport")]
pub struct FlushAll;

/// What [`FlushAll`] achieved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FlushReport {
    /// Windows written.
    pub windows: usize,
    /// Windows whose write failed.
    pub failed: usize,
    /// Samples that exist only in memory.
    pub unsaved_samples: u64,
}

/// The windows that are being aggregated, as (period, window name): retention leaves them alone.
#[derive(Message)]
#[rtype(result = "HashSet<(String, String)>")]
pub struct LiveWindows;

/// New settings (reload).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Reconfigure(pub RouterSettings);

/// What the router needs from the config.
#[derive(Debug, Clone, PartialEq)]
pub struct RouterSettings {
    /// Periods with their retention.
    pub periods: Vec<PeriodSpec>,
    /// Parse limits.
    pub limits: Limits,
    /// Entry points per channel.
    pub max_entry_points: usize,
    /// Keep every Nth message.
    pub sample_every: u64,
    /// Aggregator timing.
    pub aggregator: AggregatorSettings,
    /// The channels subscribed to (a writer taking over waits for the marker on each).
    pub channels: Vec<String>,
}

impl RouterSettings {
    /// Extract the router's settings from a validated config.
    pub fn from_config(config: &Config) -> Result<Self, crate::config::ConfigError> {
        Ok(RouterSettings {
            periods: config.period_specs()?,
            limits: config.aggregation.limits(),
            max_entry_points: config.aggregation.max_entry_points,
            sample_every: config.aggregation.sample_every,
            aggregator: AggregatorSettings {
                flush_interval: config.aggregation.flush_interval,
                render_interval: config.render.interval,
            },
            channels: config.redis.channels.clone(),
        })
    }
}

/// The router actor.
pub struct Router {
    settings: RouterSettings,
    clock: Clock,
    storage: Arc<dyn Storage>,
    renders: Addr<RenderQueue>,
    table: Rc<RefCell<StackTable>>,
    channels: HashMap<Arc<str>, ChannelState>,
    /// The current window of each period (same order as `settings.periods`).
    current: Vec<Option<Window>>,
    live: HashMap<LogKey, Addr<Aggregator>>,
    closing: HashMap<LogKey, Addr<Aggregator>>,
    /// Which messages this instance counts (pub/sub handover).
    gate: Gate<redis::Msg>,
    /// Bridge mode: where the messages the gate lets through go, instead of aggregators.
    bridge: Option<Addr<Bridge>>,
    /// The subscription as the subscriber last reported it.
    subscription: SubscriptionStatus,
    /// A resume decided for a subscription the subscriber's word about has not reached
    /// this mailbox yet (the two come from different threads).
    resume_for: Option<u64>,
}

/// A standby keeps at most this many messages (about 4 minutes at 200 messages/s per
/// channel, a few hundred MB of real MediaWiki stacks).
const STANDBY_MAX_MESSAGES: usize = 200_000;

fn payload(message: &redis::Msg) -> &[u8] {
    message.get_payload_bytes()
}

impl Router {
    /// A router with no windows open yet. With `standby` set, it counts nothing until it
    /// is told to [`TakeOver`], holding the messages of the last `standby` meanwhile. With
    /// `bridge` set, what it would count is appended to the streams instead.
    pub fn new(
        settings: RouterSettings,
        clock: Clock,
        storage: Arc<dyn Storage>,
        renders: Addr<RenderQueue>,
        standby: Option<Duration>,
        bridge: Option<Addr<Bridge>>,
    ) -> Self {
        let gate = match standby {
            Some(max_age) => Gate::standby(max_age, STANDBY_MAX_MESSAGES),
            None => Gate::writer(),
        };
        Router {
            gate,
            bridge,
            subscription: SubscriptionStatus::default(),
            resume_for: None,
            current: vec![None; settings.periods.len()],
            settings,
            clock,
            storage,
            renders,
            table: Rc::new(RefCell::new(StackTable::new())),
            channels: HashMap::new(),
            live: HashMap::new(),
            closing: HashMap::new(),
        }
    }

    /// Close the windows of every period whose current window has ended.
    fn roll_windows(&mut self) {
        let now = self.clock.now();
        let mut ended = Vec::new();
        for (i, spec) in self.settings.periods.iter().enumerate() {
            let window = spec.period.window_at(now);
            if self.current[i]
                .as_ref()
                .is_some_and(|w| w.name == window.name)
            {
                continue;
            }
            let period = spec.period.name();
            ended.extend(
                self.live
                    .keys()
                    .filter(|k| k.period == period && k.window != window.name)
                    .cloned(),
            );
            self.current[i] = Some(window);
        }
        for key in ended {
            self.close(key);
        }
        self.report_state();
    }

    /// End a live window: it writes its final checkpoint and render, then reports back.
    fn close(&mut self, key: LogKey) {
        if let Some(addr) = self.live.remove(&key) {
            addr.do_send(Close);
            self.closing.insert(key, addr);
        }
    }

    fn report_state(&self) {
        let active: Vec<(String, usize)> = self
            .settings
            .periods
            .iter()
            .map(|spec| {
                let name = spec.period.name();
                let n = self
                    .live
                    .keys()
                    .chain(self.closing.keys())
                    .filter(|k| k.period == name)
                    .count();
                (name.to_owned(), n)
            })
            .collect();
        let table = self.table.borrow();
        events::aggregation_state(&active, table.len(), table.text_bytes_held());
    }

    fn aggregator_for(&mut self, key: LogKey, ctx: &mut Context<Self>) -> Addr<Aggregator> {
        if let Some(addr) = self.live.get(&key) {
            if addr.connected() {
                return addr.clone();
            }
            events::actor_died("aggregator");
        }
        let addr = Aggregator::new(
            key.clone(),
            self.table.clone(),
            self.storage.clone(),
            self.renders.clone(),
            ctx.address().recipient(),
            self.settings.aggregator,
        )
        .start();
        self.live.insert(key, addr.clone());
        addr
    }

    fn ingest(&mut self, messages: Vec<(Arc<str>, redis::Msg)>, ctx: &mut Context<Self>) {
        self.roll_windows();
        let mut by_channel: HashMap<Arc<str>, Vec<redis::Msg>> = HashMap::new();
        for (channel, message) in messages {
            by_channel.entry(channel).or_default().push(message);
        }
        for (channel, payloads) in by_channel {
            let destinations = self.parse_channel_batch(&channel, payloads);
            for destination in destinations {
                let spec = &self.settings.periods[destination.period];
                let Some(window) = self.current[destination.period].as_ref() else {
                    continue;
                };
                events::aggregated(spec.period.name(), &destination.entry, destination.total);
                let key = LogKey {
                    period: spec.period.name().to_owned(),
                    window: window.name.clone(),
                    channel: channel.to_string(),
                    entry: destination.entry,
                };
                self.aggregator_for(key, ctx)
                    .do_send(AddSamples(destination.samples));
            }
        }
    }

    /// Aggregate (or, bridging, append) what the gate let through; report what a standby
    /// let expire and how a takeover cut each channel.
    fn count(&mut self, released: Released<redis::Msg>, ctx: &mut Context<Self>) {
        events::standby_state(self.gate.buffered(), released.expired);
        for cut in &released.cuts {
            events::takeover_cut(&cut.channel, cut.how, cut.skipped);
        }
        let released = released.messages;
        if released.is_empty() {
            return;
        }
        if let Some(bridge) = &self.bridge {
            bridge.do_send(Append(
                released
                    .into_iter()
                    .map(|(channel, m)| (channel, m.get_payload_bytes().to_vec()))
                    .collect(),
            ));
            return;
        }
        let count = released.len();
        // A bug in parsing must cost one batch, not the router and every window it holds.
        if std::panic::catch_unwind(AssertUnwindSafe(|| self.ingest(released, ctx))).is_err() {
            events::batch_dropped(count);
        }
    }

    /// Bridge mode: forward what the gate held while suspended, if it is.
    fn resume(&mut self, ctx: &mut Context<Self>) {
        self.resume_for = None;
        if self.gate.is_suspended() {
            let released = self.gate.resume(Instant::now(), payload);
            events::bridge_resumed(released.messages.len());
            self.count(released, ctx);
        }
    }

    fn channel_names(&self) -> Vec<Arc<str>> {
        self.settings
            .channels
            .iter()
            .map(|c| Arc::from(c.as_str()))
            .collect()
    }

    /// Parse one channel's messages into per-aggregator batches, counting everything.
    fn parse_channel_batch(
        &mut self,
        channel: &Arc<str>,
        payloads: Vec<redis::Msg>,
    ) -> Vec<Destination> {
        let settings = IngestSettings {
            limits: self.settings.limits,
            max_entry_points: self.settings.max_entry_points,
            sample_every: self.settings.sample_every,
            periods: self.settings.periods.len(),
            tag_entries: true,
        };
        let state = self.channels.entry(channel.clone()).or_default();
        let payloads = payloads.iter().map(redis::Msg::get_payload_bytes);
        let outcome = ingest_batch(state, &settings, &mut self.table.borrow_mut(), payloads);
        events::received(channel, outcome.messages, outcome.accepted);
        if outcome.sampled_out > 0 {
            events::sampled_out(channel, outcome.sampled_out);
        }
        for (reason, count) in outcome.rejections {
            events::rejected(channel, reason, count);
        }
        for (entry, samples, first_time) in outcome.overflow {
            events::entry_overflow(channel, &entry, samples, first_time);
        }
        outcome.destinations
    }
}

impl Actor for Router {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.roll_windows();
        // Rollover is checked on every batch too; the tick closes windows when no samples
        // arrive, and lets a standby's buffer expire and a takeover stop waiting.
        ctx.run_interval(Duration::from_millis(250), |act, ctx| {
            act.roll_windows();
            let released = act.gate.tick(Instant::now(), payload);
            act.count(released, ctx);
        });
    }
}

impl Handler<Ingest> for Router {
    type Result = ();

    fn handle(&mut self, Ingest(messages): Ingest, ctx: &mut Context<Self>) {
        let now = Instant::now();
        let mut counted = Released::default();
        // Consecutive messages of one channel go through the gate together.
        let mut messages = messages.into_iter().peekable();
        while let Some(first) = messages.next() {
            let channel = first.channel;
            let mut run = vec![first.message];
            while let Some(next) = messages.next_if(|m| m.channel == channel) {
                run.push(next.message);
            }
            counted.extend_from(self.gate.receive(now, &channel, run, payload));
        }
        self.count(counted, ctx);
    }
}

impl Handler<TakeOver> for Router {
    type Result = ();

    fn handle(&mut self, TakeOver { cut }: TakeOver, ctx: &mut Context<Self>) {
        let channels = self.channel_names();
        let released = self.gate.take_over(Instant::now(), cut, &channels, payload);
        self.count(released, ctx);
    }
}

impl Handler<SubscriptionChanged> for Router {
    type Result = ();

    fn handle(
        &mut self,
        SubscriptionChanged(status): SubscriptionChanged,
        ctx: &mut Context<Self>,
    ) {
        self.subscription = status;
        // Only a bridging writer under a lease: another instance may be receiving what
        // this one is not. A lone pub/sub writer counts what it gets.
        let leased = self.bridge.is_some() && self.gate.is_writer();
        if !status.live && leased && !self.gate.is_suspended() {
            self.gate.suspend();
            events::bridge_suspended();
        }
        if status.live && self.resume_for == Some(status.generation) {
            self.resume(ctx);
        }
    }
}

impl Handler<Resume> for Router {
    type Result = ();

    fn handle(&mut self, Resume { generation }: Resume, ctx: &mut Context<Self>) {
        let known = self.subscription.generation;
        if self.subscription.live && known == generation {
            self.resume(ctx);
        } else if generation > known {
            // Decided on the subscriber's word before it reached this mailbox.
            self.resume_for = Some(generation);
        }
    }
}

impl Handler<StepDown> for Router {
    type Result = ResponseFuture<Option<bool>>;

    fn handle(&mut self, _: StepDown, _: &mut Context<Self>) -> Self::Result {
        if self.gate.is_handing_over() {
            return Box::pin(async { None });
        }
        self.gate.step_down();
        // The bridge appends in the order it was given: flushed, it has appended all that
        // this writer let through.
        let flushed = self.bridge.as_ref().map(|bridge| bridge.send(FlushBridge));
        Box::pin(async move {
            match flushed {
                Some(flushed) => Some(flushed.await.unwrap_or(false)),
                None => Some(true),
            }
        })
    }
}

impl Handler<HandOver> for Router {
    type Result = bool;

    fn handle(&mut self, HandOver { nonce }: HandOver, _: &mut Context<Self>) -> bool {
        if !self.gate.is_writer() {
            return false;
        }
        self.gate.hand_over(&nonce);
        true
    }
}

impl Handler<HandedOver> for Router {
    type Result = bool;

    fn handle(&mut self, _: HandedOver, _: &mut Context<Self>) -> bool {
        self.gate.handed_over(&self.channel_names())
    }
}

impl Handler<FlushAll> for Router {
    type Result = ResponseFuture<FlushReport>;

    fn handle(&mut self, _: FlushAll, _: &mut Context<Self>) -> Self::Result {
        let flushes: Vec<_> = self
            .live
            .values()
            .chain(self.closing.values())
            .map(|addr| addr.send(Flush))
            .collect();
        Box::pin(async move {
            let mut report = FlushReport::default();
            for result in join_all(flushes).await {
                match result {
                    Ok(FlushOutcome::Saved) => report.windows += 1,
                    Ok(FlushOutcome::Unsaved(samples)) => {
                        report.failed += 1;
                        report.unsaved_samples += samples;
                    }
                    // A closed window that finished in between has nothing left to save.
                    Err(_) => {}
                }
            }
            report
        })
    }
}

impl Handler<WindowClosed> for Router {
    type Result = ();

    fn handle(&mut self, WindowClosed(key): WindowClosed, _: &mut Context<Self>) {
        self.closing.remove(&key);
        self.report_state();
    }
}

impl Handler<LiveWindows> for Router {
    type Result = MessageResult<LiveWindows>;

    fn handle(&mut self, _: LiveWindows, _: &mut Context<Self>) -> Self::Result {
        let mut live: HashSet<(String, String)> = self
            .live
            .keys()
            .chain(self.closing.keys())
            .map(|k| (k.period.clone(), k.window.clone()))
            .collect();
        for (spec, window) in self.settings.periods.iter().zip(&self.current) {
            if let Some(window) = window {
                live.insert((spec.period.name().to_owned(), window.name.clone()));
            }
        }
        MessageResult(live)
    }
}

impl Handler<Reconfigure> for Router {
    type Result = ();

    fn handle(&mut self, Reconfigure(settings): Reconfigure, _: &mut Context<Self>) {
        let retune = settings.aggregator != self.settings.aggregator;
        let names: Vec<String> = settings
            .periods
            .iter()
            .map(|s| s.period.name().to_owned())
            .collect();
        // Windows of removed periods end now: they are written and rendered, never dropped.
        let removed: Vec<LogKey> = self
            .live
            .keys()
            .filter(|k| !names.contains(&k.period))
            .cloned()
            .collect();
        for key in removed {
            self.close(key);
        }
        // Keep the current window of periods that stay, so their windows do not reopen.
        self.current = settings
            .periods
            .iter()
            .map(|spec| {
                self.settings
                    .periods
                    .iter()
                    .position(|old| old.period == spec.period)
                    .and_then(|i| self.current[i].clone())
            })
            .collect();
        if retune {
            for addr in self.live.values() {
                addr.do_send(Retune(settings.aggregator));
            }
        }
        self.settings = settings;
        self.roll_windows();
    }
}

impl Handler<UseRenderQueue> for Router {
    type Result = ();

    fn handle(&mut self, message: UseRenderQueue, _: &mut Context<Self>) {
        for addr in self.live.values().chain(self.closing.values()) {
            addr.do_send(message.clone());
        }
        self.renders = message.0;
    }
}
