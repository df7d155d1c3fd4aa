//! The command line: argument handling and printing over the library, one file per command.
//! Only this module prints.
//!
//! Exit codes: 0 success; 1 rule errors or a failed actor; 2 usage or I/O errors (a failed
//! write of output included; a closed pipe, as in `actorc run … | head`, ends quietly with 0).
//! Messages go to standard error through `errln!`, which never panics: a command whose
//! messages could not be written exits 2 (when it would have exited 0).

/// Set when a message could not be written to standard error.
static STDERR_FAILED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Writes a message to standard error; unlike `eprint!`, a failed write (a full disk, a
/// closed pipe) does not panic but is remembered for the exit code.
fn stderr_write(args: std::fmt::Arguments) {
    if std::io::stderr().lock().write_fmt(args).is_err() {
        STDERR_FAILED.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// `eprint!` that never panics (see [`stderr_write`]).
macro_rules! err {
    ($($arg:tt)*) => { $crate::cli::stderr_write(format_args!($($arg)*)) };
}

/// `eprintln!` that never panics (see [`stderr_write`]).
macro_rules! errln {
    ($($arg:tt)*) => { $crate::cli::stderr_write(format_args!("{}\n", format_args!($($arg)*))) };
}

mod check;
mod explain;
mod fmt;
mod graph;
mod init;
mod lsp;
mod run;
mod serve;
mod test;
mod watch;

use crate::diag::{self, Diagnostic};
use crate::load::LoadOptions;
use crate::rules::{Rules, compile};
use crate::syntax::ParseLimits;
use clap::{Parser, Subcommand, ValueEnum};
use std::io::{BufRead, BufReader, IsTerminal, Write};
use std::path::{Path, PathBuf};

#[derive(Parser, Debug)]
#[command(name = "actorc", version, about = "Compile, check and run .stat stat rules for games")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Check rule sets and report every problem.
    Check(check::CheckArgs),
    /// Evaluate actors (JSON or NDJSON) into stat snapshots.
    Run(run::RunArgs),
    /// Explain a stat: its rule, or (with --input) how an actor's value came about.
    Explain(explain::ExplainArgs),
    /// Print the stat dependency graph (Graphviz DOT or JSON).
    Graph(graph::GraphArgs),
    /// Rewrite rule files in their canonical layout, keeping every comment (--check: list them).
    Fmt(fmt::FmtArgs),
    /// Run balance tests (*.stat-test.toml): expected values of actors' stats.
    Test(test::TestArgs),
    /// Start a new game: rules, actors, a balance test and a README in DIR.
    Init(init::InitArgs),
    /// Serve a live stat sheet (actors × stats) in the browser, updated on every save.
    Serve(serve::ServeArgs),
    /// Serve the rules to an editor: a language server over standard input and output
    /// (docs/editor.md).
    Lsp(lsp::LspArgs),
}

#[derive(clap::Args, Debug, Clone)]
struct LimitArgs {
    /// Deepest expression nesting accepted (at most 1000).
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=1000))]
    max_depth: u64,
    /// Largest rule file accepted, in bytes.
    #[arg(long, default_value_t = 1 << 20)]
    max_file_size: u64,
    /// Errors shown per rule set; the rest are counted (0 shows all).
    #[arg(long, default_value_t = 20)]
    error_limit: usize,
    /// Read no file outside the rule set's folders (imports, links): for rules from someone
    /// else, such as modders' rules on a server.
    #[arg(long)]
    sandbox: bool,
}

impl LimitArgs {
    fn options(&self) -> LoadOptions {
        LoadOptions {
            max_file_size: self.max_file_size,
            parse: ParseLimits { max_depth: self.max_depth as usize },
            sandbox: self.sandbox,
        }
    }
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
enum Format {
    Text,
    Json,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
enum Color {
    Auto,
    Always,
    Never,
}

pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            return match e.print() {
                Ok(()) => code,
                Err(e) => write_failed(&e),
            };
        }
    };
    let done = match cli.command {
        Command::Check(a) => check::check(a),
        Command::Run(a) => run::start(a).and_then(|(a, color)| match a.watch || a.stats {
            true => watch::run_watch(&a, color),
            false => run::run(a, color),
        }),
        Command::Explain(a) => explain::explain(a),
        Command::Graph(a) => graph::graph(a),
        Command::Fmt(a) => fmt::fmt(a),
        Command::Test(a) => test::test(a),
        Command::Init(a) => init::init(a),
        Command::Serve(a) => serve::serve(a),
        Command::Lsp(a) => lsp::lsp(a),
    };
    let code = done.unwrap_or_else(|code| code);
    if code == 0 && STDERR_FAILED.load(std::sync::atomic::Ordering::Relaxed) { 2 } else { code }
}

