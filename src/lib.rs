//! actorc: a declarative stat-rule compiler and interpreter for games.
//!
//! Stages: [`load`] (files, imports) → [`syntax`] (parse) → [`check`] → [`ir`] (lower) →
//! [`eval`] (the reference interpreter). [`Rules`] and [`Engine`] are the façade.
//! [`explain`] (why a value is what it is, from the interpreter's own trace) and [`graph`]
//! (the stat dependency graph) are the tools for designers.
//!
//! ```
//! use actorc::{Actor, Backend, Engine, Rules};
//!
//! let rules = Rules::load("rules/actor_core_v3").expect("rules check clean");
//! let engine = Engine::new(&rules, Backend::Interpreter).unwrap();
//! let actor: Actor = serde_json::from_str(r#"[{
//!     "primary": [
//!         {"dimension": "attack_power", "bucket": "FLAT", "value": 100, "system": "race"},
//!         {"dimension": "attack_power", "bucket": "MULT", "value": 0.2, "system": "items"},
//!         {"dimension": "attack_power", "bucket": "MULT", "value": 0.1, "system": "effects"}
//!     ],
//!     "derived": [], "caps": [], "meta": {"system": "items"}
//! }]"#).unwrap();
//! let snapshot = engine.evaluate(&actor).unwrap();
//! assert_eq!(snapshot.get("attack_power"), Some(132.0));
//! let json = serde_json::to_value(&snapshot).unwrap();
//! assert_eq!(json["CapsUsed"]["attack_power"]["Max"], 1000000.0);
//! let results = engine.evaluate_batch(&[actor.clone(), actor]);
//! assert_eq!(results.len(), 2);
//! ```
#![deny(unsafe_code)]

pub mod batch;
pub mod cache;
pub mod check;
pub mod cli;
pub mod cost;
pub mod diag;
pub mod engine;
pub mod eval;
pub mod explain;
pub mod graph;
pub mod ingest;
pub mod input;
pub mod ir;
#[allow(unsafe_code)]
pub mod jit;
pub mod load;
pub mod num;
pub mod reload;
pub mod rules;
pub mod snapshot;
pub mod source;
pub mod syntax;

pub use engine::{ActorError, Backend, Engine, EngineError, PreparedBatch, ValueTable};
pub use input::{Actor, ModifierPack, SubsystemOutput};
pub use rules::{LoadError, Rules};
pub use snapshot::Snapshot;
