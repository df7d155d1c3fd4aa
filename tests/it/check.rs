//! `check` fixtures: one `.stat` file per diagnostic code, with snapshots of the rendered
//! diagnostics (no colour), of their JSON form and, for clean files, of the IR dump. The
//! snapshots sit beside their fixture: `E0101_unknown_stat.stat` has
//! `E0101_unknown_stat.text.snap` and `E0101_unknown_stat.json.snap` (and `….ir.snap`).

use crate::common::{relative, snapshots_in};
use actorc::diag;
use actorc::load::LoadOptions;
use actorc::rules::{Analysis, compile};
use std::path::{Path, PathBuf};

pub fn compile_one(path: &Path, opts: &LoadOptions) -> Analysis {
    compile(&[relative(path)], opts).expect("fixture readable")
}

#[test]
fn diagnostics() {
    insta::glob!("../data/check", "*.stat", |path| {
        let c = compile_one(path, &LoadOptions::default());
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let code = name.split('_').next().unwrap();
        if code.starts_with('E') || code.starts_with('W') {
            assert!(c.diagnostics.iter().any(|d| d.code == code), "{name} must report {code}");
        } else {
            assert!(
                c.diagnostics.is_empty(),
                "{name} must be clean:\n{}",
                diag::render(&c.sources, &c.diagnostics, false)
            );
        }
        let stem = path.file_stem().unwrap().to_string_lossy();
        snapshots_in(path.parent().unwrap(), || {
            insta::assert_snapshot!(format!("{stem}.text"), diag::render(&c.sources, &c.diagnostics, false));
            insta::assert_json_snapshot!(format!("{stem}.json"), diag::to_json(&c.sources, &c.diagnostics));
            if let Some(ir) = &c.ir {
                insta::assert_snapshot!(format!("{stem}.ir"), actorc::ir::dump(ir));
            }
        });
    });
}

#[test]
fn file_over_size_limit() {
    let opts = LoadOptions { max_file_size: 64, ..LoadOptions::default() };
    let c = compile_one(Path::new("rules/actor_core_v3/stats.stat"), &opts);
    assert!(c.has_errors());
    insta::assert_snapshot!(diag::render(&c.sources, &c.diagnostics, false));
}

#[test]
fn shipped_rule_sets_check_clean() {
    for set in ["rules/actor_core_v3", "rules/rpg"] {
        let c = compile(&[PathBuf::from(set)], &LoadOptions::default()).unwrap();
        assert!(c.diagnostics.is_empty(), "{set}:\n{}", diag::render(&c.sources, &c.diagnostics, false));
        insta::assert_snapshot!(set.replace('/', "_"), actorc::ir::dump(c.ir.as_ref().unwrap()));
    }
}

#[test]
fn every_code_has_a_fixture() {
    let codes = [
        "E0001", "E0002", "E0003", "E0005", "E0006", "E0007", "E0101", "E0102", "E0103", "E0104", "E0105", "E0106",
        "E0107", "E0201", "E0202", "E0301", "E0302", "E0303", "E0304", "E0305", "E0306", "E0307", "E0308", "E0310",
        "E0312", "W0001",
    ];
    let names: Vec<String> = std::fs::read_dir("tests/data/check")
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    for code in codes {
        // E0002 needs a file over 1 MiB; `file_over_size_limit` covers it with a small limit.
        if code != "E0002" {
            assert!(names.iter().any(|n| n.starts_with(code)), "no fixture for {code}");
        }
    }
}

mod hostile {
    use actorc::diag;
    use actorc::load::{LoadOptions, Loaded, parse_bytes};
    use proptest::prelude::*;
    use std::path::Path;

    /// Checks arbitrary bytes as a rule file: must not panic, and every diagnostic has a location.
    fn check_bytes(bytes: Vec<u8>) {
        let compiled = actorc::rules::compile_str("fuzz.stat", bytes);
        for d in &compiled.diagnostics {
            assert!(d.main_span().is_some(), "diagnostic without location: {d:?}");
        }
        let _ = diag::render(&compiled.sources, &compiled.diagnostics, false);
        let _ = diag::to_json(&compiled.sources, &compiled.diagnostics);
    }

    fn seed_text() -> String {
        std::fs::read_to_string("tests/data/check/ok_everything.stat").unwrap()
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

        #[test]
        fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
            check_bytes(bytes);
        }

