//! The book's fixtures: the traces its chapters replay, and the one command that records them
//! all (`trace book record-fixtures`). Live ones need root, like `trace echo --live`.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::trace::{read_trace, Source};

/// One fixture: its file and the `trace` arguments that record it (`--save FILE` is added),
/// run in the fixtures' directory (programs are named from there: `../programs/…`; a C
/// program by the binary [`record`] builds from it, `../programs/bin/NAME`).
#[derive(Clone, Copy, Debug)]
pub struct Fixture {
    pub file: &'static str,
    pub args: &'static [&'static str],
    pub about: &'static str,
}

/// Every fixture the chapters use, in the book's order.
pub const FIXTURES: &[Fixture] = &[
    Fixture {
        file: "echo.jsonl",
        args: &["echo", "--live"],
        about: "one client sends three lines, the server answers each with its number, the client closes first",
    },
    Fixture { file: "echo-ipv6.jsonl", args: &["echo", "--live", "--ipv6"], about: "the same session over IPv6, on ::1" },
    Fixture {
        file: "server-closes-first.jsonl",
        args: &["echo", "--live", "--scenario", "server-closes-first"],
        about: "the server closes after its third answer, before the client",
    },
    Fixture {
        file: "half-close.jsonl",
        args: &["echo", "--live", "--scenario", "half-close"],
        about: "the client sends its lines, then shutdown(SHUT_WR), and still reads the answers",
    },
    Fixture { file: "refused.jsonl", args: &["echo", "--live", "--scenario", "refused"], about: "a connect to a port nobody listens on" },
    Fixture {
        file: "hosts.jsonl",
        args: &["echo", "--live", "--hosts"],
        about: "the echo session with client and server on two hosts of their own, joined by a virtual Ethernet cable",
    },
    Fixture {
        file: "lost-syn.jsonl",
        args: &["echo", "--live", "--drop", "syn"],
        about: "the first SYN is dropped on purpose (`--drop syn`), and sent again after the initial RTO",
    },
    Fixture { file: "lost-syn-model.jsonl", args: &["simulate", "lost-syn"], about: "the same story told by the RFC 9293 model, to set beside the live one" },
    Fixture { file: "clients3.jsonl", args: &["echo", "--live", "--clients", "3", "-m", "hello"], about: "three clients at once, one line each" },
    Fixture {
        file: "stream-per-recv.jsonl",
        args: &["run", "--server", "python3 ../programs/numbering_server.py", "--client", "../programs/bin/stream_client {port}"],
        about: "a student's numbering echo that takes each recv for a message: one send is read in three recvs, two sends in one",
    },
    Fixture {
        file: "stream-lines.jsonl",
        args: &["run", "--server", "python3 ../programs/numbering_server.py lines", "--client", "../programs/bin/stream_client {port}"],
        about: "the same client and server, the server now framing by newline: one number per line, however the bytes arrived",
    },
    Fixture {
        file: "addr-in-use.jsonl",
        args: &["run", "--server", "python3 ../programs/restart_server.py", "--client", "python3 ../programs/ask_client.py {port}"],
        about: "a server hangs up first, then restarts on its port while that connection is in TIME-WAIT: bind fails with EADDRINUSE",
    },
    Fixture {
        file: "addr-in-use-reuseaddr.jsonl",
        args: &["run", "--server", "python3 ../programs/restart_server.py reuse", "--client", "python3 ../programs/ask_client.py {port} 2"],
        about: "the same restart with SO_REUSEADDR on both listening sockets: bind works and the client is served again; a second listener on the port is still refused",
    },
    Fixture {
        file: "reset-read.jsonl",
        args: &["run", "--server", "python3 ../programs/hangup_server.py", "--client", "python3 ../programs/chatty_client.py {port}"],
        about: "the server closes with the client's second line unread: a reset instead of a FIN, and the client's recv fails with ECONNRESET",
    },
    Fixture {
        file: "sigpipe.jsonl",
        args: &["run", "--server", "../programs/bin/sigpipe_server", "--client", "python3 ../programs/impatient_client.py {port}"],
        about: "a C server writes to a client that has closed: the first send goes out and is reset, the second raises SIGPIPE, which kills the server",
    },
    Fixture {
        file: "epipe-nosignal.jsonl",
        args: &["run", "--server", "../programs/bin/sigpipe_server nosignal", "--client", "python3 ../programs/impatient_client.py {port}"],
        about: "the same server sending with MSG_NOSIGNAL: the second send returns EPIPE, and the server closes and exits normally",
    },
    Fixture {
        file: "vanished-peer.jsonl",
        args: &["run", "--server", "python3 ../programs/keepalive_server.py", "--client", "../programs/bin/vanishing_client {port}"],
        about: "the client stops answering without a packet; the server's keepalive probes go unanswered and its recv fails with ETIMEDOUT",
    },
    Fixture {
        file: "serve-fork.jsonl",
        args: &["run", "--server", "../programs/bin/fork_server", "--client", "sh -c 'python3 ../programs/echo_client.py {port} 0.3 & python3 ../programs/echo_client.py {port} 0.3 && wait'"],
        about: "two clients at once, served by a process per client (fork)",
    },
    Fixture {
        file: "serve-threads.jsonl",
        args: &["run", "--server", "../programs/bin/thread_server", "--client", "sh -c 'python3 ../programs/echo_client.py {port} 0.3 & python3 ../programs/echo_client.py {port} 0.3 && wait'"],
        about: "two clients at once, served by a thread per client",
    },
    Fixture {
        file: "serve-epoll.jsonl",
        args: &["run", "--server", "../programs/bin/epoll_server", "--client", "sh -c 'python3 ../programs/echo_client.py {port} 0.3 & python3 ../programs/echo_client.py {port} 0.3 && wait'"],
        about: "two clients at once, served by one thread's event loop (epoll, non-blocking sockets)",
    },
    Fixture {
        file: "p2p.jsonl",
        args: &["p2p"],
        about: "two peers, each listening and connecting to the other: each program is the server on one connection and the client on the other",
    },
    Fixture {
        file: "relay.jsonl",
        args: &["run", "--server", "python3 ../programs/relay.py", "--client", "python3 ../programs/echo_client.py {port}"],
        about: "a relay, as a mail relay works: the server of its client's connection and the client of the next server's (`trace run` of three programs)",
    },
    Fixture {
        file: "ftp-active.jsonl",
        args: &["run", "--server", "python3 ../programs/ftp_active_server.py", "--client", "python3 ../programs/ftp_active_client.py {port}"],
        about: "FTP's active mode in miniature: the roles swap, the server of the control connection connects back as the client of the data connection",
    },
    Fixture { file: "udp-echo.jsonl", args: &["echo", "--live", "--udp"], about: "the same echo over UDP: one datagram per line, no connection" },
    Fixture {
        file: "escaping.jsonl",
        args: &[
            "echo",
            "--live",
            "-m",
            "<img src=x onerror=window.stPwned=1>",
            "-m",
            "</script><script>window.stPwned=2</script>",
            "-m",
            "{{#include ../../Cargo.toml}}",
        ],
        about: "lines that are HTML, a script and an mdBook directive: the book must show them as text",
    },
];

