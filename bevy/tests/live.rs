//! What the plugin's live actors take beyond the basics — tags, priorities, the `Derived`
//! section, caps with a realm and without a scope, `requires` and `stack` (the `Actor`
//! path) — against `Engine::evaluate` of the equivalent actor; each change's source; and a
//! frame that sets a good and a bad source at once.

use actorc::input::{CapContribution, Contribution, Meta, Stack, SubsystemOutput};
use actorc::{Actor, Backend, Engine, Rules};
use actorc_bevy::{ModifierSources, Modifiers, StatActor, StatChanged, Stats, StatsFailed, StatsPlugin};
mod common;

use bevy_app::App;
use bevy_ecs::prelude::*;
use common::assert_stats;

const RPG: &str = "../rules/rpg";

fn contribution(stat: &str, value: f64, priority: Option<i64>) -> Contribution {
    Contribution { dimension: stat.into(), bucket: "FLAT".into(), value, priority, ..Contribution::default() }
}

fn cap(stat: &str, value: f64, scope: Option<&str>, realm: Option<&str>) -> CapContribution {
    CapContribution {
        dimension: stat.into(),
        mode: "BASELINE".into(),
        kind: "max".into(),
        value,
        scope: scope.map(Into::into),
        realm: realm.map(Into::into),
        ..CapContribution::default()
    }
}

/// The equivalent actor: one subsystem per source, every `system` its name.
fn actor_of(tags: &[&str], sources: &ModifierSources) -> Actor {
    let subsystems = sources
        .iter()
        .map(|(name, m)| {
            let own = |c: &Contribution| Contribution { system: name.into(), ..c.clone() };
            SubsystemOutput {
                primary: m.primary.iter().map(own).collect(),
                derived: m.derived.iter().map(own).collect(),
                caps: m.caps.iter().map(|c| CapContribution { system: name.into(), ..c.clone() }).collect(),
                context: None,
                meta: Meta { system: name.into(), ..Meta::default() },
            }
        })
        .collect();
    Actor { id: None, version: 1, subsystems, tags: tags.iter().map(|&t| t.into()).collect() }
}

fn frame(app: &mut App) -> (Vec<StatChanged>, Vec<StatsFailed>) {
    app.update();
    let w = app.world();
    (
        w.resource::<Messages<StatChanged>>().iter_current_update_messages().cloned().collect(),
        w.resource::<Messages<StatsFailed>>().iter_current_update_messages().cloned().collect(),
    )
}

fn base() -> ModifierSources {
    let mut class = Modifiers::new().add("level", "FLAT", 10.0).add("vitality", "FLAT", 12.0);
    class.primary.push(contribution("hp_max", 400.0, Some(5)));
    class.derived.push(contribution("strength", 14.0, Some(-2)));
    let caps =
        Modifiers::new().cap(cap("hp_max", 420.0, Some("REALM"), Some("eu"))).cap(cap("strength", 30.0, None, None));
    ModifierSources::default().with("class", class).with("caps", caps)
}

