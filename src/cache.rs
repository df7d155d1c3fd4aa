//! A memoizing cache of per-actor results with incremental recompute.
//!
//! Key: (actor id, 64-bit structural hash of the input over every number's bits, rule-set
//! generation). Collision policy: the hash only short-cuts; a hit also requires the stored
//! `Actor` to equal the new one (`PartialEq`, plus equal hashes, so ±0 differences are
//! caught by the bit hash), so a collision costs a comparison, never a wrong result.
//! Invariant: every result returned equals, bit for bit, a fresh evaluation with the
//! generation's rules. On a miss for a known id, only dirty stats (prepared input differs, or
//! the stat's rule fingerprint changed between generations) and their changed dependents are
//! recomputed with [`eval_incremental`]; when the rule set's structure changed (stat ids or
//! order, layers, policy) it falls back to a full evaluation. Capacity is bounded with LRU
//! eviction (a slab with an index-linked list).

use crate::engine::ActorError;
use crate::eval::{Scratch, eval_incremental};
use crate::ingest::{Prepared, PreparedStat};
use crate::input::Actor;
use crate::ir::{self as dump, Ir, Mode};
use crate::reload::Generation;
use crate::snapshot::Snapshot;
use rustc_hash::{FxHashMap, FxHasher};
use std::hash::{Hash, Hasher};
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

/// Structural hash of an actor over the bits of every number.
pub fn actor_hash(a: &Actor) -> u64 {
    let mut h = FxHasher::default();
    a.id.hash(&mut h);
    a.version.hash(&mut h);
    a.subsystems.len().hash(&mut h);
    for s in &a.subsystems {
        for list in [&s.primary, &s.derived] {
            list.len().hash(&mut h);
            for c in list {
                c.dimension.hash(&mut h);
                c.bucket.hash(&mut h);
                c.value.to_bits().hash(&mut h);
                c.system.hash(&mut h);
                c.priority.hash(&mut h);
            }
        }
        s.caps.len().hash(&mut h);
        for c in &s.caps {
            (&c.system, &c.dimension, &c.mode, &c.kind, &c.priority, &c.scope, &c.realm, &c.tags).hash(&mut h);
            c.value.to_bits().hash(&mut h);
        }
        match &s.context {
            None => 0u8.hash(&mut h),
            Some(ctx) => {
                for (k, p) in ctx {
                    k.hash(&mut h);
                    p.additive_percent.to_bits().hash(&mut h);
                    p.post_add.to_bits().hash(&mut h);
                    for m in &p.multipliers {
                        m.to_bits().hash(&mut h);
                    }
                }
            }
        }
        (&s.meta.system, &s.meta.stage, &s.meta.version).hash(&mut h);
    }
    h.finish()
}

const NIL: usize = usize::MAX;

struct Slot {
    id: String,
    hash: u64,
    generation: u64,
    ir: Arc<Ir>,
    actor: Actor,
    prepared: Option<Prepared>,
    result: Result<Snapshot, ActorError>,
    prev: usize,
    next: usize,
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

    /// The actor's snapshot under generation `g`: a lookup when unchanged, an incremental
    /// recompute when the same id was cached with other input or rules, else a full evaluation.
    pub fn evaluate(&mut self, g: &Generation, actor: &Actor) -> Result<Snapshot, ActorError> {
        let Some(id) = actor.id.as_deref() else {
            self.stats.misses += 1;
            return g.engine.evaluate(actor);
        };
        let hash = actor_hash(actor);
        let found = self.map.get(id).copied();
        if let Some(i) = found {
            let s = &self.slots[i];
            if s.generation == g.number && s.hash == hash && s.actor == *actor {
                self.stats.hits += 1;
                let r = s.result.clone();
                self.unlink(i);
                self.push_front(i);
                return r;
            }
        }
        self.stats.misses += 1;
        let ir = g.engine.ir().clone();
        // Same input, new rules of the same structure: the cached prepared actor still holds.
        let reuse = found.and_then(|i| {
            let s = &self.slots[i];
            (s.hash == hash && s.actor == *actor && s.prepared.is_some()).then_some(i)
        });
        let reuse = reuse.filter(|&i| {
            let (old_gen, old_ir) = (self.slots[i].generation, self.slots[i].ir.clone());
            self.fingerprint(old_gen, &old_ir).structure == self.fingerprint(g.number, &ir).structure
        });
        if let Some(i) = reuse {
            // Update in place: no clone of the actor or its prepared form.
            let prepared = self.slots[i].prepared.take().expect("checked above");
            let result = self
                .incremental(g, i, &prepared, true)
                .unwrap_or_else(|| g.engine.evaluate_prepared(&prepared, &mut self.scratch));
            let s = &mut self.slots[i];
            s.prepared = Some(prepared);
            s.generation = g.number;
            s.ir = ir;
            s.result = result.clone();
            self.unlink(i);
            self.push_front(i);
            return result;
        }
        let prepared = crate::ingest::prepare(&ir, actor);
        let result = match (&prepared, found) {
            (Err(e), _) => Err(ActorError::Input(e.clone())),
            (Ok(p), Some(i)) => self
                .incremental(g, i, p, reuse.is_some())
                .unwrap_or_else(|| g.engine.evaluate_prepared(p, &mut self.scratch)),
            (Ok(p), None) => g.engine.evaluate_prepared(p, &mut self.scratch),
        };
        let slot = Slot {
            id: id.to_string(),
            hash,
            generation: g.number,
            ir,
            actor: actor.clone(),
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
        let mut dirty: Vec<bool> = vec![false; ir.stats.len()];
        if old_gen != g.number && !Arc::ptr_eq(&old_ir, &ir) {
            let old = self.fingerprint(old_gen, &old_ir);
            let new = self.fingerprint(g.number, &ir);
            if old.structure != new.structure {
                return None;
            }
            for (d, (a, b)) in dirty.iter_mut().zip(old.stats.iter().zip(&new.stats)) {
                *d = a != b;
            }
        }
        let s = &self.slots[i];
        let Ok(prev) = &s.result else { return None };
        if !same_input {
            let Some(prev_p) = &s.prepared else { return None };
            mark_input_changes(prev_p, p, &mut dirty);
        }
        self.stats.incremental += 1;
        self.stats.dirty_stats += dirty.iter().filter(|d| **d).count() as u64;
        let prev = prev.clone();
        Some(eval_incremental(&ir, p, &prev, &dirty, &mut self.scratch).map_err(ActorError::Eval))
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
