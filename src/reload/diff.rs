//! What changed between two rule sets, as the cache needs it: per-stat rule fingerprints
//! ([`fingerprints`], computed once per generation) and the [`RuleDiff`] between two of them.
//!
//! Invariant: equal structure keys mean a prepared actor and a snapshot of the old rules fit
//! the new ones (same stats in the same order, layers, policy, buckets and pipelines by
//! position); a stat whose fingerprint is unchanged has the same rule. Equal situation keys
//! (tags, tag groups, stacking groups, views' contexts) mean an actor ingests the same.

use crate::eval::Affected;
use crate::ir::{Expr, Ir, Mode, Node, expr_text};
use std::fmt::Write as _;

/// Per-stat rule fingerprints and the structure key of one IR.
#[derive(Debug)]
pub struct Fingerprints {
    structure: String,
    situation: String,
    stats: Vec<String>,
}

/// The fingerprints of `ir`'s rules.
pub fn fingerprints(ir: &Ir) -> Fingerprints {
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
    // What decides which contributions and caps apply where: tags by position (contexts are
    // bit sets), groups by members, stacking groups, and each view's context.
    let mut situation = String::new();
    for t in &ir.tags {
        situation.push_str(&format!("{};", t.name));
    }
    for g in &ir.tag_groups {
        situation.push_str(&format!("|{}={:?}", g.name, g.members));
    }
    for s in &ir.stacks {
        situation.push_str(&format!("|{} {} {}", s.name, s.limit, s.keep.keyword()));
    }
    for &v in &ir.view_ids {
        let view = ir.stat(v).view.as_ref().expect("a view");
        situation.push_str(&format!("|{}<{}{:?}", ir.stat(v).name, view.source.0, view.tags));
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
                        f.push_str(&format!("[{} {} {}]", b.name, b.fold.keyword(), expr_text(ir, b.apply)));
                        points_read(ir, Some(b.apply), &mut f);
                    }
                }
                Mode::Operator(op) => f.push_str(op.keyword()),
            }
            let e = |x: Option<crate::ir::Expr>| x.map(|x| expr_text(ir, x)).unwrap_or_default();
            f.push_str(&format!("|{}|{}|{}|{:?}", e(s.formula), e(s.min), e(s.max), s.default.map(f64::to_bits)));
            for x in [s.formula, s.min, s.max] {
                points_read(ir, x, &mut f);
            }
            f
        })
        .collect();
    Fingerprints { structure, situation, stats }
}

/// Appends the entries of the tables and curves `e` reads: `expr_text` gives only their
/// names, and a table whose values change changes the rule of every stat that reads it.
fn points_read(ir: &Ir, e: Option<Expr>, f: &mut String) {
    let Some(e) = e else { return };
    for node in &ir.nodes[e.range()] {
        let points = match *node {
            Node::Lookup(t, _) => &ir.tables[t.index()],
            Node::At(c, _) => &ir.curves[c.index()],
            _ => continue,
        };
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<u64>>();
        let _ = write!(f, "|{}={:?}:{:?}", points.name, bits(&points.xs), bits(&points.ys));
    }
}

/// How the rules changed between two generations of the same structure: per stat whether
/// its rule changed, and the stats that reaches (the changed ones and their dependents).
#[derive(Debug)]
pub struct RuleDiff {
    pub dirty: Box<[bool]>,
    pub affected: Affected,
    /// The situation key changed: actors must be ingested again (their prepared forms may
    /// differ for any stat), then the stats whose prepared input differs are dirty too.
    pub reingest: bool,
}

/// The changes from `old` to `new` (the fingerprints of `new_ir`); `None` when the structure
/// changed, so prepared actors and snapshots of `old` cannot be reused.
pub fn rule_diff(old: &Fingerprints, new: &Fingerprints, new_ir: &Ir) -> Option<RuleDiff> {
    (old.structure == new.structure).then(|| {
        let dirty: Box<[bool]> = old.stats.iter().zip(&new.stats).map(|(x, y)| x != y).collect();
        let affected = Affected::of(new_ir, &dirty);
        RuleDiff { dirty, affected, reingest: old.situation != new.situation }
    })
}
