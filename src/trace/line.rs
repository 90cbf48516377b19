//! One line of a trace file after its header, read on its own: the reader reads lines on
//! two threads at once, and takes them in order ([`super::reader`]).
//!
//! Most lines are read as the writer writes them ([`written`]), byte for byte; the others by
//! serde. An event's body is flattened into it and tagged by its `kind` field (DESIGN §3). Serde
//! reads such a record by first copying every field it does not know into a tree of its
//! own, then reading the body out of that tree (and copying parts of it again): on a trace
//! of a million events that cost more than the parse itself. [`TraceWriter`] always writes
//! the event's own fields first and `kind` before the body's, so a record in that order is
//! read straight from the text ([`InOrder`]). A line in any other order, or one that does not
//! read at all, is read again by the derived [`Deserialize`] of [`Event`], which stays the
//! one definition of the format: it decides what is accepted and words every error.
//!
//! [`TraceWriter`]: super::TraceWriter

use std::fmt;

use serde::de::value::{BorrowedStrDeserializer, MapAccessDeserializer};
use serde::de::{DeserializeSeed, Error as _, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use super::format::{End, EndRecord};
use super::written;
use crate::event::{Body, CallEnd, CallStart, Event, KernelNote, Packet, ProcessChange, StateChange};

/// A line that holds no event, as far as the line alone tells; what depends on where it
/// stands (after the end line, say) the reader decides.
pub(super) enum NotAnEvent {
    /// Bytes that are not UTF-8.
    NotText,
    /// A last line without its line break: cut off mid-record.
    CutOff,
    Blank,
    End(Result<End, serde_json::Error>),
    /// A trace's first line, found after it: two traces in one file.
    Header,
    /// Longer than the reader takes ([`super::Limits`]).
    TooLong,
    Malformed(serde_json::Error),
}

/// Reads one line, with its line break.
pub(super) fn read(bytes: &[u8]) -> Result<Event, NotAnEvent> {
    match std::str::from_utf8(bytes) {
        Ok(text) => read_text(text),
        Err(_) => Err(NotAnEvent::NotText),
    }
}

/// Reads one line of text, with its line break.
pub(super) fn read_text(text: &str) -> Result<Event, NotAnEvent> {
    if !text.ends_with('\n') {
        return Err(NotAnEvent::CutOff);
    }
    if text.trim().is_empty() {
        return Err(NotAnEvent::Blank);
    }
    // The end line is an object with one key, `end`: no event starts so.
    if text.trim_start().starts_with("{\"end\"") {
        return Err(NotAnEvent::End(serde_json::from_str::<EndRecord>(text).map(|record| record.end)));
    }
    if let Some(event) = written::read(text) {
        return Ok(event);
    }
    match serde_json::from_str::<InOrder>(text) {
        Ok(InOrder(event)) => Ok(event),
        Err(_) => serde_json::from_str::<Event>(text).map_err(|e| if is_header(text) { NotAnEvent::Header } else { NotAnEvent::Malformed(e) }),
    }
}

/// Whether a line that is no event is a trace's header (an object with a `format` field).
fn is_header(text: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(text).is_ok_and(|v| v.get("format").is_some_and(serde_json::Value::is_string))
}

/// An event whose fields come in the writer's order: `t`, `actor`, `socket` (if any) and
/// `origin`, then `kind`, then the body's fields. Anything else is refused, for the derived
/// reader to read (or to refuse in its own words).
struct InOrder(Event);

/// The fields of an event that are not its body's.
const OWN_FIELDS: [&str; 5] = ["t", "actor", "socket", "origin", "kind"];

impl<'de> Deserialize<'de> for InOrder {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<InOrder, D::Error> {
        deserializer.deserialize_map(InOrderVisitor)
    }
}

struct InOrderVisitor;

impl<'de> Visitor<'de> for InOrderVisitor {
    type Value = InOrder;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an event with its fields in the writer's order")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<InOrder, A::Error> {
        let (mut t, mut actor, mut socket, mut origin) = (None, None, None, None);
        loop {
            match map.next_key::<&'de str>()? {
                Some("t") if t.is_none() => t = Some(map.next_value()?),
                Some("actor") if actor.is_none() => actor = Some(map.next_value()?),
                Some("socket") if socket.is_none() => socket = Some(map.next_value()?),
                Some("origin") if origin.is_none() => origin = Some(map.next_value()?),
                Some("kind") => break,
                _ => return Err(A::Error::custom("not in the writer's order")),
            }
        }
        let (Some(t), Some(actor), Some(origin)) = (t, actor, origin) else {
            return Err(A::Error::custom("an event's own field is missing"));
        };
        let kind: &'de str = map.next_value()?;
        let body = MapAccessDeserializer::new(BodyFields(map));
        let body = match kind {
            "call_start" => Body::CallStart(CallStart::deserialize(body)?),
            "call_end" => Body::CallEnd(CallEnd::deserialize(body)?),
            "packet" => Body::Packet(Packet::deserialize(body)?),
            "state" => Body::State(StateChange::deserialize(body)?),
            "kernel" => Body::Kernel(KernelNote::deserialize(body)?),
            "process" => Body::Process(ProcessChange::deserialize(body)?),
            _ => return Err(A::Error::custom("an unknown kind")),
        };
        Ok(InOrder(Event { t, actor, socket: socket.flatten(), origin, body }))
    }
}

