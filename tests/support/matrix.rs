//! The style matrix: small echo servers and clients written the ways networking courses and
//! real servers write them (`fixtures/programs/matrix/`, described in its README.md), all
//! speaking one protocol so their traces can be compared. A server takes the number of
//! clients, binds loopback port 0, serves that many and exits 0; a client takes the port,
//! sends `hello\n` and `world\n`, reads each whole echo back, closes and exits 0.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

/// TCP styles listen and accept; UDP styles only bind, and answer two datagrams per client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Tcp,
    Udp,
}

/// One server and client pair in one style.
#[derive(Debug)]
pub struct Style {
    /// The style's name; its files in the fixture folder start with it.
    pub name: &'static str,
    pub transport: Transport,
    /// How many clients a test runs against one server (the server is told the same number).
    pub clients: usize,
    /// Whether those clients run at the same time (through `sh`) or one after another.
    pub concurrent: bool,
    /// `None` for a correct pair; else the mistake this pair makes on purpose.
    pub wrong: Option<&'static str>,
    /// The tools the pair needs (a name looked up on PATH, or an absolute path).
    pub needs: &'static [&'static str],
}

const fn tcp(name: &'static str, needs: &'static [&'static str]) -> Style {
    Style { name, transport: Transport::Tcp, clients: 1, concurrent: false, wrong: None, needs }
}

const fn udp(name: &'static str, needs: &'static [&'static str]) -> Style {
    Style { transport: Transport::Udp, ..tcp(name, needs) }
}

const fn wrong(name: &'static str, mistake: &'static str) -> Style {
    Style { wrong: Some(mistake), ..tcp(name, C) }
}

const C: &[&str] = &["cc"];
const PYTHON: &[&str] = &["python3"];

/// Every style, correct ones first.
pub const STYLES: &[Style] = &[
    tcp("c_blocking", C),
    Style { clients: 3, concurrent: true, ..tcp("c_select", &["cc", "sh"]) },
    tcp("c_fork", C),
    tcp("c_inetd", &["cc", "/bin/cat"]),
    tcp("c_epoll", C),
    tcp("c_nonblock_connect", C),
    tcp("c_vectored", C),
    udp("c_udp", C),
    udp("py_udp", PYTHON),
    tcp("java_threads", &["javac", "java"]),
    tcp("go_net", &["go"]),
    tcp("node_net", &["node"]),
    tcp("py_asyncio", PYTHON),
    tcp("py_threading", PYTHON),
    tcp("perl", &["perl"]),
    tcp("rust_std", &["rustc"]),
    tcp("c_ipv6", C),
    wrong("wrong_no_listener_close", "the server exits without closing its listening socket"),
    wrong("wrong_never_accepts", "the server listens but never accepts; it closes the listener after 1 s"),
    wrong("wrong_no_exchange", "the server closes each connection as soon as it accepts it"),
    wrong("wrong_client_never_closes", "the client exits without closing its socket"),
    wrong("wrong_speaks_first", "the server sends \"hi\\n\" before reading anything"),
    wrong("wrong_answers_twice", "the server sends every chunk back twice"),
];

/// The style called `name`.
pub fn named(name: &str) -> Option<&'static Style> {
    STYLES.iter().find(|s| s.name == name)
}

/// The clients of the wrong servers wait at most this long (seconds) for each echo.
const WRONG_READ_TIMEOUT: &str = "3";

/// The style's server file, client file and the client's arguments after the port.
fn files(style: &Style) -> (&'static str, &'static str, &'static [&'static str]) {
    const TIMEOUT: &[&str] = &["127.0.0.1", WRONG_READ_TIMEOUT];
    match style.name {
        "c_blocking" => ("c_blocking_server.c", "c_blocking_client.c", &[]),
        "c_select" => ("c_select_server.c", "c_blocking_client.c", &[]),
        "c_fork" => ("c_fork_server.c", "c_blocking_client.c", &[]),
        "c_inetd" => ("c_inetd_server.c", "c_blocking_client.c", &[]),
        "c_epoll" => ("c_epoll_server.c", "c_blocking_client.c", &[]),
        "c_nonblock_connect" => ("c_blocking_server.c", "c_nonblock_connect_client.c", &[]),
        "c_vectored" => ("c_vectored_server.c", "c_vectored_client.c", &[]),
        "c_udp" => ("c_udp_server.c", "c_udp_client.c", &[]),
        "py_udp" => ("py_udp_server.py", "py_udp_client.py", &[]),
        "java_threads" => ("JavaThreadsServer.java", "JavaThreadsClient.java", &[]),
        "go_net" => ("go_net_server.go", "go_net_client.go", &[]),
        "node_net" => ("node_net_server.js", "node_net_client.js", &[]),
        "py_asyncio" => ("py_asyncio_server.py", "py_asyncio_client.py", &[]),
        "py_threading" => ("py_threading_server.py", "py_blocking_client.py", &[]),
        "perl" => ("perl_server.pl", "perl_client.pl", &[]),
        "rust_std" => ("rust_std_server.rs", "rust_std_client.rs", &[]),
        "c_ipv6" => ("c_ipv6_server.c", "c_ipv6_client.c", &[]),
        "wrong_no_listener_close" => ("wrong_no_listener_close_server.c", "c_blocking_client.c", TIMEOUT),
        "wrong_never_accepts" => ("wrong_never_accepts_server.c", "c_blocking_client.c", TIMEOUT),
        "wrong_no_exchange" => ("wrong_no_exchange_server.c", "c_blocking_client.c", TIMEOUT),
        "wrong_client_never_closes" => ("c_blocking_server.c", "wrong_client_never_closes_client.c", &[]),
        "wrong_speaks_first" => ("wrong_speaks_first_server.c", "c_blocking_client.c", TIMEOUT),
        "wrong_answers_twice" => ("wrong_answers_twice_server.c", "c_blocking_client.c", TIMEOUT),
        other => panic!("no files for the style {other}"),
    }
}

