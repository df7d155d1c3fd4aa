//! Check: names, duplicates, arity, constants and the dependency graph of a parsed rule set.
//!
//! Invariant: every problem is reported (no early exit); when [`check`] returns no errors,
//! every name resolves, every stat has a merge mode, and formulas and bounds are acyclic, so
//! lowering cannot fail.

use crate::diag::{Diagnostic, did_you_mean};
use crate::ir::{BinOp as IrBinOp, Fold, Function, Operator, Policy, valid_stat_name};
use crate::source::{FileId, Span};
use crate::syntax::*;
use rustc_hash::FxHashMap;

pub const REQUIREMENTS: &[&str] = &["realm"];

/// Every function name, for suggestions.
fn functions() -> impl Iterator<Item = &'static str> {
    Function::all().map(Function::name)
}

/// The keywords of `ALL`, for suggestions and the "… are: a, b" help.
fn keywords<T: Copy>(all: &[T], keyword: fn(T) -> &'static str) -> Vec<&'static str> {
    all.iter().map(|&k| keyword(k)).collect()
}

/// The declarations of a rule set, resolved; input to lowering.
#[derive(Default)]
pub struct Checked<'a> {
    pub stats: Vec<(&'a Item, &'a StatDecl)>,
    pub buckets: Vec<&'a BucketDecl>,
    pub pipelines: Vec<&'a PipelineDecl>,
    pub default_pipeline: Option<&'a Ident>,
    pub layers: Option<&'a LayersDecl>,
    /// Every tag, in declaration order.
    pub tags: Vec<&'a Ident>,
    pub tag_groups: Vec<&'a TagGroupDecl>,
    pub stacks: Vec<&'a StackDecl>,
    /// Views, each with the index of its source in `stats`.
    pub views: Vec<(&'a Item, &'a ViewDecl, usize)>,
    /// Stats and views, dependencies first: `i < stats.len()` is `stats[i]`, any other
    /// the view `views[i - stats.len()]`.
    pub order: Vec<usize>,
    /// Constants, tables and curves, in declaration order; their values are in `values`.
    pub constants: Vec<(&'a Item, &'a ConstDecl)>,
    pub tables: Vec<(&'a Item, &'a PointsDecl)>,
    pub curves: Vec<(&'a Item, &'a PointsDecl)>,
    pub values: Values<'a>,
}

/// The named values of a rule set, folded by the checker.
#[derive(Default)]
pub struct Values<'a> {
    pub constants: FxHashMap<&'a str, f64>,
    /// Keys ascending, and the value of each.
    pub tables: FxHashMap<&'a str, (Vec<f64>, Vec<f64>)>,
    /// Points by increasing `x`: the `x`s and the `y`s.
    pub curves: FxHashMap<&'a str, (Vec<f64>, Vec<f64>)>,
}

impl Values<'_> {
    /// The value of `e` when it names no stat (only numbers and named values).
    pub fn eval(&self, e: &Expr) -> Option<f64> {
        if let ExprKind::Name(n) = &e.kind {
            return self.constants.get(n.as_str()).copied();
        }
        let args: Option<Vec<f64>> = operands(e).into_iter().map(|a| self.eval(a)).collect();
        fold_constant(&e.kind, &args?, self)
    }
}

/// What a named value is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ValueKind {
    Constant,
    Table,
    Curve,
}

impl ValueKind {
    fn word(self) -> &'static str {
        match self {
            ValueKind::Constant => "constant",
            ValueKind::Table => "table",
            ValueKind::Curve => "curve",
        }
    }
}

pub fn check(files: &[(FileId, Ast)]) -> (Checked<'_>, Vec<Diagnostic>) {
    let mut c = Checker::default();
    for (_, ast) in files {
        for item in &ast.items {
            c.collect(item);
        }
        for u in &ast.unparsed {
            c.lost.add(u);
        }
    }
    c.check_all();
    let diags = std::mem::take(&mut c.diags);
    (c.out, diags)
}

#[derive(Default)]
struct Checker<'a> {
    out: Checked<'a>,
    diags: Vec<Diagnostic>,
    stat_names: FxHashMap<&'a str, usize>,
    bucket_names: FxHashMap<&'a str, usize>,
    pipeline_names: FxHashMap<&'a str, usize>,
    default_pipelines: Vec<&'a Ident>,
    layer_decls: Vec<&'a LayersDecl>,
    /// Tags and tag groups share one namespace: the tag's or group's declaring name.
    situation_names: FxHashMap<&'a str, &'a Ident>,
    stack_names: FxHashMap<&'a str, &'a Ident>,
    view_decls: Vec<(&'a Item, &'a ViewDecl)>,
    /// Constants, tables and curves share one namespace (with stats and views: E0201).
    value_names: FxHashMap<&'a str, (ValueKind, &'a Ident)>,
    /// Unknown names given a did-you-mean so far (see [`SUGGESTIONS`]).
    suggested: std::cell::Cell<usize>,
    lost: Lost<'a>,
}

/// What declarations that did not parse would have declared. Their syntax errors explain
/// what is missing, so nothing more is said about these names.
#[derive(Default)]
struct Lost<'a> {
    /// (kind, name): `("stat", "hp")`.
    names: rustc_hash::FxHashSet<(&'static str, &'a str)>,
    default_pipeline: bool,
    /// Some pipeline: it may have used any bucket.
    pipeline: bool,
    /// A whole file: anything.
    everything: bool,
}

impl<'a> Lost<'a> {
    fn add(&mut self, u: &'a Unparsed) {
        match u {
            Unparsed::Stat(n) => _ = self.names.insert(("stat", n)),
            Unparsed::Bucket(n) => _ = self.names.insert(("bucket", n)),
            Unparsed::Tag(n) => _ = self.names.insert(("tag", n)),
            Unparsed::Value(n) => {
                for kind in ["stat", "table", "curve"] {
                    self.names.insert((kind, n));
                }
            }
            Unparsed::Pipeline(n) => {
                self.pipeline = true;
                self.names.insert(("pipeline", n));
            }
            Unparsed::DefaultPipeline => self.default_pipeline = true,
            Unparsed::Everything => self.everything = true,
        }
    }

