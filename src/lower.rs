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
    };
    for b in &checked.buckets {
        ir.bucket_ids.insert(&b.name.name, BucketId(ir.buckets.len() as u32));
        let fold = Fold::from_keyword(&b.fold.name).expect(CHECKED);
        let apply = lower_expr(&mut ir, &b.apply, &|_| None);
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
    for (new, &old) in checked.order.iter().enumerate() {
        ir.stat_ids.insert(&checked.stats[old].1.name.name, StatId(new as u32));
    }
    let stat_ids = std::mem::take(&mut ir.stat_ids);
    let resolve = |n: &str| stat_ids.get(n).map(|&id| Node::Stat(id));
    for &old in &checked.order {
        let (item, s) = checked.stats[old];
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
        };
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
                ClauseKind::Default(e) => stat.default = crate::check::const_eval(e),
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
        ExprKind::Chain(first, rest) => {
            // Left to right, as `(a + b) - c`: the nodes a tree of binary operations gives.
            let mut acc = emit(ir, first, resolve);
            for (op, operand) in rest {
                let b = emit(ir, operand, resolve);
                acc = push(ir, Node::Binary(binop(*op), acc, b));
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
            let ids: Vec<NodeId> = args.iter().map(|a| emit(ir, a, resolve)).collect();
            match Function::from_name(&f.name).expect(CHECKED) {
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
            }
        }
    }
}

fn binop(op: syntax::BinOp) -> BinOp {
    use syntax::BinOp as S;
    match op {
        S::Add => BinOp::Add,
        S::Sub => BinOp::Sub,
        S::Mul => BinOp::Mul,
        S::Div => BinOp::Div,
        S::Lt => BinOp::Lt,
        S::Le => BinOp::Le,
        S::Gt => BinOp::Gt,
        S::Ge => BinOp::Ge,
        S::Eq => BinOp::Eq,
        S::Ne => BinOp::Ne,
    }
}
