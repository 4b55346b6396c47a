//! The crate's error type.

use crate::status::ApiError;

/// Failures of the stand-in's own set-up and test helpers.
#[derive(Debug, thiserror::Error)]
pub enum StandInError {
    /// The listener could not be bound on 127.0.0.1.
    #[error("binding the stand-in API server on 127.0.0.1: {0}")]
    Bind(#[source] std::io::Error),
    /// The cluster URL did not parse as a URI (cannot happen for 127.0.0.1:port).
    #[error("stand-in URL {url:?} is not a valid URI")]
    Url {
        /// The URL that failed to parse.
        url: String,
    },
    /// kube refused to build a client from the stand-in's config.
    #[error("building a kube client for the stand-in: {0}")]
    Client(#[source] kube::Error),
    /// Writing the kubeconfig file failed.
    #[error("writing kubeconfig {path}: {source}")]
    Kubeconfig {
        /// Where it was to be written.
        path: String,
        /// The I/O failure.
        #[source]
        source: std::io::Error,
    },
    /// The resource is not in the stand-in's table.
    #[error("the stand-in does not serve {0}")]
    UnknownResource(String),
    /// A direct store operation was refused, as the API would refuse it.
    #[error("the stand-in refused the operation: {0}")]
    Api(#[from] ApiError),
    /// A typed object did not (de)serialize.
    #[error("object (de)serialization: {0}")]
    Serde(#[from] serde_json::Error),
    /// YAML given to the stand-in did not parse.
    #[error("parsing YAML: {0}")]
    Yaml(String),
    /// An object without `apiVersion` and `kind` of a served resource.
    #[error("the stand-in does not serve kind {kind} of {api_version:?}")]
    UnknownKind {
        /// The object's `apiVersion`.
        api_version: String,
        /// The object's `kind`.
        kind: String,
    },
    /// `wait_for` ran out of time.
    #[error("timed out after {seconds:.1}s waiting for {what}")]
    Timeout {
        /// What was awaited.
        what: String,
        /// How long it waited.
        seconds: f64,
    },
}
