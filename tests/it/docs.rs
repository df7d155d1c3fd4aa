//! The documented formats: every example in docs/examples/ matches its JSON Schema in
//! docs/schema/, the documented outputs (example files, and the commands shown in README.md
//! and docs/) are what actorc really writes, and real actors from the shipped data and
//! their snapshots and records match the schemas too.
//!
//! Examples are named by what they hold: `*.actor.json` (one actor), `*.actors.ndjson` (a
//! batch), `*.snapshot.json` (a snapshot), `*.records.ndjson` and `*.values.ndjson` (output
//! records), `*.changes.ndjson` (`run --watch` change records). `NAME.actor.json` beside
//! `NAME.stat` is evaluated and must give `NAME.snapshot.json`; `NAME.actors.ndjson` gives
//! `NAME.records.ndjson` and, with `--values attack,crit_chance`, `NAME.values.ndjson`; the
//! watch, after the edit of knight.stat that docs/input.md describes, `NAME.changes.ndjson`.

use actorc::{Actor, Backend, Engine, Rules};
use jsonschema::{Registry, Validator};
use serde_json::Value;
use std::path::{Path, PathBuf};

const SCHEMAS: &str = "docs/schema";
const EXAMPLES: &str = "docs/examples";
/// Where the schema files are registered, so that `record` finds `snapshot` by relative `$ref`.
const BASE: &str = "https://actorc.invalid/schema/";

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The non-blank lines of an NDJSON file, parsed.
fn read_lines(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{}: {e}: {l}", path.display())))
        .collect()
}

/// The schemas, each compiled against all of them (no network, no file access).
struct Schemas {
    actor: Validator,
    snapshot: Validator,
    record: Validator,
    change: Validator,
}

impl Schemas {
    fn load() -> Schemas {
        let names = ["actor", "snapshot", "record", "change"];
        let docs: Vec<Value> =
            names.iter().map(|n| read_json(&Path::new(SCHEMAS).join(format!("{n}.schema.json")))).collect();
        let mut builder = Registry::new();
        for (name, doc) in names.iter().zip(&docs) {
            builder = builder.add(format!("{BASE}{name}.schema.json"), doc.clone()).expect("schema uri");
        }
        let registry = builder.prepare().expect("schemas register");
        let build = |k: usize| {
            jsonschema::options()
                .with_registry(&registry)
                .with_base_uri(format!("{BASE}{}.schema.json", names[k]))
                .build(&docs[k])
                .unwrap_or_else(|e| panic!("{}.schema.json: {e}", names[k]))
        };
        Schemas { actor: build(0), snapshot: build(1), record: build(2), change: build(3) }
    }
}

#[track_caller]
fn assert_valid(v: &Validator, doc: &Value, what: &str) {
    let errors: Vec<String> = v.iter_errors(doc).map(|e| format!("{} at {}", e, e.instance_path())).collect();
    assert!(errors.is_empty(), "{what} does not match its schema:\n{}\n{doc}", errors.join("\n"));
}

