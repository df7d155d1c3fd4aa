//! The components of a live actor: [`StatActor`] (what makes an entity one), its
//! [`ModifierSources`] (the input) and its [`Stats`] (the output).
//!
//! Invariant: [`Stats`] holds the values of the last successful evaluation, indexed by the
//! stat ids of the generation that produced them ([`StatNames`]); a [`StatHandle`] checks
//! its stat's name before it trusts an index, so a handle stays correct across reloads.

use crate::state::ActorState;
use actorc::input::{CapContribution, Contribution};
use actorc::{ActorError, Snapshot};
use bevy_ecs::component::Component;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// Marks an entity as a live actor. Its sources are in [`ModifierSources`] and its values
/// appear in [`Stats`] (both added with it when missing).
#[derive(Component, Debug, Clone, Default, PartialEq)]
#[require(ModifierSources, Stats, ActorState)]
pub struct StatActor {
    /// The actor's id in error messages.
    pub id: Option<String>,
    /// The situation the actor is in: tags of the rule set (`"low_life"`).
    pub tags: Vec<String>,
}

impl StatActor {
    pub fn named(id: impl Into<String>) -> StatActor {
        StatActor { id: Some(id.into()), tags: Vec::new() }
    }
}

/// What one source (an item, a buff, the class) contributes: contributions and caps, as in
/// actor JSON. A contribution or cap whose `system` is empty takes the source's name.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Modifiers {
    /// Contributions reported in the snapshot's `Primary` section.
    pub primary: Vec<Contribution>,
    /// Contributions reported in `Derived`.
    pub derived: Vec<Contribution>,
    pub caps: Vec<CapContribution>,
}

impl Modifiers {
    pub fn new() -> Modifiers {
        Modifiers::default()
    }

    /// Adds `value` to `bucket` of `stat` (a `Primary` contribution).
    pub fn add(mut self, stat: &str, bucket: &str, value: f64) -> Modifiers {
        self.primary.push(contribution(stat, bucket, value));
        self
    }

    /// Adds `value` to `bucket` of `stat`, reported under `Derived`.
    pub fn add_derived(mut self, stat: &str, bucket: &str, value: f64) -> Modifiers {
        self.derived.push(contribution(stat, bucket, value));
        self
    }

    /// Adds a cap (its `system` may be left empty).
    pub fn cap(mut self, cap: CapContribution) -> Modifiers {
        self.caps.push(cap);
        self
    }
}

fn contribution(stat: &str, bucket: &str, value: f64) -> Contribution {
    Contribution { dimension: stat.into(), bucket: bucket.into(), value, ..Contribution::default() }
}

/// A live actor's modifiers by source. Changing it (any mutable access) re-evaluates the
/// actor in the next [`StatsSet::Evaluate`](crate::StatsSet::Evaluate); removing a source
/// removes all it gave.
#[derive(Component, Debug, Clone, Default, PartialEq)]
pub struct ModifierSources {
    sources: BTreeMap<String, Modifiers>,
}

impl ModifierSources {
    /// With the source `name` set (for spawning).
    pub fn with(mut self, name: impl Into<String>, modifiers: Modifiers) -> ModifierSources {
        self.set(name, modifiers);
        self
    }

    /// Sets (or replaces) the source `name`; its earlier modifiers are gone.
    pub fn set(&mut self, name: impl Into<String>, modifiers: Modifiers) {
        self.sources.insert(name.into(), modifiers);
    }

    /// Removes the source `name` and everything it contributed.
    pub fn remove(&mut self, name: &str) -> Option<Modifiers> {
        self.sources.remove(name)
    }

    pub fn get(&self, name: &str) -> Option<&Modifiers> {
        self.sources.get(name)
    }

    /// The sources by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Modifiers)> {
        self.sources.iter().map(|(n, m)| (n.as_str(), m))
    }

    pub fn len(&self) -> usize {
        self.sources.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sources.is_empty()
    }
}

/// The stat names of one generation, by id, and their ids by name (shared by every
/// [`Stats`] of that generation).
#[derive(Debug, Default)]
pub(crate) struct StatNames {
    pub(crate) names: Box<[Arc<str>]>,
    index: HashMap<Arc<str>, u32>,
}

impl StatNames {
    pub(crate) fn new(names: impl IntoIterator<Item = String>) -> StatNames {
        let names: Box<[Arc<str>]> = names.into_iter().map(Arc::from).collect();
        let index = names.iter().enumerate().map(|(i, n)| (n.clone(), i as u32)).collect();
        StatNames { names, index }
    }

    pub(crate) fn handle(&self, name: &str) -> Option<StatHandle> {
        let &index = self.index.get(name)?;
        Some(StatHandle { index, name: self.names[index as usize].clone() })
    }
}

/// A stat resolved once ([`StatRules::stat`](crate::StatRules::stat) or [`Stats::handle`]),
/// for reading [`Stats`] without a name lookup. After a reload that moved the stat it falls
/// back to its name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StatHandle {
    index: u32,
    name: Arc<str>,
}

impl StatHandle {
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// A live actor's stats: the values of its last successful evaluation, and the error of
/// the last one if it failed (the values then stay as they were).
#[derive(Component, Debug, Default)]
pub struct Stats {
    /// The rules generation evaluated with; 0 before the first evaluation.
    pub(crate) generation: u64,
    pub(crate) names: Arc<StatNames>,
    /// By stat id of `names`; `None` for a stat without a value.
    pub(crate) values: Box<[Option<f64>]>,
    pub(crate) snapshot: Option<Snapshot>,
    pub(crate) error: Option<ActorError>,
}

impl Stats {
    /// The value of the stat `name`, if it has one.
    pub fn get(&self, name: &str) -> Option<f64> {
        let &i = self.names.index.get(name)?;
        self.values.get(i as usize).copied().flatten()
    }

    /// The value of a resolved stat: an index and a name check.
    pub fn value(&self, stat: &StatHandle) -> Option<f64> {
        let i = stat.index as usize;
        match self.names.names.get(i) {
            Some(n) if Arc::ptr_eq(n, &stat.name) || **n == *stat.name => self.values.get(i).copied().flatten(),
            _ => self.get(&stat.name),
        }
    }

    /// A handle of the stat `name` in these stats' rules.
    pub fn handle(&self, name: &str) -> Option<StatHandle> {
        self.names.handle(name)
    }

    /// Every stat with a value, in stat order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, f64)> {
        self.names.names.iter().zip(&self.values).filter_map(|(n, v)| v.map(|v| (&**n, v)))
    }

    /// The whole snapshot of the last successful evaluation (ranges, context packs; it
    /// serializes to actorc's JSON form).
    pub fn snapshot(&self) -> Option<&Snapshot> {
        self.snapshot.as_ref()
    }

    /// Why the last evaluation failed, if it did.
    pub fn error(&self) -> Option<&ActorError> {
        self.error.as_ref()
    }

    /// The rules generation of the last evaluation (0: not evaluated yet).
    pub fn generation(&self) -> u64 {
        self.generation
    }
}
