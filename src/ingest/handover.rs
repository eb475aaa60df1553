//! Pub/sub handover: one writer at a time, and an exact cut between the old writer and the
//! new one. Pub/sub delivers every message to every subscriber, so two instances
//! subscribed side by side (a rolling update) would both count it; and each rewrites the
//! same window files, so their counts would overwrite each other.
//!
//! The [`Gate`] stands between the subscriber and the aggregation. An instance that does
//! not hold the writer lease is a **standby**: it subscribes at once and buffers what it
//! receives (the last `max_age` of it: the old writer's checkpoint interval plus the time
//! its lease takes to lapse) without counting. A writer that hands over (SIGTERM)
//! publishes a marker with a fresh nonce on every channel and counts each channel's
//! messages up to its marker only; it then checkpoints, and releases the lease naming the
//! nonce. Redis delivers a channel's messages to every subscriber in the same order, so the
//! standby that takes the lease drops what it buffered up to and including that marker and
//! counts the rest: each message is counted by exactly one of them.
//!
//! When the writer vanished instead (killed, lease expired), the standby counts all it
//! buffered: up to `max_age` of samples the old writer had already checkpointed may then
//! count twice, rather than those it had not being lost.
//!
//! Bridge mode knows better: the writer appends each message to a stream at once, fenced
//! by its lease, and keeps its last few beside the stream. A standby that takes over from a
//! writer that vanished finds that **tail** in its buffer and forwards only what follows
//! it, so nothing the old writer appended is appended twice and nothing it received after
//! its last append is lost.
//!
//! A bridging writer must also receive everything: when its subscription breaks (Redis
//! restarted, the connection dropped) a standby that stayed subscribed, or resubscribed
//! first, receives messages it does not. So the writer **suspends** (holds what it
//! receives) until the writer lease tells whether an instance has been subscribed longer:
//! then it **steps down** and that one takes over from its tail, which is where the writer
//! stopped; else it resumes and forwards what it held.
//!
//! Pure logic over messages and time: the router owns a gate, the writer-lease actor
//! decides the role.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What a handover marker's payload starts with; the nonce follows. Not a collapsed line
/// (no count): an instance that does not know markers rejects it as malformed.
pub const MARKER_PREFIX: &str = "arclamp-handover ";

/// The payload of the marker with `nonce`.
pub fn marker(nonce: &str) -> String {
    format!("{MARKER_PREFIX}{nonce}")
}

/// The nonce of a marker payload, `None` for any other message.
pub fn marker_nonce(payload: &[u8]) -> Option<&[u8]> {
    payload.strip_prefix(MARKER_PREFIX.as_bytes())
}

/// How long a standby that takes over waits for the old writer's marker (or tail) on a
/// channel before it counts all it buffered for that channel.
pub const MARKER_WAIT: Duration = Duration::from_secs(5);

/// Where the previous writer stopped, as the one taking over learns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cut {
    /// It vanished and left nothing to go by: count all that was buffered.
    Unknown,
    /// It handed over: each channel was counted up to the marker with this nonce.
    Marker(String),
    /// Bridge mode: the last messages it appended on each channel, oldest first (a
    /// channel missing or empty had none appended).
    Tails(HashMap<Arc<str>, Vec<Vec<u8>>>),
}

/// How many of a tail's last messages must be found in a row in the buffer to place the
/// cut (all of them when the tail is shorter).
pub const TAIL_MATCH: usize = 16;

/// Where in `buffered` (one channel's messages, oldest first) the previous writer's
/// `tail` ends: the index of the last message it had appended, found as the latest place
/// where the tail's last [`TAIL_MATCH`] messages occur in a row. `None` when the tail is
/// empty or not (yet) in the buffer.
pub fn tail_end(buffered: &[&[u8]], tail: &[Vec<u8>]) -> Option<usize> {
    let wanted = &tail[tail.len().saturating_sub(TAIL_MATCH)..];
    if wanted.is_empty() || buffered.len() < wanted.len() {
        return None;
    }
    (wanted.len() - 1..buffered.len()).rev().find(|&end| {
        let start = end + 1 - wanted.len();
        buffered[start..=end]
            .iter()
            .zip(wanted)
            .all(|(got, want)| *got == want.as_slice())
    })
}

