//! [`ActorState`]: the one place that knows how a live actor is evaluated.
//!
//! Each entity keeps a library [`LiveActor`] of the serving generation. When its
//! [`ModifierSources`] change, only the sources that differ from what the live actor holds
//! are given to it again (`set_source`) or taken out (`remove_source`), their names resolved
//! to handles then and only then; the evaluation is incremental (`Engine::evaluate_live` for
//! a batch), and its changes ([`LiveActor::changes`], with the source that caused each)
//! become the messages. On a reload the live actor is carried to the new rules with
//! [`LiveActor::migrate`]; a source the migration had to cut is given again, so what the new
//! rules refuse becomes a [`StatsFailed`](crate::StatsFailed) as any bad input does.
//!
//! Input live actors cannot hold yet — a contribution with `requires` or `stack`, a cap
//! with `requires`, or a contribution or cap whose `system` names another source than its
//! own — is evaluated for that entity only as before, as an `actorc::Actor` value.
//!
//! Invariants: a stat's change is reported when its value differs by its bits (or appears
//! or disappears), matched by name across generations; a refused change leaves the live
//! actor as it was for that source and the [`Stats`] as they were.

use crate::components::{ModifierSources, Modifiers, StatActor, StatNames, Stats};
use actorc::input::{CapContribution, Contribution, InputError, Meta, SubsystemOutput};
use actorc::live::{Cap, CapKind, CapMode, LiveActor, LiveError, Modifier, Section};
use actorc::{Actor, ActorError, Engine, Snapshot};
use bevy_ecs::component::Component;
use std::collections::BTreeMap;
use std::sync::Arc;

/// A live actor's evaluation state.
#[derive(Component, Debug, Default)]
pub(crate) struct ActorState {
    /// The library's live actor (`None` before the first evaluation, while taken out for a
    /// batch, or for an actor on the `Actor` path).
    live: Option<LiveActor>,
    /// The generation `live` is of.
    generation: u64,
    /// Per source: the modifiers the live actor holds (as given, to see what changed).
    applied: BTreeMap<String, Modifiers>,
    /// Whether the live actor holds the entity's current id and tags.
    actor_applied: bool,
    /// The live actor's source names by `SourceId`, for the changes' causes.
    source_names: Vec<Arc<str>>,
    /// The next successful evaluation is compared with [`Stats`] by name (a new or migrated
    /// live actor, or one after the `Actor` path).
    full: bool,
}

/// One stat whose value changed: name, old and new value, and the source that caused it.
#[derive(Debug)]
pub(crate) struct Change {
    pub(crate) stat: Arc<str>,
    pub(crate) old: Option<f64>,
    pub(crate) new: Option<f64>,
    pub(crate) source: Option<Arc<str>>,
}

/// What an actor needs this frame.
pub(crate) enum Step {
    /// Its live actor holds its input: evaluate it ([`ActorState::take_live`]).
    Live,
    /// Its input as an `Actor` value, for [`evaluate_actors`].
    Actor(Actor),
    /// Its input was refused.
    Failed(ActorError),
}