    /// Whether the `kind` (`"stat"`, `"bucket"`, `"pipeline"` or `"tag"`) called `name` may have been
    /// declared.
    fn name(&self, kind: &'static str, name: &str) -> bool {
        (self.everything && matches!(kind, "stat" | "bucket" | "pipeline" | "tag" | "table" | "curve"))
            || self.names.contains(&(kind, name))
    }
}

/// Unknown names of one rule set that get a did-you-mean: enough for any real mistake, and
/// a bound on the work when a file names thousands of unknown things.
const SUGGESTIONS: usize = 100;

fn duplicate(kind: &str, name: &Ident, first: Span) -> Diagnostic {
    Diagnostic::error("E0201", format!("{kind} `{}` is declared twice", name.name))
        .primary(name.span, "declared again here")
        .secondary(first, "first declared here")
        .help(format!("remove one declaration or rename it; {kind} names are shared by every file of the rule set"))
}

impl<'a> Checker<'a> {
    /// An unknown name, with a did-you-mean among `candidates` for the first [`SUGGESTIONS`];
    /// nothing when a declaration of that name did not parse.
    fn unknown<'c>(
        &self,
        code: &'static str,
        kind: &'static str,
        id: &Ident,
        candidates: impl IntoIterator<Item = &'c str>,
    ) -> Option<Diagnostic> {
        if self.lost.name(kind, &id.name) {
            return None;
        }
        let mut d = Diagnostic::error(code, format!("unknown {kind} `{}`", id.name))
            .primary(id.span, format!("no {kind} of this name"));
        if self.suggested.get() < SUGGESTIONS {
            self.suggested.set(self.suggested.get() + 1);
            if let Some(s) = did_you_mean(&id.name, candidates) {
                d = d.help(format!("did you mean `{s}`?"));
            }
        }
        Some(d)
    }
}

/// Whether a call of `f` names a table or curve first (`lookup`, `at`).
fn reads_points(f: &Ident) -> bool {
    matches!(Function::from_name(&f.name), Some(Function::Lookup | Function::At))
}

/// The operands of an expression node, in order: the values it computes from (the table or
/// curve a `lookup` or `at` names is not one).
fn operands(e: &Expr) -> Vec<&Expr> {
    match &e.kind {
        ExprKind::Number(_) | ExprKind::Name(_) => Vec::new(),
        ExprKind::Neg(a) | ExprKind::Not(a) => vec![a],
        ExprKind::Power(a, b) => vec![a, b],
        ExprKind::Chain(first, rest) => std::iter::once(&**first).chain(rest.iter().map(|(_, e)| e)).collect(),
        ExprKind::If(c, t, f) => vec![c, t, f],
        ExprKind::Call(f, args) if reads_points(f) => args.iter().skip(1).collect(),
        ExprKind::Call(_, args) => args.iter().collect(),
    }
}

/// The value of an expression node whose operands are the constants `args`; `None` for a
/// name, or a call of an unknown function, with the wrong number of arguments, or of an
/// unknown table or curve.
fn fold_constant(kind: &ExprKind, args: &[f64], values: &Values) -> Option<f64> {
    use crate::num;
    let arg = |i: usize| args.get(i).copied().unwrap_or(f64::NAN);
    Some(match kind {
        ExprKind::Number(v) => *v,
        ExprKind::Name(_) => return None,
        ExprKind::Neg(_) => -arg(0),
        ExprKind::Not(_) => crate::ir::UnOp::Not.apply(arg(0)),
        ExprKind::Power(..) => num::pow(arg(0), arg(1)),
        ExprKind::Chain(_, rest) => {
            let (first, operands) = args.split_first()?;
            rest.iter().zip(operands).fold(*first, |a, ((op, _), &b)| IrBinOp::from(*op).apply(a, b))
        }
        ExprKind::If(..) => {
            if num::truthy(arg(0)) {
                arg(1)
            } else {
                arg(2)
            }
        }
        ExprKind::Call(f, call_args) => match Function::from_name(&f.name).filter(|f| {
            let (lo, hi) = f.arity();
            (lo..=hi).contains(&call_args.len())
        })? {
            Function::Lookup => {
                let (keys, values) = values.tables.get(points_name(call_args)?)?;
                num::lookup(keys, values, arg(0))
            }
            Function::At => {
                let (xs, ys) = values.curves.get(points_name(call_args)?)?;
                num::curve_at(xs, ys, arg(0))
            }
            Function::Min => args.iter().copied().reduce(num::fmin)?,
            Function::Max => args.iter().copied().reduce(num::fmax)?,
            Function::Clamp => num::clamp(arg(0), arg(1), arg(2)),
            Function::Pow => num::pow(arg(0), arg(1)),
            Function::Unary(op) => op.apply(arg(0)),
        },
    })
}

/// The table or curve a `lookup` or `at` call names, when its first argument is a name.
fn points_name(args: &[Expr]) -> Option<&str> {
    match &args.first()?.kind {
        ExprKind::Name(n) => Some(n),
        _ => None,
    }
}

/// E0313 at `span`, whose constant value is `value`.
fn not_finite(value: f64, span: Span) -> Diagnostic {
    let what = if value.is_nan() { "NaN".to_string() } else { value.to_string() };
    Diagnostic::error("E0313", format!("this constant is {what}"))
        .primary(span, format!("always {what}"))
        .help("a stat whose formula, range bound, default or bucket result is not finite fails every actor")
}

