//! The `sepia` operator tool, thin over the controller's own lookups, locks and deletes (so it
//! reads and changes Ceph exactly as the plugins do).
//!
//! Module map:
//! - [`args`]: the command line (clap); shared flags; keys only ever from files.
//! - [`context`]: a connection to one configured cluster through the controller's `State`.
//! - [`kube`]: optional, read-only Kubernetes access (what references an ID; PVC/PV handles).
//! - [`inspect`] (+ [`image_info`], `inspect::cephfs`): one volume or snapshot, everything known
//!   about it.
//! - [`events`]: the NATS JetStream events stream, filtered, followed.
//! - [`doctor`] (+ `doctor::kubernetes`): setup checks, a fix per failure.
//! - [`orphans`] (+ `pools`, `trash`, `kubernetes`, `delete`, `cephfs`): leftovers in the RBD
//!   pools and CephFS filesystems, and their removal under the controller's locks.
//! - [`cephfs`]: a cluster's CephFS filesystems, secrets and driver for `inspect::cephfs` and
//!   `orphans::cephfs`, through the CephFS controller's own lookup; it knows neither command.
//! - [`render`]: tables for people, JSON for scripts (progress bars live with the scans).
//! - [`error`]: the one error type.

pub mod args;
pub mod cephfs;
pub mod context;
pub mod doctor;
pub mod error;
pub mod events;
pub mod image_info;
pub mod inspect;
pub mod kube;
pub mod orphans;
pub mod render;

use args::{Cli, Command};
use clap::CommandFactory;

/// Runs one command line.
pub async fn run(cli: Cli) -> error::Result<()> {
    match cli.command {
        Command::Inspect(args) => inspect::run(&args).await,
        Command::Orphans(args) => orphans::run(&args).await,
        Command::Doctor(args) => doctor::run(&args).await,
        Command::Events(args) => events::run(&args).await,
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "sepia", &mut std::io::stdout());
            Ok(())
        }
    }
}
