//! The reference interpreter: the semantics every other engine must reproduce bit for bit.
//!
//! Per stat, in id (= dependency) order: range bounds; caps per layer and across layers;
//! base (formula, else `default`, else 0); buckets in pipeline order or the operator; clamp.
//! A bound, base formula or pipeline result that is NaN or ±∞ fails the actor (first stat in
//! id order, with its [`Phase`]); the clamp never sees a non-finite value.
//! Every number goes through [`crate::num`] or a single IEEE operation.

use crate::ingest::{FROM_DERIVED, FROM_PRIMARY, Group, LayerCaps, Prepared, PreparedStat};
use crate::ir::{Expr, Fold, Ir, Mode, Node, Operator, Policy, Stat, StatId};
use crate::num;
use crate::snapshot::{DERIVED, Entry, HAS_VALUE, Snapshot};
use crate::syntax::Category;
use serde::Serialize;

/// Which part of a stat failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Formula,
    RangeMin,
    RangeMax,
    Value,
}

/// A formula or pipeline that produced NaN or an infinity.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvalError {
    pub stat: String,
    pub phase: Phase,
    /// The formula's source text, for `formula` and range phases.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub formula: Option<String>,
    pub message: String,
}

impl std::error::Error for EvalError {}

impl std::fmt::Display for EvalError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl EvalError {
    pub fn new(stat: &Stat, phase: Phase, got: f64) -> EvalError {
        let (formula, what) = match phase {
            Phase::Formula => (stat.formula_text.clone(), "base formula"),
            Phase::RangeMin => (stat.min_text.clone(), "range minimum"),
            Phase::RangeMax => (stat.max_text.clone(), "range maximum"),
            Phase::Value => match stat.mode {
                Mode::Pipeline(_) => (None, "bucket pipeline"),
                Mode::Operator(_) => (None, "merge of its contributions"),
            },
        };
        let message = match &formula {
            Some(t) => format!("stat `{}`: {what} `{t}` produced {got}", stat.name),
            None => format!("stat `{}`: {what} produced {got}", stat.name),
        };
        EvalError { stat: stat.name.clone(), phase, formula, message }
    }

    /// [`EvalError::new`] for stat `id`, saying why when a `lookup` of its formula or bound
    /// found no key: `…: table `xp` has no key 7.5`. `values` are the stats' values so far.
    pub(crate) fn of(ir: &Ir, id: StatId, phase: Phase, got: f64, values: &[f64]) -> EvalError {
        let stat = ir.stat(id);
        let mut error = EvalError::new(stat, phase, got);
        let e = match phase {
            Phase::Formula => stat.formula,
            Phase::RangeMin => stat.min,
            Phase::RangeMax => stat.max,
            Phase::Value => None,
        };
        let Some(e) = e.filter(|e| ir.nodes[e.range()].iter().any(|n| matches!(n, Node::Lookup(..)))) else {
            return error;
        };
        let mut buf = vec![0.0; e.end as usize];
        eval_expr(ir, e, values, 0.0, 0.0, &mut buf);
        let missing = e.range().find_map(|i| match ir.nodes[i] {
            Node::Lookup(t, k) if buf[i].is_nan() && !buf[k.index()].is_nan() => Some((t, buf[k.index()])),
            _ => None,
        });
        if let Some((t, key)) = missing {
            error.message = format!("{}: table `{}` has no key {key}", error.message, ir.tables[t.index()].name);
        }
        error
    }
}

/// Reusable buffers, one per thread.
#[derive(Debug, Default, Clone)]
pub struct Scratch {
    nodes: Vec<f64>,
    values: Vec<f64>,
    entries: Vec<Entry>,
    updates: Vec<Entry>,
    merged: Vec<Entry>,
    packed: Vec<u8>,
}

/// Evaluates one expression; `value` and `x` are the bucket variables.
pub fn eval_expr(ir: &Ir, e: Expr, values: &[f64], value: f64, x: f64, buf: &mut [f64]) -> f64 {
    for i in e.range() {
        buf[i] = match ir.nodes[i] {
            Node::Const(c) => c,
            Node::Stat(s) => values[s.index()],
            Node::Value => value,
            Node::X => x,
            Node::Unary(op, a) => op.apply(buf[a.index()]),
            Node::Binary(op, a, b) => op.apply(buf[a.index()], buf[b.index()]),
            Node::Select(c, a, b) => {
                if num::truthy(buf[c.index()]) {
                    buf[a.index()]
                } else {
                    buf[b.index()]
                }
            }
            Node::Lookup(t, k) => ir.tables[t.index()].get(buf[k.index()]),
            Node::At(c, x) => ir.curves[c.index()].at(buf[x.index()]),
        };
    }
    buf[e.end as usize - 1]
}

