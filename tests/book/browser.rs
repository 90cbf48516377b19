//! The book in a real browser: Debian's Chromium, headless, opens every chapter from
//! `file://`; in every replay, Next walks every step with the ladder row and the documented
//! step highlighted where the Rust mapping says, and at known events where the lessons say;
//! the keys, filters, Play and `?step=N` work; payloads stay text; no script error, no console
//! error, and no request leaves `file://`. Without Chromium the test says so and passes,
//! except under `CI=true`, where it fails.

use std::path::Path;

use serde::Deserialize;
use serde_json::Value;
use socktrace::event::{CallName, Event, Role};
use socktrace::replay::Replay;
use socktrace::tcp::flags::TcpFlags;

use super::build::chapters_with_replays;
use super::cdp::Browser;
use super::{built_book, fixture};
use crate::support::scratch;

/// Chromium's binary: `$CHROMIUM`, or `chromium` on the PATH.
fn chromium() -> Option<String> {
    let binary = std::env::var("CHROMIUM").unwrap_or_else(|_| "chromium".to_string());
    let found = std::process::Command::new(&binary).arg("--version").output().is_ok_and(|o| o.status.success());
    if found {
        return Some(binary);
    }
    let why = format!("{binary} is not installed (apt-get install -y chromium)");
    assert!(std::env::var("CI").as_deref() != Ok("true"), "the browser test must run in CI: {why}");
    eprintln!("SKIPPED the browser test: {why}");
    None
}

fn file_url(path: &Path) -> String {
    format!("file://{}", path.display())
}

/// Walks every replay of the page from Reset to the last Next, noting at each step the
/// widget's step, the highlighted ladder row, the documented steps marked ▶ and the detail's
/// first line.
const WALK: &str = r#"JSON.stringify([...document.querySelectorAll('.st-replay')].map((w) => {
  const data = JSON.parse(w.querySelector('script[type="application/json"]').textContent);
  w.querySelector('.st-reset').click();
  const seen = [];
  for (let guard = 0; guard < 10000; guard++) {
    const row = w.querySelector('.st-row.st-current');
    seen.push({
      step: Number(w.getAttribute('data-step')),
      row: row ? Number(row.getAttribute('data-step')) : null,
      here: [...w.querySelectorAll('.st-sequence')].map((s) => [...s.querySelectorAll('li.st-here')].map((li) => li.getAttribute('data-step-id'))),
      text: w.querySelector('.st-text').textContent,
    });
    const next = w.querySelector('.st-next');
    if (next.disabled) break;
    next.click();
  }
  return { fixture: w.getAttribute('data-fixture'), ready: w.getAttribute('data-ready'), steps: data.steps.length, seen };
}))"#;

#[derive(Deserialize)]
struct Widget {
    fixture: String,
    ready: Option<String>,
    steps: usize,
    seen: Vec<Seen>,
}

#[derive(Deserialize)]
struct Seen {
    step: usize,
    row: Option<usize>,
    here: Vec<Vec<String>>,
    text: String,
}

/// The replay step showing event `index`.
fn step_of(replay: &Replay, index: usize) -> usize {
    replay.steps.iter().position(|s| (s.first..=s.last).contains(&index)).expect("every event is in a step")
}

/// Events whose documented step the lessons name: (event, sequence 0 passive / 1 active, step).
fn known_events(events: &[Event]) -> Vec<(usize, usize, &'static str)> {
    let find = |pred: &dyn Fn(&Event) -> bool| events.iter().position(pred);
    let mut known = Vec::new();
    let start = |role: Role, call: CallName| move |e: &Event| e.actor.role == role && e.call_start().is_some_and(|s| s.call == call);
    let mut add = |at: Option<usize>, sequence, step| known.extend(at.map(|i| (i, sequence, step)));
    add(find(&start(Role::Server, CallName::Listen)), 0, "listen");
    add(find(&|e| e.call_end().is_some_and(|end| end.call == CallName::Accept && end.ret >= 0)), 0, "accept");
    let syn = find(&|e| e.segment().is_some_and(|t| t.flags == TcpFlags::SYN));
    let accepted = events.iter().any(|e| e.call_end().is_some_and(|end| end.call == CallName::Accept));
    if accepted {
        add(syn, 0, "accept");
    }
    add(syn, 1, "connect");
    add(find(&start(Role::Client, CallName::Connect)), 1, "address");
    add(find(&start(Role::Client, CallName::Connect)), 1, "connect");
    add(find(&start(Role::Client, CallName::Close)), 1, "close");
    known
}

