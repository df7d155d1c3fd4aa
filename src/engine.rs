//! [`Engine`]: evaluates actors against [`Rules`] with a chosen [`Backend`].
//!
//! Invariant: ingest ([`prepare`]) and the placement of input errors are shared by every
//! backend, so backends differ only in how a chunk of [`Prepared`] actors becomes snapshots
//! or values.

use crate::eval::{self, EvalError, Scratch};
use crate::ingest::{Prepared, prepare};
use crate::input::InputError;
use crate::input::{Actor, InputLimits};
use crate::ir::Ir;
use crate::jit;
use crate::rules::Rules;
use crate::snapshot::Snapshot;
use rayon::prelude::*;
use serde::Serialize;
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Backend {
    /// The reference interpreter.
    #[default]
    Interpreter,
    /// Native code compiled with Cranelift.
    Jit,
}

/// Why one actor produced no snapshot.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ActorError {
    /// The actor's input is malformed or does not fit the rules.
    Input(Box<InputError>),
    /// A formula or pipeline produced NaN or an infinity.
    Eval(Box<EvalError>),
}

impl std::fmt::Display for ActorError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ActorError::Input(e) => e.fmt(f),
            ActorError::Eval(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for ActorError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ActorError::Input(e) => Some(e.as_ref()),
            ActorError::Eval(e) => Some(e.as_ref()),
        }
    }
}

impl From<InputError> for ActorError {
    fn from(e: InputError) -> Self {
        ActorError::Input(Box::new(e))
    }
}

impl From<EvalError> for ActorError {
    fn from(e: EvalError) -> Self {
        ActorError::Eval(Box::new(e))
    }
}

/// Why an engine could not be built.
#[derive(Debug)]
pub enum EngineError {
    /// The JIT could not compile the rules (the interpreter still can run them); the source
    /// is Cranelift's error.
    Jit(Box<dyn std::error::Error + Send + Sync>),
}

impl std::fmt::Display for EngineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EngineError::Jit(e) => write!(f, "the JIT could not compile these rules: {e} (use --engine interp)"),
        }
    }
}

impl std::error::Error for EngineError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            EngineError::Jit(e) => Some(e.as_ref()),
        }
    }
}

/// Actors already ingested: evaluating them again skips ingest. A prepared batch belongs to
/// the rule set it was prepared with (an engine evaluating it checks that); clones share it.
#[derive(Debug, Clone)]
pub struct PreparedBatch {
    ir: Arc<Ir>,
    actors: Arc<[Result<Prepared, InputError>]>,
}

impl PreparedBatch {
    pub fn len(&self) -> usize {
        self.actors.len()
    }

    pub fn is_empty(&self) -> bool {
        self.actors.is_empty()
    }

    /// Each actor's input error, or `None` when it was prepared.
    pub fn errors(&self) -> impl Iterator<Item = Option<&InputError>> {
        self.actors.iter().map(|a| a.as_ref().err())
    }
}

/// A prepared batch laid out for its engine's back end ([`Engine::layout`]): evaluating it
/// again skips ingest and layout. It belongs to the engine that made it (and its clones).
#[derive(Debug, Clone)]
pub struct Layout {
    ir: Arc<Ir>,
    kind: LayoutKind,
}

#[derive(Debug, Clone)]
enum LayoutKind {
    /// The interpreter reads prepared actors as they are.
    Prepared(PreparedBatch),
    /// The JIT's layout per chunk of actors (of the prepared ones among them), and each
    /// actor's input error.
    Jit { chunks: Vec<jit::ChunkLayout>, errors: Vec<Option<InputError>> },
}

