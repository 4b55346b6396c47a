//! The runtime every Sepia sidecar (provisioner, snapshotter, resizer, attacher) shares, so
//! each binary is only its Kubernetes logic. Nothing here knows Ceph, or which objects a
//! sidecar watches.
//!
//! Module map:
//! - [`startup`]: how a binary starts, its command line. [`startup::args`]: [`SidecarArgs`],
//!   the shared flags with upstream's names (`--csi-address`, `--leader-election*`,
//!   `--kube-api-qps`, `--http-endpoint`, `--retry-interval-*`, ...), read in Go's syntaxes
//!   ([`startup::go_flag`]); [`startup::command`]: [`SidecarCommand`], a binary's whole
//!   command line (its upstream defaults, no-op flags and feature gates),
//!   [`startup::command::parse`] and the parse-only `--check-args`; [`startup::upstream_only`]:
//!   `upstream_only_flags!`, a binary's flags kept only for upstream's command lines.
//! - [`kube_client`]: kube clients from `--kubeconfig` or in-cluster, behind a token bucket
//!   ([`kube_client::rate_limit`], `--kube-api-qps`/`--kube-api-burst`).
//! - [`leader_election`]: which replica may act, fail-stop. [`leader_election::lease_name`]:
//!   upstream's Lease names, sanitizing and holder identity; [`leader_election::leader`]: Lease
//!   leader election with client-go semantics on its own client, the fail-stop timings, the
//!   health signal for `/healthz/leader-election`; [`leader_election::leadership`]:
//!   controllers run only while leading, aborted (not drained) when the Lease is lost;
//!   [`leader_election::fail_stop`]: the OS-thread watchdog that ends a leader past its
//!   deadline.
//! - [`csi_conn`]: dialing the driver, the Probe/GetPluginInfo/capabilities handshake, timed
//!   and metered calls (`csi_sidecar_operations_seconds`).
//! - [`k8s_events`]: non-blocking Kubernetes Event recording.
//! - [`patch`]: conditional writes — merge patches carrying the resourceVersion they were
//!   decided on, for objects and their status (the verb upstream's RBAC grants).
//! - [`nats`]: the NATS JetStream event publisher from `--nats-url`.
//! - [`wakeups`]: the leader's NATS consumer of the controller's background-work events
//!   (snapshot prepared or its preparation failed), handed to the binary once each to requeue waiters.
//! - [`runtime`]: [`Sidecar`], which wires the above and runs the controllers while leading;
//!   [`Handles`], what a watch loop calls through (kube client, driver, event outlets);
//!   [`runtime::launch`]: [`launch()`], the `main` of every sidecar binary (telemetry, run, exit
//!   code), and [`runtime::launch::start`] (own rules, then [`Sidecar::start`]).
//! - [`error`] holds [`SidecarError`].
//!
//! The pieces of a controller loop (what runs while leading), [`control_loop`]:
//! - [`control_loop::watch_cache`]: cluster-wide caches of one kind and the watch events that
//!   fill them.
//! - [`control_loop::last_seen`]: per-object fingerprints, so only relevant changes queue work.
//! - [`control_loop::work_queue`]: the keyed, de-duplicating, backoff-aware queue controllers
//!   run on; [`control_loop::retry`]: which gRPC codes mean "still in progress", and the
//!   per-object backoff.
//! - [`control_loop::workers`]: waiting for the caches, the workers over a [`WorkQueue`],
//!   periodic resync.
//! - [`control_loop::watch_queue`]: [`WatchQueue`], the above as one loop — watch events
//!   ([`Change`]s) queue keys, workers drain the queue until the stop token.
//!
//! What CSI calls carry, built from Kubernetes objects the same way in every sidecar:
//! - [`volume_capability`]: access modes and volume modes as CSI capabilities.
//! - [`secret_template`]: the Secret a class names (`…-secret-name`/`-namespace` with
//!   `${…}` tokens), resolved under upstream's per-kind token rules.
//! - [`secrets`]: CSI secrets from a Secret (by name or a PV's `SecretReference`).
//! - [`quantity`]: Kubernetes quantities as bytes and back.
//!
//! A binary: [`startup::command::parse`] its [`SidecarCommand`] (flattening [`SidecarArgs`]) →
//! [`launch()`] (telemetry, ignored-flag warning) →
//! [`runtime::launch::start`] (its own rules, then [`Sidecar::start`]: kube client, CSI
//! handshake, NATS) → register its metrics in `sidecar.registry` → [`Sidecar::run`] with its
//! controllers, which get [`Sidecar::handles`] and build on [`control_loop::watch_cache`] and
//! [`control_loop::watch_queue`].

pub mod control_loop;
pub mod csi_conn;
pub mod error;
pub mod k8s_events;
pub mod kube_client;
pub mod leader_election;
pub mod nats;
pub mod patch;
pub mod quantity;
pub mod runtime;
pub mod secret_template;
pub mod secrets;
pub mod startup;
pub mod volume_capability;
pub mod wakeups;

pub use control_loop::last_seen::LastSeen;
pub use control_loop::retry::{Backoff, Progress, classify};
pub use control_loop::watch_queue::{Change, WatchQueue};
pub use control_loop::work_queue::WorkQueue;
pub use control_loop::workers::{LoopSettings, Outcome};
pub use csi_conn::{CsiConnection, DriverInfo};
pub use error::SidecarError;
pub use k8s_events::EventRecorder;
pub use runtime::launch::launch;
pub use runtime::{Handles, Sidecar};
pub use startup::args::SidecarArgs;
pub use startup::command::{Gate, SidecarCommand};
pub use wakeups::{Acted, Wakeups};
