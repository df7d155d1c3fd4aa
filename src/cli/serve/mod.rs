//! `actorc serve`: a live stat sheet in the browser. The rules are watched by the reload
//! core's watcher and evaluated through the same [`Session`] and result cache as
//! `run --watch`; the input file is watched too. Each evaluation becomes a [`Sheet`]
//! revision, serialized once and pushed to every open page as a server-sent event.
//!
//! Threads: this one owns the session and answers explanations (so an explanation reads
//! the actor the sheet shows, under the generation of its values); the rules watcher and
//! the input watcher send it what changed; `http` serves the page and the events.

mod http;
mod sheet;

use super::run::{EngineArg, InputLimitArgs};
use super::{Exit, LimitArgs, print_diagnostics, shown, usage_error};
use crate::cache::{Cache, Keep};
use crate::diag;
use crate::explain::{self, ExplainError};
use crate::input::InputLimits;
use crate::reload::{Generation, Outcome, Reloader, WatchReport, WatchTiming, watch};
use crate::run::{ChangeFormat, DocumentReader, InputForm, Pass, Session, SessionOptions, Source};
use http::{Access, Response};
use sheet::{Cause, Problem, Sheet, columns, mark_changes, rows};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, Sender, SyncSender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(clap::Args, Debug)]
pub(super) struct ServeArgs {
    /// The rule set: .stat files and folders, loaded together (and watched).
    #[arg(default_value = "rules")]
    rules: Vec<PathBuf>,
    /// Actors: a JSON file (one actor) or an NDJSON file (one per line); watched too.
    #[arg(long, short)]
    input: PathBuf,
    /// Where to listen (port 0 picks a free one); a loopback address unless --allow-remote.
    #[arg(long, default_value = "127.0.0.1:7878")]
    addr: SocketAddr,
    /// Listen on an address other machines can reach, and answer any Host: the sheet has no
    /// login, so anyone who can reach it reads the rules' values.
    #[arg(long)]
    allow_remote: bool,
    #[arg(long, value_enum, default_value_t = EngineArg::Jit)]
    engine: EngineArg,
    /// Actors kept in the result cache.
    #[arg(long, default_value_t = 100_000)]
    cache_capacity: usize,
    #[command(flatten)]
    limits: LimitArgs,
    #[command(flatten)]
    input_limits: InputLimitArgs,
}

/// What the serving thread is told.
enum Event {
    Rules(WatchReport),
    /// The input file changed; when its first event came.
    Input(Instant),
    /// An explanation asked for by a page.
    Explain(Query, Sender<Response>),
}

/// What the HTTP threads share with the serving thread: the current sheet, the open event
/// streams, and the way to ask for an explanation.
struct Hub {
    sheet: Mutex<Arc<str>>,
    streams: Mutex<Vec<SyncSender<Arc<str>>>>,
    events: Mutex<Sender<Event>>,
}

/// Revisions an event stream may fall behind before it is closed (the page reconnects and
/// gets the latest).
const STREAM_BACKLOG: usize = 8;

