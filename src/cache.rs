//! A memoizing cache of per-actor results with incremental recompute.
//!
//! Key: (actor id, 128-bit XXH3 hash of the actor's whole input, rule-set generation). The
//! input is hashed from an unambiguous encoding of every field, numbers by their bits (so ±0
//! differ), with a random per-process seed; the input itself is not stored. A
//! [`KeyedActor`] carries its hash, so looking it up hashes nothing. Collision policy:
//! two different inputs of one id with equal 128-bit seeded hashes would share a result; at
//! 2^-128 per pair we accept that. Results are shared (`Arc`): a hit copies nothing.
//! Invariant: every result returned equals, bit for bit, a fresh evaluation with the
//! generation's rules. On a miss for a known id, only dirty stats (prepared input differs, or
//! the stat's rule fingerprint changed between generations) and their changed dependents are
//! recomputed with [`eval_incremental`]; when the rule set's structure changed (stat ids or
//! order, layers, policy) it falls back to a full evaluation. What is kept per actor besides
//! the result is a choice ([`Keep`]): the prepared form (for `refresh` and per-stat input
//! comparison) costs about six times the memory of the result. Capacity is bounded with LRU
//! eviction (a dense slab with an index-linked list; a removal moves the last slot into the
//! hole, so nothing removed stays alive).

use crate::engine::ActorError;
use crate::eval::{Affected, Scratch, eval_affected_in_place, eval_incremental};
use crate::ingest::{Prepared, PreparedStat};
use crate::input::{Actor, CapContribution, Contribution, Meta, ModifierPack, SubsystemOutput};
use crate::ir::{self as dump, Ir, Mode};
use crate::reload::Generation;
use crate::snapshot::Snapshot;
use hashbrown::HashTable;
use rustc_hash::FxHashMap;
use std::hash::BuildHasher;
use std::sync::{Arc, OnceLock};
use xxhash_rust::xxh3::xxh3_128_with_seed;

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

/// Per-stat rule fingerprints and the structure key of one IR.
#[derive(Debug)]
struct Fingerprints {
    structure: String,
    stats: Vec<String>,
}

fn fingerprints(ir: &Ir) -> Fingerprints {
    let mut structure = format!("{:?}|{:?}|", ir.policy(), ir.unscoped);
    for l in &ir.layers {
        structure.push_str(&format!("{}:{};", l.name, l.requires_realm));
    }
    for s in &ir.stats {
        structure.push_str(&s.name);
        structure.push(',');
    }
    // Buckets and pipelines by position: what ingest resolves, so equal structure means a
    // prepared actor stays valid for the new rules.
    for b in &ir.buckets {
        structure.push_str(&format!("|{}", b.name));
    }
    for p in &ir.pipelines {
        structure.push_str(&format!("|{}={:?}", p.name, p.buckets));
    }
    let stats = ir
        .stats
        .iter()
        .map(|s| {
            let mut f = format!("{:?}|", s.category);
            match s.mode {
                Mode::Pipeline(p) => {
                    let p = ir.pipeline(p);
                    f.push_str(&format!("pipeline {}:", p.name));
                    for b in &p.buckets {
                        let b = ir.bucket(*b);
                        f.push_str(&format!(
                            "[{} {} {}]",
                            b.name,
                            dump::fold_name(b.fold),
                            dump::expr_text(ir, b.apply)
                        ));
                    }
                }
                Mode::Operator(op) => f.push_str(dump::operator_name(op)),
            }
            let e = |x: Option<crate::ir::Expr>| x.map(|x| dump::expr_text(ir, x)).unwrap_or_default();
            f.push_str(&format!("|{}|{}|{}|{:?}", e(s.formula), e(s.min), e(s.max), s.default.map(f64::to_bits)));
            f
        })
        .collect();
    Fingerprints { structure, stats }
}