/// What a taking-over channel waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Until {
    /// The marker with this nonce.
    Marker(Vec<u8>),
    /// The previous writer's last appended messages.
    Tail(Vec<Vec<u8>>),
}

impl Until {
    /// How a channel cut where this was found is reported ([`ChannelCut::how`]).
    fn label(&self) -> &'static str {
        match self {
            Until::Marker(_) => "marker",
            Until::Tail(_) => "tail",
        }
    }
}

/// What the gate let through or dropped in one step.
#[derive(Debug)]
pub struct Released<M> {
    /// Messages to count, in the order received.
    pub messages: Vec<(Arc<str>, M)>,
    /// Messages dropped from a standby's buffer because they were older than `max_age`
    /// (the writer counted them) or the buffer was full.
    pub expired: u64,
    /// Channels whose takeover ended in this step, with how their buffer was cut.
    pub cuts: Vec<ChannelCut>,
}

/// How a taking-over channel's buffer was cut.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelCut {
    /// The channel.
    pub channel: Arc<str>,
    /// `marker`, `tail`, or `all` (waited in vain: everything buffered is counted).
    pub how: &'static str,
    /// Buffered messages dropped: the old writer counted (or appended) them.
    pub skipped: usize,
}

impl<M> Default for Released<M> {
    fn default() -> Self {
        Released {
            messages: Vec::new(),
            expired: 0,
            cuts: Vec::new(),
        }
    }
}

/// Where the gate stands.
#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    /// Not the writer: buffer, count nothing.
    Standby,
    /// Just became the writer after a handover (or, bridging, after a writer with a
    /// tail): per channel, wait for where the old writer stopped, then count what follows.
    TakingOver {
        since: Instant,
        waiting: HashMap<Arc<str>, Until>,
    },
    /// The writer: count everything.
    Writer,
    /// Handing over: count each channel up to this instance's own marker, nothing after.
    HandingOver {
        nonce: Vec<u8>,
        done: HashSet<Arc<str>>,
    },
}

/// This instance's pub/sub subscription: the subscriber publishes it, the router and the
/// writer lease follow it (bridge mode).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SubscriptionStatus {
    /// Counts the subscriptions this process made: a new number is a new subscription
    /// (what was published between the two was not received).
    pub generation: u64,
    /// Subscribed now.
    pub live: bool,
}

/// The gate; see the module documentation.
#[derive(Debug)]
pub struct Gate<M> {
    state: State,
    /// A writer whose subscription broke: hold what arrives, release nothing, until it
    /// resumes or steps down.
    suspended: bool,
    buffer: VecDeque<(Instant, Arc<str>, M)>,
    max_age: Duration,
    max_messages: usize,
}

impl<M> Gate<M> {
    /// A standby gate keeping at most `max_age` and `max_messages` of messages.
    pub fn standby(max_age: Duration, max_messages: usize) -> Gate<M> {
        Gate {
            state: State::Standby,
            suspended: false,
            buffer: VecDeque::new(),
            max_age,
            max_messages: max_messages.max(1),
        }
    }

    /// A gate that counts everything (no lease in use).
    pub fn writer() -> Gate<M> {
        Gate {
            state: State::Writer,
            ..Gate::standby(Duration::ZERO, 1)
        }
    }

    /// Whether this instance counts what it receives (writer, taking over or handing over).
    pub fn is_writer(&self) -> bool {
        self.state != State::Standby
    }

    /// Messages held in the buffer.
    pub fn buffered(&self) -> usize {
        self.buffer.len()
    }

