//! Volume operations, one per file: `provision` (CreateVolume's entry point), `create` (empty
//! volumes, and what all kinds share),
//! `restore` (from a snapshot), `clone` (from a volume), `delete`, `expand`, `get`, `list`,
//! `validate`; `source` records the content source, `context` builds the volume context.

pub mod clone;
pub mod context;
pub mod create;
pub mod delete;
pub mod expand;
pub mod get;
pub mod list;
pub mod provision;
pub mod restore;
pub mod source;
pub mod validate;
