//! The book for every reader, in Debian's Chromium: the predict mode asks before it shows and
//! says right or wrong; the questions a replay computes hold on its trace; the ladder is
//! visible and nothing in it overlaps at 360, 700 and 1400 px, with relative seq/ack on its
//! arrows and the raw ones on hover and focus; Tab reaches its rows and the arrow keys step,
//! each step announced in words; a step's note opens without hover; a printed replay is its
//! whole ladder; the book's search works offline; and axe-core finds no serious or critical
//! violation on any chapter. Built without Chromium or axe-core, the tests are ignored (saying
//! what to install); under `CI=true` they fail instead (build.rs).

use std::path::PathBuf;

use serde::Deserialize;
use serde_json::{json, Value};
use socktrace::replay::{Lens, Replay, Step};

use super::browser::{chromium, file_url, problems};
use super::cdp::Browser;
use super::{built_book, fixture, root};
use crate::support::scratch;

/// axe-core's script, which `.ci/run` installs with npm into `target/npm` (or `$AXE_CORE`).
/// Its test is compiled as ignored where the build found no copy (build.rs): here it must be.
fn axe_core() -> String {
    let path = std::env::var_os("AXE_CORE").map_or_else(|| root().join("target/npm/node_modules/axe-core/axe.min.js"), PathBuf::from);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("axe-core is not at {} ({e}): npm install --prefix target/npm axe-core@4, then touch build.rs", path.display()))
}

fn field<'a>(step: &'a Step, name: &str) -> &'a str {
    step.detail.iter().find(|(key, _)| *key == name).map_or_else(|| panic!("no {name} in {:?}", step.detail), |(_, value)| value)
}

fn key(browser: &mut Browser, page: &str, key: &str, code: u32) {
    for kind in ["rawKeyDown", "keyUp"] {
        let event = json!({"type": kind, "key": key, "code": key, "windowsVirtualKeyCode": code, "nativeVirtualKeyCode": code});
        browser.call(Some(page), "Input.dispatchKeyEvent", event);
    }
}

fn viewport(browser: &mut Browser, page: &str, width: u32) {
    let metrics = json!({"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": width < 500});
    browser.call(Some(page), "Emulation.setDeviceMetricsOverride", metrics);
}

