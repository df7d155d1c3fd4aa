//! Random rule sets and random actors for them, drawn from `arbitrary::Unstructured`: the
//! one generator behind the `differential` fuzz target and the JIT's differential tests
//! (tests/it/jit.rs, which feeds it random bytes).
//!
//! Every rule set checks clean: names are valid, and where a generated expression would be
//! refused (a constant that folds to NaN or an infinity, a constant zero divisor of `/` or
//! `%`, constant bounds the wrong way round, a constant key a table lacks, a curve whose
//! points do not increase) the text says something else; [`RuleSpec::values`] folds the
//! named values as `check` does. Values land on edges (±0, subnormals, ±1e300, f64::MAX…)
//! and actors now and then carry an unknown name or a NaN, which the input must reject.
//!
//! Most rule sets declare constants (some naming others), tables (keys that actors' values
//! mostly hit, sometimes miss) and curves, which formulas, bounds, defaults, bucket applies
//! and table entries use, with `^`, `%`, `and`, `or` and `not`.
//!
//! Most rule sets also declare situations: tags (now and then more than 64, or named like
//! the stats), tag groups, stacking groups and views that formulas read; their actors carry
//! tags, requirements and stacks, with few distinct values, systems and keys so that
//! stacking ties are common.

use actorc::Rules;
use actorc::input::{
    Actor, CapContribution, Contribution, KeyedStack, Meta, ModifierPack, Name, Stack, SubsystemOutput,
};
use actorc::ir::{BinOp, Fold, Function, Keep, Operator, UnOp};
use actorc::num;
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
    /// A stat (in formulas and bounds), `value`/`x` (in `apply`) or, where only constants
    /// may be named, a constant; picked by index.
    Name(usize),
    /// A named constant `cN`, picked by index (a number when none is declared).
    Const(usize),
    Neg(Box<E>),
    Not(Box<E>),
    Call(&'static str, Vec<E>),
    /// `a op b`: arithmetic (`^` and `%` too), a comparison, `and` or `or`.
    Bin(&'static str, Box<E>, Box<E>),
    If(Box<E>, Box<E>, Box<E>),
    /// `lookup(tbN, key)`, the table picked by index (the key alone when none is declared).
    Lookup(usize, Key, Box<E>),
    /// `at(cuN, x)`, the curve picked by index (`x` alone when none is declared).
    At(usize, Box<E>),
}

/// How a `lookup` writes its key `k`, so that actors' values hit the table often, but not
/// always: a missing key fails the actor, in both engines alike.
#[derive(Debug, Clone, Copy)]
pub enum Key {
    /// `k` itself: most values miss.
    Raw,
    /// `clamp(round(k), least, greatest)` of the table's keys: hits the whole numbers a
    /// table of consecutive keys has, misses its hole.
    Clamped,
    /// `round(k) % n`, `n` the table's number of keys: hits a table keyed `0 .. n - 1`.
    Wrapped,
}

const UNARY: &[&str] = &["abs", "floor", "ceil", "round", "sqrt", "exp", "ln"];
const BINARY: &[&str] = &["+", "-", "*", "/", "<", "<=", ">", ">=", "==", "!="];
/// The operators added with named values (after [`BINARY`], so older choices keep their
/// place in the list).
const MORE_BINARY: &[&str] = &["^", "%", "and", "or"];

/// A number, a name or a constant.
fn leaf(u: &mut Unstructured) -> Arb<E> {
    Ok(match u.int_in_range(0u8..=6)? {
        0..=2 => E::Num(finite(u)?),
        3..=5 => E::Name(u.int_in_range(0usize..=15)?),
        _ => E::Const(u.int_in_range(0usize..=15)?),
    })
}

fn expr(u: &mut Unstructured, depth: u32, budget: &mut u32) -> Arb<E> {
    if depth == 0 || *budget == 0 || u.ratio(2u8, 5)? {
        return leaf(u);
    }
    *budget -= 1;
    let d = depth - 1;
    Ok(match u.int_in_range(0u8..=13)? {
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
        8 | 9 => E::If(Box::new(expr(u, d, budget)?), Box::new(expr(u, d, budget)?), Box::new(expr(u, d, budget)?)),
        10 => E::Bin(u.choose(MORE_BINARY)?, Box::new(expr(u, d, budget)?), Box::new(expr(u, d, budget)?)),
        // `-a ^ b` is written without parentheses: it is `-(a ^ b)`.
        11 if u.arbitrary()? => E::Not(Box::new(expr(u, d, budget)?)),
        11 => E::Neg(Box::new(E::Bin("^", Box::new(expr(u, d, budget)?), Box::new(expr(u, d, budget)?)))),
        12 => {
            let table = u.int_in_range(0usize..=15)?;
            let key = *u.choose(&[Key::Clamped, Key::Clamped, Key::Wrapped, Key::Raw])?;
            E::Lookup(table, key, Box::new(expr(u, d, budget)?))
        }
        _ => E::At(u.int_in_range(0usize..=15)?, Box::new(expr(u, d, budget)?)),
    })
}

fn some_expr(u: &mut Unstructured) -> Arb<E> {
    let mut budget = 24;
    expr(u, 4, &mut budget)
}

/// A smaller expression, for a constant, a table entry or a curve point.
fn constant_expr(u: &mut Unstructured) -> Arb<E> {
    let mut budget = 6;
    expr(u, 3, &mut budget)
}

fn num_text(v: f64) -> String {
    if v.is_sign_negative() { format!("(-{:e})", -v) } else { format!("{v:e}") }
}

#[derive(Clone, Copy)]
enum Scope<'a> {
    /// The formula or a bound of stat `i`: may read stats `0..i` and these views (of them).
    Stat(usize, &'a [usize]),
    Apply,
    /// A constant, a table entry, a curve point or a `default`: may name the first `n`
    /// constants and nothing else.
    Constant(usize),
}

/// Constants, tables and curves as `check` folds them, in the order the rule text is
/// written from: what writing an expression needs to know to keep the text valid.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Folded {
    pub constants: Vec<f64>,
    /// Each table's keys (ascending) and values.
    pub tables: Vec<(Vec<f64>, Vec<f64>)>,
    /// Each curve's `x`s and `y`s.
    pub curves: Vec<(Vec<f64>, Vec<f64>)>,
}

