//! Hot reload: a [`Reloader`] rebuilds the rule set when told "this file now has this text"
//! or "this file was removed" ([`Reloader::apply`]), or from what is on disk
//! ([`Reloader::sync`]); a file-system adapter ([`watch`], the `watch` feature) turns file
//! events into such rebuilds.
//!
//! Invariants: a generation (rules + engine + number) is built completely (load, check,
//! lower, JIT compile) on the caller's thread, off the evaluating threads, and published with
//! one `ArcSwap::store`; readers see exactly one complete generation and keep it alive with
//! their `Arc` until they finish. A rule set whose check fails publishes nothing: the last
//! good generation keeps serving and the diagnostics are returned. Files are read through
//! the loader's one reading path (`load::read_bounded`), so a reload accepts exactly what
//! `check` accepts. The watcher rebuilds from disk alone, never from remembered texts, once
//! no file event came for a quiet period. The rule diff a cache needs to bring its actors to
//! a new generation ([`rule_diff`]) is computed once, when the generation is built, against
//! each of the last [`DIFF_HISTORY`] published generations.

mod diff;
#[cfg(feature = "watch")]
mod watch;

pub use diff::{Fingerprints, RuleDiff, fingerprints, rule_diff};
#[cfg(feature = "watch")]
pub use watch::{Watch, WatchReport, WatchTiming, watch};

use crate::diag::Diagnostic;
use crate::engine::{Backend, Engine};
use crate::load::{Fs, LoadOptions, Overlay, SourceProvider, load_with};
use crate::rules::{Rules, compile_loaded};
use crate::source::{SourceMap, Span};
use arc_swap::ArcSwapOption;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How many earlier generations a new one is diffed against (see [`Generation::rule_diff_since`]).
pub const DIFF_HISTORY: usize = 8;

/// One published rule set.
#[derive(Debug)]
pub struct Generation {
    /// 1 for the first good rule set, then one more per published reload.
    pub number: u64,
    pub rules: Rules,
    pub engine: Engine,
    /// The stats of the generation this one replaced that it no longer has, by name (a
    /// half-written file often looks like this: see [`Outcome::Published`]).
    pub removed_stats: Vec<String>,
    /// The rule diff from each of the last [`DIFF_HISTORY`] published generations, newest
    /// first: `(number, None)` when the structure changed since that one.
    since: Vec<(u64, Option<RuleDiff>)>,
}

impl Generation {
    /// How the rules changed since generation `number` of the same reloader; `None` when the
    /// structure changed (prepared actors and snapshots of that generation do not fit this
    /// one), or when `number` is not among the last [`DIFF_HISTORY`] generations before this one.
    pub fn rule_diff_since(&self, number: u64) -> Option<&RuleDiff> {
        self.since.iter().find(|(n, _)| *n == number).and_then(|(_, d)| d.as_ref())
    }
}

/// What happened to one file.
#[derive(Debug, Clone)]
pub enum Change {
    Write {
        path: PathBuf,
        text: String,
    },
    Remove {
        path: PathBuf,
    },
    /// Something may have changed anywhere (a watcher `Rescan`): forget the overlay, reread disk.
    Rescan,
}

/// The result of applying changes.
#[derive(Debug)]
pub enum Outcome {
    /// A new generation serves from now on (warnings, if any, are in its rules; the stats it
    /// dropped in [`Generation::removed_stats`]).
    Published { generation: Arc<Generation>, took: Duration },
    /// [`Reloader::sync`] read the very files the serving generation was built from: nothing
    /// was built, generation `serving` keeps serving.
    Unchanged { serving: u64 },
    /// The rules have errors (or the JIT failed); the previous generation (if any) keeps serving.
    Rejected { sources: SourceMap, diagnostics: Vec<Diagnostic> },
    /// A root could not be read at all; the previous generation keeps serving.
    Io(crate::load::RootError),
}

/// What a build reads and updates.
#[derive(Default)]
struct State {
    overlay: Overlay,
    /// The last [`DIFF_HISTORY`] published generations' numbers and fingerprints, newest first.
    recent: Vec<(u64, Arc<Fingerprints>)>,
}

/// Builds and publishes rule-set generations.
pub struct Reloader {
    roots: Vec<PathBuf>,
    opts: LoadOptions,
    backend: Backend,
    /// Held while building: the overlay and the fingerprints of the last published generations.
    state: Mutex<State>,
    current: ArcSwapOption<Generation>,
    next: AtomicU64,
}

impl Reloader {
    /// A reloader for the rule set made of `roots`; nothing is loaded until [`Reloader::reload`]
    /// or [`Reloader::apply`] (so it can start on a broken rule set).
    pub fn new(roots: Vec<PathBuf>, opts: LoadOptions, backend: Backend) -> Reloader {
        Reloader {
            roots,
            opts,
            backend,
            state: Mutex::new(State::default()),
            current: ArcSwapOption::empty(),
            next: AtomicU64::new(1),
        }
    }

    pub fn roots(&self) -> &[PathBuf] {
        &self.roots
    }

