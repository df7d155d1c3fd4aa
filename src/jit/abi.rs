//! The contract between the generated code and the Rust that calls it: the kernel's
//! signature, the descriptors and family rows it reads (their sizes and field offsets), the
//! output words it writes, and the error codes. `layout`, `family` and `codegen` all build on
//! this module and on nothing of each other's, except `codegen` reading `family`'s plan.
//!
//! Invariant: every `#[repr(C)]` type here is read by generated code at the offsets the
//! constants give; change a field only together with its constant.

use crate::eval::Phase;
use crate::ir::{Ir, Policy, StatId};
use std::mem::offset_of;

/// The kernel: `(slots, stats, values, caps, out)` for one lane pair.
pub(crate) type Kernel = unsafe extern "C" fn(*const SlotDesc, *const StatDesc, *const f64, *const u64, *mut u64);

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

/// u64 words of output per stat and pair: value, min, max — each two lanes.
pub(crate) const STAT_OUT_WORDS: usize = 6;
/// Output words per pair after the stats: error code (i64 × 2) and offending value (f64 × 2).
pub(crate) const ERR_WORDS: usize = 4;

/// A rule set's dimensions in the layout (shared by the code generator and the layout builder).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Dims {
    /// (stat, pipeline position) slots: the stats' slots start at [`Ir::slot_base`].
    pub slots: u32,
    pub stats: u32,
    pub layers: u32,
}

impl Dims {
    pub fn new(ir: &Ir) -> Dims {
        let slots = ir.slot_base.last().copied().unwrap_or(0);
        Dims { slots, stats: ir.stats.len() as u32, layers: ir.layers.len() as u32 }
    }

    pub fn out_words(&self) -> usize {
        self.stats as usize * STAT_OUT_WORDS + ERR_WORDS
    }
}

/// Elements of a slot folded without a loop (see `Translator::fold` in `codegen`).
pub(crate) const UNROLLED: usize = 4;

/// One member of a family: what its body needs besides the family's mode. Each number is
/// stored twice, one per lane, so the kernel loads it as a vector.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub(crate) struct Row {
    pub lo: [f64; 2],
    pub hi: [f64; 2],
    /// The default, else 0.
    pub base: [f64; 2],
    /// The error code of a failed value.
    pub code: [i64; 2],
    /// Byte offsets from a pair's slot descriptors, stat descriptors and output words.
    pub slots: i64,
    pub stat: i64,
    pub out: i64,
    pub _pad: i64,
}

pub(crate) const ROW_SIZE: usize = size_of::<Row>();
pub(crate) const LO: usize = offset_of!(Row, lo);
pub(crate) const HI: usize = offset_of!(Row, hi);
pub(crate) const BASE: usize = offset_of!(Row, base);
pub(crate) const CODE: usize = offset_of!(Row, code);
pub(crate) const SLOTS: usize = offset_of!(Row, slots);
pub(crate) const STAT: usize = offset_of!(Row, stat);
pub(crate) const OUT: usize = offset_of!(Row, out);

/// The error code of a failed check: 0 means no error.
pub(crate) fn error_code(stat: StatId, phase: Phase) -> i64 {
    let p = match phase {
        Phase::RangeMin => 0,
        Phase::RangeMax => 1,
        Phase::Formula => 2,
        Phase::Value => 3,
    };
    stat.0 as i64 * 4 + p + 1
}

pub(crate) fn decode_error(code: i64) -> (StatId, Phase) {
    let c = code - 1;
    let phase = match c % 4 {
        0 => Phase::RangeMin,
        1 => Phase::RangeMax,
        2 => Phase::Formula,
        _ => Phase::Value,
    };
    (StatId((c / 4) as u32), phase)
}
