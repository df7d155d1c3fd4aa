//! `actorc explain` and `actorc graph`: snapshots of both forms, bit equality of explained
//! values with the engine, and exit codes.

#[cfg(feature = "cli")]
use crate::common::actorc;
use actorc::explain::{explain, explain_rule, render, render_rule};
use actorc::{Actor, Backend, Engine, Rules};

fn golden(case: &str) -> Actor {
    let text = std::fs::read_to_string(format!("tests/data/golden/{case}/subsystems.json")).unwrap();
    actorc::input::parse_actor(&text).unwrap()
}

fn hero() -> Actor {
    actorc::input::parse_actor(&std::fs::read_to_string("examples/hero.json").unwrap()).unwrap()
}

fn party() -> Vec<Actor> {
    std::fs::read_to_string("examples/party.ndjson")
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| actorc::input::parse_actor(l).unwrap())
        .collect()
}

/// The actor of a situational conformance case.
fn situational(case: &str) -> Actor {
    let text = std::fs::read_to_string(format!("tests/data/situational/{case}/actor.json")).unwrap();
    actorc::input::parse_actor(&text).unwrap()
}

fn situational_actors() -> Vec<Actor> {
    crate::golden::cases_in("tests/data/situational")
        .iter()
        .map(|c| actorc::input::parse_actor(&std::fs::read_to_string(c.join("actor.json")).unwrap()).unwrap())
        .collect()
}

fn snap_both(name: &str, rules: &Rules, actor: &Actor, stat: &str) {
    let (e, _) = explain(rules, actor, stat).unwrap();
    insta::assert_snapshot!(format!("{name}_text"), render(&e));
    insta::assert_json_snapshot!(format!("{name}_json"), e);
}

#[test]
fn explain_golden_vectors() {
    let rules = Rules::load("rules/actor_core_v3").unwrap();
    snap_both("case03_crit_rate", &rules, &golden("case03_override_priority"), "crit_rate");
    snap_both("case08_defense", &rules, &golden("case08_min_gt_max_conflict"), "defense");
    snap_both("case09_crit_rate", &rules, &golden("case09_prioritized_override"), "crit_rate");
}

#[test]
fn explain_example_game() {
    let rules = Rules::load("rules/rpg").unwrap();
    let hero = hero();
    // fold each (EXPONENTIAL, LOGARITHMIC) over a formula.
    snap_both("hero_max_health", &rules, &hero, "max_health");
    // A range bound that reads another stat (0 .. max_health) and a negative FLAT.
    snap_both("hero_health", &rules, &hero, "health");
    // FLAT + MULT, and a REALM cap.
    snap_both("hero_strength", &rules, &hero, "strength");
    // A WORLD HARD_MIN cap (60) that does not bind: 95 stays.
    snap_both("hero_alignment", &rules, &hero, "alignment");
    // Operator mode (merge multiply).
    snap_both("hero_threat_multiplier", &rules, &hero, "threat_multiplier");
    // Clamped by a WORLD HARD_MAX cap.
    snap_both("hero_fire_resist", &rules, &hero, "fire_resist");
    // Hand-made: clamped by a cap (WORLD HARD_MAX 0.5) and by a range bound (max_health).
    let mut hurt = hero.clone();
    hurt.subsystems.push(
        serde_json::from_str(
            r#"{"derived": [
                {"dimension": "fire_resist", "bucket": "FLAT", "value": 0.5, "system": "potion"},
                {"dimension": "health", "bucket": "FLAT", "value": 5000, "system": "overheal"}
            ], "meta": {"system": "consumables"}}"#,
        )
        .unwrap(),
    );
    snap_both("hero_fire_resist_clamped", &rules, &hurt, "fire_resist");
    snap_both("hero_health_clamped", &rules, &hurt, "health");
    // No contributions, no caps: not in the snapshot.
    let (absent, _) = explain(&rules, &hero, "magic_power").unwrap();
    assert!(!absent.in_snapshot && absent.value.is_none());
    insta::assert_snapshot!("hero_magic_power_absent_text", render(&absent));
    let party = party();
    let by_id = |id: &str| party.iter().find(|a| a.id.as_deref() == Some(id)).unwrap().clone();
    // Two OVERRIDEs: one wins, one loses.
    snap_both("rogue_stealth", &rules, &by_id("rogue"), "stealth");
    // Gear pipeline: FACTOR and AT_LEAST, with a WORLD cap.
    snap_both("rogue_gold_find", &rules, &by_id("rogue"), "gold_find");
    // Every bucket of the scaling pipeline and an EVENT override cap.
    snap_both("bard_xp_multiplier", &rules, &by_id("bard"), "xp_multiplier");
}

