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

/// Chromium's binary: `$CHROMIUM`, or `chromium` on the PATH. The tests that call it are
/// compiled as ignored where the build found no Chromium (build.rs): here it must run.
pub(super) fn chromium() -> String {
    let binary = std::env::var("CHROMIUM").unwrap_or_else(|_| "chromium".to_string());
    let found = std::process::Command::new(&binary).arg("--version").output().is_ok_and(|o| o.status.success());
    assert!(found, "{binary} does not run: apt-get install -y chromium, then touch build.rs");
    binary
}

pub(super) fn file_url(path: &Path) -> String {
    format!("file://{}", path.display())
}

/// Notes where every replay of the page opened and with which filters on, then walks it with
/// every lens on and the whole trace shown, from its first step to the last Next, noting at
/// each step the widget's step, the highlighted ladder row, the documented steps marked ▶ and
/// the detail's first line.
const WALK: &str = r#"JSON.stringify([...document.querySelectorAll('.st-replay')].map((w) => {
  const data = JSON.parse(w.querySelector('script[type="application/json"]').textContent);
  const opened = Number(w.getAttribute('data-step'));
  const lenses = ['calls', 'packets', 'states'].filter((g) => w.querySelector('.st-filter-' + g).checked);
  for (const box of w.querySelectorAll('.st-filters input[type=checkbox]')) {
    if (box.checked === box.classList.contains('st-filter-range')) box.click();
  }
  while (!w.querySelector('.st-back').disabled) w.querySelector('.st-back').click();
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
  return { fixture: w.getAttribute('data-fixture'), ready: w.getAttribute('data-ready'), steps: data.steps.length, seen,
    opened, lenses, start: w.getAttribute('data-start'), chosen: w.getAttribute('data-lenses') };
}))"#;

