//! The state of `run --watch` and `--stats`: a [`Session`] evaluates the actors of one
//! input through a result cache under each generation, writing every record or only what
//! changed ([`Snapshot::diff`](crate::snapshot::Snapshot::diff)).

use super::evaluate::RunError;
use super::read::{DocumentReader, at_line};
use super::record::record;
use crate::cache::{Cache, KeyedActor};
use crate::engine::ActorError;
use crate::input::InputError;
use crate::input::InputLimits;
use crate::reload::Generation;
use crate::snapshot::{Snapshot, StatChange, changes};
use std::io::{self, BufRead, Write};

/// An actor of a [`Session`]: its id as written, and the actor hashed once or the error of
/// its document. An actor without an id is cached under its line (`line 1` for one
/// document), since the cache is keyed by id; its records still say it has none, as `run`'s.
pub struct SessionActor {
    id: Option<String>,
    /// Its NDJSON line, which an input error found when it is evaluated names.
    line: Option<usize>,
    actor: Result<KeyedActor, InputError>,
}

/// Reads every actor of `docs` for a [`Session`]. A bad document stays in place as its
/// error. NDJSON lines are parsed without their newline.
pub fn read_session_actors<R: BufRead>(docs: DocumentReader<R>, limits: &InputLimits) -> io::Result<Vec<SessionActor>> {
    docs.map(|doc| {
        let doc = doc?;
        Ok(match doc.parse(limits) {
            Ok(mut actor) => {
                let id = actor.id.clone();
                actor.id.get_or_insert_with(|| format!("line {}", doc.line.unwrap_or(1)));
                SessionActor { id, line: doc.line, actor: Ok(KeyedActor::new(actor)) }
            }
            Err(e) => SessionActor { id: e.actor.clone(), line: doc.line, actor: Err(e) },
        })
    })
    .collect()
}

/// What a [`Session`] pass writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pass {
    /// Every actor's [`Record`](super::Record).
    All,
    /// For each actor, a line per change since the previous pass: `id stat: old → new`
    /// (`id stat (range): …` for `CapsUsed`, `id: error old → new`), values in JSON.
    Changes,
}

/// The state of `run --watch` (and `--stats`): the actors, read once, evaluated through a
/// result cache under each generation, and (when remembering) their last results, to write
/// what a reload changed.
pub struct Session {
    actors: Vec<SessionActor>,
    cache: Cache,
    last: Option<Vec<Result<Snapshot, ActorError>>>,
}

impl Session {
    /// With `remember`, each pass keeps its results for the next [`Pass::Changes`].
    pub fn new(actors: Vec<SessionActor>, cache: Cache, remember: bool) -> Session {
        Session { actors, cache, last: remember.then(Vec::new) }
    }

    pub fn cache(&self) -> &Cache {
        &self.cache
    }

    /// Brings the cached actors to generation `g` (see [`Cache::refresh`]).
    pub fn refresh(&mut self, g: &Generation) -> usize {
        self.cache.refresh(g)
    }

    /// Evaluates every actor under `g` and writes what `pass` asks for to `out`, then
    /// flushes it (Ctrl-C ends the process without unwinding). Returns whether any actor failed.
    pub fn pass(&mut self, g: &Generation, pass: Pass, out: &mut dyn Write) -> Result<bool, RunError> {
        let mut failed = false;
        // Fields apart, so that a failed write leaves what was remembered in place.
        let Session { actors, cache, last } = self;
        for (i, actor) in actors.iter().enumerate() {
            let (label, mut result) = match &actor.actor {
                Ok(keyed) => (keyed.actor().id.as_deref(), cache.evaluate_keyed(g, keyed)),
                Err(e) => (e.actor.as_deref(), std::sync::Arc::new(Err(ActorError::from(e.clone())))),
            };
            if let (Ok(_), Err(ActorError::Input(e))) = (&actor.actor, result.as_ref()) {
                // Found by ingest in the cache: say where, as `run` does.
                let e = at_line(InputError::clone(e), actor.line);
                result = std::sync::Arc::new(Err(ActorError::from(e)));
            }
            failed |= result.is_err();
            match (pass, last.as_ref().and_then(|l| l.get(i))) {
                (Pass::All, _) => {
                    writeln!(out, "{}", record(actor.id.as_deref(), &result)?).map_err(RunError::Write)?
                }
                (Pass::Changes, Some(old)) => write_changes(out, label.unwrap_or("?"), old, &result)?,
                (Pass::Changes, None) => {}
            }
            // A copy, not the shared result: the cache may then update its own in place.
            if let Some(last) = last {
                let copy = Result::clone(&result);
                match last.get_mut(i) {
                    Some(slot) => *slot = copy,
                    None => last.push(copy),
                }
            }
        }
        out.flush().map_err(RunError::Write)?;
        Ok(failed)
    }
}