#[test]
fn explain_situations() {
    let rules = Rules::load("tests/data/situational/rules.stat").unwrap();
    let s02 = situational("s02_situation_and_caps");
    // A view: contributions skipped (`!low_life`, in the actor's situation) and dropped by
    // stacking (the fourth frenzy, the weaker might), a cap that requires a tag.
    snap_both("s02_fire_spell_damage", &rules, &s02, "fire_spell_damage");
    // The source stat in the actor's own context: more skipped.
    snap_both("s02_damage", &rules, &s02, "damage");
    // A view whose context skips a cap (`!elemental`) and lets another apply (`fire`).
    snap_both("s02_fire_resist_in_fire", &rules, &s02, "fire_resist_in_fire");
    let s03 = situational("s03_stacking");
    // keep first (canonical order: priority descending) and keep lowest.
    snap_both("s03_aura_regen", &rules, &s03, "aura_regen");
    snap_both("s03_slow", &rules, &s03, "slow");
    // Nothing applies: no value, and the skipped contribution and cap say why.
    let mut cold: Actor = serde_json::from_str(
        r#"{"id": "cold", "tags": ["fire"], "subsystems": [{"meta": {"system": "gear"}, "derived": [
            {"dimension": "fire_resist", "bucket": "FLAT", "value": 0.3, "system": "gear", "requires": ["cold"]}
        ], "caps": [
            {"dimension": "fire_resist", "mode": "HARD_MAX", "kind": "max", "value": 0.5, "system": "zone",
             "requires": ["!fire"]}
        ]}]}"#,
    )
    .unwrap();
    let (e, _) = explain(&rules, &cold, "fire_resist_in_fire").unwrap();
    assert!(!e.in_snapshot && e.not_applied.len() == 1 && e.caps_not_applied.len() == 1);
    insta::assert_snapshot!("situation_nothing_applies_text", render(&e));
    // Without `fire`, the cap applies: caps only, no value.
    cold.tags.clear();
    let (e, _) = explain(&rules, &cold, "fire_resist").unwrap();
    assert!(e.in_snapshot && e.value.is_none() && e.not_applied.len() == 1 && e.caps_not_applied.is_empty());
    insta::assert_snapshot!("situation_only_caps_apply_text", render(&e));
    // The rule of a view, and of a stat with views.
    insta::assert_snapshot!("rule_view_text", render_rule(&explain_rule(&rules, "fire_spell_damage").unwrap()));
    insta::assert_json_snapshot!("rule_view_json", explain_rule(&rules, "fire_spell_damage").unwrap());
    let damage = explain_rule(&rules, "damage").unwrap();
    assert_eq!(damage.views, ["fire_spell_damage", "cold_attack_damage"]);
    assert!(render_rule(&damage).contains("views: fire_spell_damage, cold_attack_damage"));
}

/// Every contribution and cap naming a stat is listed once for the stat and once for each
/// of its views: applied or not, with its fate.
#[test]
fn explain_lists_every_contribution_and_cap() {
    let rules = Rules::load("tests/data/situational/rules.stat").unwrap();
    for actor in situational_actors() {
        for s in &rules.ir.stats {
            let source = s.view.as_ref().map_or(s.name.as_str(), |v| rules.ir.stats[v.source.index()].name.as_str());
            let subsystems = || actor.subsystems.iter();
            let contributions =
                subsystems().flat_map(|x| x.primary.iter().chain(&x.derived)).filter(|c| c.dimension == source).count();
            let caps = subsystems().flat_map(|x| &x.caps).filter(|c| c.dimension == source).count();
            let (e, _) = explain(&rules, &actor, &s.name).unwrap();
            assert_eq!(e.contributions.len() + e.not_applied.len(), contributions, "{:?} {}", actor.id, s.name);
            let applied_caps: usize = e.layers.iter().map(|l| l.caps.len()).sum();
            assert_eq!(applied_caps + e.caps_not_applied.len(), caps, "{:?} {}", actor.id, s.name);
            let context = e.context.unwrap();
            let view_tags = e.rule.view.map_or(vec![], |v| v.tags);
            assert_eq!(context.view, view_tags);
            assert!(context.actor.iter().chain(&view_tags).all(|t| context.tags.contains(t)));
        }
    }
    // Rules without situations explain no context.
    let (e, _) =
        explain(&Rules::load("rules/actor_core_v3").unwrap(), &golden("case03_override_priority"), "crit_rate")
            .unwrap();
    assert!(e.context.is_none() && e.not_applied.is_empty());
}

