//! Live actors: after any sequence of source changes, a live actor evaluates (incrementally,
//! and in a batch on the JIT) bit for bit as `Engine::evaluate` of its actor input; its
//! changes are the differences of consecutive snapshots; bad input changes nothing; a save
//! loads bit-identically; hot reload reports what it drops.

use actorc::ir::{Ir, Mode, StatId};
use actorc::live::{Cap, CapKind, CapMode, Kind, LiveError, Modifier, Section, SourceId};
use actorc::{Actor, Backend, Engine, LiveActor, Rules, Snapshot};
use proptest::prelude::*;
use std::sync::OnceLock;

/// The rules, an interpreter engine and a JIT engine, built once per rule set.
struct Setup {
    rules: Rules,
    interp: Engine,
    jit: Engine,
}

fn setup(path: &'static str) -> &'static Setup {
    static V3: OnceLock<Setup> = OnceLock::new();
    static RPG: OnceLock<Setup> = OnceLock::new();
    let cell = if path.ends_with("rpg") { &RPG } else { &V3 };
    cell.get_or_init(|| {
        let rules = Rules::load(path).unwrap();
        let interp = Engine::new(&rules, Backend::Interpreter).unwrap();
        let jit = Engine::new(&rules, Backend::Jit).unwrap();
        Setup { rules, interp, jit }
    })
}

fn v3() -> &'static Setup {
    setup("rules/actor_core_v3")
}

fn rpg() -> &'static Setup {
    setup("rules/rpg")
}

const SOURCES: [&str; 5] = ["sword", "race", "buffs", "passive_tree", "b"];

/// A modifier in raw numbers, mapped onto a rule set by [`modifier`].
type RawModifier = (u32, u32, f64, i64, u8);
/// A cap in raw numbers: stat, layer, mode and kind, value, priority.
type RawCap = (u32, u32, u8, f64, i64);

#[derive(Debug, Clone)]
enum Op {
    Set(usize, Vec<RawModifier>, Vec<RawCap>),
    Remove(usize),
    Add(usize, RawModifier),
    RemoveOne(usize, usize),
    AddCap(usize, RawCap),
    RemoveCap(usize, usize),
    /// No evaluation after this step's change (changes pile up).
    Hold(usize, RawModifier),
}

fn value() -> impl Strategy<Value = f64> {
    prop_oneof![
        Just(0.0),
        Just(-0.0),
        Just(1.0),
        Just(0.1),
        (-400i32..400).prop_map(|v| v as f64 / 8.0),
        -1.0e4..1.0e4f64
    ]
}

fn raw_modifier() -> impl Strategy<Value = RawModifier> {
    (any::<u32>(), 0u32..1100, value(), 0i64..3, 0u8..3)
}

fn raw_cap() -> impl Strategy<Value = RawCap> {
    (any::<u32>(), any::<u32>(), 0u8..8, value(), 0i64..3)
}

fn op() -> impl Strategy<Value = Op> {
    let source = 0..SOURCES.len();
    prop_oneof![
        3 => (source.clone(), prop::collection::vec(raw_modifier(), 0..24), prop::collection::vec(raw_cap(), 0..3))
            .prop_map(|(s, m, c)| Op::Set(s, m, c)),
        1 => source.clone().prop_map(Op::Remove),
        2 => (source.clone(), raw_modifier()).prop_map(|(s, m)| Op::Add(s, m)),
        1 => (source.clone(), 0usize..30).prop_map(|(s, k)| Op::RemoveOne(s, k)),
        1 => (source.clone(), raw_cap()).prop_map(|(s, c)| Op::AddCap(s, c)),
        1 => (source.clone(), 0usize..4).prop_map(|(s, k)| Op::RemoveCap(s, k)),
        1 => (source, raw_modifier()).prop_map(|(s, m)| Op::Hold(s, m)),
    ]
}

/// The stats that take modifiers (views take their sources').
fn targets(ir: &Ir) -> Vec<StatId> {
    (0..ir.stats.len() as u32).map(StatId).filter(|s| ir.stat(*s).view.is_none()).collect()
}

