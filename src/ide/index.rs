//! The symbol index of a rule set: every declaration and every use of a name, with its span,
//! read off the ASTs. It is built whether or not the rules check, so navigation works in
//! rules with errors.
//!
//! Invariant: names resolve as the checker resolves them — a name in a formula is a constant
//! when one is declared, else a stat; the first argument of `lookup` and `at` names a table
//! or curve; tags and groups share a namespace, and so do constants, tables and curves.

use crate::source::{FileId, Span};
use crate::syntax::{Ast, ClauseKind, Expr, ExprKind, ItemKind};
use rustc_hash::FxHashMap;

/// What a name names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SymbolKind {
    Stat,
    View,
    Bucket,
    Pipeline,
    Layer,
    Tag,
    TagGroup,
    Stack,
    Constant,
    Table,
    Curve,
    /// A built-in function (`min`, `lookup`, …) or an unknown one.
    Function,
    /// `value` or `x` in a bucket's `apply`.
    Variable,
    /// A word the grammar takes as a name but that picks a mode: a fold, a merge operator, a
    /// layer policy, a `keep` order, a required field.
    Keyword,
}

/// The namespaces: two symbols with one name clash only within one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Namespace {
    Stat,
    Bucket,
    Pipeline,
    Layer,
    Situation,
    Stack,
    Value,
    /// Functions, variables and keywords: nothing to navigate to.
    None,
}

impl SymbolKind {
    pub fn namespace(self) -> Namespace {
        match self {
            SymbolKind::Stat | SymbolKind::View => Namespace::Stat,
            SymbolKind::Bucket => Namespace::Bucket,
            SymbolKind::Pipeline => Namespace::Pipeline,
            SymbolKind::Layer => Namespace::Layer,
            SymbolKind::Tag | SymbolKind::TagGroup => Namespace::Situation,
            SymbolKind::Stack => Namespace::Stack,
            SymbolKind::Constant | SymbolKind::Table | SymbolKind::Curve => Namespace::Value,
            SymbolKind::Function | SymbolKind::Variable | SymbolKind::Keyword => Namespace::None,
        }
    }

    /// How messages name it: "stat", "tag group", ….
    pub fn word(self) -> &'static str {
        match self {
            SymbolKind::Stat => "stat",
            SymbolKind::View => "view",
            SymbolKind::Bucket => "bucket",
            SymbolKind::Pipeline => "pipeline",
            SymbolKind::Layer => "layer",
            SymbolKind::Tag => "tag",
            SymbolKind::TagGroup => "tag group",
            SymbolKind::Stack => "stacking group",
            SymbolKind::Constant => "constant",
            SymbolKind::Table => "table",
            SymbolKind::Curve => "curve",
            SymbolKind::Function => "function",
            SymbolKind::Variable => "variable",
            SymbolKind::Keyword => "keyword",
        }
    }
}

/// One declaration or use of a name.
#[derive(Debug, Clone, PartialEq)]
pub struct Occurrence {
    pub span: Span,
    pub kind: SymbolKind,
    pub name: String,
    /// The name is declared here.
    pub decl: bool,
}

/// Where a symbol is declared: its name's span and its item.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Decl {
    pub kind: SymbolKind,
    pub name: Span,
    /// The index of its item in its file's AST.
    pub item: usize,
}

/// The occurrences of every file (sorted by position) and the declarations by name.
#[derive(Debug, Default)]
pub struct Index {
    files: FxHashMap<FileId, Vec<Occurrence>>,
    decls: FxHashMap<(Namespace, String), Vec<Decl>>,
    /// Number literals, per file (for semantic tokens).
    pub numbers: FxHashMap<FileId, Vec<Span>>,
    /// The `default pipeline`'s name, if declared.
    pub default_pipeline: Option<String>,
}

