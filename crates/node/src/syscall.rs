//! Blocking kernel calls (stat, statvfs, small file I/O) off the async threads, each with a
//! deadline: a dead FUSE mount or a hung device can make a `stat` block for a long time, and a
//! request must come back with an error instead of hanging with it.

use std::path::Path;
use std::time::Duration;

use crate::error::NodeError;

/// Deadline for local file-system calls; generous, since only a sick mount misses it.
pub const FS_DEADLINE: Duration = Duration::from_secs(30);

/// Runs `f` on the blocking pool; `step` and `path` name it in errors.
pub async fn blocking<T, F>(step: &'static str, path: &Path, f: F) -> Result<T, NodeError>
where
    F: FnOnce() -> std::io::Result<T> + Send + 'static,
    T: Send + 'static,
{
    blocking_raw(step, path, f)
        .await?
        .map_err(|e| NodeError::io(step, path, &e))
}

/// Runs `f`, which makes its own errors, on the blocking pool within [`FS_DEADLINE`].
pub async fn run_blocking<T, F>(step: &'static str, path: &Path, f: F) -> Result<T, NodeError>
where
    F: FnOnce() -> Result<T, NodeError> + Send + 'static,
    T: Send + 'static,
{
    match blocking_raw(step, path, move || Ok(f())).await? {
        Ok(result) => result,
        Err(e) => Err(NodeError::io(step, path, &e)),
    }
}

/// Like [`blocking`], but hands back the `io::Error` so the caller can look at its kind
/// (ENOENT is often an answer, not a failure).
pub async fn blocking_raw<T, F>(
    step: &'static str,
    path: &Path,
    f: F,
) -> Result<std::io::Result<T>, NodeError>
where
    F: FnOnce() -> std::io::Result<T> + Send + 'static,
    T: Send + 'static,
{
    blocking_raw_within(step, path, FS_DEADLINE, f).await
}

/// [`blocking_raw`] with its own deadline (a probe that must answer quickly, a wait bounded by
/// what is left of a larger deadline). A call that misses it keeps its blocking thread until
/// the kernel lets go, but the request goes on.
pub async fn blocking_raw_within<T, F>(
    step: &'static str,
    path: &Path,
    deadline: Duration,
    f: F,
) -> Result<std::io::Result<T>, NodeError>
where
    F: FnOnce() -> std::io::Result<T> + Send + 'static,
    T: Send + 'static,
{
    match tokio::time::timeout(deadline, tokio::task::spawn_blocking(f)).await {
        Ok(Ok(result)) => Ok(result),
        Ok(Err(join)) => Err(NodeError::Io {
            step,
            path: path.to_path_buf(),
            message: format!("blocking task failed: {join}"),
        }),
        Err(_) => Err(NodeError::IoTimedOut {
            step,
            path: path.to_path_buf(),
            after: deadline,
        }),
    }
}

/// Creates `dir` (and its parents) as a directory only root may enter (0700): rbd-fuse mount
/// points, the private fusectl mount.
pub async fn create_private_dir(dir: &Path) -> Result<(), NodeError> {
    use std::os::unix::fs::DirBuilderExt;
    let owned = dir.to_path_buf();
    blocking("create", dir, move || {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(owned)
    })
    .await
}