/// A raw modifier on `ir`: a bucket of the stat's pipeline, or (bucket ≥ 1000) any
/// bucket, which may not be in it; a value ≥ 9000 is made NaN (refused).
fn modifier(ir: &Ir, (stat, bucket, value, priority, section): RawModifier) -> Modifier {
    let targets = targets(ir);
    let stat = targets[stat as usize % targets.len()];
    let bucket = match ir.stat(stat).mode {
        Mode::Pipeline(p) if bucket < 1000 => {
            let buckets = &ir.pipelines[p.index()].buckets;
            buckets[bucket as usize % buckets.len()]
        }
        _ => actorc::ir::BucketId(bucket % ir.buckets.len() as u32),
    };
    let value = if value >= 9000.0 { f64::NAN } else { value };
    let m = Modifier::new(stat, bucket, value).priority(priority);
    match section {
        1 => m.section(Section::Primary),
        2 => m.section(Section::Derived),
        _ => m,
    }
}

fn cap(ir: &Ir, (stat, layer, mode, value, priority): RawCap) -> Cap {
    let targets = targets(ir);
    let stat = targets[stat as usize % targets.len()];
    let layer = actorc::ir::LayerId(layer % ir.layers.len() as u32);
    let (mode, kind) = [
        (CapMode::Baseline, CapKind::Max),
        (CapMode::Additive, CapKind::Max),
        (CapMode::Override, CapKind::Max),
        (CapMode::HardMax, CapKind::Max),
        (CapMode::Baseline, CapKind::Min),
        (CapMode::Additive, CapKind::Min),
        (CapMode::Override, CapKind::Min),
        (CapMode::HardMin, CapKind::Min),
    ][mode as usize % 8];
    Cap::new(stat, layer, kind, mode, value).priority(priority).realm("north")
}

/// Applies `op` to `live`; an error must leave its input form unchanged.
fn apply(ir: &Ir, live: &mut LiveActor, op: &Op) {
    let before = live.to_actor();
    let source = |live: &mut LiveActor, s: usize| live.source(SOURCES[s]);
    let result = match op {
        Op::Set(s, ms, cs) => {
            let s = source(live, *s);
            let ms: Vec<Modifier> = ms.iter().map(|m| modifier(ir, *m)).collect();
            let cs: Vec<Cap> = cs.iter().map(|c| cap(ir, *c)).collect();
            live.set_source(s, &ms, &cs)
        }
        Op::Remove(s) => {
            let s = source(live, *s);
            live.remove_source(s)
        }
        Op::Add(s, m) | Op::Hold(s, m) => {
            let s = source(live, *s);
            live.add_modifier(s, modifier(ir, *m))
        }
        Op::RemoveOne(s, k) => {
            let s = source(live, *s);
            match live.modifiers(s).get(*k).copied() {
                Some(m) => live.remove_modifier(s, &m).map(|found| assert!(found)),
                None => Ok(()),
            }
        }
        Op::AddCap(s, c) => {
            let s = source(live, *s);
            live.add_cap(s, cap(ir, *c))
        }
        Op::RemoveCap(s, k) => {
            let s = source(live, *s);
            match live.caps(s).get(*k).cloned() {
                Some(c) => live.remove_cap(s, &c).map(|found| assert!(found)),
                None => Ok(()),
            }
        }
    };
    if result.is_err() {
        assert_eq!(live.to_actor(), before, "a refused change changed the actor: {result:?}");
    }
}

