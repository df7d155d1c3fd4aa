//! [`StatRules`]: the rule set serving the app, and its reloads (through actorc's
//! [`Reloader`], by hand with [`StatRules::reload`] or from a file watcher).
//!
//! Invariant: the serving generation changes only in [`StatsSet::Reload`](crate::StatsSet),
//! between frames' evaluations; a rule set that fails to build changes nothing but a
//! [`RulesReloaded`] with `ok: false`.

use crate::components::{StatHandle, StatNames};
use actorc::reload::{Generation, Outcome, Reloader, WatchReport};
use actorc::{Backend, Engine, LoadOptions, diag};
use bevy_ecs::message::{Message, MessageWriter};
use bevy_ecs::resource::Resource;
use bevy_ecs::system::{Res, ResMut};
use std::path::PathBuf;
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Mutex};

/// How a load or reload of the rules went.
#[derive(Message, Debug, Clone, PartialEq)]
pub struct RulesReloaded {
    /// The generation serving now (0: none yet, the rules never loaded).
    pub generation: u64,
    /// Whether a new generation serves; when false, the last good rules keep serving.
    pub ok: bool,
    /// Errors (when not ok) or warnings, one rendered diagnostic each.
    pub diagnostics: Vec<String>,
}

/// The rules serving the app: their generation, engine and stat names.
#[derive(Resource)]
pub struct StatRules {
    reloader: Arc<Reloader>,
    serving: Option<(Arc<Generation>, Arc<StatNames>)>,
    /// Reports not yet written as messages.
    pending: Vec<RulesReloaded>,
}

impl StatRules {
    /// Loads the rule set at `path` (a `.stat` file or a folder). It never fails: when the
    /// rules do not load, no generation serves (no actor is evaluated) until a reload
    /// succeeds, and the first frame's [`RulesReloaded`] says why.
    pub fn load(path: impl Into<PathBuf>, backend: Backend) -> StatRules {
        let reloader = Arc::new(Reloader::new(vec![path.into()], LoadOptions::default(), backend));
        let outcome = reloader.reload();
        let mut rules = StatRules { reloader, serving: None, pending: Vec::new() };
        rules.take(outcome);
        rules
    }

    /// Rebuilds the rules from disk now (without a watcher); the next frame re-evaluates
    /// every actor if they changed. Whether a new generation serves.
    pub fn reload(&mut self) -> bool {
        let before = self.generation();
        let outcome = self.reloader.sync();
        self.take(outcome);
        self.generation() != before
    }

    /// The serving generation's number (0 while none serves).
    pub fn generation(&self) -> u64 {
        self.serving.as_ref().map_or(0, |(g, _)| g.number)
    }

    /// The serving generation: its rules and engine.
    pub fn current(&self) -> Option<&Arc<Generation>> {
        self.serving.as_ref().map(|(g, _)| g)
    }

    pub fn engine(&self) -> Option<&Engine> {
        self.current().map(|g| &g.engine)
    }

    /// Resolves a stat once, for [`Stats::value`](crate::Stats::value).
    pub fn stat(&self, name: &str) -> Option<StatHandle> {
        self.serving.as_ref()?.1.handle(name)
    }

    /// The reloader, to share with a watcher of one's own.
    pub fn reloader(&self) -> &Arc<Reloader> {
        &self.reloader
    }

    pub(crate) fn serving(&self) -> Option<&(Arc<Generation>, Arc<StatNames>)> {
        self.serving.as_ref()
    }

    /// Records what a build did, serving its generation if it published a newer one.
    pub(crate) fn take(&mut self, outcome: Outcome) {
        let report = match outcome {
            Outcome::Published { generation, .. } => {
                let rules = &generation.rules;
                let mut diagnostics: Vec<String> = rules
                    .warnings
                    .iter()
                    .map(|d| diag::render_plain(&rules.sources, std::slice::from_ref(d)))
                    .collect();
                diagnostics.extend(generation.removed_stats.iter().map(|s| format!("stat `{s}` was removed")));
                if generation.number > self.generation() {
                    let names = StatNames::new(rules.ir.stats.iter().map(|s| s.name.clone()));
                    self.serving = Some((generation, Arc::new(names)));
                }
                RulesReloaded { generation: self.generation(), ok: true, diagnostics }
            }
            Outcome::Unchanged { .. } => return,
            Outcome::Rejected { sources, diagnostics } => {
                let diagnostics =
                    diagnostics.iter().map(|d| diag::render_plain(&sources, std::slice::from_ref(d))).collect();
                RulesReloaded { generation: self.generation(), ok: false, diagnostics }
            }
            Outcome::Io(e) => {
                RulesReloaded { generation: self.generation(), ok: false, diagnostics: vec![e.to_string()] }
            }
        };
        self.pending.push(report);
    }

    pub(crate) fn fail(&mut self, message: String) {
        self.pending.push(RulesReloaded { generation: self.generation(), ok: false, diagnostics: vec![message] });
    }
}

/// The file watcher's reports, polled once per frame.
#[derive(Resource)]
pub(crate) struct RulesWatch {
    /// Dropping it stops the watcher.
    pub(crate) _watch: actorc::reload::Watch,
    pub(crate) reports: Mutex<Receiver<WatchReport>>,
}

/// Takes the watcher's reports and writes every pending report as a message.
pub(crate) fn poll_reloads(
    mut rules: ResMut<StatRules>,
    watch: Option<Res<RulesWatch>>,
    mut reloaded: MessageWriter<RulesReloaded>,
) {
    if let Some(watch) = watch {
        let reports = watch.reports.lock().unwrap_or_else(|e| e.into_inner());
        while let Ok(report) = reports.try_recv() {
            match report {
                WatchReport::Rebuilt { outcome, .. } => rules.take(outcome),
                WatchReport::Gone(path) => {
                    rules.fail(format!("{} disappeared; the last good rules keep serving", path.display()))
                }
                // A rebuild follows.
                WatchReport::Back(_) => {}
            }
        }
    }
    if !rules.pending.is_empty() {
        reloaded.write_batch(std::mem::take(&mut rules.pending));
    }
}
