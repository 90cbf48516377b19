//! Letting go of what the kernel lenses hold. Closing a packet socket and removing a tracefs
//! instance each wait for RCU grace periods in the kernel (measured on Linux 6.18: 20–45 ms
//! each, more on a loaded machine), and the process that lets them go pays that wait, at its
//! exit if not before. A command whose work is done once its trace is written (`trace run`,
//! `trace echo`) hands them to a child process of its own instead ([`in_background`]): the
//! child (`trace release-held`) closes the socket and removes the instance while `trace`
//! returns. Nothing is left behind; it is only let go of a few tens of milliseconds later, and
//! an instance left by a child that was killed is removed by the next session (its name holds
//! the pid of a process that is gone).

use std::fs;
use std::io::ErrorKind;
use std::os::fd::{AsFd, AsRawFd};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::thread;
use std::time::Duration;

use super::tracefs::TracefsError;

/// The program that lets go in the background: this one, with `release-held`.
static RELEASER: OnceLock<PathBuf> = OnceLock::new();

/// From now on, a socket or an instance let go of is released by a child process running
/// `program release-held` (the `trace` binary). Library users that never call this release
/// in place.
pub fn in_background(program: PathBuf) {
    let _ = RELEASER.set(program);
}

/// Closes `socket`, whose last close waits out the kernel's grace periods: in a child process
/// when [`in_background`] was called (the child holds a copy, so this process's own close is
/// not the last), else here, when the caller drops its own copy.
pub fn let_go_of_socket(socket: &impl AsFd) {
    let Some(program) = RELEASER.get() else { return };
    // dup(2) leaves the copy inheritable (no close-on-exec), unlike `try_clone`.
    let Ok(copy) = rustix::io::dup(socket) else { return };
    let fd = copy.as_raw_fd().to_string();
    spawn(program, &["--fd", &fd]);
}

/// Removes the tracefs instance `dir`, its readers' files closed: in a child process when
/// [`in_background`] was called, else here.
pub(crate) fn remove_instance(dir: &Path) -> Result<(), TracefsError> {
    if let Some(program) = RELEASER.get() {
        if spawn(program, &["--dir", &dir.to_string_lossy()]) {
            return Ok(());
        }
    }
    remove_now(dir)
}

/// Quiesces and removes an instance directory, here and now.
pub(crate) fn remove_now(dir: &Path) -> Result<(), TracefsError> {
    // Best effort: removal works without these, they only stop recording sooner; a failure
    // to write them shows up as the rmdir's own error.
    for (file, value) in [("tracing_on", "0"), ("events/enable", "0")] {
        let _ = fs::write(dir.join(file), value);
    }
    // EBUSY lasts while a file of the instance is still open; a reader closing it races us.
    let mut tries = 0;
    loop {
        match fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(err) if err.kind() == ErrorKind::NotFound => return Ok(()),
            Err(err) if err.raw_os_error() == Some(libc::EBUSY) && tries < 50 => {
                tries += 1;
                thread::sleep(Duration::from_millis(10));
            }
            Err(err) => return Err(TracefsError::io("remove the tracefs instance", dir, err)),
        }
    }
}

/// Starts the releaser; whether it started. It is waited for on a thread of its own, so that a
/// long-running process leaves no zombie, and never by this process's exit.
fn spawn(program: &Path, args: &[&str]) -> bool {
    let child = Command::new(program).arg("release-held").args(args).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).spawn();
    match child {
        Ok(mut child) => {
            std::thread::spawn(move || child.wait());
            true
        }
        Err(_) => false,
    }
}

/// The child's work (`trace release-held --fd N --dir D`): close each inherited descriptor,
/// then remove each instance. Returns the problems, one line each.
pub fn release_held(fds: &[i32], dirs: &[PathBuf]) -> Vec<String> {
    for &fd in fds {
        // SAFETY: the parent passed this descriptor's number: inherited, and used by nothing
        // else in this process. A number that is not open only makes close fail (EBADF).
        unsafe { rustix::io::close(fd) };
    }
    dirs.iter().filter_map(|dir| remove_now(dir).err().map(|err| err.to_string())).collect()
}
