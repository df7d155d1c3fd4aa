//! The batch driver behind `actorc run`: actor documents in, one record per actor out.
//!
//! - [`DocumentReader`] is the one reader of actor input over any [`BufRead`]: a single JSON
//!   document, or NDJSON lines (blank lines skipped, each line numbered); [`InputForm`] says
//!   which, from the file name or the first line.
//! - [`run`] evaluates a whole input into a writer: NDJSON in chunks (parsed and ingested in
//!   parallel, evaluated as one batch), one [`Record`] or [`ValuesRecord`] per line, with a
//!   [`Progress`] callback per chunk.
//! - [`Session`] is the watch loop's state: the actors read once, evaluated through a result
//!   [`Cache`] under each [`Generation`], writing every record or only what changed.
//!
//! Invariant: a bad document costs only its actor (an error record in its place); only
//! reading the input or writing the output ends a run early. Nothing here prints: the
//! command line renders progress, summaries and errors.

use crate::cache::{Cache, KeyedActor};
use crate::engine::{ActorError, Engine, PreparedBatch, ValueTable};
use crate::ingest::InputError;
use crate::input::{Actor, InputLimits, parse_actor, parse_actor_limited, salvage_id};
use crate::ir::{Ir, StatId};
use crate::reload::Generation;
use crate::snapshot::{Snapshot, StatChange, changes};
use rayon::prelude::*;
use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};
use std::io::{self, BufRead, Write};
use std::path::Path;

// ---------------------------------------------------------------------------------------
// Reading.

/// How actor input is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputForm {
    /// One actor: the whole input is one JSON document.
    One,
    /// A batch: one actor per line (NDJSON).
    Lines,
}

impl InputForm {
    /// `.json` is one actor, `.ndjson`/`.jsonl` a batch; other names do not say.
    pub fn of_path(path: &Path) -> Option<InputForm> {
        match path.extension().and_then(|e| e.to_str()) {
            Some("json") => Some(InputForm::One),
            Some("ndjson" | "jsonl") => Some(InputForm::Lines),
            _ => None,
        }
    }

    /// A batch when the first line is a whole JSON object by itself, else one document.
    pub fn sniff(first_line: &[u8]) -> InputForm {
        let text = String::from_utf8_lossy(first_line);
        let t = text.trim();
        if t.starts_with('{') && serde_json::from_str::<serde_json::Value>(t).is_ok() {
            InputForm::Lines
        } else {
            InputForm::One
        }
    }
}

/// One actor document as read, with its line terminator if it has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// The one-based line of an NDJSON document; `None` for a one-document input.
    pub line: Option<usize>,
    pub bytes: Vec<u8>,
}

impl Document {
    /// The document's bytes without the line terminator (`\n`; with `crlf`, `\r\n` too).
    pub fn trimmed(&self, crlf: bool) -> &[u8] {
        let b = self.bytes.strip_suffix(b"\n").unwrap_or(&self.bytes);
        if crlf { b.strip_suffix(b"\r").unwrap_or(b) } else { b }
    }

    /// Parses the document as it was read, within `limits`. An input error names the line
    /// of an NDJSON document; bytes that are not UTF-8 are an input error.
    pub fn parse(&self, limits: &InputLimits) -> Result<Actor, InputError> {
        parse_document(limits, self.line, &self.bytes)
    }
}

/// Parses `bytes` within `limits`; `line` (one-based, for NDJSON) prefixes the message of
/// an input error.
fn parse_document(limits: &InputLimits, line: Option<usize>, bytes: &[u8]) -> Result<Actor, InputError> {
    let text = std::str::from_utf8(bytes).map_err(|e| not_utf8(bytes, e, line))?;
    parse_actor_limited(text, limits).map_err(|e| at_line(e, line))
}

fn at_line(mut e: InputError, line: Option<usize>) -> InputError {
    if let Some(n) = line {
        e.message = format!("line {n}: {}", e.message);
    }
    e
}

/// The input error for an actor document that is not UTF-8 text: the column of the bad
/// byte on an NDJSON line (`line_no`), else its offset.
fn not_utf8(bytes: &[u8], e: std::str::Utf8Error, line_no: Option<usize>) -> InputError {
    let at = e.valid_up_to();
    let message = match line_no {
        Some(n) => format!("line {n}: not valid UTF-8 text (invalid byte at column {})", at + 1),
        None => format!("not valid UTF-8 text (invalid byte at offset {at})"),
    };
    InputError { actor: salvage_id(&String::from_utf8_lossy(bytes)), subsystem: None, field: String::new(), message }
}

