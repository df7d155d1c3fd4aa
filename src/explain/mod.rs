//! `actorc explain`: why a stat has the value it has, or what its rule says.
//!
//! Invariant: an explanation is read off the real interpreter — the actor is prepared by
//! `ingest::prepare_with_provenance` and evaluated by `eval::eval_traced` with a `Trace`
//! that records the target stat's steps — so its final value is the engine's value bit for
//! bit; nothing here recomputes a fold, an apply or a clamp by hand. Layer ranges come from
//! `eval::layer_range`, the same function the interpreter uses.
//!
//! `model` holds the data (re-exported here), `build` makes it (from the IR, and from the
//! trace of an evaluation), `render` turns it into text.

mod build;
mod model;
mod render;

pub use model::*;
pub use render::{fmt_num, render, render_rule};

use crate::eval::{self, Scratch};
use crate::ingest;
use crate::input::Actor;
use crate::ir::{Ir, StatId};
use crate::rules::Rules;
use crate::snapshot::Snapshot;
use build::Collector;

/// The stat's id, or an error with a did-you-mean suggestion.
pub fn resolve(ir: &Ir, name: &str) -> Result<StatId, ExplainError> {
    ir.resolve_stat(name).map_err(ExplainError::UnknownStat)
}

/// Explains the rule of `stat` without an actor.
pub fn explain_rule(rules: &Rules, stat: &str) -> Result<RuleExplanation, ExplainError> {
    let id = resolve(&rules.ir, stat)?;
    Ok(build::rule_of(rules, id))
}

/// Explains how `actor` got its value of `stat`, and the snapshot it came from.
pub fn explain(rules: &Rules, actor: &Actor, stat: &str) -> Result<(Explanation, Snapshot), ExplainError> {
    let ir = &rules.ir;
    let id = resolve(ir, stat)?;
    let (p, prov) = ingest::prepare_with_provenance(ir, actor).map_err(ExplainError::Input)?;
    let mut trace = Collector::for_stat(id);
    let mut scratch = Scratch::default();
    match eval::eval_traced(ir, &p, &mut scratch, &mut trace) {
        Ok(snap) => Ok((build::build(rules, actor, &p, &prov, &snap, id, &trace), snap)),
        Err(error) => {
            // Stats are evaluated in id order.
            let at = match ir.stat_ids.get(error.stat.as_str()).map(|&failed| failed.cmp(&id)) {
                Some(std::cmp::Ordering::Less) => "before",
                Some(std::cmp::Ordering::Equal) => "here",
                _ => "after",
            };
            let so_far = scratch.evaluated_before_failure(ir, &p);
            let mut e = build::build(rules, actor, &p, &prov, &so_far, id, &trace);
            e.failure = Some(Failure { at, error });
            Err(ExplainError::Eval(Box::new(e)))
        }
    }
}
