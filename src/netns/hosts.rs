//! Two hosts of our own, a client and a server, each in a network namespace, joined by a veth
//! pair. They exist for one session: [`Hosts`] removes them when dropped, on every way out
//! (the end of a session, an error, Ctrl-C handled by the session, a panic).
//!
//! The addresses are from TEST-NET-1 (RFC 5737 §3), a range set aside for documentation that
//! routes nowhere; the MAC addresses are locally administered (the 0x02 bit of the first
//! byte, IEEE 802), so they can be no real card's. Nothing of the root namespace is touched:
//! both ends of the veth pair live in the hosts' namespaces, and vanish with them.

use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

use super::Namespace;
use crate::capture::packets::{CaptureError, PacketBatch, PacketCapture};

/// The interface name of each host's end of the cable (each namespace has its own names).
pub const LINK: &str = "eth0";
/// The length of the hosts' shared prefix (a /24 of TEST-NET-1).
const PREFIX_LEN: u8 = 24;
/// The hosts' addresses on the link.
pub const CLIENT_ADDR: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
pub const SERVER_ADDR: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);

/// One host: its namespace, its address on the link and its card's MAC address.
#[derive(Clone, Debug)]
pub struct Host {
    pub namespace: Namespace,
    pub addr: IpAddr,
    pub mac: [u8; 6],
}

impl Host {
    pub fn mac_text(&self) -> String {
        crate::event::mac_text(&self.mac)
    }
}

/// What went wrong making the hosts; one line that says what to do.
#[derive(Debug)]
pub struct HostsError {
    /// What was being done, e.g. "create the namespace socktrace-12-0-client".
    pub step: String,
    pub detail: String,
}

impl fmt::Display for HostsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot {}: {}", self.step, self.detail)
    }
}

impl std::error::Error for HostsError {}

/// The client and server hosts of one session; dropping it removes both namespaces, and the
/// veth pair with them.
#[derive(Debug)]
pub struct Hosts {
    pub client: Host,
    pub server: Host,
    /// The namespaces made so far, removed on drop.
    made: Vec<String>,
}

/// Sessions in this process so far: two sessions of one process get distinct names.
static SESSIONS: AtomicU32 = AtomicU32::new(0);

/// How every namespace name of this program starts.
const NAME_START: &str = "socktrace-";

/// The prefix of every namespace name process `pid` makes (`socktrace-PID-`).
pub fn name_prefix(pid: u32) -> String {
    format!("{NAME_START}{pid}-")
}

impl Hosts {
    /// Makes the two hosts: namespaces `socktrace-PID-N-client` and `…-server`, a veth pair
    /// between them (`eth0` on each side), addresses 192.0.2.1/24 and 192.0.2.2/24, links up.
    pub fn create() -> Result<Hosts, HostsError> {
        sweep_dead_sessions();
        let n = SESSIONS.fetch_add(1, Ordering::Relaxed);
        let prefix = format!("{}{n}-", name_prefix(std::process::id()));
        let (client_ns, server_ns) = (format!("{prefix}client"), format!("{prefix}server"));
        let mut made = Vec::new();
        // From here on, an early return drops what exists through `Partial`.
        let partial = Partial(&mut made);
        for ns in [&client_ns, &server_ns] {
            ip(&["netns", "add", ns], &format!("create the network namespace {ns}"))?;
            partial.0.push(ns.clone());
        }
        let client_mac = [0x02, 0, 0, 0, 0, 0x01];
        let server_mac = [0x02, 0, 0, 0, 0, 0x02];
        let (client_text, server_text) = (crate::event::mac_text(&client_mac), crate::event::mac_text(&server_mac));
        ip(
            &[
                "-n",
                &client_ns,
                "link",
                "add",
                LINK,
                "address",
                &client_text,
                "type",
                "veth",
                "peer",
                "name",
                LINK,
                "address",
                &server_text,
                "netns",
                &server_ns,
            ],
            "create the veth pair between the hosts",
        )?;
        let (client_addr, server_addr) = (IpAddr::V4(CLIENT_ADDR), IpAddr::V4(SERVER_ADDR));
        for (ns, addr) in [(&client_ns, client_addr), (&server_ns, server_addr)] {
            let cidr = format!("{addr}/{PREFIX_LEN}");
            ip(&["-n", ns, "addr", "add", &cidr, "dev", LINK], &format!("give {ns} the address {cidr}"))?;
            ip(&["-n", ns, "link", "set", LINK, "up"], &format!("bring up {ns}'s link"))?;
        }
        let open = |ns: &str| Namespace::open(ns).map_err(|e| HostsError { step: format!("open the namespace {ns}"), detail: e.to_string() });
        let client = Host { namespace: open(&client_ns)?, addr: client_addr, mac: client_mac };
        let server = Host { namespace: open(&server_ns)?, addr: server_addr, mac: server_mac };
        let made = std::mem::take(partial.0);
        Ok(Hosts { client, server, made })
    }

    /// Opens the packet lens on the server host's end of the cable: it sees the client's
    /// packets arrive and the server's leave, each once, with ARP and Ethernet addresses.
    pub fn capture_on_server<D>(&self, ports: &[u16], udp: bool, deliver: D) -> Result<PacketCapture, CaptureError>
    where
        D: FnMut(PacketBatch) -> bool + Send + 'static,
    {
        self.server
            .namespace
            .run(|| PacketCapture::open_on_link(LINK, ports, udp, deliver))
            .unwrap_or_else(|error| Err(CaptureError::Io { what: "entering the server host's namespace", error }))
    }

