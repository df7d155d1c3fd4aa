//! Building explanations: a stat's rule from the IR ([`rule_of`]), and an evaluation from
//! the interpreter's own trace ([`Collector`], [`build()`]). Nothing here recomputes a fold,
//! an apply or a clamp by hand.

use super::model::*;
use super::render::fmt_num;
use crate::eval::{self, Trace};
use crate::ingest::{self, FROM_PRIMARY, Prepared, Provenance};
use crate::input::Actor;
use crate::input::{CapContribution, Contribution};
use crate::ir::{BinOp, Expr, Fold, Ir, Mode, Node, NodeId, Stat, StatId, TagSet, UnOp};
use crate::rules::Rules;
use crate::snapshot::Snapshot;
use crate::syntax::{PREC_ATOM, PREC_NEG, PREC_NOT};

// ---------------------------------------------------------------------------------------
// The rule.

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

fn constants(ir: &Ir, ids: &[crate::ir::ConstId]) -> Vec<ConstantValue> {
    ids.iter()
        .map(|&c| ConstantValue { name: ir.constants[c.index()].name.clone(), value: ir.constants[c.index()].value })
        .collect()
}

/// Every `lookup` and `at` of `e`, evaluated again with the stats' values in `snap`.
fn points_reads(ir: &Ir, e: Option<Expr>, snap: &Snapshot) -> Vec<PointsRead> {
    let Some(e) = e.filter(|e| ir.nodes[e.range()].iter().any(|n| matches!(n, Node::Lookup(..) | Node::At(..)))) else {
        return Vec::new();
    };
    let values: Vec<f64> =
        ir.stat_ids().map(|s| snap.entry(s).filter(|x| x.has_value()).map_or(0.0, |x| x.value)).collect();
    let mut buf = vec![0.0; e.end as usize];
    eval::eval_expr(ir, e, &values, 0.0, 0.0, &mut buf);
    e.range()
        .filter_map(|i| match ir.nodes[i] {
            Node::Lookup(t, k) => Some(PointsRead {
                function: "lookup",
                name: ir.tables[t.index()].name.clone(),
                argument: buf[k.index()],
                result: buf[i],
                segment: None,
            }),
            Node::At(c, x) => {
                let curve = &ir.curves[c.index()];
                let point = |k: usize| [curve.xs[k], curve.ys[k]];
                let segment = crate::num::segment(&curve.xs, buf[x.index()]).map(|s| match s {
                    crate::num::Segment::Before => SegmentUsed { position: "before", points: vec![point(0)] },
                    crate::num::Segment::Between(k) => {
                        SegmentUsed { position: "between", points: vec![point(k), point(k + 1)] }
                    }
                    crate::num::Segment::After => {
                        SegmentUsed { position: "after", points: vec![point(curve.xs.len() - 1)] }
                    }
                });
                Some(PointsRead {
                    function: "at",
                    name: curve.name.clone(),
                    argument: buf[x.index()],
                    result: buf[i],
                    segment,
                })
            }
            _ => None,
        })
        .collect()
}

fn names(ir: &Ir, ids: &[StatId]) -> Vec<String> {
    ids.iter().map(|&s| ir.stat(s).name.clone()).collect()
}

