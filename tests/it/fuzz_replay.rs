//! Replays the fuzz corpus (`fuzz/corpus/<target>/`) and every input that ever failed
//! (`fuzz/regressions/<target>/`) through the fuzz targets' own checks, without libFuzzer.
//!
//! Every regression file is replayed. A corpus larger than `ACTORC_FUZZ_REPLAY_MAX` files per
//! target (default 2000; 0 means all) is sampled evenly, so the test stays fast in a debug
//! build. The whole committed corpus (about 2,300 files) replays in about 11 s.

use crate::fuzz_logic;
use std::path::{Path, PathBuf};

fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut out: Vec<PathBuf> = entries.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.is_file()).collect();
    out.sort();
    out
}

fn replay(target: &str, check: fn(&[u8])) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let max: usize = std::env::var("ACTORC_FUZZ_REPLAY_MAX").ok().and_then(|v| v.parse().ok()).unwrap_or(2000);
    let corpus = files(&root.join("corpus").join(target));
    assert!(!corpus.is_empty(), "fuzz/corpus/{target} is empty");
    let step = if max == 0 { 1 } else { corpus.len().div_ceil(max) };
    let sampled = corpus.iter().step_by(step.max(1));
    let regressions = files(&root.join("regressions").join(target));
    for path in sampled.chain(&regressions) {
        let data = std::fs::read(path).unwrap();
        if let Err(e) = std::panic::catch_unwind(|| check(&data)) {
            let why = e.downcast_ref::<String>().cloned().or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()));
            panic!("{target}: {} fails: {}", path.display(), why.unwrap_or_default());
        }
    }
}

#[test]
fn rule_text() {
    replay("rule_text", fuzz_logic::rule_text);
}

#[test]
fn differential() {
    replay("differential", fuzz_logic::differential);
}

#[test]
fn actor_input() {
    replay("actor_input", fuzz_logic::actor_input);
}
