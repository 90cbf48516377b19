//! The tracer thread's loop: wait for a tracee to stop, tell what stopped it (a followed
//! system call's entry or exit, a new process or thread, an exec, a signal, an exit), act,
//! and let the tracee go on.
//!
//! Each call is stamped when the tracer sees the stop, on the trace clock: a start at the
//! call's entry stop, an end at its exit stop. The stop is reported a few microseconds after
//! the tracee reached it (the tracer must be woken and scheduled), so a stamp lags the real
//! entry or exit by that much; what the tracee does (the SYN a `connect` sends) happens only
//! after the tracer lets it go, so a call's start still precedes everything it causes.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex, MutexGuard};

use nix::sys::ptrace;
use nix::unistd::Pid;

use super::fds::{FdTable, SharedTable, SockKey, Sockets};
use super::launch::Launch;
use super::names::Namer;
use super::open_call::OpenCall;
use super::programs::{AfterClient, Finished, WatchPorts, SAY_AFTER};
use super::restart::{self, Entered, Interrupted};
use super::signals;
use super::sockname::ProcessFd;
use super::spawn::{self, Started};
use super::syscalls::{self, Stop, Sys};
use crate::event::{Exit, Role};
use crate::hash::FastMap;
use crate::trace::ProgramEnd;

/// One traced thread (a process is its thread-group leader).
pub(super) struct Task {
    pub tgid: i32,
    pub fds: SharedTable,
    /// The followed call it is in, between entry and exit.
    pub open: Option<OpenCall>,
    /// The flags of the `clone` it is in, for the new task's event.
    pub clone_flags: Option<u64>,
    /// A followed call a signal interrupted: what the program saw is still to be told.
    pub interrupted: Option<Interrupted>,
    /// The call it was restarted into stops at the filter too, after its entry: that stop
    /// is the same call, not a new one.
    pub skip_filter_stop: bool,
    /// A new task's first stop is the SIGSTOP ptrace gives it, not a signal to deliver.
    fresh: bool,
}

impl Task {
    fn new(tgid: i32, fds: SharedTable, fresh: bool) -> Task {
        Task { tgid, fds, open: None, clone_flags: None, interrupted: None, skip_filter_stop: false, fresh }
    }
}

/// A program the session started, and what it became.
struct Program {
    pid: i32,
    command: String,
}

pub(super) struct Tracer {
    pub tasks: FastMap<i32, Task>,
    /// Per process, a handle to ask the kernel about its sockets (opened when first needed).
    pub processes: HashMap<i32, Option<ProcessFd>>,
    pub sockets: Sockets,
    pub namer: Arc<Mutex<Namer>>,
    pub next_id: u64,
    /// The port of the first socket that listened, once it has (starts the client).
    pub listened: Option<u16>,
    pub problems: Vec<String>,
    watched: Vec<u16>,
    watch: WatchPorts,
    /// New tasks that stopped before their creator's fork event named their creator.
    early: HashSet<i32>,
    /// With the seccomp filter only its calls stop; without it every call does.
    seccomp: bool,
    programs: Vec<Program>,
    ends: Vec<ProgramEnd>,
    /// A client to start once a server listens (`trace run --server … --client …`).
    client: Option<Vec<String>>,
    /// How the client is started, as the first program was.
    launch: Launch,
    with_seccomp: bool,
    /// Mechanisms a process used that the lens cannot see, once per process.
    pub untraced: HashSet<(i32, String)>,
    /// How long the server may take to listen (or bind a datagram socket) before the client
    /// is given up, and the watchdog that ends the server then (dropped once the client runs).
    wait: std::time::Duration,
    watchdog: Option<mpsc::Sender<()>>,
    /// What becomes of the server should it outlive the client, and the thread that does it
    /// (dropped when the session ends first); set by that thread once it has ended the server.
    after: AfterClient,
    lingering: Option<mpsc::Sender<()>>,
    ended_server: Arc<AtomicBool>,
    gave_up: Arc<AtomicBool>,
    /// Set once the session is over: a grace period's end then has nothing left to kill.
    done: Arc<AtomicBool>,
    grace_started: bool,
}

