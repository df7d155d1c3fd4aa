//! The state of `run --watch` and `--stats`: a [`Session`] evaluates the actors of one
//! input through a result cache under each generation, writing every record, or only what
//! changed since the last pass, as lines for people or as NDJSON records ([`ChangeFormat`]).
//!
//! Memory: the input is read in chunks, as `run` reads it, and `--stats` keeps nothing per
//! actor but the cache's entry. Remembering (`--watch`) keeps per actor only its place in the
//! input, its input hash and its last result (shared with the cache, which keeps the
//! prepared form that [`Cache::refresh`] needs); an actor the cache cannot answer for (the
//! rules changed structure, the actor was evicted) is read again from its [`Source`]. What
//! changed is found by comparing snapshots ([`changes`]), never re-parsed records.

use super::evaluate::RunError;
use super::read::{Document, DocumentReader, at_line, parse_document};
use super::record::{Record, Selection, Values, ValuesRecord, select_known};
use crate::cache::{Cache, Shared, text_hash};
use crate::engine::{ActorError, Engine};
use crate::ingest::Prepared;
use crate::input::{InputError, InputLimits};
use crate::reload::Generation;
use crate::snapshot::{Snapshot, StatChange, changes};
use rayon::prelude::*;
use serde::Serialize;
use std::io::{self, BufRead, Read, Seek, Write};
use std::path::Path;
use std::sync::Arc;

/// Documents per chunk: parsed and hashed in parallel, then evaluated in order.
const CHUNK: usize = 256;

/// Bytes of text per chunk (or the line limit, when it is larger), as `run` reads.
const CHUNK_BYTES: usize = 32 << 20;

/// Where a [`Session`] finds an actor's document again.
pub enum Source {
    /// The input file, kept open: a document is read again where it was.
    File(std::fs::File),
    /// Standard input or another stream, which cannot be read twice: a remembering session
    /// keeps its documents' text.
    Memory(Vec<u8>),
}

impl Source {
    /// The input `path` opened once more when it is a regular file, else [`Source::Memory`].
    pub fn of_path(path: &Path) -> Source {
        if path.as_os_str() != "-"
            && std::fs::metadata(path).is_ok_and(|m| m.is_file())
            && let Ok(f) = std::fs::File::open(path)
        {
            return Source::File(f);
        }
        Source::Memory(Vec::new())
    }

    /// `len` bytes at `at`.
    fn read(&self, at: u64, len: u64) -> io::Result<Vec<u8>> {
        let short = || io::Error::new(io::ErrorKind::UnexpectedEof, "the input is shorter than when it was read");
        match self {
            Source::File(f) => {
                let mut f = f;
                f.seek(io::SeekFrom::Start(at))?;
                let mut bytes = Vec::with_capacity(len.min(1 << 24) as usize);
                f.take(len).read_to_end(&mut bytes)?;
                if bytes.len() as u64 != len {
                    return Err(short());
                }
                Ok(bytes)
            }
            Source::Memory(m) => Ok(m.get(at as usize..(at + len) as usize).ok_or_else(short)?.to_vec()),
        }
    }
}

/// An actor a [`Session`] remembers: where its document is, not the document.
struct SessionActor {
    /// Its id as written; an actor without one is cached under its line (`line 1` for one
    /// document), since the cache is keyed by id, and its records still say it has none.
    id: Option<Box<str>>,
    /// Its NDJSON line.
    line: Option<usize>,
    /// Where its document is in the [`Source`], and its length.
    at: u64,
    len: u64,
    /// The hash of its text; `None` for a document that does not parse, whose error (in
    /// `last`) no rule change can change.
    hash: Option<u128>,
    /// Its last result, shared with the cache; `None` until it is first evaluated.
    last: Option<Shared>,
    /// While it fails, its last success, which its changes are written against when it
    /// no longer fails.
    last_ok: Option<Shared>,
}

impl SessionActor {
    /// Its key in the cache.
    fn key(&self) -> std::borrow::Cow<'_, str> {
        match &self.id {
            Some(id) => id.as_ref().into(),
            None => line_key(self.line).into(),
        }
    }
}

/// The cache key of an actor without an id.
fn line_key(line: Option<usize>) -> String {
    format!("line {}", line.unwrap_or(1))
}