/// A pair's commands. The client's argv holds the literal word `{port}` where the server's
/// port goes (inside the `sh -c` script when several clients run).
#[derive(Debug, Clone)]
pub struct Built {
    pub server: Vec<String>,
    pub client: Vec<String>,
}

/// Builds the pair into `dir` (compiling only what is not there yet) and returns its commands;
/// `Err` names the missing tools, or the compiler's complaint.
pub fn build(style: &Style, dir: &Path) -> Result<Built, String> {
    let missing = missing_tools(style);
    if !missing.is_empty() {
        return Err(format!("{}: missing {}", style.name, missing.join(", ")));
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let (server_file, client_file, client_args) = files(style);
    let mut server = program(server_file, dir)?;
    server.push(style.clients.to_string());
    let mut one_client = program(client_file, dir)?;
    one_client.push("{port}".to_string());
    one_client.extend(client_args.iter().map(ToString::to_string));
    let client = if style.clients == 1 {
        one_client
    } else {
        let line = one_client.iter().map(|a| if a == "{port}" { a.clone() } else { sh_quote(a) }).collect::<Vec<_>>().join(" ");
        let script = if style.concurrent {
            // Each client in the background; the script fails if any client failed.
            let mut script = String::new();
            for i in 0..style.clients {
                script += &format!("{line} & p{i}=$!; ");
            }
            let pids: Vec<String> = (0..style.clients).map(|i| format!("$p{i}")).collect();
            script + &format!("s=0; for p in {}; do wait $p || s=1; done; exit $s", pids.join(" "))
        } else {
            vec![line; style.clients].join(" && ")
        };
        vec!["sh".to_string(), "-c".to_string(), script]
    };
    Ok(Built { server, client })
}

/// The tools in `style.needs` that this machine lacks.
pub fn missing_tools(style: &Style) -> Vec<&'static str> {
    style.needs.iter().copied().filter(|tool| !tool_exists(tool)).collect()
}

fn tool_exists(tool: &str) -> bool {
    if tool.contains('/') {
        return Path::new(tool).is_file();
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).any(|dir| {
        let candidate = dir.join(tool);
        candidate.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    })
}

fn fixture(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/programs/matrix").join(file)
}