/// When `bytes` (starting at line `first_line`) are not UTF-8: the input error naming the
/// line and column of the first bad byte.
pub fn utf8_error(bytes: &[u8], first_line: usize) -> Option<InputError> {
    let at = std::str::from_utf8(bytes).err()?.valid_up_to();
    let line_start = bytes[..at].iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let line_no = first_line + bytes[..at].iter().filter(|&&b| b == b'\n').count();
    let line_end = bytes[at..].iter().position(|&b| b == b'\n').map_or(bytes.len(), |i| at + i);
    let line = &bytes[line_start..line_end];
    std::str::from_utf8(line).err().map(|e| not_utf8(line, e, Some(line_no)))
}

/// The one reader of actor input: the whole input as one document, or its non-blank lines
/// one by one. Line buffers can be handed back for reuse ([`DocumentReader::next_reusing`]).
pub struct DocumentReader<R> {
    input: R,
    form: InputForm,
    /// The first line, read to decide the form and not yet handed out.
    first: Option<Vec<u8>>,
    line_no: usize,
    bytes_read: u64,
    done: bool,
}

impl<R: BufRead> DocumentReader<R> {
    /// Reads the first line; the form is `form`, or else decided by that line ([`InputForm::sniff`]).
    pub fn new(mut input: R, form: Option<InputForm>) -> io::Result<DocumentReader<R>> {
        // Bytes, not text: input that is not UTF-8 is a bad actor, not an I/O error.
        let mut first = Vec::new();
        input.read_until(b'\n', &mut first)?;
        let form = form.unwrap_or_else(|| InputForm::sniff(&first));
        Ok(DocumentReader { input, form, first: Some(first), line_no: 0, bytes_read: 0, done: false })
    }

    pub fn form(&self) -> InputForm {
        self.form
    }

    /// Bytes of the documents handed out so far, blank lines included.
    pub fn bytes_read(&self) -> u64 {
        self.bytes_read
    }

    /// The next document, read into a buffer from `spare` when it has one (blank lines'
    /// buffers go back there); `None` at the end of the input.
    pub fn next_reusing(&mut self, spare: &mut Vec<Vec<u8>>) -> io::Result<Option<Document>> {
        if self.form == InputForm::One {
            let Some(mut bytes) = self.first.take() else { return Ok(None) };
            self.input.read_to_end(&mut bytes)?;
            self.bytes_read += bytes.len() as u64;
            return Ok(Some(Document { line: None, bytes }));
        }
        while !self.done {
            let line = match self.first.take() {
                Some(l) => l,
                None => {
                    let mut l = spare.pop().unwrap_or_default();
                    l.clear();
                    if self.input.read_until(b'\n', &mut l)? == 0 {
                        self.done = true;
                        break;
                    }
                    l
                }
            };
            self.line_no += 1;
            self.bytes_read += line.len() as u64;
            if std::str::from_utf8(&line).is_ok_and(|l| l.trim().is_empty()) {
                // Only an empty input has an empty line.
                self.done |= line.is_empty();
                spare.push(line);
                continue;
            }
            return Ok(Some(Document { line: Some(self.line_no), bytes: line }));
        }
        Ok(None)
    }
}

impl<R: BufRead> Iterator for DocumentReader<R> {
    type Item = io::Result<Document>;

    fn next(&mut self) -> Option<io::Result<Document>> {
        self.next_reusing(&mut Vec::new()).transpose()
    }
}

/// Why no single actor could be picked from an input.
#[derive(Debug, Clone, PartialEq)]
pub enum PickError {
    /// The document (or, in a batch, the first bad line of those considered) is malformed.
    Input(InputError),
    /// No actor has the id asked for.
    NotFound(String),
    /// A batch without actors.
    Empty,
    /// The id asked for appears more than once.
    Repeated(String),
    /// A batch of this many actors and no id to pick one.
    Several(usize),
}

