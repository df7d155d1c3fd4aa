//! The command line: a thin layer over the library. Only this module prints.
//!
//! Exit codes: 0 success; 1 rule errors or a failed actor; 2 usage or I/O errors.

use crate::diag::{self, Diagnostic};
use crate::engine::{ActorError, Backend, Engine, PreparedBatch, ValueTable};
use crate::input::InputError;
use crate::input::{InputLimits, parse_actor, parse_actor_limited};
use crate::ir::StatId;
use crate::load::{LoadOptions, stat_files_in};
use crate::rules::{Compiled, Rules, compile};
use crate::snapshot::Snapshot;
use crate::syntax::ParseLimits;
use clap::{Parser, Subcommand, ValueEnum};
use rayon::prelude::*;
use std::io::{BufRead, BufReader, IsTerminal, Read, Write};
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
    Check(CheckArgs),
    /// Evaluate actors (JSON or NDJSON) into stat snapshots.
    Run(RunArgs),
    /// Explain a stat: its rule, or (with --input) how an actor's value came about.
    Explain(ExplainArgs),
    /// Print the stat dependency graph (Graphviz DOT or JSON).
    Graph(GraphArgs),
}

#[derive(clap::Args, Debug, Clone)]
struct LimitArgs {
    /// Deepest expression nesting accepted (at most 1000).
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=1000))]
    max_depth: u64,
    /// Largest rule file accepted, in bytes.
    #[arg(long, default_value_t = 1 << 20)]
    max_file_size: u64,
}

impl LimitArgs {
    fn options(&self) -> LoadOptions {
        LoadOptions { max_file_size: self.max_file_size, parse: ParseLimits { max_depth: self.max_depth as usize } }
    }
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
enum Format {
    Text,
    Json,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
enum Emit {
    /// The lowered IR as stable text.
    Ir,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
enum Color {
    Auto,
    Always,
    Never,
}

#[derive(clap::Args, Debug)]
struct CheckArgs {
    /// Rule sets: a .stat file, or a folder of them. A folder without .stat files of its own
    /// holds one rule set per subfolder.
    #[arg(default_value = "rules")]
    paths: Vec<PathBuf>,
    /// How to print diagnostics.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Also print a compiled form of each clean rule set.
    #[arg(long, value_enum)]
    emit: Option<Emit>,
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    color: Color,
    #[command(flatten)]
    limits: LimitArgs,
    /// Print each stat's worst-case cost (operations per actor).
    #[arg(long)]
    cost: bool,
    /// Reject rule sets whose worst-case cost for an actor exceeds this many operations.
    #[arg(long)]
    max_cost: Option<u64>,
    /// Contributions per actor assumed by --max-cost.
    #[arg(long, default_value_t = 4096)]
    cost_contributions: u64,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
enum EngineArg {
    /// The reference interpreter.
    Interp,
    /// Cranelift native code.
    Jit,
}

#[derive(clap::Args, Debug)]
struct RunArgs {
    /// The rule set: .stat files and folders, loaded together.
    #[arg(default_value = "rules")]
    rules: Vec<PathBuf>,
    /// Actors: a JSON file (one actor), an NDJSON file (a batch), or `-` for standard input.
    #[arg(long, short)]
    input: PathBuf,
    /// Where to write snapshots (standard output if absent).
    #[arg(long, short)]
    output: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = EngineArg::Jit)]
    engine: EngineArg,
    /// No progress bar and no summary.
    #[arg(long, short)]
    quiet: bool,
    /// Worker threads (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    color: Color,
    #[command(flatten)]
    limits: LimitArgs,
    /// Keep running: on every change of a rule file, re-evaluate and print what changed.
    #[arg(long)]
    watch: bool,
    /// Print the result cache's hit, miss and eviction counters to stderr.
    #[arg(long)]
    stats: bool,
    /// Actors kept in the result cache (with --watch or --stats).
    #[arg(long, default_value_t = 100_000)]
    cache_capacity: usize,
    /// Write only these stats' values, comma-separated (`{"id", "values": {stat: number}}`
    /// per actor; a stat the actor has no value for is 0, as formulas read it). Skips
    /// building snapshots.
    #[arg(long, value_name = "STATS", value_delimiter = ',')]
    values: Vec<String>,
    #[command(flatten)]
    input_limits: InputLimitArgs,
}

#[derive(clap::Args, Debug, Clone)]
struct InputLimitArgs {
    /// Deepest JSON nesting of one actor.
    #[arg(long, default_value_t = InputLimits::default().max_depth)]
    max_json_depth: usize,
    /// Most subsystems per actor.
    #[arg(long, default_value_t = InputLimits::default().max_subsystems)]
    max_subsystems: usize,
    /// Most contributions and caps per actor.
    #[arg(long, default_value_t = InputLimits::default().max_contributions)]
    max_contributions: usize,
    /// Longest actor (an NDJSON line or a JSON file), in bytes.
    #[arg(long, default_value_t = InputLimits::default().max_line_bytes)]
    max_line_bytes: usize,
}

impl InputLimitArgs {
    fn limits(&self) -> InputLimits {
        InputLimits {
            max_depth: self.max_json_depth,
            max_subsystems: self.max_subsystems,
            max_contributions: self.max_contributions,
            max_line_bytes: self.max_line_bytes,
        }
    }
}

pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 2 } else { 0 };
        }
    };
    match cli.command {
        Command::Check(a) => check(a),
        Command::Run(a) => run(a),
        Command::Explain(a) => explain(a),
        Command::Graph(a) => graph(a),
    }
}

