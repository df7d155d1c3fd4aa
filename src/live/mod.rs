//! Live actors: a game's characters kept between frames. A [`LiveActor`] holds its
//! modifiers and caps grouped by **source** (the sword, a buff, the passive tree), given by
//! handles resolved once ([`Engine::stat`], [`Engine::bucket`] …), and keeps its prepared
//! form per stat, so that changing a source re-sorts only the stats it touches and
//! [`LiveActor::evaluate`] recomputes only those stats and their dependents, reporting
//! which stats changed ([`Change`], attributed to the source that caused it).
//!
//! The equivalent [`Actor`](crate::Actor) ([`LiveActor::to_actor`]): one subsystem per
//! source, whose `meta.system` and every contribution's and cap's `system` are the source's
//! name. Canonical order breaks ties on that name, as ingest breaks them on `system`.
//!
//! Invariant: after every change, [`LiveActor::evaluate`] gives the snapshot, bit for bit,
//! that [`Engine::evaluate`] gives for [`LiveActor::to_actor`]; each stat's list of
//! modifiers and caps is kept in ingest's canonical order.

mod handles;
mod save;

pub use crate::ingest::CapMode;
pub use handles::{Cap, CapKind, Kind, LiveError, Modifier, Section};
pub use save::{Dropped, DroppedItem, Migration};

use crate::engine::Engine;
use crate::eval::{self, Affected, EvalError, Scratch};
use crate::ingest::{Group, LayerCaps, Prepared, PreparedStat, Reduce, total_order_key};
use crate::input::Name;
use crate::ir::{Ir, LayerId, StatId, TagId};
use crate::snapshot::{Entry, Snapshot};
use rayon::prelude::*;
use rustc_hash::FxHashMap;
use std::cell::RefCell;
use std::cmp::Reverse;
use std::sync::Arc;

/// A source of modifiers and caps in one live actor (see [`LiveActor::source`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SourceId(pub u32);

/// One stat whose value or effective range changed in an evaluation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Change {
    pub stat: StatId,
    /// The entry before and after (`None`: the stat had or has none).
    pub old: Option<Entry>,
    pub new: Option<Entry>,
    /// The one source whose change reached this stat (directly or through a formula), or
    /// `None` when several did (or the rules did, after [`LiveActor::migrate`]).
    pub cause: Option<SourceId>,
}

impl Change {
    pub fn old_value(&self) -> Option<f64> {
        self.old.filter(Entry::has_value).map(|e| e.value)
    }

    pub fn new_value(&self) -> Option<f64> {
        self.new.filter(Entry::has_value).map(|e| e.value)
    }

    /// Whether the value changed (bits), as opposed to only the range.
    pub fn value_changed(&self) -> bool {
        self.old_value().map(f64::to_bits) != self.new_value().map(f64::to_bits)
    }

    pub fn old_range(&self) -> Option<(f64, f64)> {
        self.old.map(|e| (e.min, e.max))
    }

    pub fn new_range(&self) -> Option<(f64, f64)> {
        self.new.map(|e| (e.min, e.max))
    }
}

/// A contribution in its stat's list: the canonical sort key, and where it came from.
#[derive(Debug, Clone, Copy)]
struct Item {
    slot: u32,
    /// `FROM_PRIMARY` or `FROM_DERIVED`.
    list: u8,
    source: SourceId,
    /// The source's rank by name: `system` in ingest's order.
    rank: u32,
    priority: i64,
    value: f64,
}

impl Item {
    /// Ingest's canonical order within a stat.
    fn key(&self) -> (u32, Reverse<i64>, u32, i64, u8) {
        (self.slot, Reverse(self.priority), self.rank, total_order_key(self.value), self.list)
    }

    /// `self.key() <= other.key()`, comparing only as far as needed.
    fn precedes(&self, other: &Item) -> bool {
        let cmp = self.slot.cmp(&other.slot).then(other.priority.cmp(&self.priority)).then(self.rank.cmp(&other.rank));
        cmp.then_with(|| self.key().cmp(&other.key())).is_le()
    }
}

#[derive(Debug, Clone, Copy)]
struct CapItem {
    layer: LayerId,
    is_max: bool,
    mode: CapMode,
    source: SourceId,
    rank: u32,
    priority: i64,
    value: f64,
}

