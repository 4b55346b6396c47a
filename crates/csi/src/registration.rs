//! Kubelet plugin-registration API v1 (`pluginregistration` package), generated from
//! `proto/pluginregistration.proto`. The node registrar serves `registration_server` on the
//! socket kubelet discovers in its plugin directory.

#![allow(
    clippy::all,
    clippy::pedantic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    missing_docs,
    rust_2018_idioms
)]

include!(concat!(env!("OUT_DIR"), "/pluginregistration.rs"));
include!(concat!(
    env!("OUT_DIR"),
    "/pluginregistration.redacted_debug.rs"
));