fn use_color(c: Color) -> bool {
    match c {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
    }
}

/// The rule sets named by `paths`: a folder with no `.stat` files of its own stands for each
/// of its subfolders.
fn rule_sets(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    for p in paths {
        if !p.is_dir() {
            if !p.exists() {
                return Err(format!("{} does not exist", p.display()));
            }
            out.push(p.clone());
            continue;
        }
        let own = std::fs::read_dir(p)
            .map_err(|e| format!("cannot read folder {}: {e}", p.display()))?
            .filter_map(Result::ok)
            .any(|e| e.path().is_file() && e.path().extension().is_some_and(|x| x == "stat"));
        if own {
            out.push(p.clone());
            continue;
        }
        let mut subs: Vec<PathBuf> = std::fs::read_dir(p)
            .map_err(|e| format!("cannot read folder {}: {e}", p.display()))?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|s| s.is_dir() && stat_files_in(s).is_ok_and(|f| !f.is_empty()))
            .collect();
        if subs.is_empty() {
            return Err(format!("{} holds no .stat files", p.display()));
        }
        subs.sort();
        out.extend(subs);
    }
    Ok(out)
}

fn check(a: CheckArgs) -> i32 {
    let sets = match rule_sets(&a.paths) {
        Ok(s) => s,
        Err(e) => return usage_error(&e.to_string()),
    };
    let color = use_color(a.color);
    let mut any_error = false;
    let mut json = Vec::new();
    for set in &sets {
        let mut compiled = match compile(std::slice::from_ref(set), &a.limits.options()) {
            Ok(c) => c,
            Err(e) => return usage_error(&e.to_string()),
        };
        let cost = compiled.ir.as_ref().map(crate::cost::cost);
        if let (Some(ir), Some(c), Some(budget)) = (&compiled.ir, &cost, a.max_cost)
            && let Some(d) = crate::cost::over_budget(ir, c, budget, a.cost_contributions)
        {
            compiled.diagnostics.push(d);
        }
        any_error |= compiled.has_errors();
        match a.format {
            Format::Text => {
                eprint!("{}", diag::render(&compiled.sources, &compiled.diagnostics, color));
                let mut line = summary(set, &compiled);
                if let Some(c) = &cost {
                    line.push_str(&format!(", cost ≤ {} + {} per contribution", c.fixed, c.per_contribution));
                }
                eprintln!("{line}");
                if let (true, Some(c)) = (a.cost, &cost) {
                    println!("{:<32} {:>10} {:>18}", "stat", "fixed", "per contribution");
                    for s in &c.stats {
                        println!("{:<32} {:>10} {:>18}", s.stat, s.fixed, s.per_contribution);
                    }
                    println!("{:<32} {:>10} {:>18}", "(rule set)", c.fixed, c.per_contribution);
                }
            }
            Format::Json => json.push(serde_json::json!({
                "rule_set": set.display().to_string(),
                "diagnostics": diag::to_json(&compiled.sources, &compiled.diagnostics),
                "cost": cost,
            })),
        }
        if let (Some(Emit::Ir), Some(ir)) = (a.emit, &compiled.ir) {
            print!("{}", crate::ir::dump(ir));
        }
    }
    if a.format == Format::Json {
        println!("{}", serde_json::to_string_pretty(&json).unwrap_or_default());
    }
    i32::from(any_error)
}

fn summary(set: &Path, c: &Compiled) -> String {
    let errors = c.diagnostics.iter().filter(|d| d.is_error()).count();
    let warnings = c.diagnostics.len() - errors;
    let plural = |n: usize, w: &str| format!("{n} {w}{}", if n == 1 { "" } else { "s" });
    let stats = c.ir.as_ref().map_or(String::new(), |ir| format!(", {}", plural(ir.stats.len(), "stat")));
    format!("checked {}: {}, {}{stats}", set.display(), plural(errors, "error"), plural(warnings, "warning"))
}

fn usage_error(msg: &str) -> i32 {
    eprintln!("error: {msg}");
    2
}

fn load_rules(paths: &[PathBuf], limits: &LimitArgs, color: bool) -> Result<Rules, i32> {
    let compiled = compile(paths, &limits.options()).map_err(|e| usage_error(&e.to_string()))?;
    let warnings: Vec<&Diagnostic> = compiled.diagnostics.iter().filter(|d| !d.is_error()).collect();
    if compiled.has_errors() || !warnings.is_empty() {
        eprint!("{}", diag::render(&compiled.sources, &compiled.diagnostics, color));
    }
    Rules::from_compiled(compiled).map_err(|_| 1)
}

