//! [`Engine`]: evaluates actors against [`Rules`] with a chosen [`Backend`].
//!
//! Invariant: ingest ([`prepare`]) is shared by every backend, so backends differ only in
//! how a [`Prepared`] actor becomes a [`Snapshot`].

use crate::eval::{self, EvalError, Scratch};
use crate::ingest::{InputError, Prepared, prepare};
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

impl std::error::Error for ActorError {}

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
#[derive(Debug, Clone, PartialEq)]
pub enum EngineError {
    /// The JIT could not compile the rules (the interpreter still can run them).
    Jit(String),
}

impl std::fmt::Display for EngineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EngineError::Jit(e) => write!(f, "the JIT could not compile these rules: {e} (use --engine interp)"),
        }
    }
}

impl std::error::Error for EngineError {}

/// Actors already ingested: evaluating them again (after a reload, say) skips ingest.
/// A prepared batch belongs to the rule set it was prepared with.
#[derive(Debug, Clone)]
pub struct PreparedBatch {
    pub actors: Vec<Result<Prepared, InputError>>,
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
    pub(crate) fn reset(&mut self, stats: usize, rows: usize) {
        self.stats = stats;
        self.values.clear();
        self.values.resize(rows * stats, 0.0);
        self.errors.clear();
        self.errors.resize(rows, None);
    }

    /// The first `rows` rows in runs of `per_run` (the last may be shorter), to fill in
    /// parallel.
    pub(crate) fn par_rows(&mut self, rows: usize, per_run: usize) -> impl IndexedParallelIterator<Item = RowsMut<'_>> {
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

/// Actors per parallel task of the interpreter's value tables.
const VALUE_ROWS_PER_TASK: usize = 64;

/// A run of consecutive rows of a [`ValueTable`], filled by one parallel task.
pub(crate) struct RowsMut<'a> {
    stats: usize,
    values: &'a mut [f64],
    errors: &'a mut [Option<ActorError>],
}

impl RowsMut<'_> {
    /// Row `i`'s values, to write.
    pub fn values(&mut self, i: usize) -> &mut [f64] {
        &mut self.values[i * self.stats..(i + 1) * self.stats]
    }

    /// Marks row `i` failed (its values stay zero).
    pub fn fail(&mut self, i: usize, e: ActorError) {
        self.errors[i] = Some(e);
    }
}

/// Evaluates actors with one rule set and one backend.
///
/// With [`Backend::Jit`] the rules are compiled once in [`Engine::new`]; clones share the
/// native code, which is freed when the last clone is dropped.
#[derive(Debug, Clone)]
pub struct Engine {
    ir: Arc<Ir>,
    backend: Backend,
    jit: Option<Arc<jit::Compiled>>,
}

impl Engine {
    pub fn new(rules: &Rules, backend: Backend) -> Result<Engine, EngineError> {
        match backend {
            Backend::Interpreter => Ok(Engine { ir: rules.ir.clone(), backend, jit: None }),
            Backend::Jit => {
                let compiled = jit::Compiled::new(rules.ir.clone()).map_err(EngineError::Jit)?;
                Ok(Engine { ir: rules.ir.clone(), backend, jit: Some(Arc::new(compiled)) })
            }
        }
    }

