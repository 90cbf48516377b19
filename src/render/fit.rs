//! Text made to fit a column of the terminal: wrapped at spaces, or cut with a visible `…`.
//! Widths are display widths (a CJK character takes two cells, a combining mark none), and
//! the text is plain: colour is added after it fits, so no cut lands inside an escape.

use std::borrow::Cow;

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// The mark a cut leaves.
const ELLIPSIS: char = '…';

/// How many cells `text` takes. Nearly every row is printable ASCII, one cell a byte: that is
/// told by a look at its bytes, many at a time, before the character tables are asked.
pub fn width(text: &str) -> usize {
    if text.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return text.len();
    }
    text.width()
}

/// `text` in at most `max` cells: whole, or cut with `…` as its last cell.
pub fn cut(text: &str, max: usize) -> Cow<'_, str> {
    if width(text) <= max {
        return Cow::Borrowed(text);
    }
    if max == 0 {
        return Cow::Borrowed("");
    }
    let mut used = 0;
    let mut end = 0;
    for (i, c) in text.char_indices() {
        let w = c.width().unwrap_or(0);
        if used + w > max - 1 {
            break;
        }
        used += w;
        end = i + c.len_utf8();
    }
    let mut out = String::with_capacity(end + ELLIPSIS.len_utf8());
    out.push_str(&text[..end]);
    out.push(ELLIPSIS);
    Cow::Owned(out)
}

/// `text` as lines of at most `max` cells, broken at spaces; a word longer than a line is cut
/// with `…` (the rest of it is not shown). At least one line, however short `max` is.
pub fn wrap(text: &str, max: usize) -> Vec<Cow<'_, str>> {
    if width(text) <= max {
        return vec![Cow::Borrowed(text)];
    }
    let mut lines: Vec<Cow<'_, str>> = Vec::new();
    let (mut start, mut end, mut used) = (0, 0, 0);
    for word in text.split(' ') {
        let offset = word.as_ptr() as usize - text.as_ptr() as usize;
        let w = width(word);
        if end > start && used + 1 + w > max {
            lines.push(Cow::Borrowed(&text[start..end]));
            (start, used) = (offset, 0);
        }
        if used == 0 {
            start = offset;
            used = w;
        } else {
            used += 1 + w;
        }
        end = offset + word.len();
        if used > max {
            lines.push(cut(&text[start..end], max));
            (start, end, used) = (end, end, 0);
        }
    }
    if end > start || lines.is_empty() {
        lines.push(Cow::Borrowed(&text[start..end]));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cut_keeps_the_width_and_shows_the_mark() {
        assert_eq!(cut("hello", 5), "hello");
        assert_eq!(cut("hello world", 8), "hello w…");
        assert_eq!(width(&cut("日本語のテキスト", 7)), 7, "wide characters count twice");
        assert_eq!(cut("日本語", 4), "日…");
        assert_eq!(cut("abc", 0), "");
    }

    #[test]
    fn the_ascii_look_counts_as_the_tables_do() {
        for text in ["", "accept(s1) = s2", "~ !\"#$%&'()*+,-./09:;<=>?@AZ[\\]^_`az{|}", "tab\there", "del\u{7f}", "é", "日本", "a\u{301}"] {
            assert_eq!(width(text), text.width(), "{text:?}");
        }
    }

    #[test]
    fn wrapped_lines_break_at_spaces_and_never_pass_the_width() {
        let text = "accept(s1) = s2 (fd 17) from 127.0.0.1:44886  [77 µs]";
        for max in [10, 17, 25, 40, 80] {
            let lines = wrap(text, max);
            assert!(lines.iter().all(|l| width(l) <= max), "{max}: {lines:?}");
            if max >= 25 {
                assert_eq!(lines.join(" ").split_whitespace().collect::<Vec<_>>(), text.split_whitespace().collect::<Vec<_>>(), "nothing lost at {max}");
            }
        }
        assert_eq!(wrap("a-very-long-word and more", 8), ["a-very-…", "and more"]);
        assert_eq!(wrap("", 5), [""]);
    }
}
