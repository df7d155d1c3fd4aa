//! A memoizing cache of per-actor results with incremental recompute.
//!
//! Key: (actor id, 128-bit XXH3 hash of the actor's whole input, rule-set generation). The
//! input is hashed from an unambiguous encoding of every field, numbers by their bits (so ±0
//! differ), with a random per-process seed; the input itself is not stored. A
//! [`KeyedActor`] carries its hash, so looking it up hashes nothing. A caller that keeps no
//! actors (`run --watch`) keys them by the hash of their text instead ([`text_hash`]): then
//! [`Cache::cached`] answers from the id and the hash alone, and [`Cache::evaluate_prepared`]
//! takes an actor its caller ingested (in parallel, straight from the JSON). Collision policy:
//! two different inputs of one id with equal 128-bit seeded hashes would share a result; at
//! 2^-128 per pair we accept that. Results are shared (`Arc`): a hit copies nothing.
//! Invariant: every result returned equals, bit for bit, a fresh evaluation with the
//! generation's rules. On a miss for a known id, only dirty stats (prepared input differs, or
//! the stat's rule fingerprint changed between generations) and their changed dependents are
//! recomputed with `eval_incremental` (an edit of tags, tag groups, stacking groups or views
//! ingests the actor again and compares the prepared input per stat); when the rule set's structure changed (stat ids or
//! order, layers, policy), or the entry is more than [`DIFF_HISTORY`](crate::reload::DIFF_HISTORY) (8) generations
//! old, it falls back to a full evaluation. The rule changes come with the generation
//! ([`Generation::rule_diff_since`], computed once by the reloader). What is kept per actor
//! besides the result is a choice ([`Keep`]): the prepared form (for `refresh` and per-stat input
//! comparison) costs about six times the memory of the result. Capacity is bounded with LRU
//! eviction (`lru`: a dense slab with an index-linked list; a removal moves the last slot
//! into the hole, so nothing removed stays alive). The key is in `key`.

mod key;
mod lru;

pub use key::{KeyedActor, input_hash, text_hash};

use crate::engine::ActorError;
use crate::eval::{Scratch, eval_affected_in_place, eval_incremental};
use crate::ingest::{Prepared, PreparedStat};
use crate::input::{Actor, InputError};
use crate::reload::Generation;
use crate::snapshot::Snapshot;
use lru::Lru;
use std::sync::Arc;

/// Counters of a [`Cache`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    pub hits: u64,
    pub misses: u64,
    pub evictions: u64,
    /// Misses answered by an incremental recompute.
    pub incremental: u64,
    /// Stats recomputed because dirty (incremental misses only).
    pub dirty_stats: u64,
}

/// One cached actor besides its id (which the LRU stores). Small on purpose (see the memory
/// figures in docs/performance.md): the hash as two words (no 16-byte alignment) and the prepared
/// form boxed.
struct Slot {
    hash: [u64; 2],
    generation: u64,
    prepared: Option<Box<Prepared>>,
    result: Shared,
}

fn split(hash: u128) -> [u64; 2] {
    [hash as u64, (hash >> 64) as u64]
}

/// What a [`Cache`] keeps of each actor besides its result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// The prepared (ingested) form too, about 2.8 KB for the standard workload:
    /// [`Cache::refresh`] brings actors to new rules without their input, and a changed
    /// input recomputes only the stats whose contributions or caps changed.
    Prepared,
    /// The result only (about 0.4 KB): a changed input is evaluated in full, and after a
    /// reload an actor is brought up to date on its next lookup (ingested again, then only
    /// the stats the rule change reaches are evaluated).
    Results,
}

/// A cached result, shared with the callers of [`Cache::evaluate_shared`].
pub type Shared = Arc<Result<Snapshot, ActorError>>;

/// A bounded LRU cache of evaluated actors. Actors without an id are never cached.
pub struct Cache {
    capacity: usize,
    keep: Keep,
    slots: Lru<Slot>,
    stats: CacheStats,
    scratch: Scratch,
    buf: Vec<u8>,
    dirty: Vec<bool>,
}

impl Cache {
    /// A cache of at most `capacity` actors that keeps their prepared forms ([`Keep::Prepared`]).
    pub fn new(capacity: usize) -> Cache {
        Cache::keeping(capacity, Keep::Prepared)
    }

