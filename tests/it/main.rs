//! The one integration-test binary; each module covers one stage or feature.

mod check;
mod eval;
mod golden;
mod props;
mod run;
mod syntax;
