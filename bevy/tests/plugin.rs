//! The plugin in a running app: values against `Engine::evaluate` of the equivalent actor,
//! the messages of each frame, failures, and reloads by hand and from the file watcher.

use actorc::reload::WatchTiming;
use actorc::{Actor, Backend, Engine, Rules, Snapshot, StatChange};
use actorc_bevy::{
    ModifierSources, Modifiers, RulesReloaded, StatActor, StatChanged, StatRules, Stats, StatsFailed, StatsPlugin,
};
mod common;

use bevy_app::App;
use bevy_ecs::prelude::*;
use common::assert_stats;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const RPG: &str = "../rules/rpg";

/// The messages one frame wrote.
#[derive(Debug, Default)]
struct Frame {
    changed: Vec<StatChanged>,
    failed: Vec<StatsFailed>,
    reloaded: Vec<RulesReloaded>,
}

/// Runs one frame and returns its messages.
fn update(app: &mut App) -> Frame {
    app.update();
    let w = app.world();
    Frame {
        changed: w.resource::<Messages<StatChanged>>().iter_current_update_messages().cloned().collect(),
        failed: w.resource::<Messages<StatsFailed>>().iter_current_update_messages().cloned().collect(),
        reloaded: w.resource::<Messages<RulesReloaded>>().iter_current_update_messages().cloned().collect(),
    }
}

/// (name, sources) of a character: race and class.
fn character(strength: f64, vitality: f64, level: f64, hp: f64) -> ModifierSources {
    ModifierSources::default()
        .with("race", Modifiers::new().add("strength", "FLAT", strength).add("vitality", "FLAT", vitality))
        .with("class", Modifiers::new().add("level", "FLAT", level).add("hp_max", "FLAT", hp))
}

fn sword() -> Modifiers {
    Modifiers::new().add("strength", "FLAT", 8.0).add("attack_power", "FLAT", 40.0).add("hp_max", "FLAT", 40.0)
}

/// The same character as actor JSON, written out independently of the plugin.
fn actor(strength: f64, vitality: f64, level: f64, hp: f64, with_sword: bool) -> Actor {
    let c = |stat: &str, value: f64, system: &str| serde_json::json!({"dimension": stat, "bucket": "FLAT", "value": value, "system": system});
    let mut subsystems = vec![
        serde_json::json!({"primary": [c("strength", strength, "race"), c("vitality", vitality, "race")], "meta": {"system": "race"}}),
        serde_json::json!({"primary": [c("level", level, "class"), c("hp_max", hp, "class")], "meta": {"system": "class"}}),
    ];
    if with_sword {
        subsystems.push(serde_json::json!({
            "primary": [c("strength", 8.0, "sword"), c("attack_power", 40.0, "sword"), c("hp_max", 40.0, "sword")],
            "meta": {"system": "sword"}
        }));
    }
    serde_json::from_value(serde_json::json!(subsystems)).unwrap()
}

/// The value changes from `old` to `new`, as (stat, old, new) sorted.
fn value_changes(old: &Snapshot, new: &Snapshot) -> Vec<(String, Option<u64>, Option<u64>)> {
    let mut out: Vec<_> = old
        .diff(new)
        .into_iter()
        .filter_map(|c| match c {
            StatChange::Value { stat, old, new, .. } => {
                Some((stat.to_string(), old.map(f64::to_bits), new.map(f64::to_bits)))
            }
            StatChange::Range { .. } => None,
        })
        .collect();
    out.sort();
    out
}

fn stats(app: &App, e: Entity) -> &Stats {
    app.world().get::<Stats>(e).unwrap()
}

fn messages_of(frame: &Frame, entity: Entity) -> Vec<(String, Option<u64>, Option<u64>)> {
    let mut out: Vec<_> = frame
        .changed
        .iter()
        .filter(|m| m.entity == entity)
        .map(|m| (m.stat.to_string(), m.old.map(f64::to_bits), m.new.map(f64::to_bits)))
        .collect();
    out.sort();
    out
}

