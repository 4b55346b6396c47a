//! The crate's one error type. Variants follow the errnos callers must tell apart to stay
//! idempotent (a CSI retry that finds its image already there, or already gone, must succeed), so
//! mapping is by errno, in one place (`Error::from_errno`).
//!
//! Messages name the operation and the object, image or pool it touched. They are built only
//! from names, never from credentials, so they are safe to log and to return over gRPC.

use std::time::Duration;

/// `Result` with this crate's [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// ENOENT.
    #[error("not found: {what}")]
    NotFound { what: String },
    /// EEXIST.
    #[error("already exists: {what}")]
    AlreadyExists { what: String },
    /// EBUSY: an image with watchers, a protected snapshot, an image still open.
    #[error("busy: {what}")]
    Busy { what: String },
    /// EBUSY from a write that asserted a lock: this connection no longer holds it (expired,
    /// broken, taken over), so the write was refused and changed nothing.
    #[error("lock no longer held: {what}")]
    NotLocked { what: String },
    /// ENOTEMPTY: an image with snapshots, a namespace with images.
    #[error("not empty: {what}")]
    NotEmpty { what: String },
    /// EACCES/EPERM: wrong cephx key or missing caps.
    #[error("permission denied: {what}")]
    PermissionDenied { what: String },
    /// EINVAL from Ceph, or input we refuse before calling Ceph (the message names the field).
    #[error("invalid argument: {what}")]
    InvalidArgument { what: String },
    /// Our deadline expired, or librados gave up with ETIMEDOUT under the same deadline.
    #[error("timed out after {after:?}: {op}")]
    TimedOut { op: String, after: Duration },
    /// Any other errno.
    #[error("{op} failed: {message} (errno {errno})")]
    Ceph {
        op: String,
        errno: i32,
        message: String,
    },
    /// A mon/mgr command returned an error; `status` is Ceph's own explanation.
    #[error("command {prefix:?} failed with errno {errno}: {status}")]
    Command {
        prefix: String,
        errno: i32,
        status: String,
    },
    /// Ceph answered with something we could not decode (e.g. a command's JSON).
    #[error("unexpected answer to {op}: {message}")]
    InvalidResponse { op: String, message: String },
    /// A connect refused without trying: too many are in flight, in total or as one identity
    /// (see `cache`), so connects that cannot succeed do not fill the blocking pool.
    #[error("not connecting: {what}")]
    ConnectLimit { what: String },
    /// The blocking task running a Ceph call panicked or was cancelled by runtime shutdown.
    #[error("{op} did not complete: {message}")]
    TaskFailed { op: String, message: String },
}

impl Error {
    /// Maps a (positive) errno from librados/librbd to the variant callers match on.
    /// `what` names operation and object; `deadline` is the timeout in force for the call, so a
    /// librados ETIMEDOUT reports the same bound as our own deadline would.
    pub(crate) fn from_errno(errno: i32, what: String, deadline: Duration) -> Error {
        match errno {
            libc::ENOENT => Error::NotFound { what },
            libc::EEXIST => Error::AlreadyExists { what },
            libc::EBUSY => Error::Busy { what },
            libc::ENOTEMPTY => Error::NotEmpty { what },
            libc::EACCES | libc::EPERM => Error::PermissionDenied { what },
            libc::EINVAL => Error::InvalidArgument { what },
            libc::ETIMEDOUT => Error::TimedOut {
                op: what,
                after: deadline,
            },
            _ => Error::Ceph {
                op: what,
                errno,
                message: strerror(errno),
            },
        }
    }

    /// The errno this error stands for, when it stands for one.
    pub fn errno(&self) -> Option<i32> {
        match self {
            Error::NotFound { .. } => Some(libc::ENOENT),
            Error::AlreadyExists { .. } => Some(libc::EEXIST),
            Error::Busy { .. } | Error::NotLocked { .. } => Some(libc::EBUSY),
            Error::NotEmpty { .. } => Some(libc::ENOTEMPTY),
            Error::PermissionDenied { .. } => Some(libc::EACCES),
            Error::InvalidArgument { .. } => Some(libc::EINVAL),
            Error::TimedOut { .. } => Some(libc::ETIMEDOUT),
            Error::Ceph { errno, .. } | Error::Command { errno, .. } => Some(*errno),
            Error::InvalidResponse { .. }
            | Error::TaskFailed { .. }
            | Error::ConnectLimit { .. } => None,
        }
    }

    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::NotFound { .. })
    }

    pub fn is_already_exists(&self) -> bool {
        matches!(self, Error::AlreadyExists { .. })
    }

    pub fn is_timed_out(&self) -> bool {
        matches!(self, Error::TimedOut { .. })
    }

    /// A connect refused because too many are in flight ([`Error::ConnectLimit`]).
    pub fn is_connect_limit(&self) -> bool {
        matches!(self, Error::ConnectLimit { .. })
    }

    /// EBUSY: among others, a lock held by someone else.
    pub fn is_busy(&self) -> bool {
        matches!(self, Error::Busy { .. })
    }

    /// A fenced write was refused because its lock is gone ([`Error::NotLocked`]).
    pub fn is_not_locked(&self) -> bool {
        matches!(self, Error::NotLocked { .. })
    }

    /// ECANCELED: a compare step of a write op found another value (or no key), so the op
    /// wrote nothing ([`crate::WriteOp::omap_cmp_eq`]).
    pub fn is_compare_failed(&self) -> bool {
        self.errno() == Some(libc::ECANCELED)
    }

    /// Refusal of caller input before any Ceph call; `what` names the field and the rule.
    pub(crate) fn invalid(what: impl Into<String>) -> Error {
        Error::InvalidArgument { what: what.into() }
    }
}

/// The libc description of an errno, without std's " (os error N)" suffix.
fn strerror(errno: i32) -> String {
    let text = std::io::Error::from_raw_os_error(errno).to_string();
    match text.rfind(" (os error") {
        Some(cut) => text[..cut].to_string(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errnos_map_to_matchable_variants_and_back() {
        let d = Duration::from_secs(3);
        for errno in [
            libc::ENOENT,
            libc::EEXIST,
            libc::EBUSY,
            libc::ENOTEMPTY,
            libc::EACCES,
            libc::EINVAL,
            libc::ETIMEDOUT,
            libc::EIO,
        ] {
            let e = Error::from_errno(errno, "op of x".into(), d);
            assert_eq!(e.errno(), Some(errno), "{e:?}");
        }
        assert!(Error::from_errno(libc::ENOENT, "x".into(), d).is_not_found());
        assert!(matches!(
            Error::from_errno(libc::EPERM, "x".into(), d),
            Error::PermissionDenied { .. }
        ));
        let io = Error::from_errno(libc::EIO, "read of object o".into(), d);
        assert_eq!(
            io.to_string(),
            "read of object o failed: Input/output error (errno 5)"
        );
    }
}
