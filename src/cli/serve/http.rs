//! The HTTP side of `actorc serve`: a small HTTP/1.1 server on `std::net`, one thread per
//! connection and one request per connection (`Connection: close`), requests parsed by
//! `httparse`. Server-sent events are written straight to the socket, one per sheet revision.
//!
//! Invariants: nothing a client sends can panic the server or make it allocate without
//! bound (the request head is read up to [`MAX_HEAD`] bytes within [`IO_TIMEOUT`], and at
//! most [`MAX_CONNECTIONS`] are served at once); a request whose `Host` is not the address
//! served (or `localhost`) is refused, so a page of another site cannot reach the sheet
//! through DNS rebinding; only `GET` and `HEAD` are served, and nothing changes state.

use super::{Hub, Query};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// The largest request head (request line and headers) read.
const MAX_HEAD: usize = 16 << 10;
/// The most connections served at once (an open page holds one for its events).
const MAX_CONNECTIONS: usize = 64;
/// How long a read or a write of a client may take.
const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// How often an idle event stream gets a comment, so a client gone is noticed.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

const INDEX_HTML: &str = include_str!("page/index.html");
const APP_JS: &str = include_str!("page/app.js");
const STYLE_CSS: &str = include_str!("page/style.css");

/// Who may connect: the address served, and whether any `Host` is accepted (`--allow-remote`).
#[derive(Debug, Clone, Copy)]
pub(super) struct Access {
    pub addr: SocketAddr,
    pub any_host: bool,
}

/// Accepts connections for ever, each served on its own thread.
pub(super) fn serve(listener: TcpListener, access: Access, hub: Arc<Hub>) {
    let open = Arc::new(AtomicUsize::new(0));
    for stream in listener.incoming() {
        let Ok(mut stream) = stream else {
            // Out of file descriptors, most likely: let connections close.
            std::thread::sleep(Duration::from_millis(50));
            continue;
        };
        let _ = stream.set_read_timeout(Some(IO_TIMEOUT));
        let _ = stream.set_write_timeout(Some(IO_TIMEOUT));
        if open.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
            open.fetch_sub(1, Ordering::SeqCst);
            let _ = Response::text(503, "too many connections").write(&mut stream, false);
            continue;
        }
        let (hub, open2) = (hub.clone(), open.clone());
        let spawned = std::thread::Builder::new().name("actorc-http".into()).spawn(move || {
            handle(stream, access, &hub);
            open2.fetch_sub(1, Ordering::SeqCst);
        });
        if spawned.is_err() {
            open.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// A response with its whole body.
pub(super) struct Response {
    status: u16,
    content_type: &'static str,
    body: Vec<u8>,
    allow: bool,
}

impl Response {
    pub(super) fn new(status: u16, content_type: &'static str, body: impl Into<Vec<u8>>) -> Response {
        Response { status, content_type, body: body.into(), allow: false }
    }

    fn text(status: u16, message: &str) -> Response {
        Response::new(status, "text/plain; charset=utf-8", format!("{message}\n"))
    }

    /// `{"error": message}`.
    pub(super) fn json_error(status: u16, message: &str) -> Response {
        let body = serde_json::json!({ "error": message }).to_string();
        Response::new(status, "application/json", body)
    }

    fn write(&self, out: &mut impl Write, head_only: bool) -> std::io::Result<()> {
        let mut head = format!(
            "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n{SECURITY}Connection: close\r\n",
            self.status,
            reason(self.status),
            self.content_type,
            self.body.len()
        );
        if self.allow {
            head.push_str("Allow: GET, HEAD\r\n");
        }
        head.push_str("\r\n");
        out.write_all(head.as_bytes())?;
        if !head_only {
            out.write_all(&self.body)?;
        }
        out.flush()
    }
}

/// Headers on every response: nothing cached, nothing from elsewhere, no sniffing, no framing.
const SECURITY: &str = "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n\
    Content-Security-Policy: default-src 'self'; frame-ancestors 'none'\r\nReferrer-Policy: no-referrer\r\n";

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        422 => "Unprocessable Content",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => "Internal Server Error",
    }
}

/// A request as far as the server looks at it.
struct Request {
    method: String,
    path: String,
    query: String,
    host: Option<String>,
}

/// Why a request head could not be read.
enum HeadError {
    /// The client went away or was too slow: nothing to answer.
    Gone,
    Bad(Response),
}

/// Reads and parses the request head (the body, if any, is never read).
fn read_head(stream: &mut TcpStream) -> Result<Request, HeadError> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 2048];
    let deadline = std::time::Instant::now() + IO_TIMEOUT;
    loop {
        if std::time::Instant::now() > deadline {
            return Err(HeadError::Bad(Response::text(408, "request timeout")));
        }
        let n = match stream.read(&mut chunk) {
            Ok(0) => return Err(HeadError::Gone),
            Ok(n) => n,
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                return Err(HeadError::Bad(Response::text(408, "request timeout")));
            }
            Err(_) => return Err(HeadError::Gone),
        };
        buf.extend_from_slice(&chunk[..n]);
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut req = httparse::Request::new(&mut headers);
        match req.parse(&buf) {
            Ok(httparse::Status::Complete(_)) => {
                let target = req.path.unwrap_or("/");
                let (path, query) = target.split_once('?').unwrap_or((target, ""));
                let host = req
                    .headers
                    .iter()
                    .find(|h| h.name.eq_ignore_ascii_case("host"))
                    .map(|h| String::from_utf8_lossy(h.value).trim().to_string());
                return Ok(Request {
                    method: req.method.unwrap_or("").to_string(),
                    path: path.to_string(),
                    query: query.to_string(),
                    host,
                });
            }
            Ok(httparse::Status::Partial) if buf.len() < MAX_HEAD => {}
            Ok(httparse::Status::Partial) | Err(httparse::Error::TooManyHeaders) => {
                return Err(HeadError::Bad(Response::text(431, "request head too large")));
            }
            Err(e) => return Err(HeadError::Bad(Response::text(400, &format!("bad request: {e}")))),
        }
    }
}

