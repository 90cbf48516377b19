//! A program run in a pseudo-terminal of a given size, its screen read as a terminal would
//! show it (vt100): for `trace replay`'s screen. Every wait is bounded, so that a program that
//! hangs fails its test instead of hanging it.

use std::io::Write;
use std::os::fd::OwnedFd;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use rustix::event::{poll, PollFd, PollFlags, Timespec};
use rustix::pty::{grantpt, ioctl_tiocgptpeer, openpt, unlockpt, OpenptFlags};
use rustix::termios::{tcgetattr, tcsetwinsize, LocalModes, Winsize};

/// How long a screen may take to show what a test waits for: a debug build on a busy machine.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// How long a program that has written nothing is taken to have finished a screen.
const QUIET: Duration = Duration::from_millis(150);

pub struct Pty {
    master: OwnedFd,
    /// The terminal's own end, kept open here so that its modes can still be read after the
    /// program has exited.
    slave: OwnedFd,
    child: Child,
    screen: vt100::Parser,
    /// Everything the program wrote, escape sequences and all.
    pub written: Vec<u8>,
}

impl Pty {
    /// Starts `program ARGS` in a new session whose controlling terminal is a fresh
    /// pseudo-terminal of `columns` × `rows`, as a terminal emulator would.
    pub fn spawn(program: &str, args: &[&str], columns: u16, rows: u16) -> Pty {
        let flags = OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC;
        let master = openpt(flags).expect("a pseudo-terminal");
        grantpt(&master).expect("grantpt");
        unlockpt(&master).expect("unlockpt");
        let slave = ioctl_tiocgptpeer(&master, flags).expect("the pseudo-terminal's other end");
        tcsetwinsize(&master, winsize(columns, rows)).expect("the terminal's size");
        let stdio = || Stdio::from(slave.try_clone().expect("a copy of the terminal"));
        let tty = slave.try_clone().expect("a copy of the terminal");
        let mut command = Command::new(program);
        command.args(args).env("TERM", "xterm-256color").stdin(stdio()).stdout(stdio()).stderr(stdio());
        // SAFETY: between fork and exec the child may only make async-signal-safe calls;
        // setsid and the TIOCSCTTY ioctl are single system calls (rustix makes them directly,
        // allocating nothing), on a descriptor opened before the fork.
        unsafe {
            command.pre_exec(move || {
                // Its own session, with the pseudo-terminal as its controlling terminal: what
                // it opens as /dev/tty, and what sends it SIGWINCH on a resize.
                rustix::process::setsid()?;
                rustix::process::ioctl_tiocsctty(&tty)?;
                Ok(())
            });
        }
        let child = command.spawn().expect("the program starts");
        drop(command);
        Pty { master, slave, child, screen: vt100::Parser::new(rows, columns, 0), written: Vec::new() }
    }

    pub fn screen(&self) -> &vt100::Screen {
        self.screen.screen()
    }

    /// Types `keys` (raw bytes: `\x1b[C` is →, `\r` is Enter).
    pub fn send(&mut self, keys: &str) {
        let mut master = std::fs::File::from(self.master.try_clone().expect("the terminal"));
        master.write_all(keys.as_bytes()).expect("keys typed");
    }

    /// Resizes the terminal, as a window resized by hand: the kernel tells the program with
    /// SIGWINCH (sent again here, in case it has no controlling terminal).
    pub fn resize(&mut self, columns: u16, rows: u16) {
        tcsetwinsize(&self.master, winsize(columns, rows)).expect("the new size");
        self.screen.set_size(rows, columns);
        let pid = rustix::process::Pid::from_raw(self.child.id() as i32).expect("a pid");
        rustix::process::kill_process(pid, rustix::process::Signal::WINCH).expect("SIGWINCH");
    }

    /// Reads what the program writes until `shows` holds of the screen and the program has
    /// finished drawing (written nothing for [`QUIET`]); panics, with the screen, after
    /// [`PATIENCE`].
    pub fn wait_for(&mut self, what: &str, shows: impl Fn(&vt100::Screen) -> bool) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "no {what} on the screen after {PATIENCE:?}:\n{}", self.screen.screen().contents());
            if shows(self.screen.screen()) {
                // A screen is drawn in several writes: the rest of this one may still come.
                if !self.read(QUIET) {
                    return;
                }
            } else {
                self.read(left.min(Duration::from_millis(100)));
            }
        }
    }

    /// Reads what there is to read within `at_most` (under a second); whether there was any.
    fn read(&mut self, at_most: Duration) -> bool {
        let timeout = Timespec { tv_sec: 0, tv_nsec: at_most.subsec_nanos().into() };
        let mut fds = [PollFd::new(&self.master, PollFlags::IN)];
        if poll(&mut fds, Some(&timeout)).expect("poll") == 0 {
            return false;
        }
        let mut buf = [0u8; 16384];
        match rustix::io::read(&self.master, &mut buf) {
            Ok(n) if n > 0 => {
                self.screen.process(&buf[..n]);
                self.written.extend_from_slice(&buf[..n]);
                true
            }
            // EIO: nobody has the terminal open any more (never while `slave` is).
            _ => false,
        }
    }

    /// Waits for the program to exit, reading its last words; panics after [`PATIENCE`].
    pub fn wait_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().expect("the program's status") {
                // What it wrote before exiting is still in the terminal.
                while self.read(Duration::from_millis(50)) {}
                return status;
            }
            assert!(Instant::now() < deadline, "the program did not exit within {PATIENCE:?}:\n{}", self.screen.screen().contents());
            self.read(Duration::from_millis(50));
        }
    }

    /// Whether the terminal is back in its ordinary (canonical, echoing) mode.
    pub fn cooked(&self) -> bool {
        let modes = tcgetattr(&self.slave).expect("the terminal's modes").local_modes;
        modes.contains(LocalModes::ICANON | LocalModes::ECHO)
    }
}

impl Drop for Pty {
    /// A test that failed half-way leaves no program behind.
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn winsize(columns: u16, rows: u16) -> Winsize {
    Winsize { ws_row: rows, ws_col: columns, ws_xpixel: 0, ws_ypixel: 0 }
}