/// Where an expression appears, which decides the names it may use.
#[derive(Clone, Copy, PartialEq)]
enum Scope {
    /// Formulas and range bounds: other stats.
    Stats,
    /// A bucket's `apply`: only `value` and `x`.
    Apply,
    /// `default`, constants, table entries and curve points: numbers and named values
    /// only. Says what must be constant (`` `default` ``, "a constant").
    Constant(&'static str),
}

impl<'a> Checker<'a> {
    fn collect(&mut self, item: &'a Item) {
        match &item.kind {
            ItemKind::Import(_) => {}
            ItemKind::Bucket(b) => {
                if let Some(&i) = self.bucket_names.get(b.name.name.as_str()) {
                    self.diags.push(duplicate("bucket", &b.name, self.out.buckets[i].name.span));
                } else {
                    self.bucket_names.insert(&b.name.name, self.out.buckets.len());
                    self.out.buckets.push(b);
                }
            }
            ItemKind::Pipeline(p) => {
                if let Some(&i) = self.pipeline_names.get(p.name.name.as_str()) {
                    self.diags.push(duplicate("pipeline", &p.name, self.out.pipelines[i].name.span));
                } else {
                    self.pipeline_names.insert(&p.name.name, self.out.pipelines.len());
                    self.out.pipelines.push(p);
                }
            }
            ItemKind::DefaultPipeline(p) => self.default_pipelines.push(p),
            ItemKind::Layers(l) => self.layer_decls.push(l),
            ItemKind::Stat(s) => {
                if let Some(&i) = self.stat_names.get(s.name.name.as_str()) {
                    self.diags.push(duplicate("stat", &s.name, self.out.stats[i].1.name.span));
                } else {
                    self.stat_names.insert(&s.name.name, self.out.stats.len());
                    self.out.stats.push((item, s));
                }
            }
            ItemKind::Tags(tags) => {
                for t in tags {
                    if self.situation_name(t) {
                        self.out.tags.push(t);
                    }
                }
            }
            ItemKind::TagGroup(g) => {
                if self.situation_name(&g.name) {
                    self.out.tag_groups.push(g);
                }
            }
            ItemKind::Stack(st) => match self.stack_names.get(st.name.name.as_str()) {
                Some(first) => self.diags.push(duplicate("stacking group", &st.name, first.span)),
                None => {
                    self.stack_names.insert(&st.name.name, &st.name);
                    self.out.stacks.push(st);
                }
            },
            ItemKind::View(v) => self.view_decls.push((item, v)),
            ItemKind::Const(c) => {
                if self.value_name(ValueKind::Constant, &c.name) {
                    self.out.constants.push((item, c));
                }
            }
            ItemKind::Table(t) => {
                if self.value_name(ValueKind::Table, &t.name) {
                    self.out.tables.push((item, t));
                }
            }
            ItemKind::Curve(t) => {
                if self.value_name(ValueKind::Curve, &t.name) {
                    self.out.curves.push((item, t));
                }
            }
        }
    }

    /// Registers a constant, table or curve name; false (and E0201) when it is taken.
    fn value_name(&mut self, kind: ValueKind, name: &'a Ident) -> bool {
        if let Some((_, first)) = self.value_names.get(name.name.as_str()) {
            self.diags.push(duplicate("constant, table or curve", name, first.span));
            return false;
        }
        if matches!(name.name.as_str(), "value" | "x") {
            self.diags.push(
                Diagnostic::error("E0311", format!("a {} cannot be called `{}`", kind.word(), name.name))
                    .primary(name.span, "a reserved name")
                    .help("`value` and `x` are the running and folded values of a bucket's `apply`"),
            );
            return false;
        }
        self.value_names.insert(&name.name, (kind, name));
        true
    }

    /// Registers a tag or tag group name; false (and E0201) when it is taken.
    fn situation_name(&mut self, name: &'a Ident) -> bool {
        if let Some(first) = self.situation_names.get(name.name.as_str()) {
            self.diags.push(duplicate("tag or tag group", name, first.span));
            return false;
        }
        self.situation_names.insert(&name.name, name);
        true
    }

