//! The memoizing cache: a hit equals a fresh evaluation; an incremental recompute after a
//! changed subsystem, or after a rule change, equals a full evaluation (bit for bit).

use actorc::cache::{Cache, Keep, KeyedActor};
use actorc::load::LoadOptions;
use actorc::reload::{Change, Outcome, Reloader};
use actorc::{Actor, Backend};
use proptest::prelude::*;
use std::path::PathBuf;

fn party() -> Vec<Actor> {
    std::fs::read_to_string("examples/party.ndjson")
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn v3_actor(id: &str, ap: f64, mult: f64) -> Actor {
    serde_json::from_value(serde_json::json!({"id": id, "version": 1, "subsystems": [
        {"primary": [{"dimension": "attack_power", "bucket": "FLAT", "value": ap, "system": "race"},
                     {"dimension": "attack_power", "bucket": "MULT", "value": mult, "system": "items"},
                     {"dimension": "defense", "bucket": "FLAT", "value": ap / 2.0, "system": "race"}],
         "caps": [{"system": "items", "dimension": "defense", "mode": "HARD_MAX", "kind": "max", "value": 500.0}],
         "meta": {"system": "race"}}]}))
    .unwrap()
}

/// Changes one contribution of one subsystem.
fn perturb(a: &Actor, pick: usize, factor: f64) -> Actor {
    let mut a = a.clone();
    let subs = a.subsystems.len();
    let s = &mut a.subsystems[pick % subs];
    if !s.primary.is_empty() {
        let n = s.primary.len();
        s.primary[(pick / subs) % n].value *= factor;
    }
    a
}

fn reloader(path: &str) -> Reloader {
    let r = Reloader::new(vec![PathBuf::from(path)], LoadOptions::default(), Backend::Interpreter);
    assert!(matches!(r.reload(), Outcome::Published { .. }));
    r
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn hit_equals_fresh_and_incremental_equals_full(pick in 0usize..1000, factor in 0.5f64..2.0, who in 0usize..6) {
        let r = reloader("rules/rpg");
        let g = r.current().unwrap();
        let actors = party();
        let a = &actors[who % actors.len()];
        let mut cache = Cache::new(16);
        let fresh = g.engine.evaluate(a);
        prop_assert_eq!(&cache.evaluate(&g, a), &fresh);
        prop_assert_eq!(&cache.evaluate(&g, a), &fresh);
        prop_assert_eq!(cache.stats().hits, 1);
        let b = perturb(a, pick, factor);
        let full = g.engine.evaluate(&b);
        prop_assert_eq!(cache.evaluate(&g, &b), full.clone());
        if fresh.is_ok() && full.is_ok() && b != *a {
            prop_assert_eq!(cache.stats().incremental, 1);
        }
    }

    #[test]
    fn v3_incremental_equals_full(ap in 0.0f64..2000.0, mult in -0.5f64..2.0, ap2 in 0.0f64..2000.0) {
        let r = reloader("rules/actor_core_v3");
        let g = r.current().unwrap();
        let mut cache = Cache::new(4);
        let a = v3_actor("a", ap, mult);
        prop_assert_eq!(cache.evaluate(&g, &a), g.engine.evaluate(&a));
        prop_assert_eq!(cache.evaluate(&g, &a), g.engine.evaluate(&a));
        let b = v3_actor("a", ap2, mult);
        prop_assert_eq!(cache.evaluate(&g, &b), g.engine.evaluate(&b));
    }

    #[test]
    fn incremental_after_rule_change_equals_full(k in 1u32..9, who in 0usize..6) {
        let r = reloader("rules/rpg");
        let actors = party();
        let a = &actors[who % actors.len()];
        let mut cache = Cache::new(16);
        let g1 = r.current().unwrap();
        cache.evaluate(&g1, a).ok();
        let file = "rules/rpg/progression.stat";
        let text = std::fs::read_to_string(file).unwrap()
            .replace("derived persuasion = charisma * 2", &format!("derived persuasion = charisma * {k}"));
        let out = r.apply(Change::Write { path: file.into(), text });
        let published = matches!(out, Outcome::Published { .. });
        prop_assert!(published);
        let g2 = r.current().unwrap();
        prop_assert_eq!(cache.evaluate(&g2, a), g2.engine.evaluate(a));
        prop_assert_eq!(cache.stats().incremental, 1);
        prop_assert!(cache.stats().dirty_stats <= 1);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Lookups, changed inputs and evictions in any order agree with a plain LRU model, and
    /// every result equals a fresh evaluation.
    #[test]
    fn lru_matches_a_model(capacity in 1usize..5, ops in prop::collection::vec((0usize..7, 0u8..3), 1..60)) {
        let r = reloader("rules/actor_core_v3");
        let g = r.current().unwrap();
        let mut cache = Cache::keeping(capacity, Keep::Results);
        // Most recent first: (id, input version).
        let mut model: std::collections::VecDeque<(usize, u8)> = Default::default();
        let (mut hits, mut evictions) = (0, 0);
        for (id, version) in ops {
            let actor = v3_actor(&format!("a{id}"), 10.0 + f64::from(version), 0.1);
            prop_assert_eq!(cache.evaluate(&g, &actor), g.engine.evaluate(&actor));
            match model.iter().position(|&(m, _)| m == id) {
                Some(k) => {
                    let (_, old) = model.remove(k).unwrap();
                    hits += u64::from(old == version);
                }
                None if model.len() == capacity => {
                    model.pop_back();
                    evictions += 1;
                }
                None => {}
            }
            model.push_front((id, version));
            prop_assert_eq!((cache.stats().hits, cache.stats().evictions, cache.len()), (hits, evictions, model.len()));
        }
    }
}

#[test]
fn lru_evicts_the_least_recently_used() {
    let r = reloader("rules/actor_core_v3");
    let g = r.current().unwrap();
    let mut cache = Cache::new(2);
    let (a, b, c) = (v3_actor("a", 1.0, 0.1), v3_actor("b", 2.0, 0.1), v3_actor("c", 3.0, 0.1));
    cache.evaluate(&g, &a).unwrap();
    cache.evaluate(&g, &b).unwrap();
    cache.evaluate(&g, &a).unwrap(); // a is now the most recent
    cache.evaluate(&g, &c).unwrap(); // evicts b
    assert_eq!(cache.stats().evictions, 1);
    cache.evaluate(&g, &a).unwrap();
    assert_eq!(cache.stats().hits, 2);
    cache.evaluate(&g, &b).unwrap();
    assert_eq!(cache.stats().hits, 2);
    assert_eq!(cache.len(), 2);
}

#[test]
fn inputs_differing_only_in_the_sign_of_zero_are_not_a_hit() {
    let r = reloader("rules/actor_core_v3");
    let g = r.current().unwrap();
    let mut cache = Cache::new(4);
    let plus = v3_actor("a", 0.0, 0.0);
    let minus = v3_actor("a", -0.0, -0.0);
    assert_eq!(plus, minus, "PartialEq cannot tell them apart");
    cache.evaluate(&g, &plus).unwrap();
    assert_eq!(cache.evaluate(&g, &minus), g.engine.evaluate(&minus));
    assert_eq!(cache.stats().hits, 0);
    let shared = cache.evaluate_shared(&g, &minus);
    assert_eq!(*shared, g.engine.evaluate(&minus));
    assert_eq!(cache.stats().hits, 1);
}

#[test]
fn refresh_after_a_rule_change_equals_full_and_then_hits() {
    let r = reloader("rules/rpg");
    let actors = party();
    let mut cache = Cache::new(16);
    let g1 = r.current().unwrap();
    for a in &actors {
        cache.evaluate(&g1, a).ok();
    }
    let file = "rules/rpg/progression.stat";
    let base = std::fs::read_to_string(file).unwrap();
    let text = base.replace("derived persuasion = charisma * 2", "derived persuasion = charisma * 5 + 1");
    assert!(matches!(r.apply(Change::Write { path: file.into(), text }), Outcome::Published { .. }));
    let g2 = r.current().unwrap();
    let cached = actors.iter().filter(|a| a.id.is_some()).count();
    assert_eq!(cache.refresh(&g2), cached);
    let hits = cache.stats().hits;
    for a in &actors {
        assert_eq!(cache.evaluate(&g2, a), g2.engine.evaluate(a));
    }
    assert_eq!(cache.stats().hits, hits + cached as u64);

    // A new stat changes the structure: entries are dropped, not reused.
    let text = format!("{base}\nderived refresh_probe = charisma + 1;\n");
    assert!(matches!(r.apply(Change::Write { path: file.into(), text }), Outcome::Published { .. }));
    let g3 = r.current().unwrap();
    assert_eq!(cache.refresh(&g3), 0);
    assert_eq!(cache.len(), 0);
    for a in &actors {
        assert_eq!(cache.evaluate(&g3, a), g3.engine.evaluate(a));
    }
}

#[test]
fn keyed_actor_hits_without_hashing_and_rehashes_on_update() {
    let r = reloader("rules/rpg");
    let g = r.current().unwrap();
    let actors = party();
    let mut cache = Cache::new(16);
    let mut keyed = KeyedActor::new(actors[0].clone());
    let fresh = g.engine.evaluate(&actors[0]);
    // The keyed and the plain lookups share one entry.
    assert_eq!(*cache.evaluate_keyed(&g, &keyed), fresh);
    assert_eq!(cache.evaluate(&g, &actors[0]), fresh);
    assert_eq!(*cache.evaluate_keyed(&g, &keyed), fresh);
    assert_eq!(cache.stats().hits, 2);
    // An update is seen: a miss with the new input's result, then a hit again.
    keyed.update(|a| a.subsystems[0].primary[0].value += 1.0);
    let changed = g.engine.evaluate(keyed.actor());
    assert_ne!(changed, fresh);
    assert_eq!(*cache.evaluate_keyed(&g, &keyed), changed);
    assert_eq!(cache.stats().hits, 2);
    assert_eq!(*cache.evaluate_keyed(&g, &keyed), changed);
    assert_eq!(cache.stats().hits, 3);
}

#[test]
fn refresh_in_place_follows_dependents_and_entries_that_come_and_go() {
    let r = reloader("rules/rpg");
    let actors = party();
    let file = "rules/rpg/progression.stat";
    let base = std::fs::read_to_string(file).unwrap();
    let mut cache = Cache::new(16);
    let g = r.current().unwrap();
    for a in &actors {
        cache.evaluate(&g, a).ok();
    }
    let edits = [
        // power_rating and its dependent effective_power.
        ("armor * 2", "armor * 3"),
        // gold_find loses its default: its entry goes for actors without `gear` contributions.
        ("derived gold_find in 0 .. 5 default 1 pipeline gear;", "derived gold_find in 0 .. 5 pipeline gear;"),
        // … and comes back.
        (
            "derived gold_find in 0 .. 5 default 1 pipeline gear;",
            "derived gold_find in 0 .. 5 default 2 pipeline gear;",
        ),
    ];
    let with_gold_find = |g: &actorc::reload::Generation| {
        actors.iter().filter(|a| g.engine.evaluate(a).is_ok_and(|s| s.caps_used("gold_find").is_some())).count()
    };
    let mut present = vec![with_gold_find(&g)];
    for (old, new) in edits {
        assert!(base.contains(old), "{old}");
        let text = base.replace(old, new);
        assert!(matches!(r.apply(Change::Write { path: file.into(), text }), Outcome::Published { .. }));
        let g = r.current().unwrap();
        cache.refresh(&g);
        let hits = cache.stats().hits;
        for a in actors.iter().filter(|a| a.id.is_some()) {
            assert_eq!(cache.evaluate(&g, a), g.engine.evaluate(a), "{new}: {:?}", a.id);
        }
        assert_eq!(cache.stats().hits, hits + actors.iter().filter(|a| a.id.is_some()).count() as u64);
        present.push(with_gold_find(&g));
    }
    assert!(present[2] < present[1] && present[3] == present[0], "entries went and came back: {present:?}");
}

#[test]
fn results_only_cache_recomputes_on_lookup_and_equals_fresh() {
    let r = reloader("rules/rpg");
    let actors = party();
    let with_id: Vec<&Actor> = actors.iter().filter(|a| a.id.is_some()).collect();
    let mut cache = Cache::keeping(16, Keep::Results);
    let g1 = r.current().unwrap();
    for a in &actors {
        assert_eq!(cache.evaluate(&g1, a), g1.engine.evaluate(a));
    }
    // A changed input has no prepared form to compare with: a full evaluation.
    let b = perturb(with_id[0], 3, 1.5);
    assert_eq!(cache.evaluate(&g1, &b), g1.engine.evaluate(&b));
    assert_eq!(cache.stats().incremental, 0);
    assert_eq!(cache.evaluate(&g1, with_id[0]), g1.engine.evaluate(with_id[0]));

    // After a rule change, refresh cannot recompute without prepared forms and keeps the
    // entries; each lookup ingests again and evaluates only the stats the change reaches.
    let file = "rules/rpg/progression.stat";
    let text = std::fs::read_to_string(file).unwrap().replace("armor * 2", "armor * 3");
    assert!(matches!(r.apply(Change::Write { path: file.into(), text }), Outcome::Published { .. }));
    let g2 = r.current().unwrap();
    assert_eq!(cache.refresh(&g2), 0);
    assert_eq!(cache.len(), with_id.len());
    let ok = with_id.iter().filter(|a| g1.engine.evaluate(a).is_ok()).count() as u64;
    for a in &with_id {
        assert_eq!(cache.evaluate(&g2, a), g2.engine.evaluate(a), "{:?}", a.id);
    }
    assert_eq!(cache.stats().incremental, ok);
    assert!(cache.stats().dirty_stats <= 2 * ok, "power_rating and effective_power: {:?}", cache.stats());
    let hits = cache.stats().hits;
    for a in &with_id {
        assert_eq!(cache.evaluate(&g2, a), g2.engine.evaluate(a));
    }
    assert_eq!(cache.stats().hits, hits + with_id.len() as u64);
}

/// Regression: a stat's rule fingerprint named the tables and curves its rules read, not
/// their entries, so after a reload that changed only a table's values or a curve's points
/// the cache kept the old results of the stats reading them.
#[test]
fn incremental_after_a_table_or_curve_change_equals_full() {
    let dir = std::env::temp_dir().join(format!("actorc-cache-values-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("named.stat");
    let rules = "\
bucket FLAT fold sum apply value + x;
bucket BONUS fold sum apply value + lookup(bonus, x);
pipeline p = FLAT;
pipeline q = BONUS;
default pipeline p;
const K = 100;
table bonus = [0: 1, 1: 2];
curve scale = [0: 0, 10: 1];
primary level in 0 .. 10;
derived hp = lookup(bonus, level) * K;
derived dr = 1 in 0 .. at(scale, level);
derived extra pipeline q;
";
    std::fs::write(&file, rules).unwrap();
    let r = reloader(dir.to_str().unwrap());
    let a: Actor = serde_json::from_value(serde_json::json!({"id": "a", "version": 1, "subsystems": [
        {"primary": [{"dimension": "level", "bucket": "FLAT", "value": 1.0, "system": "s"}],
         "derived": [{"dimension": "extra", "bucket": "BONUS", "value": 0.0, "system": "s"}],
         "meta": {"system": "s"}}]}))
    .unwrap();
    let edits = [
        ("table bonus = [0: 1, 1: 2]", "table bonus = [0: 1, 1: 3]"),
        ("table bonus = [0: 1, 1: 3]", "table bonus = [0: 5, 1: 3]"),
        ("curve scale = [0: 0, 10: 1]", "curve scale = [0: 0, 10: 5]"),
        ("const K = 100", "const K = 10"),
    ];
    for keep in [Keep::Prepared, Keep::Results] {
        let mut text = rules.to_string();
        assert!(matches!(r.apply(Change::Write { path: file.clone(), text: text.clone() }), Outcome::Published { .. }));
        let mut cache = Cache::keeping(16, keep);
        let g = r.current().unwrap();
        assert_eq!(cache.evaluate(&g, &a), g.engine.evaluate(&a));
        for (from, to) in edits {
            text = text.replace(from, to);
            assert!(matches!(
                r.apply(Change::Write { path: file.clone(), text: text.clone() }),
                Outcome::Published { .. }
            ));
            let g = r.current().unwrap();
            assert_eq!(cache.evaluate(&g, &a), g.engine.evaluate(&a), "{keep:?}, after `{to}`");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
