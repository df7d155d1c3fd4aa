//! [`Workspace`]: open documents over disk, the rule sets they belong to, recomputed on every
//! change, and the answers that need no more than the symbol index.
//!
//! Invariant: every rule set is recomputed from scratch through the loader (`load_with` over
//! an [`Overlay`] of the open documents), so what an editor shows is what `actorc check`
//! would say of the same texts.

use super::index::{Index, Namespace, Occurrence, SymbolKind};
use super::project::Project;
use crate::diag::{Diagnostic, Severity};
use crate::input::Actor;
use crate::load::{LoadOptions, Overlay, load_with, normalize};
use crate::rules::{Rules, compile_loaded};
use crate::source::{FileId, SourceMap, Span};
use crate::syntax::{Ast, ItemKind};
use crate::{Backend, Engine};
use rustc_hash::FxHashMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// A byte range of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRange {
    pub path: PathBuf,
    pub range: Range<usize>,
}

/// A diagnostic of one file, located by byte offsets.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub range: Range<usize>,
    pub severity: Severity,
    pub code: &'static str,
    /// The message, then the primary label's and the help's text.
    pub message: String,
    /// The other labels (both declarations of a duplicate, every stat of a cycle).
    pub related: Vec<Related>,
}

/// A secondary place of a [`Problem`].
#[derive(Debug, Clone, PartialEq)]
pub struct Related {
    pub at: FileRange,
    pub message: String,
}

/// A replacement of a byte range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextEdit {
    pub range: Range<usize>,
    pub text: String,
}

/// A value shown after a stat's declaration.
#[derive(Debug, Clone, PartialEq)]
pub struct InlayHint {
    pub offset: usize,
    pub label: String,
    pub tooltip: String,
}

/// The sample actor's values, by stat name.
#[derive(Debug, Default, Clone)]
pub(crate) struct Values {
    pub map: FxHashMap<String, f64>,
    /// From an earlier generation: the rules have errors now.
    pub stale: bool,
    /// Why there are none (the actor failed, or no actor).
    pub error: Option<String>,
}

/// One rule set, as last computed.
pub(crate) struct RuleSet {
    roots: Vec<PathBuf>,
    /// The rule set of a lone open file (no project names it): dropped when it is closed.
    lone: bool,
    pub sources: SourceMap,
    pub asts: Vec<(FileId, Ast)>,
    /// Each file's normalized path.
    paths: Vec<(PathBuf, FileId)>,
    diagnostics: Vec<Diagnostic>,
    /// Why the roots could not be read.
    pub root_error: Option<String>,
    pub index: Index,
    pub rules: Option<Rules>,
    pub values: Values,
}

impl RuleSet {
    fn new(roots: Vec<PathBuf>, lone: bool) -> RuleSet {
        RuleSet {
            roots,
            lone,
            sources: SourceMap::default(),
            asts: Vec::new(),
            paths: Vec::new(),
            diagnostics: Vec::new(),
            root_error: None,
            index: Index::default(),
            rules: None,
            values: Values::default(),
        }
    }

    pub fn file(&self, path: &Path) -> Option<FileId> {
        self.paths.iter().find(|(p, _)| p == path).map(|&(_, f)| f)
    }

    pub fn path(&self, file: FileId) -> PathBuf {
        self.paths
            .iter()
            .find(|&&(_, f)| f == file)
            .map_or_else(|| self.sources.get(file).path.clone(), |(p, _)| p.clone())
    }

    pub fn text(&self, file: FileId) -> &str {
        &self.sources.get(file).text
    }

    pub fn ast(&self, file: FileId) -> Option<&Ast> {
        self.asts.iter().find(|(f, _)| *f == file).map(|(_, a)| a)
    }

    pub fn file_range(&self, span: Span) -> FileRange {
        FileRange { path: self.path(span.file), range: span.range() }
    }

    fn compute(&mut self, opts: &LoadOptions, overlay: &Overlay, actor: Option<&Result<Actor, String>>) {
        let loaded = match load_with(&self.roots, opts, overlay) {
            Ok(l) => l,
            Err(e) => {
                *self = RuleSet {
                    root_error: Some(e.to_string()),
                    values: self.take_stale(),
                    ..RuleSet::new(std::mem::take(&mut self.roots), self.lone)
                };
                return;
            }
        };
        let asts = loaded.files.clone();
        let analysis = compile_loaded(loaded);
        let paths = analysis.sources.files().map(|(id, f)| (normalize(&f.path), id)).collect();
        self.index = Index::build(&asts);
        self.asts = asts;
        self.paths = paths;
        self.root_error = None;
        self.diagnostics = analysis.diagnostics.clone();
        self.sources = analysis.sources.clone();
        self.rules = Rules::from_analysis(analysis).ok();
        self.values = match (&self.rules, actor) {
            (Some(rules), Some(Ok(actor))) => evaluate(rules, actor),
            (Some(_), Some(Err(e))) => Values { error: Some(e.clone()), ..Values::default() },
            (Some(_), None) => Values::default(),
            (None, _) => self.take_stale(),
        };
    }

