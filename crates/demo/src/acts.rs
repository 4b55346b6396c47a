//! The RBD story's acts, one file each, in the order [`crate::flow`] runs them: [`setup`],
//! [`provision`] (with the node's side in [`node_act`]), [`inspect`], [`detach`],
//! [`operator_tool`] and [`teardown`]; [`cleanup`] undoes what a failed act left. They are
//! grouped because each is one stretch of the same story over the same world, and the flow
//! is what strings them together.

pub mod cleanup;
pub mod detach;
pub mod inspect;
pub mod node_act;
pub mod operator_tool;
pub mod provision;
pub mod setup;
pub mod teardown;
