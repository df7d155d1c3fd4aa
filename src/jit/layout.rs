//! The structure-of-arrays layout the compiled kernel reads: actors two per lane pair, one
//! actor per `F64X2` lane. An odd batch is padded with an empty lane whose results are dropped.
//!
//! Per lane pair there is one [`SlotDesc`] per (stat, bucket position) — operator stats have
//! one slot — and one [`StatDesc`] per stat. Each actor's contributions are copied whole, in
//! one piece, into the shared value pool (its prepared order is already the fold order); a
//! slot descriptor says where each lane's run starts and how long it is, and the kernel
//! gathers the two lanes' elements into one vector. The pool ends with slack as long as the
//! largest actor's contributions (at least `UNROLLED`), so reading a few elements past a
//! lane's count (masked off) stays in the pool.
//! Caps live in the cap pool, one record per layer that either lane caps (in layer id order;
//! a lane without that layer gets an unbounded record), only for pairs where a lane has caps.

use super::codegen::UNROLLED;
use crate::ingest::{LayerCaps, Prepared, Side};
use crate::ir::{Ir, Mode, Policy};
use crate::num;
use crate::snapshot::HAS_VALUE;
use std::collections::BTreeMap;
use std::mem::offset_of;

/// One (stat, bucket position) of one lane pair.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct SlotDesc {
    /// Contributions per lane.
    pub counts: [u32; 2],
    /// Per lane, byte offset of its first contribution in the value pool.
    pub start: [u32; 2],
}

/// One stat of one lane pair.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct StatDesc {
    /// All ones when the lane has an entry for the stat (a value or caps); the kernel
    /// sign-extends each lane's mask to 64 bits.
    pub entry: [i32; 2],
    /// All ones when the lane has a value (contributions, a formula or a default).
    pub valued: [i32; 2],
    /// Byte offset into the cap pool of the first record (0 when there are none).
    pub caps: u32,
    /// Bytes of layer records at `caps` (see [`record_words`]).
    pub caps_len: u32,
}

pub(crate) const SLOT_SIZE: i32 = size_of::<SlotDesc>() as i32;
pub(crate) const STAT_SIZE: i32 = size_of::<StatDesc>() as i32;
/// Field offsets, for the kernel's loads.
pub(crate) const SLOT_COUNTS: i32 = offset_of!(SlotDesc, counts) as i32;
pub(crate) const SLOT_START: i32 = offset_of!(SlotDesc, start) as i32;
pub(crate) const STAT_ENTRY: i32 = offset_of!(StatDesc, entry) as i32;
pub(crate) const STAT_VALUED: i32 = offset_of!(StatDesc, valued) as i32;
pub(crate) const STAT_CAPS: i32 = offset_of!(StatDesc, caps) as i32;
pub(crate) const STAT_CAPS_LEN: i32 = offset_of!(StatDesc, caps_len) as i32;
/// u64 words per layer record: the layer's max cap and min cap, then (for
/// `prioritized_override` only) max.has_override, min.has_override — each two lanes. A cap
/// is its side's candidate and hard cap already combined (`fmin` for max, `fmax` for min),
/// the first step of `eval::layer_range`, done here with the same function.
pub(crate) fn record_words(policy: Policy) -> usize {
    match policy {
        Policy::Intersect => 4,
        Policy::PrioritizedOverride => 8,
    }
}

const UNBOUNDED: LayerCaps = LayerCaps {
    layer: crate::ir::LayerId(0),
    max: Side { candidate: f64::INFINITY, hard: f64::INFINITY, has_override: false },
    min: Side { candidate: f64::NEG_INFINITY, hard: f64::NEG_INFINITY, has_override: false },
};
/// u64 words of output per stat and pair: value, min, max — each two lanes.
pub(crate) const STAT_OUT_WORDS: usize = 6;
/// Output words per pair after the stats: error code (i64 × 2) and offending value (f64 × 2).
pub(crate) const ERR_WORDS: usize = 4;

/// Static shape of a rule set's layout (shared by the code generator and the batch builder).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Shape {
    /// First slot of each stat, then the number of slots.
    pub slot_base: Vec<u32>,
    pub slots: u32,
    pub stats: u32,
    pub layers: u32,
}

impl Shape {
    pub fn new(ir: &Ir) -> Shape {
        let mut slot_base = Vec::with_capacity(ir.stats.len() + 1);
        let mut slots = 0;
        for s in &ir.stats {
            slot_base.push(slots);
            slots += match s.mode {
                Mode::Pipeline(p) => ir.pipeline(p).buckets.len() as u32,
                Mode::Operator(_) => 1,
            };
        }
        slot_base.push(slots);
        Shape { slot_base, slots, stats: ir.stats.len() as u32, layers: ir.layers.len() as u32 }
    }