fn check_widget(page: &str, widget: &Widget) {
    let trace = fixture(&widget.fixture);
    let replay = Replay::of(&trace);
    let name = format!("{page}, replay of {}", widget.fixture);
    assert_eq!(widget.ready.as_deref(), Some("1"), "{name}: the widget mounted");
    assert_eq!(widget.steps, replay.steps.len(), "{name}");
    assert_eq!(widget.seen.len(), replay.steps.len(), "{name}: Next walks every step");
    for (k, seen) in widget.seen.iter().enumerate() {
        let step = &replay.steps[k];
        assert_eq!((seen.step, seen.row), (k, Some(k)), "{name}: step {k} and its ladder row");
        assert_eq!(seen.text, step.text, "{name}: step {k}'s words, as text");
        let expected: Vec<Vec<String>> = step.progress.iter().map(|p| p.at.iter().map(|s| s.to_string()).collect()).collect();
        assert_eq!(seen.here, expected, "{name}: step {k}'s documented steps");
    }
    for (event, sequence, documented) in known_events(&trace.events) {
        let k = step_of(&replay, event);
        assert!(
            widget.seen[k].here[sequence].iter().any(|s| s == documented),
            "{name}: step {} ({}) highlights {documented}: {:?}",
            k + 1,
            replay.steps[k].text,
            widget.seen[k].here
        );
    }
}

/// Script errors, console errors and warnings, and requests that leave `file://`.
fn problems(events: &[Value]) -> Vec<String> {
    let mut found = Vec::new();
    for event in events {
        let params = &event["params"];
        match event["method"].as_str().unwrap_or("") {
            "Runtime.exceptionThrown" => found.push(format!("script error: {}", params["exceptionDetails"])),
            "Runtime.consoleAPICalled" if matches!(params["type"].as_str(), Some("error" | "warning" | "assert")) => {
                found.push(format!("console {}: {}", params["type"], params["args"]))
            }
            "Log.entryAdded" if matches!(params["entry"]["level"].as_str(), Some("error" | "warning")) => found.push(format!("log: {}", params["entry"])),
            "Network.requestWillBeSent" => {
                let url = params["request"]["url"].as_str().unwrap_or("");
                if !(url.starts_with("file://") || url.starts_with("data:") || url.starts_with("about:")) {
                    found.push(format!("a network request: {url}"));
                }
            }
            _ => {}
        }
    }
    found
}

/// The controls of the first replay of the handshake chapter, driven as a reader would.
const INTERACT: &str = r#"(async () => {
  const w = document.querySelector('.st-replay');
  const data = JSON.parse(w.querySelector('script[type="application/json"]').textContent);
  const step = () => Number(w.getAttribute('data-step'));
  const pause = (ms) => new Promise((done) => setTimeout(done, ms));
  const out = { opened_at: step() };
  const page = location.pathname;
  w.focus();
  w.dispatchEvent(new KeyboardEvent('keydown', { key: 'ArrowRight', bubbles: true }));
  out.after_right = step();
  w.dispatchEvent(new KeyboardEvent('keydown', { key: 'ArrowLeft', bubbles: true }));
  out.after_left = step();
  await pause(300);
  out.same_page = location.pathname === page;
  w.querySelector('.st-filter-calls').click();
  w.querySelector('.st-filter-states').click();
  w.querySelector('.st-reset').click();
  const lenses = [data.steps[step()].lens];
  while (!w.querySelector('.st-next').disabled) { w.querySelector('.st-next').click(); lenses.push(data.steps[step()].lens); }
  out.packets_only = lenses;
  out.ladder_rows = w.querySelectorAll('.st-row').length;
  w.querySelector('.st-filter-calls').click();
  w.querySelector('.st-filter-states').click();
  const side = w.querySelector('.st-side-filter');
  side.value = 'client';
  side.dispatchEvent(new Event('change'));
  w.querySelector('.st-reset').click();
  const sides = [data.steps[step()].side];
  while (!w.querySelector('.st-next').disabled) { w.querySelector('.st-next').click(); sides.push(data.steps[step()].side); }
  out.client_only = sides;
  side.value = 'both';
  side.dispatchEvent(new Event('change'));
  w.querySelector('.st-reset').click();
  w.querySelector('.st-play').click();
  out.playing = w.querySelector('.st-play').textContent;
  await pause(1500);
  out.played_to = step();
  w.querySelector('.st-play').click();
  out.paused = w.querySelector('.st-play').textContent;
  return JSON.stringify(out);
})()"#;

