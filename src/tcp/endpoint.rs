//! One TCP endpoint as RFC 9293 describes it: its state, its transmission control block
//! (TCB), and the events that drive it — user calls (`user.rs`), arriving segments
//! (`arrive.rs`) and timeouts — on a virtual clock in nanoseconds. Pure: no I/O, no real time.
//!
//! The endpoint sends nothing itself. Every segment it would send and every state change it
//! makes is queued as an [`Output`], in the order it happened, for the caller to take with
//! [`Endpoint::take_output`]: the simulator turns them into trace events, and a shadow of a
//! live trace can feed observed segments in and compare [`Endpoint::state`] with the kernel's.
//!
//! What the model leaves out, on purpose (the lessons' connections are short and in order):
//! - no reassembly: only a segment that starts at RCV.NXT is taken; any other draws an ACK,
//!   and a reset that is not exactly at RCV.NXT is dropped;
//! - no flow or congestion control: SEND transmits at once, in MSS-sized segments; RCV.WND
//!   stays at its initial value; no Nagle, no delayed ACKs (Linux's quick-ack start);
//! - no RTT samples: every retransmission timer starts at the initial RTO and doubles;
//! - TS.Recent follows every segment (no PAWS), SACK is offered but no blocks are sent, and
//!   there is no urgent data, keep-alive, FIN-WAIT-2 timeout or security check;
//! - CLOSE never turns into a reset (Linux resets a connection closed with unread data).

mod arrive;
mod user;

use std::collections::VecDeque;

use super::segment::{Control, Segment};
use super::state::State;
use crate::tcp::header::TcpOptions;

/// One second on the virtual clock.
pub const SECOND: u64 = 1_000_000_000;

/// RFC 6298 §2.5: the RTO may be capped; Linux caps it at 120 s (`TCP_RTO_MAX`).
const MAX_RTO: u64 = 120 * SECOND;

/// RFC 9293 §3.7.1: the MSS to assume when the peer's SYN carries no MSS option.
const DEFAULT_MSS: u16 = 536;

/// RFC 7323 §2.3: the largest window-scale shift.
const MAX_WSCALE: u8 = 14;

/// What the endpoint offers and how long it waits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// The initial send sequence number (ISS). A listening endpoint gives each connection its
    /// own (see [`Endpoint::fork`]).
    pub iss: u32,
    /// The receive window offered (RCV.WND). The model's programs read promptly, so it stays put.
    pub rcv_wnd: u32,
    /// The MSS option sent on SYN.
    pub mss: u16,
    /// The window-scale shift offered on SYN (RFC 7323), if any.
    pub wscale: Option<u8>,
    /// Whether SACK-permitted is offered on SYN (RFC 2018).
    pub sack_permitted: bool,
    /// The timestamps option (RFC 7323): offered when set; TSval is this offset plus the clock
    /// in milliseconds.
    pub timestamps: Option<u32>,
    /// The initial retransmission timeout, in ns.
    pub rto: u64,
    /// How many times a segment is sent again before the connection is given up.
    pub max_retransmissions: u32,
    /// The maximum segment lifetime, in ns; TIME-WAIT lasts twice as long.
    pub msl: u64,
    /// How long the ACK of a FIN that moves ESTABLISHED to CLOSE-WAIT may wait for a segment
    /// of ours to ride on; `None` acknowledges at once. RFC 9293 §3.8.6.3 lets an ACK wait
    /// (under 0.5 s); Linux waits here, expecting the application to close soon, so that its
    /// own FIN carries the ACK.
    pub fin_ack_delay: Option<u64>,
    /// Whether a reset numbered one below RCV.NXT is taken once the peer's FIN is in
    /// (CLOSE-WAIT, CLOSING, LAST-ACK): Linux's `tcp_reset_check` does, since a peer that
    /// answers with a reset after its FIN numbers it from the ACK it last saw, which is before
    /// its FIN. RFC 9293 §3.10.7.4 takes a reset at RCV.NXT only.
    pub reset_before_fin: bool,
}

