//! The checking logic of the fuzz targets, as plain functions of the input bytes.
//!
//! Each `fuzz_targets/*.rs` is one call into this file, and `tests/it/fuzz_replay.rs`
//! includes it (`#[path]`) to replay the committed corpus and regressions without libFuzzer.
//! It depends on `actorc`, `arbitrary` and `serde_json` only.
//!
//! - [`rule_text`]: bytes as a rule file → load, parse, check and lower never panic; every
//!   diagnostic points into the text; a clean file's IR dump, cost and interpreter run work.
//! - [`differential`]: a random rule set × random actors (from `arbitrary::Unstructured`),
//!   tags, views, stacking, constants, tables, curves and all → the rules check clean, their
//!   named values fold as the generator folds them, the interpreter and the JIT give equal
//!   results (errors included), bit for bit, also for the actors' input in another order; the
//!   direct JSON path prepares each actor as parsing does.
//! - [`actor_input`]: bytes as an NDJSON batch (and as one actor document) over the shipped
//!   `rules/actor_core_v3` → one record per non-blank line, an error record for each malformed
//!   line, and each well-formed actor's snapshot equal to evaluating it alone.
//!
//! Batch evaluation uses rayon: run the targets with `RAYON_NUM_THREADS=1` to keep to one core.
//! `ACTORC_FUZZ_VERBOSE=1` makes [`differential`] print each generated rule set.

pub mod random;

use actorc::input::{Actor, InputLimits};
use actorc::load::LoadOptions;
use actorc::source::{FileId, SourceMap};
use actorc::syntax::{format_file, parse_file};
use actorc::{ActorError, Backend, Engine, Rules, Snapshot};
use arbitrary::Unstructured;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

// ---------------------------------------------------------------------------------------
// rule_text

/// Bytes as the rule file `fuzz.stat`, through the library's in-memory path (no file
/// system, so imports resolve to nothing and report E0006).
pub fn rule_text(data: &[u8]) {
    // The canonical form of a file that parses cleanly parses cleanly again, to as many
    // declarations, and is its own canonical form.
    let limits = LoadOptions::default().parse;
    if let Ok(text) = std::str::from_utf8(data)
        && let (ast, diags) = parse_file(FileId(0), text, limits)
        && diags.is_empty()
    {
        let once = format_file(&ast, text);
        let (ast2, again) = parse_file(FileId(0), &once, limits);
        if !again.is_empty() {
            let mut sources = SourceMap::default();
            sources.add(Path::new("formatted.stat"), once.clone());
            panic!("the formatted text does not parse:\n{once}\n{}", actorc::diag::render_plain(&sources, &again));
        }
        assert_eq!(ast.items.len(), ast2.items.len(), "formatting changed the declarations:\n{once}");
        let twice = format_file(&ast2, &once);
        assert_eq!(once, twice, "formatting is not idempotent");
    }
    let compiled = actorc::rules::compile_str("fuzz.stat", data);
    let file = compiled.sources.find(Path::new("fuzz.stat")).expect("the one file");
    let text = &compiled.sources.get(file).text;
    for d in &compiled.diagnostics {
        assert!(d.main_span().is_some(), "diagnostic without a location: {d:?}");
        for l in &d.labels {
            let (start, end) = (l.span.start as usize, l.span.end as usize);
            assert_eq!(l.span.file, file, "label in another file: {d:?}");
            assert!(
                start <= end && end <= text.len(),
                "label span {start}..{end} outside the text ({}): {d:?}",
                text.len()
            );
            assert!(
                text.is_char_boundary(start) && text.is_char_boundary(end),
                "label span {start}..{end} splits a character: {d:?}"
            );
        }
    }
    let _ = actorc::diag::render_plain(&compiled.sources, &compiled.diagnostics);
    // The excerpts too, where the command line is built (the fuzzer's build; the tests' with `cli`).
    #[cfg(any(fuzzing, feature = "cli"))]
    let _ = actorc::diag::render(&compiled.sources, &compiled.diagnostics, false);
    let _ = actorc::diag::to_json(&compiled.sources, &compiled.diagnostics);
    match &compiled.ir {
        None => assert!(compiled.has_errors(), "no IR although there are no errors"),
        Some(ir) => {
            assert!(!compiled.has_errors(), "IR although there are errors");
            let _ = actorc::ir::dump(ir);
            let cost = actorc::cost::cost(ir);
            let _ = cost.bound(4096);
            let _ = actorc::cost::over_budget(ir, &cost, 0, 4096);
        }
    }
    if let Ok(rules) = Rules::from_analysis(compiled) {
        let engine = Engine::new(&rules, Backend::Interpreter).expect("the interpreter takes any rule set");
        let _ = engine.evaluate(&Actor::default());
    }
}