pub(super) fn rule_of(rules: &Rules, id: StatId) -> RuleExplanation {
    let ir = &rules.ir;
    let src = &rules.sources;
    let s = ir.stat(id);
    let base = match (&s.formula_text, s.default) {
        (Some(t), _) => BaseRule {
            source: "formula",
            text: t.clone(),
            reads: names(ir, &stats_read(ir, &[s.formula])),
            constants: constants(ir, &s.constants),
        },
        (None, Some(d)) => BaseRule { source: "default", text: fmt_num(d), reads: vec![], constants: vec![] },
        (None, None) => BaseRule { source: "zero", text: "0".into(), reads: vec![], constants: vec![] },
    };
    let range = RangeRule {
        min: s.min_text.as_deref().map_or_else(|| "-inf".into(), one_line),
        max: s.max_text.as_deref().map_or_else(|| "inf".into(), one_line),
        reads: names(ir, &stats_read(ir, &[s.min, s.max])),
        constants: constants(ir, &s.range_constants),
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
                        fold: b.fold.keyword(),
                        apply: pretty(ir, b.apply, &Subst::plain()).0,
                        step: bucket_step_text(ir, b),
                        location: src.location(b.span),
                    }
                })
                .collect();
            ("pipeline", Some(PipelineRule { name: p.name.clone(), location: src.location(p.span), steps }), None)
        }
        Mode::Operator(op) => ("operator", None, Some(op.keyword())),
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
        category: s.category.keyword(),
        location: src.location(s.span),
        doc: s.doc.clone(),
        whiteboard: whiteboard(ir, s),
        base,
        range,
        mode,
        pipeline,
        operator,
        policy: ir.policy().keyword(),
        layers,
        view: s.view.as_ref().map(|v| ViewRule {
            source: ir.stat(v.source).name.clone(),
            source_location: src.location(ir.stat(v.source).span),
            with: v.listed.clone(),
            tags: tag_names(ir, &v.tags),
        }),
        views: names(ir, ir.views_of(id)),
    }
}

fn tag_names(ir: &Ir, tags: &TagSet) -> Vec<String> {
    tags.iter().map(|t| ir.tags[t.index()].name.clone()).collect()
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
        Mode::Operator(op) => cur = (format!("{}(contributions) ?? {}", op.keyword(), paren(cur, ATOM)), 0),
    }
    let lo = s.min.map_or("-inf".to_string(), |e| pretty(ir, e, &Subst { fancy: true, ..Subst::plain() }).0);
    let hi = s.max.map_or("inf".to_string(), |e| pretty(ir, e, &Subst { fancy: true, ..Subst::plain() }).0);
    format!("{} = clamp({}, {lo}, {hi})", s.name, cur.0)
}

const ATOM: u8 = PREC_ATOM;

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

