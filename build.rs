//! Marks a build made without root, so that the live tests, which need it (packet capture,
//! tracefs, ptrace), are compiled as ignored: `cargo test` then counts them as ignored rather
//! than passing them unrun. Built by root (as CI is), they run; `CI=true` makes any live test
//! that still finds itself without root fail (see `live_test_allowed`).
//!
//! The same for the tools some tests drive: without Chromium, tshark or the npm copy of
//! axe-core, their tests are compiled as ignored, saying what to install. Under `CI=true`
//! nothing is ignored: a missing tool fails its tests (`.ci/run` installs them first). A tool
//! installed after the build is seen once `build.rs` runs again (`touch build.rs`).

use std::fs;
use std::path::{Path, PathBuf};

fn main() {
    println!("cargo::rustc-check-cfg=cfg(socktrace_unprivileged)");
    println!("cargo::rerun-if-changed=build.rs");
    // Another user builds with another environment (`sudo` sets SUDO_UID, `su` USER and
    // HOME): the build is made again when it changes, and asks again who builds.
    for var in ["USER", "LOGNAME", "HOME", "SUDO_UID"] {
        println!("cargo::rerun-if-env-changed={var}");
    }
    if effective_uid() != Some(0) {
        println!("cargo::rustc-cfg=socktrace_unprivileged");
    }
    for var in ["CI", "PATH", "CHROMIUM", "AXE_CORE"] {
        println!("cargo::rerun-if-env-changed={var}");
    }
    let ci = std::env::var("CI").as_deref() == Ok("true");
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "chromium".to_string());
    let axe =
        std::env::var_os("AXE_CORE").map_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/npm/node_modules/axe-core/axe.min.js"), PathBuf::from);
    for (cfg, present) in [("socktrace_no_chromium", on_path(&chromium)), ("socktrace_no_tshark", on_path("tshark")), ("socktrace_no_axe", axe.is_file())] {
        println!("cargo::rustc-check-cfg=cfg({cfg})");
        if !present && !ci {
            println!("cargo::rustc-cfg={cfg}");
        }
    }
}

/// Whether `program` names an executable: a path, or a file in one of `PATH`'s directories.
fn on_path(program: &str) -> bool {
    if program.contains('/') {
        return Path::new(program).is_file();
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).any(|dir| dir.join(program).is_file())
}

/// The effective user id, from `/proc/self/status` (`Uid: real effective saved fs`).
fn effective_uid() -> Option<u32> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}
