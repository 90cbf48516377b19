//! A tiny Chrome DevTools Protocol client over `--remote-debugging-pipe`: Chromium reads
//! commands from its fd 3 and writes answers and events to its fd 4, each message JSON
//! ended by a NUL byte.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// How long any one command or page load may take.
const PATIENCE: Duration = Duration::from_secs(60);

pub struct Browser {
    child: Child,
    commands: File,
    messages: Receiver<Value>,
    /// Events read while waiting for an answer, not yet looked at.
    pub events: Vec<Value>,
    next_id: u64,
    /// This browser's turn: one Chromium runs at a time (see [`Browser::start`]), released
    /// after it has closed.
    _turn: MutexGuard<'static, ()>,
}

/// The browser tests run alongside each other and the rest of the suite; a dozen headless
/// Chromiums at once on a small machine miss the DevTools timeouts, so they take turns.
static TURN: Mutex<()> = Mutex::new(());

fn pipe() -> (OwnedFd, OwnedFd) {
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills the two descriptors, which we then own.
    let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    assert_eq!(rc, 0, "pipe2: {}", std::io::Error::last_os_error());
    // SAFETY: both descriptors were just created and are owned by nobody else.
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

impl Browser {
    /// Starts headless Chromium with a fresh profile in `profile`, offline as far as its own
    /// switches allow, once no other test's Chromium is running.
    pub fn start(binary: &str, profile: &Path) -> Browser {
        // A test that failed while holding the turn poisons it; the next one may still run.
        let turn = TURN.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let (their_commands, our_commands) = pipe();
        let (our_messages, their_messages) = pipe();
        let (read_fd, write_fd) = (their_commands.as_raw_fd(), their_messages.as_raw_fd());
        let mut command = Command::new(binary);
        command
            .args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"])
            .args(["--disable-sync", "--no-first-run", "--disable-extensions", "--remote-debugging-pipe", "--window-size=1280,900"])
            .arg(format!("--user-data-dir={}", profile.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // SAFETY: only async-signal-safe calls between fork and exec. The pipe ends are first
        // copied above 10 so that moving them to 3 and 4 cannot overwrite one another.
        unsafe {
            command.pre_exec(move || {
                let (r, w) = (libc::fcntl(read_fd, libc::F_DUPFD_CLOEXEC, 10), libc::fcntl(write_fd, libc::F_DUPFD_CLOEXEC, 10));
                if r < 0 || w < 0 || libc::dup2(r, 3) < 0 || libc::dup2(w, 4) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command.spawn().unwrap_or_else(|e| panic!("cannot start {binary}: {e}"));
        drop((their_commands, their_messages));
        let (tx, messages) = channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(File::from(our_messages));
            let mut buf = Vec::new();
            while reader.read_until(0, &mut buf).is_ok_and(|n| n > 0) {
                buf.pop();
                if let Ok(value) = serde_json::from_slice::<Value>(&buf) {
                    if tx.send(value).is_err() {
                        break;
                    }
                }
                buf.clear();
            }
        });
        Browser { child, commands: File::from(our_commands), messages, events: Vec::new(), next_id: 0, _turn: turn }
    }

    /// Sends a command (to a page's session, or to the browser) and waits for its answer.
    pub fn call(&mut self, session: Option<&str>, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut message = json!({"id": id, "method": method, "params": params});
        if let Some(session) = session {
            message["sessionId"] = json!(session);
        }
        let mut bytes = serde_json::to_vec(&message).expect("json");
        bytes.push(0);
        self.commands.write_all(&bytes).expect("write to Chromium");
        let deadline = Instant::now() + PATIENCE;
        loop {
            let value = self.receive(deadline, method);
            if value["id"] == json!(id) {
                if let Some(error) = value.get("error") {
                    panic!("{method} failed: {error}");
                }
                return value["result"].clone();
            }
            self.events.push(value);
        }
    }

    fn receive(&mut self, deadline: Instant, waiting_for: &str) -> Value {
        let left = deadline.saturating_duration_since(Instant::now());
        self.messages.recv_timeout(left).unwrap_or_else(|_| panic!("Chromium did not answer {waiting_for} within {PATIENCE:?}"))
    }

    /// Waits for an event `method` of `session`, looking at those already read first.
    pub fn wait_for(&mut self, session: &str, method: &str) -> Value {
        let matches = |v: &Value| v["method"] == json!(method) && v["sessionId"] == json!(session);
        if let Some(at) = self.events.iter().position(matches) {
            return self.events.remove(at);
        }
        let deadline = Instant::now() + PATIENCE;
        loop {
            let value = self.receive(deadline, method);
            if matches(&value) {
                return value;
            }
            self.events.push(value);
        }
    }

    /// A new page, attached, with the domains the test listens to enabled; its session id.
    pub fn new_page(&mut self) -> String {
        let target = self.call(None, "Target.createTarget", json!({"url": "about:blank"}));
        let attached = self.call(None, "Target.attachToTarget", json!({"targetId": target["targetId"], "flatten": true}));
        let session = attached["sessionId"].as_str().expect("a session").to_string();
        for domain in ["Page", "Runtime", "Log", "Network"] {
            self.call(Some(&session), &format!("{domain}.enable"), json!({}));
        }
        session
    }

    /// Loads `url` in the page and waits until its load event (scripts have run).
    pub fn open(&mut self, session: &str, url: &str) {
        self.events.retain(|v| !(v["method"] == json!("Page.loadEventFired") && v["sessionId"] == json!(session)));
        self.call(Some(session), "Page.navigate", json!({"url": url}));
        self.wait_for(session, "Page.loadEventFired");
    }

    /// Evaluates a JavaScript expression that returns a string; returns the string.
    pub fn eval(&mut self, session: &str, expression: &str) -> String {
        let result = self.call(Some(session), "Runtime.evaluate", json!({"expression": expression, "returnByValue": true, "awaitPromise": true}));
        if let Some(exception) = result.get("exceptionDetails") {
            panic!("the page's script failed: {exception}");
        }
        result["result"]["value"].as_str().unwrap_or_else(|| panic!("not a string: {result}")).to_string()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Close politely, then make sure: the child is ours, killed by its own handle.
        let _ = self.commands.write_all(b"{\"id\":0,\"method\":\"Browser.close\",\"params\":{}}\0");
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
