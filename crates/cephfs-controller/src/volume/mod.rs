//! Volumes: create (empty here, from content in `clone`), delete, expand, get/validate.

pub mod clone;
pub mod context;
pub mod create;
pub mod delete;
pub mod expand;
pub mod get;
