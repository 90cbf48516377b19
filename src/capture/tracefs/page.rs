//! The ring buffer's binary page (what a read of `per_cpu/cpuN/trace_pipe_raw` returns), parsed
//! without trusting it: a page that lies about its length is an error value, never a panic.
//!
//! A page is a header (timestamp, commit) and a run of records. Each record opens with a
//! 32-bit word: `type_len` in the low 5 bits, `time_delta` in the upper 27 (as in the kernel's
//! `ring_buffer.c` and libtraceevent's `kbuffer-parse.c`):
//!
//! - `type_len` 1..=28: an event of `type_len * 4` bytes follows;
//! - `type_len` 0: the next word is the event's length (itself included), then the event;
//! - 29: padding (a discarded event, or with `time_delta` 0 the empty end of the page);
//! - 30: time extend, a delta too large for 27 bits: `array[0] << 27 | time_delta`;
//! - 31: an absolute timestamp, same encoding, replacing the running time.

use std::fmt;

use super::format::{offset_of, parse_fields, Field, FormatError};

const TYPE_PADDING: u32 = 29;
const TYPE_TIME_EXTEND: u32 = 30;
const TYPE_TIME_STAMP: u32 = 31;
const TS_SHIFT: u32 = 27;
/// Absolute timestamps carry 59 bits; the top 5 come from the running time.
const TS_MSB: u64 = 0xf8 << 56;
/// The commit word holds the data length in its low bits and two flags above.
const COMMIT_MASK: u64 = (1 << 27) - 1;
const MISSED_EVENTS: u64 = 1 << 31;
/// With `MISSED_EVENTS`: the number missed is stored as a long right after the data.
const MISSED_STORED: u64 = 1 << 30;

/// Where the page header's parts lie, from `events/header_page`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageLayout {
    pub timestamp: usize,
    pub commit: usize,
    /// 8 on 64-bit kernels (a `local_t`), 4 on 32-bit ones.
    pub commit_size: usize,
    pub data: usize,
}

impl PageLayout {
    /// Reads the layout from the text of `events/header_page`.
    pub fn from_header_page(text: &str) -> Result<PageLayout, FormatError> {
        let fields = parse_fields(text)?;
        let size_of =
            |name: &'static str| -> Result<&Field, FormatError> { fields.iter().find(|f| f.name == name).ok_or(FormatError::MissingField { field: name }) };
        let commit = size_of("commit")?;
        if commit.size != 4 && commit.size != 8 {
            return Err(FormatError::FieldSize { field: "commit", expected: 8, found: commit.size });
        }
        Ok(PageLayout { timestamp: offset_of(&fields, "timestamp", 8)?, commit: commit.offset, commit_size: commit.size, data: size_of("data")?.offset })
    }
}

/// Events the ring buffer lost just before this page (it overwrote them, reader too slow).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Missed {
    None,
    Count(u64),
    /// Some were lost; the kernel did not store how many.
    Unknown,
}

/// A page whose bytes contradict its own header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PageError {
    /// Byte offset in the page where the contradiction was found.
    pub offset: usize,
    pub problem: String,
}

impl fmt::Display for PageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ring-buffer page, byte {}: {}", self.offset, self.problem)
    }
}

impl std::error::Error for PageError {}

/// One parsed page: its base time, what was lost before it, and its records.
#[derive(Clone, Debug)]
pub struct Page<'a> {
    pub timestamp: u64,
    pub missed: Missed,
    data: &'a [u8],
    data_offset: usize,
}

impl<'a> Page<'a> {
    pub fn parse(bytes: &'a [u8], layout: &PageLayout) -> Result<Page<'a>, PageError> {
        let short = |what: &str| PageError { offset: bytes.len(), problem: format!("page of {} bytes is too short for its {what}", bytes.len()) };
        let timestamp = read_u64(bytes, layout.timestamp).ok_or_else(|| short("timestamp"))?;
        let commit = match layout.commit_size {
            4 => read_u32(bytes, layout.commit).map(u64::from),
            _ => read_u64(bytes, layout.commit),
        }
        .ok_or_else(|| short("commit field"))?;
        let len = (commit & COMMIT_MASK) as usize;
        let end = layout.data.checked_add(len).filter(|&end| end <= bytes.len()).ok_or_else(|| PageError {
            offset: layout.commit,
            problem: format!("commit says {len} bytes of data, the page holds {}", bytes.len().saturating_sub(layout.data)),
        })?;
        let missed = if commit & MISSED_EVENTS == 0 {
            Missed::None
        } else if commit & MISSED_STORED != 0 {
            let count = match layout.commit_size {
                4 => read_u32(bytes, end).map(u64::from),
                _ => read_u64(bytes, end),
            };
            count.map_or(Missed::Unknown, Missed::Count)
        } else {
            Missed::Unknown
        };
        Ok(Page { timestamp, missed, data: &bytes[layout.data..end], data_offset: layout.data })
    }

    /// The page's event records, with their absolute times.
    pub fn records(&self) -> Records<'a> {
        Records { data: self.data, base: self.data_offset, pos: 0, time: self.timestamp, done: false }
    }
}

