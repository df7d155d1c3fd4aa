//! `actorc run --watch` / `--stats`: a [`Session`] over the result cache, fed by a
//! [`Reloader`] and its file watcher; this file reports generations, latencies and cache
//! counters on standard error. The output (standard output or `--output`) holds only
//! records, except on a terminal, where changes are lines for people.

use super::run::RunArgs;
use super::{Exit, open_input, open_output, print_diagnostics, usage_error, write_failed};
use crate::cache::{Cache, Keep};
use crate::reload::{Generation, Outcome, Reloader, WatchReport, WatchTiming, watch};
use crate::run::{ChangeFormat, DocumentReader, InputForm, Pass, RunError, Session, SessionOptions, Source, select};
use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Instant;

/// Evaluates through the result cache; with `--watch`, every published rule change
/// re-evaluates and writes what changed (as NDJSON records unless standard output is a
/// terminal), and the generation and the latency from the file event to the written changes
/// (standard error). Ctrl-C uses the default SIGINT termination: the output is flushed after
/// every pass, so nothing written is lost.
pub(super) fn run_watch(a: &RunArgs, color: bool) -> Exit {
    let cannot_read = |e: std::io::Error| usage_error(&format!("cannot read {}: {e}", a.input.display()));
    // Opened before the input is read, so both are the same file; only a watch reads again.
    let source = if a.watch { Source::of_path(&a.input) } else { Source::Memory(Vec::new()) };
    let limits = a.input_limits.limits();
    let docs = DocumentReader::new(open_input(&a.input)?, InputForm::of_path(&a.input), limits.max_line_bytes)
        .map_err(cannot_read)?;
    let reloader = Arc::new(Reloader::new(a.rules.clone(), a.limits.options(), a.engine.backend()));
    let error_limit = a.limits.error_limit;
    let first = reloader.reload();
    match &first {
        Outcome::Published { generation, took } => {
            print_warnings(generation, color, error_limit);
            errln!("generation {} serving (built in {:.1} ms)", generation.number, took.as_secs_f64() * 1e3);
        }
        Outcome::Rejected { sources, diagnostics } => {
            print_diagnostics(sources, diagnostics, color, error_limit);
            if a.watch {
                errln!("rules rejected; waiting for a good save");
            }
        }
        Outcome::Io(e) => errln!("error: {e}"),
        Outcome::Unchanged { .. } => {}
    }
    let serving = reloader.current();
    match &serving {
        None if !a.watch => return Ok(if matches!(first, Outcome::Io(_)) { 2 } else { 1 }),
        Some(g) if !a.values.is_empty() => {
            select(g.engine.ir(), &a.values).map_err(|e| usage_error(&e.to_string()))?;
        }
        _ => {}
    }
    let mut out = open_output(a.output.as_deref(), &a.input)?;
    // Records unless a person reads standard output.
    let format = match a.output.is_none() && std::io::stdout().is_terminal() {
        true => ChangeFormat::Text,
        false => ChangeFormat::Records,
    };
    // Only --watch refreshes cached actors after a reload, which needs their prepared forms.
    let keep = if a.watch { Keep::Prepared } else { Keep::Results };
    let opts = SessionOptions { limits, remember: a.watch, format, values: a.values.clone() };
    let mut session = Session::new(source, Cache::keeping(a.cache_capacity, keep), opts);
    let failed_write = |e: RunError| match e {
        RunError::Write(e) => write_failed(&e),
        RunError::Read { source, .. } => cannot_read(source),
        e => usage_error(&e.to_string()),
    };
    let mut failed = session.read(docs, serving.as_deref(), &mut out).map_err(failed_write)?;
    if !a.watch {
        if a.stats {
            print_stats(session.cache());
        }
        return Ok(i32::from(failed > 0));
    }
    let (tx, rx) = std::sync::mpsc::channel();
    let _watch = watch(reloader.clone(), WatchTiming::default(), move |r| {
        // The receiver goes only when the session ends.
        let _ = tx.send(r);
    })
    .map_err(|e| usage_error(&e))?;
    errln!("watching for rule changes (Ctrl-C to stop)");
    let mut printed_all = serving.is_some();
    // Whether the last report was a problem, to say when the rules are back as they were.
    let mut troubled = false;
    while let Ok(report) = rx.recv() {
        let (outcome, event) = match report {
            WatchReport::Gone(path) => {
                errln!(
                    "warning: {} is gone; the last good rules keep serving, and the watch waits for it to come back",
                    path.display()
                );
                troubled = true;
                continue;
            }
            WatchReport::Back(path) => {
                errln!("{} is back; the rules are read from it again", path.display());
                continue;
            }
            WatchReport::Rebuilt { outcome, event } => (outcome, event),
        };
        let (generation, took) = match outcome {
            Outcome::Published { generation, took } => (generation, took),
            Outcome::Rejected { sources, diagnostics } => {
                print_diagnostics(&sources, &diagnostics, color, error_limit);
                errln!("rules rejected; the last good rules keep serving");
                troubled = true;
                continue;
            }
            Outcome::Io(e) => {
                errln!("error: {e}; the last good rules keep serving");
                troubled = true;
                continue;
            }
            Outcome::Unchanged { serving } => {
                if std::mem::take(&mut troubled) {
                    errln!("the rules read as generation {serving}'s again; it keeps serving");
                }
                continue;
            }
        };
        troubled = false;
        print_warnings(&generation, color, error_limit);
        if !generation.removed_stats.is_empty() {
            warn_removed(&generation, session.using(&generation.removed_stats));
        }
        if let Err(e) = select(generation.engine.ir(), &a.values).map_err(|e| e.to_string())
            && !a.values.is_empty()
        {
            errln!("warning: generation {}: {e}; it is left out", generation.number);
        }
        let evaluation = Instant::now();
        // Cached actors recompute only the stats whose rules changed; the lookups below hit.
        session.refresh(&generation);
        let pass = if printed_all { Pass::Changes } else { Pass::All };
        failed = session.pass(&generation, pass, &mut out).map_err(failed_write)?;
        printed_all = true;
        let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
        errln!(
            "generation {}: {:.1} ms from the file event to the changes written (build {:.1} ms, evaluation {:.1} ms)",
            generation.number,
            ms(event.elapsed()),
            ms(took),
            ms(evaluation.elapsed())
        );
        if a.stats {
            print_stats(session.cache());
        }
    }
    Ok(i32::from(failed > 0))
}

