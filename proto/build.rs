//! Generates the tonic/prost code for `proto/*.proto` with the `protoc` bundled by
//! `protoc-bin-vendored` (nothing to install).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    let mut config = prost_build::Config::new();
    config.protoc_executable(protoc_bin_vendored::protoc_bin_path()?);
    tonic_prost_build::configure().compile_with_config(
        config,
        &[
            "proto/sync.proto",
            "proto/admin.proto",
            "proto/raft.proto",
            "proto/coordinator.proto",
        ],
        &["proto"],
    )?;
    Ok(())
}
