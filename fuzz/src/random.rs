//! Random rule sets and random actors for them, drawn from `arbitrary::Unstructured`: the
//! one generator behind the `differential` fuzz target and the JIT's differential tests
//! (tests/it/jit.rs, which feeds it random bytes).
//!
//! Rule text only uses valid names, so most rule sets check clean; values land on edges
//! (±0, subnormals, ±1e300, f64::MAX…) and actors now and then carry an unknown name or a
//! NaN, which the input must reject.
//!
//! Most rule sets also declare situations: tags (now and then more than 64, or named like
//! the stats), tag groups, stacking groups and views that formulas read; their actors carry
//! tags, requirements and stacks, with few distinct values, systems and keys so that
//! stacking ties are common.

use actorc::Rules;
use actorc::input::{
    Actor, CapContribution, Contribution, KeyedStack, Meta, ModifierPack, Name, Stack, SubsystemOutput,
};
use actorc::ir::{Fold, Keep, Operator};
use arbitrary::{Result as Arb, Unstructured};
use std::fmt::Write as _;

/// Numbers rules and actors draw from, so that values land on edges and boundaries.
const EDGES: &[f64] = &[
    0.0,
    -0.0,
    1.0,
    -1.0,
    0.5,
    -0.5,
    2.0,
    2.5,
    -2.5,
    3.0,
    10.0,
    100.0,
    0.1,
    1e15,
    4503599627370497.0,
    0.49999999999999994,
    1e300,
    -1e300,
    1e-300,
    -1e-300,
    f64::MAX,
    f64::MIN,
    f64::MIN_POSITIVE,
    -f64::MIN_POSITIVE,
    5e-324,
    -5e-324,
    2.225073858507201e-308,
    1e-310,
];

/// A finite number (rule literals cannot be NaN or infinite).
fn finite(u: &mut Unstructured) -> Arb<f64> {
    Ok(match u.int_in_range(0u8..=7)? {
        0..=2 => *u.choose(EDGES)?,
        3 | 4 => f64::from(u.int_in_range(-64i32..=63)?) / 4.0,
        5 => f64::from(u.int_in_range(-100_000i32..=100_000)?) / 100.0,
        _ => {
            let v = f64::from_bits(u.arbitrary::<u64>()?);
            if v.is_finite() { v } else { 0.0 }
        }
    })
}

/// An actor's number: finite, or (when `malformed`) sometimes NaN or ±∞, which the input
/// must reject.
fn actor_number(u: &mut Unstructured, malformed: bool) -> Arb<f64> {
    if malformed && u.ratio(1u8, 24)? {
        return Ok(*u.choose(&[f64::INFINITY, f64::NEG_INFINITY, f64::NAN])?);
    }
    finite(u)
}

