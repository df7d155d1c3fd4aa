//! The JIT back end against the reference interpreter: golden vectors, evaluation fixtures,
//! batch sizes and thread counts, code freed on drop, and a differential property test over
//! random rule sets × random actors (bit-for-bit equal snapshots and equal errors).
//!
//! The differential test runs `ACTORC_DIFF_CASES` rule sets (default 560) × `ACTORC_DIFF_ACTORS`
//! actors each (default 200), every rule set's actors evaluated as one batch.

use actorc::input::{Actor, CapContribution, Contribution, Meta, SubsystemOutput};
use actorc::load::{LoadOptions, Loaded, parse_bytes};
use actorc::{ActorError, Backend, Batch, Engine, Rules, Snapshot, ValueTable};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};
use std::fmt::Write as _;
use std::path::Path;

fn rules_from_text(text: &str) -> Result<Rules, String> {
    let mut loaded = Loaded::default();
    let (file, ast) =
        parse_bytes(&mut loaded, Path::new("gen.stat"), text.as_bytes().to_vec(), &LoadOptions::default());
    loaded.files.push((file, ast));
    Rules::from_compiled(actorc::rules::compile_loaded(loaded)).map_err(|e| e.to_string())
}

fn engines(rules: &Rules) -> (Engine, Engine) {
    let interp = Engine::new(rules, Backend::Interpreter).unwrap();
    let jit = Engine::new(rules, Backend::Jit).unwrap_or_else(|e| panic!("{e}"));
    (interp, jit)
}

type Results = Vec<Result<Snapshot, ActorError>>;

/// Equal results; on a difference, names the first differing actor.
fn assert_same(want: &Results, got: &Results, what: &str) {
    assert_eq!(want.len(), got.len(), "{what}: result count");
    for (i, (w, g)) in want.iter().zip(got).enumerate() {
        assert!(w == g, "{what}: actor {i} differs\n interp: {w:?}\n    jit: {g:?}");
    }
}

#[test]
fn golden_vectors_jit() {
    crate::golden::run_golden(Backend::Jit);
}

#[test]
fn eval_fixtures_jit() {
    for case in crate::eval::cases() {
        let want = crate::eval::run_case(&case, Backend::Interpreter);
        let got = crate::eval::run_case(&case, Backend::Jit);
        assert_eq!(want, got, "{}", case.display());
    }
}

#[test]
fn shipped_rules_compile() {
    for dir in ["rules/actor_core_v3", "rules/rpg", "tests/data/check/ok_everything.stat"] {
        let rules = Rules::load(dir).unwrap();
        Engine::new(&rules, Backend::Jit).unwrap_or_else(|e| panic!("{dir}: {e}"));
    }
}

/// `table` holds what `results` hold: each actor's error, or every stat's value (0 for a stat
/// without one), bit for bit. `Err` names the first difference.
fn table_matches(results: &Results, table: &ValueTable) -> Result<(), String> {
    if results.len() != table.len() {
        return Err(format!("{} results, {} rows", results.len(), table.len()));
    }
    for (i, r) in results.iter().enumerate() {
        match (r, table.row(i)) {
            (Err(e), Err(t)) if e == t => {}
            (Ok(snap), Ok(row)) => {
                for (s, v) in row.iter().enumerate() {
                    let entry = snap.entry(actorc::ir::StatId(s as u32));
                    let want = entry.filter(|e| e.has_value()).map_or(0.0, |e| e.value);
                    if want.to_bits() != v.to_bits() {
                        return Err(format!("actor {i}, stat {s}: snapshot {want:?}, table {v:?}"));
                    }
                }
            }
            (r, row) => return Err(format!("actor {i}: {r:?} vs {row:?}")),
        }
    }
    Ok(())
}

/// `a` with one more contribution, to a stat no rule set has: an input error.
fn unknown_stat(a: &Actor) -> Actor {
    let mut a = a.clone();
    let mut sub = SubsystemOutput::default();
    sub.meta.system = "typo".into();
    sub.primary.push(Contribution {
        dimension: "no_such_stat".into(),
        bucket: "FLAT".into(),
        value: 1.0,
        system: "typo".into(),
        priority: None,
    });
    a.subsystems.push(sub);
    a
}