/// A remembered actor of a [`Session`], as [`Session::actors`] shows it.
#[derive(Debug, Clone, Copy)]
pub struct SessionActorView<'a> {
    /// Its id as written.
    pub id: Option<&'a str>,
    /// Its NDJSON line.
    pub line: Option<usize>,
    /// Its last result; `None` until it is first evaluated.
    pub result: Option<&'a Shared>,
}

/// A document as a [`Session`] takes it.
enum Taken {
    /// It does not parse (or is over the limit): its error is for good.
    Bad(InputError),
    /// An actor: its id as written, the hash of its text, and, under a generation, its
    /// ingested form or the input error ingest found.
    Actor { id: Option<String>, hash: u128, prepared: Option<Result<Prepared, InputError>> },
}

/// Takes the document `body` (an NDJSON line without its newline, or a whole document) as
/// `run` does: straight from its text when it is the plain form of a valid actor, else
/// parsed, then ingested by `engine` when there is one.
fn take(engine: Option<&Engine>, limits: &InputLimits, line: Option<usize>, body: &[u8]) -> Taken {
    let hash = text_hash(body);
    if let Some(engine) = engine
        && let Ok(text) = std::str::from_utf8(body)
        && let Some((id, prepared)) = engine.prepare_json(text, limits)
    {
        return Taken::Actor { id, hash, prepared: Some(Ok(prepared)) };
    }
    match parse_document(limits, line, body) {
        Ok(actor) => Taken::Actor { id: actor.id.clone(), hash, prepared: engine.map(|e| e.prepare(&actor)) },
        Err(e) => Taken::Bad(e),
    }
}

/// The bytes of `doc` that are parsed: an NDJSON line without its newline, or all of them.
fn body(doc: &Document) -> &[u8] {
    if doc.line.is_some() { doc.trimmed(false) } else { &doc.bytes }
}

/// `result` with an input error found by ingest in the cache placed on its line, as `run` says it.
fn placed(result: Shared, line: Option<usize>) -> Shared {
    match result.as_ref() {
        Err(ActorError::Input(e)) if line.is_some() => {
            Arc::new(Err(ActorError::from(at_line(InputError::clone(e), line))))
        }
        _ => result,
    }
}

fn failure(e: InputError) -> Shared {
    Arc::new(Err(ActorError::from(e)))
}

/// What a [`Session`] pass writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pass {
    /// Every actor's [`Record`] (or, with `--values`, its [`ValuesRecord`]).
    All,
    /// What changed since the previous pass, in the session's [`ChangeFormat`].
    Changes,
}

/// How a [`Pass::Changes`] is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeFormat {
    /// Lines for a terminal: `id stat: old → new` (`id stat (range): …` for `CapsUsed`),
    /// `id: fails: why` once when an actor starts failing, `id: no longer fails`.
    Text,
    /// NDJSON records, each with the generation and the actor's id: `{"stat", "old",
    /// "new"}` for a value, `{"caps_used", "old", "new"}` for a range, `{"error"}` when an
    /// actor starts failing (`"error": null` when it no longer fails).
    Records,
}

/// How a [`Session`] reads and writes.
#[derive(Debug, Clone)]
pub struct SessionOptions {
    pub limits: InputLimits,
    /// Keep what the next passes need (`--watch`); else only read and evaluate (`--stats`).
    pub remember: bool,
    pub format: ChangeFormat,
    /// `--values`: the stats written, by name (empty: whole snapshots).
    pub values: Vec<String>,
}

/// The state of `run --watch` (and `--stats`): the actors of one input, evaluated through a
/// result cache under each generation, and (when remembering) where to find each again.
pub struct Session {
    actors: Vec<SessionActor>,
    source: Source,
    cache: Cache,
    opts: SessionOptions,
}

impl Session {
    pub fn new(source: Source, cache: Cache, opts: SessionOptions) -> Session {
        Session { actors: Vec::new(), source, cache, opts }
    }

    pub fn cache(&self) -> &Cache {
        &self.cache
    }

    /// Brings the cached actors to generation `g` (see [`Cache::refresh`]).
    pub fn refresh(&mut self, g: &Generation) -> usize {
        self.cache.refresh(g)
    }

