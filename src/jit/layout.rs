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

use super::abi::{Dims, SlotDesc, StatDesc, UNROLLED, record_words};
use crate::ingest::{LayerCaps, Prepared, Side};
use crate::ir::{Ir, Policy};
use crate::num;
use crate::snapshot::HAS_VALUE;
use std::collections::BTreeMap;

const UNBOUNDED: LayerCaps = LayerCaps {
    layer: crate::ir::LayerId(0),
    max: Side { candidate: f64::INFINITY, hard: f64::INFINITY, has_override: false },
    min: Side { candidate: f64::NEG_INFINITY, hard: f64::NEG_INFINITY, has_override: false },
};
/// Per-actor data the snapshot needs besides the numbers.
#[derive(Debug, Clone)]
pub(crate) struct ActorMeta {
    pub version: i64,
    pub context: BTreeMap<String, crate::input::ModifierPack>,
    /// Range into [`ChunkLayout::entries`].
    pub entries: (u32, u32),
}

/// One parallel task's prepared actors laid out for the kernel.
#[derive(Debug, Clone, Default)]
pub(crate) struct ChunkLayout {
    /// The address of the `Ir` it was laid out for (see [`ChunkLayout::fill`]).
    pub rules: usize,
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

impl ChunkLayout {
    /// Bytes the kernels read: (slot descriptors, stat descriptors, contributions, caps).
    pub fn kernel_bytes(&self) -> [usize; 4] {
        [
            size_of_val(&self.slots[..]),
            size_of_val(&self.stats[..]),
            size_of_val(&self.values[..]),
            size_of_val(&self.caps[..]),
        ]
    }

    /// Lays out `actors` into `self` for the rule set `ir` with dimensions `dims` (which
    /// must be `ir`'s), reusing its buffers.
    pub fn fill(&mut self, ir: &Ir, dims: &Dims, actors: &[&Prepared]) {
        let l = self;
        l.rules = std::ptr::from_ref(ir) as usize;
        l.lanes = actors.len();
        l.pairs = l.lanes.div_ceil(2);
        let pairs = l.pairs;
        l.slots.clear();
        l.stats.clear();
        l.values.clear();
        l.caps.clear();
        l.actors.clear();
        l.entries.clear();
        l.slots.reserve(pairs * dims.slots as usize);
        l.stats.reserve(pairs * dims.stats as usize);
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
            l.push_pair(ir, dims, [&sa, &sb], [a, b.unwrap_or(&empty)]);
        }
        l.values.resize(l.values.len() + slack, 0.0);
    }

    fn push_pair(&mut self, ir: &Ir, dims: &Dims, lane: [&[LaneStat]; 2], prep: [&Prepared; 2]) {
        let prioritized = ir.policy() == Policy::PrioritizedOverride;
        let first_slot = self.slots.len();
        self.slots.resize(first_slot + dims.slots as usize, SlotDesc::default());
        let slots = &mut self.slots[first_slot..];
        for k in 0..2 {
            let values = &prep[k].values;
            let base = self.values.len();
            self.values.extend_from_slice(values);
            for (i, ls) in lane[k].iter().enumerate() {
                let (first, end) = (ir.slot_base[i], ir.slot_base[i + 1]);
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
