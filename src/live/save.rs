//! Save games and hot reload: a live actor to and from its [`Actor`] form (the actor JSON
//! of `docs/input.md`), so a save stores inputs, never outputs; and a live actor carried to
//! a new rule generation by name ([`LiveActor::migrate`]).
//!
//! Invariant: `from_actor(to_actor(a))` evaluates bit for bit as `a`; a modifier, cap or tag
//! the new rules cannot take is reported in [`Migration::dropped`], never lost in silence.

use super::handles::{self, bucket_of, layer_of, stat_of, tag_of};
use super::{Cap, CapKind, LiveActor, LiveError, Modifier, Section};
use crate::engine::Engine;
use crate::ingest::{CapMode, cap_kind};
use crate::input::{Actor, CapContribution, Contribution, InputError, Meta, Name, SubsystemOutput};
use crate::ir::Ir;

/// A live actor carried to new rules ([`LiveActor::migrate`]).
#[derive(Debug, Clone)]
pub struct Migration {
    /// Not evaluated yet: its first evaluation is full, and reports every stat as changed.
    pub actor: LiveActor,
    /// What the new rules could not take.
    pub dropped: Vec<Dropped>,
}

/// One thing a migration left out, in its input form, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Dropped {
    /// The source it belonged to (empty for a tag).
    pub source: String,
    pub item: DroppedItem,
    pub reason: LiveError,
}

#[derive(Debug, Clone, PartialEq)]
pub enum DroppedItem {
    Modifier(Contribution),
    Cap(CapContribution),
    Tag(Name),
}

impl LiveActor {
    /// The equivalent actor input: one subsystem per non-empty source (by name), whose
    /// `meta.system` and every `system` are the source's name; modifiers in the list of
    /// their section.
    pub fn to_actor(&self) -> Actor {
        let ir = &self.ir;
        let mut order: Vec<usize> = (0..self.sources.len()).collect();
        order.sort_by_key(|&i| self.sources[i].rank);
        let mut subsystems = Vec::new();
        for s in order.into_iter().map(|i| &self.sources[i]) {
            if s.modifiers.is_empty() && s.caps.is_empty() {
                continue;
            }
            let mut sub =
                SubsystemOutput { meta: Meta { system: s.name.clone(), ..Meta::default() }, ..Default::default() };
            for m in &s.modifiers {
                let c = Contribution {
                    dimension: ir.stat(m.stat).name.as_str().into(),
                    bucket: ir.bucket(m.bucket).name.as_str().into(),
                    value: m.value,
                    system: s.name.clone(),
                    priority: (m.priority != 0).then_some(m.priority),
                    ..Contribution::default()
                };
                match Section::of(ir, m.stat, m.section) {
                    Section::Primary => sub.primary.push(c),
                    Section::Derived => sub.derived.push(c),
                }
            }
            for c in &s.caps {
                sub.caps.push(CapContribution {
                    system: s.name.clone(),
                    dimension: ir.stat(c.stat).name.as_str().into(),
                    mode: c.mode.keyword().into(),
                    kind: c.kind.keyword().into(),
                    value: c.value,
                    priority: (c.priority != 0).then_some(c.priority),
                    scope: Some(ir.layers[c.layer.index()].name.as_str().into()),
                    realm: c.realm.clone(),
                    ..CapContribution::default()
                });
            }
            subsystems.push(sub);
        }
        let tags = self.tags.iter().map(|t| ir.tags[t.index()].name.as_str().into()).collect();
        Actor { id: self.id.clone(), version: self.version, subsystems, tags }
    }

    /// A live actor from actor input: each contribution and cap goes to the source named by
    /// its `system` (so several subsystems may feed one source, and `meta.system` is not
    /// read). Any error of the input is reported as ingest reports it. Contributions with
    /// `requires` or `stack`, and context packs, are not supported by live actors yet.
    pub fn from_actor(engine: &Engine, actor: &Actor) -> Result<LiveActor, InputError> {
        let mut dropped = Vec::new();
        let live = build(engine.ir(), actor, &mut |field, sub, e| {
            dropped.push(input_error(actor, field, sub, e));
        });
        match dropped.into_iter().next() {
            Some(e) => Err(e),
            None => Ok(live),
        }
    }

    /// [`LiveActor::to_actor`] as JSON text (`docs/input.md`): a save game.
    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.to_actor()).expect("an actor serializes")
    }

    /// A live actor from JSON text ([`crate::input::parse_actor`], then
    /// [`LiveActor::from_actor`]).
    pub fn from_json(engine: &Engine, text: &str) -> Result<LiveActor, InputError> {
        LiveActor::from_actor(engine, &crate::input::parse_actor(text)?)
    }

    /// This actor for `engine`'s rules (a new generation): its id, version, tags and
    /// sources kept by name; what the new rules cannot take is left out and reported.
    pub fn migrate(&self, engine: &Engine) -> Migration {
        let mut dropped = Vec::new();
        let actor = self.to_actor();
        let live = build(engine.ir(), &actor, &mut |_, sub: Option<Item>, reason| {
            let (source, item) = match sub {
                Some(Item::Modifier(c)) => (c.system.to_string(), DroppedItem::Modifier(c.clone())),
                Some(Item::Cap(c)) => (c.system.to_string(), DroppedItem::Cap(c.clone())),
                Some(Item::Tag(t)) => (String::new(), DroppedItem::Tag(t.clone())),
                None => return,
            };
            dropped.push(Dropped { source, item, reason });
        });
        Migration { actor: live, dropped }
    }
}