impl Layout {
    /// Number of actors (prepared or not).
    pub fn len(&self) -> usize {
        match &self.kind {
            LayoutKind::Prepared(b) => b.len(),
            LayoutKind::Jit { errors, .. } => errors.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// For a JIT layout, the bytes its kernels read: slot descriptors, stat descriptors,
    /// contributions and caps.
    pub fn kernel_bytes(&self) -> Option<[usize; 4]> {
        let LayoutKind::Jit { chunks, .. } = &self.kind else { return None };
        let sum = |a: [usize; 4], b: [usize; 4]| std::array::from_fn(|i| a[i] + b[i]);
        Some(chunks.iter().map(jit::ChunkLayout::kernel_bytes).fold([0; 4], sum))
    }
}

/// What a batch evaluation reads: actors, prepared actors, or a kept layout.
#[derive(Debug, Clone, Copy)]
pub enum Batch<'a> {
    Actors(&'a [Actor]),
    Prepared(&'a PreparedBatch),
    Layout(&'a Layout),
}

impl<'a> From<&'a [Actor]> for Batch<'a> {
    fn from(actors: &'a [Actor]) -> Self {
        Batch::Actors(actors)
    }
}

impl<'a> From<&'a Vec<Actor>> for Batch<'a> {
    fn from(actors: &'a Vec<Actor>) -> Self {
        Batch::Actors(actors)
    }
}

impl<'a, const N: usize> From<&'a [Actor; N]> for Batch<'a> {
    fn from(actors: &'a [Actor; N]) -> Self {
        Batch::Actors(actors)
    }
}

impl<'a> From<&'a PreparedBatch> for Batch<'a> {
    fn from(batch: &'a PreparedBatch) -> Self {
        Batch::Prepared(batch)
    }
}

impl<'a> From<&'a Layout> for Batch<'a> {
    fn from(layout: &'a Layout) -> Self {
        Batch::Layout(layout)
    }
}

impl Batch<'_> {
    fn len(&self) -> usize {
        match self {
            Batch::Actors(a) => a.len(),
            Batch::Prepared(b) => b.len(),
            Batch::Layout(l) => l.len(),
        }
    }
}

/// The values of a batch, without snapshots: for each actor, every stat's value in id order
/// (0 where the actor has none, which is the value formulas read), or why it failed. For
/// callers that only want numbers (a game copying stats into its components each frame):
/// nothing is allocated per actor.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ValueTable {
    /// Values per actor (the rule set's stat count).
    pub stats: usize,
    /// `stats` values per actor, actor after actor; a failed actor's are unspecified.
    pub values: Vec<f64>,
    /// Per actor: `None`, or why it has no values.
    pub errors: Vec<Option<ActorError>>,
}

impl ValueTable {
    pub fn len(&self) -> usize {
        self.errors.len()
    }

    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    /// Actor `i`'s values (indexed by `StatId`), or its error.
    pub fn row(&self, i: usize) -> Result<&[f64], &ActorError> {
        match &self.errors[i] {
            Some(e) => Err(e),
            None => Ok(&self.values[i * self.stats..(i + 1) * self.stats]),
        }
    }

    /// Makes `rows` rows of `stats` values (zeros, no error), reusing the table's memory.
    fn reset(&mut self, stats: usize, rows: usize) {
        self.stats = stats;
        self.values.clear();
        self.values.resize(rows * stats, 0.0);
        self.errors.clear();
        self.errors.resize(rows, None);
    }

    /// The first `rows` rows in runs of `per_run` (the last may be shorter), to fill in
    /// parallel.
    fn par_rows(&mut self, rows: usize, per_run: usize) -> impl IndexedParallelIterator<Item = RowsMut<'_>> {
        let stats = self.stats;
        let mut values = &mut self.values[..rows * stats];
        let runs: Vec<RowsMut> = self.errors[..rows]
            .chunks_mut(per_run)
            .map(|errors| {
                let (run, rest) = std::mem::take(&mut values).split_at_mut(errors.len() * stats);
                values = rest;
                RowsMut { stats, values: run, errors }
            })
            .collect();
        runs.into_par_iter()
    }
}

/// Actors per parallel task (32 lane pairs for the JIT), and per JIT layout.
const ACTORS_PER_TASK: usize = 64;

/// A run of consecutive rows of a [`ValueTable`], filled by one parallel task.
struct RowsMut<'a> {
    stats: usize,
    values: &'a mut [f64],
    errors: &'a mut [Option<ActorError>],
}