#[test]
fn frames_of_equipping_match_the_engine_and_message_every_change() {
    // The plugin runs the JIT; the reference is the interpreter.
    let mut app = App::new();
    app.add_plugins(StatsPlugin::new(RPG).backend(Backend::Jit).watch(false));
    let engine = Engine::new(&Rules::load(RPG).unwrap(), Backend::Interpreter).unwrap();
    let people = [(16.0, 14.0, 11.0, 400.0), (12.0, 10.0, 9.0, 300.0), (8.0, 9.0, 12.0, 250.0)];
    let entities: Vec<Entity> = people
        .iter()
        .map(|&(s, v, l, h)| app.world_mut().spawn((StatActor::default(), character(s, v, l, h))).id())
        .collect();
    let expected = |i: usize, sword: bool| {
        let (s, v, l, h) = people[i];
        engine.evaluate(&actor(s, v, l, h, sword)).unwrap()
    };

    // Frame 1: the rules load and every character is evaluated; each value appears.
    let first = update(&mut app);
    assert_eq!(first.reloaded, vec![RulesReloaded { generation: 1, ok: true, diagnostics: Vec::new() }]);
    assert!(first.failed.is_empty());
    for (i, &e) in entities.iter().enumerate() {
        let snapshot = expected(i, false);
        assert_stats(stats(&app, e), &snapshot);
        let appeared = messages_of(&first, e);
        assert_eq!(appeared.len(), stats(&app, e).iter().count());
        assert!(appeared.iter().all(|(_, old, new)| old.is_none() && new.is_some()));
    }

    // Frame 2: nothing changed, nothing evaluated.
    let quiet = update(&mut app);
    assert!(quiet.changed.is_empty() && quiet.failed.is_empty() && quiet.reloaded.is_empty());

    // Frame 3: the knight equips the sword; only its stats change, exactly as the engine says.
    let knight = entities[0];
    app.world_mut().get_mut::<ModifierSources>(knight).unwrap().set("sword", sword());
    let equip = update(&mut app);
    assert_stats(stats(&app, knight), &expected(0, true));
    assert_eq!(messages_of(&equip, knight), value_changes(&expected(0, false), &expected(0, true)));
    assert_eq!(equip.changed.iter().filter(|m| m.entity != knight).count(), 0);
    let hp = equip.changed.iter().find(|m| &*m.stat == "hp_max").unwrap();
    assert_eq!((hp.old, hp.new), (Some(400.0), Some(440.0)));
    for (i, &e) in entities.iter().enumerate().skip(1) {
        assert_stats(stats(&app, e), &expected(i, false));
    }

    // Frame 4: unequipping is one removal, and it takes everything the sword gave.
    app.world_mut().get_mut::<ModifierSources>(knight).unwrap().remove("sword");
    let unequip = update(&mut app);
    assert_stats(stats(&app, knight), &expected(0, false));
    assert_eq!(messages_of(&unequip, knight), value_changes(&expected(0, true), &expected(0, false)));

    // A handle resolved once reads the same as a name.
    let handle = app.world().resource::<StatRules>().stat("max_health").unwrap();
    assert_eq!(stats(&app, knight).value(&handle), stats(&app, knight).get("max_health"));
    assert_eq!(stats(&app, knight).value(&handle), expected(0, false).get("max_health"));
}

