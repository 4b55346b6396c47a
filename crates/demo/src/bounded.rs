//! The one way the demo calls into this node's kernel and child processes: off the async
//! threads, with a deadline. Under a mounted volume sits rbd-fuse; if it wedges, a `stat`, a
//! `write` or `df` on the volume blocks in the kernel, and the demo must say so instead of
//! hanging.

use std::ffi::OsStr;
use std::time::Duration;

use crate::error::{Error, Result};

/// Deadline of one file system call or child process of the demo (the node plugin's own
/// commands have their own deadlines).
pub const LOCAL_DEADLINE: Duration = Duration::from_secs(60);

/// Runs `work` on the blocking pool; `what` names it in errors. A call past its deadline is
/// abandoned (a thread blocked in the kernel cannot be cancelled) and reported.
pub async fn blocking<T, F>(what: impl Into<String>, work: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> std::io::Result<T> + Send + 'static,
{
    let what = what.into();
    match tokio::time::timeout(LOCAL_DEADLINE, tokio::task::spawn_blocking(work)).await {
        Ok(Ok(Ok(value))) => Ok(value),
        Ok(Ok(Err(source))) => Err(Error::local(what, source)),
        Ok(Err(join)) => Err(Error::local(what, std::io::Error::other(join.to_string()))),
        Err(_elapsed) => Err(Error::LocalDeadline {
            what,
            deadline: LOCAL_DEADLINE,
        }),
    }
}

/// Runs `program` with `args` and returns its standard output; killed at the deadline. A
/// non-zero exit is an error carrying the program's standard error.
pub async fn command<I, S>(program: &str, args: I) -> Result<String>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let what = format!("`{program}`");
    let child = tokio::process::Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = match tokio::time::timeout(LOCAL_DEADLINE, child).await {
        Ok(Ok(output)) => output,
        Ok(Err(source)) => return Err(Error::local(what, source)),
        Err(_elapsed) => {
            return Err(Error::LocalDeadline {
                what,
                deadline: LOCAL_DEADLINE,
            });
        }
    };
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr).trim().to_owned();
        return Err(Error::local(
            what,
            std::io::Error::other(format!("{}: {stderr}", output.status)),
        ));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_failing_command_reports_its_stderr() {
        let err = command("ls", ["/no/such/path"]).await.unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("`ls`") && text.contains("/no/such/path"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn a_blocking_error_names_what_failed() {
        let err = blocking("read the missing file", || std::fs::read("/no/such/file"))
            .await
            .unwrap_err();
        assert!(
            err.to_string().starts_with("read the missing file: "),
            "{err}"
        );
    }
}