/// The IR's operator of a generated one.
fn bin_op(op: &str) -> BinOp {
    match op {
        "^" => BinOp::Pow,
        _ => {
            actorc::syntax::BinOp::from_symbol(op).map(BinOp::from).unwrap_or_else(|| unreachable!("no operator {op}"))
        }
    }
}

/// Writes `e` to `out` and returns its value when `check` folds it to a constant.
///
/// The text stays valid: where the expression as generated would be refused, another is
/// written, and its value returned. A constant subexpression that is NaN or infinite
/// (E0313) is written as its first operand; a constant zero divisor of `/` or `%` (E0304)
/// as 1; constant `clamp` bounds the wrong way round (E0303) swapped; a constant key a
/// table does not have (E0320) as the table's least key.
fn render(e: &E, scope: Scope, f: &Folded, out: &mut String) -> Option<f64> {
    let start = out.len();
    let value = write_expr(e, scope, f, out);
    let first = match e {
        E::Call(_, args) => args.first(),
        E::Bin(_, a, _) => Some(&**a),
        _ => None,
    };
    match (value, first) {
        (Some(v), Some(first)) if !v.is_finite() => {
            out.truncate(start);
            render(first, scope, f, out)
        }
        _ => value,
    }
}

fn write_expr(e: &E, scope: Scope, f: &Folded, out: &mut String) -> Option<f64> {
    match e {
        E::Num(v) => {
            out.push_str(&num_text(*v));
            Some(*v)
        }
        E::Name(k) => match scope {
            Scope::Stat(0, _) => {
                out.push_str("2e0");
                Some(2.0)
            }
            Scope::Stat(i, views) => {
                match k % (i + views.len()) {
                    s if s < i => write!(out, "s{s}").unwrap(),
                    v => write!(out, "v{}", views[v - i]).unwrap(),
                }
                None
            }
            Scope::Apply => {
                out.push_str(if k % 2 == 0 { "value" } else { "x" });
                None
            }
            Scope::Constant(_) => write_expr(&E::Const(*k), scope, f, out),
        },
        E::Const(k) => {
            let n = match scope {
                Scope::Constant(n) => n,
                _ => f.constants.len(),
            };
            if n == 0 {
                return write_expr(&E::Num(*k as f64), scope, f, out);
            }
            write!(out, "c{}", k % n).unwrap();
            Some(f.constants[k % n])
        }
        E::Neg(a) => {
            out.push_str("(-");
            let v = match &**a {
                E::Bin("^", x, y) => render_pow(x, y, scope, f, out),
                a => render(a, scope, f, out),
            };
            out.push(')');
            v.map(|v| -v)
        }
        E::Not(a) => {
            out.push_str("(not ");
            let v = render(a, scope, f, out);
            out.push(')');
            v.map(|v| UnOp::Not.apply(v))
        }
        E::Call(name, args) => {
            let mut texts = Vec::with_capacity(args.len());
            let mut values = Vec::with_capacity(args.len());
            for a in args {
                let mut t = String::new();
                values.push(render(a, scope, f, &mut t));
                texts.push(t);
            }
            let function = Function::from_name(name).expect("a generated function exists");
            if let (Function::Clamp, [_, Some(lo), Some(hi)]) = (function, values.as_slice())
                && lo > hi
            {
                texts.swap(1, 2);
                values.swap(1, 2);
            }
            write!(out, "{name}({})", texts.join(", ")).unwrap();
            let values: Vec<f64> = values.into_iter().collect::<Option<_>>()?;
            Some(match function {
                Function::Unary(op) => op.apply(values[0]),
                Function::Min => values.iter().copied().reduce(num::fmin)?,
                Function::Max => values.iter().copied().reduce(num::fmax)?,
                Function::Clamp => num::clamp(values[0], values[1], values[2]),
                Function::Pow => num::pow(values[0], values[1]),
                Function::Lookup | Function::At => unreachable!("generated as E::Lookup, E::At"),
            })
        }
        E::Bin("^", a, b) => {
            out.push('(');
            let v = render_pow(a, b, scope, f, out);
            out.push(')');
            v
        }
        E::Bin(op, a, b) => {
            out.push('(');
            let a = render(a, scope, f, out);
            write!(out, " {op} ").unwrap();
            let at = out.len();
            let mut b = render(b, scope, f, out);
            if matches!(*op, "/" | "%") && b == Some(0.0) {
                out.truncate(at);
                out.push_str("1e0");
                b = Some(1.0);
            }
            out.push(')');
            Some(bin_op(op).apply(a?, b?))
        }
        E::If(c, a, b) => {
            out.push_str("(if ");
            let c = render(c, scope, f, out);
            out.push_str(" then ");
            let a = render(a, scope, f, out);
            out.push_str(" else ");
            let b = render(b, scope, f, out);
            out.push(')');
            let (c, a, b) = (c?, a?, b?);
            Some(if num::truthy(c) { a } else { b })
        }
        E::Lookup(t, form, k) => {
            if f.tables.is_empty() {
                return render(k, scope, f, out);
            }
            let t = t % f.tables.len();
            let (keys, values) = &f.tables[t];
            let (least, greatest) = (keys[0], keys[keys.len() - 1]);
            let mut key = String::new();
            let mut v = match form {
                Key::Raw => render(k, scope, f, &mut key),
                Key::Clamped => {
                    key.push_str("clamp(round(");
                    let v = render(k, scope, f, &mut key);
                    write!(key, "), {}, {})", num_text(least), num_text(greatest)).unwrap();
                    v.map(|v| num::clamp(num::round(v), least, greatest))
                }
                Key::Wrapped => {
                    let n = keys.len() as f64;
                    key.push_str("(round(");
                    let v = render(k, scope, f, &mut key);
                    write!(key, ") % {})", num_text(n)).unwrap();
                    v.map(|v| num::rem(num::round(v), n))
                }
            };
            if let Some(k) = v
                && num::lookup(keys, values, k).is_nan()
            {
                key = num_text(least);
                v = Some(least);
            }
            write!(out, "lookup(tb{t}, {key})").unwrap();
            v.map(|k| num::lookup(keys, values, k))
        }
        E::At(c, x) => {
            if f.curves.is_empty() {
                return render(x, scope, f, out);
            }
            let c = c % f.curves.len();
            write!(out, "at(cu{c}, ").unwrap();
            let v = render(x, scope, f, out);
            out.push(')');
            let (xs, ys) = &f.curves[c];
            v.map(|v| num::curve_at(xs, ys, v))
        }
    }
}

