//! The checking logic of the fuzz targets, as plain functions of the input bytes.
//!
//! Each `fuzz_targets/*.rs` is one call into this file, and `tests/it/fuzz_replay.rs`
//! includes it (`#[path]`) to replay the committed corpus and regressions without libFuzzer.
//! It depends on `actorc` and `arbitrary` only.
//!
//! - [`rule_text`]: bytes as a rule file → load, parse, check and lower never panic; every
//!   diagnostic points into the text; a clean file's IR dump, cost and interpreter run work.
//! - [`differential`]: a random rule set × random actors (from `arbitrary::Unstructured`) →
//!   the interpreter and the JIT give equal results, bit for bit.
//! - [`actor_input`]: bytes as an NDJSON batch (and as one actor document) over the shipped
//!   `rules/actor_core_v3` → one record per non-blank line, an error record for each malformed
//!   line, and each well-formed actor's snapshot equal to evaluating it alone.
//!
//! Batch evaluation uses rayon: run the targets with `RAYON_NUM_THREADS=1` to keep to one core.
//! `ACTORC_FUZZ_VERBOSE=1` makes [`differential`] print each generated rule set (and why it was
//! rejected, if it was).

use actorc::input::{Actor, CapContribution, Contribution, InputLimits, Meta, ModifierPack, SubsystemOutput};
use actorc::load::{LoadOptions, Loaded, parse_bytes};
use actorc::{ActorError, Backend, Engine, Rules, Snapshot};
use arbitrary::{Result as Arb, Unstructured};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

// ---------------------------------------------------------------------------------------
// rule_text

/// Bytes as the rule file `fuzz.stat`, through the library's in-memory path (no file
/// system, so imports resolve to nothing and report E0006).
pub fn rule_text(data: &[u8]) {
    let opts = LoadOptions::default();
    let mut loaded = Loaded::default();
    let (file, ast) = parse_bytes(&mut loaded, Path::new("fuzz.stat"), data.to_vec(), &opts);
    // The canonical form of a file that parsed cleanly parses cleanly again, to itself.
    if loaded.diags.is_empty() {
        let once = actorc::syntax::format_file(&ast);
        let mut again = Loaded::default();
        let (_, ast2) = parse_bytes(&mut again, Path::new("formatted.stat"), once.clone().into_bytes(), &opts);
        assert!(
            again.diags.is_empty(),
            "the formatted text does not parse:\n{once}\n{}",
            actorc::diag::render(&again.sources, &again.diags, false)
        );
        let twice = actorc::syntax::format_file(&ast2);
        assert_eq!(once, twice, "formatting is not idempotent");
    }
    loaded.files.push((file, ast));
    let compiled = actorc::rules::compile_loaded(loaded);
    let text = &compiled.sources.get(file).text;
    for d in &compiled.diagnostics {
        assert!(d.main_span().is_some(), "diagnostic without a location: {d:?}");
        for l in &d.labels {
            let (start, end) = (l.span.start as usize, l.span.end as usize);
            assert_eq!(l.span.file, file, "label in another file: {d:?}");
            assert!(
                start <= end && end <= text.len(),
                "label span {start}..{end} outside the text ({}): {d:?}",
                text.len()
            );
            assert!(
                text.is_char_boundary(start) && text.is_char_boundary(end),
                "label span {start}..{end} splits a character: {d:?}"
            );
        }
    }
    let _ = actorc::diag::render(&compiled.sources, &compiled.diagnostics, false);
    let _ = actorc::diag::to_json(&compiled.sources, &compiled.diagnostics);
    match &compiled.ir {
        None => assert!(compiled.has_errors(), "no IR although there are no errors"),
        Some(ir) => {
            assert!(!compiled.has_errors(), "IR although there are errors");
            let _ = actorc::ir::dump(ir);
            let cost = actorc::cost::cost(ir);
            let _ = cost.bound(4096);
            let _ = actorc::cost::over_budget(ir, &cost, 0, 4096);
        }
    }
    if let Ok(rules) = Rules::from_compiled(compiled) {
        let engine = Engine::new(&rules, Backend::Interpreter).expect("the interpreter takes any rule set");
        let _ = engine.evaluate(&Actor::default());
    }
}

// ---------------------------------------------------------------------------------------
// differential: a random rule set and random actors

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

/// An actor's number: mostly finite, sometimes NaN or ±∞, which the input must reject.
fn actor_number(u: &mut Unstructured) -> Arb<f64> {
    if u.ratio(1u8, 24)? {
        return Ok(*u.choose(&[f64::INFINITY, f64::NEG_INFINITY, f64::NAN])?);
    }
    finite(u)
}