    /// Messages received on `channel` at `now`, with `payload` giving a message's bytes.
    pub fn receive(
        &mut self,
        now: Instant,
        channel: &Arc<str>,
        messages: Vec<M>,
        payload: impl Fn(&M) -> &[u8],
    ) -> Released<M> {
        let mut released = Released::default();
        for message in messages {
            if self.suspended {
                self.buffer.push_back((now, channel.clone(), message));
                continue;
            }
            let nonce = marker_nonce(payload(&message)).map(<[u8]>::to_vec);
            match &mut self.state {
                State::Writer => {
                    if nonce.is_none() {
                        released.messages.push((channel.clone(), message));
                    }
                }
                State::HandingOver { nonce: own, done } => {
                    if done.contains(channel) {
                        continue;
                    }
                    match nonce {
                        Some(n) if n == *own => {
                            done.insert(channel.clone());
                        }
                        Some(_) => {}
                        None => released.messages.push((channel.clone(), message)),
                    }
                }
                State::Standby | State::TakingOver { .. } => {
                    self.buffer.push_back((now, channel.clone(), message));
                }
            }
        }
        released.expired += self.expire(now);
        let more = self.step(now, &payload);
        released.extend_from(more);
        released
    }

    /// Let time pass: expire old buffered messages, give up waiting for markers.
    pub fn tick(&mut self, now: Instant, payload: impl Fn(&M) -> &[u8]) -> Released<M> {
        let expired = self.expire(now);
        let mut released = self.step(now, &payload);
        released.expired += expired;
        released
    }

    /// Become the writer. `cut` says where the previous writer stopped; `channels` are the
    /// channels to wait for its marker on.
    pub fn take_over(
        &mut self,
        now: Instant,
        cut: Cut,
        channels: &[Arc<str>],
        payload: impl Fn(&M) -> &[u8],
    ) -> Released<M> {
        if self.state != State::Standby {
            return Released::default();
        }
        let waiting: HashMap<Arc<str>, Until> = match cut {
            Cut::Unknown => HashMap::new(),
            Cut::Marker(nonce) => channels
                .iter()
                .map(|c| (c.clone(), Until::Marker(nonce.as_bytes().to_vec())))
                .collect(),
            Cut::Tails(tails) => tails
                .into_iter()
                .filter(|(_, tail)| !tail.is_empty())
                .map(|(c, tail)| (c, Until::Tail(tail)))
                .collect(),
        };
        self.state = if waiting.is_empty() {
            State::Writer
        } else {
            State::TakingOver {
                since: now,
                waiting,
            }
        };
        self.step(now, &payload)
    }

    /// Bridge mode: the writer's subscription broke: hold everything from now on until
    /// [`Gate::resume`] or [`Gate::step_down`]. Nothing for a standby, nor for a writer
    /// handing over (shutting down: it counts up to its marker, which came back already).
    pub fn suspend(&mut self) {
        if matches!(self.state, State::Writer | State::TakingOver { .. }) {
            self.suspended = true;
        }
    }

    /// Whether this writer is handing over (shutting down).
    pub fn is_handing_over(&self) -> bool {
        matches!(self.state, State::HandingOver { .. })
    }

    /// Whether this writer is suspended.
    pub fn is_suspended(&self) -> bool {
        self.suspended
    }

    /// Bridge mode: no instance has been subscribed longer than this one: go on where it
    /// was suspended, releasing what it held.
    pub fn resume(&mut self, now: Instant, payload: impl Fn(&M) -> &[u8]) -> Released<M> {
        if !self.suspended {
            return Released::default();
        }
        self.suspended = false;
        self.step(now, &payload)
    }

    /// Bridge mode: stop being the writer and stand by again, buffering from now on (an
    /// instance subscribed longer takes over from the last messages this one appended).
    /// What it held while suspended stays buffered, as a standby's would.
    pub fn step_down(&mut self) {
        self.state = State::Standby;
        self.suspended = false;
    }

    /// Start handing over: from now on each channel counts only up to the marker `nonce`.
    pub fn hand_over(&mut self, nonce: &str) {
        self.state = State::HandingOver {
            nonce: nonce.as_bytes().to_vec(),
            done: HashSet::new(),
        };
    }

    /// Handing over: whether this instance's marker has come back on every one of
    /// `channels` (everything before it is counted).
    pub fn handed_over(&self, channels: &[Arc<str>]) -> bool {
        match &self.state {
            State::HandingOver { done, .. } => channels.iter().all(|c| done.contains(c)),
            _ => false,
        }
    }

