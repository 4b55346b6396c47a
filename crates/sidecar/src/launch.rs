//! [`launch`]: the `main` every sidecar binary shares, so each binary's `main.rs` is only its
//! flags and its wiring. Logging comes first (a start-up failure must be logged like any
//! other), and every failure becomes a non-zero exit so Kubernetes restarts the pod.

use std::fmt::Display;
use std::future::Future;
use std::process::ExitCode;

use crate::args::SidecarArgs;
use crate::runtime::init_telemetry;

/// Installs telemetry from the shared flags in `args`, runs `run(args)` and turns its result
/// into the exit code. Before telemetry is up, an error can only go to stderr.
pub async fn launch<A, E, Fut>(
    component: &str,
    args: A,
    shared: fn(&A) -> &SidecarArgs,
    run: impl FnOnce(A) -> Fut,
) -> ExitCode
where
    E: Display,
    Fut: Future<Output = Result<(), E>>,
{
    let _telemetry = match init_telemetry(shared(&args), component) {
        Ok(guard) => guard,
        Err(error) => {
            eprintln!("{component}: {error}");
            return ExitCode::FAILURE;
        }
    };
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "{component} stops");
            ExitCode::FAILURE
        }
    }
}
