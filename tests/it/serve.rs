//! `actorc serve`: the sheet's JSON as data (an insta snapshot of `/api/sheet` for the
//! example game, whose values are `actorc run`'s), the answers to bad requests, the event
//! stream after saves (with the latency from a save to its event), and the page itself in
//! headless Chromium, driven over the DevTools Protocol. Every wait has a deadline.

use crate::common::actorc;
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// How long a change may take to reach the page.
const UPDATE_BOUND: Duration = Duration::from_secs(10);

/// A running `actorc serve`, killed on drop.
struct Server {
    child: Child,
    addr: SocketAddr,
    /// Its standard error after the line that gave the address.
    stderr: Receiver<String>,
}

impl Server {
    fn start(args: &[&str]) -> Server {
        Server::start_in(Path::new("."), args)
    }

    /// Starts `actorc serve ARGS` in the folder `dir`.
    fn start_in(dir: &Path, args: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_actorc"))
            .current_dir(dir)
            .arg("serve")
            .args(args)
            .args(["--addr", "127.0.0.1:0"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let lines = lines_of(child.stderr.take().unwrap());
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut seen = Vec::new();
        loop {
            match lines.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(line) => {
                    if let Some(url) = line.split("http://").nth(1) {
                        let addr = url.split('/').next().unwrap().parse().unwrap();
                        return Server { child, addr, stderr: lines };
                    }
                    seen.push(line);
                }
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!("actorc serve did not start: {seen:#?}");
                }
            }
        }
    }

    fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// `GET path`: the status and the body.
    fn get(&self, path: &str) -> (u16, String) {
        let (status, _, body) = request(self.addr, &format!("GET {path} HTTP/1.1\r\nHost: {}\r\n\r\n", self.addr));
        (status, body)
    }

    fn sheet(&self) -> Value {
        let (status, body) = self.get("/api/sheet");
        assert_eq!(status, 200, "{body}");
        serde_json::from_str(&body).unwrap()
    }

