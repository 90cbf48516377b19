//! SEGMENT ARRIVES (RFC 9293 §3.10.7): one flat match over (state, control bit). Its arms
//! come in the RFC's order — CLOSED, LISTEN and SYN-SENT first (§3.10.7.1–3), then for the
//! other states the checks of §3.10.7.4: sequence number, RST, SYN, ACK, and last the data
//! and FIN — so the first arm that fits is the rule that applies.

use super::{Endpoint, Failure, Timer, DEFAULT_MSS};
use crate::tcp::segment::{reset_for, seq_le, seq_lt, Control, Segment};
use crate::tcp::state::State;

impl Endpoint {
    /// A segment arrives for this endpoint at `now`.
    pub fn segment_arrives(&mut self, now: u64, seg: &Segment) {
        use Control::{Fin, Rst, Syn};
        use State::*;

        if let Some((tsval, _)) = seg.options.ts {
            // RFC 7323 §4.3 keeps the TSval of in-order segments only; the model keeps every one.
            self.ts_recent = tsval;
        }
        let before = self.state;
        match (self.state, seg.control) {
            (NewSynRecv, _) => unreachable!("the model never enters Linux's NEW-SYN-RECV"),

            // RFC 9293 §3.10.7.1: without a connection, anything but a reset draws a reset.
            (Closed, _) => self.reply(reset_for(seg)),

            // A reset in LISTEN cannot be for anything this endpoint sent: ignore it.
            (Listen, Rst) => {}
            // An ACK in LISTEN acknowledges nothing we sent: it draws a reset.
            (Listen, _) if seg.ack.is_some() => self.reply(reset_for(seg)),
            // SYN in LISTEN moves it to SYN-RECEIVED and answers SYN,ACK.
            (Listen, Syn) => {
                self.synchronize(seg);
                self.set_state(now, SynReceived);
                self.send_new(now, Syn, Vec::new());
            }
            (Listen, _) => {}

            // An ACK in SYN-SENT must acknowledge our SYN, else it belongs to another
            // connection: it draws a reset (unless it is one).
            (SynSent, control) if seg.ack.is_some_and(|ack| !self.acks_syn(ack)) => {
                if control != Rst {
                    self.reply(reset_for(seg));
                }
            }
            // RST in SYN-SENT that acknowledges our SYN: the connection is refused (CLOSED).
            (SynSent, Rst) if seg.ack.is_some() => self.fail(now, Failure::Refused),
            // RFC 9293 §3.10.7.3: a reset without an ACK cannot be told from an old one: drop it.
            (SynSent, Rst) => {}
            // SYN,ACK in SYN-SENT moves it to ESTABLISHED and answers ACK.
            (SynSent, Syn) if seg.ack.is_some() => {
                self.synchronize(seg);
                self.take_ack(now, seg);
                self.set_state(now, Established);
                self.send_ack(now);
            }
            // SYN in SYN-SENT (simultaneous open) moves it to SYN-RECEIVED and sends our SYN
            // again, now with an ACK.
            (SynSent, Syn) => {
                self.synchronize(seg);
                self.set_state(now, SynReceived);
                self.retransmit_first(now);
            }
            (SynSent, _) => {}

            // RFC 9293 §3.5 Figure 7: in a simultaneous open, the peer's SYN,ACK repeats a SYN
            // already taken, so the sequence check below would drop it; its ACK of our SYN
            // moves SYN-RECEIVED to ESTABLISHED, as the figure shows and Linux does.
            (SynReceived, Syn) if !self.passive && seg.seq == self.tcb.irs && seg.ack == Some(self.tcb.snd_nxt) => {
                self.take_ack(now, seg);
                self.set_state(now, Established);
            }
            // RFC 9293 §3.10.7.4: what arrives in TIME-WAIT is the peer's FIN again, because
            // our ACK was lost: acknowledge it and restart the 2 MSL timeout.
            (TimeWait, Fin) => {
                self.send_ack(now);
                self.restart_time_wait(now);
            }
            // RFC 9293 §3.10.7.4 accepts any segment that overlaps the window; the model keeps
            // no reassembly queue, so it takes only the segment that starts at RCV.NXT (loopback
            // does not reorder). Anything else draws an ACK; a reset is just dropped, unless
            // Linux takes it (see [`Config::reset_before_fin`]).
            (_, control) if seg.seq != self.tcb.rcv_nxt && !(control == Rst && self.takes_reset_before_fin(seg)) => {
                if control != Rst {
                    self.send_ack(now);
                }
            }

            // RST in SYN-RECEIVED returns a passive open to LISTEN; an active one is refused.
            (SynReceived, Rst) if self.passive => self.set_state(now, Listen),
            (SynReceived, Rst) => self.fail(now, Failure::Refused),
            // RST while the connection is open resets it (CLOSED).
            (Established | FinWait1 | FinWait2 | CloseWait, Rst) => self.fail(now, Failure::Reset),
            // RST while closing just ends it (CLOSED).
            (_, Rst) => self.set_state(now, Closed),

            // SYN in SYN-RECEIVED of a passive open: the peer started over; back to LISTEN.
            (SynReceived, Syn) if self.passive => self.set_state(now, Listen),
            // RFC 9293 §3.10.7.4 (after RFC 5961 §4): a SYN on a synchronized connection is
            // answered with a "challenge ACK" and dropped.
            (_, Syn) => self.send_ack(now),

            // Past the handshake every segment carries an ACK; one without is dropped.
            (_, _) if seg.ack.is_none() => {}
            // An ACK in SYN-RECEIVED that does not acknowledge our SYN draws a reset.
            (SynReceived, _) if seg.ack.is_some_and(|ack| !self.acks_new(ack)) => self.reply(reset_for(seg)),
            // An ACK of something not yet sent draws an ACK and is dropped.
            (_, _) if seg.ack.is_some_and(|ack| seq_lt(self.tcb.snd_nxt, ack)) => self.send_ack(now),

            // ACK of our SYN in SYN-RECEIVED moves it to ESTABLISHED; its data and FIN are
            // then taken as in ESTABLISHED.
            (SynReceived, _) => {
                self.take_ack(now, seg);
                self.set_state(now, Established);
                self.segment_arrives(now, seg);
            }
            // FIN in ESTABLISHED moves it to CLOSE-WAIT.
            (Established, Fin) => {
                self.take(now, seg);
                self.set_state(now, CloseWait);
            }
            // FIN in FIN-WAIT-1 that also acknowledges ours moves it straight to TIME-WAIT.
            (FinWait1, Fin) if self.acks_our_fin(seg) => {
                self.take(now, seg);
                self.set_state(now, TimeWait);
            }
            // FIN in FIN-WAIT-1 (the FINs crossed: simultaneous close) moves it to CLOSING.
            (FinWait1, Fin) => {
                self.take(now, seg);
                self.set_state(now, Closing);
            }
            // Data after the user closed both ways has no reader: the ACK is taken (an ACK of
            // our FIN moves FIN-WAIT-1 to FIN-WAIT-2 first), then the connection ends with a
            // reset numbered from the segment's ACK (RFC 1122 §4.2.2.13).
            (FinWait1 | FinWait2, _) if self.receive_closed && !seg.payload.is_empty() => {
                self.take_ack(now, seg);
                if self.state == FinWait1 && self.acks_our_fin(seg) {
                    self.set_state(now, FinWait2);
                }
                self.set_state(now, Closed);
                self.reply(reset_for(seg));
            }
            // ACK of our FIN in FIN-WAIT-1 moves it to FIN-WAIT-2.
            (FinWait1, _) if self.acks_our_fin(seg) => {
                self.take(now, seg);
                self.set_state(now, FinWait2);
            }
            // FIN in FIN-WAIT-2 moves it to TIME-WAIT.
            (FinWait2, Fin) => {
                self.take(now, seg);
                self.set_state(now, TimeWait);
            }
            // ACK of our FIN in CLOSING moves it to TIME-WAIT.
            (Closing, _) if self.acks_our_fin(seg) => {
                self.take(now, seg);
                self.set_state(now, TimeWait);
            }
            // ACK of our FIN in LAST-ACK moves it to CLOSED: the connection is gone.
            (LastAck, _) if self.acks_our_fin(seg) => {
                self.take(now, seg);
                self.set_state(now, Closed);
            }
            // Anything else is acknowledgment and data.
            (_, _) => self.take(now, seg),
        }
        if std::mem::take(&mut self.ack_due) {
            match self.config.fin_ack_delay {
                // The FIN that just moved us to CLOSE-WAIT: our own FIN may carry its ACK.
                Some(delay) if self.state == CloseWait && before == Established => self.delayed_ack = Some(now.saturating_add(delay)),
                _ => self.send_ack(now),
            }
        }
    }

