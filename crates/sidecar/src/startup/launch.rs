//! [`launch`]: the `main` every sidecar binary shares, so each binary's `main.rs` is only its
//! flags and its wiring. Logging comes first (a start-up failure must be logged like any
//! other), then the one warning about ignored flags; every failure becomes a non-zero exit so
//! Kubernetes restarts the pod.

use std::error::Error;
use std::future::Future;
use std::process::ExitCode;

use crate::runtime::init_telemetry;
use crate::startup::command::{SidecarCommand, warn_ignored};

/// Installs telemetry from the shared flags of `command`, warns about ignored flags, runs
/// `run(command)` and turns its result into the exit code, the error logged with its causes
/// ([`shutdown::log_failure`]; before telemetry is up, on stderr).
///
/// A failure exits the process here and now (status 1), without waiting for the runtime's
/// blocking threads: after a lost Lease nothing of this process may outlive its deadline.
pub async fn launch<C, E, Fut>(command: C, run: impl FnOnce(C) -> Fut) -> ExitCode
where
    C: SidecarCommand,
    E: Error + 'static,
    Fut: Future<Output = Result<(), E>>,
{
    let telemetry = match init_telemetry(command.shared(), C::COMPONENT) {
        Ok(guard) => guard,
        Err(error) => {
            shutdown::log_failure(C::COMPONENT, &error);
            return ExitCode::FAILURE;
        }
    };
    warn_ignored(&command);
    match run(command).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            shutdown::log_failure(C::COMPONENT, &error);
            drop(telemetry);
            std::process::exit(1);
        }
    }
}