/// Locks the namer, also after a panic elsewhere (the events it holds are still sent).
pub(super) fn lock(namer: &Mutex<Namer>) -> MutexGuard<'_, Namer> {
    namer.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Lets stopped `tid` go on with `request` (`PTRACE_CONT` or `PTRACE_SYSCALL`), delivering
/// signal `sig` (0: none). Raw, because nix's requests take its `Signal`, which has no
/// real-time signals, and a program's own real-time signals must reach it.
fn ptrace_resume(request: libc::c_uint, tid: i32, sig: i32) {
    // SAFETY: CONT and SYSCALL take no pointer (`data` is the signal number), and the kernel
    // checks that `tid` is a stopped tracee of this thread. ESRCH (killed meanwhile) is fine:
    // its end is reported by waitpid.
    unsafe { libc::ptrace(request, tid, std::ptr::null_mut::<libc::c_void>(), sig as usize as *mut libc::c_void) };
}

/// The event message of a ptrace event stop (a new task's id, an exec's former id).
fn event_msg(tid: i32) -> Option<i32> {
    ptrace::getevent(Pid::from_raw(tid)).ok().map(|msg| msg as i32)
}

impl Tracer {
    pub fn new(
        first: Started,
        argv: &[String],
        client: Option<(Vec<String>, std::time::Duration, AfterClient)>,
        launch: Launch,
        namer: Arc<Mutex<Namer>>,
        watch: WatchPorts,
        with_seccomp: bool,
    ) -> Tracer {
        let (client, wait, after) = match client {
            Some((client, wait, after)) => (Some(client), wait, after),
            None => (None, std::time::Duration::ZERO, AfterClient::Runs),
        };
        let mut tracer = Tracer {
            tasks: FastMap::default(),
            processes: HashMap::new(),
            sockets: Sockets::default(),
            namer,
            next_id: 1,
            listened: None,
            problems: Vec::new(),
            watched: Vec::new(),
            watch,
            early: HashSet::new(),
            seccomp: first.seccomp,
            programs: Vec::new(),
            ends: Vec::new(),
            client,
            launch,
            with_seccomp,
            untraced: HashSet::new(),
            wait,
            watchdog: None,
            after,
            lingering: None,
            ended_server: Arc::new(AtomicBool::new(false)),
            gave_up: Arc::new(AtomicBool::new(false)),
            done: Arc::new(AtomicBool::new(false)),
            grace_started: false,
        };
        tracer.adopt(first.pid, argv);
        tracer
    }

    /// Takes a started program into the session and lets it run. With a server and a client,
    /// each program (and every process it starts) plays its part: the server first.
    fn adopt(&mut self, pid: i32, argv: &[String]) {
        let slot = self.programs.len();
        signals::set_target(slot, pid);
        if self.client.is_some() || slot > 0 {
            lock(&self.namer).program(pid as u32, if slot == 0 { Role::Server } else { Role::Client });
        }
        self.programs.push(Program { pid, command: argv.first().cloned().unwrap_or_default() });
        self.tasks.insert(pid, Task::new(pid, Rc::new(RefCell::new(FdTable::default())), false));
        self.resume(pid, 0);
    }

