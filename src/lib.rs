//! socktrace shows how sockets live and die: the socket calls of real programs, the packets
//! on the wire and the kernel's TCP states, merged on one clock.
//!
//! # The pipeline
//!
//! ```text
//!  programs on loopback                        a capture file (pcap, pcapng)
//!  (live, echo, netns, record)                          |
//!           |                                           v
//!  capture: calls | packets | kernel states          import
//!           |                                           |
//!           v                                           |
//!  timeline (merges, names each socket) --> events <----+----- sim (the RFC 9293 model)
//!                                             |
//!                                             v
//!                                   trace (the JSON Lines file)
//!                                             |
//!        +---------------+--------------+-----+---------+---------------+
//!        v               v              v               v               v
//!      check         normalize       replay          render          export
//!   (the verdict)  (snapshot, view,  (the book's    (terminal,      (pcap,
//!                   diff)             steps)         JSON Lines)     packetdrill)
//! ```
//!
//! Below check and replay, [`story`] answers once which socket plays which part and which
//! events show each documented step; [`query`] answers the small questions about events.
//!
//! # The rooms, from the bottom up
//!
//! Pure (given events, traces or bytes, they give values or text; the only file one may read
//! is a trace it is named, through [`trace`]); `tests/layers.rs` holds them to it, and holds
//! the file graph free of cycles:
//!
//! - the vocabulary: [`wire`] (bytes on the wire to decoded packets), [`tcp`] (TCP as RFC 9293
//!   describes it: states, segments, a sans-I/O endpoint), [`state_path`] (each socket's states
//!   as every view shows them: one unbroken path), [`errno`], [`inert`] (text from a trace made harmless for
//!   where it goes: a terminal, a packetdrill script), [`sock_name`] (a socket's
//!   name, kept inline), [`event`] (the one event type every lens produces), [`query`], [`protocol`] (the echo's numbered lines),
//!   [`sequence`] (the documented sequences, as data), [`fault`] (which packet a session loses
//!   on purpose), [`wording`] (plain words for calls, packets and states, and how names are
//!   shown), [`exit_codes`] (`trace`'s exit codes, and their table by subcommand), `hash` and
//!   `parallel` (internal);
//! - what is made of events: [`timeline`] (merges the lenses in time order and names each
//!   packet's and state's socket), [`sim`] (two modelled hosts and their sockets API),
//!   [`summary`] (many connections in one line each, with bounded memory);
//! - what reads a trace: [`story`], [`check`] (`trace check`), [`normalize`] (what stays the
//!   same from run to run), [`replay`], [`render`] (the terminal ladder, JSON Lines, the
//!   check's report, the replay's screen), [`export`].
//!
//! Files: [`trace`] (the trace file, written as events happen and read back with clear errors)
//! and [`import`] (a capture file to conversations and traces).
//!
//! Touching the running system: [`capture`] (ptrace, tracefs, AF_PACKET, clocks: the only code
//! that asks the kernel what happened), [`echo`] (our instrumented echo server and client),
//! [`live`] (a live session: programs, lenses and the timeline together), [`netns`] (two hosts
//! of our own for `--hosts`), [`record`] (recording a trace from Rust, for snapshot tests),
//! [`book`] (the lesson book: build, serve, record its fixtures), [`grade`] (a class's servers,
//! each sandboxed, traced and graded by a rubric) and [`cli`] (the `trace`
//! command line: each subcommand parses, calls the library, renders and exits 0, 1, 2 or 130).

// The docs are the developers' map, read with the private items (`.ci/run` builds them with
// `--document-private-items`): a public module's doc may name the private files that do its
// work. A link that resolves to nothing still fails the build.
#![allow(rustdoc::private_intra_doc_links)]

pub mod book;
pub mod capture;
pub mod check;
pub mod cli;
pub mod echo;
pub mod errno;
pub mod event;
pub mod exit_codes;
pub mod export;
pub mod fault;
#[doc(hidden)]
pub mod fuzzing;
pub mod grade;
pub(crate) mod hash;
pub mod import;
pub mod inert;
pub mod live;
pub mod netns;
pub mod normalize;
pub(crate) mod parallel;
pub mod protocol;
pub mod query;
pub mod record;
pub mod render;
pub mod replay;
pub mod sequence;
pub mod sim;
pub mod sock_name;
pub mod state_path;
pub mod story;
pub mod summary;
pub mod tcp;
pub mod timeline;
pub mod trace;
pub mod wire;
pub mod wording;
