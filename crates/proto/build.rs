//! Generates the tallyboard.v1 types and services from `proto/` with a
//! vendored `protoc`, so nothing needs to be installed on the build machine.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../proto");
    let files = ["entries.proto", "board.proto", "issuer.proto"]
        .map(|f| root.join("tallyboard/v1").join(f));
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
    }
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    let mut config = tonic_prost_build::Config::new();
    config.protoc_executable(protoc);
    tonic_prost_build::configure()
        .file_descriptor_set_path(out.join("tallyboard_v1_descriptor.bin"))
        .compile_with_config(config, &files, &[root])?;
    Ok(())
}
