//! Hover: what the name under the cursor is, as Markdown. A stat gets its doc comment,
//! category, formula, range and pipeline or operator, and with a sample actor its value and
//! the first lines of `explain`.

use super::index::{Decl, SymbolKind};
use super::lex::{Lex, lex};
use super::workspace::{RuleSet, Workspace, short_num};
use crate::explain::{self, ExplainError, fmt_num};
use crate::ir::Function;
use crate::syntax::{ClauseKind, Item, ItemKind, StatDecl};
use std::fmt::Write;
use std::ops::Range;
use std::path::Path;

/// Lines of `explain` a stat's hover shows.
const EXPLAIN_LINES: usize = 8;
/// Characters of a declaration's text a hover quotes.
const QUOTE_CHARS: usize = 400;

/// What a hover shows, and the range of the name it is about.
#[derive(Debug, Clone, PartialEq)]
pub struct Hover {
    pub range: Range<usize>,
    pub markdown: String,
}

/// `min(a, b, …)` and one line on what it does; `None` for a name that is no function.
pub fn function_doc(name: &str) -> Option<String> {
    let f = Function::from_name(name)?;
    let what = match name {
        "min" => "the smallest argument (WebAssembly rules: NaN propagates, min(-0, +0) = -0)",
        "max" => "the largest argument (WebAssembly rules: NaN propagates, max(-0, +0) = +0)",
        "clamp" => "min(max(v, lo), hi): with lo > hi the result is hi",
        "abs" => "the absolute value",
        "floor" => "the largest whole number ≤ x",
        "ceil" => "the smallest whole number ≥ x",
        "round" => "the nearest whole number, ties to even (round(2.5) = 2)",
        "sqrt" => "the square root (IEEE 754)",
        "exp" => "e to the power x",
        "ln" => "the natural logarithm",
        "pow" => "base to the power exponent (as `base ^ exponent`)",
        "lookup" => "the value of `key` in a table (a missing key fails)",
        "at" => "a curve's y at x: linear between points, flat beyond the ends",
        _ => "a built-in function",
    };
    Some(format!("{}: {what}", f.signature()))
}

/// A keyword-like word's meaning, for hover.
fn keyword_doc(word: &str) -> Option<&'static str> {
    Some(match word {
        "sum" => "fold sum: 0 + x₁ + x₂ + …  /  merge sum: the contributions added",
        "product" => "fold product: 1 × x₁ × x₂ × …",
        "delta_product" => "fold delta_product: 1 × (1 + x₁) × (1 + x₂) × … (0.2 means +20 %)",
        "min" => "the smallest contribution",
        "max" => "the largest contribution",
        "first" => "the first contribution in canonical order",
        "each" => "fold each: `apply` runs once per contribution, in canonical order",
        "average" => "merge average: the mean of the contributions",
        "multiply" => "merge multiply: the product of the contributions",
        "intersect" => "policy intersect: every layer's caps narrow the range (the default)",
        "prioritized_override" => "policy prioritized_override: a later layer's caps replace earlier ones",
        "highest" => "keep highest: the largest values stack",
        "lowest" => "keep lowest: the smallest values stack",
        "realm" => "requires realm: caps in this layer must give a non-empty `realm`",
        _ => return None,
    })
}

impl Workspace {
    /// What the name at `offset` of `path` is.
    pub fn hover(&self, path: &Path, offset: usize) -> Option<Hover> {
        let (s, o) = self.occurrence(path, offset)?;
        let range = o.span.range();
        let markdown = match o.kind {
            SymbolKind::Function => match function_doc(&o.name) {
                Some(d) => code(&d),
                None => format!("unknown function `{}`", o.name),
            },
            SymbolKind::Variable if o.name == "value" => "`value`: the stat's running value, before this bucket".into(),
            SymbolKind::Variable => "`x`: the bucket's folded contributions (one contribution for `fold each`)".into(),
            SymbolKind::Keyword => format!("`{}`: {}", o.name, keyword_doc(&o.name)?),
            kind => match s.index.decls(kind, &o.name).first() {
                Some(d) => self.declared(s, d, &o.name),
                None => format!("unknown {} `{}`", kind.word(), o.name),
            },
        };
        Some(Hover { range, markdown })
    }

    fn declared(&self, s: &RuleSet, d: &Decl, name: &str) -> String {
        let Some(item) = s.ast(d.name.file).and_then(|a| a.items.get(d.item)) else { return String::new() };
        let mut out = String::new();
        match &item.kind {
            ItemKind::Stat(st) => {
                let _ = writeln!(out, "```stat\n{} {name}\n```", st.category.keyword());
                doc(&mut out, item);
                stat_rules(&mut out, s, st);
                self.sample(&mut out, s, name);
            }
            ItemKind::View(_) => {
                out = code(&quote(s, item));
                doc(&mut out, item);
                out.push_str("\nA view: its source evaluated again with these tags added.\n");
                self.sample(&mut out, s, name);
            }
            ItemKind::Const(c) => {
                let value =
                    s.rules.as_ref().and_then(|r| Some(r.ir.constants[r.ir.const_ids.get(name)?.index()].value));
                let value = value.map_or_else(|| snippet(s, c.value.span), fmt_num);
                out = code(&format!("const {name} = {value}"));
                doc(&mut out, item);
            }
            kind => {
                out = code(&quote_decl(s, item, d));
                doc(&mut out, item);
                let what = match kind {
                    ItemKind::Bucket(_) => "A bucket: folds its contributions into `x`, then applies `x` to `value`.",
                    ItemKind::Pipeline(_) => "A pipeline: the order in which a stat's buckets apply.",
                    ItemKind::Layers(_) => "A cap layer: caps are combined layer by layer, in this order.",
                    ItemKind::Tags(_) => "A tag: one fact about a situation.",
                    ItemKind::TagGroup(_) => "A tag group: a requirement on it holds when any member is present.",
                    ItemKind::Stack(_) => "A stacking group: at most `limit` of its contributions apply per key.",
                    ItemKind::Table(_) => "A table: read with `lookup(NAME, key)`.",
                    ItemKind::Curve(_) => "A curve: read with `at(NAME, x)`, linear between points.",
                    _ => "",
                };
                let _ = writeln!(out, "\n{}", what.replace("NAME", name));
                let at = s.index.at(d.name.file, d.name.start as usize);
                let uses = at.map_or(0, |o| s.index.references(o).filter(|o| !o.decl).count());
                if matches!(
                    kind,
                    ItemKind::Bucket(_)
                        | ItemKind::Pipeline(_)
                        | ItemKind::Tags(_)
                        | ItemKind::TagGroup(_)
                        | ItemKind::Table(_)
                        | ItemKind::Curve(_)
                ) {
                    let _ = writeln!(out, "\nNamed {uses} time{} in the rules.", if uses == 1 { "" } else { "s" });
                }
            }
        }
        out
    }