/// The one actor of `docs` (as a [`DocumentReader`] gives them), or the one with id `id`.
/// Documents are parsed without input limits.
pub fn pick_actor(docs: &[Document], id: Option<&str>) -> Result<Actor, PickError> {
    let text = |d: &Document| String::from_utf8_lossy(d.trimmed(true)).into_owned();
    if let [doc @ Document { line: None, .. }] = docs {
        let actor = parse_actor(&String::from_utf8_lossy(&doc.bytes)).map_err(PickError::Input)?;
        return match id {
            Some(want) if actor.id.as_deref() != Some(want) => Err(PickError::NotFound(want.to_string())),
            _ => Ok(actor),
        };
    }
    let mut found = Vec::new();
    for doc in docs {
        let line = text(doc);
        if let Some(want) = id
            && salvage_id(&line).as_deref() != Some(want)
        {
            continue;
        }
        found.push(parse_actor(&line).map_err(|e| PickError::Input(at_line(e, doc.line)))?);
    }
    match (found.len(), id) {
        (1, _) => Ok(found.remove(0)),
        (0, Some(want)) => Err(PickError::NotFound(want.to_string())),
        (0, None) => Err(PickError::Empty),
        (_, Some(want)) => Err(PickError::Repeated(want.to_string())),
        (n, None) => Err(PickError::Several(n)),
    }
}

// ---------------------------------------------------------------------------------------
// Records.

/// The output line of one actor: `{"id", "snapshot"}` or `{"id", "error"}`.
#[derive(Debug, Serialize)]
pub struct Record<'a> {
    pub id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<&'a Snapshot>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<&'a ActorError>,
}

impl<'a> Record<'a> {
    pub fn new(id: Option<&'a str>, result: &'a Result<Snapshot, ActorError>) -> Record<'a> {
        let (snapshot, error) = match result {
            Ok(s) => (Some(s), None),
            Err(e) => (None, Some(e)),
        };
        Record { id, snapshot, error }
    }
}

/// One actor's record as a JSON line (without the newline).
pub fn record(id: Option<&str>, result: &Result<Snapshot, ActorError>) -> serde_json::Result<String> {
    serde_json::to_string(&Record::new(id, result))
}

/// The output line of one actor with `--values`: `{"id", "values": {stat: number, …}}`.
#[derive(Debug, Serialize)]
pub struct ValuesRecord<'a> {
    pub id: Option<&'a str>,
    pub values: Values<'a>,
}

/// The selected stats' values from a row indexed by stat id, in the selection's order.
#[derive(Debug)]
pub struct Values<'a> {
    pub row: &'a [f64],
    pub selection: &'a Selection,
}

impl Serialize for Values<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.selection.stats.len()))?;
        for (stat, name) in &self.selection.stats {
            m.serialize_entry(name, &self.row[stat.index()])?;
        }
        m.end()
    }
}

/// The stats of `--values`, each resolved once, in the order asked for.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Selection {
    stats: Vec<(StatId, String)>,
}

impl Selection {
    pub fn is_empty(&self) -> bool {
        self.stats.is_empty()
    }
}

/// Why `--values` names no stats of the rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SelectError {
    EmptyName,
    Unknown { name: String, suggestion: Option<String> },
}

impl std::fmt::Display for SelectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SelectError::EmptyName => {
                write!(f, "--values: a stat name is empty (expected names separated by commas)")
            }
            SelectError::Unknown { name, suggestion } => {
                write!(f, "--values: unknown stat `{name}`")?;
                match suggestion {
                    Some(s) => write!(f, " (did you mean `{s}`?)"),
                    None => Ok(()),
                }
            }
        }
    }
}

impl std::error::Error for SelectError {}

/// The stats named by `names` (surrounding spaces ignored, repeats dropped).
pub fn select(ir: &Ir, names: &[String]) -> Result<Selection, SelectError> {
    let mut stats: Vec<(StatId, String)> = Vec::with_capacity(names.len());
    for name in names.iter().map(|n| n.trim()) {
        if name.is_empty() {
            return Err(SelectError::EmptyName);
        }
        let Some(&id) = ir.stat_ids.get(name) else {
            let suggestion = crate::check::did_you_mean(name, ir.stats.iter().map(|s| s.name.as_str()));
            return Err(SelectError::Unknown { name: name.to_string(), suggestion: suggestion.map(str::to_string) });
        };
        if !stats.iter().any(|(s, _)| *s == id) {
            stats.push((id, name.to_string()));
        }
    }
    Ok(Selection { stats })
}

// ---------------------------------------------------------------------------------------
// Running.

/// What [`run`] writes per actor.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Output {
    /// A [`Record`] per actor (a one-document input: the snapshot itself).
    #[default]
    Snapshots,
    /// A [`ValuesRecord`] per actor; no snapshots are built.
    Values(Selection),
}

/// How [`run`] reads and writes.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub limits: InputLimits,
    pub output: Output,
    /// The input's form; `None`: decided by its first line.
    pub form: Option<InputForm>,
    /// Write a one-document input's snapshot indented (for a terminal).
    pub pretty: bool,
}