impl Config {
    /// What Linux does on loopback: MSS 65495, a 65495-byte window with scale 7, SACK and
    /// timestamps; the 1 s initial RTO of RFC 6298 §2.1, Linux's 6 SYN retries
    /// (`tcp_syn_retries`), and an MSL of 30 s so that TIME-WAIT lasts Linux's 60 s.
    pub fn linux_loopback(iss: u32) -> Config {
        Config {
            iss,
            rcv_wnd: 65495,
            mss: 65495,
            wscale: Some(7),
            sack_permitted: true,
            timestamps: Some(0),
            rto: SECOND,
            max_retransmissions: 6,
            msl: 30 * SECOND,
            // Linux's delayed-ACK minimum (TCP_ATO_MIN): the FIN's ACK waits up to 40 ms.
            fin_ack_delay: Some(SECOND / 25),
            reset_before_fin: true,
        }
    }
}

/// The TCB's sequence variables, named as in RFC 9293 §3.3.1.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tcb {
    /// SND.UNA: the oldest sequence number not yet acknowledged.
    pub snd_una: u32,
    /// SND.NXT: the next sequence number to send.
    pub snd_nxt: u32,
    /// SND.WND: the peer's window, in bytes (scale applied).
    pub snd_wnd: u32,
    /// ISS: our initial sequence number.
    pub iss: u32,
    /// RCV.NXT: the next sequence number expected.
    pub rcv_nxt: u32,
    /// RCV.WND: the window we offer, in bytes.
    pub rcv_wnd: u32,
    /// IRS: the peer's initial sequence number.
    pub irs: u32,
}

/// What the endpoint did, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    /// The endpoint moved from one state to another.
    State { from: State, to: State },
    /// The endpoint sends this segment.
    Segment(Segment),
}

/// Why a connection ended without a close: what the user is told.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// "connection refused": a reset answered our SYN.
    Refused,
    /// "connection reset": a reset arrived on an open connection.
    Reset,
    /// Retransmissions ran out (RFC 9293 §3.8.3, threshold R2).
    TimedOut,
}

/// A user call the current state does not allow (RFC 9293 §3.10's error responses).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallError {
    /// "connection does not exist" (or, for SEND, is not established yet).
    NotConnected,
    /// "connection closing": our FIN has already been sent.
    Closing,
    /// "connection already exists": OPEN on an endpoint that is not CLOSED.
    AlreadyOpen,
}

/// What a RECEIVE call finds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Received {
    Data(Vec<u8>),
    /// The peer's FIN has arrived and every byte before it was read.
    End,
    /// Nothing yet: a blocking receive waits.
    Nothing,
}

/// What the peer's SYN offered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Negotiated {
    /// The peer's MSS: our segments' largest payload.
    mss: u16,
    /// The window-scale shift the peer offered; scaling is used when both sides offer it.
    wscale: Option<u8>,
    sack_permitted: bool,
    timestamps: bool,
}

/// A segment that occupies sequence space, kept until acknowledged. Its ACK, window and
/// options are filled in afresh each time it is sent.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Sent {
    control: Control,
    seq: u32,
    payload: Vec<u8>,
}

impl Sent {
    /// The first sequence number after this segment.
    fn end(&self) -> u32 {
        self.seq.wrapping_add(self.payload.len() as u32 + self.control.seq_len())
    }
}

/// The retransmission timer of RFC 6298.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Timer {
    at: u64,
    rto: u64,
    /// Retransmissions so far of the segment it guards.
    tries: u32,
}

/// A TCP endpoint. See the module documentation.
#[derive(Clone, Debug)]
pub struct Endpoint {
    config: Config,
    state: State,
    tcb: Tcb,
    /// RFC 9293 MUST-11: whether SYN-RECEIVED came from a passive OPEN; a reset then returns
    /// the connection to LISTEN instead of refusing it.
    passive: bool,
    peer: Negotiated,
    /// The last TSval received, echoed as TSecr (RFC 7323 §4.3, simplified: every segment).
    ts_recent: u32,
    retransmission_queue: VecDeque<Sent>,
    retransmit: Option<Timer>,
    time_wait_until: Option<u64>,
    /// When a delayed ACK of the peer's FIN is due, unless a segment of ours carries it first.
    delayed_ack: Option<u64>,
    /// Data received and not yet read by the user.
    inbox: Vec<u8>,
    fin_received: bool,
    /// The user closed both ways (Berkeley `close`, [`Endpoint::close_both`]): data that
    /// arrives now has no reader.
    receive_closed: bool,
    /// An ACK is owed for data or a FIN taken from the segment being processed.
    ack_due: bool,
    failure: Option<Failure>,
    output: Vec<Output>,
}

