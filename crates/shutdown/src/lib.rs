//! How a Sepia binary stops, shared by the plugins, the sidecars and the tools. It depends on
//! nothing of Kubernetes or Ceph, so every binary can use it (docs/architecture.md, §3).
//!
//! - [`signal`]: the first SIGTERM (kubelet stopping the pod) or SIGINT, as a future
//!   ([`requested`]) or a cancellation token ([`on_request`]).
//! - [`exit`]: a start-up or serving failure logged with its causes, as the exit code
//!   ([`exit_code`]); the parse-only mode's exit code ([`exit::checked`]).

pub mod exit;
pub mod signal;

pub use exit::{exit_code, log_failure};
pub use signal::{on_request, requested};
