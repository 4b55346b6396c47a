//! A binary's last word: why it could not start (or stopped serving), every cause in the chain
//! on one line, and the exit status Kubernetes restarts the pod on.

use std::error::Error;
use std::process::ExitCode;

/// `ExitCode::SUCCESS` for `Ok`; for `Err`, the error logged ([`log_failure`]) and
/// `ExitCode::FAILURE`.
pub fn exit_code<E: Error + 'static>(component: &str, result: Result<(), E>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            log_failure(component, &error);
            ExitCode::FAILURE
        }
    }
}

/// The exit status of a plugin's parse-only mode (`--check-args`): 0 when the flags are fine,
/// 2 with the broken rule on stderr when not. Nothing is set up to log to then.
pub fn checked(component: &str, checked: Result<(), String>) -> ExitCode {
    match checked {
        Ok(()) => {
            eprintln!("{component}: arguments OK");
            ExitCode::SUCCESS
        }
        Err(rule) => {
            eprintln!("{component}: {rule}");
            ExitCode::from(2)
        }
    }
}

/// Logs `error` with its causes as the reason `component` stops: through the log once it is
/// set up, else on stderr as `<component>: <error>` (before telemetry is up, or when it could
/// not be).
pub fn log_failure(component: &str, error: &(dyn Error + 'static)) {
    let error = chain(error);
    if tracing::dispatcher::has_been_set() {
        tracing::error!(%error, "{component} stops");
    } else {
        eprintln!("{component}: {error}");
    }
}

/// `error: cause: cause's cause`, leaving out a cause whose text the message already holds
/// (many errors here repeat their source in their own message).
pub fn chain(error: &(dyn Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(current) = cause {
        let said = current.to_string();
        if !text.contains(&said) {
            text.push_str(": ");
            text.push_str(&said);
        }
        cause = current.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("connection refused")]
    struct Leaf;

    #[derive(Debug, thiserror::Error)]
    #[error("{message}")]
    struct Wrapping {
        message: &'static str,
        #[source]
        source: Leaf,
    }

    #[test]
    fn every_cause_is_named_once() {
        let bare = Wrapping {
            message: "metrics endpoint",
            source: Leaf,
        };
        assert_eq!(chain(&bare), "metrics endpoint: connection refused");
        let repeating = Wrapping {
            message: "binding 127.0.0.1:9090: connection refused",
            source: Leaf,
        };
        assert_eq!(
            chain(&repeating),
            "binding 127.0.0.1:9090: connection refused"
        );
    }

    #[test]
    fn ok_is_success_and_an_error_is_failure() {
        assert_eq!(exit_code::<Leaf>("sepia-test", Ok(())), ExitCode::SUCCESS);
        assert_eq!(exit_code("sepia-test", Err(Leaf)), ExitCode::FAILURE);
        assert_eq!(checked("sepia-test", Ok(())), ExitCode::SUCCESS);
        assert_eq!(checked("sepia-test", Err("bad".into())), ExitCode::from(2));
    }
}