    /// Reads every actor of `docs` in chunks. Under generation `g` each is evaluated and its
    /// record written to `out` (then flushed); without one (rules broken from the start) the
    /// actors are only read, for a later [`Pass::All`]. Returns how many actors failed.
    pub fn read<R: BufRead>(
        &mut self,
        mut docs: DocumentReader<R>,
        g: Option<&Generation>,
        out: &mut dyn Write,
    ) -> Result<usize, RunError> {
        let selection = g.map(|g| self.selection(g));
        let chunk_bytes = self.opts.limits.max_line_bytes.max(CHUNK_BYTES);
        let (mut chunk, mut spare) = (Vec::with_capacity(CHUNK), Vec::new());
        let mut failed = 0;
        loop {
            spare.extend(chunk.drain(..).map(|(d, _): (Document, u64)| d.bytes).filter(|b| b.capacity() <= 1 << 20));
            let mut bytes = 0;
            while chunk.len() < CHUNK && bytes < chunk_bytes {
                match docs.next_reusing(&mut spare).map_err(|source| RunError::Read { source, start: false })? {
                    Some(doc) => {
                        bytes += doc.bytes.len();
                        chunk.push((doc, docs.last_start()));
                    }
                    None => break,
                }
            }
            if chunk.is_empty() {
                break;
            }
            let (limits, engine) = (&self.opts.limits, g.map(|g| &g.engine));
            let taken: Vec<Taken> = chunk
                .par_iter()
                .map(|(doc, _)| match doc.len > limits.max_line_bytes as u64 {
                    true => Taken::Bad(doc.parse(limits).expect_err("over the limit")),
                    false => take(engine, limits, doc.line, body(doc)),
                })
                .collect();
            for ((doc, start), taken) in chunk.iter().zip(taken) {
                let (id, hash, result) = match taken {
                    Taken::Bad(e) => (e.actor.clone(), None, Some(failure(e))),
                    Taken::Actor { id, hash, prepared } => {
                        let key = id.clone().unwrap_or_else(|| line_key(doc.line));
                        let result = g.zip(prepared).map(|(g, p)| self.cache.evaluate_prepared(g, &key, hash, p));
                        (id, Some(hash), result.map(|r| placed(r, doc.line)))
                    }
                };
                if let (Some(r), Some(selection)) = (&result, &selection) {
                    failed += usize::from(r.is_err());
                    write_record(out, id.as_deref(), r, selection)?;
                }
                if !self.opts.remember {
                    continue;
                }
                let (at, len) = match &mut self.source {
                    Source::File(_) => (*start, body(doc).len() as u64),
                    Source::Memory(m) if hash.is_some() => {
                        m.extend_from_slice(body(doc));
                        ((m.len() - body(doc).len()) as u64, body(doc).len() as u64)
                    }
                    Source::Memory(_) => (0, 0),
                };
                let id = id.map(String::into_boxed_str);
                self.actors.push(SessionActor { id, line: doc.line, at, len, hash, last: result, last_ok: None });
            }
        }
        out.flush().map_err(RunError::Write)?;
        Ok(failed)
    }

    /// Evaluates every remembered actor under `g` and writes what `pass` asks for to `out`,
    /// then flushes it (Ctrl-C ends the process without unwinding). Returns how many actors
    /// fail.
    pub fn pass(&mut self, g: &Generation, pass: Pass, out: &mut dyn Write) -> Result<usize, RunError> {
        let mut results = self.evaluate(g);
        let selection = self.selection(g);
        let mut failed = 0;
        let format = self.opts.format;
        for (actor, new) in self.actors.iter_mut().zip(&mut results) {
            let new = new.take().expect("every actor is evaluated");
            failed += usize::from(new.is_err());
            match (&actor.last, pass) {
                (Some(old), Pass::Changes) => {
                    let label = actor.key();
                    let w =
                        ChangeWriter { out: &mut *out, format, generation: g.number, actor: &*actor, label: &label };
                    w.write(old, actor.last_ok.as_ref(), &new, &selection)?;
                }
                _ => write_record(out, actor.id.as_deref(), &new, &selection)?,
            }
            // Written: remember it (a failed write leaves the rest as they were).
            if new.is_ok() {
                actor.last_ok = None;
            } else if let Some(old) = actor.last.take().filter(|r| r.is_ok()) {
                actor.last_ok = Some(old);
            }
            actor.last = Some(new);
        }
        out.flush().map_err(RunError::Write)?;
        Ok(failed)
    }

