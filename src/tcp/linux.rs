//! Where Linux, as its tracepoints report it, differs from the RFC 9293 state diagram. One
//! list, read by the model's shadow of live traces (which model changes to show, labelled
//! modelled), by `trace check` (notes, not failures) and by the book's reference chapter.

use serde::Serialize;

use super::state::State;

/// One documented difference.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Difference {
    pub id: &'static str,
    /// What RFC 9293 describes.
    pub rfc: &'static str,
    /// What Linux does and how a trace shows it.
    pub linux: &'static str,
}

pub const TIME_WAIT_UNREPORTED: Difference = Difference {
    id: "time-wait-unreported",
    rfc: "the side that closes first passes through TIME-WAIT for 2×MSL before CLOSED (§3.3.2)",
    linux: "the socket is reported going to CLOSED at once; a lightweight timewait socket, which no tracepoint reports, keeps the connection's place for 60 s (`ss -tan` lists it as TIME-WAIT)",
};

pub const CHILD_BORN_AT_THIRD_ACK: Difference = Difference {
    id: "child-born-at-third-ack",
    rfc: "a SYN arriving in LISTEN moves the connection to SYN-RECEIVED (§3.10.7.2)",
    linux: "a small request socket (NEW-SYN-RECV) holds the half-open connection; the full socket is created when the third ACK arrives, reported as LISTEN → SYN-RECEIVED → ESTABLISHED in one burst",
};

pub const FIN_ACK_IN_TWO_STEPS: Difference = Difference {
    id: "fin-ack-in-two-steps",
    rfc: "in FIN-WAIT-1, a FIN that also acknowledges our FIN leads straight to TIME-WAIT (§3.10.7.4)",
    linux: "the acknowledgment is processed first and reported as FIN-WAIT-1 → FIN-WAIT-2, then the FIN, reported as FIN-WAIT-2 → CLOSED",
};

pub const SYN_SENT_WITHOUT_PORT: Difference = Difference {
    id: "syn-sent-without-port",
    rfc: "an active OPEN sends a SYN from the socket's port",
    linux: "the change to SYN-SENT is reported with local port 0, before the kernel has picked the port; later changes of the same socket show it",
};

pub const STATE_TASK_IS_WHOEVER_RAN: Difference = Difference {
    id: "state-task-is-whoever-ran",
    rfc: "(not covered)",
    linux: "a state change is reported with the task that held the CPU: often the peer's thread or a softirq, not the socket's owner",
};

pub const LOOPBACK_RESET_ORDER: Difference = Difference {
    id: "loopback-reset-order",
    rfc: "a reset is sent, then received",
    linux: "on loopback a reset sent by a socket can be reported received before it is reported sent; the packet lens shows the true order",
};

/// Every documented difference, for the book's reference table.
pub const DIFFERENCES: [Difference; 6] =
    [TIME_WAIT_UNREPORTED, CHILD_BORN_AT_THIRD_ACK, FIN_ACK_IN_TWO_STEPS, SYN_SENT_WITHOUT_PORT, STATE_TASK_IS_WHOEVER_RAN, LOOPBACK_RESET_ORDER];

/// How Linux reports a state change the model makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reported {
    /// As the model makes it: the kernel's own event stands for both.
    AsModelled,
    /// Later than the model makes it, or never: the model's change is shown, labelled.
    Differently(Difference),
}

/// `accepted`: the socket is a server's connection socket (born of a listening one).
pub fn reported(from: State, to: State, accepted: bool) -> Reported {
    match (from, to) {
        (_, State::TimeWait) | (State::TimeWait, _) => Reported::Differently(TIME_WAIT_UNREPORTED),
        (State::Listen, State::SynReceived) if accepted => Reported::Differently(CHILD_BORN_AT_THIRD_ACK),
        _ => Reported::AsModelled,
    }
}

/// Whether the kernel observed `kernel` where the model expected `model` because of a
/// documented difference (so it is a note, not a finding).
pub fn explains(kernel: State, model: State) -> Option<&'static Difference> {
    match (kernel, model) {
        (State::Closed, State::TimeWait) => Some(&TIME_WAIT_UNREPORTED),
        (State::FinWait2, State::TimeWait) => Some(&FIN_ACK_IN_TWO_STEPS),
        (State::SynReceived, State::Established) => Some(&CHILD_BORN_AT_THIRD_ACK),
        _ => None,
    }
}