fn handle(mut stream: TcpStream, access: Access, hub: &Hub) {
    let request = match read_head(&mut stream) {
        Ok(r) => r,
        Err(HeadError::Gone) => return,
        Err(HeadError::Bad(response)) => {
            let _ = response.write(&mut stream, false);
            return linger(stream);
        }
    };
    let head_only = request.method == "HEAD";
    if request.path == "/events" && request.method == "GET" && host_allowed(request.host.as_deref(), access) {
        stream_events(stream, hub);
        return;
    }
    let response = respond(&request, access, hub);
    let _ = response.write(&mut stream, head_only);
    linger(stream);
}

/// Closes after the answer is out: what the client still sends (a body, the rest of a head
/// too large) is read and dropped for a moment, so that closing with unread data does not
/// reset the connection before the client has read the answer.
fn linger(mut stream: TcpStream) {
    let _ = stream.shutdown(std::net::Shutdown::Write);
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    let mut sink = [0u8; 8192];
    let mut left: usize = 1 << 20;
    while let Ok(n @ 1..) = stream.read(&mut sink) {
        left = left.saturating_sub(n);
        if left == 0 {
            break;
        }
    }
}

/// The response to any request but an event stream.
fn respond(request: &Request, access: Access, hub: &Hub) -> Response {
    if request.method != "GET" && request.method != "HEAD" {
        let mut r = Response::text(405, "only GET and HEAD are served");
        r.allow = true;
        return r;
    }
    let Some(host) = request.host.as_deref() else {
        return Response::text(400, "a Host header is required");
    };
    if !host_allowed(Some(host), access) {
        return Response::text(403, &format!("host `{host}` is not served (see --allow-remote)"));
    }
    match request.path.as_str() {
        "/" | "/index.html" => Response::new(200, "text/html; charset=utf-8", INDEX_HTML),
        "/app.js" => Response::new(200, "text/javascript; charset=utf-8", APP_JS),
        "/style.css" => Response::new(200, "text/css; charset=utf-8", STYLE_CSS),
        "/favicon.ico" => Response::new(204, "text/plain", ""),
        "/api/sheet" => Response::new(200, "application/json", hub.sheet().as_bytes()),
        "/api/explain" => match Query::parse(&request.query) {
            Ok(q) => hub.explain(q),
            Err(e) => Response::json_error(400, &e),
        },
        "/events" => Response::text(405, "the event stream is read with GET"),
        _ => Response::text(404, "not found"),
    }
}

/// Whether `host` (a `Host` header) names the address served: its IP or `localhost`, with
/// its port. With `--allow-remote`, every host is.
fn host_allowed(host: Option<&str>, access: Access) -> bool {
    if access.any_host {
        return true;
    }
    let Some(host) = host else { return false };
    let (name, port) = match host.rsplit_once(':') {
        Some((name, port)) if !port.contains(']') => (name, Some(port)),
        _ => (host, None),
    };
    let port_ok = port.is_none_or(|p| p.parse::<u16>().is_ok_and(|p| p == access.addr.port()));
    let name = name.to_ascii_lowercase();
    let ip = access.addr.ip();
    let name_ok = name == "localhost"
        || name.trim_start_matches('[').trim_end_matches(']').parse::<std::net::IpAddr>().is_ok_and(|a| {
            a == ip || (a.is_loopback() && ip.is_loopback()) || (ip.is_unspecified() && a.is_loopback())
        });
    port_ok && name_ok
}

/// Writes the event stream: the current sheet at once, then one event per revision, and a
/// comment when idle; ends when the client goes (or cannot keep up).
fn stream_events(mut stream: TcpStream, hub: &Hub) {
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n{SECURITY}X-Accel-Buffering: no\r\nConnection: close\r\n\r\nretry: 1000\n\n"
    );
    if stream.write_all(head.as_bytes()).is_err() {
        return;
    }
    let (first, events) = hub.subscribe();
    let mut next = Some(first);
    loop {
        let sent = match next.take() {
            Some(sheet) => stream.write_all(format!("event: sheet\ndata: {sheet}\n\n").as_bytes()),
            None => stream.write_all(b": idle\n\n"),
        };
        if sent.is_err() {
            return;
        }
        match events.recv_timeout(KEEP_ALIVE) {
            Ok(sheet) => next = Some(sheet),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn access(addr: &str) -> Access {
        Access { addr: addr.parse().unwrap(), any_host: false }
    }

    #[test]
    fn only_the_address_served_and_localhost_are_hosts() {
        let a = access("127.0.0.1:8080");
        for ok in ["127.0.0.1:8080", "localhost:8080", "LOCALHOST:8080", "localhost", "[::1]:8080"] {
            assert!(host_allowed(Some(ok), a), "{ok}");
        }
        for bad in ["evil.example:8080", "127.0.0.1:9090", "localhost.evil.example", "", "127.0.0.1:x"] {
            assert!(!host_allowed(Some(bad), a), "{bad}");
        }
        assert!(!host_allowed(None, a));
        assert!(host_allowed(Some("evil.example"), Access { any_host: true, ..a }));
        assert!(host_allowed(Some("[::1]:7"), access("[::1]:7")));
    }
}
