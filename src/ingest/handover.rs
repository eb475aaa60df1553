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

/// How long a standby that takes over waits for the old writer's marker on a channel
/// before it counts all it buffered for that channel.
pub const MARKER_WAIT: Duration = Duration::from_secs(5);

/// What the gate let through or dropped in one step.
#[derive(Debug)]
pub struct Released<M> {
    /// Messages to count, in the order received.
    pub messages: Vec<(Arc<str>, M)>,
    /// Messages dropped from a standby's buffer because they were older than `max_age`
    /// (the writer counted them) or the buffer was full.
    pub expired: u64,
}

impl<M> Default for Released<M> {
    fn default() -> Self {
        Released {
            messages: Vec::new(),
            expired: 0,
        }
    }
}

/// Where the gate stands.
#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    /// Not the writer: buffer, count nothing.
    Standby,
    /// Just became the writer after a handover: per channel, wait for the old writer's
    /// marker, then count what follows it.
    TakingOver {
        nonce: Vec<u8>,
        since: Instant,
        waiting: HashSet<Arc<str>>,
    },
    /// The writer: count everything.
    Writer,
    /// Handing over: count each channel up to this instance's own marker, nothing after.
    HandingOver {
        nonce: Vec<u8>,
        done: HashSet<Arc<str>>,
    },
}

/// The gate; see the module documentation.
#[derive(Debug)]
pub struct Gate<M> {
    state: State,
    buffer: VecDeque<(Instant, Arc<str>, M)>,
    max_age: Duration,
    max_messages: usize,
}

impl<M> Gate<M> {
    /// A standby gate keeping at most `max_age` and `max_messages` of messages.
    pub fn standby(max_age: Duration, max_messages: usize) -> Gate<M> {
        Gate {
            state: State::Standby,
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
        released.messages.extend(more.messages);
        released
    }

    /// Let time pass: expire old buffered messages, give up waiting for markers.
    pub fn tick(&mut self, now: Instant, payload: impl Fn(&M) -> &[u8]) -> Released<M> {
        let expired = self.expire(now);
        let mut released = self.step(now, &payload);
        released.expired += expired;
        released
    }

    /// Become the writer. `cut` is the nonce the previous writer released the lease with
    /// (it counted each channel up to that marker); `None` when it vanished without one.
    /// `channels` are the channels to wait for the marker on.
    pub fn take_over(
        &mut self,
        now: Instant,
        cut: Option<&str>,
        channels: &[Arc<str>],
        payload: impl Fn(&M) -> &[u8],
    ) -> Released<M> {
        if self.state != State::Standby {
            return Released::default();
        }
        self.state = match cut {
            Some(nonce) => State::TakingOver {
                nonce: nonce.as_bytes().to_vec(),
                since: now,
                waiting: channels.iter().cloned().collect(),
            },
            None => State::Writer,
        };
        self.step(now, &payload)
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
        let State::TakingOver {
            nonce,
            since,
            waiting,
        } = &mut self.state
        else {
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
        // Where each waiting channel's marker sits in the buffer.
        let mut cut_at: HashMap<Arc<str>, usize> = HashMap::new();
        for (i, (_, channel, message)) in self.buffer.iter().enumerate() {
            if waiting.contains(channel)
                && marker_nonce(payload(message)).is_some_and(|n| n == nonce.as_slice())
            {
                cut_at.insert(channel.clone(), i);
            }
        }
        if now.saturating_duration_since(*since) >= MARKER_WAIT {
            waiting.clear();
        } else {
            for channel in cut_at.keys() {
                waiting.remove(channel);
            }
        }
        let mut kept = VecDeque::with_capacity(self.buffer.len());
        for (i, (at, channel, message)) in self.buffer.drain(..).enumerate() {
            if waiting.contains(&channel) {
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
    fn extend_from(&mut self, other: Released<M>) {
        self.messages.extend(other.messages);
        self.expired += other.expired;
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
        let taken = lines(new.take_over(t, Some("n1"), &channels, bytes));
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
        let taken = new.take_over(t, Some("n"), std::slice::from_ref(&a), bytes);
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
        let _ = new.take_over(t, Some("n"), std::slice::from_ref(&a), bytes);
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
        let taken = new.take_over(later, None, std::slice::from_ref(&a), bytes);
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
}