#[derive(Deserialize)]
struct Widget {
    fixture: String,
    ready: Option<String>,
    steps: usize,
    seen: Vec<Seen>,
    opened: usize,
    lenses: Vec<String>,
    start: Option<String>,
    chosen: Option<String>,
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
    let start = widget.start.as_deref().map_or(1, |s| s.parse::<usize>().expect("data-start is a step number"));
    assert_eq!(widget.opened + 1, start, "{name}: opens at its start= step");
    let chosen = widget.chosen.as_deref().unwrap_or("calls,packets,states");
    assert_eq!(widget.lenses.join(","), chosen, "{name}: opens with its lenses= filters on");
    for (k, seen) in widget.seen.iter().enumerate() {
        let step = &replay.steps[k];
        assert_eq!((seen.step, seen.row), (k, Some(k)), "{name}: step {k} and its ladder row");
        assert_eq!(seen.text, step.text, "{name}: step {k}'s words, as text");
        let expected: Vec<Vec<String>> = step.progress.iter().map(|p| p.at().map(|s| s.to_string()).collect()).collect();
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
pub(super) fn problems(events: &[Value]) -> Vec<String> {
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
  // Every lens on, states first so that the linked step stays shown.
  for (const group of ['states', 'calls']) {
    const box = w.querySelector('.st-filter-' + group);
    if (!box.checked) box.click();
  }
  w.focus();
  w.dispatchEvent(new KeyboardEvent('keydown', { key: 'ArrowRight', bubbles: true }));
  out.after_right = step();
  w.dispatchEvent(new KeyboardEvent('keydown', { key: 'ArrowLeft', bubbles: true }));
  out.after_left = step();
  await pause(300);
  out.same_page = location.pathname === page;
  const first = () => { while (!w.querySelector('.st-back').disabled) w.querySelector('.st-back').click(); };
  for (const group of ['calls', 'packets', 'states']) {
    const box = w.querySelector('.st-filter-' + group);
    if (box.checked !== (group === 'packets')) box.click();
  }
  first();
  const lenses = [data.steps[step()].lens];
  while (!w.querySelector('.st-next').disabled) { w.querySelector('.st-next').click(); lenses.push(data.steps[step()].lens); }
  out.packets_only = lenses;
  out.ladder_rows = w.querySelectorAll('.st-row').length;
  w.querySelector('.st-filter-calls').click();
  w.querySelector('.st-filter-states').click();
  const side = w.querySelector('.st-side-filter');
  side.value = 'client';
  side.dispatchEvent(new Event('change'));
  first();
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
#[cfg_attr(socktrace_no_chromium, ignore = "needs Chromium: apt-get install -y chromium, then touch build.rs")]
fn every_chapter_replays_offline_in_chromium() {
    let binary = chromium();
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

/// Where the handshake chapter's replay opens, with which filters, and where Next and Reset go.
const AIMED: &str = r#"(() => {
  const w = document.getElementById('replay-1');
  const step = () => Number(w.getAttribute('data-step'));
  const out = { opened_at: step() };
  out.filters = ['calls', 'packets', 'states'].filter((g) => w.querySelector('.st-filter-' + g).checked);
  out.ladder_rows = w.querySelectorAll('.st-row').length;
  out.current_row = Number(w.querySelector('.st-row.st-current').getAttribute('data-step'));
  w.querySelector('.st-next').click();
  w.querySelector('.st-next').click();
  out.two_nexts = step();
  w.querySelector('.st-reset').click();
  out.reset_to = step();
  return JSON.stringify(out);
})()"#;

/// The handshake chapter's replay opens at the client's SYN with the packets alone, as its
/// `start=syn lenses=packets` asks, and Reset returns there.
#[test]
#[cfg_attr(socktrace_no_chromium, ignore = "needs Chromium: apt-get install -y chromium, then touch build.rs")]
fn the_handshake_replay_opens_at_the_syn_with_packets_only() {
    let binary = chromium();
    let book = built_book();
    let echo = Replay::of(&fixture("echo.jsonl"));
    let syn = echo.steps.iter().position(|s| s.label == "SYN").expect("a SYN");
    let packets: Vec<usize> = (0..echo.steps.len()).filter(|&i| echo.steps[i].lens == socktrace::replay::Lens::Packet).collect();
    let after = packets.iter().copied().filter(|&i| i > syn).nth(1).expect("two packets after the SYN");
    let mut browser = Browser::start(&binary, &scratch("chromium_profile_aimed"));
    let page = browser.new_page();
    browser.open(&page, &file_url(&book.join("handshake.html")));
    let out: Value = serde_json::from_str(&browser.eval(&page, AIMED)).expect("the JSON");
    assert_eq!(out["opened_at"].as_u64(), Some(syn as u64), "opens at the SYN, step {}: {out}", syn + 1);
    assert_eq!(out["current_row"].as_u64(), Some(syn as u64), "its ladder row lit");
    assert_eq!(out["filters"], serde_json::json!(["packets"]), "only the packets lens on");
    assert_eq!(out["ladder_rows"].as_u64(), Some(packets.len() as u64), "the ladder draws the packets alone");
    assert_eq!(out["two_nexts"].as_u64(), Some(after as u64), "Next goes from packet to packet (the ACK after the SYN|ACK)");
    assert_eq!(out["reset_to"].as_u64(), Some(syn as u64), "Reset returns to the SYN");
    let found = problems(&browser.events);
    assert!(found.is_empty(), "in the browser:\n{}", found.join("\n"));
}

/// What the state diagram of replay `id` shows: the lit arrow, the trail, the boxes marked,
/// the notes, the markers, the caption, and whether its names resolve for a screen reader.
fn diagram_js(id: &str) -> String {
    format!(
        r#"(() => {{
  const w = document.getElementById('{id}');
  const d = w.querySelector('.st-states svg');
  const edges = (cls) => [...d.querySelectorAll('.st-edge.' + cls)].map((g) => [g.getAttribute('data-from'), g.getAttribute('data-to')]);
  const boxes = (cls) => [...d.querySelectorAll('.st-state.' + cls)].map((g) => g.getAttribute('data-box'));
  const named = (attr) => (d.getAttribute(attr) || '').split(' ').filter(Boolean).map((id) => (document.getElementById(id) || {{}}).textContent || '');
  return JSON.stringify({{
    step: Number(w.getAttribute('data-step')),
    lit: edges('st-lit'),
    trail: edges('st-trail'),
    here: boxes('st-here'),
    differs: boxes('st-differs'),
    notes: [...d.querySelectorAll('.st-sd-note')].map((g) => [g.getAttribute('data-state'), g.querySelector('text').textContent, g.querySelector('title').textContent]),
    markers: [...d.querySelectorAll('.st-sd-marker')].map((g) => [g.getAttribute('data-socket'), g.getAttribute('data-state'), g.getAttribute('class')]),
    caption: w.querySelector('.st-states-now').textContent,
    role: d.getAttribute('role'),
    labelled: named('aria-labelledby'),
    described: named('aria-describedby'),
    edges: d.querySelectorAll('.st-edge').length,
    states: new Set([...d.querySelectorAll('.st-state')].map((g) => g.getAttribute('data-state'))).size,
  }});
}})()"#
    )
}