impl CapItem {
    /// Ingest's canonical order of caps within a stat.
    fn key(&self) -> (LayerId, bool, CapMode, Reverse<i64>, u32, i64) {
        (self.layer, self.is_max, self.mode, Reverse(self.priority), self.rank, total_order_key(self.value))
    }
}

#[derive(Debug, Clone, Default)]
struct Source {
    name: Name,
    rank: u32,
    modifiers: Vec<Modifier>,
    caps: Vec<Cap>,
}

/// No source dirtied the stat; several did.
const NO_CAUSE: u32 = u32::MAX;
const MIXED: u32 = u32::MAX - 1;

fn merge_cause(a: u32, b: u32) -> u32 {
    match (a, b) {
        (NO_CAUSE, x) | (x, NO_CAUSE) => x,
        (x, y) if x == y => x,
        _ => MIXED,
    }
}

/// One actor kept alive between evaluations: its sources by id, its prepared input per
/// stat, its last snapshot and values.
#[derive(Debug, Clone)]
pub struct LiveActor {
    ir: Arc<Ir>,
    id: Option<String>,
    version: i64,
    tags: Vec<TagId>,
    sources: Vec<Source>,
    by_name: FxHashMap<Name, SourceId>,
    /// Per stat (views included), in canonical order.
    items: Vec<Vec<Item>>,
    caps: Vec<Vec<CapItem>>,
    prepared: Prepared,
    /// Per stat: its input changed since the last evaluation, and which source changed it.
    dirty: Vec<bool>,
    cause: Vec<u32>,
    any_dirty: bool,
    snapshot: Option<Snapshot>,
    /// The last snapshot unpacked, and each stat's value (0 without one, as formulas read).
    row: Vec<Option<Entry>>,
    values: Vec<f64>,
    changes: Vec<Change>,
    affected: Affected,
    /// Scratch: the slots of the modifiers being set; the stats a clear has seen (those
    /// marked with the current epoch).
    slots: Vec<u32>,
    seen: Vec<u64>,
    epoch: u64,
}

/// Per thread: the interpreter's buffers and the reach of a change.
#[derive(Default)]
struct Work {
    scratch: Scratch,
    reached: Vec<bool>,
}

thread_local! {
    static WORK: RefCell<Work> = RefCell::new(Work::default());
}

impl LiveActor {
    /// An actor with no sources, version 1, for `engine`'s rules.
    pub fn new(engine: &Engine) -> LiveActor {
        LiveActor::for_ir(engine.ir().clone())
    }

    fn for_ir(ir: Arc<Ir>) -> LiveActor {
        let n = ir.stats.len();
        LiveActor {
            id: None,
            version: 1,
            tags: Vec::new(),
            sources: Vec::new(),
            by_name: FxHashMap::default(),
            items: vec![Vec::new(); n],
            caps: vec![Vec::new(); n],
            prepared: Prepared { version: 1, ..Prepared::default() },
            dirty: vec![false; n],
            cause: vec![NO_CAUSE; n],
            any_dirty: true,
            snapshot: None,
            row: vec![None; n],
            values: vec![0.0; n],
            changes: Vec::new(),
            affected: Affected::default(),
            slots: Vec::new(),
            seen: vec![0; n],
            epoch: 0,
            ir,
        }
    }

    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    pub fn set_id(&mut self, id: Option<String>) {
        self.id = id;
    }

    pub fn version(&self) -> i64 {
        self.version
    }

    /// The version the snapshots carry.
    pub fn set_version(&mut self, version: i64) {
        self.version = version;
        self.prepared.version = version;
        if let Some(s) = &mut self.snapshot {
            s.version = version;
        }
    }

    /// The actor's tags (what a contribution's `requires` would test; kept for its input form).
    pub fn tags(&self) -> &[TagId] {
        &self.tags
    }

    pub fn set_tags(&mut self, tags: &[TagId]) -> Result<(), LiveError> {
        if let Some(t) = tags.iter().find(|t| t.index() >= self.ir.tags.len()) {
            return Err(LiveError::BadHandle { kind: Kind::Tag, index: t.0 });
        }
        self.tags = tags.to_vec();
        self.tags.sort_unstable();
        self.tags.dedup();
        Ok(())
    }

    /// The source named `name`, registered (empty) if it is new. Sources are this actor's:
    /// resolve each once and keep the handle.
    pub fn source(&mut self, name: &str) -> SourceId {
        if let Some(&id) = self.by_name.get(name) {
            return id;
        }
        let id = SourceId(self.sources.len() as u32);
        self.sources.push(Source { name: name.into(), ..Source::default() });
        self.by_name.insert(name.into(), id);
        self.rerank();
        id
    }