    fn check_all(&mut self) {
        self.check_values();
        for (i, p) in self.default_pipelines.iter().enumerate() {
            if i > 0 {
                self.diags.push(
                    Diagnostic::error("E0201", "the default pipeline is declared twice")
                        .primary(p.span, "declared again here")
                        .secondary(self.default_pipelines[0].span, "first declared here"),
                );
            } else if !self.pipeline_names.contains_key(p.name.as_str()) {
                let d = self.unknown("E0103", "pipeline", p, self.pipeline_names.keys().copied());
                self.diags.extend(d);
            }
        }
        self.out.default_pipeline = self.default_pipelines.first().copied();
        self.check_layers();
        let buckets = self.out.buckets.clone();
        for b in &buckets {
            if Fold::from_keyword(&b.fold.name).is_none() {
                let folds = keywords(Fold::ALL, Fold::keyword);
                let mut d = Diagnostic::error("E0106", format!("unknown fold `{}`", b.fold.name))
                    .primary(b.fold.span, "not a fold");
                d = d.help(match did_you_mean(&b.fold.name, folds.iter().copied()) {
                    Some(s) => format!("did you mean `{s}`? folds are: {}", folds.join(", ")),
                    None => format!("folds are: {}", folds.join(", ")),
                });
                self.diags.push(d);
            }
            self.expr(&b.apply, Scope::Apply, &mut Vec::new());
        }
        let mut used = vec![false; buckets.len()];
        for p in self.out.pipelines.clone() {
            let mut seen: FxHashMap<&str, Span> = FxHashMap::default();
            for b in &p.buckets {
                match self.bucket_names.get(b.name.as_str()) {
                    Some(&i) => used[i] = true,
                    None => {
                        // The bucket it was meant to be is not "unused": E0102 says it all.
                        let meant = did_you_mean(&b.name, self.bucket_names.keys().copied());
                        if let Some(&i) = meant.and_then(|m| self.bucket_names.get(m)) {
                            used[i] = true;
                        }
                        let d = self.unknown("E0102", "bucket", b, self.bucket_names.keys().copied());
                        self.diags.extend(d);
                    }
                }
                if let Some(first) = seen.insert(&b.name, b.span) {
                    self.diags.push(
                        Diagnostic::error(
                            "E0308",
                            format!("pipeline `{}` lists bucket `{}` twice", p.name.name, b.name),
                        )
                        .primary(b.span, "listed again here")
                        .secondary(first, "first listed here"),
                    );
                }
            }
        }
        // A pipeline that did not parse may have used any bucket.
        let pipeline_lost = self.lost.pipeline || self.lost.everything;
        for (b, used) in buckets.iter().zip(used) {
            if !used && !pipeline_lost {
                self.diags.push(
                    Diagnostic::warning("W0001", format!("bucket `{}` is not used by any pipeline", b.name.name))
                        .primary(b.name.span, "unused bucket")
                        .help("add it to a pipeline, or remove it"),
                );
            }
        }
        self.check_situations();
        let mut deps: Vec<Vec<(usize, Span)>> = Vec::with_capacity(self.out.stats.len());
        for (_, s) in self.out.stats.clone() {
            deps.push(self.stat(s));
        }
        // A view reads what its source reads.
        for &(_, _, source) in &self.out.views {
            deps.push(deps.get(source).cloned().unwrap_or_default());
        }
        let names: Vec<(&'a Ident, &str)> = (0..deps.len()).map(|i| (self.node_name(i), "stat")).collect();
        self.out.order = self.order(&deps, &names, Cycle::STATS);
    }

    /// Constants, tables and curves: their names against the stats', their order (cycles
    /// are E0301), then their values, each after those it names.
    fn check_values(&mut self) {
        let decls: Vec<(ValueKind, &'a Ident, Vec<&'a Expr>)> = (self.out.constants.iter())
            .map(|(_, c)| (ValueKind::Constant, &c.name, vec![&c.value]))
            .chain(self.out.tables.iter().map(|(_, t)| (ValueKind::Table, &t.name, points_exprs(t))))
            .chain(self.out.curves.iter().map(|(_, t)| (ValueKind::Curve, &t.name, points_exprs(t))))
            .collect();
        let index: FxHashMap<&str, usize> = decls.iter().enumerate().map(|(i, d)| (d.1.name.as_str(), i)).collect();
        for (_, name, _) in &decls {
            let stat = self.out.stats.iter().map(|(_, s)| &s.name);
            let view = self.view_decls.iter().map(|(_, v)| &v.name);
            if let Some(first) = stat.chain(view).find(|s| s.name == name.name) {
                self.diags.push(duplicate("name", name, first.span));
            }
        }
        let deps: Vec<Vec<(usize, Span)>> = decls
            .iter()
            .map(|(_, _, exprs)| {
                let mut deps = Vec::new();
                for e in exprs {
                    e.for_each_name(&mut |n, span| deps.extend(index.get(n).map(|&i| (i, span))));
                }
                deps
            })
            .collect();
        let names: Vec<(&Ident, &str)> = decls.iter().map(|d| (d.1, d.0.word())).collect();
        let order = self.order(&deps, &names, Cycle::VALUES);
        let (constants, tables) = (self.out.constants.len(), self.out.tables.len());
        for i in order {
            if i < constants {
                let c = self.out.constants[i].1;
                if let Some(v) = self.expr(&c.value, Scope::Constant("a constant's value"), &mut Vec::new()) {
                    self.out.values.constants.insert(&c.name.name, v);
                }
            } else if i < constants + tables {
                let t = self.out.tables[i - constants].1;
                if let Some(entries) = self.table(t) {
                    self.out.values.tables.insert(&t.name.name, entries);
                }
            } else {
                let c = self.out.curves[i - constants - tables].1;
                if let Some(points) = self.curve(c) {
                    self.out.values.curves.insert(&c.name.name, points);
                }
            }
        }
    }

    /// The entries of `t` folded, each with its key's span; `None` when one is not a constant.
    fn points(&mut self, t: &PointsDecl, key: &'static str, value: &'static str) -> Option<Vec<(f64, f64, Span)>> {
        let mut out = Some(Vec::with_capacity(t.points.len()));
        for (k, v) in &t.points {
            let kv = self.expr(k, Scope::Constant(key), &mut Vec::new());
            let vv = self.expr(v, Scope::Constant(value), &mut Vec::new());
            match (kv, vv, &mut out) {
                (Some(kv), Some(vv), Some(out)) if kv.is_finite() && vv.is_finite() => out.push((kv, vv, k.span)),
                _ => out = None,
            }
        }
        out
    }

    /// A table's keys (ascending) and values; E0317 for a key given twice, E0319 for no entry.
    fn table(&mut self, t: &PointsDecl) -> Option<(Vec<f64>, Vec<f64>)> {
        if t.points.is_empty() {
            self.diags.push(too_few_points(t, "table", "one entry"));
            return None;
        }
        let mut entries = self.points(t, "a table key", "a table value")?;
        entries.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.2.start.cmp(&b.2.start)));
        let mut ok = true;
        for pair in entries.windows(2) {
            if pair[0].0 == pair[1].0 {
                ok = false;
                self.diags.push(
                    Diagnostic::error("E0317", format!("table `{}` has the key {} twice", t.name.name, pair[1].0))
                        .primary(pair[1].2, "given again here")
                        .secondary(pair[0].2, "first given here")
                        .help("each key of a table has one value"),
                );
            }
        }
        ok.then(|| entries.into_iter().map(|(k, v, _)| (k, v)).unzip())
    }

    /// A curve's `x`s and `y`s; E0318 unless the `x`s increase, E0319 for fewer than two points.
    fn curve(&mut self, c: &PointsDecl) -> Option<(Vec<f64>, Vec<f64>)> {
        if c.points.len() < 2 {
            self.diags.push(too_few_points(c, "curve", "two points"));
            return None;
        }
        let points = self.points(c, "a curve's x", "a curve's y")?;
        let mut ok = true;
        for pair in points.windows(2) {
            let ((x0, y0, at0), (x1, y1, at1)) = (pair[0], pair[1]);
            if x1 <= x0 {
                ok = false;
                self.diags.push(
                    Diagnostic::error(
                        "E0318",
                        format!("the points of curve `{}` do not increase: {x1} after {x0}", c.name.name),
                    )
                    .primary(at1, format!("x = {x1} here"))
                    .secondary(at0, format!("after x = {x0}"))
                    .help("list a curve's points from the smallest x to the largest, each x once"),
                );
            } else if !(x1 - x0).is_finite() || !(y1 - y0).is_finite() {
                ok = false;
                self.diags.push(
                    Diagnostic::error("E0313", format!("curve `{}` is too steep between {x0} and {x1}", c.name.name))
                        .primary(at0.to(at1), "the difference of these points is not a finite number")
                        .help("interpolating between them would give an infinity"),
                );
            }
        }
        ok.then(|| points.into_iter().map(|(x, y, _)| (x, y)).unzip())
    }

