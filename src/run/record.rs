//! The output records of a run: [`Record`] (a snapshot or an error) and [`ValuesRecord`]
//! (`--values`), serialized by serde; [`select`] resolves the stats of `--values`.

use crate::engine::ActorError;
use crate::ir::{Ir, StatId, UnknownStat};
use crate::snapshot::Snapshot;
use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};

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

    /// The stats by id and by the name asked for, in the order asked for.
    pub fn stats(&self) -> impl Iterator<Item = (StatId, &str)> {
        self.stats.iter().map(|(id, name)| (*id, name.as_str()))
    }
}

/// Why `--values` names no stats of the rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SelectError {
    EmptyName,
    Unknown(UnknownStat),
}

impl std::fmt::Display for SelectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SelectError::EmptyName => {
                write!(f, "--values: a stat name is empty (expected names separated by commas)")
            }
            SelectError::Unknown(e) => write!(f, "--values: {e}"),
        }
    }
}

impl std::error::Error for SelectError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SelectError::EmptyName => None,
            SelectError::Unknown(e) => Some(e),
        }
    }
}

/// The stats of `names` that `ir` has (see [`select`]); the others are left out.
pub fn select_known(ir: &Ir, names: &[String]) -> Selection {
    let mut selection = Selection::default();
    for name in names {
        if let Ok(s) = select(ir, std::slice::from_ref(name))
            && let Some(stat) = s.stats.into_iter().next()
            && !selection.stats.iter().any(|(id, _)| *id == stat.0)
        {
            selection.stats.push(stat);
        }
    }
    selection
}

/// The stats named by `names` (surrounding spaces ignored, repeats dropped).
pub fn select(ir: &Ir, names: &[String]) -> Result<Selection, SelectError> {
    let mut stats: Vec<(StatId, String)> = Vec::with_capacity(names.len());
    for name in names.iter().map(|n| n.trim()) {
        if name.is_empty() {
            return Err(SelectError::EmptyName);
        }
        let id = ir.resolve_stat(name).map_err(SelectError::Unknown)?;
        if !stats.iter().any(|(s, _)| *s == id) {
            stats.push((id, name.to_string()));
        }
    }
    Ok(Selection { stats })
}