/// Reported after each chunk of an NDJSON run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Input bytes consumed by the chunk.
    pub bytes: u64,
    /// Actors written so far.
    pub actors: usize,
}

/// What a [`run`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum Summary {
    /// One document: nothing is written for an actor that failed; this is why it failed.
    One { error: Option<ActorError> },
    /// NDJSON: a record for every actor.
    Lines { ok: usize, failed: usize },
}

impl Summary {
    /// Whether any actor failed.
    pub fn failed(&self) -> bool {
        match self {
            Summary::One { error } => error.is_some(),
            Summary::Lines { failed, .. } => *failed > 0,
        }
    }
}

/// Why a run stopped early.
#[derive(Debug)]
pub enum RunError {
    /// The input could not be read: its first line or its one document (`start`), or a later line.
    Read { source: io::Error, start: bool },
    /// The output could not be written.
    Write(io::Error),
    /// A record could not be serialized.
    Serialize(serde_json::Error),
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunError::Read { source, .. } => write!(f, "cannot read input: {source}"),
            RunError::Write(e) => write!(f, "cannot write output: {e}"),
            RunError::Serialize(e) => write!(f, "cannot serialize a record: {e}"),
        }
    }
}

impl std::error::Error for RunError {}

impl From<serde_json::Error> for RunError {
    fn from(e: serde_json::Error) -> Self {
        RunError::Serialize(e)
    }
}

/// Actors per chunk of an NDJSON run.
const CHUNK: usize = 2048;

/// Largest line buffer a run keeps for reuse.
const SPARE_LINE_BYTES: usize = 1 << 20;

/// Evaluates the actors of `input` with `engine` and writes their records to `out` (then
/// flushes it). A one-document input writes its snapshot (or values record) alone, and a
/// failure is returned in the [`Summary`] instead; NDJSON writes one record per non-blank
/// line, in order, and calls `progress` after each chunk.
pub fn run(
    engine: &Engine,
    opts: &RunOptions,
    input: impl BufRead,
    out: &mut dyn Write,
    progress: &mut dyn FnMut(Progress),
) -> Result<Summary, RunError> {
    let read = |start| move |source| RunError::Read { source, start };
    let mut docs = DocumentReader::new(input, opts.form).map_err(read(true))?;
    let summary = match docs.form() {
        InputForm::One => {
            let doc = docs.next_reusing(&mut Vec::new()).map_err(read(true))?.expect("one document");
            run_one(engine, opts, &doc, out)?
        }
        InputForm::Lines => run_lines(engine, opts, &mut docs, out, progress)?,
    };
    out.flush().map_err(RunError::Write)?;
    Ok(summary)
}

fn run_one(engine: &Engine, opts: &RunOptions, doc: &Document, out: &mut dyn Write) -> Result<Summary, RunError> {
    let actor = doc.parse(&opts.limits);
    let text = match &opts.output {
        Output::Values(selection) => {
            let id = actor.as_ref().ok().and_then(|a| a.id.clone());
            let batch = PreparedBatch { actors: vec![actor.and_then(|a| engine.prepare(&a))] };
            let table = engine.evaluate_values(&batch);
            match table.row(0) {
                Ok(row) => {
                    serde_json::to_string(&ValuesRecord { id: id.as_deref(), values: Values { row, selection } })?
                }
                Err(e) => return Ok(Summary::One { error: Some(e.clone()) }),
            }
        }
        Output::Snapshots => match actor.map_err(ActorError::from).and_then(|actor| engine.evaluate(&actor)) {
            Ok(snap) if opts.pretty => serde_json::to_string_pretty(&snap)?,
            Ok(snap) => serde_json::to_string(&snap)?,
            Err(e) => return Ok(Summary::One { error: Some(e) }),
        },
    };
    writeln!(out, "{text}").map_err(RunError::Write)?;
    Ok(Summary::One { error: None })
}

