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

/// A reload that drops stats says which (a file saved in part looks like this).
#[test]
fn a_reload_names_the_stats_it_removes() {
    let r = reloader();
    let text = std::fs::read_to_string(FILE).unwrap().replace(&format!("{OLD} in 0 .. 999999;"), "");
    let Outcome::Published { generation, .. } = r.apply(Change::Write { path: FILE.into(), text }) else { panic!() };
    assert_eq!(generation.removed_stats, ["persuasion"]);
    let Outcome::Published { generation, .. } = r.apply(Change::Write { path: FILE.into(), text: edited() }) else {
        panic!()
    };
    assert!(generation.removed_stats.is_empty());
}

/// `sync` reads what is on disk as `check` does: a file it cannot read, or text that is not
/// UTF-8, is an error and the last good rules keep serving; the same files again build
/// nothing.
#[test]
fn sync_reads_the_disk_as_check_does() {
    let dir = temp_rules("sync");
    let r = Reloader::new(vec![dir.clone()], LoadOptions::default(), Backend::Interpreter);
    assert!(matches!(r.sync(), Outcome::Published { .. }));
    assert!(matches!(r.sync(), Outcome::Unchanged { serving: 1 }));
    let file = dir.join("progression.stat");
    let text = std::fs::read_to_string(&file).unwrap();
    let mut bytes = text.clone().into_bytes();
    bytes.extend_from_slice(b"/// caf\xe9\n");
    std::fs::write(&file, &bytes).unwrap();
    assert_eq!(codes(r.sync()), ["E0007"]);
    make_unreadable(&file);
    assert_eq!(codes(r.sync()), ["E0004"]);
    let _ = std::fs::remove_file(&file);
    std::fs::write(&file, text.replace(OLD, NEW)).unwrap();
    assert!(matches!(r.sync(), Outcome::Published { .. }));
    assert_eq!(r.current().unwrap().number, 2);
    let _ = std::fs::remove_dir_all(dir.parent().unwrap());
}

/// The codes of a rejection's errors.
fn codes(out: Outcome) -> Vec<String> {
    let Outcome::Rejected { diagnostics, .. } = out else { panic!("{out:?}") };
    diagnostics.iter().filter(|d| d.is_error()).map(|d| d.code.to_string()).collect()
}

/// Makes `file` unreadable: no permissions, or, for a user who reads regardless (root), a
/// link to nothing in its place.
fn make_unreadable(file: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o000)).unwrap();
        if std::fs::File::open(file).is_ok() {
            std::fs::remove_file(file).unwrap();
            std::os::unix::fs::symlink(file.with_extension("nowhere"), file).unwrap();
        }
    }
    #[cfg(not(unix))]
    {
        std::fs::remove_file(file).unwrap();
        std::fs::create_dir(file.with_extension("nowhere")).unwrap();
        std::os::windows::fs::symlink_file(file.with_extension("nowhere"), file).unwrap();
    }
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

