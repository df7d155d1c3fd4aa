//! A headless Bevy app with actorc's stats: three characters of the example game
//! (`rules/rpg`); a knight equips a sword, then unequips it, and every stat change prints as
//! a line. Run from the repository's root: `cargo run -p actorc_bevy --example headless`.

use actorc_bevy::{
    Backend, ModifierSources, Modifiers, RulesReloaded, StatActor, StatChanged, StatRules, Stats, StatsFailed,
    StatsPlugin, StatsSet,
};
use bevy_app::{App, PostUpdate, Startup, Update};
use bevy_ecs::prelude::*;

/// The frame count, which the script below reads.
#[derive(Resource, Default)]
struct Frame(u32);

/// What the last change of equipment was, to label the change lines.
#[derive(Resource, Default)]
struct Cause(&'static str);

#[derive(Component)]
struct Knight;

/// A character of the example game: its race and class.
pub fn character(strength: f64, vitality: f64, level: f64, hp: f64) -> ModifierSources {
    ModifierSources::default()
        .with("race", Modifiers::new().add("strength", "FLAT", strength).add("vitality", "FLAT", vitality))
        .with("class", Modifiers::new().add("level", "FLAT", level).add("hp_max", "FLAT", hp))
}

/// The sword: more strength, attack power and a little health.
pub fn sword() -> Modifiers {
    Modifiers::new().add("strength", "FLAT", 8.0).add("attack_power", "FLAT", 40.0).add("hp_max", "FLAT", 40.0)
}

fn main() {
    let mut app = App::new();
    // The example runs from the repository's root or from bevy/.
    let rules = if std::path::Path::new("rules/rpg").exists() { "rules/rpg" } else { "../rules/rpg" };
    app.add_plugins(StatsPlugin::new(rules).backend(Backend::Jit).watch(false))
        .init_resource::<Frame>()
        .init_resource::<Cause>()
        .add_systems(Startup, spawn)
        .add_systems(Update, equipment)
        .add_systems(PostUpdate, report.after(StatsSet::Evaluate));
    // A game would use bevy_app's ScheduleRunnerPlugin; six frames are enough here.
    for _ in 0..6 {
        app.update();
        app.world_mut().resource_mut::<Frame>().0 += 1;
    }
    let world = app.world_mut();
    let hp = world.resource::<StatRules>().stat("max_health");
    let mut knights = world.query_filtered::<&Stats, With<Knight>>();
    for stats in knights.iter(world) {
        if let Some(v) = hp.as_ref().and_then(|h| stats.value(h)) {
            println!("the knight ends with {v} max_health");
        }
    }
}

fn spawn(mut commands: Commands) {
    commands.spawn((StatActor::named("knight"), Knight, character(16.0, 14.0, 11.0, 400.0)));
    commands.spawn((StatActor::named("ranger"), character(12.0, 10.0, 9.0, 300.0)));
    commands.spawn((StatActor::named("mage"), character(8.0, 9.0, 12.0, 250.0)));
}

/// Frame 2 equips the knight's sword, frame 4 takes it off: one source each time.
fn equipment(frame: Res<Frame>, mut cause: ResMut<Cause>, mut knights: Query<&mut ModifierSources, With<Knight>>) {
    for mut sources in &mut knights {
        match frame.0 {
            2 => {
                sources.set("sword", sword());
                cause.0 = "sword";
            }
            4 => {
                sources.remove("sword");
                cause.0 = "sword removed";
            }
            _ => {}
        }
    }
}

/// Prints the changes of this frame (the first frame's, when every stat appears, as a count).
fn report(
    frame: Res<Frame>,
    cause: Res<Cause>,
    names: Query<&StatActor>,
    mut changed: MessageReader<StatChanged>,
    mut failed: MessageReader<StatsFailed>,
    mut reloaded: MessageReader<RulesReloaded>,
) {
    for r in reloaded.read() {
        println!("frame {}: rules generation {} (ok: {})", frame.0, r.generation, r.ok);
    }
    let name = |e: Entity| names.get(e).ok().and_then(|a| a.id.clone()).unwrap_or_default();
    if frame.0 == 0 {
        println!("frame 0: {} values of {} characters", changed.len(), names.iter().len());
        changed.clear();
    }
    let text = |v: Option<f64>| v.map_or("none".to_string(), |v| v.to_string());
    for c in changed.read() {
        let (old, new) = (text(c.old), text(c.new));
        println!("frame {}: {} {} {old} → {new} ({})", frame.0, name(c.entity), c.stat, cause.0);
    }
    for f in failed.read() {
        println!("frame {}: {} failed: {}", frame.0, name(f.entity), f.error);
    }
}