/// Writes `id stat: old → new` for every value or range whose JSON differs between two results.
fn write_changes(
    out: &mut dyn Write,
    id: &str,
    old: &Result<Snapshot, ActorError>,
    new: &Result<Snapshot, ActorError>,
) -> Result<(), RunError> {
    use serde_json::{Value, json, to_value};
    let (old_error, new_error) = (old.as_ref().err(), new.as_ref().err());
    if old_error != new_error {
        let (a, b) = (to_value(old_error)?, to_value(new_error)?);
        writeln!(out, "{id}: error {a} → {b}").map_err(RunError::Write)?;
    }
    let range = |r: Option<(f64, f64)>| r.map_or(Value::Null, |(min, max)| json!({"Min": min, "Max": max}));
    for change in changes(old.as_ref().ok(), new.as_ref().ok()) {
        let (label, a, b) = match change {
            StatChange::Value { stat, old, new, .. } => (stat.to_string(), to_value(old)?, to_value(new)?),
            StatChange::Range { stat, old, new } => (format!("{stat} (range)"), range(old), range(new)),
        };
        // Equal in JSON (0 and -0, two infinities as null): not a change to report.
        if a != b {
            writeln!(out, "{id} {label}: {a} → {b}").map_err(RunError::Write)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::Keep;
    use crate::engine::Backend;
    use crate::load::LoadOptions;
    use crate::reload::{Change, Outcome, Reloader};
    use crate::run::InputForm;

    /// The example game's rules, published, and its party as session actors.
    fn example_game() -> (Reloader, Vec<SessionActor>) {
        let r = Reloader::new(vec!["rules/rpg".into()], LoadOptions::default(), Backend::Interpreter);
        assert!(matches!(r.reload(), Outcome::Published { .. }));
        let party = std::fs::read("examples/party.ndjson").unwrap();
        let docs = DocumentReader::new(party.as_slice(), Some(InputForm::Lines), 1 << 20).unwrap();
        (r, read_session_actors(docs, &InputLimits::default()).unwrap())
    }

    /// Publishes an edit of `persuasion`'s formula (in memory, the file is untouched).
    fn edit_persuasion(r: &Reloader) -> std::sync::Arc<Generation> {
        let file = "rules/rpg/progression.stat";
        let text = std::fs::read_to_string(file).unwrap().replace("charisma * 2 + luck", "charisma * 3 + luck");
        let Outcome::Published { generation, .. } = r.apply(Change::Write { path: file.into(), text }) else {
            panic!("the edit publishes")
        };
        generation
    }

    #[test]
    fn a_pass_after_a_reload_writes_only_the_changes() {
        let (r, actors) = example_game();
        let n = actors.len();
        let mut session = Session::new(actors, Cache::keeping(16, Keep::Prepared), true);
        let mut out = Vec::new();
        session.pass(&r.current().unwrap(), Pass::All, &mut out).unwrap();
        assert_eq!(String::from_utf8(out).unwrap().lines().count(), n);

        let generation = edit_persuasion(&r);
        assert_eq!(session.refresh(&generation), n);
        let mut out = Vec::new();
        session.pass(&generation, Pass::Changes, &mut out).unwrap();
        let out = String::from_utf8(out).unwrap();
        assert!(!out.is_empty() && out.lines().all(|l| l.contains(" persuasion: ")), "{out}");
        let mut again = Vec::new();
        session.pass(&generation, Pass::Changes, &mut again).unwrap();
        assert!(again.is_empty(), "nothing changed since: {}", String::from_utf8_lossy(&again));
    }

    /// A writer that fails after `left` bytes.
    struct Failing {
        left: usize,
    }

    impl Write for Failing {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if self.left < buf.len() {
                return Err(std::io::Error::other("disk full"));
            }
            self.left -= buf.len();
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_failed_write_keeps_what_the_session_remembers() {
        let (r, actors) = example_game();
        let mut session = Session::new(actors, Cache::keeping(16, Keep::Prepared), true);
        let g = r.current().unwrap();
        session.pass(&g, Pass::All, &mut Vec::new()).unwrap();
        let failed = session.pass(&g, Pass::All, &mut Failing { left: 10 });
        assert!(matches!(failed, Err(RunError::Write(_))));

        let generation = edit_persuasion(&r);
        let mut out = Vec::new();
        session.pass(&generation, Pass::Changes, &mut out).unwrap();
        let out = String::from_utf8(out).unwrap();
        assert!(out.lines().any(|l| l.contains(" persuasion: ")), "the changes after a failed write: {out}");
    }
}