    /// Drop what is older than `max_age`, or beyond `max_messages`, while standing by.
    fn expire(&mut self, now: Instant) -> u64 {
        if self.state != State::Standby {
            return 0;
        }
        let mut expired = 0;
        while let Some((at, _, _)) = self.buffer.front() {
            let too_old = now.saturating_duration_since(*at) > self.max_age;
            if !too_old && self.buffer.len() <= self.max_messages {
                break;
            }
            self.buffer.pop_front();
            expired += 1;
        }
        expired
    }

    /// Taking over: release each channel whose marker arrived (what follows it) or whose
    /// wait ran out (all of it); become the writer when no channel waits any more.
    fn step(&mut self, now: Instant, payload: &impl Fn(&M) -> &[u8]) -> Released<M> {
        let mut released = Released::default();
        if self.suspended {
            return released;
        }
        let State::TakingOver { since, waiting } = &mut self.state else {
            if self.state == State::Writer {
                released.messages.extend(self.buffer.drain(..).filter_map(
                    |(_, channel, message)| {
                        marker_nonce(payload(&message))
                            .is_none()
                            .then_some((channel, message))
                    },
                ));
            }
            return released;
        };
        // Where each waiting channel's cut sits in the buffer.
        let mut cut_at: HashMap<Arc<str>, usize> = HashMap::new();
        for (channel, until) in waiting.iter() {
            let of_channel: Vec<(usize, &[u8])> = self
                .buffer
                .iter()
                .enumerate()
                .filter(|(_, (_, c, _))| c == channel)
                .map(|(i, (_, _, message))| (i, payload(message)))
                .collect();
            let found = match until {
                Until::Marker(nonce) => of_channel
                    .iter()
                    .rposition(|(_, m)| marker_nonce(m).is_some_and(|n| n == nonce.as_slice())),
                Until::Tail(tail) => {
                    let payloads: Vec<&[u8]> = of_channel.iter().map(|(_, m)| *m).collect();
                    tail_end(&payloads, tail)
                }
            };
            if let Some(at) = found {
                cut_at.insert(channel.clone(), of_channel[at].0);
                released.cuts.push(ChannelCut {
                    channel: channel.clone(),
                    how: until.label(),
                    skipped: at + 1,
                });
            }
        }
        if now.saturating_duration_since(*since) >= MARKER_WAIT {
            for channel in waiting.keys().filter(|c| !cut_at.contains_key(*c)) {
                released.cuts.push(ChannelCut {
                    channel: channel.clone(),
                    how: "all",
                    skipped: 0,
                });
            }
            waiting.clear();
        } else {
            for channel in cut_at.keys() {
                waiting.remove(channel);
            }
        }
        let mut kept = VecDeque::with_capacity(self.buffer.len());
        for (i, (at, channel, message)) in self.buffer.drain(..).enumerate() {
            if waiting.contains_key(&channel) {
                kept.push_back((at, channel, message));
                continue;
            }
            let up_to_cut = cut_at.get(&channel).is_some_and(|&cut| i <= cut);
            if !up_to_cut && marker_nonce(payload(&message)).is_none() {
                released.messages.push((channel, message));
            }
        }
        self.buffer = kept;
        if waiting.is_empty() {
            // Channels that never waited (not configured when the lease was taken) count
            // all they buffered.
            self.state = State::Writer;
            released.extend_from(self.step(now, payload));
        }
        released
    }
}

