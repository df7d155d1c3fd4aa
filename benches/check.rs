//! Compile benchmarks: load + parse + check + lower of generated rule sets.
//!
//! - `compile/stats/1000`: a 1,000-stat rule set (target: ≤ 20 ms).
//! - `compile/bytes/{10KB,100KB,1MB}`: the same generator scaled by text size, split into
//!   files of at most 256 KiB (the loader rejects files over 1 MiB).
//! - `phases/…`: the 1,000-stat set split into load+parse and check+lower.
//! - `jit_compile/{rpg,1000stats}`: Cranelift compilation of a lowered rule set.
//! - `cpu/…`: the same (but 1 MB) measured in process CPU time (see `common::ProcessCpu`).
//!
//! Run: `cargo bench --bench check`.

mod common;

use actorc::load::{LoadOptions, load};
use actorc::rules::{compile, compile_loaded};
use common::{GeneratedRules, ProcessCpu, generate_rules};
use criterion::measurement::Measurement;
use criterion::{BatchSize, Criterion, Throughput, criterion_group};
use std::hint::black_box;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

const MAX_FILE: usize = 256 * 1024;

/// Writes the rule set and checks once that it compiles without errors.
fn prepare(label: &str, rules: &GeneratedRules) -> PathBuf {
    let dir = rules.write(label);
    let compiled = compile(std::slice::from_ref(&dir), &LoadOptions::default()).expect("load");
    if compiled.has_errors() {
        panic!("{}", actorc::diag::render_plain(&compiled.sources, &compiled.diagnostics));
    }
    let warnings = compiled.diagnostics.len();
    let ir = compiled.ir.expect("lowered");
    eprintln!(
        "{label}: {} stats, {} bytes in {} files, {} IR nodes, {warnings} warnings",
        ir.stats.len(),
        rules.bytes,
        rules.files.len(),
        ir.nodes.len()
    );
    dir
}

struct Sets {
    thousand: (usize, PathBuf),
    /// (label, bytes, folder)
    sized: Vec<(&'static str, usize, PathBuf)>,
}

/// The rule sets, written and checked once for both measurements.
fn sets() -> &'static Sets {
    static SETS: OnceLock<Sets> = OnceLock::new();
    SETS.get_or_init(|| {
        let thousand = generate_rules(1, 1000, 0, MAX_FILE);
        let dir = prepare("1000stats", &thousand);
        let sized = [("10KB", 10_000), ("100KB", 100_000), ("1MB", 1_000_000)]
            .into_iter()
            .map(|(label, bytes)| {
                let rules = generate_rules(2, 0, bytes, MAX_FILE);
                (label, rules.bytes, prepare(label, &rules))
            })
            .collect();
        Sets { thousand: (thousand.stats, dir), sized }
    })
}

/// Wall time; with `cpu`, process CPU time (`cpu/…`, without the slow 1 MB case).
fn run<M: Measurement>(c: &mut Criterion<M>, cpu: bool) {
    let opts = LoadOptions::default();
    let sets = sets();
    let p = if cpu { "cpu/" } else { "" };
    let (stats, dir) = &sets.thousand;

    let mut g = c.benchmark_group(format!("{p}compile/stats"));
    g.sample_size(20).measurement_time(Duration::from_secs(3));
    g.throughput(Throughput::Elements(*stats as u64));
    g.bench_function("1000", |b| b.iter(|| compile(black_box(std::slice::from_ref(dir)), &opts).unwrap()));
    g.finish();

    // JIT compile time: Cranelift code generation for an already lowered rule set.
    let mut g = c.benchmark_group(format!("{p}jit_compile"));
    g.sample_size(10).measurement_time(Duration::from_secs(5));
    for (label, path) in [("rpg", PathBuf::from("rules/rpg")), ("1000stats", dir.clone())] {
        let rules = actorc::Rules::load(&path).expect("rules load");
        g.bench_function(label, |b| {
            b.iter(|| actorc::Engine::new(black_box(&rules), actorc::Backend::Jit).expect("JIT compiles"))
        });
    }
    g.finish();

    let mut g = c.benchmark_group(format!("{p}phases/1000stats"));
    g.sample_size(20).measurement_time(Duration::from_secs(3));
    g.bench_function("load_parse", |b| b.iter(|| load(black_box(std::slice::from_ref(dir)), &opts).unwrap()));
    g.bench_function("check_lower", |b| {
        b.iter_batched(
            || load(std::slice::from_ref(dir), &opts).unwrap(),
            |loaded| compile_loaded(black_box(loaded)),
            BatchSize::PerIteration,
        )
    });
    g.finish();

    let mut g = c.benchmark_group(format!("{p}compile/bytes"));
    g.sample_size(10).measurement_time(Duration::from_secs(4));
    for (label, bytes, dir) in &sets.sized {
        if cpu && *bytes > 500_000 {
            continue;
        }
        g.throughput(Throughput::Bytes(*bytes as u64));
        g.bench_function(*label, |b| b.iter(|| compile(black_box(std::slice::from_ref(dir)), &opts).unwrap()));
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

fn main() {
    wall_time();
    cpu_time();
    Criterion::default().configure_from_args().final_summary();
    let sets = sets();
    common::remove(&sets.thousand.1);
    for (_, _, d) in &sets.sized {
        common::remove(d);
    }
}
