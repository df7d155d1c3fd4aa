//! Evaluation fixtures: each folder of `tests/data/eval/` holds `actors.ndjson` and either a
//! `rules.stat` or a `RULES` file naming a shipped rule set; the output is snapshotted in
//! `output.snap` beside them.

use actorc::{Backend, Engine, Rules};
use std::path::{Path, PathBuf};

pub fn rules_of(case: &Path) -> PathBuf {
    let local = case.join("rules.stat");
    if local.exists() {
        return crate::common::relative(&local);
    }
    PathBuf::from(std::fs::read_to_string(case.join("RULES")).expect("rules.stat or RULES").trim())
}

/// The NDJSON records for every actor of a case, as `actorc run` writes them.
pub fn run_case(case: &Path, backend: Backend) -> Vec<String> {
    let rules = Rules::load(rules_of(case)).unwrap_or_else(|e| panic!("{}: {e}", case.display()));
    let engine = Engine::new(&rules, backend).expect("engine");
    let text = std::fs::read_to_string(case.join("actors.ndjson")).unwrap();
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            let (id, result) = actorc::run::eval_line(&engine, &Default::default(), i + 1, l);
            actorc::run::record(id.as_deref(), &result).unwrap()
        })
        .collect()
}

pub fn cases() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> =
        std::fs::read_dir("tests/data/eval").unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()).collect();
    v.sort();
    v
}

#[test]
fn eval_fixtures() {
    insta::glob!("../data/eval", "*/actors.ndjson", |path| {
        let case = path.parent().unwrap();
        let lines = run_case(case, Backend::Interpreter);
        let pretty: Vec<serde_json::Value> = lines.iter().map(|l| serde_json::from_str(l).unwrap()).collect();
        crate::common::snapshots_in(case, || insta::assert_json_snapshot!("output", pretty));
    });
}

#[test]
fn batch_equals_one_by_one() {
    for case in cases() {
        let rules = Rules::load(rules_of(&case)).unwrap();
        let engine = Engine::new(&rules, Backend::Interpreter).unwrap();
        let text = std::fs::read_to_string(case.join("actors.ndjson")).unwrap();
        let actors: Vec<actorc::Actor> = text.lines().filter_map(|l| actorc::input::parse_actor(l).ok()).collect();
        let batch = engine.evaluate_batch(&actors);
        let prepared = engine.evaluate_batch(&engine.prepare_batch(&actors));
        for (i, a) in actors.iter().enumerate() {
            let one = engine.evaluate(a);
            assert_eq!(batch[i], one);
            assert_eq!(prepared[i], one);
        }
    }
}

#[test]
#[should_panic(expected = "a prepared batch must be evaluated with the rules it was prepared with")]
fn a_prepared_batch_belongs_to_its_rules() {
    let engine = |_| Engine::new(&Rules::load("rules/actor_core_v3").unwrap(), Backend::Interpreter).unwrap();
    let (a, b) = (engine(0), engine(1));
    b.evaluate_batch(&a.prepare_batch(&[]));
}

#[test]
fn an_evaluation_error_quotes_the_formula_as_written() {
    let text = "bucket FLAT fold sum apply value + x;\npipeline flat = FLAT;\ndefault pipeline flat;\n\
                primary a;\nderived b = 10 / (a - 7);\nderived c = (a - 7);\n";
    let rules = Rules::from_analysis(actorc::rules::compile_str("parens.stat", text)).unwrap();
    let actor: actorc::Actor =
        serde_json::from_str(r#"[{"primary": [{"dimension": "a", "bucket": "FLAT", "value": 7, "system": "s"}]}]"#)
            .unwrap();
    for backend in [Backend::Interpreter, Backend::Jit] {
        let err = Engine::new(&rules, backend).unwrap().evaluate(&actor).unwrap_err();
        let actorc::ActorError::Eval(e) = err else { panic!("{err}") };
        assert_eq!(e.formula.as_deref(), Some("10 / (a - 7)"), "{backend:?}");
        assert!(e.message.contains("`10 / (a - 7)`"), "{}", e.message);
    }
    let c = rules.ir.stat(rules.ir.find_stat("c").unwrap());
    assert_eq!(c.formula_text.as_deref(), Some("(a - 7)"));
}

#[test]
fn an_operator_stat_that_fails_says_so() {
    let text = "bucket FLAT fold sum apply value + x;\npipeline flat = FLAT;\ndefault pipeline flat;\n\
                derived total merge sum;\n";
    let rules = Rules::from_analysis(actorc::rules::compile_str("merge.stat", text)).unwrap();
    let actor: actorc::Actor = serde_json::from_str(
        r#"[{"primary": [{"dimension": "total", "bucket": "FLAT", "value": 1e308, "system": "a"},
                         {"dimension": "total", "bucket": "FLAT", "value": 1e308, "system": "b"}]}]"#,
    )
    .unwrap();
    for backend in [Backend::Interpreter, Backend::Jit] {
        let err = Engine::new(&rules, backend).unwrap().evaluate(&actor).unwrap_err();
        assert_eq!(err.to_string(), "stat `total`: merge of its contributions produced inf", "{backend:?}");
    }
}

/// `benches/rules/curves_plain.stat` is `curves.stat` without named values, `lookup`, `at`,
/// `^`, `%`, `and`, `or` and `not`: on the benchmark's workload both give every stat the
/// same value, bit for bit, in both engines, so the benchmark compares like with like.
#[test]
fn bench_curves_equal_their_plain_form() {
    use crate::workload::{SEED, Workload};
    let curves = Rules::load("benches/rules/curves.stat").unwrap();
    let plain = Rules::load("benches/rules/curves_plain.stat").unwrap();
    assert!(!curves.ir.tables.is_empty() && !curves.ir.curves.is_empty() && plain.ir.tables.is_empty());
    let actors = Workload::from_ir(&curves.ir).actors(300, SEED);
    // The benchmark gives each rule set the workload of its own stats: the same actors.
    assert!(Workload::from_ir(&plain.ir).actors(300, SEED) == actors);
    for backend in [Backend::Interpreter, Backend::Jit] {
        let want = Engine::new(&curves, backend).unwrap().evaluate_batch(&actors);
        let got = Engine::new(&plain, backend).unwrap().evaluate_batch(&actors);
        for (i, (w, g)) in want.iter().zip(&got).enumerate() {
            let (w, g) = (w.as_ref().unwrap(), g.as_ref().unwrap());
            for stat in &curves.ir.stats {
                let value = |rules: &Rules, snap: &actorc::Snapshot| {
                    let id = rules.ir.find_stat(&stat.name).unwrap();
                    snap.entry(id).map(|e| (e.value.to_bits(), e.min.to_bits(), e.max.to_bits()))
                };
                assert_eq!(value(&curves, w), value(&plain, g), "{backend:?}, actor {i}, {}", stat.name);
            }
        }
    }
}