impl<M> Released<M> {
    /// Add what `other` released, after what this one did.
    pub fn extend_from(&mut self, other: Released<M>) {
        self.messages.extend(other.messages);
        self.expired += other.expired;
        self.cuts.extend(other.cuts);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(m: &String) -> &[u8] {
        m.as_bytes()
    }

    fn lines(released: Released<String>) -> Vec<String> {
        released
            .messages
            .into_iter()
            .map(|(c, m)| format!("{c}:{m}"))
            .collect()
    }

    fn batch(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_old_writer_counts_up_to_its_marker_and_the_new_one_after_it_exactly() {
        let t = Instant::now();
        let (a, b): (Arc<str>, Arc<str>) = ("a".into(), "b".into());
        let channels = [a.clone(), b.clone()];
        let mut old = Gate::writer();
        let mut new = Gate::standby(Duration::from_secs(60), 1000);
        let mut old_counted = Vec::new();
        let mut new_counted = Vec::new();
        // Both subscribed: every message reaches both, in the same order per channel.
        let mut deliver =
            |old: &mut Gate<String>, new: &mut Gate<String>, c: &Arc<str>, m: &[&str]| {
                old_counted.extend(lines(old.receive(t, c, batch(m), bytes)));
                new_counted.extend(lines(new.receive(t, c, batch(m), bytes)));
            };
        deliver(&mut old, &mut new, &a, &["1 1", "2 1"]);
        deliver(&mut old, &mut new, &b, &["x 1"]);
        old.hand_over("n1");
        assert!(!old.handed_over(&channels));
        deliver(
            &mut old,
            &mut new,
            &a,
            &["3 1", "arclamp-handover n1", "4 1"],
        );
        deliver(&mut old, &mut new, &b, &["y 1", "arclamp-handover n1"]);
        assert!(old.handed_over(&channels));
        deliver(&mut old, &mut new, &b, &["z 1"]);
        let taken = lines(new.take_over(t, Cut::Marker("n1".into()), &channels, bytes));
        deliver(&mut old, &mut new, &a, &["5 1"]);
        let new_counted: Vec<String> = new_counted.into_iter().chain(taken).collect();
        assert_eq!(old_counted, ["a:1 1", "a:2 1", "b:x 1", "a:3 1", "b:y 1"]);
        // Released at takeover (4, z), then counted live (5): the order of the sum.
        let mut sorted = new_counted.clone();
        sorted.sort();
        assert_eq!(sorted, ["a:4 1", "a:5 1", "b:z 1"]);
    }

    #[test]
    fn a_marker_still_in_flight_is_waited_for_then_the_channel_counts_what_follows() {
        let t = Instant::now();
        let a: Arc<str> = "a".into();
        let mut new = Gate::standby(Duration::from_secs(60), 1000);
        let _ = new.receive(t, &a, batch(&["1 1"]), bytes);
        // The old writer released the lease before its marker reached this subscriber.
        let taken = new.take_over(t, Cut::Marker("n".into()), std::slice::from_ref(&a), bytes);
        assert!(taken.messages.is_empty());
        let released = new.receive(t, &a, batch(&["2 1", "arclamp-handover n", "3 1"]), bytes);
        assert_eq!(lines(released), ["a:3 1"]);
        assert!(new.is_writer());
        assert_eq!(lines(new.receive(t, &a, batch(&["4 1"]), bytes)), ["a:4 1"]);
    }

    #[test]
    fn a_marker_that_never_comes_releases_the_whole_buffer_after_the_wait() {
        let t = Instant::now();
        let a: Arc<str> = "a".into();
        let mut new = Gate::standby(Duration::from_secs(60), 1000);
        let _ = new.receive(t, &a, batch(&["1 1", "arclamp-handover other"]), bytes);
        let _ = new.take_over(t, Cut::Marker("n".into()), std::slice::from_ref(&a), bytes);
        assert!(new
            .tick(t + Duration::from_secs(1), bytes)
            .messages
            .is_empty());
        let released = new.tick(t + MARKER_WAIT, bytes);
        assert_eq!(lines(released), ["a:1 1"]);
    }

    #[test]
    fn without_a_cut_the_standby_counts_what_it_buffered_within_max_age() {
        let t = Instant::now();
        let a: Arc<str> = "a".into();
        let mut new = Gate::standby(Duration::from_secs(10), 1000);
        let _ = new.receive(t, &a, batch(&["old 1"]), bytes);
        let later = t + Duration::from_secs(11);
        let kept = new.receive(later, &a, batch(&["new 1"]), bytes);
        assert_eq!(kept.expired, 1);
        assert_eq!(new.buffered(), 1);
        let taken = new.take_over(later, Cut::Unknown, std::slice::from_ref(&a), bytes);
        assert_eq!(lines(taken), ["a:new 1"]);
        assert_eq!(new.buffered(), 0);
    }

    #[test]
    fn a_full_buffer_drops_its_oldest_messages() {
        let t = Instant::now();
        let a: Arc<str> = "a".into();
        let mut gate = Gate::standby(Duration::from_secs(60), 2);
        let released = gate.receive(t, &a, batch(&["1 1", "2 1", "3 1"]), bytes);
        assert_eq!((released.expired, gate.buffered()), (1, 2));
        assert!(!gate.is_writer());
    }

    fn numbered(channel: &str, range: std::ops::Range<usize>) -> Vec<String> {
        range.map(|i| format!("{channel};m{i} 1")).collect()
    }

    /// [`numbered`] messages as a writer's tail holds them.
    fn tail_of(channel: &str, range: std::ops::Range<usize>) -> Vec<Vec<u8>> {
        numbered(channel, range)
            .into_iter()
            .map(String::into_bytes)
            .collect()
    }

    #[test]
    fn a_tail_ends_at_the_latest_place_its_last_messages_occur_in_a_row() {
        let buffered = numbered("a", 0..40);
        let refs: Vec<&[u8]> = buffered.iter().map(|m| m.as_bytes()).collect();
        let tail = tail_of("a", 0..31);
        assert_eq!(tail_end(&refs, &tail), Some(30));
        // A short tail (few messages ever appended) must be found whole.
        let short = tail_of("a", 3..5);
        assert_eq!(tail_end(&refs, &short), Some(4));
        // Fewer than TAIL_MATCH of its messages in the buffer: not found.
        assert_eq!(tail_end(&refs[25..], &tail), None);
        let elsewhere = tail_of("b", 0..20);
        assert_eq!(tail_end(&refs, &elsewhere), None);
        assert_eq!(tail_end(&refs, &[]), None);
        // Repeated runs: the latest one is where the writer stopped.
        let twice: Vec<&[u8]> = refs[..20].iter().chain(&refs[..20]).copied().collect();
        let first20 = tail_of("a", 0..20);
        assert_eq!(tail_end(&twice, &first20), Some(39));
    }

    fn tails(of: &[(&Arc<str>, Vec<String>)]) -> Cut {
        Cut::Tails(
            of.iter()
                .map(|(c, t)| {
                    (
                        (*c).clone(),
                        t.iter().map(|m| m.clone().into_bytes()).collect(),
                    )
                })
                .collect(),
        )
    }

    #[test]
    fn bridging_a_standby_forwards_exactly_what_follows_the_old_writers_tail() {
        let t = Instant::now();
        let (a, b, c): (Arc<str>, Arc<str>, Arc<str>) = ("a".into(), "b".into(), "c".into());
        let channels = [a.clone(), b.clone(), c.clone()];
        let mut new = Gate::standby(Duration::from_secs(60), 1000);
        let _ = new.receive(t, &a, numbered("a", 0..40), bytes);
        let _ = new.receive(t, &b, numbered("b", 0..10), bytes);
        let _ = new.receive(t, &c, numbered("c", 0..3), bytes);
        // The old writer appended a's messages up to m29, b's up to m4, none of c's.
        let cut = tails(&[(&a, numbered("a", 10..30)), (&b, numbered("b", 0..5))]);
        let mut released = lines(new.take_over(t, cut, &channels, bytes));
        released.sort();
        let mut expected: Vec<String> = numbered("a", 30..40)
            .into_iter()
            .chain(numbered("b", 5..10))
            .chain(numbered("c", 0..3))
            .collect::<Vec<_>>();
        expected.sort();
        let expected: Vec<String> = expected
            .into_iter()
            .map(|m| format!("{}:{m}", &m[..1]))
            .collect();
        assert_eq!(released, expected);
        assert!(new.is_writer());
        assert_eq!(new.buffered(), 0);
    }

    #[test]
    fn a_tail_not_received_yet_is_waited_for_and_one_never_found_releases_everything() {
        let t = Instant::now();
        let a: Arc<str> = "a".into();
        let mut new = Gate::standby(Duration::from_secs(60), 1000);
        let _ = new.receive(t, &a, numbered("a", 0..20), bytes);
        // The old writer appended up to m24: the last five are still on their way here.
        let cut = tails(&[(&a, numbered("a", 5..25))]);
        assert!(new
            .take_over(t, cut, std::slice::from_ref(&a), bytes)
            .messages
            .is_empty());
        let released = new.receive(t, &a, numbered("a", 20..27), bytes);
        assert_eq!(lines(released), ["a:a;m25 1", "a:a;m26 1"]);
        assert!(new.is_writer());

        let mut other = Gate::standby(Duration::from_secs(60), 1000);
        let _ = other.receive(t, &a, numbered("a", 100..103), bytes);
        let cut = tails(&[(&a, numbered("a", 0..20))]);
        assert!(other
            .take_over(t, cut, std::slice::from_ref(&a), bytes)
            .messages
            .is_empty());
        let released = other.tick(t + MARKER_WAIT, bytes);
        assert_eq!(released.messages.len(), 3);
        assert!(other.is_writer());
    }

    #[test]
    fn a_writer_whose_subscription_broke_steps_down_and_the_older_subscriber_forwards_its_gap() {
        let t = Instant::now();
        let a: Arc<str> = "a".into();
        let channels = [a.clone()];
        let mut writer: Gate<String> = Gate::writer();
        let mut older = Gate::standby(Duration::from_secs(60), 1000);
        let mut forwarded = Vec::new();
        let both = |range, writer: &mut Gate<String>, older: &mut Gate<String>| {
            let mut out = Vec::new();
            for m in numbered("a", range) {
                out.extend(lines(older.receive(t, &a, vec![m.clone()], bytes)));
                out.extend(lines(writer.receive(t, &a, vec![m], bytes)));
            }
            out
        };
        forwarded.extend(both(0..30, &mut writer, &mut older));
        // The writer's subscription breaks: m30..m40 reach the standby only.
        writer.suspend();
        assert!(writer.is_suspended() && writer.is_writer());
        let _ = older.receive(t, &a, numbered("a", 30..40), bytes);
        // It resubscribes: what it receives now is held, not forwarded.
        assert!(both(40..50, &mut writer, &mut older).is_empty());
        // The standby has been subscribed longer: the writer steps down, and the standby
        // takes over from the last messages the writer appended (m14..m29).
        writer.step_down();
        assert!(!writer.is_writer());
        assert!(both(50..55, &mut writer, &mut older).is_empty());
        let cut = tails(&[(&a, numbered("a", 14..30))]);
        forwarded.extend(lines(older.take_over(t, cut, &channels, bytes)));
        forwarded.extend(both(55..60, &mut writer, &mut older));
        let mut expected: Vec<String> = numbered("a", 0..60)
            .into_iter()
            .map(|m| format!("a:{m}"))
            .collect();
        expected.sort();
        forwarded.sort();
        assert_eq!(
            forwarded, expected,
            "m0..m59 once each, the gap m30..m39 included"
        );
    }

    #[test]
    fn a_suspended_writer_that_stays_the_writer_forwards_what_it_held_in_order() {
        let t = Instant::now();
        let a: Arc<str> = "a".into();
        let mut writer: Gate<String> = Gate::writer();
        assert_eq!(
            lines(writer.receive(t, &a, numbered("a", 0..2), bytes)).len(),
            2
        );
        writer.suspend();
        assert!(writer
            .receive(t, &a, numbered("a", 2..5), bytes)
            .messages
            .is_empty());
        assert!(writer.tick(t + MARKER_WAIT * 2, bytes).messages.is_empty());
        let released = lines(writer.resume(t, bytes));
        assert_eq!(released, ["a:a;m2 1", "a:a;m3 1", "a:a;m4 1"]);
        assert!(!writer.is_suspended());
        assert!(
            writer.resume(t, bytes).messages.is_empty(),
            "resuming twice"
        );
        // A standby has nothing to suspend.
        let mut standby: Gate<String> = Gate::standby(Duration::from_secs(60), 10);
        standby.suspend();
        assert!(!standby.is_suspended());
    }
}