impl Endpoint {
    /// An endpoint in CLOSED: no connection yet.
    pub fn new(config: Config) -> Endpoint {
        Endpoint {
            tcb: Tcb { iss: config.iss, snd_una: config.iss, snd_nxt: config.iss, rcv_wnd: config.rcv_wnd, ..Tcb::default() },
            config,
            state: State::Closed,
            passive: false,
            peer: Negotiated { mss: DEFAULT_MSS, wscale: None, sack_permitted: false, timestamps: false },
            ts_recent: 0,
            retransmission_queue: VecDeque::new(),
            retransmit: None,
            time_wait_until: None,
            delayed_ack: None,
            inbox: Vec::new(),
            fin_received: false,
            receive_closed: false,
            ack_due: false,
            failure: None,
            output: Vec::new(),
        }
    }

    /// A copy of this LISTEN endpoint for one incoming connection, with its own ISS — what a
    /// Berkeley listening socket does for each SYN, so that the listener stays in LISTEN.
    pub fn fork(&self, iss: u32) -> Endpoint {
        let mut child = self.clone();
        child.config.iss = iss;
        child.tcb = Tcb { iss, snd_una: iss, snd_nxt: iss, ..child.tcb };
        child.output.clear();
        child
    }

    pub fn state(&self) -> State {
        self.state
    }

    /// Takes the ISS a real kernel chose, seen on its SYN or SYN|ACK, so that a model
    /// shadowing a live socket judges the peer's acknowledgments as that socket does
    /// (RFC 9293 §3.4 leaves the choice of ISS to the implementation). Only while our SYN is
    /// unacknowledged; the queued SYN is renumbered.
    pub fn adopt_iss(&mut self, iss: u32) {
        let syn_pending = matches!(self.state, State::SynSent | State::SynReceived) && self.tcb.snd_una == self.tcb.iss;
        if !syn_pending {
            return;
        }
        let shift = iss.wrapping_sub(self.tcb.iss);
        self.config.iss = iss;
        self.tcb.iss = iss;
        self.tcb.snd_una = self.tcb.snd_una.wrapping_add(shift);
        self.tcb.snd_nxt = self.tcb.snd_nxt.wrapping_add(shift);
        for sent in &mut self.retransmission_queue {
            sent.seq = sent.seq.wrapping_add(shift);
        }
    }

    pub fn tcb(&self) -> &Tcb {
        &self.tcb
    }

    /// Why the connection failed, once it has.
    pub fn failure(&self) -> Option<Failure> {
        self.failure
    }

    /// Takes what the endpoint did since the last call, in order.
    pub fn take_output(&mut self) -> Vec<Output> {
        std::mem::take(&mut self.output)
    }

    /// Every state change goes through here, so that none escapes the trace; it also starts
    /// and stops the timers that belong to states.
    fn set_state(&mut self, now: u64, to: State) {
        if self.state == to {
            return;
        }
        self.output.push(Output::State { from: self.state, to });
        self.state = to;
        match to {
            State::TimeWait => self.restart_time_wait(now),
            // RFC 9293 §3.10.7.4: leaving a connection flushes its retransmission queue.
            State::Closed | State::Listen => {
                self.retransmission_queue.clear();
                self.retransmit = None;
                self.time_wait_until = None;
            }
            _ => {}
        }
    }

    /// RFC 9293 §3.10.7.4: TIME-WAIT lasts 2 MSL from the last FIN it acknowledged.
    fn restart_time_wait(&mut self, now: u64) {
        self.time_wait_until = Some(now.saturating_add(self.config.msl.saturating_mul(2)));
    }

