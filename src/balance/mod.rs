//! Balance tests (`actorc test`): a `*.stat-test.toml` file names a rule set, actors, and
//! what chosen stats of those actors must be; [`run_file`] checks the file, evaluates each
//! case with the JIT and the interpreter, and returns the results as data ([`FileResult`]).
//! The format is described in `docs/testing.md`.
//!
//! Invariant: a test file with any error (its TOML, a path, an unknown actor or stat, a bad
//! expectation, rules that do not check) runs no case; every such error is a located
//! [`Diagnostic`](crate::Diagnostic). A case passes only when the engines agree bit for bit
//! and the interpreter's values meet every expectation.

mod expect;
mod file;
mod runner;

pub use expect::{Expect, FORMS};
pub use runner::{CaseResult, Engines, Failure, FileResult, Options, run_file};

use std::path::{Path, PathBuf};

/// How a balance test file's name ends.
pub const SUFFIX: &str = ".stat-test.toml";

/// Why the paths given name no test files.
#[derive(Debug)]
pub enum FindError {
    /// Neither a file nor a folder.
    Missing(PathBuf),
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A folder without test files.
    Empty(PathBuf),
}

impl std::fmt::Display for FindError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FindError::Missing(p) => write!(f, "{} does not exist", p.display()),
            FindError::Unreadable { path, source } => write!(f, "cannot read {}: {source}", path.display()),
            FindError::Empty(p) => write!(f, "{} holds no *{SUFFIX} files", p.display()),
        }
    }
}

impl std::error::Error for FindError {}

/// The test files of `paths`: a file as given, a folder's `*.stat-test.toml` files and its
/// subfolders' (not hidden ones; each folder once however links loop), sorted.
pub fn find_test_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, FindError> {
    let mut out = Vec::new();
    for path in paths {
        if path.is_file() {
            out.push(path.clone());
        } else if path.is_dir() {
            let found = tests_in(path).map_err(|source| FindError::Unreadable { path: path.clone(), source })?;
            if found.is_empty() {
                return Err(FindError::Empty(path.clone()));
            }
            out.extend(found);
        } else {
            return Err(FindError::Missing(path.clone()));
        }
    }
    Ok(out)
}

fn tests_in(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    crate::load::files_in(dir, |p| p.is_file() && p.to_string_lossy().ends_with(SUFFIX))
}
