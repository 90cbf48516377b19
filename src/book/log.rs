//! mdBook's log, captured. mdBook reports some failures only as an `ERROR` log line and
//! carries on (an unknown key in `[output.html]` drops `additional-js` and `additional-css`
//! but exits 0), so a build keeps every line it logs and fails when one is an error.

use std::fmt;
use std::sync::{Arc, Mutex};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

/// One line mdBook logged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    pub level: Level,
    pub text: String,
}

impl fmt::Display for Line {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:>5} {}", self.level, self.text)
    }
}

/// Collects mdBook's log lines (INFO and above) while `f` runs on this thread, echoing each
/// to standard error when `echo` is set.
pub fn capture<T>(echo: bool, f: impl FnOnce() -> T) -> (T, Vec<Line>) {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let collector = Collector { lines: lines.clone(), echo };
    let result = tracing::subscriber::with_default(collector, f);
    let lines = lines.lock().map(|l| l.clone()).unwrap_or_default();
    (result, lines)
}

struct Collector {
    lines: Arc<Mutex<Vec<Line>>>,
    echo: bool,
}

/// The event's message, then its other fields as `name=value`.
#[derive(Default)]
struct Message(String);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if !self.0.is_empty() {
            self.0.push(' ');
        }
        if field.name() == "message" {
            self.0.push_str(&format!("{value:?}"));
        } else {
            self.0.push_str(&format!("{}={value:?}", field.name()));
        }
    }
}

impl Subscriber for Collector {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        *metadata.level() <= Level::INFO
    }

    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        Some(tracing::level_filters::LevelFilter::INFO)
    }

    fn new_span(&self, _span: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }

    fn record(&self, _span: &Id, _values: &Record<'_>) {}

    fn record_follows_from(&self, _span: &Id, _follows: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut message = Message::default();
        event.record(&mut message);
        let line = Line { level: *event.metadata().level(), text: message.0 };
        if self.echo {
            eprintln!("{line}");
        }
        if let Ok(mut lines) = self.lines.lock() {
            lines.push(line);
        }
    }

    fn enter(&self, _span: &Id) {}

    fn exit(&self, _span: &Id) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_errors_and_warnings_and_leaves_out_debug() {
        let ((), lines) = capture(false, || {
            tracing::debug!("not kept");
            tracing::warn!("a warning");
            tracing::error!(key = "x", "an error");
        });
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0], Line { level: Level::WARN, text: "a warning".to_string() });
        assert_eq!(lines[1].level, Level::ERROR);
        assert_eq!(lines[1].text, "an error key=\"x\"");
    }
}