/// What a build could not take.
#[derive(Clone, Copy)]
enum Item<'a> {
    Modifier(&'a Contribution),
    Cap(&'a CapContribution),
    Tag(&'a Name),
}

/// Builds a live actor from `actor`, leaving out and reporting (field, item, why) what
/// `ir` cannot take.
fn build<'a>(
    ir: &std::sync::Arc<Ir>,
    actor: &'a Actor,
    bad: &mut dyn FnMut(String, Option<Item<'a>>, LiveError),
) -> LiveActor {
    let mut live = LiveActor::for_ir(ir.clone());
    live.id = actor.id.clone();
    live.set_version(actor.version);
    for (i, t) in actor.tags.iter().enumerate() {
        match tag_of(ir, t) {
            Ok(t) => live.tags.push(t),
            Err(e) => bad(format!("tags[{i}]"), Some(Item::Tag(t)), e),
        }
    }
    live.tags.sort_unstable();
    live.tags.dedup();
    for (si, sub) in actor.subsystems.iter().enumerate() {
        if sub.context.is_some() {
            bad(format!("subsystems[{si}].context"), None, unsupported("context packs"));
        }
        let lists = [(&sub.primary, "primary", Section::Primary), (&sub.derived, "derived", Section::Derived)];
        for (list, list_name, section) in lists {
            for (ci, c) in list.iter().enumerate() {
                let field = format!("subsystems[{si}].{list_name}[{ci}]");
                if !c.requires.is_empty() || c.stack.is_some() {
                    bad(field, Some(Item::Modifier(c)), unsupported("`requires` and `stack`"));
                    continue;
                }
                let modifier = (|| {
                    let m = Modifier {
                        stat: stat_of(ir, &c.dimension)?,
                        bucket: bucket_of(ir, &c.bucket)?,
                        value: c.value,
                        priority: c.priority.unwrap_or(0),
                        section: None,
                    };
                    // Kept as the stat's own section when it is, so it saves as it was given.
                    let m = if Section::of(ir, m.stat, None) == section { m } else { m.section(section) };
                    handles::check_modifier(ir, &m)?;
                    Ok(m)
                })();
                match modifier {
                    Ok(m) => {
                        let source = live.source(&c.system);
                        live.sources[source.0 as usize].modifiers.push(m);
                        live.insert_modifier(ir, source, &m);
                    }
                    Err(e) => bad(field, Some(Item::Modifier(c)), e),
                }
            }
        }
        for (ci, c) in sub.caps.iter().enumerate() {
            let field = format!("subsystems[{si}].caps[{ci}]");
            if !c.requires.is_empty() {
                bad(field, Some(Item::Cap(c)), unsupported("`requires`"));
                continue;
            }
            match cap_of(ir, c) {
                Ok(cap) => {
                    let source = live.source(&c.system);
                    live.insert_cap(ir, source, &cap);
                    live.sources[source.0 as usize].caps.push(cap);
                }
                Err(e) => bad(field, Some(Item::Cap(c)), e),
            }
        }
    }
    live
}

fn cap_of(ir: &Ir, c: &CapContribution) -> Result<Cap, LiveError> {
    let layer = match &c.scope {
        Some(s) => layer_of(ir, s)?,
        None => ir.unscoped.ok_or_else(|| invalid("a cap without a scope (the rules declare no `unscoped` layer)"))?,
    };
    let kind = match cap_kind(&c.kind) {
        Some(true) => CapKind::Max,
        Some(false) => CapKind::Min,
        None => return Err(invalid(&format!("cap kind `{}` (expected `max` or `min`)", c.kind))),
    };
    let mode = CapMode::from_keyword(&c.mode).ok_or_else(|| {
        invalid(&format!("cap mode `{}` (expected BASELINE, ADDITIVE, OVERRIDE, HARD_MAX or HARD_MIN)", c.mode))
    })?;
    let cap = Cap {
        stat: stat_of(ir, &c.dimension)?,
        layer,
        kind,
        mode,
        value: c.value,
        priority: c.priority.unwrap_or(0),
        realm: c.realm.clone(),
    };
    handles::check_cap(ir, &cap)?;
    Ok(cap)
}

fn unsupported(what: &str) -> LiveError {
    LiveError::Unsupported(format!("{what} in live actors"))
}

fn invalid(what: &str) -> LiveError {
    LiveError::Invalid(what.to_string())
}

fn input_error(actor: &Actor, field: String, _: Option<Item>, e: LiveError) -> InputError {
    InputError { actor: actor.id.clone(), subsystem: None, field, message: e.to_string() }
}