// ---------------------------------------------------------------------------------------
// differential: a random rule set and random actors

type Results = Vec<Result<Snapshot, ActorError>>;

fn assert_same(want: &Results, got: &Results, what: &str, rules: &str, actors: &[Actor]) {
    assert_eq!(want.len(), got.len(), "{what}: result count");
    for (i, (w, g)) in want.iter().zip(got).enumerate() {
        assert!(
            w == g,
            "{what}: actor {i} differs\nrules:\n{rules}\nactor: {:?}\n interp: {w:?}\n    jit: {g:?}",
            actors[i]
        );
    }
}

/// A random rule set × 1–5 random actors: the generated text checks clean, `check` folds its
/// constants, tables and curves as the generator does, and the JIT (whole, or in functions
/// of 1–4 stats) gives the interpreter's results bit for bit, batched, one by one, laid out
/// and with the input shuffled; the direct JSON path prepares each actor as parsing does.
pub fn differential(data: &[u8]) {
    differential_outcome(data);
}

/// What [`differential`] checked.
pub enum Outcome {
    /// The bytes ran out before the generator made a rule set and an actor.
    Skipped,
    Ran {
        rules: Rules,
        text: String,
        actors: Vec<Actor>,
        /// The interpreter's results (the JIT's are the same).
        results: Results,
    },
}

/// [`differential`], saying what it checked.
pub fn differential_outcome(data: &[u8]) -> Outcome {
    let mut u = Unstructured::new(data);
    let Ok(spec) = random::rule_spec(&mut u) else { return Outcome::Skipped };
    let chunk = u.int_in_range(0usize..=4).unwrap_or(0);
    let n = u.int_in_range(1usize..=5).unwrap_or(1);
    let mut actors = Vec::with_capacity(n);
    for i in 0..n {
        match random::actor(&mut u, &spec, i) {
            Ok(a) => actors.push(a),
            Err(_) => break,
        }
    }
    if actors.is_empty() {
        return Outcome::Skipped;
    }
    let text = spec.text();
    if std::env::var_os("ACTORC_FUZZ_VERBOSE").is_some() {
        eprintln!("rules ({} actors, chunk {chunk}):\n{text}", actors.len());
    }
    // The generator writes only valid rules: constants it cannot fold to a finite number, zero
    // divisors and missing constant keys are written otherwise.
    let rules = random::rules(&text).unwrap_or_else(|e| panic!("the generated rules do not check:\n{text}{e}"));
    same_values(&spec, &rules, &text);
    let interp = Engine::new(&rules, Backend::Interpreter).expect("interpreter");
    let jit = match chunk {
        0 => Engine::new(&rules, Backend::Jit),
        k => Engine::jit_with_function_size(&rules, k),
    }
    .unwrap_or_else(|e| panic!("the JIT rejects rules that checked clean: {e}\n{text}"));
    let want = interp.evaluate_batch(&actors);
    let got = jit.evaluate_batch(&actors);
    assert_same(&want, &got, "batch", &text, &actors);
    let one: Results = actors.iter().map(|a| jit.evaluate(a)).collect();
    assert_same(&want, &one, "one by one", &text, &actors);
    let layout = jit.layout(&jit.prepare_batch(&actors));
    assert_same(&want, &jit.evaluate_batch(&layout), "laid out", &text, &actors);
    let limits = InputLimits::default();
    for (i, actor) in actors.iter().enumerate() {
        // The input in another order: the same bits (or, for malformed input, maybe another
        // input error: the first one found).
        if let Ok(permuted) = random::permute(&mut u, actor)
            && !matches!(want[i], Err(ActorError::Input(_)))
        {
            let got = jit.evaluate(&permuted);
            assert!(got == want[i], "permuted: actor {i} differs\nrules:\n{text}\n{actor:?}\n{permuted:?}\n{got:?}");
        }
        // Ingest straight from the JSON text, when it takes the actor, agrees with parsing.
        let json = serde_json::to_string(actor).expect("an actor serializes");
        if let Some((id, prepared)) = interp.prepare_json(&json, &limits) {
            let parsed = actorc::input::parse_actor(&json).expect("taken straight from JSON, yet it does not parse");
            assert!(id == parsed.id, "ids differ: {id:?} vs {:?}", parsed.id);
            assert!(
                Ok(prepared) == interp.prepare(&parsed),
                "prepared straight from JSON differs\nrules:\n{text}\n{json}"
            );
        }
    }
    Outcome::Ran { rules, text, actors, results: want }
}