impl Hub {
    /// The current sheet's JSON.
    fn sheet(&self) -> Arc<str> {
        self.sheet.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The current sheet and the revisions after it.
    fn subscribe(&self) -> (Arc<str>, Receiver<Arc<str>>) {
        let (tx, rx) = std::sync::mpsc::sync_channel(STREAM_BACKLOG);
        let mut streams = self.streams.lock().unwrap_or_else(|e| e.into_inner());
        streams.push(tx);
        (self.sheet(), rx)
    }

    fn publish(&self, json: String) {
        let json: Arc<str> = json.into();
        *self.sheet.lock().unwrap_or_else(|e| e.into_inner()) = json.clone();
        // A stream that is gone or too far behind is dropped, which ends it.
        self.streams.lock().unwrap_or_else(|e| e.into_inner()).retain(|s| s.try_send(json.clone()).is_ok());
    }

    /// Asks the serving thread for an explanation and waits for it.
    fn explain(&self, query: Query) -> Response {
        let (tx, rx) = std::sync::mpsc::channel();
        let sent = self.events.lock().unwrap_or_else(|e| e.into_inner()).send(Event::Explain(query, tx));
        match sent.ok().and_then(|()| rx.recv_timeout(Duration::from_secs(30)).ok()) {
            Some(r) => r,
            None => Response::json_error(503, "the server is busy; try again"),
        }
    }
}

/// `/api/explain`'s query: `actor=KEY&stat=NAME`, and `row=N` to pick one of several
/// actors with the same id.
#[derive(Debug, PartialEq)]
struct Query {
    actor: String,
    stat: String,
    row: Option<usize>,
}

impl Query {
    fn parse(query: &str) -> Result<Query, String> {
        let (mut actor, mut stat, mut row) = (None, None, None);
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = percent_decode(value).ok_or_else(|| format!("`{key}` is not percent-encoded UTF-8"))?;
            match key {
                "actor" => actor = actor.or(Some(value)),
                "stat" => stat = stat.or(Some(value)),
                "row" => {
                    row = row.or(Some(value.parse::<usize>().map_err(|_| format!("row `{value}` is not a number"))?))
                }
                _ => {}
            }
        }
        match (actor, stat) {
            (Some(actor), Some(stat)) => Ok(Query { actor, stat, row }),
            _ => Err("give actor=ID and stat=NAME".into()),
        }
    }
}

/// `%XX` escapes and `+` decoded; `None` for a bad escape or text that is not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let (bytes, mut out, mut i) = (s.as_bytes(), Vec::with_capacity(s.len()), 0);
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes.get(i + 1..i + 3).filter(|h| h.iter().all(u8::is_ascii_hexdigit))?;
                out.push(u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

pub(super) fn serve(a: ServeArgs) -> Exit {
    if !a.addr.ip().is_loopback() && !a.allow_remote {
        return Err(usage_error(&format!(
            "{} can be reached from other machines, and the sheet has no login; serve on a loopback \
             address (127.0.0.1) or pass --allow-remote",
            a.addr
        )));
    }
    if a.input.as_os_str() == "-" || !a.input.is_file() {
        return Err(usage_error(&format!("--input {} must be a file (it is watched)", a.input.display())));
    }
    let reloader = Arc::new(Reloader::new(a.rules.clone(), a.limits.options(), a.engine.backend()));
    let (tx, rx) = std::sync::mpsc::channel();
    let hub = Arc::new(Hub {
        sheet: Mutex::new(Arc::from("{}")),
        streams: Mutex::new(Vec::new()),
        events: Mutex::new(tx.clone()),
    });
    let mut s = Serving {
        rules: a.rules.iter().map(|p| p.display().to_string()).collect(),
        input: a.input.clone(),
        limits: a.input_limits.limits(),
        cache_capacity: a.cache_capacity,
        error_limit: a.limits.error_limit,
        reloader: reloader.clone(),
        generation: None,
        session: None,
        sheet: None,
        hub: hub.clone(),
    };
    s.start().map_err(|e| usage_error(&e))?;
    let listener = TcpListener::bind(a.addr).map_err(|e| usage_error(&format!("cannot listen on {}: {e}", a.addr)))?;
    let addr = listener.local_addr().map_err(|e| usage_error(&e.to_string()))?;
    let rules_tx = tx.clone();
    let _rules = watch(reloader, WatchTiming::default(), move |r| {
        let _ = rules_tx.send(Event::Rules(r));
    })
    .map_err(|e| usage_error(&e))?;
    let _input = watch_input(&a.input, tx).map_err(|e| usage_error(&e))?;
    let access = Access { addr, any_host: a.allow_remote };
    std::thread::Builder::new()
        .name("actorc-accept".into())
        .spawn(move || http::serve(listener, access, hub))
        .map_err(|e| usage_error(&format!("cannot start the server: {e}")))?;
    errln!("serving the sheet at http://{addr}/ (Ctrl-C to stop)");
    while let Ok(event) = rx.recv() {
        match event {
            Event::Rules(report) => s.rules_changed(report),
            Event::Input(at) => s.input_changed(at),
            Event::Explain(query, reply) => {
                let _ = reply.send(s.explain(&query));
            }
        }
    }
    Ok(0)
}

/// The serving thread's state.
struct Serving {
    rules: Vec<String>,
    input: PathBuf,
    limits: InputLimits,
    cache_capacity: usize,
    error_limit: usize,
    reloader: Arc<Reloader>,
    /// The generation of the sheet's values.
    generation: Option<Arc<Generation>>,
    /// `None` only while starting.
    session: Option<Session>,
    /// The last sheet published.
    sheet: Option<Sheet>,
    hub: Arc<Hub>,
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e4).round() / 10.0
}