    pub fn keeping(capacity: usize, keep: Keep) -> Cache {
        Cache {
            capacity: capacity.clamp(1, lru::MAX_LEN),
            keep,
            slots: Lru::new(),
            stats: CacheStats::default(),
            scratch: Scratch::default(),
            buf: Vec::new(),
            dirty: Vec::new(),
        }
    }

    pub fn stats(&self) -> CacheStats {
        self.stats
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.len() == 0
    }

    /// The actor's snapshot under generation `g`: a lookup when unchanged, an incremental
    /// recompute when the same id was cached with other input or rules, else a full evaluation.
    pub fn evaluate(&mut self, g: &Generation, actor: &Actor) -> Result<Snapshot, ActorError> {
        Result::clone(&self.evaluate_shared(g, actor))
    }

    /// Like [`Cache::evaluate`], sharing the cached result instead of copying it.
    pub fn evaluate_shared(&mut self, g: &Generation, actor: &Actor) -> Shared {
        if actor.id.is_none() {
            return self.uncached(g, actor);
        }
        let (id, hash) = (actor.id.as_deref().expect("an id"), input_hash(actor, &mut self.buf));
        self.lookup(g, id, hash, |ir| crate::ingest::prepare(ir, actor))
    }

    /// Like [`Cache::evaluate_shared`] with the input hash the actor carries: an unchanged
    /// actor costs a lookup by id, nothing proportional to its input.
    pub fn evaluate_keyed(&mut self, g: &Generation, actor: &KeyedActor) -> Shared {
        let Some(id) = actor.actor.id.as_deref() else { return self.uncached(g, &actor.actor) };
        self.lookup(g, id, actor.hash, |ir| crate::ingest::prepare(ir, &actor.actor))
    }

    /// Like [`Cache::evaluate_keyed`] for an actor known by its id and the hash of its input
    /// (any 128-bit hash equal for equal inputs only, e.g. of its text), ingested by the
    /// caller, who can ingest many at once in parallel; `prepared` is used only when the
    /// cache holds nothing it can bring to generation `g`.
    pub fn evaluate_prepared(
        &mut self,
        g: &Generation,
        id: &str,
        hash: u128,
        prepared: Result<Prepared, InputError>,
    ) -> Shared {
        self.lookup(g, id, hash, |_| prepared)
    }

    /// The result cached for the actor `id` whose input hashes to `hash`, when it is current
    /// for generation `g` (a hit). `None` counts nothing: evaluate the actor then, with
    /// [`Cache::evaluate_prepared`] for instance. Needs no input, so a caller may keep only
    /// an actor's id and hash, and read its input again only when this misses.
    pub fn cached(&mut self, g: &Generation, id: &str, hash: u128) -> Option<Shared> {
        let i = self.slots.find(id)?;
        let slot = self.slots.get(i);
        if slot.hash != split(hash) || slot.generation != g.number {
            return None;
        }
        let result = slot.result.clone();
        self.stats.hits += 1;
        self.slots.touch(i);
        Some(result)
    }

    fn uncached(&mut self, g: &Generation, actor: &Actor) -> Shared {
        self.stats.misses += 1;
        Arc::new(g.engine.evaluate(actor))
    }

