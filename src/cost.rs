//! Worst-case evaluation cost of a rule set, computed exactly from the IR.
//!
//! The language has no loops, so the work for one actor is a fixed part per stat plus a part
//! per contribution (a contribution reaches one stat and one bucket). Costs count abstract
//! operations: one per IR node, with the library calls weighted by their price; a `lookup`
//! or `at` is a call plus a binary search of its table or curve (⌈log2 n⌉ + 1 comparisons).
//!
//! With situations, a contribution to a stat is also a contribution to each of the stat's
//! views: it is checked against each context (at most [`MAX_REQUIREMENTS`] requirements),
//! evaluated in each, and, with stacking groups, sorted with the other stacked
//! contributions of each stat (a part that grows with ⌈log2 n⌉ for n contributions). Views
//! are stats, charged like any other.

use crate::diag::Diagnostic;
use crate::ir::{Expr, Fold, Ir, MAX_REQUIREMENTS, Mode, Node, StatId, TagSet, UnOp};
use serde::Serialize;

/// Operations charged for each IR node.
fn node_cost(ir: &Ir, n: &Node) -> u64 {
    let search = |points: usize| CALL + u64::from(points.max(1).next_power_of_two().trailing_zeros()) + 1;
    match n {
        Node::Unary(UnOp::Exp | UnOp::Ln, _) => 20,
        Node::Binary(crate::ir::BinOp::Pow, _, _) => 40,
        Node::Binary(crate::ir::BinOp::Rem, _, _) => CALL,
        Node::Lookup(t, _) => search(ir.tables[t.index()].xs.len()),
        Node::At(c, _) => search(ir.curves[c.index()].xs.len()) + 4,
        _ => 1,
    }
}

/// Charged for a call out of generated code (`%`, `lookup`, `at`).
const CALL: u64 = 10;

fn expr_cost(ir: &Ir, e: Option<Expr>) -> u64 {
    e.map_or(0, |e| ir.nodes[e.range()].iter().map(|n| node_cost(ir, n)).sum())
}

/// Charged per cap layer of a stat: reducing a layer and combining it across layers.
pub const PER_LAYER: u64 = 6;
/// Charged once per valued stat: bookkeeping, non-finite checks and the clamp.
pub const PER_STAT: u64 = 8;
/// Charged per contribution and context it is expanded to, when the rules declare stacking
/// groups: finding its part (bucket, group, key) and keeping or dropping it.
pub const PER_STACKED: u64 = 2;
/// Charged per contribution and context, times ⌈log2 n⌉, when the rules declare stacking
/// groups: the comparisons of the two sorts (into parts, then in the group's order).
pub const PER_SORT_LEVEL: u64 = 2;

