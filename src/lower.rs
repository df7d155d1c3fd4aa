//! Lower: checked AST → [`Ir`]. Runs only after [`check`](crate::check) found no errors.

use crate::check::Checked;
use crate::ir::*;
use crate::source::SourceMap;
use crate::syntax::{self, ClauseKind, ExprKind};
use rustc_hash::FxHashMap;

/// Why a keyword or function name always resolves here: [`check`](crate::check) reports
/// every unknown one (E0105, E0106), and lowering runs only on rules without errors.
const CHECKED: &str = "lowering runs only on checked rules, and check rejects unknown names";

pub fn lower(checked: &Checked, sources: &SourceMap) -> Ir {
    let mut ir = Ir {
        stats: Vec::new(),
        buckets: Vec::new(),
        pipelines: Vec::new(),
        layers: Vec::new(),
        policy: None,
        unscoped: None,
        nodes: Vec::new(),
        schema: Default::default(),
        slot_base: Vec::new(),
        stat_ids: NameMap::default(),
        bucket_ids: NameMap::default(),
        layer_ids: NameMap::default(),
        tags: Vec::new(),
        tag_groups: Vec::new(),
        stacks: Vec::new(),
        tag_ids: NameMap::default(),
        tag_group_ids: NameMap::default(),
        stack_ids: NameMap::default(),
        views_of: Vec::new(),
        view_ids: Vec::new(),
        constants: Vec::new(),
        tables: Vec::new(),
        curves: Vec::new(),
        const_ids: NameMap::default(),
        table_ids: NameMap::default(),
        curve_ids: NameMap::default(),
    };
    lower_situations(checked, &mut ir);
    lower_values(checked, &mut ir);
    let constants: FxHashMap<&str, f64> = checked.values.constants.iter().map(|(&n, &v)| (n, v)).collect();
    let constant = |n: &str| constants.get(n).map(|&v| Node::Const(v));
    for b in &checked.buckets {
        ir.bucket_ids.insert(&b.name.name, BucketId(ir.buckets.len() as u32));
        let fold = Fold::from_keyword(&b.fold.name).expect(CHECKED);
        let apply = lower_expr(&mut ir, &b.apply, &|n| constant(n));
        ir.buckets.push(Bucket { name: b.name.name.clone(), fold, apply, span: b.name.span });
    }
    let mut pipeline_ids = FxHashMap::default();
    for p in &checked.pipelines {
        pipeline_ids.insert(p.name.name.as_str(), PipelineId(ir.pipelines.len() as u32));
        let buckets = p.buckets.iter().filter_map(|b| ir.bucket_ids.get(&b.name).copied()).collect();
        ir.pipelines.push(Pipeline { name: p.name.name.clone(), buckets, span: p.name.span });
    }
    let default_pipeline = checked.default_pipeline.and_then(|p| pipeline_ids.get(p.name.as_str()).copied());
    if let Some(l) = checked.layers {
        for layer in &l.layers {
            ir.layer_ids.insert(&layer.name.name, LayerId(ir.layers.len() as u32));
            ir.layers.push(Layer {
                name: layer.name.name.clone(),
                requires_realm: layer.requires.is_some(),
                span: layer.name.span,
            });
        }
        ir.policy = l.policies.first().map(|p| Policy::from_keyword(&p.name).expect(CHECKED));
        ir.unscoped = l.unscoped.first().and_then(|u| ir.layer_ids.get(&u.name).copied());
    }
    // Ids follow dependency order, so every reference points backwards.
    let n = checked.stats.len();
    let name_of = |i: usize| if i < n { &checked.stats[i].1.name } else { &checked.views[i - n].1.name };
    for (new, &old) in checked.order.iter().enumerate() {
        ir.stat_ids.insert(&name_of(old).name, StatId(new as u32));
    }
    let stat_ids = std::mem::take(&mut ir.stat_ids);
    let resolve = |n: &str| stat_ids.get(n).map(|&id| Node::Stat(id)).or_else(|| constant(n));
    for &old in &checked.order {
        // A view takes its source's declaration, under its own name.
        let (item, s, view) = match checked.stats.get(old) {
            Some(&(item, s)) => (item, s, None),
            None => {
                let (item, v, source) = checked.views[old - n];
                let s = checked.stats[source].1;
                let source = stat_ids.get(&s.name.name).copied().expect(CHECKED);
                let mut tags = TagSet::empty(ir.tags.len());
                for t in &v.tags {
                    match (ir.tag_ids.get(&t.name), ir.tag_group_ids.get(&t.name)) {
                        (Some(&tag), _) => tags.insert(tag),
                        (None, Some(&g)) => tags = tags.union(&ir.tag_groups[g.index()].members),
                        (None, None) => unreachable!("{CHECKED}"),
                    }
                }
                let listed = v.tags.iter().map(|t| t.name.clone()).collect();
                (item, s, Some((&v.name, View { number: 0, source, tags, listed })))
            }
        };
        let mut stat = Stat {
            name: s.name.name.clone(),
            category: s.category,
            mode: Mode::Pipeline(default_pipeline.unwrap_or(PipelineId(0))),
            formula: None,
            min: None,
            max: None,
            default: None,
            deps: Vec::new(),
            doc: item.doc.clone(),
            span: s.name.span,
            formula_text: None,
            min_text: None,
            max_text: None,
            view: None,
            constants: Vec::new(),
            range_constants: Vec::new(),
        };
        if let Some((name, view)) = view {
            stat.name = name.name.clone();
            stat.span = name.span;
            stat.view = Some(view);
        }
        for c in &s.clauses {
            match &c.kind {
                ClauseKind::Formula(e) => {
                    stat.formula = Some(lower_expr(&mut ir, e, &resolve));
                    stat.formula_text = Some(sources.snippet(e.span).to_string());
                }
                ClauseKind::Range(lo, hi) => {
                    stat.min = Some(lower_expr(&mut ir, lo, &resolve));
                    stat.max = Some(lower_expr(&mut ir, hi, &resolve));
                    stat.min_text = Some(sources.snippet(lo.span).to_string());
                    stat.max_text = Some(sources.snippet(hi.span).to_string());
                }
                ClauseKind::Merge(m) => {
                    stat.mode = Mode::Operator(Operator::from_keyword(&m.name).expect(CHECKED));
                }
                ClauseKind::Pipeline(p) => {
                    if let Some(&id) = pipeline_ids.get(p.name.as_str()) {
                        stat.mode = Mode::Pipeline(id);
                    }
                }
                ClauseKind::Default(e) => stat.default = checked.values.eval(e),
            }
        }
        for c in &s.clauses {
            match &c.kind {
                ClauseKind::Formula(e) => stat.constants = constants_named(&ir, &[e]),
                ClauseKind::Range(lo, hi) => stat.range_constants = constants_named(&ir, &[lo, hi]),
                _ => {}
            }
        }
        let mut deps: Vec<StatId> = Vec::new();
        for e in [stat.formula, stat.min, stat.max].into_iter().flatten() {
            for n in &ir.nodes[e.range()] {
                if let Node::Stat(d) = n {
                    deps.push(*d);
                }
            }
        }
        deps.sort_unstable();
        deps.dedup();
        stat.deps = deps;
        ir.stats.push(stat);
    }
    ir.stat_ids = stat_ids;
    if !checked.views.is_empty() {
        ir.views_of = vec![Vec::new(); ir.stats.len()];
        for (id, s) in ir.stats.iter_mut().enumerate() {
            if let Some(v) = &mut s.view {
                v.number = ir.view_ids.len() as u32;
                ir.view_ids.push(StatId(id as u32));
                ir.views_of[v.source.index()].push(StatId(id as u32));
            }
        }
    }
    let mut next = 0;
    ir.slot_base = Vec::with_capacity(ir.stats.len() + 1);
    for s in &ir.stats {
        ir.slot_base.push(next);
        next += match s.mode {
            Mode::Pipeline(p) => ir.pipelines[p.index()].buckets.len() as u32,
            Mode::Operator(_) => 1,
        };
    }
    ir.slot_base.push(next);
    let constant = |e: Option<Expr>, unbounded: f64| e.map_or(Some(unbounded), |e| ir.constant(e));
    let default_ranges =
        ir.stats.iter().map(|s| Some((constant(s.min, f64::NEG_INFINITY)?, constant(s.max, f64::INFINITY)?))).collect();
    let names = ir.stats.iter().map(|s| s.name.clone()).collect();
    ir.schema = std::sync::Arc::new(Schema { names, default_ranges });
    ir
}

