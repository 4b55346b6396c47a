//! Raw, unsafe FFI for the Ceph C APIs Sepia uses: `rados/librados.h` and `rbd/librbd.h`
//! (plus `rbd/features.h`), as shipped by Ceph Pacific 16.2 (librados 3.0.0, librbd 1.16.0).
//!
//! Module map:
//! - `bindings` (re-exported at the crate root): bindgen output, allowlisted to the
//!   `rados_*`/`rbd_*`/`LIBRADOS_*`/`RBD_*` items and generated once by `generate.sh`.
//!
//! Why pre-generated instead of a bindgen build script: builds, CI and every developer then need
//! only the Ceph shared libraries, not libclang, and the API surface we compile against is a
//! reviewed file instead of whatever headers happen to be installed. Nothing here is safe to call
//! directly; the `sepia-ceph` crate is the only intended user.

#[allow(
    non_upper_case_globals,
    non_camel_case_types,
    non_snake_case,
    dead_code,
    unsafe_op_in_unsafe_fn,
    clippy::all,
    clippy::pedantic,
    rustdoc::all
)]
mod bindings;

pub use bindings::*;
