//! Links librados and librbd. The bindings themselves are pre-generated (src/bindings.rs, see
//! generate.sh), so a build needs only the shared libraries (Debian librados-dev, librbd-dev).

fn main() {
    println!("cargo:rustc-link-lib=rados");
    println!("cargo:rustc-link-lib=rbd");
    println!("cargo:rerun-if-changed=build.rs");
}