impl Index {
    pub fn build(asts: &[(FileId, Ast)]) -> Index {
        let mut ix = Index::default();
        // Declarations first: uses resolve against all of them.
        for (_, ast) in asts {
            for (i, item) in ast.items.iter().enumerate() {
                let mut decl = |kind: SymbolKind, name: &crate::syntax::Ident| {
                    ix.decls.entry((kind.namespace(), name.name.clone())).or_default().push(Decl {
                        kind,
                        name: name.span,
                        item: i,
                    });
                };
                match &item.kind {
                    ItemKind::Import(_) => {}
                    ItemKind::Bucket(b) => decl(SymbolKind::Bucket, &b.name),
                    ItemKind::Pipeline(p) => decl(SymbolKind::Pipeline, &p.name),
                    ItemKind::DefaultPipeline(p) => {
                        ix.default_pipeline.get_or_insert_with(|| p.name.clone());
                    }
                    ItemKind::Layers(l) => l.layers.iter().for_each(|l| decl(SymbolKind::Layer, &l.name)),
                    ItemKind::Stat(s) => decl(SymbolKind::Stat, &s.name),
                    ItemKind::Tags(tags) => tags.iter().for_each(|t| decl(SymbolKind::Tag, t)),
                    ItemKind::TagGroup(g) => decl(SymbolKind::TagGroup, &g.name),
                    ItemKind::Stack(s) => decl(SymbolKind::Stack, &s.name),
                    ItemKind::View(v) => decl(SymbolKind::View, &v.name),
                    ItemKind::Const(c) => decl(SymbolKind::Constant, &c.name),
                    ItemKind::Table(t) => decl(SymbolKind::Table, &t.name),
                    ItemKind::Curve(c) => decl(SymbolKind::Curve, &c.name),
                }
            }
        }
        for (file, ast) in asts {
            let mut w = Walker { ix: &ix, occ: Vec::new(), numbers: Vec::new() };
            for item in &ast.items {
                w.item(&item.kind);
            }
            let Walker { mut occ, mut numbers, .. } = w;
            occ.sort_by_key(|o| (o.span.start, o.span.end));
            numbers.sort_by_key(|s| s.start);
            ix.files.insert(*file, occ);
            ix.numbers.insert(*file, numbers);
        }
        ix
    }

    /// The occurrences in `file`, by position.
    pub fn occurrences(&self, file: FileId) -> &[Occurrence] {
        self.files.get(&file).map_or(&[], Vec::as_slice)
    }

    /// The occurrence at byte `offset` of `file` (touching its end counts).
    pub fn at(&self, file: FileId, offset: usize) -> Option<&Occurrence> {
        let occ = self.occurrences(file);
        let i = occ.partition_point(|o| (o.span.end as usize) < offset);
        occ[i..].iter().take_while(|o| o.span.start as usize <= offset).last()
    }

    /// The declarations of `name` in the namespace of `kind` (more than one is E0201).
    pub fn decls(&self, kind: SymbolKind, name: &str) -> &[Decl] {
        self.decls.get(&(kind.namespace(), name.to_string())).map_or(&[], Vec::as_slice)
    }

    /// Whether `name` is declared in `ns`.
    pub fn declared(&self, ns: Namespace, name: &str) -> bool {
        self.decls.contains_key(&(ns, name.to_string()))
    }

    /// Every declared name of the namespace, with its kind, sorted.
    pub fn names(&self, ns: Namespace) -> Vec<(&str, SymbolKind)> {
        let mut v: Vec<(&str, SymbolKind)> = self
            .decls
            .iter()
            .filter(|((n, _), _)| *n == ns)
            .filter_map(|((_, name), d)| Some((name.as_str(), d.first()?.kind)))
            .collect();
        v.sort_by_key(|&(name, _)| name);
        v
    }

    /// Every occurrence, in any file, of the symbol `o` names.
    pub fn references<'a>(&'a self, o: &'a Occurrence) -> impl Iterator<Item = &'a Occurrence> + 'a {
        let ns = o.kind.namespace();
        let mut files: Vec<&FileId> = self.files.keys().collect();
        files.sort();
        files
            .into_iter()
            .flat_map(|f| &self.files[f])
            .filter(move |x| ns != Namespace::None && x.kind.namespace() == ns && x.name == o.name)
    }
}

/// Collects the occurrences of one file.
struct Walker<'i> {
    ix: &'i Index,
    occ: Vec<Occurrence>,
    numbers: Vec<Span>,
}

/// Where an expression stands: which names it can read.
#[derive(Clone, Copy, PartialEq)]
enum Scope {
    Stats,
    Apply,
    Constant,
}

