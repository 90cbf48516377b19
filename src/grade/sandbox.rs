//! Where and as whom untrusted code runs: each worker slot has a user of its own (a uid from a
//! range no account uses), and each submission a private copy of its files in a directory
//! only that user can enter, under limits on CPU, memory, processes, file size and output.
//! The network and the view of the file system are the private ones of
//! [`crate::netns::private`].
//!
//! Everything a submission starts runs as its slot's user, so "end all its processes" is one
//! question the kernel answers exactly: `kill(-1, SIGKILL)` sent as that user reaches every
//! process of that user and nothing else, however the submission forked or daemonized.

use std::fs;
use std::io::{self, Read};
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::fs::{chown, DirBuilderExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{mpsc, Arc, Mutex};

use nix::sys::resource::Resource;

use super::rubric::{Limits, Role};
use crate::capture::ptrace::Launch;
use crate::check::Side;

/// The first uid of the ranges the slots use: far above any account's, so that a process of
/// a slot is recognisable as ours.
pub const UID_BASE: u32 = 3_700_000;

/// The most worker slots of one `trace grade`.
pub const MAX_SLOTS: u32 = 256;

/// The uids of the slots of the `trace grade` whose pid is `pid`: a range of its own, so that
/// two graders running at once never share a user (and so never end each other's
/// processes); two per slot, the submission's and its reference's. The highest pid
/// Linux allows (2^22) keeps the range below `u32::MAX`.
pub fn uids_of(pid: u32) -> std::ops::Range<u32> {
    let first = UID_BASE + pid * 2 * MAX_SLOTS;
    first..first + 2 * MAX_SLOTS
}

/// The most files, and bytes in all, a copy into the workspace may hold (a submission, the
/// rubric's files): more is not a submission, nor a reference program.
pub const MAX_FILES: usize = 1000;
pub const MAX_BYTES: u64 = 64 << 20;

/// The grader's scratch space for one `trace grade`: `/tmp/socktrace-grade-PID`, traversable
/// by the slots' users (0711, so that none can list it), holding a directory per slot (0700,
/// owned by the slot's user), the rubric's files (`rubric/`, read-only for everyone: see
/// [`super::rubric_files`]) and a private directory for traces (0700, root's). Removed on
/// drop.
pub struct Workspace {
    pub root: PathBuf,
}

impl Workspace {
    pub fn create() -> io::Result<Workspace> {
        let root = std::env::temp_dir().join(format!("socktrace-grade-{}", std::process::id()));
        // A leftover of an earlier `trace grade` with our pid (after a reboot) goes first.
        let _ = fs::remove_dir_all(&root);
        fs::DirBuilder::new().mode(0o711).create(&root)?;
        fs::set_permissions(&root, fs::Permissions::from_mode(0o711))?;
        fs::DirBuilder::new().mode(0o700).create(root.join("private"))?;
        Ok(Workspace { root })
    }

    /// Where the grader writes a slot's traces: no submission can read them.
    pub fn private(&self, slot: usize) -> PathBuf {
        self.root.join("private").join(format!("slot-{slot}.jsonl"))
    }

    /// Copies `files` of the folder `from` into a fresh directory for `slot`, owned by its
    /// user and closed to every other (0700); returns it. Symbolic links are not followed: a
    /// submission cannot smuggle in a file it could not read itself.
    pub fn checkout(&self, slot: usize, from: &Path, files: &[PathBuf]) -> io::Result<PathBuf> {
        let dir = self.root.join(format!("slot-{slot}"));
        let _ = fs::remove_dir_all(&dir);
        fs::DirBuilder::new().mode(0o700).create(&dir)?;
        let uid = uid(slot);
        for file in files {
            // Each folder on the way, from the top, is the user's too.
            let folders = file.parent().into_iter().flat_map(Path::ancestors).filter(|a| !a.as_os_str().is_empty());
            for folder in folders.collect::<Vec<_>>().into_iter().rev() {
                let made = dir.join(folder);
                if !made.exists() {
                    fs::DirBuilder::new().mode(0o700).create(&made)?;
                    chown(&made, Some(uid), Some(uid))?;
                }
            }
            let to = dir.join(file);
            fs::copy(from.join(file), &to)?;
            chown(&to, Some(uid), Some(uid))?;
        }
        chown(&dir, Some(uid), Some(uid))?;
        Ok(dir)
    }

    /// Removes a slot's directory, whatever its submission left in it.
    pub fn clear(&self, slot: usize) {
        // Ours to remove; a failure leaves it for the workspace's own removal.
        let _ = fs::remove_dir_all(self.root.join(format!("slot-{slot}")));
    }
}

impl Drop for Workspace {
    fn drop(&mut self) {
        // The grader's own scratch space; a failure leaves it in the system's temp dir.
        let _ = fs::remove_dir_all(&self.root);
    }
}

/// The user a submission runs as in worker slot `slot`.
pub fn uid(slot: usize) -> u32 {
    uids_of(std::process::id()).start + 2 * slot as u32
}

/// The user the reference's program (the client, or a client's server) runs as in `slot`:
/// not the submission's, so that the submission can neither signal it nor read or change its
/// memory (its result is the submission's grade), and it cannot read the submission's files.
fn reference_uid(slot: usize) -> u32 {
    uid(slot) + 1
}

/// The group every reference runs in, whatever its slot: the only one that may read the
/// reference's own files in the rubric's copy (see [`super::rubric_files`]). A number of the
/// reference users' range, so that no account has it.
pub fn reference_group() -> u32 {
    reference_uid(0)
}

/// The users of `slot`: the submission's and its reference's.
fn uids(slot: usize) -> [u32; 2] {
    [uid(slot), reference_uid(slot)]
}

/// How the programs of a slot start: the submission's and the reference's.
pub struct Launches {
    pub submission: Launch,
    pub reference: Launch,
}

impl Launches {
    /// How the program of `side` starts when the submissions play `role`.
    pub fn of(&self, side: Side, role: Role) -> &Launch {
        if role.plays(side) {
            &self.submission
        } else {
            &self.reference
        }
    }

    /// How a server and the client started once it listens start, each as its side's.
    pub fn session(&self, role: Role) -> Launch {
        let client = self.of(Side::Client, role).clone();
        Launch { client: Some(Box::new(client)), ..self.of(Side::Server, role).clone() }
    }
}

/// How the programs of a submission in `slot` start: as the slot's user, in `dir`, with a
/// bare environment, under `limits`, their output to `output`; the reference's alike, but
/// as a user of its own, from `/`.
pub fn launch(slot: usize, dir: &Path, limits: &Limits, memory_mb: u64, output: Arc<OwnedFd>) -> Launches {
    let home = dir.to_string_lossy().into_owned();
    let env = [
        ("PATH", "/usr/local/bin:/usr/bin:/bin".to_string()),
        ("HOME", home.clone()),
        ("TMPDIR", home.clone()),
        ("LANG", "C.UTF-8".to_string()),
        // Go's toolchain caches under the home, and builds without modules (one file).
        ("GOCACHE", format!("{home}/.cache/go")),
        ("GOPATH", format!("{home}/.go")),
        ("GO111MODULE", "off".to_string()),
    ];
    let mb = |n: u64| n.saturating_mul(1 << 20);
    let env: Vec<(String, String)> = env.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
    let reference_env = env.iter().map(|(k, v)| (k.clone(), if k == "HOME" || k == "TMPDIR" { "/tmp".to_string() } else { v.clone() })).collect();
    let submission = Launch {
        user: Some((uid(slot), uid(slot))),
        dir: Some(dir.to_path_buf()),
        env: Some(env),
        limits: vec![
            (Resource::RLIMIT_CPU, limits.cpu_seconds),
            (Resource::RLIMIT_AS, mb(memory_mb)),
            (Resource::RLIMIT_NPROC, limits.processes),
            (Resource::RLIMIT_FSIZE, mb(limits.file_mb)),
            (Resource::RLIMIT_CORE, 0),
        ],
        output: Some(output),
        client: None,
    };
    let reference =
        Launch { user: Some((reference_uid(slot), reference_group())), dir: Some(PathBuf::from("/")), env: Some(reference_env), ..submission.clone() };
    Launches { submission, reference }
}

/// How long [`end_all`] goes on killing and waiting for a slot's processes to be gone.
const END_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Ends every process of `slot`'s users and waits (at most [`END_WAIT`]) until none is left,
/// zombies included: they count against the next submission's process limit until reaped.
/// Returns the pids still there after that (none, but for a process stuck in the kernel).
pub fn end_all(slot: usize) -> Vec<i32> {
    let deadline = std::time::Instant::now() + END_WAIT;
    loop {
        kill_all(slot);
        let left = processes_of(slot);
        if left.is_empty() || std::time::Instant::now() > deadline {
            return left;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// One round: for each of the slot's users, a helper takes that user and sends `kill(-1,
/// SIGKILL)` until nothing is left to signal (a fork bomb may make more meanwhile), a bounded
/// number of times, since a zombie still counts as signalled.
pub fn kill_all(slot: usize) {
    uids(slot).into_iter().for_each(kill_all_of);
}

fn kill_all_of(uid: u32) {
    let mut helper = Command::new("/bin/true");
    helper.uid(uid).gid(uid);
    // SAFETY: the closure runs in the child between fork and exec and makes only system calls
    // (kill, _exit), async-signal-safe, on no shared data.
    unsafe {
        helper.pre_exec(|| {
            for _ in 0..64 {
                if libc::kill(-1, libc::SIGKILL) != 0 {
                    break;
                }
            }
            libc::_exit(0)
        });
    }
    // The helper ends itself before `exec`, which std reads as a spawn that succeeded.
    if let Ok(mut child) = helper.spawn() {
        let _ = child.wait();
    }
}

/// The pids of the processes of `slot`'s users, zombies included, from /proc.
pub fn processes_of(slot: usize) -> Vec<i32> {
    processes_where(slot, |_| true)
}

/// Whether a process of `slot`'s users still runs: a zombie has ended (it only waits to be
/// reaped by its tracer).
pub fn any_running(slot: usize) -> bool {
    !processes_where(slot, |status| !field(status, "State:").starts_with('Z')).is_empty()
}

/// The pids of `slot`'s users' processes whose `/proc/PID/status` satisfies `keep`.
fn processes_where(slot: usize, keep: impl Fn(&str) -> bool) -> Vec<i32> {
    let uids = uids(slot).map(|u| u.to_string());
    let Ok(entries) = fs::read_dir("/proc") else { return Vec::new() };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            fs::read_to_string(format!("/proc/{pid}/status")).is_ok_and(|status| {
                // Real uid first.
                field(&status, "Uid:").split_whitespace().next().is_some_and(|u| uids.iter().any(|x| x == u)) && keep(&status)
            })
        })
        .collect()
}

/// A field of a `/proc/PID/status` text, by its name with the colon (`"State:"`), trimmed.
fn field<'s>(status: &'s str, name: &str) -> &'s str {
    status.lines().find_map(|l| l.strip_prefix(name)).map(str::trim).unwrap_or("")
}

