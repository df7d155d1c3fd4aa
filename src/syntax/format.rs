//! AST → canonical `.stat` text (`actorc fmt`). Parsing the output gives the same AST.

use super::ast::*;
use std::fmt::Write;

pub fn format_file(ast: &Ast) -> String {
    let mut out = String::new();
    let mut prev: Option<&ItemKind> = None;
    for item in &ast.items {
        if let Some(p) = prev
            && (std::mem::discriminant(p) != std::mem::discriminant(&item.kind) || !item.doc.is_empty())
        {
            out.push('\n');
        }
        for d in &item.doc {
            if d.is_empty() {
                out.push_str("///\n");
            } else {
                let _ = writeln!(out, "/// {d}");
            }
        }
        format_item(&mut out, &item.kind);
        out.push_str(";\n");
        prev = Some(&item.kind);
    }
    out
}

fn format_item(out: &mut String, kind: &ItemKind) {
    match kind {
        ItemKind::Import(i) => {
            let _ = write!(out, "import \"{}\"", i.path);
        }
        ItemKind::Bucket(b) => {
            let _ = write!(out, "bucket {} fold {} apply {}", b.name.name, b.fold.name, expr(&b.apply));
        }
        ItemKind::Pipeline(p) => {
            let names: Vec<&str> = p.buckets.iter().map(|b| b.name.as_str()).collect();
            let _ = write!(out, "pipeline {} = {}", p.name.name, names.join(", "));
        }
        ItemKind::DefaultPipeline(p) => {
            let _ = write!(out, "default pipeline {}", p.name);
        }
        ItemKind::Layers(l) => {
            let layers: Vec<String> = l
                .layers
                .iter()
                .map(|l| match &l.requires {
                    Some(r) => format!("{} requires {}", l.name.name, r.name),
                    None => l.name.name.clone(),
                })
                .collect();
            let _ = write!(out, "layers {}", layers.join(", "));
            for p in &l.policies {
                let _ = write!(out, " policy {}", p.name);
            }
            for u in &l.unscoped {
                let _ = write!(out, " unscoped {}", u.name);
            }
        }
        ItemKind::Stat(s) => {
            let cat = match s.category {
                Category::Primary => "primary",
                Category::Derived => "derived",
            };
            let _ = write!(out, "{cat} {}", s.name.name);
            for c in &s.clauses {
                let _ = match &c.kind {
                    ClauseKind::Formula(e) => write!(out, " = {}", expr(e)),
                    ClauseKind::Range(lo, hi) => write!(out, " in {} .. {}", expr(lo), expr(hi)),
                    ClauseKind::Merge(m) => write!(out, " merge {}", m.name),
                    ClauseKind::Pipeline(p) => write!(out, " pipeline {}", p.name),
                    ClauseKind::Default(e) => write!(out, " default {}", expr(e)),
                };
            }
        }
    }
}

/// An expression with the fewest parentheses that keep its tree.
pub fn expr(e: &Expr) -> String {
    let mut s = String::new();
    write_expr(&mut s, e, 0);
    s
}

/// `min_prec`: the weakest operator that may appear here without parentheses
/// (0 anything, 1 comparison operands, 2 sums, 3 products, 4 atoms only).
fn write_expr(out: &mut String, e: &Expr, min_prec: u8) {
    match &e.kind {
        ExprKind::Number(v) => {
            let _ = write!(out, "{v}");
        }
        ExprKind::Name(n) => out.push_str(n),
        ExprKind::Neg(inner) => {
            out.push('-');
            write_expr(out, inner, 4);
        }
        ExprKind::Binary(op, a, b) => {
            let p = op.precedence();
            let paren = p < min_prec;
            if paren {
                out.push('(');
            }
            // Left-associative: the right operand of the same level needs parentheses.
            // Comparisons do not chain, so both their operands must bind tighter.
            write_expr(out, a, if p == 1 { 2 } else { p });
            let _ = write!(out, " {} ", op.symbol());
            write_expr(out, b, p + 1);
            if paren {
                out.push(')');
            }
        }
        ExprKind::If(c, t, f) => {
            let paren = min_prec > 0;
            if paren {
                out.push('(');
            }
            out.push_str("if ");
            write_expr(out, c, 0);
            out.push_str(" then ");
            write_expr(out, t, 0);
            out.push_str(" else ");
            write_expr(out, f, 0);
            if paren {
                out.push(')');
            }
        }
        ExprKind::Call(f, args) => {
            out.push_str(&f.name);
            out.push('(');
            for (i, a) in args.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_expr(out, a, 0);
            }
            out.push(')');
        }
    }
}
