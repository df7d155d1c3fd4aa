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

/// Fully parenthesised text of an expression; stats are written `name#id`. Written from the
/// root with a stack of pieces still to write (no recursion, no copy of a child's text), so
/// a chain of 100,000 operations takes linear time.
pub fn expr_text(ir: &Ir, e: Expr) -> String {
    enum Piece {
        Node(NodeId),
        Text(&'static str),
    }
    let mut out = String::new();
    if e.range().is_empty() {
        return out;
    }
    let mut todo = vec![Piece::Node(e.root())];
    while let Some(piece) = todo.pop() {
        let id = match piece {
            Piece::Text(t) => {
                out.push_str(t);
                continue;
            }
            Piece::Node(id) => id,
        };
        match ir.nodes[id.index()] {
            Node::Const(v) => out.push_str(&num(v)),
            Node::Stat(s) => {
                let _ = write!(out, "{}#{}", ir.stat(s).name, s.0);
            }
            Node::Value => out.push_str("value"),
            Node::X => out.push('x'),
            Node::Unary(UnOp::Neg, a) => {
                out.push('-');
                todo.push(Piece::Node(a));
            }
            Node::Unary(UnOp::Not, a) => {
                out.push_str("not ");
                todo.push(Piece::Node(a));
            }
            Node::Lookup(t, k) => {
                let _ = write!(out, "lookup({}, ", ir.tables[t.index()].name);
                todo.extend([Piece::Text(")"), Piece::Node(k)]);
            }
            Node::At(c, x) => {
                let _ = write!(out, "at({}, ", ir.curves[c.index()].name);
                todo.extend([Piece::Text(")"), Piece::Node(x)]);
            }
            Node::Unary(op, a) => {
                out.push_str(op.name());
                out.push('(');
                todo.extend([Piece::Text(")"), Piece::Node(a)]);
            }
            Node::Binary(op, a, b) if op.is_function() => {
                out.push_str(op.keyword());
                out.push('(');
                todo.extend([Piece::Text(")"), Piece::Node(b), Piece::Text(", "), Piece::Node(a)]);
            }
            Node::Binary(op, a, b) => {
                out.push('(');
                todo.extend([Piece::Text(")"), Piece::Node(b), Piece::Text(" "), Piece::Text(op.keyword())]);
                todo.extend([Piece::Text(" "), Piece::Node(a)]);
            }
            Node::Select(c, a, b) => {
                out.push_str("(if ");
                todo.extend([Piece::Text(")"), Piece::Node(b), Piece::Text(" else "), Piece::Node(a)]);
                todo.extend([Piece::Text(" then "), Piece::Node(c)]);
            }
        }
    }
    out
}