enum InputForm {
    One,
    Lines,
}

/// `.json` is one actor, `.ndjson`/`.jsonl` a batch; otherwise the first line decides.
fn sniff(path: &Path, first_line: &str) -> InputForm {
    match path.extension().and_then(|e| e.to_str()) {
        Some("json") => return InputForm::One,
        Some("ndjson" | "jsonl") => return InputForm::Lines,
        _ => {}
    }
    let t = first_line.trim();
    if t.starts_with('{') && serde_json::from_str::<serde_json::Value>(t).is_ok() {
        InputForm::Lines
    } else {
        InputForm::One
    }
}

fn run(a: RunArgs) -> i32 {
    if let Some(n) = a.threads {
        let _ = rayon::ThreadPoolBuilder::new().num_threads(n.max(1)).build_global();
    }
    let color = use_color(a.color);
    if (a.watch || a.stats) && !a.values.is_empty() {
        return usage_error("--values cannot be combined with --watch or --stats");
    }
    if a.watch || a.stats {
        return run_watch(&a, color);
    }
    let rules = match load_rules(&a.rules, &a.limits, color) {
        Ok(r) => r,
        Err(code) => return code,
    };
    let output = match select(&rules.ir, &a.values) {
        Ok(selection) if selection.is_empty() => Output::Snapshots,
        Ok(selection) => Output::Values(selection),
        Err(message) => return usage_error(&message),
    };
    let backend = match a.engine {
        EngineArg::Interp => Backend::Interpreter,
        EngineArg::Jit => Backend::Jit,
    };
    let engine = match Engine::new(&rules, backend) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("error: {e}");
            return 1;
        }
    };
    let stdin = a.input.as_os_str() == "-";
    let reader: Box<dyn Read> = if stdin {
        Box::new(std::io::stdin().lock())
    } else {
        match std::fs::File::open(&a.input) {
            Ok(f) => Box::new(f),
            Err(e) => return usage_error(&format!("cannot read {}: {e}", a.input.display())),
        }
    };
    let total = if stdin { None } else { std::fs::metadata(&a.input).ok().map(|m| m.len()) };
    let mut reader = BufReader::with_capacity(1 << 16, reader);
    let to_terminal = a.output.is_none() && std::io::stdout().is_terminal();
    let mut out: Box<dyn Write> = match &a.output {
        Some(p) => match std::fs::File::create(p) {
            Ok(f) => Box::new(std::io::BufWriter::new(f)),
            Err(e) => return usage_error(&format!("cannot write {}: {e}", p.display())),
        },
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    // Bytes, not text: input that is not UTF-8 is a bad actor, not an I/O error.
    let mut first = Vec::new();
    if let Err(e) = reader.read_until(b'\n', &mut first) {
        return usage_error(&format!("cannot read {}: {e}", a.input.display()));
    }
    let code = match sniff(&a.input, &String::from_utf8_lossy(&first)) {
        InputForm::One => {
            let mut bytes = first;
            if let Err(e) = reader.read_to_end(&mut bytes) {
                return usage_error(&format!("cannot read {}: {e}", a.input.display()));
            }
            match String::from_utf8(bytes) {
                Ok(text) => run_one(&engine, &a.input_limits.limits(), &text, &mut out, to_terminal, &output),
                Err(e) => {
                    eprintln!("error: {}", not_utf8(e.as_bytes(), e.utf8_error(), None));
                    1
                }
            }
        }
        InputForm::Lines => {
            let progress = (!a.quiet && std::io::stderr().is_terminal()).then(|| progress_bar(total));
            let limits = a.input_limits.limits();
            run_lines(&engine, &limits, &output, first, reader, &mut out, progress.as_ref(), a.quiet)
        }
    };
    match out.flush() {
        Ok(()) => code,
        Err(e) => write_failed(&e),
    }
}

/// A closed pipe (`actorc run … | head`) ends the run quietly; other write errors are I/O errors.
fn write_failed(e: &std::io::Error) -> i32 {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        return 0;
    }
    usage_error(&format!("cannot write output: {e}"))
}