#[derive(Debug, Deserialize)]
struct Diagram {
    step: usize,
    lit: Vec<[String; 2]>,
    trail: Vec<[String; 2]>,
    here: Vec<String>,
    differs: Vec<String>,
    notes: Vec<[String; 3]>,
    markers: Vec<[String; 3]>,
    caption: String,
    role: Option<String>,
    labelled: Vec<String>,
    described: Vec<String>,
    edges: usize,
    states: usize,
}

fn pair(from: &str, to: &str) -> [String; 2] {
    [from.to_string(), to.to_string()]
}

/// The echo trace's third ACK, in the handshake chapter: Linux makes the accepted socket only
/// now and reports it LISTEN → SYN-RECEIVED → ESTABLISHED at once. The diagram lights each
/// arrow in turn, keeps the first as the socket's trail, marks both ends of the connection,
/// and outlines SYN-RECEIVED with the documented difference written beside it.
#[test]
#[cfg_attr(socktrace_no_chromium, ignore = "needs Chromium: apt-get install -y chromium, then touch build.rs")]
fn the_state_diagram_lights_the_accepted_sockets_path_at_the_third_ack() {
    let binary = chromium();
    let book = built_book();
    let echo = Replay::of(&fixture("echo.jsonl"));
    let moves: Vec<usize> = echo.steps.iter().enumerate().filter(|(_, s)| s.moved.as_ref().is_some_and(|m| m.socket.0 == "s2")).map(|(k, _)| k).collect();
    let third_ack = echo.steps.iter().position(|s| s.to.as_ref().is_some_and(|to| to.0 == "s2") && s.label == "ACK").expect("the third ACK");
    assert_eq!(moves[..2], [third_ack + 1, third_ack + 2], "s2's first two moves follow the third ACK");
    let mut browser = Browser::start(&binary, &scratch("chromium_diagram"));
    let page = browser.new_page();
    let url = file_url(&book.join("handshake.html"));
    let at = |browser: &mut Browser, step: usize| -> Diagram {
        browser.open(&page, &format!("{url}?step={}#replay-1", step + 1));
        serde_json::from_str(&browser.eval(&page, &diagram_js("replay-1"))).expect("the diagram's JSON")
    };

    // The third ACK itself is the client's: c1 is ESTABLISHED since the SYN|ACK, s2 has no state yet.
    let ack = at(&mut browser, third_ack);
    assert_eq!((ack.step, ack.edges, ack.states), (third_ack, 20, 11), "every arrow and state of Figure 5: {ack:?}");
    assert_eq!(ack.lit, [pair("SYN-SENT", "ESTABLISHED")], "{ack:?}");
    assert_eq!(ack.here, ["ESTABLISHED"], "{ack:?}");

    let born = at(&mut browser, moves[0]);
    assert_eq!(born.lit, [pair("LISTEN", "SYN-RECEIVED")], "{born:?}");
    assert!(born.here.contains(&"SYN-RECEIVED".to_string()) && born.here.contains(&"ESTABLISHED".to_string()), "both ends: {born:?}");
    assert_eq!(born.differs, ["SYN-RECEIVED"], "{born:?}");

    let established = at(&mut browser, moves[1]);
    assert_eq!(established.lit, [pair("SYN-RECEIVED", "ESTABLISHED")], "{established:?}");
    assert_eq!(established.trail, [pair("LISTEN", "SYN-RECEIVED")], "the path so far stays drawn: {established:?}");
    let markers: Vec<(&str, &str, bool)> =
        established.markers.iter().map(|[socket, state, class]| (socket.as_str(), state.as_str(), class.contains("st-sd-server"))).collect();
    assert_eq!(markers, [("s2", "ESTABLISHED", true), ("c1", "ESTABLISHED", false)], "the step's socket, then its peer, by role");
    assert_eq!(established.differs, ["SYN-RECEIVED"], "the difference stays where it happened: {established:?}");
    let [state, text, title] = &established.notes[0];
    assert_eq!((state.as_str(), text.as_str()), ("SYN-RECEIVED", "≠RFC: child-born-at-third-ack"), "visible, not hover-only");
    assert!(title.contains("child-born-at-third-ack"), "and as a tooltip: {title}");
    for words in ["s2 (accepted) now: SYN-RECEIVED → ESTABLISHED (rcv ACK of SYN / x)", "c1 (client): ESTABLISHED", "child-born-at-third-ack"] {
        assert!(established.caption.contains(words), "the caption says {words:?}: {}", established.caption);
    }
    assert_eq!(established.role.as_deref(), Some("img"));
    assert!(established.labelled.len() == 2 && established.labelled.iter().all(|t| !t.is_empty()), "title and desc name it: {:?}", established.labelled);
    assert_eq!(established.described, std::slice::from_ref(&established.caption), "the caption describes it");

    let found = problems(&browser.events);
    assert!(found.is_empty(), "in the browser:\n{}", found.join("\n"));
}

