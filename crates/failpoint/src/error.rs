//! The two ways this crate reports failure.

/// An armed failpoint fired. It stands for a crash at that point: callers must propagate it
/// without running any rollback, because a crashed process cleans nothing up and the point of
/// the test is to see what the *next* request makes of the leftovers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("failpoint {name} injected a crash")]
pub struct Injected {
    /// The failpoint that fired.
    pub name: &'static str,
}

/// A failpoint configuration string could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid failpoint spec {entry:?}: {rule}")]
pub struct InvalidSpec {
    /// The offending `name=action` entry (or action text).
    pub entry: String,
    /// What the entry should look like.
    pub rule: &'static str,
}
