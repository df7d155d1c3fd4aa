//! AST → canonical `.stat` text: what `actorc fmt` writes. Parsing the output gives the same
//! AST, and formatting the output again changes nothing.
//!
//! [`format_file`] takes the AST *and* the text it was parsed from, and keeps what the AST
//! does not hold: comments, blank lines, and numbers as written (`1000000`, `0.050`).
//! [`format_ast`] prints an AST built by a program: no comments, numbers by value.
//!
//! # Layout
//!
//! - One declaration per line when it fits in [`WIDTH`] characters (comments not counted).
//!   Otherwise each clause goes on a line of its own, indented two spaces (`in …`,
//!   `pipeline …`, `default …`, a bucket's `apply …`, `policy …`, `unscoped …`); the first
//!   clause stays on the line of the declaration's name.
//! - A formula (`=`, `default`, `apply`) whose line is still too long breaks before each
//!   operator of its top-level chain (`+ b`, `* c`), indented four spaces.
//! - A line break the author put before a clause or an operator is kept: a declaration
//!   written over several lines stays broken at its clauses (join its lines to have it on
//!   one), and a formula broken at its operators stays broken at all of them.
//! - Blank lines between declarations and comments are kept where the author had one or
//!   more (one is kept); there are none inside a declaration, and none at the ends of the file.
//!
//! # Comments
//!
//! Every comment is kept, its text as written (trailing blanks dropped), in its order.
//!
//! - Between declarations: on its own line, where it was. Doc comments (`///`) are such
//!   comments, so they stay with the declaration they document.
//! - After a declaration's `;` on the same line: stays there.
//! - Inside a declaration: the declaration is cut into pieces (its name with its first
//!   clause, each other clause, each operator of a broken formula), and a comment belongs
//!   to the piece it is in or, between two pieces, to the one before it. A piece with a
//!   comment ends its line: its first comment, if it followed code in the source, stays at
//!   the end of that line, and the others follow on lines of their own, indented like the
//!   next piece.
//! - Comments of the last piece (between the last clause and the `;`) follow the `;`: the
//!   first at the end of the line if it followed code, the others on their own lines below.
//!
//! A comment is never moved past another comment or into another declaration, so the
//! rules above read the output as they read the input: formatting is idempotent.

use super::ast::*;
use super::trivia::{Comment, Trivia, blank_line, breaks_line};
use crate::source::Span;
use std::fmt::Write;

/// The line width the formatter keeps to, where a line can be broken: that of the Rust
/// code (`rustfmt.toml`), which the shipped rules keep to.
pub const WIDTH: usize = 120;
/// Indentation of a clause on a line of its own.
const CLAUSE_INDENT: usize = 2;
/// Indentation of an operator and its operand when a formula breaks.
const OPERAND_INDENT: usize = 4;

/// The canonical text of `ast`, parsed from `text`: comments, blank lines and numbers as the
/// text has them (see the module documentation). `ast` must come from `text` without syntax
/// errors; given any other text, the result is still valid text of `ast`, without comments
/// that are not where they can be placed.
pub fn format_file(ast: &Ast, text: &str) -> String {
    Formatter { source: Some(Source { text, trivia: Trivia::scan(text) }) }.file(ast)
}

/// The canonical text of an AST that has no source text: no comments, doc comments from
/// [`Item::doc`], numbers by value, a blank line where the kind of declaration changes and
/// before a documented one.
pub fn format_ast(ast: &Ast) -> String {
    Formatter { source: None }.file(ast)
}

struct Source<'t> {
    text: &'t str,
    trivia: Trivia,
}

struct Formatter<'t> {
    source: Option<Source<'t>>,
}

/// A part of a declaration that can begin a line.
struct Piece {
    text: String,
    /// Where its part of the source begins: the comments from here up to the next piece's
    /// `start` belong to it.
    start: usize,
    /// Its indentation when it begins a line.
    indent: usize,
    /// What breaking before it means.
    level: Level,
    /// What comes before it when it stays on the line of the piece before: a space, or for
    /// the entries of a table or curve `, ` (nothing after `[` and before `]`).
    join: &'static str,
    /// What the line before gets at its end when it begins a line: the `,` after an entry.
    ends: &'static str,
}

