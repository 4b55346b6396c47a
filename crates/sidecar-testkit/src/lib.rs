//! Real parts for the sidecars' integration tests, shared by the provisioner, resizer and
//! attacher: the binaries run as child processes against the in-process API stand-in, a real
//! `sepia-controller` on its own RADOS namespace of the local bed (`sepia-testbed`), and a
//! nats-server of the test's own. The test plays kubelet and kube-controller-manager by
//! writing objects; nothing here is a mock.
//!
//! Processes, free ports and the test's own nats-server come from `sepia-testbed`, which knows
//! nothing of Kubernetes; what needs the stand-in, CSI or the event schema is here.
//!
//! Module map:
//! - [`controller`]: the real `sepia-controller` on a fresh RADOS namespace (or a second one
//!   beside it, as every sidecar pod runs its own), and the Ceph-side checks tests make through
//!   the `rbd`/`rados` CLIs (independent of the code under test).
//! - [`api_proxy`]: a per-process TCP proxy to the stand-in that the test can sever (one
//!   replica cut off from the API server).
//! - [`csi_proxy`]: a per-sidecar gRPC proxy to its driver writing every call into one
//!   [`csi_proxy::CallLog`]: the order of several processes' CSI calls, without clocks; it can
//!   hold one method's answers ([`csi_proxy::AnswerHold`]) so a call's outcome stays unknown
//!   to the sidecar for as long as the test wants.
//! - [`csi_socket`]: waiting for a CSI plugin child to serve its socket.
//! - [`nats`]: what the `SEPIA` stream of a test's nats-server holds.
//! - [`objects`]: Kubernetes objects as the other actors write them, written into the
//!   stand-in.
//! - [`observed`]: waiting for and reading what the sidecars wrote (objects, Events, Leases).
//! - [`pool`]: an RBD pool of the test's own beside the bed's ([`pool::ScratchPool`]).
//! - [`replicas`]: the flags of a leader-elected test replica, and the standby take-over
//!   scenario every leader-elected sidecar must pass.
//! - [`http`]: `GET` on a sidecar's `/metrics` and `/healthz`.
//!
//! A test: [`Controller::start`] → `StandIn::start` + kubeconfig → `NatsServer::start` →
//! `Process::spawn` of the sidecar with [`replicas::flags`] → write objects with
//! [`objects::put`] → [`observed::wait`] for the outcome → assert on the stand-in, Ceph
//! ([`Controller`]), `/metrics` ([`http::get`]) and NATS ([`nats::stored_json`]).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test support: fail loudly

pub mod api_proxy;
pub mod controller;
pub mod csi_proxy;
pub mod csi_socket;
pub mod http;
pub mod nats;
pub mod objects;
pub mod observed;
pub mod pool;
pub mod replicas;

pub use controller::Controller;

/// The driver name the controller registers under in every test.
pub const DRIVER: &str = "rbd.csi.sepia.io";
/// The `clusterID` of the bed in the controller's cluster configuration.
pub const CLUSTER_ID: &str = "bed";
pub const GI: u64 = 1 << 30;