    /// The actor `id`, whose input hashes to `hash` and which `prepare` ingests (only when
    /// the cache holds nothing it can bring to generation `g`).
    fn lookup(
        &mut self,
        g: &Generation,
        id: &str,
        hash: u128,
        prepare: impl FnOnce(&crate::ir::Ir) -> Result<Prepared, InputError>,
    ) -> Shared {
        let hash = split(hash);
        let found = self.slots.find(id);
        let same = found.is_some_and(|i| self.slots.get(i).hash == hash);
        if let (Some(i), true) = (found, same)
            && self.slots.get(i).generation == g.number
        {
            self.stats.hits += 1;
            self.slots.touch(i);
            return self.slots.get(i).result.clone();
        }
        self.stats.misses += 1;
        // Same input, new rules of the same structure and situations: the cached prepared
        // actor still holds.
        if let Some(i) =
            found.filter(|&i| same && self.has_prepared(i) && self.same_structure(i, g) && !self.reingest(i, g))
        {
            let result = self.recompute_in_place(g, i);
            self.slots.touch(i);
            return result;
        }
        let prepared = prepare(g.engine.ir());
        let result = match (&prepared, found) {
            (Err(e), _) => Err(ActorError::from(e.clone())),
            (Ok(p), Some(i)) => {
                self.incremental(g, i, p, same).unwrap_or_else(|| g.engine.evaluate_prepared(p, &mut self.scratch))
            }
            (Ok(p), None) => g.engine.evaluate_prepared(p, &mut self.scratch),
        };
        let result = Arc::new(result);
        let slot = Slot {
            hash,
            generation: g.number,
            prepared: prepared.ok().filter(|_| self.keep == Keep::Prepared).map(Box::new),
            result: result.clone(),
        };
        match found {
            Some(i) => {
                *self.slots.get_mut(i) = slot;
                self.slots.touch(i);
            }
            None => {
                if self.slots.len() >= self.capacity
                    && let Some(lru) = self.slots.least_recent()
                {
                    self.slots.remove(lru);
                    self.stats.evictions += 1;
                }
                self.slots.insert(id, slot);
            }
        }
        result
    }

    /// Brings every cached actor up to generation `g` without its input: after a hot reload,
    /// each recomputes only the stats whose rules changed and their dependents. Entries whose
    /// rule-set structure changed, or more than 8 generations old, are dropped (their next
    /// lookup is a miss); those without a prepared form ([`Keep::Results`], or a bad input),
    /// and those whose situations changed (they must be ingested again), are left for their
    /// next lookup, which recomputes only the stats whose rules or prepared input changed.
    /// Returns how many entries were recomputed.
    pub fn refresh(&mut self, g: &Generation) -> usize {
        let mut refreshed = 0;
        let mut stale = Vec::new();
        // In slot order, not list order: the slots' memory is read front to back, and no
        // load waits for the previous slot's link. Refreshing is mostly waiting for memory, so
        // each group of slots is first touched with independent loads: their cache misses
        // overlap instead of coming one after another.
        const GROUP: usize = 16;
        let len = self.slots.len();
        for k in 0..len {
            if k % GROUP == 0 {
                let end = (k + GROUP).min(len);
                let touched = (k..end).map(|j| self.slots.get(j)).fold(0, |acc, s| {
                    let prepared = s.prepared.as_ref().and_then(|p| p.stats.first()).map_or(0, |ps| ps.stat.0);
                    let snapshot = s.result.as_ref().as_ref().map_or(0, Snapshot::first_byte);
                    acc ^ prepared ^ u32::from(snapshot)
                });
                std::hint::black_box(touched);
            }
            if self.slots.get(k).generation == g.number {
                continue;
            }
            if !self.same_structure(k, g) {
                stale.push(k);
            } else if self.has_prepared(k) && !self.reingest(k, g) {
                self.recompute_in_place(g, k);
                refreshed += 1;
            }
        }
        // From the highest slot down: a removal moves only the last slot.
        stale.sort_unstable_by(|a, b| b.cmp(a));
        for k in stale {
            self.slots.remove(k);
        }
        refreshed
    }

    fn has_prepared(&self, i: usize) -> bool {
        self.slots.get(i).prepared.is_some()
    }

    /// Whether the rule-set structure of slot `i`'s generation equals that of generation `g`,
    /// so that its prepared form and snapshot still fit.
    fn same_structure(&self, i: usize, g: &Generation) -> bool {
        let old = self.slots.get(i).generation;
        old == g.number || g.rule_diff_since(old).is_some()
    }

    /// Whether slot `i` must be ingested again for generation `g` (its situations changed):
    /// only its next lookup, which has the input, can.
    fn reingest(&self, i: usize, g: &Generation) -> bool {
        g.rule_diff_since(self.slots.get(i).generation).is_some_and(|d| d.reingest)
    }