/// `a ^ b` without parentheses around it, as the right-associative chain the parser reads:
/// an exponent that is itself a power continues the chain (`a ^ b ^ c` is `a ^ (b ^ c)`),
/// and so does a negated one (`a ^ -b ^ c` is `a ^ -(b ^ c)`). A constant power that is
/// not finite is written as its base.
fn render_pow(a: &E, b: &E, scope: Scope, f: &Folded, out: &mut String) -> Option<f64> {
    let start = out.len();
    let base = render(a, scope, f, out);
    out.push_str(" ^ ");
    let exponent = match b {
        E::Bin("^", p, q) => render_pow(p, q, scope, f, out),
        E::Neg(inner) => match &**inner {
            E::Bin("^", p, q) => {
                out.push('-');
                render_pow(p, q, scope, f, out).map(|v| -v)
            }
            _ => render(b, scope, f, out),
        },
        b => render(b, scope, f, out),
    };
    let v = num::pow(base?, exponent?);
    if v.is_finite() {
        Some(v)
    } else {
        out.truncate(start);
        render(a, scope, f, out)
    }
}

fn text(e: &E, scope: Scope, f: &Folded) -> String {
    let mut s = String::new();
    render(e, scope, f, &mut s);
    s
}

/// The range `lo .. hi` of a stat; constant bounds the wrong way round are swapped (E0303).
fn range_text(lo: &E, hi: &E, scope: Scope, f: &Folded) -> String {
    let (mut a, mut b) = (String::new(), String::new());
    let (va, vb) = (render(lo, scope, f, &mut a), render(hi, scope, f, &mut b));
    if let (Some(va), Some(vb)) = (va, vb)
        && va > vb
    {
        std::mem::swap(&mut a, &mut b);
    }
    format!("{a} .. {b}")
}

