//! Shared by the benchmarks: the standard actor workload ([`workload`], shared with the
//! tests), a generator of realistic `.stat` rule text for the compile benchmarks, and a
//! measurement of process CPU time.
//!
//! Everything is deterministic: the same seed always gives the same actors and rules.
#![allow(dead_code)]

mod workload;

pub use workload::*;

use std::path::{Path, PathBuf};

/// The root of the crate (benches run from there, but do not rely on it).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// This process's resident memory (VmRSS) in kB; 0 where /proc is missing.
pub fn rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// Loads a rule set from a path relative to the crate root; `None` when it does not check.
pub fn load_rules(rel: &str) -> Option<actorc::Rules> {
    match actorc::Rules::load(root().join(rel)) {
        Ok(r) => Some(r),
        Err(e) => {
            eprintln!("note: skipping {rel}: it does not load:\n{e}");
            None
        }
    }
}

// ---------------------------------------------------------------------------------------
// Rule text generator.

const PREFIXES: [&str; 12] =
    ["might", "finesse", "arcana", "vigor", "focus", "resolve", "ward", "haste", "fortune", "insight", "guard", "fury"];

/// The shared header of a generated rule set: buckets, pipelines, layers.
pub const HEADER: &str = "\
// Generated benchmark rule set: buckets, pipelines and cap layers.

/// Flat additions.
bucket FLAT fold sum apply value + x;
/// Percentage deltas: 0.2 means +20 %.
bucket MULT fold delta_product apply value * x;
/// Added after multipliers.
bucket POST_ADD fold sum apply value + x;
/// The first override wins.
bucket OVERRIDE fold first apply x;
/// Raw item factors.
bucket FACTOR fold product apply value * x;
/// A guaranteed floor.
bucket AT_LEAST fold max apply max(value, x);
/// Compounding buffs.
bucket EXPONENTIAL fold each apply value * (1 + x);

pipeline v3 = FLAT, MULT, POST_ADD, OVERRIDE;
pipeline gear = FLAT, FACTOR, MULT, POST_ADD, AT_LEAST, OVERRIDE;
pipeline scaling = FLAT, MULT, EXPONENTIAL, POST_ADD, OVERRIDE;
default pipeline v3;

layers REALM requires realm, WORLD, EVENT, TOTAL
  policy intersect
  unscoped TOTAL;
";

/// Generated rule text: the header plus stats, split into files of at most `max_file`
/// bytes. Stats: about a fifth primaries, a tenth operator stats, the rest derived stats
/// whose formulas read one to three earlier stats.
pub struct GeneratedRules {
    pub files: Vec<(String, String)>,
    pub stats: usize,
    pub bytes: usize,
}

fn stat_decl(rng: &mut Rng, i: usize, names: &[String]) -> String {
    let name = &names[i];
    let mut out = String::new();
    if rng.below(4) == 0 {
        out.push_str(&format!("/// Generated stat number {i}.\n"));
    }
    let pick = |rng: &mut Rng| names[rng.below(i)].clone();
    let r = rng.below(10);
    if i < 8 || r < 2 {
        let default = if rng.below(3) == 0 { format!(" default {}", rng.below(20)) } else { String::new() };
        out.push_str(&format!("primary {name} in 0 .. 999999{default};\n"));
    } else if r == 2 {
        let op = ["max", "sum", "min", "average"][rng.below(4)];
        out.push_str(&format!("derived {name} in 0 .. {} merge {op};\n", 100 * (1 + rng.below(1000))));
    } else {
        let (a, b, c) = (pick(rng), pick(rng), pick(rng));
        let k1 = rng.amount(0.1, 3.0);
        let k2 = rng.amount(0.1, 3.0);
        let formula = match rng.below(6) {
            0 => format!("{a} * {k1} + {b} * {k2}"),
            1 => format!("{a} + {b} * {k1} + {c} * {k2} + {}", rng.below(100)),
            2 => format!("min({a} * {k1}, {}) + sqrt({b})", 100 + rng.below(10_000)),
            3 => format!("if {a} > {} then {b} * {k1} else {c} * {k2}", rng.below(200)),
            4 => format!("clamp({a} / (1 + {b}), 0, {k1}) + {c}"),
            _ => format!("pow({a}, 0.75) * {k1} + ln(1 + {b})"),
        };
        let pipeline = match rng.below(8) {
            0 => "\n  pipeline gear",
            1 => "\n  pipeline scaling",
            _ => "",
        };
        out.push_str(&format!("derived {name} = {formula}\n  in 0 .. 100000000{pipeline};\n"));
    }
    out
}