/// What the ladder of replay `id` draws for its packets: each row's step, classes, line ends
/// and texts, and the lifelines' x.
fn ladder_js(id: &str) -> String {
    format!(
        r#"(() => {{
  const w = document.getElementById('{id}');
  const x = Object.fromEntries([...w.querySelectorAll('.st-lifeline:not(.st-unborn)')].map((l) => [l.getAttribute('data-socket'), Number(l.getAttribute('x1'))]));
  const rows = [...w.querySelectorAll('.st-row.st-lens-packet')].map((g) => {{
    const line = g.querySelector('line');
    return {{
      step: Number(g.getAttribute('data-step')),
      lost: g.classList.contains('st-lost'),
      resent: g.classList.contains('st-resent'),
      x1: Number(line.getAttribute('x1')),
      x2: Number(line.getAttribute('x2')),
      arrowhead: line.hasAttribute('marker-end'),
      texts: [...g.querySelectorAll('text')].map((t) => t.textContent),
    }};
  }});
  return JSON.stringify({{ lifelines: x, rows }});
}})()"#
    )
}

#[derive(Debug, Deserialize)]
struct PacketRow {
    step: usize,
    lost: bool,
    resent: bool,
    x1: f64,
    x2: f64,
    arrowhead: bool,
    texts: Vec<String>,
}

