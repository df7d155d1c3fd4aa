//! The JIT back end against the reference interpreter: golden vectors, evaluation fixtures,
//! batch sizes and thread counts, code freed on drop, and a differential property test over
//! random rule sets × random actors (bit-for-bit equal snapshots and equal errors).
//!
//! Random rule sets and actors come from the fuzz crate's generator
//! (`fuzz/src/random.rs`), fed bytes from a seed. The differential test runs
//! `ACTORC_DIFF_CASES` rule sets (default 560) × `ACTORC_DIFF_ACTORS` actors each (default
//! 200), every rule set's actors evaluated as one batch.

use crate::fuzz_logic::random::{self, E, RuleSpec, StatMode, StatSpec};
use crate::workload::Rng;
use actorc::input::{Actor, Contribution, SubsystemOutput};
use actorc::{ActorError, Backend, Batch, Engine, Rules, Snapshot, ValueTable};
use arbitrary::Unstructured;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

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
        ..Contribution::default()
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
        let prepared = jit.prepare_batch(&actors);
        let layout = jit.layout(&prepared);
        let interp_layout = interp.layout(&interp.prepare_batch(&actors));
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
// Random rule sets × random actors.

/// Generator bytes for a rule set and `actors` actors (the generator takes what it needs).
pub(crate) fn generator_bytes(seed: u64, actors: usize) -> Vec<u8> {
    let mut rng = Rng::new(seed);
    (0..4096 + actors * 1024).map(|_| rng.next_u64() as u8).collect()
}

/// The rule set and (well-formed) actors that `seed` gives.
pub(crate) fn random_case(seed: u64, actors: usize) -> (RuleSpec, Vec<Actor>) {
    let bytes = generator_bytes(seed, actors);
    let mut u = Unstructured::new(&bytes);
    let spec = random::rule_spec(&mut u).expect("the generator takes any bytes");
    let list =
        (0..actors).map(|i| random::clean_actor(&mut u, &spec, i).expect("the generator takes any bytes")).collect();
    (spec, list)
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
    // A failure names its seed; the seed alone reproduces the case.
    let config = Config { cases: cases as u32, failure_persistence: None, max_shrink_iters: 0, ..Config::default() };
    let mut runner = TestRunner::new(config);
    let stats = std::sync::Mutex::new(Stats::default());
    let result = runner.run(&any::<u64>(), |seed| {
        let (spec, actors) = random_case(seed, per);
        let text = spec.text();
        let mut st = stats.lock().unwrap();
        st.rule_sets += 1;
        let rules = match random::rules(&text) {
            Ok(r) => r,
            Err(e) => {
                if std::env::var_os("ACTORC_DIFF_SHOW_REJECTED").is_some() {
                    eprintln!("rejected:\n{text}\n{e}");
                }
                st.rejected += 1;
                // Not a case: the runner draws another, so every run covers `cases` rule sets.
                return Err(TestCaseError::reject("the rules do not check"));
            }
        };
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
        let prepared = jit.prepare_batch(&actors);
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
    // The generator writes only rules that check clean: no constant folds to NaN or an
    // infinity, no divisor is a constant zero, no constant key misses its table.
    assert!(st.rejected == 0, "generated rule sets were rejected (ACTORC_DIFF_SHOW_REJECTED=1 shows them): {st:?}");
    assert!(st.ok * 4 >= st.pairs, "too few actors evaluated without error: {st:?}");
}

// ---------------------------------------------------------------------------------------
// Batch sizes, threads, layout reuse, memory.

/// A fixed random rule set with layers and at least four stats whose actors mostly
/// evaluate, and `actors` actors for it.
fn fixed_case(actors: usize) -> (Rules, Vec<Actor>) {
    for seed in 0.. {
        let (spec, list) = random_case(seed, actors);
        if spec.stats.len() < 4 || spec.layers.is_empty() {
            continue;
        }
        let Ok(rules) = random::rules(&spec.text()) else { continue };
        let interp = Engine::new(&rules, Backend::Interpreter).unwrap();
        if interp.evaluate_batch(&list).iter().filter(|r| r.is_ok()).count() * 2 > actors {
            return (rules, list);
        }
    }
    unreachable!("some seed gives such a rule set")
}

/// Random actors (edge values) renamed to the v3 rules' stats, buckets and layers.
fn v3_actors(n: usize) -> Vec<Actor> {
    let spec = RuleSpec {
        buckets: vec![(0, E::Num(0.0)); 4],
        pipelines: vec![vec![0, 1, 2, 3]],
        default_pipeline: true,
        layers: vec![true, false, false, false],
        prioritized: false,
        unscoped: Some(3),
        stats: vec![
            StatSpec {
                derived: false,
                mode: StatMode::Pipeline(None),
                formula: None,
                range: None,
                default: None
            };
            8
        ],
        situations: Default::default(),
        values: Default::default(),
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
    // `s3`, `B3`, `L3` → 3.
    let index = |name: &str| name[1..].parse::<usize>().unwrap();
    let bytes = generator_bytes(0x5eed, n);
    let mut u = Unstructured::new(&bytes);
    (0..n)
        .map(|i| {
            let mut actor = random::clean_actor(&mut u, &spec, i).expect("the generator takes any bytes");
            for (k, sub) in actor.subsystems.iter_mut().enumerate() {
                for c in sub.primary.iter_mut().chain(sub.derived.iter_mut()) {
                    c.dimension = names[(index(&c.dimension) * 3 + k + i) % names.len()].into();
                    c.bucket = buckets[index(&c.bucket)].into();
                }
                for c in &mut sub.caps {
                    c.dimension = names[(index(&c.dimension) * 5 + k + i) % names.len()].into();
                    c.scope = c.scope.as_ref().map(|l| layers[index(l)].into());
                }
            }
            actor
        })
        .collect()
}

fn rule_sets_for_batches() -> Vec<(String, Rules, Vec<Actor>)> {
    let v3 = Rules::load("rules/actor_core_v3").unwrap();
    let (random, actors) = fixed_case(40);
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
    let prepared = jit.prepare_batch(&actors);
    let layout = jit.layout(&prepared);
    assert_eq!(layout.len(), actors.len());
    let want = interp.evaluate_batch(&interp.prepare_batch(&actors));
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
