//! Marks a build made without root, so that the live tests, which need it (packet capture,
//! tracefs, ptrace), are compiled as ignored: `cargo test` then counts them as ignored rather
//! than passing them unrun. Built by root (as CI is), they run; `CI=true` makes any live test
//! that still finds itself without root fail (see `live_test_allowed`).

use std::fs;

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
}

/// The effective user id, from `/proc/self/status` (`Uid: real effective saved fs`).
fn effective_uid() -> Option<u32> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}