        #[test]
        fn mutated_rules_never_panic(edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..8)) {
            let mut bytes = seed_text().into_bytes();
            for (at, byte, op) in edits {
                let i = at.index(bytes.len().max(1)).min(bytes.len());
                match op {
                    0 => bytes.insert(i, byte),
                    1 if i < bytes.len() => { bytes.remove(i); }
                    _ if i < bytes.len() => bytes[i] = byte,
                    _ => {}
                }
            }
            check_bytes(bytes);
        }

        #[test]
        fn token_soup_never_panics(tokens in prop::collection::vec(prop::sample::select(vec![
            "primary", "derived", "bucket", "fold", "apply", "pipeline", "default", "layers", "policy", "unscoped",
            "requires", "import", "in", "merge", "if", "then", "else", "a", "b", "x", "value", "FLAT", "sum", "each",
            "1", "0", "2.5", "(", ")", ",", "..", "=", ";", "+", "-", "*", "/", "<", "==", "min", "ln", "\"p\"", "///d\n",
        ]), 0..60)) {
            check_bytes(tokens.join(" ").into_bytes());
        }
    }

    #[test]
    fn pathological_nesting_is_a_diagnostic() {
        let text = format!(
            "derived a = {}1{};\nderived b = {}1;\nderived c = {}1{};\n",
            "if 1 then ".repeat(20_000),
            " else 2".repeat(20_000),
            "-".repeat(100_000),
            "(".repeat(100_000),
            ")".repeat(100_000)
        );
        let mut loaded = Loaded::default();
        let (_, ast) = parse_bytes(&mut loaded, Path::new("deep.stat"), text.into_bytes(), &LoadOptions::default());
        assert!(ast.items.is_empty());
        assert_eq!(loaded.diags.iter().filter(|d| d.code == "E0003").count(), 3, "{:?}", loaded.diags);
    }
}