    /// The connection ends without a close: the user is told why.
    fn fail(&mut self, now: u64, failure: Failure) {
        self.failure = Some(failure);
        self.set_state(now, State::Closed);
    }

    /// Sends a segment that occupies sequence space, keeps it for retransmission, and starts
    /// the retransmission timer if it is not running (RFC 6298 §5.1).
    fn send_new(&mut self, now: u64, control: Control, payload: Vec<u8>) {
        let sent = Sent { control, seq: self.tcb.snd_nxt, payload };
        self.tcb.snd_nxt = sent.end();
        self.transmit(now, &sent);
        self.retransmission_queue.push_back(sent);
        if self.retransmit.is_none() {
            self.retransmit = Some(Timer { at: now.saturating_add(self.config.rto), rto: self.config.rto, tries: 0 });
        }
    }

    /// Sends the oldest unacknowledged segment again.
    fn retransmit_first(&mut self, now: u64) {
        if let Some(first) = self.retransmission_queue.front().cloned() {
            self.transmit(now, &first);
        }
    }

    /// `<SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>`
    fn send_ack(&mut self, now: u64) {
        let ack = Sent { control: Control::None, seq: self.tcb.snd_nxt, payload: Vec::new() };
        self.transmit(now, &ack);
    }

    fn reply(&mut self, reset: Option<Segment>) {
        if let Some(seg) = reset {
            self.output.push(Output::Segment(seg));
        }
    }

    /// Puts a segment on the wire with the current ACK, window and options.
    fn transmit(&mut self, now: u64, sent: &Sent) {
        let syn = sent.control == Control::Syn;
        // Every segment but the first SYN of an active open acknowledges the peer's data.
        let ack = (!matches!(self.state, State::Closed | State::Listen | State::SynSent)).then_some(self.tcb.rcv_nxt);
        if ack.is_some() {
            self.delayed_ack = None;
        }
        let seg = Segment {
            control: sent.control,
            seq: sent.seq,
            ack,
            wnd: self.window_field(syn),
            options: self.options(now, syn, ack.is_some()),
            payload: sent.payload.clone(),
        };
        self.output.push(Output::Segment(seg));
    }

    /// Window scaling is in use once both SYNs have offered it.
    fn scaling(&self) -> Option<(u8, u8)> {
        Some((self.config.wscale?.min(MAX_WSCALE), self.peer.wscale?.min(MAX_WSCALE)))
    }

    fn window_field(&self, syn: bool) -> u16 {
        match self.scaling() {
            // Linux rounds the window up to the scale's unit so that scaling cannot shrink it
            // (65495 is announced as 512 << 7); RFC 7323 §2.2: a SYN's window is never scaled.
            Some((ours, _)) if !syn => (self.tcb.rcv_wnd.div_ceil(1 << ours)).min(u32::from(u16::MAX)) as u16,
            _ => self.tcb.rcv_wnd.min(u32::from(u16::MAX)) as u16,
        }
    }

    /// The peer's window in bytes, from a segment's window field.
    fn peer_window(&self, seg: &Segment) -> u32 {
        match self.scaling() {
            Some((_, theirs)) if seg.control != Control::Syn => u32::from(seg.wnd) << theirs,
            _ => u32::from(seg.wnd),
        }
    }

    /// The options of a segment. A first SYN offers all that is configured; a SYN,ACK only
    /// what the peer's SYN offered too (RFC 7323 §1.3, RFC 2018 §2); later segments carry
    /// timestamps once both sides use them.
    fn options(&self, now: u64, syn: bool, ack: bool) -> TcpOptions {
        let offering = syn && !ack;
        let ts =
            self.config.timestamps.filter(|_| offering || self.peer.timestamps).map(|offset| (offset.wrapping_add((now / 1_000_000) as u32), self.ts_recent));
        if !syn {
            return TcpOptions { ts, ..TcpOptions::default() };
        }
        TcpOptions {
            mss: Some(self.config.mss),
            wscale: self.config.wscale.filter(|_| offering || self.peer.wscale.is_some()),
            sack_ok: self.config.sack_permitted && (offering || self.peer.sack_permitted),
            ts,
            sack: Vec::new(),
        }
    }
}
