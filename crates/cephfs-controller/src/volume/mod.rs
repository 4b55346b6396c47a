//! Volumes: create (empty here, from content in `clone`, whose end `clone_watch` announces),
//! delete, expand, get/validate; `request` is the validated CreateVolume the create modules
//! share.

pub mod clone;
pub mod clone_watch;
pub mod context;
pub mod create;
pub mod delete;
pub mod expand;
pub mod get;
pub mod request;