    /// Runs until every traced task has ended.
    pub fn run(mut self) -> Finished {
        if self.client.is_some() {
            self.watchdog = Some(watchdog(self.wait, self.gave_up.clone()));
        }
        while !self.tasks.is_empty() || !self.early.is_empty() {
            if self.tasks.is_empty() {
                // Their creators ended before reporting them: nobody else will.
                for tid in std::mem::take(&mut self.early) {
                    self.tasks.insert(tid, Task::new(tid, Rc::new(RefCell::new(FdTable::default())), false));
                    self.resume(tid, 0);
                }
            }
            // __WNOTHREAD: only this thread's tracees. Without it, two recordings in one process
            // (tests running side by side) would take each other's stops, and both would hang.
            let (tid, status) = match spawn::wait(None, libc::__WALL | libc::__WNOTHREAD) {
                Ok(stop) => stop,
                Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
                // No child left to wait for (ECHILD): every tracee has gone.
                Err(_) => break,
            };
            self.on_wait(tid, status);
            if let Some(port) = self.listened {
                if let Some(client) = self.client.take() {
                    self.start_client(port, &client);
                }
            }
        }
        self.done.store(true, Ordering::SeqCst);
        self.watchdog = None;
        self.lingering = None;
        if let Some(client) = self.client.take() {
            let client = client.join(" ");
            self.problems.push(if self.gave_up.load(Ordering::SeqCst) {
                format!(
                    "the server neither listened nor bound a port within {} s, so it was ended and {client} was not started (a slow server? give it longer with --listen-timeout SECS)",
                    self.wait.as_secs_f64()
                )
            } else {
                format!("the server ended before it listened or bound a port: {client} was not started")
            });
        }
        lock(&self.namer).finish();
        let mut untraced: Vec<String> = self.untraced.into_iter().map(|(_, m)| m).collect();
        untraced.sort_unstable();
        untraced.dedup();
        // In the order they were started (the server first), not the order they ended.
        let started = |end: &ProgramEnd| self.programs.iter().position(|p| p.pid as u32 == end.pid);
        self.ends.sort_by_key(started);
        Finished { programs: self.ends, problems: self.problems, untraced }
    }

    /// A termination signal came: the programs have [`signals::GRACE`] to end by themselves.
    fn start_grace(&mut self) {
        if std::mem::replace(&mut self.grace_started, true) {
            return;
        }
        let done = self.done.clone();
        std::thread::spawn(move || {
            std::thread::sleep(signals::GRACE);
            if !done.load(Ordering::SeqCst) {
                signals::terminate(libc::SIGKILL);
            }
        });
    }

    fn start_client(&mut self, port: u16, argv: &[String]) {
        // The server listens in time: the watchdog has nothing left to do.
        self.watchdog = None;
        let argv: Vec<String> = argv.iter().map(|a| a.replace("{port}", &port.to_string())).collect();
        let launch = self.launch.client.as_deref().unwrap_or(&self.launch);
        match spawn::spawn(&argv, launch, self.with_seccomp) {
            Ok(started) => self.adopt(started.pid, &argv),
            Err(err) => {
                self.problems.push(err.to_string());
                // The server would wait for its client for ever.
                if let Some(server) = self.programs.first() {
                    signals::send(server.pid, libc::SIGTERM);
                }
            }
        }
    }

    fn on_wait(&mut self, tid: i32, status: i32) {
        if let Some((sig, pass_on)) = signals::take_forwarded() {
            if pass_on {
                self.pass_on(sig);
            }
            if sig != libc::SIGKILL {
                self.start_grace();
            }
        }
        if libc::WIFEXITED(status) || libc::WIFSIGNALED(status) {
            self.exited(tid, status);
            return;
        }
        if !libc::WIFSTOPPED(status) {
            return;
        }
        if !self.tasks.contains_key(&tid) {
            // A new task's first stop, before its creator's event: it waits for that.
            self.early.insert(tid);
            return;
        }
        let sig = libc::WSTOPSIG(status);
        let event = (status >> 16) & 0xff;
        match (sig, event) {
            (libc::SIGTRAP, libc::PTRACE_EVENT_SECCOMP) => self.syscall_stop(tid),
            (s, 0) if s == libc::SIGTRAP | 0x80 => self.syscall_stop(tid),
            (libc::SIGTRAP, event @ (libc::PTRACE_EVENT_FORK | libc::PTRACE_EVENT_VFORK | libc::PTRACE_EVENT_CLONE)) => {
                self.new_task(tid, event);
                self.resume(tid, 0);
            }
            (libc::SIGTRAP, libc::PTRACE_EVENT_EXEC) => {
                self.exec(tid);
                self.resume(tid, 0);
            }
            (libc::SIGSTOP, 0) if self.tasks.get(&tid).is_some_and(|t| t.fresh) => {
                if let Some(task) = self.tasks.get_mut(&tid) {
                    task.fresh = false;
                }
                self.resume(tid, 0);
            }
            (sig, 0) => {
                // A signal for the tracee, delivered as it was sent; or a group stop (no
                // siginfo), which a tracer that attached without PTRACE_SEIZE can only resume.
                let delivered = ptrace::getsiginfo(Pid::from_raw(tid)).is_ok();
                self.resume(tid, if delivered { sig } else { 0 });
            }
            _ => self.resume(tid, 0),
        }
    }