/// Appends an unambiguous encoding of the whole input (every field; numbers by their bits,
/// so ±0 and NaN payloads differ) to `out`. Destructuring keeps it in step with the types.
fn encode(a: &Actor, out: &mut Vec<u8>) {
    fn text(out: &mut Vec<u8>, t: &str) {
        out.extend_from_slice(&(t.len() as u64).to_le_bytes());
        out.extend_from_slice(t.as_bytes());
    }
    fn int(out: &mut Vec<u8>, x: i64) {
        out.extend_from_slice(&x.to_le_bytes());
    }
    fn num(out: &mut Vec<u8>, x: f64) {
        out.extend_from_slice(&x.to_bits().to_le_bytes());
    }
    fn opt<T: ?Sized>(out: &mut Vec<u8>, x: Option<&T>, f: impl FnOnce(&mut Vec<u8>, &T)) {
        out.push(x.is_some() as u8);
        if let Some(x) = x {
            f(out, x);
        }
    }
    let Actor { id, version, subsystems } = a;
    opt(out, id.as_deref(), text);
    int(out, *version);
    int(out, subsystems.len() as i64);
    for s in subsystems {
        let SubsystemOutput { primary, derived, caps, context, meta } = s;
        for list in [primary, derived] {
            int(out, list.len() as i64);
            for c in list {
                let Contribution { dimension, bucket, value, system, priority } = c;
                text(out, dimension);
                text(out, bucket);
                num(out, *value);
                text(out, system);
                opt(out, priority.as_ref(), |o, p| int(o, *p));
            }
        }
        int(out, caps.len() as i64);
        for c in caps {
            let CapContribution { system, dimension, mode, kind, value, priority, scope, realm, tags } = c;
            for t in [system, dimension, mode, kind] {
                text(out, t);
            }
            num(out, *value);
            opt(out, priority.as_ref(), |o, p| int(o, *p));
            opt(out, scope.as_deref(), text);
            opt(out, realm.as_deref(), text);
            opt(out, tags.as_deref(), |o, tags: &[String]| {
                int(o, tags.len() as i64);
                for t in tags {
                    text(o, t);
                }
            });
        }
        opt(out, context.as_ref(), |o, ctx| {
            int(o, ctx.len() as i64);
            for (k, p) in ctx {
                let ModifierPack { additive_percent, multipliers, post_add } = p;
                text(o, k);
                num(o, *additive_percent);
                num(o, *post_add);
                int(o, multipliers.len() as i64);
                for m in multipliers {
                    num(o, *m);
                }
            }
        });
        let Meta { system, stage, version } = meta;
        text(out, system);
        opt(out, stage.as_deref(), text);
        opt(out, version.as_ref(), |o, v| int(o, *v));
    }
}

/// The 128-bit hash of the actor's whole input, under a random seed drawn once per process
/// (colliding inputs cannot be prepared offline). `buf` is scratch space.
pub fn input_hash(a: &Actor, buf: &mut Vec<u8>) -> u128 {
    static SEED: OnceLock<u64> = OnceLock::new();
    let seed = *SEED.get_or_init(|| std::collections::hash_map::RandomState::new().hash_one(0u8));
    buf.clear();
    encode(a, buf);
    xxh3_128_with_seed(buf, seed)
}

/// An actor with the hash of its input, computed once. The input changes only through
/// [`KeyedActor::update`], which hashes it again, so [`Cache::evaluate_keyed`] never
/// hashes and never sees a stale hash: a hit is a lookup by id.
#[derive(Debug, Clone)]
pub struct KeyedActor {
    actor: Actor,
    hash: u128,
}

impl KeyedActor {
    pub fn new(actor: Actor) -> KeyedActor {
        let hash = input_hash(&actor, &mut Vec::new());
        KeyedActor { actor, hash }
    }

    pub fn actor(&self) -> &Actor {
        &self.actor
    }

    /// Changes the input and hashes it again.
    pub fn update(&mut self, change: impl FnOnce(&mut Actor)) {
        change(&mut self.actor);
        self.hash = input_hash(&self.actor, &mut Vec::new());
    }

    pub fn into_actor(self) -> Actor {
        self.actor
    }
}

impl From<Actor> for KeyedActor {
    fn from(actor: Actor) -> KeyedActor {
        KeyedActor::new(actor)
    }
}

const NIL: u32 = u32::MAX;

/// One cached actor. Small on purpose (see the memory figures in the README): the id is
/// stored once (the index holds slot numbers), the hash as two words (no 16-byte
/// alignment), the links as `u32`, and the prepared form boxed.
struct Slot {
    id: Box<str>,
    hash: [u64; 2],
    generation: u64,
    ir: Arc<Ir>,
    prepared: Option<Box<Prepared>>,
    result: Shared,
    prev: u32,
    next: u32,
}

