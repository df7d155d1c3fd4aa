//! Load: a rule-set path (one file or a folder of `.stat` files) and its imports → sources
//! and ASTs.
//!
//! Invariant: each file is read once however often it is imported; files are handed to the
//! checker sorted by path, so the order in which they were found never matters.

use crate::diag::Diagnostic;
use crate::source::{FileId, SourceMap, Span};
use crate::syntax::{Ast, ItemKind, ParseLimits, Unparsed, parse_file};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy)]
pub struct LoadOptions {
    /// Files larger than this are rejected with a diagnostic.
    pub max_file_size: u64,
    pub parse: ParseLimits,
    /// Read no file outside the rule set's folders (the root folders, and the folder of each
    /// root file), comparing canonical paths: for rules from someone else, whose diagnostics
    /// would otherwise quote any file they import.
    pub sandbox: bool,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions { max_file_size: 1 << 20, parse: ParseLimits::default(), sandbox: false }
    }
}

/// The folders a sandboxed rule set may read: each root folder, and the folder of each root
/// file, canonical. A file is inside when its canonical path (through every link) is.
struct Sandbox {
    folders: Vec<PathBuf>,
}

impl Sandbox {
    fn new(roots: &[PathBuf], src: &dyn SourceProvider) -> Sandbox {
        let folders = roots
            .iter()
            .map(|root| {
                let folder = if src.is_dir(root) { root.as_path() } else { root.parent().unwrap_or(Path::new(".")) };
                resolved(if folder.as_os_str().is_empty() { Path::new(".") } else { folder })
            })
            .collect();
        Sandbox { folders }
    }

    fn allows(&self, path: &Path) -> bool {
        let path = resolved(path);
        self.folders.iter().any(|f| path.starts_with(f))
    }
}

/// `path` with every link and `..` resolved; for a path that does not exist, [`normalize`].
fn resolved(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| normalize(path))
}

/// What a refusal of the sandbox says.
const SANDBOX_HELP: &str =
    "with --sandbox (which --max-cost implies) a rule set reads only files inside its own folders, through links too";

/// Sources and parse results of a rule set; diagnostics so far.
#[derive(Debug, Default)]
pub struct Loaded {
    pub sources: SourceMap,
    pub files: Vec<(FileId, Ast)>,
    pub diags: Vec<Diagnostic>,
}

/// Where the loader reads files: the real file system ([`Fs`]) or an in-memory overlay over
/// it ([`Overlay`], used by hot reload to load texts that are not, or not yet, on disk).
pub trait SourceProvider {
    fn is_dir(&self, path: &Path) -> bool;
    fn is_file(&self, path: &Path) -> bool;
    /// `.stat` files in a folder and its subfolders, sorted.
    fn stat_files_in(&self, dir: &Path) -> std::io::Result<Vec<PathBuf>>;
    /// The file's bytes, at most `limit + 1` of them (so that a file over the limit is
    /// known to be without reading it all); only a regular file is read.
    fn read(&self, path: &Path, limit: u64) -> std::io::Result<Vec<u8>>;
    /// Identity of a file for "read once" (the canonical path on disk).
    fn key(&self, path: &Path) -> PathBuf;
}

/// The real file system.
pub struct Fs;

impl SourceProvider for Fs {
    fn is_dir(&self, path: &Path) -> bool {
        path.is_dir()
    }
    fn is_file(&self, path: &Path) -> bool {
        path.is_file()
    }
    fn stat_files_in(&self, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
        stat_files_in(dir)
    }
    fn read(&self, path: &Path, limit: u64) -> std::io::Result<Vec<u8>> {
        read_bounded(path, limit)
    }
    fn key(&self, path: &Path) -> PathBuf {
        std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
    }
}

/// At most `limit + 1` bytes of the regular file `path`. Anything else (a FIFO, which would
/// block, a device such as `/dev/zero`, which never ends) is an error without being opened.
pub fn read_bounded(path: &Path, limit: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        let what = file_kind(&meta);
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("{what}, not a regular file")));
    }
    let mut bytes = Vec::with_capacity(meta.len().min(limit.saturating_add(1)).min(1 << 24) as usize);
    std::fs::File::open(path)?.take(limit.saturating_add(1)).read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// What a path that is not a regular file is, for messages.
fn file_kind(meta: &std::fs::Metadata) -> &'static str {
    let t = meta.file_type();
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if t.is_char_device() || t.is_block_device() {
            return "a device";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    if t.is_dir() { "a folder" } else { "a special file" }
}

/// An absolute path without `.`/`..`, its existing parent folder canonicalized, so two
/// spellings of one file compare equal even when the file itself does not exist.
pub fn normalize(path: &Path) -> PathBuf {
    let abs =
        if path.is_absolute() { path.to_path_buf() } else { std::env::current_dir().unwrap_or_default().join(path) };
    let mut out = PathBuf::new();
    for c in abs.components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            c => out.push(c),
        }
    }
    match (out.parent(), out.file_name()) {
        (Some(parent), Some(name)) => match std::fs::canonicalize(parent) {
            Ok(p) => p.join(name),
            Err(_) => out,
        },
        _ => out,
    }
}

