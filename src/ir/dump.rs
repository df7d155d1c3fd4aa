//! A stable text form of the IR (`actorc check --emit ir`), compared by golden tests.

use super::*;
use std::fmt::Write;

pub fn dump(ir: &Ir) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "policy {}", policy_name(ir.policy()));
    for (i, l) in ir.layers.iter().enumerate() {
        let unscoped = if ir.unscoped == Some(LayerId(i as u32)) { " unscoped" } else { "" };
        let realm = if l.requires_realm { " requires realm" } else { "" };
        let _ = writeln!(out, "layer L{i} {}{realm}{unscoped}", l.name);
    }
    for (i, b) in ir.buckets.iter().enumerate() {
        let _ = writeln!(out, "bucket B{i} {} fold {} apply {}", b.name, fold_name(b.fold), expr_text(ir, b.apply));
    }
    for (i, p) in ir.pipelines.iter().enumerate() {
        let names: Vec<String> = p.buckets.iter().map(|b| format!("B{}", b.0)).collect();
        let _ = writeln!(out, "pipeline P{i} {} = {}", p.name, names.join(", "));
    }
    for (i, s) in ir.stats.iter().enumerate() {
        let mode = match s.mode {
            Mode::Pipeline(p) => format!("pipeline P{}", p.0),
            Mode::Operator(op) => format!("merge {}", operator_name(op)),
        };
        let cat = match s.category {
            crate::syntax::Category::Primary => "primary",
            crate::syntax::Category::Derived => "derived",
        };
        let _ = write!(out, "stat S{i} {} {cat} {mode}", s.name);
        if let Some(f) = s.formula {
            let _ = write!(out, " = {}", expr_text(ir, f));
        }
        let bound = |e: Option<Expr>, inf: &str| e.map_or(inf.to_string(), |e| expr_text(ir, e));
        let _ = write!(out, " in {} .. {}", bound(s.min, "-inf"), bound(s.max, "inf"));
        if let Some(d) = s.default {
            let _ = write!(out, " default {}", num(d));
        }
        out.push('\n');
    }
    out
}

pub fn policy_name(p: Policy) -> &'static str {
    match p {
        Policy::Intersect => "intersect",
        Policy::PrioritizedOverride => "prioritized_override",
    }
}

pub fn fold_name(f: Fold) -> &'static str {
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

pub fn operator_name(op: Operator) -> &'static str {
    match op {
        Operator::Sum => "sum",
        Operator::Max => "max",
        Operator::Min => "min",
        Operator::Average => "average",
        Operator::Multiply => "multiply",
    }
}

fn num(v: f64) -> String {
    format!("{v:?}")
}

/// Fully parenthesised text of an expression; stats are written `name#id`.
pub fn expr_text(ir: &Ir, e: Expr) -> String {
    let mut texts: Vec<String> = Vec::with_capacity(e.range().len());
    let get = |texts: &Vec<String>, id: NodeId| texts[id.index() - e.start as usize].clone();
    for node in &ir.nodes[e.range()] {
        let t = match *node {
            Node::Const(v) => num(v),
            Node::Stat(s) => format!("{}#{}", ir.stat(s).name, s.0),
            Node::Value => "value".into(),
            Node::X => "x".into(),
            Node::Unary(UnOp::Neg, a) => format!("-{}", get(&texts, a)),
            Node::Unary(op, a) => format!("{}({})", unop_name(op), get(&texts, a)),
            Node::Binary(op, a, b) => match binop_symbol(op) {
                Some(sym) => format!("({} {sym} {})", get(&texts, a), get(&texts, b)),
                None => format!("{}({}, {})", binop_fn(op), get(&texts, a), get(&texts, b)),
            },
            Node::Select(c, a, b) => {
                format!("(if {} then {} else {})", get(&texts, c), get(&texts, a), get(&texts, b))
            }
        };
        texts.push(t);
    }
    texts.pop().unwrap_or_default()
}

pub fn unop_name(op: UnOp) -> &'static str {
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

pub fn binop_symbol(op: BinOp) -> Option<&'static str> {
    Some(match op {
        BinOp::Add => "+",
        BinOp::Sub => "-",
        BinOp::Mul => "*",
        BinOp::Div => "/",
        BinOp::Lt => "<",
        BinOp::Le => "<=",
        BinOp::Gt => ">",
        BinOp::Ge => ">=",
        BinOp::Eq => "==",
        BinOp::Ne => "!=",
        _ => return None,
    })
}

fn binop_fn(op: BinOp) -> &'static str {
    match op {
        BinOp::Min => "min",
        BinOp::Max => "max",
        _ => "pow",
    }
}
