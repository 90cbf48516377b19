//! A netfilter queue (NFQUEUE) read over netlink: the kernel hands each packet that a rule
//! sends to the queue to this socket and holds it until we give a verdict, accept or drop.
//! The messages are those of `linux/netfilter/nfnetlink_queue.h`, built by hand: a netlink
//! header, a `nfgenmsg`, then attributes.

use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::socket::{recv, send, socket, AddressFamily, MsgFlags, SockFlag, SockProtocol, SockType};

const NFNL_SUBSYS_QUEUE: u16 = 3;
const NFQNL_MSG_PACKET: u16 = 0;
const NFQNL_MSG_VERDICT: u16 = 1;
const NFQNL_MSG_CONFIG: u16 = 2;
const NFQA_PACKET_HDR: u16 = 1;
const NFQA_VERDICT_HDR: u16 = 2;
const NFQA_PAYLOAD: u16 = 10;
const NFQA_CFG_CMD: u16 = 1;
const NFQA_CFG_PARAMS: u16 = 2;
const NFQA_CFG_FLAGS: u16 = 5;
const NFQA_CFG_MASK: u16 = 4;
const NFQNL_CFG_CMD_BIND: u8 = 1;
const NFQNL_COPY_PACKET: u8 = 2;
/// When the queue is full, the kernel accepts packets rather than dropping them: the session
/// must lose only the packet we chose.
const NFQA_CFG_F_FAIL_OPEN: u32 = 1;
const NF_DROP: u32 = 0;
const NF_ACCEPT: u32 = 1;
const NLMSG_HDRLEN: usize = 16;
const NFGENMSG_LEN: usize = 4;
/// The whole packet is copied to us (a loopback segment is at most 64 KiB).
const COPY_RANGE: u32 = 0xffff;

/// A packet the kernel holds for our verdict.
pub struct Queued {
    pub id: u32,
    /// The IP packet, from its IP header on.
    pub payload: Vec<u8>,
}

pub struct Queue {
    fd: OwnedFd,
    num: u16,
    seq: u32,
    buf: Vec<u8>,
}

impl Queue {
    /// Binds queue `num` to a new netlink socket. Fails with `EBUSY` when another process
    /// holds that queue, with `EPERM` without CAP_NET_ADMIN.
    pub fn bind(num: u16) -> io::Result<Queue> {
        let fd = socket(AddressFamily::Netlink, SockType::Raw, SockFlag::SOCK_CLOEXEC, SockProtocol::NetlinkNetFilter)?;
        let mut queue = Queue { fd, num, seq: 0, buf: vec![0; 2 * (COPY_RANGE as usize + 4096)] };
        let mut cmd = vec![NFQNL_CFG_CMD_BIND, 0];
        cmd.extend_from_slice(&(libc::AF_INET as u16).to_be_bytes());
        queue.request(NFQNL_MSG_CONFIG, &[(NFQA_CFG_CMD, cmd)])?;
        let mut params = COPY_RANGE.to_be_bytes().to_vec();
        params.push(NFQNL_COPY_PACKET);
        queue.request(NFQNL_MSG_CONFIG, &[(NFQA_CFG_PARAMS, params)])?;
        let open = NFQA_CFG_F_FAIL_OPEN.to_be_bytes().to_vec();
        queue.request(NFQNL_MSG_CONFIG, &[(NFQA_CFG_FLAGS, open.clone()), (NFQA_CFG_MASK, open)])?;
        Ok(queue)
    }

    pub fn num(&self) -> u16 {
        self.num
    }

