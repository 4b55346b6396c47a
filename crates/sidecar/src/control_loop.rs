//! The pieces of a controller loop, what every sidecar runs while leading. They sit together
//! because each only makes sense inside the loop they make up: watch caches fill
//! ([`watch_cache`]), relevant changes ([`last_seen`]) queue keys on a de-duplicating,
//! backoff-aware queue ([`work_queue`], retried under [`retry`]'s policy), workers drain it
//! ([`workers`]), and [`watch_queue`] runs all of it as one loop until the stop token.

pub mod last_seen;
pub mod retry;
pub mod watch_cache;
pub mod watch_queue;
pub mod work_queue;
pub mod workers;