/// Minimally parenthesised text of an expression (precedence: `if` 0, then as in the
/// language: `or` 1, `and` 2, `not` 3, comparisons 4, `+` 5, `×` 6, unary minus 7, atoms
/// and calls 9). Written from the root with a stack of pieces still to
/// write (no recursion, no copy of a child's text), so a chain of 100,000 operations takes
/// linear time.
fn pretty(ir: &Ir, e: Expr, sub: &Subst) -> (String, u8) {
    enum Piece {
        /// A node, in parentheses when it binds weaker than the precedence given.
        Node(NodeId, u8),
        Text(&'static str),
    }
    let prec = |id: NodeId| match ir.nodes[id.index()] {
        Node::Value => sub.value.1,
        Node::X => sub.x.1,
        Node::Unary(UnOp::Neg, _) => PREC_NEG,
        Node::Unary(UnOp::Not, _) => PREC_NOT,
        Node::Binary(op, ..) if !op.is_function() => binary_prec(op).0,
        Node::Select(..) => 0,
        _ => ATOM,
    };
    let mut out = String::new();
    if e.range().is_empty() {
        return (out, ATOM);
    }
    let mut todo = vec![Piece::Node(e.root(), 0)];
    while let Some(piece) = todo.pop() {
        let (id, need) = match piece {
            Piece::Text(t) => {
                out.push_str(t);
                continue;
            }
            Piece::Node(id, need) => (id, need),
        };
        if prec(id) < need {
            out.push('(');
            todo.push(Piece::Text(")"));
        }
        match ir.nodes[id.index()] {
            Node::Const(v) => out.push_str(&fmt_num(v)),
            Node::Stat(s) => out.push_str(&ir.stat(s).name),
            Node::Value => out.push_str(&sub.value.0),
            Node::X => out.push_str(&sub.x.0),
            Node::Unary(UnOp::Neg, a) => {
                out.push('-');
                todo.push(Piece::Node(a, PREC_NEG));
            }
            Node::Unary(UnOp::Not, a) => {
                out.push_str("not ");
                todo.push(Piece::Node(a, PREC_NOT));
            }
            Node::Lookup(t, k) => {
                out.push_str(&format!("lookup({}, ", ir.tables[t.index()].name));
                todo.extend([Piece::Text(")"), Piece::Node(k, 0)]);
            }
            Node::At(c, x) => {
                out.push_str(&format!("at({}, ", ir.curves[c.index()].name));
                todo.extend([Piece::Text(")"), Piece::Node(x, 0)]);
            }
            Node::Unary(op, a) => {
                out.push_str(op.name());
                out.push('(');
                todo.extend([Piece::Text(")"), Piece::Node(a, 0)]);
            }
            Node::Binary(op, a, b) if op.is_function() => {
                out.push_str(op.keyword());
                out.push('(');
                todo.extend([Piece::Text(")"), Piece::Node(b, 0), Piece::Text(", "), Piece::Node(a, 0)]);
            }
            Node::Binary(op, a, b) => {
                let (prec, right_assoc_ok) = binary_prec(op);
                let sym = if op == BinOp::Mul && sub.fancy { "×" } else { op.keyword() };
                let left_need = if prec == PREC_COMPARE { prec + 1 } else { prec };
                let right_need = if right_assoc_ok { prec } else { prec + 1 };
                todo.extend([Piece::Node(b, right_need), Piece::Text(" "), Piece::Text(sym), Piece::Text(" ")]);
                todo.push(Piece::Node(a, left_need));
            }
            Node::Select(c, a, b) => {
                out.push_str("if ");
                todo.extend([Piece::Node(b, 0), Piece::Text(" else "), Piece::Node(a, 1), Piece::Text(" then ")]);
                todo.push(Piece::Node(c, 0));
            }
        }
    }
    let root = prec(e.root());
    (out, root)
}

/// An operator's precedence, and whether its right operand may be of the same precedence
/// without parentheses (`a + (b + c)` is `a + b + c`, `a - (b - c)` is not `a - b - c`).
fn binary_prec(op: BinOp) -> (u8, bool) {
    match op {
        BinOp::Or => (1, true),
        BinOp::And => (2, true),
        BinOp::Add => (5, true),
        BinOp::Sub => (5, false),
        BinOp::Mul => (6, true),
        BinOp::Div | BinOp::Rem => (6, false),
        _ => (PREC_COMPARE, false),
    }
}

const PREC_COMPARE: u8 = 4;

/// Source text on one line (runs of whitespace become one space).
fn one_line(t: &str) -> String {
    t.split_whitespace().collect::<Vec<_>>().join(" ")
}

// ---------------------------------------------------------------------------------------
// The evaluation.

/// Records the steps of one stat as the interpreter evaluates it.
#[derive(Default)]
pub(super) struct Collector {
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

impl Collector {
    pub(super) fn for_stat(target: StatId) -> Collector {
        Collector { target: Some(target), ..Collector::default() }
    }
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

/// Caps are listed in the order of their modes (`BASELINE` first), as ingest reduces them.
fn cap_mode_order(mode: &str) -> Option<ingest::CapMode> {
    ingest::CapMode::from_keyword(mode)
}

fn input_values(ir: &Ir, snap: &Snapshot, ids: &[StatId]) -> Vec<InputValue> {
    ids.iter()
        .map(|&s| InputValue {
            stat: ir.stat(s).name.clone(),
            value: snap.entry(s).filter(|e| e.has_value()).map(|e| e.value),
        })
        .collect()
}

pub(super) fn build(
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
            let input = contribution_input(actor, prov.values[i]);
            contributions.push(ContributionRow { index: i - first_value, input, outcome: None });
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
                fold: b.fold.keyword(),
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
        let with_formula = source == "formula";
        BaseStep {
            source,
            text,
            value,
            inputs: input_values(ir, snap, &stats_read(ir, &[s.formula])),
            constants: if with_formula { constants(ir, &s.constants) } else { Vec::new() },
            reads: points_reads(ir, s.formula, snap),
        }
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
                requires: requires(&c.requires),
            },
        ))
    };
    let (not_applied, caps_not_applied) = not_applied(ir, actor, prov, id, &cap_row);
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
        context: context(ir, actor, id),
        contributions,
        not_applied,
        base,
        buckets,
        operator: t.operator,
        range,
        layers,
        caps_not_applied,
        min,
        max,
        clamp,
        failure: None,
    }
}