impl Serving {
    /// Builds the first generation, reads the input and publishes the first sheet.
    fn start(&mut self) -> Result<(), String> {
        let problem = match self.reloader.reload() {
            Outcome::Published { generation, took } => {
                self.print_warnings(&generation);
                errln!("generation {} serving (built in {:.1} ms)", generation.number, ms(took));
                self.generation = Some(generation);
                None
            }
            Outcome::Rejected { sources, diagnostics } => Some(self.rejected(&sources, &diagnostics)),
            Outcome::Io(e) => Some(Problem::message(format!("{e}"))),
            Outcome::Unchanged { .. } => None,
        };
        self.session = Some(self.read_input()?);
        self.evaluated(Cause::Start, None);
        if let Some(p) = problem {
            self.trouble(Cause::Start, p, None);
        }
        Ok(())
    }

    /// A new session over the input file, read (and evaluated, when rules serve).
    fn read_input(&self) -> Result<Session, String> {
        let cannot = |e: &dyn std::fmt::Display| format!("cannot read {}: {e}", self.input.display());
        // Opened before the input is read, so both are the same file.
        let source = Source::of_path(&self.input);
        let file = std::fs::File::open(&self.input).map_err(|e| cannot(&e))?;
        let reader = std::io::BufReader::with_capacity(1 << 16, file);
        let docs = DocumentReader::new(reader, InputForm::of_path(&self.input), self.limits.max_line_bytes)
            .map_err(|e| cannot(&e))?;
        let opts =
            SessionOptions { limits: self.limits, remember: true, format: ChangeFormat::Records, values: Vec::new() };
        let mut session = Session::new(source, Cache::keeping(self.cache_capacity, Keep::Prepared), opts);
        session.read(docs, self.generation.as_deref(), &mut std::io::sink()).map_err(|e| cannot(&e))?;
        Ok(session)
    }

    fn rules_changed(&mut self, report: WatchReport) {
        let (outcome, event) = match report {
            WatchReport::Gone(path) => {
                let message = format!("{} is gone; the last good rules keep serving", path.display());
                errln!("warning: {message}");
                return self.trouble(Cause::Rules, Problem::message(message), None);
            }
            WatchReport::Back(path) => {
                errln!("{} is back; the rules are read from it again", path.display());
                return;
            }
            WatchReport::Rebuilt { outcome, event } => (outcome, event),
        };
        match outcome {
            Outcome::Published { generation, took } => {
                self.print_warnings(&generation);
                let evaluation = Instant::now();
                if let Some(session) = &mut self.session {
                    session.refresh(&generation);
                    // The changes are found from the snapshots below; nothing is written.
                    if let Err(e) = session.pass(&generation, Pass::Changes, &mut std::io::sink()) {
                        errln!("error: {e}");
                    }
                }
                self.generation = Some(generation.clone());
                self.evaluated(Cause::Rules, Some(event));
                errln!(
                    "generation {}: {:.1} ms from the file event to the page (build {:.1} ms, evaluation {:.1} ms)",
                    generation.number,
                    ms(event.elapsed()),
                    ms(took),
                    ms(evaluation.elapsed())
                );
            }
            Outcome::Rejected { sources, diagnostics } => {
                let problem = self.rejected(&sources, &diagnostics);
                print_diagnostics(&sources, &diagnostics, false, self.error_limit);
                errln!("rules rejected; the last good rules keep serving");
                self.trouble(Cause::Rules, problem, Some(event));
            }
            Outcome::Io(e) => {
                errln!("error: {e}; the last good rules keep serving");
                self.trouble(Cause::Rules, Problem::message(e.to_string()), Some(event));
            }
            Outcome::Unchanged { serving } => {
                if let Some(sheet) = self.sheet.as_ref().filter(|s| s.problem.is_some()) {
                    errln!("the rules read as generation {serving}'s again; it keeps serving");
                    let mut next = sheet.clone();
                    next.problem = None;
                    self.publish(next, Cause::Rules, Some(event));
                }
            }
        }
    }