impl RowsMut<'_> {
    /// Row `i`'s values, to write.
    fn values(&mut self, i: usize) -> &mut [f64] {
        &mut self.values[i * self.stats..(i + 1) * self.stats]
    }

    /// Marks row `i` failed (its values stay zero).
    fn fail(&mut self, i: usize, e: ActorError) {
        self.errors[i] = Some(e);
    }
}

/// Evaluates actors with one rule set and one backend.
///
/// The engine drives every evaluation: it splits a batch into chunks of `ACTORS_PER_TASK`
/// actors, runs the chunks in parallel (rayon), ingests them, and places each actor's input
/// error among the results; a back end only evaluates one chunk's prepared actors.
///
/// With [`Backend::Jit`] the rules are compiled once in [`Engine::new`]; clones share the
/// native code, which is freed when the last clone is dropped.
#[derive(Debug, Clone)]
pub struct Engine {
    ir: Arc<Ir>,
    jit: Option<Arc<jit::Compiled>>,
}

/// One parallel task's reused buffers.
#[derive(Default)]
struct Task {
    prepared: Vec<Result<Prepared, InputError>>,
    scratch: Scratch,
    jit: jit::Buffers,
}

impl Engine {
    pub fn new(rules: &Rules, backend: Backend) -> Result<Engine, EngineError> {
        match backend {
            Backend::Interpreter => Ok(Engine { ir: rules.ir.clone(), jit: None }),
            Backend::Jit => Engine::jit_with_function_size(rules, jit::UNITS_PER_FUNCTION),
        }
    }

    /// A JIT engine whose native functions each evaluate at most `units` stats or families
    /// of stats (the default is 4): smaller functions compile faster, and every size gives
    /// the same results.
    pub fn jit_with_function_size(rules: &Rules, units: usize) -> Result<Engine, EngineError> {
        let compiled = jit::Compiled::with_function_size(rules.ir.clone(), units.max(1)).map_err(EngineError::Jit)?;
        Ok(Engine { ir: rules.ir.clone(), jit: Some(Arc::new(compiled)) })
    }

    pub fn backend(&self) -> Backend {
        if self.jit.is_some() { Backend::Jit } else { Backend::Interpreter }
    }

    pub(crate) fn ir(&self) -> &Arc<Ir> {
        &self.ir
    }

    /// Checks and ingests one actor.
    pub fn prepare(&self, actor: &Actor) -> Result<Prepared, InputError> {
        prepare(&self.ir, actor)
    }

    /// Checks and ingests every actor (in parallel), for evaluation later, or again.
    pub fn prepare_batch(&self, actors: &[Actor]) -> PreparedBatch {
        let prepare = |(i, a)| {
            jit::prefetch_next(actors, i);
            self.prepare(a)
        };
        self.batch_of(actors.par_iter().enumerate().map(prepare).collect())
    }

    /// A prepared batch of actors this engine prepared.
    pub(crate) fn batch_of(&self, actors: Vec<Result<Prepared, InputError>>) -> PreparedBatch {
        PreparedBatch { ir: self.ir.clone(), actors: actors.into() }
    }