/// The contribution an origin points at, and the list it is in.
/// The contribution at `o` in the actor's input (its value is the prepared one: ingest
/// copies it).
fn contribution_input(actor: &Actor, o: ingest::Origin) -> ContributionInput {
    let sub = &actor.subsystems[o.subsystem as usize];
    let (list, c): (_, &Contribution) = if o.list == FROM_PRIMARY {
        ("primary", &sub.primary[o.index as usize])
    } else {
        ("derived", &sub.derived[o.index as usize])
    };
    ContributionInput {
        subsystem: o.subsystem,
        subsystem_system: sub.meta.system.to_string(),
        system: c.system.to_string(),
        list,
        bucket: c.bucket.to_string(),
        priority: c.priority.unwrap_or(0),
        value: c.value,
        requires: requires(&c.requires),
        stack: stack_ref(c),
    }
}

fn requires(r: &[crate::input::Name]) -> Vec<String> {
    r.iter().map(|r| r.to_string()).collect()
}

fn stack_ref(c: &Contribution) -> Option<StackRef> {
    c.stack.as_ref().map(|s| StackRef { group: s.group().to_string(), key: s.key().to_string() })
}

/// The context `stat` is evaluated in, when the rules declare tags, stacks or views.
fn context(ir: &Ir, actor: &Actor, stat: StatId) -> Option<Context> {
    if !ir.is_situational() {
        return None;
    }
    let mut own = TagSet::empty(ir.tags.len());
    for t in &actor.tags {
        if let Some(&id) = ir.tag_ids.get(t) {
            own.insert(id);
        }
    }
    let view = ir.stat(stat).view.as_ref().map_or_else(|| TagSet::empty(ir.tags.len()), |v| v.tags.clone());
    Some(Context { actor: tag_names(ir, &own), view: tag_names(ir, &view), tags: tag_names(ir, &own.union(&view)) })
}

/// The position of `bucket` in `stat`'s pipeline (0 for an operator stat).
fn slot(ir: &Ir, stat: StatId, bucket: &str) -> usize {
    match ir.stat(stat).mode {
        Mode::Operator(_) => 0,
        Mode::Pipeline(p) => ir.pipeline(p).buckets.iter().position(|&b| ir.bucket(b).name == bucket).unwrap_or(0),
    }
}

/// The contributions and caps of `stat` that do not apply, each in canonical order.
fn not_applied(
    ir: &Ir,
    actor: &Actor,
    prov: &Provenance,
    stat: StatId,
    cap_row: &dyn Fn(ingest::Origin) -> Option<(bool, CapRow)>,
) -> (Vec<NotAppliedRow>, Vec<CapNotApplied>) {
    let mut rows = Vec::new();
    let mut caps = Vec::new();
    for (_, o, fate) in prov.fates.entries.iter().filter(|(s, _, _)| *s == stat) {
        if o.list == 0 {
            let Some((_, cap)) = cap_row(*o) else { continue };
            let c: &CapContribution = &actor.subsystems[o.subsystem as usize].caps[o.index as usize];
            let layer = match &c.scope {
                Some(scope) => ir.layer_ids.get(scope).copied(),
                None => ir.unscoped,
            };
            let layer = layer.map_or_else(String::new, |l| ir.layers[l.index()].name.clone());
            caps.push(CapNotApplied { layer, cap, fate: fate.clone() });
            continue;
        }
        rows.push(NotAppliedRow { input: contribution_input(actor, *o), fate: fate.clone() });
    }
    rows.sort_by(|a, b| {
        let (a, b) = (&a.input, &b.input);
        (slot(ir, stat, &a.bucket), std::cmp::Reverse(a.priority), &a.system)
            .cmp(&(slot(ir, stat, &b.bucket), std::cmp::Reverse(b.priority), &b.system))
            .then(a.value.total_cmp(&b.value))
    });
    let layer_index = |name: &str| ir.layer_ids.get(name).map_or(usize::MAX, |l| l.index());
    caps.sort_by(|a, b| {
        let key = |c: &CapNotApplied| {
            (layer_index(&c.layer), c.cap.kind != "max", cap_mode_order(&c.cap.mode), std::cmp::Reverse(c.cap.priority))
        };
        key(a).cmp(&key(b)).then(a.cap.system.cmp(&b.cap.system)).then(a.cap.value.total_cmp(&b.cap.value))
    });
    (rows, caps)
}
