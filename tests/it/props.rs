//! Property tests of the interpreter over the v3 rules: permutation invariance, values inside
//! their CapsUsed range, and the highest-priority OVERRIDE winning.

use actorc::input::{Actor, CapContribution, Contribution, Meta, SubsystemOutput};
use actorc::{Backend, Engine, Rules};
use proptest::prelude::*;
use std::sync::OnceLock;

fn engine() -> &'static Engine {
    static E: OnceLock<Engine> = OnceLock::new();
    E.get_or_init(|| Engine::new(&Rules::load("rules/actor_core_v3").unwrap(), Backend::Interpreter).unwrap())
}

const PIPELINE_STATS: &[&str] = &["strength", "spirit", "hp_max", "crit_rate", "move_speed", "defense"];
const OPERATOR_STATS: &[&str] = &["lifespan_years", "poise_rank"];
const BUCKETS: &[&str] = &["FLAT", "MULT", "POST_ADD", "OVERRIDE"];
const SYSTEMS: &[&str] = &["race", "items", "talent", "buffs"];

fn value() -> impl Strategy<Value = f64> {
    prop_oneof![
        Just(0.0),
        Just(-0.0),
        Just(1.0),
        Just(0.5),
        (-1000i32..1000).prop_map(|v| v as f64 / 8.0),
        -1.0e6..1.0e6f64,
    ]
}

fn contribution() -> impl Strategy<Value = Contribution> {
    let stats: Vec<&str> = PIPELINE_STATS.iter().chain(OPERATOR_STATS).copied().collect();
    (prop::sample::select(stats), prop::sample::select(BUCKETS), value(), prop::sample::select(SYSTEMS), 0i64..4)
        .prop_map(|(d, b, v, s, p)| Contribution {
            dimension: d.into(),
            bucket: b.into(),
            value: v,
            system: s.into(),
            priority: Some(p),
            ..Contribution::default()
        })
}

fn cap() -> impl Strategy<Value = CapContribution> {
    let modes = prop_oneof![
        Just(("BASELINE", "max")),
        Just(("ADDITIVE", "max")),
        Just(("OVERRIDE", "max")),
        Just(("HARD_MAX", "max")),
        Just(("BASELINE", "min")),
        Just(("ADDITIVE", "min")),
        Just(("OVERRIDE", "min")),
        Just(("HARD_MIN", "min")),
    ];
    let scopes = prop::sample::select(vec![None, Some("REALM"), Some("WORLD"), Some("EVENT"), Some("TOTAL")]);
    (prop::sample::select(PIPELINE_STATS), modes, value(), scopes, prop::sample::select(SYSTEMS), 0i64..4).prop_map(
        |(d, (mode, kind), v, scope, s, p)| CapContribution {
            system: s.into(),
            dimension: d.into(),
            mode: mode.into(),
            kind: kind.into(),
            value: v,
            priority: Some(p),
            scope: scope.map(Into::into),
            realm: (scope == Some("REALM")).then(|| "r:1".into()),
            ..CapContribution::default()
        },
    )
}

fn subsystem() -> impl Strategy<Value = SubsystemOutput> {
    (
        prop::collection::vec(contribution(), 0..6),
        prop::collection::vec(contribution(), 0..6),
        prop::collection::vec(cap(), 0..4),
        prop::sample::select(SYSTEMS),
    )
        .prop_map(|(primary, derived, caps, s)| SubsystemOutput {
            primary,
            derived,
            caps,
            context: None,
            meta: Meta { system: s.into(), ..Meta::default() },
        })
}

pub fn actor() -> impl Strategy<Value = Actor> {
    prop::collection::vec(subsystem(), 1..5).prop_map(|subsystems| Actor {
        id: None,
        version: 1,
        subsystems,
        tags: Vec::new(),
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn permutation_invariance(a in actor(), seed in any::<u64>()) {
        let mut b = a.clone();
        let mut rng = seed | 1;
        let mut next = move |n: usize| { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; (rng % n as u64) as usize };
        for i in (1..b.subsystems.len()).rev() { let j = next(i + 1); b.subsystems.swap(i, j); }
        for s in &mut b.subsystems {
            for list in [&mut s.primary, &mut s.derived] {
                for i in (1..list.len()).rev() { let j = next(i + 1); list.swap(i, j); }
            }
            for i in (1..s.caps.len()).rev() { let j = next(i + 1); s.caps.swap(i, j); }
        }
        let (x, y) = (engine().evaluate(&a), engine().evaluate(&b));
        prop_assert_eq!(x, y);
    }

    #[test]
    fn values_lie_within_caps_used(a in actor()) {
        if let Ok(snap) = engine().evaluate(&a) {
            for e in snap.entries() {
                prop_assert!(e.min <= e.max, "{}: {} > {}", snap.name(e.stat), e.min, e.max);
                if e.has_value() {
                    prop_assert!(e.min <= e.value && e.value <= e.max, "{} = {} outside {}..{}", snap.name(e.stat), e.value, e.min, e.max);
                }
            }
        }
    }

    #[test]
    fn highest_priority_override_wins(mut a in actor(), v in value(), stat in prop::sample::select(PIPELINE_STATS)) {
        a.subsystems[0].derived.push(Contribution {
            dimension: stat.into(), bucket: "OVERRIDE".into(), value: v, system: "zz_top".into(), priority: Some(100),
            ..Contribution::default()
        });
        let snap = engine().evaluate(&a).unwrap();
        let (min, max) = snap.caps_used(stat).unwrap();
        let want = actorc::num::clamp(v, min, max);
        prop_assert_eq!(snap.get(stat).unwrap().to_bits(), want.to_bits());
    }
}

/// An actor with one contribution of `value` to `strength`.
fn one_value(value: f64) -> Actor {
    let c = Contribution {
        dimension: "strength".into(),
        bucket: "FLAT".into(),
        value,
        system: "race".into(),
        priority: None,
        ..Contribution::default()
    };
    let sub = SubsystemOutput { primary: vec![c], ..SubsystemOutput::default() };
    Actor { id: None, version: 1, subsystems: vec![sub], tags: Vec::new() }
}

fn read_value(json: &str) -> f64 {
    actorc::input::parse_actor(json).unwrap().subsystems[0].primary[0].value
}

/// Numbers that serde_json's default, best-effort float parser reads one ulp off.
#[test]
fn numbers_read_as_the_nearest_double() {
    let texts = ["958.7872702291189", "105.00455722256841", "53.28001223227318661", "311.0073935256364927893"];
    for text in texts {
        let json = serde_json::to_string(&one_value(1.0)).unwrap().replace("1.0", text);
        let nearest: f64 = text.parse().unwrap();
        assert_eq!(read_value(&json).to_bits(), nearest.to_bits(), "{text}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

    /// Every finite double written as actor JSON reads back with the same bits.
    #[test]
    fn written_numbers_read_back_exactly(bits in any::<u64>(), scale in -1.0e3..1.0e3f64) {
        for value in [f64::from_bits(bits), scale] {
            prop_assume!(value.is_finite());
            let json = serde_json::to_string(&one_value(value)).unwrap();
            prop_assert_eq!(read_value(&json).to_bits(), value.to_bits(), "{}", json);
        }
    }
}
