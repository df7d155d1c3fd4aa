//! Completion: the names and keywords that fit where the cursor is, judged from the tokens
//! of the declaration it is in (so it works in text that does not parse yet).

use super::index::{Namespace, SymbolKind};
use super::lex::{Lex, Lexeme, lex};
use super::workspace::{RuleSet, Workspace};
use crate::ir::Function;
use std::path::Path;

/// One completion candidate.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    pub label: String,
    pub kind: SymbolKind,
    pub detail: String,
}

/// The words that begin a declaration.
const DECLARATIONS: &[&str] = &[
    "import",
    "bucket",
    "pipeline",
    "default pipeline",
    "layers",
    "primary",
    "derived",
    "tag",
    "tag group",
    "stack",
    "view",
    "const",
    "table",
    "curve",
];
/// Words inside a stat's declaration, besides names.
const STAT_WORDS: &[&str] = &["in", "pipeline", "merge", "default", "if", "then", "else", "and", "or", "not"];
/// Words inside an expression elsewhere.
const EXPR_WORDS: &[&str] = &["if", "then", "else", "and", "or", "not"];

/// What may come at the cursor.
enum Want<'a> {
    Nothing,
    Words(&'a [&'a str], &'static str),
    Names(&'a [Namespace]),
    /// An expression: stats (unless constant-only), constants, functions and keywords.
    Expr {
        stats: bool,
        apply: bool,
        words: &'a [&'a str],
    },
    Points(SymbolKind),
}

impl Workspace {
    /// The candidates at `offset` of `path`, filtered by the word being typed.
    pub fn completion(&self, path: &Path, offset: usize) -> Vec<Completion> {
        let Some((s, f)) = self.find(path) else { return Vec::new() };
        let text = s.text(f);
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &text[..offset];
        let mut tokens = lex(before);
        let mut prefix = "";
        match tokens.last() {
            Some(l) if matches!(l.kind, Lex::Comment | Lex::DocComment | Lex::String) && l.end == offset => {
                return Vec::new();
            }
            Some(l) if l.kind == Lex::Word && l.end == offset => {
                prefix = &before[l.start..];
                tokens.pop();
            }
            Some(l) if l.kind == Lex::Number && l.end == offset => return Vec::new(),
            _ => {}
        }
        let words: Vec<&Lexeme> = tokens.iter().filter(|l| !matches!(l.kind, Lex::Comment | Lex::DocComment)).collect();
        let decl_start = words.iter().rposition(|l| &before[l.start..l.end] == ";").map_or(0, |i| i + 1);
        let decl: Vec<&str> = words[decl_start..].iter().map(|l| &before[l.start..l.end]).collect();
        let mut out = candidates(s, want(&decl, &words[decl_start..], before));
        let lower = prefix.to_ascii_lowercase();
        out.retain(|c| c.label.to_ascii_lowercase().starts_with(&lower));
        out
    }
}