    /// Lets `tid` go on, delivering `sig` (0: none): to its next followed call, or with
    /// `PTRACE_SYSCALL` to the exit of the call it is in, or to every call while a signal's
    /// effect on an interrupted call is not known yet (every call, without the filter).
    fn resume(&self, tid: i32, sig: i32) {
        let to_exit = self.tasks.get(&tid).is_some_and(|t| t.open.is_some() || t.interrupted.is_some());
        let request = if self.seccomp && !to_exit { libc::PTRACE_CONT } else { libc::PTRACE_SYSCALL };
        ptrace_resume(request, tid, sig);
    }

    fn syscall_stop(&mut self, tid: i32) {
        match syscalls::stop_of(tid) {
            Ok(Stop::Entry { nr, args, seccomp }) => {
                if !self.after_signal(tid, nr, seccomp) {
                    // With the filter, a followed call is taken at the filter's stop; an entry
                    // stop before it (while watching an interrupted call) is the same call.
                    if seccomp || !self.seccomp {
                        if let Some(sys) = Sys::from_nr(nr) {
                            self.entry(tid, sys, args);
                        }
                    }
                }
            }
            Ok(Stop::Exit { rval, is_error }) => {
                if !self.handler_returned(tid, rval) {
                    if let Some(task) = self.tasks.get_mut(&tid) {
                        if let Some(open) = task.open.take() {
                            if restart::interrupted(rval, is_error) {
                                let nr = open.sys.nr().unwrap_or(-1) as u64;
                                task.interrupted = Some(Interrupted { call: open, nr, returning: false });
                            } else {
                                self.exit(tid, open, rval, is_error);
                            }
                        }
                    }
                }
            }
            Ok(Stop::Other) | Err(_) => {}
        }
        self.resume(tid, 0);
    }

    /// An entry stop of a task whose call a signal interrupted (see `restart.rs`): whether it
    /// was about that call (then taken care of here).
    fn after_signal(&mut self, tid: i32, nr: u64, seccomp: bool) -> bool {
        let filtered = self.seccomp;
        let Some(task) = self.tasks.get_mut(&tid) else { return false };
        if seccomp && std::mem::take(&mut task.skip_filter_stop) {
            return true;
        }
        let Some(waiting) = task.interrupted.as_mut() else { return false };
        match restart::entered(waiting.nr, nr) {
            Entered::Restart => {
                let mut call = task.interrupted.take().map(|i| i.call);
                if let Some(call) = call.as_mut() {
                    call.restarted = true;
                }
                task.open = call;
                // The call runs again through the filter, which stops it a second time.
                task.skip_filter_stop = filtered && !seccomp && nr != syscalls::RESTART_SYSCALL;
                true
            }
            Entered::HandlerReturn => {
                waiting.returning = true;
                true
            }
            Entered::Other => false,
        }
    }

