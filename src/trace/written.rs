//! An event line read as [`TraceWriter`] writes it, byte for byte: the writer's fields in its
//! order, no spaces, integers as integers, strings with the writer's escapes. Reading a trace
//! of a million events is reading such lines, and serde, even in the writer's order
//! ([`super::line`]), spent most of its time finding out what the next key is and what kind
//! of value follows; here each key is expected where the writer puts it and compared as bytes.
//!
//! The common kinds are read so (calls' starts and ends, packets, state changes); anything
//! else on a line, a field this reader does not know or does not expect there, a value in any
//! other form, sends the line to serde ([`None`]), whose derived [`Deserialize`] of [`Event`]
//! stays the one definition of the format: it decides what is accepted and words every error.
//! Every line read here reads as the derived reader reads it (the tests below hold it to that).
//! Words (roles, states, call names, flags) and addresses are read by their own types'
//! readers, so that their spellings have one home.
//!
//! [`TraceWriter`]: super::TraceWriter
//! [`Deserialize`]: serde::Deserialize

use std::borrow::Cow;
use std::net::SocketAddr;

use serde::de::value::{BorrowedStrDeserializer, Error as ValueError};
use serde::de::DeserializeOwned;

use crate::event::{Actor, Body, CallArgs, CallEnd, CallStart, Errno, Ethernet, Event, Packet, Preview, SockId, StateChange, TcpOptions, TcpSegment};
use crate::tcp::flags::TcpFlags;

/// The event on `line` (with its line break), if it is written as the writer writes one.
pub(super) fn read(line: &str) -> Option<Event> {
    let mut at = Cursor(line);
    at.expect("{\"t\":")?;
    let t = at.unsigned()?;
    at.expect(",\"actor\":")?;
    let actor = at.actor()?;
    let socket = at.field(",\"socket\":", Cursor::name)?;
    at.expect(",\"origin\":")?;
    let origin = at.word()?;
    at.expect(",\"kind\":\"")?;
    let body = if at.eat("call_start\"") {
        Body::CallStart(at.call_start()?)
    } else if at.eat("call_end\"") {
        Body::CallEnd(at.call_end()?)
    } else if at.eat("packet\"") {
        Body::Packet(at.packet()?)
    } else if at.eat("state\"") {
        Body::State(at.state()?)
    } else {
        return None;
    };
    at.expect("}\n")?;
    at.0.is_empty().then_some(Event { t, actor, socket, origin, body })
}

/// The rest of a line. Each reading takes what it reads off the front, or answers `None`.
struct Cursor<'a>(&'a str);

impl<'a> Cursor<'a> {
    /// Takes `text` if the line goes on with it.
    fn eat(&mut self, text: &str) -> bool {
        match self.0.strip_prefix(text) {
            Some(rest) => {
                self.0 = rest;
                true
            }
            None => false,
        }
    }

    fn expect(&mut self, text: &str) -> Option<()> {
        self.eat(text).then_some(())
    }

    /// A field the writer leaves out when it holds nothing: `key` with its comma and colon.
    fn field<T>(&mut self, key: &str, value: impl FnOnce(&mut Self) -> Option<T>) -> Option<Option<T>> {
        if self.eat(key) {
            value(self).map(Some)
        } else {
            Some(None)
        }
    }

    /// An integer as serde_json reads one into a `u64`: digits, no leading zero, and nothing
    /// after them that would make it a float.
    fn unsigned(&mut self) -> Option<u64> {
        let digits = self.0.bytes().take_while(u8::is_ascii_digit).count();
        let (number, rest) = self.0.split_at(digits);
        if digits == 0 || (number.starts_with('0') && digits > 1) || !matches!(rest.as_bytes().first(), Some(b',' | b'}' | b']')) {
            return None;
        }
        let value = number.bytes().try_fold(0u64, |n, d| n.checked_mul(10)?.checked_add(u64::from(d - b'0')))?;
        self.0 = rest;
        Some(value)
    }