/// An expression of the rule language, before it is written out.
#[derive(Debug, Clone)]
pub enum E {
    Num(f64),
    /// A stat (in formulas and bounds) or `value`/`x` (in `apply`), picked by index.
    Name(usize),
    Neg(Box<E>),
    Call(&'static str, Vec<E>),
    Bin(&'static str, Box<E>, Box<E>),
    If(Box<E>, Box<E>, Box<E>),
}

const UNARY: &[&str] = &["abs", "floor", "ceil", "round", "sqrt", "exp", "ln"];
const BINARY: &[&str] = &["+", "-", "*", "/", "<", "<=", ">", ">=", "==", "!="];

fn expr(u: &mut Unstructured, depth: u32, budget: &mut u32) -> Arb<E> {
    if depth == 0 || *budget == 0 || u.ratio(2u8, 5)? {
        return Ok(if u.ratio(1u8, 2)? { E::Num(finite(u)?) } else { E::Name(u.int_in_range(0usize..=15)?) });
    }
    *budget -= 1;
    let d = depth - 1;
    Ok(match u.int_in_range(0u8..=9)? {
        0 => E::Call(u.choose(UNARY)?, vec![expr(u, d, budget)?]),
        1 => E::Neg(Box::new(expr(u, d, budget)?)),
        2..=4 => E::Bin(u.choose(BINARY)?, Box::new(expr(u, d, budget)?), Box::new(expr(u, d, budget)?)),
        5 => E::Call(u.choose(&["min", "max", "pow"])?, vec![expr(u, d, budget)?, expr(u, d, budget)?]),
        6 => E::Call(
            u.choose(&["clamp", "min", "max"])?,
            vec![expr(u, d, budget)?, expr(u, d, budget)?, expr(u, d, budget)?],
        ),
        7 => {
            let n = u.int_in_range(2usize..=5)?;
            let f = u.choose(&["min", "max"])?;
            let mut args = Vec::with_capacity(n);
            for _ in 0..n {
                args.push(expr(u, d, budget)?);
            }
            E::Call(f, args)
        }
        _ => E::If(Box::new(expr(u, d, budget)?), Box::new(expr(u, d, budget)?), Box::new(expr(u, d, budget)?)),
    })
}

fn some_expr(u: &mut Unstructured) -> Arb<E> {
    let mut budget = 24;
    expr(u, 4, &mut budget)
}

fn num_text(v: f64) -> String {
    if v.is_sign_negative() { format!("(-{:e})", -v) } else { format!("{v:e}") }
}

#[derive(Clone, Copy)]
enum Scope<'a> {
    /// The formula or a bound of stat `i`: may read stats `0..i` and these views (of them).
    Stat(usize, &'a [usize]),
    Apply,
}

fn render(e: &E, scope: Scope, out: &mut String) {
    match e {
        E::Num(v) => out.push_str(&num_text(*v)),
        E::Name(k) => match scope {
            Scope::Stat(0, _) => out.push_str("2e0"),
            Scope::Stat(i, views) => match k % (i + views.len()) {
                s if s < i => write!(out, "s{s}").unwrap(),
                v => write!(out, "v{}", views[v - i]).unwrap(),
            },
            Scope::Apply => out.push_str(if k % 2 == 0 { "value" } else { "x" }),
        },
        E::Neg(a) => {
            out.push_str("(-");
            render(a, scope, out);
            out.push(')');
        }
        E::Call(f, args) => {
            write!(out, "{f}(").unwrap();
            for (i, a) in args.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                render(a, scope, out);
            }
            out.push(')');
        }
        E::Bin(op, a, b) => {
            out.push('(');
            render(a, scope, out);
            write!(out, " {op} ").unwrap();
            render(b, scope, out);
            out.push(')');
        }
        E::If(c, a, b) => {
            out.push_str("(if ");
            render(c, scope, out);
            out.push_str(" then ");
            render(a, scope, out);
            out.push_str(" else ");
            render(b, scope, out);
            out.push(')');
        }
    }
}

fn text(e: &E, scope: Scope) -> String {
    let mut s = String::new();
    render(e, scope, &mut s);
    s
}

#[derive(Debug, Clone)]
pub enum StatMode {
    /// Pipeline index (modulo the count), or the default pipeline.
    Pipeline(Option<usize>),
    /// Index into [`Operator::ALL`].
    Merge(usize),
}

#[derive(Debug, Clone)]
pub struct StatSpec {
    pub derived: bool,
    pub mode: StatMode,
    pub formula: Option<E>,
    pub range: Option<(E, E)>,
    pub default: Option<f64>,
}

/// A rule set's situations: tags `t0..` (or `s0..`, in their own namespace), tag groups
/// `g0..`, stacking groups `k0..` and views `v0..`.
#[derive(Debug, Clone, Default)]
pub struct Situations {
    pub tags: usize,
    /// Tags named `s0..`, like the stats.
    pub shadow: bool,
    /// Each group's members (tag indices, without repeats).
    pub groups: Vec<Vec<usize>>,
    /// Each stacking group's limit and index into [`Keep::ALL`].
    pub stacks: Vec<(u32, usize)>,
    pub views: Vec<ViewSpec>,
}

/// `view vN = s<source> with …`.
#[derive(Debug, Clone)]
pub struct ViewSpec {
    pub source: usize,
    /// Tags and groups, without repeats: see [`Situations::label`].
    pub with: Vec<usize>,
}

impl Situations {
    /// Tags and groups together: `0..tags` are tags, the rest groups.
    fn labels(&self) -> usize {
        self.tags + self.groups.len()
    }

