//! The demo's one error type. A step fails with one of these; the story prints it, cleans up
//! and exits non-zero. Messages name the RPC, object or expectation and never a key.

use std::time::Duration;

/// `Result` with the demo's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// What the bench shares (`sepia-rig`): bed env file, scratch namespace, inventory, dialing
    /// the CSI endpoint, a CSI call that answered an error, a Ceph call of the inspection.
    #[error(transparent)]
    Rig(#[from] rig::Error),
    /// A CSI call answered success but not what the spec requires.
    #[error("{rpc} answered without {missing}")]
    BadReply {
        rpc: &'static str,
        missing: &'static str,
    },
    /// Reading the journal for the inspection.
    #[error("{step}: {source}")]
    Journal {
        step: String,
        #[source]
        source: journal::Error,
    },
    /// What Ceph holds is not what the story says it should.
    #[error("Ceph does not hold what it should: {}", problems.join("; "))]
    Check { problems: Vec<String> },
    /// A file, mount or device of this node could not be read or written.
    #[error("{what}: {source}")]
    Local {
        what: String,
        #[source]
        source: std::io::Error,
    },
    /// A file system call or child process on this node did not finish in time (a wedged
    /// rbd-fuse under a mount makes them hang).
    #[error("{what} did not finish within {}", humantime::format_duration(*deadline))]
    LocalDeadline { what: String, deadline: Duration },
    /// What the node shows (files, mounts, devices) is not what the story says it should.
    #[error("the node does not look as it should: {}", problems.join("; "))]
    OnNode { problems: Vec<String> },
}

impl From<csi::Error> for Error {
    fn from(e: csi::Error) -> Self {
        Error::Rig(rig::Error::Connect(e))
    }
}

impl Error {
    pub(crate) fn rpc(rpc: &'static str, status: &tonic::Status) -> Error {
        Error::Rig(rig::Error::rpc(rpc, status))
    }

    pub(crate) fn ceph(step: impl Into<String>, source: ceph::Error) -> Error {
        Error::Rig(rig::Error::ceph(step, source))
    }

    pub(crate) fn local(what: impl Into<String>, source: std::io::Error) -> Error {
        Error::Local {
            what: what.into(),
            source,
        }
    }

    pub(crate) fn on_node(problem: impl Into<String>) -> Error {
        Error::OnNode {
            problems: vec![problem.into()],
        }
    }

    pub(crate) fn journal(step: impl Into<String>, source: journal::Error) -> Error {
        Error::Journal {
            step: step.into(),
            source,
        }
    }
}