    /// A registered source by name, without registering it.
    pub fn find_source(&self, name: &str) -> Option<SourceId> {
        self.by_name.get(name).copied()
    }

    pub fn source_name(&self, source: SourceId) -> Option<&str> {
        self.sources.get(source.0 as usize).map(|s| s.name.as_str())
    }

    /// Every registered source, in order of registration.
    pub fn sources(&self) -> impl Iterator<Item = (SourceId, &str)> {
        self.sources.iter().enumerate().map(|(i, s)| (SourceId(i as u32), s.name.as_str()))
    }

    pub fn modifiers(&self, source: SourceId) -> &[Modifier] {
        self.sources.get(source.0 as usize).map_or(&[], |s| &s.modifiers)
    }

    pub fn caps(&self, source: SourceId) -> &[Cap] {
        self.sources.get(source.0 as usize).map_or(&[], |s| &s.caps)
    }

    /// The name of a stat of these rules.
    pub fn stat_name(&self, stat: StatId) -> &str {
        self.ir.stats.get(stat.index()).map_or("", |s| s.name.as_str())
    }

    /// Replaces everything `source` gives with `modifiers` and `caps`. All are checked
    /// first: on an error nothing changes.
    pub fn set_source(&mut self, source: SourceId, modifiers: &[Modifier], caps: &[Cap]) -> Result<(), LiveError> {
        self.check_source(source)?;
        let mut slots = std::mem::take(&mut self.slots);
        slots.clear();
        let checked = modifiers.iter().try_for_each(|m| {
            slots.push(handles::check_modifier(&self.ir, m)?);
            Ok(())
        });
        let checked = checked.and_then(|()| caps.iter().try_for_each(|c| handles::check_cap(&self.ir, c)));
        if let Err(e) = checked {
            self.slots = slots;
            return Err(e);
        }
        self.clear_source(source);
        let s = &mut self.sources[source.0 as usize];
        s.modifiers.extend_from_slice(modifiers);
        s.caps.extend_from_slice(caps);
        let ir = Arc::clone(&self.ir);
        for (m, &slot) in modifiers.iter().zip(&slots) {
            self.insert_item(&ir, source, m, slot);
        }
        self.slots = slots;
        for c in caps {
            self.insert_cap(&ir, source, c);
        }
        Ok(())
    }

    /// Removes everything `source` gives (the sword is unequipped); the source stays
    /// registered, empty.
    pub fn remove_source(&mut self, source: SourceId) -> Result<(), LiveError> {
        self.check_source(source)?;
        self.clear_source(source);
        Ok(())
    }

    /// Adds one modifier to `source`.
    pub fn add_modifier(&mut self, source: SourceId, modifier: Modifier) -> Result<(), LiveError> {
        self.check_source(source)?;
        handles::check_modifier(&self.ir, &modifier)?;
        self.sources[source.0 as usize].modifiers.push(modifier);
        self.insert_modifier(&Arc::clone(&self.ir), source, &modifier);
        Ok(())
    }

    /// Removes one modifier of `source` equal to `modifier` (numbers by their bits); whether
    /// there was one.
    pub fn remove_modifier(&mut self, source: SourceId, modifier: &Modifier) -> Result<bool, LiveError> {
        let ir = Arc::clone(&self.ir);
        self.check_source(source)?;
        let list = &mut self.sources[source.0 as usize].modifiers;
        let Some(at) = list.iter().position(|m| m.same(modifier)) else { return Ok(false) };
        let m = list.remove(at);
        let Ok(slot) = handles::check_modifier(&self.ir, &m) else { return Ok(true) };
        let item = self.item(source, &m, slot);
        for stat in Self::with_views(&ir, m.stat) {
            let list = &mut self.items[stat.index()];
            if let Some(k) = list.iter().position(|x| x.source == source && x.key() == item.key()) {
                list.remove(k);
            }
            self.touch(stat, source);
        }
        Ok(true)
    }

    /// Adds one cap to `source`.
    pub fn add_cap(&mut self, source: SourceId, cap: Cap) -> Result<(), LiveError> {
        self.check_source(source)?;
        handles::check_cap(&self.ir, &cap)?;
        self.insert_cap(&Arc::clone(&self.ir), source, &cap);
        self.sources[source.0 as usize].caps.push(cap);
        Ok(())
    }