    /// The last values, marked stale.
    fn take_stale(&mut self) -> Values {
        let mut v = std::mem::take(&mut self.values);
        v.stale = true;
        v
    }
}

/// The sample actor's values under `rules`.
fn evaluate(rules: &Rules, actor: &Actor) -> Values {
    let result = Engine::new(rules, Backend::Interpreter).map_err(|e| e.to_string()).and_then(|engine| {
        let snap = engine.evaluate(actor).map_err(|e| e.to_string())?;
        Ok(snap
            .entries()
            .filter(|e| e.has_value())
            .map(|e| (rules.ir.stats[e.stat.index()].name.clone(), e.value))
            .collect())
    });
    match result {
        Ok(map) => Values { map, stale: false, error: None },
        Err(e) => Values { error: Some(format!("the sample actor failed: {e}")), ..Values::default() },
    }
}

/// The open documents, the project and the rule sets.
pub struct Workspace {
    project: Option<Project>,
    opts: LoadOptions,
    overlay: Overlay,
    pub(crate) sets: Vec<RuleSet>,
    pub(crate) sample: Option<Result<Actor, String>>,
}

impl Workspace {
    /// A workspace of `project`'s rule set (computed at once), or of lone files.
    pub fn new(project: Option<Project>) -> Workspace {
        let mut ws = Workspace {
            project: None,
            opts: LoadOptions::default(),
            overlay: Overlay::default(),
            sets: Vec::new(),
            sample: None,
        };
        ws.set_project(project);
        ws
    }

    pub fn project(&self) -> Option<&Project> {
        self.project.as_ref()
    }

    /// Replaces the project (its rule set and sample actor) and recomputes.
    pub fn set_project(&mut self, project: Option<Project>) {
        self.sets.retain(|s| s.lone);
        self.sample = project.as_ref().and_then(|p| p.sample.as_ref()).map(|s| s.load());
        if let Some(p) = &project {
            self.sets.insert(0, RuleSet::new(vec![p.rules.clone()], false));
        }
        self.project = project;
        self.refresh(None);
    }

    /// Problems with the project itself: its rule set's folder, its sample actor.
    pub fn project_errors(&self) -> Vec<String> {
        let roots = self.sets.iter().filter(|s| !s.lone).filter_map(|s| s.root_error.clone());
        roots.chain(self.sample.as_ref().and_then(|s| s.as_ref().err().cloned())).collect()
    }

    /// Opens a document, or changes its text.
    pub fn set_text(&mut self, path: &Path, text: String) {
        self.overlay.set(path, Some(text));
        self.refresh(Some(&normalize(path)));
    }

    /// Closes a document: its file is read from disk again.
    pub fn close(&mut self, path: &Path) {
        let path = normalize(path);
        self.overlay.files.remove(&path);
        self.sets.retain(|s| !(s.lone && s.roots.iter().any(|r| normalize(r) == path)));
        self.refresh(None);
    }

    /// Recomputes every rule set; gives `opened` a rule set of its own if none has it.
    fn refresh(&mut self, opened: Option<&Path>) {
        for s in &mut self.sets {
            s.compute(&self.opts, &self.overlay, self.sample.as_ref());
        }
        if let Some(path) = opened
            && !self.sets.iter().any(|s| s.file(path).is_some())
        {
            let mut set = RuleSet::new(vec![path.to_path_buf()], true);
            set.compute(&self.opts, &self.overlay, None);
            self.sets.push(set);
        }
        // A lone file that a rule set now reads (a new file of the project) is no longer lone.
        let shared: Vec<PathBuf> =
            self.sets.iter().filter(|s| !s.lone).flat_map(|s| s.paths.iter().map(|(p, _)| p.clone())).collect();
        self.sets.retain(|s| !(s.lone && s.roots.iter().any(|r| shared.contains(&normalize(r)))));
    }

    /// The rule set reading `path`, and the file's id there.
    pub(crate) fn find(&self, path: &Path) -> Option<(&RuleSet, FileId)> {
        let path = normalize(path);
        self.sets.iter().find_map(|s| Some((s, s.file(&path)?)))
    }

