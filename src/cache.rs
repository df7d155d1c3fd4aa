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
//! order, layers, policy) it falls back to a full evaluation. Capacity is bounded with LRU
//! eviction (a slab with an index-linked list).

use crate::engine::ActorError;
use crate::eval::{Affected, Scratch, eval_affected_in_place, eval_incremental};
use crate::ingest::{Prepared, PreparedStat};
use crate::input::{Actor, CapContribution, Contribution, Meta, ModifierPack, SubsystemOutput};
use crate::ir::{self as dump, Ir, Mode};
use crate::reload::Generation;
use crate::snapshot::Snapshot;
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

const NIL: usize = usize::MAX;

struct Slot {
    id: String,
    hash: u128,
    generation: u64,
    ir: Arc<Ir>,
    prepared: Option<Prepared>,
    result: Shared,
    prev: usize,
    next: usize,
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
    map: FxHashMap<String, usize>,
    slots: Vec<Slot>,
    free: Vec<usize>,
    head: usize,
    tail: usize,
    stats: CacheStats,
    scratch: Scratch,
    fingerprints: FxHashMap<u64, Arc<Fingerprints>>,
    diffs: FxHashMap<(u64, u64), RuleDiff>,
    buf: Vec<u8>,
    dirty: Vec<bool>,
}

impl Cache {
    pub fn new(capacity: usize) -> Cache {
        Cache {
            capacity: capacity.max(1),
            map: FxHashMap::default(),
            slots: Vec::new(),
            free: Vec::new(),
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
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    fn unlink(&mut self, i: usize) {
        let (p, n) = (self.slots[i].prev, self.slots[i].next);
        if p == NIL {
            self.head = n
        } else {
            self.slots[p].next = n
        }
        if n == NIL { self.tail = p } else { self.slots[n].prev = p }
    }

    fn push_front(&mut self, i: usize) {
        self.slots[i].prev = NIL;
        self.slots[i].next = self.head;
        if self.head != NIL {
            self.slots[self.head].prev = i;
        }
        self.head = i;
        if self.tail == NIL {
            self.tail = i;
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
        let found = self.map.get(id).copied();
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
        if let Some(i) = found.filter(|&i| same && self.reusable(i, g.number, &ir)) {
            let result = self.recompute_in_place(g, i);
            self.unlink(i);
            self.push_front(i);
            return result;
        }
        let prepared = crate::ingest::prepare(&ir, actor);
        let result = match (&prepared, found) {
            (Err(e), _) => Err(ActorError::Input(e.clone())),
            (Ok(p), Some(i)) => {
                self.incremental(g, i, p, false).unwrap_or_else(|| g.engine.evaluate_prepared(p, &mut self.scratch))
            }
            (Ok(p), None) => g.engine.evaluate_prepared(p, &mut self.scratch),
        };
        let result = Arc::new(result);
        let slot = Slot {
            id: id.to_string(),
            hash,
            generation: g.number,
            ir,
            prepared: prepared.ok(),
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
                if self.map.len() >= self.capacity {
                    let t = self.tail;
                    self.unlink(t);
                    let old = std::mem::take(&mut self.slots[t].id);
                    self.map.remove(&old);
                    self.free.push(t);
                    self.stats.evictions += 1;
                }
                let i = match self.free.pop() {
                    Some(i) => {
                        self.slots[i] = slot;
                        i
                    }
                    None => {
                        self.slots.push(slot);
                        self.slots.len() - 1
                    }
                };
                self.map.insert(id.to_string(), i);
                self.push_front(i);
            }
        }
        result
    }

    /// Brings every cached actor up to generation `g` without its input: after a hot reload,
    /// each recomputes only the stats whose rules changed and their dependents. Entries whose
    /// rule-set structure changed are dropped (their next lookup is a miss). Returns how many
    /// entries were recomputed.
    pub fn refresh(&mut self, g: &Generation) -> usize {
        let ir = g.engine.ir().clone();
        let mut refreshed = 0;
        let mut stale = Vec::new();
        let mut i = self.head;
        while i != NIL {
            let next = self.slots[i].next;
            if self.slots[i].generation != g.number {
                if self.reusable(i, g.number, &ir) {
                    self.recompute_in_place(g, i);
                    refreshed += 1;
                } else {
                    stale.push(i);
                }
            }
            i = next;
        }
        for i in stale {
            self.unlink(i);
            self.slots[i].prepared = None;
            let id = std::mem::take(&mut self.slots[i].id);
            self.map.remove(&id);
            self.free.push(i);
        }
        refreshed
    }

    /// Whether slot `i`'s prepared form still holds under the rules of generation `g`: it has
    /// one, and the rule-set structure did not change.
    fn reusable(&mut self, i: usize, g: u64, ir: &Ir) -> bool {
        let s = &self.slots[i];
        if s.prepared.is_none() {
            return false;
        }
        let old = (s.generation, s.ir.clone());
        self.rule_diff((old.0, &old.1), (g, ir)).is_some()
    }

    /// Brings reusable slot `i`, whose input is unchanged, to generation `g` in place (no clone
    /// of its prepared form) and returns the new result.
    fn recompute_in_place(&mut self, g: &Generation, i: usize) -> Shared {
        let prepared = self.slots[i].prepared.take().expect("a reusable slot has a prepared form");
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
    /// into that result without allocating. `None` when this does not apply.
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
        let r = eval_incremental(&ir, p, prev, &dirty, &mut self.scratch).map_err(ActorError::Eval);
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