    /// What it wrote to standard error so far.
    fn log(&self) -> Vec<String> {
        self.stderr.try_iter().collect()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The lines `from` gives, read on a thread of their own.
fn lines_of(from: impl Read + Send + 'static) -> Receiver<String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(from).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

/// Sends raw request bytes; the status, the head and the body of the answer.
fn request(addr: SocketAddr, raw: &str) -> (u16, String, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(raw.as_bytes()).unwrap();
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).unwrap();
    let answer = String::from_utf8(answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, head.to_string(), body.to_string())
}

/// A fresh copy of the example game (rules/rpg and the rules it imports, its party) in a
/// temporary folder, removed on drop.
struct Game {
    dir: PathBuf,
}

impl Game {
    fn new(tag: &str) -> Game {
        let dir = std::env::temp_dir().join(format!("actorc-serve-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for set in ["rpg", "actor_core_v3"] {
            std::fs::create_dir_all(dir.join(set)).unwrap();
            for f in std::fs::read_dir(Path::new("rules").join(set)).unwrap() {
                let f = f.unwrap().path();
                if f.extension().is_some_and(|e| e == "stat") {
                    std::fs::copy(&f, dir.join(set).join(f.file_name().unwrap())).unwrap();
                }
            }
        }
        std::fs::copy("examples/party.ndjson", dir.join("party.ndjson")).unwrap();
        Game { dir }
    }

    fn rules(&self) -> String {
        self.dir.join("rpg").display().to_string()
    }

    fn input(&self) -> String {
        self.dir.join("party.ndjson").display().to_string()
    }

    /// `actorc serve` run in the game's folder, with relative paths (as the page then shows).
    fn serve(&self) -> Server {
        Server::start_in(&self.dir, &["rpg", "--input", "party.ndjson"])
    }

    /// Replaces `from` by `to` in rpg/progression.stat.
    fn edit(&self, from: &str, to: &str) {
        let file = self.dir.join("rpg/progression.stat");
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(text.contains(from), "{from}");
        std::fs::write(&file, text.replacen(from, to, 1)).unwrap();
    }

    /// `actorc run --values` on the game as it is now: actor → stat → value.
    fn run_values(&self, stats: &str) -> Vec<(String, Value)> {
        let out = actorc(&["run", &self.rules(), "--input", &self.input(), "--values", stats, "-q"], "");
        assert_eq!(out.code, 0, "{}", out.stderr);
        out.stdout
            .lines()
            .map(|l| {
                let r: Value = serde_json::from_str(l).unwrap();
                (r["id"].as_str().unwrap().to_string(), r["values"].clone())
            })
            .collect()
    }
}

impl Drop for Game {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The persuasion formula of rules/rpg/progression.stat, and the same with another factor.
const PERSUASION: &str = "charisma * 2 + luck";
fn persuasion(factor: u32) -> String {
    format!("charisma * {factor} + luck")
}

#[test]
fn serve_sheet_of_the_example_game() {
    let server = Server::start(&["rules/rpg", "--input", "examples/party.ndjson"]);
    let sheet = server.sheet();
    insta::assert_json_snapshot!("serve_sheet_rpg", sheet);
    // Every value is the one `actorc run` writes.
    let out = actorc(&["run", "rules/rpg", "--input", "examples/party.ndjson", "-q"], "");
    assert_eq!(out.code, 0, "{}", out.stderr);
    let stats: Vec<&str> = sheet["stats"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    let rows = sheet["actors"].as_array().unwrap();
    let records: Vec<Value> = out.stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(rows.len(), records.len());
    for (row, record) in rows.iter().zip(&records) {
        assert_eq!(row["id"], record["id"]);
        let snapshot = &record["snapshot"];
        for (stat, value) in stats.iter().zip(row["values"].as_array().unwrap()) {
            let want = snapshot["Primary"].get(stat).or(snapshot["Derived"].get(stat)).unwrap_or(&Value::Null);
            assert_eq!(value.as_f64(), want.as_f64(), "{} {stat}", row["id"]);
        }
    }
}

#[test]
fn serve_answers_bad_requests_with_4xx() {
    let server = Server::start(&["rules/rpg", "--input", "examples/party.ndjson"]);
    let host = server.addr.to_string();
    let get = |path: &str, host: &str| request(server.addr, &format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n"));
    let cases: &[(&str, &str, u16, &str)] = &[
        ("/", &host, 200, "<table id=\"sheet\">"),
        ("/app.js", "localhost", 200, "EventSource"),
        ("/style.css", &host, 200, "position: sticky"),
        ("/nothing", &host, 404, "not found"),
        ("/", "evil.example", 403, "is not served"),
        ("/api/sheet", "evil.example:80", 403, "is not served"),
        ("/events", "evil.example", 403, "is not served"),
        ("/api/explain", &host, 400, "give actor=ID and stat=NAME"),
        ("/api/explain?actor=%ff&stat=x", &host, 400, "not percent-encoded UTF-8"),
        ("/api/explain?actor=mage&stat=fire&row=x", &host, 400, "not a number"),
        ("/api/explain?actor=nobody&stat=damage", &host, 404, "no actor `nobody`"),
        ("/api/explain?actor=mage&stat=fire_damag", &host, 404, "unknown stat `fire_damag`"),
        ("/api/explain?actor=mage&stat=fire_damage", &host, 200, "fire_damage of actor `mage` = 550"),
        ("/api/explain?actor=mage&stat=fire_damage&row=0", &host, 200, "\"row\":1"),
    ];
    for &(path, host, status, needle) in cases {
        let (got, head, body) = get(path, host);
        assert_eq!(got, status, "{path} (Host: {host}): {head}\n{body}");
        assert!(body.contains(needle), "{path}: {body}");
    }
    let raw: &[(&str, u16)] = &[
        ("POST /api/sheet HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2\r\n\r\n{}", 405),
        ("POST /events HTTP/1.1\r\nHost: localhost\r\n\r\n", 405),
        ("GET / HTTP/1.0\r\n\r\n", 400),
        ("\x16\x03\x01\x02\x00\x01\x00\x01\x7c\x03\x03\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: localhost\r\nX: y\0z\r\n\r\n", 400),
    ];
    for &(req, status) in raw {
        assert_eq!(request(server.addr, req).0, status, "{req:?}");
    }
    let huge = format!("GET / HTTP/1.1\r\nHost: localhost\r\nX: {}\r\n\r\n", "a".repeat(64 << 10));
    assert_eq!(request(server.addr, &huge).0, 431);
    let head = request(server.addr, &format!("HEAD /api/sheet HTTP/1.1\r\nHost: {host}\r\n\r\n"));
    assert_eq!((head.0, head.2.as_str()), (200, ""));
    // Still serving.
    assert_eq!(server.get("/api/sheet").0, 200);
}

#[test]
fn serve_refuses_an_address_other_machines_reach() {
    let out = actorc(&["serve", "rules/rpg", "--input", "examples/party.ndjson", "--addr", "0.0.0.0:0"], "");
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("--allow-remote"), "{}", out.stderr);
    let out = actorc(&["serve", "rules/rpg", "--input", "-"], "");
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("must be a file"), "{}", out.stderr);
}

/// An open `/events` stream, read on a thread of its own: one sheet per event.
fn events(addr: SocketAddr) -> Receiver<Value> {
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(format!("GET /events HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes()).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(s).lines() {
            let Ok(line) = line else { return };
            if let Some(data) = line.strip_prefix("data: ")
                && tx.send(serde_json::from_str(data).unwrap()).is_err()
            {
                return;
            }
        }
    });
    rx
}

/// The next sheet `want` accepts, within [`UPDATE_BOUND`].
fn next_sheet(events: &Receiver<Value>, what: &str, want: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + UPDATE_BOUND;
    loop {
        match events.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(sheet) if want(&sheet) => return sheet,
            Ok(_) => {}
            Err(RecvTimeoutError::Timeout) => panic!("no sheet with {what} within {UPDATE_BOUND:?}"),
            Err(RecvTimeoutError::Disconnected) => panic!("the event stream ended before {what}"),
        }
    }
}

fn generation(n: u64) -> impl Fn(&Value) -> bool {
    move |s| s["generation"] == n && s["problem"].is_null()
}

/// The cells a sheet marks as changed: (actor, stat).
fn changed(sheet: &Value) -> Vec<(String, String)> {
    let mut cells = Vec::new();
    for a in sheet["actors"].as_array().unwrap() {
        for stat in a["changed"].as_object().unwrap().keys() {
            cells.push((a["key"].as_str().unwrap().to_string(), stat.clone()));
        }
    }
    cells
}

#[test]
fn serve_pushes_an_event_per_save() {
    let game = Game::new("events");
    let server = game.serve();
    let events = events(server.addr);
    let first = next_sheet(&events, "generation 1", generation(1));
    assert_eq!(first["cause"], "start");

    game.edit(PERSUASION, &persuasion(3));
    let second = next_sheet(&events, "generation 2", generation(2));
    assert_eq!(second["cause"], "rules");
    assert!(second["latency_ms"].as_f64().is_some());
    let cells = changed(&second);
    // The ranger has no charisma: its persuasion stays.
    assert_eq!(cells.len(), 5, "{cells:?}");
    assert!(cells.iter().all(|(_, stat)| stat == "persuasion"), "{cells:?}");

    // A broken save: its diagnostics, and the last good values stay.
    game.edit(&persuasion(3), "charisma * 3 +");
    let broken = next_sheet(&events, "a problem", |s| !s["problem"].is_null());
    assert_eq!(broken["generation"], 2);
    assert_eq!(broken["actors"], second["actors"]);
    let text = broken["problem"]["text"].as_str().unwrap();
    assert!(text.contains("progression.stat:") && text.contains("error"), "{text}");
    assert!(broken["problem"]["errors"].as_u64() >= Some(1));
    game.edit("charisma * 3 +", &persuasion(3));
    next_sheet(&events, "the problem gone", |s| s["problem"].is_null() && s["generation"] == 2);

    // Failing actors: each row has its error instead of values.
    game.edit(&persuasion(3), &format!("1 / (luck - luck) + {}", persuasion(3)));
    let failing = next_sheet(&events, "failing actors", |s| s["failing"] == 6);
    let row = &failing["actors"][0];
    assert_eq!((row["error"]["kind"].as_str(), row["values"].as_array().map(Vec::len)), (Some("eval"), Some(0)));
    game.edit(&format!("1 / (luck - luck) + {}", persuasion(3)), &persuasion(3));
    next_sheet(&events, "no failing actor", |s| s["failing"] == 0);

    // The input file is watched too.
    let party = std::fs::read_to_string(game.input()).unwrap();
    std::fs::write(game.input(), party.replacen("\"warrior\"", "\"knight\"", 1)).unwrap();
    let input = next_sheet(&events, "the input read again", |s| s["cause"] == "input");
    assert_eq!(input["actors"][0]["key"], "knight");

    // The latency from a save to its event, over 20 saves.
    let mut latencies = Vec::new();
    for (i, factor) in (4..24).enumerate() {
        let saved = Instant::now();
        game.edit(&persuasion(factor - 1), &persuasion(factor));
        next_sheet(&events, &format!("generation {}", 5 + i), generation(5 + i as u64));
        latencies.push(saved.elapsed());
    }
    latencies.sort();
    eprintln!(
        "serve: from a rule save to its event at the client over {} saves: median {:.1} ms (min {:.1}, max {:.1})",
        latencies.len(),
        latencies[latencies.len() / 2].as_secs_f64() * 1e3,
        latencies[0].as_secs_f64() * 1e3,
        latencies[latencies.len() - 1].as_secs_f64() * 1e3
    );
    let log = server.log();
    assert!(log.iter().any(|l| l.contains("ms from the file event to the page")), "{log:#?}");
}

/// Headless Chromium, driven over the DevTools Protocol; killed on drop.
struct Chromium {
    child: Child,
    ws: tungstenite::WebSocket<tungstenite::stream::MaybeTlsStream<TcpStream>>,
    session: String,
    next_id: u64,
    profile: PathBuf,
}

/// The Chromium to drive: `$CHROMIUM`, or the first of the usual names on the `PATH`.
fn find_chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    let names = ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome"];
    names.iter().flat_map(|n| std::env::split_paths(&path).map(move |d| d.join(n))).find(|p| p.is_file())
}

impl Chromium {
    fn launch(exe: &Path, width: u32, height: u32) -> Chromium {
        let profile = std::env::temp_dir().join(format!("actorc-chromium-profile-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&profile);
        let mut child = Command::new(exe)
            .args(["--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run"])
            .args(["--no-default-browser-check", "--disable-extensions", "--remote-debugging-port=0", "--lang=en-US"])
            .arg(format!("--window-size={width},{height}"))
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", exe.display()));
        let lines = lines_of(child.stderr.take().unwrap());
        let deadline = Instant::now() + Duration::from_secs(30);
        let ws_url = loop {
            match lines.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(line) => {
                    if let Some(url) = line.strip_prefix("DevTools listening on ") {
                        break url.trim().to_string();
                    }
                }
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!("{} gave no DevTools address", exe.display());
                }
            }
        };
        // Its later messages are not needed; reading them keeps its pipe from filling.
        std::thread::spawn(move || for _ in lines {});
        let (ws, _) = tungstenite::connect(ws_url.as_str()).unwrap();
        if let tungstenite::stream::MaybeTlsStream::Plain(s) = ws.get_ref() {
            s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        }
        let mut c = Chromium { child, ws, session: String::new(), next_id: 0, profile };
        let target = c.call("Target.createTarget", serde_json::json!({ "url": "about:blank" }));
        let attached =
            c.call("Target.attachToTarget", serde_json::json!({ "targetId": target["targetId"], "flatten": true }));
        c.session = attached["sessionId"].as_str().unwrap().to_string();
        let size = serde_json::json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": false });
        c.call("Emulation.setDeviceMetricsOverride", size);
        c
    }