/// The rest of an event after its `kind`: the body's fields, none of the event's own.
struct BodyFields<A>(A);

impl<'de, A: MapAccess<'de>> MapAccess<'de> for BodyFields<A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, A::Error> {
        match self.0.next_key::<&'de str>()? {
            None => Ok(None),
            Some(key) if OWN_FIELDS.contains(&key) => Err(A::Error::custom("an event's own field after its kind")),
            Some(key) => seed.deserialize(BorrowedStrDeserializer::new(key)).map(Some),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, A::Error> {
        self.0.next_value_seed(seed)
    }
}

#[cfg(test)]
#[allow(non_snake_case)] // names read situation__outcome
pub(super) mod tests {
    use super::*;

    /// Every event line of every trace in `fixtures/`, with its line break.
    pub(in crate::trace) fn fixture_lines() -> Vec<String> {
        let mut lines = Vec::new();
        let mut stack = vec![std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures"))];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|e| e == "jsonl") {
                    let text = std::fs::read_to_string(&path).unwrap_or_default();
                    lines.extend(text.lines().skip(1).map(|line| format!("{line}\n")));
                }
            }
        }
        lines
    }

    /// Every line of every trace in `fixtures/`, read both ways, reads the same.
    #[test]
    fn in_order__reads_every_fixture_line_as_the_derived_reader_does() {
        let mut lines = 0;
        for line in fixture_lines() {
            let derived = serde_json::from_str::<Event>(&line).ok();
            let in_order = serde_json::from_str::<InOrder>(&line).ok().map(|e| e.0);
            if in_order.is_some() {
                assert_eq!(in_order, derived, "{line}");
                lines += 1;
            }
        }
        assert!(lines > 1000, "the fixtures hold events ({lines} read)");
    }

    #[test]
    fn in_order__refuses_other_orders_and_the_derived_reader_takes_them() {
        let line = r#"{"kind":"state","t":5,"actor":{"role":"client"},"socket":"c1","origin":"observed","from":"CLOSED","to":"SYN-SENT"}"#;
        assert!(serde_json::from_str::<InOrder>(line).is_err());
        let event = read(format!("{line}\n").as_bytes()).ok().expect("the derived reader takes any order");
        assert_eq!((event.t, event.socket.map(|s| s.0.to_string())), (5, Some("c1".to_string())));
        // An event's own field after its kind would be taken for the body's: refused.
        let late = r#"{"actor":{"role":"client"},"origin":"observed","kind":"state","t":5,"from":"CLOSED","to":"SYN-SENT"}"#;
        assert!(serde_json::from_str::<InOrder>(late).is_err());
        assert!(matches!(read(format!("{late}\n").as_bytes()), Ok(e) if e.t == 5));
    }
}