/// Folds one bucket's contributions (canonical order) into the value it applies.
pub fn fold(f: Fold, xs: &[f64]) -> f64 {
    match f {
        Fold::Sum => xs.iter().fold(0.0, |a, x| a + x),
        Fold::Product => xs.iter().fold(1.0, |a, x| a * x),
        Fold::DeltaProduct => xs.iter().fold(1.0, |a, x| a * (1.0 + x)),
        Fold::Min => xs[1..].iter().fold(xs[0], |a, &x| num::fmin(a, x)),
        Fold::Max => xs[1..].iter().fold(xs[0], |a, &x| num::fmax(a, x)),
        Fold::First | Fold::Each => xs[0],
    }
}

/// Combines an operator stat's contributions (canonical order).
pub fn operate(op: Operator, xs: &[f64]) -> f64 {
    match op {
        Operator::Sum => xs.iter().fold(0.0, |a, x| a + x),
        Operator::Multiply => xs.iter().fold(1.0, |a, x| a * x),
        Operator::Max => xs[1..].iter().fold(xs[0], |a, &x| num::fmax(a, x)),
        Operator::Min => xs[1..].iter().fold(xs[0], |a, &x| num::fmin(a, x)),
        Operator::Average => xs.iter().fold(0.0, |a, x| a + x) / xs.len() as f64,
    }
}

/// One layer's `(Min, Max)` within the stat's range `[lo, hi]` (spec §4, within one layer).
pub fn layer_range(l: &LayerCaps, lo: f64, hi: f64) -> (f64, f64) {
    let max = num::fmin(num::fmin(l.max.candidate, l.max.hard), hi);
    let min = num::fmax(num::fmax(l.min.candidate, l.min.hard), lo);
    (if min > max { max } else { min }, max)
}

/// The effective range from the stat's range `[lo, hi]` and its caps (spec §4).
pub fn effective_range(policy: Policy, layers: &[LayerCaps], lo: f64, hi: f64) -> (f64, f64) {
    let (mut min, mut max) = (f64::NEG_INFINITY, f64::INFINITY);
    let (mut min_locked, mut max_locked) = (false, false);
    for l in layers {
        let (lmin, lmax) = layer_range(l, lo, hi);
        match policy {
            Policy::Intersect => {
                min = num::fmax(min, lmin);
                max = num::fmin(max, lmax);
            }
            Policy::PrioritizedOverride => {
                if !max_locked {
                    max = if l.max.has_override { lmax } else { num::fmin(max, lmax) };
                    max_locked = l.max.has_override;
                }
                if !min_locked {
                    min = if l.min.has_override { lmin } else { num::fmax(min, lmin) };
                    min_locked = l.min.has_override;
                }
            }
        }
    }
    min = num::fmax(min, lo);
    max = num::fmin(max, hi);
    if min > max {
        min = max;
    }
    (min, max)
}

/// Where a value goes: the list its contributions came from, else the declared category.
pub fn section_flags(stat: &Stat, from: u8) -> u8 {
    let derived = match from {
        FROM_PRIMARY => false,
        FROM_DERIVED => true,
        _ => stat.category == Category::Derived,
    };
    if derived { DERIVED } else { 0 }
}

/// Observes an evaluation step by step (for `explain`); every method defaults to nothing, so
/// [`eval`] with [`NoTrace`] compiles to the plain interpreter.
pub trait Trace {
    /// A stat starts: its range bounds and effective range are known.
    fn range(&mut self, _stat: StatId, _lo: f64, _hi: f64, _min: f64, _max: f64) {}
    /// The starting value (formula, default or 0).
    fn base(&mut self, _stat: StatId, _base: f64) {}
    /// A bucket applied: its slot in the pipeline, folded value (`None` for `fold each`) and
    /// the running value after it.
    fn bucket(&mut self, _stat: StatId, _slot: u32, _folded: Option<f64>, _after: f64) {}
    /// One contribution of a `fold each` bucket applied.
    fn each(&mut self, _stat: StatId, _slot: u32, _x: f64, _after: f64) {}
    /// The operator combined the contributions.
    fn operator(&mut self, _stat: StatId, _result: f64) {}
    /// The value before and after the clamp.
    fn clamp(&mut self, _stat: StatId, _before: f64, _after: f64) {}
}

pub struct NoTrace;
impl Trace for NoTrace {}