    /// A reset one below RCV.NXT after the peer's FIN, where the config takes it.
    fn takes_reset_before_fin(&self, seg: &Segment) -> bool {
        self.config.reset_before_fin
            && self.fin_received
            && matches!(self.state, State::CloseWait | State::Closing | State::LastAck)
            && seg.seq == self.tcb.rcv_nxt.wrapping_sub(1)
    }

    /// SEG.ACK acceptable in SYN-SENT: ISS < SEG.ACK =< SND.NXT.
    fn acks_syn(&self, ack: u32) -> bool {
        seq_lt(self.tcb.iss, ack) && seq_le(ack, self.tcb.snd_nxt)
    }

    /// SEG.ACK acknowledges something new: SND.UNA < SEG.ACK =< SND.NXT.
    fn acks_new(&self, ack: u32) -> bool {
        seq_lt(self.tcb.snd_una, ack) && seq_le(ack, self.tcb.snd_nxt)
    }

    /// Once our FIN is sent it is the last thing in sequence space: it is acknowledged when
    /// SEG.ACK reaches SND.NXT.
    fn acks_our_fin(&self, seg: &Segment) -> bool {
        seg.ack == Some(self.tcb.snd_nxt)
    }

    /// Learns the peer's ISN, window and options from its SYN.
    fn synchronize(&mut self, seg: &Segment) {
        self.tcb.irs = seg.seq;
        self.tcb.rcv_nxt = seg.seq.wrapping_add(1);
        self.peer.mss = seg.options.mss.unwrap_or(DEFAULT_MSS);
        self.peer.wscale = seg.options.wscale;
        self.peer.sack_permitted = seg.options.sack_ok;
        self.peer.timestamps = seg.options.ts.is_some();
        self.tcb.snd_wnd = self.peer_window(seg);
    }