    /// Tag groups, stacking groups and views; views join the stat namespace.
    fn check_situations(&mut self) {
        for g in self.out.tag_groups.clone() {
            let mut seen: FxHashMap<&str, Span> = FxHashMap::default();
            for m in &g.members {
                if let Some(first) = seen.insert(&m.name, m.span) {
                    self.diags.push(listed_twice(&format!("tag group `{}`", g.name.name), m, first));
                } else if self.out.tag_groups.iter().any(|other| other.name.name == m.name) {
                    self.diags.push(
                        Diagnostic::error("E0314", format!("tag group `{}` lists the group `{}`", g.name.name, m.name))
                            .primary(m.span, "a group, not a tag")
                            .help("a tag group lists tags; list that group's tags instead"),
                    );
                } else if !self.out.tags.iter().any(|t| t.name == m.name) {
                    let d = self.unknown("E0108", "tag", m, self.out.tags.iter().map(|t| t.name.as_str()));
                    self.diags.extend(d);
                }
            }
        }
        for st in self.out.stacks.clone() {
            if st.limit < 1.0 || st.limit.fract() != 0.0 || st.limit > f64::from(u32::MAX) {
                self.diags.push(
                    Diagnostic::error("E0315", format!("stacking group `{}` has limit {}", st.name.name, st.limit))
                        .primary(st.limit_span, "not a whole number of at least 1")
                        .help("`limit N` keeps at most N contributions of one group and key; N is 1 or more"),
                );
            }
            if crate::ir::Keep::from_keyword(&st.keep.name).is_none() {
                let keeps = keywords(crate::ir::Keep::ALL, crate::ir::Keep::keyword);
                let mut d = Diagnostic::error("E0106", format!("unknown stacking order `{}`", st.keep.name))
                    .primary(st.keep.span, "not an order");
                d = d.help(match did_you_mean(&st.keep.name, keeps.iter().copied()) {
                    Some(k) => format!("did you mean `{k}`? `keep` takes: {}", keeps.join(", ")),
                    None => format!("`keep` takes: {}", keeps.join(", ")),
                });
                self.diags.push(d);
            }
        }
        let stats = self.out.stats.len();
        for (item, v) in self.view_decls.clone() {
            if let Some(&i) = self.stat_names.get(v.name.name.as_str()) {
                let first =
                    if i < stats { self.out.stats[i].1.name.span } else { self.out.views[i - stats].1.name.span };
                self.diags.push(duplicate("stat", &v.name, first));
                continue;
            }
            if !valid_stat_name(&v.name.name) {
                self.diags.push(invalid_stat_name(&v.name));
            }
            let source = match self.stat_names.get(v.source.name.as_str()) {
                Some(&i) if i < stats => Some(i),
                Some(_) => {
                    self.diags.push(
                        Diagnostic::error(
                            "E0316",
                            format!("view `{}` is a view of the view `{}`", v.name.name, v.source.name),
                        )
                        .primary(v.source.span, "a view, not a stat")
                        .help("a view's source is a stat; view that stat with all the tags instead"),
                    );
                    None
                }
                None => {
                    let names = self.stat_names.keys().copied().filter(|n| valid_stat_name(n));
                    let d = self.unknown("E0101", "stat", &v.source, names);
                    self.diags.extend(d);
                    None
                }
            };
            let mut seen: FxHashMap<&str, Span> = FxHashMap::default();
            for t in &v.tags {
                if let Some(first) = seen.insert(&t.name, t.span) {
                    self.diags.push(listed_twice(&format!("view `{}`", v.name.name), t, first));
                } else if !self.situation_names.contains_key(t.name.as_str()) {
                    let d = self.unknown("E0108", "tag", t, self.situation_names.keys().copied());
                    self.diags.extend(d);
                }
            }
            // Registered even without a source, so that formulas reading it get no follow-on error.
            self.stat_names.insert(&v.name.name, stats + self.out.views.len());
            self.out.views.push((item, v, source.unwrap_or(usize::MAX)));
        }
    }

