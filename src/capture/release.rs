//! Letting go of what the kernel lenses hold. Closing a packet socket, and closing the last
//! perf event on a tracepoint, each wait for RCU grace periods in the kernel (measured on Linux
//! 6.18: 20–45 ms each, more on a loaded machine; 95–130 ms for the state lens's four
//! tracepoints one after the other), and the process that lets them go pays that wait, at its
//! exit if not before. A command whose work is done once its trace is written (`trace run`,
//! `trace echo`) hands them to a child process of its own instead ([`in_background`]): the
//! child (`trace release-held`) inherits a copy of each descriptor and closes it while `trace`
//! returns. Nothing is left behind; it is only let go of a moment later, and a child that is
//! killed lets go of everything at once, as any process does at its end.
//!
//! The child keeps perf events [`EVENTS_LINGER`] before it closes them. The last close of a
//! tracepoint's events holds the kernel's `event_mutex` through its grace period, and every
//! other session's start (reading a tracepoint's format, opening an event) waits for that
//! mutex: sessions run one after another (a bench, a test suite, a class's script) would each
//! wait up to 130 ms for the one before. While the child holds them, the next session finds
//! the tracepoints held, and its own start and close take microseconds; only the last child of
//! such a run waits for the grace periods, when no session is starting.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

/// How long the child holds perf events before closing them: longer than the pause between
/// two sessions run one after the other.
pub const EVENTS_LINGER: Duration = Duration::from_secs(1);

/// The program that lets go in the background: this one, with `release-held`.
static RELEASER: OnceLock<PathBuf> = OnceLock::new();

/// From now on, what is let go of is released by a child process running `program
/// release-held` (the `trace` binary). Library users that never call this release in place.
pub fn in_background(program: PathBuf) {
    let _ = RELEASER.set(program);
}

/// Whether what is let go of goes to a child process ([`in_background`]).
pub(crate) fn in_a_child() -> bool {
    RELEASER.get().is_some()
}

/// Closes `socket`, whose last close waits out the kernel's grace periods: in a child process
/// when [`in_background`] was called (the child holds a copy, so this process's own close is
/// not the last), else here, when the caller drops its own copy.
pub fn let_go_of_socket(socket: &impl AsFd) {
    hand_over(&[socket.as_fd()], Duration::ZERO);
}

/// Closes perf events, whose last close of a tracepoint waits for the kernel: in a child
/// process after [`EVENTS_LINGER`] when [`in_background`] was called, else here and now (a
/// process that does so holds the tracepoints meanwhile, so that this is quick: see the state
/// lens's `tracer`).
pub(crate) fn let_go_of_events(events: Vec<OwnedFd>) {
    let fds: Vec<BorrowedFd<'_>> = events.iter().map(AsFd::as_fd).collect();
    hand_over(&fds, EVENTS_LINGER);
}

/// Gives a child process copies of `fds` to close after `linger`. Whatever it could not be
/// given is closed here, by the caller's own close being the last.
fn hand_over(fds: &[BorrowedFd<'_>], linger: Duration) {
    let Some(program) = RELEASER.get() else { return };
    // dup(2) leaves the copies inheritable (no close-on-exec), unlike `try_clone`; they are
    // closed here when this returns, once the child has its own.
    let copies: Vec<OwnedFd> = fds.iter().filter_map(|fd| rustix::io::dup(fd).ok()).collect();
    let mut args = vec!["--session".to_string(), std::process::id().to_string(), "--after-ms".to_string(), linger.as_millis().to_string()];
    for copy in &copies {
        args.extend(["--fd".to_string(), copy.as_raw_fd().to_string()]);
    }
    if !copies.is_empty() {
        spawn(program, &args);
    }
}

/// Starts the releaser. It is waited for on a thread of its own, so that a long-running process
/// leaves no zombie, and never by this process's exit.
fn spawn(program: &Path, args: &[String]) {
    let child = Command::new(program).arg("release-held").args(args).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).spawn();
    if let Ok(mut child) = child {
        std::thread::spawn(move || child.wait());
    }
}

/// The child's work (`trace release-held --after-ms T --fd N`): wait, then close each inherited
/// descriptor.
pub fn release_held(fds: &[i32], after: Duration) {
    std::thread::sleep(after);
    for &fd in fds {
        // SAFETY: the parent passed this descriptor's number: inherited, and used by nothing
        // else in this process. A number that is not open only makes close fail (EBADF).
        unsafe { rustix::io::close(fd) };
    }
}