fn examples() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(EXAMPLES)
        .expect("docs/examples exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

fn name_of(path: &Path) -> &str {
    path.file_name().and_then(|n| n.to_str()).expect("UTF-8 file name")
}

#[test]
fn every_example_matches_its_schema() {
    let s = Schemas::load();
    let mut checked = 0;
    for path in examples() {
        let name = name_of(&path);
        let what = path.display().to_string();
        if name.ends_with(".actor.json") {
            assert_valid(&s.actor, &read_json(&path), &what);
        } else if name.ends_with(".snapshot.json") {
            assert_valid(&s.snapshot, &read_json(&path), &what);
        } else if name.ends_with(".actors.ndjson") {
            read_lines(&path).iter().for_each(|l| assert_valid(&s.actor, l, &what));
        } else if name.ends_with(".records.ndjson") || name.ends_with(".values.ndjson") {
            read_lines(&path).iter().for_each(|l| assert_valid(&s.record, l, &what));
        } else if name.ends_with(".changes.ndjson") {
            read_lines(&path).iter().for_each(|l| assert_valid(&s.change, l, &what));
        } else {
            assert!(name.ends_with(".stat"), "{what}: name says nothing of its schema");
            continue;
        }
        checked += 1;
    }
    assert!(checked >= 8, "only {checked} examples found");
}

#[cfg(feature = "cli")]
fn actorc(args: &[&str]) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_actorc")).args(args).output().expect("actorc runs");
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

#[test]
#[cfg(feature = "cli")]
fn documented_outputs_are_real() {
    let mut compared = 0;
    for path in examples() {
        let name = name_of(&path);
        if let Some(stem) = name.strip_suffix(".actor.json") {
            let want = path.with_file_name(format!("{stem}.snapshot.json"));
            let rules = path.with_file_name(format!("{stem}.stat"));
            if !want.exists() {
                continue;
            }
            let rules = Rules::load(&rules).expect("example rules check clean");
            let actor: Actor = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            for backend in [Backend::Interpreter, Backend::Jit] {
                let snapshot = Engine::new(&rules, backend).unwrap().evaluate(&actor).expect("example evaluates");
                assert_eq!(serde_json::to_value(&snapshot).unwrap(), read_json(&want), "{}", path.display());
            }
            compared += 1;
        }
        if let Some(stem) = name.strip_suffix(".actors.ndjson") {
            let rules = path.with_file_name(format!("{stem}.stat"));
            let rules = if rules.exists() { rules } else { path.with_file_name("knight.stat") };
            let (rules, input) = (rules.to_str().unwrap(), path.to_str().unwrap());
            let records = path.with_file_name(format!("{stem}.records.ndjson"));
            let got = actorc(&["run", rules, "--input", input, "--quiet"]);
            assert_eq!(got, std::fs::read_to_string(&records).unwrap(), "{}", records.display());
            let values = path.with_file_name(format!("{stem}.values.ndjson"));
            let got = actorc(&["run", rules, "--input", input, "--quiet", "--values", "attack,crit_chance"]);
            assert_eq!(got, std::fs::read_to_string(&values).unwrap(), "{}", values.display());
            compared += 1;
        }
    }
    assert!(compared >= 3, "only {compared} documented outputs compared");
}

/// Every `$ actorc …` shown in a text block of README.md and docs/*.md prints the lines
/// shown under it (standard output, then standard error); a line `…` stands for any lines.
#[test]
#[cfg(feature = "cli")]
fn documented_commands_print_what_they_show() {
    let mut pages = vec![PathBuf::from("README.md")];
    pages.extend(files_in("docs", "md"));
    let mut checked = 0;
    for page in pages {
        let text = std::fs::read_to_string(&page).unwrap();
        for block in text.split("```text\n").skip(1) {
            let block = block.split("```").next().unwrap();
            let Some((command, shown)) = block.split_once('\n') else { continue };
            let Some(args) = command.strip_prefix("$ actorc ") else { continue };
            let args: Vec<&str> = args.split_whitespace().collect();
            let out = std::process::Command::new(env!("CARGO_BIN_EXE_actorc")).args(&args).output().unwrap();
            let printed = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
            let printed: Vec<&str> = printed.lines().collect();
            let shown: Vec<&str> = shown.lines().collect();
            let mut at = 0;
            for part in shown.split(|l| *l == "…").filter(|p| !p.is_empty()) {
                let found = (at..=printed.len().saturating_sub(part.len())).find(|&k| printed[k..].starts_with(part));
                let Some(k) = found else {
                    panic!(
                        "{}: `{command}` does not print\n{}\nin order; it prints\n{}",
                        page.display(),
                        part.join("\n"),
                        printed.join("\n")
                    )
                };
                at = k + part.len();
            }
            checked += 1;
        }
    }
    assert!(checked >= 4, "only {checked} documented commands checked");
}

/// The files of `dir` whose name ends with `.EXT`, sorted.
#[cfg(feature = "cli")]
fn files_in(dir: &str, ext: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    files.sort();
    files
}

/// The change records of docs/input.md are what `run --watch` writes after its edit of
/// knight.stat, and match their schema; so do a value record and a no-longer-failing one.
#[test]
#[cfg(feature = "cli")]
fn documented_watch_records_are_real() {
    use std::io::BufRead;
    let dir = std::env::temp_dir().join(format!("actorc-docs-watch-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (rules, out) = (dir.join("knight.stat"), dir.join("out.ndjson"));
    let text = std::fs::read_to_string(Path::new(EXAMPLES).join("knight.stat")).unwrap();
    std::fs::write(&rules, &text).unwrap();
    let input = Path::new(EXAMPLES).join("batch.actors.ndjson");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_actorc"))
        .args(["run", rules.to_str().unwrap(), "--input", input.to_str().unwrap(), "--watch"])
        .args(["-o", out.to_str().unwrap()])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, lines) = std::sync::mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let wait_for = |what: &str| loop {
        match lines.recv_timeout(deadline.saturating_duration_since(std::time::Instant::now())) {
            Ok(l) if l.starts_with(what) => break,
            Ok(_) => {}
            Err(_) => panic!("no `{what}` from the watch within 30 s"),
        }
    };
    wait_for("watching for rule changes");
    let edits = [
        ("derived attack = strength * 2 + level in 0 .. 1000;", "derived attack = strength * 3 + level in 0 .. 50;"),
        ("derived crit_chance = 0.05 in", "derived crit_chance = 3 / strength in"),
    ];
    let edited = edits.iter().fold(text.clone(), |t, (from, to)| {
        assert!(t.contains(from));
        t.replace(from, to)
    });
    std::fs::write(&rules, &edited).unwrap();
    wait_for("generation 2: ");
    let written = read_lines(&out);
    assert_eq!(written[4..], read_lines(&Path::new(EXAMPLES).join("batch.changes.ndjson")));
    // Back as it was: the bare actor no longer fails, and everything moves back.
    std::fs::write(&rules, &text).unwrap();
    wait_for("generation 3: ");
    child.kill().unwrap();
    child.wait().unwrap();
    let written = read_lines(&out);
    let s = Schemas::load();
    written[8..].iter().for_each(|l| assert_valid(&s.change, l, "a change record"));
    assert!(written[8..].iter().any(|l| l["error"].is_null() && l["line"] == 4), "{written:#?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Shipped actors with their rule sets: the golden vectors, the examples, the eval fixtures.
fn shipped() -> Vec<(PathBuf, PathBuf)> {
    let mut sets = Vec::new();
    let mut golden: Vec<PathBuf> =
        std::fs::read_dir("tests/data/golden").unwrap().map(|e| e.unwrap().path().join("subsystems.json")).collect();
    golden.sort();
    sets.extend(golden.into_iter().map(|p| (PathBuf::from("rules/actor_core_v3"), p)));
    sets.push((PathBuf::from("rules/rpg"), PathBuf::from("examples/hero.json")));
    sets.push((PathBuf::from("rules/rpg"), PathBuf::from("examples/party.ndjson")));
    let mut fixtures: Vec<PathBuf> = std::fs::read_dir("tests/data/eval").unwrap().map(|e| e.unwrap().path()).collect();
    fixtures.sort();
    for dir in fixtures {
        let rules = match std::fs::read_to_string(dir.join("RULES")) {
            Ok(named) => PathBuf::from(named.trim()),
            Err(_) => dir.join("rules.stat"),
        };
        sets.push((rules, dir.join("actors.ndjson")));
    }
    sets
}

/// One actor per document: the whole file for `.json`, each line otherwise.
fn actor_documents(path: &Path) -> Vec<Value> {
    if path.extension().is_some_and(|e| e == "json") { vec![read_json(path)] } else { read_lines(path) }
}

#[test]
fn shipped_actors_and_their_results_match_the_schemas() {
    let s = Schemas::load();
    let (mut snapshots, mut failures) = (0, 0);
    for (rules_path, input) in shipped() {
        let what = input.display().to_string();
        let rules = Rules::load(&rules_path).unwrap_or_else(|e| panic!("{}: {e}", rules_path.display()));
        let engine = Engine::new(&rules, Backend::Jit).expect("JIT compiles the shipped rules");
        let documents = actor_documents(&input);
        for doc in &documents {
            assert_valid(&s.actor, doc, &what);
        }
        let actors: Vec<Actor> = documents.iter().map(|d| serde_json::from_value(d.clone()).unwrap()).collect();
        for result in engine.evaluate_batch(&actors[..]) {
            match result {
                Ok(snapshot) => {
                    assert_valid(&s.snapshot, &serde_json::to_value(&snapshot).unwrap(), &what);
                    snapshots += 1;
                }
                Err(e) => {
                    assert!(serde_json::to_value(&e).unwrap().get("kind").is_some(), "{what}: {e}");
                    failures += 1;
                }
            }
        }
        // The command line's records, snapshots and errors alike.
        #[cfg(feature = "cli")]
        {
            let (rules_arg, input_arg) = (rules_path.to_str().unwrap(), input.to_str().unwrap());
            let out = actorc(&["run", rules_arg, "--input", input_arg, "--quiet"]);
            let schema = if input.extension().is_some_and(|e| e == "json") { &s.snapshot } else { &s.record };
            for line in out.lines() {
                assert_valid(schema, &serde_json::from_str(line).unwrap(), &what);
            }
        }
    }
    assert!(snapshots >= 30 && failures >= 3, "{snapshots} snapshots, {failures} failures");
}

/// Documents actorc refuses, which the actor schema must refuse as well.
#[test]
fn the_actor_schema_refuses_what_actorc_refuses() {
    let s = Schemas::load();
    let rules = Rules::load(Path::new(EXAMPLES).join("knight.stat")).unwrap();
    let engine = Engine::new(&rules, Backend::Interpreter).unwrap();
    let contribution = |fields: &str| format!(r#"{{"id": "x", "subsystems": [{{"primary": [{{{fields}}}]}}]}}"#);
    let cap = |fields: &str| format!(r#"{{"id": "x", "subsystems": [{{"caps": [{{{fields}}}]}}]}}"#);
    let refused = [
        r#"{"id": "x"}"#.to_string(),
        r#"{"id": true, "subsystems": []}"#.to_string(),
        r#"{"version": 1.5, "subsystems": []}"#.to_string(),
        "42".to_string(),
        r#"[{"meta": null}]"#.to_string(),
        r#"[{"primary": null}]"#.to_string(),
        contribution(r#""dimension": "strength", "bucket": "FLAT", "value": 1"#),
        contribution(r#""dimension": "strength", "bucket": "FLAT", "value": "1", "system": "a""#),
        contribution(r#""dimension": "Strength", "bucket": "FLAT", "value": 1, "system": "a""#),
        contribution(r#""dimension": "strength", "bucket": "FLAT", "value": 1, "system": "a", "priority": 1.5"#),
        cap(r#""system": "a", "dimension": "strength", "mode": "HARD_MAX", "kind": "min", "value": 1"#),
        cap(r#""system": "a", "dimension": "strength", "mode": "HARD_MIN", "kind": "max", "value": 1"#),
        cap(r#""system": "a", "dimension": "strength", "mode": "SOFT", "kind": "max", "value": 1"#),
        cap(r#""system": "a", "dimension": "strength", "mode": "BASELINE", "kind": "above", "value": 1"#),
        // Unknown fields, which would otherwise change numbers silently.
        contribution(r#""dimension": "strength", "bucket": "FLAT", "value": 1, "system": "a", "priorty": 9"#),
        cap(r#""system": "a", "dimension": "strength", "mode": "BASELINE", "kind": "max", "value": 1, "scop": "Z""#),
        r#"{"id": "x", "subsystems": [{"primay": []}]}"#.to_string(),
        r#"{"id": "x", "subsystems": [{"meta": {"sistem": "a"}}]}"#.to_string(),
        r#"{"id": "x", "subsystems": [{"context": {"combat": {"post_ad": 1}}}]}"#.to_string(),
        r#"{"id": "x", "subsystems": [], "name": "Bob"}"#.to_string(),
    ];
    for text in &refused {
        let doc: Value = serde_json::from_str(text).unwrap();
        assert!(!s.actor.is_valid(&doc), "the schema accepts {text}");
        let evaluated = serde_json::from_str::<Actor>(text).map(|a| engine.evaluate(&a));
        assert!(!matches!(evaluated, Ok(Ok(_))), "actorc accepts {text}");
    }
}

/// Bad situational fields, which the actor schema must refuse as well. Apart from the
/// seventeen requirements, the names are those pyromancer.stat declares, so actorc refuses
/// each document for its shape rather than for an unknown name.
#[test]
fn the_actor_schema_refuses_bad_situations() {
    let s = Schemas::load();
    let rules = Rules::load(Path::new(EXAMPLES).join("pyromancer.stat")).unwrap();
    let engine = Engine::new(&rules, Backend::Interpreter).unwrap();
    let contribution = |fields: &str| {
        let damage = r#""dimension": "damage", "bucket": "MULT", "value": 0.5, "system": "a""#;
        format!(r#"{{"id": "x", "subsystems": [{{"derived": [{{{damage}, {fields}}}]}}]}}"#)
    };
    let cap = |fields: &str| {
        let ward = r#""system": "a", "dimension": "damage", "mode": "HARD_MAX", "kind": "max", "value": 1"#;
        format!(r#"{{"id": "x", "subsystems": [{{"caps": [{{{ward}, {fields}}}]}}]}}"#)
    };
    let seventeen: Vec<String> = (0..17).map(|i| format!(r#""t{i}""#)).collect();
    let refused = [
        r#"{"id": "x", "tags": null, "subsystems": []}"#.to_string(),
        r#"{"id": "x", "tags": "fire", "subsystems": []}"#.to_string(),
        r#"{"id": "x", "tags": [""], "subsystems": []}"#.to_string(),
        contribution(r#""requires": null"#),
        contribution(r#""requires": "fire""#),
        contribution(r#""requires": [""]"#),
        contribution(r#""requires": ["!"]"#),
        contribution(r#""requires": ["fire", "fire"]"#),
        contribution(&format!(r#""requires": [{}]"#, seventeen.join(", "))),
        contribution(r#""stack": 3"#),
        contribution(r#""stack": ["frenzy"]"#),
        contribution(r#""stack": {"group": "unique"}"#),
        contribution(r#""stack": {"key": "wrath"}"#),
        cap(r#""stack": "frenzy""#),
        cap(r#""requires": ["fire", "fire"]"#),
    ];
    for text in &refused {
        let doc: Value = serde_json::from_str(text).unwrap();
        assert!(!s.actor.is_valid(&doc), "the schema accepts {text}");
        let evaluated = serde_json::from_str::<Actor>(text).map(|a| engine.evaluate(&a));
        assert!(!matches!(evaluated, Ok(Ok(_))), "actorc accepts {text}");
    }
}