/// One event record: its time on the trace clock and its bytes (starting with `common_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Record<'a> {
    pub time: u64,
    pub data: &'a [u8],
}

/// Iterates over a page's records; after an error it yields nothing more.
#[derive(Clone, Debug)]
pub struct Records<'a> {
    data: &'a [u8],
    base: usize,
    pos: usize,
    time: u64,
    done: bool,
}

impl<'a> Records<'a> {
    fn fail(&mut self, at: usize, problem: String) -> Option<Result<Record<'a>, PageError>> {
        self.done = true;
        Some(Err(PageError { offset: self.base + at, problem }))
    }

    fn word(&self, at: usize) -> Option<u32> {
        read_u32(self.data, at)
    }
}

impl<'a> Iterator for Records<'a> {
    type Item = Result<Record<'a>, PageError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done && self.pos < self.data.len() {
            let at = self.pos;
            let Some(header) = self.word(at) else {
                return self.fail(at, "record header cut short".into());
            };
            let type_len = header & 0x1f;
            let delta = u64::from(header >> 5);
            // Every kind but a small event has a second word.
            let array0 = if (1..=28).contains(&type_len) {
                0
            } else {
                match self.word(at + 4) {
                    Some(w) => u64::from(w),
                    None => return self.fail(at, format!("record of type {type_len} cut short")),
                }
            };
            match type_len {
                TYPE_PADDING if delta == 0 => self.done = true,
                // The kernel's reader does not move its clock on padding (rb_update_read_stamp).
                TYPE_PADDING => self.pos = at + 4 + array0 as usize,
                TYPE_TIME_EXTEND => {
                    self.time = self.time.wrapping_add(array0 << TS_SHIFT | delta);
                    self.pos = at + 8;
                }
                TYPE_TIME_STAMP => {
                    self.time = (array0 << TS_SHIFT | delta) | (self.time & TS_MSB);
                    self.pos = at + 8;
                }
                _ => {
                    let (start, len, next) = if type_len == 0 {
                        let Some(len) = (array0 as usize).checked_sub(4) else {
                            return self.fail(at, format!("event length {array0} is shorter than its length word"));
                        };
                        (at + 8, len, at + 4 + (array0 as usize).next_multiple_of(4))
                    } else {
                        let len = type_len as usize * 4;
                        (at + 4, len, at + 4 + len)
                    };
                    let Some(data) = self.data.get(start..start + len) else {
                        let have = self.data.len() - start.min(self.data.len());
                        return self.fail(at, format!("event of {len} bytes runs past the data end ({have} left)"));
                    };
                    self.time = self.time.wrapping_add(delta);
                    self.pos = next;
                    return Some(Ok(Record { time: self.time, data }));
                }
            }
        }
        None
    }
}

fn read_u32(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(bytes.get(at..at.checked_add(4)?)?.try_into().ok()?))
}

