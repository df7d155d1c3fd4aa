//! Parse: `.stat` text → [`Ast`] with spans. pest types never leave this module.
//!
//! Invariant: parsing never panics and never recurses deeper than the nesting limit; every
//! problem becomes a [`Diagnostic`](crate::diag::Diagnostic) with a span.

mod ast;
mod format;
mod parse;
mod trivia;

pub use ast::*;
pub use format::{WIDTH, format_ast, format_file};
pub use parse::{ParseLimits, parse_file};
