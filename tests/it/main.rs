//! The one integration-test binary; each module covers one stage or feature.

mod cache;
mod check;
mod determinism;
mod docs;
mod eval;
mod explain;
mod fuzz_replay;
mod golden;
mod jit;
mod json_ingest;
mod props;
mod reload;
mod run;
mod syntax;
