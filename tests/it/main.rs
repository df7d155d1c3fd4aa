//! The one integration-test binary; each module covers one stage or feature.

mod cache;
mod check;
mod determinism;
mod eval;
mod explain;
mod fuzz_replay;
mod golden;
mod jit;
mod json_ingest;
mod layers;
mod props;
mod reload;
mod run;
mod syntax;
