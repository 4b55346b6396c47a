//! How one operation failed, and the per-phase tally of failures.
//!
//! CSI failures are counted by their gRPC code, floor failures by the errno class `sepia-ceph`
//! maps them to. "In use" refusals are counted on their own because DeleteVolume must never
//! refuse a volume nobody uses: a spurious refusal is a bug even when a retry would succeed.

use std::collections::BTreeMap;

use rig::grpc_code::code_name;
use serde::Serialize;

/// Messages kept per phase, so a failing run shows what went wrong without flooding the table.
const KEPT_MESSAGES: usize = 3;

/// The result of one timed operation.
pub type OpResult<T> = std::result::Result<T, OpError>;

/// One failed operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpError {
    /// gRPC code (`FAILED_PRECONDITION`) or Ceph error class (`Busy`, `TimedOut`).
    pub code: &'static str,
    pub message: String,
}

impl OpError {
    pub fn new(code: &'static str, message: impl Into<String>) -> OpError {
        OpError {
            code,
            message: message.into(),
        }
    }

    /// A CSI status. The message is the driver's; drivers must not put secrets there.
    pub fn from_status(status: &tonic::Status) -> OpError {
        OpError::new(code_name(status.code()), status.message())
    }

    /// A failed librados/librbd call of the floor; `step` says which of the operation's calls.
    pub fn from_ceph(step: &str, err: &ceph::Error) -> OpError {
        OpError::new(ceph_code(err), format!("{step}: {err}"))
    }

    /// A refusal because the volume is (or is thought to be) in use: FAILED_PRECONDITION as the
    /// spec names it, or any code whose message says "in use" / "being used" (ceph-csi answers
    /// INTERNAL "rbd ... is still being used"), or EBUSY from Ceph.
    pub fn is_in_use(&self) -> bool {
        let message = self.message.to_ascii_lowercase();
        self.code == "FAILED_PRECONDITION"
            || self.code == "Busy"
            || message.contains("in use")
            || message.contains("being used")
    }
}

/// The class of a Ceph error, named like the `sepia-ceph` variant.
pub fn ceph_code(err: &ceph::Error) -> &'static str {
    match err {
        ceph::Error::NotFound { .. } => "NotFound",
        ceph::Error::AlreadyExists { .. } => "AlreadyExists",
        ceph::Error::Busy { .. } => "Busy",
        ceph::Error::NotEmpty { .. } => "NotEmpty",
        ceph::Error::PermissionDenied { .. } => "PermissionDenied",
        ceph::Error::InvalidArgument { .. } => "InvalidArgument",
        ceph::Error::TimedOut { .. } => "TimedOut",
        ceph::Error::Command { .. } => "Command",
        ceph::Error::InvalidResponse { .. } => "InvalidResponse",
        ceph::Error::TaskFailed { .. } => "TaskFailed",
        _ => "Ceph",
    }
}

/// Failures of one phase.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ErrorTally {
    /// Failures per code.
    pub by_code: BTreeMap<&'static str, usize>,
    /// How many of them were "in use" refusals.
    pub in_use: usize,
    /// The first few messages, verbatim.
    pub messages: Vec<String>,
}

impl ErrorTally {
    pub fn record(&mut self, err: &OpError) {
        *self.by_code.entry(err.code).or_default() += 1;
        if err.is_in_use() {
            self.in_use += 1;
        }
        if self.messages.len() < KEPT_MESSAGES {
            self.messages.push(format!("{}: {}", err.code, err.message));
        }
    }

    pub fn total(&self) -> usize {
        self.by_code.values().sum()
    }

    /// `NOT_FOUND×2 INTERNAL×1 (in use: 1)`, or `-` when nothing failed.
    pub fn brief(&self) -> String {
        if self.by_code.is_empty() {
            return "-".to_owned();
        }
        let mut parts: Vec<String> = self
            .by_code
            .iter()
            .map(|(code, n)| format!("{code}×{n}"))
            .collect();
        if self.in_use > 0 {
            parts.push(format!("(in use: {})", self.in_use));
        }
        parts.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_use_refusals_are_recognised_by_code_or_message() {
        assert!(OpError::new("FAILED_PRECONDITION", "volume has watchers").is_in_use());
        assert!(OpError::new("INTERNAL", "rbd rbd/csi-vol-x is still being used").is_in_use());
        assert!(OpError::new("Busy", "remove: busy").is_in_use());
        assert!(!OpError::new("NOT_FOUND", "no such volume").is_in_use());
    }

    #[test]
    fn tally_counts_codes_in_use_and_keeps_a_few_messages() {
        let mut tally = ErrorTally::default();
        for _ in 0..4 {
            tally.record(&OpError::new("INTERNAL", "boom"));
        }
        tally.record(&OpError::new("FAILED_PRECONDITION", "in use"));
        assert_eq!(tally.total(), 5);
        assert_eq!(tally.in_use, 1);
        assert_eq!(tally.messages.len(), KEPT_MESSAGES);
        assert_eq!(
            tally.brief(),
            "FAILED_PRECONDITION×1 INTERNAL×4 (in use: 1)"
        );
        assert_eq!(ErrorTally::default().brief(), "-");
    }
}