/// What fits after the tokens `decl` of the declaration so far.
fn want<'a>(decl: &[&'a str], lexemes: &[&Lexeme], text: &str) -> Want<'a> {
    let Some(&last) = decl.last() else { return Want::Words(DECLARATIONS, "declaration") };
    let first = decl[0];
    // Inside a call of `lookup` or `at`, at its first argument.
    let mut depth = 0usize;
    for (i, l) in lexemes.iter().enumerate().rev() {
        match &text[l.start..l.end] {
            ")" => depth += 1,
            "(" if depth > 0 => depth -= 1,
            "(" => {
                let f = i.checked_sub(1).map(|j| &text[lexemes[j].start..lexemes[j].end]);
                match f {
                    Some("lookup") if i + 1 == lexemes.len() => return Want::Points(SymbolKind::Table),
                    Some("at") if i + 1 == lexemes.len() => return Want::Points(SymbolKind::Curve),
                    _ => break,
                }
            }
            "," if depth == 0 => break,
            _ => {}
        }
    }
    let after_equals = decl.contains(&"=");
    match (first, last) {
        (_, "pipeline") if decl.len() > 1 => Want::Names(&[Namespace::Pipeline]),
        ("default", "default") if decl.len() == 1 => Want::Words(&["pipeline"], "keyword"),
        ("pipeline" | "primary" | "derived" | "view" | "const" | "table" | "curve" | "bucket" | "stack", _)
            if decl.len() == 1 =>
        {
            Want::Nothing
        }
        ("tag", "tag") => Want::Words(&["group"], "keyword"),
        (_, "merge") => Want::Words(&["sum", "max", "min", "average", "multiply"], "merge operator"),
        (_, "fold") => Want::Words(&["sum", "product", "delta_product", "min", "max", "first", "each"], "fold"),
        (_, "keep") => Want::Words(&["highest", "lowest", "first"], "keep order"),
        (_, "policy") => Want::Words(&["intersect", "prioritized_override"], "layer policy"),
        (_, "requires") => Want::Words(&["realm"], "required field"),
        (_, "unscoped") => Want::Names(&[Namespace::Layer]),
        ("pipeline", "=" | ",") => Want::Names(&[Namespace::Bucket]),
        ("tag", "=" | ",") if after_equals => Want::Names(&[Namespace::Situation]),
        ("view", "=") => Want::Names(&[Namespace::Stat]),
        ("view", "with" | ",") => Want::Names(&[Namespace::Situation]),
        ("view", _) => Want::Words(&["with"], "keyword"),
        ("bucket", _) if decl.contains(&"apply") => Want::Expr { stats: false, apply: true, words: EXPR_WORDS },
        ("bucket", _) => Want::Words(&["fold", "apply"], "keyword"),
        ("const" | "table" | "curve", _) => Want::Expr { stats: false, apply: false, words: EXPR_WORDS },
        ("primary" | "derived", _) => {
            let constant = decl
                .iter()
                .rposition(|w| *w == "default")
                .is_some_and(|d| !decl[d..].iter().any(|w| matches!(*w, "=" | "in" | "pipeline" | "merge")));
            Want::Expr { stats: !constant, apply: false, words: STAT_WORDS }
        }
        ("layers", _) => Want::Words(&["requires", "policy", "unscoped"], "keyword"),
        _ => Want::Nothing,
    }
}

fn candidates(s: &RuleSet, want: Want) -> Vec<Completion> {
    let mut out = Vec::new();
    let names = |out: &mut Vec<Completion>, ns: Namespace, only: Option<SymbolKind>| {
        for (name, kind) in s.index.names(ns) {
            if only.is_none_or(|k| k == kind) {
                out.push(Completion { label: name.to_string(), kind, detail: kind.word().to_string() });
            }
        }
    };
    let words = |out: &mut Vec<Completion>, words: &[&str], detail: &str| {
        for w in words {
            out.push(Completion { label: w.to_string(), kind: SymbolKind::Keyword, detail: detail.to_string() });
        }
    };
    match want {
        Want::Nothing => {}
        Want::Words(w, detail) => words(&mut out, w, detail),
        Want::Names(nss) => nss.iter().for_each(|&ns| names(&mut out, ns, None)),
        Want::Points(kind) => names(&mut out, Namespace::Value, Some(kind)),
        Want::Expr { stats, apply, words: w } => {
            if stats {
                names(&mut out, Namespace::Stat, None);
            }
            if apply {
                for (v, d) in [("value", "the running value"), ("x", "the folded value")] {
                    out.push(Completion { label: v.into(), kind: SymbolKind::Variable, detail: d.into() });
                }
            }
            names(&mut out, Namespace::Value, Some(SymbolKind::Constant));
            for f in Function::all() {
                out.push(Completion { label: f.name().into(), kind: SymbolKind::Function, detail: f.signature() });
            }
            words(&mut out, w, "keyword");
        }
    }
    out
}
