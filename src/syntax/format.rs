//! AST → canonical `.stat` text (`actorc fmt`). Parsing the output gives the same AST.

use super::ast::*;

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
                out.push_str(&format!("/// {d}\n"));
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
            out.push_str(&format!("import \"{}\"", i.path));
        }
        ItemKind::Bucket(b) => {
            out.push_str(&format!("bucket {} fold {} apply {}", b.name.name, b.fold.name, expr(&b.apply)));
        }
        ItemKind::Pipeline(p) => {
            let names: Vec<&str> = p.buckets.iter().map(|b| b.name.as_str()).collect();
            out.push_str(&format!("pipeline {} = {}", p.name.name, names.join(", ")));
        }
        ItemKind::DefaultPipeline(p) => {
            out.push_str(&format!("default pipeline {}", p.name));
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
            out.push_str(&format!("layers {}", layers.join(", ")));
            for p in &l.policies {
                out.push_str(&format!(" policy {}", p.name));
            }
            for u in &l.unscoped {
                out.push_str(&format!(" unscoped {}", u.name));
            }
        }
        ItemKind::Tags(tags) => out.push_str(&format!("tag {}", names(tags))),
        ItemKind::TagGroup(g) => out.push_str(&format!("tag group {} = {}", g.name.name, names(&g.members))),
        ItemKind::Stack(s) => {
            out.push_str(&format!("stack {} limit {} keep {}", s.name.name, s.limit, s.keep.name));
        }
        ItemKind::View(v) => {
            out.push_str(&format!("view {} = {} with {}", v.name.name, v.source.name, names(&v.tags)));
        }
        ItemKind::Const(c) => out.push_str(&format!("const {} = {}", c.name.name, expr(&c.value))),
        ItemKind::Table(t) => out.push_str(&format!("table {} = {}", t.name.name, points(t))),
        ItemKind::Curve(t) => out.push_str(&format!("curve {} = {}", t.name.name, points(t))),
        ItemKind::Stat(s) => {
            let cat = s.category.keyword();
            out.push_str(&format!("{cat} {}", s.name.name));
            for c in &s.clauses {
                out.push_str(&match &c.kind {
                    ClauseKind::Formula(e) => format!(" = {}", expr(e)),
                    ClauseKind::Range(lo, hi) => format!(" in {} .. {}", expr(lo), expr(hi)),
                    ClauseKind::Merge(m) => format!(" merge {}", m.name),
                    ClauseKind::Pipeline(p) => format!(" pipeline {}", p.name),
                    ClauseKind::Default(e) => format!(" default {}", expr(e)),
                });
            }
        }
    }
}

/// `[k: v, …]`.
fn points(t: &PointsDecl) -> String {
    let entries: Vec<String> = t.points.iter().map(|(k, v)| format!("{}: {}", expr(k), expr(v))).collect();
    format!("[{}]", entries.join(", "))
}

/// `a, b, c`.
fn names(list: &[Ident]) -> String {
    list.iter().map(|i| i.name.as_str()).collect::<Vec<_>>().join(", ")
}

/// An expression with the fewest parentheses that keep its tree.
pub fn expr(e: &Expr) -> String {
    let mut s = String::new();
    write_expr(&mut s, e, 0);
    s
}

/// `min_prec`: the weakest operator that may appear here without parentheses (0 anything,
/// else a [`BinOp::precedence`] or one of the `PREC_*` levels).
fn write_expr(out: &mut String, e: &Expr, min_prec: u8) {
    match &e.kind {
        ExprKind::Number(v) => {
            out.push_str(&v.to_string());
        }
        ExprKind::Name(n) => out.push_str(n),
        ExprKind::Neg(inner) => {
            let paren = PREC_NEG < min_prec;
            out.push_str(if paren { "(-" } else { "-" });
            write_expr(out, inner, PREC_POWER);
            if paren {
                out.push(')');
            }
        }
        ExprKind::Not(inner) => {
            let paren = PREC_NOT < min_prec;
            out.push_str(if paren { "(not " } else { "not " });
            write_expr(out, inner, PREC_NOT);
            if paren {
                out.push(')');
            }
        }
        ExprKind::Power(base, exponent) => {
            let paren = PREC_POWER < min_prec;
            if paren {
                out.push('(');
            }
            write_expr(out, base, PREC_ATOM);
            out.push_str(" ^ ");
            write_expr(out, exponent, PREC_NEG);
            if paren {
                out.push(')');
            }
        }
        ExprKind::Chain(first, rest) => {
            let p = rest.first().map_or(PREC_ATOM, |(op, _)| op.precedence());
            let paren = p < min_prec;
            if paren {
                out.push('(');
            }
            // Every operand binds tighter than the chain: an operand that is a chain of the
            // same level keeps its parentheses (comparisons do not chain at all).
            write_expr(out, first, p + 1);
            for (op, operand) in rest {
                out.push_str(&format!(" {} ", op.symbol()));
                write_expr(out, operand, p + 1);
            }
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