    /// The declared name of stat or view `i` (an index of [`Checked::order`]).
    fn node_name(&self, i: usize) -> &'a Ident {
        match self.out.stats.get(i) {
            Some((_, s)) => &s.name,
            None => &self.out.views[i - self.out.stats.len()].1.name,
        }
    }

    fn check_layers(&mut self) {
        let decls = self.layer_decls.clone();
        for (i, l) in decls.iter().enumerate() {
            if i > 0 {
                let span = l.layers.first().map_or(Span::default(), |l| l.name.span);
                let first = decls[0].layers.first().map_or(Span::default(), |l| l.name.span);
                self.diags.push(
                    Diagnostic::error("E0201", "cap layers are declared twice")
                        .primary(span, "declared again here")
                        .secondary(first, "first declared here")
                        .help("a rule set has one `layers` declaration listing every layer in order"),
                );
                continue;
            }
            let mut seen: FxHashMap<&str, Span> = FxHashMap::default();
            for layer in &l.layers {
                if let Some(first) = seen.insert(&layer.name.name, layer.name.span) {
                    self.diags.push(duplicate("layer", &layer.name, first));
                }
                if let Some(r) = &layer.requires
                    && !REQUIREMENTS.contains(&r.name.as_str())
                {
                    self.diags.push(
                        Diagnostic::error("E0106", format!("unknown cap field `{}`", r.name))
                            .primary(r.span, "not a cap field")
                            .help("a layer can require: realm"),
                    );
                }
            }
            for (k, p) in l.policies.iter().enumerate() {
                if k > 0 {
                    self.diags.push(duplicate_clause("policy", p.span, l.policies[0].span));
                } else if Policy::from_keyword(&p.name).is_none() {
                    let mut d = Diagnostic::error("E0106", format!("unknown layer policy `{}`", p.name))
                        .primary(p.span, "not a policy");
                    d = d.help(format!("policies are: {}", keywords(Policy::ALL, Policy::keyword).join(", ")));
                    self.diags.push(d);
                }
            }
            for (k, u) in l.unscoped.iter().enumerate() {
                if k > 0 {
                    self.diags.push(duplicate_clause("unscoped", u.span, l.unscoped[0].span));
                } else if !seen.contains_key(u.name.as_str()) {
                    let d = self.unknown("E0104", "layer", u, seen.keys().copied());
                    self.diags.extend(d);
                }
            }
        }
        self.out.layers = decls.first().copied();
    }

    /// Checks one stat; returns the stats its formula and bounds read.
    fn stat(&mut self, s: &'a StatDecl) -> Vec<(usize, Span)> {
        if !valid_stat_name(&s.name.name) {
            self.diags.push(invalid_stat_name(&s.name));
        }
        let mut seen: FxHashMap<&str, Span> = FxHashMap::default();
        let mut deps = Vec::new();
        let (mut merge, mut pipeline, mut formula) = (None, None, None);
        for c in &s.clauses {
            if let Some(first) = seen.insert(c.kind.keyword(), c.span) {
                self.diags.push(duplicate_clause(c.kind.keyword(), c.span, first));
                continue;
            }
            match &c.kind {
                ClauseKind::Formula(e) => {
                    formula = Some(c.span);
                    self.expr(e, Scope::Stats, &mut deps);
                }
                ClauseKind::Range(lo, hi) => {
                    let lo_value = self.expr(lo, Scope::Stats, &mut deps);
                    let hi_value = self.expr(hi, Scope::Stats, &mut deps);
                    if let (Some(a), Some(b)) = (lo_value, hi_value)
                        && a > b
                    {
                        self.diags.push(
                            Diagnostic::error("E0303", format!("range of `{}` is empty: {a} > {b}", s.name.name))
                                .primary(lo.span.to(hi.span), "minimum is above maximum")
                                .help("write the range as `min .. max`"),
                        );
                    }
                }
                ClauseKind::Merge(m) => {
                    merge = Some(c.span);
                    if Operator::from_keyword(&m.name).is_none() {
                        let operators = keywords(Operator::ALL, Operator::keyword);
                        let mut d = Diagnostic::error("E0106", format!("unknown merge operator `{}`", m.name))
                            .primary(m.span, "not an operator");
                        d = d.help(match did_you_mean(&m.name, operators.iter().copied()) {
                            Some(x) => format!("did you mean `{x}`? operators are: {}", operators.join(", ")),
                            None => format!("operators are: {}", operators.join(", ")),
                        });
                        self.diags.push(d);
                    }
                }
                ClauseKind::Pipeline(p) => {
                    pipeline = Some(c.span);
                    if !self.pipeline_names.contains_key(p.name.as_str()) {
                        let d = self.unknown("E0103", "pipeline", p, self.pipeline_names.keys().copied());
                        self.diags.extend(d);
                    }
                }
                ClauseKind::Default(e) => {
                    self.expr(e, Scope::Constant("`default`"), &mut Vec::new());
                }
            }
        }
        if let (Some(m), Some(p)) = (merge, pipeline) {
            self.diags.push(
                Diagnostic::error("E0305", format!("operator-mode stat `{}` is given a pipeline", s.name.name))
                    .primary(p, "pipeline given here")
                    .secondary(m, "the merge operator already decides how contributions combine")
                    .help("keep either `merge …` or `pipeline …`"),
            );
        }
        if let (Some(m), Some(f)) = (merge, formula) {
            self.diags.push(
                Diagnostic::error("E0306", format!("operator-mode stat `{}` has a base formula", s.name.name))
                    .primary(f, "base formula here")
                    .secondary(m, "operators combine contributions only")
                    .help("remove `merge …` to run the formula through a pipeline"),
            );
        }
        if merge.is_none()
            && pipeline.is_none()
            && self.default_pipelines.is_empty()
            && !(self.lost.default_pipeline || self.lost.everything)
        {
            self.diags.push(
                Diagnostic::error("E0307", format!("stat `{}` has no merge mode", s.name.name))
                    .primary(s.name.span, "neither `pipeline …` nor `merge …`, and no default pipeline")
                    .help("declare `default pipeline NAME;` or give the stat `pipeline NAME` or `merge OP`"),
            );
        }
        deps
    }

    /// Checks an expression; returns its value when it is a constant. A constant that is not
    /// finite is reported once, at the smallest expression that makes it (E0313).
    fn expr(&mut self, e: &Expr, scope: Scope, deps: &mut Vec<(usize, Span)>) -> Option<f64> {
        match &e.kind {
            ExprKind::Chain(first, rest) => return self.chain(first, rest, scope, deps),
            ExprKind::Name(n) => {
                self.name(n, e.span, scope, deps);
                return self.out.values.constants.get(n.as_str()).copied();
            }
            _ => {}
        }
        let args: Vec<Option<f64>> = operands(e).into_iter().map(|a| self.expr(a, scope, deps)).collect();
        self.calls(e, &args);
        let args: Option<Vec<f64>> = args.into_iter().collect();
        let args = args?;
        let value = fold_constant(&e.kind, &args, &self.out.values)?;
        let lookup = matches!(&e.kind, ExprKind::Call(f, _) if f.name == "lookup");
        // A `lookup` of a missing key is E0320.
        if !value.is_finite() && args.iter().all(|a| a.is_finite()) && !lookup {
            self.diags.push(not_finite(value, e.span));
        }
        Some(value)
    }

    /// Checks a chain as the left-deep tree it evaluates as: `a + b - c` is `(a + b) - c`, so
    /// each prefix (`a + b`) is a subexpression for E0304 and E0313.
    fn chain(
        &mut self,
        first: &Expr,
        rest: &[(BinOp, Expr)],
        scope: Scope,
        deps: &mut Vec<(usize, Span)>,
    ) -> Option<f64> {
        let mut value = self.expr(first, scope, deps);
        let mut span = first.span;
        for (op, operand) in rest {
            let b = self.expr(operand, scope, deps);
            span = span.to(operand.span);
            let by_zero = matches!(op, BinOp::Div | BinOp::Rem) && b == Some(0.0);
            if by_zero {
                let what = if *op == BinOp::Div { "division" } else { "remainder" };
                self.diags.push(
                    Diagnostic::error("E0304", format!("{what} by a constant zero"))
                        .primary(operand.span, "this is always zero")
                        .secondary(span, format!("in this {what}")),
                );
            }
            value = match (value, b) {
                (Some(a), Some(b)) => {
                    let v = IrBinOp::from(*op).apply(a, b);
                    if !v.is_finite() && a.is_finite() && b.is_finite() && !by_zero {
                        self.diags.push(not_finite(v, span));
                    }
                    Some(v)
                }
                _ => None,
            };
        }
        value
    }

    /// The checks of a name used as a number: a stat (recorded in `deps`), a constant, or
    /// in `apply` the bucket variables.
    fn name(&mut self, n: &str, span: Span, scope: Scope, deps: &mut Vec<(usize, Span)>) {
        if scope == Scope::Apply && (n == "value" || n == "x") {
            return;
        }
        match self.value_names.get(n).map(|(kind, _)| *kind) {
            Some(ValueKind::Constant) => return,
            Some(kind) => {
                let read = if kind == ValueKind::Table { "lookup(NAME, key)" } else { "at(NAME, x)" };
                self.diags.push(
                    Diagnostic::error("E0110", format!("`{n}` is a {}, not a number", kind.word()))
                        .primary(span, format!("a {}", kind.word()))
                        .help(format!("read it with `{}`", read.replace("NAME", n))),
                );
                return;
            }
            None => {}
        }
        match scope {
            Scope::Apply => self.diags.push(
                Diagnostic::error("E0107", format!("`{n}` cannot be used in a bucket's `apply`"))
                    .primary(span, "not available here")
                    .help("`apply` sees only `value` (the running value), `x` (the folded value, or one contribution for `fold each`) and constants"),
            ),
            Scope::Constant(what) if self.stat_names.contains_key(n) => self.diags.push(
                Diagnostic::error("E0312", format!("{what} must be a constant, but it names the stat `{n}`"))
                    .primary(span, "not a constant")
                    .help(if what == "`default`" {
                        "use a base formula (`= …`) to start from other stats"
                    } else {
                        "constants, tables and curves are the same for every actor: they use numbers and other constants"
                    }),
            ),
            Scope::Constant(_) => {
                let id = Ident { name: n.to_string(), span };
                let d = self.unknown("E0101", "constant", &id, self.constants_named());
                self.diags.extend(d);
            }
            Scope::Stats => match self.stat_names.get(n) {
                Some(&i) => deps.push((i, span)),
                None => {
                    let id = Ident { name: n.to_string(), span };
                    // Never suggest a name that is itself refused (E0310).
                    let stats = self.stat_names.keys().copied().filter(|n| valid_stat_name(n));
                    let names: Vec<&str> = stats.chain(self.constants_named()).collect();
                    let d = self.unknown("E0101", "stat", &id, names);
                    self.diags.extend(d);
                }
            },
        }
    }

    /// The names of the constants.
    fn constants_named(&self) -> impl Iterator<Item = &'a str> + use<'a, '_> {
        self.value_names.iter().filter(|(_, (k, _))| *k == ValueKind::Constant).map(|(n, _)| *n)
    }

    /// The checks of a call whose operands were checked already (and are the constants
    /// `values`, where they are constants).
    fn calls(&mut self, e: &Expr, values: &[Option<f64>]) {
        let ExprKind::Call(f, args) = &e.kind else { return };
        let function = Function::from_name(&f.name);
        if let (Some(Function::Clamp), [_, Some(lo), Some(hi)]) = (function, values)
            && lo > hi
        {
            self.diags.push(
                Diagnostic::error("E0303", format!("the bounds of `clamp` are empty: {lo} > {hi}"))
                    .primary(args[1].span.to(args[2].span), "minimum is above maximum")
                    .help("`clamp(v, lo, hi)` takes the minimum first"),
            );
        }
        match function.map(|f| (f, f.arity())) {
            None => {
                let d = self.unknown("E0105", "function", f, functions());
                self.diags.extend(d);
            }
            Some((function, (lo, hi))) if args.len() < lo || args.len() > hi => {
                let want = if lo == hi {
                    format!("{lo}")
                } else if hi == usize::MAX {
                    format!("at least {lo}")
                } else {
                    format!("{lo} to {hi}")
                };
                let s = if want == "1" { "" } else { "s" };
                let were = if args.len() == 1 { "was" } else { "were" };
                self.diags.push(
                    Diagnostic::error(
                        "E0302",
                        format!("`{}` takes {want} argument{s} but {} {were} given", f.name, args.len()),
                    )
                    .primary(e.span, format!("`{}` takes {want}", f.name))
                    .help(format!("call it as `{}`", function.signature())),
                );
            }
            Some((Function::Lookup, _)) => self.points_call(ValueKind::Table, args, values.first().copied().flatten()),
            Some((Function::At, _)) => self.points_call(ValueKind::Curve, args, None),
            Some(_) => {}
        }
    }

    /// The first argument of `lookup` (`want` a table) or `at` (a curve): its name. A
    /// constant `key` of a table must be one of its keys.
    fn points_call(&mut self, want: ValueKind, args: &[Expr], key: Option<f64>) {
        let function = if want == ValueKind::Table { "lookup" } else { "at" };
        let ExprKind::Name(name) = &args[0].kind else {
            self.diags.push(
                Diagnostic::error("E0109", format!("`{function}` reads a {} by its name", want.word()))
                    .primary(args[0].span, format!("not the name of a {}", want.word()))
                    .help(format!(
                        "call it as `{function}(NAME, …)` with a {} declared by `{} NAME = […];`",
                        want.word(),
                        want.word()
                    )),
            );
            return;
        };
        let id = Ident { name: name.clone(), span: args[0].span };
        match self.value_names.get(name.as_str()).map(|(k, _)| *k) {
            Some(kind) if kind == want => {
                if let (Some(key), Some((keys, _))) = (key, self.out.values.tables.get(name.as_str()))
                    && crate::num::lookup(keys, keys, key).is_nan()
                {
                    let near = keys.iter().map(|k| k.to_string()).take(8).collect::<Vec<_>>().join(", ");
                    let more = if keys.len() > 8 { ", …" } else { "" };
                    self.diags.push(
                        Diagnostic::error("E0320", format!("table `{name}` has no key {key}"))
                            .primary(args[1].span, format!("always {key}"))
                            .help(format!("its keys are: {near}{more}")),
                    );
                }
            }
            Some(kind) => self.diags.push(
                Diagnostic::error("E0110", format!("`{name}` is a {}, not a {}", kind.word(), want.word()))
                    .primary(args[0].span, format!("a {}", kind.word()))
                    .help(match kind {
                        ValueKind::Table => format!("read a table with `lookup({name}, key)`"),
                        ValueKind::Curve => format!("read a curve with `at({name}, x)`"),
                        ValueKind::Constant => format!("`{function}` reads a {}", want.word()),
                    }),
            ),
            None => {
                let names: Vec<&str> =
                    self.value_names.iter().filter(|(_, (k, _))| *k == want).map(|(n, _)| *n).collect();
                let d = self.unknown("E0109", want.word(), &id, names);
                self.diags.extend(d);
            }
        }
    }

    /// Topological order (declaration order among independent stats); reports every cycle.
    /// `names` gives each node's name and kind (`stat`, `constant`…).
    fn order(&mut self, deps: &[Vec<(usize, Span)>], names: &[(&Ident, &str)], cycle: Cycle) -> Vec<usize> {
        let n = deps.len();
        for scc in strongly_connected(n, deps) {
            let cyclic = scc.len() > 1 || deps[scc[0]].iter().any(|(d, _)| *d == scc[0]);
            if !cyclic {
                continue;
            }
            let mut members = scc.clone();
            members.sort_unstable();
            let on_cycle: Vec<&str> = members.iter().map(|&i| names[i].0.name.as_str()).collect();
            let (first, kind) = names[members[0]];
            let message = match on_cycle.as_slice() {
                [one] => format!("{kind} `{one}` depends on itself"),
                _ => format!("{} depend on each other in a cycle: {}", cycle.many, on_cycle.join(", ")),
            };
            let mut d = Diagnostic::error("E0301", message).primary(first.span, format!("this {kind} is on the cycle"));
            for &m in &members {
                if m != members[0] {
                    d = d.secondary(names[m].0.span, "on the cycle");
                }
                for (dep, span) in &deps[m] {
                    if members.contains(dep) {
                        d = d.secondary(*span, format!("reads `{}`", names[*dep].0.name));
                    }
                }
            }
            self.diags.push(d.help(cycle.help));
        }
        // Kahn's algorithm, smallest index first; stats on cycles are appended at the end.
        let mut indegree = vec![0usize; n];
        let mut users: Vec<Vec<usize>> = vec![Vec::new(); n];
        for (i, ds) in deps.iter().enumerate() {
            let mut uniq: Vec<usize> = ds.iter().map(|(d, _)| *d).collect();
            uniq.sort_unstable();
            uniq.dedup();
            for d in uniq {
                indegree[i] += 1;
                users[d].push(i);
            }
        }
        let mut ready: std::collections::BTreeSet<usize> = (0..n).filter(|&i| indegree[i] == 0).collect();
        let mut order = Vec::with_capacity(n);
        while let Some(i) = ready.pop_first() {
            order.push(i);
            for &u in &users[i] {
                indegree[u] -= 1;
                if indegree[u] == 0 {
                    ready.insert(u);
                }
            }
        }
        if order.len() < n {
            let placed: std::collections::HashSet<usize> = order.iter().copied().collect();
            order.extend((0..n).filter(|i| !placed.contains(i)));
        }
        order
    }
}