    pub fn out_words(&self) -> usize {
        self.stats as usize * STAT_OUT_WORDS + ERR_WORDS
    }
}

/// Per-actor data the snapshot needs besides the numbers.
#[derive(Debug, Clone)]
pub(crate) struct ActorMeta {
    pub version: i64,
    pub context: BTreeMap<String, crate::input::ModifierPack>,
    /// Range into [`Layout::entries`].
    pub entries: (u32, u32),
}

/// A batch of prepared actors laid out for the kernel.
#[derive(Debug, Clone, Default)]
pub(crate) struct Layout {
    pub lanes: usize,
    pub pairs: usize,
    pub slots: Vec<SlotDesc>,
    pub stats: Vec<StatDesc>,
    pub values: Vec<f64>,
    pub caps: Vec<u64>,
    pub actors: Vec<ActorMeta>,
    /// `(stat, snapshot flags)` per entry, actor after actor.
    pub entries: Vec<(u32, u8)>,
}

/// One lane's view of one stat.
#[derive(Clone, Copy, Default)]
struct LaneStat<'a> {
    /// Groups of this stat (slot, values).
    groups: &'a [crate::ingest::Group],
    layers: &'a [LayerCaps],
    entry: bool,
    valued: bool,
}

fn lane_stats<'a>(ir: &Ir, p: &'a Prepared, out: &mut Vec<LaneStat<'a>>, entries: &mut Vec<(u32, u8)>) {
    out.clear();
    let mut cursor = p.stats.iter().peekable();
    for (i, stat) in ir.stats.iter().enumerate() {
        let ps = cursor.next_if(|s| s.stat.index() == i);
        let (groups, layers, from) = match ps {
            Some(ps) => (
                &p.groups[ps.groups.0 as usize..ps.groups.1 as usize],
                &p.layers[ps.layers.0 as usize..ps.layers.1 as usize],
                ps.from,
            ),
            None => (&[][..], &[][..], 0),
        };
        let valued = !groups.is_empty() || stat.formula.is_some() || stat.default.is_some();
        let entry = valued || !layers.is_empty();
        if entry {
            let flags = crate::eval::section_flags(stat, from) | if valued { HAS_VALUE } else { 0 };
            entries.push((i as u32, flags));
        }
        out.push(LaneStat { groups, layers, entry, valued });
    }
}

/// `words` 8-byte words as a byte count the kernel adds to a pool's address.
fn byte_offset(words: usize) -> u32 {
    words.checked_mul(8).and_then(|b| u32::try_from(b).ok()).expect("batch too large for the JIT layout")
}

/// A 64-bit lane mask: all ones or all zeros.
fn mask(b: bool) -> u64 {
    if b { u64::MAX } else { 0 }
}

/// A 32-bit lane mask (the kernel sign-extends it).
fn mask32(b: bool) -> i32 {
    if b { -1 } else { 0 }
}

impl Layout {
    /// Lays out `actors` (possibly none) for the rule set `ir` with shape `shape`.
    pub fn new(ir: &Ir, shape: &Shape, actors: &[&Prepared]) -> Layout {
        let mut l = Layout::default();
        l.fill(ir, shape, actors);
        l
    }

    /// Lays out `actors` into `self`, reusing its buffers.
    pub fn fill(&mut self, ir: &Ir, shape: &Shape, actors: &[&Prepared]) {
        let l = self;
        l.lanes = actors.len();
        l.pairs = l.lanes.div_ceil(2);
        let pairs = l.pairs;
        l.slots.clear();
        l.stats.clear();
        l.values.clear();
        l.caps.clear();
        l.actors.clear();
        l.entries.clear();
        l.slots.reserve(pairs * shape.slots as usize);
        l.stats.reserve(pairs * shape.stats as usize);
        let values: usize = actors.iter().map(|p| p.values.len()).sum();
        // The kernel reads up to `max(UNROLLED, longest run)` elements from any start; no
        // run is longer than its actor's contributions.
        let slack = actors.iter().map(|p| p.values.len()).max().unwrap_or(0).max(UNROLLED);
        let layers: usize = actors.iter().map(|p| p.layers.len()).sum();
        l.values.reserve(values + slack);
        l.caps.reserve(layers * record_words(ir.policy()));
        let empty = Prepared::default();
        let (mut sa, mut sb) = (Vec::new(), Vec::new());
        let mut scratch_entries = Vec::new();
        for pair in 0..pairs {
            // The next pair's prepared data is scattered over the heap: start loading it now.
            for p in actors.iter().skip(2 * pair + 2).take(2) {
                super::prefetch_slice(&p.stats);
                super::prefetch_slice(&p.groups);
                super::prefetch_slice(&p.values);
                super::prefetch_slice(&p.layers);
            }
            let a = actors[2 * pair];
            let b = actors.get(2 * pair + 1).copied();
            let e0 = l.entries.len() as u32;
            lane_stats(ir, a, &mut sa, &mut l.entries);
            l.actors.push(ActorMeta {
                version: a.version,
                context: a.context.clone(),
                entries: (e0, l.entries.len() as u32),
            });
            match b {
                Some(b) => {
                    let e0 = l.entries.len() as u32;
                    lane_stats(ir, b, &mut sb, &mut l.entries);
                    l.actors.push(ActorMeta {
                        version: b.version,
                        context: b.context.clone(),
                        entries: (e0, l.entries.len() as u32),
                    });
                }
                None => {
                    lane_stats(ir, &empty, &mut sb, &mut scratch_entries);
                    // The padding lane evaluates nothing: no entry, no value, no error.
                    for s in sb.iter_mut() {
                        s.entry = false;
                        s.valued = false;
                    }
                }
            }
            l.push_pair(ir, shape, [&sa, &sb], [a, b.unwrap_or(&empty)]);
        }
        l.values.resize(l.values.len() + slack, 0.0);
    }

