//! Hot reload: a [`Reloader`] rebuilds the rule set when told "this file now has this text"
//! or "this file was removed" ([`Reloader::apply`]), and a file-system adapter ([`watch`])
//! turns notify events into such changes.
//!
//! Invariants: a generation (rules + engine + number) is built completely (load with an
//! in-memory overlay, check, lower, JIT compile) on the caller's thread, off the evaluating
//! threads, and published with one `ArcSwap::store`; readers see exactly one complete
//! generation and keep it alive with their `Arc` until they finish. A broken edit publishes
//! nothing: the last good generation keeps serving and the diagnostics are returned. The
//! watcher only publishes a file once two consecutive reads of it agree, so a half-written
//! file is never compiled. The rule diff a cache needs to bring its actors to a new
//! generation ([`rule_diff`]) is computed once, when the generation is built, against each of the
//! last [`DIFF_HISTORY`] published generations.

mod diff;

pub use diff::{Fingerprints, RuleDiff, fingerprints, rule_diff};

use crate::diag::Diagnostic;
use crate::engine::{Backend, Engine};
use crate::load::{LoadOptions, Overlay};
use crate::rules::{Rules, compile_with};
use crate::source::SourceMap;
use arc_swap::ArcSwapOption;
use std::path::{Path, PathBuf};
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
    /// A new generation serves from now on (warnings, if any, are in its rules).
    Published { generation: Arc<Generation>, took: Duration },
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
        self.apply_all(Vec::new())
    }

    pub fn apply(&self, change: Change) -> Outcome {
        self.apply_all(vec![change])
    }

    /// Applies several changes and rebuilds once.
    pub fn apply_all(&self, changes: Vec<Change>) -> Outcome {
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
        let emptied: Vec<&PathBuf> = overlay
            .files
            .iter()
            .filter(|(_, t)| t.as_deref().is_some_and(|t| t.trim().is_empty()))
            .map(|(p, _)| p)
            .collect();
        if !emptied.is_empty() {
            let mut sources = SourceMap::default();
            let diagnostics = emptied
                .iter()
                .map(|p| {
                    let file = sources.add(p, String::new());
                    Diagnostic::error("E0901", format!("{} is empty", p.display()))
                        .primary(crate::source::Span::new(file, 0, 0), "emptied")
                        .help("an emptied rule file is taken for a save in progress; the last good rules keep serving")
                })
                .collect();
            return Outcome::Rejected { sources, diagnostics };
        }
        let analysis = match compile_with(&self.roots, &self.opts, &*overlay) {
            Ok(c) => c,
            Err(e) => return Outcome::Io(e),
        };
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
        let fingerprints = Arc::new(fingerprints(&rules.ir));
        let since = recent.iter().map(|(n, old)| (*n, rule_diff(old, &fingerprints, &rules.ir))).collect();
        let number = self.next.fetch_add(1, Ordering::SeqCst);
        recent.insert(0, (number, fingerprints));
        recent.truncate(DIFF_HISTORY);
        let generation = Arc::new(Generation { number, rules, engine, since });
        self.current.store(Some(generation.clone()));
        Outcome::Published { generation, took: start.elapsed() }
    }
}

/// Reads `path` until two consecutive reads, `settle` apart, agree (at most 50 tries);
/// `None` if the file is gone.
pub fn stable_read(path: &Path, settle: Duration) -> Option<String> {
    let mut last = std::fs::read(path).ok()?;
    for _ in 0..50 {
        std::thread::sleep(settle);
        let now = std::fs::read(path).ok()?;
        if now == last {
            return Some(String::from_utf8_lossy(&now).into_owned());
        }
        last = now;
    }
    Some(String::from_utf8_lossy(&last).into_owned())
}

/// How long events are debounced and how long a file must stay unchanged to be read.
#[derive(Debug, Clone, Copy)]
pub struct WatchTiming {
    pub debounce: Duration,
    pub settle: Duration,
    /// How long a removed file may take to reappear (delete + recreate saves) before its
    /// removal is applied.
    pub recreate: Duration,
}

impl Default for WatchTiming {
    fn default() -> Self {
        WatchTiming {
            debounce: Duration::from_millis(50),
            settle: Duration::from_millis(10),
            recreate: Duration::from_millis(100),
        }
    }
}

/// A running watch; dropping it stops watching.
#[cfg(feature = "watch")]
pub struct Watch {
    _debouncer: notify_debouncer_full::Debouncer<notify::RecommendedWatcher, notify_debouncer_full::RecommendedCache>,
}

/// Watches the folders of the reloader's roots (recursively, filtering `.stat`, so in-place
/// writes, temp + rename and delete + recreate all arrive) and applies every debounced batch
/// of changes on the watcher's thread; `report` receives each outcome.
#[cfg(feature = "watch")]
pub fn watch(
    reloader: Arc<Reloader>,
    timing: WatchTiming,
    report: impl Fn(Outcome) + Send + 'static,
) -> Result<Watch, String> {
    use notify_debouncer_full::notify::RecursiveMode;
    let r = reloader.clone();
    let mut debouncer = notify_debouncer_full::new_debouncer(
        timing.debounce,
        None,
        move |res: notify_debouncer_full::DebounceEventResult| {
            let Ok(events) = res else { return };
            let mut paths: Vec<PathBuf> = Vec::new();
            let mut rescan = false;
            for ev in &events {
                rescan |= ev.need_rescan();
                // Our own reads raise access events: reacting to them would reload forever.
                if let notify::EventKind::Access(a) = ev.kind
                    && a != notify::event::AccessKind::Close(notify::event::AccessMode::Write)
                {
                    continue;
                }
                for p in &ev.paths {
                    if p.extension().is_some_and(|e| e == "stat") && !paths.contains(p) {
                        paths.push(p.clone());
                    }
                }
            }
            if paths.is_empty() && !rescan {
                return;
            }
            let mut changes = Vec::new();
            if rescan {
                changes.push(Change::Rescan);
            }
            for p in paths {
                // Delete-and-recreate saves: give a vanished file a moment to come back.
                let deadline = Instant::now() + timing.recreate;
                while !p.exists() && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(5));
                }
                match stable_read(&p, timing.settle) {
                    Some(text) => changes.push(Change::Write { path: p, text }),
                    None => changes.push(Change::Remove { path: p }),
                }
            }
            report(r.apply_all(changes));
        },
    )
    .map_err(|e| e.to_string())?;
    let mut dirs: Vec<PathBuf> = Vec::new();
    for root in reloader.roots() {
        let dir = if root.is_dir() { root.clone() } else { root.parent().unwrap_or(Path::new(".")).to_path_buf() };
        let dir = std::fs::canonicalize(&dir).unwrap_or(dir);
        if !dirs.contains(&dir) {
            dirs.push(dir);
        }
    }
    // Imports may live beside the roots (rules/rpg imports ../actor_core_v3): watch each
    // loaded file's folder as well, when a generation exists.
    if let Some(g) = reloader.current() {
        for (_, f) in g.rules.sources.files() {
            if let Some(parent) = f.path.parent() {
                let d = std::fs::canonicalize(parent).unwrap_or(parent.to_path_buf());
                if !dirs.iter().any(|x| d.starts_with(x)) {
                    dirs.push(d);
                }
            }
        }
    }
    for d in &dirs {
        debouncer.watch(d, RecursiveMode::Recursive).map_err(|e| format!("cannot watch {}: {e}", d.display()))?;
    }
    Ok(Watch { _debouncer: debouncer })
}