impl Piece {
    fn new(text: String, start: usize, indent: usize, level: Level) -> Piece {
        Piece { text, start, indent, level, join: " ", ends: "" }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Level {
    /// A clause: all of a declaration's clauses break together.
    Clause,
    /// An operator of a top-level chain: the chain's operators (the numbered group) break
    /// together.
    Operand(usize),
}

/// A declaration's pieces as they are built.
struct Pieces<'f, 't> {
    f: &'f Formatter<'t>,
    list: Vec<Piece>,
    groups: usize,
}

impl<'f, 't> Pieces<'f, 't> {
    fn new(f: &'f Formatter<'t>, head: String, start: usize) -> Self {
        Pieces { f, list: vec![Piece::new(head, start, 0, Level::Clause)], groups: 0 }
    }

    /// Appends `text` to the last piece, after a space.
    fn word(&mut self, text: &str) {
        let last = self.list.last_mut().expect("a declaration has a first piece");
        if !last.text.is_empty() {
            last.text.push(' ');
        }
        last.text.push_str(text);
    }

    /// Begins a clause whose first token is at or after `at`.
    fn clause(&mut self, at: usize) {
        let start = self.f.token_from(at);
        self.list.push(Piece::new(String::new(), start, CLAUSE_INDENT, Level::Clause));
    }

    /// Appends the entries of a table or curve and its `]`: on one line `[k: v, …]`, else
    /// one entry per line, each ended by `,`, and the `]` on a line of its own.
    fn points(&mut self, t: &PointsDecl) {
        self.word("[");
        for (k, (key, value)) in t.points.iter().enumerate() {
            let text = format!("{}: {}", self.f.expr(key, 0), self.f.expr(value, 0));
            let start = self.f.token_from(key.span.start as usize);
            let (join, ends) = if k == 0 { ("", "") } else { (", ", ",") };
            self.list.push(Piece { join, ends, ..Piece::new(text, start, CLAUSE_INDENT, Level::Clause) });
        }
        let close = self.f.token_before(t.list_span.end as usize);
        let ends = if t.points.is_empty() { "" } else { "," };
        self.list.push(Piece { join: "", ends, ..Piece::new("]".into(), close, 0, Level::Clause) });
    }

    /// Appends an expression; a top-level chain's operators become pieces of their own.
    fn expr(&mut self, e: &Expr) {
        let ExprKind::Chain(first, rest) = &e.kind else {
            let text = self.f.expr(e, 0);
            self.word(&text);
            return;
        };
        let operand_prec = rest.first().map_or(0, |(op, _)| op.precedence()) + 1;
        let text = self.f.expr(first, operand_prec);
        self.word(&text);
        let level = Level::Operand(self.groups);
        self.groups += 1;
        let mut before = first.span;
        for (op, operand) in rest {
            let text = format!("{} {}", op.symbol(), self.f.expr(operand, operand_prec));
            // The operator is the first token after the operand before it.
            let start = self.f.token_from(before.end as usize);
            self.list.push(Piece::new(text, start, OPERAND_INDENT, level));
            before = operand.span;
        }
    }
}

impl Formatter<'_> {
    fn file(&self, ast: &Ast) -> String {
        let mut out = String::new();
        let no_comments = Vec::new();
        let comments = self.source.as_ref().map_or(&no_comments, |s| &s.trivia.comments);
        let mut next = 0;
        // Where, in the source, the last thing written ended.
        let mut written_to = 0;
        for (i, item) in ast.items.iter().enumerate() {
            let start = item.span.start as usize;
            let end = self.declaration_end(item);
            for c in &comments[next..] {
                if c.start >= start {
                    break;
                }
                self.comment_line(&mut out, written_to, c, 0);
                written_to = c.end;
                next += 1;
            }
            match &self.source {
                Some(s) => {
                    if !out.is_empty() && blank_line(s.text, written_to, start) {
                        out.push('\n');
                    }
                }
                None => {
                    let kind_changes =
                        i > 0 && std::mem::discriminant(&ast.items[i - 1].kind) != std::mem::discriminant(&item.kind);
                    if kind_changes || (i > 0 && !item.doc.is_empty()) {
                        out.push('\n');
                    }
                    for d in &item.doc {
                        out.push_str(if d.is_empty() { "///" } else { "/// " });
                        out.push_str(d);
                        out.push('\n');
                    }
                }
            }
            let inside = comments[next..].iter().take_while(|c| c.start < end).count();
            let interior = &comments[next..next + inside];
            next += inside;
            // A comment after the `;` on its line, before the next declaration.
            let next_start = ast.items.get(i + 1).map_or(usize::MAX, |n| n.span.start as usize);
            let trailing = comments.get(next).filter(|c| !c.own_line && c.start < next_start);
            next += usize::from(trailing.is_some());
            self.declaration(&mut out, item, interior, trailing);
            written_to = trailing.map_or(end, |c| c.end);
        }
        for c in &comments[next..] {
            self.comment_line(&mut out, written_to, c, 0);
            written_to = c.end;
        }
        out
    }

    /// Where `item` ends in the source: after its `;`.
    fn declaration_end(&self, item: &Item) -> usize {
        let semicolon = self.source.as_ref().and_then(|s| s.trivia.semicolon_from(item.span.start as usize));
        semicolon.map_or(item.span.end as usize, |s| s + 1)
    }

    /// Writes `c` on a line of its own at `indent`, after a blank line when the source has
    /// one between `written_to` and the comment.
    fn comment_line(&self, out: &mut String, written_to: usize, c: &Comment, indent: usize) {
        let Some(s) = &self.source else { return };
        if !out.is_empty() && blank_line(s.text, written_to, c.start) {
            out.push('\n');
        }
        push_indent(out, indent);
        out.push_str(c.text(s.text));
        out.push('\n');
    }

    /// Writes a comment at the end of the line being written.
    fn comment_after(&self, out: &mut String, c: &Comment) {
        if let Some(s) = &self.source {
            out.push(' ');
            out.push_str(c.text(s.text));
        }
    }

    /// Writes one declaration, its `;` and its comments (see the module documentation).
    fn declaration(&self, out: &mut String, item: &Item, interior: &[Comment], trailing: Option<&Comment>) {
        let pieces = self.pieces(item);
        let mut owned: Vec<Vec<&Comment>> = pieces.iter().map(|_| Vec::new()).collect();
        for c in interior {
            let k = pieces.partition_point(|p| p.start <= c.start).saturating_sub(1);
            owned[k].push(c);
        }
        let breaks = self.layout(&pieces, &owned);
        let mut line_comments: Vec<&Comment> = Vec::new();
        for (k, piece) in pieces.iter().enumerate() {
            if k > 0 && breaks[k] {
                out.push_str(piece.ends);
                self.end_line(out, &line_comments, piece.indent);
                line_comments.clear();
                push_indent(out, piece.indent);
            } else if k > 0 {
                out.push_str(piece.join);
            }
            out.push_str(&piece.text);
            line_comments.extend(&owned[k]);
        }
        out.push(';');
        line_comments.extend(trailing);
        self.end_line(out, &line_comments, 0);
    }

    /// Ends a line with its comments: the first stays on the line if it followed code, the
    /// others go on lines of their own at `indent`.
    fn end_line(&self, out: &mut String, comments: &[&Comment], indent: usize) {
        let mut rest = comments;
        if let [first, others @ ..] = comments
            && !first.own_line
        {
            self.comment_after(out, first);
            rest = others;
        }
        out.push('\n');
        for c in rest {
            push_indent(out, indent);
            if let Some(s) = &self.source {
                out.push_str(c.text(s.text));
            }
            out.push('\n');
        }
    }

    /// Which pieces begin a line: all on one line when it fits and nothing asks for a
    /// break; else every clause on its own line, and each chain's operators too when one
    /// of them asks for a break or the chain's line is too long. A break is asked for by a
    /// comment in the piece before it, or by the author's line break before the piece.
    fn layout(&self, pieces: &[Piece], owned: &[Vec<&Comment>]) -> Vec<bool> {
        let n = pieces.len();
        let asked = |b: usize| !owned[b - 1].is_empty() || self.authored_break(pieces[b].start);
        let mut breaks = vec![false; n];
        if !(1..n).any(asked) && line_width(pieces, &breaks, 0) <= WIDTH {
            return breaks;
        }
        for b in 1..n {
            breaks[b] = pieces[b].level == Level::Clause;
        }
        let mut b = 1;
        while b < n {
            let Level::Operand(group) = pieces[b].level else {
                b += 1;
                continue;
            };
            let end = (b..n).find(|&e| pieces[e].level != Level::Operand(group)).unwrap_or(n);
            if (b..end).any(asked) || line_width(pieces, &breaks, b) > WIDTH {
                breaks[b..end].fill(true);
            }
            b = end;
        }
        breaks
    }

    /// Whether the source has a line break before the piece that begins at `start`.
    fn authored_break(&self, start: usize) -> bool {
        self.source
            .as_ref()
            .is_some_and(|s| s.trivia.token_before(start).is_some_and(|before| breaks_line(s.text, before, start)))
    }

    /// The first token at or after `offset` in the source (0 without one).
    fn token_from(&self, offset: usize) -> usize {
        self.source.as_ref().map_or(0, |s| s.trivia.token_from(offset).unwrap_or(offset))
    }

    /// The last token before `offset` in the source (0 without one).
    fn token_before(&self, offset: usize) -> usize {
        self.source.as_ref().map_or(0, |s| s.trivia.token_before(offset).unwrap_or(offset))
    }

    /// A declaration cut into the pieces that can begin a line.
    fn pieces(&self, item: &Item) -> Vec<Piece> {
        let start = item.span.start as usize;
        let single = |text: String| Pieces::new(self, text, start);
        let p = match &item.kind {
            ItemKind::Import(i) => single(format!("import \"{}\"", i.path)),
            ItemKind::Bucket(b) => {
                let mut p = single(format!("bucket {} fold {}", b.name.name, b.fold.name));
                p.clause(self.token_before(b.apply.span.start as usize));
                p.word("apply");
                p.expr(&b.apply);
                p
            }
            ItemKind::Pipeline(p) => single(format!("pipeline {} = {}", p.name.name, names(&p.buckets))),
            ItemKind::DefaultPipeline(p) => single(format!("default pipeline {}", p.name)),
            ItemKind::Layers(l) => {
                let layers: Vec<String> = l
                    .layers
                    .iter()
                    .map(|l| match &l.requires {
                        Some(r) => format!("{} requires {}", l.name.name, r.name),
                        None => l.name.name.clone(),
                    })
                    .collect();
                let mut p = single(format!("layers {}", layers.join(", ")));
                // In the order written: policies and unscoped layers may alternate.
                let mut clauses: Vec<(usize, String)> = (l.policies.iter().map(|i| ("policy", i)))
                    .chain(l.unscoped.iter().map(|i| ("unscoped", i)))
                    .map(|(keyword, i)| (self.token_before(i.span.start as usize), format!("{keyword} {}", i.name)))
                    .collect();
                clauses.sort_by_key(|(at, _)| *at);
                for (at, text) in clauses {
                    p.clause(at);
                    p.word(&text);
                }
                p
            }
            ItemKind::Tags(tags) => single(format!("tag {}", names(tags))),
            ItemKind::TagGroup(g) => single(format!("tag group {} = {}", g.name.name, names(&g.members))),
            ItemKind::Stack(s) => {
                let limit = self.number(s.limit, s.limit_span);
                single(format!("stack {} limit {limit} keep {}", s.name.name, s.keep.name))
            }
            ItemKind::View(v) => single(format!("view {} = {} with {}", v.name.name, v.source.name, names(&v.tags))),
            ItemKind::Const(c) => {
                let mut p = single(format!("const {} =", c.name.name));
                p.expr(&c.value);
                p
            }
            ItemKind::Table(t) | ItemKind::Curve(t) => {
                let keyword = if matches!(item.kind, ItemKind::Table(_)) { "table" } else { "curve" };
                let mut p = single(format!("{keyword} {} =", t.name.name));
                p.points(t);
                p
            }
            ItemKind::Stat(s) => {
                let mut p = single(format!("{} {}", s.category.keyword(), s.name.name));
                for (k, c) in s.clauses.iter().enumerate() {
                    if k > 0 {
                        p.clause(c.span.start as usize);
                    }
                    match &c.kind {
                        ClauseKind::Formula(e) => {
                            p.word("=");
                            p.expr(e);
                        }
                        ClauseKind::Range(lo, hi) => {
                            p.word(&format!("in {} .. {}", self.expr(lo, 0), self.expr(hi, 0)))
                        }
                        ClauseKind::Merge(m) => p.word(&format!("merge {}", m.name)),
                        ClauseKind::Pipeline(x) => p.word(&format!("pipeline {}", x.name)),
                        ClauseKind::Default(e) => {
                            p.word("default");
                            p.expr(e);
                        }
                    }
                }
                p
            }
        };
        p.list
    }

    /// A number as the source spells it at `span`, or else by value.
    fn number(&self, value: f64, span: Span) -> String {
        let written = self.source.as_ref().and_then(|s| s.text.get(span.range()));
        match written {
            Some(w) if is_number(w) && w.parse::<f64>().is_ok_and(|v| v.to_bits() == value.to_bits()) => w.to_string(),
            _ => value.to_string(),
        }
    }

    /// An expression with the fewest parentheses that keep its tree, where binding at least
    /// as strongly as `min_prec` needs no parentheses (see [`Formatter::write_expr`]).
    fn expr(&self, e: &Expr, min_prec: u8) -> String {
        let mut s = String::new();
        self.write_expr(&mut s, e, min_prec);
        s
    }

    /// `min_prec`: the weakest operator that may appear here without parentheses: 0
    /// anything, then [`BinOp::precedence`] and the `PREC_*` levels upwards (an operand of a
    /// chain gets one more than its operators).
    fn write_expr(&self, out: &mut String, e: &Expr, min_prec: u8) {
        match &e.kind {
            ExprKind::Number(v) => out.push_str(&self.number(*v, e.span)),
            ExprKind::Name(n) => out.push_str(n),
            ExprKind::Neg(inner) => {
                let paren = PREC_NEG < min_prec;
                out.push_str(if paren { "(-" } else { "-" });
                self.write_expr(out, inner, PREC_POWER);
                if paren {
                    out.push(')');
                }
            }
            ExprKind::Not(inner) => {
                let paren = PREC_NOT < min_prec;
                out.push_str(if paren { "(not " } else { "not " });
                self.write_expr(out, inner, PREC_NOT);
                if paren {
                    out.push(')');
                }
            }
            ExprKind::Power(base, exponent) => {
                let paren = PREC_POWER < min_prec;
                if paren {
                    out.push('(');
                }
                self.write_expr(out, base, PREC_ATOM);
                out.push_str(" ^ ");
                self.write_expr(out, exponent, PREC_NEG);
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
                self.write_expr(out, first, p + 1);
                for (op, operand) in rest {
                    let _ = write!(out, " {} ", op.symbol());
                    self.write_expr(out, operand, p + 1);
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
                self.write_expr(out, c, 0);
                out.push_str(" then ");
                self.write_expr(out, t, 0);
                out.push_str(" else ");
                self.write_expr(out, f, 0);
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
                    self.write_expr(out, a, 0);
                }
                out.push(')');
            }
        }
    }
}

/// The width of the line that holds piece `at`, with the `;` if it ends the declaration.
fn line_width(pieces: &[Piece], breaks: &[bool], at: usize) -> usize {
    let first = (1..=at).rev().find(|&k| breaks[k]).unwrap_or(0);
    let end = (at + 1..pieces.len()).find(|&k| breaks[k]).unwrap_or(pieces.len());
    let text: usize = pieces[first..end].iter().map(|p| p.text.chars().count()).sum();
    let joins: usize = pieces[first + 1..end].iter().map(|p| p.join.len()).sum();
    let end_mark = pieces.get(end).map_or(1, |p| p.ends.len());
    pieces[first].indent + text + joins + end_mark
}

fn push_indent(out: &mut String, indent: usize) {
    out.extend(std::iter::repeat_n(' ', indent));
}

/// `a, b, c`.
fn names(list: &[Ident]) -> String {
    list.iter().map(|i| i.name.as_str()).collect::<Vec<_>>().join(", ")
}

/// Whether `text` is spelled as the grammar's `number` (digits, a fraction, an exponent).
fn is_number(text: &str) -> bool {
    text.starts_with(|c: char| c.is_ascii_digit())
        && text.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'))
}
