//! Live actors on the standard workload (v3 and the example RPG), one thread, beside the
//! hand-written resolver of `benches/handwritten.rs`:
//!
//! - `live/<rules>/build_and_evaluate`: a live actor built from handles (names resolved
//!   before timing; each of its 5 subsystems one source of about 20 modifiers and 2 caps)
//!   and evaluated in full;
//! - `live/<rules>/replace_source`: one source of a kept, evaluated actor replaced by
//!   another actor's same source, then evaluated (only the stats it touches and their
//!   dependents are recomputed);
//! - `live/<rules>/replace_source_in_cache`: the same, over and over on one actor, whose
//!   data stay in the core's caches;
//! - `live/<rules>/batch_jit`: `Engine::evaluate_live` on the JIT after every actor had
//!   one source replaced.
//!
//! Elements are actors (or replacements). Times are process CPU time (`common::ProcessCpu`),
//! which a busy machine disturbs much less than wall time; compare with the `cpu/handwritten`
//! group of `cargo bench --bench handwritten`. Run: `cargo bench --bench live`.

mod common;

use actorc::input::Actor;
use actorc::live::{Cap, CapKind, CapMode, Modifier, Section};
use actorc::{Backend, Engine, LiveActor};
use common::{ProcessCpu, SEED, Workload};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::time::Duration;

/// Actors per iteration.
const N: usize = 1_000;

/// One source in handle form.
struct Source {
    name: String,
    modifiers: Vec<Modifier>,
    caps: Vec<Cap>,
}

/// Each subsystem of `actor` as one source, its names resolved.
fn handles(engine: &Engine, actor: &Actor) -> Vec<Source> {
    actor
        .subsystems
        .iter()
        .map(|sub| {
            let lists = [(&sub.primary, Section::Primary), (&sub.derived, Section::Derived)];
            let modifiers = lists
                .into_iter()
                .flat_map(|(list, section)| list.iter().map(move |c| (c, section)))
                .map(|(c, section)| {
                    let (stat, bucket) = (engine.stat(&c.dimension).unwrap(), engine.bucket(&c.bucket).unwrap());
                    Modifier::new(stat, bucket, c.value).priority(c.priority.unwrap_or(0)).section(section)
                })
                .collect();
            let caps = sub
                .caps
                .iter()
                .map(|c| {
                    let layer = match &c.scope {
                        Some(s) => engine.layer(s).unwrap(),
                        None => engine.unscoped_layer().unwrap(),
                    };
                    let kind = if c.kind == "max" { CapKind::Max } else { CapKind::Min };
                    let mode = CapMode::from_keyword(&c.mode).unwrap();
                    let mut cap = Cap::new(engine.stat(&c.dimension).unwrap(), layer, kind, mode, c.value)
                        .priority(c.priority.unwrap_or(0));
                    cap.realm = c.realm.clone();
                    cap
                })
                .collect();
            Source { name: sub.meta.system.to_string(), modifiers, caps }
        })
        .collect()
}

fn build(engine: &Engine, sources: &[Source]) -> LiveActor {
    let mut live = LiveActor::new(engine);
    for s in sources {
        let id = live.source(&s.name);
        live.set_source(id, &s.modifiers, &s.caps).unwrap();
    }
    live
}

fn bench(c: &mut Criterion<ProcessCpu>) {
    for (name, path) in [("v3", "rules/actor_core_v3"), ("rpg", "rules/rpg")] {
        let Some(rules) = common::load_rules(path) else { continue };
        let engine = Engine::new(&rules, Backend::Interpreter).unwrap();
        let jit = Engine::new(&rules, Backend::Jit).unwrap();
        let actors = Workload::from_ir(&rules.ir).actors(N, SEED);
        let sources: Vec<Vec<Source>> = actors.iter().map(|a| handles(&engine, a)).collect();
        let per_source: f64 = sources.iter().flatten().map(|s| s.modifiers.len() as f64).sum::<f64>()
            / sources.iter().map(Vec::len).sum::<usize>() as f64;
        eprintln!("live/{name}: {N} actors, {per_source:.1} modifiers per source");

        let mut g = c.benchmark_group(format!("live/{name}"));
        g.sample_size(20).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(4));
        g.throughput(Throughput::Elements(N as u64));
        g.bench_function("build_and_evaluate", |b| {
            b.iter(|| {
                for s in &sources {
                    let mut live = build(&engine, s);
                    black_box(live.evaluate().is_ok());
                }
            })
        });

        let mut lives: Vec<LiveActor> = sources.iter().map(|s| build(&engine, s)).collect();
        for l in &mut lives {
            let _ = l.evaluate();
        }
        let ids: Vec<_> = lives.iter_mut().map(|l| l.source(&sources[0][0].name)).collect();
        // Replacement k gives actor i the first source of actor i + 1 + k % 2, so every
        // replacement changes something.
        let mut round = 0usize;
        g.bench_function("replace_source", |b| {
            b.iter(|| {
                round += 1;
                for (i, live) in lives.iter_mut().enumerate() {
                    let with = &sources[(i + 1 + round % 2) % N][0];
                    live.set_source(ids[i], &with.modifiers, &with.caps).unwrap();
                    black_box(live.evaluate().is_ok());
                }
            })
        });

        // One actor, so everything it touches stays in cache.
        g.bench_function("replace_source_in_cache", |b| {
            let live = &mut lives[0];
            b.iter(|| {
                for i in 0..N {
                    let with = &sources[(1 + i % 2) % N][0];
                    live.set_source(ids[0], &with.modifiers, &with.caps).unwrap();
                    black_box(live.evaluate().is_ok());
                }
            })
        });

        let mut twins: Vec<LiveActor> = sources.iter().map(|s| build(&jit, s)).collect();
        jit.evaluate_live(&mut twins);
        let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
        g.bench_function("batch_jit", |b| {
            pool.install(|| {
                b.iter(|| {
                    round += 1;
                    for (i, live) in twins.iter_mut().enumerate() {
                        let with = &sources[(i + 1 + round % 2) % N][0];
                        live.set_source(ids[i], &with.modifiers, &with.caps).unwrap();
                    }
                    black_box(jit.evaluate_live(&mut twins).len())
                })
            })
        });
        g.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(ProcessCpu);
    targets = bench
}
criterion_main!(benches);