/// `check` folded the constants, tables and curves of `spec` to what the generator folded
/// them to, bit for bit: both read the text the same way (`-a ^ b`, `a ^ -b ^ c`, `%` …).
fn same_values(spec: &random::RuleSpec, rules: &Rules, text: &str) {
    let (want, _) = spec.values();
    let ir = &rules.ir;
    let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<u64>>();
    for (i, v) in want.constants.iter().enumerate() {
        let id = ir.const_ids.get(&format!("c{i}")).expect("a generated constant");
        let got = ir.constants[id.index()].value;
        assert!(got.to_bits() == v.to_bits(), "constant c{i}: check folds {got:?}, the generator {v:?}\n{text}");
    }
    for (i, (keys, values)) in want.tables.iter().enumerate() {
        let id = ir.table_ids.get(&format!("tb{i}")).expect("a generated table");
        let t = &ir.tables[id.index()];
        assert!(
            bits(&t.xs) == bits(keys) && bits(&t.ys) == bits(values),
            "table tb{i}: check folds {:?} → {:?}, the generator {keys:?} → {values:?}\n{text}",
            t.xs,
            t.ys
        );
    }
    for (i, (xs, ys)) in want.curves.iter().enumerate() {
        let id = ir.curve_ids.get(&format!("cu{i}")).expect("a generated curve");
        let c = &ir.curves[id.index()];
        assert!(
            bits(&c.xs) == bits(xs) && bits(&c.ys) == bits(ys),
            "curve cu{i}: check folds {:?} → {:?}, the generator {xs:?} → {ys:?}\n{text}",
            c.xs,
            c.ys
        );
    }
}

// ---------------------------------------------------------------------------------------
// actor_input

/// The shipped v3 rules with both engines, loaded once.
fn v3() -> &'static (Engine, Engine) {
    static V3: OnceLock<(Engine, Engine)> = OnceLock::new();
    V3.get_or_init(|| {
        // This file is compiled in the fuzz crate and, through `#[path]`, in the main one.
        let base = Path::new(env!("CARGO_MANIFEST_DIR"));
        let dir: PathBuf = [base.join("rules/actor_core_v3"), base.join("../rules/actor_core_v3")]
            .into_iter()
            .find(|d| d.is_dir())
            .expect("rules/actor_core_v3");
        let rules = Rules::load(&dir).unwrap_or_else(|e| panic!("{e}"));
        let interp = Engine::new(&rules, Backend::Interpreter).expect("interpreter");
        let jit = Engine::new(&rules, Backend::Jit).expect("jit");
        (interp, jit)
    })
}

