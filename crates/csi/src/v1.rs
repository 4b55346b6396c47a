//! CSI v1.12 messages, enums, clients (`*_client`) and servers (`*_server`), generated from
//! `proto/csi.proto`, plus the redacted `Debug` impls for secret-bearing requests.
//!
//! Server traits come with default methods answering `UNIMPLEMENTED`, which is the spec's
//! answer for an RPC outside the plugin's advertised capabilities.

#![allow(
    clippy::all,
    clippy::pedantic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    missing_docs,
    rust_2018_idioms
)]

include!(concat!(env!("OUT_DIR"), "/csi.v1.rs"));
include!(concat!(env!("OUT_DIR"), "/csi.v1.redacted_debug.rs"));
