//! Load: a rule-set path (one file or a folder of `.stat` files) and its imports → sources
//! and ASTs.
//!
//! Invariant: each file is read once however often it is imported; files are handed to the
//! checker sorted by path, so the order in which they were found never matters.

use crate::diag::Diagnostic;
use crate::source::{FileId, SourceMap, Span};
use crate::syntax::{Ast, ItemKind, ParseLimits, parse_file};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy)]
pub struct LoadOptions {
    /// Files larger than this are rejected with a diagnostic.
    pub max_file_size: u64,
    pub parse: ParseLimits,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions { max_file_size: 1 << 20, parse: ParseLimits::default() }
    }
}

/// Sources and parse results of a rule set; diagnostics so far.
#[derive(Debug, Default)]
pub struct Loaded {
    pub sources: SourceMap,
    pub files: Vec<(FileId, Ast)>,
    pub diags: Vec<Diagnostic>,
}

/// `.stat` files in a folder and its subfolders, sorted.
pub fn stat_files_in(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d)? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "stat") {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Reads the rule set made of the files and folders `roots`. An unreadable root is an `Err`
/// (a usage or I/O problem); everything wrong inside the files is a diagnostic.
pub fn load(roots: &[PathBuf], opts: &LoadOptions) -> Result<Loaded, String> {
    let mut files = Vec::new();
    for root in roots {
        let meta = std::fs::metadata(root).map_err(|e| format!("cannot read {}: {e}", root.display()))?;
        if meta.is_dir() {
            let found = stat_files_in(root).map_err(|e| format!("cannot read folder {}: {e}", root.display()))?;
            if found.is_empty() {
                return Err(format!("{} holds no .stat files", root.display()));
            }
            files.extend(found);
        } else {
            files.push(root.clone());
        }
    }
    let roots = files;
    let mut loaded = Loaded::default();
    let mut seen: BTreeSet<PathBuf> = BTreeSet::new();
    let mut queue: Vec<PathBuf> = roots;
    queue.reverse();
    let mut parsed: Vec<(PathBuf, FileId, Ast)> = Vec::new();
    while let Some(path) = queue.pop() {
        let key = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
        if !seen.insert(key.clone()) {
            continue;
        }
        let (file, ast) = read_one(&mut loaded, &path, opts);
        for item in &ast.items {
            if let ItemKind::Import(imp) = &item.kind {
                let base = path.parent().unwrap_or(Path::new("."));
                match resolve_import(base, &imp.path) {
                    Ok(paths) => queue.extend(paths.into_iter().rev()),
                    Err(why) => loaded.diags.push(
                        Diagnostic::error("E0006", format!("cannot import \"{}\": {why}", imp.path))
                            .primary(imp.span, "imported here")
                            .help("import paths are relative to the importing file; name a .stat file or a folder"),
                    ),
                }
            }
        }
        parsed.push((key, file, ast));
    }
    parsed.sort_by(|a, b| a.0.cmp(&b.0));
    loaded.files = parsed.into_iter().map(|(_, f, a)| (f, a)).collect();
    Ok(loaded)
}

fn resolve_import(base: &Path, spec: &str) -> Result<Vec<PathBuf>, String> {
    let target = base.join(spec);
    let with_ext = base.join(format!("{spec}.stat"));
    if target.is_dir() {
        let files = stat_files_in(&target).map_err(|e| e.to_string())?;
        if files.is_empty() {
            return Err(format!("{} holds no .stat files", target.display()));
        }
        Ok(files)
    } else if target.is_file() {
        Ok(vec![target])
    } else if with_ext.is_file() {
        Ok(vec![with_ext])
    } else {
        Err(format!("{} does not exist", target.display()))
    }
}

fn read_one(loaded: &mut Loaded, path: &Path, opts: &LoadOptions) -> (FileId, Ast) {
    let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    if size > opts.max_file_size {
        let file = loaded.sources.add(path, String::new());
        loaded.diags.push(
            Diagnostic::error(
                "E0002",
                format!("{} is {size} bytes, over the limit of {} bytes", path.display(), opts.max_file_size),
            )
            .primary(Span::new(file, 0, 0), "file too large")
            .help("split the rules into several files, or raise the limit with --max-file-size"),
        );
        return (file, Ast::default());
    }
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            let file = loaded.sources.add(path, String::new());
            loaded.diags.push(
                Diagnostic::error("E0004", format!("cannot read {}: {e}", path.display()))
                    .primary(Span::new(file, 0, 0), "unreadable"),
            );
            return (file, Ast::default());
        }
    };
    parse_bytes(loaded, path, bytes, opts)
}

/// Adds `bytes` as the text of `path` and parses it.
pub fn parse_bytes(loaded: &mut Loaded, path: &Path, bytes: Vec<u8>, opts: &LoadOptions) -> (FileId, Ast) {
    match String::from_utf8(bytes) {
        Ok(text) => {
            let file = loaded.sources.add(path, text);
            let (ast, diags) = parse_file(file, &loaded.sources.get(file).text, opts.parse);
            loaded.diags.extend(diags);
            (file, ast)
        }
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            let text = String::from_utf8_lossy(e.as_bytes()).into_owned();
            let file = loaded.sources.add(path, text);
            let end = (at + char::REPLACEMENT_CHARACTER.len_utf8()).min(loaded.sources.get(file).text.len());
            let start = at.min(end);
            loaded.diags.push(
                Diagnostic::error("E0007", "file is not valid UTF-8 text")
                    .primary(Span::new(file, start, end), "invalid byte here")
                    .help("rule files are UTF-8 text; is this a binary file?"),
            );
            (file, Ast::default())
        }
    }
}