/// The live actor's snapshot is the full evaluation's of its actor input.
fn check_equivalent(setup: &Setup, live: &LiveActor, result: Result<(), actorc::EvalError>) {
    let expected = setup.interp.evaluate(&live.to_actor());
    match (result, expected) {
        (Ok(()), Ok(expected)) => {
            let snapshot = live.snapshot().expect("evaluated");
            assert_eq!(snapshot, &expected, "live snapshot differs from evaluating its actor input");
            for (i, &v) in live.values().iter().enumerate() {
                let e = expected.entry(StatId(i as u32)).filter(|e| e.has_value()).map_or(0.0, |e| e.value);
                assert_eq!(v.to_bits(), e.to_bits(), "value row, stat {i}");
            }
        }
        (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
        (a, b) => panic!("live {a:?}, full {:?}", b.map(|_| ())),
    }
}

/// Runs `ops` on a live actor evaluated incrementally and its twin evaluated in the JIT's
/// batch path, checking both against the `Actor`-value path after every evaluated step, and
/// that the changes are the same and are the snapshots' differences.
fn run_ops(setup: &Setup, ops: &[Op]) {
    let ir = &setup.rules.ir;
    let mut live = LiveActor::new(&setup.interp);
    let mut twin = [LiveActor::new(&setup.jit)];
    let mut last: Option<Snapshot> = None;
    for op in ops {
        apply(ir, &mut live, op);
        apply(ir, &mut twin[0], op);
        if matches!(op, Op::Hold(..)) {
            continue;
        }
        let result = live.evaluate().map(|_| ());
        let batch = setup.jit.evaluate_live(&mut twin).pop().unwrap();
        assert_eq!(result.is_ok(), batch.is_ok());
        check_equivalent(setup, &live, result.clone());
        if result.is_err() {
            continue;
        }
        assert_eq!(live.snapshot(), twin[0].snapshot(), "JIT batch differs from the interpreter");
        assert_eq!(live.changes(), twin[0].changes(), "changes differ between the two paths");
        let now = live.snapshot().unwrap().clone();
        let changed: Vec<u32> = live.changes().iter().map(|c| c.stat.0).collect();
        let expected: Vec<u32> = (0..ir.stats.len() as u32)
            .filter(|&i| {
                let old = last.as_ref().and_then(|s| s.entry(StatId(i)));
                let new = now.entry(StatId(i));
                match (old, new) {
                    (Some(a), Some(b)) => !a.same_bits(&b),
                    (a, b) => a.is_some() != b.is_some(),
                }
            })
            .collect();
        assert_eq!(changed, expected, "changes are not the snapshots' differences");
        last = Some(now);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn live_v3_equals_full_evaluation(ops in prop::collection::vec(op(), 1..24)) {
        run_ops(v3(), &ops);
    }

    #[test]
    fn live_rpg_equals_full_evaluation(ops in prop::collection::vec(op(), 1..16)) {
        run_ops(rpg(), &ops);
    }

    #[test]
    fn live_save_loads_bit_identically(ops in prop::collection::vec(op(), 1..16)) {
        let setup = v3();
        let mut live = LiveActor::new(&setup.interp);
        for op in &ops {
            apply(&setup.rules.ir, &mut live, op);
        }
        let saved = live.to_json();
        let mut loaded = LiveActor::from_json(&setup.interp, &saved).unwrap();
        prop_assert_eq!(loaded.to_json(), saved);
        let a = live.evaluate().map(|_| ()).map(|()| live.snapshot().cloned());
        let b = loaded.evaluate().map(|_| ()).map(|()| loaded.snapshot().cloned());
        prop_assert_eq!(a, b);
    }
}

/// The standard workload's actors, loaded as live actors, evaluate as the actors do, one by
/// one and in a batch on both engines.
#[test]
fn live_workload_actors_equal_actor_path() {
    for setup in [v3(), rpg()] {
        let actors = crate::workload::Workload::from_ir(&setup.rules.ir).actors(40, 7);
        let expected = setup.interp.evaluate_batch(&actors);
        let mut lives: Vec<LiveActor> =
            actors.iter().map(|a| LiveActor::from_actor(&setup.interp, a).unwrap()).collect();
        let mut batch = lives.clone();
        for (live, want) in lives.iter_mut().zip(&expected) {
            let got = live.evaluate().map(|_| ()).map(|()| live.snapshot().unwrap().clone());
            assert_eq!(got.map_err(|e| e.to_string()), want.clone().map_err(|e| e.to_string()));
        }
        for engine in [&setup.interp, &setup.jit] {
            let results = engine.evaluate_live(&mut batch);
            for ((live, result), want) in batch.iter().zip(results).zip(&expected) {
                assert_eq!(result.is_ok(), want.is_ok());
                if let Ok(want) = want {
                    assert_eq!(live.snapshot(), Some(want));
                }
            }
        }
    }
}

/// The example of the issue: equipping a sword that gives 40 more maximum health.
#[test]
fn live_changes_name_their_source() {
    let setup = v3();
    let engine = &setup.interp;
    let (hp_max, flat, mult) =
        (engine.stat("hp_max").unwrap(), engine.bucket("FLAT").unwrap(), engine.bucket("MULT").unwrap());
    let mut hero = LiveActor::new(engine);
    let race = hero.source("race");
    let sword = hero.source("sword");
    hero.set_source(race, &[Modifier::new(hp_max, flat, 400.0)], &[]).unwrap();
    let first = hero.evaluate().unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!((first[0].old_value(), first[0].new_value(), first[0].cause), (None, Some(400.0), Some(race)));
    hero.set_source(sword, &[Modifier::new(hp_max, flat, 40.0)], &[]).unwrap();
    let changes = hero.evaluate().unwrap().to_vec();
    assert_eq!(changes.len(), 1);
    let c = changes[0];
    assert_eq!((c.stat, c.old_value(), c.new_value(), c.cause), (hp_max, Some(400.0), Some(440.0), Some(sword)));
    // Nothing changed: nothing to report.
    assert!(hero.evaluate().unwrap().is_empty());
    // Unequipping is one call and leaves no stale bonus.
    hero.remove_source(sword).unwrap();
    let c = hero.evaluate().unwrap()[0];
    assert_eq!((c.new_value(), c.cause), (Some(400.0), Some(sword)));
    assert_eq!(hero.value(hp_max), Some(400.0));
    // Changes of two sources at once name neither.
    hero.set_source(sword, &[Modifier::new(hp_max, mult, 0.1)], &[]).unwrap();
    hero.set_source(race, &[Modifier::new(hp_max, flat, 500.0)], &[]).unwrap();
    assert_eq!(hero.evaluate().unwrap()[0].cause, None);
}

/// Bad input is a typed error at the call, and changes nothing.
#[test]
fn live_refuses_bad_input_unchanged() {
    let setup = v3();
    let engine = &setup.interp;
    let hp_max = engine.stat("hp_max").unwrap();
    let flat = engine.bucket("FLAT").unwrap();
    assert!(
        matches!(engine.stat("hp_mux"), Err(LiveError::UnknownName { kind: Kind::Stat, suggestion: Some(s), .. }) if s == "hp_max")
    );
    let mut hero = LiveActor::new(engine);
    let sword = hero.source("sword");
    hero.set_source(sword, &[Modifier::new(hp_max, flat, 10.0)], &[]).unwrap();
    let saved = hero.to_actor();
    let nan = Modifier::new(hp_max, flat, f64::NAN);
    assert!(matches!(
        hero.set_source(sword, &[Modifier::new(hp_max, flat, 1.0), nan], &[]),
        Err(LiveError::NotFinite { .. })
    ));
    let realm = engine.layer("REALM").unwrap();
    let no_realm = Cap::new(hp_max, realm, CapKind::Max, CapMode::Baseline, 5.0);
    assert!(matches!(hero.add_cap(sword, no_realm.clone()), Err(LiveError::RealmRequired { .. })));
    let wrong_kind = Cap::new(hp_max, realm, CapKind::Max, CapMode::HardMin, 5.0).realm("north");
    assert!(matches!(hero.add_cap(sword, wrong_kind), Err(LiveError::ModeNeedsKind { .. })));
    assert!(matches!(hero.remove_source(SourceId(9)), Err(LiveError::BadHandle { kind: Kind::Source, .. })));
    let bad_stat = Modifier::new(StatId(999), flat, 1.0);
    assert!(matches!(hero.add_modifier(sword, bad_stat), Err(LiveError::BadHandle { kind: Kind::Stat, .. })));
    assert_eq!(hero.to_actor(), saved);
    hero.evaluate().unwrap();
    assert_eq!(hero.value(hp_max), Some(10.0));
}

/// A bucket outside the stat's pipeline, and a view given a modifier, are refused (rpg).
#[test]
fn live_refuses_views_and_foreign_buckets() {
    let setup = rpg();
    let engine = &setup.interp;
    let ir = &setup.rules.ir;
    let view = (0..ir.stats.len() as u32).map(StatId).find(|s| ir.stat(*s).view.is_some()).unwrap();
    let mut hero = LiveActor::new(engine);
    let s = hero.source("ring");
    let bucket = actorc::ir::BucketId(0);
    assert!(matches!(hero.add_modifier(s, Modifier::new(view, bucket, 1.0)), Err(LiveError::View { .. })));
    let foreign = targets(ir).into_iter().find_map(|stat| match ir.stat(stat).mode {
        Mode::Pipeline(p) => (0..ir.buckets.len() as u32)
            .map(actorc::ir::BucketId)
            .find(|b| !ir.pipelines[p.index()].buckets.contains(b))
            .map(|b| (stat, b)),
        Mode::Operator(_) => None,
    });
    if let Some((stat, b)) = foreign {
        let e = hero.add_modifier(s, Modifier::new(stat, b, 1.0)).unwrap_err();
        assert!(matches!(e, LiveError::BucketNotInPipeline { .. }), "{e}");
    }
    assert!(hero.to_actor().subsystems.is_empty());
}

/// A save game is the actor JSON of docs/input.md, and loads bit-identically.
#[test]
fn live_save_game_round_trip() {
    let setup = rpg();
    let actor: Actor = crate::workload::Workload::from_ir(&setup.rules.ir).actors(1, 11).remove(0);
    let mut live = LiveActor::from_actor(&setup.interp, &actor).unwrap();
    live.evaluate().unwrap();
    let text = live.to_json();
    let parsed = actorc::input::parse_actor(&text).unwrap();
    assert_eq!(setup.interp.evaluate(&parsed).unwrap(), setup.interp.evaluate(&actor).unwrap());
    let mut loaded = LiveActor::from_json(&setup.interp, &text).unwrap();
    loaded.evaluate().unwrap();
    assert_eq!(loaded.snapshot(), live.snapshot());
    assert_eq!(loaded.to_json(), text);
    // Input a live actor cannot hold is an input error naming the field.
    let bad = r#"[{"primary": [{"dimension": "damage", "bucket": "FLAT", "value": 1, "system": "x", "requires": ["fire"]}]}]"#;
    let e = LiveActor::from_json(&setup.interp, bad).unwrap_err();
    assert_eq!(e.field, "subsystems[0].primary[0]");
}

/// Hot reload keeps the sources by name and reports what the new rules cannot take.
#[test]
fn live_migrates_to_new_rules() {
    let dir = std::env::temp_dir().join(format!("actorc-live-migrate-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let write = |text: &str| std::fs::write(dir.join("rules.stat"), text).unwrap();
    let header = "bucket FLAT fold sum apply value + x;\nbucket MULT fold delta_product apply value * x;\npipeline p = FLAT, MULT;\ndefault pipeline p;\nlayers TOTAL policy intersect unscoped TOTAL;\n";
    write(&format!(
        "{header}primary strength in 0 .. 100;\nprimary luck in 0 .. 10;\nderived power = strength * 2 in 0 .. 1000;\n"
    ));
    let old = Engine::new(&Rules::load(&dir).unwrap(), Backend::Interpreter).unwrap();
    let mut hero = LiveActor::new(&old);
    let sword = hero.source("sword");
    let (strength, luck, flat) =
        (old.stat("strength").unwrap(), old.stat("luck").unwrap(), old.bucket("FLAT").unwrap());
    hero.set_source(sword, &[Modifier::new(strength, flat, 7.0), Modifier::new(luck, flat, 3.0)], &[]).unwrap();
    hero.evaluate().unwrap();
    write(&format!("{header}primary strength in 0 .. 100;\nderived power = strength * 3 in 0 .. 1000;\n"));
    let new = Engine::new(&Rules::load(&dir).unwrap(), Backend::Jit).unwrap();
    let mut migration = hero.migrate(&new);
    assert_eq!(migration.dropped.len(), 1);
    let dropped = &migration.dropped[0];
    assert_eq!(dropped.source, "sword");
    assert!(matches!(&dropped.reason, LiveError::UnknownName { kind: Kind::Stat, name, .. } if name == "luck"));
    let moved = &mut migration.actor;
    moved.evaluate().unwrap();
    assert_eq!(moved.value(new.stat("power").unwrap()), Some(21.0));
    let sword = moved.find_source("sword").unwrap();
    assert_eq!(moved.modifiers(sword).len(), 1);
    assert_eq!(moved.snapshot().cloned().unwrap(), new.evaluate(&moved.to_actor()).unwrap());
    let _ = std::fs::remove_dir_all(&dir);
}

#[allow(dead_code)]
#[path = "../../examples/live.rs"]
mod example;

/// `examples/live.rs` runs and prints the change the issue asks for.
#[test]
fn live_example_prints_changes_by_source() {
    let mut out = Vec::new();
    example::run(&mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("hp_max 400 → 440 (sword)"), "{text}");
    assert!(text.contains("attack_power 50 → 75 (sword)"), "{text}");
    assert!(text.contains("hp_max 440 → 400 (sword)"), "{text}");
}
