//! strace as a witness: a program run under `strace -f -yy`, and its calls on TCP and UDP
//! sockets as a list per process, in the same shape as a trace's, so that the two can be
//! compared call for call.
//!
//! With `-yy` strace writes every descriptor with what it is (`3<TCP:[127.0.0.1:5000]>`), so a
//! call concerns a socket when one of its descriptors is a TCP or UDP one. Lines carry a
//! thread's id: `clone` calls with `CLONE_THREAD` tell which threads make up one process.

use std::collections::HashMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use socktrace::event::{Body, Event, Role};

/// The calls both witnesses follow: socket calls, the file calls on a socket, the calls that
/// copy between descriptors, descriptor and mode calls, and the readiness calls; plus the
/// process calls strace needs to tell threads from processes.
pub const CALLS: &str = "socket,bind,listen,accept,accept4,connect,sendto,recvfrom,sendmsg,recvmsg,sendmmsg,recvmmsg,shutdown,close,setsockopt,getsockopt,getsockname,getpeername,read,write,readv,writev,sendfile,splice,copy_file_range,dup,dup2,dup3,fcntl,ioctl,poll,ppoll,select,pselect6,epoll_ctl,epoll_wait,epoll_pwait,epoll_pwait2,clone,clone3,fork,vfork";

/// Readiness calls: strace shows every one, a trace only those about a traced socket, and how
/// many an event loop makes depends on timing. They are compared by name, not one by one.
pub const WAITS: [&str; 7] = ["poll", "ppoll", "select", "pselect6", "epoll_wait", "epoll_pwait", "epoll_pwait2"];

/// One call as both witnesses are compared on: its socket (numbered per process in order of
/// first use), its system call name and its result (`6`, `-1 ECONNREFUSED`, `?` when the
/// process ended inside it).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Call {
    pub socket: usize,
    pub name: String,
    pub result: String,
}

/// One process's socket calls, and the readiness calls it made.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Process {
    pub calls: Vec<Call>,
    pub waits: Vec<String>,
}

/// Whether a call is compared one by one: readiness calls are not (see [`WAITS`]), nor are
/// calls that found nothing to do yet (`EAGAIN`: whether a non-blocking call finds its data
/// already there is a matter of timing).
fn compared(name: &str, result: &str) -> bool {
    !WAITS.contains(&name) && result != "-1 EAGAIN"
}

/// Builds the per-process lists from (process, socket key, name, result) in time order.
fn group<K: Eq + std::hash::Hash + Clone>(calls: impl IntoIterator<Item = (u32, Option<K>, String, String)>) -> Vec<Process> {
    let mut order: Vec<u32> = Vec::new();
    let mut processes: HashMap<u32, (Process, HashMap<K, usize>)> = HashMap::new();
    for (pid, socket, name, result) in calls {
        let (process, sockets) = processes.entry(pid).or_default();
        if WAITS.contains(&name.as_str()) {
            if !process.waits.contains(&name) {
                process.waits.push(name);
            }
            continue;
        }
        let Some(socket) = socket else { continue };
        if !compared(&name, &result) {
            continue;
        }
        if !order.contains(&pid) {
            order.push(pid);
        }
        let next = sockets.len();
        let socket = *sockets.entry(socket).or_insert(next);
        process.calls.push(Call { socket, name, result });
    }
    order.into_iter().filter_map(|pid| processes.remove(&pid).map(|(p, _)| p)).collect()
}

/// The calls of a trace's processes playing `role`, per process in order of first socket call.
pub fn from_trace(events: &[Event], role: Role) -> Vec<Process> {
    let mut names: HashMap<u64, (String, u32, Option<socktrace::event::SockId>)> = HashMap::new();
    let mut calls = Vec::new();
    for event in events.iter().filter(|e| e.actor.role == role) {
        match &event.body {
            Body::CallStart(start) => {
                names.insert(start.id, (start.call.as_str().to_string(), event.actor.pid.unwrap_or(0), event.socket.clone()));
            }
            Body::CallEnd(end) => {
                let name = names.remove(&end.id).map_or_else(|| end.call.as_str().to_string(), |(name, _, _)| name);
                let result = match &end.errno {
                    Some(errno) => format!("-1 {}", errno.name),
                    None => end.ret.to_string(),
                };
                let socket = event.socket.clone().or_else(|| end.new_socket.clone());
                calls.push((event.actor.pid.unwrap_or(0), socket, name, result));
            }
            _ => {}
        }
    }
    // Calls still running when their process ended, as strace shows them: `= ?`.
    let mut unfinished: Vec<_> = names.into_iter().collect();
    unfinished.sort_unstable_by_key(|(id, _)| *id);
    calls.extend(unfinished.into_iter().map(|(_, (name, pid, socket))| (pid, socket, name, "?".to_string())));
    group(calls)
}

