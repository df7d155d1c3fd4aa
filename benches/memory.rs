//! Memory figures (a counting allocator, no criterion), printed for docs/performance.md:
//! - heap bytes per prepared actor (`Engine::prepare_batch`) and per JIT layout;
//! - heap bytes per snapshot, and per cached actor (`Cache`) with each [`Keep`];
//! - resident memory (VmRSS) over many hot reloads of the example game rules.
//!
//! Workload: the standard one (100 contributions and 10 caps per actor) over the v3 rules.
//! Run: `cargo bench --bench memory` (`RELOADS=n` sets the number of reloads, default 10,000;
//! `JIT_RELOADS=n` those with the JIT back end, default 1,000).

mod common;

use actorc::cache::{Cache, Keep};
use actorc::load::LoadOptions;
use actorc::reload::{Change, Outcome, Reloader};
use actorc::{Backend, Engine};
use common::{SEED, Workload};
use std::alloc::{GlobalAlloc, Layout, System};
use std::path::PathBuf;
use std::sync::atomic::{AtomicIsize, Ordering};

/// Counts live heap bytes.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards every call to the system allocator unchanged; only counts sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size() as isize, Ordering::Relaxed);
        // SAFETY: same layout contract as our caller's.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size() as isize, Ordering::Relaxed);
        // SAFETY: `p` was allocated by `System` with layout `l`.
        unsafe { System.dealloc(p, l) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn live() -> isize {
    LIVE.load(Ordering::Relaxed)
}

const N: usize = 1_000;

fn per_actor(label: &str, bytes: isize) {
    let per = bytes as f64 / N as f64;
    println!("{label}: {per:.0} bytes per actor ({:.2} MB per 1,000 actors)", per * 1000.0 / 1e6);
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let rules = common::load_rules("rules/actor_core_v3").expect("v3 rules load");
    let actors = Workload::from_ir(&rules.ir).actors(N, SEED);
    let input: isize = {
        let before = live();
        let copy = actors.clone();
        let bytes = live() - before;
        drop(copy);
        bytes
    };
    per_actor("input (Actor values, for scale)", input);

    let interp = Engine::new(&rules, Backend::Interpreter).unwrap();
    let before = live();
    let batch = interp.prepare_batch(&actors);
    per_actor("prepared actor (PreparedBatch)", live() - before);
    let jit = Engine::new(&rules, Backend::Jit).unwrap();
    let before = live();
    let layout = jit.layout(&batch);
    per_actor("JIT layout of a prepared batch", live() - before);
    if let Some([slots, stats, values, caps]) = layout.kernel_bytes() {
        let n = actors.len();
        println!(
            "  of which the kernels read per actor: slot descriptors {}, stat descriptors {}, contributions {}, caps {} bytes",
            slots / n,
            stats / n,
            values / n,
            caps / n
        );
    }
    drop(layout);

    let before = live();
    let snaps: Vec<_> = interp.evaluate_batch(&batch).into_iter().map(|r| r.unwrap()).collect();
    per_actor("snapshot (Snapshot values)", live() - before);
    drop(snaps);
    drop(batch);

    let r = Reloader::new(vec![PathBuf::from("rules/actor_core_v3")], LoadOptions::default(), Backend::Interpreter);
    assert!(matches!(r.reload(), Outcome::Published { .. }));
    let g = r.current().unwrap();
    for (keep, label) in [
        (Keep::Results, "cached actor, Keep::Results (index, key, shared snapshot)"),
        (Keep::Prepared, "cached actor, Keep::Prepared (the same and the prepared form)"),
    ] {
        let mut cache = Cache::keeping(N, keep);
        let before = live();
        for a in &actors {
            cache.evaluate_shared(&g, a).as_ref().as_ref().unwrap();
        }
        per_actor(label, live() - before);
    }

    reloads();
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn reloads() {
    let file = PathBuf::from("rules/rpg/progression.stat");
    let base = std::fs::read_to_string(&file).unwrap();
    let old = "derived persuasion = charisma * 2";
    assert!(base.contains(old));
    for (backend, n) in
        [(Backend::Interpreter, env_usize("RELOADS", 10_000)), (Backend::Jit, env_usize("JIT_RELOADS", 1_000))]
    {
        let r = Reloader::new(vec!["rules/rpg".into()], LoadOptions::default(), backend);
        assert!(matches!(r.reload(), Outcome::Published { .. }));
        let mut marks = Vec::new();
        let start = std::time::Instant::now();
        for k in 0..n {
            let text = base.replace(old, &format!("derived persuasion = charisma * {}", k % 7 + 1));
            assert!(matches!(r.apply(Change::Write { path: file.clone(), text }), Outcome::Published { .. }));
            if k == 0 || (k + 1) % (n / 4).max(1) == 0 {
                marks.push((k + 1, common::rss_kb(), live() / 1024));
            }
        }
        println!(
            "{backend:?}: {n} reloads in {:.1} s; (reloads, VmRSS kB, live heap kB): {marks:?}",
            start.elapsed().as_secs_f64()
        );
    }
}