fn read_u64(bytes: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_ne_bytes(bytes.get(at..at.checked_add(8)?)?.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::super::format::tests::HEADER_PAGE;
    use super::*;

    const LAYOUT: PageLayout = PageLayout { timestamp: 0, commit: 8, commit_size: 8, data: 16 };

    /// Builds a page as the kernel writes it: header, records, zeroes up to 4096 bytes.
    struct PageBuilder {
        records: Vec<u8>,
    }

    impl PageBuilder {
        fn new() -> PageBuilder {
            PageBuilder { records: Vec::new() }
        }
        fn word(mut self, w: u32) -> PageBuilder {
            self.records.extend_from_slice(&w.to_ne_bytes());
            self
        }
        fn header(self, type_len: u32, delta: u32) -> PageBuilder {
            self.word(delta << 5 | type_len)
        }
        /// A small event: `type_len` words of payload, each holding `fill`.
        fn small(self, delta: u32, words: u32, fill: u32) -> PageBuilder {
            (0..words).fold(self.header(words, delta), |b, _| b.word(fill))
        }
        fn build(&self, timestamp: u64, flags: u64) -> Vec<u8> {
            let mut page = vec![0; 4096];
            page[..8].copy_from_slice(&timestamp.to_ne_bytes());
            page[8..16].copy_from_slice(&(self.records.len() as u64 | flags).to_ne_bytes());
            page[16..16 + self.records.len()].copy_from_slice(&self.records);
            page
        }
    }

    fn times(page: &[u8]) -> Vec<Result<(u64, usize), PageError>> {
        let page = Page::parse(page, &LAYOUT).unwrap();
        page.records().map(|r| r.map(|r| (r.time, r.data.len()))).collect()
    }

    #[test]
    fn layout_is_read_from_header_page() {
        assert_eq!(PageLayout::from_header_page(HEADER_PAGE), Ok(LAYOUT));
    }

    #[test]
    fn small_events_times_are_page_time_plus_running_deltas() {
        let page = PageBuilder::new().small(5, 2, 7).small(10, 18, 8).build(1_000, 0);
        assert_eq!(times(&page), vec![Ok((1_005, 8)), Ok((1_015, 72))]);
        let parsed = Page::parse(&page, &LAYOUT).unwrap();
        assert_eq!(parsed.missed, Missed::None);
        let first = parsed.records().next().unwrap().unwrap();
        assert_eq!(first.data, [7u32.to_ne_bytes(), 7u32.to_ne_bytes()].concat());
    }

    #[test]
    fn large_event_length_in_next_word() {
        // type_len 0: the length word counts itself; 120 bytes of payload follow.
        let mut b = PageBuilder::new().header(0, 3).word(124);
        b = (0..30).fold(b, |b, _| b.word(1));
        let page = b.small(1, 1, 9).build(100, 0);
        assert_eq!(times(&page), vec![Ok((103, 120)), Ok((104, 4))]);
    }

    #[test]
    fn time_extend_adds_the_long_delta() {
        // A delta of 2^27 + 6: too big for the 27-bit field.
        let page = PageBuilder::new().header(TYPE_TIME_EXTEND, 6).word(1).small(0, 1, 0).small(2, 1, 0).build(50, 0);
        assert_eq!(times(&page), vec![Ok((50 + (1 << 27) + 6, 4)), Ok((50 + (1 << 27) + 8, 4))]);
    }

    #[test]
    fn absolute_timestamp_replaces_running_time() {
        let abs: u64 = 5 << 27 | 11;
        let page = PageBuilder::new().small(1, 1, 0).header(TYPE_TIME_STAMP, 11).word(5).small(4, 1, 0).build(1 << 40, 0);
        assert_eq!(times(&page), vec![Ok(((1 << 40) + 1, 4)), Ok((abs + 4, 4))]);
    }

    #[test]
    fn padding_discarded_event_skipped_and_null_padding_ends_page() {
        // A discarded 16-byte event (time_delta 1; array[0] is its length less the header),
        // then an event, then the null padding that ends a page, then bytes never to be read.
        let page =
            PageBuilder::new().header(TYPE_PADDING, 1).word(12).word(0xdead).word(0xbeef).small(3, 1, 0).header(TYPE_PADDING, 0).small(1, 1, 0).build(10, 0);
        assert_eq!(times(&page), vec![Ok((13, 4))]);
    }

    #[test]
    fn missed_events_flag_stored_count_or_unknown() {
        let b = PageBuilder::new().small(1, 1, 0);
        let mut page = b.build(0, MISSED_EVENTS | MISSED_STORED);
        page[16 + 8..16 + 16].copy_from_slice(&42u64.to_ne_bytes());
        assert_eq!(Page::parse(&page, &LAYOUT).unwrap().missed, Missed::Count(42));
        assert_eq!(Page::parse(&b.build(0, MISSED_EVENTS), &LAYOUT).unwrap().missed, Missed::Unknown);
        // The flags are not part of the length.
        assert_eq!(times(&b.build(0, MISSED_EVENTS)), vec![Ok((1, 4))]);
    }

    #[test]
    fn truncated_page_error_values_not_panics() {
        let page = PageBuilder::new().small(1, 2, 0).small(1, 18, 0).build(0, 0);
        // The read returned fewer bytes than the commit field claims.
        let err = Page::parse(&page[..40], &LAYOUT).unwrap_err();
        assert_eq!(err.offset, 8);
        assert!(err.to_string().contains("commit says 88 bytes"), "{err}");
        assert!(Page::parse(&page[..12], &LAYOUT).is_err());
        assert!(Page::parse(&[], &LAYOUT).is_err());
    }

    #[test]
    fn record_past_data_end_one_error_then_nothing() {
        // The commit length cuts the second event in half.
        let b = PageBuilder::new().small(1, 2, 0).small(1, 18, 0);
        let mut page = b.build(0, 0);
        page[8..16].copy_from_slice(&40u64.to_ne_bytes());
        let got = times(&page);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0], Ok((1, 8)));
        let err = got[1].clone().unwrap_err();
        assert_eq!(err.offset, 16 + 12);
        // An event length shorter than its own length word, and a header cut short.
        let bad = PageBuilder::new().header(0, 1).word(2).build(0, 0);
        assert!(times(&bad)[0].is_err());
        let mut cut = PageBuilder::new().small(1, 1, 0).build(0, 0);
        cut[8..16].copy_from_slice(&10u64.to_ne_bytes());
        assert!(matches!(times(&cut)[..], [Ok(_), Err(_)]));
    }
}