impl Scratch {
    /// After [`eval_affected_in_place`] succeeded: each affected stat's new entry, in id
    /// order (`None` for a stat that has none any more).
    pub fn updated(&self) -> impl Iterator<Item = (StatId, Option<Entry>)> + '_ {
        self.updates.iter().map(|u| (u.stat, (u.flags != REMOVED).then_some(*u)))
    }

    /// After [`eval_traced`] failed: the snapshot of the stats evaluated before the failure.
    pub fn evaluated_before_failure(&self, ir: &Ir, p: &Prepared) -> Snapshot {
        Snapshot::new(p.version, &self.entries, p.context.clone(), ir.schema.clone())
    }
}

/// Evaluates one prepared actor.
pub fn eval(ir: &Ir, p: &Prepared, scratch: &mut Scratch) -> Result<Snapshot, EvalError> {
    eval_traced(ir, p, scratch, &mut NoTrace)
}

/// [`eval`], reporting each step to `trace`.
pub fn eval_traced(
    ir: &Ir,
    p: &Prepared,
    scratch: &mut Scratch,
    trace: &mut impl Trace,
) -> Result<Snapshot, EvalError> {
    scratch.nodes.resize(ir.nodes.len(), 0.0);
    scratch.values.clear();
    scratch.values.resize(ir.stats.len(), 0.0);
    // The entries are gathered in the scratch buffer, which is put back on every path.
    let mut entries = std::mem::take(&mut scratch.entries);
    entries.clear();
    let mut cursor = p.stats.iter().peekable();
    let result = (0..ir.stats.len()).try_for_each(|i| {
        let id = StatId(i as u32);
        let input = StatInput::of(p, cursor.next_if(|s| s.stat == id));
        entries.extend(eval_stat(ir, p, id, input, scratch, trace)?);
        Ok(())
    });
    let snapshot = result.map(|()| Snapshot::new(p.version, &entries, p.context.clone(), ir.schema.clone()));
    scratch.entries = entries;
    snapshot
}

/// Evaluates one prepared actor's values only, without building a snapshot: every stat's
/// value in id order (0 where the actor has none: the value formulas read). The same steps
/// and bits as [`eval`].
pub fn eval_values<'s>(ir: &Ir, p: &Prepared, scratch: &'s mut Scratch) -> Result<&'s [f64], EvalError> {
    scratch.nodes.resize(ir.nodes.len(), 0.0);
    scratch.values.clear();
    scratch.values.resize(ir.stats.len(), 0.0);
    let mut cursor = p.stats.iter().peekable();
    for i in 0..ir.stats.len() {
        let id = StatId(i as u32);
        let input = StatInput::of(p, cursor.next_if(|s| s.stat == id));
        eval_stat(ir, p, id, input, scratch, &mut NoTrace)?;
    }
    Ok(&scratch.values)
}

/// Re-evaluates an actor whose previous snapshot is `prev`, recomputing only the stats
/// marked in `dirty` (indexed by stat id) and those that read a stat whose entry changed.
/// Equal, bit for bit, to a full [`eval`] when `dirty` covers every stat whose rules or
/// contributions changed.
pub fn eval_incremental(
    ir: &Ir,
    p: &Prepared,
    prev: &Snapshot,
    dirty: &[bool],
    scratch: &mut Scratch,
) -> Result<Snapshot, EvalError> {
    let mut entries = std::mem::take(&mut scratch.entries);
    entries.clear();
    let result = recompute(ir, p, prev.entries(), dirty, scratch, &mut entries);
    let snapshot = result.map(|()| Snapshot::new(p.version, &entries, p.context.clone(), ir.schema.clone()));
    scratch.entries = entries;
    snapshot
}

/// The stats a rule change reaches: the changed ones and everything that depends on them,
/// in evaluation order, and the other stats those read.
#[derive(Debug, Clone, Default)]
pub struct Affected {
    pub stats: Vec<StatId>,
    pub reads: Vec<StatId>,
}

impl Affected {
    pub fn of(ir: &Ir, dirty: &[bool]) -> Affected {
        let mut affected = Affected::default();
        affected.fill(ir, dirty, &mut Vec::new());
        affected
    }