    fn input_changed(&mut self, event: Instant) {
        match self.read_input() {
            Ok(session) => {
                self.session = Some(session);
                self.evaluated(Cause::Input, Some(event));
                errln!(
                    "{} read again: {:.1} ms from the file event to the page",
                    self.input.display(),
                    ms(event.elapsed())
                );
            }
            Err(e) => {
                errln!("error: {e}; the last values stay");
                self.trouble(Cause::Input, Problem::message(format!("{e}; the last values stay")), Some(event));
            }
        }
    }

    /// Publishes the session's results as a new sheet, marking what changed.
    fn evaluated(&mut self, cause: Cause, event: Option<Instant>) {
        let stats = self.generation.as_ref().map(|g| columns(&g.rules.ir)).unwrap_or_default();
        let actors = self.session.as_ref().map(|s| rows(s, &stats)).unwrap_or_default();
        let revision = self.sheet.as_ref().map_or(1, |s| s.revision + 1);
        let mut next = Sheet {
            revision,
            values_revision: revision,
            generation: self.generation.as_ref().map(|g| g.number),
            cause,
            latency_ms: None,
            rules: self.rules.clone(),
            input: self.input.display().to_string(),
            failing: actors.iter().filter(|a| a.error.is_some()).count(),
            stats,
            actors,
            problem: None,
        };
        if let Some(prev) = &self.sheet {
            mark_changes(prev, &mut next);
        }
        self.publish(next, cause, event);
    }

    /// Publishes the last values again with a problem.
    fn trouble(&mut self, cause: Cause, problem: Problem, event: Option<Instant>) {
        let Some(mut next) = self.sheet.clone() else { return };
        next.problem = Some(problem);
        self.publish(next, cause, event);
    }

    fn publish(&mut self, mut sheet: Sheet, cause: Cause, event: Option<Instant>) {
        sheet.revision = self.sheet.as_ref().map_or(1, |s| s.revision + 1);
        sheet.cause = cause;
        sheet.latency_ms = event.map(|e| ms(e.elapsed()));
        match serde_json::to_string(&sheet) {
            Ok(json) => self.hub.publish(json),
            Err(e) => errln!("error: cannot serialize the sheet: {e}"),
        }
        self.sheet = Some(sheet);
    }

    /// The problem of rules that do not check.
    fn rejected(&self, sources: &crate::source::SourceMap, diagnostics: &[crate::Diagnostic]) -> Problem {
        let diagnostics = &diagnostics[..shown(diagnostics, self.error_limit)];
        Problem {
            title: "The rules do not check; the last good rules keep serving".into(),
            text: diag::render_plain(sources, diagnostics),
            diagnostics: diag::to_json(sources, diagnostics),
            errors: diagnostics.iter().filter(|d| d.is_error()).count(),
        }
    }

    fn print_warnings(&self, g: &Generation) {
        if !g.rules.warnings.is_empty() {
            print_diagnostics(&g.rules.sources, &g.rules.warnings, false, self.error_limit);
        }
    }