fn run_lines<R: BufRead>(
    engine: &Engine,
    opts: &RunOptions,
    docs: &mut DocumentReader<R>,
    out: &mut dyn Write,
    progress: &mut dyn FnMut(Progress),
) -> Result<Summary, RunError> {
    let (mut ok, mut failed) = (0usize, 0usize);
    let mut done = false;
    let mut chunk: Vec<Document> = Vec::with_capacity(CHUNK);
    // Line buffers are reused from chunk to chunk: allocating them afresh made the
    // allocator hand back memory and fault it in again, chunk after chunk.
    let mut spare: Vec<Vec<u8>> = Vec::with_capacity(CHUNK);
    // So is the value table of `--values`.
    let mut table = ValueTable::default();
    let mut reported = 0;
    while !done {
        // A rare huge line's buffer is let go rather than kept for the rest of the run.
        spare.extend(chunk.drain(..).map(|d| d.bytes).filter(|l| l.capacity() <= SPARE_LINE_BYTES));
        while chunk.len() < CHUNK {
            match docs.next_reusing(&mut spare).map_err(|source| RunError::Read { source, start: false })? {
                Some(doc) => chunk.push(doc),
                None => {
                    done = true;
                    break;
                }
            }
        }
        let records = match &opts.output {
            Output::Snapshots => snapshot_records(engine, &opts.limits, &chunk)?,
            Output::Values(selection) => values_records(engine, &opts.limits, &chunk, selection, &mut table)?,
        };
        for (succeeded, line) in &records {
            if *succeeded {
                ok += 1
            } else {
                failed += 1
            }
            writeln!(out, "{line}").map_err(RunError::Write)?;
        }
        progress(Progress { bytes: docs.bytes_read() - reported, actors: ok + failed });
        reported = docs.bytes_read();
    }
    Ok(Summary::Lines { ok, failed })
}

/// One chunk's lines parsed and ingested in parallel: each actor's id (or the id salvaged
/// from a bad line) and the prepared batch.
fn prepared_chunk(engine: &Engine, limits: &InputLimits, chunk: &[Document]) -> (Vec<Option<String>>, PreparedBatch) {
    let (ids, actors) = chunk
        .par_iter()
        .map(|doc| {
            let direct = std::str::from_utf8(&doc.bytes).ok().and_then(|text| engine.prepare_json(text, limits));
            if let Some((id, prepared)) = direct {
                return (id, Ok(prepared));
            }
            match doc.parse(limits) {
                Ok(actor) => (actor.id.clone(), engine.prepare(&actor)),
                Err(e) => (e.actor.clone(), Err(e)),
            }
        })
        .unzip();
    (ids, PreparedBatch { actors })
}

/// One chunk's snapshot records and whether each actor succeeded: parsed and ingested in
/// parallel, then evaluated as one batch (the JIT lays it out two actors per vector).
fn snapshot_records(
    engine: &Engine,
    limits: &InputLimits,
    chunk: &[Document],
) -> serde_json::Result<Vec<(bool, String)>> {
    let (ids, batch) = prepared_chunk(engine, limits, chunk);
    let results = engine.evaluate_prepared_batch(&batch);
    drop(batch);
    ids.par_iter().zip(&results).map(|(id, r)| Ok((r.is_ok(), record(id.as_deref(), r)?))).collect()
}

/// One chunk's `--values` records and whether each actor succeeded: parsed and ingested in
/// parallel, then evaluated as one batch into values only.
fn values_records(
    engine: &Engine,
    limits: &InputLimits,
    chunk: &[Document],
    selection: &Selection,
    table: &mut ValueTable,
) -> serde_json::Result<Vec<(bool, String)>> {
    let (ids, batch) = prepared_chunk(engine, limits, chunk);
    engine.evaluate_values_into(&batch, table);
    ids.iter()
        .enumerate()
        .map(|(i, id)| {
            let id = id.as_deref();
            Ok(match table.row(i) {
                Ok(row) => (true, serde_json::to_string(&ValuesRecord { id, values: Values { row, selection } })?),
                Err(e) => (false, serde_json::to_string(&Record { id, snapshot: None, error: Some(e) })?),
            })
        })
        .collect()
}

/// Evaluates one NDJSON line within `limits`, as [`run`] does; `line_no` is one-based.
pub fn eval_line(
    engine: &Engine,
    limits: &InputLimits,
    line_no: usize,
    text: &str,
) -> (Option<String>, Result<Snapshot, ActorError>) {
    match parse_document(limits, Some(line_no), text.as_bytes()) {
        Ok(actor) => {
            let r = engine.evaluate(&actor);
            (actor.id, r)
        }
        Err(e) => (e.actor.clone(), Err(ActorError::from(e))),
    }
}

// ---------------------------------------------------------------------------------------
// Watching.

/// An actor of a [`Session`]: hashed once, or the error of its document.
pub type SessionActor = Result<KeyedActor, InputError>;

