//! A live actor in a game loop: handles resolved once, modifiers grouped by source, and the
//! stats that changed printed after each evaluation, with the source that changed them.
//! The save game is the actor JSON, and loads to the same values.
//!
//! Run: `cargo run --example live` (prints `hp_max 400 → 440 (sword)` among others).

use actorc::live::{Change, Modifier};
use actorc::{Backend, Engine, LiveActor, Rules};
use std::io::Write;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    run(&mut std::io::stdout())
}

/// Prints one line per change: `stat old → new (source)`.
fn print_changes(out: &mut dyn Write, hero: &LiveActor, changes: &[Change]) -> std::io::Result<()> {
    for c in changes {
        let show = |v: Option<f64>| v.map_or("–".to_string(), |v| v.to_string());
        let source = c.cause.and_then(|s| hero.source_name(s)).unwrap_or("several sources");
        let stat = hero.stat_name(c.stat);
        writeln!(out, "{stat} {} → {} ({source})", show(c.old_value()), show(c.new_value()))?;
    }
    Ok(())
}

pub fn run(out: &mut dyn Write) -> Result<(), Box<dyn std::error::Error>> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let rules = Rules::load(root.join("rules/actor_core_v3"))?;
    let engine = Engine::new(&rules, Backend::Interpreter)?;

    // Once, at start-up: names to handles.
    let hp_max = engine.stat("hp_max")?;
    let attack = engine.stat("attack_power")?;
    let (flat, mult) = (engine.bucket("FLAT")?, engine.bucket("MULT")?);

    let mut hero = LiveActor::new(&engine);
    let race = hero.source("race");
    let sword = hero.source("sword");
    hero.set_source(race, &[Modifier::new(hp_max, flat, 400.0), Modifier::new(attack, flat, 50.0)], &[])?;
    writeln!(out, "-- spawn")?;
    let changes = hero.evaluate()?.to_vec();
    print_changes(out, &hero, &changes)?;

    // Equip the sword: one call replaces everything it gives.
    hero.set_source(sword, &[Modifier::new(hp_max, flat, 40.0), Modifier::new(attack, mult, 0.5)], &[])?;
    writeln!(out, "-- equip the sword")?;
    let changes = hero.evaluate()?.to_vec();
    print_changes(out, &hero, &changes)?;

    // A save game stores inputs, never outputs.
    let save = hero.to_json();
    let mut loaded = LiveActor::from_json(&engine, &save)?;
    loaded.evaluate()?;
    assert_eq!(loaded.snapshot(), hero.snapshot());

    // Unequip: one call, no stale bonus.
    hero.remove_source(sword)?;
    writeln!(out, "-- unequip the sword")?;
    let changes = hero.evaluate()?.to_vec();
    print_changes(out, &hero, &changes)?;
    writeln!(out, "saved: {save}")?;
    Ok(())
}