fn progress_bar(total: Option<u64>) -> indicatif::ProgressBar {
    let bar = match total {
        Some(n) => indicatif::ProgressBar::new(n).with_style(
            indicatif::ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {msg} ({eta})")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        ),
        None => indicatif::ProgressBar::new_spinner(),
    };
    bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
    bar
}

/// What `run` writes per actor.
enum Output {
    Snapshots,
    /// The values of these stats (ids and names, in the order asked for).
    Values(Vec<(StatId, String)>),
}

/// The stats named by `--values`, each resolved once.
fn select(ir: &crate::ir::Ir, names: &[String]) -> Result<Vec<(StatId, String)>, String> {
    let mut selection: Vec<(StatId, String)> = Vec::with_capacity(names.len());
    for name in names.iter().map(|n| n.trim()) {
        if name.is_empty() {
            return Err("--values: a stat name is empty (expected names separated by commas)".into());
        }
        let id = ir
            .find_stat(name)
            .map_err(|s| format!("--values: unknown stat `{name}`{}", diag::did_you_mean_suffix(s)))?;
        if !selection.iter().any(|(s, _)| *s == id) {
            selection.push((id, name.to_string()));
        }
    }
    Ok(selection)
}

/// One `--values` record: `{"id", "values": {stat: number, …}}`, stats in the order asked.
fn values_record(id: Option<&str>, row: &[f64], selection: &[(StatId, String)]) -> String {
    let mut s = String::from("{\"id\":");
    s.push_str(&serde_json::to_string(&id).unwrap_or_default());
    s.push_str(",\"values\":{");
    for (k, (stat, name)) in selection.iter().enumerate() {
        if k > 0 {
            s.push(',');
        }
        s.push_str(&serde_json::to_string(name).unwrap_or_default());
        s.push(':');
        s.push_str(&serde_json::to_string(&row[stat.index()]).unwrap_or_default());
    }
    s.push_str("}}");
    s
}

fn run_one(
    engine: &Engine,
    limits: &InputLimits,
    text: &str,
    out: &mut dyn Write,
    pretty: bool,
    output: &Output,
) -> i32 {
    let actor = parse_actor_limited(text, limits);
    if let Output::Values(selection) = output {
        let id = actor.as_ref().ok().and_then(|a| a.id.clone());
        let batch: PreparedBatch = [actor.and_then(|a| engine.prepare_actor(&a))].into_iter().collect();
        let mut table = ValueTable::default();
        engine.evaluate_values(&batch, &mut table);
        return match table.row(0) {
            Ok(row) => {
                let _ = writeln!(out, "{}", values_record(id.as_deref(), row, selection));
                0
            }
            Err(e) => {
                eprintln!("error: {e}");
                1
            }
        };
    }
    let result = actor.map_err(ActorError::from).and_then(|actor| engine.evaluate(&actor));
    match result {
        Ok(snap) => {
            let s = if pretty { serde_json::to_string_pretty(&snap) } else { serde_json::to_string(&snap) };
            let _ = writeln!(out, "{}", s.unwrap_or_default());
            0
        }
        Err(e) => {
            eprintln!("error: {e}");
            1
        }
    }
}

#[derive(serde::Serialize)]
struct Record<'a> {
    id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    snapshot: Option<&'a Snapshot>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a ActorError>,
}

/// The output line of an actor that failed: `{"id", "error"}`.
fn error_record(id: Option<&str>, e: &ActorError) -> String {
    serde_json::to_string(&Record { id, snapshot: None, error: Some(e) }).unwrap_or_default()
}

/// One output line for one input line: `{"id", "snapshot"}` or `{"id", "error"}`.
pub fn record(id: Option<&str>, result: &Result<Snapshot, ActorError>) -> String {
    match result {
        Ok(s) => serde_json::to_string(&Record { id, snapshot: Some(s), error: None }).unwrap_or_default(),
        Err(e) => error_record(id, e),
    }
}

/// The input error for an actor document that is not UTF-8 text.
fn not_utf8(bytes: &[u8], e: std::str::Utf8Error, line_no: Option<usize>) -> InputError {
    let at = e.valid_up_to();
    let message = match line_no {
        Some(n) => format!("line {n}: not valid UTF-8 text (invalid byte at column {})", at + 1),
        None => format!("not valid UTF-8 text (invalid byte at offset {at})"),
    };
    InputError {
        actor: crate::input::salvage_id(&String::from_utf8_lossy(bytes)),
        subsystem: None,
        field: String::new(),
        message,
    }
}

/// Parses one NDJSON line within `limits`; `line_no` (one-based) prefixes the message of
/// an input error.
fn parse_line(limits: &InputLimits, line_no: usize, text: &str) -> Result<crate::input::Actor, InputError> {
    parse_actor_limited(text, limits).map_err(|mut e| {
        e.message = format!("line {line_no}: {}", e.message);
        e
    })
}

/// [`parse_line`] for a line as read: a line that is not UTF-8 is an input error.
fn parse_line_bytes(limits: &InputLimits, line_no: usize, line: &[u8]) -> Result<crate::input::Actor, InputError> {
    match std::str::from_utf8(line) {
        Ok(text) => parse_line(limits, line_no, text),
        Err(e) => Err(not_utf8(line, e, Some(line_no))),
    }
}

/// Evaluates one NDJSON line within `limits`; `line_no` is one-based.
pub fn eval_line(
    engine: &Engine,
    limits: &InputLimits,
    line_no: usize,
    text: &str,
) -> (Option<String>, Result<Snapshot, ActorError>) {
    match parse_line(limits, line_no, text) {
        Ok(actor) => {
            let r = engine.evaluate(&actor);
            (actor.id, r)
        }
        Err(e) => (e.actor.clone(), Err(ActorError::from(e))),
    }
}

