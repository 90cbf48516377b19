//! The user calls of RFC 9293 §3.10.1–3.10.5 (OPEN, SEND, RECEIVE, CLOSE, ABORT) and the
//! timeouts of §3.10.8.

use super::{CallError, Endpoint, Failure, Received, Timer, MAX_RTO};
use crate::tcp::segment::{Control, Segment};
use crate::tcp::state::State;

impl Endpoint {
    /// Passive OPEN moves CLOSED to LISTEN: wait for a SYN.
    pub fn open_passive(&mut self, now: u64) -> Result<(), CallError> {
        if self.state != State::Closed {
            return Err(CallError::AlreadyOpen);
        }
        self.passive = true;
        self.set_state(now, State::Listen);
        Ok(())
    }

    /// Active OPEN moves CLOSED to SYN-SENT and sends `<SEQ=ISS><CTL=SYN>`.
    pub fn open_active(&mut self, now: u64) -> Result<(), CallError> {
        if self.state != State::Closed {
            return Err(CallError::AlreadyOpen);
        }
        self.passive = false;
        self.set_state(now, State::SynSent);
        self.send_new(now, Control::Syn, Vec::new());
        Ok(())
    }

    /// SEND: the data goes out at once, in segments of at most the peer's MSS. The model does
    /// not hold data back for the peer's window: the lessons' lines are far smaller.
    pub fn send(&mut self, now: u64, data: &[u8]) -> Result<(), CallError> {
        match self.state {
            State::Established | State::CloseWait => {
                for chunk in data.chunks(usize::from(self.peer.mss.max(1))) {
                    self.send_new(now, Control::None, chunk.to_vec());
                }
                Ok(())
            }
            State::FinWait1 | State::FinWait2 | State::Closing | State::LastAck | State::TimeWait => Err(CallError::Closing),
            State::Closed | State::Listen | State::SynSent | State::SynReceived | State::NewSynRecv => Err(CallError::NotConnected),
        }
    }

    /// RECEIVE: up to `max` bytes of what has arrived; the end of the stream once the peer's
    /// FIN has come and everything before it was read.
    pub fn receive(&mut self, max: usize) -> Result<Received, Failure> {
        if !self.inbox.is_empty() {
            let n = max.min(self.inbox.len());
            return Ok(Received::Data(self.inbox.drain(..n).collect()));
        }
        if let Some(failure) = self.failure {
            return Err(failure);
        }
        Ok(if self.fin_received { Received::End } else { Received::Nothing })
    }

    /// CLOSE: "I have nothing more to send" — the half-close that Berkeley's
    /// `shutdown(SHUT_WR)` makes, and `close()` too before it frees the descriptor.
    /// ESTABLISHED sends FIN and moves to FIN-WAIT-1; CLOSE-WAIT sends FIN and moves to
    /// LAST-ACK; before a connection exists, it just ends. Receiving goes on.
    pub fn close(&mut self, now: u64) -> Result<(), CallError> {
        match self.state {
            State::Listen | State::SynSent => self.set_state(now, State::Closed),
            // RFC 9293 §3.10.4: SYN-RECEIVED with nothing queued to send closes like ESTABLISHED.
            State::SynReceived | State::Established => {
                self.set_state(now, State::FinWait1);
                self.send_new(now, Control::Fin, Vec::new());
            }
            State::CloseWait => {
                self.set_state(now, State::LastAck);
                self.send_new(now, Control::Fin, Vec::new());
            }
            State::FinWait1 | State::FinWait2 | State::Closing | State::LastAck | State::TimeWait => return Err(CallError::Closing),
            State::Closed | State::NewSynRecv => return Err(CallError::NotConnected),
        }
        Ok(())
    }

    /// Berkeley `shutdown(SHUT_RD)`: nothing more is read. Data that arrives once the
    /// connection is closing is lost, and answered as after [`Endpoint::close_both`].
    pub fn stop_receiving(&mut self) {
        self.receive_closed = true;
    }

    /// Berkeley `close`: CLOSE, and nothing more is read. Data lost so is told with a reset,
    /// and the connection ends (RFC 1122 §4.2.2.13): data received and not yet read aborts
    /// it at once (Linux's `tcp_close`), data that arrives after it aborts it then (Linux's
    /// `tcp_rcv_state_process` in FIN-WAIT-1/2). `shutdown(SHUT_WR)` is [`Endpoint::close`].
    pub fn close_both(&mut self, now: u64) -> Result<(), CallError> {
        self.stop_receiving();
        if !self.inbox.is_empty() {
            return self.abort(now);
        }
        self.close(now)
    }

    /// Berkeley `close` that sent its FIN before data already on its way reached the socket
    /// (the kernel takes a segment that arrives during the call after it): that data then
    /// arrives with no reader, and the connection ends with a reset (RFC 1122 §4.2.2.13).
    pub fn close_before_unread(&mut self, now: u64) -> Result<(), CallError> {
        self.stop_receiving();
        let unread = !self.inbox.is_empty();
        self.close(now)?;
        if unread {
            self.inbox.clear();
            self.abort(now)?;
        }
        Ok(())
    }

    /// ABORT: the connection ends at once; a peer that knows of it is sent
    /// `<SEQ=SND.NXT><CTL=RST>`.
    pub fn abort(&mut self, now: u64) -> Result<(), CallError> {
        match self.state {
            State::SynReceived | State::Established | State::FinWait1 | State::FinWait2 | State::CloseWait => {
                let seq = self.tcb.snd_nxt;
                self.set_state(now, State::Closed);
                self.reply(Some(Segment::reset(seq, None)));
            }
            State::Listen | State::SynSent | State::Closing | State::LastAck | State::TimeWait => self.set_state(now, State::Closed),
            State::Closed | State::NewSynRecv => return Err(CallError::NotConnected),
        }
        Ok(())
    }

    /// When [`Endpoint::timeout`] is next due: the retransmission, a delayed ACK or the
    /// TIME-WAIT deadline.
    pub fn poll_at(&self) -> Option<u64> {
        [self.retransmit.map(|timer| timer.at), self.delayed_ack, self.time_wait_until].into_iter().flatten().min()
    }

    /// Handles the deadlines that `now` has reached.
    pub fn timeout(&mut self, now: u64) {
        if self.delayed_ack.is_some_and(|at| at <= now) {
            self.send_ack(now);
        }
        if self.time_wait_until.is_some_and(|at| at <= now) {
            // RFC 9293 §3.10.8: after 2 MSL in TIME-WAIT, the connection is deleted.
            self.set_state(now, State::Closed);
        }
        let Some(timer) = self.retransmit.filter(|timer| timer.at <= now) else { return };
        if timer.tries >= self.config.max_retransmissions {
            // RFC 9293 §3.8.3: past the retransmission threshold R2, the connection is closed.
            self.fail(now, Failure::TimedOut);
            return;
        }
        // RFC 6298 §5.4–5.6: send the oldest unacknowledged segment again, double the RTO,
        // restart the timer.
        self.retransmit_first(now);
        let rto = timer.rto.saturating_mul(2).min(MAX_RTO);
        self.retransmit = Some(Timer { at: now.saturating_add(rto), rto, tries: timer.tries + 1 });
    }
}