    /// The sample actor's value of `stat` and the first lines of its explanation.
    fn sample(&self, out: &mut String, s: &RuleSet, stat: &str) {
        let Some(actor) = self.sample_name() else { return };
        if s.values.stale {
            if let Some(v) = s.values.map.get(stat) {
                let _ = writeln!(out, "\n`{actor}`: {} (from the last rules that checked)", fmt_num(*v));
            }
            return;
        }
        if let Some(e) = &s.values.error {
            let _ = writeln!(out, "\n`{actor}`: {e}");
        }
        let (Some(rules), Some(Ok(a))) = (&s.rules, &self.sample) else { return };
        let text = match explain::explain(rules, a, stat) {
            Ok((e, _)) => explain::render(&e),
            Err(ExplainError::Eval(e)) => explain::render(&e),
            Err(_) => return,
        };
        let value = s.values.map.get(stat).map_or_else(|| "no value".into(), |v| short_num(*v));
        let _ = writeln!(out, "\n**{actor}**: {value}\n```text");
        for line in text.lines().take(EXPLAIN_LINES) {
            let _ = writeln!(out, "{line}");
        }
        out.push_str("```\n");
    }
}

/// A stat's formula, range, pipeline or operator and default, from its declaration.
fn stat_rules(out: &mut String, s: &RuleSet, st: &StatDecl) {
    let mut merged = false;
    let mut piped = false;
    out.push('\n');
    for c in &st.clauses {
        let _ = match &c.kind {
            ClauseKind::Formula(e) => writeln!(out, "- formula: `{}`", snippet(s, e.span)),
            ClauseKind::Range(lo, hi) => writeln!(out, "- range: `{} .. {}`", snippet(s, lo.span), snippet(s, hi.span)),
            ClauseKind::Merge(op) => {
                merged = true;
                writeln!(out, "- operator: `merge {}` (buckets are ignored)", op.name)
            }
            ClauseKind::Pipeline(p) => {
                piped = true;
                writeln!(out, "- pipeline `{}`{}", p.name, buckets(s, &p.name))
            }
            ClauseKind::Default(e) => writeln!(out, "- default: `{}`", snippet(s, e.span)),
        };
    }
    if !merged && !piped {
        let _ = match &s.index.default_pipeline {
            Some(p) => writeln!(out, "- default pipeline `{p}`{}", buckets(s, p)),
            None => writeln!(out, "- no pipeline (and no default pipeline)"),
        };
    }
}

/// `: FLAT → MULT → …`, the buckets of pipeline `p`.
fn buckets(s: &RuleSet, p: &str) -> String {
    let Some(d) = s.index.decls(SymbolKind::Pipeline, p).first() else { return String::new() };
    match s.ast(d.name.file).and_then(|a| a.items.get(d.item)).map(|i| &i.kind) {
        Some(ItemKind::Pipeline(p)) => {
            format!(": {}", p.buckets.iter().map(|b| b.name.as_str()).collect::<Vec<_>>().join(" → "))
        }
        _ => String::new(),
    }
}

fn doc(out: &mut String, item: &Item) {
    if !item.doc.is_empty() {
        let _ = write!(out, "\n{}\n", item.doc.join("\n"));
    }
}

fn code(text: &str) -> String {
    format!("```stat\n{text}\n```\n")
}

/// The text of a span without comments, its runs of white space made one space.
fn snippet(s: &RuleSet, span: crate::source::Span) -> String {
    let text = s.text(span.file).get(span.range()).unwrap_or("");
    let mut out = String::new();
    let mut last = None;
    for l in lex(text).into_iter().filter(|l| !matches!(l.kind, Lex::Comment | Lex::DocComment)) {
        if last.is_some_and(|end| end < l.start) && !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&text[l.start..l.end]);
        last = Some(l.end);
        if out.len() > QUOTE_CHARS {
            out.push_str(" …");
            break;
        }
    }
    out
}

/// The declaration's text, without comments.
fn quote(s: &RuleSet, item: &Item) -> String {
    snippet(s, item.span)
}

/// What declares `d`: the whole declaration, or for a layer or a tag its own part.
fn quote_decl(s: &RuleSet, item: &Item, d: &Decl) -> String {
    match &item.kind {
        ItemKind::Layers(l) => match l.layers.iter().find(|l| l.name.span == d.name) {
            Some(l) if l.requires.is_some() => format!("layer {} requires realm", l.name.name),
            Some(l) => format!("layer {}", l.name.name),
            None => quote(s, item),
        },
        ItemKind::Tags(_) => format!("tag {}", snippet(s, d.name)),
        _ => quote(s, item),
    }
}
