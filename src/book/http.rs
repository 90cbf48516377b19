//! The little HTTP/1.1 that `trace book serve` and the live page (`trace echo --web`) speak on
//! loopback: one request per connection, read within bounds (a request line, a few headers, a
//! body no longer than the caller takes), and a response that closes the connection.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// A line of the request (its first, or a header) longer than this is no browser's.
const MAX_LINE: u64 = 8 << 10;
/// Headers beyond this many are no browser's either.
const MAX_HEADERS: usize = 100;
/// How long a client may take to send each part of its request.
const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// A request's line and the headers that matter here; its body is still to read.
#[derive(Debug)]
pub struct Request {
    pub method: String,
    pub target: String,
    /// `Content-Length`, if the request says one.
    pub length: Option<u64>,
    /// `X-File-Name`: the name of the file an upload holds (the page sends it), for messages.
    pub file_name: Option<String>,
    /// `Host`, as the client wrote it.
    host: Option<String>,
    reader: BufReader<TcpStream>,
}

/// Why a request could not be read: the connection is answered with `400` and closed.
#[derive(Debug)]
pub enum BadRequest {
    Io(io::Error),
    /// A line too long, too many headers, or a line that is not text.
    Malformed(&'static str),
}

impl From<io::Error> for BadRequest {
    fn from(err: io::Error) -> BadRequest {
        BadRequest::Io(err)
    }
}

impl Request {
    /// Reads the request line and the headers of `stream`.
    pub fn read(stream: &TcpStream) -> Result<Request, BadRequest> {
        stream.set_read_timeout(Some(READ_TIMEOUT))?;
        let mut reader = BufReader::new(stream.try_clone()?);
        let first = line(&mut reader)?;
        let mut words = first.split_whitespace();
        let (method, target) = (words.next().unwrap_or("").to_string(), words.next().unwrap_or("").to_string());
        let (mut length, mut file_name, mut host) = (None, None, None);
        for _ in 0..MAX_HEADERS {
            let header = line(&mut reader)?;
            if header.trim().is_empty() {
                return Ok(Request { method, target, length, file_name, host, reader });
            }
            let Some((name, value)) = header.split_once(':') else { continue };
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                length = Some(value.parse().map_err(|_| BadRequest::Malformed("a Content-Length that is not a number"))?);
            } else if name.eq_ignore_ascii_case("host") {
                host = Some(value.to_string());
            } else if name.eq_ignore_ascii_case("x-file-name") {
                file_name = Some(value.chars().take(200).collect());
            }
        }
        Err(BadRequest::Malformed("too many headers"))
    }

    /// Whether the request was addressed to this machine by a loopback name: a page of another
    /// site that had its own name resolve to 127.0.0.1 (DNS rebinding) sends its own name, and
    /// must not read a trace. A request without `Host` (HTTP/1.0, a test) is let through.
    pub fn for_loopback(&self) -> bool {
        let Some(host) = &self.host else { return true };
        let name = host.rsplit_once(':').filter(|(_, port)| port.chars().all(|c| c.is_ascii_digit())).map_or(host.as_str(), |(name, _)| name);
        matches!(name, "127.0.0.1" | "localhost" | "[::1]")
    }

    /// The path of the target, without its query.
    pub fn path(&self) -> &str {
        self.target.split(['?', '#']).next().unwrap_or("")
    }

    /// The value of `name=` in the target's query.
    pub fn query(&self, name: &str) -> Option<&str> {
        let query = self.target.split_once('?')?.1.split('#').next()?;
        query.split('&').find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
    }

    /// The body, which the caller has checked is `Content-Length` bytes, at most `max`.
    pub fn body(mut self, length: u64) -> io::Result<Vec<u8>> {
        let mut body = Vec::with_capacity(usize::try_from(length).unwrap_or(0).min(1 << 20));
        (&mut self.reader).take(length).read_to_end(&mut body)?;
        if (body.len() as u64) < length {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the body ended before its Content-Length"));
        }
        Ok(body)
    }
}