/// The handshake chapter's replay opens at the SYN with the packets alone; in the predict
/// mode, Next asks which step comes next (the SYN|ACK) with the steps after it hidden, a wrong
/// pick is told the answer and why, a right one is told so, and both count in the score.
#[test]
#[cfg_attr(socktrace_no_chromium, ignore = "needs Chromium: apt-get install -y chromium, then touch build.rs")]
fn the_predict_mode_asks_before_it_shows_and_says_right_or_wrong() {
    let binary = chromium();
    let book = built_book();
    let echo = Replay::of(&fixture("echo.jsonl"));
    let packets: Vec<usize> = (0..echo.steps.len()).filter(|&i| echo.steps[i].lens == Lens::Packet).collect();
    let syn = echo.steps.iter().position(|s| s.label == "SYN").expect("a SYN");
    let [syn_ack, ack] = [1, 2].map(|k| packets[packets.iter().position(|&i| i == syn).expect("the SYN is a packet") + k]);
    let brief = |s: &Step| format!("{} → {} {}", s.from.as_ref().expect("a sender").0, s.to.as_ref().expect("a receiver").0, s.label);
    let mut browser = Browser::start(&binary, &scratch("chromium_predict"));
    let page = browser.new_page();
    browser.open(&page, &file_url(&book.join("handshake.html")));
    let ask = |pick: &str| {
        format!(
            r#"(() => {{
  const w = document.getElementById('replay-1');
  if (!w.querySelector('.st-predict').checked) w.querySelector('.st-predict').click();
  const before = Number(w.getAttribute('data-step'));
  w.querySelector('.st-next').click();
  const guess = w.querySelector('.st-guess');
  const out = {{ before, asked_at: Number(w.getAttribute('data-step')), open: !guess.hidden,
    choices: [...guess.querySelectorAll('.st-quiz-choice')].map((b) => [b.textContent, b.getAttribute('data-right') === '1']),
    hidden_rows: [...w.querySelectorAll('.st-row.st-future')].map((g) => Number(g.getAttribute('data-step'))),
    next_disabled: w.querySelector('.st-next').disabled }};
  guess.querySelector('.st-quiz-choice[data-right="{pick}"]').click();
  out.after = Number(w.getAttribute('data-step'));
  out.verdict = guess.querySelector('.st-quiz-verdict').textContent;
  out.why = guess.querySelector('.st-quiz-why').hidden ? '' : guess.querySelector('.st-quiz-why').textContent;
  out.score = document.querySelector('.st-quiz-score').textContent;
  return JSON.stringify(out);
}})()"#
        )
    };
    #[derive(Debug, Deserialize)]
    struct Asked {
        before: usize,
        asked_at: usize,
        open: bool,
        choices: Vec<(String, bool)>,
        hidden_rows: Vec<usize>,
        next_disabled: bool,
        after: usize,
        verdict: String,
        why: String,
        score: String,
    }
    let wrong: Asked = serde_json::from_str(&browser.eval(&page, &ask("0"))).expect("the JSON");
    assert_eq!((wrong.before, wrong.asked_at), (syn, syn), "asking does not move on: {wrong:?}");
    assert!(wrong.open && wrong.next_disabled && wrong.choices.len() >= 3, "a few choices, Next waits: {wrong:?}");
    let right: Vec<&String> = wrong.choices.iter().filter(|(_, r)| *r).map(|(t, _)| t).collect();
    assert_eq!(right, [&brief(&echo.steps[syn_ack])], "the right choice is the SYN|ACK: {wrong:?}");
    let later: Vec<usize> = packets.iter().copied().filter(|&i| i > syn).collect();
    assert_eq!(wrong.hidden_rows, later, "every later row hidden while asking");
    assert_eq!(wrong.after, syn_ack, "the answer shows the step");
    assert!(wrong.verdict.starts_with("Not quite") && wrong.verdict.contains(right[0].as_str()), "{wrong:?}");
    assert!(wrong.why.contains(&echo.steps[syn_ack].text), "the explanation says what happened: {wrong:?}");
    assert_eq!(wrong.score, "Your score on this page: 0 of 1 answered right.");

    let good: Asked = serde_json::from_str(&browser.eval(&page, &ask("1"))).expect("the JSON");
    assert_eq!((good.before, good.after), (syn_ack, ack), "{good:?}");
    assert!(good.choices.iter().any(|(t, r)| *r && *t == brief(&echo.steps[ack])), "{good:?}");
    assert_eq!(good.verdict, "Right.");
    assert_eq!(good.score, "Your score on this page: 1 of 2 answered right.");
    let found = problems(&browser.events);
    assert!(found.is_empty(), "in the browser:\n{}", found.join("\n"));
}