#[test]
fn value_tables_match_snapshots() {
    let mut sets = rule_sets_for_batches();
    for case in crate::eval::cases() {
        let rules = Rules::load(crate::eval::rules_of(&case)).unwrap();
        let text = std::fs::read_to_string(case.join("actors.ndjson")).unwrap();
        let actors = text.lines().filter_map(|l| actorc::input::parse_actor(l).ok()).collect();
        sets.push((case.display().to_string(), rules, actors));
    }
    // Tables reused from rule set to rule set (other stat counts, other batch sizes, other
    // errors) must end up exactly like fresh ones.
    let mut reused = [ValueTable::default(), ValueTable::default(), ValueTable::default()];
    for (name, rules, actors) in sets {
        // Over several parallel tasks, with input errors in between (one in the middle of a
        // pair, runs of two, first and last actor).
        let actors: Vec<Actor> = actors
            .iter()
            .cycle()
            .take(150)
            .enumerate()
            .map(|(i, a)| if [0, 3, 70, 71, 100, 149].contains(&i) { unknown_stat(a) } else { a.clone() })
            .collect();
        let (interp, jit) = engines(&rules);
        let want = interp.evaluate_batch(&actors);
        let prepared = jit.prepare(&actors);
        let layout = jit.layout(&prepared);
        let interp_layout = interp.layout(&interp.prepare(&actors));
        interp.evaluate_values(&prepared, &mut reused[0]);
        jit.evaluate_values(&prepared, &mut reused[1]);
        jit.evaluate_values(&layout, &mut reused[2]);
        let fresh = |engine: &Engine, batch: Batch| {
            let mut table = ValueTable::default();
            engine.evaluate_values(batch, &mut table);
            table
        };
        let [r0, r1, r2] = &reused;
        for (what, table) in [
            ("interpreter", &fresh(&interp, (&prepared).into())),
            ("interpreter, actors", &fresh(&interp, (&actors).into())),
            ("interpreter, layout kept", &fresh(&interp, (&interp_layout).into())),
            ("jit", &fresh(&jit, (&prepared).into())),
            ("jit, actors", &fresh(&jit, (&actors).into())),
            ("jit, layout kept", &fresh(&jit, (&layout).into())),
            ("interpreter, table reused", r0),
            ("jit, table reused", r1),
            ("jit, layout kept, table reused", r2),
        ] {
            table_matches(&want, table).unwrap_or_else(|e| panic!("{name}, {what}: {e}"));
        }
    }
}

// ---------------------------------------------------------------------------------------
// Random rule sets.

/// Numbers both rules and actors draw from, so inputs land on range and cap boundaries.
const EDGES: &[f64] =
    &[0.0, -0.0, 1.0, -1.0, 0.5, 2.0, 10.0, 100.0, 1e300, -1e300, 1e-300, -1e-300, 5e-324, -5e-324, 1e15, 0.1, 3.0];

