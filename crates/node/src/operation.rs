//! The CSI node operations, each a plain async function over the [`crate::driver::NodeDriver`]
//! state, so it can be tested without gRPC: [`stage`] (with [`prepare`], the file system before
//! the mount), [`unstage`] (also the teardown of a failed stage), [`publish`] (and unpublish),
//! [`expand`], [`stats`] (through [`crate::health::stats_gate`], one measurement per volume in the
//! kernel at a time). All but stage first prove the path is this volume's own ([`crate::ownership`]).

pub mod expand;
pub mod prepare;
pub mod publish;
pub mod stage;
pub mod stats;
pub mod unstage;