    /// Calls a DevTools method (on the page, once attached) and returns its result.
    fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut message = serde_json::json!({ "id": id, "method": method, "params": params });
        if !self.session.is_empty() {
            message["sessionId"] = Value::from(self.session.clone());
        }
        self.ws.send(tungstenite::Message::Text(message.to_string().into())).unwrap();
        loop {
            let tungstenite::Message::Text(text) = self.ws.read().unwrap() else { continue };
            let answer: Value = serde_json::from_str(text.as_str()).unwrap();
            if answer["id"] == id {
                assert!(answer["error"].is_null(), "{method}: {}", answer["error"]);
                return answer["result"].clone();
            }
        }
    }

    /// The value of a JavaScript expression in the page (promises awaited).
    fn eval(&mut self, expression: &str) -> Value {
        let params = serde_json::json!({ "expression": expression, "returnByValue": true, "awaitPromise": true });
        let r = self.call("Runtime.evaluate", params);
        assert!(r["exceptionDetails"].is_null(), "{expression}: {}", r["exceptionDetails"]);
        r["result"]["value"].clone()
    }

    /// Polls `expression` until it is true, within [`UPDATE_BOUND`]; how long that took.
    fn wait_for(&mut self, what: &str, expression: &str) -> Duration {
        let start = Instant::now();
        // False, not an error, while the page is still loading.
        let guarded = format!("(() => {{ try {{ return !!({expression}); }} catch (_) {{ return false; }} }})()");
        while self.eval(&guarded) != Value::Bool(true) {
            assert!(start.elapsed() < UPDATE_BOUND, "no {what} within {UPDATE_BOUND:?}");
            std::thread::sleep(Duration::from_millis(25));
        }
        start.elapsed()
    }