    /// A signed integer. A negative one is `-` and a non-zero magnitude: serde_json reads `-0`
    /// as a float.
    fn signed(&mut self) -> Option<i64> {
        if self.eat("-") {
            let magnitude = i64::try_from(self.unsigned()?).ok()?;
            (magnitude != 0).then_some(-magnitude)
        } else {
            i64::try_from(self.unsigned()?).ok()
        }
    }

    fn number<T: TryFrom<u64>>(&mut self) -> Option<T> {
        T::try_from(self.unsigned()?).ok()
    }

    fn signed_number<T: TryFrom<i64>>(&mut self) -> Option<T> {
        T::try_from(self.signed()?).ok()
    }

    fn boolean(&mut self) -> Option<bool> {
        if self.eat("true") {
            Some(true)
        } else {
            self.eat("false").then_some(false)
        }
    }

    /// A string, its escapes undone: those the writer makes (`\"`, `\\`, `\n`, and the other
    /// one-letter ones); a `\u` escape, or a control character that JSON does not allow raw,
    /// is left to serde. Cut only at ASCII bytes, the text stays text.
    fn string(&mut self) -> Option<Cow<'a, str>> {
        self.expect("\"")?;
        let (text, bytes) = (self.0, self.0.as_bytes());
        let special = |b: u8| b == b'"' || b == b'\\' || b < 0x20;
        let mut at = bytes.iter().position(|&b| special(b))?;
        if bytes[at] == b'"' {
            self.0 = &text[at + 1..];
            return Some(Cow::Borrowed(&text[..at]));
        }
        let mut owned = String::with_capacity(at + 16);
        let mut from = 0;
        loop {
            match bytes[at] {
                b'"' => {
                    owned.push_str(&text[from..at]);
                    self.0 = &text[at + 1..];
                    return Some(Cow::Owned(owned));
                }
                b'\\' => {
                    owned.push_str(&text[from..at]);
                    owned.push(match bytes.get(at + 1)? {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        _ => return None,
                    });
                    from = at + 2;
                }
                _ => return None,
            }
            at = from + bytes[from..].iter().position(|&b| special(b))?;
        }
    }

    fn owned_string(&mut self) -> Option<String> {
        self.string().map(Cow::into_owned)
    }

    /// A value that is a string to its type's own reader (an enum's variant, a character, an
    /// address): read by that reader, which spells the words once.
    fn word<T: DeserializeOwned>(&mut self) -> Option<T> {
        let text = self.string()?;
        T::deserialize(BorrowedStrDeserializer::<ValueError>::new(&text)).ok()
    }

    fn name(&mut self) -> Option<SockId> {
        Some(SockId(self.string()?.as_ref().into()))
    }

    fn address(&mut self) -> Option<SocketAddr> {
        self.word()
    }

    fn actor(&mut self) -> Option<Actor> {
        self.expect("{\"role\":")?;
        let role = self.word()?;
        let peer = self.field(",\"peer\":", Cursor::word)?;
        let pid = self.field(",\"pid\":", Cursor::number)?;
        let tid = self.field(",\"tid\":", Cursor::number)?;
        self.expect("}")?;
        Some(Actor { role, peer, pid, tid })
    }

    fn preview(&mut self) -> Option<Preview> {
        self.expect("{\"text\":")?;
        let text = self.owned_string()?;
        let truncated = self.field(",\"truncated\":", Cursor::boolean)?.unwrap_or(false);
        self.expect("}")?;
        Some(Preview { text, truncated })
    }

    fn call_start(&mut self) -> Option<CallStart> {
        self.expect(",\"id\":")?;
        let id = self.unsigned()?;
        self.expect(",\"call\":")?;
        let call = self.word()?;
        let fd = self.field(",\"fd\":", Cursor::signed_number)?;
        let args = self.field(",\"args\":", Cursor::args)?.unwrap_or_default();
        Some(CallStart { id, call, fd, args: Box::new(args) })
    }

    /// A field of an object whose fields may all be left out: `name` with its quotes and colon,
    /// after a comma if a field came before (`comma`).
    fn optional<T>(&mut self, comma: &mut bool, name: &str, value: impl FnOnce(&mut Self) -> Option<T>) -> Option<Option<T>> {
        let rest = if *comma { self.0.strip_prefix(",") } else { Some(self.0) };
        let Some(rest) = rest.and_then(|r| r.strip_prefix("\"")).and_then(|r| r.strip_prefix(name)).and_then(|r| r.strip_prefix("\":")) else {
            return Some(None);
        };
        self.0 = rest;
        *comma = true;
        value(self).map(Some)
    }

    /// A call's arguments, but for a list of sockets watched and the other descriptor of a
    /// call that moves bytes (`watch`, `other`): rare, and left to serde.
    fn args(&mut self) -> Option<CallArgs> {
        self.expect("{")?;
        let comma = &mut false;
        let args = CallArgs {
            domain: self.optional(comma, "domain", Cursor::owned_string)?,
            ty: self.optional(comma, "ty", Cursor::owned_string)?,
            addr: self.optional(comma, "addr", Cursor::address)?,
            backlog: self.optional(comma, "backlog", Cursor::signed_number)?,
            len: self.optional(comma, "len", Cursor::number)?,
            data: self.optional(comma, "data", Cursor::preview)?,
            how: self.optional(comma, "how", Cursor::owned_string)?,
            option: self.optional(comma, "option", Cursor::owned_string)?,
            flags: self.optional(comma, "flags", Cursor::owned_string)?,
            to_fd: self.optional(comma, "to_fd", Cursor::signed_number)?,
            other: None,
            epoll: self.optional(comma, "epoll", Cursor::signed_number)?,
            watch: Vec::new(),
            timeout_ms: self.optional(comma, "timeout_ms", Cursor::signed)?,
            other_fds: self.optional(comma, "other_fds", Cursor::number)?,
        };
        self.expect("}")?;
        Some(args)
    }

    /// A call's end, but for the sockets a readiness call found ready (`ready`): left to serde.
    fn call_end(&mut self) -> Option<CallEnd> {
        self.expect(",\"id\":")?;
        let id = self.unsigned()?;
        self.expect(",\"call\":")?;
        let call = self.word()?;
        self.expect(",\"ret\":")?;
        let ret = self.signed()?;
        Some(CallEnd {
            errno: self.field(",\"errno\":", Cursor::errno)?,
            new_socket: self.field(",\"new_socket\":", Cursor::name)?,
            local: self.field(",\"local\":", Cursor::address)?,
            peer: self.field(",\"peer\":", Cursor::address)?,
            data: self.field(",\"data\":", Cursor::preview)?,
            value: self.field(",\"value\":", Cursor::owned_string)?,
            queued: self.field(",\"queued\":", Cursor::name)?,
            restarted: self.field(",\"restarted\":", Cursor::boolean)?.unwrap_or(false),
            ..CallEnd::new(id, call, ret)
        })
    }

    fn errno(&mut self) -> Option<Errno> {
        self.expect("{\"code\":")?;
        let code = self.signed_number()?;
        self.expect(",\"name\":")?;
        let name = self.owned_string()?;
        self.expect("}")?;
        Some(Errno { code, name })
    }

    /// A packet, but for an ARP packet's body (`arp`): left to serde.
    fn packet(&mut self) -> Option<Packet> {
        self.expect(",\"transport\":")?;
        let transport = self.word()?;
        self.expect(",\"src\":")?;
        let src = self.address()?;
        self.expect(",\"dst\":")?;
        let dst = self.address()?;
        let to = self.field(",\"to\":", Cursor::name)?;
        let tcp = self.field(",\"tcp\":", Cursor::segment)?;
        self.expect(",\"len\":")?;
        let len = self.number()?;
        Some(Packet {
            to,
            tcp,
            len,
            payload: self.field(",\"payload\":", Cursor::preview)?,
            eth: self.field(",\"eth\":", Cursor::ethernet)?.map(Box::new),
            dropped: self.field(",\"dropped\":", Cursor::owned_string)?,
            ..Packet::new(transport, src, dst)
        })
    }

    fn segment(&mut self) -> Option<TcpSegment> {
        self.expect("{\"flags\":")?;
        let flags = TcpFlags::parse(&self.string()?)?;
        self.expect(",\"seq\":")?;
        let seq = self.number()?;
        self.expect(",\"ack\":")?;
        let ack = self.number()?;
        let rel_seq = self.field(",\"rel_seq\":", Cursor::number)?;
        let rel_ack = self.field(",\"rel_ack\":", Cursor::number)?;
        self.expect(",\"win\":")?;
        let win = self.number()?;
        let win_shift = self.field(",\"win_shift\":", Cursor::number)?;
        let options = self.field(",\"options\":", Cursor::options)?.unwrap_or_default();
        self.expect("}")?;
        Some(TcpSegment { flags, seq, ack, rel_seq, rel_ack, win, win_shift, options })
    }

    fn options(&mut self) -> Option<TcpOptions> {
        self.expect("{")?;
        let comma = &mut false;
        let options = TcpOptions {
            mss: self.optional(comma, "mss", Cursor::number)?,
            wscale: self.optional(comma, "wscale", Cursor::number)?,
            sack_ok: self.optional(comma, "sack_ok", Cursor::boolean)?.unwrap_or(false),
            ts: self.optional(comma, "ts", Cursor::pair)?,
            sack: self.optional(comma, "sack", Cursor::pairs)?.unwrap_or_default(),
        };
        self.expect("}")?;
        Some(options)
    }

    /// Two numbers, `[1,2]`: a timestamp option, a SACK block.
    fn pair(&mut self) -> Option<(u32, u32)> {
        self.expect("[")?;
        let a = self.number()?;
        self.expect(",")?;
        let b = self.number()?;
        self.expect("]")?;
        Some((a, b))
    }

    fn pairs(&mut self) -> Option<Vec<(u32, u32)>> {
        self.expect("[")?;
        let mut pairs = Vec::new();
        if !self.eat("]") {
            loop {
                pairs.push(self.pair()?);
                if self.eat("]") {
                    break;
                }
                self.expect(",")?;
            }
        }
        Some(pairs)
    }

    fn ethernet(&mut self) -> Option<Ethernet> {
        self.expect("{\"src\":")?;
        let src = self.owned_string()?;
        self.expect(",\"dst\":")?;
        let dst = self.owned_string()?;
        self.expect("}")?;
        Some(Ethernet { src, dst })
    }

    fn state(&mut self) -> Option<StateChange> {
        self.expect(",\"from\":")?;
        let from = self.word()?;
        self.expect(",\"to\":")?;
        let to = self.word()?;
        Some(StateChange {
            from,
            to,
            local: self.field(",\"local\":", Cursor::address)?,
            remote: self.field(",\"remote\":", Cursor::address)?,
            sk: self.field(",\"sk\":", Cursor::unsigned)?,
            model: self.field(",\"model\":", Cursor::word)?,
        })
    }
}