/// How E0301 names what is on a cycle.
#[derive(Clone, Copy)]
struct Cycle {
    many: &'static str,
    help: &'static str,
}

impl Cycle {
    const STATS: Cycle = Cycle {
        many: "stats",
        help: "a formula or range bound cannot depend on itself, directly or through other stats",
    };
    const VALUES: Cycle = Cycle {
        many: "constants, tables and curves",
        help: "a constant, table or curve cannot be defined by itself, directly or through others",
    };
}

/// Every key and value of a table or curve.
fn points_exprs(t: &PointsDecl) -> Vec<&Expr> {
    t.points.iter().flat_map(|(k, v)| [k, v]).collect()
}

/// E0319: `t` (a `kind`) has fewer entries than `least`.
fn too_few_points(t: &PointsDecl, kind: &str, least: &str) -> Diagnostic {
    Diagnostic::error("E0319", format!("{kind} `{}` needs at least {least}", t.name.name))
        .primary(t.list_span, format!("{} given", t.points.len()))
        .help(format!(
            "write it as `{kind} {} = [{}];`",
            t.name.name,
            if kind == "table" { "key: value, …" } else { "x: y, x: y, …" }
        ))
}

fn invalid_stat_name(name: &Ident) -> Diagnostic {
    Diagnostic::error("E0310", format!("stat name `{}` is not allowed", name.name))
        .primary(name.span, "invalid stat name")
        .help("stat names are lower case: a letter, then letters, digits or `_` (they must match actor input)")
}