#[test]
fn a_bad_actor_fails_with_a_message_and_keeps_its_values() {
    let mut app = App::new();
    app.add_plugins(StatsPlugin::new(RPG).backend(Backend::Interpreter).watch(false));
    let hero = app.world_mut().spawn((StatActor::named("hero"), character(16.0, 14.0, 11.0, 400.0))).id();
    let other = app.world_mut().spawn((StatActor::named("other"), character(12.0, 10.0, 9.0, 300.0))).id();
    update(&mut app);
    let before = app.world().get::<Stats>(hero).unwrap().snapshot().cloned().unwrap();

    // An unknown stat and a NaN, in one batch with a good actor.
    let typo = Modifiers::new().add("strenght", "FLAT", 1.0);
    app.world_mut().get_mut::<ModifierSources>(hero).unwrap().set("typo", typo);
    app.world_mut()
        .get_mut::<ModifierSources>(other)
        .unwrap()
        .set("nan", Modifiers::new().add("strength", "FLAT", f64::NAN));
    let frame = update(&mut app);
    assert_eq!(frame.failed.len(), 2, "{:?}", frame.failed);
    assert!(frame.failed[0].error.to_string().contains("strenght"), "{}", frame.failed[0].error);
    assert!(frame.changed.is_empty());
    let stats = app.world().get::<Stats>(hero).unwrap();
    assert_eq!(stats.snapshot(), Some(&before));
    assert!(stats.error().is_some());

    // Failed actors are not evaluated again until their input changes.
    assert!(update(&mut app).failed.is_empty());
    app.world_mut().get_mut::<ModifierSources>(hero).unwrap().remove("typo");
    let fixed = update(&mut app);
    assert!(fixed.failed.is_empty() && fixed.changed.is_empty());
    assert!(app.world().get::<Stats>(hero).unwrap().error().is_none());
}

/// A copy of the example game's rules (and the v3 core they import) in a fresh folder.
fn copy_rules(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("actorc-bevy-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for folder in ["rpg", "actor_core_v3"] {
        let from = Path::new("../rules").join(folder);
        let to = dir.join(folder);
        std::fs::create_dir_all(&to).unwrap();
        for f in std::fs::read_dir(&from).unwrap() {
            let f = f.unwrap();
            if f.path().extension().is_some_and(|e| e == "stat") {
                std::fs::copy(f.path(), to.join(f.file_name())).unwrap();
            }
        }
    }
    dir
}

/// Rewrites `file` with `from` replaced by `to`.
fn edit(file: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(file).unwrap();
    assert!(text.contains(from), "{from} not in {}", file.display());
    std::fs::write(file, text.replace(from, to)).unwrap();
}

const MAX_HEALTH: &str = "derived max_health = vitality * 10";

