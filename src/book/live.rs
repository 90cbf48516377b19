//! A live session in the browser (`trace echo --web`, `trace run --web`): a loopback HTTP
//! server whose page ([`super::page::live`]) follows the session as server-sent events.
//!
//! The session's events reach it through a [`Renderer`] that also draws the terminal's
//! timeline; a thread of its own computes the replay ([`Replay::of`], as `trace replay` and
//! the book do) of everything so far, at most every [`PACE`] (longer when a replay takes long
//! to compute), and each viewer is sent the newest. A step's words depend on what follows it,
//! so each message is the whole replay so far, and a slow viewer skips to the newest: what
//! waits for a viewer is one message, never a queue. At most [`MAX_VIEWERS`] at once.

use std::io::{self, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::http::{read_request, respond, respond_text};
use crate::check::{check, CheckOptions};
use crate::event::Event;
use crate::render::Renderer;
use crate::replay::Replay;
use crate::trace::{End, Header, Trace};

/// The shortest time between two replays sent.
const PACE: Duration = Duration::from_millis(150);
/// Viewers at once; more are told to close a page.
const MAX_VIEWERS: usize = 8;
/// Events the page follows; past them it stops growing and says so at the end (the saved
/// trace, or the terminal, has them all).
const MAX_EVENTS: usize = 100_000;
/// How long a session waits for its page to be opened before it starts without it.
const WAIT_FOR_VIEWER: Duration = Duration::from_secs(300);
/// How long the end may take to reach the viewers before `trace` exits.
const FAREWELL: Duration = Duration::from_secs(3);
/// A viewer that takes a message no faster than this is let go.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// How often an idle stream says it is still there (a comment line), to find viewers gone.
const KEEPALIVE: Duration = Duration::from_secs(15);

/// Where the page's events come from.
const EVENTS: &str = "/events";

/// The newest message for the viewers: the replay so far, or the end.
#[derive(Default)]
struct Latest {
    /// Counts the messages published, so that a viewer sends each newer one once.
    version: u64,
    /// A whole server-sent event, `event: …\ndata: …\n\n`.
    message: Arc<String>,
    ended: bool,
}

/// What the viewers' threads share.
#[derive(Default)]
struct Shared {
    latest: Mutex<Latest>,
    changed: Condvar,
    viewers: AtomicUsize,
}

impl Shared {
    fn publish(&self, message: String, ended: bool) {
        let mut latest = self.latest.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        *latest = Latest { version: latest.version + 1, message: Arc::new(message), ended };
        self.changed.notify_all();
    }
}

/// What the session hands the replay thread.
enum Feed {
    Header(Header),
    Events(Vec<Event>),
    End(Option<End>),
}

/// The live page's server, and the thread that computes its replays.
pub struct LiveView {
    url: String,
    shared: Arc<Shared>,
    feed: mpsc::Sender<Feed>,
    replays: JoinHandle<()>,
}

impl LiveView {
    /// Listens on a free port of 127.0.0.1 for the page of the session `command`.
    pub fn start(command: &str) -> io::Result<LiveView> {
        let listener = TcpListener::bind(("127.0.0.1", 0))?;
        let url = format!("http://{}/", listener.local_addr()?);
        let shared = Arc::new(Shared::default());
        let page = Arc::new(super::page::live(command, EVENTS));
        let viewers = Arc::clone(&shared);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (shared, page) = (Arc::clone(&viewers), Arc::clone(&page));
                std::thread::spawn(move || {
                    if let Err(err) = answer(stream, &shared, &page) {
                        // A viewer that went away is no error of the session's.
                        if !matches!(err.kind(), io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset | io::ErrorKind::WouldBlock) {
                            eprintln!("trace: the live page: {err}");
                        }
                    }
                });
            }
        });
        let (feed, fed) = mpsc::channel();
        let publish = Arc::clone(&shared);
        let replays = std::thread::spawn(move || follow(&fed, &publish));
        Ok(LiveView { url, shared, feed, replays })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Waits until a page follows the session (or [`WAIT_FOR_VIEWER`] has passed): a session
    /// of our echo programs lasts a fraction of a second, over before a page could be opened.
    pub fn wait_for_viewer(&self) -> bool {
        let deadline = Instant::now() + WAIT_FOR_VIEWER;
        let mut latest = self.shared.latest.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        while self.shared.viewers.load(Ordering::Acquire) == 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            latest = self.shared.changed.wait_timeout(latest, left.min(Duration::from_millis(200))).unwrap_or_else(|poisoned| poisoned.into_inner()).0;
        }
        true
    }

    /// A renderer that feeds the page and draws with `inner` (the terminal's timeline) too.
    pub fn renderer(&self, inner: Option<Box<dyn Renderer>>) -> Box<dyn Renderer> {
        Box::new(Feeder { inner, feed: self.feed.clone(), batch: Vec::new() })
    }

    /// The session is over: the last replay and the end go to the viewers, who get a few
    /// seconds to take them. A session that fed nothing (it could not run live) says so.
    pub fn finish(self) {
        let LiveView { shared, feed, replays, .. } = self;
        drop(feed);
        let _ = replays.join();
        let ended = shared.latest.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).ended;
        if !ended {
            shared.publish(end_message(None, "The session ended without live events: its terminal says why."), true);
        }
        let deadline = Instant::now() + FAREWELL;
        let mut latest = shared.latest.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        while shared.viewers.load(Ordering::Acquire) > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            latest = shared.changed.wait_timeout(latest, left.min(Duration::from_millis(100))).unwrap_or_else(|poisoned| poisoned.into_inner()).0;
        }
    }
}