    /// Runs `f` on the server host (the server's sockets are made there).
    pub fn on_server<T: Send>(&self, f: impl FnOnce() -> io::Result<T> + Send) -> io::Result<T> {
        self.server.namespace.run(f)?
    }

    /// Removes both hosts now, and says what could not be removed.
    pub fn remove(mut self) -> Result<(), HostsError> {
        remove_all(&mut self.made)
    }
}

impl Drop for Hosts {
    fn drop(&mut self) {
        if let Err(err) = remove_all(&mut self.made) {
            // Nobody is left to return the error to: say it, with the way to clean up by hand.
            eprintln!("trace: {err}");
        }
    }
}

/// The namespaces of a `create` that has not finished: removed if it fails.
struct Partial<'a>(&'a mut Vec<String>);

impl Drop for Partial<'_> {
    fn drop(&mut self) {
        if let Err(err) = remove_all(self.0) {
            eprintln!("trace: {err}");
        }
    }
}

/// Removes the hosts of sessions that could not remove their own (a process killed with
/// SIGKILL has no last word): namespaces named `socktrace-PID-…` whose process is gone.
/// A failure is said, not fatal: the new session's names are its own either way.
fn sweep_dead_sessions() {
    let Ok(dir) = std::fs::read_dir(super::DIR) else { return };
    let mut dead: Vec<String> = dir
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| session_pid(name).is_some_and(|pid| !std::path::Path::new("/proc").join(pid.to_string()).exists()))
        .collect();
    if let Err(err) = remove_all(&mut dead) {
        eprintln!("trace: a dead session's host is left: {err}");
    }
}

/// The pid in a namespace name this program gives (`socktrace-PID-N-ROLE`).
fn session_pid(name: &str) -> Option<u32> {
    let parts: Vec<&str> = name.strip_prefix(NAME_START)?.split('-').collect();
    match parts[..] {
        [pid, n, "client" | "server"] if n.parse::<u32>().is_ok() => pid.parse().ok(),
        _ => None,
    }
}

/// Deletes each namespace in `made` (which ends empty); the first failure is returned after
/// trying them all.
fn remove_all(made: &mut Vec<String>) -> Result<(), HostsError> {
    let mut first = None;
    for ns in made.drain(..).rev() {
        if let Err(mut err) = ip(&["netns", "delete", &ns], &format!("remove the network namespace {ns}")) {
            err.detail.push_str(&format!(" (remove it with `ip netns delete {ns}`)"));
            first.get_or_insert(err);
        }
    }
    first.map_or(Ok(()), Err)
}

/// Runs `ip ARGS` (iproute2); `step` says what it was for, in the error.
fn ip(args: &[&str], step: &str) -> Result<(), HostsError> {
    let output = Command::new("ip").args(args).stdin(Stdio::null()).output().map_err(|e| HostsError {
        step: step.to_string(),
        detail: if e.kind() == io::ErrorKind::NotFound {
            "the `ip` command is missing: install iproute2 (apt-get install -y iproute2)".to_string()
        } else {
            format!("cannot run `ip`: {e}")
        },
    })?;
    if output.status.success() {
        return Ok(());
    }
    let said = String::from_utf8_lossy(&output.stderr).trim().to_string();
    let detail = if said.contains("Operation not permitted") || said.contains("Permission denied") {
        format!("{said}: separate hosts need CAP_SYS_ADMIN and CAP_NET_ADMIN: run as root (sudo)")
    } else {
        format!("`ip {}` failed: {said}", args.join(" "))
    };
    Err(HostsError { step: step.to_string(), detail })
}

#[cfg(test)]
#[allow(non_snake_case)] // test names read `situation__expectation`
mod tests {
    use super::*;
    use crate::capture::privilege::live_test_allowed;

    #[test]
    fn session_pid__only_from_names_this_program_gives() {
        assert_eq!(session_pid("socktrace-123-0-client"), Some(123));
        assert_eq!(session_pid("socktrace-123-4-server"), Some(123));
        assert_eq!(session_pid("socktrace-123-client"), None);
        assert_eq!(session_pid("socktrace-123-0-router"), None);
        assert_eq!(session_pid("other-123-0-client"), None);
    }

    #[cfg_attr(socktrace_unprivileged, ignore = "needs root: run `sudo -E cargo test`")]
    #[test]
    fn create__leaves_of_dead_sessions_are_swept_and_its_own_hosts_removed_on_drop() {
        if !live_test_allowed("create__leaves_of_dead_sessions_are_swept_and_its_own_hosts_removed_on_drop") {
            return;
        }
        // A session killed before it could clean up: its pid is gone, its namespace is not.
        let mut gone = Command::new("true").spawn().expect("spawn true");
        let dead = gone.id();
        gone.wait().expect("true ends");
        let left = format!("{}0-client", name_prefix(dead));
        ip(&["netns", "add", &left], "make a leftover").expect("ip netns add");

        let hosts = Hosts::create().expect("hosts");
        assert!(!Namespace::path(&left).exists(), "a dead session's host is swept");
        let names = [hosts.client.namespace.name.clone(), hosts.server.namespace.name.clone()];
        assert!(names.iter().all(|n| Namespace::path(n).exists() && n.starts_with(&name_prefix(std::process::id()))), "{names:?}");
        drop(hosts);
        assert!(names.iter().all(|n| !Namespace::path(n).exists()), "{names:?} removed on drop");
    }
}
