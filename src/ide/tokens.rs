//! Semantic tokens (every name by what it names, numbers, comments, keywords) and the
//! outline of a file (document symbols).

use super::index::SymbolKind;
use super::lex::{KEYWORDS, Lex, lex};
use super::workspace::Workspace;
use crate::syntax::ItemKind;
use std::ops::Range;
use std::path::Path;

/// What a token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    Symbol(SymbolKind),
    Number,
    Comment,
    DocComment,
    String,
}

/// A token: a byte range of one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub range: Range<usize>,
    pub kind: TokenKind,
    /// A name where it is declared.
    pub declaration: bool,
}

/// A declaration in a file's outline.
#[derive(Debug, Clone, PartialEq)]
pub struct DocSymbol {
    pub name: String,
    pub kind: SymbolKind,
    /// A short description (`derived`, `fold sum`, …).
    pub detail: String,
    /// The whole declaration.
    pub range: Range<usize>,
    /// Its name.
    pub selection: Range<usize>,
}

impl Workspace {
    /// The tokens of `path`, in order, never overlapping.
    pub fn semantic_tokens(&self, path: &Path) -> Vec<Token> {
        let Some((s, f)) = self.find(path) else { return Vec::new() };
        let text = s.text(f);
        let mut out: Vec<Token> = s
            .index
            .occurrences(f)
            .iter()
            .map(|o| Token { range: o.span.range(), kind: TokenKind::Symbol(o.kind), declaration: o.decl })
            .collect();
        let numbers = s.index.numbers.get(&f).map_or(&[][..], Vec::as_slice);
        out.extend(numbers.iter().map(|n| Token { range: n.range(), kind: TokenKind::Number, declaration: false }));
        out.sort_by_key(|t| t.range.start);
        // What the AST does not hold: comments, strings, keywords; and numbers and names of
        // declarations that did not parse are left to the editor's grammar.
        let mut extra = Vec::new();
        let mut next = 0;
        for l in lex(text) {
            while next < out.len() && out[next].range.end <= l.start {
                next += 1;
            }
            if next < out.len() && out[next].range.start < l.end {
                continue;
            }
            let kind = match l.kind {
                Lex::Comment => TokenKind::Comment,
                Lex::DocComment => TokenKind::DocComment,
                Lex::String => TokenKind::String,
                Lex::Word if KEYWORDS.contains(&&text[l.start..l.end]) => TokenKind::Symbol(SymbolKind::Keyword),
                _ => continue,
            };
            extra.push(Token { range: l.start..l.end, kind, declaration: false });
        }
        out.extend(extra);
        out.sort_by_key(|t| t.range.start);
        // A token is one line, and none overlaps the one before it.
        let mut end = 0;
        out.retain(|t| {
            let keep = t.range.start >= end && !text.get(t.range.clone()).is_none_or(|s| s.contains('\n'));
            if keep {
                end = t.range.end;
            }
            keep
        });
        out
    }

    /// The declarations of `path`, in order.
    pub fn document_symbols(&self, path: &Path) -> Vec<DocSymbol> {
        let Some((s, f)) = self.find(path) else { return Vec::new() };
        let Some(ast) = s.ast(f) else { return Vec::new() };
        let mut out = Vec::new();
        for item in &ast.items {
            let range = item.span.range();
            let mut push = |name: &crate::syntax::Ident, kind: SymbolKind, detail: String| {
                out.push(DocSymbol {
                    name: name.name.clone(),
                    kind,
                    detail,
                    range: range.clone(),
                    selection: name.span.range(),
                })
            };
            match &item.kind {
                ItemKind::Import(_) | ItemKind::DefaultPipeline(_) => {}
                ItemKind::Bucket(b) => push(&b.name, SymbolKind::Bucket, format!("fold {}", b.fold.name)),
                ItemKind::Pipeline(p) => push(&p.name, SymbolKind::Pipeline, format!("{} buckets", p.buckets.len())),
                ItemKind::Layers(l) => l.layers.iter().for_each(|l| push(&l.name, SymbolKind::Layer, "layer".into())),
                ItemKind::Stat(st) => push(&st.name, SymbolKind::Stat, st.category.keyword().into()),
                ItemKind::Tags(tags) => tags.iter().for_each(|t| push(t, SymbolKind::Tag, "tag".into())),
                ItemKind::TagGroup(g) => push(&g.name, SymbolKind::TagGroup, format!("{} tags", g.members.len())),
                ItemKind::Stack(st) => push(&st.name, SymbolKind::Stack, format!("limit {}", st.limit)),
                ItemKind::View(v) => push(&v.name, SymbolKind::View, format!("view of {}", v.source.name)),
                ItemKind::Const(c) => push(&c.name, SymbolKind::Constant, "const".into()),
                ItemKind::Table(t) => push(&t.name, SymbolKind::Table, format!("{} entries", t.points.len())),
                ItemKind::Curve(c) => push(&c.name, SymbolKind::Curve, format!("{} points", c.points.len())),
            }
        }
        out
    }
}
