//! A hand-written Rust implementation of the Actor Core v3 rule set, as a speed reference
//! for the engines: the same standard workload as `benches/eval.rs`, the same semantics
//! as `src/eval.rs` on the v3 rules (spec §2–§4), written for speed.
//!
//! Like the engines' `prepared` benchmark, it evaluates a pre-ingested form: names are
//! interned to small integers and contributions sorted in canonical order once, before
//! timing (`HandBatch::ingest`, timed separately as `handwritten/ingest_1thread`). The timed
//! evaluation allocates nothing: it writes into a preallocated output table.
//!
//! Before timing, the results are checked against the interpreter, bit for bit, on the
//! first 100 actors. The one-thread benchmarks run again in process CPU time (`cpu/…`).
//!
//! Run: `cargo bench --bench handwritten`.

mod common;

use actorc::Actor;
use common::{ACTORS, ProcessCpu, SEED, Workload};
use criterion::measurement::Measurement;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rayon::prelude::*;
use rustc_hash::FxHashMap as HashMap;
use std::cmp::Reverse;
use std::hint::black_box;
use std::sync::OnceLock;
use std::time::Duration;

/// The v3 stats: name, range, and whether the stat is an operator (`merge max`) stat.
const STATS: [(&str, f64, f64, bool); N] = [
    ("strength", 0.0, 999999.0, false),
    ("intelligence", 0.0, 999999.0, false),
    ("spirit", 0.0, 999999.0, false),
    ("magic_power", 0.0, 1000000.0, false),
    ("mp_max", 0.0, 2000000.0, false),
    ("hp_max", 1.0, 2000000.0, false),
    ("attack_power", 0.0, 1000000.0, false),
    ("defense", 0.0, 999999.0, false),
    ("crit_rate", 0.0, 1.0, false),
    ("cooldown_reduction", 0.0, 0.5, false),
    ("move_speed", 0.0, 12.0, false),
    ("lifespan_years", 0.0, 100000.0, true),
    ("poise_rank", 0.0, 10.0, true),
];
const N: usize = 13;
/// Buckets in pipeline order.
const BUCKETS: [&str; 4] = ["FLAT", "MULT", "POST_ADD", "OVERRIDE"];
const B: usize = 4;
/// Cap layers in order; caps without a scope go to TOTAL.
const LAYERS: [&str; 4] = ["REALM", "WORLD", "EVENT", "TOTAL"];
const TOTAL: u8 = 3;

#[inline(always)]
fn fmin(a: f64, b: f64) -> f64 {
    if a < b {
        a
    } else if b < a {
        b
    } else if a == b {
        f64::from_bits(a.to_bits() | b.to_bits())
    } else {
        f64::NAN
    }
}

#[inline(always)]
fn fmax(a: f64, b: f64) -> f64 {
    if a > b {
        a
    } else if b > a {
        b
    } else if a == b {
        f64::from_bits(a.to_bits() & b.to_bits())
    } else {
        f64::NAN
    }
}

/// One side of one layer, reduced within the layer (spec §4). (Whether the side holds an
/// override only matters to the `prioritized_override` policy; v3 intersects.)
#[derive(Clone, Copy, Debug)]
struct Side {
    candidate: f64,
    hard: f64,
}

/// The caps of one stat in one layer; entries are in layer order.
#[derive(Clone, Copy, Debug)]
struct CapEntry {
    stat: u8,
    max: Side,
    min: Side,
}

/// One ingested actor: `offs[s * B + b] .. offs[s * B + b + 1]` are the values of stat `s`,
/// bucket `b` (operator stats use bucket 0) in canonical order; `caps` a range of entries
/// sorted by (stat, layer).
#[derive(Clone, Copy)]
struct HandActor {
    offs: [u32; N * B + 1],
    caps: (u32, u32),
    ok: bool,
}

/// A batch in the pre-ingested form.
struct HandBatch {
    actors: Vec<HandActor>,
    values: Vec<f64>,
    caps: Vec<CapEntry>,
}

/// Names interned once.
struct Names {
    stats: HashMap<&'static str, u8>,
    buckets: HashMap<&'static str, u8>,
    layers: HashMap<&'static str, u8>,
}

