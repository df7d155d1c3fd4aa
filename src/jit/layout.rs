//! The structure-of-arrays layout the compiled kernel reads: actors two per lane pair, one
//! actor per `F64X2` lane. An odd batch is padded with an empty lane whose results are dropped.
//!
//! Per lane pair there is one [`SlotDesc`] per (stat, bucket position) — operator stats have
//! one slot — and one [`StatDesc`] per stat. A slot's contributions live in the shared value
//! pool, interleaved (`a0 b0 a1 b1 …`); the shorter lane is padded with the fold's neutral
//! element, so folds need no masks. Caps live in the cap pool, one record per layer (dense, in
//! layer id order, with a per-lane `present` mask), only for pairs where a lane has caps.

use crate::ingest::{LayerCaps, Prepared, Side};
use crate::ir::{Fold, Ir, Mode, Operator, Policy};
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
    /// Byte offset of element 0 (lane a) in the value pool.
    pub start: u32,
    /// Bytes stored: `max(counts)` elements, each two lanes (16 bytes) wide.
    pub len: u32,
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
pub(crate) const SLOT_LEN: i32 = offset_of!(SlotDesc, len) as i32;
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
    /// First slot of each stat.
    pub slot_base: Vec<u32>,
    /// What each slot folds with.
    kinds: Vec<SlotKind>,
    pub slots: u32,
    pub stats: u32,
    pub layers: u32,
}

impl Shape {
    pub fn new(ir: &Ir) -> Shape {
        let mut slot_base = Vec::with_capacity(ir.stats.len());
        let mut kinds = Vec::new();
        for s in &ir.stats {
            slot_base.push(kinds.len() as u32);
            match s.mode {
                Mode::Pipeline(p) => {
                    kinds.extend(ir.pipeline(p).buckets.iter().map(|&b| SlotKind::Fold(ir.bucket(b).fold)))
                }
                Mode::Operator(op) => kinds.push(SlotKind::Op(op)),
            }
        }
        let slots = kinds.len() as u32;
        Shape { slot_base, kinds, slots, stats: ir.stats.len() as u32, layers: ir.layers.len() as u32 }
    }

    pub fn out_words(&self) -> usize {
        self.stats as usize * STAT_OUT_WORDS + ERR_WORDS
    }
}

/// What one slot folds with: decides the padding and whether a count prefix is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SlotKind {
    Fold(Fold),
    Op(Operator),
}

impl SlotKind {
    fn pad(self) -> f64 {
        match self {
            SlotKind::Fold(Fold::Sum) | SlotKind::Op(Operator::Sum | Operator::Average) => -0.0,
            SlotKind::Fold(Fold::Product) | SlotKind::Op(Operator::Multiply) => 1.0,
            SlotKind::Fold(Fold::Min) | SlotKind::Op(Operator::Min) => f64::INFINITY,
            SlotKind::Fold(Fold::Max) | SlotKind::Op(Operator::Max) => f64::NEG_INFINITY,
            SlotKind::Fold(Fold::DeltaProduct | Fold::First | Fold::Each) => 0.0,
        }
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

/// A slot's contribution count for one lane.
fn count(n: usize) -> u32 {
    u32::try_from(n).expect("batch too large for the JIT layout")
}

impl Layout {
    /// Lays out `actors` (at least one) for the rule set `ir` with shape `shape`.
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
        let layers: usize = actors.iter().map(|p| p.layers.len()).sum();
        l.values.reserve(values + values / 2 + 16);
        l.caps.reserve(layers * record_words(ir.policy()));
        let empty = Prepared::default();
        let (mut sa, mut sb) = (Vec::new(), Vec::new());
        let mut scratch_entries = Vec::new();
        for pair in 0..pairs {
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
    }

    fn push_pair(&mut self, ir: &Ir, shape: &Shape, lane: [&[LaneStat]; 2], prep: [&Prepared; 2]) {
        let prioritized = ir.policy() == Policy::PrioritizedOverride;
        for (i, stat) in ir.stats.iter().enumerate() {
            let ls = [lane[0][i], lane[1][i]];
            // Slots.
            let nslots = match stat.mode {
                Mode::Pipeline(p) => ir.pipeline(p).buckets.len(),
                Mode::Operator(_) => 1,
            };
            debug_assert!(self.slots.len() % shape.slots.max(1) as usize == shape.slot_base[i] as usize);
            let mut cursor = [0usize; 2];
            for s in 0..nslots {
                let kind = shape.kinds[shape.slot_base[i] as usize + s];
                // Groups are sorted by slot: walk them with a cursor per lane.
                let mut xs: [&[f64]; 2] = [&[], &[]];
                for k in 0..2 {
                    if let Some(g) = ls[k].groups.get(cursor[k])
                        && g.slot as usize == s
                    {
                        xs[k] = &prep[k].values[g.start as usize..g.end as usize];
                        cursor[k] += 1;
                    }
                }
                let n = xs[0].len().max(xs[1].len());
                if let SlotKind::Op(Operator::Average) = kind {
                    self.values.push(xs[0].len() as f64);
                    self.values.push(xs[1].len() as f64);
                }
                let base = self.values.len();
                let start = byte_offset(base);
                if n > 0 {
                    self.values.resize(base + 2 * n, kind.pad());
                    let dst = &mut self.values[base..];
                    for (k, lane) in xs.iter().enumerate() {
                        for (j, &x) in lane.iter().enumerate() {
                            dst[2 * j + k] = x;
                        }
                    }
                }
                let len = byte_offset(2 * n);
                let counts = [count(xs[0].len()), count(xs[1].len())];
                self.slots.push(SlotDesc { counts, start, len });
            }
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