    /// The prepared actors of `batch`, checked to be of this engine's rules.
    fn actors_of<'b>(&self, batch: &'b PreparedBatch) -> &'b [Result<Prepared, InputError>] {
        assert!(
            Arc::ptr_eq(&self.ir, &batch.ir),
            "a prepared batch must be evaluated with the rules it was prepared with"
        );
        &batch.actors
    }

    /// Ingests an actor straight from its JSON text, without building an [`Actor`]: its id
    /// and the prepared actor. `None` unless the text is an actor object in the plain form
    /// that parses and ingests without error within `limits`; then parse and prepare it,
    /// which say what is wrong.
    pub fn prepare_json(&self, text: &str, limits: &InputLimits) -> Option<(Option<String>, Prepared)> {
        crate::ingest::prepare_json(&self.ir, text, limits)
    }

    /// Lays out a prepared batch for this engine's back end, so that evaluating it again
    /// skips ingest and layout (the JIT's structure-of-arrays form; the interpreter keeps the
    /// prepared actors).
    ///
    /// # Panics
    /// If `batch` was prepared with other rules than this engine's.
    pub fn layout(&self, batch: &PreparedBatch) -> Layout {
        let actors = self.actors_of(batch);
        let kind = match &self.jit {
            None => LayoutKind::Prepared(batch.clone()),
            Some(jit) => LayoutKind::Jit {
                chunks: actors.par_chunks(ACTORS_PER_TASK).map(|c| jit.layout(&prepared(c))).collect(),
                errors: batch.errors().map(Option::<&InputError>::cloned).collect(),
            },
        };
        Layout { ir: self.ir.clone(), kind }
    }

    /// Evaluates one actor.
    pub fn evaluate(&self, actor: &Actor) -> Result<Snapshot, ActorError> {
        let p = self.prepare(actor)?;
        self.evaluate_prepared(&p, &mut Scratch::default())
    }

    /// Evaluates one prepared actor (`scratch` is only used by the interpreter).
    pub(crate) fn evaluate_prepared(&self, p: &Prepared, scratch: &mut Scratch) -> Result<Snapshot, ActorError> {
        match &self.jit {
            None => Ok(eval::eval(&self.ir, p, scratch)?),
            Some(jit) => {
                let mut bufs = jit::Buffers::default();
                Ok(jit.evaluate(&[p], &mut bufs).pop().expect("one result per actor")?)
            }
        }
    }

    /// Evaluates prepared actors in parallel (the JIT's lane pairs chunk by chunk): one
    /// result per actor, in order.
    pub(crate) fn evaluate_prepared_all(&self, actors: &[&Prepared]) -> Vec<Result<Snapshot, EvalError>> {
        match &self.jit {
            None => {
                actors.par_iter().map_init(Scratch::default, |scratch, p| eval::eval(&self.ir, p, scratch)).collect()
            }
            Some(jit) => flatten(
                actors.par_chunks(ACTORS_PER_TASK).map_init(jit::Buffers::default, |b, c| jit.evaluate(c, b)).collect(),
            ),
        }
    }

    /// Evaluates a batch (actors, a [`PreparedBatch`] or a [`Layout`]) in parallel: one
    /// result per actor, in order.
    ///
    /// # Panics
    /// If a prepared batch or a layout is of other rules than this engine's, or a JIT layout
    /// is given to an interpreter engine.
    pub fn evaluate_batch<'a>(&self, batch: impl Into<Batch<'a>>) -> Vec<Result<Snapshot, ActorError>> {
        match batch.into() {
            Batch::Actors(actors) => match &self.jit {
                // The interpreter needs no chunks: each actor is ingested and evaluated alone.
                None => actors
                    .par_iter()
                    .enumerate()
                    .map_init(Scratch::default, |scratch, (i, a)| {
                        jit::prefetch_next(actors, i);
                        self.interpret(self.prepare(a).as_ref(), scratch)
                    })
                    .collect(),
                // The JIT lays out each chunk while its prepared actors are still in cache.
                Some(jit) => flatten(
                    actors
                        .par_chunks(ACTORS_PER_TASK)
                        .map_init(
                            || (Vec::new(), jit::Buffers::default()),
                            |(prepared, bufs), chunk| {
                                self.prepare_into(chunk, prepared);
                                self.lay_out_and_place(jit, prepared, bufs)
                            },
                        )
                        .collect(),
                ),
            },
            Batch::Prepared(batch) => self.evaluate_all_prepared(self.actors_of(batch)),
            Batch::Layout(layout) => match self.laid_out(layout) {
                Laid::Prepared(actors) => self.evaluate_all_prepared(actors),
                Laid::Jit(jit, chunks, errors) => flatten(
                    chunks
                        .par_iter()
                        .zip(errors.par_chunks(ACTORS_PER_TASK))
                        .map_init(jit::Buffers::default, |bufs, (l, errors)| {
                            in_place(errors.iter().map(Option::as_ref), jit.snapshots(l, bufs))
                        })
                        .collect(),
                ),
            },
        }
    }

    /// Evaluates a batch into values only (see [`ValueTable`]): the same numbers and errors
    /// as [`Engine::evaluate_batch`], no snapshot built. `table`'s rows are replaced and its
    /// memory reused, so a caller that evaluates every frame allocates nothing after the first.
    ///
    /// # Panics
    /// As [`Engine::evaluate_batch`].
    pub fn evaluate_values<'a>(&self, batch: impl Into<Batch<'a>>, table: &mut ValueTable) {
        let batch = batch.into();
        let n = batch.len();
        table.reset(self.ir.stats.len(), n);
        let rows = table.par_rows(n, ACTORS_PER_TASK);
        match batch {
            Batch::Actors(actors) => {
                rows.zip(actors.par_chunks(ACTORS_PER_TASK)).for_each_init(Task::default, |task, (mut rows, chunk)| {
                    self.prepare_into(chunk, &mut task.prepared);
                    self.values_chunk(&task.prepared, &mut rows, &mut task.scratch, &mut task.jit);
                })
            }
            Batch::Prepared(batch) => self.values_prepared_chunks(rows, self.actors_of(batch)),
            Batch::Layout(layout) => match self.laid_out(layout) {
                Laid::Prepared(actors) => self.values_prepared_chunks(rows, actors),
                Laid::Jit(jit, chunks, errors) => rows
                    .zip(chunks)
                    .zip(errors.par_chunks(ACTORS_PER_TASK))
                    .for_each_init(Vec::new, |out, ((mut rows, l), errors)| {
                        let lane_rows = fail_input_errors(errors.iter().map(Option::as_ref), &mut rows);
                        jit.values(l, out, |lane, v| write_row(&mut rows, lane_rows[lane], v));
                    }),
            },
        }
    }

    /// Ingests `chunk` into `into` (cleared first), starting to load each next actor early.
    fn prepare_into(&self, chunk: &[Actor], into: &mut Vec<Result<Prepared, InputError>>) {
        into.clear();
        into.extend(chunk.iter().enumerate().map(|(i, a)| {
            jit::prefetch_next(chunk, i);
            self.prepare(a)
        }));
    }

    /// Every prepared actor's result, in order.
    fn evaluate_all_prepared(&self, actors: &[Result<Prepared, InputError>]) -> Vec<Result<Snapshot, ActorError>> {
        match &self.jit {
            None => {
                actors.par_iter().map_init(Scratch::default, |scratch, a| self.interpret(a.as_ref(), scratch)).collect()
            }
            Some(jit) => flatten(
                actors
                    .par_chunks(ACTORS_PER_TASK)
                    .map_init(jit::Buffers::default, |bufs, chunk| self.lay_out_and_place(jit, chunk, bufs))
                    .collect(),
            ),
        }
    }

    /// The interpreter's result for one actor: its input error, or its evaluation.
    fn interpret(&self, actor: Result<&Prepared, &InputError>, scratch: &mut Scratch) -> Result<Snapshot, ActorError> {
        match actor {
            Ok(p) => Ok(eval::eval(&self.ir, p, scratch)?),
            Err(e) => Err(ActorError::from(e.clone())),
        }
    }

    /// The JIT's results for one chunk, laid out in `bufs`, with each input error in place.
    fn lay_out_and_place(
        &self,
        jit: &jit::Compiled,
        chunk: &[Result<Prepared, InputError>],
        bufs: &mut jit::Buffers,
    ) -> Vec<Result<Snapshot, ActorError>> {
        in_place(chunk.iter().map(|a| a.as_ref().err()), jit.evaluate(&prepared(chunk), bufs))
    }

    fn values_prepared_chunks<'r>(
        &self,
        rows: impl IndexedParallelIterator<Item = RowsMut<'r>>,
        actors: &[Result<Prepared, InputError>],
    ) {
        rows.zip(actors.par_chunks(ACTORS_PER_TASK)).for_each_init(
            || (Scratch::default(), jit::Buffers::default()),
            |(scratch, bufs), (mut rows, chunk)| self.values_chunk(chunk, &mut rows, scratch, bufs),
        );
    }

    /// Fills `rows`, one per actor of `chunk`: its input error, or the back end's values.
    fn values_chunk(
        &self,
        chunk: &[Result<Prepared, InputError>],
        rows: &mut RowsMut,
        scratch: &mut Scratch,
        bufs: &mut jit::Buffers,
    ) {
        let lane_rows = fail_input_errors(chunk.iter().map(|a| a.as_ref().err()), rows);
        let actors = prepared(chunk);
        match &self.jit {
            None => {
                for (p, &row) in actors.iter().zip(&lane_rows) {
                    match eval::eval_values(&self.ir, p, scratch) {
                        Ok(values) => rows.values(row).copy_from_slice(values),
                        Err(e) => rows.fail(row, e.into()),
                    }
                }
            }
            Some(jit) => jit.evaluate_values(&actors, bufs, |lane, v| write_row(rows, lane_rows[lane], v)),
        }
    }

    /// What a kept layout holds, checked to be this engine's.
    fn laid_out<'l>(&'l self, layout: &'l Layout) -> Laid<'l> {
        assert!(Arc::ptr_eq(&self.ir, &layout.ir), "a layout must be evaluated with the rules it was laid out for");
        match (&layout.kind, &self.jit) {
            (LayoutKind::Prepared(batch), _) => Laid::Prepared(&batch.actors),
            (LayoutKind::Jit { chunks, errors }, Some(jit)) => Laid::Jit(jit, chunks, errors),
            (LayoutKind::Jit { .. }, None) => panic!("a JIT layout must be evaluated with a JIT engine"),
        }
    }
}

