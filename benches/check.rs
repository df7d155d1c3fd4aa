//! Compile benchmarks: load + parse + check + lower of generated rule sets.
//!
//! - `compile/stats/1000`: a 1,000-stat rule set (target: ≤ 20 ms).
//! - `compile/bytes/{10KB,100KB,1MB}`: the same generator scaled by text size, split into
//!   files of at most 256 KiB (the loader rejects files over 1 MiB).
//! - `phases/…`: the 1,000-stat set split into load+parse and check+lower.
//!
//! Run: `cargo bench --bench check`.

mod common;

use actorc::load::{LoadOptions, load};
use actorc::rules::{compile, compile_loaded};
use common::{GeneratedRules, generate_rules};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

const MAX_FILE: usize = 256 * 1024;

/// Writes the rule set and checks once that it compiles without errors.
fn prepare(label: &str, rules: &GeneratedRules) -> PathBuf {
    let dir = rules.write(label);
    let compiled = compile(std::slice::from_ref(&dir), &LoadOptions::default()).expect("load");
    if compiled.has_errors() {
        panic!("{}", actorc::diag::render(&compiled.sources, &compiled.diagnostics, false));
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

fn bench_compile(c: &mut Criterion) {
    let opts = LoadOptions::default();
    let mut dirs = Vec::new();

    let mut g = c.benchmark_group("compile/stats");
    g.sample_size(20).measurement_time(Duration::from_secs(3));
    let thousand = generate_rules(1, 1000, 0, MAX_FILE);
    let dir = prepare("1000stats", &thousand);
    g.throughput(Throughput::Elements(thousand.stats as u64));
    g.bench_function("1000", |b| b.iter(|| compile(black_box(std::slice::from_ref(&dir)), &opts).unwrap()));
    g.finish();

    let mut g = c.benchmark_group("phases/1000stats");
    g.sample_size(20).measurement_time(Duration::from_secs(3));
    g.bench_function("load_parse", |b| b.iter(|| load(black_box(std::slice::from_ref(&dir)), &opts).unwrap()));
    g.bench_function("check_lower", |b| {
        b.iter_batched(
            || load(std::slice::from_ref(&dir), &opts).unwrap(),
            |loaded| compile_loaded(black_box(loaded)),
            BatchSize::PerIteration,
        )
    });
    g.finish();
    dirs.push(dir);

    let mut g = c.benchmark_group("compile/bytes");
    g.sample_size(10).measurement_time(Duration::from_secs(4));
    for (label, bytes) in [("10KB", 10_000), ("100KB", 100_000), ("1MB", 1_000_000)] {
        let rules = generate_rules(2, 0, bytes, MAX_FILE);
        let dir = prepare(label, &rules);
        g.throughput(Throughput::Bytes(rules.bytes as u64));
        g.bench_function(label, |b| b.iter(|| compile(black_box(std::slice::from_ref(&dir)), &opts).unwrap()));
        dirs.push(dir);
    }
    g.finish();

    for d in &dirs {
        common::remove(d);
    }
}

criterion_group!(benches, bench_compile);
criterion_main!(benches);
