//! Families: stats that differ only in data share one compiled body, a loop over a table of
//! rows. A stat joins a family when it has no formula and its bounds are absent or finite
//! constants (so it reads no other stat and only its value can fail); its family is its mode
//! (pipeline or operator). Compiling one body per family instead of one per stat cuts the
//! code the register allocator sees; rule sets have many such stats (primary attributes,
//! resistances).
//!
//! Families run first, then the other stats in id order, one chunk of units per native
//! function ([`plan`]). The error check keeps each lane's smallest error code, so the first
//! failing stat in id order is reported whatever the order of evaluation.

use super::abi::{Row, SLOT_SIZE, STAT_OUT_WORDS, STAT_SIZE, error_code};
use crate::eval::Phase;
use crate::ir::{Expr, Ir, Mode, StatId};
use std::ops::Range;

/// What one native function evaluates, in order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Unit {
    /// A family: its mode and its rows in [`Plan::rows`].
    Family(Mode, Range<usize>),
    Stat(StatId),
}

/// The native functions of a rule set and the rows their families read.
#[derive(Debug)]
pub(crate) struct Plan {
    /// Every family's rows. The compiled code holds their address: keep them alive (and in
    /// place) as long as the code.
    pub rows: Box<[Row]>,
    pub functions: Vec<Vec<Unit>>,
}

/// A bound that never fails and reads no stat: its value, ±∞ when absent.
pub(crate) fn fixed_bound(ir: &Ir, e: Option<Expr>, absent: f64) -> Option<f64> {
    match e {
        None => Some(absent),
        Some(e) => ir.constant(e).filter(|c| c.is_finite()),
    }
}

/// Groups `ir`'s stats into families (of two or more members) and the rest, then into
/// functions of at most `per_function` units: families first, then the other stats in id
/// order.
pub(crate) fn plan(ir: &Ir, per_function: usize) -> Plan {
    let mut families: Vec<(Mode, Vec<(StatId, Row)>)> = Vec::new();
    let mut alone = Vec::new();
    for id in ir.stat_ids() {
        let stat = ir.stat(id);
        let bounds = (fixed_bound(ir, stat.min, f64::NEG_INFINITY), fixed_bound(ir, stat.max, f64::INFINITY));
        let (Some(lo), Some(hi), None) = (bounds.0, bounds.1, stat.formula) else {
            alone.push(id);
            continue;
        };
        let base = stat.default.unwrap_or(0.0);
        let code = error_code(id, Phase::Value);
        let row = Row {
            lo: [lo; 2],
            hi: [hi; 2],
            base: [base; 2],
            code: [code; 2],
            slots: ir.slot_base[id.index()] as i64 * SLOT_SIZE as i64,
            stat: id.index() as i64 * STAT_SIZE as i64,
            out: (id.index() * STAT_OUT_WORDS * 8) as i64,
            _pad: 0,
        };
        match families.iter_mut().find(|(m, _)| *m == stat.mode) {
            Some((_, members)) => members.push((id, row)),
            None => families.push((stat.mode, vec![(id, row)])),
        }
    }
    let mut rows = Vec::new();
    let mut units = Vec::new();
    for (mode, members) in families {
        if let [(id, _)] = members[..] {
            alone.push(id);
            continue;
        }
        let start = rows.len();
        rows.extend(members.iter().map(|(_, r)| *r));
        units.push(Unit::Family(mode, start..rows.len()));
    }
    alone.sort_unstable();
    let per_function = per_function.max(1);
    let mut functions: Vec<Vec<Unit>> = units.chunks(per_function).map(<[Unit]>::to_vec).collect();
    functions.extend(alone.chunks(per_function).map(|c| c.iter().map(|&id| Unit::Stat(id)).collect()));
    Plan { rows: rows.into_boxed_slice(), functions }
}
