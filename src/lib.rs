//! actorc: a declarative stat-rule compiler and interpreter for games.
//!
//! Stages: [`load`] (files, imports) → [`syntax`] (parse) → [`check`] → [`ir`] (lower) →
//! [`eval`] (the reference interpreter). [`Rules`] and [`Engine`] are the façade.
#![deny(unsafe_code)]

pub mod check;
pub mod cli;
pub mod diag;
pub mod engine;
pub mod eval;
pub mod ingest;
pub mod input;
pub mod ir;
pub mod load;
pub mod num;
pub mod rules;
pub mod snapshot;
pub mod source;
pub mod syntax;

pub use engine::{ActorError, Backend, Engine, EngineError, PreparedBatch};
pub use input::{Actor, ModifierPack, SubsystemOutput};
pub use rules::{LoadError, Rules};
pub use snapshot::Snapshot;
