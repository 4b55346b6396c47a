//! The runtime every Sepia sidecar (provisioner, snapshotter, resizer, attacher) shares, so
//! each binary is only its Kubernetes logic. Nothing here knows Ceph, or which objects a
//! sidecar watches.
//!
//! Module map:
//! - [`args`]: [`SidecarArgs`], the shared flags with upstream's names (`--csi-address`,
//!   `--leader-election*`, `--kube-api-qps`, `--http-endpoint`, `--retry-interval-*`, ...).
//! - [`kube_client`] + [`rate_limit`]: kube clients from `--kubeconfig` or in-cluster, behind a
//!   token bucket (`--kube-api-qps`/`--kube-api-burst`).
//! - [`lease_name`]: upstream's Lease names, sanitizing and holder identity.
//! - [`leader`]: Lease leader election with client-go semantics on its own client; fail-stop
//!   on a missed renew deadline; the health signal for `/healthz`.
//! - [`csi_conn`]: dialing the driver, the Probe/GetPluginInfo/capabilities handshake, timed
//!   and metered calls (`csi_sidecar_operations_seconds`).
//! - [`retry`]: which gRPC codes mean "still in progress", and the per-object backoff.
//! - [`work_queue`]: the keyed, de-duplicating, backoff-aware queue controllers run on.
//! - [`k8s_events`]: non-blocking Kubernetes Event recording.
//! - [`nats`]: the NATS JetStream event publisher from `--nats-url`.
//! - [`runtime`]: [`Sidecar`], which wires the above and runs the controllers while leading.
//! - [`error`] holds [`SidecarError`].
//!
//! A binary: parse flags (flattening [`SidecarArgs`]) → [`runtime::init_telemetry`] →
//! [`Sidecar::start`] (kube client, CSI handshake, NATS) → register its metrics in
//! `sidecar.registry` → [`Sidecar::run`] with its controllers.

pub mod args;
pub mod csi_conn;
pub mod error;
pub mod k8s_events;
pub mod kube_client;
pub mod leader;
pub mod lease_name;
pub mod nats;
pub mod rate_limit;
pub mod retry;
pub mod runtime;
pub mod work_queue;

pub use args::SidecarArgs;
pub use csi_conn::{CsiConnection, DriverInfo};
pub use error::SidecarError;
pub use k8s_events::EventRecorder;
pub use retry::{Backoff, Progress, classify};
pub use runtime::Sidecar;
pub use work_queue::WorkQueue;