/// Reads the request of `stream`; one that is malformed, or addressed to another host
/// ([`Request::for_loopback`]), is answered on `out` here, and gives `None`.
pub fn read_request(stream: &TcpStream, out: &mut TcpStream) -> io::Result<Option<Request>> {
    match Request::read(stream) {
        Ok(request) if request.for_loopback() => Ok(Some(request)),
        Ok(_) => respond_text(out, "421 Misdirected Request", "this server answers only at 127.0.0.1 or localhost").map(|()| None),
        Err(BadRequest::Io(err)) => Err(err),
        Err(BadRequest::Malformed(what)) => respond_text(out, "400 Bad Request", &format!("not a request this server takes: {what}")).map(|()| None),
    }
}

/// One line of the head, `\r\n` or `\n` ended, within [`MAX_LINE`].
fn line(reader: &mut BufReader<TcpStream>) -> Result<String, BadRequest> {
    let mut bytes = Vec::new();
    reader.take(MAX_LINE + 1).read_until(b'\n', &mut bytes)?;
    if bytes.len() as u64 > MAX_LINE {
        return Err(BadRequest::Malformed("a line longer than 8 KiB"));
    }
    String::from_utf8(bytes).map_err(|_| BadRequest::Malformed("a line that is not UTF-8"))
}

/// Writes a whole response and closes the connection's writing side; `with_body` false for
/// HEAD (the length is still the body's).
pub fn respond(out: &mut TcpStream, status: &str, ty: &str, body: &[u8], with_body: bool) -> io::Result<()> {
    write!(out, "HTTP/1.1 {status}\r\nContent-Type: {ty}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n", body.len())?;
    if with_body {
        out.write_all(body)?;
    }
    out.flush()
}

/// A one-line plain-text answer, for errors (the page shows the line as it is).
pub fn respond_text(out: &mut TcpStream, status: &str, text: &str) -> io::Result<()> {
    respond(out, status, "text/plain; charset=utf-8", format!("{text}\n").as_bytes(), true)
}

/// `%XX` decoded; `None` for a bad escape, text that is not UTF-8, or a NUL.
pub fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    let decoded = String::from_utf8(out).ok()?;
    (!decoded.contains('\0')).then_some(decoded)
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::net::{TcpListener, TcpStream};

    use super::*;

    /// The request `head` as this module reads it (the head only: no body follows).
    fn read(head: &str) -> Result<Request, BadRequest> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).expect("a loopback port");
        let mut client = TcpStream::connect(listener.local_addr().expect("its address")).expect("connect");
        client.write_all(head.as_bytes()).expect("send");
        let (server, _) = listener.accept().expect("accept");
        Request::read(&server)
    }

    #[test]
    fn only_loopback_names_are_answered() {
        for (host, answered) in [
            ("127.0.0.1:8000", true),
            ("localhost:3000", true),
            ("[::1]:80", true),
            ("localhost", true),
            ("evil.example:8000", false),
            ("127.0.0.1.evil.example", false),
        ] {
            let request = read(&format!("GET / HTTP/1.1\r\nHost: {host}\r\n\r\n")).map_err(|e| format!("{e:?}")).expect("a request");
            assert_eq!(request.for_loopback(), answered, "{host}");
        }
    }

    #[test]
    fn the_target_splits_into_path_and_query_and_the_length_is_read() {
        let request = read("POST /your-trace?conversation=3 HTTP/1.1\r\ncontent-length: 12\r\nX-File-Name: a%20b.pcap\r\n\r\n")
            .map_err(|e| format!("{e:?}"))
            .expect("a request");
        assert_eq!((request.path(), request.query("conversation"), request.length), ("/your-trace", Some("3"), Some(12)));
        assert_eq!(request.file_name.as_deref(), Some("a%20b.pcap"));
        assert!(matches!(read("POST / HTTP/1.1\r\nContent-Length: lots\r\n\r\n"), Err(BadRequest::Malformed(_))));
    }
}