/// One chunk's lines parsed and ingested in parallel: each actor's id (or the id salvaged
/// from a bad line) and the prepared batch.
fn prepared_chunk(
    engine: &Engine,
    limits: &InputLimits,
    chunk: &[(usize, Vec<u8>)],
) -> (Vec<Option<String>>, PreparedBatch) {
    let (ids, actors) = chunk
        .par_iter()
        .map(|(n, line)| {
            let direct = std::str::from_utf8(line).ok().and_then(|text| engine.prepare_json(text, limits));
            if let Some((id, prepared)) = direct {
                return (id, Ok(prepared));
            }
            match parse_line_bytes(limits, *n, line) {
                Ok(actor) => (actor.id.clone(), engine.prepare_actor(&actor)),
                Err(e) => (e.actor.clone(), Err(e)),
            }
        })
        .unzip::<_, _, _, Vec<_>>();
    (ids, actors.into_iter().collect())
}

/// One chunk's snapshot records and whether each actor succeeded: parsed and ingested in
/// parallel, then evaluated as one batch (the JIT lays it out two actors per vector).
fn snapshot_records(engine: &Engine, limits: &InputLimits, chunk: &[(usize, Vec<u8>)]) -> Vec<(bool, String)> {
    let (ids, batch) = prepared_chunk(engine, limits, chunk);
    let results = engine.evaluate_batch(&batch);
    drop(batch);
    ids.par_iter().zip(&results).map(|(id, r)| (r.is_ok(), record(id.as_deref(), r))).collect()
}

/// One chunk's `--values` records and whether each actor succeeded: parsed and ingested in
/// parallel, then evaluated as one batch into values only.
fn values_records(
    engine: &Engine,
    limits: &InputLimits,
    chunk: &[(usize, Vec<u8>)],
    selection: &[(StatId, String)],
    table: &mut ValueTable,
) -> Vec<(bool, String)> {
    let (ids, batch) = prepared_chunk(engine, limits, chunk);
    engine.evaluate_values(&batch, table);
    ids.iter()
        .enumerate()
        .map(|(i, id)| match table.row(i) {
            Ok(row) => (true, values_record(id.as_deref(), row, selection)),
            Err(e) => (false, error_record(id.as_deref(), e)),
        })
        .collect()
}

const CHUNK: usize = 2048;

/// Largest line buffer `run` keeps for reuse.
const SPARE_LINE_BYTES: usize = 1 << 20;

/// An NDJSON batch from `reader` to `out` as `run` does it: one record per non-blank line,
/// without progress bar or summary. Returns the exit code. For the fuzz targets.
#[doc(hidden)]
pub fn run_batch(engine: &Engine, limits: &InputLimits, mut reader: impl BufRead, out: &mut dyn Write) -> i32 {
    let mut first = Vec::new();
    if let Err(e) = reader.read_until(b'\n', &mut first) {
        eprintln!("error: cannot read input: {e}");
        return 2;
    }
    run_lines(engine, limits, &Output::Snapshots, first, reader, out, None, true)
}

#[allow(clippy::too_many_arguments)]
fn run_lines(
    engine: &Engine,
    limits: &InputLimits,
    output: &Output,
    first: Vec<u8>,
    mut reader: impl BufRead,
    out: &mut dyn Write,
    progress: Option<&indicatif::ProgressBar>,
    quiet: bool,
) -> i32 {
    let (mut ok, mut failed) = (0usize, 0usize);
    let mut line_no = 0usize;
    let mut pending = Some(first);
    let mut done = false;
    let mut chunk: Vec<(usize, Vec<u8>)> = Vec::with_capacity(CHUNK);
    // Line buffers are reused from chunk to chunk: allocating them afresh made the
    // allocator hand back memory and fault it in again, chunk after chunk.
    let mut spare: Vec<Vec<u8>> = Vec::with_capacity(CHUNK);
    // So is the value table of `--values`.
    let mut table = ValueTable::default();
    while !done {
        // A rare huge line's buffer is let go rather than kept for the rest of the run.
        spare.extend(chunk.drain(..).map(|(_, l)| l).filter(|l| l.capacity() <= SPARE_LINE_BYTES));
        let mut bytes = 0u64;
        while chunk.len() < CHUNK {
            let line = match pending.take() {
                Some(l) => l,
                None => {
                    let mut l = spare.pop().unwrap_or_default();
                    l.clear();
                    match reader.read_until(b'\n', &mut l) {
                        Ok(0) => {
                            done = true;
                            break;
                        }
                        Ok(_) => l,
                        Err(e) => {
                            eprintln!("error: cannot read input: {e}");
                            return 2;
                        }
                    }
                }
            };
            line_no += 1;
            bytes += line.len() as u64;
            if std::str::from_utf8(&line).is_ok_and(|l| l.trim().is_empty()) {
                if line.is_empty() {
                    done = true;
                    break;
                }
                spare.push(line);
                continue;
            }
            chunk.push((line_no, line));
        }
        let records: Vec<(bool, String)> = match output {
            Output::Snapshots => snapshot_records(engine, limits, &chunk),
            Output::Values(selection) => values_records(engine, limits, &chunk, selection, &mut table),
        };
        for (succeeded, line) in &records {
            if *succeeded {
                ok += 1
            } else {
                failed += 1
            }
            if let Err(e) = writeln!(out, "{line}") {
                return write_failed(&e);
            }
        }
        if let Some(p) = progress {
            p.inc(bytes);
            p.set_message(format!("{} actors", ok + failed));
        }
    }
    if let Some(p) = progress {
        p.finish_and_clear();
    }
    if !quiet {
        eprintln!("evaluated {} actors: {ok} ok, {failed} failed", ok + failed);
    }
    i32::from(failed > 0)
}

