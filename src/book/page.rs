//! Pages that stand alone, outside the book: the replay widget's scripts, styles and state
//! diagram inline, so that a page needs nothing but itself. `trace replay --html` writes one
//! with its trace inside (a student can send it to an instructor; it opens from `file://`
//! and asks the network for nothing: its Content-Security-Policy forbids it); the live page of
//! `trace echo --web` gets its trace from the server that serves it ([`super::live`]).

use super::markup::{esc, script_json, states_template};
use crate::replay::Replay;

/// The replay widget's scripts, in the order `book.toml` has the book load them (less
/// `page.js`, for mdBook's own page, and `workbench.js`, for the book's drop zone): a test
/// holds the two lists together.
const WIDGET_JS: [(&str, &str); 7] = [
    ("dom.js", include_str!("../../book/replay/dom.js")),
    ("quiz.js", include_str!("../../book/replay/quiz.js")),
    ("announce.js", include_str!("../../book/replay/announce.js")),
    ("questions.js", include_str!("../../book/replay/questions.js")),
    ("ladder.js", include_str!("../../book/replay/ladder.js")),
    ("states.js", include_str!("../../book/replay/states.js")),
    ("replay.js", include_str!("../../book/replay/replay.js")),
];
const REPLAY_CSS: &str = include_str!("../../book/replay/replay.css");
const WORKBENCH_CSS: &str = include_str!("../../book/replay/workbench.css");
const LIVE_JS: &str = include_str!("../../book/replay/live.js");

/// What a page may load: nothing but itself, and (the live page) the events of its own server.
fn policy(connect: &str) -> String {
    format!("default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; connect-src {connect}")
}

/// The page around `body`, titled `title`, the widget's scripts and then `more` after the
/// body's markup (also `trace grade`'s HTML report's pages).
pub(crate) fn page(title: &str, connect: &str, body: &str, more: Option<&str>) -> String {
    let mut html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"{}\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><style>{REPLAY_CSS}{WORKBENCH_CSS}</style></head>\n<body><main class=\"st-page\">{}{body}</main>\n",
        policy(connect),
        esc(title),
        states_template(),
    );
    for script in WIDGET_JS.iter().map(|(_, text)| *text).chain(more) {
        html.push_str("<script>");
        html.push_str(script);
        html.push_str("</script>\n");
    }
    html.push_str("</body></html>\n");
    html
}

/// `trace check`'s report beside a replay (filled in later on the live page).
fn verdict(text: &str, conforms: Option<bool>) -> String {
    let class = match conforms {
        Some(true) => " st-conforms",
        Some(false) => " st-deviates",
        None => "",
    };
    format!("<section class=\"st-verdict{class}\"><h2>What <code>trace check</code> says</h2><pre>{}</pre></section>", esc_pre(text))
}

/// Escapes text for a `<pre>`, keeping its lines ([`esc`] makes a line break a space).
pub(crate) fn esc_pre(text: &str) -> String {
    text.split('\n').map(esc).collect::<Vec<_>>().join("\n")
}

/// One page replaying `replay` of the trace file `name` beside the check's report.
pub fn standalone(name: &str, replay: &Replay, report: &str, conforms: bool) -> serde_json::Result<String> {
    let json = serde_json::to_string(replay)?;
    let body = format!(
        "<h1>Replay of <code>{name}</code></h1>\
         <p class=\"st-made\">Written by <code>trace replay --html</code> (socktrace {}): the trace is inside this page, \
         which needs no network. <code>trace replay {name}</code> steps through the same trace in a terminal.</p>\
         <div class=\"st-replay\" id=\"replay-1\" data-fixture=\"{name}\"><script type=\"application/json\">{}</script>\
         <p class=\"st-fallback\">The replay needs JavaScript.</p></div>{}",
        env!("CARGO_PKG_VERSION"),
        script_json(&json),
        verdict(report, Some(conforms)),
        name = esc(name),
    );
    Ok(page(&format!("socktrace: {name}"), "'none'", &body, None))
}

/// The live page: it follows the session from `events` (server-sent events, `live.js`).
pub fn live(command: &str, events: &str) -> String {
    let body = format!(
        "<h1>Live: <code>{}</code></h1>\
         <div class=\"st-live\" data-events=\"{}\"><p class=\"st-live-status\" role=\"status\">Waiting for the session's first events…</p></div>{}",
        esc(command),
        esc(events),
        verdict("", None),
    );
    page(&format!("socktrace live: {command}"), "'self'", &body, Some(LIVE_JS))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_inline_scripts_and_styles_cannot_end_their_element() {
        let others = [("live.js", LIVE_JS), ("replay.css", REPLAY_CSS), ("workbench.css", WORKBENCH_CSS)];
        for &(name, text) in WIDGET_JS.iter().chain(&others) {
            let lower = text.to_ascii_lowercase();
            assert!(!lower.contains("</script") && !lower.contains("</style") && !lower.contains("<!--"), "{name} would end its inline element");
        }
    }

    #[test]
    fn the_widget_scripts_are_the_books_in_its_order() {
        let toml = include_str!("../../book/book.toml");
        let line = toml.lines().find(|l| l.starts_with("additional-js")).expect("book.toml loads the widget");
        let loaded: Vec<&str> = line.split('"').skip(1).step_by(2).filter(|f| !matches!(*f, "replay/page.js" | "replay/workbench.js")).collect();
        let inlined: Vec<String> = WIDGET_JS.iter().map(|(name, _)| format!("replay/{name}")).collect();
        assert_eq!(loaded, inlined);
    }

    #[test]
    fn a_standalone_page_holds_its_trace_and_names_nothing_outside_itself() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/lessons/echo.jsonl");
        let trace = crate::trace::read_trace(&path).expect("the fixture");
        let html = standalone("<echo>.jsonl", &Replay::of(&trace), "every step <met>", true).expect("a page");
        assert!(html.contains("&lt;echo&gt;.jsonl") && !html.contains("<echo>"), "the name is escaped");
        assert!(html.contains("every step &lt;met&gt;"), "the report is escaped");
        // The one address a page may hold is SVG's namespace, a name, never fetched.
        let html_without_names = html.replace("http://www.w3.org/2000/svg", "");
        for outside in ["src=", "href=", "http://", "https://", "@import"] {
            assert!(!html_without_names.contains(outside), "the page names something outside itself: {outside}");
        }
        assert!(html.split("url(").skip(1).all(|rest| rest.starts_with('#')), "a url() that is not the page's own");
        assert!(html.contains("default-src 'none'") && html.contains("connect-src 'none'"));
    }
}
