//! Editor latency: what `actorc lsp` does after a keystroke in the example game (`rules/rpg`,
//! with the sample actor of `actorc.toml`), through the transport-free `ide::Workspace`.
//!
//! - `lsp/edit_and_diagnostics`: one edit of `combat.stat` (load, parse, check, lower, and
//!   evaluate the sample actor for every file of the rule set), then every file's diagnostics.
//! - `lsp/inlay_hints`: the values shown after each stat of `combat.stat`.
//! - `lsp/hover_stat`: a stat's hover with the first lines of `explain`.
//!
//! Before criterion runs, the medians over 100 edits are printed (goal: ≤ 50 ms).
//!
//! Run: `cargo bench --bench lsp`.

use actorc::ide::{Project, Workspace};
use criterion::{Criterion, criterion_group};
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn setup() -> (Workspace, PathBuf, [String; 2]) {
    let project = Project::read(Path::new("actorc.toml")).expect("the repository's actorc.toml");
    let mut ws = Workspace::new(Some(project));
    let path = PathBuf::from("rules/rpg/combat.stat");
    let text = std::fs::read_to_string(&path).expect("combat.stat");
    // Two texts, so every edit changes something (a formula's constant).
    let edited = text.replacen("strength * 2", "strength * 3", 1);
    ws.set_text(&path, text.clone());
    assert!(ws.diagnostics().iter().all(|(_, p)| p.is_empty()), "the example game checks clean");
    assert!(!ws.inlay_hints(&path).is_empty(), "the sample actor has values");
    (ws, path, [text, edited])
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// The medians over 100 edits, printed (criterion reports means and intervals).
fn medians() {
    let (mut ws, path, texts) = setup();
    let (mut edit, mut hints) = (Vec::new(), Vec::new());
    for i in 0..100 {
        let t = Instant::now();
        ws.set_text(&path, texts[i % 2].clone());
        black_box(ws.diagnostics());
        edit.push(t.elapsed());
        let t = Instant::now();
        black_box(ws.inlay_hints(&path));
        hints.push(t.elapsed());
    }
    eprintln!("median over 100 edits: edit + diagnostics {:?}, inlay hints {:?}", median(edit), median(hints));
}

fn bench(c: &mut Criterion) {
    medians();
    let (mut ws, path, texts) = setup();
    let mut g = c.benchmark_group("lsp");
    let mut i = 0;
    g.bench_function("edit_and_diagnostics", |b| {
        b.iter(|| {
            i += 1;
            ws.set_text(&path, texts[i % 2].clone());
            black_box(ws.diagnostics())
        })
    });
    g.bench_function("inlay_hints", |b| b.iter(|| black_box(ws.inlay_hints(&path))));
    let at = texts[i % 2].find("physical_attack =").expect("a stat");
    g.bench_function("hover_stat", |b| b.iter(|| black_box(ws.hover(&path, at))));
    g.finish();
}

criterion_group!(benches, bench);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
