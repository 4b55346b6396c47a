//! Compiles `proto/csi.proto` and `proto/pluginregistration.proto` with protox (pure Rust, so
//! no `protoc` is needed on any machine) and tonic-prost-build.
//!
//! Secret hygiene is decided here, from the protos themselves: every message with a field
//! marked `[(csi_secret) = true]` loses its derived `Debug`, and `build/redacted_debug.rs`
//! writes a replacement that prints the field's keys but never its values. A secret field
//! added to the proto later is therefore redacted without anyone touching Rust code.

// A build script has no caller to hand an error to: failing loudly is the only option.
#![allow(clippy::expect_used, clippy::panic, clippy::unwrap_used)]

#[path = "build/redacted_debug.rs"]
mod redacted_debug;

use std::path::PathBuf;

const PROTOS: [&str; 2] = ["csi.proto", "pluginregistration.proto"];

fn main() {
    let manifest_dir =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let proto_dir = manifest_dir.join("../../proto");
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));

    for proto in PROTOS {
        println!("cargo:rerun-if-changed={}", proto_dir.join(proto).display());
    }
    println!("cargo:rerun-if-changed=build/redacted_debug.rs");

    let mut compiler = protox::Compiler::new([&proto_dir]).expect("protox include path");
    compiler.include_imports(true).include_source_info(true);
    compiler
        .open_files(PROTOS)
        .unwrap_or_else(|e| panic!("protox could not compile the protos: {e:?}"));

    // tonic-prost-build only writes a descriptor set when it runs protoc itself.
    std::fs::write(
        out_dir.join("descriptor_set.bin"),
        compiler.encode_file_descriptor_set(),
    )
    .expect("write descriptor_set.bin");

    let pool = compiler.descriptor_pool();
    let redaction = redacted_debug::plan(&pool);
    redaction.write(&out_dir);

    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        // Unimplemented RPCs answer UNIMPLEMENTED, which is what the CSI spec asks of a
        // plugin that lacks a capability; drivers override only what they support.
        .generate_default_stubs(true)
        .skip_debug(redaction.skip_debug_paths())
        .compile_fds(compiler.file_descriptor_set())
        .expect("tonic-prost-build code generation");
}