/// A command's exit code, or the code it stopped early with (after printing why).
type Exit = Result<i32, i32>;

fn use_color(c: Color) -> bool {
    match c {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
    }
}

/// Prints a usage or I/O error; its exit code.
fn usage_error(msg: &str) -> i32 {
    errln!("error: {msg}");
    2
}

/// A closed pipe (`actorc run … | head`) ends the run quietly; other write errors are I/O errors.
fn write_failed(e: &std::io::Error) -> i32 {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        return 0;
    }
    usage_error(&format!("cannot write output: {e}"))
}

/// Writes `text` to standard output.
fn print_out(text: &str) -> Result<(), i32> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes()).and_then(|()| out.flush()).map_err(|e| write_failed(&e))
}

/// Writes `value` as indented JSON and a newline to standard output.
fn print_json(value: &impl serde::Serialize) -> Result<(), i32> {
    let text = serde_json::to_string_pretty(value).map_err(|e| usage_error(&format!("cannot serialize: {e}")))?;
    print_out(&format!("{text}\n"))
}

/// Loads and checks a rule set, printing its diagnostics; `Err(code)` when it has errors.
fn load_rules(paths: &[PathBuf], limits: &LimitArgs, color: bool) -> Result<Rules, i32> {
    let analysis = compile(paths, &limits.options()).map_err(|e| usage_error(&e.to_string()))?;
    let warnings: Vec<&Diagnostic> = analysis.diagnostics.iter().filter(|d| !d.is_error()).collect();
    if analysis.has_errors() || !warnings.is_empty() {
        print_diagnostics(&analysis.sources, &analysis.diagnostics, color, limits.error_limit);
    }
    Rules::from_analysis(analysis).map_err(|_| 1)
}

/// How many of `diags` are shown under `--error-limit`: those up to the `limit`th error (all
/// when `limit` is 0).
fn shown(diags: &[Diagnostic], limit: usize) -> usize {
    if limit == 0 {
        return diags.len();
    }
    let mut errors = 0;
    diags
        .iter()
        .position(|d| {
            errors += usize::from(d.is_error());
            errors > limit
        })
        .unwrap_or(diags.len())
}

/// Writes diagnostics to standard error one at a time (never all of them in one string), at
/// most `limit` errors (see [`shown`]), then how many were left out.
fn print_diagnostics(sources: &crate::source::SourceMap, diags: &[Diagnostic], color: bool, limit: usize) {
    let n = shown(diags, limit);
    for d in &diags[..n] {
        err!("{}", diag::render(sources, std::slice::from_ref(d), color));
    }
    if n < diags.len() {
        let rest = diags.len() - n;
        errln!(
            "… and {rest} more diagnostic{} not shown (--error-limit 0 shows all)\n",
            if rest == 1 { "" } else { "s" }
        );
    }
}

/// `path` opened for reading, or standard input for `-`.
fn open_input(path: &Path) -> Result<Box<dyn BufRead>, i32> {
    if path.as_os_str() == "-" {
        return Ok(Box::new(BufReader::with_capacity(1 << 16, std::io::stdin().lock())));
    }
    match std::fs::File::open(path) {
        Ok(f) => Ok(Box::new(BufReader::with_capacity(1 << 16, f))),
        Err(e) => Err(usage_error(&format!("cannot read {}: {e}", path.display()))),
    }
}

/// `path` created for writing, or standard output when absent. Writing over the input file
/// (`input`, also through a link) is a usage error: creating it would empty the input.
fn open_output(path: Option<&Path>, input: &Path) -> Result<Box<dyn Write>, i32> {
    match path {
        Some(p) if same_file(p, input) => {
            Err(usage_error(&format!("--output {} is the input file; write elsewhere", p.display())))
        }
        Some(p) => match std::fs::File::create(p) {
            Ok(f) => Ok(Box::new(std::io::BufWriter::new(f))),
            Err(e) => Err(usage_error(&format!("cannot write {}: {e}", p.display()))),
        },
        None => Ok(Box::new(std::io::BufWriter::new(std::io::stdout().lock()))),
    }
}

/// Whether `a` and `b` name one existing file (the same device and inode on Unix).
fn same_file(a: &Path, b: &Path) -> bool {
    let (Ok(ma), Ok(mb)) = (std::fs::metadata(a), std::fs::metadata(b)) else { return false };
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        ma.dev() == mb.dev() && ma.ino() == mb.ino()
    }
    #[cfg(not(unix))]
    {
        let _ = (ma, mb);
        matches!((a.canonicalize(), b.canonicalize()), (Ok(x), Ok(y)) if x == y)
    }
}