/// Bytes as actor input over the v3 rules.
///
/// As one document (`actorc run x.json`): parsing and both engines agree and never panic.
/// As an NDJSON batch (`actorc run x.ndjson`, through `run::run` with the JIT): one
/// record per non-blank line, in order; a malformed line gives exactly one input-error
/// record; a well-formed line's record equals evaluating that actor alone with the
/// interpreter; and a clean run of only the well-formed lines gives the same records.
pub fn actor_input(data: &[u8]) {
    let (interp, jit) = v3();
    let limits = InputLimits::default();

    if let Ok(text) = std::str::from_utf8(data) {
        let parsed = actorc::input::parse_actor_limited(text, &limits);
        // Ingest straight from the text, when it takes the document, agrees with parsing
        // and preparing it.
        if let Some((id, prepared)) = interp.prepare_json(text, &limits) {
            let actor = parsed.as_ref().expect("taken straight from JSON, yet it does not parse");
            assert!(id == actor.id, "ids differ: {id:?} vs {:?}", actor.id);
            assert!(Ok(prepared) == interp.prepare(actor), "prepared straight from JSON differs");
        }
        // The depth limit holds as if every document were scanned before it is parsed
        // (typed actors that account for all their brackets are not scanned), also at the
        // deepest a typed actor nests.
        for max_depth in [limits.max_depth, 5, 6] {
            let limited = InputLimits { max_depth, ..limits };
            let got = actorc::input::parse_actor_limited(text, &limited);
            match actorc::input::json_too_deep(text, max_depth) {
                Some(_) => assert!(
                    got.as_ref().is_err_and(|e| e.message.contains("nested deeper")),
                    "deeper than {max_depth}, yet: {got:?}"
                ),
                None => {
                    let unlimited = InputLimits { max_depth: usize::MAX, ..limits };
                    let want = actorc::input::parse_actor_limited(text, &unlimited);
                    assert!(got == want, "depth {max_depth}: {got:?} vs {want:?}");
                }
            }
        }
        if let Ok(actor) = &parsed {
            let want = interp.evaluate(actor);
            let got = jit.evaluate(actor);
            assert!(want == got, "one document: engines differ\n interp: {want:?}\n    jit: {got:?}");
        }
    }

    let mut out = Vec::new();
    let code = run_batch(jit, &limits, data, &mut out);
    assert!(code == 0 || code == 1, "a batch read from memory exited with {code}");
    let out = String::from_utf8(out).expect("records are UTF-8");
    let records: Vec<&str> = out.lines().collect();

    // What each non-blank line should give, evaluated alone.
    let mut expected = Vec::new();
    let mut clean_input = Vec::new();
    let mut clean_expected = Vec::new();
    for (i, line) in data.split_inclusive(|&b| b == b'\n').enumerate() {
        let line_no = i + 1;
        match std::str::from_utf8(line) {
            Ok(l) if l.trim().is_empty() => {}
            Ok(l) => match actorc::input::parse_actor_limited(l.strip_suffix('\n').unwrap_or(l), &limits) {
                Ok(actor) => {
                    // An input error found by ingest names its line, in this batch and in
                    // the clean one.
                    let result = interp.evaluate(&actor);
                    let record = |line: usize| {
                        let mut result = result.clone();
                        if let Err(ActorError::Input(e)) = &mut result {
                            e.message = format!("line {line}: {}", e.message);
                        }
                        actorc::run::record(actor.id.as_deref(), &result).unwrap()
                    };
                    expected.push(Some(record(line_no)));
                    clean_input.extend_from_slice(line);
                    if !line.ends_with(b"\n") {
                        clean_input.push(b'\n');
                    }
                    clean_expected.push(record(clean_expected.len() + 1));
                }
                Err(mut e) => {
                    e.message = format!("line {line_no}: {}", e.message);
                    expected.push(Some(
                        actorc::run::record(e.actor.clone().as_deref(), &Err(ActorError::from(e))).unwrap(),
                    ));
                }
            },
            // Not UTF-8: some input error, its wording is the CLI's.
            Err(_) => expected.push(None),
        }
    }
    assert_eq!(
        records.len(),
        expected.len(),
        "one record per non-blank line expected; got {} records for {} lines:\n{out}",
        records.len(),
        expected.len()
    );
    for (i, (rec, want)) in records.iter().zip(&expected).enumerate() {
        match want {
            Some(want) => assert_eq!(rec, want, "record {i}"),
            None => assert!(rec.contains(r#""error":{"kind":"input""#), "record {i} is not an input error: {rec}"),
        }
    }

    // The well-formed lines on their own: the same records.
    let mut clean_out = Vec::new();
    let code = run_batch(jit, &limits, clean_input.as_slice(), &mut clean_out);
    assert!(code == 0 || code == 1, "a clean batch exited with {code}");
    let clean_out = String::from_utf8(clean_out).expect("records are UTF-8");
    let clean: Vec<&str> = clean_out.lines().collect();
    assert_eq!(clean, clean_expected, "a clean run of the well-formed lines differs");
}

/// An NDJSON batch from `data` to `out` as `actorc run` does it; the exit code it would give
/// (0 when every actor succeeded, 1 when one failed).
fn run_batch(engine: &Engine, limits: &InputLimits, data: &[u8], out: &mut Vec<u8>) -> i32 {
    use actorc::run::{InputForm, RunOptions};
    let opts = RunOptions { limits: *limits, form: Some(InputForm::Lines), ..RunOptions::default() };
    match actorc::run::run(engine, &opts, data, out, &mut |_| {}) {
        Ok(summary) => i32::from(summary.failed()),
        Err(e) => panic!("a batch read from memory failed: {e}"),
    }
}
