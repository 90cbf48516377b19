//! The echo protocol of the classic course example, spoken alike by our live programs
//! ([`crate::echo`]) and the model's ([`crate::sim`]): the server answers every line it
//! receives with the line's number and the line (`1: hello`).

/// What the client sends when the user names no messages, live and simulated alike.
pub const DEFAULT_MESSAGES: [&str; 3] = ["hello", "how are you?", "bye"];

/// What the peers of a peer-to-peer session send when the user names no messages.
pub const PEER_MESSAGES: [&str; 1] = ["hello"];

/// A peer's line: the message signed with the peer's name (`hello from A`), so that each
/// direction of the session reads apart.
pub fn from_peer(message: &str, peer: crate::event::Peer) -> String {
    format!("{message} from {peer}")
}

/// Splits received bytes into whole lines, keeping an incomplete tail for the next read.
#[derive(Default)]
pub struct LineNumberer {
    pending: Vec<u8>,
    next: u64,
}

impl LineNumberer {
    /// Feeds received bytes; returns the replies for every line completed by them.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<Vec<u8>> {
        self.pending.extend_from_slice(bytes);
        let mut replies = Vec::new();
        while let Some(pos) = self.pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=pos).collect();
            replies.push(self.reply(&line));
        }
        replies
    }

    /// At end of stream, a last line without a newline still gets its reply.
    pub fn finish(&mut self) -> Option<Vec<u8>> {
        if self.pending.is_empty() {
            return None;
        }
        let mut line = std::mem::take(&mut self.pending);
        line.push(b'\n');
        Some(self.reply(&line))
    }

    /// How many lines have been answered.
    pub fn answered(&self) -> u64 {
        self.next
    }

    fn reply(&mut self, line: &[u8]) -> Vec<u8> {
        self.next += 1;
        let mut reply = format!("{}: ", self.next).into_bytes();
        reply.extend_from_slice(line);
        reply
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_line_is_numbered_across_reads() {
        let mut n = LineNumberer::default();
        assert_eq!(n.feed(b"hel"), Vec::<Vec<u8>>::new());
        assert_eq!(n.feed(b"lo\nworld\nta"), vec![b"1: hello\n".to_vec(), b"2: world\n".to_vec()]);
        assert_eq!(n.finish(), Some(b"3: ta\n".to_vec()));
        assert_eq!(n.finish(), None);
    }
}
