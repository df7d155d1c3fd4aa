//! Shared by the benchmarks: a seeded PRNG, the standard actor workload (generated from
//! whatever stats, buckets and cap layers a loaded rule set declares) and a generator of
//! realistic `.stat` rule text for the compile benchmarks.
//!
//! Everything is deterministic: the same seed always gives the same actors and rules.
#![allow(dead_code)]

use actorc::input::{Actor, CapContribution, Contribution, Meta, SubsystemOutput};
use actorc::ir::{Fold, Ir, Mode, Operator};
use actorc::syntax::Category;
use std::path::{Path, PathBuf};

/// The standard workload: 10,000 actors × 5 subsystems, 100 contributions and 10 caps each.
pub const ACTORS: usize = 10_000;
pub const SUBSYSTEMS: usize = 5;
pub const CONTRIBUTIONS: usize = 100;
pub const CAPS: usize = 10;
pub const SEED: u64 = 0x5eed_2026;

/// The eight systems that contribute (game subsystems).
pub const SYSTEMS: [&str; 8] = ["race", "class", "equipment", "talents", "buffs", "guild", "mount", "world_event"];

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

/// xorshift64*: small, fast and good enough for test data.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [lo, hi).
    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }

    /// Uniform in 0..n.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// Values rounded to 1/1000 look like game data (and print short in JSON).
    pub fn amount(&mut self, lo: f64, hi: f64) -> f64 {
        (self.range(lo, hi) * 1000.0).round() / 1000.0
    }
}

/// How to generate contributions for one bucket of a stat's pipeline.
#[derive(Debug, Clone)]
struct BucketPlan {
    name: String,
    fold: Fold,
    /// Share of this stat's contributions.
    weight: f64,
}

#[derive(Debug, Clone)]
struct StatPlan {
    name: String,
    primary: bool,
    operator: Option<Operator>,
    buckets: Vec<BucketPlan>,
    /// Typical size of one contribution, from the stat's range.
    scale: f64,
}

/// The standard workload over one rule set: dimensions come from `ir.stats`, buckets from
/// each stat's pipeline, cap scopes from `ir.layers`.
#[derive(Debug, Clone)]
pub struct Workload {
    stats: Vec<StatPlan>,
    /// (name, requires realm)
    layers: Vec<(String, bool)>,
    unscoped: bool,
    /// A bucket name for operator stats (any existing name is accepted).
    any_bucket: String,
}

/// The v3 mix: about half FLAT, a quarter MULT, a fifth POST_ADD, the rest OVERRIDE.
fn standard_weight(name: &str) -> Option<f64> {
    match name {
        "FLAT" => Some(0.50),
        "MULT" => Some(0.25),
        "POST_ADD" => Some(0.20),
        "OVERRIDE" => Some(0.05),
        _ => None,
    }
}

/// Share of contributions that go to buckets outside the v3 four (RPG-style extras).
const EXTRA_SHARE: f64 = 0.15;

impl Workload {
    pub fn from_ir(ir: &Ir) -> Workload {
        let mut stats = Vec::new();
        let zeros = vec![0.0; ir.stats.len()];
        let mut buf = vec![0.0; ir.nodes.len()];
        for stat in &ir.stats {
            // Typical contribution size: a tenth of the upper bound, at most 100.
            let hi = stat.max.map(|e| actorc::eval::eval_expr(ir, e, &zeros, 0.0, 0.0, &mut buf));
            let scale = match hi {
                Some(h) if h.is_finite() && h > 0.0 => h.min(1000.0) * 0.1,
                _ => 100.0,
            };
            let (operator, buckets) = match stat.mode {
                Mode::Operator(op) => (Some(op), Vec::new()),
                Mode::Pipeline(p) => {
                    let names: Vec<(String, Fold)> = ir
                        .pipeline(p)
                        .buckets
                        .iter()
                        .map(|&b| (ir.bucket(b).name.clone(), ir.bucket(b).fold))
                        .collect();
                    let std_total: f64 = names.iter().filter_map(|(n, _)| standard_weight(n)).sum();
                    let extras = names.iter().filter(|(n, _)| standard_weight(n).is_none()).count();
                    let extra_share = if extras == 0 {
                        0.0
                    } else if std_total == 0.0 {
                        1.0
                    } else {
                        EXTRA_SHARE
                    };
                    let buckets = names
                        .into_iter()
                        .map(|(name, fold)| {
                            let weight = match standard_weight(&name) {
                                Some(w) => (1.0 - extra_share) * w / std_total,
                                None => extra_share / extras as f64,
                            };
                            BucketPlan { name, fold, weight }
                        })
                        .collect();
                    (None, buckets)
                }
            };
            stats.push(StatPlan {
                name: stat.name.clone(),
                primary: stat.category == Category::Primary,
                operator,
                buckets,
                scale,
            });
        }
        let layers = ir.layers.iter().map(|l| (l.name.clone(), l.requires_realm)).collect();
        let any_bucket = ir.buckets.iter().find(|b| b.name == "FLAT").unwrap_or(&ir.buckets[0]).name.clone();
        Workload { stats, layers, unscoped: ir.unscoped.is_some(), any_bucket }
    }