/// The questions the echo replay computes from its own numbers: the SYN|ACK's ack is the
/// client's ISN plus one, the server was in `accept` at the third ACK, the first data's ack is
/// its seq plus its length, and the client closes first and waits in TIME-WAIT; a chapter's question with choices is scored, and its "show
/// step" button takes its replay to the step it is about.
#[test]
#[cfg_attr(socktrace_no_chromium, ignore = "needs Chromium: apt-get install -y chromium, then touch build.rs")]
fn the_questions_from_a_traces_numbers_hold_on_it() {
    let binary = chromium();
    let book = built_book();
    let echo = Replay::of(&fixture("echo.jsonl"));
    let syn = echo.steps.iter().find(|s| s.label == "SYN").expect("a SYN");
    let syn_ack = echo.steps.iter().position(|s| s.label == "SYN|ACK").expect("a SYN|ACK");
    let isn: u64 = field(syn, "seq (raw)").parse().expect("a number");
    assert_eq!(field(&echo.steps[syn_ack], "ack (raw)"), ((isn + 1) % (1 << 32)).to_string(), "the fixture's own numbers");
    let mut browser = Browser::start(&binary, &scratch("chromium_questions"));
    let page = browser.new_page();
    browser.open(&page, &file_url(&book.join("handshake.html")));
    let out = browser.eval(
        &page,
        r#"(() => {
  const w = document.getElementById('replay-1');
  const asked = [...w.querySelectorAll('.st-questions .st-question')].map((q) => ({
    step: Number(q.getAttribute('data-step')),
    question: q.querySelector('.st-quiz-question').textContent,
    right: [...q.querySelectorAll('.st-quiz-choice[data-right="1"]')].map((b) => b.textContent),
  }));
  const quiz = document.querySelector('.st-quiz[data-fixture="echo.jsonl"]');
  quiz.querySelector('.st-quiz-choice[data-right="1"]').click();
  const verdict = quiz.querySelector('.st-quiz-verdict').textContent;
  w.querySelector('.st-reset').click();
  quiz.querySelector('.st-quiz-go').click();
  return JSON.stringify({ asked, verdict, tied: Number(quiz.getAttribute('data-step')), shown: Number(w.getAttribute('data-step')) });
})()"#,
    );
    let out: Value = serde_json::from_str(&out).expect("the JSON");
    let asked = out["asked"].as_array().expect("questions");
    assert_eq!(asked.len(), 4, "{out}");
    assert_eq!(asked[0]["step"], syn_ack, "{out}");
    assert_eq!(asked[0]["right"], json!([((isn + 1) % (1 << 32)).to_string()]), "ISN + 1: {out}");
    assert_eq!(asked[1]["right"], json!(["accept(s1)"]), "{out}");
    let data = &echo.steps[asked[2]["step"].as_u64().expect("a step") as usize];
    assert_eq!(data.text, "c1 → s2 PSH|ACK seq 1 ack 1 win 65536 len 6 \"hello\\n\"", "the first data: {out}");
    assert_eq!(asked[2]["right"], json!(["7"]), "seq 1 + 6 bytes: {out}");
    assert_eq!(asked[3]["right"], json!(["the client (c1) closes first; c1 passes through TIME-WAIT"]), "{out}");
    assert_eq!(out["verdict"], "Right.");
    assert_eq!((out["tied"].as_u64(), out["shown"].as_u64()), (Some(syn_ack as u64), Some(syn_ack as u64)), "the question's step shown: {out}");
    let found = problems(&browser.events);
    assert!(found.is_empty(), "in the browser:\n{}", found.join("\n"));
}

/// What the three-client replay's ladder draws at the viewport's width: its box, the
/// lifelines, every text shown (box and words), the rows' boxes, and whether the page scrolls
/// sideways.
const LADDER_BOXES: &str = r#"(() => {
  const w = document.getElementById('replay-1');
  const ladder = w.querySelector('.st-ladder');
  const box = (r) => [r.left, r.top, r.right, r.bottom];
  const svg = ladder.querySelector('.st-ladder-svg');
  const texts = [...svg.querySelectorAll('.st-row text')].filter((t) => getComputedStyle(t).display !== 'none')
    .map((t) => ({ row: Number(t.closest('.st-row').getAttribute('data-step')), text: t.textContent, box: box(t.getBoundingClientRect()) }));
  return JSON.stringify({
    ladder: box(ladder.getBoundingClientRect()),
    aside: box(w.querySelector('.st-aside').getBoundingClientRect()),
    svg: box(svg.getBoundingClientRect()),
    lifelines: [...svg.querySelectorAll('.st-lifeline:not(.st-unborn)')].map((l) => [l.getAttribute('data-socket'), Number(l.getAttribute('x1'))]),
    names: [...ladder.querySelectorAll('.st-lanes text')].map((t) => t.textContent),
    name_boxes: [...ladder.querySelectorAll('.st-lanes text')].map((t) => box(t.getBoundingClientRect())),
    rows: [...svg.querySelectorAll('.st-row .st-bg')].map((r) => box(r.getBoundingClientRect())),
    texts,
    page_overflow: document.documentElement.scrollWidth - innerWidth,
  });
})()"#;

#[derive(Debug, Deserialize)]
struct Shown {
    row: usize,
    text: String,
    #[serde(rename = "box")]
    bounds: [f64; 4],
}