/// A program running under strace, writing to `out`.
pub struct Straced {
    pub child: Child,
    pub out: std::path::PathBuf,
}

/// Starts `argv` under `strace -f -yy`, its output to `out`.
pub fn start(argv: &[String], out: &Path) -> Straced {
    let child = Command::new("strace")
        .args(["-f", "-yy", "-qq", "-s", "0", "-o"])
        .arg(out)
        .args(["-e", &format!("trace={CALLS}"), "--"])
        .args(argv)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("strace runs (.ci/run installs it: apt-get install -y strace)");
    Straced { child, out: out.to_path_buf() }
}

impl Straced {
    /// The first port a TCP or UDP socket of the program was seen bound to: where its server
    /// waits. `None` until strace has written it.
    pub fn port(&self) -> Option<u16> {
        let text = std::fs::read_to_string(&self.out).ok()?;
        text.lines().find_map(|line| {
            // `3<TCP:[127.0.0.1:5000]>` or `3<TCPv6:[[::1]:5000]>`: a bound, unconnected socket.
            let at = line.find(":[")?;
            let kind = &line[..at];
            if !(kind.ends_with("<TCP") || kind.ends_with("<TCPv6") || kind.ends_with("<UDP") || kind.ends_with("<UDPv6")) {
                return None;
            }
            let inside = line[at + 2..].split(']').next()?;
            let inside = if inside.starts_with('[') { line[at + 2..].split("]>").next()? } else { inside };
            if inside.contains("->") {
                return None;
            }
            inside.rsplit(':').next()?.parse::<u16>().ok().filter(|p| *p != 0)
        })
    }

    pub fn wait(mut self) -> String {
        let status = self.child.wait().expect("strace ends");
        assert!(status.success() || status.code().is_some(), "strace itself failed");
        std::fs::read_to_string(&self.out).expect("strace's output")
    }
}

/// Kinds of descriptor strace writes that are TCP or UDP sockets.
const SOCKETS: [&str; 4] = ["<TCP:", "<TCPv6:", "<UDP:", "<UDPv6:"];

/// The descriptors of `args` that are TCP or UDP sockets, in argument order.
fn socket_fds(args: &str) -> Vec<i32> {
    let mut fds = Vec::new();
    for kind in SOCKETS {
        let mut from = 0;
        while let Some(at) = args[from..].find(kind) {
            let end = from + at;
            let digits: String = args[..end].chars().rev().take_while(char::is_ascii_digit).collect::<Vec<_>>().into_iter().rev().collect();
            if let Ok(fd) = digits.parse::<i32>() {
                fds.push((end, fd));
            }
            from = end + kind.len();
        }
    }
    fds.sort_unstable();
    fds.into_iter().map(|(_, fd)| fd).collect()
}

/// strace's result as the comparison writes it: `6`, `-1 EAGAIN`, `?`; `None` for the
/// kernel's restart codes (the restarted call follows on a line of its own).
fn result(ret: &str) -> Option<String> {
    let ret = ret.trim();
    if ret.starts_with("? ERESTART") {
        return None;
    }
    if ret.starts_with('?') {
        return Some("?".to_string());
    }
    let mut words = ret.split_whitespace();
    let value = words.next().unwrap_or("");
    // `3<TCP:[…]>` is descriptor 3; `0x2 (flags O_RDWR)` is 2.
    let number = value.split('<').next().unwrap_or(value);
    let number = match number.strip_prefix("0x") {
        Some(hex) => i64::from_str_radix(hex, 16).map(|v| v.to_string()).unwrap_or_else(|_| number.to_string()),
        None => number.to_string(),
    };
    if number == "-1" {
        return Some(format!("-1 {}", words.next().unwrap_or("")));
    }
    Some(number)
}

/// One finished call of strace's output: thread, name, arguments and result.
struct Line {
    tid: u32,
    name: String,
    args: String,
    ret: Option<String>,
}