    /// Brings slot `i` (a prepared form, unchanged input, the structure of `g`) to generation
    /// `g` in place, without cloning its prepared form, and returns the new result.
    fn recompute_in_place(&mut self, g: &Generation, i: usize) -> Shared {
        let prepared = self.slots.get_mut(i).prepared.take().expect("the slot has a prepared form");
        let result = match self.update_unique(g, i, &prepared) {
            Some(result) => result,
            None => Arc::new(
                self.incremental(g, i, &prepared, true)
                    .unwrap_or_else(|| g.engine.evaluate_prepared(&prepared, &mut self.scratch)),
            ),
        };
        let s = self.slots.get_mut(i);
        s.prepared = Some(prepared);
        s.generation = g.number;
        s.result = result.clone();
        result
    }

    /// For slot `i` with unchanged input, when the cache holds the only reference to its
    /// (successful) result: recomputes the stats whose rules changed, and their dependents,
    /// into that result (allocating only when its packed size changes). `None` when this
    /// does not apply.
    fn update_unique(&mut self, g: &Generation, i: usize, p: &Prepared) -> Option<Shared> {
        let old_gen = self.slots.get(i).generation;
        if old_gen == g.number {
            return None;
        }
        let change = g.rule_diff_since(old_gen).filter(|d| !d.reingest)?;
        let slot = self.slots.get_mut(i);
        let Some(Ok(snapshot)) = Arc::get_mut(&mut slot.result) else { return None };
        eval_affected_in_place(g.engine.ir(), p, snapshot, &change.affected, &mut self.scratch).ok()?;
        self.stats.incremental += 1;
        self.stats.dirty_stats += change.affected.stats.len() as u64;
        Some(slot.result.clone())
    }

    /// Recomputes only what changed against slot `i`; `None` when a full evaluation is needed.
    fn incremental(
        &mut self,
        g: &Generation,
        i: usize,
        p: &Prepared,
        same_input: bool,
    ) -> Option<Result<Snapshot, ActorError>> {
        let old_gen = self.slots.get(i).generation;
        let ir = g.engine.ir();
        let mut dirty = std::mem::take(&mut self.dirty);
        dirty.clear();
        dirty.resize(ir.stats.len(), false);
        let mut reingested = false;
        if old_gen != g.number {
            let change = g.rule_diff_since(old_gen)?;
            dirty.copy_from_slice(&change.dirty);
            reingested = change.reingest;
        }
        let s = self.slots.get(i);
        let prev = match &*s.result {
            Ok(prev) => prev,
            Err(_) => return None,
        };
        if !same_input || reingested {
            let prev_p = s.prepared.as_ref()?;
            mark_input_changes(prev_p, p, &mut dirty);
        }
        self.stats.incremental += 1;
        self.stats.dirty_stats += dirty.iter().filter(|d| **d).count() as u64;
        let r = eval_incremental(ir, p, prev, &dirty, &mut self.scratch).map_err(ActorError::from);
        self.dirty = dirty;
        Some(r)
    }
}

/// Marks every stat whose prepared contributions, caps or origin flags differ.
pub fn mark_input_changes(a: &Prepared, b: &Prepared, dirty: &mut [bool]) {
    let view = |p: &Prepared, s: &PreparedStat| {
        let groups = &p.groups[s.groups.0 as usize..s.groups.1 as usize];
        let layers = &p.layers[s.layers.0 as usize..s.layers.1 as usize];
        (s.from, groups.to_vec(), layers.to_vec(), {
            let mut v = Vec::new();
            for g in groups {
                v.extend(p.values[g.start as usize..g.end as usize].iter().map(|x| x.to_bits()));
            }
            v
        })
    };
    let key = |p: &Prepared, s: &PreparedStat| {
        let (from, groups, layers, values) = view(p, s);
        let g: Vec<(u32, u32)> = groups.iter().map(|g| (g.slot, g.end - g.start)).collect();
        let raw: Vec<_> = layers
            .iter()
            .map(|l| {
                let sides =
                    (l.max.candidate.to_bits(), l.max.hard.to_bits(), l.min.candidate.to_bits(), l.min.hard.to_bits());
                (l.layer, l.max.has_override, l.min.has_override, sides)
            })
            .collect();
        (from, g, raw, values)
    };
    let (mut x, mut y) = (a.stats.iter().peekable(), b.stats.iter().peekable());
    loop {
        match (x.peek(), y.peek()) {
            (None, None) => break,
            (Some(s), None) => {
                mark(dirty, s.stat.index());
                x.next();
            }
            (None, Some(t)) => {
                mark(dirty, t.stat.index());
                y.next();
            }
            (Some(s), Some(t)) => {
                if s.stat < t.stat {
                    mark(dirty, s.stat.index());
                    x.next();
                } else if t.stat < s.stat {
                    mark(dirty, t.stat.index());
                    y.next();
                } else {
                    if key(a, s) != key(b, t) {
                        mark(dirty, s.stat.index());
                    }
                    x.next();
                    y.next();
                }
            }
        }
    }
}