#[derive(Debug, Deserialize)]
struct LadderBoxes {
    ladder: [f64; 4],
    aside: [f64; 4],
    svg: [f64; 4],
    lifelines: Vec<(String, f64)>,
    names: Vec<String>,
    name_boxes: Vec<[f64; 4]>,
    rows: Vec<[f64; 4]>,
    texts: Vec<Shown>,
    page_overflow: f64,
}

fn overlap(a: &[f64; 4], b: &[f64; 4]) -> bool {
    // Half a pixel of slack for rounding.
    a[0] < b[2] - 0.5 && b[0] < a[2] - 0.5 && a[1] < b[3] - 0.5 && b[1] < a[3] - 0.5
}

/// At 360, 700 and 1400 px the three-client ladder is visible, gives c1, c2 and c3 a lifeline
/// each, keeps every word inside it and no two words, names, rows or boxes on top of one
/// another, and the page does not scroll sideways; so does the peer-to-peer ladder, whose
/// lifelines are named with their program too. The SYN|ACK arrows carry relative seq/ack, and the
/// raw ones while hovered or focused.
#[test]
#[cfg_attr(socktrace_no_chromium, ignore = "needs Chromium: apt-get install -y chromium, then touch build.rs")]
fn the_ladder_is_visible_and_nothing_overlaps_at_360_700_and_1400_px() {
    let binary = chromium();
    let book = built_book();
    let clients3 = Replay::of(&fixture("clients3.jsonl"));
    let mut browser = Browser::start(&binary, &scratch("chromium_widths"));
    let page = browser.new_page();
    let p2p = Replay::of(&fixture("p2p.jsonl"));
    for (chapter, replay) in [("many-clients.html", &clients3), ("peer-to-peer.html", &p2p)] {
        for width in [360, 700, 1400] {
            viewport(&mut browser, &page, width);
            browser.open(&page, &file_url(&book.join(chapter)));
            let seen: LadderBoxes = serde_json::from_str(&browser.eval(&page, LADDER_BOXES)).expect("the JSON");
            let at = format!("{chapter} at {width} px");
            let [left, top, right, bottom] = seen.ladder;
            assert!(bottom - top >= 200.0 && right - left >= 280.0, "{at}: the ladder is {}×{} px", right - left, bottom - top);
            assert!(seen.page_overflow <= 0.0, "{at}: the page scrolls sideways by {} px", seen.page_overflow);
            assert!(!overlap(&seen.ladder, &seen.aside), "{at}: the ladder and the sequences overlap: {:?} {:?}", seen.ladder, seen.aside);
            let lanes: Vec<&str> = seen.lifelines.iter().map(|(s, _)| s.as_str()).collect();
            if chapter == "many-clients.html" {
                assert_eq!(lanes, ["c1", "c2", "c3", "s1", "s2", "s3", "s4"], "{at}: a lifeline per socket, each connection its own");
                assert_eq!(seen.names, lanes, "{at}: named");
            }
            assert!(seen.lifelines.windows(2).all(|w| w[0].1 + 10.0 <= w[1].1), "{at}: lifelines apart: {:?}", seen.lifelines);
            for (k, a) in seen.name_boxes.iter().enumerate() {
                assert!(seen.name_boxes[k + 1..].iter().all(|b| !overlap(a, b)), "{at}: names apart: {:?} {:?}", seen.names, seen.name_boxes);
            }
            assert_eq!(seen.rows.len(), replay.steps.len(), "{at}");
            assert!(seen.rows.windows(2).all(|w| w[0][3] <= w[1][1] + 0.5), "{at}: rows one under the other");
            for (k, a) in seen.texts.iter().enumerate() {
                let [x0, _, x1, _] = a.bounds;
                assert!(x0 >= seen.svg[0] - 0.5 && x1 <= seen.svg[2] + 0.5, "{at}: {a:?} leaves the ladder {:?}", seen.svg);
                assert!(a.bounds[2] > a.bounds[0], "{at}: {a:?} is drawn");
                for b in &seen.texts[k + 1..] {
                    assert!(!overlap(&a.bounds, &b.bounds), "{at}: {a:?} overlaps {b:?}");
                }
            }
            let worded: std::collections::BTreeSet<usize> = seen.texts.iter().filter(|t| !t.text.trim().is_empty()).map(|t| t.row).collect();
            assert_eq!(worded.len(), replay.steps.len(), "{at}: every row has words");
        }
    }

    // The first SYN|ACK of the three clients: relative numbers drawn; the raw ones on hover,
    // and on focus.
    browser.open(&page, &file_url(&book.join("many-clients.html")));
    let k = clients3.steps.iter().position(|s| s.label == "SYN|ACK").expect("a SYN|ACK");
    let raw = format!("seq {} ack {}", field(&clients3.steps[k], "seq (raw)"), field(&clients3.steps[k], "ack (raw)"));
    let shown = |browser: &mut Browser| -> String {
        browser.eval(&page, &format!("[...document.querySelectorAll('#replay-1 .st-row[data-step=\"{k}\"] text')].filter((t) => getComputedStyle(t).display !== 'none').map((t) => t.textContent).join(' | ')"))
    };
    let plain = shown(&mut browser);
    assert!(plain.contains("SYN|ACK seq 0 ack 1"), "relative: {plain}");
    let centre = browser.eval(
        &page,
        &format!("(() => {{ const r = document.querySelector('#replay-1 .st-row[data-step=\"{k}\"] .st-bg'); r.scrollIntoView({{ block: 'center' }}); const b = r.getBoundingClientRect(); return JSON.stringify([b.left + b.width / 2, b.top + b.height / 2]); }})()"),
    );
    let [x, y]: [f64; 2] = serde_json::from_str(&centre).expect("a point");
    // The browser takes a moved pointer's hover into its styles on a later frame, which a
    // loaded machine delays: look again for up to 2 s.
    let shown_soon = |browser: &mut Browser| -> String {
        let mut text = shown(browser);
        for _ in 0..100 {
            if text.contains(&raw) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
            text = shown(browser);
        }
        text
    };
    browser.call(Some(&page), "Input.dispatchMouseEvent", json!({"type": "mouseMoved", "x": x, "y": y}));
    let hovered = shown_soon(&mut browser);
    assert!(hovered.contains(&raw), "raw on hover: {hovered} (wanted {raw})");
    browser.call(Some(&page), "Input.dispatchMouseEvent", json!({"type": "mouseMoved", "x": 1, "y": 1}));
    browser.eval(&page, &format!("document.querySelector('#replay-1 .st-row[data-step=\"{k}\"]').focus(), ''"));
    let focused = shown_soon(&mut browser);
    assert!(focused.contains(&raw), "raw on focus: {focused} (wanted {raw})");
    let found = problems(&browser.events);
    assert!(found.is_empty(), "in the browser:\n{}", found.join("\n"));
}

