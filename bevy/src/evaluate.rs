//! The evaluation system: once per frame, the live actors whose sources or tags changed,
//! or that were evaluated with an older generation, are brought up to date (only the
//! sources that changed) and evaluated in one batch.
//!
//! Invariant: nothing here panics; an actor that fails keeps its last values and gets a
//! [`StatsFailed`], and is not evaluated again until its input or the rules change.

use crate::components::{ModifierSources, StatActor, Stats};
use crate::rules::StatRules;
use crate::state::{self, ActorState, Step};
use actorc::ActorError;
use actorc::live::LiveActor;
use bevy_ecs::change_detection::{DetectChanges, DetectChangesMut, Mut, Ref};
use bevy_ecs::entity::Entity;
use bevy_ecs::message::{Message, MessageWriter};
use bevy_ecs::system::{Local, Query, Res};
use std::sync::Arc;

/// A stat of `entity` changed value (`None`: it has none on that side, as on the first
/// evaluation or when the stat was added or removed by a reload).
#[derive(Message, Debug, Clone, PartialEq)]
pub struct StatChanged {
    pub entity: Entity,
    pub stat: Arc<str>,
    pub old: Option<f64>,
    pub new: Option<f64>,
    /// The one source (of [`ModifierSources`]) whose change reached this stat, directly or
    /// through a formula; `None` when several sources' changes did, or the rules did (the
    /// first evaluation, after a reload), or the actor is evaluated from an `Actor` value
    /// (input live actors cannot hold: `requires`, `stack`, another source's `system`).
    pub source: Option<Arc<str>>,
}

/// `entity` could not be evaluated (bad input, an unknown stat, NaN); its [`Stats`] keep
/// their last values.
#[derive(Message, Debug, Clone, PartialEq)]
pub struct StatsFailed {
    pub entity: Entity,
    pub error: ActorError,
}

/// Buffers reused from frame to frame.
#[derive(Default)]
pub(crate) struct Scratch {
    live_entities: Vec<Entity>,
    live: Vec<LiveActor>,
    actor_entities: Vec<Entity>,
    inputs: Vec<actorc::Actor>,
    changes: Vec<state::Change>,
}

type Actors<'w, 's> = Query<
    'w,
    's,
    (Entity, Ref<'static, StatActor>, Ref<'static, ModifierSources>, &'static mut ActorState, &'static mut Stats),
>;

pub(crate) fn evaluate(
    rules: Res<StatRules>,
    mut actors: Actors,
    mut changed: MessageWriter<StatChanged>,
    mut failed: MessageWriter<StatsFailed>,
    mut scratch: Local<Scratch>,
) {
    let Some((generation, names)) = rules.serving() else { return };
    let engine = &generation.engine;
    let Scratch { live_entities, live, actor_entities, inputs, changes } = &mut *scratch;
    for (entity, actor, sources, mut state, mut stats) in &mut actors {
        let input_changed = actor.is_changed() || sources.is_changed();
        if !input_changed && stats.generation == generation.number {
            continue;
        }
        match state.sync(engine, generation.number, &actor, actor.is_changed(), &sources) {
            Step::Live => {
                if let Some(l) = state.take_live() {
                    live_entities.push(entity);
                    live.push(l);
                }
            }
            Step::Actor(input) => {
                actor_entities.push(entity);
                inputs.push(input);
            }
            Step::Failed(error) => {
                state::store_error(&mut stats, generation.number, error.clone());
                failed.write(StatsFailed { entity, error });
            }
        }
    }
    if !live.is_empty() {
        let results: Vec<Result<(), ActorError>> = match live.as_mut_slice() {
            [one] => vec![one.evaluate().map(|_| ()).map_err(ActorError::from)],
            many => engine.evaluate_live(many).into_iter().map(|r| r.map_err(ActorError::from)).collect(),
        };
        for ((entity, l), result) in live_entities.drain(..).zip(live.drain(..)).zip(results) {
            let Ok((_, _, _, mut state, mut stats)) = actors.get_mut(entity) else { continue };
            let had_error = stats.error.is_some();
            let stored = state.put_live(l, result, stats.bypass_change_detection(), generation.number, names, changes);
            finish(entity, &mut stats, had_error, stored, changes, &mut changed, &mut failed);
        }
    }
    if !inputs.is_empty() {
        let results = state::evaluate_actors(engine, inputs);
        inputs.clear();
        for (entity, result) in actor_entities.drain(..).zip(results) {
            let Ok((_, _, _, _, mut stats)) = actors.get_mut(entity) else { continue };
            let had_error = stats.error.is_some();
            let stored = state::store(stats.bypass_change_detection(), generation.number, names, result, changes);
            finish(entity, &mut stats, had_error, stored, changes, &mut changed, &mut failed);
        }
    }
}

/// Writes the messages of one stored evaluation. Stats is marked changed only when a value
/// (or the error) changed.
fn finish(
    entity: Entity,
    stats: &mut Mut<Stats>,
    had_error: bool,
    stored: Result<(), ActorError>,
    changes: &mut Vec<state::Change>,
    changed: &mut MessageWriter<StatChanged>,
    failed: &mut MessageWriter<StatsFailed>,
) {
    match stored {
        Ok(()) => {
            if !changes.is_empty() || had_error {
                stats.set_changed();
            }
            changed.write_batch(changes.drain(..).map(|state::Change { stat, old, new, source }| StatChanged {
                entity,
                stat,
                old,
                new,
                source,
            }));
        }
        Err(error) => {
            stats.set_changed();
            failed.write(StatsFailed { entity, error });
        }
    }
}