/// The fixtures whose programs fail by design (a client ended by a reset, a server killed by
/// SIGPIPE): `trace` exits 1 after recording them, as after any program that fails.
const FAIL_BY_DESIGN: &[&str] = &["reset-read.jsonl", "sigpipe.jsonl"];

/// Where a fixture's arguments name a C program: `../programs/bin/NAME` is built from
/// `../programs/NAME.c` (relative to the fixtures' directory) before the recording.
const BUILT: &str = "../programs/bin/";

/// Records every fixture (or only `only`) into `dir` by running this program's own `trace`
/// commands there, after building the C programs they run; says what it recorded, one line
/// each, and nothing else. What a recording writes to standard error (a traced program's
/// own output, such as the port a relay prints, which `trace run` passes to standard error)
/// is shown only when it fails.
pub fn record(dir: &Path, only: Option<&str>) -> Result<(), String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find the trace binary itself: {e}"))?;
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let chosen: Vec<&Fixture> = FIXTURES.iter().filter(|f| only.is_none_or(|name| f.file == name || f.file.trim_end_matches(".jsonl") == name)).collect();
    if chosen.is_empty() {
        let names: Vec<&str> = FIXTURES.iter().map(|f| f.file).collect();
        return Err(format!("no fixture {:?}: the fixtures are {}", only.unwrap_or(""), names.join(", ")));
    }
    build_c_programs(dir, &chosen)?;
    for fixture in chosen {
        let recorded = Command::new(&exe)
            .args(fixture.args)
            .args(["--save", fixture.file])
            .current_dir(dir)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .map_err(|e| format!("cannot run {}: {e}", exe.display()))?;
        let expected = if FAIL_BY_DESIGN.contains(&fixture.file) { 1 } else { 0 };
        if recorded.status.code() != Some(expected) {
            eprint!("{}", String::from_utf8_lossy(&recorded.stderr));
            return Err(format!(
                "`trace {} --save {}` failed ({}); live fixtures need root: sudo trace book record-fixtures",
                fixture.args.join(" "),
                fixture.file,
                recorded.status
            ));
        }
        let trace = read_trace(&dir.join(fixture.file)).map_err(|e| e.to_string())?;
        let source = if trace.header.source == Source::Live { "live" } else { "simulated" };
        println!("recorded {} ({source}, {} events)", fixture.file, trace.events.len());
    }
    Ok(())
}

