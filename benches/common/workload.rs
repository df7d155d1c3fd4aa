//! The standard actor workload, generated from whatever stats, buckets and cap layers a
//! loaded rule set declares, and the seeded PRNG behind it. Deterministic: the same seed
//! always gives the same actors. [`Workload::situated`] makes it the tagged workload, for a
//! rule set with tags and stacking groups.
//!
//! The one workload generator: the benchmarks use it through `benches/common/mod.rs`, the
//! integration tests include this file (`#[path]`) from `tests/it/main.rs`.
// Each benchmark and the tests use a different part.
#![allow(dead_code)]

use actorc::input::{Actor, CapContribution, Contribution, KeyedStack, Meta, Name, Stack, SubsystemOutput};
use actorc::ir::{Fold, Ir, Mode, Operator};
use actorc::syntax::Category;

/// The standard workload: 10,000 actors × 5 subsystems, 100 contributions and 10 caps each.
pub const ACTORS: usize = 10_000;
pub const SUBSYSTEMS: usize = 5;
pub const CONTRIBUTIONS: usize = 100;
pub const CAPS: usize = 10;
pub const SEED: u64 = 0x5eed_2026;

/// The eight systems that contribute (game subsystems).
pub const SYSTEMS: [&str; 8] = ["race", "class", "equipment", "talents", "buffs", "guild", "mount", "world_event"];

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

/// The standard workload over one rule set: dimensions come from `ir.stats` (views aside:
/// input names their sources), buckets from each stat's pipeline, cap scopes from
/// `ir.layers`.
#[derive(Debug, Clone)]
pub struct Workload {
    stats: Vec<StatPlan>,
    /// (name, requires realm)
    layers: Vec<(String, bool)>,
    unscoped: bool,
    /// A bucket name for operator stats (any existing name is accepted).
    any_bucket: String,
    /// Per actor: subsystems, contributions and caps.
    subsystems: usize,
    contributions: usize,
    caps: usize,
    /// The tagged workload's tags, groups and stacking groups.
    situations: Option<Situations>,
}

/// Share of the tagged workload's contributions (and caps) with 1–3 requirements.
pub const REQUIRING: f64 = 0.20;
/// Share of its contributions with a stack.
pub const STACKED: f64 = 0.10;

/// What the tagged workload draws its situations from.
#[derive(Debug, Clone)]
struct Situations {
    tags: Vec<String>,
    /// Tags, then groups.
    labels: Vec<String>,
    stacks: Vec<String>,
}

impl Situations {
    /// 1–3 requirements for [`REQUIRING`] of the calls, a quarter of them negated.
    fn requires(&self, rng: &mut Rng) -> Vec<Name> {
        if rng.unit() >= REQUIRING {
            return Vec::new();
        }
        let mut out: Vec<Name> = Vec::new();
        for _ in 0..1 + rng.below(3) {
            let label = self.labels[rng.below(self.labels.len())].as_str();
            // A tag and its negation never both: one of them never holds.
            if out.iter().any(|r| r.trim_start_matches('!') == label) {
                continue;
            }
            out.push(if rng.below(4) == 0 { format!("!{label}").into() } else { label.into() });
        }
        out
    }

    /// A stack for [`STACKED`] of the calls, half of them with one of two keys.
    fn stack(&self, rng: &mut Rng) -> Option<Box<Stack>> {
        if self.stacks.is_empty() || rng.unit() >= STACKED {
            return None;
        }
        let group: Name = self.stacks[rng.below(self.stacks.len())].as_str().into();
        Some(Box::new(match rng.below(4) {
            0 | 1 => Stack::Group(group),
            k => Stack::Keyed(KeyedStack { group, key: ["might", "haste"][k - 2].into() }),
        }))
    }

    /// An actor's situation: 0–3 tags.
    fn tags(&self, rng: &mut Rng) -> Vec<Name> {
        let mut out: Vec<Name> = Vec::new();
        for _ in 0..rng.below(4) {
            let tag: Name = self.tags[rng.below(self.tags.len())].as_str().into();
            if !out.contains(&tag) {
                out.push(tag);
            }
        }
        out
    }
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
        // A view takes its source's contributions; none names it.
        for stat in ir.stats.iter().filter(|s| s.view.is_none()) {
            // Typical contribution size: a tenth of a constant upper bound, at most 100.
            let hi = stat.max.and_then(|e| ir.constant(e));
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
        Workload {
            stats,
            layers,
            unscoped: ir.unscoped.is_some(),
            any_bucket,
            subsystems: SUBSYSTEMS,
            contributions: CONTRIBUTIONS,
            caps: CAPS,
            situations: None,
        }
    }

    /// The tagged workload of a rule set with tags (and maybe tag groups and stacking
    /// groups): the same actors, each in a situation of 0–3 tags, [`REQUIRING`] of their
    /// contributions and caps requiring 1–3 tags or groups (a quarter of them negated), and
    /// [`STACKED`] of the contributions with a stack, half of them with one of two keys.
    /// What decides these is drawn apart, so the contributions and caps stay as they are.
    pub fn situated(self, ir: &Ir) -> Workload {
        assert!(!ir.tags.is_empty(), "a tagged workload needs tags");
        let tags: Vec<String> = ir.tags.iter().map(|t| t.name.clone()).collect();
        let labels = tags.iter().cloned().chain(ir.tag_groups.iter().map(|g| g.name.clone())).collect();
        let stacks = ir.stacks.iter().map(|s| s.name.clone()).collect();
        Workload { situations: Some(Situations { tags, labels, stacks }), ..self }
    }

    /// Smaller (or larger) actors than the standard ones: `subsystems` (at most 8),
    /// `contributions` and `caps` per actor.
    pub fn sized(self, subsystems: usize, contributions: usize, caps: usize) -> Workload {
        assert!((1..=SYSTEMS.len()).contains(&subsystems), "1 to {} subsystems", SYSTEMS.len());
        Workload { subsystems, contributions, caps, ..self }
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
            ..Contribution::default()
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
            ..CapContribution::default()
        }
    }

    /// One actor of the workload.
    pub fn actor(&self, rng: &mut Rng, index: usize) -> Actor {
        let mut subsystems: Vec<SubsystemOutput> = (0..self.subsystems)
            .map(|i| SubsystemOutput {
                meta: Meta { system: SYSTEMS[i].into(), stage: None, version: None },
                ..SubsystemOutput::default()
            })
            .collect();
        // Situations from a stream of their own: the rest is the untagged actor.
        let mut situ = Rng::new(index as u64 ^ 0x7a65_5eed);
        let situations = self.situations.as_ref();
        for _ in 0..self.contributions {
            let (s, mut c) = self.contribution(rng);
            if let Some(sit) = situations {
                c.requires = sit.requires(&mut situ);
                c.stack = sit.stack(&mut situ);
            }
            let sub = &mut subsystems[rng.below(self.subsystems)];
            if self.stats[s].primary { sub.primary.push(c) } else { sub.derived.push(c) }
        }
        for _ in 0..self.caps {
            let mut c = self.cap(rng);
            if let Some(sit) = situations {
                c.requires = sit.requires(&mut situ);
            }
            subsystems[rng.below(self.subsystems)].caps.push(c);
        }
        let tags = situations.map(|sit| sit.tags(&mut situ)).unwrap_or_default();
        Actor { id: Some(format!("actor-{index:06}")), version: 1, subsystems, tags }
    }

    /// `n` actors from `seed`.
    pub fn actors(&self, n: usize, seed: u64) -> Vec<Actor> {
        let mut rng = Rng::new(seed);
        (0..n).map(|i| self.actor(&mut rng, i)).collect()
    }
}
