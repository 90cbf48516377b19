//! Text that came from a trace or a capture, made inert for where it goes: one function per
//! destination. A trace is a file anyone can write, and a traced program chooses its own
//! bytes, so a socket's name, a payload preview, a command line or an option's name may hold
//! anything: an escape sequence that retitles or clears the terminal, a carriage return
//! that overwrites a verdict, a line break that forges a row or, in a packetdrill script, a
//! line that packetdrill runs as a shell command. (HTML has its own, in the book.)

use std::borrow::Cow;
use std::fmt::Write as _;

/// Whether `c` does something to a terminal rather than show: C0, DEL and C1 controls.
fn is_control(c: char) -> bool {
    c.is_control()
}

/// Whether `text` holds a control character, looked for byte by byte (this runs on every
/// line of a snapshot): C0 and DEL are single bytes, C1 is `0xC2 0x80..=0x9F` in UTF-8.
fn has_control(text: &str) -> bool {
    let bytes = text.as_bytes();
    // Most text holds none: a first look that tests every byte without stopping (and so
    // many at a time) rules that out; only text with a candidate byte is looked at closely.
    if !bytes.iter().fold(false, |found, &b| found | (b < 0x20) | (b == 0x7f) | (b == 0xc2)) {
        return false;
    }
    bytes.iter().enumerate().any(|(i, &b)| b < 0x20 || b == 0x7f || (b == 0xc2 && bytes.get(i + 1).is_some_and(|n| (0x80..=0x9f).contains(n))))
}

/// For a terminal, or a one-line error message: every control character shown as its
/// escape (`\n`, `\r`, `\t`, `\x1b`, `\u{85}`), so nothing moves the cursor, breaks the line
/// or is taken as a command by the terminal.
pub fn terminal(text: &str) -> Cow<'_, str> {
    if !has_control(text) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x100 && is_control(c) => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if is_control(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// For a packetdrill script's comment (`// …`): one line, with nothing packetdrill reads as
/// code. Its grammar runs a line in backticks as a shell command and `%{ … }%` as Python,
/// so those characters are replaced along with every control character.
pub fn packetdrill_comment(text: &str) -> Cow<'_, str> {
    let escaped = terminal(text);
    if !escaped.contains(['`', '%', '{', '}']) {
        return escaped;
    }
    Cow::Owned(escaped.replace('`', "'").replace('%', "pct").replace('{', "(").replace('}', ")"))
}

/// For a name packetdrill reads as a symbol (an option's name, `SO_REUSEADDR`): the name if
/// it is one (ASCII letters, digits and `_`, starting with a letter or `_`), else `None`.
pub fn packetdrill_symbol(name: &str) -> Option<&str> {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    (first_ok && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_terminal_gets_every_control_character_as_its_escape() {
        assert_eq!(terminal("hello"), "hello");
        assert!(matches!(terminal("plain"), Cow::Borrowed(_)), "nothing copied when nothing is escaped");
        assert_eq!(terminal("a\x1b]0;pwned\x07b\r\nc\td"), "a\\x1b]0;pwned\\x07b\\r\\nc\\td");
        assert_eq!(terminal("\u{85}\u{9b}31m\x7f"), "\\x85\\x9b31m\\x7f");
        assert_eq!(terminal("日本 · ✗"), "日本 · ✗", "printable text stays");
    }

    #[test]
    fn a_packetdrill_comment_holds_no_code() {
        let said = packetdrill_comment("trace run -- sh -c 'x'\n`touch /tmp/p` %{ os.system('x') }%");
        assert!(!said.contains(['\n', '`', '{', '}']), "{said}");
        assert_eq!(packetdrill_symbol("SO_REUSEADDR"), Some("SO_REUSEADDR"));
        assert_eq!(packetdrill_symbol("SO_X\n0 `touch p`"), None);
        assert_eq!(packetdrill_symbol("9LIVES"), None);
        assert_eq!(packetdrill_symbol(""), None);
    }
}
