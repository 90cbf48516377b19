//! What a live lens needs, and the rule for live tests: run where the privileges are, skip
//! visibly where they are not, and never skip in CI (which runs as root).

use rustix::thread::CapabilitySet;

/// Whether this process runs with root's effective uid (and so may capture and trace).
pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// Whether the calling thread holds capability `cap` (CAP_NET_RAW: what the kernel asks of a
/// packet socket's maker) in its effective set: the set the kernel checks, read without
/// trying (a packet socket made only to see whether we may costs an RCU grace period,
/// 10–20 ms, when it is closed).
pub fn has_capability(cap: CapabilitySet) -> bool {
    rustix::thread::capabilities(None).is_ok_and(|sets| sets.effective.contains(cap))
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

/// For live tests that run a program as `nobody`: a directory `nobody` can enter, holding
/// copies of the files a test needs, removed on drop. A test's own directories may be closed
/// to others (a clone made in `mktemp -d` is 0700), so a binary there cannot run as `nobody`.
#[doc(hidden)]
pub struct NobodyDir {
    pub path: std::path::PathBuf,
}

#[doc(hidden)]
impl NobodyDir {
    pub fn new(tag: &str) -> std::io::Result<NobodyDir> {
        use std::os::unix::fs::PermissionsExt;
        let path = std::env::temp_dir().join(format!("socktrace-nobody-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&path)?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
        Ok(NobodyDir { path })
    }

    /// Copies `from` into the directory, readable (and executable) by everyone.
    pub fn copy(&self, from: &std::path::Path) -> std::io::Result<std::path::PathBuf> {
        use std::os::unix::fs::PermissionsExt;
        let to = self.path.join(from.file_name().unwrap_or_default());
        std::fs::copy(from, &to)?;
        std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o755))?;
        Ok(to)
    }

    /// `program` to be run as `nobody` (uid and gid 65534; std drops the supplementary groups
    /// when root sets another uid), from this directory.
    pub fn command(&self, program: &std::path::Path) -> std::process::Command {
        use std::os::unix::process::CommandExt;
        let mut command = std::process::Command::new(program);
        command.uid(65534).gid(65534).current_dir(&self.path);
        command
    }
}

impl Drop for NobodyDir {
    fn drop(&mut self) {
        // Our own scratch directory; a failure leaves it in the system's temp dir.
        let _ = std::fs::remove_dir_all(&self.path);
    }
}