fn mark(dirty: &mut [bool], i: usize) {
    if let Some(d) = dirty.get_mut(i) {
        *d = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Backend;
    use crate::load::LoadOptions;
    use crate::reload::{Change, DIFF_HISTORY, Outcome, Reloader};

    /// An actor cached several generations ago: an incremental recompute within the
    /// reloader's diff history, a full evaluation beyond it; equal to a fresh one either way.
    #[test]
    fn actors_generations_behind_equal_fresh() {
        let r = Reloader::new(vec!["rules/rpg".into()], LoadOptions::default(), Backend::Interpreter);
        assert!(matches!(r.reload(), Outcome::Published { .. }));
        let party = std::fs::read_to_string("examples/party.ndjson").unwrap();
        let actors: Vec<Actor> = party.lines().map(|l| crate::input::parse_actor(l).unwrap()).collect();
        let file = "rules/rpg/progression.stat";
        let base = std::fs::read_to_string(file).unwrap();
        let edit = |k: usize| {
            let text = base.replace("charisma * 2 + luck", &format!("charisma * {k} + luck"));
            assert!(matches!(r.apply(Change::Write { path: file.into(), text }), Outcome::Published { .. }));
            r.current().unwrap()
        };
        let mut cache = Cache::new(16);
        let g1 = r.current().unwrap();
        for a in &actors {
            cache.evaluate(&g1, a).ok();
        }
        edit(3);
        let g3 = edit(4);
        assert!(g3.rule_diff_since(1).is_some() && g3.rule_diff_since(2).is_some());
        for a in &actors {
            assert_eq!(cache.evaluate(&g3, a), g3.engine.evaluate(a));
        }
        let ok = actors.iter().filter(|a| g1.engine.evaluate(a).is_ok()).count() as u64;
        assert_eq!(cache.stats().incremental, ok);

        let mut last = g3.clone();
        for k in 0..=DIFF_HISTORY {
            last = edit(5 + k);
        }
        assert!(last.rule_diff_since(g3.number).is_none());
        assert_eq!(cache.refresh(&last), 0, "too old to refresh in place");
        for a in &actors {
            assert_eq!(cache.evaluate(&last, a), last.engine.evaluate(a));
        }
        assert_eq!(cache.stats().incremental, ok);
    }

    /// The actor's tags, a requirement and a stack are part of the input key.
    #[test]
    fn situations_are_part_of_the_input_key() {
        let text = std::fs::read_to_string("tests/data/situational/s01_tags_and_views/actor.json").unwrap();
        let a = crate::input::parse_actor(&text).unwrap();
        let hash = |a: &Actor| input_hash(a, &mut Vec::new());
        let mut tagged = a.clone();
        tagged.tags.push("fire".into());
        let mut required = a.clone();
        required.subsystems[0].derived[0].requires.push("!fire".into());
        let mut stacked = a.clone();
        stacked.subsystems[0].derived[0].stack = Some(Box::new(crate::input::Stack::Group("aura".into())));
        let mut keyed = stacked.clone();
        keyed.subsystems[0].derived[0].stack = Some(Box::new(crate::input::Stack::Keyed(crate::input::KeyedStack {
            group: "aura".into(),
            key: "x".into(),
        })));
        let hashes = [hash(&a), hash(&tagged), hash(&required), hash(&stacked), hash(&keyed)];
        for (i, x) in hashes.iter().enumerate() {
            assert!(!hashes[..i].contains(x), "input {i} hashes like an earlier one");
        }
    }

    /// Edits of a tag group, a stacking group and a view's tags: each actor is ingested
    /// again and only the stats whose applying contributions changed are recomputed.
    #[test]
    fn situation_edits_recompute_what_they_reach() {
        let file = "tests/data/situational/rules.stat";
        let r = Reloader::new(vec![file.into()], LoadOptions::default(), Backend::Interpreter);
        assert!(matches!(r.reload(), Outcome::Published { .. }));
        let actors: Vec<Actor> = ["s01_tags_and_views", "s02_situation_and_caps", "s03_stacking"]
            .iter()
            .map(|c| {
                let text = std::fs::read_to_string(format!("tests/data/situational/{c}/actor.json")).unwrap();
                crate::input::parse_actor(&text).unwrap()
            })
            .collect();
        let base = std::fs::read_to_string(file).unwrap();
        let mut cache = Cache::new(16);
        let g1 = r.current().unwrap();
        for a in &actors {
            cache.evaluate(&g1, a).unwrap();
        }
        let stats = g1.engine.ir().stats.len() as u64;
        for (old, new) in [
            ("tag group elemental = fire, cold, lightning;", "tag group elemental = cold, lightning;"),
            ("stack frenzy limit 3 keep highest;", "stack frenzy limit 2 keep lowest;"),
            ("view fire_spell_damage = damage with fire, spell;", "view fire_spell_damage = damage with fire;"),
        ] {
            assert!(base.contains(old), "{old}");
            let text = base.replace(old, new);
            let Outcome::Published { generation: g, .. } = r.apply(Change::Write { path: file.into(), text }) else {
                panic!("{new} publishes")
            };
            assert!(g.rule_diff_since(g.number - 1).is_some_and(|d| d.reingest), "{new}");
            assert_eq!(cache.refresh(&g), 0, "left for the lookup, which has the input");
            let before = cache.stats();
            let mut changed = 0;
            for a in &actors {
                let fresh = g.engine.evaluate(a);
                changed += usize::from(fresh != g1.engine.evaluate(a));
                assert_eq!(cache.evaluate(&g, a), fresh, "{new}");
            }
            let after = cache.stats();
            assert!(changed > 0, "{new} changes some value");
            assert_eq!(after.incremental - before.incremental, actors.len() as u64, "{new}");
            assert!(after.dirty_stats - before.dirty_stats < stats * actors.len() as u64, "{new}");
        }
    }

    /// An actor known only by its id and the hash of its text: looked up without its input,
    /// evaluated from the prepared form its caller made, refreshed after a reload.
    #[test]
    fn actors_by_id_and_text_hash() {
        let r = Reloader::new(vec!["rules/rpg".into()], LoadOptions::default(), Backend::Interpreter);
        assert!(matches!(r.reload(), Outcome::Published { .. }));
        let g1 = r.current().unwrap();
        let party = std::fs::read_to_string("examples/party.ndjson").unwrap();
        let line = party.lines().next().unwrap();
        let hash = text_hash(line.as_bytes());
        let actor = crate::input::parse_actor(line).unwrap();
        let mut cache = Cache::new(16);
        assert!(cache.cached(&g1, "warrior", hash).is_none());
        let first = cache.evaluate_prepared(&g1, "warrior", hash, g1.engine.prepare(&actor));
        assert_eq!(*first, g1.engine.evaluate(&actor));
        assert!(Arc::ptr_eq(&cache.cached(&g1, "warrior", hash).unwrap(), &first));
        assert!(cache.cached(&g1, "warrior", hash ^ 1).is_none());
        assert_eq!((cache.stats().hits, cache.stats().misses), (1, 1));

        let file = "rules/rpg/progression.stat";
        let text = std::fs::read_to_string(file).unwrap().replace("charisma * 2 + luck", "charisma * 3 + luck");
        assert!(matches!(r.apply(Change::Write { path: file.into(), text }), Outcome::Published { .. }));
        let g2 = r.current().unwrap();
        assert!(cache.cached(&g2, "warrior", hash).is_none(), "not yet brought to generation 2");
        assert_eq!(cache.refresh(&g2), 1);
        assert_eq!(*cache.cached(&g2, "warrior", hash).unwrap(), g2.engine.evaluate(&actor));
    }
}