    /// An exit stop: if it is the signal handler's return for an interrupted call, whether
    /// the program saw `EINTR` (the call's end, now) or the call is to run again.
    fn handler_returned(&mut self, tid: i32, rval: i64) -> bool {
        let Some(task) = self.tasks.get_mut(&tid) else { return false };
        if !task.interrupted.as_ref().is_some_and(|i| i.returning) {
            return false;
        }
        if restart::handler_returned_eintr(rval) {
            if let Some(interrupted) = task.interrupted.take() {
                self.exit(tid, interrupted.call, rval, true);
            }
        } else if let Some(waiting) = task.interrupted.as_mut() {
            waiting.returning = false;
        }
        true
    }

    /// `tid` created a task: a thread shares its descriptor table (CLONE_FILES), a process
    /// gets a copy, so each socket gains a descriptor; a new process is on the timeline.
    fn new_task(&mut self, tid: i32, ptrace_event: i32) {
        let Some(child) = event_msg(tid) else { return };
        let Some(parent) = self.tasks.get_mut(&tid) else { return };
        let flags = parent.clone_flags.take();
        // `fork` and `vfork` calls carry no flags: they copy the table.
        let shares_files = flags.is_some_and(|f| f & libc::CLONE_FILES as u64 != 0);
        let thread = flags.is_some_and(|f| f & libc::CLONE_THREAD as u64 != 0);
        let (tgid, parent_fds) = (parent.tgid, parent.fds.clone());
        let fds = if shares_files { parent_fds } else { Rc::new(RefCell::new(self.sockets.copy(&parent_fds.borrow()))) };
        let early = self.early.remove(&child);
        if !thread {
            let call = match (flags, ptrace_event) {
                (Some(_), _) => "clone",
                (None, libc::PTRACE_EVENT_VFORK) => "vfork",
                (None, _) => "fork",
            };
            let mut held: Vec<(i32, SockKey)> = fds.borrow().fds().filter_map(|fd| fds.borrow().get(fd).map(|k| (fd, k))).collect();
            held.sort_unstable();
            let mut seen = HashSet::new();
            held.retain(|(_, k)| seen.insert(*k));
            self.forked(tid, tgid, child, call, held.into_iter().map(|(_, k)| k).collect());
        }
        self.tasks.insert(child, Task::new(if thread { tgid } else { child }, fds, !early));
        if early {
            self.resume(child, 0);
        }
    }

    /// After an exec: the process is its one thread (under the leader's id), with its own
    /// table, without the descriptors marked close-on-exec. Those are found by asking
    /// /proc which of its sockets' numbers still exist: nothing has run in the new program yet.
    fn exec(&mut self, tid: i32) {
        let former = event_msg(tid).unwrap_or(tid);
        let Some(mut task) = self.tasks.remove(&former) else { return };
        // The other threads are gone; the kernel reports their ends, maybe later.
        let tgid = task.tgid;
        let threads: Vec<i32> = self.tasks.iter().filter(|(_, t)| t.tgid == tgid).map(|(tid, _)| *tid).collect();
        for thread in threads {
            if let Some(gone) = self.tasks.remove(&thread) {
                self.settle(gone.open.and_then(|o| o.released));
                if Rc::strong_count(&gone.fds) == 1 {
                    let _ = self.release_table(&gone.fds);
                }
            }
        }
        task.open = None;
        // A table still shared (with another process, by CLONE_FILES) stays theirs; the
        // new program gets its own copy.
        if Rc::strong_count(&task.fds) > 1 {
            let copy = self.sockets.copy(&task.fds.borrow());
            task.fds = Rc::new(RefCell::new(copy));
        }
        // lstat: the link itself, whatever it points to.
        let mut gone: Vec<i32> = task.fds.borrow().fds().filter(|fd| std::fs::symlink_metadata(format!("/proc/{tid}/fd/{fd}")).is_err()).collect();
        gone.sort_unstable();
        let mut closed = Vec::new();
        for fd in gone {
            if let Some(key) = task.fds.borrow().get(fd) {
                closed.push(key);
            }
            let released = self.sockets.detach(&mut task.fds.borrow_mut(), fd);
            self.settle(released);
        }
        let mut kept: Vec<(i32, SockKey)> = task.fds.borrow().fds().filter_map(|fd| task.fds.borrow().get(fd).map(|k| (fd, k))).collect();
        kept.sort_unstable();
        // A socket kept under several numbers (an inetd child's 0 and 1) is one socket; one
        // that is kept under one number is not closed by losing another.
        let mut seen = HashSet::new();
        kept.retain(|(_, k)| seen.insert(*k));
        let mut gone_twice = HashSet::new();
        closed.retain(|k| !seen.contains(k) && gone_twice.insert(*k));
        self.tasks.insert(tid, task);
        self.execed(tid, program_of(tid), kept.into_iter().map(|(_, k)| k).collect(), closed);
    }