/// In-memory texts over the file system: `Some(text)` replaces (or adds) a file, `None`
/// removes it. Keys are [`normalize`]d paths.
#[derive(Debug, Clone, Default)]
pub struct Overlay {
    pub files: std::collections::BTreeMap<PathBuf, Option<String>>,
}

impl Overlay {
    pub fn set(&mut self, path: &Path, text: Option<String>) {
        self.files.insert(normalize(path), text);
    }
}

impl SourceProvider for Overlay {
    fn is_dir(&self, path: &Path) -> bool {
        path.is_dir()
    }
    fn is_file(&self, path: &Path) -> bool {
        match self.files.get(&normalize(path)) {
            Some(t) => t.is_some(),
            None => path.is_file(),
        }
    }
    fn stat_files_in(&self, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
        let mut found = stat_files_in(dir)?;
        let nd = normalize(dir);
        found.retain(|f| !matches!(self.files.get(&normalize(f)), Some(None)));
        let on_disk: BTreeSet<PathBuf> = found.iter().map(|f| normalize(f)).collect();
        for (p, t) in &self.files {
            if t.is_some() && p.starts_with(&nd) && p.extension().is_some_and(|e| e == "stat") && !on_disk.contains(p) {
                found.push(dir.join(p.strip_prefix(&nd).unwrap_or(p)));
            }
        }
        found.sort();
        Ok(found)
    }
    fn read(&self, path: &Path, limit: u64) -> std::io::Result<Vec<u8>> {
        match self.files.get(&normalize(path)) {
            Some(Some(t)) => Ok(t.clone().into_bytes()),
            Some(None) => Err(std::io::Error::new(std::io::ErrorKind::NotFound, "file was removed")),
            None => read_bounded(path, limit),
        }
    }
    fn key(&self, path: &Path) -> PathBuf {
        normalize(path)
    }
}

/// `.stat` files in a folder and its subfolders, sorted (see [`files_in`]).
pub fn stat_files_in(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    files_in(dir, |p| p.extension().is_some_and(|e| e == "stat"))
}

/// The files in a folder and its subfolders that `wanted` picks, sorted. Hidden folders
/// (`.git`) are skipped, and a folder reached again (through a symbolic link that loops) is
/// searched once.
pub fn files_in(dir: &Path, wanted: impl Fn(&Path) -> bool) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        if !seen.insert(std::fs::canonicalize(&d)?) {
            continue;
        }
        for entry in std::fs::read_dir(&d)? {
            let path = entry?.path();
            let hidden = path.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.'));
            if path.is_dir() {
                if !hidden {
                    stack.push(path);
                }
            } else if wanted(&path) {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Why a root path of a rule set could not be read (a usage or I/O problem, not a diagnostic).
#[derive(Debug)]
pub enum RootError {
    /// Neither a file nor a folder.
    Missing(PathBuf),
    /// A folder that could not be listed.
    Unreadable { path: PathBuf, source: std::io::Error },
    /// A folder without `.stat` files.
    Empty(PathBuf),
}

impl std::fmt::Display for RootError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RootError::Missing(p) => write!(f, "cannot read {}: no such file or folder", p.display()),
            RootError::Unreadable { path, source } => write!(f, "cannot read folder {}: {source}", path.display()),
            RootError::Empty(p) => write!(f, "{} holds no .stat files", p.display()),
        }
    }
}

