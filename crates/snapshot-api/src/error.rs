//! The crate's one error type: only CRD generation can fail.

/// A CRD could not be generated or rendered.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotApiError {
    /// A Rust type's JSON schema does not fit the CRD schema type.
    #[error("building the CRD schema of {kind}: {message}")]
    Schema { kind: String, message: String },

    /// Rendering a CRD as YAML failed.
    #[error("rendering CRD {what} as YAML: {message}")]
    Yaml { what: String, message: String },
}
