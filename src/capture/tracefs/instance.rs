//! A private tracefs instance (`instances/socktrace-PID-N`): its own buffers, clock, events and
//! filters, so two traces, or another tool, never fight over the global buffer.

use std::fs;
use std::io::{self, ErrorKind, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use super::error::TracefsError;
use crate::capture::release;

/// How old an instance of a process that is gone must be before another session removes it
/// (see [`remove_stale`]).
const STALE_AFTER: Duration = Duration::from_secs(10);

/// Instance names start with this, then `PID-N`.
const PREFIX: &str = "socktrace-";

/// Numbers the instances of this process.
static NEXT: AtomicU32 = AtomicU32::new(0);

/// A private instance; removed when dropped.
#[derive(Debug)]
pub struct Instance {
    dir: PathBuf,
    removed: bool,
}

impl Instance {
    /// Creates `instances/socktrace-PID-N`, first removing the instances of dead processes.
    pub fn create(tracefs: &Path) -> Result<Instance, TracefsError> {
        let instances = tracefs.join("instances");
        remove_stale(&instances, STALE_AFTER);
        let name = format!("{PREFIX}{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
        let dir = instances.join(name);
        fs::create_dir(&dir).map_err(|err| TracefsError::io("create a tracefs instance", &dir, err))?;
        Ok(Instance { dir, removed: false })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    /// Writes a control file of the instance, e.g. `trace_clock`.
    pub fn write(&self, rel: &str, value: &str, action: &'static str) -> Result<(), TracefsError> {
        let path = self.path(rel);
        fs::write(&path, value).map_err(|err| TracefsError::io(action, path, err))
    }

    pub fn read(&self, rel: &str, action: &'static str) -> Result<String, TracefsError> {
        let path = self.path(rel);
        read_whole(&path).map_err(|err| TracefsError::io(action, path, err))
    }

    /// Stops recording, disables every event and removes the directory. Readers must have
    /// closed their `trace_pipe_raw` files: an open file keeps the instance busy.
    pub fn remove(&mut self) -> Result<(), TracefsError> {
        if self.removed {
            return Ok(());
        }
        // The removal waits for an RCU grace period: it may be left to a child process.
        let result = release::remove_instance(&self.dir);
        self.removed = result.is_ok();
        result
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        if let Err(err) = self.remove() {
            eprintln!("socktrace: {err}");
        }
    }
}

/// Reads a tracefs text file in reads of 64 KiB. Some files must be read in one go:
/// `events/header_page` answers a second read with end-of-file, so `read_to_string`, which
/// starts with a 32-byte probe, gets only its first 32 bytes (Linux 6.18).
pub fn read_whole(path: &Path) -> io::Result<String> {
    let mut file = fs::File::open(path)?;
    let mut text = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        match file.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => text.extend_from_slice(&chunk[..n]),
            Err(err) if err.kind() == ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        }
    }
    String::from_utf8(text).map_err(|err| io::Error::new(ErrorKind::InvalidData, err))
}

/// Removes `socktrace-PID-*` instances whose process is gone (a crash, a SIGKILL).
pub(super) fn remove_stale(instances: &Path, older_than: Duration) {
    let Ok(entries) = fs::read_dir(instances) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(stale_pid) else { continue };
        // A session that has just ended leaves its instance to the child that removes it
        // (`capture::release`), which takes a few tens of milliseconds: an instance that
        // young is that child's, not ours to remove beside it. Two processes writing to and
        // removing one instance at once went with a new session's instance recording no
        // state at all, about one session in two hundred run four at a time (Linux 6.18).
        let young = entry.metadata().and_then(|m| m.modified()).is_ok_and(|made| made.elapsed().is_ok_and(|age| age < older_than));
        if !young && !alive(pid) {
            if let Err(err) = release::remove_now(&entry.path()) {
                eprintln!("socktrace: stale instance left in place: {err}");
            }
        }
    }
}

/// The pid in an instance name of ours, `socktrace-PID-N`.
fn stale_pid(name: &str) -> Option<i32> {
    let (pid, n) = name.strip_prefix(PREFIX)?.split_once('-')?;
    n.parse::<u32>().ok()?;
    pid.parse().ok()
}

fn alive(pid: i32) -> bool {
    // No signal: only whether the process exists and may be signalled.
    matches!(nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None), Ok(()) | Err(nix::errno::Errno::EPERM))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_names_pid_parsed_others_ignored() {
        assert_eq!(stale_pid("socktrace-1234-0"), Some(1234));
        assert_eq!(stale_pid("socktrace-1234"), None);
        assert_eq!(stale_pid("socktrace-x-1"), None);
        assert_eq!(stale_pid("perf-1234-0"), None);
    }

    #[test]
    fn own_process_is_alive() {
        assert!(alive(std::process::id() as i32));
    }
}