#[derive(clap::Args, Debug)]
struct ExplainArgs {
    /// The rule set: .stat files and folders, loaded together.
    #[arg(default_value = "rules")]
    rules: Vec<PathBuf>,
    /// The stat to explain.
    #[arg(long)]
    stat: String,
    /// An actor (JSON file) or a batch (NDJSON, pick one with --actor); `-` for standard input.
    /// Without it, the rule itself is explained.
    #[arg(long, short)]
    input: Option<PathBuf>,
    /// The id of the actor to explain, in an NDJSON batch.
    #[arg(long)]
    actor: Option<String>,
    /// Aligned text for people, or JSON for tools.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    color: Color,
    #[command(flatten)]
    limits: LimitArgs,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
enum GraphFormat {
    Dot,
    Json,
}

#[derive(clap::Args, Debug)]
struct GraphArgs {
    /// The rule set: .stat files and folders, loaded together.
    #[arg(default_value = "rules")]
    rules: Vec<PathBuf>,
    #[arg(long, value_enum, default_value_t = GraphFormat::Dot)]
    format: GraphFormat,
    /// Keep only this stat, the stats it reads (transitively) and the stats reading it.
    #[arg(long)]
    stat: Option<String>,
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    color: Color,
    #[command(flatten)]
    limits: LimitArgs,
}

/// The actor to explain from a JSON or NDJSON text: `Err(code)` after printing why.
fn pick_actor(path: &Path, text: &str, id: Option<&str>) -> Result<crate::input::Actor, i32> {
    let first = text.lines().next().unwrap_or("");
    let bad = |e: crate::input::InputError| {
        eprintln!("error: {e}");
        1
    };
    match sniff(path, first) {
        InputForm::One => {
            let actor = parse_actor(text).map_err(bad)?;
            match id {
                Some(want) if actor.id.as_deref() != Some(want) => {
                    Err(usage_error(&format!("actor `{want}` not found in {}", path.display())))
                }
                _ => Ok(actor),
            }
        }
        InputForm::Lines => {
            let mut found = Vec::new();
            for (n, line) in text.lines().enumerate() {
                if line.trim().is_empty() {
                    continue;
                }
                if let Some(want) = id
                    && crate::input::salvage_id(line).as_deref() != Some(want)
                {
                    continue;
                }
                let actor = parse_actor(line).map_err(|mut e| {
                    e.message = format!("line {}: {}", n + 1, e.message);
                    bad(e)
                })?;
                found.push(actor);
            }
            match (found.len(), id) {
                (1, _) => Ok(found.remove(0)),
                (0, Some(want)) => Err(usage_error(&format!("actor `{want}` not found in {}", path.display()))),
                (0, None) => Err(usage_error(&format!("{} holds no actors", path.display()))),
                (_, Some(want)) => Err(usage_error(&format!("actor id `{want}` appears more than once"))),
                (n, None) => {
                    Err(usage_error(&format!("{} holds {n} actors: pick one with --actor ID", path.display())))
                }
            }
        }
    }
}

fn explain(a: ExplainArgs) -> i32 {
    use crate::explain::{ExplainError, explain, explain_rule, render, render_rule};
    let rules = match load_rules(&a.rules, &a.limits, use_color(a.color)) {
        Ok(r) => r,
        Err(code) => return code,
    };
    if let Err(e) = crate::explain::resolve(&rules.ir, &a.stat) {
        return usage_error(&e.to_string());
    }
    let Some(input) = &a.input else {
        if a.actor.is_some() {
            return usage_error("--actor needs --input");
        }
        return match explain_rule(&rules, &a.stat) {
            Ok(r) => {
                match a.format {
                    Format::Text => print!("{}", render_rule(&r)),
                    Format::Json => println!("{}", serde_json::to_string_pretty(&r).unwrap_or_default()),
                }
                0
            }
            Err(e) => usage_error(&e.to_string()),
        };
    };
    let mut bytes = Vec::new();
    let read = if input.as_os_str() == "-" {
        std::io::stdin().read_to_end(&mut bytes).map(|_| ())
    } else {
        std::fs::read(input).map(|b| bytes = b)
    };
    if let Err(e) = read {
        return usage_error(&format!("cannot read {}: {e}", input.display()));
    }
    // Input that is not UTF-8 is bad actor data (exit 1), not an I/O error.
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            let bytes = e.as_bytes();
            let at = e.utf8_error().valid_up_to();
            let line_start = bytes[..at].iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
            let line_no = bytes[..at].iter().filter(|&&b| b == b'\n').count() + 1;
            let line_end = bytes[at..].iter().position(|&b| b == b'\n').map_or(bytes.len(), |i| at + i);
            let line = &bytes[line_start..line_end];
            let err = not_utf8(line, std::str::from_utf8(line).unwrap_err(), Some(line_no));
            eprintln!("error: {}: {err}", input.display());
            return 1;
        }
    };
    let actor = match pick_actor(input, &text, a.actor.as_deref()) {
        Ok(actor) => actor,
        Err(code) => return code,
    };
    match explain(&rules, &actor, &a.stat) {
        Ok((e, _)) => {
            match a.format {
                Format::Text => print!("{}", render(&e)),
                Format::Json => println!("{}", serde_json::to_string_pretty(&e).unwrap_or_default()),
            }
            0
        }
        Err(e @ ExplainError::UnknownStat { .. }) => usage_error(&e.to_string()),
        Err(e) => {
            eprintln!("error: {e}");
            1
        }
    }
}

