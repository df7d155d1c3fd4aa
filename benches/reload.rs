//! Hot reload and cache benchmarks (a custom timing loop printing medians, no criterion):
//! - reload latency: file write → new generation published, through the real watcher
//!   (the quiet period included), on a temporary copy of rules/rpg + rules/actor_core_v3;
//! - cost of a cache hit;
//! - incremental versus full re-evaluation of 100,000 cached actors after a one-stat rule
//!   change;
//! - resident memory (VmRSS) over 1,000 reloads.
//!
//! Run: `cargo bench --bench reload`.

mod common;

use actorc::cache::{Cache, KeyedActor};
use actorc::load::LoadOptions;
use actorc::reload::{Change, Outcome, Reloader, WatchTiming, watch};
use actorc::{Actor, Backend};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

const FILE: &str = "progression.stat";
const OLD: &str = "derived persuasion = charisma * 2";

fn party() -> Vec<Actor> {
    std::fs::read_to_string("examples/party.ndjson")
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn temp_rules() -> PathBuf {
    let base = std::env::temp_dir().join(format!("actorc-bench-reload-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    for set in ["rpg", "actor_core_v3"] {
        std::fs::create_dir_all(base.join(set)).unwrap();
        for f in std::fs::read_dir(Path::new("rules").join(set)).unwrap() {
            let f = f.unwrap().path();
            // The rule files only (rules/rpg/tests/ holds balance tests).
            if f.extension().is_none_or(|e| e != "stat") {
                continue;
            }
            std::fs::copy(&f, base.join(set).join(f.file_name().unwrap())).unwrap();
        }
    }
    base.join("rpg")
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn reload_latency() {
    let dir = temp_rules();
    let r = Arc::new(Reloader::new(vec![dir.clone()], LoadOptions::default(), Backend::Interpreter));
    assert!(matches!(r.reload(), Outcome::Published { .. }));
    let _w = watch(r.clone(), WatchTiming::default(), |_| {}).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let file = dir.join(FILE);
    let base = std::fs::read_to_string(&file).unwrap();
    let mut times = Vec::new();
    for k in 0..30 {
        let before = r.current().unwrap().number;
        let text = base.replace(OLD, &format!("derived persuasion = charisma * {}", 3 + k));
        let start = Instant::now();
        std::fs::write(&file, text).unwrap();
        while r.current().unwrap().number == before {
            std::thread::sleep(Duration::from_micros(200));
            assert!(start.elapsed() < Duration::from_secs(5), "no reload");
        }
        times.push(start.elapsed().as_secs_f64() * 1e3);
        std::thread::sleep(Duration::from_millis(150));
    }
    println!(
        "reload latency (write → published, quiet period 50 ms): median {:.1} ms, max {:.1} ms",
        median(times.clone()),
        times.iter().cloned().fold(0.0, f64::max)
    );
    let _ = std::fs::remove_dir_all(dir.parent().unwrap());
}

fn many(n: usize) -> Vec<Actor> {
    let party = party();
    (0..n)
        .map(|i| {
            let mut a = party[i % party.len()].clone();
            a.id = Some(format!("actor{i}"));
            if let Some(c) = a.subsystems.first_mut().and_then(|s| s.primary.first_mut()) {
                c.value += (i % 97) as f64;
            }
            a
        })
        .collect()
}

/// Cache hits on the example party (rpg) and on the standard workload (v3, 100
/// contributions and 10 caps per actor).
fn cache_hits() {
    cache_hit("party (rpg)", "rules/rpg", many(64));
    let rules = common::load_rules("rules/actor_core_v3").unwrap();
    let mut standard = common::Workload::from_ir(&rules.ir).actors(64, common::SEED);
    for (i, a) in standard.iter_mut().enumerate() {
        a.id = Some(format!("actor{i}"));
    }
    cache_hit("standard workload (v3)", "rules/actor_core_v3", standard);
}

fn cache_hit(label: &str, rules: &str, actors: Vec<Actor>) {
    let r = Reloader::new(vec![rules.into()], LoadOptions::default(), Backend::Interpreter);
    r.reload();
    let g = r.current().unwrap();
    let mut cache = Cache::new(1024);
    for a in &actors {
        let _ = cache.evaluate(&g, a);
    }
    let rounds = 200_000;
    let start = Instant::now();
    for i in 0..rounds {
        std::hint::black_box(cache.evaluate_shared(&g, &actors[i % actors.len()]));
    }
    let per = start.elapsed().as_nanos() as f64 / rounds as f64;
    let start = Instant::now();
    for i in 0..rounds {
        std::hint::black_box(cache.evaluate(&g, &actors[i % actors.len()]).ok());
    }
    let owned = start.elapsed().as_nanos() as f64 / rounds as f64;
    let keyed: Vec<KeyedActor> = actors.iter().cloned().map(KeyedActor::new).collect();
    let start = Instant::now();
    for i in 0..rounds {
        std::hint::black_box(cache.evaluate_keyed(&g, &keyed[i % keyed.len()]));
    }
    let per_keyed = start.elapsed().as_nanos() as f64 / rounds as f64;
    let start = Instant::now();
    for i in 0..rounds / 10 {
        std::hint::black_box(g.engine.evaluate(&actors[i % actors.len()]).ok());
    }
    let fresh = start.elapsed().as_nanos() as f64 / (rounds / 10) as f64;
    let contributions: usize =
        actors.iter().flat_map(|a| &a.subsystems).map(|s| s.primary.len() + s.derived.len() + s.caps.len()).sum();
    println!(
        "cache hit, {label}: {per_keyed:.0} ns per KeyedActor (hash carried), {per:.0} ns per Actor (input hashed), \
         {owned:.0} ns with an owned copy (fresh evaluation: {fresh:.0} ns; \
         {:.0} contributions and caps per actor); {:?}",
        contributions as f64 / actors.len() as f64,
        cache.stats()
    );
}

fn incremental_vs_full() {
    let file = PathBuf::from("rules/rpg").join(FILE);
    let text = std::fs::read_to_string(&file).unwrap().replace(OLD, "derived persuasion = charisma * 3");
    let r = Reloader::new(vec!["rules/rpg".into()], LoadOptions::default(), Backend::Interpreter);
    r.reload();
    let g1 = r.current().unwrap();
    let actors = many(100_000);
    let mut cache = Cache::new(100_000);
    for a in &actors {
        let _ = cache.evaluate(&g1, a);
    }
    assert!(matches!(r.apply(Change::Write { path: file, text }), Outcome::Published { .. }));
    let g2 = r.current().unwrap();
    let start = Instant::now();
    for a in &actors {
        std::hint::black_box(g2.engine.evaluate(a).ok());
    }
    let full = start.elapsed();
    let before = cache.stats();
    let start = Instant::now();
    for a in &actors {
        std::hint::black_box(cache.evaluate(&g2, a).ok());
    }
    let inc = start.elapsed();
    let s = cache.stats();
    // The same change once more, brought in by `Cache::refresh` (no input is read), then
    // looked up (hits).
    let text = std::fs::read_to_string(PathBuf::from("rules/rpg").join(FILE))
        .unwrap()
        .replace(OLD, "derived persuasion = charisma * 4");
    assert!(matches!(
        r.apply(Change::Write { path: PathBuf::from("rules/rpg").join(FILE), text }),
        Outcome::Published { .. }
    ));
    let g3 = r.current().unwrap();
    let start = Instant::now();
    let refreshed = cache.refresh(&g3);
    let refresh = start.elapsed();
    let start = Instant::now();
    for a in &actors {
        std::hint::black_box(cache.evaluate_shared(&g3, a));
    }
    let lookups = start.elapsed();
    println!(
        "100,000 actors after a one-stat change (1 thread): full {:.0} ms, incremental {:.0} ms ({:.1} %), {} incremental, {} dirty stats",
        full.as_secs_f64() * 1e3,
        inc.as_secs_f64() * 1e3,
        100.0 * inc.as_secs_f64() / full.as_secs_f64(),
        s.incremental - before.incremental,
        s.dirty_stats - before.dirty_stats
    );
    println!(
        "  the same after `Cache::refresh`: refresh {:.0} ms ({:.1} % of full, {refreshed} actors), then 100,000 lookups {:.0} ms",
        refresh.as_secs_f64() * 1e3,
        100.0 * refresh.as_secs_f64() / full.as_secs_f64(),
        lookups.as_secs_f64() * 1e3
    );
}

fn memory_over_reloads() {
    let file = PathBuf::from("rules/rpg").join(FILE);
    let base = std::fs::read_to_string(&file).unwrap();
    for backend in [Backend::Interpreter, Backend::Jit] {
        let r = Reloader::new(vec!["rules/rpg".into()], LoadOptions::default(), backend);
        if !matches!(r.reload(), Outcome::Published { .. }) {
            println!("{backend:?}: rules do not build, skipped");
            continue;
        }
        let mut marks = Vec::new();
        for k in 0..1000 {
            let text = base.replace(OLD, &format!("derived persuasion = charisma * {}", k % 7 + 1));
            r.apply(Change::Write { path: file.clone(), text });
            if k % 250 == 0 || k == 999 {
                marks.push((k + 1, common::rss_kb()));
            }
        }
        println!("{backend:?} VmRSS over 1,000 reloads (reload → kB): {marks:?}");
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    if std::env::var_os("SKIP_LATENCY").is_none() {
        reload_latency();
    }
    cache_hits();
    incremental_vs_full();
    if std::env::var_os("SKIP_MEMORY").is_none() {
        memory_over_reloads();
    }
}