#[cfg(test)]
#[allow(non_snake_case)] // names read situation__outcome
mod tests {
    use super::*;
    use crate::trace::line::tests::fixture_lines;

    /// What the derived reader makes of `line`: the one definition of the format.
    fn derived(line: &str) -> Option<Event> {
        serde_json::from_str::<Event>(line).ok()
    }

    /// `line` is read here as the derived reader reads it, or left to it; whether it was read.
    fn reads_as_derived(line: &str) -> bool {
        let Some(event) = read(line) else { return false };
        assert_eq!(Some(&event), derived(line).as_ref(), "{line:?}");
        true
    }

    #[test]
    fn written__reads_every_fixture_line_it_takes_as_the_derived_reader_does() {
        let lines = fixture_lines();
        let read = lines.iter().filter(|line| reads_as_derived(line)).count();
        assert!(read > lines.len() * 3 / 4, "most lines are read here ({read} of {})", lines.len());
    }

    /// Each fixture line of another shape, spoilt one byte at a time (replaced by a byte that
    /// means something in JSON, or cut there): what is read here reads as the derived reader
    /// reads it.
    #[test]
    fn written__spoilt_fixture_lines__read_as_the_derived_reader_does_or_left_to_it() {
        let mut shapes = std::collections::HashSet::new();
        // A line's shape: its keys, in order.
        let shape =
            |line: &str| line.split('"').skip(1).step_by(2).filter(|s| s.chars().all(|c| c.is_ascii_lowercase() || c == '_')).collect::<Vec<_>>().join(",");
        let lines: Vec<String> = fixture_lines().into_iter().filter(|line| read(line).is_some() && shapes.insert(shape(line))).collect();
        assert!(lines.len() > 20, "the fixtures hold lines of many shapes ({})", lines.len());
        for line in &lines {
            for at in 0..line.len() - 1 {
                for spoiler in ["\"", "\\", " ", "0", "-", "9", "e", ".", ",", "}", "]", "x", "\u{1}", "é", ""] {
                    let mut spoilt = line.as_bytes().to_vec();
                    spoilt.splice(at..at + 1, spoiler.bytes());
                    if let Ok(spoilt) = String::from_utf8(spoilt) {
                        reads_as_derived(&spoilt);
                        reads_as_derived(&format!("{}\n", &spoilt[..spoilt.len().min(at + spoiler.len())]));
                    }
                }
            }
        }
    }