    /// [`Affected::of`] into this list, reusing its memory and `reached` (scratch space).
    pub fn fill(&mut self, ir: &Ir, dirty: &[bool], reached: &mut Vec<bool>) {
        reached.clear();
        reached.extend_from_slice(dirty);
        reached.resize(ir.stats.len(), false);
        let Affected { stats, reads } = self;
        stats.clear();
        // Stats are in dependency order: one pass reaches every transitive dependent.
        for (i, stat) in ir.stats.iter().enumerate() {
            if reached[i] || stat.deps.iter().any(|d| reached[d.index()]) {
                reached[i] = true;
                stats.push(StatId(i as u32));
            }
        }
        reads.clear();
        reads.extend(stats.iter().flat_map(|s| ir.stat(*s).deps.iter().copied()).filter(|d| !reached[d.index()]));
        reads.sort_unstable();
        reads.dedup();
    }
}

/// Re-evaluates the `affected` stats of `snapshot` in place, for unchanged input `p`
/// under new rules of the same structure; memory is allocated only when the packed
/// snapshot changes size. Bit-identical to [`eval_incremental`]: the other stats' entries
/// cannot change. On an error the snapshot is left as it was.
pub fn eval_affected_in_place(
    ir: &Ir,
    p: &Prepared,
    snapshot: &mut Snapshot,
    affected: &Affected,
    scratch: &mut Scratch,
) -> Result<(), EvalError> {
    scratch.nodes.resize(ir.nodes.len(), 0.0);
    scratch.values.resize(ir.stats.len(), 0.0);
    for &d in &affected.reads {
        scratch.values[d.index()] = snapshot.entry(d).filter(Entry::has_value).map_or(0.0, |e| e.value);
    }
    // New entries, applied only once all succeeded.
    let mut updates = std::mem::take(&mut scratch.updates);
    updates.clear();
    let mut presence_changed = false;
    let mut result = Ok(());
    // Affected stats are in id order: one forward walk finds their inputs, and reads the
    // prepared stats front to back (a binary search would wait on a cache miss per probe).
    let mut inputs = p.stats.iter().peekable();
    for &id in &affected.stats {
        while inputs.next_if(|s| s.stat < id).is_some() {}
        let ps = inputs.next_if(|s| s.stat == id);
        let entry = match eval_stat(ir, p, id, StatInput::of(p, ps), scratch, &mut NoTrace) {
            Ok(e) => e,
            Err(e) => {
                result = Err(e);
                break;
            }
        };
        scratch.values[id.index()] = entry.filter(Entry::has_value).map_or(0.0, |e| e.value);
        presence_changed |= entry.is_some() != snapshot.has_entry(id);
        // A stat that lost its entry is recorded with its id and no flags.
        updates.push(entry.unwrap_or(Entry { stat: id, flags: REMOVED, value: 0.0, min: 0.0, max: 0.0 }));
    }
    // Usually the numbers are overwritten where they are; otherwise the entries are
    // unpacked, merged with the updates and packed again.
    if result.is_ok() && (presence_changed || !snapshot.patch(&updates, &ir.schema)) {
        let mut merged = std::mem::take(&mut scratch.merged);
        merged.clear();
        let mut next = updates.iter().peekable();
        for e in snapshot.entries() {
            while let Some(u) = next.next_if(|u| u.stat < e.stat) {
                merged.extend((u.flags != REMOVED).then_some(*u));
            }
            match next.next_if(|u| u.stat == e.stat) {
                Some(u) => merged.extend((u.flags != REMOVED).then_some(*u)),
                None => merged.push(e),
            }
        }
        merged.extend(next.filter(|u| u.flags != REMOVED).copied());
        snapshot.set_entries(&merged, ir.schema.clone(), &mut scratch.packed);
        scratch.merged = merged;
    }
    scratch.updates = updates;
    result
}

/// Flags of an update that removes a stat's entry (never a real entry's flags).
const REMOVED: u8 = 0x80;

/// The entries of an incremental evaluation, appended to `entries`: dirty stats and the
/// dependents whose inputs changed are evaluated, the others copied from `prev`.
fn recompute(
    ir: &Ir,
    p: &Prepared,
    prev: impl Iterator<Item = Entry>,
    dirty: &[bool],
    scratch: &mut Scratch,
    entries: &mut Vec<Entry>,
) -> Result<(), EvalError> {
    scratch.nodes.resize(ir.nodes.len(), 0.0);
    scratch.values.clear();
    scratch.values.resize(ir.stats.len(), 0.0);
    let mut changed = vec![false; ir.stats.len()];
    let mut cursor = p.stats.iter().peekable();
    let mut old = prev.peekable();
    for (i, stat) in ir.stats.iter().enumerate() {
        let id = StatId(i as u32);
        let input = StatInput::of(p, cursor.next_if(|s| s.stat == id));
        let before = old.next_if(|e| e.stat == id);
        let recompute = dirty.get(i).copied().unwrap_or(true) || stat.deps.iter().any(|d| changed[d.index()]);
        let entry = if recompute { eval_stat(ir, p, id, input, scratch, &mut NoTrace)? } else { before };
        if let Some(e) = entry {
            if e.has_value() {
                scratch.values[i] = e.value;
            }
            entries.push(e);
        }
        changed[i] = recompute && !same_entry(entry.as_ref(), before.as_ref());
    }
    Ok(())
}