/// Tab from the replay's controls reaches the ladder's current row (the one row in the tab
/// order, its focus drawn); ↓ and → go to the next step, ↑ back, the focus following; each
/// arrival is announced in words, not as a step number; and a documented step's note opens
/// with its button, no hover needed.
#[test]
#[cfg_attr(socktrace_no_chromium, ignore = "needs Chromium: apt-get install -y chromium, then touch build.rs")]
fn the_keyboard_reaches_the_rows_and_steps_and_every_step_is_announced() {
    let binary = chromium();
    let book = built_book();
    let echo = Replay::of(&fixture("echo.jsonl"));
    let packets: Vec<usize> = (0..echo.steps.len()).filter(|&i| echo.steps[i].lens == Lens::Packet).collect();
    let mut browser = Browser::start(&binary, &scratch("chromium_keys"));
    let page = browser.new_page();
    viewport(&mut browser, &page, 1100);
    browser.open(&page, &file_url(&book.join("handshake.html")));
    let state = r#"JSON.stringify((() => {
  const w = document.getElementById('replay-1');
  const a = document.activeElement;
  const bg = a && a.querySelector ? a.querySelector('.st-bg') : null;
  return { step: Number(w.getAttribute('data-step')), row: a && a.classList.contains('st-row') ? Number(a.getAttribute('data-step')) : null,
    tabbable: [...w.querySelectorAll('.st-row[tabindex="0"]')].length, drawn: bg ? getComputedStyle(bg).strokeWidth : '',
    said: w.querySelector('.st-announce').textContent, live: w.querySelector('.st-announce').getAttribute('aria-live') };
})())"#;
    #[derive(Debug, Deserialize)]
    struct State {
        step: usize,
        row: Option<usize>,
        tabbable: usize,
        drawn: String,
        said: String,
        live: Option<String>,
    }
    let now = |browser: &mut Browser| -> State { serde_json::from_str(&browser.eval(&page, state)).expect("the JSON") };
    browser.eval(&page, "document.querySelector('#replay-1 .st-reset').focus(), ''");
    let mut presses = 0;
    while now(&mut browser).row.is_none() {
        presses += 1;
        assert!(presses <= 20, "Tab never reached a ladder row");
        key(&mut browser, &page, "Tab", 9);
    }
    let first = now(&mut browser);
    assert_eq!((first.row, first.tabbable), (Some(first.step), 1), "the current row, the only one in the tab order: {first:?}");
    assert_eq!(first.drawn, "2px", "its focus is drawn");
    let at = packets.iter().position(|&i| i == first.step).expect("a packet row");
    key(&mut browser, &page, "ArrowDown", 40);
    let down = now(&mut browser);
    assert_eq!((down.step, down.row), (packets[at + 1], Some(packets[at + 1])), "↓ steps, the focus follows: {down:?}");
    key(&mut browser, &page, "ArrowRight", 39);
    let right = now(&mut browser);
    assert_eq!((right.step, right.row), (packets[at + 2], Some(packets[at + 2])), "→ steps: {right:?}");
    key(&mut browser, &page, "ArrowUp", 38);
    let up = now(&mut browser);
    assert_eq!(up.step, packets[at + 1], "↑ steps back");
    assert_eq!(up.live.as_deref(), Some("polite"));
    assert!(up.said.starts_with(&echo.steps[up.step].text), "what happened, in words: {:?}", up.said);
    assert!(!up.said.contains(" of "), "not a step count: {:?}", up.said);

    // A documented step's note opens with its button; no text of the widget is a tooltip alone.
    let note = browser.eval(
        &page,
        r#"(() => { const li = document.querySelector('#replay-1 li[data-step-id="listen"]'); li.querySelector('.st-step-more').click();
  const n = li.querySelector('.st-step-note'); const titled = document.querySelectorAll('#replay-1 [title]').length;
  return JSON.stringify([n.hidden ? '' : n.textContent, n.getBoundingClientRect().height > 0, titled]); })()"#,
    );
    let (text, seen, titled): (String, bool, usize) = serde_json::from_str(&note).expect("the JSON");
    let listen = echo.sequences[0].steps.iter().find(|s| s.id == "listen").expect("listen");
    assert_eq!((text.as_str(), seen, titled), (listen.note, true, 0), "the note shown, and no title-only text");
    let found = problems(&browser.events);
    assert!(found.is_empty(), "in the browser:\n{}", found.join("\n"));
}

