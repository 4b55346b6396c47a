//! The tool's one error type; `main` prints it and exits non-zero.

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cluster config: {what}")]
    Config { what: String },
    #[error("{what}")]
    Usage { what: String },
    #[error("{what}: {source}")]
    Ceph {
        what: String,
        #[source]
        source: ceph::Error,
    },
    #[error(transparent)]
    Controller(#[from] controller::error::Error),
    #[error("journal: {0}")]
    Journal(#[from] journal::Error),
    #[error("kubernetes: {what}")]
    Kube { what: String },
    #[error("events: {what}")]
    Events { what: String },
    #[error("output: {0}")]
    Output(#[from] std::io::Error),
}

impl Error {
    pub fn ceph(what: impl Into<String>, source: ceph::Error) -> Error {
        Error::Ceph {
            what: what.into(),
            source,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
