//! `trace book serve`: the built book over HTTP on loopback, rebuilt when its sources change.
//! A small static file server: GET and HEAD of files under the built directory only, and one
//! POST, of a learner's own trace to replay ([`super::upload`]).

use std::io::{self, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::http::{percent_decode, read_request, respond, respond_text};
use super::upload;

/// How often the sources are looked at for changes.
const POLL: Duration = Duration::from_millis(500);

/// Builds the book (into `dest`, default `book.toml`'s build-dir), then serves it on
/// `127.0.0.1:port` (0: any free port) until the process ends, rebuilding when a watched file
/// changes. Prints the URL first.
pub fn serve(book_dir: &Path, dest: Option<&Path>, port: u16, commands: &clap::Command) -> Result<(), String> {
    let dest = super::build(book_dir, dest, false, commands).map_err(|e| e.to_string())?.dest;
    let listener = TcpListener::bind(("127.0.0.1", port)).map_err(|e| format!("cannot listen on 127.0.0.1:{port}: {e} (try another --port, or 0)"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    println!("serving the book at http://{addr}/ (Ctrl-C to stop); it is rebuilt when its sources change");
    let _ = io::stdout().flush();
    let (book_dir, dest_dir, commands) = (book_dir.to_path_buf(), dest.clone(), commands.clone());
    std::thread::spawn(move || watch(&book_dir, &dest_dir, &commands));
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let root = dest.clone();
        std::thread::spawn(move || {
            if let Err(err) = answer(stream, &root) {
                eprintln!("trace book serve: {err}");
            }
        });
    }
    Ok(())
}

/// Rebuilds whenever the newest modification time under the watched directories changes.
fn watch(book_dir: &Path, dest: &Path, commands: &clap::Command) {
    let dirs = super::watched_dirs(book_dir);
    let mut seen = newest(&dirs);
    loop {
        std::thread::sleep(POLL);
        let now = newest(&dirs);
        if now == seen {
            continue;
        }
        seen = now;
        match super::build(book_dir, Some(dest), false, commands) {
            Ok(_) => println!("rebuilt the book"),
            Err(err) => eprintln!("trace book serve: {err}"),
        }
    }
}

/// The newest modification time of any file under `dirs`.
fn newest(dirs: &[PathBuf]) -> Option<SystemTime> {
    let mut newest = None;
    let mut stack: Vec<PathBuf> = dirs.to_vec();
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let Ok(meta) = entry.metadata() else { continue };
            if meta.is_dir() {
                stack.push(entry.path());
            } else if let Ok(modified) = meta.modified() {
                newest = newest.max(Some(modified));
            }
        }
    }
    newest
}

/// Answers one request.
fn answer(stream: TcpStream, root: &Path) -> io::Result<()> {
    let mut out = stream.try_clone()?;
    let Some(request) = read_request(&stream, &mut out)? else { return Ok(()) };
    let method = request.method.as_str();
    if method == "POST" && request.path() == upload::ENDPOINT {
        return upload::answer(request, &mut out);
    }
    if method != "GET" && method != "HEAD" {
        let only = format!("only GET and HEAD, and POST to {}", upload::ENDPOINT);
        return respond_text(&mut out, "405 Method Not Allowed", &only);
    }
    let with_body = method == "GET";
    let Some(path) = resolve(root, &request.target) else {
        return respond(&mut out, "404 Not Found", "text/plain", b"not found\n", with_body);
    };
    match std::fs::read(&path) {
        Ok(body) => respond(&mut out, "200 OK", content_type(&path), &body, with_body),
        Err(_) => respond(&mut out, "404 Not Found", "text/plain", b"not found\n", with_body),
    }
}

/// The file a request target names under `root`: the query and fragment dropped, `%XX`
/// decoded, a directory's `index.html`; `None` for anything that would leave `root`.
fn resolve(root: &Path, target: &str) -> Option<PathBuf> {
    let path = target.split(['?', '#']).next()?;
    let decoded = percent_decode(path)?;
    let relative = Path::new(decoded.trim_start_matches('/'));
    if relative.components().any(|c| !matches!(c, Component::Normal(_))) {
        return None;
    }
    let full = root.join(relative);
    if full.is_dir() {
        Some(full.join("index.html"))
    } else {
        Some(full)
    }
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "json" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "woff" => "font/woff",
        "woff2" => "font/woff2",
        "ttf" => "font/ttf",
        "txt" | "md" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_stays_under_the_root() {
        let root = Path::new("/srv/book");
        assert_eq!(resolve(root, "/ch1.html?step=3#replay-1"), Some(root.join("ch1.html")));
        assert_eq!(resolve(root, "/a%20b.html"), Some(root.join("a b.html")));
        assert_eq!(resolve(root, "/../etc/passwd"), None);
        assert_eq!(resolve(root, "/%2e%2e/etc/passwd"), None);
        assert_eq!(resolve(root, "/x%00.html"), None);
        assert_eq!(resolve(root, "/%zz"), None);
    }
}