/// Reads every actor of `docs` for a [`Session`]. A bad document stays in place as its
/// error; an actor without an id is named by its line (`line 1` for one document), since
/// the cache is keyed by id. NDJSON lines are parsed without their newline.
pub fn read_session_actors<R: BufRead>(docs: DocumentReader<R>, limits: &InputLimits) -> io::Result<Vec<SessionActor>> {
    docs.map(|doc| {
        let doc = doc?;
        let bytes = if doc.line.is_some() { doc.trimmed(false) } else { &doc.bytes };
        Ok(parse_document(limits, doc.line, bytes).map(|mut actor| {
            actor.id.get_or_insert_with(|| format!("line {}", doc.line.unwrap_or(1)));
            KeyedActor::new(actor)
        }))
    })
    .collect()
}

/// What a [`Session`] pass writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pass {
    /// Every actor's [`Record`].
    All,
    /// For each actor, a line per change since the previous pass: `id stat: old → new`
    /// (`id stat (range): …` for `CapsUsed`, `id: error old → new`), values in JSON.
    Changes,
}

/// The state of `run --watch` (and `--stats`): the actors, read once, evaluated through a
/// result cache under each generation, and (when remembering) their last results, to write
/// what a reload changed.
pub struct Session {
    actors: Vec<SessionActor>,
    cache: Cache,
    last: Option<Vec<Result<Snapshot, ActorError>>>,
}

impl Session {
    /// With `remember`, each pass keeps its results for the next [`Pass::Changes`].
    pub fn new(actors: Vec<SessionActor>, cache: Cache, remember: bool) -> Session {
        Session { actors, cache, last: remember.then(Vec::new) }
    }

    pub fn cache(&self) -> &Cache {
        &self.cache
    }

    /// Brings the cached actors to generation `g` (see [`Cache::refresh`]).
    pub fn refresh(&mut self, g: &Generation) -> usize {
        self.cache.refresh(g)
    }

    /// Evaluates every actor under `g` and writes what `pass` asks for to `out`, then
    /// flushes it (Ctrl-C ends the process without unwinding). Returns whether any actor failed.
    pub fn pass(&mut self, g: &Generation, pass: Pass, out: &mut dyn Write) -> Result<bool, RunError> {
        let mut failed = false;
        let mut last = self.last.take();
        for (i, actor) in self.actors.iter().enumerate() {
            let (id, result) = match actor {
                Ok(actor) => (actor.actor().id.as_deref(), self.cache.evaluate_keyed(g, actor)),
                Err(e) => (e.actor.as_deref(), std::sync::Arc::new(Err(ActorError::from(e.clone())))),
            };
            failed |= result.is_err();
            match (pass, last.as_ref().and_then(|l| l.get(i))) {
                (Pass::All, _) => writeln!(out, "{}", record(id, &result)?).map_err(RunError::Write)?,
                (Pass::Changes, Some(old)) => write_changes(out, id.unwrap_or("?"), old, &result)?,
                (Pass::Changes, None) => {}
            }
            // A copy, not the shared result: the cache may then update its own in place.
            if let Some(last) = &mut last {
                let copy = Result::clone(&result);
                match last.get_mut(i) {
                    Some(slot) => *slot = copy,
                    None => last.push(copy),
                }
            }
        }
        self.last = last;
        out.flush().map_err(RunError::Write)?;
        Ok(failed)
    }
}

/// Writes `id stat: old → new` for every value or range whose JSON differs between two results.
fn write_changes(
    out: &mut dyn Write,
    id: &str,
    old: &Result<Snapshot, ActorError>,
    new: &Result<Snapshot, ActorError>,
) -> Result<(), RunError> {
    use serde_json::{Value, json, to_value};
    let (old_error, new_error) = (old.as_ref().err(), new.as_ref().err());
    if old_error != new_error {
        let (a, b) = (to_value(old_error)?, to_value(new_error)?);
        writeln!(out, "{id}: error {a} → {b}").map_err(RunError::Write)?;
    }
    let range = |r: Option<(f64, f64)>| r.map_or(Value::Null, |(min, max)| json!({"Min": min, "Max": max}));
    for change in changes(old.as_ref().ok(), new.as_ref().ok()) {
        let (label, a, b) = match change {
            StatChange::Value { stat, old, new, .. } => (stat.to_string(), to_value(old)?, to_value(new)?),
            StatChange::Range { stat, old, new } => (format!("{stat} (range)"), range(old), range(new)),
        };
        // Equal in JSON (0 and -0, two infinities as null): not a change to report.
        if a != b {
            writeln!(out, "{id} {label}: {a} → {b}").map_err(RunError::Write)?;
        }
    }
    Ok(())
}