    /// RFC 9293 §3.10.7.4, fifth to eighth steps: the acknowledgment, the data, the FIN.
    fn take(&mut self, now: u64, seg: &Segment) {
        self.take_ack(now, seg);
        // Data is taken while the peer may still send: ESTABLISHED and FIN-WAIT-1/2.
        if !seg.payload.is_empty() && matches!(self.state, State::Established | State::FinWait1 | State::FinWait2) {
            self.inbox.extend_from_slice(&seg.payload);
            self.tcb.rcv_nxt = self.tcb.rcv_nxt.wrapping_add(seg.payload.len() as u32);
            self.ack_due = true;
        }
        if seg.control == Control::Fin {
            self.tcb.rcv_nxt = self.tcb.rcv_nxt.wrapping_add(1);
            self.fin_received = true;
            self.ack_due = true;
        }
    }

    /// An ACK of new data moves SND.UNA, frees what it covers from the retransmission queue,
    /// and stops or restarts the timer (RFC 6298 §5.2–5.3). The model takes no RTT samples,
    /// so a restarted timer starts again from the initial RTO.
    fn take_ack(&mut self, now: u64, seg: &Segment) {
        let Some(ack) = seg.ack else { return };
        if self.acks_new(ack) {
            self.tcb.snd_una = ack;
            self.retransmission_queue.retain(|sent| seq_lt(ack, sent.end()));
            self.retransmit =
                (!self.retransmission_queue.is_empty()).then(|| Timer { at: now.saturating_add(self.config.rto), rto: self.config.rto, tries: 0 });
        }
        // RFC 9293 §3.10.7.4 guards this with SND.WL1/WL2 against old segments; in order, no
        // segment is old.
        if seq_le(self.tcb.snd_una, ack) && seq_le(ack, self.tcb.snd_nxt) {
            self.tcb.snd_wnd = self.peer_window(seg);
        }
    }
}
