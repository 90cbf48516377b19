//! A network of one's own for untrusted code (`trace grade`): the calling thread moves into a
//! new network namespace holding only a loopback interface, up, and no route anywhere else,
//! and into a new mount namespace in which chosen directories are hidden. Every process the
//! thread then starts, and every thread it spawns, is there too.
//!
//! Unlike [`super::Hosts`], these namespaces have no name under /run/netns: nothing but the
//! thread and its processes holds them, so the kernel frees them when the last of those ends,
//! whatever way `trace` itself ends. Nothing can be left behind.

use std::io;
use std::path::Path;
use std::process::{Command, Stdio};

use nix::mount::{mount, MsFlags};
use nix::sched::{unshare, CloneFlags};

/// Moves the calling thread (only: `unshare` acts on the calling thread) into a private
/// network with its loopback up, and hides each of `hidden` behind an empty, read-only,
/// inaccessible file system. The thread must end, not go back to other work, when done.
pub fn enter(hidden: &[&Path]) -> io::Result<()> {
    unshare(CloneFlags::CLONE_NEWNET | CloneFlags::CLONE_NEWNS)?;
    // Mounts made from here on stay in this namespace: without this, a shared root mount
    // would pass them on to the host's namespace.
    mount(None::<&str>, "/", None::<&str>, MsFlags::MS_REC | MsFlags::MS_PRIVATE, None::<&str>)?;
    for dir in hidden {
        let flags = MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
        mount(Some("tmpfs"), *dir, Some("tmpfs"), flags, Some("size=4k,mode=000"))?;
    }
    // A new namespace's loopback is down. `ip`, started from this thread, runs in it.
    let status = Command::new("ip").args(["link", "set", "lo", "up"]).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).status()?;
    if !status.success() {
        return Err(io::Error::other(format!("`ip link set lo up` in the private network failed ({status})")));
    }
    Ok(())
}
