//! The CephFS half of the story, run after the RBD one when its flags are given: [`flow`]
//! (its plan and clean-up), [`world`] (what it holds), [`act`] (its steps) and [`in_ceph`]
//! (what Ceph holds of it). Grouped because the RBD story uses none of it, while it reuses the RBD story's
//! pieces (drivers, node steps and reads, the journal view).

pub mod act;
pub mod flow;
pub mod in_ceph;
pub mod world;
