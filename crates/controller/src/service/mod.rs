//! The gRPC layer: CSI Identity and Controller over the domain functions.

pub mod controller;
pub mod deadline;
pub mod identity;
pub mod lifecycle;
pub mod require;

pub use controller::ControllerService;
pub use identity::IdentityService;