/// The C programs the fixtures' arguments name (`../programs/bin/NAME`), by name.
fn c_programs<'a>(fixtures: &[&'a Fixture]) -> BTreeSet<&'a str> {
    let names = fixtures.iter().flat_map(|f| f.args.iter()).flat_map(|arg| arg.match_indices(BUILT).map(|(at, _)| &arg[at + BUILT.len()..]));
    names.map(|rest| &rest[..rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(rest.len())]).collect()
}

/// Builds each C program the fixtures run with `cc`, as a student would (warnings are errors).
fn build_c_programs(dir: &Path, fixtures: &[&Fixture]) -> Result<(), String> {
    let names = c_programs(fixtures);
    if names.is_empty() {
        return Ok(());
    }
    let bin = dir.join(BUILT);
    std::fs::create_dir_all(&bin).map_err(|e| format!("cannot create {}: {e}", bin.display()))?;
    for name in names {
        let source = dir.join(format!("../programs/{name}.c"));
        let status = Command::new("cc")
            .args(["-O1", "-Wall", "-Werror", "-pthread", "-o"])
            .arg(bin.join(name))
            .arg(&source)
            .status()
            .map_err(|e| format!("cannot run cc to build {}: {e} (install a C compiler: apt-get install gcc)", source.display()))?;
        if !status.success() {
            return Err(format!("cc could not build {} ({status})", source.display()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixtures_that_fail_by_design_are_fixtures() {
        for name in FAIL_BY_DESIGN {
            assert!(FIXTURES.iter().any(|f| f.file == *name), "{name}");
        }
    }

    #[test]
    fn c_programs_are_found_in_any_argument() {
        let fixture = Fixture {
            file: "x.jsonl",
            args: &[
                "run",
                "--server",
                "../programs/bin/fork_server 2",
                "--client",
                "sh -c '../programs/bin/a_client {port} & ../programs/bin/a_client {port}'",
            ],
            about: "",
        };
        assert_eq!(c_programs(&[&fixture]).into_iter().collect::<Vec<_>>(), ["a_client", "fork_server"]);
    }
}