#[test]
fn a_reload_by_hand_re_evaluates_every_actor_and_a_broken_file_keeps_the_rules() {
    let dir = copy_rules("by-hand");
    let resources = dir.join("rpg/resources.stat");
    let mut app = App::new();
    app.add_plugins(StatsPlugin::new(dir.join("rpg")).backend(Backend::Interpreter).watch(false));
    let hero = app.world_mut().spawn((StatActor::default(), character(16.0, 14.0, 11.0, 400.0))).id();
    update(&mut app);
    let handle = app.world().resource::<StatRules>().stat("max_health").unwrap();
    let max_health = |app: &App| app.world().get::<Stats>(hero).unwrap().value(&handle);
    assert_eq!(max_health(&app), Some(752.0));

    // Vitality counts twice as much: 14 more vitality points' worth of health.
    edit(&resources, MAX_HEALTH, "derived max_health = vitality * 20");
    assert!(app.world_mut().resource_mut::<StatRules>().reload());
    let frame = update(&mut app);
    assert_eq!(frame.reloaded, vec![RulesReloaded { generation: 2, ok: true, diagnostics: Vec::new() }]);
    assert_eq!(max_health(&app), Some(892.0));
    let change = frame.changed.iter().find(|m| &*m.stat == "max_health").unwrap();
    assert_eq!((change.old, change.new), (Some(752.0), Some(892.0)));
    assert_eq!(app.world().get::<Stats>(hero).unwrap().generation(), 2);

    // A broken file: generation 2 keeps serving, the diagnostics say why.
    edit(&resources, "derived max_health = vitality * 20", "derived max_health = vitality * ");
    assert!(!app.world_mut().resource_mut::<StatRules>().reload());
    let frame = update(&mut app);
    assert_eq!(frame.reloaded.len(), 1);
    assert!(!frame.reloaded[0].ok && frame.reloaded[0].generation == 2);
    assert!(frame.reloaded[0].diagnostics[0].contains("resources.stat"), "{:?}", frame.reloaded[0]);
    assert!(frame.changed.is_empty());
    assert_eq!(max_health(&app), Some(892.0));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Runs frames until one writes a [`RulesReloaded`], for at most 30 seconds.
fn until_reloaded(app: &mut App) -> Frame {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(30) {
        let frame = update(app);
        if !frame.reloaded.is_empty() {
            return frame;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("no reload within 30 s");
}

#[test]
fn the_watcher_reloads_the_rules_while_the_app_runs() {
    let dir = copy_rules("watch");
    let resources = dir.join("rpg/resources.stat");
    let timing = WatchTiming { quiet: Duration::from_millis(50), ..WatchTiming::default() };
    let mut app = App::new();
    app.add_plugins(StatsPlugin::new(dir.join("rpg")).backend(Backend::Jit).watch_timing(timing));
    let hero = app.world_mut().spawn((StatActor::default(), character(16.0, 14.0, 11.0, 400.0))).id();
    assert!(update(&mut app).reloaded[0].ok);
    let max_health = |app: &App| app.world().get::<Stats>(hero).unwrap().get("max_health");
    assert_eq!(max_health(&app), Some(752.0));

    edit(&resources, MAX_HEALTH, "derived max_health = vitality * 20");
    let frame = until_reloaded(&mut app);
    assert_eq!(frame.reloaded, vec![RulesReloaded { generation: 2, ok: true, diagnostics: Vec::new() }]);
    assert_eq!(max_health(&app), Some(892.0));
    assert!(frame.changed.iter().any(|m| &*m.stat == "max_health" && m.new == Some(892.0)));

    // A save with an error: reported, and the last good rules keep serving.
    edit(&resources, "derived max_health = vitality * 20", "derived max_health = vitality * ");
    let frame = until_reloaded(&mut app);
    assert!(!frame.reloaded[0].ok && frame.reloaded[0].generation == 2, "{:?}", frame.reloaded);
    assert_eq!(max_health(&app), Some(892.0));
    assert_eq!(app.world().resource::<StatRules>().generation(), 2);
    drop(app);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_reload_that_removes_a_stat_reports_it_and_fails_the_actors_naming_it() {
    let dir = copy_rules("removed");
    let resources = dir.join("rpg/resources.stat");
    let mut app = App::new();
    app.add_plugins(StatsPlugin::new(dir.join("rpg")).backend(Backend::Interpreter).watch(false));
    let plain = app.world_mut().spawn((StatActor::default(), character(16.0, 14.0, 11.0, 400.0))).id();
    let bag = Modifiers::new().add("carry_capacity", "FLAT", 20.0);
    let carrier =
        app.world_mut().spawn((StatActor::default(), character(16.0, 14.0, 11.0, 400.0).with("bag", bag))).id();
    update(&mut app);
    let handle = app.world().resource::<StatRules>().stat("carry_capacity").unwrap();
    assert_eq!(stats(&app, plain).value(&handle), Some(88.0));

    let removed = "derived carry_capacity = 40 + strength * 3 + endurance * 1.5\n  in 10 .. 5000\n  pipeline gear;";
    edit(&resources, removed, "");
    assert!(app.world_mut().resource_mut::<StatRules>().reload());
    let frame = update(&mut app);
    let reload = &frame.reloaded[0];
    assert!(reload.ok && reload.generation == 2 && reload.diagnostics == ["stat `carry_capacity` was removed"]);
    // The stat is gone from the plain actor's stats, and said so; the other actor fails.
    assert_eq!(messages_of(&frame, plain), vec![("carry_capacity".to_string(), Some(88f64.to_bits()), None)]);
    assert_eq!(stats(&app, plain).value(&handle), None);
    assert_eq!(frame.failed.len(), 1);
    assert_eq!(frame.failed[0].entity, carrier);
    assert!(frame.failed[0].error.to_string().contains("carry_capacity"), "{}", frame.failed[0].error);
    let _ = std::fs::remove_dir_all(&dir);
}
