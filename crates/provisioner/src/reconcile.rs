//! One pass over one queued key, as the workers of [`crate::watch`] run it: [`claim`] for the
//! claim queue, [`volume`] for the volume queue. Each reads the caches, takes the step its
//! decision ([`crate::claim_decision`], [`crate::volume_decision`]) chose, and tells the queue
//! how that went (`sidecar::Outcome`); a failure is recorded (Event, metrics) before it is
//! retried with the key's backoff.

pub mod claim;
pub mod volume;