    /// The name of tag or group `i` (an index of [`Situations::labels`]).
    pub fn label(&self, i: usize) -> String {
        match i.checked_sub(self.tags) {
            None if self.shadow => format!("s{i}"),
            None => format!("t{i}"),
            Some(g) => format!("g{g}"),
        }
    }

    fn text(&self, t: &mut String) {
        if self.tags > 0 {
            let names: Vec<String> = (0..self.tags).map(|i| self.label(i)).collect();
            writeln!(t, "tag {};", names.join(", ")).unwrap();
        }
        for (g, members) in self.groups.iter().enumerate() {
            let names: Vec<String> = members.iter().map(|&m| self.label(m)).collect();
            writeln!(t, "tag group g{g} = {};", names.join(", ")).unwrap();
        }
        for (k, &(limit, keep)) in self.stacks.iter().enumerate() {
            writeln!(t, "stack k{k} limit {limit} keep {};", Keep::ALL[keep].keyword()).unwrap();
        }
    }
}

/// Up to `most` distinct numbers below `n`.
fn distinct(u: &mut Unstructured, n: usize, most: usize) -> Arb<Vec<usize>> {
    let mut out = Vec::new();
    for _ in 0..u.int_in_range(1..=most)? {
        let k = u.choose_index(n)?;
        if !out.contains(&k) {
            out.push(k);
        }
    }
    Ok(out)
}

fn situations(u: &mut Unstructured, stats: usize) -> Arb<Situations> {
    let mut s = Situations::default();
    if u.ratio(1u8, 4)? {
        return Ok(s);
    }
    // Past 64 tags a tag set takes more than one word.
    s.tags = if u.ratio(1u8, 10)? { u.int_in_range(60..=130)? } else { u.int_in_range(0..=8)? };
    s.shadow = u.ratio(1u8, 5)?;
    if s.tags > 0 {
        for _ in 0..u.int_in_range(0..=3)? {
            let members = distinct(u, s.tags, 4)?;
            s.groups.push(members);
        }
    }
    for _ in 0..u.int_in_range(0..=3)? {
        s.stacks.push((u.int_in_range(1..=3)?, u.choose_index(Keep::ALL.len())?));
    }
    if s.labels() > 0 {
        for _ in 0..u.int_in_range(0..=3)? {
            let source = u.choose_index(stats)?;
            let with = distinct(u, s.labels(), 3)?;
            s.views.push(ViewSpec { source, with });
        }
    }
    Ok(s)
}

/// A rule set: buckets `B0..`, pipelines `p0..`, layers `L0..`, stats `s0..` and their
/// situations.
#[derive(Debug, Clone)]
pub struct RuleSpec {
    /// Index into [`Fold::ALL`], and the `apply`.
    pub buckets: Vec<(usize, E)>,
    pub pipelines: Vec<Vec<usize>>,
    pub default_pipeline: bool,
    /// Per layer: requires a realm.
    pub layers: Vec<bool>,
    pub prioritized: bool,
    pub unscoped: Option<usize>,
    pub stats: Vec<StatSpec>,
    pub situations: Situations,
}

fn apply_expr(u: &mut Unstructured) -> Arb<E> {
    let (v, x) = (|| Box::new(E::Name(0)), || Box::new(E::Name(1)));
    Ok(match u.int_in_range(0u8..=7)? {
        0 => E::Bin("+", v(), x()),
        1 => E::Bin("*", v(), x()),
        2 => *x(),
        3 => E::Call("max", vec![*v(), *x()]),
        4 => E::Call("min", vec![*v(), *x()]),
        _ => some_expr(u)?,
    })
}

fn stat_spec(u: &mut Unstructured) -> Arb<StatSpec> {
    let derived = u.arbitrary()?;
    let mode = match u.int_in_range(0u8..=4)? {
        0 | 1 => StatMode::Pipeline(None),
        2 | 3 => StatMode::Pipeline(Some(u.int_in_range(0usize..=3)?)),
        _ => StatMode::Merge(u.choose_index(Operator::ALL.len())?),
    };
    let formula = if u.ratio(1u8, 2)? { Some(some_expr(u)?) } else { None };
    let range = match u.int_in_range(0u8..=2)? {
        0 => None,
        1 => {
            let (a, b) = (finite(u)?, finite(u)?);
            Some((E::Num(a.min(b)), E::Num(a.max(b))))
        }
        // Bounds read other stats; `min`/`max` keep constant ones from being an empty range
        // (E0303) most of the time, the rest can cross at run time.
        _ => {
            let (a, b) = (some_expr(u)?, some_expr(u)?);
            Some(if u.ratio(7u8, 10)? {
                (E::Call("min", vec![a.clone(), b.clone()]), E::Call("max", vec![a, b]))
            } else {
                (a, b)
            })
        }
    };
    let default = if u.ratio(3u8, 10)? { Some(finite(u)?) } else { None };
    Ok(StatSpec { derived, mode, formula, range, default })
}

/// A random rule set.
pub fn rule_spec(u: &mut Unstructured) -> Arb<RuleSpec> {
    let mut buckets = Vec::new();
    for _ in 0..u.int_in_range(1usize..=6)? {
        buckets.push((u.choose_index(Fold::ALL.len())?, apply_expr(u)?));
    }
    let mut pipelines = Vec::new();
    for _ in 0..u.int_in_range(1usize..=3)? {
        let mut p = Vec::new();
        for _ in 0..u.int_in_range(1usize..=5)? {
            p.push(u.int_in_range(0usize..=5)?);
        }
        pipelines.push(p);
    }
    let default_pipeline = u.arbitrary()?;
    let mut layers = Vec::new();
    for _ in 0..u.int_in_range(0usize..=4)? {
        layers.push(u.arbitrary()?);
    }
    let prioritized = u.arbitrary()?;
    let unscoped = if u.arbitrary()? { Some(u.int_in_range(0usize..=4)?) } else { None };
    let mut stats = Vec::new();
    for _ in 0..u.int_in_range(1usize..=10)? {
        stats.push(stat_spec(u)?);
    }
    let situations = situations(u, stats.len())?;
    Ok(RuleSpec { buckets, pipelines, default_pipeline, layers, prioritized, unscoped, stats, situations })
}

impl RuleSpec {
    /// Bucket indices of each pipeline (valid, without repeats).
    fn pipeline(&self, p: usize) -> Vec<usize> {
        let mut out = Vec::new();
        for &b in &self.pipelines[p % self.pipelines.len()] {
            let b = b % self.buckets.len();
            if !out.contains(&b) {
                out.push(b);
            }
        }
        out
    }

