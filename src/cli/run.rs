//! `actorc run`: evaluates actors into snapshots (or values) with [`crate::run::run`],
//! with a progress bar and a summary on a terminal. `--watch` and `--stats` are in `watch`.

use super::{Color, Exit, LimitArgs, load_rules, open_input, open_output, usage_error, use_color, write_failed};
use crate::engine::{Backend, Engine};
use crate::input::InputLimits;
use crate::run::{InputForm, Output, Progress, RunError, RunOptions, Summary, select};
use clap::ValueEnum;
use std::io::IsTerminal;
use std::path::PathBuf;

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub(super) enum EngineArg {
    /// The reference interpreter.
    Interp,
    /// Cranelift native code.
    Jit,
}

impl EngineArg {
    pub(super) fn backend(self) -> Backend {
        match self {
            EngineArg::Interp => Backend::Interpreter,
            EngineArg::Jit => Backend::Jit,
        }
    }
}

/// More worker threads than this is a usage error (each thread costs its stack, and no
/// machine this runs on has that many cores).
const MAX_THREADS: i64 = 1024;

#[derive(clap::Args, Debug)]
pub(super) struct RunArgs {
    /// The rule set: .stat files and folders, loaded together.
    #[arg(default_value = "rules")]
    pub(super) rules: Vec<PathBuf>,
    /// Actors: a JSON file (one actor), an NDJSON file (a batch), or `-` for standard input.
    #[arg(long, short)]
    pub(super) input: PathBuf,
    /// Where to write snapshots (standard output if absent).
    #[arg(long, short)]
    pub(super) output: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = EngineArg::Jit)]
    pub(super) engine: EngineArg,
    /// No progress bar and no summary.
    #[arg(long, short)]
    quiet: bool,
    /// Worker threads, 1 to 1024 (default: all cores).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=MAX_THREADS))]
    threads: Option<u16>,
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    color: Color,
    #[command(flatten)]
    pub(super) limits: LimitArgs,
    /// Keep running: on every change of a rule file, re-evaluate and print what changed.
    #[arg(long)]
    pub(super) watch: bool,
    /// Print the result cache's hit, miss and eviction counters to stderr.
    #[arg(long)]
    pub(super) stats: bool,
    /// Actors kept in the result cache (with --watch or --stats).
    #[arg(long, default_value_t = 100_000)]
    pub(super) cache_capacity: usize,
    /// Write only these stats' values, comma-separated (`{"id", "values": {stat: number}}`
    /// per actor; a stat the actor has no value for is 0, as formulas read it). Skips
    /// building snapshots. With --watch, only these stats' changes are written.
    #[arg(long, value_name = "STATS", value_delimiter = ',')]
    pub(super) values: Vec<String>,
    #[command(flatten)]
    pub(super) input_limits: InputLimitArgs,
}

#[derive(clap::Args, Debug, Clone)]
pub(super) struct InputLimitArgs {
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
    pub(super) fn limits(&self) -> InputLimits {
        InputLimits {
            max_depth: self.max_json_depth,
            max_subsystems: self.max_subsystems,
            max_contributions: self.max_contributions,
            max_line_bytes: self.max_line_bytes,
        }
    }
}

/// What every `actorc run` does first (the thread pool, the color choice); then `run` or,
/// for `--watch` and `--stats`, `watch::run_watch`.
pub(super) fn start(a: RunArgs) -> Result<(RunArgs, bool), i32> {
    if let Some(n) = a.threads {
        // Fails only if the global pool exists already; then it serves as it is.
        let _ = rayon::ThreadPoolBuilder::new().num_threads(usize::from(n)).build_global();
    }
    let color = use_color(a.color);
    Ok((a, color))
}

/// A plain run: every actor of the input, once.
pub(super) fn run(a: RunArgs, color: bool) -> Exit {
    let rules = load_rules(&a.rules, &a.limits, color)?;
    let output = match select(&rules.ir, &a.values) {
        Ok(selection) if selection.is_empty() => Output::Snapshots,
        Ok(selection) => Output::Values(selection),
        Err(e) => return Err(usage_error(&e.to_string())),
    };
    let engine = Engine::new(&rules, a.engine.backend()).map_err(|e| {
        errln!("error: {e}");
        1
    })?;
    let input = open_input(&a.input)?;
    let stdin = a.input.as_os_str() == "-";
    let total = if stdin { None } else { std::fs::metadata(&a.input).ok().map(|m| m.len()) };
    let mut out = open_output(a.output.as_deref(), &a.input)?;
    let opts = RunOptions {
        limits: a.input_limits.limits(),
        output,
        form: InputForm::of_path(&a.input),
        pretty: a.output.is_none() && std::io::stdout().is_terminal(),
    };
    // The bar appears with the first chunk of a batch; one document has none.
    let show_progress = !a.quiet && std::io::stderr().is_terminal();
    let mut bar: Option<indicatif::ProgressBar> = None;
    let mut progress = |p: Progress| {
        if show_progress {
            let bar = bar.get_or_insert_with(|| progress_bar(total));
            bar.inc(p.bytes);
            bar.set_message(format!("{} actors", p.actors));
        }
    };
    let done = crate::run::run(&engine, &opts, input, &mut out, &mut progress);
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    match done {
        Ok(Summary::One { error: Some(e) }) => {
            errln!("error: {e}");
            Ok(1)
        }
        Ok(Summary::One { error: None }) => Ok(0),
        Ok(Summary::Lines { ok, failed }) => {
            if !a.quiet {
                errln!("evaluated {} actors: {ok} ok, {failed} failed", ok + failed);
            }
            Ok(i32::from(failed > 0))
        }
        Err(RunError::Read { source, start: true }) => {
            Err(usage_error(&format!("cannot read {}: {source}", a.input.display())))
        }
        Err(RunError::Write(e)) => Err(write_failed(&e)),
        Err(e) => Err(usage_error(&e.to_string())),
    }
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