#[derive(Debug, Clone, Serialize)]
pub struct StatCost {
    pub stat: String,
    /// Operations independent of the input.
    pub fixed: u64,
    /// Operations per contribution to this stat (worst bucket), with its copies in the
    /// stat's views and their filtering and stacking; 0 for a view (contributions name its
    /// source).
    pub per_contribution: u64,
    /// Operations per contribution to this stat for each of the ⌈log2 n⌉ levels of the
    /// stacking sort.
    #[serde(skip_serializing_if = "is_zero")]
    pub per_contribution_log: u64,
    /// A view: its source, whose row counts the view's copies of its contributions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub view_of: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Cost {
    pub stats: Vec<StatCost>,
    pub fixed: u64,
    pub per_contribution: u64,
    /// Operations per contribution for each of the ⌈log2 n⌉ levels of the stacking sort (0
    /// without stacking groups).
    #[serde(skip_serializing_if = "is_zero")]
    pub per_contribution_log: u64,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

/// ⌈log2 n⌉ (0 for n ≤ 1): the levels of a sort of n items.
pub fn levels(n: u64) -> u64 {
    u64::from(u64::BITS - n.saturating_sub(1).leading_zeros())
}

impl Cost {
    /// The bound for an actor with `contributions` contributions (caps counted among them
    /// when the rules declare tags: each is checked like a contribution).
    pub fn bound(&self, contributions: u64) -> u64 {
        let per = self.per_contribution.saturating_add(self.per_contribution_log.saturating_mul(levels(contributions)));
        self.fixed.saturating_add(per.saturating_mul(contributions))
    }
}

/// Operations of one contribution evaluated in `s` (worst bucket), and the stat's fixed part.
fn stat_cost(ir: &Ir, id: StatId, layers: u64) -> (u64, u64) {
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
    (fixed, per_contribution)
}

pub fn cost(ir: &Ir) -> Cost {
    let layers = ir.layers.len() as u64;
    let words = TagSet::words(ir.tags.len()).max(1) as u64;
    // One requirement: a tag is one test, a group one test per word of the context.
    let filter = if ir.tags.is_empty() { 0 } else { MAX_REQUIREMENTS as u64 * words };
    let stacking = !ir.stacks.is_empty();
    let stats: Vec<StatCost> = ir
        .stat_ids()
        .map(|id: StatId| {
            let s = ir.stat(id);
            let (mut fixed, own) = stat_cost(ir, id, layers);
            if let Some(v) = &s.view {
                // The view's context: the actor's tags and its own.
                fixed += words;
                let view_of = Some(ir.stat(v.source).name.clone());
                return StatCost { stat: s.name.clone(), fixed, per_contribution: 0, per_contribution_log: 0, view_of };
            }
            // The contribution's copies: one for the stat, one for each view, each
            // filtered, stacked and evaluated in its own stat.
            let views = ir.views_of(id);
            let contexts = 1 + views.len() as u64;
            let evaluate: u64 = own + views.iter().map(|&v| stat_cost(ir, v, layers).1).sum::<u64>();
            let situate = contexts * (filter + if stacking { PER_STACKED } else { 0 });
            StatCost {
                stat: s.name.clone(),
                fixed,
                per_contribution: evaluate + situate,
                per_contribution_log: if stacking { contexts * PER_SORT_LEVEL } else { 0 },
                view_of: None,
            }
        })
        .collect();
    let fixed = stats.iter().map(|s| s.fixed).sum();
    let per_contribution = stats.iter().map(|s| s.per_contribution).max().unwrap_or(0);
    let per_contribution_log = stats.iter().map(|s| s.per_contribution_log).max().unwrap_or(0);
    Cost { stats, fixed, per_contribution, per_contribution_log }
}

/// The rule set's per-contribution charge as text: `2`, or `(12 + 4 × ⌈log2 n⌉)`.
pub fn per_contribution_text(c: &Cost) -> String {
    match c.per_contribution_log {
        0 => c.per_contribution.to_string(),
        log => format!("({} + {log} × ⌈log2 n⌉)", c.per_contribution),
    }
}

/// An error when the bound for `contributions` contributions exceeds `budget`.
pub fn over_budget(ir: &Ir, c: &Cost, budget: u64, contributions: u64) -> Option<Diagnostic> {
    let bound = c.bound(contributions);
    if bound <= budget {
        return None;
    }
    let levels = levels(contributions);
    let per = |s: &StatCost| s.per_contribution.saturating_add(s.per_contribution_log.saturating_mul(levels));
    let worst = c.stats.iter().enumerate().max_by_key(|(_, s)| s.fixed.saturating_add(per(s)))?;
    let stat = ir.stat(StatId(worst.0 as u32));
    Some(
        Diagnostic::error(
            "E0401",
            format!(
                "worst-case cost {bound} exceeds the budget of {budget} \
                 ({} fixed + {} per contribution × {contributions} contributions)",
                c.fixed,
                per_contribution_text(c).replace("⌈log2 n⌉", &levels.to_string()),
            ),
        )
        .primary(stat.span, format!("the most expensive stat: {} + {} per contribution", worst.1.fixed, per(worst.1)))
        .help("simplify formulas or buckets, or raise --max-cost"),
    )
}
