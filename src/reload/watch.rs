//! The file-system adapter of hot reload: [`watch`] waits for file events under the rule
//! set's folders and rebuilds from disk ([`Reloader::sync`]) once they have stopped.
//!
//! Invariants: a rebuild reads every file from disk, never a text remembered from an earlier
//! event, and only after no event came for the quiet period (measured from the last event,
//! so a save made of several writes is read once it is done); a file of the serving rules
//! that disappears is given a moment to come back (delete-and-recreate saves) before the
//! rebuild goes on without it; a save whose files read as the serving rules publishes
//! nothing, so one save is one generation. A watched folder or root that disappears is
//! reported, the last good rules keep serving, and the folder is looked for until it comes
//! back, watched again, and the rules rebuilt from what it then holds.

use super::{Outcome, Reloader};
use notify::{EventKind, RecursiveMode, Watcher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

/// How long the watcher waits before it rebuilds.
#[derive(Debug, Clone, Copy)]
pub struct WatchTiming {
    /// The quiet period: the rebuild starts once no file event came for this long.
    pub quiet: Duration,
    /// The longest a stream of events can put a rebuild off (a file written without pause).
    pub max_wait: Duration,
    /// How long a file of the serving rules that disappeared may take to reappear (delete +
    /// recreate saves) before the rebuild goes on without it.
    pub recreate: Duration,
    /// How often a watched folder that disappeared is looked for.
    pub poll: Duration,
}

impl Default for WatchTiming {
    fn default() -> Self {
        WatchTiming {
            quiet: Duration::from_millis(50),
            max_wait: Duration::from_secs(2),
            recreate: Duration::from_millis(100),
            poll: Duration::from_millis(100),
        }
    }
}

/// What the watcher did.
#[derive(Debug)]
pub enum WatchReport {
    /// Files changed and the rules were rebuilt from disk. `event` is when the first file
    /// event of the save arrived, to measure the latency a user feels.
    Rebuilt { outcome: Outcome, event: Instant },
    /// A root or a watched folder disappeared; the last good rules keep serving.
    Gone(PathBuf),
    /// It is back and watched again; a rebuild follows.
    Back(PathBuf),
}

/// A running watch; dropping it stops the watching thread (after a rebuild in progress).
pub struct Watch {
    stop: Sender<Message>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.stop.send(Message::Stop);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

enum Message {
    Event(notify::Result<notify::Event>),
    Stop,
}

/// Watches the folders of the reloader's roots and of the files the serving rules were read
/// from, and on every save rebuilds from disk on its own thread; `report` receives what it did.
pub fn watch(
    reloader: Arc<Reloader>,
    timing: WatchTiming,
    report: impl FnMut(WatchReport) + Send + 'static,
) -> Result<Watch, String> {
    let (tx, rx) = std::sync::mpsc::channel();
    let events = tx.clone();
    let watcher = notify::recommended_watcher(move |e| {
        // The receiver goes only when the watch stops.
        let _ = events.send(Message::Event(e));
    })
    .map_err(|e| e.to_string())?;
    let canonical_roots = reloader.roots().iter().map(|r| canonical(r)).collect();
    let mut w =
        Watching { reloader, timing, watcher, canonical_roots, watched: Vec::new(), gone: Vec::new(), rx, report };
    for (dir, mode) in w.wanted() {
        w.watcher.watch(&dir, mode).map_err(|e| format!("cannot watch {}: {e}", dir.display()))?;
        w.watched.push((dir, mode));
    }
    // A root missing from the start is looked for like one that disappeared.
    w.gone = w.reloader.roots().iter().filter(|r| !r.exists()).cloned().collect();
    let thread = std::thread::Builder::new()
        .name("actorc-watch".into())
        .spawn(move || w.run())
        .map_err(|e| format!("cannot start the watch: {e}"))?;
    Ok(Watch { stop: tx, thread: Some(thread) })
}

/// The watching thread's state.
struct Watching<F> {
    reloader: Arc<Reloader>,
    timing: WatchTiming,
    watcher: notify::RecommendedWatcher,
    /// The roots' canonical paths when the watch started (a root folder is watched as that).
    canonical_roots: Vec<PathBuf>,
    /// Folders watched, canonical, and how.
    watched: Vec<(PathBuf, RecursiveMode)>,
    /// Roots and watched folders found missing (as watched, or the root as given).
    gone: Vec<PathBuf>,
    rx: Receiver<Message>,
    report: F,
}

impl<F: FnMut(WatchReport)> Watching<F> {
    fn run(mut self) {
        loop {
            // Wait for a file event; while something is gone, look for it now and then.
            let wait = if self.gone.is_empty() { Duration::MAX } else { self.timing.poll };
            let first = match self.next_event(wait) {
                Next::Stop => return,
                Next::Event => Instant::now(),
                Next::Quiet => {
                    if !self.look_for_gone() {
                        continue;
                    }
                    Instant::now()
                }
            };
            if !self.settle(first) {
                return;
            }
            // Something came back while the save settled: let what it brings settle too.
            if self.look_for_gone() && !self.settle(Instant::now()) {
                return;
            }
            if self.find_gone() {
                continue;
            }
            let outcome = self.reloader.sync();
            if let Outcome::Published { .. } = outcome {
                self.rewatch();
            }
            (self.report)(WatchReport::Rebuilt { outcome, event: first });
        }
    }

    /// The next relevant file event within `wait`.
    fn next_event(&mut self, wait: Duration) -> Next {
        let deadline = Instant::now().checked_add(wait);
        loop {
            let message = match deadline {
                None => self.rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
                Some(d) => self.rx.recv_timeout(d.saturating_duration_since(Instant::now())),
            };
            match message {
                Ok(Message::Event(e)) if relevant(&e) => return Next::Event,
                Ok(Message::Event(_)) => {}
                Ok(Message::Stop) | Err(RecvTimeoutError::Disconnected) => return Next::Stop,
                Err(RecvTimeoutError::Timeout) => return Next::Quiet,
            }
        }
    }

    /// Waits until no relevant event came for the quiet period (at most `max_wait` after
    /// `first`), and then, while a file of the serving rules is missing, up to `recreate`
    /// more for it to come back. False when the watch stops.
    fn settle(&mut self, first: Instant) -> bool {
        let give_up = first + self.timing.max_wait;
        let mut last = first;
        loop {
            let quiet_until = (last + self.timing.quiet).min(give_up);
            match self.next_event(quiet_until.saturating_duration_since(Instant::now())) {
                Next::Stop => return false,
                Next::Event => {
                    last = Instant::now();
                    continue;
                }
                Next::Quiet => {}
            }
            // Quiet: unless a file of the serving rules went missing just now.
            let recreate_until = (last + self.timing.recreate).min(give_up);
            if Instant::now() >= recreate_until || !self.serving_file_missing() {
                return true;
            }
            let step = Duration::from_millis(5).min(recreate_until.saturating_duration_since(Instant::now()));
            match self.next_event(step) {
                Next::Stop => return false,
                Next::Event => last = Instant::now(),
                Next::Quiet => {}
            }
        }
    }

    /// Whether a file the serving generation was read from is missing now.
    fn serving_file_missing(&self) -> bool {
        self.reloader.current().is_some_and(|g| g.rules.sources.files().any(|(_, f)| !f.path.exists()))
    }

    /// Records roots and watched folders that disappeared and reports each once; whether a
    /// root is gone (then nothing can be rebuilt).
    fn find_gone(&mut self) -> bool {
        // A root as the user wrote it, and a watched folder only when it is not a root.
        let folders = self.watched.iter().map(|(d, _)| d).filter(|d| !self.canonical_roots.contains(d));
        let missing: Vec<PathBuf> =
            self.reloader.roots().iter().chain(folders).filter(|p| !p.exists()).cloned().collect();
        for p in missing {
            if !self.gone.contains(&p) {
                (self.report)(WatchReport::Gone(p.clone()));
                self.gone.push(p);
            }
        }
        self.reloader.roots().iter().any(|r| self.gone.contains(r))
    }

    /// Watches again what is back of what was gone and reports it; whether anything is back.
    fn look_for_gone(&mut self) -> bool {
        let back: Vec<PathBuf> = self.gone.iter().filter(|p| p.exists()).cloned().collect();
        if back.is_empty() {
            return false;
        }
        self.gone.retain(|p| !back.contains(p));
        // A watch on a deleted folder is gone with it: watch everything wanted afresh.
        for (dir, _) in std::mem::take(&mut self.watched) {
            let _ = self.watcher.unwatch(&dir);
        }
        self.rewatch();
        for p in back {
            (self.report)(WatchReport::Back(p));
        }
        true
    }

    /// Watches what is wanted now (new import folders, folders back) and stops watching
    /// what is no longer; a folder that cannot be watched is looked for as gone.
    fn rewatch(&mut self) {
        let wanted = self.wanted();
        self.watched.retain(|w| {
            let keep = wanted.contains(w);
            if !keep {
                let _ = self.watcher.unwatch(&w.0);
            }
            keep
        });
        for (dir, mode) in wanted {
            if self.watched.iter().any(|(d, _)| *d == dir) {
                continue;
            }
            if self.watcher.watch(&dir, mode).is_ok() {
                self.watched.push((dir, mode));
            } else if !self.gone.contains(&dir) {
                self.gone.push(dir);
            }
        }
    }

    /// The folders to watch: each root folder with its subfolders, a root file's folder,
    /// and the folder of each file the serving rules were read from (imports may live beside
    /// the roots: rules/rpg imports ../actor_core_v3).
    fn wanted(&self) -> Vec<(PathBuf, RecursiveMode)> {
        let mut wanted: Vec<(PathBuf, RecursiveMode)> = Vec::new();
        let mut add = |dir: PathBuf, mode: RecursiveMode| {
            let covered =
                |(d, m): &(PathBuf, RecursiveMode)| *d == dir || (*m == RecursiveMode::Recursive && dir.starts_with(d));
            if !wanted.iter().any(covered) {
                wanted.push((dir, mode));
            }
        };
        let parent =
            |p: &Path| p.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new(".")).to_path_buf();
        // Recursive watches first, so that the folders inside them are not added again.
        for root in self.reloader.roots().iter().filter(|r| r.is_dir()) {
            add(canonical(root), RecursiveMode::Recursive);
        }
        for root in self.reloader.roots().iter().filter(|r| !r.is_dir()) {
            add(canonical(&parent(root)), RecursiveMode::NonRecursive);
        }
        if let Some(g) = self.reloader.current() {
            for (_, f) in g.rules.sources.files() {
                add(canonical(&parent(&f.path)), RecursiveMode::NonRecursive);
            }
        }
        wanted.retain(|(d, _)| d.is_dir());
        wanted
    }
}

/// `p` with links and `..` resolved, or as it is when it does not exist.
fn canonical(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}

enum Next {
    Event,
    Quiet,
    Stop,
}

/// Whether a file event may change the rule set: not our own reads, not a file of another
/// kind (an editor's swap file), but any `.stat` file, folder, or path that is gone.
fn relevant(e: &notify::Result<notify::Event>) -> bool {
    let Ok(e) = e else { return true };
    if e.need_rescan() {
        return true;
    }
    match e.kind {
        EventKind::Access(_) => return false,
        EventKind::Remove(notify::event::RemoveKind::Folder) => return true,
        _ => {}
    }
    e.paths.iter().any(|p| match p.extension() {
        Some(ext) => ext == "stat" || p.is_dir(),
        None => !p.is_file(),
    })
}