    /// Removes one cap of `source` equal to `cap`; whether there was one.
    pub fn remove_cap(&mut self, source: SourceId, cap: &Cap) -> Result<bool, LiveError> {
        let ir = Arc::clone(&self.ir);
        self.check_source(source)?;
        let list = &mut self.sources[source.0 as usize].caps;
        let Some(at) = list.iter().position(|c| c.same(cap)) else { return Ok(false) };
        let c = list.remove(at);
        let item = self.cap_item(source, &c);
        for stat in Self::with_views(&ir, c.stat) {
            let list = &mut self.caps[stat.index()];
            if let Some(k) = list.iter().position(|x| x.source == source && x.key() == item.key()) {
                list.remove(k);
            }
            self.touch(stat, source);
        }
        Ok(true)
    }

    fn check_source(&self, source: SourceId) -> Result<(), LiveError> {
        match source.0 as usize >= self.sources.len() {
            true => Err(LiveError::BadHandle { kind: Kind::Source, index: source.0 }),
            false => Ok(()),
        }
    }

    /// `stat` and its views (which take a copy of each of its modifiers and caps).
    fn with_views(ir: &Ir, stat: StatId) -> impl Iterator<Item = StatId> + '_ {
        std::iter::once(stat).chain(ir.views_of.get(stat.index()).into_iter().flatten().copied())
    }

    fn touch(&mut self, stat: StatId, source: SourceId) {
        self.dirty[stat.index()] = true;
        self.cause[stat.index()] = merge_cause(self.cause[stat.index()], source.0);
        self.any_dirty = true;
    }

    fn item(&self, source: SourceId, m: &Modifier, slot: u32) -> Item {
        let list = Section::of(&self.ir, m.stat, m.section).bit();
        let rank = self.sources[source.0 as usize].rank;
        Item { slot, list, source, rank, priority: m.priority, value: m.value }
    }

    fn cap_item(&self, source: SourceId, c: &Cap) -> CapItem {
        let rank = self.sources[source.0 as usize].rank;
        CapItem {
            layer: c.layer,
            is_max: c.kind == CapKind::Max,
            mode: c.mode,
            source,
            rank,
            priority: c.priority,
            value: c.value,
        }
    }

    /// Puts a checked modifier into its stat's list (and its views'), in canonical order.
    fn insert_modifier(&mut self, ir: &Ir, source: SourceId, m: &Modifier) {
        if let Ok(slot) = handles::check_modifier(ir, m) {
            self.insert_item(ir, source, m, slot);
        }
    }

    /// [`LiveActor::insert_modifier`] of a modifier checked to go to `slot`.
    fn insert_item(&mut self, ir: &Ir, source: SourceId, m: &Modifier, slot: u32) {
        let item = self.item(source, m, slot);
        for stat in Self::with_views(ir, m.stat) {
            let list = &mut self.items[stat.index()];
            let at = list.partition_point(|x| x.precedes(&item));
            list.insert(at, item);
            self.touch(stat, source);
        }
    }

    fn insert_cap(&mut self, ir: &Ir, source: SourceId, c: &Cap) {
        let item = self.cap_item(source, c);
        let key = item.key();
        for stat in Self::with_views(ir, c.stat) {
            let list = &mut self.caps[stat.index()];
            let at = list.partition_point(|x| x.key() <= key);
            list.insert(at, item);
            self.touch(stat, source);
        }
    }

    /// Takes every modifier and cap of `source` out of the stats' lists.
    fn clear_source(&mut self, source: SourceId) {
        let ir = Arc::clone(&self.ir);
        let s = &mut self.sources[source.0 as usize];
        let modifiers = std::mem::take(&mut s.modifiers);
        let caps = std::mem::take(&mut s.caps);
        // Each stat's list once.
        self.epoch += 1;
        for stat in modifiers.iter().map(|m| m.stat) {
            if std::mem::replace(&mut self.seen[stat.index()], self.epoch) == self.epoch {
                continue;
            }
            for stat in Self::with_views(&ir, stat) {
                self.items[stat.index()].retain(|x| x.source != source);
                self.touch(stat, source);
            }
        }
        self.epoch += 1;
        for stat in caps.iter().map(|c| c.stat) {
            if std::mem::replace(&mut self.seen[stat.index()], self.epoch) == self.epoch {
                continue;
            }
            for stat in Self::with_views(&ir, stat) {
                self.caps[stat.index()].retain(|x| x.source != source);
                self.touch(stat, source);
            }
        }
        // The lists' memory is kept for the source's next modifiers.
        let s = &mut self.sources[source.0 as usize];
        let (mut modifiers, mut caps) = (modifiers, caps);
        modifiers.clear();
        caps.clear();
        s.modifiers = modifiers;
        s.caps = caps;
    }

    /// Ranks the sources by name (ingest's `system` order) and updates every item's rank.
    /// A new name leaves the order of the others as it was, so no list needs sorting again.
    fn rerank(&mut self) {
        let mut order: Vec<u32> = (0..self.sources.len() as u32).collect();
        order.sort_by(|&a, &b| self.sources[a as usize].name.cmp(&self.sources[b as usize].name));
        for (rank, &s) in order.iter().enumerate() {
            self.sources[s as usize].rank = rank as u32;
        }
        let sources = &self.sources;
        for x in self.items.iter_mut().flatten() {
            x.rank = sources[x.source.0 as usize].rank;
        }
        for x in self.caps.iter_mut().flatten() {
            x.rank = sources[x.source.0 as usize].rank;
        }
    }

    /// The prepared form of the stats' lists, as ingest would build it.
    fn rebuild_prepared(&mut self) {
        let p = &mut self.prepared;
        p.stats.clear();
        p.groups.clear();
        p.values.clear();
        p.layers.clear();
        for (s, (items, caps)) in self.items.iter().zip(&self.caps).enumerate() {
            if items.is_empty() && caps.is_empty() {
                continue;
            }
            let (g0, l0) = (p.groups.len() as u32, p.layers.len() as u32);
            let mut from = 0;
            for run in items.chunk_by(|a, b| a.slot == b.slot) {
                let start = p.values.len() as u32;
                for x in run {
                    from |= x.list;
                    p.values.push(x.value);
                }
                p.groups.push(Group { slot: run[0].slot, start, end: p.values.len() as u32 });
            }
            for run in caps.chunk_by(|a, b| a.layer == b.layer) {
                let mut sides = [Reduce::default(), Reduce::default()];
                for c in run {
                    sides[usize::from(c.is_max)].add(c.mode, c.value);
                }
                p.layers.push(LayerCaps {
                    layer: run[0].layer,
                    max: sides[1].finish(true),
                    min: sides[0].finish(false),
                });
            }
            let (g1, l1) = (p.groups.len() as u32, p.layers.len() as u32);
            p.stats.push(PreparedStat { stat: StatId(s as u32), from, groups: (g0, g1), layers: (l0, l1) });
        }
    }

    /// The prepared actor (ingest's form of [`LiveActor::to_actor`]), as of the last
    /// evaluation.
    pub fn prepared(&self) -> &Prepared {
        &self.prepared
    }

    /// Whether something changed since the last evaluation (or there was none).
    pub fn needs_evaluation(&self) -> bool {
        self.any_dirty || self.snapshot.is_none()
    }

    /// Evaluates what changed since the last evaluation (everything the first time) with
    /// the interpreter, and returns the stats whose value or range changed, in id order.
    /// On an error the last snapshot stays, and the next call tries again.
    pub fn evaluate(&mut self) -> Result<&[Change], EvalError> {
        self.changes.clear();
        if !self.needs_evaluation() {
            return Ok(&self.changes);
        }
        self.rebuild_prepared();
        WORK.with(|work| {
            let Work { scratch, reached } = &mut *work.borrow_mut();
            let Some(mut snapshot) = self.snapshot.take() else {
                let snapshot = eval::eval(&self.ir, &self.prepared, scratch)?;
                self.apply_full(snapshot);
                return Ok(());
            };
            self.affected.fill(&self.ir, &self.dirty, reached);
            let result = eval::eval_affected_in_place(&self.ir, &self.prepared, &mut snapshot, &self.affected, scratch);
            self.snapshot = Some(snapshot);
            result?;
            self.spread_causes();
            for (stat, new) in scratch.updated() {
                self.record(stat, new);
            }
            self.finish_evaluation();
            Ok(())
        })?;
        Ok(&self.changes)
    }

    /// Takes a full evaluation's snapshot: the changes against the last one.
    fn apply_full(&mut self, snapshot: Snapshot) {
        self.changes.clear();
        self.affected.stats.clear();
        self.affected.stats.extend((0..self.ir.stats.len() as u32).map(StatId));
        self.spread_causes();
        let mut entries = snapshot.entries().peekable();
        for s in 0..self.ir.stats.len() {
            let new = entries.next_if(|e| e.stat.index() == s);
            self.record(StatId(s as u32), new);
        }
        self.snapshot = Some(snapshot);
        self.finish_evaluation();
    }

    /// Carries each affected stat's cause to the stats that read it.
    fn spread_causes(&mut self) {
        for &stat in &self.affected.stats {
            let mut cause = self.cause[stat.index()];
            for d in &self.ir.stat(stat).deps {
                cause = merge_cause(cause, self.cause[d.index()]);
            }
            self.cause[stat.index()] = cause;
        }
    }

    /// Notes stat's new entry, and the change if there is one.
    fn record(&mut self, stat: StatId, new: Option<Entry>) {
        let i = stat.index();
        let old = self.row[i];
        let same = match (&old, &new) {
            (None, None) => true,
            (Some(a), Some(b)) => a.same_bits(b),
            _ => false,
        };
        if !same {
            let cause = self.cause[i];
            let cause = (cause < MIXED).then_some(SourceId(cause));
            self.changes.push(Change { stat, old, new, cause });
        }
        self.row[i] = new;
        self.values[i] = new.filter(Entry::has_value).map_or(0.0, |e| e.value);
    }

    fn finish_evaluation(&mut self) {
        for &s in &self.affected.stats {
            self.dirty[s.index()] = false;
            self.cause[s.index()] = NO_CAUSE;
        }
        self.any_dirty = false;
    }

    /// The changes of the last evaluation.
    pub fn changes(&self) -> &[Change] {
        &self.changes
    }

    /// The last snapshot (`None` before the first successful evaluation).
    pub fn snapshot(&self) -> Option<&Snapshot> {
        self.snapshot.as_ref()
    }

    /// Every stat's value as of the last evaluation, indexed by [`StatId`] (0 where the
    /// actor has none, as in a [`ValueTable`](crate::ValueTable)).
    pub fn values(&self) -> &[f64] {
        &self.values
    }

    /// A stat's value as of the last evaluation, if it has one.
    pub fn value(&self, stat: StatId) -> Option<f64> {
        self.row.get(stat.index()).copied().flatten().filter(Entry::has_value).map(|e| e.value)
    }

    /// A stat's entry (value, range) as of the last evaluation.
    pub fn entry(&self, stat: StatId) -> Option<Entry> {
        self.row.get(stat.index()).copied().flatten()
    }

    /// Whether this actor is of `engine`'s rules.
    pub fn is_of(&self, engine: &Engine) -> bool {
        Arc::ptr_eq(&self.ir, engine.ir())
    }
}

