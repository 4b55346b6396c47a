//! Snapshot operations: `create` (the cut, on the reply's path), `prepare` (clone image and
//! inner snapshot, after the reply), `delete`, `list` (and GetSnapshot); `record` keeps each
//! snapshot's creation time and size; `resume` finishes preparations a restart cut short;
//! `announce` publishes the end of a background preparation for the sidecars waiting on it.

pub mod announce;
pub mod create;
pub mod delete;
pub mod list;
pub mod prepare;
pub mod record;
pub mod resume;
