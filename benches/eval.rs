//! Evaluation benchmarks: the standard workload (10,000 actors × 5 subsystems, 100
//! contributions and 10 caps each) over the Actor Core v3 rule set and the example RPG
//! rule set, with every backend that builds (`Backend::Jit` is measured as soon as
//! `Engine::new` accepts it); and over `benches/rules/situational.stat` (v3 with 8 tags, a
//! tag group, 4 stacking groups and 3 views) the tagged workload (`tagged`: the same actors
//! in situations, a fifth of their contributions and caps with requirements, a tenth of the
//! contributions stacked) and the same actors without any of that (`tagged_stripped`); and
//! over `benches/rules/curves.stat` (a character sheet whose formulas read tables, curves and
//! constants and use `^`, `%`, `and`, `or`, `not`) the standard workload (`curves`), and over
//! `benches/rules/curves_plain.stat` (the same values from if-chains, `pow` and `floor`) the
//! same actors (`curves_plain`): their difference is what `lookup` and `at` cost.
//!
//! Groups (each reports elements = actors per second):
//! - `evaluate_batch`: `Actor` values to snapshots, end to end, all threads;
//! - `evaluate_batch_1thread`: the same in a one-thread rayon pool;
//! - `prepared`: `evaluate_batch` of a `PreparedBatch` ingested once (1 thread, all
//!   threads), and for the JIT `evaluate_batch` of a `Layout` also laid out once
//!   (`layout_kept`) and laying it out alone (`layout`), so prepared = layout + layout_kept;
//! - `values`: the evaluation part alone: `evaluate_values` (every stat's value, no
//!   snapshot, into a table reused from iteration to iteration) of the prepared batch, and
//!   for the JIT of a kept layout (1 thread); `values_in_cache`: the same on the first 256
//!   actors, whose layout fits in the core's L2 cache;
//! - `ingest`: `Engine::prepare_batch` only (1 thread, all threads);
//! - `json`: the NDJSON side of `actorc run`: parsing lines, writing the records;
//! - `cpu/…`: the one-thread groups again, measured in process CPU time instead of wall
//!   time (see `common::ProcessCpu`), for figures that a busy machine disturbs less.
//!
//! Run: `cargo bench --bench eval`.

mod common;

use actorc::{Backend, Engine, Rules, ValueTable};
use common::{ACTORS, ProcessCpu, SEED, Workload};
use criterion::measurement::Measurement;
use criterion::{BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main};
use rayon::ThreadPool;
use std::hint::black_box;
use std::sync::OnceLock;
use std::time::Duration;

/// Lines parsed per iteration of `json/*/parse_1thread`.
const PARSED: usize = 1_000;

/// Actors of the `values_in_cache` group.
const IN_CACHE: usize = 256;

struct Case {
    label: String,
    engine: Engine,
}

/// Every (rule set, backend) pair that loads, with its workload.
type Cases = Vec<(String, Rules, Vec<actorc::Actor>, Vec<Case>)>;

fn cases() -> Cases {
    let mut out = Vec::new();
    let situational = "benches/rules/situational.stat";
    for (name, path) in [
        ("v3", "rules/actor_core_v3"),
        ("rpg", "rules/rpg"),
        ("tagged", situational),
        ("tagged_stripped", situational),
        ("curves", "benches/rules/curves.stat"),
        ("curves_plain", "benches/rules/curves_plain.stat"),
    ] {
        let Some(rules) = common::load_rules(path) else { continue };
        let mut workload = Workload::from_ir(&rules.ir);
        if name == "tagged" {
            workload = workload.situated(&rules.ir);
        }
        let actors = workload.actors(ACTORS, SEED);
        let mut engines = Vec::new();
        for (label, backend) in [("interp", Backend::Interpreter), ("jit", Backend::Jit)] {
            match Engine::new(&rules, backend) {
                Ok(engine) => {
                    // Errors are counted once, before timing; they should be (about) zero.
                    let results = engine.evaluate_batch(&actors);
                    let failed: Vec<_> = results.iter().filter_map(|r| r.as_ref().err()).collect();
                    eprintln!(
                        "{name}/{label}: {} stats, {} actors, {} failed{}",
                        rules.ir.stats.len(),
                        actors.len(),
                        failed.len(),
                        failed.first().map(|e| format!(" (first: {e})")).unwrap_or_default()
                    );
                    if label == "interp" && rules.ir.is_situational() {
                        // What filtering and stacking leave (views take copies of their sources').
                        let prepared = actors[..1000].iter().filter_map(|a| engine.prepare(a).ok());
                        let values: usize = prepared.map(|p| p.values.len()).sum();
                        eprintln!("{name}: {:.1} prepared contributions per actor", values as f64 / 1000.0);
                    }
                    engines.push(Case { label: format!("{name}/{label}"), engine });
                }
                Err(e) => eprintln!("{name}/{label}: skipped: {e}"),
            }
        }
        out.push((name.to_string(), rules, actors, engines));
    }
    out
}

