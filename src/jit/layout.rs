//! The structure-of-arrays layout the compiled kernel reads: actors two per lane pair, one
//! actor per `F64X2` lane. An odd batch is padded with an empty lane whose results are dropped.
//!
//! Per lane pair there is one [`SlotDesc`] per (stat, bucket position) — operator stats have
//! one slot — and one [`StatDesc`] per stat. A slot's contributions live in the shared value
//! pool, interleaved (`a0 b0 a1 b1 …`); the shorter lane is padded with the fold's neutral
//! element, so folds need no masks. Caps live in the cap pool, one record per layer (dense, in
//! layer id order, with a per-lane `present` mask), only for pairs where a lane has caps.

use crate::ingest::{LayerCaps, Prepared};
use crate::ir::{Fold, Ir, Mode, Operator};
use crate::snapshot::HAS_VALUE;
use std::collections::BTreeMap;

/// One (stat, bucket position) of one lane pair.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct SlotDesc {
    /// Contributions per lane.
    pub counts: [i64; 2],
    /// Index of element 0 (lane a) in the value pool.
    pub offset: u32,
    /// `max(counts)`: elements stored (each two lanes wide).
    pub n: u32,
}

/// One stat of one lane pair.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct StatDesc {
    /// All ones when the lane has an entry for the stat (a value or caps).
    pub entry: [i64; 2],
    /// All ones when the lane has a value (contributions, a formula or a default).
    pub valued: [i64; 2],
    /// Index into the cap pool, or [`NO_CAPS`].
    pub caps: u32,
    pub _pad: u32,
}

pub(crate) const NO_CAPS: u32 = u32::MAX;
pub(crate) const SLOT_SIZE: i32 = size_of::<SlotDesc>() as i32;
pub(crate) const STAT_SIZE: i32 = size_of::<StatDesc>() as i32;
/// u64 words per layer record: max.candidate, max.hard, min.candidate, min.hard, present,
/// max.has_override, min.has_override — each two lanes.
pub(crate) const LAYER_WORDS: usize = 14;
/// u64 words of output per stat and pair: value, min, max — each two lanes.
pub(crate) const STAT_OUT_WORDS: usize = 6;
/// Output words per pair after the stats: error code (i64 × 2) and offending value (f64 × 2).
pub(crate) const ERR_WORDS: usize = 4;

const ONES: i64 = -1;

/// Static shape of a rule set's layout (shared by the code generator and the batch builder).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Shape {
    /// First slot of each stat.
    pub slot_base: Vec<u32>,
    pub slots: u32,
    pub stats: u32,
    pub layers: u32,
}

impl Shape {
    pub fn new(ir: &Ir) -> Shape {
        let mut slot_base = Vec::with_capacity(ir.stats.len());
        let mut slots = 0u32;
        for s in &ir.stats {
            slot_base.push(slots);
            slots += match s.mode {
                Mode::Pipeline(p) => ir.pipeline(p).buckets.len() as u32,
                Mode::Operator(_) => 1,
            };
        }
        Shape { slot_base, slots, stats: ir.stats.len() as u32, layers: ir.layers.len() as u32 }
    }

    pub fn out_words(&self) -> usize {
        self.stats as usize * STAT_OUT_WORDS + ERR_WORDS
    }
}

/// What one slot folds with: decides the padding and whether a count prefix is stored.
#[derive(Clone, Copy)]
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

fn mask(b: bool) -> i64 {
    if b { ONES } else { 0 }
}

impl Layout {
    /// Lays out `actors` (at least one) for the rule set `ir` with shape `shape`.
    pub fn new(ir: &Ir, shape: &Shape, actors: &[&Prepared]) -> Layout {
        let lanes = actors.len();
        let pairs = lanes.div_ceil(2);
        let mut l = Layout {
            lanes,
            pairs,
            slots: Vec::with_capacity(pairs * shape.slots as usize),
            stats: Vec::with_capacity(pairs * shape.stats as usize),
            values: Vec::new(),
            caps: Vec::new(),
            actors: Vec::with_capacity(lanes),
            entries: Vec::new(),
        };
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
        l
    }

    fn push_pair(&mut self, ir: &Ir, shape: &Shape, lane: [&[LaneStat]; 2], prep: [&Prepared; 2]) {
        for (i, stat) in ir.stats.iter().enumerate() {
            let ls = [lane[0][i], lane[1][i]];
            // Slots.
            let nslots = match stat.mode {
                Mode::Pipeline(p) => ir.pipeline(p).buckets.len(),
                Mode::Operator(_) => 1,
            };
            debug_assert!(self.slots.len() % shape.slots.max(1) as usize == shape.slot_base[i] as usize);
            for s in 0..nslots {
                let kind = match stat.mode {
                    Mode::Pipeline(p) => SlotKind::Fold(ir.bucket(ir.pipeline(p).buckets[s]).fold),
                    Mode::Operator(op) => SlotKind::Op(op),
                };
                let mut xs: [&[f64]; 2] = [&[], &[]];
                for k in 0..2 {
                    if let Some(g) = ls[k].groups.iter().find(|g| g.slot as usize == s) {
                        xs[k] = &prep[k].values[g.start as usize..g.end as usize];
                    }
                }
                let n = xs[0].len().max(xs[1].len());
                if let SlotKind::Op(Operator::Average) = kind {
                    self.values.push(xs[0].len() as f64);
                    self.values.push(xs[1].len() as f64);
                }
                let offset = u32::try_from(self.values.len()).expect("batch too large for the JIT layout");
                let pad = kind.pad();
                for j in 0..n {
                    self.values.push(xs[0].get(j).copied().unwrap_or(pad));
                    self.values.push(xs[1].get(j).copied().unwrap_or(pad));
                }
                self.slots.push(SlotDesc {
                    counts: [xs[0].len() as i64, xs[1].len() as i64],
                    offset,
                    n: n as u32,
                });
            }
            // Caps.
            let caps = if ls[0].layers.is_empty() && ls[1].layers.is_empty() {
                NO_CAPS
            } else {
                let base = self.caps.len();
                let off = u32::try_from(base).ok().filter(|&o| o != NO_CAPS).expect("batch too large for the JIT layout");
                self.caps.resize(base + shape.layers as usize * LAYER_WORDS, 0);
                for (k, s) in ls.iter().enumerate() {
                    for lc in s.layers {
                        let r = base + lc.layer.index() * LAYER_WORDS;
                        let words = [
                            lc.max.candidate.to_bits(),
                            lc.max.hard.to_bits(),
                            lc.min.candidate.to_bits(),
                            lc.min.hard.to_bits(),
                            mask(true) as u64,
                            mask(lc.max.has_override) as u64,
                            mask(lc.min.has_override) as u64,
                        ];
                        for (w, v) in words.into_iter().enumerate() {
                            self.caps[r + 2 * w + k] = v;
                        }
                    }
                }
                off
            };
            self.stats.push(StatDesc {
                entry: [mask(ls[0].entry), mask(ls[1].entry)],
                valued: [mask(ls[0].valued), mask(ls[1].valued)],
                caps,
                _pad: 0,
            });
        }
    }
}