/// Draws with the inner renderer and hands the events to the replay thread, a batch at a time.
/// A replay thread that has stopped (past its end) takes nothing more: the page is complete,
/// so a failed send is no error of the session's.
struct Feeder {
    inner: Option<Box<dyn Renderer>>,
    feed: mpsc::Sender<Feed>,
    batch: Vec<Event>,
}

impl Renderer for Feeder {
    fn header(&mut self, header: &Header, out: &mut dyn Write) -> io::Result<()> {
        let _ = self.feed.send(Feed::Header(header.clone()));
        self.inner.as_mut().map_or(Ok(()), |r| r.header(header, out))
    }

    fn event(&mut self, event: &Event, out: &mut dyn Write) -> io::Result<()> {
        self.batch.push(event.clone());
        self.inner.as_mut().map_or(Ok(()), |r| r.event(event, out))
    }

    fn idle(&mut self, watermark: u64, out: &mut dyn Write) -> io::Result<()> {
        if !self.batch.is_empty() {
            let _ = self.feed.send(Feed::Events(std::mem::take(&mut self.batch)));
        }
        self.inner.as_mut().map_or(Ok(()), |r| r.idle(watermark, out))
    }

    fn end(&mut self, end: Option<&End>, out: &mut dyn Write) -> io::Result<()> {
        if !self.batch.is_empty() {
            let _ = self.feed.send(Feed::Events(std::mem::take(&mut self.batch)));
        }
        let _ = self.feed.send(Feed::End(end.cloned()));
        self.inner.as_mut().map_or(Ok(()), |r| r.end(end, out))
    }
}

/// The end of the session, as the page gets it.
#[derive(Serialize)]
struct Ending<'a> {
    said: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    replay: Option<&'a Replay>,
    #[serde(skip_serializing_if = "Option::is_none")]
    verdict: Option<String>,
    conforms: bool,
}

fn message(event: &str, data: &impl Serialize) -> String {
    // serde_json writes no newline, which would end the event's data line.
    let json = serde_json::to_string(data).unwrap_or_else(|_| "null".to_string());
    format!("event: {event}\ndata: {json}\n\n")
}

fn end_message(trace: Option<&Trace>, said: &str) -> String {
    let replay = trace.map(Replay::of);
    let report = trace.map(|t| check(t, &CheckOptions::default()));
    let ending = Ending { said, replay: replay.as_ref(), verdict: report.as_ref().map(ToString::to_string), conforms: report.is_some_and(|r| r.conforms()) };
    message("end", &ending)
}