    /// How many actors have a value for one of the stats `names` in their last result.
    pub fn using(&self, names: &[String]) -> usize {
        let uses = |s: &Snapshot| names.iter().any(|n| s.get(n).is_some());
        self.actors.iter().filter(|a| a.last.as_deref().is_some_and(|r| r.as_ref().is_ok_and(uses))).count()
    }

    /// The remembered actors in input order, each with its last result.
    pub fn actors(&self) -> impl ExactSizeIterator<Item = SessionActorView<'_>> {
        self.actors.iter().map(|a| SessionActorView { id: a.id.as_deref(), line: a.line, result: a.last.as_ref() })
    }

    /// The text of the `i`th remembered actor's document, read again from the source: an
    /// error when there is no such actor, its document did not parse, or its text changed since.
    pub fn document(&self, i: usize) -> io::Result<Vec<u8>> {
        let a = self.actors.get(i).ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such actor"))?;
        let hash = a.hash.ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "its document does not parse"))?;
        let text = self.source.read(a.at, a.len)?;
        match text_hash(&text) == hash {
            true => Ok(text),
            false => Err(io::Error::new(io::ErrorKind::InvalidData, "the input file changed since it was read")),
        }
    }

    /// Every actor's result under `g`: from the cache when it has it, else read again from
    /// the source (in chunks, parsed in parallel).
    fn evaluate(&mut self, g: &Generation) -> Vec<Option<Shared>> {
        let mut results: Vec<Option<Shared>> = Vec::with_capacity(self.actors.len());
        let mut misses = Vec::new();
        for (i, a) in self.actors.iter().enumerate() {
            results.push(match a.hash {
                None => a.last.clone(),
                Some(hash) => self.cache.cached(g, &a.key(), hash).map(|r| placed(r, a.line)),
            });
            if results[i].is_none() {
                misses.push(i);
            }
        }
        for chunk in misses.chunks(CHUNK) {
            let texts: Vec<_> =
                chunk.iter().map(|&i| self.source.read(self.actors[i].at, self.actors[i].len)).collect();
            let (limits, actors) = (&self.opts.limits, &self.actors);
            let taken: Vec<Result<Taken, InputError>> = (chunk.par_iter().zip(texts))
                .map(|(&i, text)| {
                    let a = &actors[i];
                    let error = |message: String| {
                        let actor = a.id.as_deref().map(String::from);
                        at_line(InputError { actor, subsystem: None, field: String::new(), message }, a.line)
                    };
                    match text {
                        Ok(text) if Some(text_hash(&text)) == a.hash => {
                            Ok(take(Some(&g.engine), limits, a.line, &text))
                        }
                        Ok(_) => Err(error("the input file changed since the watch read it; restart the watch".into())),
                        Err(e) => Err(error(format!("cannot read the input again: {e}"))),
                    }
                })
                .collect();
            for (&i, taken) in chunk.iter().zip(taken) {
                let a = &self.actors[i];
                results[i] = Some(match taken {
                    Ok(Taken::Actor { hash, prepared: Some(p), .. }) => {
                        placed(self.cache.evaluate_prepared(g, &a.key(), hash, p), a.line)
                    }
                    Ok(Taken::Actor { prepared: None, .. }) => unreachable!("taken under a generation"),
                    Ok(Taken::Bad(e)) | Err(e) => failure(e),
                });
            }
        }
        results
    }

    /// The stats of `--values` that `g` has (empty: whole snapshots).
    fn selection(&self, g: &Generation) -> Selection {
        select_known(g.engine.ir(), &self.opts.values)
    }
}

