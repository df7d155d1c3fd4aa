//! A stable text form of the IR (`actorc check --emit ir`), compared by golden tests.

use super::*;
use std::fmt::Write;

pub fn dump(ir: &Ir) -> String {
    let mut out = String::new();
    write_dump(ir, &mut out).expect("writing to a String cannot fail");
    out
}

fn write_dump(ir: &Ir, out: &mut String) -> std::fmt::Result {
    writeln!(out, "policy {}", ir.policy().keyword())?;
    for (i, l) in ir.layers.iter().enumerate() {
        let unscoped = if ir.unscoped == Some(LayerId(i as u32)) { " unscoped" } else { "" };
        let realm = if l.requires_realm { " requires realm" } else { "" };
        writeln!(out, "layer L{i} {}{realm}{unscoped}", l.name)?;
    }
    for (i, b) in ir.buckets.iter().enumerate() {
        writeln!(out, "bucket B{i} {} fold {} apply {}", b.name, b.fold.keyword(), expr_text(ir, b.apply))?;
    }
    for (i, p) in ir.pipelines.iter().enumerate() {
        let names: Vec<String> = p.buckets.iter().map(|b| format!("B{}", b.0)).collect();
        writeln!(out, "pipeline P{i} {} = {}", p.name, names.join(", "))?;
    }
    for (i, t) in ir.tags.iter().enumerate() {
        writeln!(out, "tag T{i} {}", t.name)?;
    }
    for (i, g) in ir.tag_groups.iter().enumerate() {
        writeln!(out, "tag group G{i} {} = {}", g.name, tag_ids(&g.members))?;
    }
    for (i, k) in ir.stacks.iter().enumerate() {
        writeln!(out, "stack K{i} {} limit {} keep {}", k.name, k.limit, k.keep.keyword())?;
    }
    for (i, s) in ir.stats.iter().enumerate() {
        let mode = match s.mode {
            Mode::Pipeline(p) => format!("pipeline P{}", p.0),
            Mode::Operator(op) => format!("merge {}", op.keyword()),
        };
        let cat = s.category.keyword();
        write!(out, "stat S{i} {} {cat} {mode}", s.name)?;
        if let Some(f) = s.formula {
            write!(out, " = {}", expr_text(ir, f))?;
        }
        let bound = |e: Option<Expr>, inf: &str| e.map_or(inf.to_string(), |e| expr_text(ir, e));
        write!(out, " in {} .. {}", bound(s.min, "-inf"), bound(s.max, "inf"))?;
        if let Some(d) = s.default {
            write!(out, " default {}", num(d))?;
        }
        if let Some(v) = &s.view {
            write!(out, " view of S{} with {}", v.source.0, tag_ids(&v.tags))?;
        }
        out.push('\n');
    }
    Ok(())
}

/// `T0, T4`.
fn tag_ids(tags: &TagSet) -> String {
    tags.iter().map(|t| format!("T{}", t.0)).collect::<Vec<_>>().join(", ")
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
            Node::Unary(op, a) => format!("{}({})", op.name(), get(&texts, a)),
            Node::Binary(op, a, b) if op.is_function() => {
                format!("{}({}, {})", op.keyword(), get(&texts, a), get(&texts, b))
            }
            Node::Binary(op, a, b) => format!("({} {} {})", get(&texts, a), op.keyword(), get(&texts, b)),
            Node::Select(c, a, b) => {
                format!("(if {} then {} else {})", get(&texts, c), get(&texts, a), get(&texts, b))
            }
        };
        texts.push(t);
    }
    texts.pop().unwrap_or_default()
}