#[derive(Debug, Clone)]
enum E {
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
enum Scope {
    /// The formula or a bound of stat `i`: may read stats `0..i`.
    Stat(usize),
    Apply,
}

fn render(e: &E, scope: Scope, out: &mut String) {
    match e {
        E::Num(v) => out.push_str(&num_text(*v)),
        E::Name(k) => match scope {
            Scope::Stat(0) => out.push_str("2e0"),
            Scope::Stat(i) => write!(out, "s{}", k % i).unwrap(),
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

const FOLDS: &[&str] = &["sum", "product", "delta_product", "min", "max", "first", "each"];
const OPERATORS: &[&str] = &["sum", "max", "min", "average", "multiply"];

#[derive(Debug, Clone)]
enum StatMode {
    /// Pipeline index (modulo the count), or the default pipeline.
    Pipeline(Option<usize>),
    Merge(usize),
}

#[derive(Debug, Clone)]
struct StatSpec {
    derived: bool,
    mode: StatMode,
    formula: Option<E>,
    range: Option<(E, E)>,
    default: Option<f64>,
}

#[derive(Debug, Clone)]
struct RuleSpec {
    buckets: Vec<(usize, E)>,
    pipelines: Vec<Vec<usize>>,
    default_pipeline: bool,
    /// Per layer: requires a realm.
    layers: Vec<bool>,
    prioritized: bool,
    unscoped: Option<usize>,
    stats: Vec<StatSpec>,
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
        _ => StatMode::Merge(u.choose_index(OPERATORS.len())?),
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

fn rule_spec(u: &mut Unstructured) -> Arb<RuleSpec> {
    let mut buckets = Vec::new();
    for _ in 0..u.int_in_range(1usize..=6)? {
        buckets.push((u.choose_index(FOLDS.len())?, apply_expr(u)?));
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
    Ok(RuleSpec { buckets, pipelines, default_pipeline, layers, prioritized, unscoped, stats })
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

    fn text(&self) -> String {
        let mut t = String::new();
        for (i, (fold, apply)) in self.buckets.iter().enumerate() {
            writeln!(t, "bucket B{i} fold {} apply {};", FOLDS[*fold], text(apply, Scope::Apply)).unwrap();
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
        for (i, s) in self.stats.iter().enumerate() {
            write!(t, "{} s{i}", if s.derived { "derived" } else { "primary" }).unwrap();
            if let Some(f) = &s.formula
                && !matches!(s.mode, StatMode::Merge(_))
            {
                write!(t, " = {}", text(f, Scope::Stat(i))).unwrap();
            }
            if let Some((lo, hi)) = &s.range {
                write!(t, " in {} .. {}", text(lo, Scope::Stat(i)), text(hi, Scope::Stat(i))).unwrap();
            }
            match s.mode {
                StatMode::Merge(op) => write!(t, " merge {}", OPERATORS[op]).unwrap(),
                StatMode::Pipeline(None) if self.default_pipeline => {}
                _ => write!(t, " pipeline p{}", self.stat_pipeline(s).unwrap()).unwrap(),
            }
            if let Some(d) = s.default {
                write!(t, " default {}", num_text(d)).unwrap();
            }
            t.push_str(";\n");
        }
        t
    }
}

const CAP_MODES: &[(&str, &str)] = &[
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
/// often edge values, priorities and systems from small sets so that ties are common.
fn actor(u: &mut Unstructured, rules: &RuleSpec, id: usize) -> Arb<Actor> {
    let n = rules.stats.len();
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
            let unknown = u.ratio(1u8, 64)?;
            let c = Contribution {
                dimension: if unknown { "nope".into() } else { format!("s{stat}").into() },
                bucket: format!("B{bucket}").into(),
                value: actor_number(u)?,
                system: format!("g{}", u.int_in_range(0u8..=2)?).into(),
                priority: if u.ratio(1u8, 8)? { None } else { Some(u.int_in_range(-1i64..=2)?) },
            };
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
                sub.caps.push(CapContribution {
                    system: format!("g{}", u.int_in_range(0u8..=2)?).into(),
                    dimension: format!("s{}", u.choose_index(n)?).into(),
                    mode: mode.into(),
                    kind: kind.into(),
                    value: actor_number(u)?,
                    priority: Some(u.int_in_range(0i64..=2)?),
                    scope: scope.map(Into::into),
                    realm: Some("r".into()),
                    tags: None,
                });
            }
        }
        if u.ratio(1u8, 10)? {
            let pack = ModifierPack {
                additive_percent: actor_number(u)?,
                multipliers: vec![actor_number(u)?; u.int_in_range(0usize..=2)?],
                post_add: actor_number(u)?,
            };
            let name = format!("c{}", u.int_in_range(0u8..=1)?);
            sub.context = Some([(name, pack)].into_iter().collect());
        }
        subsystems.push(sub);
    }
    Ok(Actor { id: Some(format!("a{id}")), version: id as i64, subsystems })
}

/// The rules as one in-memory file, or why they are rejected.
fn rules_from_text(text: &str) -> Result<Rules, String> {
    let mut loaded = Loaded::default();
    let (file, ast) =
        parse_bytes(&mut loaded, Path::new("gen.stat"), text.as_bytes().to_vec(), &LoadOptions::default());
    loaded.files.push((file, ast));
    Rules::from_compiled(actorc::rules::compile_loaded(loaded)).map_err(|e| e.to_string())
}

type Results = Vec<Result<Snapshot, ActorError>>;

fn assert_same(want: &Results, got: &Results, what: &str, rules: &str, actors: &[Actor]) {
    assert_eq!(want.len(), got.len(), "{what}: result count");
    for (i, (w, g)) in want.iter().zip(got).enumerate() {
        assert!(
            w == g,
            "{what}: actor {i} differs\nrules:\n{rules}\nactor: {:?}\n interp: {w:?}\n    jit: {g:?}",
            actors[i]
        );
    }
}

/// A random rule set × 1–5 random actors: the JIT (whole, or in functions of 1–4 stats)
/// gives the interpreter's results bit for bit, batched, one by one and laid out.
pub fn differential(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Ok(spec) = rule_spec(&mut u) else { return };
    let chunk = u.int_in_range(0usize..=4).unwrap_or(0);
    let n = u.int_in_range(1usize..=5).unwrap_or(1);
    let mut actors = Vec::with_capacity(n);
    for i in 0..n {
        match actor(&mut u, &spec, i) {
            Ok(a) => actors.push(a),
            Err(_) => break,
        }
    }
    if actors.is_empty() {
        return;
    }
    let text = spec.text();
    let verbose = std::env::var_os("ACTORC_FUZZ_VERBOSE").is_some();
    let rules = match rules_from_text(&text) {
        Ok(r) => r,
        Err(e) => {
            if verbose {
                eprintln!("rejected:\n{text}{e}");
            }
            return;
        }
    };
    if verbose {
        eprintln!("accepted ({} actors, chunk {chunk}):\n{text}", actors.len());
    }
    let interp = Engine::new(&rules, Backend::Interpreter).expect("interpreter");
    let jit = match chunk {
        0 => Engine::new(&rules, Backend::Jit),
        k => Engine::jit_with_function_size(&rules, k),
    }
    .unwrap_or_else(|e| panic!("the JIT rejects rules that checked clean: {e}\n{text}"));
    let want = interp.evaluate_batch(&actors);
    let got = jit.evaluate_batch(&actors);
    assert_same(&want, &got, "batch", &text, &actors);
    let one: Results = actors.iter().map(|a| jit.evaluate(a)).collect();
    assert_same(&want, &one, "one by one", &text, &actors);
    let layout = jit.layout(&jit.prepare(&actors));
    assert_same(&want, &jit.evaluate_batch(&layout), "laid out", &text, &actors);
}

// ---------------------------------------------------------------------------------------
// actor_input

/// The shipped v3 rules with both engines, loaded once.
fn v3() -> &'static (Engine, Engine) {
    static V3: OnceLock<(Engine, Engine)> = OnceLock::new();
    V3.get_or_init(|| {
        // This file is compiled in the fuzz crate and, through `#[path]`, in the main one.
        let base = Path::new(env!("CARGO_MANIFEST_DIR"));
        let dir: PathBuf = [base.join("rules/actor_core_v3"), base.join("../rules/actor_core_v3")]
            .into_iter()
            .find(|d| d.is_dir())
            .expect("rules/actor_core_v3");
        let rules = Rules::load(&dir).unwrap_or_else(|e| panic!("{e}"));
        let interp = Engine::new(&rules, Backend::Interpreter).expect("interpreter");
        let jit = Engine::new(&rules, Backend::Jit).expect("jit");
        (interp, jit)
    })
}

/// Bytes as actor input over the v3 rules.
///
/// As one document (`actorc run x.json`): parsing and both engines agree and never panic.
/// As an NDJSON batch (`actorc run x.ndjson`, through `cli::run_batch` with the JIT): one
/// record per non-blank line, in order; a malformed line gives exactly one input-error
/// record; a well-formed line's record equals evaluating that actor alone with the
/// interpreter; and a clean run of only the well-formed lines gives the same records.
pub fn actor_input(data: &[u8]) {
    let (interp, jit) = v3();
    let limits = InputLimits::default();

    if let Ok(text) = std::str::from_utf8(data) {
        let parsed = actorc::input::parse_actor_limited(text, &limits);
        // Ingest straight from the text, when it takes the document, agrees with parsing
        // and preparing it.
        if let Some((id, prepared)) = interp.prepare_json(text, &limits) {
            let actor = parsed.as_ref().expect("taken straight from JSON, yet it does not parse");
            assert!(id == actor.id, "ids differ: {id:?} vs {:?}", actor.id);
            assert!(Ok(prepared) == interp.prepare_actor(actor), "prepared straight from JSON differs");
        }
        // The depth limit holds as if every document were scanned before it is parsed
        // (typed actors that account for all their brackets are not scanned), also at the
        // deepest a typed actor nests.
        for max_depth in [limits.max_depth, 5, 6] {
            let limited = InputLimits { max_depth, ..limits };
            let got = actorc::input::parse_actor_limited(text, &limited);
            match actorc::input::json_too_deep(text, max_depth) {
                Some(_) => assert!(
                    got.as_ref().is_err_and(|e| e.message.contains("nested deeper")),
                    "deeper than {max_depth}, yet: {got:?}"
                ),
                None => {
                    let unlimited = InputLimits { max_depth: usize::MAX, ..limits };
                    let want = actorc::input::parse_actor_limited(text, &unlimited);
                    assert!(got == want, "depth {max_depth}: {got:?} vs {want:?}");
                }
            }
        }
        if let Ok(actor) = &parsed {
            let want = interp.evaluate(actor);
            let got = jit.evaluate(actor);
            assert!(want == got, "one document: engines differ\n interp: {want:?}\n    jit: {got:?}");
        }
    }

    let mut out = Vec::new();
    let code = actorc::cli::run_batch(jit, &limits, data, &mut out);
    assert!(code == 0 || code == 1, "a batch read from memory exited with {code}");
    let out = String::from_utf8(out).expect("records are UTF-8");
    let records: Vec<&str> = out.lines().collect();

    // What each non-blank line should give, evaluated alone.
    let mut expected = Vec::new();
    let mut clean_input = Vec::new();
    let mut clean_expected = Vec::new();
    for (i, line) in data.split_inclusive(|&b| b == b'\n').enumerate() {
        let line_no = i + 1;
        match std::str::from_utf8(line) {
            Ok(l) if l.trim().is_empty() => {}
            Ok(l) => match actorc::input::parse_actor_limited(l, &limits) {
                Ok(actor) => {
                    let rec = actorc::cli::record(actor.id.as_deref(), &interp.evaluate(&actor));
                    expected.push(Some(rec.clone()));
                    clean_input.extend_from_slice(line);
                    if !line.ends_with(b"\n") {
                        clean_input.push(b'\n');
                    }
                    clean_expected.push(rec);
                }
                Err(mut e) => {
                    e.message = format!("line {line_no}: {}", e.message);
                    expected.push(Some(actorc::cli::record(e.actor.clone().as_deref(), &Err(ActorError::from(e)))));
                }
            },
            // Not UTF-8: some input error, its wording is the CLI's.
            Err(_) => expected.push(None),
        }
    }
    assert_eq!(
        records.len(),
        expected.len(),
        "one record per non-blank line expected; got {} records for {} lines:\n{out}",
        records.len(),
        expected.len()
    );
    for (i, (rec, want)) in records.iter().zip(&expected).enumerate() {
        match want {
            Some(want) => assert_eq!(rec, want, "record {i}"),
            None => assert!(rec.contains(r#""error":{"kind":"input""#), "record {i} is not an input error: {rec}"),
        }
    }

    // The well-formed lines on their own: the same records.
    let mut clean_out = Vec::new();
    let code = actorc::cli::run_batch(jit, &limits, clean_input.as_slice(), &mut clean_out);
    assert!(code == 0 || code == 1, "a clean batch exited with {code}");
    let clean_out = String::from_utf8(clean_out).expect("records are UTF-8");
    let clean: Vec<&str> = clean_out.lines().collect();
    assert_eq!(clean, clean_expected, "a clean run of the well-formed lines differs");
}
