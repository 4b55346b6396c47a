//! The bounded queue between [`crate::Publisher::publish`] and NATS.
//!
//! `push` takes a short lock and never waits, so publishing can't stall an operation. The
//! sender takes the head, publishes it and removes it only after the PubAck, so a failure leaves
//! it in place and events go out in the order they were published.
//!
//! Drop policy when full: **drop the oldest** queued event. When NATS has been away long enough
//! to fill the outbox, the recent events describe the current state of volumes and are worth
//! more than the old ones; the dropped counter tells how big the gap is. The head being sent at
//! that moment is never dropped (its PubAck may already be on the way), so with a capacity of 1
//! and the head in flight the incoming event is the one dropped.

use std::collections::VecDeque;
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::Notify;

use crate::metrics::{DropReason, EventMetrics};

/// One event, ready to go on the wire.
#[derive(Debug)]
pub(crate) struct OutboxEntry {
    pub subject: String,
    pub id: String,
    pub payload: Bytes,
    /// `traceparent`/`tracestate` captured in the publishing span.
    pub headers: Vec<(String, String)>,
}

/// What `push` had to do to make room.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Pushed {
    Queued,
    DroppedOldest { dropped_id: String },
    DroppedIncoming,
}

struct Slot {
    /// Tells the sender's ack for this entry apart from one for an entry that replaced it.
    seq: u64,
    entry: Arc<OutboxEntry>,
}

#[derive(Default)]
struct State {
    queue: VecDeque<Slot>,
    next_seq: u64,
    /// The head's seq while the sender is publishing it.
    in_flight: Option<u64>,
    /// Set by the first drop, cleared by the next ack: one warning per overflow episode
    /// instead of one per event.
    overflowing: bool,
}

pub(crate) struct Outbox {
    state: Mutex<State>,
    capacity: usize,
    metrics: EventMetrics,
    /// Wakes the sender when an entry arrives (one waiter; `notify_one` keeps a permit).
    ready: Notify,
    /// Wakes `flush` callers when the queue becomes empty.
    drained: Notify,
}

impl Outbox {
    pub(crate) fn new(capacity: usize, metrics: EventMetrics) -> Self {
        Self {
            state: Mutex::new(State::default()),
            capacity,
            metrics,
            ready: Notify::new(),
            drained: Notify::new(),
        }
    }

    pub(crate) fn push(&self, entry: OutboxEntry) -> Pushed {
        let (pushed, depth, first_drop) = {
            let mut state = self.state.lock();
            let mut pushed = Pushed::Queued;
            if state.queue.len() >= self.capacity {
                let oldest_droppable = usize::from(state.in_flight.is_some());
                pushed = match state.queue.remove(oldest_droppable) {
                    Some(victim) => Pushed::DroppedOldest {
                        dropped_id: victim.entry.id.clone(),
                    },
                    None => Pushed::DroppedIncoming,
                };
            }
            if pushed != Pushed::DroppedIncoming {
                let seq = state.next_seq;
                state.next_seq += 1;
                state.queue.push_back(Slot {
                    seq,
                    entry: Arc::new(entry),
                });
            }
            let first_drop = pushed != Pushed::Queued && !state.overflowing;
            state.overflowing |= pushed != Pushed::Queued;
            (pushed, state.queue.len(), first_drop)
        };
        self.metrics.set_outbox_depth(depth);
        self.ready.notify_one();
        if pushed != Pushed::Queued {
            self.metrics.dropped(DropReason::OutboxFull);
            if first_drop {
                tracing::warn!(
                    capacity = self.capacity,
                    "event outbox full while NATS is unreachable; dropping the oldest events"
                );
            } else {
                tracing::debug!(?pushed, "event outbox full; event dropped");
            }
        }
        pushed
    }

    /// The head, marked in flight so overflow will not drop it mid-publish.
    pub(crate) fn take_head(&self) -> Option<(u64, Arc<OutboxEntry>)> {
        let mut state = self.state.lock();
        let (seq, entry) = state
            .queue
            .front()
            .map(|slot| (slot.seq, Arc::clone(&slot.entry)))?;
        state.in_flight = Some(seq);
        Some((seq, entry))
    }

    /// The head `seq` reached JetStream: remove it.
    pub(crate) fn acknowledge(&self, seq: u64) {
        let depth = {
            let mut state = self.state.lock();
            state.in_flight = None;
            state.overflowing = false;
            if state.queue.front().is_some_and(|slot| slot.seq == seq) {
                state.queue.pop_front();
            }
            state.queue.len()
        };
        self.metrics.set_outbox_depth(depth);
        if depth == 0 {
            self.drained.notify_waiters();
        }
    }

    /// Publishing the head `seq` failed: keep it at the head for the next attempt.
    pub(crate) fn release(&self, seq: u64) {
        let mut state = self.state.lock();
        if state.in_flight == Some(seq) {
            state.in_flight = None;
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.state.lock().queue.len()
    }

    /// Returns once the queue holds an entry.
    pub(crate) async fn wait_for_entry(&self) {
        while self.len() == 0 {
            self.ready.notified().await;
        }
    }

    /// Returns once the queue is empty (everything acknowledged or dropped).
    pub(crate) async fn wait_drained(&self) {
        loop {
            let notified = self.drained.notified();
            tokio::pin!(notified);
            // Registered before the check, so an ack between check and await is not missed.
            notified.as_mut().enable();
            if self.len() == 0 {
                return;
            }
            notified.await;
        }
    }
}

#[cfg(test)]
mod tests;