/// Printed, the handshake chapter's replay (which opens with the packets alone) is its whole
/// ladder, every step of every lens, with no controls.
#[test]
#[cfg_attr(socktrace_no_chromium, ignore = "needs Chromium: apt-get install -y chromium, then touch build.rs")]
fn a_printed_replay_is_its_whole_ladder() {
    let binary = chromium();
    let book = built_book();
    let echo = Replay::of(&fixture("echo.jsonl"));
    let mut browser = Browser::start(&binary, &scratch("chromium_print"));
    let page = browser.new_page();
    browser.open(&page, &file_url(&book.join("handshake.html")));
    browser.call(Some(&page), "Emulation.setEmulatedMedia", json!({"media": "print"}));
    let out = browser.eval(
        &page,
        r#"new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(() => {
  const w = document.getElementById('replay-1');
  const shown = (sel) => [...w.querySelectorAll(sel)].some((e) => getComputedStyle(e).display !== 'none');
  const ladder = w.querySelector('.st-ladder');
  done(JSON.stringify({ rows: w.querySelectorAll('.st-row').length, controls: shown('.st-controls') || shown('.st-filters'),
    clipped: ladder.scrollHeight > ladder.clientHeight + 1 }));
})))"#,
    );
    let out: Value = serde_json::from_str(&out).expect("the JSON");
    assert_eq!(out["rows"].as_u64(), Some(echo.steps.len() as u64), "every step: {out}");
    assert_eq!((out["controls"].as_bool(), out["clipped"].as_bool()), (Some(false), Some(false)), "no controls, no scrolled box: {out}");
    let found = problems(&browser.events);
    assert!(found.is_empty(), "in the browser:\n{}", found.join("\n"));
}