    /// Sets the text of the input `id` as typing does.
    fn type_into(&mut self, id: &str, text: &str) {
        let script = format!(
            "(() => {{ const e = document.getElementById('{id}'); e.value = {}; e.dispatchEvent(new Event('input')); }})()",
            Value::from(text)
        );
        self.eval(&script);
    }

    fn screenshot(&mut self, path: &Path) {
        let shot = self.call("Page.captureScreenshot", serde_json::json!({ "format": "png" }));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, base64(shot["data"].as_str().unwrap())).unwrap();
    }
}

impl Drop for Chromium {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// Decodes standard base64 (what DevTools sends a screenshot as).
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
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    for chunk in digits.chunks(4) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, &d)| n | (u32::from(d) << (18 - 6 * i)));
        out.extend_from_slice(&n.to_be_bytes()[1..chunk.len()]);
    }
    out
}

/// Where the test keeps what it shows: `target/test-artifacts/`.
fn artifact(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-artifacts").join(name)
}

/// A cell's `data-v` (its exact value) in the page, by actor and stat.
fn cell_values(page: &mut Chromium) -> Value {
    let script = r#"JSON.stringify(Object.fromEntries([...document.querySelectorAll('#sheet tbody tr')].map(tr =>
        [tr.dataset.actor, Object.fromEntries([...tr.querySelectorAll('td[data-stat]')].map(td =>
            [td.dataset.stat, td.dataset.v === undefined ? null : Number(td.dataset.v)]))])))"#;
    serde_json::from_str(page.eval(script).as_str().unwrap()).unwrap()
}

