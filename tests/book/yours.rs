//! The reader's own traces in Chromium: a trace dropped into the served book's "Your trace"
//! page (and a capture chosen with its file picker) comes back replayed beside `trace check`'s
//! verdict; the page of `trace replay --html` replays from `file://` with the network off and
//! asks it for nothing; a live `trace echo --web` session grows in its page step by step and
//! ends there whole. Without Chromium these fail under `CI=true`, as the book's other browser
//! tests do; the live one needs root, as every live test does.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::Command;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::{json, Value};
use socktrace::capture::privilege::live_test_allowed;
use socktrace::check::{check, CheckOptions};
use socktrace::replay::Replay;

use super::browser::{base64, chromium, file_url, problems};
use super::cdp::Browser;
use super::upload::Served;
use super::{fixture, fixture_path};
use crate::support::session::{Running, PATIENCE};
use crate::support::{load, scratch, stderr, trace, trace_bin};

/// Waits (in the page) until `done` holds, for at most 30 s.
const UNTIL: &str = "const until = async (done) => { const end = Date.now() + 30000; \
  while (!done()) { if (Date.now() > end) return false; await new Promise((r) => setTimeout(r, 20)); } return true; };";

/// What the page shows of the replay in `scope` and the verdict beside it.
fn shown_js(scope: &str) -> String {
    format!(
        r#"(() => {{
  const w = document.querySelector('{scope} .st-replay');
  const verdict = document.querySelector('{scope} .st-verdict');
  const error = document.querySelector('.st-workbench-error');
  return JSON.stringify({{
    ready: w ? w.getAttribute('data-ready') : null,
    fixture: w ? w.getAttribute('data-fixture') : null,
    rows: w ? w.querySelectorAll('.st-row').length : 0,
    status: w ? w.querySelector('.st-status').textContent : '',
    texts: w ? (() => {{ const t = []; while (!w.querySelector('.st-back').disabled) w.querySelector('.st-back').click();
      for (let guard = 0; guard < 10000; guard++) {{ t.push(w.querySelector('.st-text').textContent);
        if (w.querySelector('.st-next').disabled) break; w.querySelector('.st-next').click(); }} return t; }})() : [],
    verdict: verdict ? verdict.querySelector('pre').textContent : '',
    conforms: verdict ? verdict.classList.contains('st-conforms') : false,
    error: error ? error.textContent : '',
  }});
}})()"#
    )
}

#[derive(Debug, Deserialize)]
struct Shown {
    ready: Option<String>,
    fixture: Option<String>,
    rows: usize,
    status: String,
    texts: Vec<String>,
    verdict: String,
    conforms: bool,
    error: String,
}

/// Drops a file named `name` holding `text` on the page's drop zone, as a reader's drag
/// would, and waits for the page's answer: a replay, or an error line.
fn drop_js(name: &str, text: &str) -> String {
    format!(
        r#"(async () => {{ {UNTIL}
  const zone = document.querySelector('.st-drop');
  const before = document.querySelector('.st-workbench-result .st-replay');
  const files = new DataTransfer();
  files.items.add(new File([{}], {}));
  document.querySelector('.st-workbench-error').textContent = '';
  zone.dispatchEvent(new DragEvent('drop', {{ dataTransfer: files, bubbles: true, cancelable: true }}));
  await until(() => {{ const w = document.querySelector('.st-workbench-result .st-replay[data-ready="1"]');
    return (w && w !== before) || document.querySelector('.st-workbench-error').textContent; }});
  return 'done';
}})()"#,
        json!(text),
        json!(name)
    )
}

/// The browser's problems, but the requests to `served` and the 422 a refused file answers.
fn problems_served(events: &[Value], served: &str) -> Vec<String> {
    problems(events).into_iter().filter(|p| !p.starts_with(&format!("a network request: http://{served}/")) && !p.contains("status of 422")).collect()
}

fn fixture_text(name: &str) -> String {
    std::fs::read_to_string(fixture_path(name)).expect("the fixture")
}

