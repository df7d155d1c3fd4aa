//! The sheet `actorc serve` shows, as data: every actor's value of every stat under one
//! generation, the cells the last evaluation changed, each failing actor's error, and what
//! is wrong when the rules or the input could not be read. Serialized once per revision
//! (`/api/sheet`, one server-sent event each).
//!
//! Invariant: the values are those of the last good generation; a rejected save only sets
//! [`Sheet::problem`], so the page keeps showing them with the diagnostics beside.

use crate::engine::ActorError;
use crate::ir::Ir;
use crate::run::Session;
use rustc_hash::FxHashMap;
use serde::Serialize;
use std::collections::BTreeMap;

/// One revision of the sheet.
#[derive(Debug, Clone, Serialize)]
pub(super) struct Sheet {
    /// One more for every sheet published (a rejected save too).
    pub revision: u64,
    /// The revision whose evaluation the values come from: equal to `revision` when this
    /// one brought new values (and the changed cells are new).
    pub values_revision: u64,
    /// The rule generation of the values; `None` before the first good rules.
    pub generation: Option<u64>,
    pub cause: Cause,
    /// From the first file event to this revision, in milliseconds (`None` at start).
    pub latency_ms: Option<f64>,
    pub rules: Vec<String>,
    pub input: String,
    pub stats: Vec<StatColumn>,
    pub actors: Vec<ActorRow>,
    /// How many actors fail.
    pub failing: usize,
    /// Why the last reload published nothing; `None` while all is well.
    pub problem: Option<Problem>,
}

/// What made a revision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum Cause {
    Start,
    Rules,
    Input,
}

#[derive(Debug, Clone, Serialize)]
pub(super) struct StatColumn {
    pub name: String,
    /// `primary` or `derived`.
    pub category: &'static str,
    /// A view: the stat it is a view of.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub view_of: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub(super) struct ActorRow {
    /// Its id, or `line N` for an actor without one (the key `/api/explain` takes).
    pub key: String,
    pub id: Option<String>,
    pub line: Option<usize>,
    /// One per stat column; `None` where the actor has no value (formulas read 0).
    pub values: Vec<Option<f64>>,
    pub error: Option<ActorError>,
    /// The cells the last evaluation changed: stat → the value before (`None`: it had none).
    pub changed: BTreeMap<String, Option<f64>>,
}

/// Why the rules (or the input) could not be read again.
#[derive(Debug, Clone, Serialize)]
pub(super) struct Problem {
    pub title: String,
    /// Diagnostics as plain text (`file:line:col: error[code]: …`), for a `<pre>`.
    pub text: String,
    /// The same as data (see `actorc check --format json`).
    pub diagnostics: serde_json::Value,
    /// Errors among the diagnostics (1 for a problem without diagnostics).
    pub errors: usize,
}

/// The stat columns of `ir`, in evaluation order.
pub(super) fn columns(ir: &Ir) -> Vec<StatColumn> {
    ir.stats
        .iter()
        .map(|s| StatColumn {
            name: s.name.clone(),
            category: s.category.keyword(),
            view_of: s.view.as_ref().map(|v| ir.stats[v.source.index()].name.clone()),
        })
        .collect()
}

/// The rows of the session's actors, with their last results, over `stats`.
pub(super) fn rows(session: &Session, stats: &[StatColumn]) -> Vec<ActorRow> {
    session
        .actors()
        .map(|a| {
            let (values, error) = match a.result.map(|r| r.as_ref()) {
                Some(Ok(snapshot)) => (stats.iter().map(|s| snapshot.get(&s.name)).collect(), None),
                Some(Err(e)) => (Vec::new(), Some(e.clone())),
                None => (Vec::new(), None),
            };
            let key = a.id.map_or_else(|| format!("line {}", a.line.unwrap_or(1)), String::from);
            ActorRow { key, id: a.id.map(String::from), line: a.line, values, error, changed: BTreeMap::new() }
        })
        .collect()
}

/// Marks in `next` every cell whose value differs from the same actor's (by key) and stat's
/// (by name) in `prev`. An actor that failed, or was not there, has nothing to compare with.
pub(super) fn mark_changes(prev: &Sheet, next: &mut Sheet) {
    let columns: FxHashMap<&str, usize> = prev.stats.iter().enumerate().map(|(i, s)| (s.name.as_str(), i)).collect();
    let mut rows: FxHashMap<&str, &ActorRow> = FxHashMap::default();
    for row in prev.actors.iter().filter(|r| r.error.is_none() && !r.values.is_empty()) {
        rows.entry(row.key.as_str()).or_insert(row);
    }
    for row in &mut next.actors {
        let Some(old) = rows.get(row.key.as_str()) else { continue };
        for (stat, new) in next.stats.iter().zip(&row.values) {
            let was = columns.get(stat.name.as_str()).and_then(|&i| old.values.get(i).copied().flatten());
            if was != *new {
                row.changed.insert(stat.name.clone(), was);
            }
        }
    }
}