/// The calls of strace's output, joined across `<unfinished ...>` and `<... resumed>`.
fn lines(text: &str) -> Vec<Line> {
    let mut pending: HashMap<u32, (String, String)> = HashMap::new();
    let mut out = Vec::new();
    for raw in text.lines() {
        let Some((tid, rest)) = raw.split_once(' ') else { continue };
        let Ok(tid) = tid.parse::<u32>() else { continue };
        let rest = rest.trim_start();
        if rest.starts_with("---") || rest.starts_with("+++") {
            continue;
        }
        let (name, whole) = if let Some(resumed) = rest.strip_prefix("<... ") {
            let Some((name, tail)) = resumed.split_once(" resumed>") else { continue };
            let Some((_, head)) = pending.remove(&tid) else { continue };
            (name.to_string(), format!("{head}{tail}"))
        } else {
            let Some((name, args)) = rest.split_once('(') else { continue };
            if let Some(head) = args.strip_suffix("<unfinished ...>") {
                pending.insert(tid, (name.to_string(), head.to_string()));
                continue;
            }
            (name.to_string(), args.to_string())
        };
        // strace pads short calls before their result: `close(3<…>)   = 0`.
        let (args, ret) = match whole.rsplit_once(" = ") {
            Some((args, ret)) if args.trim_end().ends_with(')') => (args.trim_end().trim_end_matches(')').to_string(), Some(ret.to_string())),
            _ => (whole, None),
        };
        out.push(Line { tid, name, args, ret });
    }
    // A call the process never returned from (it ended inside it).
    for (tid, (name, args)) in pending {
        out.push(Line { tid, name, args, ret: Some("?".to_string()) });
    }
    out
}

/// The per-process socket calls of strace's output, processes in order of first socket call.
pub fn from_strace(text: &str) -> Vec<Process> {
    let lines = lines(text);
    // Which thread belongs to which process: a clone with CLONE_THREAD makes a thread.
    let mut leader: HashMap<u32, u32> = HashMap::new();
    let mut parent: HashMap<u32, u32> = HashMap::new();
    for line in &lines {
        if !matches!(line.name.as_str(), "clone" | "clone3" | "fork" | "vfork") {
            continue;
        }
        let Some(child) = line.ret.as_deref().and_then(|r| r.split_whitespace().next()).and_then(|r| r.parse::<u32>().ok()) else { continue };
        parent.insert(child, line.tid);
        if line.args.contains("CLONE_THREAD") {
            leader.insert(child, line.tid);
        }
    }
    let process = |tid: u32| {
        let mut t = tid;
        while let Some(&l) = leader.get(&t) {
            t = l;
        }
        t
    };
    // Descriptor tables, per process: a socket keeps its identity through dup and fork.
    let mut tables: HashMap<u32, HashMap<i32, usize>> = HashMap::new();
    let mut next = 0usize;
    let mut calls = Vec::new();
    for line in lines {
        let pid = process(line.tid);
        if !tables.contains_key(&pid) {
            // A new process starts with a copy of its parent's table.
            let inherited = parent.get(&pid).map(|&p| process(p)).and_then(|p| tables.get(&p).cloned()).unwrap_or_default();
            tables.insert(pid, inherited);
        }
        if matches!(line.name.as_str(), "clone" | "clone3" | "fork" | "vfork") {
            continue;
        }
        let Some(ret) = line.ret.as_deref().and_then(result) else { continue };
        let table = tables.get_mut(&pid).expect("made above");
        let fds = socket_fds(&line.args);
        let returned = line.ret.as_deref().map(socket_fds).unwrap_or_default();
        let mut fresh = || {
            next += 1;
            next
        };
        // The socket a call is about: its first socket argument; `socket()`'s is the one it
        // returns. A descriptor seen for the first time (inherited from outside) is a socket
        // of its own.
        let socket = match (line.name.as_str(), fds.first(), returned.first()) {
            ("socket", _, Some(&new)) => {
                let id = fresh();
                table.insert(new, id);
                Some(id)
            }
            (_, Some(&fd), _) => Some(*table.entry(fd).or_insert_with(&mut fresh)),
            _ => None,
        };
        let ok = !ret.starts_with("-1") && ret != "?";
        match line.name.as_str() {
            // `accept` returns a new socket; `dup` another descriptor for the same one.
            "accept" | "accept4" if ok => {
                if let Some(&new) = returned.first() {
                    let id = fresh();
                    table.insert(new, id);
                }
            }
            "dup" | "dup2" | "dup3" | "fcntl" if ok && (line.name != "fcntl" || line.args.contains("F_DUPFD")) => {
                if let (Some(id), Ok(new)) = (socket, ret.parse::<i32>()) {
                    table.insert(new, id);
                }
            }
            "close" => {
                if let Some(&fd) = fds.first() {
                    table.remove(&fd);
                }
            }
            _ => {}
        }
        if socket.is_none() && !WAITS.contains(&line.name.as_str()) {
            continue;
        }
        calls.push((pid, socket, line.name, ret));
    }
    group(calls)
}