fn graph(a: GraphArgs) -> i32 {
    let rules = match load_rules(&a.rules, &a.limits, use_color(a.color)) {
        Ok(r) => r,
        Err(code) => return code,
    };
    match crate::graph::graph(&rules, a.stat.as_deref()) {
        Ok(g) => {
            match a.format {
                GraphFormat::Dot => print!("{}", crate::graph::to_dot(&g)),
                GraphFormat::Json => println!("{}", serde_json::to_string_pretty(&g).unwrap_or_default()),
            }
            0
        }
        Err(e) => usage_error(&e.to_string()),
    }
}

/// `run --watch` / `run --stats`: evaluates through the result cache; with `--watch`, every
/// published rule change re-evaluates and prints the changed values (stdout or `--output`)
/// and the generation and build latency (stderr). Ctrl-C uses the default SIGINT
/// termination: the output is flushed after every pass, so nothing written is lost.
fn run_watch(a: &RunArgs, color: bool) -> i32 {
    use crate::cache::{Cache, Keep, KeyedActor};
    use crate::reload::{Outcome, Reloader, WatchTiming, watch};
    use std::sync::Arc;
    let mut bytes = Vec::new();
    let read = if a.input.as_os_str() == "-" {
        std::io::stdin().lock().read_to_end(&mut bytes).map(|_| ())
    } else {
        std::fs::read(&a.input).map(|b| bytes = b)
    };
    if let Err(e) = read {
        return usage_error(&format!("cannot read {}: {e}", a.input.display()));
    }
    let first_line = bytes.split(|&b| b == b'\n').next().unwrap_or_default();
    let one = matches!(sniff(&a.input, &String::from_utf8_lossy(first_line)), InputForm::One);
    let docs: Vec<(usize, &[u8])> = if one {
        vec![(1, bytes.as_slice())]
    } else {
        bytes
            .split(|&b| b == b'\n')
            .enumerate()
            .map(|(i, l)| (i + 1, l))
            .filter(|(_, l)| !l.iter().all(u8::is_ascii_whitespace))
            .collect()
    };
    // A bad document costs only its actor: it stays in place as an error record.
    let limits = a.input_limits.limits();
    // Hashed once: the lookups after every reload hash nothing.
    let actors: Vec<Result<KeyedActor, InputError>> = docs
        .into_iter()
        .map(|(n, doc)| {
            let text = std::str::from_utf8(doc).map_err(|e| not_utf8(doc, e, (!one).then_some(n)))?;
            let mut actor = parse_actor_limited(text, &limits).map_err(|mut e| {
                if !one {
                    e.message = format!("line {n}: {}", e.message);
                }
                e
            })?;
            // The cache is keyed by id: an actor without one is named by its line.
            actor.id.get_or_insert_with(|| format!("line {n}"));
            Ok(KeyedActor::new(actor))
        })
        .collect();
    let backend = match a.engine {
        EngineArg::Interp => Backend::Interpreter,
        EngineArg::Jit => Backend::Jit,
    };
    let reloader = Arc::new(Reloader::new(a.rules.clone(), a.limits.options(), backend));
    let report = |o: &Outcome| match o {
        Outcome::Published { generation, took } => {
            let w = &generation.rules.warnings;
            if !w.is_empty() {
                eprint!("{}", diag::render(&generation.rules.sources, w, color));
            }
            eprintln!("generation {} serving (built in {:.1} ms)", generation.number, took.as_secs_f64() * 1e3);
        }
        Outcome::Rejected { sources, diagnostics } => {
            eprint!("{}", diag::render(sources, diagnostics, color));
            eprintln!("rules rejected; the last good rules keep serving");
        }
        Outcome::Io(e) => eprintln!("error: {e}; the last good rules keep serving"),
    };
    let first = reloader.reload();
    report(&first);
    if let Outcome::Io(_) = first
        && !a.watch
    {
        return 2;
    }
    // Only --watch refreshes cached actors after a reload, which needs their prepared forms.
    let keep = if a.watch { Keep::Prepared } else { Keep::Results };
    let mut cache = Cache::keeping(a.cache_capacity, keep);
    let mut out: Box<dyn Write> = match &a.output {
        Some(p) => match std::fs::File::create(p) {
            Ok(f) => Box::new(std::io::BufWriter::new(f)),
            Err(e) => return usage_error(&format!("cannot write {}: {e}", p.display())),
        },
        None => Box::new(std::io::BufWriter::new(std::io::stdout())),
    };
    // The last records, to print what a reload changed (only kept with --watch).
    let mut last: Vec<Option<serde_json::Value>> = vec![None; if a.watch { actors.len() } else { 0 }];
    let mut evaluate = |cache: &mut Cache, g: &crate::reload::Generation, print_all: bool| -> Result<bool, i32> {
        let mut failed = false;
        for (i, actor) in actors.iter().enumerate() {
            let (id, r) = match actor {
                Ok(actor) => (actor.actor().id.as_deref(), cache.evaluate_keyed(g, actor)),
                Err(e) => (e.actor.as_deref(), Arc::new(Err(ActorError::from(e.clone())))),
            };
            failed |= r.is_err();
            let line = record(id, &r);
            let new: Option<serde_json::Value> = last.get(i).and_then(|_| serde_json::from_str(&line).ok());
            let written = match (print_all, last.get(i), &new) {
                (true, ..) => writeln!(out, "{line}"),
                (false, Some(Some(old)), Some(new)) => print_changes(&mut out, id.unwrap_or("?"), old, new),
                _ => Ok(()),
            };
            written.map_err(|e| write_failed(&e))?;
            if let Some(slot) = last.get_mut(i) {
                *slot = new;
            }
        }
        // Flushed per pass: Ctrl-C ends the process without unwinding.
        out.flush().map_err(|e| write_failed(&e))?;
        Ok(failed)
    };
    let mut failed = match reloader.current().map(|g| evaluate(&mut cache, &g, true)) {
        Some(Ok(failed)) => failed,
        Some(Err(code)) => return code,
        None if a.watch => false,
        None => return 1,
    };
    let print_stats = |c: &Cache| {
        let s = c.stats();
        eprintln!(
            "cache: {} hits, {} misses ({} incremental, {} dirty stats), {} evictions",
            s.hits, s.misses, s.incremental, s.dirty_stats, s.evictions
        );
    };
    if !a.watch {
        if a.stats {
            print_stats(&cache);
        }
        return i32::from(failed);
    }
    let (tx, rx) = std::sync::mpsc::channel();
    let _watch = match watch(reloader.clone(), WatchTiming::default(), move |o| {
        let _ = tx.send((std::time::Instant::now(), o));
    }) {
        Ok(w) => w,
        Err(e) => return usage_error(&e.to_string()),
    };
    eprintln!("watching for rule changes (Ctrl-C to stop)");
    let mut printed_all = reloader.current().is_some();
    while let Ok((at, outcome)) = rx.recv() {
        report(&outcome);
        if let Outcome::Published { generation, took } = &outcome {
            // Cached actors recompute only the stats whose rules changed; the lookups below hit.
            cache.refresh(generation);
            failed = match evaluate(&mut cache, generation, !printed_all) {
                Ok(failed) => failed,
                Err(code) => return code,
            };
            printed_all = true;
            eprintln!(
                "generation {}: reload latency {:.1} ms (build {:.1} ms, re-evaluation included)",
                generation.number,
                (at.elapsed() + *took).as_secs_f64() * 1e3,
                took.as_secs_f64() * 1e3
            );
            if a.stats {
                print_stats(&cache);
            }
        }
    }
    i32::from(failed)
}

