//! The binaries the demo runs: `gdc-node` and `gdc-coordinator`, beside this gdcctl. Run
//! through `cargo run`, gdcctl builds them first with its own profile (cargo only builds
//! the binary it is asked to run).

use std::path::{Path, PathBuf};
use std::process::Command;

/// What `cargo run` sets in the environment of the program it runs (prefixes), beyond
/// `CARGO` itself; settings a user may export (`CARGO_HOME`, `CARGO_TARGET_DIR`, ...) are
/// not among them.
const CARGO_RUN_VARS: &[&str] = &[
    "CARGO_MANIFEST_",
    "CARGO_PKG_",
    "CARGO_CRATE_NAME",
    "CARGO_BIN_NAME",
    "CARGO_PRIMARY_PACKAGE",
    "CARGO_RUSTC_CURRENT_DIR",
];

/// The node and coordinator binaries beside this gdcctl; built first when gdcctl runs
/// under `cargo run`.
pub(super) fn binaries(no_build: bool) -> Result<(PathBuf, PathBuf), String> {
    let exe = std::env::current_exe().map_err(|e| format!("where is gdcctl? {e}"))?;
    let bin_dir = exe
        .parent()
        .ok_or("gdcctl's path has no directory")?
        .to_path_buf();
    // cargo sets CARGO and CARGO_MANIFEST_DIR for what it runs.
    if let (false, Ok(cargo), Ok(manifest_dir)) = (
        no_build,
        std::env::var("CARGO"),
        std::env::var("CARGO_MANIFEST_DIR"),
    ) {
        let mut build = Command::new(cargo);
        // Not the variables `cargo run` set for gdcctl itself: build scripts that track
        // them would see them change between this build and the user's, and the two builds
        // would rebuild each other's dependencies every time.
        for (name, _) in std::env::vars_os() {
            let name = name.to_string_lossy();
            if CARGO_RUN_VARS.iter().any(|v| name.starts_with(v)) {
                build.env_remove(&*name);
            }
        }
        // The two binaries only: not gdcctl, which is running (cargo would replace it).
        build.args(["build", "-p", "gdc-node", "-p", "gdc-coordinator"]);
        build.args(["--bin", "gdc-node", "--bin", "gdc-coordinator"]);
        build.arg("--manifest-path");
        build.arg(Path::new(&manifest_dir).join("Cargo.toml"));
        match bin_dir.file_name().and_then(|n| n.to_str()) {
            Some("debug") => {}
            Some("release") => {
                build.arg("--release");
            }
            Some(profile) => {
                build.args(["--profile", profile]);
            }
            None => {}
        }
        eprintln!("building gdc-node and gdc-coordinator (the first time takes minutes) ...");
        let status = build
            .status()
            .map_err(|e| format!("cannot run cargo: {e}"))?;
        if !status.success() {
            return Err(format!("cargo build failed ({status})"));
        }
    }
    let node = bin_dir.join("gdc-node");
    let coordinator = bin_dir.join("gdc-coordinator");
    for bin in [&node, &coordinator] {
        if !bin.is_file() {
            return Err(format!(
                "{} is missing: build it with `cargo build --release -p gdc-node -p \
                 gdc-coordinator`, or run the demo with `cargo run --release --bin gdcctl -- demo`",
                bin.display()
            ));
        }
    }
    Ok((node, coordinator))
}