/// The replay thread: follows the feed, publishing the replay of everything so far at the
/// session's pace, and the end.
fn follow(fed: &mpsc::Receiver<Feed>, shared: &Shared) {
    let mut trace: Option<Trace> = None;
    let mut fresh = false;
    let mut cut = false;
    let mut next = Instant::now();
    loop {
        let received =
            if fresh { fed.recv_timeout(next.saturating_duration_since(Instant::now())) } else { fed.recv().map_err(|_| RecvTimeoutError::Disconnected) };
        match received {
            Ok(Feed::Header(header)) => trace = Some(Trace { header, events: Vec::new(), end: None }),
            Ok(Feed::Events(events)) => {
                let Some(trace) = trace.as_mut() else { continue };
                let room = MAX_EVENTS.saturating_sub(trace.events.len());
                cut |= events.len() > room;
                trace.events.extend(events.into_iter().take(room));
                fresh = true;
            }
            Ok(Feed::End(end)) => {
                let Some(mut whole) = trace.take() else { return };
                whole.end = end;
                let said = if cut {
                    format!("The session has ended. This page shows its first {MAX_EVENTS} events; `trace replay` of its saved trace shows them all.")
                } else {
                    "The session has ended: the whole replay is here.".to_string()
                };
                shared.publish(end_message(Some(&whole), &said), true);
                return;
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => {
                // The session stopped without its end (an error the terminal tells).
                if let Some(trace) = &trace {
                    shared.publish(end_message(Some(trace), "The session stopped before its end (its terminal says why): here is what it showed."), true);
                }
                return;
            }
        }
        if fresh && Instant::now() >= next {
            if let Some(trace) = &trace {
                let started = Instant::now();
                shared.publish(message("replay", &Replay::of(trace)), false);
                // A replay that takes long to compute is computed less often.
                next = Instant::now() + PACE.max(started.elapsed() * 4);
                fresh = false;
            }
        }
    }
}

/// Answers one request: the page, its events, or nothing else.
fn answer(stream: TcpStream, shared: &Shared, page: &str) -> io::Result<()> {
    let mut out = stream.try_clone()?;
    let Some(request) = read_request(&stream, &mut out)? else { return Ok(()) };
    let with_body = request.method == "GET";
    if !with_body && request.method != "HEAD" {
        return respond_text(&mut out, "405 Method Not Allowed", "only GET and HEAD");
    }
    match request.path() {
        "/" => respond(&mut out, "200 OK", "text/html; charset=utf-8", page.as_bytes(), with_body),
        EVENTS if with_body => stream_events(out, shared),
        _ => respond(&mut out, "404 Not Found", "text/plain", b"not found\n", with_body),
    }
}

/// One viewer's stream of events, until the session's end has been sent or the viewer is gone.
fn stream_events(mut out: TcpStream, shared: &Shared) -> io::Result<()> {
    let Some(_viewer) = Viewer::take(shared) else {
        return respond_text(&mut out, "503 Service Unavailable", &format!("{MAX_VIEWERS} pages already follow this session: close one"));
    };
    out.set_write_timeout(Some(WRITE_TIMEOUT))?;
    write!(out, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n")?;
    out.flush()?;
    let mut seen = 0;
    loop {
        let (message, ended) = {
            let mut latest = shared.latest.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            if latest.version == seen {
                latest = shared.changed.wait_timeout(latest, KEEPALIVE).unwrap_or_else(|poisoned| poisoned.into_inner()).0;
            }
            if latest.version == seen {
                (None, false)
            } else {
                seen = latest.version;
                (Some(Arc::clone(&latest.message)), latest.ended)
            }
        };
        match message {
            Some(message) => out.write_all(message.as_bytes())?,
            None => out.write_all(b": still here\n\n")?,
        }
        out.flush()?;
        if ended {
            return Ok(());
        }
    }
}

/// A place among the [`MAX_VIEWERS`], given back when dropped (and the waiting session told).
struct Viewer<'a>(&'a Shared);

impl<'a> Viewer<'a> {
    fn take(shared: &'a Shared) -> Option<Viewer<'a>> {
        shared.viewers.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < MAX_VIEWERS).then_some(n + 1)).ok()?;
        shared.changed.notify_all();
        Some(Viewer(shared))
    }
}

impl Drop for Viewer<'_> {
    fn drop(&mut self) {
        self.0.viewers.fetch_sub(1, Ordering::AcqRel);
        self.0.changed.notify_all();
    }
}