#[test]
fn every_chapter_replays_offline_in_chromium() {
    let Some(binary) = chromium() else { return };
    let book = built_book();
    let mut browser = Browser::start(&binary, &scratch("chromium_profile"));
    let page = browser.new_page();
    let mut widgets = 0;
    for (chapter, replays) in chapters_with_replays() {
        browser.open(&page, &file_url(&book.join(&chapter)));
        let walked: Vec<Widget> = serde_json::from_str(&browser.eval(&page, WALK)).expect("the walk's JSON");
        assert_eq!(walked.len(), replays, "{}", chapter.display());
        for widget in &walked {
            check_widget(&chapter.display().to_string(), widget);
        }
        widgets += walked.len();
    }
    assert!(widgets >= 15, "{widgets} replays walked");

    // The payloads that look like markup stayed text (their words were compared above).
    browser.open(&page, &file_url(&book.join("reference/trace-format.html")));
    let inert = browser.eval(&page, r#"String(window.stPwned === undefined && !document.querySelector('img[src="x"]'))"#);
    assert_eq!(inert, "true", "a payload ran as markup");

    // `?step=N`, the keys, the filters and Play, on the handshake chapter's replay.
    let echo = Replay::of(&fixture("echo.jsonl"));
    browser.open(&page, &format!("{}?step=13", file_url(&book.join("handshake.html"))));
    let out: Value = serde_json::from_str(&browser.eval(&page, INTERACT)).expect("the interaction's JSON");
    assert_eq!(out["opened_at"], 12, "?step=13 opens at the 13th step");
    assert_eq!((out["after_right"].as_u64(), out["after_left"].as_u64()), (Some(13), Some(12)), "→ and ← step");
    assert_eq!(out["same_page"], true, "the arrow keys stay with the replay, not mdBook's page turns");
    let packets = echo.steps.iter().filter(|s| s.lens == socktrace::replay::Lens::Packet).count();
    let lenses = out["packets_only"].as_array().expect("lenses");
    assert!(lenses.len() == packets && lenses.iter().all(|l| l == "packet"), "with only packets shown, Next visits the {packets} packets: {lenses:?}");
    assert_eq!(out["ladder_rows"].as_u64(), Some(packets as u64), "and the ladder draws only them");
    let sides = out["client_only"].as_array().expect("sides");
    assert!(!sides.is_empty() && sides.iter().all(|s| s == "client"), "client only: {sides:?}");
    assert_eq!((out["playing"].as_str(), out["paused"].as_str()), (Some("Pause"), Some("Play")));
    assert!(out["played_to"].as_u64().is_some_and(|s| s >= 1), "Play moves on by itself: {out}");

    let found = problems(&browser.events);
    assert!(found.is_empty(), "in the browser:\n{}", found.join("\n"));
}

/// The book's screenshots can be drawn: two chapters' replays mid-handshake, at the SYN|ACK
/// (step 13 of the echo fixture) and at the third ACK (step 15), and the three concurrent
/// servers of "Three ways to serve many clients" at the same documented step, `accept`
/// returning the second connection; each a PNG of the replay's box. With
/// `SOCKTRACE_BLESS=1` they replace `book/screenshots/`.
#[test]
fn screenshots() {
    let Some(binary) = chromium() else { return };
    let book = built_book();
    let mut browser = Browser::start(&binary, &scratch("chromium_screenshots"));
    let page = browser.new_page();
    let viewport = serde_json::json!({"width": 1100, "height": 1600, "deviceScaleFactor": 1, "mobile": false});
    browser.call(Some(&page), "Emulation.setDeviceMetricsOverride", viewport);
    let mut shots: Vec<(String, String, usize, String)> =
        [("handshake", 13), ("passive-open", 15)].iter().map(|&(c, step)| (c.to_string(), "echo.jsonl".to_string(), step, c.to_string())).collect();
    for style in ["serve-fork", "serve-threads", "serve-epoll"] {
        let fixture_name = format!("{style}.jsonl");
        let trace = fixture(&fixture_name);
        let second_accept = trace.events.iter().position(|e| e.new_socket().is_some_and(|s| s.0 == "s3")).expect("accept returns s3");
        let replay = Replay::of(&trace);
        let step = step_of(&replay, second_accept);
        assert!(replay.steps[step].progress[0].at.contains(&"accept"), "{style}: step {} shows the documented accept", step + 1);
        shots.push(("serving-many".to_string(), fixture_name, step + 1, style.to_string()));
    }
    for (chapter, fixture_name, step, stem) in shots {
        let url = file_url(&book.join(format!("{chapter}.html")));
        browser.open(&page, &url);
        let find = format!("document.querySelector('.st-replay[data-fixture=\"{fixture_name}\"]').id");
        let id = browser.eval(&page, &find);
        browser.open(&page, &format!("{url}?step={step}#{id}"));
        // The replay at the top of the viewport, below mdBook's menu bar (its scroll margin),
        // and the ladder where the replay scrolled it: the current row. Taller than the page's
        // window would be, so that the whole replay is drawn without capturing beyond the
        // viewport, which lays the page out again and loses the ladder's scroll.
        let rect = browser.eval(
            &page,
            &format!(
                "(() => {{ const w = document.getElementById('{id}'); w.scrollIntoView({{ block: 'start' }}); \
                 const r = w.getBoundingClientRect(); return JSON.stringify([r.x + scrollX, r.y + scrollY, r.width, r.height]); }})()"
            ),
        );
        let [x, y, width, height]: [f64; 4] = serde_json::from_str(&rect).expect("the replay's box");
        let current = browser.eval(&page, &format!("document.getElementById('{id}').getAttribute('data-step')"));
        assert_eq!(current, (step - 1).to_string(), "{stem}: the replay opened at step {step}");
        let clip = serde_json::json!({"x": x - 8.0, "y": y - 8.0, "width": width + 24.0, "height": height + 16.0, "scale": 1});
        let shot = browser.call(Some(&page), "Page.captureScreenshot", serde_json::json!({"format": "png", "captureBeyondViewport": false, "clip": clip}));
        let png = base64(shot["data"].as_str().expect("the image"));
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 10_000, "{stem}: no picture of the replay ({} bytes)", png.len());
        if std::env::var_os("SOCKTRACE_BLESS").is_some() {
            std::fs::write(super::root().join(format!("book/screenshots/{stem}.png")), png).expect("write the screenshot");
        }
    }
}

/// Decodes standard base64 (the DevTools protocol's encoding of binary data).
fn base64(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {c}"),
    };
    let digits: Vec<u8> = text.bytes().filter(|&c| c != b'=').map(value).collect();
    digits
        .chunks(4)
        .flat_map(|chunk| {
            let n = chunk.iter().enumerate().fold(0u32, |n, (i, &d)| n | u32::from(d) << (18 - 6 * i));
            let bytes = n.to_be_bytes();
            bytes[1..chunk.len()].to_vec()
        })
        .collect()
}