/// A rules folder with a symbolic-link loop, a FIFO, a link to `/dev/zero`, a 3 GB sparse
/// file and an import of a device: loading ends at once, reads little, and says what each is.
#[test]
#[cfg(target_os = "linux")]
fn hostile_folders_end_and_stay_small() {
    let dir = std::env::temp_dir().join(format!("actorc-hostile-folder-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    for f in std::fs::read_dir("rules/actor_core_v3").unwrap() {
        let f = f.unwrap().path();
        std::fs::copy(&f, dir.join(f.file_name().unwrap())).unwrap();
    }
    std::os::unix::fs::symlink(".", dir.join("sub/loop")).unwrap();
    std::os::unix::fs::symlink("..", dir.join("sub/up")).unwrap();
    std::os::unix::fs::symlink("/dev/zero", dir.join("zero.stat")).unwrap();
    let fifo = std::process::Command::new("mkfifo").arg(dir.join("fifo.stat")).status().unwrap();
    assert!(fifo.success());
    std::fs::File::create(dir.join("big.stat")).unwrap().set_len(3 << 30).unwrap();
    std::fs::write(dir.join("imports.stat"), "import \"/dev/null\";\n").unwrap();

    let c = compile(std::slice::from_ref(&dir), &LoadOptions::default()).expect("the folder is read");
    let codes: Vec<(&str, String)> = c.diagnostics.iter().map(|d| (d.code, d.message.clone())).collect();
    let has = |code: &str, text: &str| codes.iter().any(|(c, m)| *c == code && m.contains(text));
    assert!(has("E0002", "big.stat is 3221225472 bytes"), "{codes:?}");
    assert!(has("E0004", "fifo.stat: a FIFO"), "{codes:?}");
    assert!(has("E0004", "zero.stat: a device"), "{codes:?}");
    assert!(has("E0006", "/dev/null is a device"), "{codes:?}");
    assert_eq!(codes.len(), 4, "the v3 files load once, through every link: {codes:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// 40,000 unknown names on one 300 KB line: the output stays small, with the first errors
/// (cut around each name) and how many more there are; JSON obeys the same limit.
#[test]
fn diagnostics_output_is_bounded() {
    use crate::common::actorc;
    let dir = std::env::temp_dir().join(format!("actorc-many-errors-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("many.stat");
    let names: Vec<String> = (0..40_000).map(|i| format!("n{i}")).collect();
    let text = format!(
        "bucket FLAT fold sum apply value + x;\npipeline p = FLAT;\ndefault pipeline p;\nprimary a;\nderived x = min({});\n",
        names.join(", ")
    );
    std::fs::write(&file, text).unwrap();
    let path = file.to_str().unwrap();

    let out = actorc(&["check", path], "");
    assert_eq!(out.code, 1);
    assert_eq!(out.stderr.matches("error[E0101]").count(), 20, "the default limit");
    assert!(out.stderr.contains("… and 39980 more diagnostics not shown (--error-limit 0 shows all)"));
    assert!(out.stderr.len() < 20_000, "{} bytes of diagnostics", out.stderr.len());

    let out = actorc(&["check", path, "--error-limit", "3"], "");
    assert_eq!(out.stderr.matches("error[E0101]").count(), 3);

    let out = actorc(&["check", path, "--format", "json"], "");
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(json[0]["diagnostics"].as_array().unwrap().len(), 20);
    assert_eq!(json[0]["not_shown"], 39_980);

    let out = actorc(&["check", path, "--error-limit", "0"], "");
    assert_eq!(out.stderr.matches("error[E0101]").count(), 40_000);
    assert!(out.stderr.len() < 40_000 * 400, "every excerpt is cut: {} bytes", out.stderr.len());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Only the first 100 unknown names get a did-you-mean: enough for any real mistake, and a
/// bound on the work for a file that names thousands of unknown things.
#[test]
fn suggestions_stop_after_a_hundred_unknown_names() {
    let refs: Vec<String> = (0..150).map(|_| "strengt".to_string()).collect();
    let text = format!(
        "bucket FLAT fold sum apply value + x;\npipeline p = FLAT;\ndefault pipeline p;\nprimary strength;\nderived x = min({});\n",
        refs.join(", ")
    );
    let c = actorc::rules::compile_str("many.stat", text);
    let unknown: Vec<_> = c.diagnostics.iter().filter(|d| d.code == "E0101").collect();
    assert_eq!(unknown.len(), 150);
    let suggested = unknown.iter().filter(|d| d.help.as_deref() == Some("did you mean `strength`?")).count();
    assert_eq!(suggested, 100);
}

/// A flat chain is one level of nesting however long: a 100,000-term sum and a mixed chain
/// of `+ - * /` check at the default limits, and every stage after the parser (check,
/// lower, cost, the IR dump, both engines, explain, graph) takes them without recursing
/// along the chain. Both engines give the bits of a left-to-right evaluation.
#[test]
fn flat_chains_of_100_000_terms() {
    use crate::common::actorc;
    const TERMS: usize = 100_000;
    let dir = std::env::temp_dir().join(format!("actorc-flat-chain-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let header = "bucket FLAT fold sum apply value + x;\npipeline p = FLAT;\ndefault pipeline p;\nprimary a;\n";
    let a = 1.1f64;

    // a + a + … + a
    let sum = vec!["a"; TERMS].join("+");
    let mut expected_sum = a;
    for _ in 1..TERMS {
        expected_sum += a;
    }
    // A mixed chain: a sum of products, each evaluated left to right.
    let operands = ["a", "1.5", "a", "0.75"];
    let value = |o: &str| if o == "a" { a } else { o.parse::<f64>().unwrap() };
    let (mut mixed, mut terms, mut product) = (String::from("a"), Vec::new(), a);
    let mut adds = Vec::new();
    for i in 1..TERMS {
        let op = ["+", "-", "*", "/"][(i * 7 + i / 3) % 4];
        let o = operands[(i * 5 + i / 7) % 4];
        mixed.push_str(op);
        mixed.push_str(o);
        match op {
            "*" => product *= value(o),
            "/" => product /= value(o),
            _ => {
                terms.push(product);
                adds.push(op);
                product = value(o);
            }
        }
    }
    terms.push(product);
    let mut expected_mixed = terms[0];
    for (op, t) in adds.iter().zip(&terms[1..]) {
        expected_mixed = if *op == "+" { expected_mixed + t } else { expected_mixed - t };
    }

    let rules = dir.join("flat.stat");
    std::fs::write(&rules, format!("{header}derived sum = {sum};\nderived mixed = {mixed};\n")).unwrap();
    let actor = dir.join("actor.json");
    std::fs::write(
        &actor,
        r#"{"id":"k","subsystems":[{"primary":[{"dimension":"a","bucket":"FLAT","value":1.1,"system":"r"}],"meta":{"system":"g"}}]}"#,
    )
    .unwrap();
    let (rules, actor) = (rules.to_str().unwrap(), actor.to_str().unwrap());

    let out = actorc(&["check", rules, "--emit", "ir", "--cost"], "");
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("(((a#0 + a#0) + a#0) + a#0)"), "left to right");
    for engine in ["interp", "jit"] {
        let out = actorc(&["run", rules, "--input", actor, "--engine", engine, "--quiet"], "");
        assert_eq!(out.code, 0, "{}", out.stderr);
        let snapshot: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        let got = |stat: &str| snapshot["Derived"][stat].as_f64().unwrap().to_bits();
        assert_eq!(got("sum"), expected_sum.to_bits(), "{engine}");
        assert_eq!(got("mixed"), expected_mixed.to_bits(), "{engine}");
    }
    let out = actorc(&["explain", rules, "--input", actor, "--stat", "mixed"], "");
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains(&format!("= {expected_mixed}")), "{}", &out.stdout[..300]);
    assert_eq!(actorc(&["graph", rules], "").code, 0);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The depth limit counts nesting: parentheses, and nodes that hold others (a chain is
/// one). 64 of either pass at the default limit, 65 fail with E0003.
#[test]
fn depth_limit_counts_nesting() {
    let header = "bucket FLAT fold sum apply value + x;\npipeline p = FLAT;\ndefault pipeline p;\nprimary a;\n";
    let codes = |formula: String| {
        let c = actorc::rules::compile_str("deep.stat", format!("{header}derived d = {formula};\n"));
        c.diagnostics.iter().map(|d| d.code).collect::<Vec<_>>()
    };
    let parens = |n: usize| format!("{}a{}", "(".repeat(n), ")".repeat(n));
    let sums = |n: usize| format!("{}a + a{}", "a + (".repeat(n - 1), ")".repeat(n - 1));
    let calls = |n: usize| format!("{}a{}", "abs(".repeat(n), ")".repeat(n));
    let negations = |n: usize| format!("{}a", "-".repeat(n));
    for nested in [parens, sums, calls, negations] {
        assert_eq!(codes(nested(64)), Vec::<&str>::new(), "{}", nested(64));
        assert_eq!(codes(nested(65)), ["E0003"], "{}", nested(65));
    }
}

/// A file of the rule set that cannot be read (or is not text) may have declared anything:
/// its own error is the only one, with no "unknown stat" for what the other files use.
#[test]
fn a_lost_file_hides_unknown_names() {
    let dir = std::env::temp_dir().join(format!("actorc-lost-file-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("a.stat"), b"primary strength;\n\xff\xfe").unwrap();
    std::fs::write(
        dir.join("b.stat"),
        "bucket FLAT fold sum apply value + x;\npipeline p = FLAT;\nderived hp = strength * 10 pipeline p;\n",
    )
    .unwrap();
    let c = compile(std::slice::from_ref(&dir), &LoadOptions::default()).unwrap();
    let codes: Vec<&str> = c.diagnostics.iter().map(|d| d.code).collect();
    assert_eq!(codes, ["E0007"], "{}", diag::render(&c.sources, &c.diagnostics, false));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `--sandbox` (and `--max-cost`, which implies it) reads no file outside the rule set's
/// folder: an import leading out, or a link in the folder to a file outside, is a located
/// error that quotes nothing of the file. Without it, the file's first line is quoted.
#[test]
#[cfg(unix)]
fn sandbox_reads_nothing_outside_the_rule_set() {
    use crate::common::actorc;
    let dir = std::env::temp_dir().join(format!("actorc-sandbox-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("mods/m1/lib")).unwrap();
    std::fs::create_dir_all(dir.join("outside")).unwrap();
    std::fs::write(dir.join("outside/secret.stat"), "secret line: hunter2\n").unwrap();
    let header = "bucket FLAT fold sum apply value + x;\npipeline p = FLAT;\ndefault pipeline p;\nprimary a;\n";
    std::fs::write(dir.join("mods/m1/lib/ok.stat"), "primary b;\n").unwrap();
    let main = dir.join("mods/m1/main.stat");
    std::fs::write(&main, format!("{header}import \"lib\";\nimport \"../../outside/secret\";\n")).unwrap();
    let set = dir.join("mods/m1");
    let set = set.to_str().unwrap();

    let out = actorc(&["check", set], "");
    assert!(out.stderr.contains("hunter2"), "without --sandbox the file is read: {}", out.stderr);
    for args in [
        vec!["check", set, "--sandbox"],
        vec!["check", set, "--max-cost", "1000000"],
        vec!["run", set, "--sandbox", "--input", "-"],
        vec!["explain", set, "--sandbox", "--stat", "a"],
        vec!["graph", set, "--sandbox"],
    ] {
        let out = actorc(&args, "");
        assert_eq!(out.code, 1, "{args:?}: {}", out.stderr);
        assert!(!out.stderr.contains("hunter2"), "{args:?}: {}", out.stderr);
        assert!(
            out.stderr.contains(
                "error[E0006]: cannot import \"../../outside/secret\": the path leads outside the rule set's folder"
            ),
            "{args:?}: {}",
            out.stderr
        );
        assert!(out.stderr.contains("main.stat:6:8"), "located at the import: {}", out.stderr);
    }

    // A link in the folder to a file outside; a clean rule set passes.
    std::fs::write(&main, format!("{header}import \"lib\";\n")).unwrap();
    assert_eq!(actorc(&["check", set, "--sandbox"], "").code, 0);
    std::os::unix::fs::symlink(dir.join("outside/secret.stat"), dir.join("mods/m1/lib/evil.stat")).unwrap();
    let out = actorc(&["check", set, "--sandbox"], "");
    assert_eq!(out.code, 1);
    assert!(!out.stderr.contains("hunter2"), "{}", out.stderr);
    assert!(out.stderr.contains("evil.stat: it leads outside the rule set's folder"), "{}", out.stderr);
    std::fs::remove_dir_all(&dir).unwrap();
}