    /// Passes a signal sent to `trace` on to every traced process it did not reach: all of
    /// them descend from the programs this session started.
    fn pass_on(&self, sig: i32) {
        let processes: HashSet<i32> = self.tasks.values().map(|t| t.tgid).collect();
        for pid in processes.into_iter().filter(|&pid| !signals::is_target(pid)) {
            signals::send(pid, sig);
        }
    }

    fn exited(&mut self, tid: i32, status: i32) {
        self.early.remove(&tid);
        let exit = if libc::WIFSIGNALED(status) {
            Exit::Signal { signal: signals::name(libc::WTERMSIG(status)), core_dumped: libc::WCOREDUMP(status) }
        } else {
            Exit::Status { code: libc::WEXITSTATUS(status) }
        };
        if let Some(task) = self.tasks.remove(&tid) {
            // A call it was in never returns: its start stays without an end (a close's socket
            // is let go of all the same).
            self.settle(task.open.as_ref().and_then(|o| o.released));
            let closed = if Rc::strong_count(&task.fds) == 1 { self.release_table(&task.fds) } else { Vec::new() };
            // The leader's end is the process's: Linux reports it after its other threads'.
            if tid == task.tgid {
                self.ended(tid, exit.clone(), closed);
            }
            if !self.tasks.values().any(|t| t.tgid == task.tgid) {
                self.processes.remove(&task.tgid);
            }
        }
        if let Some(slot) = self.programs.iter().position(|p| p.pid == tid) {
            // A signal to `trace` now goes to a process the program left behind, if any, so
            // that it still reaches the session (and wakes this tracer) once the program is gone.
            let heir = self.tasks.values().map(|t| t.tgid).find(|&pid| !signals::is_target(pid));
            signals::set_target(slot, heir.unwrap_or(0));
        }
        if let Some((slot, program)) = self.programs.iter().enumerate().find(|(_, p)| p.pid == tid) {
            let ended_by_trace = slot == 0 && self.ended_server.load(Ordering::SeqCst);
            self.ends.push(ProgramEnd { command: program.command.clone(), pid: tid as u32, exit, ended_by_trace });
        }
        if let Some([server, client]) = self.programs.get(..2) {
            let server_runs = !self.ends.iter().any(|e| e.pid == server.pid as u32);
            if client.pid == tid && server_runs {
                self.lingering = after_the_client(server.pid, self.after, self.ended_server.clone());
            }
        }
    }

    /// The table's descriptors are gone (its last user ended, or exec made its own copy):
    /// the sockets whose last descriptor it held, in descriptor order.
    fn release_table(&mut self, table: &SharedTable) -> Vec<SockKey> {
        let released = self.sockets.drop_table(&mut table.borrow_mut());
        for &key in &released {
            self.settle(Some(key));
        }
        released
    }

    /// A socket whose last descriptor went: if it has no name yet, it gets one now.
    pub fn settle(&mut self, released: Option<SockKey>) {
        if let Some(key) = released {
            lock(&self.namer).settle(key);
        }
    }