impl ActorState {
    /// Brings the live actor to generation `generation` of `engine` and to the entity's
    /// sources and tags (only what changed). Called when they or the generation changed.
    pub(crate) fn sync(
        &mut self,
        engine: &Engine,
        generation: u64,
        actor: &StatActor,
        actor_changed: bool,
        sources: &ModifierSources,
    ) -> Step {
        if !sources.iter().all(|(name, m)| live_fits(name, m)) {
            self.live = None;
            return Step::Actor(to_actor(actor, sources));
        }
        match self.live.take() {
            Some(live) if self.generation == generation => self.live = Some(live),
            Some(live) => {
                let migration = live.migrate(engine);
                for dropped in &migration.dropped {
                    // Given again below: what the new rules refuse fails as any input does.
                    match dropped.source.is_empty() {
                        true => self.actor_applied = false,
                        false => drop(self.applied.remove(&dropped.source)),
                    }
                }
                self.source_names = migration.actor.sources().map(|(_, n)| Arc::from(n)).collect();
                self.live = Some(migration.actor);
                self.full = true;
            }
            None => {
                self.live = Some(LiveActor::new(engine));
                self.applied.clear();
                self.source_names.clear();
                self.actor_applied = false;
                self.full = true;
            }
        }
        self.generation = generation;
        let Some(live) = &mut self.live else { return Step::Live };
        let mut error = None;
        let mut fail = |source: Option<&str>, e: LiveError| {
            error.get_or_insert_with(|| input_error(actor, source, e));
        };
        if actor_changed || !self.actor_applied {
            live.set_id(actor.id.clone());
            let tags: Result<Vec<_>, _> = actor.tags.iter().map(|t| engine.tag(t)).collect();
            match tags.and_then(|tags| live.set_tags(&tags)) {
                Ok(()) => self.actor_applied = true,
                Err(e) => fail(None, e),
            }
        }
        // Sources gone from the component.
        self.applied.retain(|name, _| {
            if sources.get(name).is_none()
                && let Some(id) = live.find_source(name)
            {
                // A source id of this actor: removing it cannot fail.
                let _ = live.remove_source(id);
            }
            sources.get(name).is_some()
        });
        // Sources new or changed.
        for (name, modifiers) in sources.iter() {
            if self.applied.get(name) == Some(modifiers) {
                continue;
            }
            let set = convert(engine, modifiers).and_then(|(m, c)| {
                let id = live.source(name);
                if id.0 as usize == self.source_names.len() {
                    self.source_names.push(Arc::from(name));
                }
                live.set_source(id, &m, &c)
            });
            match set {
                Ok(()) => drop(self.applied.insert(name.to_string(), modifiers.clone())),
                Err(e) => fail(Some(name), e),
            }
        }
        match error {
            Some(e) => Step::Failed(e),
            None => Step::Live,
        }
    }

    /// The live actor, for a batch evaluation (put back with [`ActorState::put_live`]).
    pub(crate) fn take_live(&mut self) -> Option<LiveActor> {
        self.live.take()
    }

    /// Puts the evaluated live actor back and stores its values in `stats` (generation
    /// `generation`, stat names `names`), appending every changed value to `changes`.
    pub(crate) fn put_live(
        &mut self,
        live: LiveActor,
        result: Result<(), ActorError>,
        stats: &mut Stats,
        generation: u64,
        names: &Arc<StatNames>,
        changes: &mut Vec<Change>,
    ) -> Result<(), ActorError> {
        let live = self.live.insert(live);
        if let Err(e) = result {
            return Err(store_error(stats, generation, e));
        }
        let snapshot = live.snapshot().cloned();
        if self.full || !Arc::ptr_eq(&stats.names, names) {
            // A successful evaluation always leaves a snapshot.
            let Some(snapshot) = snapshot else { return Ok(()) };
            self.full = false;
            return store(stats, generation, names, Ok(snapshot), changes);
        }
        for c in live.changes().iter().filter(|c| c.value_changed()) {
            let (old, new) = (c.old_value(), c.new_value());
            if let Some(v) = stats.values.get_mut(c.stat.index()) {
                *v = new;
            }
            let Some(stat) = names.names.get(c.stat.index()) else { continue };
            let source = c.cause.and_then(|s| self.source_names.get(s.0 as usize)).cloned();
            changes.push(Change { stat: stat.clone(), old, new, source });
        }
        stats.generation = generation;
        stats.snapshot = snapshot;
        stats.error = None;
        Ok(())
    }
}

/// Whether live actors can hold the source `name`'s modifiers.
fn live_fits(name: &str, m: &Modifiers) -> bool {
    let own = |system: &str| system.is_empty() || system == name;
    m.primary.iter().chain(&m.derived).all(|c| c.requires.is_empty() && c.stack.is_none() && own(&c.system))
        && m.caps.iter().all(|c| c.requires.is_empty() && own(&c.system))
}

/// A source's modifiers as handles of `engine`'s rules.
fn convert(engine: &Engine, m: &Modifiers) -> Result<(Vec<Modifier>, Vec<Cap>), LiveError> {
    let contribution = |c: &Contribution, section: Section| -> Result<Modifier, LiveError> {
        let modifier = Modifier::new(engine.stat(&c.dimension)?, engine.bucket(&c.bucket)?, c.value);
        Ok(modifier.priority(c.priority.unwrap_or(0)).section(section))
    };
    let mut modifiers = Vec::with_capacity(m.primary.len() + m.derived.len());
    for c in &m.primary {
        modifiers.push(contribution(c, Section::Primary)?);
    }
    for c in &m.derived {
        modifiers.push(contribution(c, Section::Derived)?);
    }
    let caps = m.caps.iter().map(|c| cap(engine, c)).collect::<Result<_, _>>()?;
    Ok((modifiers, caps))
}

