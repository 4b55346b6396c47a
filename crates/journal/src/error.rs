//! The crate's one error type.
//!
//! Variants are grouped by what the controller does with them (the gRPC code in parentheses), so
//! its mapping is one `match`. Messages name the request name or uuid and the step; the journal
//! never holds secrets, so nothing here can leak one.

use uuid::Uuid;

use crate::kind::Kind;

/// Errors of the journal, the ID codec and the operation locks.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// (gRPC INVALID_ARGUMENT / NOT_FOUND) A volume or snapshot ID does not follow the format.
    #[error("malformed volume/snapshot ID: {field} {rule}")]
    InvalidId {
        /// Part of the ID that broke the rule.
        field: &'static str,
        /// The rule.
        rule: &'static str,
    },

    /// (gRPC INVALID_ARGUMENT) A request or configuration value breaks a rule.
    #[error("invalid {field}: {rule}")]
    InvalidArgument {
        /// The offending field.
        field: &'static str,
        /// The rule.
        rule: &'static str,
    },

    /// (gRPC ALREADY_EXISTS) The request name is reserved with different parameters.
    #[error(
        "{kind} {request_name} already exists with different parameters: \
         {field} is {stored:?}, the request asks for {requested:?}"
    )]
    NameConflict {
        /// Volume or snapshot journal.
        kind: Kind,
        /// The CSI request name.
        request_name: String,
        /// The differing attribute.
        field: &'static str,
        /// Value in the journal.
        stored: String,
        /// Value in the request.
        requested: String,
    },

    /// (gRPC ABORTED) Another request holds the lock on this name or id.
    #[error("an operation on {key} is already in progress")]
    InProgress {
        /// The locked request name or ID.
        key: String,
    },

    /// (gRPC NOT_FOUND) No attribute object for this uuid.
    #[error("{kind} journal entry {uuid} (pool {pool_id}) does not exist")]
    NotFound {
        /// Volume or snapshot journal.
        kind: Kind,
        /// The entry's uuid.
        uuid: Uuid,
        /// Pool that was searched.
        pool_id: i64,
    },

    /// (gRPC INTERNAL) An attribute object exists but is not a complete entry (for example left by
    /// ceph-csi's non-atomic reservation). Lookups by name clean such objects up; this is
    /// only returned when reading by uuid.
    #[error("{kind} journal entry {uuid} (pool {pool_id}) is incomplete: {defect}")]
    Incomplete {
        /// Volume or snapshot journal.
        kind: Kind,
        /// The entry's uuid.
        uuid: Uuid,
        /// Pool of the object.
        pool_id: i64,
        /// What is missing.
        defect: &'static str,
    },

    /// (gRPC INTERNAL) A stored value cannot be read (not UTF-8, bad pool id). Never cleaned up
    /// automatically: the journal does not delete data it cannot understand.
    #[error("journal object {object} holds an unreadable value under {key}: {rule}")]
    Corrupt {
        /// The RADOS object.
        object: String,
        /// The omap key.
        key: String,
        /// What the value should look like.
        rule: &'static str,
    },

    /// (gRPC INTERNAL) One of Sepia's own `sepia.*` records cannot be encoded or decoded.
    #[error("{what} {key} on {object} is not valid: {why}")]
    BadRecord {
        /// Which record, e.g. "publication record".
        what: &'static str,
        /// The RADOS object.
        object: String,
        /// The omap key.
        key: String,
        /// What the decoder said.
        why: String,
    },

    /// (gRPC INTERNAL) Freshly drawn uuids kept colliding, or a caller-chosen uuid is taken.
    #[error("no free uuid for {request_name}: {uuid} already exists")]
    UuidTaken {
        /// The CSI request name.
        request_name: String,
        /// The last uuid tried.
        uuid: Uuid,
    },

    /// (gRPC INTERNAL) A test failpoint simulated a crash. Never rolled back: a crashed process
    /// cleans nothing up.
    #[error(transparent)]
    Injected(#[from] failpoint::Injected),

    /// (gRPC: per the Ceph error) A RADOS call failed; `step` says which part of the journal
    /// operation and `object` which object.
    #[error("{step} on {object} failed: {source}")]
    Ceph {
        /// The journal step, e.g. "read directory key".
        step: &'static str,
        /// The RADOS object involved.
        object: String,
        /// What librados said.
        #[source]
        source: ceph::Error,
    },
}

impl Error {
    /// True for a simulated crash, which callers must propagate without clean-up.
    pub fn is_injected(&self) -> bool {
        matches!(self, Error::Injected(_))
    }
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
