//! The text of a socket's name, held in the event itself. Every event names a socket, a
//! packet its receiver too: as a `String`, each name was an allocation of its own, so that
//! reading a trace of a million events made two million of them, and every pass of the views
//! that asked a name anything (its kind, its number, is it the last one seen) went to fetch it
//! from wherever the allocator had put it. A name a trace gives (`c1`, `s40542`, `peer3`) is a
//! few bytes: up to [`INLINE`] of them are kept in place, a longer one (any text is a valid
//! name in a trace file) on the heap.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;

use serde::de::{Error, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The longest name kept in place: what fits beside its length in the 24 bytes a `String` took.
pub const INLINE: usize = 22;

/// A short string, kept in place up to [`INLINE`] bytes. Compared, ordered and hashed as the
/// `str` it holds.
#[derive(Clone)]
pub struct SockName(Repr);

#[derive(Clone)]
enum Repr {
    /// The bytes of a `str`, the rest zeros.
    Inline { len: u8, bytes: [u8; INLINE] },
    /// Only for names longer than [`INLINE`]: each name has one representation.
    Heap(Box<str>),
}

impl SockName {
    pub fn new(text: &str) -> SockName {
        if text.len() > INLINE {
            return SockName(Repr::Heap(text.into()));
        }
        let mut bytes = [0; INLINE];
        bytes[..text.len()].copy_from_slice(text.as_bytes());
        SockName(Repr::Inline { len: text.len() as u8, bytes })
    }

    /// The name's bytes: what the views compare and ask, with no check that they are text.
    pub fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline { len, bytes } => &bytes[..usize::from(*len)],
            Repr::Heap(text) => text.as_bytes(),
        }
    }

    pub fn as_str(&self) -> &str {
        match &self.0 {
            // Copied whole from a `str` in `new`, so always text: the check never fails, and
            // costs a few nanoseconds on a name of a few ASCII bytes.
            Repr::Inline { .. } => std::str::from_utf8(self.as_bytes()).expect("a name is copied from a str"),
            Repr::Heap(text) => text,
        }
    }
}

impl Deref for SockName {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for SockName {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl From<&str> for SockName {
    fn from(text: &str) -> SockName {
        SockName::new(text)
    }
}

impl From<String> for SockName {
    fn from(text: String) -> SockName {
        SockName::new(&text)
    }
}

impl PartialEq for SockName {
    fn eq(&self, other: &SockName) -> bool {
        match (&self.0, &other.0) {
            // Compared as they lie, zeros after the name and all, with no call to compare
            // memory: the views compare a name with the last ones seen at every event.
            (Repr::Inline { len: a, bytes: x }, Repr::Inline { len: b, bytes: y }) => a == b && x == y,
            (Repr::Heap(x), Repr::Heap(y)) => x == y,
            // A name has one representation, by its length.
            _ => false,
        }
    }
}

impl Eq for SockName {}

impl PartialEq<str> for SockName {
    fn eq(&self, other: &str) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl PartialEq<&str> for SockName {
    fn eq(&self, other: &&str) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

/// Byte order is the order of `str`.
impl Ord for SockName {
    fn cmp(&self, other: &SockName) -> Ordering {
        // Two names kept in place are first told apart by their first eight bytes, as one
        // number: the zeros after a shorter name order it first, as `str` does, and where the
        // numbers are equal the whole names decide. Sorting the tens of thousands of sockets of
        // a large trace by name compared slices one byte at a time.
        if let (Repr::Inline { bytes: x, .. }, Repr::Inline { bytes: y, .. }) = (&self.0, &other.0) {
            let head = |bytes: &[u8; INLINE]| u64::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7]]);
            let by_head = head(x).cmp(&head(y));
            if by_head != Ordering::Equal {
                return by_head;
            }
        }
        self.as_bytes().cmp(other.as_bytes())
    }
}

impl PartialOrd for SockName {
    fn partial_cmp(&self, other: &SockName) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Hashed as `str` hashes itself, so that a table keyed by names can be asked with a `&str`.
impl Hash for SockName {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write(self.as_bytes());
        state.write_u8(0xff);
    }
}

impl fmt::Display for SockName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl fmt::Debug for SockName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl Serialize for SockName {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for SockName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<SockName, D::Error> {
        struct Text;
        impl Visitor<'_> for Text {
            type Value = SockName;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }

            // Borrowed or not, the text is copied in: no `String` is made for a short name.
            fn visit_str<E: Error>(self, text: &str) -> Result<SockName, E> {
                Ok(SockName::new(text))
            }
        }
        deserializer.deserialize_str(Text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_long_names_read_compare_and_order_as_their_text() {
        let long = "a-name-longer-than-twenty-two-bytes";
        let names = ["", "c1", "c10", "c1\0", "c1\0\0\0\0\0\0\0a", "s40542", "s4054", "peer3", "peer3peer", "peer3pe\u{e9}", "exactly-22-bytes-long!", long];
        for a in names {
            let name = SockName::new(a);
            assert_eq!(name.as_str(), a);
            assert_eq!(serde_json::to_string(&name).unwrap(), serde_json::to_string(a).unwrap());
            assert_eq!(serde_json::from_str::<SockName>(&serde_json::to_string(a).unwrap()).unwrap(), name);
            for b in names {
                assert_eq!(name.cmp(&SockName::new(b)), a.cmp(b), "{a} against {b}");
            }
        }
        assert_eq!(std::mem::size_of::<Option<SockName>>(), std::mem::size_of::<String>(), "as small as the String it replaced");
    }
}