#[test]
fn explain_rules() {
    let rpg = Rules::load("rules/rpg").unwrap();
    insta::assert_snapshot!("rule_max_health_text", render_rule(&explain_rule(&rpg, "max_health").unwrap()));
    insta::assert_json_snapshot!("rule_max_health_json", explain_rule(&rpg, "max_health").unwrap());
    insta::assert_snapshot!("rule_armor_text", render_rule(&explain_rule(&rpg, "armor").unwrap()));
    insta::assert_snapshot!("rule_dodge_limit_text", render_rule(&explain_rule(&rpg, "dodge_limit").unwrap()));
    let v3 = Rules::load("rules/actor_core_v3").unwrap();
    insta::assert_snapshot!("rule_hp_max_text", render_rule(&explain_rule(&v3, "hp_max").unwrap()));
}

/// Every stat with a value, for every actor: explain's value is the engine's, bit for bit.
fn assert_bit_equal(rules: &Rules, actors: &[Actor]) -> usize {
    let engine = Engine::new(rules, Backend::Interpreter).unwrap();
    let mut checked = 0;
    for actor in actors {
        let snap = engine.evaluate(actor).unwrap();
        for s in rules.ir.stats.iter() {
            let Some(want) = snap.get(&s.name) else { continue };
            let (e, _) = explain(rules, actor, &s.name).unwrap();
            let got = e.value.unwrap_or_else(|| panic!("{:?} {}: no value", actor.id, s.name));
            assert_eq!(got.to_bits(), want.to_bits(), "{:?} {}: {got} != {want}", actor.id, s.name);
            let (min, max) = snap.caps_used(&s.name).unwrap();
            assert_eq!((e.min.to_bits(), e.max.to_bits()), (min.to_bits(), max.to_bits()), "{}", s.name);
            // The trace's last step is the value.
            let last = e.clamp.as_ref().unwrap().after;
            assert_eq!(last.to_bits(), want.to_bits());
            checked += 1;
        }
    }
    checked
}

#[test]
fn explained_values_equal_engine_bit_for_bit() {
    let rpg = Rules::load("rules/rpg").unwrap();
    let mut actors = party();
    actors.push(hero());
    assert!(assert_bit_equal(&rpg, &actors) > 300);
    let v3 = Rules::load("rules/actor_core_v3").unwrap();
    let mut cases: Vec<_> = std::fs::read_dir("tests/data/golden").unwrap().map(|e| e.unwrap().path()).collect();
    cases.sort();
    let actors: Vec<Actor> = cases
        .iter()
        .map(|c| actorc::input::parse_actor(&std::fs::read_to_string(c.join("subsystems.json")).unwrap()).unwrap())
        .collect();
    assert_eq!(actors.len(), 10);
    assert!(assert_bit_equal(&v3, &actors) >= 10);
    // Views, requirements and stacks.
    let situational_rules = Rules::load("tests/data/situational/rules.stat").unwrap();
    let actors = situational_actors();
    assert_eq!(actors.len(), 3);
    assert!(assert_bit_equal(&situational_rules, &actors) >= 13);
}

#[test]
#[cfg(feature = "cli")]
fn explain_cli() {
    let out = actorc(
        &["explain", "rules/rpg", "--input", "examples/party.ndjson", "--actor", "rogue", "--stat", "attack_speed"],
        "",
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    insta::assert_snapshot!("cli_rogue_attack_speed", out.stdout);
    let out = actorc(
        &[
            "explain",
            "rules/rpg",
            "--input",
            "examples/party.ndjson",
            "--actor",
            "mage",
            "--stat",
            "magic_attack",
            "--format",
            "json",
        ],
        "",
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["actor"], "mage");
    // Standard input, rule form.
    let out = actorc(&["explain", "rules/rpg", "--stat", "health"], "");
    assert_eq!(out.code, 0);
    assert!(out.stdout.contains("health = clamp(first(OVERRIDE) ?? "), "{}", out.stdout);
}

#[test]
#[cfg(feature = "cli")]
fn explain_situations_cli() {
    let rules = "tests/data/situational/rules.stat";
    let input = "tests/data/situational/s01_tags_and_views/actor.json";
    let out = actorc(&["explain", rules, "--input", input, "--stat", "cold_attack_damage"], "");
    assert_eq!(out.code, 0, "{}", out.stderr);
    insta::assert_snapshot!("cli_s01_cold_attack_damage", out.stdout);
    let out = actorc(&["explain", rules, "--input", input, "--stat", "cold_attack_damage", "--format", "json"], "");
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["context"]["tags"], serde_json::json!(["cold", "attack"]));
    assert_eq!(v["rule"]["view"]["source"], "damage");
    let fates: Vec<&str> = v["not_applied"].as_array().unwrap().iter().map(|r| r["fate"].as_str().unwrap()).collect();
    assert_eq!(fates.iter().filter(|&&f| f == "skipped").count(), 3, "{fates:?}");
    assert_eq!(fates.iter().filter(|&&f| f == "dropped").count(), 2, "{fates:?}");
    // The rule form says what the view is.
    let out = actorc(&["explain", rules, "--stat", "cold_attack_damage"], "");
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("view cold_attack_damage = damage with cold, attack"), "{}", out.stdout);
}