impl std::error::Error for RootError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RootError::Unreadable { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Reads the rule set made of the files and folders `roots`. An unreadable root is an `Err`
/// (a usage or I/O problem); everything wrong inside the files is a diagnostic.
pub fn load(roots: &[PathBuf], opts: &LoadOptions) -> Result<Loaded, RootError> {
    load_with(roots, opts, &Fs)
}

/// [`load`], reading files through `src`.
pub fn load_with(roots: &[PathBuf], opts: &LoadOptions, src: &dyn SourceProvider) -> Result<Loaded, RootError> {
    let mut files = Vec::new();
    for root in roots {
        if !src.is_dir(root) && !src.is_file(root) {
            return Err(RootError::Missing(root.clone()));
        }
        if src.is_dir(root) {
            let found =
                src.stat_files_in(root).map_err(|source| RootError::Unreadable { path: root.clone(), source })?;
            if found.is_empty() {
                return Err(RootError::Empty(root.clone()));
            }
            files.extend(found);
        } else {
            files.push(root.clone());
        }
    }
    let sandbox = opts.sandbox.then(|| Sandbox::new(roots, src));
    let roots = files;
    let mut loaded = Loaded::default();
    let mut seen: BTreeSet<PathBuf> = BTreeSet::new();
    let mut queue: Vec<PathBuf> = roots;
    queue.reverse();
    let mut parsed: Vec<(PathBuf, FileId, Ast)> = Vec::new();
    while let Some(path) = queue.pop() {
        let key = src.key(&path);
        // A link in a root folder may lead anywhere (imports were vetted already).
        if let Some(s) = &sandbox
            && !s.allows(&path)
        {
            let file = loaded.sources.add(&path, String::new());
            loaded.diags.push(
                Diagnostic::error(
                    "E0004",
                    format!("cannot read {}: it leads outside the rule set's folder", path.display()),
                )
                .primary(Span::new(file, 0, 0), "not read")
                .help(SANDBOX_HELP),
            );
            parsed.push((key, file, lost_file()));
            continue;
        }
        if !seen.insert(key.clone()) {
            continue;
        }
        let (file, ast) = read_one(&mut loaded, &path, opts, src);
        for item in &ast.items {
            if let ItemKind::Import(imp) = &item.kind {
                let base = path.parent().unwrap_or(Path::new("."));
                let help = "import paths are relative to the importing file; name a .stat file or a folder";
                let found = match &sandbox {
                    // Refused before looking: whether a file outside exists is not told either.
                    Some(s)
                        if !s.allows(&base.join(&imp.path)) && !s.allows(&base.join(format!("{}.stat", imp.path))) =>
                    {
                        Err(("the path leads outside the rule set's folder".to_string(), SANDBOX_HELP))
                    }
                    Some(s) => resolve_import(base, &imp.path, src).map_err(|why| (why, help)).and_then(|paths| {
                        match paths.iter().find(|p| !s.allows(p)) {
                            Some(out) => {
                                Err((format!("{} leads outside the rule set's folder", out.display()), SANDBOX_HELP))
                            }
                            None => Ok(paths),
                        }
                    }),
                    None => resolve_import(base, &imp.path, src).map_err(|why| (why, help)),
                };
                match found {
                    Ok(paths) => queue.extend(paths.into_iter().rev()),
                    Err((why, help)) => loaded.diags.push(
                        Diagnostic::error("E0006", format!("cannot import \"{}\": {why}", imp.path))
                            .primary(imp.span, "imported here")
                            .help(help),
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

fn resolve_import(base: &Path, spec: &str, src: &dyn SourceProvider) -> Result<Vec<PathBuf>, String> {
    let target = base.join(spec);
    let with_ext = base.join(format!("{spec}.stat"));
    if src.is_dir(&target) {
        let files = src.stat_files_in(&target).map_err(|e| e.to_string())?;
        if files.is_empty() {
            return Err(format!("{} holds no .stat files", target.display()));
        }
        Ok(files)
    } else if src.is_file(&target) {
        Ok(vec![target])
    } else if src.is_file(&with_ext) {
        Ok(vec![with_ext])
    } else if let Ok(meta) = std::fs::metadata(&target) {
        Err(format!("{} is {}, not a rule file", target.display(), file_kind(&meta)))
    } else {
        Err(format!("{} does not exist", target.display()))
    }
}

fn read_one(loaded: &mut Loaded, path: &Path, opts: &LoadOptions, src: &dyn SourceProvider) -> (FileId, Ast) {
    let read = src.read(path, opts.max_file_size);
    let mut size = read.as_ref().map_or(0, |b| b.len() as u64);
    if size > opts.max_file_size {
        // Only the limit and one byte were read: the size comes from the file system.
        size = std::fs::metadata(path).map_or(size, |m| m.len().max(size));
        let file = loaded.sources.add(path, String::new());
        loaded.diags.push(
            Diagnostic::error(
                "E0002",
                format!("{} is {size} bytes, over the limit of {} bytes", path.display(), opts.max_file_size),
            )
            .primary(Span::new(file, 0, 0), "file too large")
            .help("split the rules into several files, or raise the limit with --max-file-size"),
        );
        return (file, lost_file());
    }
    let bytes = match read {
        Ok(b) => b,
        Err(e) => {
            let file = loaded.sources.add(path, String::new());
            loaded.diags.push(
                Diagnostic::error("E0004", format!("cannot read {}: {e}", path.display()))
                    .primary(Span::new(file, 0, 0), "unreadable"),
            );
            return (file, lost_file());
        }
    };
    parse_bytes(loaded, path, bytes, opts)
}

/// Adds `bytes` as the text of `path` and parses it. A UTF-8 byte-order mark at the start
/// is not part of the text.
pub fn parse_bytes(loaded: &mut Loaded, path: &Path, mut bytes: Vec<u8>, opts: &LoadOptions) -> (FileId, Ast) {
    if bytes.starts_with(UTF8_BOM) {
        bytes.drain(..UTF8_BOM.len());
    }
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
            (file, lost_file())
        }
    }
}

/// The AST of a file that could not be read or is not text: it may have declared anything,
/// so the checker reports no unknown name (the file's own error explains them).
fn lost_file() -> Ast {
    Ast { items: Vec::new(), unparsed: vec![Unparsed::Everything] }
}

/// The UTF-8 encoding of U+FEFF, which some editors put at the start of a file.
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";
