//! End-to-end determinism: `actorc run` on a few thousand generated actors writes
//! byte-identical NDJSON across repeated runs, thread counts, engines, and with the result
//! cache on and off.

use crate::run::actorc;
use std::fmt::Write;

/// A deterministic batch over the example game: every bucket and cap mode, some bad actors.
pub fn generated_ndjson(n: usize, seed: u64) -> String {
    let mut rng = seed | 1;
    let mut next = move |m: u64| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng % m
    };
    let stats = [
        ("strength", &["FLAT", "MULT", "POST_ADD", "OVERRIDE"][..]),
        ("vitality", &["FLAT", "MULT", "POST_ADD", "OVERRIDE"][..]),
        ("dexterity", &["FLAT", "MULT", "POST_ADD"][..]),
        ("hp_max", &["FLAT", "MULT", "POST_ADD", "OVERRIDE"][..]),
        ("crit_rate", &["FLAT", "OVERRIDE"][..]),
        ("max_health", &["FLAT", "MULT", "EXPONENTIAL", "CONDITIONAL", "POST_ADD"][..]),
        ("lifespan_years", &["FLAT"][..]),
        ("fire_resist", &["FLAT"][..]),
        ("morale", &["FLAT"][..]),
    ];
    let systems = ["race", "class", "items", "buffs", "talents", "zone", "guild", "event"];
    let caps =
        [("BASELINE", "max"), ("ADDITIVE", "max"), ("OVERRIDE", "max"), ("HARD_MAX", "max"), ("HARD_MIN", "min")];
    let scopes = ["WORLD", "EVENT", "TOTAL"];
    let mut out = String::new();
    for i in 0..n {
        let _ = write!(out, r#"{{"id":"a{i}","version":{},"subsystems":["#, 1 + next(3));
        for s in 0..3 {
            if s > 0 {
                out.push(',');
            }
            out.push_str(r#"{"primary":["#);
            for c in 0..(4 + next(6)) {
                let (stat, buckets) = stats[next(stats.len() as u64) as usize];
                let bucket = buckets[next(buckets.len() as u64) as usize];
                let value = match bucket {
                    "MULT" | "EXPONENTIAL" => (next(50) as f64) / 100.0,
                    _ => (next(2000) as f64) / 10.0 - 20.0,
                };
                let sep = if c > 0 { "," } else { "" };
                let _ = write!(
                    out,
                    r#"{sep}{{"dimension":"{stat}","bucket":"{bucket}","value":{value},"system":"{}","priority":{}}}"#,
                    systems[next(8) as usize],
                    next(11)
                );
            }
            out.push_str(r#"],"derived":[],"caps":["#);
            for c in 0..next(3) {
                let (stat, _) = stats[next(4) as usize];
                let (mode, kind) = caps[next(caps.len() as u64) as usize];
                let sep = if c > 0 { "," } else { "" };
                let _ = write!(
                    out,
                    r#"{sep}{{"system":"{}","dimension":"{stat}","mode":"{mode}","kind":"{kind}","value":{},"scope":"{}"}}"#,
                    systems[next(8) as usize],
                    next(500),
                    scopes[next(3) as usize]
                );
            }
            let _ = write!(out, r#"],"meta":{{"system":"{}"}}}}"#, systems[s]);
        }
        out.push_str("]}\n");
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
    assert!(reference.lines().filter(|l| l.contains("\"error\"")).count() >= 3);
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
    for engine in ["interp", "jit"] {
        for threads in ["1", "2"] {
            let out = run(&twice, &["--engine", engine, "--threads", threads, "--stats"]);
            assert!(
                out.stdout == format!("{reference}{reference}"),
                "output differs with the cache, {engine}, {threads}"
            );
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
