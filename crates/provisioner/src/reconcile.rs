//! One pass over one queued key, as the workers of [`crate::watch`] run it: [`claim`] for the
//! claim queue (with [`cleanup`], its step for a claim whose in-flight record names a volume it
//! no longer wants), [`volume`] for the volume queue. Each reads the caches, takes the step its
//! decision ([`crate::claim_decision`], [`crate::volume_decision`]) chose, and tells the queue
//! how that went (`sidecar::Outcome`); a failure is recorded (Event, metrics) before it is
//! retried with the key's backoff.

pub mod claim;
pub mod cleanup;
pub mod volume;
