//! `actorc explain`: why a stat has the value it has, or what its rule says.
//!
//! Invariant: an explanation is read off the real interpreter — the actor is prepared by
//! [`ingest::prepare_with_provenance`] and evaluated by [`eval::eval_traced`] with a [`Trace`]
//! that records the target stat's steps — so its final value is the engine's value bit for
//! bit; nothing here recomputes a fold, an apply or a clamp by hand. Layer ranges come from
//! [`eval::layer_range`], the same function the interpreter uses.

use crate::eval::{self, EvalError, Scratch, Trace};
use crate::ingest::{self, FROM_PRIMARY, Prepared, Provenance};
use crate::input::Actor;
use crate::input::InputError;
use crate::ir::{BinOp, Expr, Fold, Ir, Mode, Node, Operator, Policy, Stat, StatId, UnOp, UnknownStat};
use crate::rules::Rules;
use crate::snapshot::Snapshot;
use crate::syntax::Category;
use serde::Serialize;
use std::fmt::Write;

/// Why no explanation could be made.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ExplainError {
    UnknownStat { name: String, suggestion: Option<String> },
    Input(InputError),
    Eval(EvalError),
}

impl std::fmt::Display for ExplainError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExplainError::UnknownStat { name, suggestion } => {
                UnknownStat { name: name.clone(), suggestion: suggestion.clone() }.fmt(f)
            }
            ExplainError::Input(e) => write!(f, "{e}"),
            ExplainError::Eval(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for ExplainError {}

impl From<UnknownStat> for ExplainError {
    fn from(UnknownStat { name, suggestion }: UnknownStat) -> Self {
        ExplainError::UnknownStat { name, suggestion }
    }
}

/// The stat's id, or an error with a did-you-mean suggestion.
pub fn resolve(ir: &Ir, name: &str) -> Result<StatId, ExplainError> {
    ir.resolve_stat(name).map_err(ExplainError::from)
}

/// A stat's rule as declared, with where each part is written.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleExplanation {
    pub stat: String,
    pub category: &'static str,
    /// `file:line:col` of the declaration.
    pub location: String,
    pub doc: Vec<String>,
    /// The whole rule on one line, e.g. `hp_max = clamp(first(OVERRIDE) ?? ((base + Σ FLAT) ×
    /// Π(1 + MULT) + Σ POST_ADD), 1, 2000000)`.
    pub whiteboard: String,
    pub base: BaseRule,
    pub range: RangeRule,
    /// `pipeline` or `operator`.
    pub mode: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pipeline: Option<PipelineRule>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operator: Option<&'static str>,
    pub policy: &'static str,
    pub layers: Vec<LayerRule>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BaseRule {
    /// `formula`, `default` or `zero`.
    pub source: &'static str,
    /// The formula's source text or the default's value.
    pub text: String,
    /// Stats the formula reads.
    pub reads: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RangeRule {
    pub min: String,
    pub max: String,
    /// Stats the bounds read.
    pub reads: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PipelineRule {
    pub name: String,
    pub location: String,
    pub steps: Vec<BucketRule>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BucketRule {
    pub bucket: String,
    pub fold: &'static str,
    /// The apply expression as written in the IR (`value`, `x`).
    pub apply: String,
    /// One step of the whiteboard: `value ← value + Σ FLAT`.
    pub step: String,
    pub location: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LayerRule {
    pub layer: String,
    pub requires_realm: bool,
    pub unscoped: bool,
    pub location: String,
}

/// An evaluation of one stat for one actor, step by step.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Explanation {
    pub actor: Option<String>,
    pub rule: RuleExplanation,
    /// The final value; `None` when the stat has only caps, or nothing at all.
    pub value: Option<f64>,
    /// The stat has a snapshot entry (a value or caps); without one it was skipped and
    /// readers see 0.
    pub in_snapshot: bool,
    pub contributions: Vec<ContributionRow>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base: Option<BaseStep>,
    pub buckets: Vec<BucketStep>,
    /// Operator-mode result.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operator: Option<f64>,
    pub range: RangeStep,
    pub layers: Vec<LayerStep>,
    /// Effective range (`CapsUsed`), `null` = unbounded.
    pub min: f64,
    pub max: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clamp: Option<ClampStep>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ContributionRow {
    /// Position in canonical order among this stat's contributions.
    pub index: usize,
    pub subsystem: u32,
    /// The subsystem's `meta.system`.
    pub subsystem_system: String,
    /// The contribution's own `system`.
    pub system: String,
    /// `primary` or `derived`.
    pub list: &'static str,
    pub bucket: String,
    pub priority: i64,
    pub value: f64,
    /// `won` or `lost` in a `fold first` bucket.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<&'static str>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BaseStep {
    pub source: &'static str,
    pub text: String,
    pub value: f64,
    pub inputs: Vec<InputValue>,
}

/// A stat a formula reads and its final value (`None`: no value, read as 0).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InputValue {
    pub stat: String,
    pub value: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BucketStep {
    pub slot: u32,
    pub bucket: String,
    pub fold: &'static str,
    pub apply: String,
    /// Indices into [`Explanation::contributions`].
    pub contributions: Vec<usize>,
    /// The folded value (absent for `fold each`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub folded: Option<f64>,
    /// `fold each`: the running value after each contribution.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub each: Vec<EachStep>,
    /// `fold first`: the winning contribution and the ones that lost.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub won: Option<usize>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub lost: Vec<usize>,
    pub after: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EachStep {
    pub contribution: usize,
    pub x: f64,
    pub after: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RangeStep {
    pub min: f64,
    pub max: f64,
    pub inputs: Vec<InputValue>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LayerStep {
    pub layer: String,
    pub caps: Vec<CapRow>,
    /// `eval::layer_range` within the stat's range.
    pub min: f64,
    pub max: f64,
    /// The caps asked for Min > Max, so Min was lowered to Max.
    pub conflict: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CapRow {
    pub subsystem: u32,
    pub subsystem_system: String,
    pub system: String,
    pub kind: String,
    pub mode: String,
    pub priority: i64,
    pub value: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub realm: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClampStep {
    pub before: f64,
    pub after: f64,
    /// `min` or `max` when the clamp changed the value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bound: Option<&'static str>,
    /// The layer that set that bound, or `range` (the stat's own range).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    /// The caps of that layer on that side.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub caps: Vec<CapRow>,
}

// ---------------------------------------------------------------------------------------
// The rule.

fn fold_name(f: Fold) -> &'static str {
    match f {
        Fold::Sum => "sum",
        Fold::Product => "product",
        Fold::DeltaProduct => "delta_product",
        Fold::Min => "min",
        Fold::Max => "max",
        Fold::First => "first",
        Fold::Each => "each",
    }
}

pub(crate) fn operator_name(op: Operator) -> &'static str {
    match op {
        Operator::Sum => "sum",
        Operator::Max => "max",
        Operator::Min => "min",
        Operator::Average => "average",
        Operator::Multiply => "multiply",
    }
}

fn policy_name(p: Policy) -> &'static str {
    match p {
        Policy::Intersect => "intersect",
        Policy::PrioritizedOverride => "prioritized_override",
    }
}

fn unop_name(op: UnOp) -> &'static str {
    match op {
        UnOp::Neg => "neg",
        UnOp::Abs => "abs",
        UnOp::Floor => "floor",
        UnOp::Ceil => "ceil",
        UnOp::Round => "round",
        UnOp::Sqrt => "sqrt",
        UnOp::Exp => "exp",
        UnOp::Ln => "ln",
    }
}

fn category_name(c: Category) -> &'static str {
    match c {
        Category::Primary => "primary",
        Category::Derived => "derived",
    }
}

fn stats_read(ir: &Ir, exprs: &[Option<Expr>]) -> Vec<StatId> {
    let mut out: Vec<StatId> = Vec::new();
    for e in exprs.iter().flatten() {
        for n in &ir.nodes[e.range()] {
            if let Node::Stat(s) = n
                && !out.contains(s)
            {
                out.push(*s);
            }
        }
    }
    out
}

fn names(ir: &Ir, ids: &[StatId]) -> Vec<String> {
    ids.iter().map(|&s| ir.stat(s).name.clone()).collect()
}

/// Explains the rule of `stat` without an actor.
pub fn explain_rule(rules: &Rules, stat: &str) -> Result<RuleExplanation, ExplainError> {
    let id = resolve(&rules.ir, stat)?;
    Ok(rule_of(rules, id))
}

fn rule_of(rules: &Rules, id: StatId) -> RuleExplanation {
    let ir = &rules.ir;
    let src = &rules.sources;
    let s = ir.stat(id);
    let base = match (&s.formula_text, s.default) {
        (Some(t), _) => {
            BaseRule { source: "formula", text: t.clone(), reads: names(ir, &stats_read(ir, &[s.formula])) }
        }
        (None, Some(d)) => BaseRule { source: "default", text: fmt_num(d), reads: vec![] },
        (None, None) => BaseRule { source: "zero", text: "0".into(), reads: vec![] },
    };
    let range = RangeRule {
        min: s.min_text.as_deref().map_or_else(|| "-inf".into(), one_line),
        max: s.max_text.as_deref().map_or_else(|| "inf".into(), one_line),
        reads: names(ir, &stats_read(ir, &[s.min, s.max])),
    };
    let (mode, pipeline, operator) = match s.mode {
        Mode::Pipeline(pid) => {
            let p = ir.pipeline(pid);
            let steps = p
                .buckets
                .iter()
                .map(|&b| {
                    let b = ir.bucket(b);
                    BucketRule {
                        bucket: b.name.clone(),
                        fold: fold_name(b.fold),
                        apply: pretty(ir, b.apply, &Subst::plain()).0,
                        step: bucket_step_text(ir, b),
                        location: src.location(b.span),
                    }
                })
                .collect();
            ("pipeline", Some(PipelineRule { name: p.name.clone(), location: src.location(p.span), steps }), None)
        }
        Mode::Operator(op) => ("operator", None, Some(operator_name(op))),
    };
    let layers = ir
        .layers
        .iter()
        .enumerate()
        .map(|(i, l)| LayerRule {
            layer: l.name.clone(),
            requires_realm: l.requires_realm,
            unscoped: ir.unscoped.is_some_and(|u| u.index() == i),
            location: src.location(l.span),
        })
        .collect();
    RuleExplanation {
        stat: s.name.clone(),
        category: category_name(s.category),
        location: src.location(s.span),
        doc: s.doc.clone(),
        whiteboard: whiteboard(ir, s),
        base,
        range,
        mode,
        pipeline,
        operator,
        policy: policy_name(ir.policy()),
        layers,
    }
}

fn fold_text(f: Fold, bucket: &str) -> String {
    match f {
        Fold::Sum => format!("Σ {bucket}"),
        Fold::Product => format!("Π {bucket}"),
        Fold::DeltaProduct => format!("Π(1 + {bucket})"),
        Fold::Min => format!("min({bucket})"),
        Fold::Max => format!("max({bucket})"),
        Fold::First => format!("first({bucket})"),
        Fold::Each => "x".into(),
    }
}

fn bucket_step_text(ir: &Ir, b: &crate::ir::Bucket) -> String {
    if b.fold == Fold::Each {
        let apply = pretty(ir, b.apply, &Subst { fancy: true, ..Subst::plain() }).0;
        return format!("for each x in {}: value ← {apply}", b.name);
    }
    let x = fold_text(b.fold, &b.name);
    let apply = pretty(ir, b.apply, &Subst { value: ("value".into(), ATOM), x: (x, ATOM), fancy: true }).0;
    format!("value ← {apply}   (if any {})", b.name)
}

fn refs_value(ir: &Ir, e: Expr) -> bool {
    ir.nodes[e.range()].iter().any(|n| matches!(n, Node::Value))
}

/// The stat's rule as one expression.
fn whiteboard(ir: &Ir, s: &Stat) -> String {
    let mut cur: (String, u8) = match (&s.formula_text, s.default) {
        (Some(_), _) => match s.formula {
            Some(f) => pretty(ir, f, &Subst { value: ("value".into(), ATOM), x: ("x".into(), ATOM), fancy: true }),
            None => ("0".into(), ATOM),
        },
        (None, Some(d)) => (fmt_num(d), ATOM),
        (None, None) => ("0".into(), ATOM),
    };
    match s.mode {
        Mode::Pipeline(pid) => {
            for &bid in &ir.pipeline(pid).buckets {
                let b = ir.bucket(bid);
                let x = fold_text(b.fold, &b.name);
                cur = if b.fold == Fold::Each {
                    let apply = pretty(ir, b.apply, &Subst { fancy: true, ..Subst::plain() }).0;
                    (format!("each {}[value ↦ {apply}]({})", b.name, cur.0), ATOM)
                } else if refs_value(ir, b.apply) {
                    pretty(ir, b.apply, &Subst { value: cur, x: (x, ATOM), fancy: true })
                } else {
                    let apply =
                        pretty(ir, b.apply, &Subst { value: ("value".into(), ATOM), x: (x, ATOM), fancy: true });
                    (format!("{} ?? {}", apply.0, paren(cur, ATOM)), 0)
                };
            }
        }
        Mode::Operator(op) => cur = (format!("{}(contributions) ?? {}", operator_name(op), paren(cur, ATOM)), 0),
    }
    let lo = s.min.map_or("-inf".to_string(), |e| pretty(ir, e, &Subst { fancy: true, ..Subst::plain() }).0);
    let hi = s.max.map_or("inf".to_string(), |e| pretty(ir, e, &Subst { fancy: true, ..Subst::plain() }).0);
    format!("{} = clamp({}, {lo}, {hi})", s.name, cur.0)
}

const ATOM: u8 = 5;

/// What `value` and `x` stand for, with their precedence.
struct Subst {
    value: (String, u8),
    x: (String, u8),
    /// `×` instead of `*`.
    fancy: bool,
}

impl Subst {
    fn plain() -> Subst {
        Subst { value: ("value".into(), ATOM), x: ("x".into(), ATOM), fancy: false }
    }
}

fn paren(t: (String, u8), need: u8) -> String {
    if t.1 >= need { t.0 } else { format!("({})", t.0) }
}

/// Minimally parenthesised text of an expression (precedence: if 0, compare 1, + 2, × 3,
/// unary minus 4, atoms and calls 5).
fn pretty(ir: &Ir, e: Expr, sub: &Subst) -> (String, u8) {
    let mut texts: Vec<(String, u8)> = Vec::with_capacity(e.range().len());
    let get = |texts: &Vec<(String, u8)>, id: crate::ir::NodeId| texts[id.index() - e.start as usize].clone();
    for node in &ir.nodes[e.range()] {
        let t = match *node {
            Node::Const(v) => (fmt_num(v), ATOM),
            Node::Stat(s) => (ir.stat(s).name.clone(), ATOM),
            Node::Value => sub.value.clone(),
            Node::X => sub.x.clone(),
            Node::Unary(UnOp::Neg, a) => (format!("-{}", paren(get(&texts, a), 4)), 4),
            Node::Unary(op, a) => (format!("{}({})", unop_name(op), get(&texts, a).0), ATOM),
            Node::Binary(op, a, b) => {
                let (sym, prec, right_assoc_ok) = match op {
                    BinOp::Add => ("+", 2, true),
                    BinOp::Sub => ("-", 2, false),
                    BinOp::Mul => (if sub.fancy { "×" } else { "*" }, 3, true),
                    BinOp::Div => ("/", 3, false),
                    BinOp::Lt => ("<", 1, false),
                    BinOp::Le => ("<=", 1, false),
                    BinOp::Gt => (">", 1, false),
                    BinOp::Ge => (">=", 1, false),
                    BinOp::Eq => ("==", 1, false),
                    BinOp::Ne => ("!=", 1, false),
                    BinOp::Min | BinOp::Max | BinOp::Pow => {
                        let f = match op {
                            BinOp::Min => "min",
                            BinOp::Max => "max",
                            _ => "pow",
                        };
                        texts.push((format!("{f}({}, {})", get(&texts, a).0, get(&texts, b).0), ATOM));
                        continue;
                    }
                };
                let left_need = if prec == 1 { 2 } else { prec };
                let right_need = if right_assoc_ok { prec } else { prec + 1 };
                (format!("{} {sym} {}", paren(get(&texts, a), left_need), paren(get(&texts, b), right_need)), prec)
            }
            Node::Select(c, a, b) => {
                (format!("if {} then {} else {}", get(&texts, c).0, paren(get(&texts, a), 1), get(&texts, b).0), 0)
            }
        };
        texts.push(t);
    }
    texts.pop().unwrap_or_else(|| (String::new(), ATOM))
}

/// Source text on one line (runs of whitespace become one space).
fn one_line(t: &str) -> String {
    t.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Shortest text that reads back as the same number; `inf`, `-inf`.
pub fn fmt_num(v: f64) -> String {
    if v.is_infinite() {
        return if v > 0.0 { "inf".into() } else { "-inf".into() };
    }
    format!("{v}")
}

// ---------------------------------------------------------------------------------------
// The evaluation.

#[derive(Default)]
struct Collector {
    target: Option<StatId>,
    range: Option<(f64, f64, f64, f64)>,
    base: Option<f64>,
    /// (slot, folded, after) per bucket.
    buckets: Vec<(u32, Option<f64>, f64)>,
    /// (slot, x, after) per `fold each` contribution.
    each: Vec<(u32, f64, f64)>,
    operator: Option<f64>,
    clamp: Option<(f64, f64)>,
}

impl Trace for Collector {
    fn range(&mut self, stat: StatId, lo: f64, hi: f64, min: f64, max: f64) {
        if Some(stat) == self.target {
            self.range = Some((lo, hi, min, max));
        }
    }
    fn base(&mut self, stat: StatId, base: f64) {
        if Some(stat) == self.target {
            self.base = Some(base);
        }
    }
    fn bucket(&mut self, stat: StatId, slot: u32, folded: Option<f64>, after: f64) {
        if Some(stat) == self.target {
            self.buckets.push((slot, folded, after));
        }
    }
    fn each(&mut self, stat: StatId, slot: u32, x: f64, after: f64) {
        if Some(stat) == self.target {
            self.each.push((slot, x, after));
        }
    }
    fn operator(&mut self, stat: StatId, result: f64) {
        if Some(stat) == self.target {
            self.operator = Some(result);
        }
    }
    fn clamp(&mut self, stat: StatId, before: f64, after: f64) {
        if Some(stat) == self.target {
            self.clamp = Some((before, after));
        }
    }
}

fn cap_mode_order(mode: &str) -> u8 {
    match mode {
        "BASELINE" => 0,
        "ADDITIVE" => 1,
        "OVERRIDE" => 2,
        "HARD_MAX" => 3,
        _ => 4,
    }
}

/// Explains how `actor` got its value of `stat`, and the snapshot it came from.
pub fn explain(rules: &Rules, actor: &Actor, stat: &str) -> Result<(Explanation, Snapshot), ExplainError> {
    let ir = &rules.ir;
    let id = resolve(ir, stat)?;
    let (p, prov) = ingest::prepare_with_provenance(ir, actor).map_err(ExplainError::Input)?;
    let mut trace = Collector { target: Some(id), ..Collector::default() };
    let snap = eval::eval_traced(ir, &p, &mut Scratch::default(), &mut trace).map_err(ExplainError::Eval)?;
    Ok((build(rules, actor, &p, &prov, &snap, id, &trace), snap))
}

fn input_values(ir: &Ir, snap: &Snapshot, ids: &[StatId]) -> Vec<InputValue> {
    ids.iter()
        .map(|&s| InputValue {
            stat: ir.stat(s).name.clone(),
            value: snap.entry(s).filter(|e| e.has_value()).map(|e| e.value),
        })
        .collect()
}

fn build(
    rules: &Rules,
    actor: &Actor,
    p: &Prepared,
    prov: &Provenance,
    snap: &Snapshot,
    id: StatId,
    t: &Collector,
) -> Explanation {
    let ir = &rules.ir;
    let s = ir.stat(id);
    let rule = rule_of(rules, id);
    let ps = p.stats.iter().find(|x| x.stat == id);
    let groups = ps.map_or(&[][..], |ps| &p.groups[ps.groups.0 as usize..ps.groups.1 as usize]);
    let layer_caps = ps.map_or(&[][..], |ps| &p.layers[ps.layers.0 as usize..ps.layers.1 as usize]);

    // Contributions, canonical order, and the bucket steps they feed.
    let first_value = groups.first().map_or(0, |g| g.start as usize);
    let mut contributions = Vec::new();
    for g in groups {
        for i in g.start as usize..g.end as usize {
            let o = prov.values[i];
            let sub = &actor.subsystems[o.subsystem as usize];
            let (list, c) = if o.list == FROM_PRIMARY {
                ("primary", &sub.primary[o.index as usize])
            } else {
                ("derived", &sub.derived[o.index as usize])
            };
            contributions.push(ContributionRow {
                index: i - first_value,
                subsystem: o.subsystem,
                subsystem_system: sub.meta.system.to_string(),
                system: c.system.to_string(),
                list,
                bucket: c.bucket.to_string(),
                priority: c.priority.unwrap_or(0),
                value: p.values[i],
                outcome: None,
            });
        }
    }
    let mut buckets = Vec::new();
    if let Mode::Pipeline(pid) = s.mode {
        let pipeline = ir.pipeline(pid);
        let mut each = t.each.iter();
        for (g, &(slot, folded, after)) in groups.iter().zip(&t.buckets) {
            let b = ir.bucket(pipeline.buckets[slot as usize]);
            let idx: Vec<usize> = (g.start as usize - first_value..g.end as usize - first_value).collect();
            let mut step = BucketStep {
                slot,
                bucket: b.name.clone(),
                fold: fold_name(b.fold),
                apply: pretty(ir, b.apply, &Subst::plain()).0,
                contributions: idx.clone(),
                folded,
                each: vec![],
                won: None,
                lost: vec![],
                after,
            };
            if b.fold == Fold::Each {
                for &i in &idx {
                    if let Some(&(_, x, after)) = each.next() {
                        step.each.push(EachStep { contribution: i, x, after });
                    }
                }
            }
            if b.fold == Fold::First && !idx.is_empty() {
                step.won = Some(idx[0]);
                step.lost = idx[1..].to_vec();
                contributions[idx[0]].outcome = Some("won");
                for &i in &idx[1..] {
                    contributions[i].outcome = Some("lost");
                }
            }
            buckets.push(step);
        }
    }

    let base = t.base.map(|value| {
        let (source, text) = match (&s.formula_text, s.default) {
            (Some(f), _) => ("formula", one_line(f)),
            (None, Some(d)) => ("default", fmt_num(d)),
            (None, None) => ("zero", "0".into()),
        };
        BaseStep { source, text, value, inputs: input_values(ir, snap, &stats_read(ir, &[s.formula])) }
    });

    let (lo, hi, min, max) = t.range.unwrap_or((f64::NEG_INFINITY, f64::INFINITY, f64::NEG_INFINITY, f64::INFINITY));
    let range = RangeStep { min: lo, max: hi, inputs: input_values(ir, snap, &stats_read(ir, &[s.min, s.max])) };

    // Caps per layer, from provenance.
    let cap_row = |o: ingest::Origin| -> Option<(bool, CapRow)> {
        let sub = actor.subsystems.get(o.subsystem as usize)?;
        let c = sub.caps.get(o.index as usize)?;
        Some((
            c.kind == "max",
            CapRow {
                subsystem: o.subsystem,
                subsystem_system: sub.meta.system.to_string(),
                system: c.system.to_string(),
                kind: c.kind.to_string(),
                mode: c.mode.to_string(),
                priority: c.priority.unwrap_or(0),
                value: c.value,
                realm: c.realm.as_deref().map(str::to_string),
            },
        ))
    };
    let layers: Vec<LayerStep> = layer_caps
        .iter()
        .map(|l| {
            let mut caps: Vec<CapRow> = prov
                .caps
                .iter()
                .filter(|(st, ly, _, _)| *st == id && *ly == l.layer)
                .filter_map(|&(_, _, _, o)| cap_row(o).map(|r| r.1))
                .collect();
            // Provenance order is (is_max, mode, …): min side first; show max side first.
            caps.sort_by_key(|c| (c.kind != "max", cap_mode_order(&c.mode)));
            let (lmin, lmax) = eval::layer_range(l, lo, hi);
            let raw_min = crate::num::fmax(crate::num::fmax(l.min.candidate, l.min.hard), lo);
            LayerStep {
                layer: ir.layers[l.layer.index()].name.clone(),
                caps,
                min: lmin,
                max: lmax,
                conflict: raw_min > lmax,
            }
        })
        .collect();

    let clamp = t.clamp.map(|(before, after)| {
        let bound = if after.to_bits() == before.to_bits() {
            None
        } else if before > after {
            Some("max")
        } else {
            Some("min")
        };
        let mut by = None;
        let mut caps = Vec::new();
        if let Some(side) = bound {
            let is_max = side == "max";
            let target = if is_max { max } else { min };
            // The first layer whose own caps on this side give the effective bound.
            for (l, step) in layer_caps.iter().zip(&layers) {
                let own = if is_max {
                    crate::num::fmin(l.max.candidate, l.max.hard)
                } else {
                    crate::num::fmax(l.min.candidate, l.min.hard)
                };
                let layer_bound = if is_max { step.max } else { step.min };
                let from_caps = if is_max { own.is_finite() && own <= hi } else { own.is_finite() && own >= lo };
                // A Min lowered to Max by a conflict comes from the max caps.
                let conflict_min = !is_max && step.conflict;
                if layer_bound.to_bits() == target.to_bits() && (from_caps || conflict_min) {
                    by = Some(step.layer.clone());
                    let want_max = is_max || conflict_min;
                    caps = step.caps.iter().filter(|c| (c.kind == "max") == want_max).cloned().collect();
                    break;
                }
            }
            if by.is_none() {
                by = Some("range".to_string());
            }
        }
        ClampStep { before, after, bound, by, caps }
    });

    Explanation {
        actor: actor.id.clone(),
        rule,
        value: snap.entry(id).filter(|e| e.has_value()).map(|e| e.value),
        in_snapshot: snap.entry(id).is_some(),
        contributions,
        base,
        buckets,
        operator: t.operator,
        range,
        layers,
        min,
        max,
        clamp,
    }
}

// ---------------------------------------------------------------------------------------
// Text.

/// Left-aligned columns, two spaces apart, each line indented by `indent`.
fn table(out: &mut String, indent: &str, rows: &[Vec<String>]) {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> =
        (0..cols).map(|c| rows.iter().filter_map(|r| r.get(c)).map(|s| s.chars().count()).max().unwrap_or(0)).collect();
    for r in rows {
        let mut line = String::from(indent);
        for (c, cell) in r.iter().enumerate() {
            if c + 1 == r.len() {
                line.push_str(cell);
            } else {
                let pad = widths[c] - cell.chars().count();
                line.push_str(cell);
                line.push_str(&" ".repeat(pad + 2));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
}

/// The rule as a designer would read it.
pub fn render_rule(r: &RuleExplanation) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{} {}  ({})", r.category, r.stat, r.location);
    for d in &r.doc {
        let _ = writeln!(out, "  /// {}", d.trim());
    }
    let _ = writeln!(out, "\n  {}", r.whiteboard);
    if r.whiteboard.contains(" ?? ") {
        let _ = writeln!(out, "  (`a ?? b` is a when its bucket or operator has contributions, else b)");
    }
    out.push('\n');
    let mut rows = Vec::new();
    let base = match r.base.source {
        "formula" => format!("base = {}", r.base.text),
        "default" => format!("base = {} (default)", r.base.text),
        _ => "base = 0".to_string(),
    };
    rows.push(vec!["1.".into(), base, String::new()]);
    let mut n = 2;
    if let Some(p) = &r.pipeline {
        for s in &p.steps {
            rows.push(vec![format!("{n}."), format!("{} (fold {}): {}", s.bucket, s.fold, s.step), s.location.clone()]);
            n += 1;
        }
    }
    if let Some(op) = r.operator {
        rows.push(vec![format!("{n}."), format!("value = {op} of all contributions (bucket ignored)"), String::new()]);
        n += 1;
    }
    rows.push(vec![
        format!("{n}."),
        format!("caps: per layer, then across layers (policy {})", r.policy),
        r.layers.first().map_or(String::new(), |l| l.location.clone()),
    ]);
    rows.push(vec![
        format!("{}.", n + 1),
        format!("clamp to the stat's range {} .. {} and the caps", r.range.min, r.range.max),
        r.location.clone(),
    ]);
    let _ = writeln!(out, "  steps:");
    table(&mut out, "    ", &rows);
    if let Some(p) = &r.pipeline {
        let _ = writeln!(out, "  pipeline {}  ({})", p.name, p.location);
    }
    if !r.base.reads.is_empty() {
        let _ = writeln!(out, "  formula reads: {}", r.base.reads.join(", "));
    }
    if !r.range.reads.is_empty() {
        let _ = writeln!(out, "  range reads: {}", r.range.reads.join(", "));
    }
    let layers: Vec<String> = r
        .layers
        .iter()
        .map(|l| {
            let mut s = l.layer.clone();
            if l.requires_realm {
                s.push_str(" (requires realm)");
            }
            if l.unscoped {
                s.push_str(" (unscoped)");
            }
            s
        })
        .collect();
    if !layers.is_empty() {
        let _ = writeln!(out, "  layers: {}", layers.join(", "));
    }
    out
}

fn opt_num(v: Option<f64>) -> String {
    v.map_or("(no value, reads 0)".into(), fmt_num)
}

fn cap_cells(c: &CapRow) -> Vec<String> {
    let mut v = vec![
        format!("#{} ({})", c.subsystem, c.subsystem_system),
        c.system.clone(),
        c.kind.clone(),
        c.mode.clone(),
        format!("prio {}", c.priority),
        fmt_num(c.value),
    ];
    if let Some(r) = &c.realm {
        v.push(format!("realm {r}"));
    }
    v
}

/// An evaluation as aligned sections.
pub fn render(e: &Explanation) -> String {
    let mut out = String::new();
    let r = &e.rule;
    let who = e.actor.as_deref().map_or(String::new(), |a| format!(" of actor `{a}`"));
    let _ = writeln!(out, "{}{who} = {}", r.stat, opt_num(e.value).replace("(no value, reads 0)", "(no value)"));
    let _ = writeln!(out, "  {} {}  ({})", r.category, r.stat, r.location);
    let _ = writeln!(out, "  {}", r.whiteboard);

    if !e.in_snapshot {
        out.push_str("\n  no contributions, no caps, no formula and no default: the stat is not in the\n");
        out.push_str("  snapshot, and formulas that read it see 0\n");
        return out;
    }
    out.push_str("\ncontributions (canonical order)\n");
    if e.contributions.is_empty() {
        out.push_str("  (none)\n");
    } else {
        let mut rows = vec![vec![
            "#".into(),
            "subsystem".into(),
            "system".into(),
            "list".into(),
            "bucket".into(),
            "prio".into(),
            "value".into(),
            String::new(),
        ]];
        for c in &e.contributions {
            rows.push(vec![
                c.index.to_string(),
                format!("#{} ({})", c.subsystem, c.subsystem_system),
                c.system.clone(),
                c.list.into(),
                c.bucket.clone(),
                c.priority.to_string(),
                fmt_num(c.value),
                c.outcome.unwrap_or("").into(),
            ]);
        }
        table(&mut out, "  ", &rows);
    }

    out.push_str("\nbase\n");
    match &e.base {
        Some(b) => {
            let what = match b.source {
                "formula" => format!("formula {}", b.text),
                "default" => format!("default {}", b.text),
                _ => "no formula, no default".to_string(),
            };
            let note = if r.mode == "operator" { "  (replaced by the operator when it has contributions)" } else { "" };
            let _ = writeln!(out, "  {what} = {}{note}", fmt_num(b.value));
            let rows: Vec<Vec<String>> =
                b.inputs.iter().map(|i| vec![i.stat.clone(), "=".into(), opt_num(i.value)]).collect();
            table(&mut out, "    ", &rows);
        }
        None => out.push_str("  (no value: the stat only has caps)\n"),
    }

    if !e.buckets.is_empty() {
        out.push_str("\nbuckets\n");
        let mut rows = vec![vec![
            "slot".into(),
            "bucket".into(),
            "fold".into(),
            "apply".into(),
            "folded".into(),
            "value after".into(),
        ]];
        for b in &e.buckets {
            rows.push(vec![
                b.slot.to_string(),
                b.bucket.clone(),
                b.fold.into(),
                b.apply.clone(),
                b.folded.map_or("-".into(), fmt_num),
                fmt_num(b.after),
            ]);
            for s in &b.each {
                rows.push(vec![
                    String::new(),
                    format!("  #{}", s.contribution),
                    String::new(),
                    format!("x = {}", fmt_num(s.x)),
                    String::new(),
                    fmt_num(s.after),
                ]);
            }
        }
        table(&mut out, "  ", &rows);
        for b in &e.buckets {
            if let Some(w) = b.won {
                let lost: Vec<String> = b.lost.iter().map(|i| format!("#{i}")).collect();
                let lost = if lost.is_empty() { "none".into() } else { lost.join(", ") };
                let _ = writeln!(out, "  {}: #{w} won (first in canonical order); lost: {lost}", b.bucket);
            }
        }
    }
    if let Some(v) = e.operator {
        let op = r.operator.unwrap_or("?");
        let _ = writeln!(out, "\noperator\n  {op} of {} contributions = {}", e.contributions.len(), fmt_num(v));
    }

    out.push_str("\ncaps\n");
    let (lo, hi) = (fmt_num(e.range.min), fmt_num(e.range.max));
    if lo == r.range.min && hi == r.range.max {
        let _ = writeln!(out, "  stat range {lo} .. {hi}");
    } else {
        let _ = writeln!(out, "  stat range {lo} .. {hi}  (declared {} .. {})", r.range.min, r.range.max);
    }
    for i in &e.range.inputs {
        let _ = writeln!(out, "    {} = {}", i.stat, opt_num(i.value));
    }
    if e.layers.is_empty() {
        out.push_str("  no caps\n");
    }
    for l in &e.layers {
        let conflict = if l.conflict { "  (Min > Max: Min lowered to Max)" } else { "" };
        let _ = writeln!(out, "  layer {}: Min {}, Max {}{conflict}", l.layer, fmt_num(l.min), fmt_num(l.max));
        let rows: Vec<Vec<String>> = l.caps.iter().map(cap_cells).collect();
        table(&mut out, "    ", &rows);
    }
    let _ = writeln!(out, "  effective range ({}): {} .. {}", r.policy, fmt_num(e.min), fmt_num(e.max));

    out.push_str("\nresult\n");
    match &e.clamp {
        Some(c) => match (c.bound, &c.by) {
            (Some(b), Some(by)) => {
                let by = if by == "range" { "the stat's own range".to_string() } else { format!("layer {by}") };
                let _ = writeln!(
                    out,
                    "  {} clamped to {} (the {b} bound, set by {by})",
                    fmt_num(c.before),
                    fmt_num(c.after)
                );
                let rows: Vec<Vec<String>> = c.caps.iter().map(cap_cells).collect();
                table(&mut out, "    ", &rows);
            }
            _ => {
                let _ = writeln!(
                    out,
                    "  {} (within {} .. {}, not clamped)",
                    fmt_num(c.after),
                    fmt_num(e.min),
                    fmt_num(e.max)
                );
            }
        },
        None => out.push_str("  no value\n"),
    }
    out
}
