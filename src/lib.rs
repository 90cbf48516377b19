//! socktrace shows how sockets live and die: the socket calls of real programs, the packets
//! on the wire and the kernel's TCP states, merged on one clock.
//!
//! The pipeline, and the room each module holds:
//!
//! ```text
//! capture (calls | packets | kernel states)  ->  events  ->  timeline  ->  trace file
//!                                   sim (the RFC 9293 model)  ->  events        |
//!                                          render (terminal ladder, JSON Lines) <-
//! ```
//!
//! - [`capture`]: the only code that touches the running system (AF_PACKET, tracefs, ptrace,
//!   clocks).
//! - [`echo`]: the instrumented echo server and client that record their own calls, over TCP
//!   and over UDP.
//! - [`live`]: runs a live session: programs, lenses and the timeline together.
//! - [`netns`]: two hosts of our own (network namespaces and a veth pair) for `--hosts`.
//! - [`wire`]: bytes on the wire to decoded packets.
//! - [`import`]: a pcap or pcapng capture to per-connection summaries and traces (`trace import`).
//! - [`event`]: the one event type every lens produces.
//! - [`fault`]: which packet a session loses on purpose (`--drop`, the `lost-*` scenarios).
//! - [`timeline`]: merges the lenses in time order and names each packet's and state's socket.
//! - [`trace`]: the trace file format: written as events happen, read back with clear errors.
//! - [`tcp`]: TCP as RFC 9293 describes it: states, segments, and a sans-I/O endpoint.
//! - [`sim`]: two modelled hosts and their sockets API, producing traces without privileges.
//! - [`sequence`]: the documented sequences, as data: passive and active open, and the
//!   connectionless exchange on each side.
//! - [`story`]: which socket plays which part, and which events show each documented step.
//! - [`check`]: holds a trace's sockets against those sequences, step by step (`trace check`).
//! - [`summary`]: many connections in one line each, with bounded memory (`--summary`).
//! - [`wording`]: plain words for calls, packets and state changes, and how names are shown
//!   (as traced, or as a snapshot renames them): shared by the renderers, check, the replay
//!   and the normalizer.
//! - [`render`]: how a trace is shown.
//! - [`normalize`]: what stays the same from run to run: snapshot text, lesson-level view, diff.
//! - [`record`]: recording a trace from Rust, for snapshot tests.
//! - [`replay`]: a trace as replay steps, with the documented step each event is evidence of.
//! - [`book`]: the lesson book: its mdBook preprocessor, build, server and fixtures.
//! - [`cli`]: the `trace` command line.
//!
//! Everything after `capture` is synchronous, pure and deterministic, and is tested on fixtures.

pub mod book;
pub mod capture;
pub mod check;
pub mod cli;
pub mod echo;
pub mod event;
pub mod export;
pub mod fault;
#[doc(hidden)]
pub mod fuzzing;
pub(crate) mod hash;
pub mod import;
pub mod live;
pub mod netns;
pub mod normalize;
pub(crate) mod parallel;
pub mod record;
pub mod render;
pub mod replay;
pub mod sequence;
pub mod sim;
pub mod sock_name;
pub mod story;
pub mod summary;
pub mod tcp;
pub mod timeline;
pub mod trace;
pub mod wire;
pub mod wording;
