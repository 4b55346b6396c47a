//! The compiled protos as an encoded `FileDescriptorSet`.
//!
//! Kept so tests can check field numbers against the descriptor rather than trusting the
//! generated Rust, and so a binary can serve gRPC reflection if it ever wants to.

/// `FileDescriptorSet` of `csi.proto` and `pluginregistration.proto`, imports included.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/descriptor_set.bin"));
