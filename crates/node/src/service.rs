//! The gRPC layer: CSI Identity and Node servers. Handlers validate and translate, then call
//! the domain operations; nothing here touches the system directly.

mod capability;
pub mod fields;
pub mod identity;
pub mod node;
mod status;

pub use identity::IdentityService;
pub use node::NodeService;
