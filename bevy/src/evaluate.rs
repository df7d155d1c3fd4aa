//! The evaluation system: once per frame, the live actors whose sources or tags changed,
//! or that were evaluated with an older generation, are evaluated in one batch.
//!
//! Invariant: nothing here panics; an actor that fails keeps its last values and gets a
//! [`StatsFailed`], and is not evaluated again until its input or the rules change.

use crate::components::{ModifierSources, StatActor, Stats};
use crate::rules::StatRules;
use crate::state::{self, ActorState};
use actorc::ActorError;
use bevy_ecs::change_detection::{DetectChanges, DetectChangesMut, Ref};
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
    entities: Vec<Entity>,
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
    let Scratch { entities, inputs, changes } = &mut *scratch;
    for (entity, actor, sources, mut state, stats) in &mut actors {
        let input_changed = actor.is_changed() || sources.is_changed();
        if input_changed {
            state.sync(&actor, &sources);
        }
        if input_changed || stats.generation != generation.number {
            entities.push(entity);
            inputs.push(state.take_input());
        }
    }
    if entities.is_empty() {
        return;
    }
    let results = state::evaluate(&generation.engine, inputs);
    for ((entity, input), result) in entities.drain(..).zip(inputs.drain(..)).zip(results) {
        let Ok((_, _, _, mut state, mut stats)) = actors.get_mut(entity) else { continue };
        state.restore_input(input);
        // Stats is marked changed only when a value (or the error) changed.
        let had_error = stats.error.is_some();
        match state::store(stats.bypass_change_detection(), generation.number, names, result, changes) {
            Ok(()) => {
                if !changes.is_empty() || had_error {
                    stats.set_changed();
                }
                changed.write_batch(changes.drain(..).map(|(stat, old, new)| StatChanged { entity, stat, old, new }));
            }
            Err(error) => {
                stats.set_changed();
                failed.write(StatsFailed { entity, error });
            }
        }
    }
}