/// A copy of the rule files of rules/rpg and rules/actor_core_v3 side by side in a fresh
/// temporary folder; returns the rpg folder.
pub fn temp_rules(tag: &str) -> PathBuf {
    let base = std::env::temp_dir().join(format!("actorc-reload-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    for set in ["rpg", "actor_core_v3"] {
        std::fs::create_dir_all(base.join(set)).unwrap();
        for f in std::fs::read_dir(Path::new("rules").join(set)).unwrap() {
            let f = f.unwrap().path();
            // The rule files only (rules/rpg/tests/ holds balance tests).
            if f.extension().is_none_or(|e| e != "stat") {
                continue;
            }
            std::fs::copy(&f, base.join(set).join(f.file_name().unwrap())).unwrap();
        }
    }
    base.join("rpg")
}

/// The file watcher and `run --watch` (the `watch` and `cli` features). Each test waits for
/// what the watcher reports, with a deadline, never for a fixed time.
#[cfg(feature = "cli")]
mod watching {
    use super::*;
    use actorc::reload::{Watch, WatchReport, WatchTiming, watch};
    use std::sync::mpsc::Receiver;
    use std::time::{Duration, Instant};

    /// A watch over a fresh copy of rules/rpg and what it reports.
    struct Watched {
        dir: PathBuf,
        r: Arc<Reloader>,
        reports: Receiver<WatchReport>,
        _watch: Watch,
    }

    impl Watched {
        fn start(tag: &str) -> Watched {
            let dir = temp_rules(tag);
            let r = Arc::new(Reloader::new(vec![dir.clone()], LoadOptions::default(), Backend::Interpreter));
            assert!(matches!(r.reload(), Outcome::Published { .. }));
            let timing = WatchTiming {
                quiet: Duration::from_millis(30),
                max_wait: Duration::from_secs(2),
                recreate: Duration::from_millis(400),
                poll: Duration::from_millis(20),
            };
            let (tx, reports) = std::sync::mpsc::channel();
            let watch = watch(r.clone(), timing, move |report| {
                let _ = tx.send(report);
            })
            .unwrap();
            Watched { dir, r, reports, _watch: watch }
        }

        fn file(&self) -> PathBuf {
            self.dir.join("progression.stat")
        }

        /// The next report that `want` accepts (the others are passed over); fails after 10 s.
        fn next(&self, what: &str, want: impl Fn(&WatchReport) -> bool) -> WatchReport {
            let deadline = Instant::now() + Duration::from_secs(10);
            let mut seen = Vec::new();
            loop {
                match self.reports.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                    Ok(r) if want(&r) => return r,
                    Ok(r) => seen.push(format!("{r:?}").chars().take(300).collect::<String>()),
                    Err(_) => panic!("no {what} within 10 s; seen: {seen:#?}"),
                }
            }
        }

        /// The next generation published.
        fn published(&self) -> Arc<actorc::reload::Generation> {
            match self
                .next("generation", |r| matches!(r, WatchReport::Rebuilt { outcome: Outcome::Published { .. }, .. }))
            {
                WatchReport::Rebuilt { outcome: Outcome::Published { generation, .. }, .. } => generation,
                _ => unreachable!(),
            }
        }

        /// The next rebuild's outcome.
        fn rebuilt(&self) -> Outcome {
            match self.next("rebuild", |r| matches!(r, WatchReport::Rebuilt { .. })) {
                WatchReport::Rebuilt { outcome, .. } => outcome,
                _ => unreachable!(),
            }
        }

        /// Asserts that the serving generation was read from the files on disk as they are.
        fn serves_the_disk(&self) {
            let g = self.r.current().unwrap();
            for (_, f) in g.rules.sources.files() {
                assert_eq!(f.text, std::fs::read_to_string(&f.path).unwrap(), "{}", f.path.display());
            }
        }
    }

    impl Drop for Watched {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(self.dir.parent().unwrap());
        }
    }

    /// One save of `save`'s style publishes one generation with the new text: a second
    /// save after it is the generation after.
    fn watch_case(tag: &str, save: impl FnOnce(&Path, &str)) {
        let w = Watched::start(tag);
        let file = w.file();
        let base = std::fs::read_to_string(&file).unwrap();
        let start = Instant::now();
        save(&file, &base.replace(OLD, NEW));
        let g = w.published();
        assert!(start.elapsed() < Duration::from_secs(2), "{tag}: the reload took {:?}", start.elapsed());
        assert_eq!(g.number, 2);
        assert!(actorc::ir::dump(&g.rules.ir).contains("(charisma#"));
        assert!(g.rules.sources.files().any(|(_, f)| f.text.contains(NEW)));
        std::fs::write(&file, base.replace(OLD, "derived persuasion = charisma * 4 + luck * 0.5")).unwrap();
        let g = w.published();
        assert_eq!(g.number, 3, "{tag}: one save, one generation");
        w.serves_the_disk();
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
            std::fs::write(f, t).unwrap();
        });
    }

    /// The new file appears only after the quiet period: the watcher waits for it.
    #[test]
    fn watch_delete_and_recreate_later() {
        watch_case("recreate-later", |f, t| {
            std::fs::remove_file(f).unwrap();
            std::thread::sleep(Duration::from_millis(60));
            std::fs::write(f, t).unwrap();
        });
    }

    /// A save written in pieces is read once the pieces stop coming.
    #[test]
    fn watch_waits_for_a_quiet_period() {
        watch_case("pieces", |f, t| {
            use std::io::Write;
            let mut file = std::fs::File::create(f).unwrap();
            for piece in t.as_bytes().chunks(t.len() / 4 + 1) {
                file.write_all(piece).unwrap();
                file.sync_data().unwrap();
                std::thread::sleep(Duration::from_millis(5));
            }
        });
    }

    /// A writer that stops after a complete declaration: what it left is rejected or, if it
    /// checks, published saying which stats it drops; never silently published.
    #[test]
    fn a_half_written_file_is_never_published_silently() {
        let w = Watched::start("half");
        let file = w.file();
        let base = std::fs::read_to_string(&file).unwrap();
        let cut = base.find(OLD).unwrap() + base[base.find(OLD).unwrap()..].find(';').unwrap() + 1;
        std::fs::write(&file, &base[..cut]).unwrap();
        match w.rebuilt() {
            Outcome::Rejected { .. } => {}
            Outcome::Published { generation, .. } => assert!(!generation.removed_stats.is_empty()),
            other => panic!("{other:?}"),
        }
        std::fs::write(&file, base.replace(OLD, NEW)).unwrap();
        assert!(w.published().rules.sources.files().any(|(_, f)| f.text.contains(NEW)));
        w.serves_the_disk();
    }

    /// An unreadable file is an error, not a removed file, and so is text that is not UTF-8;
    /// the last good rules keep serving.
    #[test]
    fn watch_rejects_what_check_rejects() {
        let w = Watched::start("unreadable");
        let file = w.file();
        let base = std::fs::read_to_string(&file).unwrap();
        make_unreadable(&file);
        assert_eq!(codes(w.rebuilt()), ["E0004"]);
        let _ = std::fs::remove_file(&file);
        let mut bytes = base.replace(OLD, NEW).into_bytes();
        bytes.extend_from_slice(b"/// caf\xe9\n");
        std::fs::write(&file, bytes).unwrap();
        assert_eq!(codes(w.rebuilt()), ["E0007"]);
        assert_eq!(w.r.current().unwrap().number, 1);
        std::fs::write(&file, base.replace(OLD, NEW)).unwrap();
        assert_eq!(w.published().number, 2);
    }

    /// A deleted rules folder is reported, the last good rules keep serving, and the folder
    /// is watched again when it comes back: the rules are then what it holds.
    #[test]
    fn a_deleted_folder_is_watched_again_when_it_comes_back() {
        let w = Watched::start("folder");
        let saved: Vec<(PathBuf, String)> = std::fs::read_dir(&w.dir)
            .unwrap()
            .map(|f| f.unwrap().path())
            .map(|p| (p.clone(), std::fs::read_to_string(p).unwrap()))
            .collect();
        std::fs::remove_dir_all(&w.dir).unwrap();
        w.next("the deletion", |r| matches!(r, WatchReport::Gone(p) if *p == w.dir));
        assert_eq!(w.r.current().unwrap().number, 1);
        std::fs::create_dir(&w.dir).unwrap();
        for (path, text) in &saved {
            std::fs::write(path, text.replace(OLD, NEW)).unwrap();
        }
        w.next("the return", |r| matches!(r, WatchReport::Back(p) if *p == w.dir));
        let g = w.published();
        assert!(g.rules.sources.files().any(|(_, f)| f.text.contains(NEW)));
        w.serves_the_disk();
        // Edits after its return are seen, and read with the rest from disk.
        let other = w.dir.join("combat.stat");
        std::fs::write(&other, std::fs::read_to_string(&other).unwrap() + "\nderived grit = 1 in 0 .. 10;\n").unwrap();
        let g = w.published();
        assert!(g.rules.ir.stat_ids.contains_key("grit"));
        w.serves_the_disk();
    }

    /// A watch started on a rules folder that does not exist yet serves it once it appears.
    #[test]
    fn a_folder_missing_from_the_start_is_looked_for() {
        let dir = temp_rules("missing");
        let missing = dir.with_file_name("later");
        let r = Arc::new(Reloader::new(vec![missing.clone()], LoadOptions::default(), Backend::Interpreter));
        assert!(matches!(r.reload(), Outcome::Io(_)));
        let (tx, reports) = std::sync::mpsc::channel();
        let timing = WatchTiming { poll: Duration::from_millis(20), ..WatchTiming::default() };
        let _watch = watch(r.clone(), timing, move |report| {
            let _ = tx.send(report);
        })
        .unwrap();
        std::fs::rename(&dir, &missing).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while r.current().is_none() {
            assert!(Instant::now() < deadline, "not served within 10 s: {:?}", reports.try_iter().collect::<Vec<_>>());
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(matches!(reports.recv().unwrap(), WatchReport::Back(p) if p == missing));
        let _ = std::fs::remove_dir_all(dir.parent().unwrap());
    }

    /// Lines of a child's output stream, read on another thread.
    fn lines_of(stream: impl std::io::Read + Send + 'static) -> Receiver<String> {
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
    fn until(rx: &Receiver<String>, what: &str, want: impl Fn(&str) -> bool) -> Vec<String> {
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

    /// `actorc run --watch` over a fresh copy of rules/rpg, with more arguments.
    fn run_watch(dir: &Path, more: &[&str]) -> (std::process::Child, Receiver<String>, Receiver<String>) {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_actorc"))
            .args(["run", dir.to_str().unwrap(), "--input", "examples/party.ndjson", "--watch", "--engine", "interp"])
            .args(more)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let (out, err) = (lines_of(child.stdout.take().unwrap()), lines_of(child.stderr.take().unwrap()));
        (child, out, err)
    }

    fn json(line: &str) -> serde_json::Value {
        serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON record ({e}): {line}"))
    }

    /// Through a pipe, the changes are NDJSON records; the latency printed runs from the
    /// file event (so it includes the quiet period) to the records written.
    #[test]
    fn run_watch_writes_records_and_keeps_serving_through_a_broken_edit() {
        let dir = temp_rules("cli");
        let (mut child, out, err) = run_watch(&dir, &[]);
        let records = until(&out, "six records", |l| l.starts_with("{\"id\":\"") && l.contains("\"bard\""));
        assert!(records.iter().all(|l| l.contains("\"snapshot\"")), "{records:#?}");
        until(&err, "the watch", |l| l.contains("watching for rule changes"));

        let file = dir.join("progression.stat");
        let base = std::fs::read_to_string(&file).unwrap();
        let written = Instant::now();
        std::fs::write(&file, base.replace(OLD, NEW)).unwrap();
        let latency = until(&err, "generation 2", |l| l.starts_with("generation 2: "));
        // Printed after it was measured, so it is no more than the time until it is read.
        let felt = written.elapsed().as_secs_f64() * 1e3;
        let changes = until(&out, "a persuasion change", |l| l.contains(r#""id":"warrior","stat":"persuasion""#));
        let change = json(changes.last().unwrap());
        assert_eq!(change["generation"], 2);
        let (old, new) = (change["old"].as_f64().unwrap(), change["new"].as_f64().unwrap());
        assert!(new > old, "{change}");
        let line = latency.last().unwrap();
        let ms: f64 =
            line["generation 2: ".len()..].split(" ms from the file event").next().unwrap().parse().expect(line);
        assert!((50.0..=felt).contains(&ms), "{line} (the quiet period is 50 ms; {felt:.1} ms passed)");

        std::fs::write(&file, base.replace(OLD, "derived persuasion = charisma * ;")).unwrap();
        let rejected = until(&err, "the rejection", |l| l.contains("the last good rules keep serving"));
        assert!(rejected.iter().any(|l| l.contains("progression.stat:")), "{rejected:#?}");
        assert!(child.try_wait().unwrap().is_none(), "a broken edit must not end the watch");

        std::fs::write(&file, &base).unwrap();
        until(&err, "generation 3", |l| l.starts_with("generation 3: "));
        let back = until(&out, "the change back", |l| l.contains(r#""id":"warrior","stat":"persuasion""#));
        let back = json(back.last().unwrap());
        assert_eq!(
            (back["generation"].as_u64(), back["old"].as_f64(), back["new"].as_f64()),
            (Some(3), Some(new), Some(old))
        );
        child.kill().unwrap();
        child.wait().unwrap();
        let _ = std::fs::remove_dir_all(dir.parent().unwrap());
    }

    /// `--values` with `--watch`: values records, then changes of those stats only, into
    /// `--output`, which holds nothing but records; a reload that drops a stat the actors
    /// have says so.
    #[test]
    fn run_watch_writes_the_values_asked_for_into_its_output() {
        let dir = temp_rules("cli-values");
        let output = dir.parent().unwrap().join("out.ndjson");
        let (mut child, _out, err) = run_watch(&dir, &["--values", "persuasion,level", "-o", output.to_str().unwrap()]);
        until(&err, "the watch", |l| l.contains("watching for rule changes"));
        let file = dir.join("progression.stat");
        let base = std::fs::read_to_string(&file).unwrap();
        std::fs::write(&file, base.replace(OLD, NEW)).unwrap();
        until(&err, "generation 2", |l| l.starts_with("generation 2: "));
        let records: Vec<serde_json::Value> = std::fs::read_to_string(&output).unwrap().lines().map(json).collect();
        assert_eq!(records.len(), 6 + 5, "{records:#?}");
        assert!(records[..6].iter().all(|r| r["values"].as_object().unwrap().len() == 2), "{records:#?}");
        assert!(records[6..].iter().all(|r| r["stat"] == "persuasion" && r["generation"] == 2), "{records:#?}");

        std::fs::write(&file, base.replace(&format!("{OLD} in 0 .. 999999;"), "")).unwrap();
        let warned = until(&err, "generation 3", |l| l.starts_with("generation 3: "));
        assert!(
            warned.iter().any(|l| l == "warning: generation 3 removes stat `persuasion`; 6 actors had values for them"),
            "{warned:#?}"
        );
        child.kill().unwrap();
        child.wait().unwrap();
        let _ = std::fs::remove_dir_all(dir.parent().unwrap());
    }
}