    const STATE: &str = r#""origin":"observed","kind":"state","from":"CLOSED","to":"SYN-SENT""#;

    #[test]
    fn written__escapes_unicode_and_numbers_at_their_limits__read_as_the_derived_reader_does() {
        let start = |args: &str| {
            format!(r#"{{"t":1,"actor":{{"role":"client"}},"socket":"c1","origin":"observed","kind":"call_start","id":7,"call":"send","fd":3,"args":{args}}}"#)
                + "\n"
        };
        let read_here = [
            start(r#"{"len":6,"data":{"text":"a\"b\\c\/d\b\f\n\r\t"}}"#),
            start(r#"{"data":{"text":"é€😀 \\x00","truncated":true}}"#),
            start(r#"{"data":{"text":"","truncated":false}}"#),
            start(r#"{}"#),
            format!(r#"{{"t":18446744073709551615,"actor":{{"role":"server","peer":"B","pid":4294967295,"tid":0}},"socket":"s\"1é",{STATE},"sk":18446744073709551615}}"#) + "\n",
            format!(r#"{{"t":0,"actor":{{"role":"unknown"}},"socket":"",{STATE},"local":"[::1]:0","remote":"[::ffff:1.2.3.4]:65535"}}"#) + "\n",
            r#"{"t":1,"actor":{"role":"client"},"socket":"c1","origin":"observed","kind":"call_end","id":7,"call":"connect","ret":-1,"errno":{"code":-2147483648,"name":"ECONNREFUSED"},"restarted":false}"#.to_string() + "\n",
            r#"{"t":1,"actor":{"role":"client"},"socket":"c1","origin":"observed","kind":"call_end","id":7,"call":"recv","ret":-9223372036854775807}"#.to_string() + "\n",
            r#"{"t":1,"actor":{"role":"client"},"socket":"c1","origin":"observed","kind":"packet","transport":"tcp","src":"1.2.3.4:5","dst":"1.2.3.4:6","tcp":{"flags":"none","seq":4294967295,"ack":0,"win":65535,"win_shift":255,"options":{"sack_ok":false,"sack":[[1,2],[3,4]]}},"len":4294967295}"#.to_string() + "\n",
            r#"{"t":1,"actor":{"role":"client"},"socket":"c1","origin":"observed","kind":"packet","transport":"udp","src":"1.2.3.4:5","dst":"1.2.3.4:6","len":0,"eth":{"src":"a","dst":"b"},"dropped":"x"}"#.to_string() + "\n",
        ];
        for line in &read_here {
            assert!(reads_as_derived(line), "read here: {line}");
        }
    }

    #[test]
    fn written__any_other_form__is_left_to_the_derived_reader() {
        let lines = [
            // Numbers past their type, or in another form.
            format!(r#"{{"t":18446744073709551616,"actor":{{"role":"client"}},{STATE}}}"#),
            format!(r#"{{"t":01,"actor":{{"role":"client"}},{STATE}}}"#),
            format!(r#"{{"t":1.0,"actor":{{"role":"client"}},{STATE}}}"#),
            format!(r#"{{"t":1e3,"actor":{{"role":"client"}},{STATE}}}"#),
            format!(r#"{{"t":-1,"actor":{{"role":"client"}},{STATE}}}"#),
            format!(r#"{{"t":1,"actor":{{"role":"client","pid":4294967296}},{STATE}}}"#),
            r#"{"t":1,"actor":{"role":"client"},"origin":"observed","kind":"call_end","id":7,"call":"recv","ret":-0}"#.to_string(),
            r#"{"t":1,"actor":{"role":"client"},"origin":"observed","kind":"call_end","id":7,"call":"recv","ret":-9223372036854775808}"#.to_string(),
            // Escapes this reader leaves to serde, and a raw control character.
            format!(r#"{{"t":1,"actor":{{"role":"client"}},"socket":"\u0063",{STATE}}}"#),
            format!(r#"{{"t":1,"actor":{{"role":"client"}},"socket":"c{}1",{STATE}}}"#, '\u{1}'),
            format!(r#"{{"t":1,"actor":{{"role":"client"}},"socket":"c\q",{STATE}}}"#),
            // Keys twice, missing, unknown, or in another order; null; spaces; another kind.
            format!(r#"{{"t":1,"actor":{{"role":"client","role":"server"}},{STATE}}}"#),
            format!(r#"{{"t":1,"actor":{{"role":"client"}},{STATE},"from":"LISTEN"}}"#),
            format!(r#"{{"t":1,"actor":{{"role":"client"}},{STATE},"t":2}}"#),
            r#"{"t":1,"actor":{"role":"client"},"origin":"observed","kind":"state","from":"CLOSED"}"#.to_string(),
            format!(r#"{{"t":1,"actor":{{"role":"client"}},{STATE},"colour":"red"}}"#),
            format!(r#"{{"actor":{{"role":"client"}},"t":1,{STATE}}}"#),
            format!(r#"{{"t":1,"actor":{{"pid":1,"role":"client"}},{STATE}}}"#),
            format!(r#"{{"t":1,"actor":{{"role":"client"}},"socket":null,{STATE}}}"#),
            format!(r#"{{"t":1, "actor":{{"role":"client"}},{STATE}}}"#),
            format!(r#"{{"t":1,"actor":{{"role":"client"}},{STATE}}} "#),
            r#"{"t":1,"actor":{"role":"client"},"origin":"observed","kind":"kernel","note":"reset_sent","local":"1.2.3.4:5","remote":"1.2.3.4:6"}"#.to_string(),
            // Words that are no word of their type.
            format!(r#"{{"t":1,"actor":{{"role":"Client"}},{STATE}}}"#),
            format!(r#"{{"t":1,"actor":{{"role":"client","peer":"AB"}},{STATE}}}"#),
            r#"{"t":1,"actor":{"role":"client"},"origin":"observed","kind":"packet","transport":"tcp","src":"1.2.3.4","dst":"1.2.3.4:6","len":0}"#.to_string(),
        ];
        for line in &lines {
            let line = format!("{line}\n");
            assert!(read(&line).is_none(), "left to serde: {line}");
        }
        let crlf = format!(r#"{{"t":1,"actor":{{"role":"client"}},{STATE}}}"#) + "\r\n";
        assert!(read(&crlf).is_none() && derived(&crlf).is_some(), "a line break of two characters is serde's");
    }
}