/// A value where only constants may be named: always a constant.
fn constant(e: &E, scope: Scope, f: &Folded) -> (String, f64) {
    let mut s = String::new();
    let v = render(e, scope, f, &mut s).expect("an expression of constants is a constant");
    (s, v)
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
    /// A constant expression: a number, a named constant…
    pub default: Option<E>,
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
    pub values: Values,
}

/// A rule set's named values: constants `c0..`, tables `tb0..` and curves `cu0..`.
///
/// Each constant may name the constants before it; table entries and curve points name
/// constants, and may read the tables (and curves) declared before them. `check` folds
/// them in their own order, so the text declares them at [`Values::place`], in reverse
/// order when [`Values::reverse`].
#[derive(Debug, Clone, Default)]
pub struct Values {
    pub constants: Vec<E>,
    /// Each table's entries, `key: value`. A key that repeats one before it is left out.
    pub tables: Vec<Vec<(E, E)>>,
    /// Each curve's points, `x: y`. A point that would make the curve invalid (its `x` not
    /// above the one before, or a slope too steep) is left out, and points are added to a
    /// curve left with fewer than two.
    pub curves: Vec<Vec<(E, E)>>,
    /// 0: before everything, 1: after the buckets, 2: at the end.
    pub place: u8,
    pub reverse: bool,
}