/// Tags, tag groups and stacking groups, in declaration order.
fn lower_situations(checked: &Checked, ir: &mut Ir) {
    for t in &checked.tags {
        ir.tag_ids.insert(&t.name, TagId(ir.tags.len() as u32));
        ir.tags.push(Tag { name: t.name.clone(), span: t.span });
    }
    for g in &checked.tag_groups {
        let mut members = TagSet::empty(ir.tags.len());
        for m in &g.members {
            members.insert(*ir.tag_ids.get(&m.name).expect(CHECKED));
        }
        ir.tag_group_ids.insert(&g.name.name, TagGroupId(ir.tag_groups.len() as u32));
        ir.tag_groups.push(TagGroup { name: g.name.name.clone(), members, span: g.name.span });
    }
    for st in &checked.stacks {
        ir.stack_ids.insert(&st.name.name, StackId(ir.stacks.len() as u32));
        let keep = Keep::from_keyword(&st.keep.name).expect(CHECKED);
        ir.stacks.push(StackGroup { name: st.name.name.clone(), limit: st.limit as u32, keep, span: st.name.span });
    }
}

/// Constants, tables and curves, in declaration order, with the values check folded.
fn lower_values(checked: &Checked, ir: &mut Ir) {
    for (item, c) in &checked.constants {
        let value = *checked.values.constants.get(c.name.name.as_str()).expect(CHECKED);
        ir.const_ids.insert(&c.name.name, ConstId(ir.constants.len() as u32));
        ir.constants.push(Constant { name: c.name.name.clone(), value, doc: item.doc.clone(), span: c.name.span });
    }
    let points = |(item, t): &(&syntax::Item, &syntax::PointsDecl), folded: &FxHashMap<&str, (Vec<f64>, Vec<f64>)>| {
        let (xs, ys) = folded.get(t.name.name.as_str()).expect(CHECKED);
        let (xs, ys) = (xs.clone().into(), ys.clone().into());
        Points { name: t.name.name.clone(), xs, ys, doc: item.doc.clone(), span: t.name.span }
    };
    for t in &checked.tables {
        ir.table_ids.insert(&t.1.name.name, TableId(ir.tables.len() as u32));
        ir.tables.push(points(t, &checked.values.tables));
    }
    for c in &checked.curves {
        ir.curve_ids.insert(&c.1.name.name, CurveId(ir.curves.len() as u32));
        ir.curves.push(points(c, &checked.values.curves));
    }
}

