//! Worst-case evaluation cost of a rule set, computed exactly from the IR.
//!
//! The language has no loops, so the work for one actor is a fixed part per stat plus a part
//! per contribution (a contribution reaches one stat and one bucket). Costs count abstract
//! operations: one per IR node, with the library calls weighted by their price.

use crate::diag::Diagnostic;
use crate::ir::{Expr, Fold, Ir, Mode, Node, StatId, UnOp};
use serde::Serialize;

/// Operations charged for each IR node.
fn node_cost(n: &Node) -> u64 {
    match n {
        Node::Unary(UnOp::Exp | UnOp::Ln, _) => 20,
        Node::Binary(crate::ir::BinOp::Pow, _, _) => 40,
        _ => 1,
    }
}

fn expr_cost(ir: &Ir, e: Option<Expr>) -> u64 {
    e.map_or(0, |e| ir.nodes[e.range()].iter().map(node_cost).sum())
}

/// Charged per cap layer of a stat: reducing a layer and combining it across layers.
pub const PER_LAYER: u64 = 6;
/// Charged once per valued stat: bookkeeping, non-finite checks and the clamp.
pub const PER_STAT: u64 = 8;

#[derive(Debug, Clone, Serialize)]
pub struct StatCost {
    pub stat: String,
    /// Operations independent of the input.
    pub fixed: u64,
    /// Operations per contribution to this stat (worst bucket).
    pub per_contribution: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Cost {
    pub stats: Vec<StatCost>,
    pub fixed: u64,
    pub per_contribution: u64,
}

impl Cost {
    /// The bound for an actor with `contributions` contributions.
    pub fn bound(&self, contributions: u64) -> u64 {
        self.fixed.saturating_add(self.per_contribution.saturating_mul(contributions))
    }
}

pub fn cost(ir: &Ir) -> Cost {
    let layers = ir.layers.len() as u64;
    let stats: Vec<StatCost> = ir
        .stat_ids()
        .map(|id: StatId| {
            let s = ir.stat(id);
            let mut fixed = PER_STAT + PER_LAYER * layers + expr_cost(ir, s.formula) + expr_cost(ir, s.min);
            fixed += expr_cost(ir, s.max);
            let per_contribution = match s.mode {
                Mode::Operator(_) => 2,
                Mode::Pipeline(p) => {
                    let mut worst = 2;
                    for &b in &ir.pipeline(p).buckets {
                        let bucket = ir.bucket(b);
                        let apply = expr_cost(ir, Some(bucket.apply));
                        if bucket.fold == Fold::Each {
                            worst = worst.max(apply + 1);
                        } else {
                            fixed += apply;
                        }
                    }
                    worst
                }
            };
            StatCost { stat: s.name.clone(), fixed, per_contribution }
        })
        .collect();
    let fixed = stats.iter().map(|s| s.fixed).sum();
    let per_contribution = stats.iter().map(|s| s.per_contribution).max().unwrap_or(0);
    Cost { stats, fixed, per_contribution }
}

/// An error when the bound for `contributions` contributions exceeds `budget`.
pub fn over_budget(ir: &Ir, c: &Cost, budget: u64, contributions: u64) -> Option<Diagnostic> {
    let bound = c.bound(contributions);
    if bound <= budget {
        return None;
    }
    let worst = c.stats.iter().enumerate().max_by_key(|(_, s)| s.fixed.saturating_add(s.per_contribution))?;
    let stat = ir.stat(StatId(worst.0 as u32));
    Some(
        Diagnostic::error(
            "E0401",
            format!(
                "worst-case cost {bound} exceeds the budget of {budget} \
                 ({} fixed + {} per contribution × {contributions} contributions)",
                c.fixed, c.per_contribution
            ),
        )
        .primary(
            stat.span,
            format!("the most expensive stat: {} + {} per contribution", worst.1.fixed, worst.1.per_contribution),
        )
        .help("simplify formulas or buckets, or raise --max-cost"),
    )
}
