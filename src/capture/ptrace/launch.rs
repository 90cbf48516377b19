//! How a traced program is started besides being traced: by default as `trace run` starts it
//! (as its own user, here, its output on standard error); for untrusted code (`trace grade`)
//! as another user, in a directory of its own, with a bare environment, resource limits, and
//! its output into a pipe that the caller reads and bounds.

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;

use nix::sys::resource::{setrlimit, Resource};

/// A user to run as, and limits to run under; `Launch::default()` changes nothing.
#[derive(Clone, Debug, Default)]
pub struct Launch {
    /// Run as this uid and gid, with no supplementary groups (needs root).
    pub user: Option<(u32, u32)>,
    /// The working directory.
    pub dir: Option<PathBuf>,
    /// The whole environment (`None`: inherited).
    pub env: Option<Vec<(String, String)>>,
    /// Each a hard and soft limit, set before `execve`, so inherited by every process started.
    pub limits: Vec<(Resource, u64)>,
    /// Standard output and error both go here (`None`: standard error); standard input is
    /// `/dev/null` when set.
    pub output: Option<Arc<OwnedFd>>,
    /// How the client of `trace run --server … --client …` starts, when not as the server
    /// does (`trace grade`: the reference client as a user the submission cannot signal).
    pub client: Option<Box<Launch>>,
}

impl Launch {
    /// Applies everything but tracing to `cmd`. std changes the user (dropping supplementary
    /// groups) and the directory in the child before the `pre_exec` closures run, so a later
    /// closure (ptrace's `traceme`) runs as the new user.
    pub fn apply(&self, cmd: &mut Command) -> io::Result<()> {
        if let Some((uid, gid)) = self.user {
            cmd.uid(uid).gid(gid);
        }
        if let Some(dir) = &self.dir {
            cmd.current_dir(dir);
        }
        if let Some(env) = &self.env {
            cmd.env_clear().envs(env.iter().map(|(k, v)| (k, v)));
        }
        match &self.output {
            Some(fd) => {
                cmd.stdin(Stdio::null()).stdout(Stdio::from(fd.try_clone()?)).stderr(Stdio::from(fd.try_clone()?));
            }
            None => {
                // The trace's timeline owns standard output: the program's goes to standard error.
                cmd.stdout(Stdio::from(io::stderr().as_fd().try_clone_to_owned()?));
            }
        }
        if !self.limits.is_empty() {
            let limits = self.limits.clone();
            // SAFETY: the closure runs in the child between fork and exec and only makes system
            // calls (setrlimit) on data prepared before the fork.
            unsafe {
                cmd.pre_exec(move || {
                    for &(resource, limit) in &limits {
                        setrlimit(resource, limit, limit)?;
                    }
                    Ok(())
                });
            }
        }
        Ok(())
    }
}