fn cap(engine: &Engine, c: &CapContribution) -> Result<Cap, LiveError> {
    let layer = match &c.scope {
        Some(s) => engine.layer(s)?,
        None => engine.unscoped_layer().ok_or_else(|| {
            LiveError::Invalid("a cap without a scope (the rules declare no `unscoped` layer)".into())
        })?,
    };
    let kind = match &*c.kind {
        "max" => CapKind::Max,
        "min" => CapKind::Min,
        k => return Err(LiveError::Invalid(format!("cap kind `{k}` (expected `max` or `min`)"))),
    };
    let mode = match CapMode::from_keyword(&c.mode) {
        Some(m) => m,
        None => {
            return Err(LiveError::Invalid(format!(
                "cap mode `{}` (expected BASELINE, ADDITIVE, OVERRIDE, HARD_MAX or HARD_MIN)",
                c.mode
            )));
        }
    };
    let cap = Cap::new(engine.stat(&c.dimension)?, layer, kind, mode, c.value).priority(c.priority.unwrap_or(0));
    Ok(match &c.realm {
        Some(realm) => cap.realm(realm),
        None => cap,
    })
}

fn input_error(actor: &StatActor, source: Option<&str>, e: LiveError) -> ActorError {
    let field = match source {
        Some(s) => format!("source `{s}`"),
        None => "tags".to_string(),
    };
    let error = InputError { actor: actor.id.clone(), subsystem: None, field, message: e.to_string() };
    ActorError::Input(Box::new(error))
}

/// The entity's input as an `Actor` value: one subsystem per source, a contribution or cap
/// whose `system` is empty taking the source's name.
fn to_actor(actor: &StatActor, sources: &ModifierSources) -> Actor {
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
    Actor {
        id: actor.id.clone(),
        version: 1,
        subsystems: subsystems.collect(),
        tags: actor.tags.iter().map(|t| t.as_str().into()).collect(),
    }
}

/// Evaluates the `Actor` inputs of several actors: one result each, in order (bit for bit
/// what evaluating them one by one gives).
pub(crate) fn evaluate_actors(engine: &Engine, inputs: &[Actor]) -> Vec<Result<Snapshot, ActorError>> {
    match inputs {
        [one] => vec![engine.evaluate(one)],
        _ => engine.evaluate_batch(inputs),
    }
}

/// Records a failed evaluation (or refused input) in `stats`: the values stay.
pub(crate) fn store_error(stats: &mut Stats, generation: u64, e: ActorError) -> ActorError {
    stats.generation = generation;
    stats.error = Some(e.clone());
    e
}

/// Stores an evaluation of generation `generation` (stat names `names`) in `stats`, and
/// appends to `changes` every stat whose value changed, matched by name. On an error the
/// values stay.
pub(crate) fn store(
    stats: &mut Stats,
    generation: u64,
    names: &Arc<StatNames>,
    result: Result<Snapshot, ActorError>,
    changes: &mut Vec<Change>,
) -> Result<(), ActorError> {
    let snapshot = result.map_err(|e| store_error(stats, generation, e))?;
    let mut values = vec![None; names.names.len()].into_boxed_slice();
    for e in snapshot.entries().filter(|e| e.has_value()) {
        if let Some(v) = values.get_mut(e.stat.index()) {
            *v = Some(e.value);
        }
    }
    let same = |a: Option<f64>, b: Option<f64>| a.map(f64::to_bits) == b.map(f64::to_bits);
    let mut push = |stat: &Arc<str>, old, new| changes.push(Change { stat: stat.clone(), old, new, source: None });
    if Arc::ptr_eq(&stats.names, names) {
        for ((name, &old), &new) in names.names.iter().zip(&stats.values).zip(&values) {
            if !same(old, new) {
                push(name, old, new);
            }
        }
    } else {
        // Another generation (or the first evaluation): match the stats by name.
        for (name, &new) in names.names.iter().zip(&values) {
            let old = stats.get(name);
            if !same(old, new) {
                push(name, old, new);
            }
        }
        for (name, old) in stats.iter().filter(|(n, _)| names.handle(n).is_none()) {
            push(&Arc::from(name), Some(old), None);
        }
    }
    *stats = Stats { generation, names: names.clone(), values, snapshot: Some(snapshot), error: None };
    Ok(())
}