#[test]
fn live_inputs_match_the_engine_and_changes_name_their_source() {
    for backend in [Backend::Interpreter, Backend::Jit] {
        let mut app = App::new();
        app.add_plugins(StatsPlugin::new(RPG).backend(backend).watch(false));
        let engine = Engine::new(&Rules::load(RPG).unwrap(), Backend::Interpreter).unwrap();
        let tags = ["low_life"];
        let actor = StatActor { id: None, tags: tags.iter().map(|t| t.to_string()).collect() };
        let hero = app.world_mut().spawn((actor, base())).id();
        let other = app.world_mut().spawn((StatActor::default(), base())).id();
        let (_, failed) = frame(&mut app);
        assert!(failed.is_empty(), "{failed:?}");
        assert_stats(app.world().get::<Stats>(hero).unwrap(), &engine.evaluate(&actor_of(&tags, &base())).unwrap());

        // A ring: its changes name it; the other actor is untouched.
        let mut sources = base();
        sources.set("ring", Modifiers::new().add("vitality", "FLAT", 3.0));
        app.world_mut().get_mut::<ModifierSources>(hero).unwrap().set("ring", sources.get("ring").unwrap().clone());
        let (changed, failed) = frame(&mut app);
        assert!(failed.is_empty());
        assert_stats(app.world().get::<Stats>(hero).unwrap(), &engine.evaluate(&actor_of(&tags, &sources)).unwrap());
        assert!(!changed.is_empty() && changed.iter().all(|m| m.entity == hero));
        assert!(changed.iter().all(|m| m.source.as_deref() == Some("ring")), "{changed:?}");
        assert!(changed.iter().any(|m| &*m.stat == "max_health"));

        // `requires` and `stack`: that entity alone is evaluated from an `Actor` value.
        let mut frenzy = Modifiers::new();
        frenzy.primary.push(Contribution {
            requires: vec!["low_life".into()],
            stack: Some(Box::new(Stack::Group("frenzy".into()))),
            ..contribution("strength", 5.0, None)
        });
        sources.set("frenzy", frenzy.clone());
        app.world_mut().get_mut::<ModifierSources>(hero).unwrap().set("frenzy", frenzy);
        let (changed, failed) = frame(&mut app);
        assert!(failed.is_empty(), "{failed:?}");
        assert_stats(app.world().get::<Stats>(hero).unwrap(), &engine.evaluate(&actor_of(&tags, &sources)).unwrap());
        assert!(changed.iter().any(|m| &*m.stat == "strength"));

        // And back to a live actor when it goes.
        sources.remove("frenzy");
        app.world_mut().get_mut::<ModifierSources>(hero).unwrap().remove("frenzy");
        frame(&mut app);
        assert_stats(app.world().get::<Stats>(hero).unwrap(), &engine.evaluate(&actor_of(&tags, &sources)).unwrap());
        assert_stats(app.world().get::<Stats>(other).unwrap(), &engine.evaluate(&actor_of(&[], &base())).unwrap());
    }
}

#[test]
fn a_good_and_a_bad_source_in_one_frame_fail_together_until_the_bad_one_goes() {
    let mut app = App::new();
    app.add_plugins(StatsPlugin::new(RPG).backend(Backend::Interpreter).watch(false));
    let engine = Engine::new(&Rules::load(RPG).unwrap(), Backend::Interpreter).unwrap();
    let hero = app.world_mut().spawn((StatActor::named("hero"), base())).id();
    frame(&mut app);
    let before = app.world().get::<Stats>(hero).unwrap().snapshot().cloned().unwrap();

    let sword = Modifiers::new().add("strength", "FLAT", 8.0);
    let bad_bucket = Modifiers::new().add("strength", "NO_SUCH_BUCKET", 1.0);
    let mut sources = app.world_mut().get_mut::<ModifierSources>(hero).unwrap();
    sources.set("sword", sword.clone());
    sources.set("bad", bad_bucket);
    let (changed, failed) = frame(&mut app);
    assert_eq!(failed.len(), 1);
    assert!(failed[0].error.to_string().contains("NO_SUCH_BUCKET"), "{}", failed[0].error);
    assert!(changed.is_empty());
    assert_eq!(app.world().get::<Stats>(hero).unwrap().snapshot(), Some(&before));

    app.world_mut().get_mut::<ModifierSources>(hero).unwrap().remove("bad");
    let (changed, failed) = frame(&mut app);
    assert!(failed.is_empty());
    assert_stats(
        app.world().get::<Stats>(hero).unwrap(),
        &engine.evaluate(&actor_of(&[], &base().with("sword", sword))).unwrap(),
    );
    let strength = changed.iter().find(|m| &*m.stat == "strength").unwrap();
    assert_eq!(strength.source.as_deref(), Some("sword"));
}