    /// A JIT engine whose native functions hold at most `stats_per_function` stats each
    /// (the default is 4). For tests of the boundaries between functions.
    #[doc(hidden)]
    pub fn jit_chunked(rules: &Rules, stats_per_function: usize) -> Result<Engine, EngineError> {
        let compiled = jit::Compiled::with_chunks(rules.ir.clone(), stats_per_function).map_err(EngineError::Jit)?;
        Ok(Engine { ir: rules.ir.clone(), backend: Backend::Jit, jit: Some(Arc::new(compiled)) })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn ir(&self) -> &Arc<Ir> {
        &self.ir
    }

    /// Checks and ingests one actor.
    pub fn prepare(&self, actor: &Actor) -> Result<Prepared, InputError> {
        prepare(&self.ir, actor)
    }

    /// Ingests an actor straight from its JSON text, without building an [`Actor`]: its id
    /// and the prepared actor. `None` unless the text is an actor object in the plain form
    /// (see [`crate::ingest::prepare_json`]) that parses and ingests without error within
    /// `limits`; then parse and [`Engine::prepare`] it, which say what is wrong.
    pub fn prepare_json(&self, text: &str, limits: &InputLimits) -> Option<(Option<String>, Prepared)> {
        crate::ingest::prepare_json(&self.ir, text, limits)
    }

    pub fn evaluate(&self, actor: &Actor) -> Result<Snapshot, ActorError> {
        let p = self.prepare(actor)?;
        self.evaluate_prepared(&p, &mut Scratch::default())
    }

    /// Evaluates one prepared actor (`scratch` is only used by the interpreter).
    pub fn evaluate_prepared(&self, p: &Prepared, scratch: &mut Scratch) -> Result<Snapshot, ActorError> {
        match &self.jit {
            None => Ok(eval::eval(&self.ir, p, scratch)?),
            Some(jit) => {
                let batch = jit.batch_prepared(&[p]);
                jit.evaluate(&batch).pop().expect("one result per actor")
            }
        }
    }

    /// Evaluates every actor (in parallel); one result per actor, in order.
    pub fn evaluate_batch(&self, actors: &[Actor]) -> Vec<Result<Snapshot, ActorError>> {
        if let Some(jit) = &self.jit {
            return jit.evaluate_actors(actors, |a| self.prepare(a));
        }
        actors
            .par_iter()
            .enumerate()
            .map_init(Scratch::default, |scratch, (i, a)| {
                jit::prefetch_next(actors, i);
                let p = self.prepare(a)?;
                self.evaluate_prepared(&p, scratch)
            })
            .collect()
    }

    pub fn prepare_batch(&self, actors: &[Actor]) -> PreparedBatch {
        let prepare = |(i, a)| {
            jit::prefetch_next(actors, i);
            self.prepare(a)
        };
        PreparedBatch { actors: actors.par_iter().enumerate().map(prepare).collect() }
    }

    /// Evaluates a prepared batch; the JIT lays it out chunk by chunk on the way (see
    /// [`Engine::layout`] to keep a layout for repeated evaluation).
    pub fn evaluate_prepared_batch(&self, batch: &PreparedBatch) -> Vec<Result<Snapshot, ActorError>> {
        if let Some(jit) = &self.jit {
            return jit.evaluate_prepared(&batch.actors);
        }
        batch
            .actors
            .par_iter()
            .map_init(Scratch::default, |scratch, p| match p {
                Ok(p) => self.evaluate_prepared(p, scratch),
                Err(e) => Err(ActorError::from(e.clone())),
            })
            .collect()
    }

    /// Evaluates a prepared batch into values only (see [`ValueTable`]): the same numbers
    /// and errors as [`Engine::evaluate_prepared_batch`], no snapshot built.
    pub fn evaluate_values(&self, batch: &PreparedBatch) -> ValueTable {
        let mut table = ValueTable::default();
        self.evaluate_values_into(batch, &mut table);
        table
    }

    /// [`Engine::evaluate_values`] into `table`, replacing its rows and reusing its memory:
    /// a caller that evaluates every frame allocates nothing after the first.
    pub fn evaluate_values_into(&self, batch: &PreparedBatch, table: &mut ValueTable) {
        if let Some(jit) = &self.jit {
            return jit.evaluate_prepared_values(&batch.actors, table);
        }
        table.reset(self.ir.stats.len(), batch.actors.len());
        table
            .par_rows(batch.actors.len(), VALUE_ROWS_PER_TASK)
            .zip(batch.actors.par_chunks(VALUE_ROWS_PER_TASK))
            .for_each_init(Scratch::default, |scratch, (mut rows, chunk)| {
                for (i, p) in chunk.iter().enumerate() {
                    match p
                        .as_ref()
                        .map_err(|e| ActorError::from(e.clone()))
                        .and_then(|p| eval::eval_values(&self.ir, p, scratch).map_err(ActorError::from))
                    {
                        Ok(values) => rows.values(i).copy_from_slice(values),
                        Err(e) => rows.fail(i, e),
                    }
                }
            });
    }

    /// Lays out a prepared batch for the JIT (structure of arrays, two actors per vector):
    /// ingest and layout done once, [`Engine::evaluate_layout`] can then run it repeatedly.
    /// `None` for the interpreter, which needs no layout.
    pub fn layout(&self, batch: &PreparedBatch) -> Option<jit::Batch> {
        self.jit.as_ref().map(|jit| jit.batch(&batch.actors))
    }

    /// Evaluates a batch laid out by [`Engine::layout`] of an engine sharing this one's
    /// compiled code (a clone): one result per actor, in order.
    ///
    /// # Panics
    /// If this engine is not a JIT engine, or the batch was laid out for other rules.
    pub fn evaluate_layout(&self, batch: &jit::Batch) -> Vec<Result<Snapshot, ActorError>> {
        self.jit.as_ref().expect("evaluate_layout needs Backend::Jit").evaluate(batch)
    }

    /// [`Engine::evaluate_values`] of a batch laid out by [`Engine::layout`]: evaluation
    /// only, with neither ingest, layout nor snapshots.
    ///
    /// # Panics
    /// As [`Engine::evaluate_layout`].
    pub fn evaluate_layout_values(&self, batch: &jit::Batch) -> ValueTable {
        let mut table = ValueTable::default();
        self.evaluate_layout_values_into(batch, &mut table);
        table
    }

    /// [`Engine::evaluate_layout_values`] into `table`, replacing its rows and reusing its
    /// memory.
    ///
    /// # Panics
    /// As [`Engine::evaluate_layout`].
    pub fn evaluate_layout_values_into(&self, batch: &jit::Batch, table: &mut ValueTable) {
        self.jit.as_ref().expect("evaluate_layout_values needs Backend::Jit").evaluate_values(batch, table)
    }
}