impl Walker<'_> {
    fn push(&mut self, kind: SymbolKind, ident: &crate::syntax::Ident, decl: bool) {
        self.occ.push(Occurrence { span: ident.span, kind, name: ident.name.clone(), decl });
    }

    /// The kind of a declared name in `ns`, or `fallback` when it is not declared.
    fn kind_of(&self, ns: Namespace, name: &str, fallback: SymbolKind) -> SymbolKind {
        self.ix.decls.get(&(ns, name.to_string())).and_then(|d| d.first()).map_or(fallback, |d| d.kind)
    }

    fn item(&mut self, kind: &ItemKind) {
        match kind {
            ItemKind::Import(_) => {}
            ItemKind::Bucket(b) => {
                self.push(SymbolKind::Bucket, &b.name, true);
                self.push(SymbolKind::Keyword, &b.fold, false);
                self.expr(&b.apply, Scope::Apply);
            }
            ItemKind::Pipeline(p) => {
                self.push(SymbolKind::Pipeline, &p.name, true);
                p.buckets.iter().for_each(|b| self.push(SymbolKind::Bucket, b, false));
            }
            ItemKind::DefaultPipeline(p) => self.push(SymbolKind::Pipeline, p, false),
            ItemKind::Layers(l) => {
                for d in &l.layers {
                    self.push(SymbolKind::Layer, &d.name, true);
                    if let Some(r) = &d.requires {
                        self.push(SymbolKind::Keyword, r, false);
                    }
                }
                l.policies.iter().for_each(|p| self.push(SymbolKind::Keyword, p, false));
                l.unscoped.iter().for_each(|u| self.push(SymbolKind::Layer, u, false));
            }
            ItemKind::Stat(s) => {
                self.push(SymbolKind::Stat, &s.name, true);
                for c in &s.clauses {
                    match &c.kind {
                        ClauseKind::Formula(e) => self.expr(e, Scope::Stats),
                        ClauseKind::Range(lo, hi) => {
                            self.expr(lo, Scope::Stats);
                            self.expr(hi, Scope::Stats);
                        }
                        ClauseKind::Merge(op) => self.push(SymbolKind::Keyword, op, false),
                        ClauseKind::Pipeline(p) => self.push(SymbolKind::Pipeline, p, false),
                        ClauseKind::Default(e) => self.expr(e, Scope::Constant),
                    }
                }
            }
            ItemKind::Tags(tags) => tags.iter().for_each(|t| self.push(SymbolKind::Tag, t, true)),
            ItemKind::TagGroup(g) => {
                self.push(SymbolKind::TagGroup, &g.name, true);
                g.members.iter().for_each(|m| self.push(SymbolKind::Tag, m, false));
            }
            ItemKind::Stack(s) => {
                self.push(SymbolKind::Stack, &s.name, true);
                self.numbers.push(s.limit_span);
                self.push(SymbolKind::Keyword, &s.keep, false);
            }
            ItemKind::View(v) => {
                self.push(SymbolKind::View, &v.name, true);
                let source = self.kind_of(Namespace::Stat, &v.source.name, SymbolKind::Stat);
                self.push(source, &v.source, false);
                for t in &v.tags {
                    let kind = self.kind_of(Namespace::Situation, &t.name, SymbolKind::Tag);
                    self.push(kind, t, false);
                }
            }
            ItemKind::Const(c) => {
                self.push(SymbolKind::Constant, &c.name, true);
                self.expr(&c.value, Scope::Constant);
            }
            ItemKind::Table(t) | ItemKind::Curve(t) => {
                let kind = if matches!(kind, ItemKind::Table(_)) { SymbolKind::Table } else { SymbolKind::Curve };
                self.push(kind, &t.name, true);
                for (k, v) in &t.points {
                    self.expr(k, Scope::Constant);
                    self.expr(v, Scope::Constant);
                }
            }
        }
    }

    /// The names and numbers of `e`, with an explicit stack (nesting is bounded by the
    /// parser, but a stack costs nothing).
    fn expr(&mut self, e: &Expr, scope: Scope) {
        let mut stack = vec![e];
        while let Some(e) = stack.pop() {
            match &e.kind {
                ExprKind::Number(_) => self.numbers.push(e.span),
                ExprKind::Name(n) => {
                    let kind = match self.kind_of(Namespace::Value, n, SymbolKind::Stat) {
                        _ if scope == Scope::Apply && (n == "value" || n == "x") => SymbolKind::Variable,
                        SymbolKind::Stat => self.kind_of(Namespace::Stat, n, SymbolKind::Stat),
                        k => k,
                    };
                    self.occ.push(Occurrence { span: e.span, kind, name: n.clone(), decl: false });
                }
                ExprKind::Neg(a) | ExprKind::Not(a) => stack.push(a),
                ExprKind::Power(a, b) => stack.extend([&**b, &**a]),
                ExprKind::Chain(first, rest) => {
                    stack.extend(rest.iter().rev().map(|(_, e)| e));
                    stack.push(first);
                }
                ExprKind::If(c, t, f) => stack.extend([&**f, &**t, &**c]),
                ExprKind::Call(f, args) => {
                    self.push(SymbolKind::Function, f, false);
                    let points = match f.name.as_str() {
                        "lookup" => Some(SymbolKind::Table),
                        "at" => Some(SymbolKind::Curve),
                        _ => None,
                    };
                    let mut args = args.iter();
                    if let Some(fallback) = points
                        && let Some(first) = args.next()
                    {
                        match &first.kind {
                            ExprKind::Name(n) => {
                                let kind = self.kind_of(Namespace::Value, n, fallback);
                                self.occ.push(Occurrence { span: first.span, kind, name: n.clone(), decl: false });
                            }
                            _ => stack.push(first),
                        }
                    }
                    stack.extend(args.rev());
                }
            }
        }
    }
}
