//! `actorc run --watch` / `--stats`: a [`Session`] over the result cache, fed by a
//! [`Reloader`]; this file reports generations, latencies and cache counters on stderr.

use super::run::RunArgs;
use super::{Exit, open_input, open_output, print_diagnostics, usage_error, write_failed};
use crate::cache::{Cache, Keep};
use crate::reload::{Outcome, Reloader, WatchTiming, watch};
use crate::run::{DocumentReader, InputForm, Pass, RunError, Session, read_session_actors};
use std::sync::Arc;

/// Evaluates through the result cache; with `--watch`, every published rule change
/// re-evaluates and prints the changed values (stdout or `--output`) and the generation and
/// build latency (stderr). Ctrl-C uses the default SIGINT termination: the output is
/// flushed after every pass, so nothing written is lost.
pub(super) fn run_watch(a: &RunArgs, color: bool) -> Exit {
    let cannot_read = |e: std::io::Error| usage_error(&format!("cannot read {}: {e}", a.input.display()));
    let docs = DocumentReader::new(
        open_input(&a.input)?,
        InputForm::of_path(&a.input),
        a.input_limits.limits().max_line_bytes,
    )
    .map_err(cannot_read)?;
    // Hashed once: the lookups after every reload hash nothing.
    let actors = read_session_actors(docs, &a.input_limits.limits()).map_err(cannot_read)?;
    let reloader = Arc::new(Reloader::new(a.rules.clone(), a.limits.options(), a.engine.backend()));
    let error_limit = a.limits.error_limit;
    let report = |o: &Outcome| match o {
        Outcome::Published { generation, took } => {
            let w = &generation.rules.warnings;
            if !w.is_empty() {
                print_diagnostics(&generation.rules.sources, w, color, error_limit);
            }
            errln!("generation {} serving (built in {:.1} ms)", generation.number, took.as_secs_f64() * 1e3);
        }
        Outcome::Rejected { sources, diagnostics } => {
            print_diagnostics(sources, diagnostics, color, error_limit);
            errln!("rules rejected; the last good rules keep serving");
        }
        Outcome::Io(e) => errln!("error: {e}; the last good rules keep serving"),
    };
    let first = reloader.reload();
    report(&first);
    if let Outcome::Io(_) = first
        && !a.watch
    {
        return Ok(2);
    }
    // Only --watch refreshes cached actors after a reload, which needs their prepared forms,
    // and prints what changed, which needs the last results.
    let keep = if a.watch { Keep::Prepared } else { Keep::Results };
    let mut session = Session::new(actors, Cache::keeping(a.cache_capacity, keep), a.watch);
    let mut out = open_output(a.output.as_deref(), &a.input)?;
    let failed_write = |e: RunError| match e {
        RunError::Write(e) => write_failed(&e),
        e => usage_error(&e.to_string()),
    };
    let mut failed = match reloader.current() {
        Some(g) => session.pass(&g, Pass::All, &mut out).map_err(failed_write)?,
        None if a.watch => false,
        None => return Ok(1),
    };
    let print_stats = |c: &Cache| {
        let s = c.stats();
        errln!(
            "cache: {} hits, {} misses ({} incremental, {} dirty stats), {} evictions",
            s.hits,
            s.misses,
            s.incremental,
            s.dirty_stats,
            s.evictions
        );
    };
    if !a.watch {
        if a.stats {
            print_stats(session.cache());
        }
        return Ok(i32::from(failed));
    }
    let (tx, rx) = std::sync::mpsc::channel();
    let _watch = watch(reloader.clone(), WatchTiming::default(), move |o| {
        // The receiver goes only when the session ends.
        let _ = tx.send((std::time::Instant::now(), o));
    })
    .map_err(|e| usage_error(&e.to_string()))?;
    errln!("watching for rule changes (Ctrl-C to stop)");
    let mut printed_all = reloader.current().is_some();
    while let Ok((at, outcome)) = rx.recv() {
        report(&outcome);
        if let Outcome::Published { generation, took } = &outcome {
            // Cached actors recompute only the stats whose rules changed; the lookups below hit.
            session.refresh(generation);
            let pass = if printed_all { Pass::Changes } else { Pass::All };
            failed = session.pass(generation, pass, &mut out).map_err(failed_write)?;
            printed_all = true;
            errln!(
                "generation {}: reload latency {:.1} ms (build {:.1} ms, re-evaluation included)",
                generation.number,
                (at.elapsed() + *took).as_secs_f64() * 1e3,
                took.as_secs_f64() * 1e3
            );
            if a.stats {
                print_stats(session.cache());
            }
        }
    }
    Ok(i32::from(failed))
}
