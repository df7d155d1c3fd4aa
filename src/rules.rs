//! [`Rules`]: the façade that takes a rule-set path through load → check → lower.

use crate::check::check;
use crate::diag::{self, Diagnostic};
use crate::ir::Ir;
use crate::load::{LoadOptions, RootError, load};
use crate::lower::lower;
use crate::source::SourceMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A checked and lowered rule set, ready for an [`Engine`](crate::Engine).
#[derive(Debug, Clone)]
pub struct Rules {
    pub ir: Arc<Ir>,
    pub sources: Arc<SourceMap>,
    /// Warnings found while checking (errors prevent a `Rules` from existing).
    pub warnings: Vec<Diagnostic>,
}

/// What checking a rule set found: sources, every diagnostic, and the IR when there were no errors.
#[derive(Debug)]
pub struct Analysis {
    pub sources: SourceMap,
    pub diagnostics: Vec<Diagnostic>,
    pub ir: Option<Ir>,
}

impl Analysis {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Why a rule set could not be loaded.
#[derive(Debug)]
pub enum LoadError {
    /// A path of the rule set could not be read.
    Io(RootError),
    /// The rules have errors; render them with `diag::render` (or [`diag::render_plain`]).
    Invalid { sources: SourceMap, diagnostics: Vec<Diagnostic> },
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LoadError::Io(e) => e.fmt(f),
            #[cfg(feature = "cli")]
            LoadError::Invalid { sources, diagnostics } => f.write_str(&diag::render(sources, diagnostics, false)),
            #[cfg(not(feature = "cli"))]
            LoadError::Invalid { sources, diagnostics } => f.write_str(&diag::render_plain(sources, diagnostics)),
        }
    }
}

impl std::error::Error for LoadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LoadError::Io(e) => Some(e),
            LoadError::Invalid { .. } => None,
        }
    }
}

/// Load, check and (when clean) lower the rule set at `path`.
pub fn compile(paths: &[PathBuf], opts: &LoadOptions) -> Result<Analysis, RootError> {
    let loaded = load(paths, opts)?;
    Ok(compile_loaded(loaded))
}

/// [`compile`], reading files through `src` (e.g. an in-memory [`crate::load::Overlay`]).
pub fn compile_with(
    paths: &[PathBuf],
    opts: &LoadOptions,
    src: &dyn crate::load::SourceProvider,
) -> Result<Analysis, RootError> {
    Ok(compile_loaded(crate::load::load_with(paths, opts, src)?))
}

/// Checks and (when clean) lowers `text` as the one rule file `path`, in memory: nothing is
/// read from disk, so imports resolve to nothing (E0006); bytes that are not UTF-8 give E0007.
pub fn compile_str(path: impl AsRef<Path>, text: impl AsRef<[u8]>) -> Analysis {
    let mut loaded = crate::load::Loaded::default();
    let opts = LoadOptions::default();
    let file = crate::load::parse_bytes(&mut loaded, path.as_ref(), text.as_ref().to_vec(), &opts);
    loaded.files.push(file);
    compile_loaded(loaded)
}

pub fn compile_loaded(loaded: crate::load::Loaded) -> Analysis {
    let mut diagnostics = loaded.diags;
    let (checked, check_diags) = check(&loaded.files);
    diagnostics.extend(check_diags);
    diag::sort(&mut diagnostics);
    let ir = if diagnostics.iter().any(Diagnostic::is_error) { None } else { Some(lower(&checked, &loaded.sources)) };
    Analysis { sources: loaded.sources, diagnostics, ir }
}

impl Rules {
    /// Loads a rule set from a `.stat` file or a folder of them.
    pub fn load(path: impl AsRef<Path>) -> Result<Rules, LoadError> {
        Rules::load_with(path.as_ref(), &LoadOptions::default())
    }

    pub fn load_with(path: &Path, opts: &LoadOptions) -> Result<Rules, LoadError> {
        Rules::from_analysis(compile(&[path.to_path_buf()], opts).map_err(LoadError::Io)?)
    }

    /// The rules of a clean analysis (warnings kept), or its diagnostics.
    pub fn from_analysis(analysis: Analysis) -> Result<Rules, LoadError> {
        let Analysis { sources, diagnostics, ir } = analysis;
        match ir {
            Some(ir) => Ok(Rules { ir: Arc::new(ir), sources: Arc::new(sources), warnings: diagnostics }),
            None => Err(LoadError::Invalid { sources, diagnostics }),
        }
    }
}
