//! Which threads are in this thread's network namespace, from `/proc`: the live side of
//! [`crate::timeline::namespace`], which sets aside the kernel events of other namespaces'
//! sockets.

use std::fs;
use std::os::unix::fs::MetadataExt;

use crate::hash::FastMap;
use crate::timeline::namespace::ThreadOracle;

/// Answers for the namespace of the calling thread: a thread of this process is ours
/// (`trace echo`'s programs are its own threads, also on `--hosts`' namespaces); a kernel
/// thread, or one gone, cannot tell; any other is ours if its namespace is. `None` where the
/// namespace cannot be read (no `/proc`): then nothing is set aside.
pub fn this_namespace() -> Option<ThreadOracle> {
    let ours = netns_of("/proc/thread-self/ns/net")?;
    let own_pid = std::process::id();
    let mut threads: FastMap<u32, Option<bool>> = FastMap::default();
    Some(Box::new(move |tid| {
        *threads.entry(tid).or_insert_with(|| {
            if tid == 0 {
                return None;
            }
            if fs::metadata(format!("/proc/{own_pid}/task/{tid}")).is_ok() {
                return Some(true);
            }
            let status = fs::read_to_string(format!("/proc/{tid}/status")).ok()?;
            if status.lines().any(|l| l.starts_with("Kthread:") && l.ends_with('1')) {
                return None;
            }
            Some(netns_of(&format!("/proc/{tid}/ns/net"))? == ours)
        })
    }))
}

/// The inode of the network namespace at `path` (`/proc/…/ns/net`).
fn netns_of(path: &str) -> Option<u64> {
    fs::metadata(path).ok().map(|m| m.ino())
}