/// Generates `stats` stats (or, when `stats` is 0, as many as fit in `target_bytes`).
pub fn generate_rules(seed: u64, stats: usize, target_bytes: usize, max_file: usize) -> GeneratedRules {
    let mut rng = Rng::new(seed);
    let limit = if stats > 0 { stats } else { usize::MAX };
    let mut names: Vec<String> = Vec::new();
    let mut files = vec![("00_core.stat".to_string(), HEADER.to_string())];
    let mut current = String::from("// Generated stats.\n\n");
    let mut bytes = HEADER.len() + current.len();
    let mut i = 0;
    while i < limit && (stats > 0 || bytes < target_bytes) {
        names.push(format!("{}_{i}", PREFIXES[i % PREFIXES.len()]));
        let decl = stat_decl(&mut rng, i, &names);
        if current.len() + decl.len() > max_file {
            files.push((format!("{:02}_stats.stat", files.len()), std::mem::take(&mut current)));
        }
        bytes += decl.len();
        current.push_str(&decl);
        i += 1;
    }
    files.push((format!("{:02}_stats.stat", files.len()), current));
    let bytes = files.iter().map(|(_, t)| t.len()).sum();
    GeneratedRules { files, stats: i, bytes }
}

impl GeneratedRules {
    /// Writes the files into a fresh folder under the system temp dir.
    pub fn write(&self, label: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("actorc-bench-{}-{label}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create temp dir");
        for (name, text) in &self.files {
            std::fs::write(dir.join(name), text).expect("write rule file");
        }
        dir
    }
}

/// Removes a folder written by [`GeneratedRules::write`].
pub fn remove(dir: &Path) {
    let _ = std::fs::remove_dir_all(dir);
}

// ---------------------------------------------------------------------------------------
// CPU-time measurement.

/// A criterion measurement of the CPU time the whole process spent running (the sum over
/// its threads of `/proc/self/task/*/schedstat`, in nanoseconds), instead of wall time.
/// On a busy machine, time spent waiting for a core does not count, so single-threaded
/// figures stay close to what an idle machine shows. (For multi-threaded code it is the
/// total work, not the elapsed time.) Linux only; reads 0 elsewhere.
pub struct ProcessCpu;

/// On-CPU nanoseconds of every thread of this process.
pub fn process_cpu_ns() -> u64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else { return 0 };
    tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

static WALL: criterion::measurement::WallTime = criterion::measurement::WallTime;

impl criterion::measurement::Measurement for ProcessCpu {
    type Intermediate = u64;
    type Value = u64;

    fn start(&self) -> u64 {
        process_cpu_ns()
    }

    fn end(&self, start: u64) -> u64 {
        process_cpu_ns().saturating_sub(start)
    }

    fn add(&self, a: &u64, b: &u64) -> u64 {
        a + b
    }

    fn zero(&self) -> u64 {
        0
    }

    fn to_f64(&self, v: &u64) -> f64 {
        *v as f64
    }

    fn formatter(&self) -> &dyn criterion::measurement::ValueFormatter {
        // Nanoseconds, like wall time: reuse its formatting.
        criterion::measurement::Measurement::formatter(&WALL)
    }
}