#[test]
fn serve_in_chromium() {
    let Some(exe) = find_chromium() else {
        let message = "Chromium not found (install the `chromium` package, or set CHROMIUM to its path)";
        assert!(std::env::var_os("CI").is_none(), "{message}: CI must run the browser test");
        eprintln!("skipped serve_in_chromium: {message}");
        return;
    };
    let game = Game::new("chromium");
    let server = game.serve();
    let mut page = Chromium::launch(&exe, 1400, 800);
    page.call("Page.navigate", serde_json::json!({ "url": server.url() }));
    page.wait_for("the first sheet", "document.body.dataset.generation === '1'");

    // The table holds every actor, with `actorc run`'s values.
    let stats = "persuasion,damage,fire_damage,strength";
    let want = game.run_values(stats);
    let cells = cell_values(&mut page);
    let actors = page.eval("[...document.querySelectorAll('#sheet tbody tr')].map(tr => tr.dataset.actor).join()");
    assert_eq!(actors, want.iter().map(|(id, _)| id.as_str()).collect::<Vec<_>>().join(","));
    for (id, values) in &want {
        for stat in stats.split(',') {
            let shown = cells[id][stat].as_f64().unwrap_or(0.0);
            assert_eq!(shown, values[stat].as_f64().unwrap(), "{id} {stat}");
        }
    }
    // Numbers are shown rounded, with the exact value in the title.
    let text = page.eval("document.querySelector('tr[data-actor=warrior] td[data-stat=damage]').textContent");
    assert_eq!(text, "438.8");
    assert_eq!(page.eval("document.querySelectorAll('td.changed').length"), 0);

    // An edit of a rule: the changed cells update and are highlighted.
    let saved = Instant::now();
    game.edit(PERSUASION, &persuasion(3));
    page.wait_for("generation 2", "document.body.dataset.generation === '2'");
    let latency = saved.elapsed();
    assert!(latency < UPDATE_BOUND, "{latency:?}");
    eprintln!("serve_in_chromium: the page showed the edit {:.0} ms after the save", latency.as_secs_f64() * 1e3);
    let want = game.run_values("persuasion");
    let cells = cell_values(&mut page);
    for (id, values) in &want {
        assert_eq!(cells[id]["persuasion"].as_f64(), values["persuasion"].as_f64(), "{id}");
    }
    let highlighted = page.eval("[...document.querySelectorAll('td.changed')].map(td => td.dataset.stat).join()");
    assert_eq!(highlighted, "persuasion,persuasion,persuasion,persuasion,persuasion");
    let status = page.eval("document.querySelector('.status').textContent");
    assert!(status.as_str().unwrap().contains("generation 2"), "{status}");

    // A click on a cell opens its explanation.
    page.eval("document.querySelector('tr[data-actor=mage] td[data-stat=fire_damage]').click()");
    page.wait_for(
        "the explanation",
        "document.getElementById('explain-text').textContent.startsWith('fire_damage of actor `mage` = 550')",
    );
    page.screenshot(&artifact("serve-explain.png"));
    page.eval("document.getElementById('explain-close').click()");

    // A broken save: the diagnostics show, and the values stay.
    game.edit(&persuasion(3), "charisma * 3 +");
    page.wait_for("the diagnostics", "!document.getElementById('problem').hidden");
    let problem = page.eval("document.getElementById('problem').textContent");
    assert!(problem.as_str().unwrap().contains("progression.stat:"), "{problem}");
    assert_eq!(cell_values(&mut page)["mage"]["persuasion"].as_f64(), want[1].1["persuasion"].as_f64());
    game.edit("charisma * 3 +", &persuasion(3));
    page.wait_for("the diagnostics gone", "document.getElementById('problem').hidden");

    // Filters and the column picker.
    page.type_into("stat-filter", "damage");
    let columns = page.eval("[...document.querySelectorAll('#sheet thead th.stat')].map(th => th.textContent).join()");
    assert!(columns.as_str().unwrap().split(',').all(|c| c.contains("damage")), "{columns}");
    page.type_into("stat-filter", "");
    page.eval("document.querySelector('[data-pick=primary]').click()");
    let derived = page.eval("document.querySelectorAll('#sheet thead th.derived').length");
    assert_eq!(derived, 0);
    page.eval("document.querySelector('[data-pick=all]').click()");
    page.type_into("actor-filter", "mage");
    assert_eq!(page.eval("document.querySelectorAll('#sheet tbody tr').length"), 1);
    page.type_into("actor-filter", "");

    // What the README shows: a few columns just after an edit, and an explanation.
    game.edit(&persuasion(3), &persuasion(4));
    page.wait_for("generation 3", "document.body.dataset.generation === '3'");
    page.type_into("stat-filter", "level hp_max mp_max charisma luck persuasion fire_damage");
    page.eval("document.querySelector('tr[data-actor=mage] td[data-stat=persuasion]').click()");
    page.wait_for(
        "the explanation",
        "document.getElementById('explain-text').textContent.startsWith('persuasion of actor')",
    );
    std::thread::sleep(Duration::from_millis(500));
    let size = serde_json::json!({ "width": 1400, "height": 520, "deviceScaleFactor": 1, "mobile": false });
    page.call("Emulation.setDeviceMetricsOverride", size);
    page.screenshot(&artifact("serve.png"));
}
