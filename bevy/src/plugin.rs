//! [`StatsPlugin`]: registers the resource, messages and systems, and starts the watcher.

use crate::evaluate::{StatChanged, StatsFailed, evaluate};
use crate::rules::{RulesReloaded, RulesWatch, StatRules, poll_reloads};
use actorc::Backend;
use actorc::reload::{WatchTiming, watch};
use bevy_app::{App, Plugin, PostUpdate};
use bevy_ecs::schedule::{IntoScheduleConfigs, SystemSet};
use std::path::PathBuf;
use std::sync::Mutex;

/// The plugin's systems, in `PostUpdate`: after the game's `Update` changed sources, so
/// [`Stats`](crate::Stats) are current by the end of the frame.
#[derive(SystemSet, Debug, Clone, PartialEq, Eq, Hash)]
pub enum StatsSet {
    /// Serves a newly reloaded generation and writes [`RulesReloaded`].
    Reload,
    /// Evaluates the actors that need it; writes [`StatChanged`] and [`StatsFailed`].
    Evaluate,
}

/// Stats for live actors from the rule set at a path, hot-reloaded while the app runs.
#[derive(Debug, Clone)]
pub struct StatsPlugin {
    rules: PathBuf,
    backend: Backend,
    watch: Option<WatchTiming>,
}

impl StatsPlugin {
    /// The rules at `path` (a `.stat` file or a folder), JIT-compiled and watched.
    pub fn new(path: impl Into<PathBuf>) -> StatsPlugin {
        StatsPlugin { rules: path.into(), backend: Backend::Jit, watch: Some(WatchTiming::default()) }
    }

    pub fn backend(mut self, backend: Backend) -> StatsPlugin {
        self.backend = backend;
        self
    }

    /// Whether to reload the rules when their files change (on by default); without it,
    /// [`StatRules::reload`] reloads by hand.
    pub fn watch(mut self, on: bool) -> StatsPlugin {
        self.watch = on.then_some(self.watch.unwrap_or_default());
        self
    }

    /// The watcher's quiet period and other timings.
    pub fn watch_timing(mut self, timing: WatchTiming) -> StatsPlugin {
        self.watch = Some(timing);
        self
    }
}

impl Plugin for StatsPlugin {
    fn build(&self, app: &mut App) {
        let mut rules = StatRules::load(&self.rules, self.backend);
        if let Some(timing) = self.watch {
            let (tx, rx) = std::sync::mpsc::channel();
            // The receiver lives as long as the watch; a send after the app is gone is moot.
            match watch(rules.reloader().clone(), timing, move |report| drop(tx.send(report))) {
                Ok(w) => {
                    app.insert_resource(RulesWatch { _watch: w, reports: Mutex::new(rx) });
                }
                Err(e) => rules.fail(format!("the rules are not watched: {e}")),
            }
        }
        app.insert_resource(rules)
            .add_message::<StatChanged>()
            .add_message::<StatsFailed>()
            .add_message::<RulesReloaded>()
            .configure_sets(PostUpdate, (StatsSet::Reload, StatsSet::Evaluate).chain())
            .add_systems(PostUpdate, (poll_reloads.in_set(StatsSet::Reload), evaluate.in_set(StatsSet::Evaluate)));
    }
}