impl Engine {
    /// Evaluates many live actors: the interpreter each incrementally, the JIT those with a
    /// change in full, two by two in its lanes; in parallel. The same bits either way, and
    /// as [`LiveActor::evaluate`] one by one. Each actor's changes are then in
    /// [`LiveActor::changes`].
    ///
    /// # Panics
    /// If an actor is of other rules than this engine's.
    pub fn evaluate_live(&self, actors: &mut [LiveActor]) -> Vec<Result<(), EvalError>> {
        assert!(
            actors.iter().all(|a| a.is_of(self)),
            "live actors must be evaluated with the rules they were made for"
        );
        if self.backend() == crate::Backend::Interpreter {
            return actors.par_iter_mut().map(|a| a.evaluate().map(|_| ())).collect();
        }
        let stale: Vec<bool> = actors
            .par_iter_mut()
            .map(|a| {
                a.changes.clear();
                let stale = a.needs_evaluation();
                if stale {
                    a.rebuild_prepared();
                }
                stale
            })
            .collect();
        let prepared: Vec<&Prepared> =
            actors.iter().zip(&stale).filter(|(_, s)| **s).map(|(a, _)| &a.prepared).collect();
        let mut results = self.evaluate_prepared_all(&prepared).into_iter();
        let mut out = Vec::with_capacity(actors.len());
        for (a, stale) in actors.iter_mut().zip(stale) {
            if !stale {
                out.push(Ok(()));
                continue;
            }
            match results.next().expect("one result per stale actor") {
                Ok(snapshot) => {
                    a.apply_full(snapshot);
                    out.push(Ok(()));
                }
                Err(e) => out.push(Err(e)),
            }
        }
        out
    }
}
