//! Named failpoints whose configuration is a value, not a global.
//!
//! Crash-safety tests need to stop a multi-step Ceph operation between two writes and then
//! check that a retry repairs whatever was left behind. The `fail` crate does this with a
//! process-global registry, which makes parallel tests interfere and hides configuration from
//! the code under test. Here a [`Failpoints`] handle is passed in like any other dependency.
//!
//! Module map:
//! - [`action`]: what an armed point does when reached ([`Action`]: fail, fail n times, delay,
//!   pause until resumed, pause until a file exists) and its text form for flags/env
//!   (`name=fail;other=delay(2s)`).
//! - [`registry`]: the [`Failpoints`] handle. `Default` is disarmed and costs one branch per
//!   hit; [`Failpoints::new`] arms a shared registry that also counts every hit, so a test can
//!   assert that each point it iterates was really reached. A point that acts logs
//!   [`REACHED`], so a test can see a child process arrive at a point it holds.
//! - [`error`]: [`Injected`] (returned by an armed point; callers treat it as a crash and run no
//!   clean-up) and [`InvalidSpec`] (a bad text configuration).
//!
//! Flow: code under test calls `fp.hit("crate.op.after_step").await?` between two side effects;
//! the handle looks the name up, bumps its hit counter and applies its [`Action`].

pub mod action;
pub mod error;
pub mod registry;

pub use action::Action;
pub use error::{Injected, InvalidSpec};
pub use registry::{Failpoints, REACHED};