fn same_entry(a: Option<&Entry>, b: Option<&Entry>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => a.same_bits(b),
        _ => false,
    }
}

/// One stat's share of a prepared actor.
#[derive(Clone, Copy)]
struct StatInput<'a> {
    groups: &'a [Group],
    layers: &'a [LayerCaps],
    from: u8,
}

impl<'a> StatInput<'a> {
    fn of(p: &'a Prepared, ps: Option<&PreparedStat>) -> StatInput<'a> {
        match ps {
            Some(ps) => StatInput {
                groups: &p.groups[ps.groups.0 as usize..ps.groups.1 as usize],
                layers: &p.layers[ps.layers.0 as usize..ps.layers.1 as usize],
                from: ps.from,
            },
            None => StatInput { groups: &[], layers: &[], from: 0 },
        }
    }
}

/// Evaluates one stat (its dependencies' values are already in `scratch.values`); `None`
/// when it has neither a value nor caps.
fn eval_stat(
    ir: &Ir,
    p: &Prepared,
    id: StatId,
    input: StatInput,
    scratch: &mut Scratch,
    trace: &mut impl Trace,
) -> Result<Option<Entry>, EvalError> {
    let Scratch { nodes, values, .. } = scratch;
    let i = id.index();
    let stat = ir.stat(id);
    let StatInput { groups, layers, from } = input;
    let valued = !groups.is_empty() || stat.formula.is_some() || stat.default.is_some();
    if !valued && layers.is_empty() {
        return Ok(None);
    }
    let bound = |e: Option<Expr>, inf: f64, phase, nodes: &mut Vec<f64>| match e {
        None => Ok(inf),
        Some(e) => {
            let v = eval_expr(ir, e, values, 0.0, 0.0, nodes);
            if v.is_finite() { Ok(v) } else { Err(EvalError::of(ir, id, phase, v, values)) }
        }
    };
    let lo = bound(stat.min, f64::NEG_INFINITY, Phase::RangeMin, nodes)?;
    let hi = bound(stat.max, f64::INFINITY, Phase::RangeMax, nodes)?;
    let (min, max) = effective_range(ir.policy(), layers, lo, hi);
    trace.range(id, lo, hi, min, max);
    let mut entry = Entry { stat: id, flags: section_flags(stat, from), value: 0.0, min, max };
    if valued {
        let base = match stat.formula {
            Some(f) => {
                let v = eval_expr(ir, f, values, 0.0, 0.0, nodes);
                if !v.is_finite() {
                    trace.base(id, v);
                    return Err(EvalError::of(ir, id, Phase::Formula, v, values));
                }
                v
            }
            None => stat.default.unwrap_or(0.0),
        };
        trace.base(id, base);
        let mut v = base;
        match stat.mode {
            Mode::Pipeline(pid) => {
                let pipeline = ir.pipeline(pid);
                for g in groups {
                    let bucket = ir.bucket(pipeline.buckets[g.slot as usize]);
                    let xs = &p.values[g.start as usize..g.end as usize];
                    if bucket.fold == Fold::Each {
                        for &x in xs {
                            v = eval_expr(ir, bucket.apply, values, v, x, nodes);
                            trace.each(id, g.slot, x, v);
                        }
                        trace.bucket(id, g.slot, None, v);
                    } else {
                        let folded = fold(bucket.fold, xs);
                        v = eval_expr(ir, bucket.apply, values, v, folded, nodes);
                        trace.bucket(id, g.slot, Some(folded), v);
                    }
                }
            }
            Mode::Operator(op) => {
                if let Some(g) = groups.first() {
                    v = operate(op, &p.values[g.start as usize..g.end as usize]);
                    trace.operator(id, v);
                }
            }
        }
        if !v.is_finite() {
            return Err(EvalError::new(stat, Phase::Value, v));
        }
        let before = v;
        v = num::clamp(v, min, max);
        trace.clamp(id, before, v);
        values[i] = v;
        entry.value = v;
        entry.flags |= HAS_VALUE;
    }
    Ok(Some(entry))
}