/// Writes an actor's record as `run` does: its snapshot or, with a selection, its values.
fn write_record(
    out: &mut dyn Write,
    id: Option<&str>,
    result: &Result<Snapshot, ActorError>,
    selection: &Selection,
) -> Result<(), RunError> {
    let line = match result {
        Ok(snapshot) if !selection.is_empty() => {
            let mut row = vec![0.0; selection.stats().map(|(s, _)| s.index() + 1).max().unwrap_or(0)];
            for (stat, _) in selection.stats() {
                row[stat.index()] = snapshot.entry(stat).filter(|e| e.has_value()).map_or(0.0, |e| e.value);
            }
            serde_json::to_string(&ValuesRecord { id, values: Values { row: &row, selection } })?
        }
        _ => serde_json::to_string(&Record::new(id, result))?,
    };
    writeln!(out, "{line}").map_err(RunError::Write)
}

/// A range as the snapshot's `CapsUsed` writes it.
#[derive(Serialize, PartialEq)]
struct MinMax {
    #[serde(rename = "Min")]
    min: f64,
    #[serde(rename = "Max")]
    max: f64,
}

/// One record of [`ChangeFormat::Records`].
#[derive(Serialize)]
struct ChangeRecord<'a> {
    generation: u64,
    id: Option<&'a str>,
    /// The input line of an actor without an id.
    #[serde(skip_serializing_if = "Option::is_none")]
    line: Option<usize>,
    #[serde(flatten)]
    what: What<'a>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum What<'a> {
    Value { stat: &'a str, old: Option<f64>, new: Option<f64> },
    Range { caps_used: &'a str, old: Option<MinMax>, new: Option<MinMax> },
    Error { error: Option<&'a ActorError> },
}

/// Writes one actor's changes.
struct ChangeWriter<'a> {
    out: &'a mut dyn Write,
    format: ChangeFormat,
    generation: u64,
    actor: &'a SessionActor,
    /// Its id, or `line N`.
    label: &'a str,
}

impl ChangeWriter<'_> {
    /// What changed from `old` to `new` (from `last_ok`, the last success, when `old`
    /// failed and `new` does not): a line or record per value or range, and one when the
    /// actor starts, keeps (differently) or stops failing.
    fn write(
        mut self,
        old: &Shared,
        last_ok: Option<&Shared>,
        new: &Shared,
        selection: &Selection,
    ) -> Result<(), RunError> {
        let (before, after) = (old.as_ref().as_ref(), new.as_ref().as_ref());
        match (before, after) {
            (_, Err(e)) if before.err() != Some(e) => return self.emit(What::Error { error: Some(e) }),
            (_, Err(_)) => return Ok(()),
            (Err(_), Ok(_)) => self.emit(What::Error { error: None })?,
            (Ok(_), Ok(_)) => {}
        }
        let before = match before {
            Ok(s) => Some(s),
            Err(_) => last_ok.and_then(|r| r.as_ref().as_ref().ok()),
        };
        let after = after.ok();
        if !selection.is_empty() {
            let value = |s: Option<&Snapshot>, name: &str| s.map(|s| s.get(name).unwrap_or(0.0));
            for (_, name) in selection.stats() {
                let (a, b) = (value(before, name), value(after, name));
                if !same_json(a, b) {
                    self.emit(What::Value { stat: name, old: a, new: b })?;
                }
            }
            return Ok(());
        }
        // A stat whose value moved between `Primary` and `Derived` is one change.
        let mut values: Vec<(&str, Option<f64>, Option<f64>)> = Vec::new();
        let mut ranges = Vec::new();
        for change in changes(before, after) {
            match change {
                StatChange::Value { stat, old, new, .. } => match values.iter_mut().find(|v| v.0 == stat) {
                    Some(v) => *v = (stat, v.1.or(old), v.2.or(new)),
                    None => values.push((stat, old, new)),
                },
                StatChange::Range { stat, old, new } => ranges.push((stat, old, new)),
            }
        }
        for (stat, old, new) in values {
            if !same_json(old, new) {
                self.emit(What::Value { stat, old, new })?;
            }
        }
        let range = |r: Option<(f64, f64)>| r.map(|(min, max)| MinMax { min, max });
        for (stat, old, new) in ranges {
            let (old, new) = (range(old), range(new));
            // Equal in JSON (two infinities as null): not a change to report.
            if serde_json::to_value(&old)? != serde_json::to_value(&new)? {
                self.emit(What::Range { caps_used: stat, old, new })?;
            }
        }
        Ok(())
    }

    fn emit(&mut self, what: What) -> Result<(), RunError> {
        let text = match (self.format, &what) {
            (ChangeFormat::Records, _) => serde_json::to_string(&ChangeRecord {
                generation: self.generation,
                id: self.actor.id.as_deref(),
                line: self.actor.line.filter(|_| self.actor.id.is_none()),
                what,
            })?,
            (ChangeFormat::Text, What::Value { stat, old, new }) => {
                format!("{} {stat}: {} → {}", self.label, serde_json::to_string(old)?, serde_json::to_string(new)?)
            }
            (ChangeFormat::Text, What::Range { caps_used, old, new }) => format!(
                "{} {caps_used} (range): {} → {}",
                self.label,
                serde_json::to_string(old)?,
                serde_json::to_string(new)?
            ),
            (ChangeFormat::Text, What::Error { error: Some(e) }) => format!("{}: fails: {e}", self.label),
            (ChangeFormat::Text, What::Error { error: None }) => format!("{}: no longer fails", self.label),
        };
        writeln!(self.out, "{text}").map_err(RunError::Write)
    }
}

/// Whether two values write the same JSON (0 and -0 alike, every non-finite number null).
fn same_json(a: Option<f64>, b: Option<f64>) -> bool {
    let json = |x: Option<f64>| x.filter(|x| x.is_finite());
    json(a) == json(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::Keep;
    use crate::engine::Backend;
    use crate::load::LoadOptions;
    use crate::reload::{Change, Outcome, Reloader};
    use crate::run::InputForm;

    fn options(format: ChangeFormat) -> SessionOptions {
        SessionOptions { limits: InputLimits::default(), remember: true, format, values: Vec::new() }
    }

    /// The example game's rules, published, and a session that has read its party (the
    /// records written are returned).
    fn example_game(opts: SessionOptions) -> (Reloader, Session, String) {
        let r = Reloader::new(vec!["rules/rpg".into()], LoadOptions::default(), Backend::Interpreter);
        assert!(matches!(r.reload(), Outcome::Published { .. }));
        let party = std::fs::read("examples/party.ndjson").unwrap();
        let docs = DocumentReader::new(party.as_slice(), Some(InputForm::Lines), 1 << 20).unwrap();
        let mut session = Session::new(Source::Memory(Vec::new()), Cache::keeping(16, Keep::Prepared), opts);
        let mut out = Vec::new();
        session.read(docs, r.current().as_deref(), &mut out).unwrap();
        (r, session, String::from_utf8(out).unwrap())
    }

    /// Publishes a text edit of rules/rpg/progression.stat (in memory, the file is untouched).
    fn edit(r: &Reloader, from: &str, to: &str) -> Arc<Generation> {
        let file = "rules/rpg/progression.stat";
        let text = std::fs::read_to_string(file).unwrap();
        assert!(text.contains(from));
        let Outcome::Published { generation, .. } =
            r.apply(Change::Write { path: file.into(), text: text.replace(from, to) })
        else {
            panic!("the edit publishes")
        };
        generation
    }

    fn edit_persuasion(r: &Reloader) -> Arc<Generation> {
        edit(r, "charisma * 2 + luck", "charisma * 3 + luck")
    }

    fn pass(session: &mut Session, g: &Generation, pass: Pass) -> String {
        session.refresh(g);
        let mut out = Vec::new();
        session.pass(g, pass, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn a_pass_after_a_reload_writes_only_the_changes() {
        let (r, mut session, records) = example_game(options(ChangeFormat::Text));
        let n = records.lines().count();
        assert_eq!(n, 6);
        let generation = edit_persuasion(&r);
        let out = pass(&mut session, &generation, Pass::Changes);
        assert!(!out.is_empty() && out.lines().all(|l| l.contains(" persuasion: ")), "{out}");
        let again = pass(&mut session, &generation, Pass::Changes);
        assert!(again.is_empty(), "nothing changed since: {again}");
        assert_eq!(session.cache().stats().misses, n as u64, "the reload needed no input");
    }

    /// A change of structure (a new stat) reads the actors again from their source.
    #[test]
    fn a_new_structure_reads_the_input_again() {
        let (r, mut session, _) = example_game(options(ChangeFormat::Records));
        let g = edit(&r, "derived persuasion =", "derived wit = 1 in 0 .. 10;\nderived persuasion =");
        assert!(g.rule_diff_since(1).is_none(), "the structure changed");
        let out = pass(&mut session, &g, Pass::Changes);
        let records: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        let wit = records.iter().filter(|r| r["stat"] == "wit").count();
        assert_eq!(wit, 6, "{out}");
        assert!(records.iter().all(|r| r["generation"] == 2 && r["id"].is_string()), "{out}");
        assert_eq!(records[0]["old"], serde_json::Value::Null);
        assert_eq!(records[0]["new"], 1.0);
    }

    /// Rules broken from the start: the actors are only read, and the first good rules
    /// write every record.
    #[test]
    fn actors_read_without_rules_are_written_under_the_first() {
        let r = Reloader::new(vec!["rules/rpg".into()], LoadOptions::default(), Backend::Interpreter);
        let party = std::fs::read("examples/party.ndjson").unwrap();
        let docs = DocumentReader::new(party.as_slice(), None, 1 << 20).unwrap();
        let cache = Cache::keeping(16, Keep::Prepared);
        let mut session = Session::new(Source::Memory(Vec::new()), cache, options(ChangeFormat::Text));
        let mut out = Vec::new();
        assert_eq!(session.read(docs, None, &mut out).unwrap(), 0);
        assert!(out.is_empty());
        assert!(matches!(r.reload(), Outcome::Published { .. }));
        let all = pass(&mut session, &r.current().unwrap(), Pass::All);
        assert_eq!(all.lines().count(), 6);
        assert!(all.lines().all(|l| l.starts_with(r#"{"id":""#) && l.contains(r#""snapshot""#)), "{all}");
    }

    /// Read again from the input file, an actor whose line changed since is an error, not
    /// another actor's values.
    #[test]
    fn an_input_file_changed_since_is_an_error() {
        let path = std::env::temp_dir().join(format!("actorc-session-{}.ndjson", std::process::id()));
        let party = std::fs::read_to_string("examples/party.ndjson").unwrap();
        std::fs::write(&path, &party).unwrap();
        let r = Reloader::new(vec!["rules/rpg".into()], LoadOptions::default(), Backend::Interpreter);
        assert!(matches!(r.reload(), Outcome::Published { .. }));
        let input = std::io::BufReader::new(std::fs::File::open(&path).unwrap());
        let docs = DocumentReader::new(input, None, 1 << 20).unwrap();
        let cache = Cache::keeping(16, Keep::Prepared);
        let mut session = Session::new(Source::of_path(&path), cache, options(ChangeFormat::Records));
        session.read(docs, r.current().as_deref(), &mut Vec::new()).unwrap();
        // The same length, another number: only the hash tells.
        let first = party.lines().next().unwrap();
        let digit = first.find(|c: char| c.is_ascii_digit()).unwrap();
        let bumped = format!(
            "{}{}{}",
            &first[..digit],
            if &first[digit..=digit] == "9" { "8" } else { "9" },
            &first[digit + 1..]
        );
        std::fs::write(&path, party.replacen(first, &bumped, 1)).unwrap();
        let g = edit(&r, "derived persuasion =", "derived wit = 1 in 0 .. 10;\nderived persuasion =");
        let out = pass(&mut session, &g, Pass::Changes);
        let records: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        let message = records[0]["error"]["message"].as_str().unwrap();
        assert_eq!(message, "line 1: the input file changed since the watch read it; restart the watch");
        assert_eq!(records.iter().filter(|r| r["stat"] == "wit").count(), 5, "{out}");
        std::fs::remove_file(&path).unwrap();
    }

    /// Records are data: one per change, and one when an actor starts or stops failing,
    /// never a line per stat of a failing actor.
    #[test]
    fn failing_actors_are_one_record_or_line() {
        for format in [ChangeFormat::Records, ChangeFormat::Text] {
            let (r, mut session, _) = example_game(options(format));
            // A range that every actor's persuasion falls out of: an error for each.
            let broken = edit(&r, "charisma * 2 + luck * 0.5", "charisma * 2 + luck * 0.5 + 1 / (luck - luck)");
            let out = pass(&mut session, &broken, Pass::Changes);
            assert_eq!(out.lines().count(), 6, "{out}");
            let fixed = edit(&r, "charisma * 2 + luck * 0.5", "charisma * 3 + luck * 0.5");
            let back = pass(&mut session, &fixed, Pass::Changes);
            match format {
                ChangeFormat::Records => {
                    let records: Vec<serde_json::Value> =
                        out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
                    assert!(records.iter().all(|r| r["error"]["kind"] == "eval" && r["generation"] == 2), "{out}");
                    let back: Vec<serde_json::Value> = back.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
                    // Each actor: no longer failing, then its persuasion against its last
                    // success (the ranger has no charisma: its persuasion stays).
                    assert_eq!(back.len(), 11, "{back:?}");
                    assert_eq!(back.iter().filter(|r| r["error"].is_null() && r.get("stat").is_none()).count(), 6);
                    assert!(back[0]["error"].is_null() && back[0].get("stat").is_none(), "{back:?}");
                    assert_eq!(back[1]["stat"], "persuasion");
                    assert!(back[1]["new"].as_f64() > back[1]["old"].as_f64(), "{back:?}");
                }
                ChangeFormat::Text => {
                    assert!(out.lines().all(|l| l.contains(": fails: ")), "{out}");
                    let lines: Vec<&str> = back.lines().collect();
                    assert_eq!(lines.len(), 11, "{back}");
                    assert!(lines[0].ends_with(": no longer fails") && lines[1].contains(" persuasion: "), "{back}");
                }
            }
        }
    }

    #[test]
    fn values_select_what_is_written() {
        let mut opts = options(ChangeFormat::Records);
        opts.values = vec!["persuasion".into(), "level".into()];
        let (r, mut session, records) = example_game(opts);
        let first: serde_json::Value = serde_json::from_str(records.lines().next().unwrap()).unwrap();
        assert_eq!(first["values"].as_object().unwrap().len(), 2, "{first}");
        let g = edit_persuasion(&r);
        let out = pass(&mut session, &g, Pass::Changes);
        assert!(out.lines().all(|l| l.contains(r#""stat":"persuasion""#)), "{out}");
        // The ranger has no charisma: its persuasion stays.
        assert_eq!(out.lines().count(), 5);
    }

    #[test]
    fn the_actors_and_their_documents_are_shown() {
        let (_r, session, _) = example_game(options(ChangeFormat::Records));
        let ids: Vec<Option<&str>> = session.actors().map(|a| a.id).collect();
        assert_eq!(ids.len(), 6);
        assert_eq!(ids[0], Some("warrior"));
        assert!(session.actors().all(|a| a.result.is_some_and(|r| r.is_ok())));
        let party = std::fs::read_to_string("examples/party.ndjson").unwrap();
        let first = session.document(0).unwrap();
        assert_eq!(std::str::from_utf8(&first).unwrap(), party.lines().next().unwrap());
        assert_eq!(session.document(6).unwrap_err().kind(), std::io::ErrorKind::NotFound);
    }

    #[test]
    fn the_stats_a_reload_removes_are_counted_per_actor() {
        let (r, session, _) = example_game(options(ChangeFormat::Text));
        assert_eq!(session.using(&["persuasion".into()]), 6);
        assert_eq!(session.using(&["nothing".into()]), 0);
        drop(r);
    }

    /// A writer that fails after `left` bytes.
    struct Failing {
        left: usize,
    }

    impl Write for Failing {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if self.left < buf.len() {
                return Err(std::io::Error::other("disk full"));
            }
            self.left -= buf.len();
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_failed_write_keeps_what_the_session_remembers() {
        let (r, mut session, _) = example_game(options(ChangeFormat::Text));
        let g = edit_persuasion(&r);
        session.refresh(&g);
        let failed = session.pass(&g, Pass::Changes, &mut Failing { left: 10 });
        assert!(matches!(failed, Err(RunError::Write(_))));
        let out = pass(&mut session, &g, Pass::Changes);
        assert!(out.lines().any(|l| l.contains(" persuasion: ")), "the changes after a failed write: {out}");
    }
}
