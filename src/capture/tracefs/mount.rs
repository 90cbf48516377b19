//! Finding tracefs, and mounting it where a fresh machine has not.

use std::fs;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::mount::MsFlags;

use super::error::TracefsError;

/// Where tracefs lives on current systems.
pub const DEFAULT_MOUNT: &str = "/sys/kernel/tracing";

/// The tracefs mount point, mounting tracefs on [`DEFAULT_MOUNT`] if it is mounted nowhere.
pub fn tracefs_root() -> Result<PathBuf, TracefsError> {
    let mounts = fs::read_to_string("/proc/self/mounts").map_err(|err| TracefsError::io("read the mount table", "/proc/self/mounts", err))?;
    if let Some(root) = find_tracefs(&mounts) {
        return Ok(root);
    }
    mount(Path::new(DEFAULT_MOUNT))?;
    Ok(PathBuf::from(DEFAULT_MOUNT))
}

/// The first tracefs mount point in a mount table (`/proc/self/mounts` format).
fn find_tracefs(mounts: &str) -> Option<PathBuf> {
    mounts.lines().find_map(|line| {
        let mut words = line.split_whitespace();
        let (_source, target, fstype) = (words.next()?, words.next()?, words.next()?);
        (fstype == "tracefs").then(|| PathBuf::from(unescape(target)))
    })
}

/// The mount table writes a space in a path as `\040` (and tab, newline, backslash likewise).
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes.get(i + 1..i + 4).and_then(|d| std::str::from_utf8(d).ok()).and_then(|d| u8::from_str_radix(d, 8).ok());
        match (bytes[i], octal) {
            (b'\\', Some(b)) => {
                out.push(b);
                i += 4;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `mount -t tracefs nodev TARGET`.
fn mount(target: &Path) -> Result<(), TracefsError> {
    match nix::mount::mount(Some("nodev"), target, Some("tracefs"), MsFlags::empty(), None::<&str>) {
        Ok(()) => Ok(()),
        Err(Errno::EPERM | Errno::EACCES) => Err(TracefsError::NotPermitted { path: target.to_path_buf() }),
        Err(err) => Err(TracefsError::NotMountable { path: target.to_path_buf(), err: err.into() }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracefs_found_in_mount_table_with_escaped_spaces() {
        let table = "sysfs /sys sysfs rw 0 0\nnodev /sys/kernel/tracing tracefs rw,relatime 0 0\n";
        assert_eq!(find_tracefs(table), Some(PathBuf::from("/sys/kernel/tracing")));
        assert_eq!(find_tracefs("x /mnt/my\\040trace tracefs rw 0 0"), Some(PathBuf::from("/mnt/my trace")));
        assert_eq!(find_tracefs("debugfs /sys/kernel/debug debugfs rw 0 0\n"), None);
    }

    #[cfg_attr(socktrace_unprivileged, ignore = "needs root: run `sudo -E cargo test`")]
    #[test]
    fn fresh_mount_point_gets_a_working_tracefs() {
        if !crate::capture::privilege::live_test_allowed("tracefs: mount on a fresh mount point") {
            return;
        }
        // A second tracefs mount shows the same tracefs, as `mount -t tracefs` on a fresh
        // machine would at /sys/kernel/tracing.
        let dir = std::env::temp_dir().join(format!("socktrace-mount-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let mounted = mount(&dir);
        let has_formats = dir.join("events/sock/inet_sock_set_state/format").is_file();
        if mounted.is_ok() {
            nix::mount::umount2(&dir, nix::mount::MntFlags::MNT_DETACH).expect("umount");
        }
        fs::remove_dir(&dir).unwrap();
        mounted.unwrap();
        assert!(has_formats, "the tracepoints' formats, which the lens reads");
    }
}