/// The constants `exprs` name, in order of first mention.
fn constants_named(ir: &Ir, exprs: &[&syntax::Expr]) -> Vec<ConstId> {
    let mut out = Vec::new();
    for e in exprs {
        e.for_each_name(&mut |n, _| {
            if let Some(&id) = ir.const_ids.get(n)
                && !out.contains(&id)
            {
                out.push(id);
            }
        });
    }
    out
}

fn lower_expr(ir: &mut Ir, e: &syntax::Expr, resolve: &dyn Fn(&str) -> Option<Node>) -> Expr {
    let start = ir.nodes.len() as u32;
    emit(ir, e, resolve);
    Expr { start, end: ir.nodes.len() as u32 }
}

fn push(ir: &mut Ir, n: Node) -> NodeId {
    ir.nodes.push(n);
    NodeId(ir.nodes.len() as u32 - 1)
}

fn emit(ir: &mut Ir, e: &syntax::Expr, resolve: &dyn Fn(&str) -> Option<Node>) -> NodeId {
    match &e.kind {
        ExprKind::Number(v) => push(ir, Node::Const(*v)),
        ExprKind::Name(n) => {
            let node = match n.as_str() {
                "value" => resolve(n).unwrap_or(Node::Value),
                "x" => resolve(n).unwrap_or(Node::X),
                _ => resolve(n).expect(CHECKED),
            };
            push(ir, node)
        }
        ExprKind::Neg(a) => {
            let a = emit(ir, a, resolve);
            push(ir, Node::Unary(UnOp::Neg, a))
        }
        ExprKind::Not(a) => {
            let a = emit(ir, a, resolve);
            push(ir, Node::Unary(UnOp::Not, a))
        }
        ExprKind::Power(a, b) => {
            let a = emit(ir, a, resolve);
            let b = emit(ir, b, resolve);
            push(ir, Node::Binary(BinOp::Pow, a, b))
        }
        ExprKind::Chain(first, rest) => {
            // Left to right, as `(a + b) - c`: the nodes a tree of binary operations gives.
            let mut acc = emit(ir, first, resolve);
            for (op, operand) in rest {
                let b = emit(ir, operand, resolve);
                acc = push(ir, Node::Binary(BinOp::from(*op), acc, b));
            }
            acc
        }
        ExprKind::If(c, t, f) => {
            let c = emit(ir, c, resolve);
            let t = emit(ir, t, resolve);
            let f = emit(ir, f, resolve);
            push(ir, Node::Select(c, t, f))
        }
        ExprKind::Call(f, args) => {
            let function = Function::from_name(&f.name).expect(CHECKED);
            if let (Function::Lookup | Function::At, [points, x]) = (function, args.as_slice()) {
                let syntax::ExprKind::Name(name) = &points.kind else { unreachable!("{CHECKED}") };
                let x = emit(ir, x, resolve);
                let node = match function {
                    Function::Lookup => Node::Lookup(*ir.table_ids.get(name).expect(CHECKED), x),
                    _ => Node::At(*ir.curve_ids.get(name).expect(CHECKED), x),
                };
                return push(ir, node);
            }
            let ids: Vec<NodeId> = args.iter().map(|a| emit(ir, a, resolve)).collect();
            match function {
                function @ (Function::Min | Function::Max) => {
                    let op = if function == Function::Min { BinOp::Min } else { BinOp::Max };
                    let mut acc = ids[0];
                    for &b in &ids[1..] {
                        acc = push(ir, Node::Binary(op, acc, b));
                    }
                    acc
                }
                Function::Clamp => {
                    let lo = push(ir, Node::Binary(BinOp::Max, ids[0], ids[1]));
                    push(ir, Node::Binary(BinOp::Min, lo, ids[2]))
                }
                Function::Pow => push(ir, Node::Binary(BinOp::Pow, ids[0], ids[1])),
                Function::Unary(op) => push(ir, Node::Unary(op, ids[0])),
                Function::Lookup | Function::At => unreachable!("{CHECKED}"),
            }
        }
    }
}
