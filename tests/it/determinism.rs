//! End-to-end determinism: `actorc run` on a few thousand generated actors writes
//! byte-identical NDJSON across repeated runs, thread counts, engines, and with the result
//! cache on and off.

use crate::common::actorc;
use crate::workload::{Rng, Workload};

/// A deterministic batch over the example game from the shared workload (3 subsystems, 20
/// contributions and 3 caps per actor), with a broken actor now and then (3 in 3,000).
pub fn generated_ndjson(n: usize, seed: u64) -> String {
    let rules = actorc::Rules::load("rules/rpg").unwrap();
    let workload = Workload::from_ir(&rules.ir).sized(3, 20, 3);
    let mut rng = Rng::new(seed);
    let mut out = String::new();
    for i in 0..n {
        out.push_str(&serde_json::to_string(&workload.actor(&mut rng, i)).unwrap());
        out.push('\n');
        if i % 997 == 13 {
            out.push_str("{\"id\":\"broken\",\"subsystems\":[{\"primary\":[{\"dimension\":\"nope\",\"bucket\":\"FLAT\",\"value\":1,\"system\":\"x\"}]}]}\n");
        }
    }
    out
}

#[test]
fn ndjson_output_is_byte_identical() {
    let input = generated_ndjson(3000, 7);
    let run = |input: &str, extra: &[&str]| {
        let mut args = vec!["run", "rules/rpg", "--input", "-", "--quiet"];
        args.extend_from_slice(extra);
        let out = actorc(&args, input);
        assert_eq!(out.code, 1, "the batch holds broken actors: {}", out.stderr);
        out
    };
    let reference = run(&input, &["--engine", "interp", "--threads", "1"]).stdout;
    assert_eq!(reference.lines().count(), 3000 + 3, "three broken actors are inserted");
    let errors = reference.lines().filter(|l| l.contains("\"error\"")).count();
    // Mostly good actors: the workload names only stats contributions may name.
    assert!((3..300).contains(&errors), "{errors} errors");
    for extra in [
        &["--engine", "interp"][..],
        &["--engine", "interp", "--threads", "1"],
        &["--engine", "interp", "--threads", "2"],
        &["--engine", "jit", "--threads", "1"],
        &["--engine", "jit"],
        &["--engine", "jit", "--threads", "2"],
    ] {
        assert!(run(&input, extra).stdout == reference, "output differs with {extra:?}");
    }
    // With the result cache (`--stats`): the batch twice, so the second half is served from it.
    let twice = format!("{input}{input}");
    // Input errors name their lines, so the second half's differ from the first's.
    let reference = run(&twice, &["--engine", "interp", "--threads", "1"]).stdout;
    for engine in ["interp", "jit"] {
        for threads in ["1", "2"] {
            let out = run(&twice, &["--engine", engine, "--threads", threads, "--stats"]);
            assert!(out.stdout == reference, "output differs with the cache, {engine}, {threads}");
            let hits: u64 =
                out.stderr.split("cache: ").nth(1).and_then(|s| s.split(' ').next()).unwrap().parse().unwrap();
            assert!(hits >= 2900, "the second half hits: {}", out.stderr);
        }
    }
    // Values only: the same bytes with either engine and any thread count.
    let values = ["--values", "max_health,hp_max,strength,fire_resist,crit_chance"];
    let reference = run(&input, &[&values[..], &["--engine", "interp", "--threads", "1"]].concat()).stdout;
    assert_eq!(reference.lines().count(), 3000 + 3);
    for engine in ["interp", "jit"] {
        for threads in ["1", "2"] {
            let out = run(&input, &[&values[..], &["--engine", engine, "--threads", threads]].concat());
            assert!(out.stdout == reference, "values differ with {engine}, {threads} threads");
        }
    }
}
