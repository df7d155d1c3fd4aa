//! The batch driver behind `actorc run`: actor documents in, one record per actor out.
//!
//! - [`DocumentReader`] is the one reader of actor input over any [`BufRead`](std::io::BufRead): a single JSON
//!   document, or NDJSON lines (blank lines skipped, each line numbered); [`InputForm`] says
//!   which, from the file name or the first line.
//! - [`run`] evaluates a whole input into a writer: NDJSON in chunks (parsed and ingested in
//!   parallel, evaluated as one batch), one [`Record`] or [`ValuesRecord`] per line, with a
//!   [`Progress`] callback per chunk.
//! - [`Session`] is the watch loop's state: the actors read once, evaluated through a result
//!   [`Cache`](crate::cache::Cache) under each [`Generation`](crate::reload::Generation), writing every record or only what changed.
//!
//! Invariant: a bad document costs only its actor (an error record in its place); only
//! reading the input or writing the output ends a run early. Nothing here prints: the
//! command line renders progress, summaries and errors.

mod evaluate;
mod read;
mod record;
mod session;

pub use evaluate::{Output, Progress, RunError, RunOptions, Summary, eval_line, run};
pub use read::{Document, DocumentReader, InputForm, PickError, pick_actor};
pub use record::{Record, SelectError, Selection, Values, ValuesRecord, record, select, select_known};
pub use session::{ChangeFormat, Pass, Session, SessionActorView, SessionOptions, Source};