    /// The explanation of one cell: the actor's document read again, evaluated by the
    /// interpreter under the generation of the sheet's values.
    fn explain(&self, q: &Query) -> Response {
        let (Some(g), Some(session)) = (&self.generation, &self.session) else {
            return Response::json_error(503, "no rules serve yet");
        };
        let key = |id: Option<&str>, line: Option<usize>| {
            id.map_or_else(|| format!("line {}", line.unwrap_or(1)), String::from)
        };
        let mut matching = session.actors().enumerate().filter(|(_, a)| key(a.id, a.line) == q.actor).map(|(i, _)| i);
        let first = matching.next();
        let Some(row) = q.row.filter(|r| Some(*r) == first || matching.any(|i| i == *r)).or(first) else {
            return Response::json_error(404, &format!("no actor `{}`", q.actor));
        };
        let text = match session.document(row) {
            Ok(t) => t,
            Err(e) => return Response::json_error(409, &format!("cannot read actor `{}` again: {e}", q.actor)),
        };
        let actor = match std::str::from_utf8(&text)
            .map_err(|_| "its document is not UTF-8".to_string())
            .and_then(|t| crate::input::parse_actor_limited(t, &self.limits).map_err(|e| e.to_string()))
        {
            Ok(a) => a,
            Err(e) => return Response::json_error(422, &e),
        };
        let e = match explain::explain(&g.rules, &actor, &q.stat) {
            Ok((e, _)) => e,
            Err(ExplainError::Eval(e)) => *e,
            Err(e @ ExplainError::UnknownStat(_)) => return Response::json_error(404, &e.to_string()),
            Err(e) => return Response::json_error(422, &e.to_string()),
        };
        let body = serde_json::json!({
            "actor": q.actor,
            "row": row,
            "stat": q.stat,
            "generation": g.number,
            "text": explain::render(&e),
            "explanation": e,
        });
        Response::new(200, "application/json", body.to_string())
    }
}

impl Problem {
    fn message(message: String) -> Problem {
        Problem { title: message.clone(), text: message, diagnostics: serde_json::Value::Array(Vec::new()), errors: 1 }
    }
}

/// Watches the input file (its folder, for editors that replace the file) and sends
/// [`Event::Input`] once no event came for a quiet period. Dropping the watcher ends it.
fn watch_input(path: &Path, events: Sender<Event>) -> Result<notify::RecommendedWatcher, String> {
    use notify::Watcher;
    const QUIET: Duration = Duration::from_millis(50);
    const MAX_WAIT: Duration = Duration::from_secs(2);
    let name = path.file_name().map(|n| n.to_os_string()).ok_or("the input has no file name")?;
    let dir = match path.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(d) => d.to_path_buf(),
        None => PathBuf::from("."),
    };
    let (tx, rx) = std::sync::mpsc::channel::<Instant>();
    let mut watcher = notify::recommended_watcher(move |e: notify::Result<notify::Event>| {
        let ours = e.is_ok_and(|e| {
            !matches!(e.kind, notify::EventKind::Access(_))
                && e.paths.iter().any(|p| p.file_name() == Some(name.as_os_str()))
        });
        if ours {
            let _ = tx.send(Instant::now());
        }
    })
    .map_err(|e| e.to_string())?;
    watcher
        .watch(&dir, notify::RecursiveMode::NonRecursive)
        .map_err(|e| format!("cannot watch {}: {e}", dir.display()))?;
    std::thread::Builder::new()
        .name("actorc-input".into())
        .spawn(move || {
            while let Ok(first) = rx.recv() {
                while first.elapsed() < MAX_WAIT && rx.recv_timeout(QUIET).is_ok() {}
                if events.send(Event::Input(first)).is_err() {
                    return;
                }
            }
        })
        .map_err(|e| format!("cannot watch the input: {e}"))?;
    Ok(watcher)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_percent_decoded() {
        let q = Query::parse("actor=line%201&stat=fire_damage&row=3&x=1").unwrap();
        assert_eq!(q, Query { actor: "line 1".into(), stat: "fire_damage".into(), row: Some(3) });
        assert_eq!(Query::parse("actor=a+b&stat=s&actor=c").unwrap().actor, "a b");
        for bad in
            ["actor=%zz&stat=s", "actor=%e9&stat=s", "actor=%+1&stat=s", "actor=a&stat=s&row=-1", "actor=a", "", "%"]
        {
            assert!(Query::parse(bad).is_err(), "{bad}");
        }
    }
}