/// The failures chapter says the ladder marks the lost SYN with ✗: its arrow stops short of the
/// server, ends in a ✗ and has no arrowhead; the SYN sent again reaches the server and is
/// marked a retransmission; no other packet is either.
#[test]
#[cfg_attr(socktrace_no_chromium, ignore = "needs Chromium: apt-get install -y chromium, then touch build.rs")]
fn the_lost_syn_is_drawn_lost_and_its_retransmission_marked() {
    let binary = chromium();
    let book = built_book();
    let replay = Replay::of(&fixture("lost-syn.jsonl"));
    let lost: Vec<usize> = replay.steps.iter().enumerate().filter(|(_, s)| s.dropped.is_some()).map(|(k, _)| k).collect();
    let resent: Vec<usize> = replay.steps.iter().enumerate().filter(|(_, s)| s.resent).map(|(k, _)| k).collect();
    assert!(lost.len() == 1 && resent.len() == 1 && lost[0] < resent[0], "{lost:?} {resent:?}");
    let mut browser = Browser::start(&binary, &scratch("chromium_lost"));
    let page = browser.new_page();
    browser.open(&page, &file_url(&book.join("failures.html")));
    let id = browser.eval(&page, "document.querySelector('.st-replay[data-fixture=\"lost-syn.jsonl\"]').id");
    #[derive(Deserialize)]
    struct Ladder {
        lifelines: std::collections::HashMap<String, f64>,
        rows: Vec<PacketRow>,
    }
    let ladder: Ladder = serde_json::from_str(&browser.eval(&page, &ladder_js(&id))).expect("the ladder's JSON");
    let x = |socket: &Option<socktrace::event::SockId>| {
        let id = socket.as_ref().expect("a packet's socket").to_string();
        *ladder.lifelines.get(&id).unwrap_or_else(|| panic!("no lifeline for {id}: {:?}", ladder.lifelines))
    };
    for row in &ladder.rows {
        let step = &replay.steps[row.step];
        let (from, to) = (x(&step.from), x(&step.to));
        assert_eq!((row.lost, row.resent), (lost.contains(&row.step), resent.contains(&row.step)), "step {}: {}", row.step + 1, step.text);
        assert_eq!(row.x1, from, "step {} leaves its sender's lifeline: {row:?}", row.step + 1);
        if row.lost {
            assert!(row.x2 > from && row.x2 < to, "the lost SYN stops short of {}: {row:?}", step.to.as_ref().expect("a receiver"));
            assert!(!row.arrowhead && row.texts.iter().any(|t| t == "✗"), "and ends in a ✗: {row:?}");
        } else {
            assert!(row.arrowhead && row.x2 == to, "step {} reaches its receiver's lifeline: {row:?}", row.step + 1);
        }
        if row.resent {
            assert!(row.x2 == to && to > from && row.texts.iter().any(|t| t == "retransmission"), "{row:?}");
            assert!(row.texts.iter().any(|t| t.starts_with("↻ SYN")), "{row:?}");
        }
    }
    assert!(ladder.rows.iter().any(|r| r.lost) && ladder.rows.iter().any(|r| r.resent), "both drawn");
    let found = problems(&browser.events);
    assert!(found.is_empty(), "in the browser:\n{}", found.join("\n"));
}

