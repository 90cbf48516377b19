//! What a live lens needs, and the rule for live tests: run where the privileges are, skip
//! visibly where they are not, and never skip in CI (which runs as root).

/// Whether this process runs with root's effective uid (and so may capture and trace).
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// For live tests: `true` when the test may run. Unprivileged, it prints a visible skip
/// message and returns `false`, except under `CI=true`, where a skip is a failure.
#[doc(hidden)]
pub fn live_test_allowed(what: &str) -> bool {
    if is_root() {
        return true;
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("live test '{what}' cannot run without root, and CI=true forbids skipping it: run CI as root");
    }
    eprintln!("SKIPPED live test '{what}': it needs root (run `sudo -E cargo test` to include it)");
    false
}
