//! actorc in a Bevy app: the rules as a resource, live actors as entities, their stats as a
//! component, and messages when stats change or the rules reload.
//!
//! - [`StatsPlugin`] loads a rule set into [`StatRules`] and, with `watch` on, hot-reloads it
//!   while the app runs ([`RulesReloaded`] says how each reload went).
//! - An entity with [`StatActor`] is a live actor; its [`ModifierSources`] hold its modifiers
//!   by source (`"sword"`, `"blessing"`), so unequipping is one `remove`.
//! - Once per frame, in [`StatsSet::Evaluate`] (in `PostUpdate`), the actors whose sources
//!   changed — or all of them after a reload — are evaluated in one batch; their values go
//!   into [`Stats`], each changed value into a [`StatChanged`] message, each failure into a
//!   [`StatsFailed`] message.
//!
//! Invariant: no system of the plugin panics; a bad actor or a broken rule file becomes a
//! message and the last good values and rules stay.
//!
//! ```standalone_crate
//! # // Doc tests run in bevy/; the sample runs from the repository's root.
//! # std::env::set_current_dir("..").unwrap();
//! use actorc_bevy::{ModifierSources, Modifiers, StatActor, StatChanged, Stats, StatsPlugin};
//! use bevy_app::App;
//! use bevy_ecs::prelude::*;
//!
//! let mut app = App::new();
//! app.add_plugins(StatsPlugin::new("rules/rpg"));
//! let class = Modifiers::new().add("hp_max", "FLAT", 400.0).add("level", "FLAT", 10.0);
//! let hero = app.world_mut().spawn((StatActor::default(), ModifierSources::default().with("class", class))).id();
//! app.update();
//! assert_eq!(app.world().get::<Stats>(hero).unwrap().get("hp_max"), Some(400.0));
//!
//! // Equip a sword: one source more; what it changed arrives as messages.
//! let sword = Modifiers::new().add("hp_max", "FLAT", 40.0);
//! app.world_mut().get_mut::<ModifierSources>(hero).unwrap().set("sword", sword);
//! app.update();
//! assert_eq!(app.world().get::<Stats>(hero).unwrap().get("hp_max"), Some(440.0));
//! let messages = app.world().resource::<Messages<StatChanged>>();
//! let hp = messages.iter_current_update_messages().find(|m| &*m.stat == "hp_max").unwrap();
//! assert_eq!((hp.old, hp.new), (Some(400.0), Some(440.0)));
//! ```
#![forbid(unsafe_code)]

mod components;
mod evaluate;
mod plugin;
mod rules;
mod state;

pub use components::{ModifierSources, Modifiers, StatActor, StatHandle, Stats};
pub use evaluate::{StatChanged, StatsFailed};
pub use plugin::{StatsPlugin, StatsSet};
pub use rules::{RulesReloaded, StatRules};

/// What a game names when it uses this crate.
pub use actorc::input::{CapContribution, Contribution};
pub use actorc::{ActorError, Backend};
