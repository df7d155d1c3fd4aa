//! actorc: a declarative stat-rule compiler and interpreter for games.
//!
//! - [`Rules`] loads a rule set: [`load`] (files, imports) → [`syntax`] (parse) → check →
//!   lower into the [`ir`]. [`rules::compile`] gives every [`Diagnostic`] instead.
//! - [`Engine`] evaluates a [`Batch`] — [`Actor`]s ([`input`]), a [`PreparedBatch`] or a kept
//!   [`Layout`] — into [`Snapshot`]s or a [`ValueTable`], with the reference interpreter or
//!   the Cranelift JIT ([`Backend`]).
//! - [`run`] runs a whole input document into records (what `actorc run` does);
//!   [`cache`] memoizes results; [`reload`] publishes new rule generations.
//! - [`explain`] says why a value is what it is, from the interpreter's own trace; [`graph`]
//!   draws the stat dependency graph.
//! - [`balance`] runs balance tests: expected values of chosen stats, on both engines.
//! - [`ide`] answers an editor's questions (diagnostics, hover, navigation, …) as data;
//!   `actorc lsp` serves them.
//!
//! Features: `cli` (default) builds the command line; `watch` (in `cli`) adds
//! `reload::watch`.
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
#![warn(clippy::undocumented_unsafe_blocks)]

// The stages and their data (their layers: ARCHITECTURE.md).
pub(crate) mod check;
pub mod cost;
pub mod diag;
mod engine;
pub(crate) mod eval;
pub(crate) mod ingest;
pub mod input;
pub mod ir;
mod jit;
pub mod load;
pub(crate) mod lower;
pub mod num;
pub mod rules;
pub mod run;
mod snapshot;
pub mod source;
pub mod syntax;

// Built on the engine.
pub mod balance;
pub mod cache;
pub mod explain;
pub mod graph;
pub mod ide;
pub mod live;
pub mod reload;

// The command line.
#[cfg(feature = "cli")]
pub mod cli;

/// The README's Rust examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeExamples;

/// docs/embedding.md's Rust examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../docs/embedding.md")]
struct EmbeddingExamples;

pub use diag::Diagnostic;
pub use engine::{ActorError, Backend, Batch, Engine, EngineError, Layout, PreparedBatch, ValueTable};
pub use eval::{EvalError, Phase};
pub use ingest::Prepared;
pub use input::{Actor, InputError, InputLimits, ModifierPack, SubsystemOutput};
pub use live::LiveActor;
pub use load::LoadOptions;
pub use rules::{LoadError, Rules};
pub use snapshot::{Entry, Snapshot, StatChange};