fn split(hash: u128) -> [u64; 2] {
    [hash as u64, (hash >> 64) as u64]
}

fn id_hash(id: &str) -> u64 {
    rustc_hash::FxBuildHasher.hash_one(id)
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

/// How the rules changed between two generations: per stat, whether its rule changed, and
/// what that reaches; `None` when the structure changed (prepared actors and snapshots
/// cannot be reused).
type RuleDiff = Option<Arc<RuleChange>>;

#[derive(Debug)]
struct RuleChange {
    dirty: Box<[bool]>,
    affected: Affected,
}

/// A bounded LRU cache of evaluated actors. Actors without an id are never cached.
pub struct Cache {
    capacity: usize,
    keep: Keep,
    /// Slot numbers, hashed by their slot's id.
    index: HashTable<u32>,
    slots: Vec<Slot>,
    head: u32,
    tail: u32,
    stats: CacheStats,
    scratch: Scratch,
    fingerprints: FxHashMap<u64, Arc<Fingerprints>>,
    diffs: FxHashMap<(u64, u64), RuleDiff>,
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
            capacity: capacity.clamp(1, NIL as usize - 1),
            keep,
            index: HashTable::new(),
            slots: Vec::new(),
            head: NIL,
            tail: NIL,
            stats: CacheStats::default(),
            scratch: Scratch::default(),
            fingerprints: FxHashMap::default(),
            diffs: FxHashMap::default(),
            buf: Vec::new(),
            dirty: Vec::new(),
        }
    }

    pub fn stats(&self) -> CacheStats {
        self.stats
    }

    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    fn find(&self, id: &str) -> Option<usize> {
        self.index.find(id_hash(id), |&i| *self.slots[i as usize].id == *id).map(|&i| i as usize)
    }

    /// Removes slot `i` and drops what it holds; the last slot moves into its place.
    fn remove(&mut self, i: usize) {
        self.unlink(i);
        if let Ok(e) = self.index.find_entry(id_hash(&self.slots[i].id), |&k| k as usize == i) {
            e.remove();
        }
        let last = self.slots.len() - 1;
        self.slots.swap_remove(i);
        if i == last {
            return;
        }
        if let Ok(mut e) = self.index.find_entry(id_hash(&self.slots[i].id), |&k| k as usize == last) {
            *e.get_mut() = i as u32;
        }
        let (p, n) = (self.slots[i].prev, self.slots[i].next);
        if p == NIL {
            self.head = i as u32
        } else {
            self.slots[p as usize].next = i as u32
        }
        if n == NIL { self.tail = i as u32 } else { self.slots[n as usize].prev = i as u32 }
    }

    fn unlink(&mut self, i: usize) {
        let (p, n) = (self.slots[i].prev, self.slots[i].next);
        if p == NIL {
            self.head = n
        } else {
            self.slots[p as usize].next = n
        }
        if n == NIL { self.tail = p } else { self.slots[n as usize].prev = p }
    }

    fn push_front(&mut self, i: usize) {
        self.slots[i].prev = NIL;
        self.slots[i].next = self.head;
        if self.head != NIL {
            self.slots[self.head as usize].prev = i as u32;
        }
        self.head = i as u32;
        if self.tail == NIL {
            self.tail = i as u32;
        }
    }

    fn fingerprint(&mut self, g: u64, ir: &Ir) -> Arc<Fingerprints> {
        if let Some(f) = self.fingerprints.get(&g) {
            return f.clone();
        }
        if self.fingerprints.len() > 8 {
            self.fingerprints.clear();
        }
        let f = Arc::new(fingerprints(ir));
        self.fingerprints.insert(g, f.clone());
        f
    }

    /// The rule changes from generation `a` to `b`, computed once per pair of generations.
    fn rule_diff(&mut self, (a, a_ir): (u64, &Ir), (b, b_ir): (u64, &Ir)) -> RuleDiff {
        if let Some(d) = self.diffs.get(&(a, b)) {
            return d.clone();
        }
        let (old, new) = (self.fingerprint(a, a_ir), self.fingerprint(b, b_ir));
        let diff = (old.structure == new.structure).then(|| {
            let dirty: Box<[bool]> = old.stats.iter().zip(&new.stats).map(|(x, y)| x != y).collect();
            let affected = Affected::of(b_ir, &dirty);
            Arc::new(RuleChange { dirty, affected })
        });
        if self.diffs.len() > 16 {
            self.diffs.clear();
        }
        self.diffs.insert((a, b), diff.clone());
        diff
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
        let hash = input_hash(actor, &mut self.buf);
        self.lookup(g, actor, hash)
    }

    /// Like [`Cache::evaluate_shared`] with the input hash the actor carries: an unchanged
    /// actor costs a lookup by id, nothing proportional to its input.
    pub fn evaluate_keyed(&mut self, g: &Generation, actor: &KeyedActor) -> Shared {
        if actor.actor.id.is_none() {
            return self.uncached(g, &actor.actor);
        }
        self.lookup(g, &actor.actor, actor.hash)
    }

    fn uncached(&mut self, g: &Generation, actor: &Actor) -> Shared {
        self.stats.misses += 1;
        Arc::new(g.engine.evaluate(actor))
    }

    /// `actor` has an id and its input hashes to `hash`.
    fn lookup(&mut self, g: &Generation, actor: &Actor, hash: u128) -> Shared {
        let id = actor.id.as_deref().expect("cached actors have an id");
        let hash = split(hash);
        let found = self.find(id);
        let same = found.is_some_and(|i| self.slots[i].hash == hash);
        if let (Some(i), true) = (found, same)
            && self.slots[i].generation == g.number
        {
            self.stats.hits += 1;
            self.unlink(i);
            self.push_front(i);
            return self.slots[i].result.clone();
        }
        self.stats.misses += 1;
        let ir = g.engine.ir().clone();
        // Same input, new rules of the same structure: the cached prepared actor still holds.
        if let Some(i) = found.filter(|&i| same && self.has_prepared(i) && self.same_structure(i, g.number, &ir)) {
            let result = self.recompute_in_place(g, i);
            self.unlink(i);
            self.push_front(i);
            return result;
        }
        let prepared = crate::ingest::prepare(&ir, actor);
        let result = match (&prepared, found) {
            (Err(e), _) => Err(ActorError::from(e.clone())),
            (Ok(p), Some(i)) => {
                self.incremental(g, i, p, same).unwrap_or_else(|| g.engine.evaluate_prepared(p, &mut self.scratch))
            }
            (Ok(p), None) => g.engine.evaluate_prepared(p, &mut self.scratch),
        };
        let result = Arc::new(result);
        let slot = Slot {
            id: id.into(),
            hash,
            generation: g.number,
            ir,
            prepared: prepared.ok().filter(|_| self.keep == Keep::Prepared).map(Box::new),
            result: result.clone(),
            prev: NIL,
            next: NIL,
        };
        match found {
            Some(i) => {
                self.slots[i] = Slot { prev: self.slots[i].prev, next: self.slots[i].next, ..slot };
                self.unlink(i);
                self.push_front(i);
            }
            None => {
                if self.index.len() >= self.capacity {
                    self.remove(self.tail as usize);
                    self.stats.evictions += 1;
                }
                self.slots.push(slot);
                let i = self.slots.len() - 1;
                let slots = &self.slots;
                self.index.insert_unique(id_hash(id), i as u32, |&k| id_hash(&slots[k as usize].id));
                self.push_front(i);
            }
        }
        result
    }

    /// Brings every cached actor up to generation `g` without its input: after a hot reload,
    /// each recomputes only the stats whose rules changed and their dependents. Entries whose
    /// rule-set structure changed are dropped (their next lookup is a miss); those without a
    /// prepared form ([`Keep::Results`], or a bad input) are left for their next lookup.
    /// Returns how many entries were recomputed.
    pub fn refresh(&mut self, g: &Generation) -> usize {
        let ir = g.engine.ir().clone();
        let mut refreshed = 0;
        let mut stale = Vec::new();
        // In slot order, not list order: the slots' memory is read front to back, and no
        // load waits for the previous slot's link. Refreshing is mostly waiting for memory, so
        // each group of slots is first touched with independent loads: their cache misses
        // overlap instead of coming one after another.
        const GROUP: usize = 16;
        for k in 0..self.slots.len() {
            if k % GROUP == 0 {
                let end = (k + GROUP).min(self.slots.len());
                let touched = self.slots[k..end].iter().fold(0, |acc, s| {
                    let prepared = s.prepared.as_ref().and_then(|p| p.stats.first()).map_or(0, |ps| ps.stat.0);
                    let snapshot = s.result.as_ref().as_ref().map_or(0, Snapshot::first_byte);
                    acc ^ prepared ^ u32::from(snapshot)
                });
                std::hint::black_box(touched);
            }
            if self.slots[k].generation == g.number {
                continue;
            }
            if !self.same_structure(k, g.number, &ir) {
                stale.push(k);
            } else if self.has_prepared(k) {
                self.recompute_in_place(g, k);
                refreshed += 1;
            }
        }
        // From the highest slot down: a removal moves only the last slot.
        stale.sort_unstable_by(|a, b| b.cmp(a));
        for k in stale {
            self.remove(k);
        }
        refreshed
    }

    fn has_prepared(&self, i: usize) -> bool {
        self.slots[i].prepared.is_some()
    }

    /// Whether the rule-set structure of slot `i`'s generation equals that of generation `g`,
    /// so that its prepared form and snapshot still fit.
    fn same_structure(&mut self, i: usize, g: u64, ir: &Ir) -> bool {
        let s = &self.slots[i];
        let old = (s.generation, s.ir.clone());
        self.rule_diff((old.0, &old.1), (g, ir)).is_some()
    }

    /// Brings slot `i` (a prepared form, unchanged input, the structure of `g`) to generation
    /// `g` in place, without cloning its prepared form, and returns the new result.
    fn recompute_in_place(&mut self, g: &Generation, i: usize) -> Shared {
        let prepared = self.slots[i].prepared.take().expect("the slot has a prepared form");
        let result = match self.update_unique(g, i, &prepared) {
            Some(result) => result,
            None => Arc::new(
                self.incremental(g, i, &prepared, true)
                    .unwrap_or_else(|| g.engine.evaluate_prepared(&prepared, &mut self.scratch)),
            ),
        };
        let s = &mut self.slots[i];
        s.prepared = Some(prepared);
        s.generation = g.number;
        s.ir = g.engine.ir().clone();
        s.result = result.clone();
        result
    }

    /// For slot `i` with unchanged input, when the cache holds the only reference to its
    /// (successful) result: recomputes the stats whose rules changed, and their dependents,
    /// into that result (allocating only when its packed size changes). `None` when this
    /// does not apply.
    fn update_unique(&mut self, g: &Generation, i: usize, p: &Prepared) -> Option<Shared> {
        let (old_gen, old_ir) = (self.slots[i].generation, self.slots[i].ir.clone());
        let ir = g.engine.ir().clone();
        if old_gen == g.number || Arc::ptr_eq(&old_ir, &ir) {
            return None;
        }
        let change = self.rule_diff((old_gen, &old_ir), (g.number, &ir))?;
        let Some(Ok(snapshot)) = Arc::get_mut(&mut self.slots[i].result) else { return None };
        eval_affected_in_place(&ir, p, snapshot, &change.affected, &mut self.scratch).ok()?;
        self.stats.incremental += 1;
        self.stats.dirty_stats += change.affected.stats.len() as u64;
        Some(self.slots[i].result.clone())
    }

    /// Recomputes only what changed against slot `i`; `None` when a full evaluation is needed.
    fn incremental(
        &mut self,
        g: &Generation,
        i: usize,
        p: &Prepared,
        same_input: bool,
    ) -> Option<Result<Snapshot, ActorError>> {
        let (old_gen, old_ir) = (self.slots[i].generation, self.slots[i].ir.clone());
        let ir = g.engine.ir().clone();
        let mut dirty = std::mem::take(&mut self.dirty);
        dirty.clear();
        dirty.resize(ir.stats.len(), false);
        if old_gen != g.number && !Arc::ptr_eq(&old_ir, &ir) {
            let change = self.rule_diff((old_gen, &old_ir), (g.number, &ir))?;
            dirty.copy_from_slice(&change.dirty);
        }
        let s = &self.slots[i];
        let prev = match &*s.result {
            Ok(prev) => prev,
            Err(_) => return None,
        };
        if !same_input {
            let prev_p = s.prepared.as_ref()?;
            mark_input_changes(prev_p, p, &mut dirty);
        }
        self.stats.incremental += 1;
        self.stats.dirty_stats += dirty.iter().filter(|d| **d).count() as u64;
        let r = eval_incremental(&ir, p, prev, &dirty, &mut self.scratch).map_err(ActorError::from);
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