fn number() -> impl Strategy<Value = f64> + Clone {
    prop_oneof![prop::sample::select(EDGES), (-64i32..64).prop_map(|v| v as f64 / 4.0), -1.0e3..1.0e3f64,]
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

fn expr() -> impl Strategy<Value = E> {
    let leaf = prop_oneof![number().prop_map(E::Num), (0usize..16).prop_map(E::Name)];
    leaf.prop_recursive(3, 20, 3, |inner| {
        let unary = prop::sample::select(vec!["abs", "floor", "ceil", "round", "sqrt", "exp", "ln"]);
        let bin = prop::sample::select(vec!["+", "-", "*", "/", "<", "<=", ">", ">=", "==", "!="]);
        let call2 = prop::sample::select(vec!["min", "max", "pow"]);
        let call3 = prop::sample::select(vec!["clamp", "min", "max"]);
        prop_oneof![
            1 => (unary, inner.clone()).prop_map(|(f, a)| E::Call(f, vec![a])),
            1 => inner.clone().prop_map(|a| E::Neg(Box::new(a))),
            3 => (bin, inner.clone(), inner.clone()).prop_map(|(o, a, b)| E::Bin(o, Box::new(a), Box::new(b))),
            1 => (call2, inner.clone(), inner.clone()).prop_map(|(f, a, b)| E::Call(f, vec![a, b])),
            1 => (call3, inner.clone(), inner.clone(), inner.clone()).prop_map(|(f, a, b, c)| E::Call(f, vec![a, b, c])),
            1 => (inner.clone(), inner.clone(), inner).prop_map(|(c, a, b)| E::If(Box::new(c), Box::new(a), Box::new(b))),
        ]
    })
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

/// A simple apply over `value` and `x` most of the time, a random one otherwise.
fn apply() -> impl Strategy<Value = E> {
    let v = || Box::new(E::Name(0));
    let x = || Box::new(E::Name(1));
    prop_oneof![
        1 => Just(E::Bin("+", v(), x())),
        1 => Just(E::Bin("*", v(), x())),
        1 => Just(*x()),
        1 => Just(E::Call("max", vec![*v(), *x()])),
        1 => Just(E::Call("min", vec![*v(), *x()])),
        3 => expr(),
    ]
}

fn stat_spec() -> impl Strategy<Value = StatSpec> {
    let mode = prop_oneof![
        2 => Just(StatMode::Pipeline(None)),
        2 => (0usize..4).prop_map(|p| StatMode::Pipeline(Some(p))),
        1 => (0..OPERATORS.len()).prop_map(StatMode::Merge),
    ];
    let range = prop_oneof![
        Just(None),
        (number(), number()).prop_map(|(a, b)| Some((E::Num(a.min(b)), E::Num(a.max(b))))),
        // Bounds read other stats; `min`/`max` keep constant ones from being an empty
        // range (E0303) most of the time, the rest can cross at run time.
        (expr(), expr(), prop::bool::weighted(0.7)).prop_map(|(a, b, guard)| Some(if guard {
            (E::Call("min", vec![a.clone(), b.clone()]), E::Call("max", vec![a, b]))
        } else {
            (a, b)
        })),
    ];
    (any::<bool>(), mode, prop::option::weighted(0.5, expr()), range, prop::option::weighted(0.3, number()))
        .prop_map(|(derived, mode, formula, range, default)| StatSpec { derived, mode, formula, range, default })
}

fn rule_spec() -> impl Strategy<Value = RuleSpec> {
    (
        prop::collection::vec((0..FOLDS.len(), apply()), 1..6),
        prop::collection::vec(prop::collection::vec(0usize..6, 1..6), 1..4),
        any::<bool>(),
        prop::collection::vec(any::<bool>(), 0..5),
        any::<bool>(),
        prop::option::of(0usize..5),
        prop::collection::vec(stat_spec(), 1..9),
    )
        .prop_map(|(buckets, pipelines, default_pipeline, layers, prioritized, unscoped, stats)| RuleSpec {
            buckets,
            pipelines,
            default_pipeline,
            layers,
            prioritized,
            unscoped,
            stats,
        })
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

// ---------------------------------------------------------------------------------------
// Random actors for a rule set.

#[derive(Debug, Clone)]
struct ContribSpec {
    stat: usize,
    bucket: usize,
    value: f64,
    derived: bool,
    system: u8,
    priority: i64,
}

#[derive(Debug, Clone)]
struct CapSpec {
    stat: usize,
    mode: usize,
    value: f64,
    layer: Option<usize>,
    system: u8,
    priority: i64,
}

type ActorSpec = Vec<(Vec<ContribSpec>, Vec<CapSpec>)>;

fn actor_spec() -> impl Strategy<Value = ActorSpec> {
    let contrib = (0usize..8, 0usize..6, number(), any::<bool>(), 0u8..3, 0i64..3).prop_map(
        |(stat, bucket, value, derived, system, priority)| ContribSpec {
            stat,
            bucket,
            value,
            derived,
            system,
            priority,
        },
    );
    let cap = (0usize..8, 0usize..8, number(), prop::option::weighted(0.8, 0usize..5), 0u8..3, 0i64..3).prop_map(
        |(stat, mode, value, layer, system, priority)| CapSpec { stat, mode, value, layer, system, priority },
    );
    prop::collection::vec((prop::collection::vec(contrib, 0..7), prop::collection::vec(cap, 0..4)), 1..4)
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

fn actor(rules: &RuleSpec, spec: &ActorSpec, id: usize) -> Actor {
    let n = rules.stats.len();
    let subsystems = spec
        .iter()
        .enumerate()
        .map(|(si, (contribs, caps))| {
            let mut sub = SubsystemOutput {
                meta: Meta { system: format!("sys{si}").into(), ..Meta::default() },
                ..Default::default()
            };
            for c in contribs {
                let stat = c.stat % n;
                let bucket = match rules.stat_pipeline(&rules.stats[stat]) {
                    Some(p) => {
                        let bs = rules.pipeline(p);
                        bs[c.bucket % bs.len()]
                    }
                    None => c.bucket % rules.buckets.len(),
                };
                let contribution = Contribution {
                    dimension: format!("s{stat}").into(),
                    bucket: format!("B{bucket}").into(),
                    value: c.value,
                    system: format!("g{}", c.system).into(),
                    priority: Some(c.priority),
                };
                if c.derived { sub.derived.push(contribution) } else { sub.primary.push(contribution) }
            }
            if !rules.layers.is_empty() {
                for c in caps {
                    let (mode, kind) = CAP_MODES[c.mode];
                    let scope = match (c.layer, rules.unscoped()) {
                        (None, Some(_)) => None,
                        (l, _) => Some(format!("L{}", l.unwrap_or(0) % rules.layers.len())),
                    };
                    sub.caps.push(CapContribution {
                        system: format!("g{}", c.system).into(),
                        dimension: format!("s{}", c.stat % n).into(),
                        mode: mode.into(),
                        kind: kind.into(),
                        value: c.value,
                        priority: Some(c.priority),
                        scope: scope.map(Into::into),
                        realm: Some("r".into()),
                        tags: None,
                    });
                }
            }
            sub
        })
        .collect();
    Actor { id: Some(format!("a{id}")), version: id as i64, subsystems }
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[derive(Default, Debug)]
struct Stats {
    rule_sets: usize,
    rejected: usize,
    pairs: usize,
    ok: usize,
    eval_errors: usize,
    input_errors: usize,
}

#[test]
fn differential_random_rules() {
    let cases = env_usize("ACTORC_DIFF_CASES", 560);
    let per = env_usize("ACTORC_DIFF_ACTORS", 200);
    let config = Config { cases: cases as u32, failure_persistence: None, ..Config::default() };
    let mut runner = TestRunner::new(config);
    let stats = std::sync::Mutex::new(Stats::default());
    let strategy = (rule_spec(), prop::collection::vec(actor_spec(), per));
    let result = runner.run(&strategy, |(spec, actor_specs)| {
        let text = spec.text();
        let mut st = stats.lock().unwrap();
        st.rule_sets += 1;
        let rules = match rules_from_text(&text) {
            Ok(r) => r,
            Err(e) => {
                if std::env::var_os("ACTORC_DIFF_SHOW_REJECTED").is_some() {
                    eprintln!("rejected:\n{text}\n{e}");
                }
                st.rejected += 1;
                return Ok(());
            }
        };
        let actors: Vec<Actor> = actor_specs.iter().enumerate().map(|(i, a)| actor(&spec, a, i)).collect();
        let interp = Engine::new(&rules, Backend::Interpreter).unwrap();
        // Small functions put the boundaries between native functions inside these rule sets.
        let per_function = [1, 2, 3, 16][st.rule_sets % 4];
        let jit = Engine::jit_with_function_size(&rules, per_function).unwrap_or_else(|e| panic!("{e}"));
        let want = interp.evaluate_batch(&actors);
        let got = jit.evaluate_batch(&actors);
        st.pairs += actors.len();
        for w in &want {
            match w {
                Ok(_) => st.ok += 1,
                Err(ActorError::Eval(_)) => st.eval_errors += 1,
                Err(ActorError::Input(_)) => st.input_errors += 1,
            }
        }
        for (i, (w, g)) in want.iter().zip(&got).enumerate() {
            prop_assert!(w == g, "rules:\n{text}\nactor {i}: {:?}\n interp: {w:?}\n    jit: {g:?}", actors[i]);
        }
        // The kept-layout path gives the same results.
        let prepared = jit.prepare(&actors);
        let layout = jit.layout(&prepared);
        let laid = jit.evaluate_batch(&layout);
        prop_assert!(laid == got, "rules:\n{text}\nlaid-out batch differs");
        // So do the value tables of both engines.
        for (engine, batch) in [(&interp, Batch::from(&prepared)), (&jit, (&prepared).into()), (&jit, (&layout).into())]
        {
            let mut table = ValueTable::default();
            engine.evaluate_values(batch, &mut table);
            let same = table_matches(&want, &table);
            prop_assert!(same.is_ok(), "rules:\n{text}\nvalue table: {}", same.unwrap_err());
        }
        Ok(())
    });
    let st = stats.into_inner().unwrap();
    eprintln!("differential: {st:?}");
    if let Err(e) = result {
        panic!("{e}");
    }
    if std::env::var_os("ACTORC_DIFF_CASES").is_none() && std::env::var_os("ACTORC_DIFF_ACTORS").is_none() {
        assert!(st.pairs >= 100_000, "CI runs at least 100,000 (rule set, actor) pairs: {st:?}");
    }
    assert!(st.rejected * 5 <= st.rule_sets, "too many generated rule sets were rejected: {st:?}");
    assert!(st.ok * 4 >= st.pairs, "too few actors evaluated without error: {st:?}");
}

// ---------------------------------------------------------------------------------------
// Batch sizes, threads, layout reuse, memory.

/// A fixed random rule set with every construct, and actors for it.
fn fixed_case(seed_rules: usize, actors: usize) -> (Rules, Vec<Actor>) {
    let mut runner = TestRunner::deterministic();
    loop {
        let spec = rule_spec().new_tree(&mut runner).unwrap().current();
        let Ok(rules) = rules_from_text(&spec.text()) else { continue };
        if spec.stats.len() < 4 || spec.layers.is_empty() {
            continue;
        }
        let specs = prop::collection::vec(actor_spec(), actors).new_tree(&mut runner).unwrap().current();
        let list = specs.iter().enumerate().map(|(i, a)| actor(&spec, a, i)).collect();
        if seed_rules == 0 {
            return (rules, list);
        }
        return fixed_case(seed_rules - 1, actors);
    }
}

fn v3_actors(n: usize) -> Vec<Actor> {
    let mut runner = TestRunner::deterministic();
    let spec = RuleSpec {
        buckets: vec![(0, E::Num(0.0)); 4],
        pipelines: vec![vec![0, 1, 2, 3]],
        default_pipeline: true,
        layers: vec![true, false, false, false],
        prioritized: false,
        unscoped: Some(3),
        stats: Vec::new(),
    };
    let names = [
        "strength",
        "intelligence",
        "spirit",
        "magic_power",
        "mp_max",
        "hp_max",
        "attack_power",
        "defense",
        "crit_rate",
        "cooldown_reduction",
        "move_speed",
        "lifespan_years",
        "poise_rank",
    ];
    let layers = ["REALM", "WORLD", "EVENT", "TOTAL"];
    let buckets = ["FLAT", "MULT", "POST_ADD", "OVERRIDE"];
    let specs = prop::collection::vec(actor_spec(), n).new_tree(&mut runner).unwrap().current();
    let mut spec = spec;
    spec.stats =
        vec![StatSpec { derived: false, mode: StatMode::Pipeline(None), formula: None, range: None, default: None }; 8];
    specs
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let mut actor = actor(&spec, a, i);
            for (k, sub) in actor.subsystems.iter_mut().enumerate() {
                for c in sub.primary.iter_mut().chain(sub.derived.iter_mut()) {
                    let s: usize = c.dimension[1..].parse().unwrap();
                    c.dimension = names[(s * 3 + k + i) % names.len()].into();
                    let b: usize = c.bucket[1..].parse().unwrap();
                    c.bucket = buckets[b].into();
                }
                for c in &mut sub.caps {
                    let s: usize = c.dimension[1..].parse().unwrap();
                    c.dimension = names[(s * 5 + k + i) % names.len()].into();
                    c.scope = c.scope.as_ref().map(|l| layers[l[1..].parse::<usize>().unwrap()].into());
                }
            }
            actor
        })
        .collect()
}

fn rule_sets_for_batches() -> Vec<(String, Rules, Vec<Actor>)> {
    let v3 = Rules::load("rules/actor_core_v3").unwrap();
    let (random, actors) = fixed_case(3, 40);
    vec![("v3".into(), v3, v3_actors(40)), ("random".into(), random, actors)]
}

#[test]
fn batch_sizes_1_to_17() {
    for (name, rules, actors) in rule_sets_for_batches() {
        let (interp, jit) = engines(&rules);
        let want = interp.evaluate_batch(&actors);
        assert!(want.iter().filter(|r| r.is_ok()).count() > actors.len() / 4, "{name}: too many errors");
        assert!(jit.evaluate_batch(&[]).is_empty());
        for n in 1..=17 {
            for start in [0, 5, 17] {
                let slice = &actors[start..start + n];
                let got = jit.evaluate_batch(slice);
                assert_same(&want[start..start + n].to_vec(), &got, &format!("{name}: batch of {n} from {start}"));
            }
        }
        for (i, a) in actors.iter().enumerate() {
            assert_eq!(jit.evaluate(a), want[i], "{name}: actor {i} alone");
        }
    }
}

#[test]
fn thread_counts_give_identical_bits() {
    for (name, rules, actors) in rule_sets_for_batches() {
        let (interp, jit) = engines(&rules);
        let many: Vec<Actor> = actors.iter().cycle().take(333).cloned().collect();
        let want = interp.evaluate_batch(&many);
        let all = std::thread::available_parallelism().map_or(2, |n| n.get());
        for threads in [1, 2, all] {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            let got = pool.install(|| jit.evaluate_batch(&many));
            assert_same(&want, &got, &format!("{name}: {threads} threads"));
        }
    }
}

#[test]
fn layout_is_reusable() {
    let rules = Rules::load("rules/actor_core_v3").unwrap();
    let (interp, jit) = engines(&rules);
    let actors = v3_actors(25);
    let prepared = jit.prepare(&actors);
    let layout = jit.layout(&prepared);
    assert_eq!(layout.len(), actors.len());
    let want = interp.evaluate_batch(&interp.prepare(&actors));
    let clone = jit.clone();
    assert_same(&want, &jit.evaluate_batch(&layout), "first run");
    assert_same(&want, &clone.evaluate_batch(&layout), "second run, cloned engine");
    assert_same(&want, &jit.evaluate_batch(&prepared), "prepared batch");
    let interp_layout = interp.layout(&prepared);
    assert_eq!(interp_layout.len(), actors.len());
    assert_same(&want, &interp.evaluate_batch(&interp_layout), "interpreter layout");
}

fn vm_rss_kib() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Runs in a child process (this test binary, only this test), so other tests running in
/// parallel do not disturb the process-wide VmRSS.
#[test]
fn compile_and_drop_does_not_grow_memory() {
    if std::env::var_os("ACTORC_RSS_CHILD").is_none() {
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["jit::compile_and_drop_does_not_grow_memory", "--exact", "--nocapture", "--test-threads=1"])
            .env("ACTORC_RSS_CHILD", "1")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        eprintln!("{stderr}");
        assert!(out.status.success(), "child failed:\n{}\n{stderr}", String::from_utf8_lossy(&out.stdout));
        assert!(stderr.contains("VmRSS before"), "the child did not run the measurement");
        return;
    }
    let rules = Rules::load("rules/actor_core_v3").unwrap();
    let actor = v3_actors(1).pop().unwrap();
    let cycle = || {
        let engine = Engine::new(&rules, Backend::Jit).unwrap();
        std::hint::black_box(engine.evaluate(&actor).ok());
    };
    for _ in 0..100 {
        cycle();
    }
    let before = vm_rss_kib();
    for _ in 0..1000 {
        cycle();
    }
    let after = vm_rss_kib();
    eprintln!("VmRSS before {before} KiB, after 1000 compile+drop cycles {after} KiB");
    // Leaking the code alone would cost at least a page per compile (≥ 4 MiB in total).
    assert!(after <= before + 2048, "VmRSS grew from {before} KiB to {after} KiB");
}

/// A workload like the benchmarks' standard one: 5 subsystems × 20 contributions and 2 caps
/// (100 contributions and 10 caps per actor), stats, buckets and layers from `ir`,
/// deterministic (xorshift).
fn workload(ir: &actorc::ir::Ir, actors: usize) -> Vec<Actor> {
    use actorc::ir::Mode;
    let mut state = 0x5eed_2026_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let layers: Vec<&str> = ir.layers.iter().map(|l| l.name.as_str()).collect();
    (0..actors)
        .map(|a| {
            let subsystems = (0..5)
                .map(|s| {
                    let mut sub = SubsystemOutput {
                        meta: Meta { system: format!("sys{s}").into(), ..Meta::default() },
                        ..Default::default()
                    };
                    for _ in 0..20 {
                        let stat = &ir.stats[next() as usize % ir.stats.len()];
                        let bucket = match stat.mode {
                            Mode::Pipeline(p) => {
                                let bs = &ir.pipeline(p).buckets;
                                &ir.bucket(bs[next() as usize % bs.len()]).name
                            }
                            Mode::Operator(_) => &ir.buckets[0].name,
                        };
                        let scale = [0.1, 1.0, 10.0][next() as usize % 3];
                        sub.primary.push(Contribution {
                            dimension: stat.name.as_str().into(),
                            bucket: bucket.as_str().into(),
                            value: (next() % 1000) as f64 * scale / 100.0,
                            system: format!("sys{s}").into(),
                            priority: Some((next() % 3) as i64),
                        });
                    }
                    for _ in 0..2 {
                        let stat = &ir.stats[next() as usize % ir.stats.len()];
                        let (mode, kind) = CAP_MODES[next() as usize % CAP_MODES.len()];
                        let v = (next() % 1000) as f64;
                        sub.caps.push(CapContribution {
                            system: format!("sys{s}").into(),
                            dimension: stat.name.as_str().into(),
                            mode: mode.into(),
                            kind: kind.into(),
                            value: if kind == "max" { 100.0 + v * 10.0 } else { v / 100.0 },
                            priority: Some((next() % 3) as i64),
                            scope: Some(layers[next() as usize % layers.len()].into()),
                            realm: Some("r".into()),
                            tags: None,
                        });
                    }
                    sub
                })
                .collect();
            Actor { id: Some(format!("a{a}")), version: 1, subsystems }
        })
        .collect()
}

/// Wall time per actor of each evaluation step on [`workload`] (10,000 actors, 100
/// contributions and 10 caps each) for the v3 and RPG rules, one thread. Only measures when
/// `ACTORC_JIT_TIMING` is set (build with `--release` for meaningful numbers).
#[test]
fn timing_report() {
    if std::env::var_os("ACTORC_JIT_TIMING").is_none() {
        return;
    }
    use std::time::Instant;
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
    for path in ["rules/actor_core_v3", "rules/rpg"] {
        let rules = Rules::load(path).unwrap();
        let actors = workload(&rules.ir, 10_000);
        let (interp, jit) = engines(&rules);
        let n = actors.len() as f64;
        pool.install(|| {
            let per = |f: &mut dyn FnMut()| {
                f();
                let reps = 5;
                let t = Instant::now();
                for _ in 0..reps {
                    f();
                }
                t.elapsed().as_nanos() as f64 / reps as f64 / n
            };
            let prepared = interp.prepare(&actors);
            let ingest = per(&mut || {
                std::hint::black_box(interp.prepare(&actors));
            });
            let i = per(&mut || {
                std::hint::black_box(interp.evaluate_batch(&prepared));
            });
            let j = per(&mut || {
                std::hint::black_box(jit.evaluate_batch(&prepared));
            });
            let layout = jit.layout(&prepared);
            let lay = per(&mut || {
                std::hint::black_box(jit.layout(&prepared));
            });
            let run = per(&mut || {
                std::hint::black_box(jit.evaluate_batch(&layout));
            });
            assert_same(&interp.evaluate_batch(&prepared), &jit.evaluate_batch(&layout), path);
            eprintln!(
                "{path}: ns/actor (1 thread): ingest {ingest:.0}; interp prepared {i:.0}; jit prepared {j:.0} \
                 = layout {lay:.0} + evaluate_layout {run:.0}; speed-up {:.1}x (prepared), {:.1}x (laid out)",
                i / j,
                i / run
            );
        });
    }
}