    /// The generation serving now (`None` until the first good rule set). Hold the `Arc` for
    /// the whole of an evaluation.
    pub fn current(&self) -> Option<Arc<Generation>> {
        self.current.load_full()
    }

    /// Rebuilds from the current overlay and disk.
    pub fn reload(&self) -> Outcome {
        self.build(Vec::new(), false)
    }

    pub fn apply(&self, change: Change) -> Outcome {
        self.build(vec![change], false)
    }

    /// Applies several changes and rebuilds once.
    pub fn apply_all(&self, changes: Vec<Change>) -> Outcome {
        self.build(changes, false)
    }

    /// Rebuilds from what is on disk alone (the overlay is forgotten), as `check` reads it:
    /// an unreadable file is an error (E0004), text that is not UTF-8 too (E0007). When every
    /// file reads as the serving generation's, nothing is built ([`Outcome::Unchanged`]), so
    /// a save that raises several file events publishes once.
    pub fn sync(&self) -> Outcome {
        self.build(vec![Change::Rescan], true)
    }

    fn build(&self, changes: Vec<Change>, skip_unchanged: bool) -> Outcome {
        let start = Instant::now();
        // The lock serialises builds so generation numbers follow publication order.
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let State { overlay, recent } = &mut *state;
        for c in changes {
            match c {
                Change::Write { path, text } => overlay.set(&path, Some(text)),
                Change::Remove { path } => overlay.set(&path, None),
                Change::Rescan => overlay.files.clear(),
            }
        }
        let src: &dyn SourceProvider = if overlay.files.is_empty() { &Fs } else { &*overlay };
        let loaded = match load_with(&self.roots, &self.opts, src) {
            Ok(l) => l,
            Err(e) => return Outcome::Io(e),
        };
        let serving = self.current();
        let served = serving.as_ref().map(|g| &*g.rules.sources);
        if skip_unchanged
            && let Some(g) = &serving
            && same_files(&loaded.sources, &g.rules.sources)
        {
            return Outcome::Unchanged { serving: g.number };
        }
        let analysis = compile_loaded(loaded);
        if !analysis.has_errors()
            && let Some(diagnostics) = served.and_then(|s| emptied(&analysis.sources, s))
        {
            return Outcome::Rejected { sources: analysis.sources, diagnostics };
        }
        let rules = match Rules::from_analysis(analysis) {
            Ok(r) => r,
            Err(crate::rules::LoadError::Invalid { sources, diagnostics }) => {
                return Outcome::Rejected { sources, diagnostics };
            }
            Err(crate::rules::LoadError::Io(e)) => return Outcome::Io(e),
        };
        let engine = match Engine::new(&rules, self.backend) {
            Ok(e) => e,
            Err(e) => {
                let d = Diagnostic::error("E0900", e.to_string());
                return Outcome::Rejected { sources: (*rules.sources).clone(), diagnostics: vec![d] };
            }
        };
        let removed_stats = match &serving {
            Some(old) => old
                .rules
                .ir
                .stats
                .iter()
                .filter(|s| !rules.ir.stat_ids.contains_key(&s.name))
                .map(|s| s.name.clone())
                .collect(),
            None => Vec::new(),
        };
        let fingerprints = Arc::new(fingerprints(&rules.ir));
        let since = recent.iter().map(|(n, old)| (*n, rule_diff(old, &fingerprints, &rules.ir))).collect();
        let number = self.next.fetch_add(1, Ordering::SeqCst);
        recent.insert(0, (number, fingerprints));
        recent.truncate(DIFF_HISTORY);
        let generation = Arc::new(Generation { number, rules, engine, removed_stats, since });
        self.current.store(Some(generation.clone()));
        Outcome::Published { generation, took: start.elapsed() }
    }
}

/// Whether two loads read the same files with the same texts.
fn same_files(a: &SourceMap, b: &SourceMap) -> bool {
    fn sorted(m: &SourceMap) -> Vec<(&PathBuf, &String)> {
        let mut files: Vec<_> = m.files().map(|(_, f)| (&f.path, &f.text)).collect();
        files.sort_unstable();
        files
    }
    sorted(a) == sorted(b)
}

/// E0901 for each file of `now` (a rule set that checks) that is blank where it had text in
/// `served` (the serving generation's files): an editor that truncates a file before writing
/// it is taken in the middle of its save, and the last good rules keep serving until it is
/// done.
fn emptied(now: &SourceMap, served: &SourceMap) -> Option<Vec<Diagnostic>> {
    let blank = |t: &str| t.trim().is_empty();
    let diagnostics: Vec<Diagnostic> = now
        .files()
        .filter(|(_, f)| blank(&f.text) && served.files().any(|(_, s)| s.path == f.path && !blank(&s.text)))
        .map(|(id, f)| {
            Diagnostic::error("E0901", format!("{} is empty", f.path.display()))
                .primary(Span::new(id, 0, 0), "emptied")
                .help("an emptied rule file is taken for a save in progress; the last good rules keep serving")
        })
        .collect();
    (!diagnostics.is_empty()).then_some(diagnostics)
}
