//! Hot reload through the explicit `Reloader::apply` API (no file system events), and one
//! test per editor save style against a real temporary folder (each well under 2 s).

use actorc::load::LoadOptions;
use actorc::reload::{Change, Outcome, Reloader};
use actorc::{Actor, Backend};
use std::path::{Path, PathBuf};
use std::sync::Arc;

const FILE: &str = "rules/rpg/progression.stat";
const OLD: &str = "derived persuasion = charisma * 2 + luck * 0.5";
const NEW: &str = "derived persuasion = charisma * 3 + luck * 0.5";

fn party() -> Vec<Actor> {
    std::fs::read_to_string("examples/party.ndjson")
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn persuasion(r: &Reloader) -> Vec<Option<f64>> {
    let g = r.current().expect("a generation");
    party().iter().map(|a| g.engine.evaluate(a).ok().and_then(|s| s.get("persuasion"))).collect()
}

fn reloader() -> Reloader {
    let r = Reloader::new(vec![PathBuf::from("rules/rpg")], LoadOptions::default(), Backend::Interpreter);
    assert!(matches!(r.reload(), Outcome::Published { .. }));
    r
}

fn edited() -> String {
    let text = std::fs::read_to_string(FILE).unwrap();
    assert!(text.contains(OLD));
    text.replace(OLD, NEW)
}

#[test]
fn good_edit_publishes_a_new_generation() {
    let r = reloader();
    let before = persuasion(&r);
    let out = r.apply(Change::Write { path: FILE.into(), text: edited() });
    let Outcome::Published { generation, .. } = out else { panic!("{out:?}") };
    assert_eq!(generation.number, 2);
    let after = persuasion(&r);
    assert_ne!(before, after);
    assert!(after.iter().flatten().count() > 0);
}

#[test]
fn broken_edit_keeps_the_old_rules() {
    let r = reloader();
    let before = persuasion(&r);
    for text in [
        "derived persuasion = charisma * ;".to_string(),
        edited().replace("charisma * 3", "charism * 3"),
        String::new(),
    ] {
        let out = r.apply(Change::Write { path: FILE.into(), text });
        let Outcome::Rejected { diagnostics, .. } = out else { panic!("{out:?}") };
        assert!(diagnostics.iter().any(|d| d.is_error()));
        assert_eq!(r.current().unwrap().number, 1);
        assert_eq!(persuasion(&r), before);
    }
    // The next good save is picked up.
    assert!(matches!(r.apply(Change::Write { path: FILE.into(), text: edited() }), Outcome::Published { .. }));
    assert_ne!(persuasion(&r), before);
}

#[test]
fn starts_broken_then_recovers() {
    let r = Reloader::new(vec![PathBuf::from("rules/rpg")], LoadOptions::default(), Backend::Interpreter);
    let out = r.apply(Change::Write { path: FILE.into(), text: "derived = ;".into() });
    assert!(matches!(out, Outcome::Rejected { .. }));
    assert!(r.current().is_none());
    assert!(matches!(r.apply(Change::Write { path: FILE.into(), text: edited() }), Outcome::Published { .. }));
    assert_eq!(r.current().unwrap().number, 1);
}

#[test]
fn evaluation_in_flight_keeps_its_generation() {
    let r = Arc::new(reloader());
    let actors = party();
    let held = r.current().unwrap();
    let old: Vec<_> = held.engine.evaluate_batch(&actors);
    let r2 = r.clone();
    std::thread::spawn(move || r2.apply(Change::Write { path: FILE.into(), text: edited() })).join().unwrap();
    // The held generation still evaluates with the old rules…
    assert_eq!(held.engine.evaluate_batch(&actors), old);
    assert_eq!(held.number, 1);
    // …and new loads see the new ones.
    let new = r.current().unwrap();
    assert_eq!(new.number, 2);
    assert_ne!(new.engine.evaluate_batch(&actors), old);
}

#[test]
fn removing_a_file() {
    let r = reloader();
    // combat.stat is read by progression.stat: removing it breaks the rule set.
    let out = r.apply(Change::Remove { path: "rules/rpg/combat.stat".into() });
    assert!(matches!(out, Outcome::Rejected { .. }), "{out:?}");
    assert_eq!(r.current().unwrap().number, 1);
    // Restoring it publishes again.
    let text = std::fs::read_to_string("rules/rpg/combat.stat").unwrap();
    assert!(matches!(r.apply(Change::Write { path: "rules/rpg/combat.stat".into(), text }), Outcome::Published { .. }));
}

#[test]
fn removing_an_independent_file_publishes() {
    let dir = temp_rules("remove");
    std::fs::write(dir.join("extra.stat"), "derived extra_stat = 1 in 0 .. 10;\n").unwrap();
    let r = Reloader::new(vec![dir.clone()], LoadOptions::default(), Backend::Interpreter);
    let Outcome::Published { generation, .. } = r.reload() else { panic!() };
    assert!(generation.rules.ir.stat_ids.contains_key("extra_stat"));
    let Outcome::Published { generation, .. } = r.apply(Change::Remove { path: dir.join("extra.stat") }) else {
        panic!()
    };
    assert!(!generation.rules.ir.stat_ids.contains_key("extra_stat"));
    let _ = std::fs::remove_dir_all(dir.parent().unwrap());
}

/// A copy of rules/rpg and rules/actor_core_v3 side by side in a fresh temporary folder;
/// returns the rpg folder.
pub fn temp_rules(tag: &str) -> PathBuf {
    let base = std::env::temp_dir().join(format!("actorc-reload-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    for set in ["rpg", "actor_core_v3"] {
        std::fs::create_dir_all(base.join(set)).unwrap();
        for f in std::fs::read_dir(Path::new("rules").join(set)).unwrap() {
            let f = f.unwrap().path();
            std::fs::copy(&f, base.join(set).join(f.file_name().unwrap())).unwrap();
        }
    }
    base.join("rpg")
}

/// The file watcher and `run --watch` (the `watch` and `cli` features).
#[cfg(feature = "cli")]
mod watching {
    use super::*;
    use actorc::reload::{WatchTiming, watch};
    use std::time::{Duration, Instant};

    fn watch_case(tag: &str, save: impl FnOnce(&Path, &str)) {
        let dir = temp_rules(tag);
        let r = Arc::new(Reloader::new(vec![dir.clone()], LoadOptions::default(), Backend::Interpreter));
        assert!(matches!(r.reload(), Outcome::Published { .. }));
        let timing = WatchTiming {
            debounce: Duration::from_millis(30),
            settle: Duration::from_millis(5),
            recreate: Duration::from_millis(100),
        };
        let _w = watch(r.clone(), timing, |_| {}).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        let file = dir.join("progression.stat");
        let text = std::fs::read_to_string(&file).unwrap().replace(OLD, NEW);
        let start = Instant::now();
        save(&file, &text);
        while r.current().unwrap().number < 2 {
            assert!(start.elapsed() < Duration::from_secs(2), "{tag}: no reload within 2 s");
            std::thread::sleep(Duration::from_millis(5));
        }
        let g = r.current().unwrap();
        assert!(actorc::ir::dump(&g.rules.ir).contains("(charisma#"));
        assert!(g.rules.sources.files().any(|(_, f)| f.text.contains(NEW)));
        let _ = std::fs::remove_dir_all(dir.parent().unwrap());
    }

    #[test]
    fn watch_write_in_place() {
        watch_case("inplace", |f, t| std::fs::write(f, t).unwrap());
    }

    #[test]
    fn watch_write_temp_and_rename() {
        watch_case("rename", |f, t| {
            let tmp = f.with_extension("stat.tmp~");
            std::fs::write(&tmp, t).unwrap();
            std::fs::rename(&tmp, f).unwrap();
        });
    }

    #[test]
    fn watch_delete_and_recreate() {
        watch_case("recreate", |f, t| {
            std::fs::remove_file(f).unwrap();
            std::thread::sleep(Duration::from_millis(2));
            std::fs::write(f, t).unwrap();
        });
    }

    /// Lines of a child's output stream, read on another thread.
    fn lines_of(stream: impl std::io::Read + Send + 'static) -> std::sync::mpsc::Receiver<String> {
        use std::io::BufRead;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stream).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        rx
    }

    /// Reads lines until one satisfies `want`; all lines read are returned. Fails after 30 s.
    fn until(rx: &std::sync::mpsc::Receiver<String>, what: &str, want: impl Fn(&str) -> bool) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    let done = want(&line);
                    seen.push(line);
                    if done {
                        return seen;
                    }
                }
                Err(_) => panic!("no {what} within 30 s; read: {seen:#?}"),
            }
        }
    }

    #[test]
    fn run_watch_prints_changes_and_keeps_serving_through_a_broken_edit() {
        let dir = temp_rules("cli");
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_actorc"))
            .args(["run", dir.to_str().unwrap(), "--input", "examples/party.ndjson", "--watch", "--engine", "interp"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let (out, err) = (lines_of(child.stdout.take().unwrap()), lines_of(child.stderr.take().unwrap()));
        let records = until(&out, "six records", |l| l.starts_with("{\"id\":\"") && l.contains("\"bard\""));
        assert!(records.iter().all(|l| l.contains("\"snapshot\"")), "{records:#?}");
        until(&err, "the watch", |l| l.contains("watching for rule changes"));

        let file = dir.join("progression.stat");
        let base = std::fs::read_to_string(&file).unwrap();
        std::fs::write(&file, base.replace(OLD, NEW)).unwrap();
        until(&err, "generation 2", |l| l.starts_with("generation 2: reload latency"));
        let changes = until(&out, "a persuasion change", |l| l.starts_with("warrior persuasion: "));
        let line = changes.last().unwrap();
        let (old, new) = line["warrior persuasion: ".len()..].split_once(" → ").expect(line);
        let (old, new): (f64, f64) = (old.parse().unwrap(), new.parse().unwrap());
        assert!(new > old, "{line}");

        std::fs::write(&file, base.replace(OLD, "derived persuasion = charisma * ;")).unwrap();
        let rejected = until(&err, "the rejection", |l| l.contains("the last good rules keep serving"));
        assert!(rejected.iter().any(|l| l.contains("progression.stat:")), "{rejected:#?}");
        assert!(child.try_wait().unwrap().is_none(), "a broken edit must not end the watch");

        std::fs::write(&file, base).unwrap();
        until(&err, "generation 3", |l| l.starts_with("generation 3: reload latency"));
        let back = format!("warrior persuasion: {new} → {old}");
        until(&out, "the change back", |l| l == back);
        child.kill().unwrap();
        child.wait().unwrap();
        let _ = std::fs::remove_dir_all(dir.parent().unwrap());
    }
}
