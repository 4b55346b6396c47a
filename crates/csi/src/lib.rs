//! The CSI wire layer every Sepia binary shares: protobuf types, gRPC clients and servers,
//! and the unix-socket plumbing around them. It knows nothing of Ceph or Kubernetes.
//!
//! Module map:
//! - [`v1`] — CSI v1.12 (`csi.v1`) messages, `*_client` and `*_server` modules, generated at
//!   build time from `proto/csi.proto` (wire-identical to the official spec).
//! - [`registration`] — kubelet's plugin-registration API v1, from
//!   `proto/pluginregistration.proto`.
//! - [`redact`] — why `{:?}` of a request never shows secrets: messages with a
//!   `csi_secret` field get generated `Debug` impls that print keys, not values.
//! - [`secret_map`] — [`SecretMap`], the type a `secrets` map has everywhere in our code:
//!   redacted `Debug`/`Display`, values wiped on drop.
//! - [`endpoint`] — `unix:///path` / plain path parsing shared by both sides.
//! - [`quote`] — a client's value in an error or log line, escaped and cut after 256 bytes.
//! - [`server`] — bind a socket (stale-socket replacement, chmod) and hand tonic an
//!   incoming stream; [`socket_guard`] removes the file when serving stops.
//! - [`client`] — dial an endpoint with a deadline.
//! - [`descriptor`] — the compiled `FileDescriptorSet`.
//! - [`error`] — the crate's error enum.
//!
//! A driver binary: `server::bind(endpoint)` → `tonic::transport::Server::builder()
//! .add_service(v1::identity_server::IdentityServer::new(..))...
//! .serve_with_incoming_shutdown(incoming, signal)`. A sidecar: `client::connect(endpoint,
//! timeout)` → `v1::controller_client::ControllerClient::new(channel)`.

pub mod client;
pub mod descriptor;
pub mod endpoint;
pub mod error;
pub mod quote;
pub mod redact;
pub mod registration;
pub mod secret_map;
pub mod server;
pub mod socket_guard;
pub mod v1;

pub use error::Error;
pub use secret_map::SecretMap;