/// A kept layout's contents, for the engine evaluating it.
enum Laid<'l> {
    Prepared(&'l [Result<Prepared, InputError>]),
    Jit(&'l jit::Compiled, &'l [jit::ChunkLayout], &'l [Option<InputError>]),
}

/// The chunks' results, in order, as one list.
fn flatten<T>(chunks: Vec<Vec<T>>) -> Vec<T> {
    chunks.into_iter().flatten().collect()
}

/// The prepared actors of a chunk, without its input errors.
fn prepared(chunk: &[Result<Prepared, InputError>]) -> Vec<&Prepared> {
    chunk.iter().filter_map(|a| a.as_ref().ok()).collect()
}

/// One result per actor of a chunk: its input error (from `errors`), or the next of the
/// evaluated actors' results `evaluated`, in order.
fn in_place<'e, T>(
    errors: impl Iterator<Item = Option<&'e InputError>>,
    evaluated: Vec<Result<T, EvalError>>,
) -> Vec<Result<T, ActorError>> {
    let mut evaluated = evaluated.into_iter();
    errors
        .map(|e| match e {
            Some(e) => Err(ActorError::from(e.clone())),
            None => evaluated.next().expect("one result per evaluated actor").map_err(Into::into),
        })
        .collect()
}

/// Marks the rows of actors with input errors failed; the rows of the others, in order.
fn fail_input_errors<'e>(errors: impl Iterator<Item = Option<&'e InputError>>, rows: &mut RowsMut) -> Vec<usize> {
    let mut lane_rows = Vec::with_capacity(ACTORS_PER_TASK);
    for (i, e) in errors.enumerate() {
        match e {
            Some(e) => rows.fail(i, ActorError::from(e.clone())),
            None => lane_rows.push(i),
        }
    }
    lane_rows
}

/// Writes one evaluated actor's values, or its error, into row `i`.
fn write_row(rows: &mut RowsMut, i: usize, values: Result<jit::LaneValues, EvalError>) {
    match values {
        Ok(v) => v.write(rows.values(i)),
        Err(e) => rows.fail(i, e.into()),
    }
}