fn text(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

/// The argv that runs one fixture program, after compiling it into `dir` if it needs that.
fn program(file: &str, dir: &Path) -> Result<Vec<String>, String> {
    let source = fixture(file);
    let (stem, ext) = file.rsplit_once('.').expect("fixture files have an extension");
    let out = dir.join(stem);
    let src = text(&source);
    match ext {
        "py" => Ok(vec!["python3".into(), src]),
        "pl" => Ok(vec!["perl".into(), src]),
        "js" => Ok(vec!["node".into(), src]),
        "c" => {
            compile(&out, |tmp| {
                let mut cc = Command::new("cc");
                cc.args(["-O1", "-Wall", "-Werror", "-o"]).arg(tmp).arg(&source);
                cc
            })?;
            Ok(vec![text(&out)])
        }
        "rs" => {
            compile(&out, |tmp| {
                let mut rustc = Command::new("rustc");
                rustc.args(["--edition", "2021", "-O", "-o"]).arg(tmp).arg(&source);
                rustc
            })?;
            Ok(vec![text(&out)])
        }
        "go" => {
            compile(&out, |tmp| {
                let mut go = Command::new("go");
                go.arg("build").arg("-o").arg(tmp).arg(&source);
                go.env("GOCACHE", dir.join("gocache")).env("GOPATH", dir.join("gopath"));
                go.env("GO111MODULE", "off").env("GOFLAGS", "").env("GOTOOLCHAIN", "local").env("CGO_ENABLED", "0");
                go
            })?;
            Ok(vec![text(&out)])
        }
        "java" => {
            // One class directory per program: `java -cp DIR Class`.
            compile(&out, |tmp| {
                let _ = std::fs::create_dir_all(tmp);
                let mut javac = Command::new("javac");
                javac.arg("-d").arg(tmp).arg(&source);
                javac
            })?;
            Ok(vec!["java".into(), "-cp".into(), text(&out), stem.into()])
        }
        other => Err(format!("{file}: no way to run a .{other} file")),
    }
}

/// Runs the compiler `command(tmp)` unless `out` exists, then renames `tmp` to `out`, so that
/// builds racing in one directory never run half a file.
fn compile(out: &Path, command: impl FnOnce(&Path) -> Command) -> Result<(), String> {
    static BUILDS: AtomicUsize = AtomicUsize::new(0);
    if out.exists() {
        return Ok(());
    }
    let n = BUILDS.fetch_add(1, Ordering::Relaxed);
    let tmp = PathBuf::from(format!("{}.part{}-{n}", out.display(), std::process::id()));
    let mut cmd = command(&tmp);
    let result = cmd.output().map_err(|e| format!("{:?}: {e}", cmd.get_program()));
    let outcome = match result {
        Ok(o) if o.status.success() => match std::fs::rename(&tmp, out) {
            Ok(()) => Ok(()),
            Err(_) if out.exists() => Ok(()), // another build got there first
            Err(e) => Err(format!("{}: {e}", out.display())),
        },
        Ok(o) => Err(format!("{cmd:?} failed: {}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))),
        Err(e) => Err(e),
    };
    let _ = std::fs::remove_file(&tmp).or_else(|_| std::fs::remove_dir_all(&tmp));
    outcome
}

/// `s` as one word for `sh`.
fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// `trace run --save FILE --server … --client …` for a style's pair: the trace, or why not.
pub fn record(style: &Style, built: &Built, path: &Path) -> Result<socktrace::trace::Trace, String> {
    let server = built.server.iter().map(|w| shell_word(w)).collect::<Vec<_>>().join(" ");
    let client = built.client.iter().map(|w| shell_word(w)).collect::<Vec<_>>().join(" ");
    let out = super::trace(&["run", "--save", path.to_str().expect("utf-8 path"), "--listen-timeout", "60", "--server", &server, "--client", &client]);
    // A wrong server may make its client fail (exit 1 from the program, reported on stderr);
    // `trace` itself fails only with status 2.
    if out.status.code() == Some(2) || (style.wrong.is_none() && out.status.code() != Some(0)) {
        return Err(format!("trace run failed ({:?}): {}", out.status.code(), super::stderr(&out)));
    }
    let trace = super::load(path);
    if trace.end.as_ref().map(|e| e.out_of_order) != Some(0) {
        return Err("events out of time order".to_string());
    }
    Ok(trace)
}

/// One word for `trace run`'s shell-like splitting.
fn shell_word(word: &str) -> String {
    if !word.is_empty() && word.bytes().all(|b| b.is_ascii_alphanumeric() || b"/._-={}:".contains(&b)) {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}