fn apply_expr(u: &mut Unstructured) -> Arb<E> {
    let (v, x) = (|| Box::new(E::Name(0)), || Box::new(E::Name(1)));
    Ok(match u.int_in_range(0u8..=10)? {
        0 => E::Bin("+", v(), x()),
        1 => E::Bin("*", v(), x()),
        2 => *x(),
        3 => E::Call("max", vec![*v(), *x()]),
        4 => E::Call("min", vec![*v(), *x()]),
        5..=7 => some_expr(u)?,
        8 => E::Bin("+", v(), Box::new(E::Lookup(u.int_in_range(0usize..=15)?, Key::Clamped, x()))),
        9 => E::Bin("*", v(), Box::new(E::At(u.int_in_range(0usize..=15)?, x()))),
        _ => E::Bin("+", v(), Box::new(E::Bin("*", x(), Box::new(E::Const(u.int_in_range(0usize..=15)?))))),
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
            let (lo, hi) = (E::Num(a.min(b)), E::Num(a.max(b)));
            // Now and then a named constant (the bounds are swapped when it crosses the other).
            Some(match u.int_in_range(0u8..=5)? {
                0 => (E::Const(u.int_in_range(0usize..=15)?), hi),
                1 => (lo, E::Const(u.int_in_range(0usize..=15)?)),
                _ => (lo, hi),
            })
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
    let default = match u.ratio(3u8, 10)? {
        false => None,
        true => Some(match u.int_in_range(0u8..=5)? {
            0..=2 => E::Num(finite(u)?),
            3 | 4 => E::Const(u.int_in_range(0usize..=15)?),
            _ => constant_expr(u)?,
        }),
    };
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
    let values = values(u)?;
    Ok(RuleSpec { buckets, pipelines, default_pipeline, layers, prioritized, unscoped, stats, situations, values })
}

/// Constants, tables and curves (none in one rule set in five).
fn values(u: &mut Unstructured) -> Arb<Values> {
    let mut v = Values::default();
    if u.ratio(1u8, 5)? {
        return Ok(v);
    }
    for _ in 0..u.int_in_range(0..=5)? {
        v.constants.push(constant_expr(u)?);
    }
    for _ in 0..u.int_in_range(0..=3)? {
        v.tables.push(table(u)?);
    }
    for _ in 0..u.int_in_range(0..=3)? {
        v.curves.push(curve(u)?);
    }
    v.place = u.int_in_range(0..=2)?;
    v.reverse = u.arbitrary()?;
    Ok(v)
}

/// A table entry's value, or a curve point's `y`.
fn entry_value(u: &mut Unstructured) -> Arb<E> {
    Ok(match u.int_in_range(0u8..=5)? {
        0..=3 => E::Num(finite(u)?),
        4 => E::Const(u.int_in_range(0usize..=15)?),
        _ => constant_expr(u)?,
    })
}

/// A table's entries: mostly consecutive whole keys from -1, 0 or 1 (now and then with a
/// hole), else keys from the edge numbers, or constant expressions; in ascending or
/// descending order.
fn table(u: &mut Unstructured) -> Arb<Vec<(E, E)>> {
    let mut entries = Vec::new();
    match u.int_in_range(0u8..=7)? {
        0..=5 => {
            let lo = *u.choose(&[0i32, 0, 1, -1])?;
            let n = u.int_in_range(1i32..=6)?;
            let hole = if n > 2 && u.ratio(1u8, 3)? { Some(u.int_in_range(lo..=lo + n - 1)?) } else { None };
            for k in (lo..lo + n).filter(|&k| Some(k) != hole) {
                entries.push((E::Num(f64::from(k)), entry_value(u)?));
            }
        }
        6 => {
            for _ in 0..u.int_in_range(1..=5)? {
                entries.push((E::Num(finite(u)?), entry_value(u)?));
            }
        }
        _ => {
            for _ in 0..u.int_in_range(1..=4)? {
                entries.push((constant_expr(u)?, entry_value(u)?));
            }
        }
    }
    if u.arbitrary()? {
        entries.reverse();
    }
    Ok(entries)
}

/// Steps between a curve's `x`s: some too small to move a large `x`, which leaves the point
/// out.
const STEPS: &[f64] = &[0.25, 1.0, 2.5, 10.0, 100.0, 1e15, 1e-300, 5e-324];

/// A curve's points: 2–5, `x`s increasing from a small number (or an edge one) by
/// [`STEPS`], now and then a named constant instead.
fn curve(u: &mut Unstructured) -> Arb<Vec<(E, E)>> {
    let mut x = match u.int_in_range(0u8..=3)? {
        0 => 0.0,
        1 => f64::from(u.int_in_range(-40i32..=40)?) / 4.0,
        2 => finite(u)?,
        _ => -f64::from(u.int_in_range(0i32..=1000)?),
    };
    let mut points = Vec::new();
    for _ in 0..u.int_in_range(2usize..=5)? {
        let at = if u.ratio(1u8, 8)? { E::Const(u.int_in_range(0usize..=15)?) } else { E::Num(x) };
        points.push((at, entry_value(u)?));
        // Never infinite: f64::MAX plus a step rounds to f64::MAX.
        x += *u.choose(STEPS)?;
    }
    Ok(points)
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

    /// The named values as `check` folds them, and their declarations (in the order they
    /// were generated).
    pub fn values(&self) -> (Folded, Vec<String>) {
        let mut f = Folded::default();
        let mut lines = Vec::new();
        for (i, c) in self.values.constants.iter().enumerate() {
            let (text, value) = constant(c, Scope::Constant(i), &f);
            lines.push(format!("const c{i} = {text};"));
            f.constants.push(value);
        }
        let scope = Scope::Constant(f.constants.len());
        for (i, entries) in self.values.tables.iter().enumerate() {
            let mut kept: Vec<(String, f64, f64)> = Vec::new();
            for (k, v) in entries {
                let (key, kv) = constant(k, scope, &f);
                let (value, vv) = constant(v, scope, &f);
                // -0 and 0 are one key (E0317).
                if !kept.iter().any(|e| e.1 == kv) {
                    kept.push((format!("{key}: {value}"), kv, vv));
                }
            }
            if kept.is_empty() {
                kept.push(("0e0: 0e0".into(), 0.0, 0.0));
            }
            let texts: Vec<&str> = kept.iter().map(|e| e.0.as_str()).collect();
            lines.push(format!("table tb{i} = [{}];", texts.join(", ")));
            kept.sort_by(|a, b| a.1.total_cmp(&b.1));
            f.tables.push(kept.iter().map(|e| (e.1, e.2)).unzip());
        }
        for (i, points) in self.values.curves.iter().enumerate() {
            let mut kept: Vec<(String, f64, String, f64)> = Vec::new();
            for (x, y) in points {
                let ((xt, xv), (yt, yv)) = (constant(x, scope, &f), constant(y, scope, &f));
                // E0318 unless the `x`s increase, E0313 for an infinite slope.
                if let Some(last) = kept.last()
                    && !(xv > last.1 && (xv - last.1).is_finite() && (yv - last.3).is_finite())
                {
                    continue;
                }
                kept.push((xt, xv, yt, yv));
            }
            // At least two points: one more level with the only one.
            match kept.as_slice() {
                [] => kept.extend([("0e0".into(), 0.0, "0e0".into(), 0.0), ("1e0".into(), 1.0, "0e0".into(), 0.0)]),
                [(_, x, y_text, y)] => {
                    let (x, y_text, y) = (*x, y_text.clone(), *y);
                    if x < 1e300 {
                        let after = if x < 0.0 { 0.0 } else { x + 1e300 };
                        kept.push((num_text(after), after, y_text, y));
                    } else {
                        kept.insert(0, ("0e0".into(), 0.0, y_text, y));
                    }
                }
                _ => {}
            }
            let texts: Vec<String> = kept.iter().map(|p| format!("{}: {}", p.0, p.2)).collect();
            lines.push(format!("curve cu{i} = [{}];", texts.join(", ")));
            f.curves.push(kept.iter().map(|p| (p.1, p.3)).unzip());
        }
        (f, lines)
    }

    /// The rule set as the text of one `.stat` file.
    pub fn text(&self) -> String {
        let (f, mut values) = self.values();
        if self.values.reverse {
            values.reverse();
        }
        let values = values.iter().fold(String::new(), |t, line| t + line + "\n");
        let mut t = String::new();
        if self.values.place == 0 {
            t.push_str(&values);
        }
        for (i, (fold, apply)) in self.buckets.iter().enumerate() {
            writeln!(t, "bucket B{i} fold {} apply {};", Fold::ALL[*fold].keyword(), text(apply, Scope::Apply, &f))
                .unwrap();
        }
        if self.values.place == 1 {
            t.push_str(&values);
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
            if let Some(e) = &s.formula
                && !matches!(s.mode, StatMode::Merge(_))
            {
                write!(t, " = {}", text(e, scope, &f)).unwrap();
            }
            if let Some((lo, hi)) = &s.range {
                write!(t, " in {}", range_text(lo, hi, scope, &f)).unwrap();
            }
            match s.mode {
                StatMode::Merge(op) => write!(t, " merge {}", Operator::ALL[op].keyword()).unwrap(),
                StatMode::Pipeline(None) if self.default_pipeline => {}
                _ => write!(t, " pipeline p{}", self.stat_pipeline(s).unwrap()).unwrap(),
            }
            if let Some(d) = &s.default {
                write!(t, " default {}", constant(d, Scope::Constant(f.constants.len()), &f).0).unwrap();
            }
            t.push_str(";\n");
        }
        for (v, view) in sit.views.iter().enumerate() {
            let with: Vec<String> = view.with.iter().map(|&l| sit.label(l)).collect();
            writeln!(t, "view v{v} = s{} with {};", view.source, with.join(", ")).unwrap();
        }
        if self.values.place == 2 {
            t.push_str(&values);
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