    /// The pipeline a stat runs (`None` for operator stats).
    fn stat_pipeline(&self, s: &StatSpec) -> Option<usize> {
        match s.mode {
            StatMode::Pipeline(Some(p)) => Some(p % self.pipelines.len()),
            StatMode::Pipeline(None) => Some(0),
            StatMode::Merge(_) => None,
        }
    }

    fn unscoped(&self) -> Option<usize> {
        self.unscoped.filter(|&u| u < self.layers.len())
    }

    /// The rule set as the text of one `.stat` file.
    pub fn text(&self) -> String {
        let mut t = String::new();
        for (i, (fold, apply)) in self.buckets.iter().enumerate() {
            writeln!(t, "bucket B{i} fold {} apply {};", Fold::ALL[*fold].keyword(), text(apply, Scope::Apply))
                .unwrap();
        }
        for p in 0..self.pipelines.len() {
            let names: Vec<String> = self.pipeline(p).iter().map(|b| format!("B{b}")).collect();
            writeln!(t, "pipeline p{p} = {};", names.join(", ")).unwrap();
        }
        if self.default_pipeline {
            t.push_str("default pipeline p0;\n");
        }
        if !self.layers.is_empty() {
            let names: Vec<String> = self
                .layers
                .iter()
                .enumerate()
                .map(|(i, &realm)| if realm { format!("L{i} requires realm") } else { format!("L{i}") })
                .collect();
            write!(t, "layers {}", names.join(", ")).unwrap();
            if self.prioritized {
                t.push_str(" policy prioritized_override");
            } else if self.layers.len().is_multiple_of(2) {
                t.push_str(" policy intersect");
            }
            if let Some(u) = self.unscoped() {
                write!(t, " unscoped L{u}").unwrap();
            }
            t.push_str(";\n");
        }
        let sit = &self.situations;
        sit.text(&mut t);
        for (i, s) in self.stats.iter().enumerate() {
            write!(t, "{} s{i}", if s.derived { "derived" } else { "primary" }).unwrap();
            // Views of earlier stats are read like stats.
            let views: Vec<usize> = (0..sit.views.len()).filter(|&v| sit.views[v].source < i).collect();
            let scope = Scope::Stat(i, &views);
            if let Some(f) = &s.formula
                && !matches!(s.mode, StatMode::Merge(_))
            {
                write!(t, " = {}", text(f, scope)).unwrap();
            }
            if let Some((lo, hi)) = &s.range {
                write!(t, " in {} .. {}", text(lo, scope), text(hi, scope)).unwrap();
            }
            match s.mode {
                StatMode::Merge(op) => write!(t, " merge {}", Operator::ALL[op].keyword()).unwrap(),
                StatMode::Pipeline(None) if self.default_pipeline => {}
                _ => write!(t, " pipeline p{}", self.stat_pipeline(s).unwrap()).unwrap(),
            }
            if let Some(d) = s.default {
                write!(t, " default {}", num_text(d)).unwrap();
            }
            t.push_str(";\n");
        }
        for (v, view) in sit.views.iter().enumerate() {
            let with: Vec<String> = view.with.iter().map(|&l| sit.label(l)).collect();
            writeln!(t, "view v{v} = s{} with {};", view.source, with.join(", ")).unwrap();
        }
        t
    }
}

/// Every (cap mode, kind) pair the input accepts.
pub const CAP_MODES: &[(&str, &str)] = &[
    ("BASELINE", "max"),
    ("ADDITIVE", "max"),
    ("OVERRIDE", "max"),
    ("HARD_MAX", "max"),
    ("BASELINE", "min"),
    ("ADDITIVE", "min"),
    ("OVERRIDE", "min"),
    ("HARD_MIN", "min"),
];

/// A random actor for `rules`: names mostly valid (an unknown one now and then), values
/// often edge values (now and then NaN or ±∞), priorities and systems from small sets so
/// that ties are common.
pub fn actor(u: &mut Unstructured, rules: &RuleSpec, id: usize) -> Arb<Actor> {
    actor_with(u, rules, id, true)
}

/// [`actor`] without unknown names and non-finite numbers: input that ingests cleanly.
pub fn clean_actor(u: &mut Unstructured, rules: &RuleSpec, id: usize) -> Arb<Actor> {
    actor_with(u, rules, id, false)
}

fn actor_with(u: &mut Unstructured, rules: &RuleSpec, id: usize, malformed: bool) -> Arb<Actor> {
    let n = rules.stats.len();
    let sit = &rules.situations;
    // Now and then a contribution or cap names a view (or nothing known), which the input rejects.
    let dimension = |u: &mut Unstructured, stat: usize| -> Arb<Name> {
        Ok(match malformed && u.ratio(1u8, 64)? {
            true if !sit.views.is_empty() && u.arbitrary()? => format!("v{}", u.choose_index(sit.views.len())?).into(),
            true => "nope".into(),
            false => format!("s{stat}").into(),
        })
    };
    let mut subsystems = Vec::new();
    for si in 0..u.int_in_range(1usize..=3)? {
        let mut sub = SubsystemOutput {
            meta: Meta { system: format!("sys{si}").into(), ..Meta::default() },
            ..Default::default()
        };
        for _ in 0..u.int_in_range(0usize..=8)? {
            let stat = u.choose_index(n)?;
            let pick = u.int_in_range(0usize..=5)?;
            let bucket = match rules.stat_pipeline(&rules.stats[stat]) {
                Some(p) => {
                    let bs = rules.pipeline(p);
                    bs[pick % bs.len()]
                }
                None => pick % rules.buckets.len(),
            };
            let c = Contribution {
                dimension: dimension(u, stat)?,
                bucket: format!("B{bucket}").into(),
                value: actor_number(u, malformed)?,
                system: format!("g{}", u.int_in_range(0u8..=2)?).into(),
                priority: if u.ratio(1u8, 8)? { None } else { Some(u.int_in_range(-1i64..=2)?) },
                requires: requirements(u, sit, malformed)?,
                stack: stack(u, sit, malformed)?,
            };
            // A stacked effect often comes in copies (frenzy charges, two potions): in the
            // same part, with other values, systems and priorities, or the same.
            let copies = if c.stack.is_some() && u.arbitrary()? { u.int_in_range(1..=4)? } else { 0 };
            for _ in 0..copies {
                let mut copy = c.clone();
                if u.arbitrary()? {
                    copy.value = *u.choose(&[c.value, 0.0, 1.0, 2.5])?;
                    copy.system = format!("g{}", u.int_in_range(0u8..=2)?).into();
                    copy.priority = *u.choose(&[c.priority, None, Some(0), Some(1)])?;
                }
                if u.arbitrary()? { sub.derived.push(copy) } else { sub.primary.push(copy) }
            }
            if u.arbitrary()? { sub.derived.push(c) } else { sub.primary.push(c) }
        }
        if !rules.layers.is_empty() {
            for _ in 0..u.int_in_range(0usize..=4)? {
                let (mode, kind) = *u.choose(CAP_MODES)?;
                let layer = if u.ratio(4u8, 5)? { Some(u.int_in_range(0usize..=4)?) } else { None };
                let scope = match (layer, rules.unscoped()) {
                    (None, Some(_)) => None,
                    (l, _) => Some(format!("L{}", l.unwrap_or(0) % rules.layers.len())),
                };
                let stat = u.choose_index(n)?;
                sub.caps.push(CapContribution {
                    system: format!("g{}", u.int_in_range(0u8..=2)?).into(),
                    dimension: dimension(u, stat)?,
                    mode: mode.into(),
                    kind: kind.into(),
                    value: actor_number(u, malformed)?,
                    priority: Some(u.int_in_range(0i64..=2)?),
                    scope: scope.map(Into::into),
                    realm: Some("r".into()),
                    // Metadata, ignored.
                    tags: if u.ratio(1u8, 16)? { Some(vec!["t0".into()]) } else { None },
                    requires: requirements(u, sit, malformed)?,
                });
            }
        }
        if u.ratio(1u8, 10)? {
            let pack = ModifierPack {
                additive_percent: actor_number(u, malformed)?,
                multipliers: vec![actor_number(u, malformed)?; u.int_in_range(0usize..=2)?],
                post_add: actor_number(u, malformed)?,
            };
            let name = format!("c{}", u.int_in_range(0u8..=1)?);
            sub.context = Some([(name, pack)].into_iter().collect());
        }
        subsystems.push(sub);
    }
    let tags = actor_tags(u, sit, malformed)?;
    Ok(Actor { id: Some(format!("a{id}")), version: id as i64, subsystems, tags })
}

/// An actor's situation: a few tags (a repeat now and then), or when `malformed` now and
/// then a group or an unknown name, which the input rejects.
fn actor_tags(u: &mut Unstructured, sit: &Situations, malformed: bool) -> Arb<Vec<Name>> {
    if malformed && u.ratio(1u8, 32)? {
        let wrong = match sit.groups.len() {
            0 => "nope".into(),
            g => format!("g{}", u.choose_index(g)?),
        };
        return Ok(vec![wrong.into()]);
    }
    let mut tags = Vec::new();
    if sit.tags > 0 {
        for _ in 0..u.int_in_range(0..=3)? {
            tags.push(sit.label(u.choose_index(sit.tags)?).into());
        }
    }
    Ok(tags)
}

/// A contribution's or cap's requirements: none for two in three, else 1–3 distinct tags or
/// groups, some negated; when `malformed`, now and then a list the input rejects.
fn requirements(u: &mut Unstructured, sit: &Situations, malformed: bool) -> Arb<Vec<Name>> {
    let labels = sit.labels();
    if malformed && u.ratio(1u8, 64)? {
        let some = if labels > 0 { sit.label(u.choose_index(labels)?) } else { "t0".into() };
        return Ok(match u.int_in_range(0u8..=4)? {
            0 => vec!["nope".into()],
            1 => vec![some.into(), "".into()],
            2 => vec!["!".into()],
            3 => vec![some.clone().into(), some.into()],
            _ => (0..17).map(|i| format!("!x{i}").into()).collect(),
        });
    }
    let mut out: Vec<Name> = Vec::new();
    if labels == 0 || !u.ratio(1u8, 3)? {
        return Ok(out);
    }
    for _ in 0..u.int_in_range(1..=3)? {
        let label = sit.label(u.choose_index(labels)?);
        let r: Name = if u.ratio(1u8, 3)? { format!("!{label}").into() } else { label.into() };
        if !out.contains(&r) {
            out.push(r);
        }
    }
    Ok(out)
}

/// A contribution's stack: none for two in three, else a group alone or with one of a few
/// keys (`""` among them, the same part as the group alone); when `malformed`, now and then
/// an unknown group.
fn stack(u: &mut Unstructured, sit: &Situations, malformed: bool) -> Arb<Option<Box<Stack>>> {
    if malformed && u.ratio(1u8, 64)? {
        return Ok(Some(Box::new(Stack::Group("nope".into()))));
    }
    if sit.stacks.is_empty() || !u.ratio(1u8, 3)? {
        return Ok(None);
    }
    let group: Name = format!("k{}", u.choose_index(sit.stacks.len())?).into();
    Ok(Some(Box::new(match u.int_in_range(0u8..=3)? {
        0 => Stack::Group(group),
        k => Stack::Keyed(KeyedStack { group, key: ["", "a", "b"][k as usize - 1].into() }),
    })))
}

/// The rules as one in-memory file, or why they are rejected.
pub fn rules(text: &str) -> Result<Rules, String> {
    Rules::from_analysis(actorc::rules::compile_str("gen.stat", text)).map_err(|e| e.to_string())
}

/// `actor` with its input in another order: subsystems, contributions (each stays in its list,
/// though maybe in another subsystem), caps, tags and each list of requirements shuffled.
/// Nothing in it changes the actor's snapshot.
pub fn permute(u: &mut Unstructured, actor: &Actor) -> Arb<Actor> {
    fn shuffle<T>(u: &mut Unstructured, list: &mut [T]) -> Arb<()> {
        for i in (1..list.len()).rev() {
            list.swap(i, u.int_in_range(0..=i)?);
        }
        Ok(())
    }
    let mut out = actor.clone();
    shuffle(u, &mut out.tags)?;
    let (mut primary, mut derived, mut caps) = (Vec::new(), Vec::new(), Vec::new());
    for sub in &mut out.subsystems {
        primary.append(&mut sub.primary);
        derived.append(&mut sub.derived);
        caps.append(&mut sub.caps);
    }
    for c in primary.iter_mut().chain(&mut derived) {
        shuffle(u, &mut c.requires)?;
    }
    for c in &mut caps {
        shuffle(u, &mut c.requires)?;
    }
    shuffle(u, &mut primary)?;
    shuffle(u, &mut derived)?;
    shuffle(u, &mut caps)?;
    let n = out.subsystems.len();
    if n > 0 {
        for c in primary {
            out.subsystems[u.choose_index(n)?].primary.push(c);
        }
        for c in derived {
            out.subsystems[u.choose_index(n)?].derived.push(c);
        }
        for c in caps {
            out.subsystems[u.choose_index(n)?].caps.push(c);
        }
    }
    shuffle(u, &mut out.subsystems)?;
    Ok(out)
}