    /// Waits up to `timeout_ms` for packets and returns those that came.
    pub fn recv(&mut self, timeout_ms: u16) -> io::Result<Vec<Queued>> {
        match poll(&mut [PollFd::new(self.fd.as_fd(), PollFlags::POLLIN)], PollTimeout::from(timeout_ms)) {
            Ok(0) | Err(nix::errno::Errno::EINTR) => return Ok(Vec::new()),
            Ok(_) => {}
            Err(err) => return Err(err.into()),
        }
        let len = self.read(MsgFlags::MSG_DONTWAIT)?;
        let mut packets = Vec::new();
        for msg in messages(&self.buf[..len]) {
            if msg.kind == (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET {
                if let Some(queued) = queued(msg.body) {
                    packets.push(queued);
                }
            }
        }
        Ok(packets)
    }

    /// Lets the packet go on (`accept`) or drops it.
    pub fn verdict(&mut self, id: u32, accept: bool) -> io::Result<()> {
        let mut hdr = (if accept { NF_ACCEPT } else { NF_DROP }).to_be_bytes().to_vec();
        hdr.extend_from_slice(&id.to_be_bytes());
        self.send(NFQNL_MSG_VERDICT, &[(NFQA_VERDICT_HDR, hdr)], false)
    }

    /// Sends a configuration request and waits for the kernel's answer.
    fn request(&mut self, msg: u16, attrs: &[(u16, Vec<u8>)]) -> io::Result<()> {
        self.send(msg, attrs, true)?;
        let seq = self.seq;
        loop {
            let len = self.read(MsgFlags::empty())?;
            for m in messages(&self.buf[..len]) {
                if m.kind == libc::NLMSG_ERROR as u16 && m.seq == seq {
                    let code = m.body.get(..4).map_or(0, |b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]));
                    return if code == 0 { Ok(()) } else { Err(io::Error::from_raw_os_error(-code)) };
                }
            }
        }
    }

    fn send(&mut self, msg: u16, attrs: &[(u16, Vec<u8>)], ack: bool) -> io::Result<()> {
        self.seq = self.seq.wrapping_add(1);
        let mut out = Vec::with_capacity(64);
        let flags = libc::NLM_F_REQUEST as u16 | if ack { libc::NLM_F_ACK as u16 } else { 0 };
        out.extend_from_slice(&0u32.to_ne_bytes());
        out.extend_from_slice(&((NFNL_SUBSYS_QUEUE << 8) | msg).to_ne_bytes());
        out.extend_from_slice(&flags.to_ne_bytes());
        out.extend_from_slice(&self.seq.to_ne_bytes());
        out.extend_from_slice(&0u32.to_ne_bytes());
        // nfgenmsg: family unspecified, version 0, the queue number (big-endian).
        out.extend_from_slice(&[libc::AF_UNSPEC as u8, 0]);
        out.extend_from_slice(&self.num.to_be_bytes());
        for (kind, data) in attrs {
            out.extend_from_slice(&((4 + data.len()) as u16).to_ne_bytes());
            out.extend_from_slice(&kind.to_ne_bytes());
            out.extend_from_slice(data);
            out.resize(out.len().next_multiple_of(4), 0);
        }
        let len = out.len() as u32;
        out[..4].copy_from_slice(&len.to_ne_bytes());
        // The socket is unconnected: the default destination of a netlink socket is the kernel.
        send(self.fd.as_raw_fd(), &out, MsgFlags::empty())?;
        Ok(())
    }

    fn read(&mut self, flags: MsgFlags) -> io::Result<usize> {
        Ok(recv(self.fd.as_raw_fd(), &mut self.buf, flags)?)
    }
}

struct Message<'a> {
    kind: u16,
    seq: u32,
    body: &'a [u8],
}

/// The netlink messages of one datagram; a truncated one ends the walk.
fn messages(mut data: &[u8]) -> Vec<Message<'_>> {
    let mut out = Vec::new();
    while data.len() >= NLMSG_HDRLEN {
        let len = u32::from_ne_bytes([data[0], data[1], data[2], data[3]]) as usize;
        if len < NLMSG_HDRLEN || len > data.len() {
            break;
        }
        let kind = u16::from_ne_bytes([data[4], data[5]]);
        let seq = u32::from_ne_bytes([data[8], data[9], data[10], data[11]]);
        out.push(Message { kind, seq, body: &data[NLMSG_HDRLEN..len] });
        data = &data[len.next_multiple_of(4).min(data.len())..];
    }
    out
}

/// A packet message: its id (from the packet header) and its payload.
fn queued(body: &[u8]) -> Option<Queued> {
    let mut attrs = body.get(NFGENMSG_LEN..)?;
    let (mut id, mut payload) = (None, None);
    while attrs.len() >= 4 {
        let len = usize::from(u16::from_ne_bytes([attrs[0], attrs[1]]));
        // The top bits of the type say nested / network byte order.
        let kind = u16::from_ne_bytes([attrs[2], attrs[3]]) & 0x3fff;
        if len < 4 || len > attrs.len() {
            break;
        }
        let value = &attrs[4..len];
        match kind {
            NFQA_PACKET_HDR if value.len() >= 4 => id = Some(u32::from_be_bytes([value[0], value[1], value[2], value[3]])),
            NFQA_PAYLOAD => payload = Some(value.to_vec()),
            _ => {}
        }
        attrs = &attrs[len.next_multiple_of(4).min(attrs.len())..];
    }
    Some(Queued { id: id?, payload: payload.unwrap_or_default() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_packet_message_gives_its_id_and_payload() {
        let mut body = vec![2, 0, 0, 7];
        body.extend_from_slice(&[11, 0, NFQA_PACKET_HDR as u8, 0, 0, 0, 0, 42, 0x08, 0x00, 3, 0]);
        body.extend_from_slice(&[7, 0, NFQA_PAYLOAD as u8, 0, 0x45, 1, 2, 0]);
        let mut msg = ((NLMSG_HDRLEN + body.len()) as u32).to_ne_bytes().to_vec();
        msg.extend_from_slice(&((NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET).to_ne_bytes());
        msg.extend_from_slice(&[0; 10]);
        msg.extend_from_slice(&body);
        let found = messages(&msg);
        assert_eq!(found.len(), 1);
        let queued = queued(found[0].body).expect("a packet");
        assert_eq!(queued.id, 42);
        assert_eq!(queued.payload, vec![0x45, 1, 2]);
    }

    #[test]
    fn a_truncated_message_ends_the_walk() {
        let msg = [200u8, 0, 0, 0, 0, 3, 0, 0];
        assert!(messages(&msg).is_empty());
    }
}