#[test]
#[cfg(feature = "cli")]
fn explain_errors() {
    let out = actorc(&["explain", "rules/rpg", "--stat", "max_helth"], "");
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("unknown stat `max_helth` (did you mean `max_health`?)"), "{}", out.stderr);
    let out = actorc(&["explain", "rules/rpg", "--input", "examples/party.ndjson", "--stat", "level"], "");
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("pick one with --actor"), "{}", out.stderr);
    let out = actorc(
        &["explain", "rules/rpg", "--input", "examples/party.ndjson", "--actor", "nobody", "--stat", "level"],
        "",
    );
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("actor `nobody` not found"), "{}", out.stderr);
    let bad = r#"{"id":"x","subsystems":[{"primary":[{"dimension":"strenght","bucket":"FLAT","value":1,"system":"a"}],"meta":{"system":"a"}}]}"#;
    let out = actorc(&["explain", "rules/rpg", "--input", "-", "--stat", "strength"], bad);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("unknown dimension `strenght`"), "{}", out.stderr);
}

/// An actor whose evaluation fails is explained up to the failure: at a stat evaluated
/// before the one explained, in its range, its formula or its pipeline, or after it.
#[test]
fn explain_up_to_the_failure() {
    let rules = Rules::load("tests/data/eval/errors/rules.stat").unwrap();
    let text = std::fs::read_to_string("tests/data/eval/errors/actors.ndjson").unwrap();
    let actor = |id: &str| {
        let line = text.lines().find(|l| l.contains(&format!(r#""id":"{id}""#))).unwrap();
        actorc::input::parse_actor(line).unwrap()
    };
    for (name, id, stat, at) in [
        ("failed_before", "division_by_zero", "logged", "before"),
        ("failed_in_formula", "division_by_zero", "inverse", "here"),
        ("failed_in_pipeline", "ln_of_zero", "logged", "here"),
        ("failed_in_range", "negative_sqrt_bound", "bounded", "here"),
        ("failed_after", "division_by_zero", "a", "after"),
    ] {
        let Err(actorc::explain::ExplainError::Eval(e)) = explain(&rules, &actor(id), stat) else {
            panic!("{id} {stat} fails")
        };
        assert_eq!(e.failure.as_ref().map(|f| f.at), Some(at), "{name}");
        insta::assert_snapshot!(name, render(&e));
    }
}

#[test]
#[cfg(feature = "cli")]
fn explain_picks_its_actor_whatever_the_other_lines_are() {
    let dir = std::env::temp_dir().join(format!("actorc-explain-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let input = dir.join("party.ndjson");
    let party = std::fs::read("examples/party.ndjson").unwrap();
    let bad = b"{\"id\":\"broken\xff\",\"subsystems\":[]}\n{\"id\":\"cut\"";
    std::fs::write(&input, [&bad[..], b"\n", &party, b"\n", &[b'['; 4096]].concat()).unwrap();
    let input = input.to_str().unwrap();
    let args =
        ["explain", "rules/rpg", "--input", input, "--actor", "rogue", "--stat", "level", "--max-line-bytes", "4000"];
    let out = actorc(&args, "");
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.starts_with("level of actor `rogue` = "), "{}", out.stdout);
    // The line picked must be good, and within the limits.
    let out = actorc(&["explain", "rules/rpg", "--input", input, "--actor", "broken\u{fffd}", "--stat", "level"], "");
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("line 1: not valid UTF-8 text"), "{}", out.stderr);
    let big = format!(r#"{{"id":"big","pad":"{}","subsystems":[]}}"#, "x".repeat(2000));
    std::fs::write(dir.join("big.ndjson"), format!("{big}\n")).unwrap();
    let big = dir.join("big.ndjson");
    let args = ["explain", "rules/rpg", "--input", big.to_str().unwrap(), "--actor", "big", "--stat", "level"];
    let out = actorc(&[&args[..], &["--max-line-bytes", "1000"]].concat(), "");
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("over the limit of 1000"), "{}", out.stderr);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
#[cfg(feature = "cli")]
fn a_failing_actor_is_explained_to_the_failure_and_exits_1() {
    let args = ["explain", "tests/data/eval/errors/rules.stat", "--input", "tests/data/eval/errors/actors.ndjson"];
    let out = actorc(&[&args[..], &["--actor", "ln_of_zero", "--stat", "logged", "--format", "json"]].concat(), "");
    assert_eq!(out.code, 1);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["failure"]["at"], "here");
    assert_eq!(v["buckets"][0]["bucket"], "LOGARITHMIC");
    assert!(out.stderr.contains("error: stat `logged`: bucket pipeline produced -inf"), "{}", out.stderr);
}

#[test]
#[cfg(feature = "cli")]
fn graph_example_game() {
    let rules = Rules::load("rules/rpg").unwrap();
    let g = actorc::graph::graph(&rules, None).unwrap();
    let edges: usize = rules
        .ir
        .stats
        .iter()
        .map(|s| {
            let mut d = s.deps.clone();
            d.sort();
            d.dedup();
            d.len()
        })
        .sum();
    assert_eq!(g.edges.len(), edges + rules.ir.view_ids.len());
    insta::assert_snapshot!("graph_rpg_dot", actorc::graph::to_dot(&g));
    insta::assert_json_snapshot!("graph_rpg_json", g);
    let health = actorc::graph::graph(&rules, Some("health")).unwrap();
    insta::assert_snapshot!("graph_rpg_health_dot", actorc::graph::to_dot(&health));
    let out = actorc(&["graph", "rules/rpg", "--stat", "helth"], "");
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("did you mean `health`"), "{}", out.stderr);
}

/// A view is drawn with a `view` edge from its source, labelled with its tags, besides the
/// edges of the stats its rule reads; `--stat` follows view edges both ways.
#[test]
fn graph_views() {
    let rules = Rules::load("tests/data/situational/rules.stat").unwrap();
    let g = actorc::graph::graph(&rules, None).unwrap();
    let views: Vec<_> = g.edges.iter().filter(|e| e.via == "view").collect();
    assert_eq!(views.len(), 3);
    assert_eq!((views[0].from.as_str(), views[0].to.as_str()), ("damage", "fire_spell_damage"));
    assert_eq!(views[0].with, ["fire", "spell"]);
    let node = g.nodes.iter().find(|n| n.stat == "fire_resist_in_fire").unwrap();
    assert_eq!(node.view_of.as_deref(), Some("fire_resist"));
    insta::assert_snapshot!("graph_situational_dot", actorc::graph::to_dot(&g));
    insta::assert_json_snapshot!("graph_situational_json", g);

    // A view reads what its source's formula reads; a formula may read a view.
    let text = "bucket FLAT fold sum apply value + x; pipeline p = FLAT; default pipeline p;
        layers TOTAL policy intersect unscoped TOTAL; tag fire, cold;
        primary strength in 0 .. 100; primary luck in 0 .. 100;
        derived power = strength * 2 in 0 .. 1000;
        view fire_power = power with fire;
        view cold_power = power with cold;
        derived total = fire_power + luck in 0 .. 10000;";
    let rules = Rules::from_analysis(actorc::rules::compile_str("views.stat", text)).unwrap();
    let edges = |g: &actorc::graph::Graph| -> Vec<String> {
        let mut e: Vec<String> = g.edges.iter().map(|e| format!("{} -{}-> {}", e.from, e.via, e.to)).collect();
        e.sort();
        e
    };
    let g = actorc::graph::graph(&rules, None).unwrap();
    assert_eq!(
        edges(&g),
        [
            "fire_power -formula-> total",
            "luck -formula-> total",
            "power -view-> cold_power",
            "power -view-> fire_power",
            "strength -formula-> cold_power",
            "strength -formula-> fire_power",
            "strength -formula-> power",
        ]
    );
    let nodes = |g: &actorc::graph::Graph| -> Vec<String> {
        let mut n: Vec<String> = g.nodes.iter().map(|n| n.stat.clone()).collect();
        n.sort();
        n
    };
    // Ancestors through the view edge, dependents through the formula.
    let g = actorc::graph::graph(&rules, Some("fire_power")).unwrap();
    assert_eq!(nodes(&g), ["fire_power", "power", "strength", "total"]);
    // Dependents through the view edge.
    let g = actorc::graph::graph(&rules, Some("power")).unwrap();
    assert_eq!(nodes(&g), ["cold_power", "fire_power", "power", "strength", "total"]);
    let g = actorc::graph::graph(&rules, Some("luck")).unwrap();
    assert_eq!(nodes(&g), ["luck", "total"]);
}