    /// The text of `path` as analysed (an open document's, or the file's on disk).
    pub fn text(&self, path: &Path) -> Option<&str> {
        self.find(path).map(|(s, f)| s.text(f))
    }

    /// Every file of every rule set with its problems (an empty list for a clean file, so
    /// an editor can clear what it showed).
    pub fn diagnostics(&self) -> Vec<(PathBuf, Vec<Problem>)> {
        let mut out: Vec<(PathBuf, Vec<Problem>)> = Vec::new();
        for s in &self.sets {
            let first = out.len();
            for (path, _) in &s.paths {
                if !out.iter().any(|(p, _)| p == path) {
                    out.push((path.clone(), Vec::new()));
                }
            }
            for d in &s.diagnostics {
                let Some(main) = d.main_span() else { continue };
                let path = s.path(main.file);
                let Some((_, list)) = out[first..].iter_mut().find(|(p, _)| *p == path) else { continue };
                list.push(problem(s, d, main));
            }
        }
        out
    }

    /// The symbol occurrence under `offset` of `path`.
    pub(crate) fn occurrence(&self, path: &Path, offset: usize) -> Option<(&RuleSet, &Occurrence)> {
        let (s, f) = self.find(path)?;
        Some((s, s.index.at(f, offset)?))
    }

    /// Where the symbol under `offset` is declared.
    pub fn definition(&self, path: &Path, offset: usize) -> Vec<FileRange> {
        let Some((s, o)) = self.occurrence(path, offset) else { return Vec::new() };
        if o.kind.namespace() == Namespace::None {
            return Vec::new();
        }
        s.index.decls(o.kind, &o.name).iter().map(|d| s.file_range(d.name)).collect()
    }

    /// Every place the symbol under `offset` is named, its declarations included or not.
    pub fn references(&self, path: &Path, offset: usize, declarations: bool) -> Vec<FileRange> {
        let Some((s, o)) = self.occurrence(path, offset) else { return Vec::new() };
        s.index.references(o).filter(|r| declarations || !r.decl).map(|r| s.file_range(r.span)).collect()
    }

    /// The edits that rename the symbol under `offset` to `new_name` in every file of its
    /// rule set, or why it cannot be renamed.
    pub fn rename(&self, path: &Path, offset: usize, new_name: &str) -> Result<Vec<(PathBuf, Vec<TextEdit>)>, String> {
        let Some((s, o)) = self.occurrence(path, offset) else { return Err("no name to rename here".into()) };
        let ns = o.kind.namespace();
        if ns == Namespace::None {
            return Err(format!("`{}` is a {} and cannot be renamed", o.name, o.kind.word()));
        }
        if let Err(why) = valid_name(o.kind, new_name) {
            return Err(format!("`{new_name}` is not a valid {} name: {why}", o.kind.word()));
        }
        if new_name != o.name && s.index.declared(ns, new_name) {
            return Err(format!("the rule set already declares `{new_name}` in the same namespace"));
        }
        // A constant of that name would take over every use of the renamed stat.
        if ns == Namespace::Stat && s.index.declared(Namespace::Value, new_name) {
            return Err(format!("`{new_name}` is a constant, table or curve: formulas would read it instead"));
        }
        if ns == Namespace::Value && s.index.declared(Namespace::Stat, new_name) {
            return Err(format!("`{new_name}` is a stat: its uses in formulas would read the renamed constant"));
        }
        let mut out: Vec<(PathBuf, Vec<TextEdit>)> = Vec::new();
        for r in s.index.references(o) {
            let at = s.file_range(r.span);
            let edit = TextEdit { range: at.range, text: new_name.to_string() };
            match out.iter_mut().find(|(p, _)| *p == at.path) {
                Some((_, edits)) => edits.push(edit),
                None => out.push((at.path, vec![edit])),
            }
        }
        Ok(out)
    }

    /// The sample actor's value after each stat's and view's declaration in `path`. When the
    /// rules have errors, the values of the last rules that checked (for the stats still
    /// declared), said so in the tooltip.
    pub fn inlay_hints(&self, path: &Path) -> Vec<InlayHint> {
        let Some((s, f)) = self.find(path) else { return Vec::new() };
        let Some(ast) = s.ast(f) else { return Vec::new() };
        let actor = self.sample_name().unwrap_or_default();
        let mut out = Vec::new();
        for item in &ast.items {
            let name = match &item.kind {
                ItemKind::Stat(st) => &st.name.name,
                ItemKind::View(v) => &v.name.name,
                _ => continue,
            };
            let Some(&v) = s.values.map.get(name) else { continue };
            let mut tooltip = format!("{name} of the sample actor `{actor}` = {}", crate::explain::fmt_num(v));
            if s.values.stale {
                tooltip.push_str("\n(from the last rules that checked: the rules have errors now)");
            }
            out.push(InlayHint { offset: item.span.end as usize, label: format!("= {}", short_num(v)), tooltip });
        }
        out
    }

