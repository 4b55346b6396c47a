//! Integration tests: the real kube-rs client, kube-runtime and kube-lease-manager against the
//! stand-in. One test binary (modules below) to keep link time down on small machines.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod fixtures;

mod apply;
mod crud;
mod discovery;
mod faults;
mod finalizers;
mod kubeconfig;
mod lease;
mod list;
mod rbac;
mod runtime;
mod status_subresource;
mod watch;