/// axe-core, injected into every page of the book (each chapter with its replays mounted and
/// its questions ready), reports no serious or critical violation. It does not preload the
/// style sheets (from `file://` its requests for them fail); it reads the styles applied.
#[test]
#[cfg_attr(socktrace_no_axe, ignore = "needs axe-core: npm install --prefix target/npm axe-core@4, then touch build.rs")]
#[cfg_attr(socktrace_no_chromium, ignore = "needs Chromium: apt-get install -y chromium, then touch build.rs")]
fn no_chapter_has_a_serious_or_critical_accessibility_violation() {
    let binary = chromium();
    let axe = axe_core();
    let book = built_book();
    let summary = std::fs::read_to_string(root().join("lessons/SUMMARY.md")).expect("SUMMARY.md");
    let pages: Vec<String> = summary.split("](").skip(1).filter_map(|rest| rest.split(')').next()).map(|md| md.replace(".md", ".html")).collect();
    assert!(pages.len() >= 20, "{pages:?}");
    let mut browser = Browser::start(&binary, &scratch("chromium_axe"));
    let page = browser.new_page();
    let mut found = Vec::new();
    for name in &pages {
        browser.open(&page, &file_url(&book.join(name)));
        browser.eval(&page, &format!("{axe};'loaded'"));
        let violations = browser.eval(
            &page,
            "axe.run(document, { resultTypes: ['violations'], preload: false }).then((r) => JSON.stringify(r.violations\
             .filter((v) => v.impact === 'serious' || v.impact === 'critical')\
             .map((v) => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`)))",
        );
        let violations: Vec<String> = serde_json::from_str(&violations).expect("the JSON");
        found.extend(violations.into_iter().map(|v| format!("{name}: {v}")));
    }
    assert!(found.is_empty(), "axe-core:\n{}", found.join("\n"));
    let problems = problems(&browser.events);
    assert!(problems.is_empty(), "in the browser:\n{}", problems.join("\n"));
}

/// mdBook's search is on and works from `file://`: its index is a script of the book, and
/// searching a chapter's words finds the chapter.
#[test]
#[cfg_attr(socktrace_no_chromium, ignore = "needs Chromium: apt-get install -y chromium, then touch build.rs")]
fn the_book_is_searchable_offline() {
    let binary = chromium();
    let book = built_book();
    let index = std::fs::read_dir(book).expect("the book").filter_map(Result::ok).map(|e| e.file_name().to_string_lossy().into_owned());
    assert!(index.into_iter().any(|name| name.starts_with("searchindex") && name.ends_with(".js")), "no search index in {}", book.display());
    let mut browser = Browser::start(&binary, &scratch("chromium_search"));
    let page = browser.new_page();
    browser.open(&page, &file_url(&book.join("handshake.html")));
    let found = browser.eval(
        &page,
        r#"new Promise((done) => {
  document.getElementById('mdbook-search-toggle').click();
  const bar = document.getElementById('mdbook-searchbar');
  const look = (tries) => {
    const hits = [...document.querySelectorAll('#mdbook-searchresults li a')].map((a) => a.getAttribute('href'));
    if (hits.length || !tries) return done(JSON.stringify(hits));
    bar.value = 'TIME-WAIT';
    bar.dispatchEvent(new KeyboardEvent('keyup', { key: 'T' }));
    setTimeout(() => look(tries - 1), 200);
  };
  look(25);
})"#,
    );
    let hits: Vec<String> = serde_json::from_str(&found).expect("the JSON");
    assert!(hits.iter().any(|h| h.starts_with("closing.html")), "searching TIME-WAIT finds the closing chapter: {hits:?}");
    let problems = problems(&browser.events);
    assert!(problems.is_empty(), "in the browser:\n{}", problems.join("\n"));
}