    fn push_pair(&mut self, ir: &Ir, shape: &Shape, lane: [&[LaneStat]; 2], prep: [&Prepared; 2]) {
        let prioritized = ir.policy() == Policy::PrioritizedOverride;
        let first_slot = self.slots.len();
        self.slots.resize(first_slot + shape.slots as usize, SlotDesc::default());
        let slots = &mut self.slots[first_slot..];
        for k in 0..2 {
            let values = &prep[k].values;
            let base = self.values.len();
            self.values.extend_from_slice(values);
            for (i, ls) in lane[k].iter().enumerate() {
                let (first, end) = (shape.slot_base[i], shape.slot_base[i + 1]);
                for g in ls.groups {
                    // Prepared actors come from ingest; a hand-made one must still never make
                    // the kernel read outside the pool.
                    assert!(g.start <= g.end && g.end as usize <= values.len(), "group outside its actor's values");
                    assert!(g.slot < end - first, "group slot outside its stat's pipeline");
                    let d = &mut slots[(first + g.slot) as usize];
                    d.counts[k] = g.end - g.start;
                    d.start[k] = byte_offset(base + g.start as usize);
                }
            }
        }
        for (i, _) in ir.stats.iter().enumerate() {
            let ls = [lane[0][i], lane[1][i]];
            // Caps: one record per layer that either lane caps, in layer order. A lane
            // without that layer gets an unbounded record, which `effective_range` treats
            // exactly like an absent layer (±∞ candidates and bounds, no override).
            let (mut caps, mut caps_len) = (0u32, 0u32);
            if !(ls[0].layers.is_empty() && ls[1].layers.is_empty()) {
                let first = self.caps.len();
                caps = byte_offset(first);
                let (mut i0, mut i1) = (0, 0);
                let (l0, l1) = (ls[0].layers, ls[1].layers);
                while i0 < l0.len() || i1 < l1.len() {
                    let layer = match (l0.get(i0), l1.get(i1)) {
                        (Some(a), Some(b)) => a.layer.min(b.layer),
                        (Some(a), None) => a.layer,
                        (None, Some(b)) => b.layer,
                        (None, None) => unreachable!(),
                    };
                    let a = l0.get(i0).filter(|c| c.layer == layer);
                    let b = l1.get(i1).filter(|c| c.layer == layer);
                    i0 += usize::from(a.is_some());
                    i1 += usize::from(b.is_some());
                    let (a, b) = (a.copied().unwrap_or(UNBOUNDED), b.copied().unwrap_or(UNBOUNDED));
                    let max = |c: LayerCaps| num::fmin(c.max.candidate, c.max.hard).to_bits();
                    let min = |c: LayerCaps| num::fmax(c.min.candidate, c.min.hard).to_bits();
                    self.caps.extend_from_slice(&[max(a), max(b), min(a), min(b)]);
                    if prioritized {
                        self.caps.extend_from_slice(&[
                            mask(a.max.has_override),
                            mask(b.max.has_override),
                            mask(a.min.has_override),
                            mask(b.min.has_override),
                        ]);
                    }
                }
                caps_len = byte_offset(self.caps.len() - first);
            }
            self.stats.push(StatDesc {
                entry: [mask32(ls[0].entry), mask32(ls[1].entry)],
                valued: [mask32(ls[0].valued), mask32(ls[1].valued)],
                caps,
                caps_len,
            });
        }
    }
}
