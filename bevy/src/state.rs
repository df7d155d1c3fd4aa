//! [`ActorState`]: the one place that knows how a live actor is evaluated.
//!
//! Today it keeps the entity's sources as an `actorc::Actor` value (rebuilt when they
//! change), the evaluation is `Engine::evaluate`/`evaluate_batch`, and the changes come from
//! comparing the new values with the ones in [`Stats`]. A library live actor (typed handles,
//! sources set one by one, incremental evaluation returning its changes) replaces the insides
//! of this module and nothing else.
//!
//! Invariant: a stat's change is reported when its value differs by its bits (or appears
//! or disappears), matched by name across generations.

use crate::components::{ModifierSources, StatActor, StatNames, Stats};
use actorc::input::{Meta, SubsystemOutput};
use actorc::{Actor, ActorError, Engine, Snapshot};
use bevy_ecs::component::Component;
use std::sync::Arc;

/// A live actor's evaluation input.
#[derive(Component, Debug, Default)]
pub(crate) struct ActorState {
    input: Actor,
}

/// One stat whose value changed: name, old and new value.
pub(crate) type Change = (Arc<str>, Option<f64>, Option<f64>);

impl ActorState {
    /// Takes the entity's current sources and tags (called when they changed).
    pub(crate) fn sync(&mut self, actor: &StatActor, sources: &ModifierSources) {
        let subsystems = sources.iter().map(|(name, m)| {
            let own = |system: &mut actorc::input::Name| {
                if system.is_empty() {
                    *system = name.into();
                }
            };
            let mut out = SubsystemOutput {
                primary: m.primary.clone(),
                derived: m.derived.clone(),
                caps: m.caps.clone(),
                context: None,
                meta: Meta { system: name.into(), ..Meta::default() },
            };
            out.primary.iter_mut().chain(&mut out.derived).for_each(|c| own(&mut c.system));
            out.caps.iter_mut().for_each(|c| own(&mut c.system));
            out
        });
        self.input = Actor {
            id: actor.id.clone(),
            version: 1,
            subsystems: subsystems.collect(),
            tags: actor.tags.iter().map(|t| t.as_str().into()).collect(),
        };
    }

    /// The input as an `Actor` value: what [`evaluate`] evaluates.
    pub(crate) fn take_input(&mut self) -> Actor {
        std::mem::take(&mut self.input)
    }

    pub(crate) fn restore_input(&mut self, input: Actor) {
        self.input = input;
    }
}

/// Evaluates the inputs of several actors: one result each, in order (bit for bit what
/// evaluating them one by one gives).
pub(crate) fn evaluate(engine: &Engine, inputs: &[Actor]) -> Vec<Result<Snapshot, ActorError>> {
    match inputs {
        [one] => vec![engine.evaluate(one)],
        _ => engine.evaluate_batch(inputs),
    }
}

/// Stores an evaluation of generation `generation` (stat names `names`) in `stats`, and
/// appends to `changes` every stat whose value changed. On an error the values stay.
pub(crate) fn store(
    stats: &mut Stats,
    generation: u64,
    names: &Arc<StatNames>,
    result: Result<Snapshot, ActorError>,
    changes: &mut Vec<Change>,
) -> Result<(), ActorError> {
    let snapshot = match result {
        Ok(s) => s,
        Err(e) => {
            stats.generation = generation;
            stats.error = Some(e.clone());
            return Err(e);
        }
    };
    let mut values = vec![None; names.names.len()].into_boxed_slice();
    for e in snapshot.entries().filter(|e| e.has_value()) {
        if let Some(v) = values.get_mut(e.stat.index()) {
            *v = Some(e.value);
        }
    }
    let same = |a: Option<f64>, b: Option<f64>| a.map(f64::to_bits) == b.map(f64::to_bits);
    if Arc::ptr_eq(&stats.names, names) {
        for ((name, &old), &new) in names.names.iter().zip(&stats.values).zip(&values) {
            if !same(old, new) {
                changes.push((name.clone(), old, new));
            }
        }
    } else {
        // Another generation (or the first evaluation): match the stats by name.
        for (name, &new) in names.names.iter().zip(&values) {
            let old = stats.get(name);
            if !same(old, new) {
                changes.push((name.clone(), old, new));
            }
        }
        for (name, old) in stats.iter().filter(|(n, _)| names.handle(n).is_none()) {
            changes.push((Arc::from(name), Some(old), None));
        }
    }
    *stats = Stats { generation, names: names.clone(), values, snapshot: Some(snapshot), error: None };
    Ok(())
}
