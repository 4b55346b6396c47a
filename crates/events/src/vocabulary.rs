//! The component, object and verb names Sepia's own components use, so every publisher spells
//! them the same way and consumers can filter on them. The set is open: any valid token works.

/// Which process published the event (second subject token).
pub mod component {
    pub const CONTROLLER: &str = "controller";
    pub const NODE: &str = "node";
    pub const PROVISIONER: &str = "provisioner";
    pub const SNAPSHOTTER: &str = "snapshotter";
    pub const RESIZER: &str = "resizer";
    pub const ATTACHER: &str = "attacher";
}

/// What the event is about (third subject token).
pub mod object {
    pub const VOLUME: &str = "volume";
    pub const SNAPSHOT: &str = "snapshot";
    pub const ATTACHMENT: &str = "attachment";
    pub const EXPANSION: &str = "expansion";
    pub const CLAIM: &str = "claim";
}

/// What happened to it (fourth subject token).
pub mod verb {
    pub const CREATED: &str = "created";
    pub const DELETED: &str = "deleted";
    pub const EXPANDED: &str = "expanded";
    pub const PUBLISHED: &str = "published";
    pub const UNPUBLISHED: &str = "unpublished";
    pub const STAGED: &str = "staged";
    pub const UNSTAGED: &str = "unstaged";
    pub const FAILED: &str = "failed";
}