/// Writes `id stat: old → new` for every value or range that differs between two records.
fn print_changes(
    out: &mut dyn Write,
    id: &str,
    old: &serde_json::Value,
    new: &serde_json::Value,
) -> std::io::Result<()> {
    if old.get("error") != new.get("error") {
        writeln!(
            out,
            "{id}: error {} → {}",
            old.get("error").unwrap_or(&serde_json::Value::Null),
            new.get("error").unwrap_or(&serde_json::Value::Null)
        )?;
    }
    let null = serde_json::Value::Null;
    for section in ["Primary", "Derived", "CapsUsed"] {
        let o = old.pointer(&format!("/snapshot/{section}")).and_then(|v| v.as_object());
        let n = new.pointer(&format!("/snapshot/{section}")).and_then(|v| v.as_object());
        let mut keys: Vec<&String> = o.into_iter().chain(n).flat_map(|m| m.keys()).collect();
        keys.sort();
        keys.dedup();
        for k in keys {
            let (a, b) = (o.and_then(|m| m.get(k)).unwrap_or(&null), n.and_then(|m| m.get(k)).unwrap_or(&null));
            if a != b {
                let label = if section == "CapsUsed" { format!("{k} (range)") } else { k.clone() };
                writeln!(out, "{id} {label}: {a} → {b}")?;
            }
        }
    }
    Ok(())
}