    /// A server of the session waits at `port` now (it listens, or a datagram socket bound
    /// it): the client may start.
    pub fn served(&mut self, _tid: i32, port: u16) {
        self.listened.get_or_insert(port);
    }

    /// Follows `port` in the kernel lenses from now on (the tracee is held until this returns).
    pub fn watch(&mut self, port: u16) {
        if port == 0 || self.watched.contains(&port) {
            return;
        }
        self.watched.push(port);
        // The programs wait while the lenses start: their sockets' holds must not run out.
        lock(&self.namer).hold_programs(true, crate::capture::clock::now_ns());
        let watched = (self.watch)(&self.watched);
        lock(&self.namer).hold_programs(false, crate::capture::clock::now_ns());
        if let Err(err) = watched {
            self.watched.pop();
            let problem = format!("cannot follow port {port}: {err}");
            if !self.problems.contains(&problem) {
                self.problems.push(problem);
            }
        }
    }

    /// The kernel's view of process `pid`'s socket `fd`: (local, peer).
    pub fn addresses(&mut self, pid: i32, fd: i32) -> (Option<std::net::SocketAddr>, Option<std::net::SocketAddr>) {
        let handle = self.processes.entry(pid).or_insert_with(|| ProcessFd::open(pid).ok());
        handle.as_ref().and_then(|h| h.addresses(fd).ok()).unwrap_or((None, None))
    }
}

/// Ends the session's programs if the server has not listened (or bound a datagram socket)
/// within `wait`: a server that never does would keep the client, and the trace, waiting for
/// ever. Dropping the returned sender calls it off.
fn watchdog(wait: std::time::Duration, gave_up: Arc<AtomicBool>) -> mpsc::Sender<()> {
    let (tx, rx) = mpsc::channel::<()>();
    std::thread::spawn(move || {
        if rx.recv_timeout(wait) == Err(mpsc::RecvTimeoutError::Timeout) {
            gave_up.store(true, Ordering::SeqCst);
            signals::terminate(libc::SIGTERM);
        }
    });
    tx
}

/// Does what `after` says to server `pid`, which the client has left running, unless the
/// returned sender is dropped first (the session ended). A pidfd names the process itself:
/// were it to end meanwhile, its pid, reused, would not be signalled. Only the server is
/// signalled, not the session's other programs: `trace grade` runs several sessions at once.
fn after_the_client(pid: i32, after: AfterClient, ended: Arc<AtomicBool>) -> Option<mpsc::Sender<()>> {
    use rustix::process::{pidfd_open, pidfd_send_signal, PidfdFlags, Signal};
    let linger = match after {
        AfterClient::Runs => return None,
        AfterClient::RunsAndSay => SAY_AFTER,
        AfterClient::Ended(linger) => linger,
    };
    let pidfd = pidfd_open(rustix::process::Pid::from_raw(pid)?, PidfdFlags::empty()).ok()?;
    let (tx, rx) = mpsc::channel::<()>();
    let waited = move |time| rx.recv_timeout(time) == Err(mpsc::RecvTimeoutError::Timeout);
    std::thread::spawn(move || {
        if !waited(linger) {
            return;
        }
        if after == AfterClient::RunsAndSay {
            eprintln!("trace run: the client has ended and the server still runs: Ctrl-C ends it (its own clean-up runs) and the trace; `--linger SECS` ends it by itself");
            return;
        }
        // Ended meanwhile (ESRCH): nothing left to end.
        ended.store(true, Ordering::SeqCst);
        let _ = pidfd_send_signal(&pidfd, Signal::TERM);
        if waited(signals::GRACE) {
            let _ = pidfd_send_signal(&pidfd, Signal::KILL);
        }
    });
    Some(tx)
}

/// The program a process runs now, as `/proc` names it.
fn program_of(pid: i32) -> String {
    std::fs::read_link(format!("/proc/{pid}/exe")).map(|p| p.to_string_lossy().into_owned()).unwrap_or_else(|_| "?".to_string())
}