    fn contribution(&self, rng: &mut Rng) -> (usize, Contribution) {
        let s = rng.below(self.stats.len());
        let plan = &self.stats[s];
        let scale = plan.scale;
        let (bucket, value) = match plan.operator {
            Some(op) => {
                let v = match op {
                    Operator::Multiply => rng.amount(0.8, 1.5),
                    _ => rng.amount(0.05 * scale, scale),
                };
                (self.any_bucket.clone(), v)
            }
            None => {
                let mut r = rng.unit();
                let mut pick = &plan.buckets[plan.buckets.len() - 1];
                for b in &plan.buckets {
                    if r < b.weight {
                        pick = b;
                        break;
                    }
                    r -= b.weight;
                }
                let v = match (pick.name.as_str(), pick.fold) {
                    ("FLAT", _) => rng.amount(0.1 * scale, scale),
                    ("POST_ADD", _) => rng.amount(0.0, 0.2 * scale),
                    (_, Fold::DeltaProduct) => rng.amount(-0.1, 0.3),
                    (_, Fold::Product) => rng.amount(0.9, 1.2),
                    // `fold each` buckets (compounding, logarithmic, conditional): small deltas.
                    (_, Fold::Each) => rng.amount(0.01, 0.1),
                    (_, Fold::First | Fold::Min | Fold::Max) => rng.amount(0.2 * scale, scale),
                    (_, Fold::Sum) => rng.amount(0.0, 0.2 * scale),
                };
                (pick.name.clone(), v)
            }
        };
        let c = Contribution {
            dimension: plan.name.as_str().into(),
            bucket: bucket.into(),
            value,
            system: SYSTEMS[rng.below(SYSTEMS.len())].into(),
            priority: Some(rng.below(11) as i64),
        };
        (s, c)
    }

    fn cap(&self, rng: &mut Rng) -> CapContribution {
        let plan = &self.stats[rng.below(self.stats.len())];
        let scale = plan.scale;
        const MODES: [&str; 5] = ["BASELINE", "ADDITIVE", "OVERRIDE", "HARD_MAX", "HARD_MIN"];
        let mode = MODES[rng.below(MODES.len())];
        let is_max = match mode {
            "HARD_MAX" => true,
            "HARD_MIN" => false,
            _ => rng.below(2) == 0,
        };
        let value = match (is_max, mode) {
            (true, "ADDITIVE") => rng.amount(0.0, 2.0 * scale),
            (true, _) => rng.amount(5.0 * scale, 20.0 * scale),
            (false, "ADDITIVE") => rng.amount(0.0, 0.2 * scale),
            (false, _) => rng.amount(0.0, 0.5 * scale),
        };
        // A cap without scope goes to the unscoped layer (TOTAL in v3).
        let choices = self.layers.len() + usize::from(self.unscoped);
        let pick = rng.below(choices);
        let (scope, realm) = match self.layers.get(pick) {
            Some((name, requires_realm)) => {
                (Some(name.as_str().into()), requires_realm.then(|| ["azure", "crimson", "jade"][rng.below(3)].into()))
            }
            None => (None, None),
        };
        CapContribution {
            system: SYSTEMS[rng.below(SYSTEMS.len())].into(),
            dimension: plan.name.as_str().into(),
            mode: mode.into(),
            kind: if is_max { "max" } else { "min" }.into(),
            value,
            priority: Some(rng.below(11) as i64),
            scope,
            realm,
            tags: None,
        }
    }

    /// One actor of the standard workload.
    pub fn actor(&self, rng: &mut Rng, index: usize) -> Actor {
        let mut subsystems: Vec<SubsystemOutput> = (0..SUBSYSTEMS)
            .map(|i| SubsystemOutput {
                meta: Meta { system: SYSTEMS[i].into(), stage: None, version: None },
                ..SubsystemOutput::default()
            })
            .collect();
        for _ in 0..CONTRIBUTIONS {
            let (s, c) = self.contribution(rng);
            let sub = &mut subsystems[rng.below(SUBSYSTEMS)];
            if self.stats[s].primary { sub.primary.push(c) } else { sub.derived.push(c) }
        }
        for _ in 0..CAPS {
            let c = self.cap(rng);
            subsystems[rng.below(SUBSYSTEMS)].caps.push(c);
        }
        Actor { id: Some(format!("actor-{index:06}")), version: 1, subsystems }
    }

    /// `n` actors from `seed`.
    pub fn actors(&self, n: usize, seed: u64) -> Vec<Actor> {
        let mut rng = Rng::new(seed);
        (0..n).map(|i| self.actor(&mut rng, i)).collect()
    }
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
