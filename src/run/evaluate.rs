//! Running a whole input: [`run`] reads documents, evaluates them (NDJSON in chunks, parsed
//! and ingested in parallel, evaluated as one batch) and writes one record per actor.

use super::read::{Document, DocumentReader, InputForm, at_line, parse_document};
use super::record::{Record, Selection, Values, ValuesRecord, record};
use crate::engine::{ActorError, Engine, PreparedBatch, ValueTable};
use crate::input::InputLimits;
use crate::snapshot::Snapshot;
use rayon::prelude::*;
use std::io::{self, BufRead, Write};

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

impl std::error::Error for RunError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RunError::Read { source, .. } => Some(source),
            RunError::Write(e) => Some(e),
            RunError::Serialize(e) => Some(e),
        }
    }
}

impl From<serde_json::Error> for RunError {
    fn from(e: serde_json::Error) -> Self {
        RunError::Serialize(e)
    }
}

/// Actors per chunk of an NDJSON run.
const CHUNK: usize = 2048;

/// Bytes of text per chunk (or the line limit, when it is larger).
const CHUNK_BYTES: usize = 32 << 20;

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
    let mut docs = DocumentReader::new(input, opts.form, opts.limits.max_line_bytes).map_err(read(true))?;
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
            let batch = engine.batch_of(vec![actor.and_then(|a| engine.prepare(&a))]);
            let mut table = ValueTable::default();
            engine.evaluate_values(&batch, &mut table);
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
        // A chunk holds at most `CHUNK` lines and about `chunk_bytes` of text (one line over),
        // so that memory stays bounded by the line limit, however long the lines.
        let chunk_bytes = opts.limits.max_line_bytes.max(CHUNK_BYTES);
        let mut bytes = 0;
        while chunk.len() < CHUNK && bytes < chunk_bytes {
            match docs.next_reusing(&mut spare).map_err(|source| RunError::Read { source, start: false })? {
                Some(doc) => {
                    bytes += doc.bytes.len();
                    chunk.push(doc)
                }
                None => {
                    done = true;
                    break;
                }
            }
        }
        let records = match &opts.output {
            Output::Snapshots => snapshot_records(engine, &opts.limits, &chunk),
            Output::Values(selection) => values_records(engine, &opts.limits, &chunk, selection, &mut table),
        };
        for (succeeded, line) in records {
            if succeeded {
                ok += 1
            } else {
                failed += 1
            }
            writeln!(out, "{}", line?).map_err(RunError::Write)?;
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
                Ok(actor) => (actor.id.clone(), engine.prepare(&actor).map_err(|e| at_line(e, doc.line))),
                Err(e) => (e.actor.clone(), Err(e)),
            }
        })
        .unzip::<_, _, _, Vec<_>>();
    (ids, engine.batch_of(actors))
}

/// One chunk's snapshot records and whether each actor succeeded: parsed and ingested in
/// parallel, then evaluated as one batch (the JIT lays it out two actors per vector).
fn snapshot_records(
    engine: &Engine,
    limits: &InputLimits,
    chunk: &[Document],
) -> Vec<(bool, serde_json::Result<String>)> {
    let (ids, batch) = prepared_chunk(engine, limits, chunk);
    let results = engine.evaluate_batch(&batch);
    drop(batch);
    ids.par_iter().zip(&results).map(|(id, r)| (r.is_ok(), record(id.as_deref(), r))).collect()
}

/// One chunk's `--values` records and whether each actor succeeded: parsed and ingested in
/// parallel, then evaluated as one batch into values only.
fn values_records(
    engine: &Engine,
    limits: &InputLimits,
    chunk: &[Document],
    selection: &Selection,
    table: &mut ValueTable,
) -> Vec<(bool, serde_json::Result<String>)> {
    let (ids, batch) = prepared_chunk(engine, limits, chunk);
    engine.evaluate_values(&batch, table);
    ids.iter()
        .enumerate()
        .map(|(i, id)| {
            let id = id.as_deref();
            match table.row(i) {
                Ok(row) => (true, serde_json::to_string(&ValuesRecord { id, values: Values { row, selection } })),
                Err(e) => (false, serde_json::to_string(&Record { id, snapshot: None, error: Some(e) })),
            }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Backend;
    use crate::rules::Rules;

    const GOOD: &str = r#"{"id":"good","subsystems":[{"primary":[{"dimension":"strength","bucket":"FLAT","value":10,"system":"a"}],"meta":{"system":"a"}}]}"#;

    fn engine() -> Engine {
        Engine::new(&Rules::load("rules/actor_core_v3").unwrap(), Backend::Interpreter).unwrap()
    }

    #[test]
    fn lines_give_a_record_each_and_progress_per_chunk() {
        let engine = engine();
        let input = format!("{GOOD}\n\n{{\"id\":\"bad\"}}\n{GOOD}\n");
        let (mut out, mut calls) = (Vec::new(), Vec::new());
        let summary = run(&engine, &RunOptions::default(), input.as_bytes(), &mut out, &mut |p| calls.push(p));
        assert_eq!(summary.unwrap(), Summary::Lines { ok: 2, failed: 1 });
        assert_eq!(calls, [Progress { bytes: input.len() as u64, actors: 3 }]);
        let lines: Vec<&str> = std::str::from_utf8(&out).unwrap().lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with(r#"{"id":"good","snapshot":{"Primary":{"#), "{}", lines[0]);
        assert!(lines[1].starts_with(r#"{"id":"bad","error":{"kind":"input""#), "{}", lines[1]);
        assert!(lines[1].contains("line 3: "), "{}", lines[1]);
    }

    #[test]
    fn one_document_writes_its_snapshot_or_returns_its_error() {
        let engine = engine();
        let mut out = Vec::new();
        let one = RunOptions { form: Some(InputForm::One), ..RunOptions::default() };
        let summary = run(&engine, &one, GOOD.as_bytes(), &mut out, &mut |_| panic!("no progress"));
        assert_eq!(summary.unwrap(), Summary::One { error: None });
        let snapshot = engine.evaluate(&crate::input::parse_actor(GOOD).unwrap()).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), serde_json::to_string(&snapshot).unwrap() + "\n");
        let mut out = Vec::new();
        let summary = run(&engine, &one, &b"[1]"[..], &mut out, &mut |_| {}).unwrap();
        assert!(summary.failed() && out.is_empty(), "{summary:?}");
    }

    #[test]
    fn values_follow_the_selection() {
        let engine = engine();
        let selection = crate::run::select(engine.ir(), &["strength".into(), " spirit".into()]).unwrap();
        let opts = RunOptions { output: Output::Values(selection), ..RunOptions::default() };
        let mut out = Vec::new();
        run(&engine, &opts, format!("{GOOD}\n").as_bytes(), &mut out, &mut |_| {}).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{\"id\":\"good\",\"values\":{\"strength\":10.0,\"spirit\":0.0}}\n"
        );
        let unknown = crate::run::select(engine.ir(), &["strenght".into()]).unwrap_err();
        assert_eq!(unknown.to_string(), "--values: unknown stat `strenght` (did you mean `strength`?)");
    }

    /// A writer that fails every write.
    struct Full;

    impl Write for Full {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::other("full"))
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_failed_write_ends_the_run() {
        let engine = engine();
        let done = run(&engine, &RunOptions::default(), format!("{GOOD}\n").as_bytes(), &mut Full, &mut |_| {});
        assert!(matches!(done, Err(RunError::Write(_))), "{done:?}");
    }
}