impl Names {
    fn new() -> Names {
        let ids = |names: &[&'static str]| names.iter().enumerate().map(|(i, &n)| (n, i as u8)).collect();
        let stat_names: Vec<&'static str> = STATS.iter().map(|s| s.0).collect();
        Names { stats: ids(&stat_names), buckets: ids(&BUCKETS), layers: ids(&LAYERS) }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum CapMode {
    Baseline,
    Additive,
    Override,
    HardMax,
    HardMin,
}

/// A contribution while ingesting: (stat, bucket, priority descending, system, value).
type ItemKey<'a> = (u8, u8, Reverse<i64>, &'a str, f64);
/// A cap while ingesting: (stat, layer, is_max, mode, priority descending, system, value).
type CapKey<'a> = (u8, u8, bool, CapMode, Reverse<i64>, &'a str, f64);

impl HandBatch {
    /// Ingest: intern names, sort contributions and caps in canonical order, reduce caps
    /// per layer. An actor with a name the rules do not know is marked failed.
    fn ingest(names: &Names, actors: &[Actor]) -> HandBatch {
        let mut batch = HandBatch { actors: Vec::with_capacity(actors.len()), values: Vec::new(), caps: Vec::new() };
        let mut items: Vec<ItemKey> = Vec::new();
        let mut caps: Vec<CapKey> = Vec::new();
        for actor in actors {
            items.clear();
            caps.clear();
            let mut ok = true;
            for sub in &actor.subsystems {
                for c in sub.primary.iter().chain(&sub.derived) {
                    match (names.stats.get(c.dimension.as_str()), names.buckets.get(c.bucket.as_str())) {
                        (Some(&s), Some(&b)) if c.value.is_finite() => {
                            let b = if STATS[s as usize].3 { 0 } else { b };
                            items.push((s, b, Reverse(c.priority.unwrap_or(0)), &c.system, c.value));
                        }
                        _ => ok = false,
                    }
                }
                for c in &sub.caps {
                    let mode = match c.mode.as_str() {
                        "BASELINE" => CapMode::Baseline,
                        "ADDITIVE" => CapMode::Additive,
                        "OVERRIDE" => CapMode::Override,
                        "HARD_MAX" => CapMode::HardMax,
                        _ => CapMode::HardMin,
                    };
                    let layer = match &c.scope {
                        Some(s) => names.layers.get(s.as_str()).copied(),
                        None => Some(TOTAL),
                    };
                    match (names.stats.get(c.dimension.as_str()), layer) {
                        (Some(&s), Some(l)) => {
                            let prio = Reverse(c.priority.unwrap_or(0));
                            caps.push((s, l, c.kind == "max", mode, prio, &c.system, c.value));
                        }
                        _ => ok = false,
                    }
                }
            }
            items.sort_by(|a, b| (a.0, a.1, a.2, a.3).cmp(&(b.0, b.1, b.2, b.3)).then(a.4.total_cmp(&b.4)));
            caps.sort_by(|a, b| {
                (a.0, a.1, a.2, a.3, a.4, a.5).cmp(&(b.0, b.1, b.2, b.3, b.4, b.5)).then(a.6.total_cmp(&b.6))
            });
            let mut offs = [0u32; N * B + 1];
            let base = batch.values.len() as u32;
            let mut k = 0;
            for (slot, off) in offs.iter_mut().enumerate() {
                while k < items.len() && usize::from(items[k].0) * B + usize::from(items[k].1) < slot {
                    k += 1;
                }
                *off = base + k as u32;
            }
            batch.values.extend(items.iter().map(|i| i.4));
            let c0 = batch.caps.len() as u32;
            let mut k = 0;
            while k < caps.len() {
                let (stat, layer) = (caps[k].0, caps[k].1);
                // [min side, max side]: baseline, additive, override, hard.
                let mut acc = [[None::<f64>; 4]; 2];
                while k < caps.len() && caps[k].0 == stat && caps[k].1 == layer {
                    let (.., is_max, mode, _, _, v) = caps[k];
                    let a = &mut acc[usize::from(is_max)];
                    match mode {
                        CapMode::Baseline => a[0] = Some(a[0].unwrap_or(0.0) + v),
                        CapMode::Additive => a[1] = Some(a[1].unwrap_or(0.0) + v),
                        CapMode::Override => a[2] = Some(a[2].unwrap_or(v)),
                        CapMode::HardMax => a[3] = Some(a[3].map_or(v, |h| fmin(h, v))),
                        CapMode::HardMin => a[3] = Some(a[3].map_or(v, |h| fmax(h, v))),
                    }
                    k += 1;
                }
                let side = |a: [Option<f64>; 4], inf: f64| Side {
                    candidate: match (a[2], a[0], a[1]) {
                        (Some(o), _, _) => o,
                        (None, None, None) => inf,
                        (None, b, a) => b.unwrap_or(0.0) + a.unwrap_or(0.0),
                    },
                    hard: a[3].unwrap_or(inf),
                };
                batch.caps.push(CapEntry {
                    stat,
                    max: side(acc[1], f64::INFINITY),
                    min: side(acc[0], f64::NEG_INFINITY),
                });
            }
            batch.actors.push(HandActor { offs, caps: (c0, batch.caps.len() as u32), ok });
        }
        batch
    }
}

/// One stat of one actor: its value and effective range.
#[derive(Clone, Copy, Default, Debug)]
struct Out {
    value: f64,
    min: f64,
    max: f64,
    /// ENTRY | VALUE
    flags: u8,
}
const ENTRY: u8 = 1;
const VALUE: u8 = 2;

/// Evaluates one ingested actor into `out`; false when a value is NaN or infinite.
#[inline]
fn eval_actor(a: &HandActor, values: &[f64], caps: &[CapEntry], out: &mut [Out; N]) -> bool {
    if !a.ok {
        return false;
    }
    let (mut ci, ce) = (a.caps.0 as usize, a.caps.1 as usize);
    let o = &a.offs;
    for s in 0..N {
        let (_, lo, hi, operator) = STATS[s];
        // Effective range: layers in order, INTERSECT, then the stat's own range.
        let (mut min, mut max) = (f64::NEG_INFINITY, f64::INFINITY);
        let has_caps = ci < ce && usize::from(caps[ci].stat) == s;
        while ci < ce && usize::from(caps[ci].stat) == s {
            let l = &caps[ci];
            let lmax = fmin(fmin(l.max.candidate, l.max.hard), hi);
            let mut lmin = fmax(fmax(l.min.candidate, l.min.hard), lo);
            if lmin > lmax {
                lmin = lmax;
            }
            min = fmax(min, lmin);
            max = fmin(max, lmax);
            ci += 1;
        }
        min = fmax(min, lo);
        max = fmin(max, hi);
        if min > max {
            min = max;
        }
        let first = o[s * B] as usize;
        let end = o[s * B + B] as usize;
        if first == end {
            out[s] = Out { value: 0.0, min, max, flags: if has_caps { ENTRY } else { 0 } };
            continue;
        }
        let mut v;
        if operator {
            // merge max
            v = values[first];
            for &x in &values[first + 1..end] {
                v = fmax(v, x);
            }
        } else {
            let xs = |b: usize| &values[o[s * B + b] as usize..o[s * B + b + 1] as usize];
            v = 0.0;
            let flat = xs(0);
            if !flat.is_empty() {
                v += flat.iter().fold(0.0, |acc, x| acc + x);
            }
            let mult = xs(1);
            if !mult.is_empty() {
                v *= mult.iter().fold(1.0, |acc, x| acc * (1.0 + x));
            }
            let post = xs(2);
            if !post.is_empty() {
                v += post.iter().fold(0.0, |acc, x| acc + x);
            }
            let ovr = xs(3);
            if let Some(&x) = ovr.first() {
                v = x;
            }
        }
        if v.is_nan() {
            return false;
        }
        v = fmin(fmax(v, min), max);
        if !v.is_finite() {
            return false;
        }
        out[s] = Out { value: v, min, max, flags: ENTRY | VALUE };
    }
    true
}

/// Evaluates the whole batch into `out` (one row per actor); returns the number of failures.
fn eval_batch(batch: &HandBatch, out: &mut [[Out; N]]) -> usize {
    let mut failed = 0;
    for (a, row) in batch.actors.iter().zip(out.iter_mut()) {
        failed += usize::from(!eval_actor(a, &batch.values, &batch.caps, row));
    }
    failed
}

fn eval_batch_par(batch: &HandBatch, out: &mut [[Out; N]]) -> usize {
    const CHUNK: usize = 256;
    out.par_chunks_mut(CHUNK)
        .zip(batch.actors.par_chunks(CHUNK))
        .map(|(rows, actors)| {
            let mut failed = 0;
            for (a, row) in actors.iter().zip(rows.iter_mut()) {
                failed += usize::from(!eval_actor(a, &batch.values, &batch.caps, row));
            }
            failed
        })
        .sum()
}

/// Checks the hand-written results against the interpreter, bit for bit, on `n` actors.
fn verify(rules: &actorc::Rules, actors: &[Actor], batch: &HandBatch, out: &[[Out; N]], n: usize) {
    let engine = actorc::Engine::new(rules, actorc::Backend::Interpreter).unwrap();
    let same = |a: f64, b: f64| a.to_bits() == b.to_bits();
    let mut compared = 0;
    for (i, actor) in actors.iter().take(n).enumerate() {
        let snap = engine.evaluate(actor);
        let mut row = [Out::default(); N];
        let ok = eval_actor(&batch.actors[i], &batch.values, &batch.caps, &mut row);
        assert_eq!(ok, snap.is_ok(), "actor {i}: success differs");
        let Ok(snap) = snap else { continue };
        assert_eq!(snap.len(), row.iter().filter(|o| o.flags & ENTRY != 0).count(), "actor {i}: entries");
        for (s, o) in row.iter().enumerate() {
            let id = rules.ir.stat_ids.get(STATS[s].0).copied().unwrap();
            let e = snap.entry(id);
            assert_eq!(e.is_some(), o.flags & ENTRY != 0, "actor {i} {}: entry", STATS[s].0);
            let Some(e) = e else { continue };
            assert!(same(e.min, o.min) && same(e.max, o.max), "actor {i} {}: range {e:?} vs {o:?}", STATS[s].0);
            assert_eq!(e.has_value(), o.flags & VALUE != 0, "actor {i} {}: has value", STATS[s].0);
            assert!(same(e.value, o.value) || !e.has_value(), "actor {i} {}: {e:?} vs {o:?}", STATS[s].0);
            compared += 1;
        }
        assert_eq!(out[i].map(|o| o.value.to_bits()), row.map(|o| o.value.to_bits()));
    }
    eprintln!("handwritten: {compared} stat entries of the first {n} actors equal the interpreter's, bit for bit");
}

struct Setup {
    actors: Vec<Actor>,
    names: Names,
    batch: HandBatch,
}

/// The workload, ingested and verified once for both measurements.
fn setup() -> &'static Setup {
    static SETUP: OnceLock<Setup> = OnceLock::new();
    SETUP.get_or_init(|| {
        let rules = common::load_rules("rules/actor_core_v3").expect("the v3 rules load");
        let actors = Workload::from_ir(&rules.ir).actors(ACTORS, SEED);
        let names = Names::new();
        let batch = HandBatch::ingest(&names, &actors);
        let mut out = vec![[Out::default(); N]; actors.len()];
        let failed = eval_batch(&batch, &mut out);
        eprintln!("handwritten: {} actors, {failed} failed", actors.len());
        verify(&rules, &actors, &batch, &out, 100);
        Setup { actors, names, batch }
    })
}

/// Wall time; with `cpu`, the one-thread benchmarks in process CPU time (`cpu/…`).
fn run<M: Measurement>(c: &mut Criterion<M>, cpu: bool) {
    let Setup { actors, names, batch } = setup();
    let mut out = vec![[Out::default(); N]; actors.len()];
    let mut g = c.benchmark_group(if cpu { "cpu/handwritten" } else { "handwritten" });
    g.sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(4));
    g.throughput(Throughput::Elements(ACTORS as u64));
    g.bench_function("v3/eval_1thread", |b| b.iter(|| eval_batch(black_box(batch), &mut out)));
    if !cpu {
        g.bench_function("v3/eval_all_threads", |b| b.iter(|| eval_batch_par(black_box(batch), &mut out)));
    }
    // Sequential code: no pool needed for one thread.
    g.bench_function("v3/ingest_1thread", |b| b.iter(|| HandBatch::ingest(names, black_box(actors))));
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