/// The book's screenshots can be drawn: two chapters' replays mid-handshake, at the SYN|ACK
/// (step 13 of the echo fixture) and at the third ACK (step 15), and the three concurrent
/// servers of "Three ways to serve many clients" at the same documented step, `accept`
/// returning the second connection; the failures chapter's lost SYN; each a PNG of the
/// replay's box; the state diagram alone at the accepted socket's move to ESTABLISHED; and the
/// three-client replay on a 360 px phone. With `SOCKTRACE_BLESS=1` they replace
/// `book/screenshots/`.
#[test]
#[cfg_attr(socktrace_no_chromium, ignore = "needs Chromium: apt-get install -y chromium, then touch build.rs")]
fn screenshots() {
    let binary = chromium();
    let book = built_book();
    let mut browser = Browser::start(&binary, &scratch("chromium_screenshots"));
    let page = browser.new_page();
    let viewport = serde_json::json!({"width": 1100, "height": 2400, "deviceScaleFactor": 1, "mobile": false});
    browser.call(Some(&page), "Emulation.setDeviceMetricsOverride", viewport);
    let mut shots: Vec<(String, String, usize, String)> =
        [("handshake", 13), ("passive-open", 15)].iter().map(|&(c, step)| (c.to_string(), "echo.jsonl".to_string(), step, c.to_string())).collect();
    for style in ["serve-fork", "serve-threads", "serve-epoll"] {
        let fixture_name = format!("{style}.jsonl");
        let trace = fixture(&fixture_name);
        let second_accept = trace.events.iter().position(|e| e.new_socket().is_some_and(|s| s.0 == "s3")).expect("accept returns s3");
        let replay = Replay::of(&trace);
        let step = step_of(&replay, second_accept);
        assert!(replay.steps[step].progress[0].is_at("accept"), "{style}: step {} shows the documented accept", step + 1);
        shots.push(("serving-many".to_string(), fixture_name, step + 1, style.to_string()));
    }
    let lost_syn = Replay::of(&fixture("lost-syn.jsonl"));
    let lost = lost_syn.steps.iter().position(|s| s.dropped.is_some()).expect("the lost SYN");
    shots.push(("failures".to_string(), "lost-syn.jsonl".to_string(), lost + 1, "lost-syn".to_string()));
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

    // The state diagram alone, at the accepted socket's SYN-RECEIVED → ESTABLISHED.
    let echo = Replay::of(&fixture("echo.jsonl"));
    let step = echo.steps.iter().position(|s| s.moved.as_ref().is_some_and(|m| m.socket.0 == "s2" && m.to == socktrace::tcp::state::State::Established));
    let step = step.expect("s2 reaches ESTABLISHED") + 1;
    browser.open(&page, &format!("{}?step={step}#replay-1", file_url(&book.join("handshake.html"))));
    let rect = browser.eval(
        &page,
        "(() => { const f = document.querySelector('#replay-1 .st-states'); f.scrollIntoView({ block: 'start' }); \
         const r = f.getBoundingClientRect(); return JSON.stringify([r.x + scrollX, r.y + scrollY, r.width, r.height]); })()",
    );
    let [x, y, width, height]: [f64; 4] = serde_json::from_str(&rect).expect("the diagram's box");
    let clip = serde_json::json!({"x": x - 8.0, "y": y - 8.0, "width": width + 16.0, "height": height + 16.0, "scale": 1});
    let shot = browser.call(Some(&page), "Page.captureScreenshot", serde_json::json!({"format": "png", "captureBeyondViewport": false, "clip": clip}));
    let png = base64(shot["data"].as_str().expect("the image"));
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 10_000, "no picture of the state diagram ({} bytes)", png.len());
    if std::env::var_os("SOCKTRACE_BLESS").is_some() {
        std::fs::write(super::root().join("book/screenshots/states-third-ack.png"), png).expect("write the screenshot");
    }

    // A phone's width (360 px): the three-client replay at c3's handshake ACK, one lifeline per
    // socket, the sequences under the ladder.
    let clients3 = Replay::of(&fixture("clients3.jsonl"));
    let step = clients3.steps.iter().position(|s| s.label == "ACK" && s.from.as_ref().is_some_and(|f| f.to_string() == "c3")).expect("c3's ACK") + 1;
    let narrow = serde_json::json!({"width": 360, "height": 1600, "deviceScaleFactor": 1, "mobile": true});
    browser.call(Some(&page), "Emulation.setDeviceMetricsOverride", narrow);
    browser.open(&page, &format!("{}?step={step}#replay-1", file_url(&book.join("many-clients.html"))));
    let rect = browser.eval(
        &page,
        "(() => { const w = document.getElementById('replay-1'); w.scrollIntoView({ block: 'start' }); \
         const r = w.querySelector('.st-ladder').getBoundingClientRect(); const t = w.getBoundingClientRect(); \
         return JSON.stringify([t.x + scrollX, t.y + scrollY, t.width, r.bottom - t.top]); })()",
    );
    let [x, y, width, height]: [f64; 4] = serde_json::from_str(&rect).expect("the replay's box");
    assert!(width <= 360.0 && height > 300.0, "the replay fits the phone, its ladder drawn: {width}×{height}");
    let clip = serde_json::json!({"x": x - 4.0, "y": y - 4.0, "width": width + 8.0, "height": height + 8.0, "scale": 1});
    let shot = browser.call(Some(&page), "Page.captureScreenshot", serde_json::json!({"format": "png", "captureBeyondViewport": false, "clip": clip}));
    let png = base64(shot["data"].as_str().expect("the image"));
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 10_000, "no picture of the narrow replay ({} bytes)", png.len());
    if std::env::var_os("SOCKTRACE_BLESS").is_some() {
        std::fs::write(super::root().join("book/screenshots/narrow-360.png"), png).expect("write the screenshot");
    }
}

/// Decodes standard base64 (the DevTools protocol's encoding of binary data).
pub(super) fn base64(text: &str) -> Vec<u8> {
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
