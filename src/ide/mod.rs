//! The analysis behind an editor, free of any protocol: a [`Workspace`] holds the open
//! documents' texts (overriding disk) and the rule sets they belong to, recomputes them on
//! every change with the same loader and checker as `actorc check`, and answers questions
//! as plain data with byte offsets: diagnostics, hover, definition, references, rename,
//! completion, inlay hints, semantic tokens, document symbols and formatting.
//! `cli/lsp.rs` translates these to the Language Server Protocol; another front end could
//! use them as they are.
//!
//! Invariant: no answer panics or fails on any text or position; a position outside a file
//! or in a file of no rule set gets an empty answer.

mod complete;
mod hover;
mod index;
mod lex;
mod project;
mod tokens;
mod workspace;

pub use complete::Completion;
pub use hover::{Hover, function_doc};
pub use index::{Namespace, Occurrence, SymbolKind};
pub use lex::{KEYWORDS, Lex, Lexeme, lex};
pub use project::{PROJECT_FILE, Project, Sample};
pub use tokens::{DocSymbol, Token, TokenKind};
pub use workspace::{FileRange, InlayHint, Problem, Related, TextEdit, Workspace};

#[cfg(test)]
mod tests;