fn group<'a, M: Measurement>(c: &'a mut Criterion<M>, name: &str) -> BenchmarkGroup<'a, M> {
    let mut g = c.benchmark_group(name);
    g.sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(4));
    g.throughput(Throughput::Elements(ACTORS as u64));
    g
}

fn one_thread() -> ThreadPool {
    rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap()
}

/// The workloads and engines, built once for both measurements.
fn shared() -> &'static Cases {
    static CASES: OnceLock<Cases> = OnceLock::new();
    CASES.get_or_init(|| {
        eprintln!("rayon threads (all): {}", rayon::current_num_threads());
        cases()
    })
}

/// Wall-clock groups; with `cpu`, the one-thread groups again, measured in process CPU
/// time (named `cpu/…`), which a busy machine disturbs much less.
fn run<M: Measurement + Sync>(c: &mut Criterion<M>, cpu: bool)
where
    M::Value: Send,
{
    let cases = shared();
    let pool = one_thread();
    let p = if cpu { "cpu/" } else { "" };

    if !cpu {
        let mut g = group(c, "evaluate_batch");
        for (_, _, actors, engines) in cases {
            for case in engines {
                g.bench_function(&case.label, |b| b.iter(|| case.engine.evaluate_batch(black_box(actors))));
            }
        }
        g.finish();
    }

    let mut g = group(c, &format!("{p}evaluate_batch_1thread"));
    for (_, _, actors, engines) in cases {
        for case in engines {
            g.bench_function(&case.label, |b| {
                pool.install(|| b.iter(|| case.engine.evaluate_batch(black_box(actors))))
            });
        }
    }
    g.finish();

    let mut g = group(c, &format!("{p}prepared"));
    for (_, _, actors, engines) in cases {
        for case in engines {
            let batch = case.engine.prepare_batch(actors);
            g.bench_function(format!("{}/1thread", case.label), |b| {
                pool.install(|| b.iter(|| case.engine.evaluate_batch(black_box(&batch))))
            });
            // The JIT's own prepared form: the batch laid out once, evaluated again and again.
            if case.engine.backend() == Backend::Jit {
                let layout = case.engine.layout(&batch);
                g.bench_function(format!("{}/layout_kept_1thread", case.label), |b| {
                    pool.install(|| b.iter(|| case.engine.evaluate_batch(black_box(&layout))))
                });
                g.bench_function(format!("{}/layout_1thread", case.label), |b| {
                    pool.install(|| b.iter(|| case.engine.layout(black_box(&batch))))
                });
            }
            if !cpu {
                g.bench_function(format!("{}/all_threads", case.label), |b| {
                    b.iter(|| case.engine.evaluate_batch(black_box(&batch)))
                });
            }
        }
    }
    g.finish();

    // The evaluation part: values only, no snapshots; then the same on a batch whose layout
    // stays in cache, which shows how much of the 10,000-actor figure is memory traffic.
    for (group_name, n) in [("values", ACTORS), ("values_in_cache", IN_CACHE)] {
        let mut g = group(c, &format!("{p}{group_name}"));
        g.throughput(Throughput::Elements(n as u64));
        for (_, _, actors, engines) in cases {
            for case in engines {
                let batch = case.engine.prepare_batch(&actors[..n]);
                // One table, reused from iteration to iteration, as a game would each frame.
                let mut table = ValueTable::default();
                g.bench_function(format!("{}/1thread", case.label), |b| {
                    pool.install(|| b.iter(|| case.engine.evaluate_values(black_box(&batch), &mut table)))
                });
                if case.engine.backend() == Backend::Jit {
                    let layout = case.engine.layout(&batch);
                    g.bench_function(format!("{}/layout_kept_1thread", case.label), |b| {
                        pool.install(|| b.iter(|| case.engine.evaluate_values(black_box(&layout), &mut table)))
                    });
                }
            }
        }
        g.finish();
    }

    // Ingest is shared by every backend: measure it once per rule set.
    let mut g = group(c, &format!("{p}ingest"));
    for (name, _, actors, engines) in cases {
        let Some(case) = engines.first() else { continue };
        g.bench_function(format!("{name}/1thread"), |b| {
            pool.install(|| b.iter(|| case.engine.prepare_batch(black_box(actors))))
        });
        if !cpu {
            g.bench_function(format!("{name}/all_threads"), |b| {
                b.iter(|| case.engine.prepare_batch(black_box(actors)))
            });
        }
    }
    g.finish();

    // The JSON side of `actorc run` on the same actors: parse NDJSON lines into `Actor`s,
    // and write each result as an output record.
    let mut g = group(c, &format!("{p}json"));
    for (name, _, actors, engines) in cases {
        let Some(case) = engines.first() else { continue };
        let lines: Vec<String> = actors.iter().map(|a| serde_json::to_string(a).unwrap()).collect();
        let bytes: usize = lines.iter().map(|l| l.len() + 1).sum();
        eprintln!("{name}: {ACTORS} NDJSON lines, {bytes} bytes ({} bytes per actor)", bytes / ACTORS);
        // Parsing is slow: time the first 1,000 lines (throughput says per actor).
        g.throughput(Throughput::Elements(PARSED as u64));
        g.bench_function(format!("{name}/parse_1thread"), |b| {
            b.iter(|| {
                lines[..PARSED].iter().map(|l| actorc::input::parse_actor(black_box(l)).unwrap()).collect::<Vec<_>>()
            })
        });
        // From the text to a prepared actor: parse then prepare, or straight from JSON.
        let limits = actorc::input::InputLimits::default();
        g.bench_function(format!("{name}/parse_and_prepare_1thread"), |b| {
            b.iter(|| {
                let parse = |l: &String| actorc::input::parse_actor_limited(black_box(l), &limits).unwrap();
                lines[..PARSED].iter().map(|l| case.engine.prepare(&parse(l)).unwrap()).collect::<Vec<_>>()
            })
        });
        g.bench_function(format!("{name}/prepare_json_1thread"), |b| {
            b.iter(|| {
                let direct = |l: &String| case.engine.prepare_json(black_box(l), &limits).unwrap();
                lines[..PARSED].iter().map(direct).collect::<Vec<_>>()
            })
        });
        g.throughput(Throughput::Elements(ACTORS as u64));
        let results = case.engine.evaluate_batch(actors);
        g.bench_function(format!("{name}/write_1thread"), |b| {
            b.iter(|| {
                let mut n = 0;
                for (a, r) in actors.iter().zip(&results) {
                    n += actorc::run::record(a.id.as_deref(), black_box(r)).unwrap().len();
                }
                n
            })
        });
    }
    g.finish();
}

fn wall(c: &mut Criterion) {
    run(c, false);
}

fn cpu(c: &mut Criterion<ProcessCpu>) {
    run(c, true);
}

criterion_group!(wall_time, wall);
criterion_group! {
    name = cpu_time;
    config = Criterion::default().with_measurement(ProcessCpu);
    targets = cpu
}
criterion_main!(wall_time, cpu_time);
