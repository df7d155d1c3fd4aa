//! The ten Actor Core v3 golden vectors through the shipped v3 rule set, and the
//! situational conformance cases.

use actorc::{Backend, Engine, Rules};
use std::path::{Path, PathBuf};

/// The case folders of `dir`, sorted.
pub fn cases_in(dir: &str) -> Vec<PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    v.sort();
    v
}

fn cases() -> Vec<PathBuf> {
    cases_in("tests/data/golden")
}

/// A case's `expected.json`.
fn expected(case: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(case.join("expected.json")).unwrap()).unwrap()
}

/// What `actorc run RULES --input INPUT` with `args` prints for one actor.
#[cfg(feature = "cli")]
fn run_cli(rules: &str, args: &[&str], input: &Path) -> serde_json::Value {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_actorc"))
        .args(["run", rules])
        .args(args)
        .arg("--input")
        .arg(input)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}: {}", input.display(), String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Numeric JSON comparison: 500 and 500.0 are equal.
fn same(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    use serde_json::Value::*;
    match (a, b) {
        (Number(x), Number(y)) => x.as_f64() == y.as_f64(),
        (Object(x), Object(y)) => x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w))),
        (Array(x), Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(v, w)| same(v, w)),
        _ => a == b,
    }
}

pub fn run_golden(backend: Backend) {
    let rules = Rules::load("rules/actor_core_v3").expect("v3 rules load");
    let engine = Engine::new(&rules, backend).expect("engine");
    let cases = cases();
    assert_eq!(cases.len(), 10);
    for case in cases {
        let input = std::fs::read_to_string(case.join("subsystems.json")).unwrap();
        let expected = expected(&case);
        let actor = actorc::input::parse_actor(&input).unwrap();
        let snap = engine.evaluate(&actor).unwrap_or_else(|e| panic!("{}: {e}", case.display()));
        let got = serde_json::to_value(&snap).unwrap();
        assert!(same(&got, &expected), "{}:\n got {got}\nwant {expected}", case.display());
    }
}

#[test]
fn golden_vectors_interpreter() {
    run_golden(Backend::Interpreter);
}

#[test]
#[cfg(feature = "cli")]
fn golden_vectors_cli() {
    for case in cases() {
        let got = run_cli("rules/actor_core_v3", &[], &case.join("subsystems.json"));
        assert!(same(&got, &expected(&case)), "{}", case.display());
    }
}

/// The situational cases: tags, views and stacking, through the library (both engines, the
/// parsed and the direct JSON path, and every order of the input) and the command line.
#[test]
fn situational_cases() {
    let rules = Rules::load("tests/data/situational/rules.stat").expect("situational rules load");
    let cases = cases_in("tests/data/situational");
    assert_eq!(cases.len(), 3);
    for backend in [Backend::Interpreter, Backend::Jit] {
        let engine = Engine::new(&rules, backend).expect("engine");
        for case in &cases {
            let input = std::fs::read_to_string(case.join("actor.json")).unwrap();
            let expected = expected(case);
            let mut actor = actorc::input::parse_actor(&input).unwrap();
            let snap = engine.evaluate(&actor).unwrap_or_else(|e| panic!("{}: {e}", case.display()));
            let got = serde_json::to_value(&snap).unwrap();
            assert!(same(&got, &expected), "{} {backend:?}:\n got {got}\nwant {expected}", case.display());
            // The direct JSON path takes the same actor and gives the same bits.
            let compact = serde_json::to_string(&serde_json::from_str::<serde_json::Value>(&input).unwrap()).unwrap();
            let (_, prepared) = engine.prepare_json(&compact, &Default::default()).expect("the JSON path takes it");
            assert_eq!(Ok(&prepared), engine.prepare(&actor).as_ref(), "{}", case.display());
            // Reversed contributions, caps and subsystems: the same bits.
            for sub in &mut actor.subsystems {
                sub.primary.reverse();
                sub.derived.reverse();
                sub.caps.reverse();
            }
            actor.subsystems.reverse();
            let reversed = engine.evaluate(&actor).unwrap();
            assert_eq!(
                serde_json::to_string(&reversed).unwrap(),
                serde_json::to_string(&snap).unwrap(),
                "{}",
                case.display()
            );
        }
    }
    #[cfg(feature = "cli")]
    for case in &cases {
        for engine in ["interp", "jit"] {
            let got = run_cli("tests/data/situational/rules.stat", &["--engine", engine], &case.join("actor.json"));
            let expected = expected(case);
            assert!(same(&got, &expected), "{} {engine}:\n got {got}\nwant {expected}", case.display());
        }
    }
}