fn listed_twice(what: &str, name: &Ident, first: Span) -> Diagnostic {
    Diagnostic::error("E0308", format!("{what} lists `{}` twice", name.name))
        .primary(name.span, "listed again here")
        .secondary(first, "first listed here")
}

fn duplicate_clause(keyword: &str, span: Span, first: Span) -> Diagnostic {
    Diagnostic::error("E0202", format!("`{keyword}` is given twice"))
        .primary(span, "given again here")
        .secondary(first, "first given here")
}

/// Tarjan's algorithm, iterative (no recursion on user-controlled depth).
fn strongly_connected(n: usize, deps: &[Vec<(usize, Span)>]) -> Vec<Vec<usize>> {
    let mut index = vec![usize::MAX; n];
    let mut low = vec![0; n];
    let mut on_stack = vec![false; n];
    let mut stack = Vec::new();
    let mut out = Vec::new();
    let mut next = 0;
    for root in 0..n {
        if index[root] != usize::MAX {
            continue;
        }
        let mut work: Vec<(usize, usize)> = vec![(root, 0)];
        index[root] = next;
        low[root] = next;
        next += 1;
        stack.push(root);
        on_stack[root] = true;
        while let Some(&mut (v, ref mut edge)) = work.last_mut() {
            if let Some(&(w, _)) = deps[v].get(*edge) {
                *edge += 1;
                if index[w] == usize::MAX {
                    index[w] = next;
                    low[w] = next;
                    next += 1;
                    stack.push(w);
                    on_stack[w] = true;
                    work.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
            } else {
                work.pop();
                if let Some(&(parent, _)) = work.last() {
                    low[parent] = low[parent].min(low[v]);
                }
                if low[v] == index[v] {
                    let mut scc = Vec::new();
                    while let Some(w) = stack.pop() {
                        on_stack[w] = false;
                        scc.push(w);
                        if w == v {
                            break;
                        }
                    }
                    out.push(scc);
                }
            }
        }
    }
    out
}