/// The warnings of a published rule set, if any.
fn print_warnings(g: &Generation, color: bool, error_limit: usize) {
    if !g.rules.warnings.is_empty() {
        print_diagnostics(&g.rules.sources, &g.rules.warnings, color, error_limit);
    }
}

/// Says that a generation removes stats, and how many actors had values for them (a file
/// saved in part looks like this).
fn warn_removed(g: &Generation, actors: usize) {
    let names: Vec<String> = g.removed_stats.iter().take(10).map(|n| format!("`{n}`")).collect();
    let more = g.removed_stats.len().saturating_sub(names.len());
    let more = if more > 0 { format!(" and {more} more") } else { String::new() };
    let s = if g.removed_stats.len() == 1 { "" } else { "s" };
    let used = match actors {
        0 => String::new(),
        1 => "; 1 actor had a value for them".into(),
        n => format!("; {n} actors had values for them"),
    };
    errln!("warning: generation {} removes stat{s} {}{more}{used}", g.number, names.join(", "));
}

fn print_stats(c: &Cache) {
    let s = c.stats();
    errln!(
        "cache: {} hits, {} misses ({} incremental, {} dirty stats), {} evictions",
        s.hits,
        s.misses,
        s.incremental,
        s.dirty_stats,
        s.evictions
    );
}