/// A pipe whose ends close at `exec`: only the processes given an end as their output keep it
/// (other slots' programs, started meanwhile, must not, or the output would never end).
fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 writes.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: pipe2 succeeded: both are open descriptors that nothing else owns.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// What a submission's processes wrote, kept up to a limit; the rest is read and counted, so
/// that a program flooding its output neither blocks nor fills memory.
pub struct Captured {
    pub text: String,
    /// Bytes written in all, kept or not.
    pub total: u64,
}

/// A pipe for a submission's output and the thread reading it.
pub struct OutputPipe {
    pub writer: Arc<OwnedFd>,
    read: Arc<Mutex<(Vec<u8>, u64)>>,
    done: mpsc::Receiver<()>,
}

impl OutputPipe {
    pub fn open(keep: usize) -> io::Result<OutputPipe> {
        let (read_end, write) = pipe()?;
        let read = Arc::new(Mutex::new((Vec::new(), 0u64)));
        let (done_tx, done) = mpsc::channel();
        let shared = read.clone();
        std::thread::spawn(move || {
            let mut file = fs::File::from(read_end);
            let mut buf = vec![0u8; 64 << 10];
            // Ends at end of file, when the last writer has gone, or at a read error.
            while let Ok(n @ 1..) = file.read(&mut buf) {
                let mut read = shared.lock().unwrap_or_else(|p| p.into_inner());
                read.1 += n as u64;
                let room = keep.saturating_sub(read.0.len());
                read.0.extend_from_slice(&buf[..n.min(room)]);
            }
            let _ = done_tx.send(());
        });
        Ok(OutputPipe { writer: Arc::new(write), read, done })
    }

    /// Drops our end and waits for the output's end: once every process holding the pipe has
    /// ended, at once; should one outlive [`end_all`] (stuck in the kernel), what was read
    /// after [`END_WAIT`], the reader left to end with it.
    pub fn collect(self) -> Captured {
        drop(self.writer);
        let _ = self.done.recv_timeout(END_WAIT);
        let read = self.read.lock().unwrap_or_else(|p| p.into_inner());
        Captured { text: String::from_utf8_lossy(&read.0).into_owned(), total: read.1 }
    }
}
