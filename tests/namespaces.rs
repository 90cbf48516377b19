//! Sessions in network namespaces of their own (`trace grade`'s slots) that use the same port
//! at the same time: the kernel-state lens sees every namespace, and each trace must still
//! hold its own sockets' events only — one listener, no peer nobody made.

#![allow(non_snake_case)] // names read situation__outcome

use std::net::TcpListener;

use socktrace::capture::privilege::live_test_allowed;
use socktrace::event::{Body, Event};
use socktrace::tcp::State;

/// A server on `port` that echoes one line to one client, and that client: Python, as
/// students write them.
const SERVER: &str = "import socket,sys\ns=socket.socket()\ns.bind(('127.0.0.1',int(sys.argv[1])))\ns.listen(4)\nprint(sys.argv[1],flush=True)\nc,_=s.accept()\nc.sendall(c.recv(64))\nc.close()\ns.close()\n";
const CLIENT: &str =
    "import socket,sys,time\nc=socket.create_connection(('127.0.0.1',int(sys.argv[1])))\nc.sendall(b'hi\\n')\nc.recv(64)\ntime.sleep(0.2)\nc.close()\n";

fn state_changes(events: &[Event]) -> impl Iterator<Item = &socktrace::event::StateChange> {
    events.iter().filter_map(|e| match &e.body {
        Body::State(change) => Some(change),
        _ => None,
    })
}

#[cfg_attr(socktrace_unprivileged, ignore = "needs root: run `sudo -E cargo test`")]
#[test]
fn two_namespaces_on_one_port_at_once__each_trace_holds_its_own_sockets_only() {
    if !live_test_allowed("sessions in two private networks") {
        return;
    }
    // A port free here, used inside both private networks (each has all its ports free).
    let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port().to_string();
    for round in 0..3 {
        let traces: Vec<_> = std::thread::scope(|scope| {
            let sessions: Vec<_> = (0..2)
                .map(|_| {
                    let port = port.as_str();
                    scope.spawn(move || {
                        socktrace::netns::private::enter(&[]).expect("a private network");
                        let server = ["python3", "-c", SERVER, port];
                        let client = ["python3", "-c", CLIENT, port];
                        socktrace::record::server_and_client(&server, &client).unwrap_or_else(|e| panic!("{e}"))
                    })
                })
                .collect();
            sessions.into_iter().map(|s| s.join().expect("the session's thread")).collect()
        });
        for (n, trace) in traces.iter().enumerate() {
            let listens = state_changes(&trace.events).filter(|c| c.to == State::Listen).count();
            assert_eq!(listens, 1, "round {round}, session {n}: {listens} sockets entered LISTEN");
            let named: Vec<String> = trace.events.iter().filter_map(|e| e.socket.as_ref()).map(|s| s.0.to_string()).collect();
            assert!(named.iter().all(|s| !s.starts_with("peer")), "round {round}, session {n}: a peer nobody made: {named:?}");
            let states = state_changes(&trace.events).count();
            assert!(states >= 8, "round {round}, session {n}: its own changes are kept ({states})");
        }
    }
}
