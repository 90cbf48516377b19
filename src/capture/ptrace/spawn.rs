//! Starting a program under ptrace: traced from its first instruction, with the seccomp
//! filter in place, started as its [`Launch`] says, and every process it starts followed.

use std::fmt;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

use nix::sys::ptrace::{self, Options};
use nix::unistd::Pid;
use rustix::process::WaitOptions;

use super::launch::Launch;
use super::seccomp;
use super::signals;
use super::syscalls::NATIVE_ARCH;

/// Follow every new process and thread and every exec, mark syscall stops (`SIGTRAP|0x80`),
/// stop at the seccomp filter's calls, and end every tracee should the tracer end.
const OPTIONS: Options = Options::PTRACE_O_TRACESYSGOOD
    .union(Options::PTRACE_O_TRACEFORK)
    .union(Options::PTRACE_O_TRACEVFORK)
    .union(Options::PTRACE_O_TRACECLONE)
    .union(Options::PTRACE_O_TRACEEXEC)
    .union(Options::PTRACE_O_TRACESECCOMP)
    .union(Options::PTRACE_O_EXITKILL);

/// A program that could not be started.
#[derive(Debug)]
pub struct SpawnError {
    pub command: String,
    pub err: io::Error,
}

impl fmt::Display for SpawnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // "No such file or directory", without std's " (os error 2)".
        let text = self.err.to_string();
        let text = text.split(" (os error").next().unwrap_or(&text);
        write!(f, "cannot start {}: {text}", self.command)
    }
}

impl std::error::Error for SpawnError {}

/// A started program, stopped right after its `execve`, before its first instruction.
pub struct Started {
    pub pid: i32,
    /// Whether the seccomp filter is in place (else every system call stops).
    pub seccomp: bool,
}

/// Whether `program` names a file that `execve` could run, by path or through `PATH`:
/// checked before a session starts, for a program started later in it (the client).
pub fn check_command(program: &str) -> Result<(), SpawnError> {
    let runnable = |p: &Path| p.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0);
    let found = if program.contains('/') {
        runnable(Path::new(program))
    } else {
        std::env::var_os("PATH").is_some_and(|path| std::env::split_paths(&path).any(|dir| runnable(&dir.join(program))))
    };
    if found {
        Ok(())
    } else {
        Err(SpawnError { command: program.to_string(), err: io::Error::from_raw_os_error(libc::ENOENT) })
    }
}

/// Whether `program` could be run as `launch` starts it: a relative path is the launch
/// directory's, as the child will find it.
pub fn check_launched(program: &str, launch: &Launch) -> Result<(), SpawnError> {
    match &launch.dir {
        Some(dir) if program.contains('/') && !program.starts_with('/') => check_command(&dir.join(program).to_string_lossy()),
        _ => check_command(program),
    }
}

/// Starts `argv` traced by the calling thread, which must make every later ptrace request
/// for it (the kernel ties a tracee to its tracer thread), as `launch` says. `with_seccomp`:
/// install the filter (else every system call stops, strace's classic way, several times
/// slower).
pub fn spawn(argv: &[String], launch: &Launch, with_seccomp: bool) -> Result<Started, SpawnError> {
    let command = argv.first().cloned().unwrap_or_default();
    let fail = |err: io::Error| SpawnError { command: command.clone(), err };
    if NATIVE_ARCH.is_none() {
        return Err(fail(io::Error::other("tracing calls is supported on x86_64 and aarch64 only")));
    }
    let Some((program, args)) = argv.split_first() else { return Err(fail(io::Error::from_raw_os_error(libc::ENOENT))) };
    // Checked here because an execve error cannot come back through std's pipe once the
    // filter is in place: the filter's calls fail with ENOSYS until the tracer has set
    // PTRACE_O_TRACESECCOMP, which it can do only at the stop after execve.
    check_launched(program, launch)?;
    let filter = if with_seccomp { seccomp::filter() } else { Vec::new() };
    let mut cmd = Command::new(program);
    cmd.args(args);
    launch.apply(&mut cmd).map_err(fail)?;
    // SAFETY: the closure runs in the child between fork and exec and only makes system calls
    // (ptrace, prctl, seccomp) on data prepared before the fork.
    unsafe {
        cmd.pre_exec(move || {
            ptrace::traceme()?;
            // Without the filter the tracer stops at every call instead: slower, as exact.
            if !filter.is_empty() {
                let _ = seccomp::install(&filter);
            }
            Ok(())
        });
    }
    // Returns once the execve succeeded (or with its error): the child then stops with
    // SIGTRAP before its first instruction, waiting for us.
    let child = cmd.spawn().map_err(fail)?;
    let pid = child.id() as i32;
    let stopped =
        wait(Some(pid), libc::__WALL).is_ok_and(|(waited, status)| waited == pid && libc::WIFSTOPPED(status) && libc::WSTOPSIG(status) == libc::SIGTRAP);
    if !stopped {
        kill_and_reap(pid);
        return Err(fail(io::Error::other("execve failed")));
    }
    if let Err(err) = ptrace::setoptions(Pid::from_raw(pid), OPTIONS) {
        kill_and_reap(pid);
        return Err(fail(err.into()));
    }
    Ok(Started { pid, seccomp: with_seccomp && seccomp_filtered(pid) })
}

/// Ends a child that must not run untraced, and collects its exit.
pub fn kill_and_reap(pid: i32) {
    // SIGKILL ends it even while it is stopped.
    signals::send(pid, libc::SIGKILL);
    let _ = wait(Some(pid), libc::__WALL);
}

/// `waitpid` on this thread's tracees (`pid`, or any): the task that changed and its raw
/// status, which `libc::WIFSTOPPED` and the rest read. Raw, because the tracer must tell
/// every stop, also one by a real-time signal, which nix's parsed status cannot describe.
pub(super) fn wait(pid: Option<i32>, flags: libc::c_int) -> io::Result<(i32, i32)> {
    let pid = pid.and_then(rustix::process::Pid::from_raw);
    // `__WALL` and `__WNOTHREAD` are Linux's own flags, which rustix passes on as given.
    match rustix::process::waitpid(pid, WaitOptions::from_bits_retain(flags as u32))? {
        Some((pid, status)) => Ok((pid.as_raw_pid(), status.as_raw())),
        // Only WNOHANG returns without a status, and it is never asked for.
        None => Err(io::Error::from(io::ErrorKind::WouldBlock)),
    }
}

/// Whether the seccomp filter is in place in `pid` (`Seccomp: 2` in its status).
fn seccomp_filtered(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/status")).is_ok_and(|s| s.lines().any(|l| l.strip_prefix("Seccomp:").is_some_and(|v| v.trim() == "2")))
}
