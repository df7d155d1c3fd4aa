//! `actorc test`: the shipped balance tests pass (this is how CI runs them), and each test
//! file of tests/data/balance/ gives the report in the snapshots beside it: `NAME.text.snap`
//! for every file, and `NAME.json.snap` and `NAME.junit.snap` for those in `ALL_FORMATS`.
//! `pass` must pass; every other file fails or cannot run. JSON reports match
//! docs/schema/test-report.schema.json.

use crate::common::{actorc, snapshots_in};
use std::path::{Path, PathBuf};

const DATA: &str = "tests/data/balance";
/// Fixtures whose JSON and JUnit reports are snapshotted too.
const ALL_FORMATS: &[&str] = &["pass", "fail", "bad_names"];

#[test]
fn shipped_balance_tests_pass() {
    let out = actorc(&["test"], "");
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.starts_with("rules/rpg/tests/party.stat-test.toml\n"), "{}", out.stdout);
    assert!(out.stdout.ends_with(" passed, 0 failed\n"), "{}", out.stdout);
}

fn fixtures() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(DATA)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_str().is_some_and(|s| s.ends_with(".stat-test.toml")))
        .collect();
    files.sort();
    files
}

fn stem(path: &Path) -> &str {
    path.file_name().and_then(|n| n.to_str()).and_then(|n| n.strip_suffix(".stat-test.toml")).unwrap()
}

fn schema() -> jsonschema::Validator {
    let text = std::fs::read_to_string("docs/schema/test-report.schema.json").unwrap();
    jsonschema::validator_for(&serde_json::from_str(&text).unwrap()).expect("the report schema compiles")
}

#[test]
fn fixtures_report_as_their_snapshots() {
    let files = fixtures();
    assert!(files.len() >= 8, "only {} fixtures", files.len());
    let schema = schema();
    snapshots_in(&Path::new(env!("CARGO_MANIFEST_DIR")).join(DATA), || {
        for path in &files {
            let name = stem(path);
            let formats: &[&str] = if ALL_FORMATS.contains(&name) { &["text", "json", "junit"] } else { &["text"] };
            for format in formats {
                let out = actorc(&["test", path.to_str().unwrap(), "--format", format], "");
                assert_eq!(out.code, if name == "pass" { 0 } else { 1 }, "{name}: {}{}", out.stdout, out.stderr);
                assert_eq!(out.stderr, "", "{name}");
                if *format == "json" {
                    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
                    let errors: Vec<String> = schema.iter_errors(&report).map(|e| e.to_string()).collect();
                    assert!(errors.is_empty(), "{name}: {errors:?}");
                }
                insta::assert_snapshot!(format!("{name}.{format}"), out.stdout);
            }
        }
    });
}

#[test]
fn a_folder_runs_every_test_file_in_it() {
    let out = actorc(&["test", DATA], "");
    assert_eq!(out.code, 1);
    let bad = fixtures().iter().filter(|p| stem(p).starts_with("bad_")).count();
    assert!(out.stdout.ends_with(&format!("7 passed, 8 failed, {bad} bad test files\n")), "{}", out.stdout);
}

#[test]
fn filter_and_engine_choose_what_runs() {
    let fail = format!("{DATA}/fail.stat-test.toml");
    let out = actorc(&["test", &fail, "--filter", "over the top"], "");
    assert_eq!((out.code, out.stdout.lines().last()), (1, Some("0 passed, 1 failed")), "{}", out.stdout);
    let pass = format!("{DATA}/pass.stat-test.toml");
    for engine in ["jit", "interp", "both"] {
        let out = actorc(&["test", &pass, "--engine", engine], "");
        assert_eq!((out.code, out.stdout.lines().last()), (0, Some("7 passed, 0 failed")), "{engine}");
    }
}

#[test]
fn paths_without_test_files_are_usage_errors() {
    let out = actorc(&["test", "no/such/folder"], "");
    assert_eq!((out.code, out.stderr.as_str()), (2, "error: no/such/folder does not exist\n"));
    let out = actorc(&["test", "docs/examples"], "");
    assert_eq!((out.code, out.stderr.as_str()), (2, "error: docs/examples holds no *.stat-test.toml files\n"));
}

/// Bytes that are not a test file come back as a located error, never a crash.
#[test]
fn any_text_is_a_bad_file_not_a_crash() {
    let dir = std::env::temp_dir().join(format!("actorc-balance-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let texts: &[&[u8]] = &[
        b"",
        b"\xff\xfe",
        b"rules = 1",
        b"rules = []",
        b"rules = \".\"\n[[case]]\nactor = 3",
        b"rules = \".\"\ncase = 1",
        b"[[[",
        &[b'['; 10_000],
    ];
    for (i, text) in texts.iter().enumerate() {
        let path = dir.join(format!("{i}.stat-test.toml"));
        std::fs::write(&path, text).unwrap();
        let out = actorc(&["test", path.to_str().unwrap()], "");
        assert_eq!(out.code, 1, "{:?}: {}{}", String::from_utf8_lossy(text), out.stdout, out.stderr);
        assert!(out.stdout.contains("error["), "{}", out.stdout);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