    /// The sample actor's id, if it has one.
    pub(crate) fn sample_name(&self) -> Option<String> {
        match &self.sample {
            Some(Ok(a)) => Some(a.id.clone().unwrap_or_else(|| "sample".into())),
            _ => None,
        }
    }

    /// The canonical text of `path` (`actorc fmt`), when it differs from the text; an error
    /// when the file has syntax errors.
    pub fn format(&self, path: &Path) -> Result<Option<String>, String> {
        let text = self.text(path).ok_or("the file belongs to no rule set")?;
        let mut loaded = crate::load::Loaded::default();
        let (file, ast) = crate::load::parse_bytes(&mut loaded, path, text.as_bytes().to_vec(), &self.opts);
        if let Some(d) = loaded.diags.iter().find(|d| d.is_error()) {
            let at = d.main_span().map_or(String::new(), |s| format!(" at {}", loaded.sources.location(s)));
            return Err(format!("not formatted: syntax error{at}: {}", d.message));
        }
        let formatted = crate::syntax::format_file(&ast, &loaded.sources.get(file).text);
        Ok((formatted != text).then_some(formatted))
    }
}

/// A value in a few characters: at most two decimals (`1803.13`), whole numbers as such.
pub(crate) fn short_num(v: f64) -> String {
    if !v.is_finite() || v.abs() >= 1e15 {
        return crate::explain::fmt_num(v);
    }
    let s = format!("{v:.2}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".into() } else { s.into() }
}

fn problem(s: &RuleSet, d: &Diagnostic, main: Span) -> Problem {
    let mut message = d.message.clone();
    for l in d.labels.iter().filter(|l| l.primary && l.span == main && !l.message.is_empty()) {
        message.push_str(&format!("\n{}", l.message));
    }
    if let Some(h) = &d.help {
        message.push_str(&format!("\nhelp: {h}"));
    }
    let related = d
        .labels
        .iter()
        .filter(|l| l.span != main || !l.primary)
        .map(|l| Related { at: s.file_range(l.span), message: l.message.clone() })
        .collect();
    Problem { range: main.range(), severity: d.severity, code: d.code, message, related }
}

/// Whether `name` may name a symbol of `kind` (the checker's rules: E0310, E0311, keywords).
fn valid_name(kind: SymbolKind, name: &str) -> Result<(), &'static str> {
    let mut chars = name.chars();
    let ident = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !ident {
        return Err("a name is a letter or `_`, then letters, digits or `_`");
    }
    if RESERVED.contains(&name) {
        return Err("it is a keyword");
    }
    match kind.namespace() {
        Namespace::Stat if !crate::ir::valid_stat_name(name) => {
            Err("stat names are lower case: a letter, then letters, digits or `_`")
        }
        Namespace::Value if matches!(name, "value" | "x") => Err("`value` and `x` are reserved"),
        _ => Ok(()),
    }
}

/// The words that can never be names.
const RESERVED: &[&str] = &[
    "import", "bucket", "fold", "apply", "pipeline", "default", "layers", "requires", "policy", "unscoped", "primary",
    "derived", "in", "merge", "if", "then", "else", "and", "or", "not",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_numbers() {
        assert_eq!(short_num(1803.1349), "1803.13");
        assert_eq!(short_num(12.0), "12");
        assert_eq!(short_num(0.5), "0.5");
        assert_eq!(short_num(-0.001), "0");
        assert_eq!(short_num(f64::INFINITY), "inf");
    }

    #[test]
    fn names() {
        assert!(valid_name(SymbolKind::Stat, "hp").is_ok());
        assert!(valid_name(SymbolKind::Stat, "HP").is_err());
        assert!(valid_name(SymbolKind::Bucket, "HP").is_ok());
        assert!(valid_name(SymbolKind::Bucket, "pipeline").is_err());
        assert!(valid_name(SymbolKind::Constant, "x").is_err());
        assert!(valid_name(SymbolKind::Tag, "1a").is_err());
        assert!(valid_name(SymbolKind::Tag, "").is_err());
    }
}