#[test]
#[cfg_attr(socktrace_no_chromium, ignore = "needs Chromium: apt-get install -y chromium, then touch build.rs")]
fn a_trace_dropped_into_the_served_book_is_replayed_with_its_checks_verdict() {
    let binary = chromium();
    let served = Served::start("yours_book");
    let mut browser = Browser::start(&binary, &scratch("chromium_yours"));
    let page = browser.new_page();
    let viewport = json!({"width": 1100, "height": 2400, "deviceScaleFactor": 1, "mobile": false});
    browser.call(Some(&page), "Emulation.setDeviceMetricsOverride", viewport);
    browser.open(&page, &served.url("/your-trace.html"));

    // A trace, dropped.
    let echo = fixture("echo.jsonl");
    let replay = Replay::of(&echo);
    browser.eval(&page, &drop_js("echo.jsonl", &fixture_text("echo.jsonl")));
    let shown: Shown = serde_json::from_str(&browser.eval(&page, &shown_js(".st-workbench-result"))).expect("JSON");
    assert_eq!(shown.error, "", "{shown:?}");
    assert_eq!((shown.ready.as_deref(), shown.fixture.as_deref()), (Some("1"), Some("echo.jsonl")), "{shown:?}");
    assert_eq!(shown.rows, replay.steps.len(), "a ladder row per step");
    let words: Vec<&str> = replay.steps.iter().map(|s| s.text.as_str()).collect();
    assert_eq!(shown.texts, words, "Next walks the steps `trace replay` shows");
    assert_eq!(shown.verdict, check(&echo, &CheckOptions::default()).to_string(), "the report `trace check` writes, beside it");
    assert!(shown.conforms, "marked as conforming");

    // The screenshot of a dropped trace: the replay, back at its first step, and its verdict,
    // the page at its top, so that mdBook's menu bar covers none of it.
    browser.eval(&page, "(() => { document.querySelector('.st-workbench-result .st-reset').click(); return ''; })()");
    let rect = browser.eval(
        &page,
        "(() => { const r = document.querySelector('.st-workbench'); scrollTo(0, 0); \
         const b = r.getBoundingClientRect(); return JSON.stringify([b.x, b.y, b.width, Math.min(b.height, 2380 - b.y)]); })()",
    );
    let [x, y, width, height]: [f64; 4] = serde_json::from_str(&rect).expect("the drop zone's box");
    let clip = json!({"x": x - 8.0, "y": y - 8.0, "width": width + 16.0, "height": height + 16.0, "scale": 1});
    let shot = browser.call(Some(&page), "Page.captureScreenshot", json!({"format": "png", "captureBeyondViewport": false, "clip": clip}));
    let png = base64(shot["data"].as_str().expect("the image"));
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 10_000, "no picture of the dropped trace ({} bytes)", png.len());
    if std::env::var_os("SOCKTRACE_BLESS").is_some() {
        std::fs::write(super::root().join("book/screenshots/your-trace.png"), png).expect("write the screenshot");
    }

    // Not a trace: one line, the reader's error, and the replay of before stays.
    browser.eval(&page, &drop_js("notes.txt", "dear diary\n"));
    let shown: Shown = serde_json::from_str(&browser.eval(&page, &shown_js(".st-workbench-result"))).expect("JSON");
    assert!(shown.error.starts_with("notes.txt is not a socktrace trace") && !shown.error.contains('\n'), "{shown:?}");

    // A capture, chosen with the file picker.
    let dir = scratch("yours_capture");
    let pcap = dir.join("echo.pcap");
    let out = trace(&["export", fixture_path("echo.jsonl").to_str().expect("utf-8"), "--pcap", pcap.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let document = browser.call(Some(&page), "DOM.getDocument", json!({}));
    let input = browser.call(Some(&page), "DOM.querySelector", json!({"nodeId": document["root"]["nodeId"], "selector": ".st-file"}));
    browser.call(Some(&page), "DOM.setFileInputFiles", json!({"nodeId": input["nodeId"], "files": [pcap]}));
    browser.eval(
        &page,
        &format!(
            "(async () => {{ {UNTIL} await until(() => document.querySelector('.st-replay[data-fixture=\"echo.pcap\"][data-ready=\"1\"]')); return ''; }})()"
        ),
    );
    let shown: Shown = serde_json::from_str(&browser.eval(&page, &shown_js(".st-workbench-result"))).expect("JSON");
    assert_eq!(shown.fixture.as_deref(), Some("echo.pcap"), "{shown:?}");
    assert!(shown.texts.iter().any(|t| t.contains("SYN")), "its packets: {:?}", shown.texts);
    assert!(shown.verdict.contains("calls unavailable, packets observed, states modelled"), "the check of an imported trace says so: {}", shown.verdict);

    let found = problems_served(&browser.events, &served.addr);
    assert!(found.is_empty(), "in the browser:\n{}", found.join("\n"));
}

#[test]
#[cfg_attr(socktrace_no_chromium, ignore = "needs Chromium: apt-get install -y chromium, then touch build.rs")]
fn the_page_of_trace_replay_html_replays_from_a_file_with_no_network() {
    let binary = chromium();
    let dir = scratch("yours_standalone");
    let html = dir.join("echo.html");
    let out = trace(&["replay", "--html", fixture_path("echo.jsonl").to_str().expect("utf-8"), "-o", html.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let mut browser = Browser::start(&binary, &scratch("chromium_standalone"));
    let page = browser.new_page();
    // No network at all: any request would fail, and is seen.
    let offline = json!({"offline": true, "latency": 0, "downloadThroughput": 0, "uploadThroughput": 0});
    browser.call(Some(&page), "Network.emulateNetworkConditions", offline);
    let url = file_url(&html);
    browser.open(&page, &url);
    let shown: Shown = serde_json::from_str(&browser.eval(&page, &shown_js("main"))).expect("JSON");
    let trace = fixture("echo.jsonl");
    let replay = Replay::of(&trace);
    assert_eq!(shown.ready.as_deref(), Some("1"), "{shown:?}");
    assert_eq!(shown.rows, replay.steps.len());
    assert_eq!(shown.texts, replay.steps.iter().map(|s| s.text.clone()).collect::<Vec<_>>());
    assert!(shown.status.starts_with(&format!("step 1 of {}", replay.steps.len())), "{}", shown.status);
    assert_eq!(shown.verdict, check(&trace, &CheckOptions::default()).to_string());
    let diagram = browser.eval(&page, "String(document.querySelectorAll('.st-replay .st-states svg .st-edge').length)");
    assert_eq!(diagram, "20", "the state diagram is inside too");
    let requests: Vec<&str> = browser
        .events
        .iter()
        .filter(|e| e["method"] == "Network.requestWillBeSent")
        .filter_map(|e| e["params"]["request"]["url"].as_str())
        .filter(|u| *u != url)
        .collect();
    assert!(requests.is_empty(), "the page asked for more than itself: {requests:?}");
    let found = problems(&browser.events);
    assert!(found.is_empty(), "in the browser:\n{}", found.join("\n"));
}

#[test]
#[cfg_attr(socktrace_no_chromium, ignore = "needs Chromium: apt-get install -y chromium, then touch build.rs")]
fn a_live_echo_session_appears_in_its_page_step_by_step() {
    if !live_test_allowed("trace echo --web") {
        return;
    }
    let binary = chromium();
    let dir = scratch("yours_live");
    let saved = dir.join("live.jsonl");
    let mut command = Command::new(trace_bin());
    command.args(["echo", "--web", "--serve", "--connections", "1", "--json", "--save"]).arg(&saved);
    let mut running = Running::spawn(command);
    // Standard error says where the page is; the rest of it is kept for a failure's message.
    let (tx, said) = mpsc::channel();
    let err = running.child.stderr.take().expect("stderr");
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let first = said.recv_timeout(PATIENCE).expect("trace says where its page is");
    let url = first.split("at ").nth(1).and_then(|rest| rest.split(' ').next()).unwrap_or_else(|| panic!("no URL in {first:?}")).to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "loopback only: {url}");

    let mut browser = Browser::start(&binary, &scratch("chromium_live"));
    let page = browser.new_page();
    browser.open(&page, &url);
    // The page is open: the session starts, and the server waits for a client.
    let port = running.server_port();
    let waiting = browser.eval(
        &page,
        &format!(
            "(async () => {{ {UNTIL} const box = document.querySelector('.st-live'); await until(() => box.getAttribute('data-steps')); \
             return JSON.stringify([Number(box.getAttribute('data-steps')), box.getAttribute('data-ended'), \
             document.querySelector('.st-live .st-replay').getAttribute('data-ready')]); }})()"
        ),
    );
    let (before, ended, ready): (usize, Option<String>, Option<String>) = serde_json::from_str(&waiting).expect("JSON");
    assert!(before >= 3 && ended.is_none() && ready.as_deref() == Some("1"), "the listening server's steps, live: {waiting}");

    // Our own client, then the page follows to the end. The watcher polls on its own timer: the
    // end is read once it has seen the end too, else its list may stop short of the last count.
    let watch = browser.call(
        Some(&page),
        "Runtime.evaluate",
        json!({"expression": format!(
            "(async () => {{ {UNTIL} const box = document.querySelector('.st-live'); window.stSeen = []; \
             await until(() => {{ const n = Number(box.getAttribute('data-steps')); \
               if (window.stSeen[window.stSeen.length - 1] !== n) window.stSeen.push(n); return box.getAttribute('data-ended'); }}); \
             window.stWatched = true; return 'watching'; }})()"), "awaitPromise": false}),
    );
    assert!(watch.get("exceptionDetails").is_none(), "{watch}");
    let mut client = TcpStream::connect(("127.0.0.1", port)).expect("connect to the traced server");
    client.write_all(b"hello\n").expect("send");
    let mut echoed = String::new();
    BufReader::new(&client).read_line(&mut echoed).expect("the echo");
    assert_eq!(echoed, "1: hello\n");
    drop(client);
    let end = browser.eval(
        &page,
        &format!(
            "(async () => {{ {UNTIL} const box = document.querySelector('.st-live'); await until(() => box.getAttribute('data-ended')); \
             await until(() => window.stWatched); const w = box.querySelector('.st-replay'); \
             return JSON.stringify({{ seen: window.stSeen, steps: Number(box.getAttribute('data-steps')), \
               status: box.querySelector('.st-live-status').textContent, verdict: document.querySelector('.st-verdict pre').textContent, \
               at: Number(w.getAttribute('data-step')) }}); }})()"
        ),
    );
    #[derive(Deserialize)]
    struct End {
        seen: Vec<usize>,
        steps: usize,
        status: String,
        verdict: String,
        at: usize,
    }
    let end: End = serde_json::from_str(&end).expect("JSON");

    let deadline = Instant::now() + PATIENCE;
    let status = loop {
        if let Some(status) = running.child.try_wait().expect("try_wait") {
            break status;
        }
        assert!(Instant::now() < deadline, "trace echo --web did not end after its connection");
        std::thread::sleep(Duration::from_millis(50));
    };
    let rest: Vec<String> = said.try_iter().collect();
    assert_eq!(status.code(), Some(0), "{}", rest.join("\n"));
    let trace = load(&saved);
    let replay = Replay::of(&trace);
    assert_eq!(end.steps, replay.steps.len(), "at the end the page holds the whole replay");
    assert!(end.seen.len() >= 2 && end.seen.windows(2).all(|w| w[0] < w[1]), "the steps grew as they came: {before} then {:?}", end.seen);
    assert!(before < end.steps);
    assert_eq!(end.at + 1, end.steps, "the page followed the newest step");
    assert!(end.status.contains("has ended"), "{}", end.status);
    assert_eq!(end.verdict, check(&trace, &CheckOptions::default()).to_string(), "and shows the check's verdict");
    let found: Vec<String> = problems(&browser.events).into_iter().filter(|p| !p.starts_with(&format!("a network request: {url}"))).collect();
    assert!(found.is_empty(), "in the browser:\n{}", found.join("\n"));
}

/// The built book opened from `file://` has no server to replay a trace: its "Your trace" page
/// says what it needs in place of the drop zone.
#[test]
#[cfg_attr(socktrace_no_chromium, ignore = "needs Chromium: apt-get install -y chromium, then touch build.rs")]
fn from_a_file_the_your_trace_page_says_it_needs_trace_book_serve() {
    let binary = chromium();
    let mut browser = Browser::start(&binary, &scratch("chromium_yours_offline"));
    let page = browser.new_page();
    browser.open(&page, &file_url(&super::built_book().join("your-trace.html")));
    let shown = browser.eval(
        &page,
        "JSON.stringify([document.querySelector('.st-drop').hidden, document.querySelector('.st-workbench-offline').hidden, \
         document.querySelector('.st-workbench-offline').textContent])",
    );
    let (drop_hidden, note_hidden, note): (bool, bool, String) = serde_json::from_str(&shown).expect("JSON");
    assert!(drop_hidden && !note_hidden, "{shown}");
    assert!(note.contains("needs trace book serve") && note.contains("trace replay --html mine.jsonl"), "{note}");
    let found = problems(&browser.events);
    assert!(found.is_empty(), "in the browser:\n{}", found.join("\n"));
}
