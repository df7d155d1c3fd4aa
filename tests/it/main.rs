//! The one integration-test binary; each module covers one stage or feature.

// Shared with the fuzz crate (its checks and the random rule-set generator) and with the
// benchmarks (the actor workload).
#[path = "../../fuzz/src/lib.rs"]
mod fuzz_logic;
#[path = "../../benches/common/workload.rs"]
mod workload;

#[cfg(feature = "cli")]
mod balance;
mod cache;
mod common;
// The command line (and its text rendering of diagnostics) needs the `cli` feature.
#[cfg(feature = "cli")]
mod check;
#[cfg(feature = "cli")]
mod determinism;
mod docs;
mod eval;
mod explain;
mod fmt;
mod fuzz_generator;
mod fuzz_replay;
mod golden;
#[cfg(feature = "cli")]
mod init;
mod jit;
mod json_ingest;
mod language;
mod layers;
mod live;
#[cfg(feature = "cli")]
mod lsp;
mod props;
mod reload;
#[cfg(feature = "cli")]
mod run;
#[cfg(feature = "cli")]
mod serve;
mod situation_props;
mod syntax;
#[cfg(feature = "cli")]
mod tutorial;
