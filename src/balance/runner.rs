//! Runs one test file: reads it, checks it against its rules (every error located), then
//! evaluates each case with the engines asked for and compares their results and the
//! expectations.

use super::expect::{Expect, FORMS};
use super::file::{RawFile, paths, to_json, toml_message};
use crate::diag::{Diagnostic, did_you_mean, did_you_mean_suffix};
use crate::engine::{ActorError, Backend, Engine};
use crate::explain::{self, ExplainError};
use crate::input::{Actor, InputError, InputLimits, actor_from_value, salvage_id};
use crate::ir::StatId;
use crate::load::LoadOptions;
use crate::rules::{Rules, compile};
use crate::run::{DocumentReader, InputForm};
use crate::snapshot::{Snapshot, StatChange};
use crate::source::{FileId, SourceMap, Span};
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::path::{Component, Path, PathBuf};

/// Largest test file read, in bytes (as for a rule file).
const MAX_FILE_BYTES: u64 = 1 << 20;
/// Lines of `explain` shown with a failure.
pub const EXPLAIN_LINES: usize = 8;
/// Disagreeing stats listed per case.
const DISAGREEMENTS_SHOWN: usize = 5;
/// Actor ids remembered per file for did-you-mean suggestions.
const IDS_REMEMBERED: usize = 10_000;

/// Which engines evaluate each case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Engines {
    /// The JIT and the interpreter, which must agree bit for bit.
    #[default]
    Both,
    Jit,
    Interpreter,
}

impl Engines {
    /// The back ends, the reference (the interpreter, when it runs) last.
    fn backends(self) -> &'static [Backend] {
        match self {
            Engines::Both => &[Backend::Jit, Backend::Interpreter],
            Engines::Jit => &[Backend::Jit],
            Engines::Interpreter => &[Backend::Interpreter],
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Options {
    pub engines: Engines,
    /// Run only the cases whose name contains this text.
    pub filter: Option<String>,
}

/// What running one test file gave.
#[derive(Debug)]
pub struct FileResult {
    pub path: PathBuf,
    /// The test file and the rule files read, for rendering `diagnostics`.
    pub sources: SourceMap,
    /// What is wrong with the test file, its rules or its actors files; with any error, no
    /// case ran.
    pub diagnostics: Vec<Diagnostic>,
    /// The cases run, in file order.
    pub cases: Vec<CaseResult>,
}

impl FileResult {
    /// Whether the file could not be run.
    pub fn is_bad(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// One case's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct CaseResult {
    pub name: String,
    pub actor: String,
    /// The line of its `[[case]]`.
    pub line: usize,
    /// Empty when it passed.
    pub failures: Vec<Failure>,
}

impl CaseResult {
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

/// Why a case failed.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Failure {
    /// A stat's value does not meet its expectation; `got` is `None` when it has no value.
    Value { stat: String, expected: Expect, got: Option<f64>, explain: Vec<String> },
    /// The engines gave different results: for a stat (`None`: the whole result).
    Disagreement { stat: Option<String>, jit: String, interpreter: String },
    /// The actor failed (bad input or a non-finite value) and no error was expected.
    Error { message: String, explain: Vec<String> },
    /// An error was expected, and the actor evaluated.
    NoError { expected: String },
    /// The actor failed with another error than the one expected.
    WrongError { expected: String, message: String },
}

/// A case, checked.
struct Case {
    name: String,
    actor: String,
    line: usize,
    stats: Vec<(String, StatId, Expect)>,
    error: Option<String>,
}

/// Reads, checks and runs the test file at `path`. Never fails: a file that cannot be run
/// comes back with its diagnostics and no cases.
pub fn run_file(path: &Path, opts: &Options) -> FileResult {
    let mut result =
        FileResult { path: path.to_path_buf(), sources: SourceMap::default(), diagnostics: vec![], cases: vec![] };
    let text = match read_text(path) {
        Ok(t) => t,
        Err(message) => {
            result.diagnostics.push(Diagnostic::error("T0005", message));
            return result;
        }
    };
    let raw: RawFile = match toml::from_str(&text) {
        Ok(raw) => raw,
        Err(e) => {
            let range = e.span().unwrap_or(0..0);
            return located(result, text, range, "T0001", toml_message(e.message()));
        }
    };
    let dir = path.parent().unwrap_or(Path::new(""));
    let rules_span = raw.rules.span();
    let rule_paths: Vec<PathBuf> = match paths(raw.rules.get_ref()) {
        Ok(ps) => ps.iter().map(|p| join(dir, p)).collect(),
        Err(m) => return located(result, text, rules_span, "T0001", m),
    };
    let analysis = match compile(&rule_paths, &LoadOptions::default()) {
        Ok(a) => a,
        Err(e) => return located(result, text, rules_span, "T0005", format!("cannot load the rules: {e}")),
    };
    // The rule files first, so the rules' diagnostics keep their file ids.
    result.sources = analysis.sources.clone();
    let file = result.sources.add(path, text);
    let mut check = Check { file, diags: Vec::new() };
    if analysis.has_errors() {
        let n = analysis.diagnostics.iter().filter(|d| d.is_error()).count();
        let s = if n == 1 { "" } else { "s" };
        check.error("T0005", rules_span, format!("the rules have {n} error{s}"), "these rules");
        check.diags.extend(analysis.diagnostics.into_iter().filter(Diagnostic::is_error));
        result.diagnostics = check.diags;
        return result;
    }
    let rules = match Rules::from_analysis(analysis) {
        Ok(r) => r,
        Err(e) => return with_error(result, check, rules_span, e.to_string()),
    };
    let (actors, cases) = read_cases(&mut check, &rules, raw, dir, &result.sources);
    if check.diags.iter().any(Diagnostic::is_error) {
        result.diagnostics = check.diags;
        return result;
    }
    let mut engines = Vec::new();
    for &backend in opts.engines.backends() {
        match Engine::new(&rules, backend) {
            Ok(e) => engines.push(e),
            Err(e) => return with_error(result, check, rules_span, e.to_string()),
        }
    }
    let wanted = |c: &Case| opts.filter.as_deref().is_none_or(|f| c.name.contains(f));
    result.cases = cases
        .iter()
        .filter(|c| wanted(c))
        .map(|c| {
            let failures = run_case(&rules, &engines, c, &actors[&c.actor]);
            CaseResult { name: c.name.clone(), actor: c.actor.clone(), line: c.line, failures }
        })
        .collect();
    result
}

/// The test file's text, or why it cannot be read.
fn read_text(path: &Path) -> Result<String, String> {
    let cannot = |e: &dyn std::fmt::Display| format!("cannot read {}: {e}", path.display());
    let bytes = crate::load::read_bounded(path, MAX_FILE_BYTES).map_err(|e| cannot(&e))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(cannot(&format!("larger than {MAX_FILE_BYTES} bytes")));
    }
    let text = String::from_utf8(bytes).map_err(|_| cannot(&"not UTF-8 text"))?;
    Ok(text.strip_prefix('\u{feff}').map(str::to_string).unwrap_or(text))
}

/// `result` with one located error in the test file `text` (its only source).
fn located(mut result: FileResult, text: String, range: Range<usize>, code: &'static str, m: String) -> FileResult {
    let file = result.sources.add(&result.path, text);
    let mut check = Check { file, diags: Vec::new() };
    check.error(code, range, m, "");
    result.diagnostics = check.diags;
    result
}

/// `result` with the diagnostics so far and a T0005 error.
fn with_error(mut result: FileResult, mut check: Check, range: Range<usize>, message: String) -> FileResult {
    check.error("T0005", range, message, "");
    result.diagnostics = check.diags;
    result
}

/// `base/rel` with `..` taken off lexically, so paths in messages stay short
/// (`rules/rpg/tests/..` is `rules/rpg`).
fn join(base: &Path, rel: &str) -> PathBuf {
    let mut out = PathBuf::new();
    for c in base.join(rel).components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir if matches!(out.components().next_back(), Some(Component::Normal(_))) => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    if out.as_os_str().is_empty() { PathBuf::from(".") } else { out }
}

/// Diagnostics in the test file.
struct Check {
    file: FileId,
    diags: Vec<Diagnostic>,
}

impl Check {
    fn error(&mut self, code: &'static str, range: Range<usize>, message: String, label: &str) -> &mut Diagnostic {
        let d = Diagnostic::error(code, message).primary(Span::new(self.file, range.start, range.end), label);
        self.diags.push(d);
        self.diags.last_mut().expect("just pushed")
    }
}

/// The actors cases can name, by id: parsed, or why not.
type Known = HashMap<String, Result<Actor, InputError>>;

/// The actors named by cases, and the cases, checked; problems go to `check`.
fn read_cases(check: &mut Check, rules: &Rules, raw: RawFile, dir: &Path, sources: &SourceMap) -> (Known, Vec<Case>) {
    let mut known = Known::new();
    let mut ids: Vec<String> = Vec::new();
    for (name, value) in raw.actor.0 {
        let (name, span) = (name.get_ref().clone(), value.span());
        // A bad actor is known all the same, so that its cases are not told it is unknown.
        let actor = inline_actor(&name, value.get_ref()).map_err(|message| {
            check.error("T0004", span, message.clone(), "in this actor");
            InputError { actor: Some(name.clone()), subsystem: None, field: String::new(), message }
        });
        ids.push(name.clone());
        known.insert(name, actor);
    }
    let wanted: HashSet<&str> = raw.case.iter().map(|c| c.get_ref().actor.get_ref().as_str()).collect();
    if let Some(files) = &raw.actors {
        match paths(files.get_ref()) {
            Err(m) => {
                check.error("T0001", files.span(), m, "");
            }
            Ok(ps) => {
                for p in ps {
                    let path = join(dir, p);
                    if let Err((code, m)) = read_actors(&path, &wanted, &mut known, &mut ids) {
                        check.error(code, files.span(), m, "");
                    }
                }
            }
        }
    }
    if raw.case.is_empty() {
        check.error("T0001", 0..0, "this file has no `[[case]]`".into(), "").help = Some(
            "a case names an actor and what its stats must be: [[case]] actor = \"hero\" expect.max_health = \"at least 1000\""
                .into(),
        );
    }
    let mut cases = Vec::new();
    let mut names: HashSet<String> = HashSet::new();
    for case in raw.case {
        let case_span = case.span();
        let c = case.into_inner();
        let actor = c.actor.get_ref().clone();
        if !known.contains_key(&actor) {
            let hint = did_you_mean_suffix(did_you_mean(&actor, ids.iter().map(String::as_str)));
            check.error("T0004", c.actor.span(), format!("unknown actor `{actor}`{hint}"), "not defined").help = Some(
                "a case's actor is an `[actor.ID]` table of this file, or has its id in a file of `actors`".into(),
            );
        }
        let name = c.name.as_ref().map_or_else(|| actor.clone(), |n| n.get_ref().clone());
        if !names.insert(name.clone()) {
            let span = c.name.as_ref().map_or(c.actor.span(), |n| n.span());
            check.error("T0001", span, format!("a second case named `{name}`"), "").help =
                Some("give each case its own `name`".into());
        }
        let expects_nothing = c.expect.0.is_empty();
        let mut stats = Vec::new();
        for (stat, value) in c.expect.0 {
            let id = match rules.ir.resolve_stat(stat.get_ref()) {
                Ok(id) => Some(id),
                Err(e) => {
                    check.error("T0003", stat.span(), e.to_string(), "not a stat of these rules");
                    None
                }
            };
            match Expect::from_toml(value.get_ref()) {
                Ok(e) => stats.extend(id.map(|id| (stat.get_ref().clone(), id, e))),
                Err(m) => check.error("T0002", value.span(), m, "").help = Some(FORMS.into()),
            }
        }
        let error = c.error.map(|e| e.into_inner());
        let what = match (expects_nothing, error.is_some()) {
            (true, false) => Some("this case checks nothing: give it `expect` or `error`"),
            (false, true) => Some("a case expects values or an error, not both"),
            _ => None,
        };
        if let Some(what) = what {
            check.error("T0001", case_span.clone(), what.into(), "");
        }
        let line = sources.get(check.file).line_col(case_span.start).0;
        cases.push(Case { name, actor, line, stats, error });
    }
    (known, cases)
}

/// An `[actor.ID]` table as an actor, through the one JSON reader (so its messages name
/// the same fields as for JSON input).
fn inline_actor(id: &str, value: &toml::Value) -> Result<Actor, String> {
    let toml::Value::Table(table) = value else {
        return Err(format!("actor `{id}` must be a table of the actor object's fields, not a {}", value.type_str()));
    };
    if table.contains_key("id") {
        return Err(format!("actor `{id}` has an `id` key: its id is its table's name"));
    }
    let mut json = to_json(value).map_err(|m| format!("actor `{id}`: {m}"))?;
    json["id"] = id.into();
    actor_from_value(json).map_err(|e| e.to_string())
}

/// Reads the actors of a JSON or NDJSON file that cases name (`wanted`) into `known`;
/// every id into `ids` (up to a limit). `Err` with a code when the file cannot be read
/// (T0005), or a wanted id is defined twice (T0004).
fn read_actors(
    path: &Path,
    wanted: &HashSet<&str>,
    known: &mut Known,
    ids: &mut Vec<String>,
) -> Result<(), (&'static str, String)> {
    let cannot = |e: std::io::Error| ("T0005", format!("cannot read actors from {}: {e}", path.display()));
    let limits = InputLimits::default();
    let file = std::fs::File::open(path).map_err(cannot)?;
    let reader = DocumentReader::new(std::io::BufReader::new(file), InputForm::of_path(path), limits.max_line_bytes)
        .map_err(cannot)?;
    for doc in reader {
        let doc = doc.map_err(cannot)?;
        let Some(id) = salvage_id(&String::from_utf8_lossy(doc.trimmed(true))) else { continue };
        if ids.len() < IDS_REMEMBERED {
            ids.push(id.clone());
        }
        if !wanted.contains(id.as_str()) {
            continue;
        }
        if known.contains_key(&id) {
            return Err(("T0004", format!("actor `{id}` is defined twice (again in {})", path.display())));
        }
        let actor = doc.parse(&limits).map_err(|mut e| {
            e.message = format!("{}: {}", path.display(), e.message);
            e
        });
        known.insert(id, actor);
    }
    Ok(())
}

/// Evaluates one case with every engine and compares.
fn run_case(rules: &Rules, engines: &[Engine], case: &Case, actor: &Result<Actor, InputError>) -> Vec<Failure> {
    let results: Vec<Result<Snapshot, ActorError>> = engines
        .iter()
        .map(|e| match actor {
            Ok(a) => e.evaluate(a),
            Err(err) => Err(ActorError::from(err.clone())),
        })
        .collect();
    let mut failures = match &results[..] {
        [jit, interpreter] => disagreements(jit, interpreter),
        _ => Vec::new(),
    };
    let Some(result) = results.last() else { return failures };
    match (result, &case.error) {
        (Ok(_), Some(expected)) => failures.push(Failure::NoError { expected: expected.clone() }),
        (Err(e), Some(expected)) if !e.to_string().contains(expected.as_str()) => {
            failures.push(Failure::WrongError { expected: expected.clone(), message: e.to_string() })
        }
        (Err(_), Some(_)) => {}
        (Err(e), None) => {
            let explain = match (e, actor) {
                (ActorError::Eval(e), Ok(a)) => explain_lines(rules, a, &e.stat),
                _ => Vec::new(),
            };
            failures.push(Failure::Error { message: e.to_string(), explain });
        }
        (Ok(snapshot), None) => {
            for (stat, id, expected) in &case.stats {
                let got = snapshot.entry(*id).filter(|e| e.has_value()).map(|e| e.value);
                if !expected.holds(got) {
                    let explain = actor.as_ref().map(|a| explain_lines(rules, a, stat)).unwrap_or_default();
                    failures.push(Failure::Value { stat: stat.clone(), expected: *expected, got, explain });
                }
            }
        }
    }
    failures
}

/// Where the JIT's result differs from the interpreter's, bit for bit.
fn disagreements(jit: &Result<Snapshot, ActorError>, interpreter: &Result<Snapshot, ActorError>) -> Vec<Failure> {
    let whole = |j: String, i: String| vec![Failure::Disagreement { stat: None, jit: j, interpreter: i }];
    match (jit, interpreter) {
        (Ok(j), Ok(i)) if j != i => j
            .diff(i)
            .into_iter()
            .take(DISAGREEMENTS_SHOWN)
            .map(|change| match change {
                StatChange::Value { stat, old, new, .. } => Failure::Disagreement {
                    stat: Some(stat.into()),
                    jit: value_text(old),
                    interpreter: value_text(new),
                },
                StatChange::Range { stat, old, new } => Failure::Disagreement {
                    stat: Some(stat.into()),
                    jit: range_text(old),
                    interpreter: range_text(new),
                },
            })
            .collect(),
        (Err(j), Err(i)) if j.to_string() != i.to_string() => whole(format!("error: {j}"), format!("error: {i}")),
        (Ok(_), Err(i)) => whole("evaluated".into(), format!("error: {i}")),
        (Err(j), Ok(_)) => whole(format!("error: {j}"), "evaluated".into()),
        _ => Vec::new(),
    }
}

fn value_text(v: Option<f64>) -> String {
    v.map_or_else(|| "no value".into(), |v| v.to_string())
}

fn range_text(r: Option<(f64, f64)>) -> String {
    r.map_or_else(|| "no range".into(), |(lo, hi)| format!("range {lo} .. {hi}"))
}

/// The first lines of `actorc explain` for this actor and stat.
fn explain_lines(rules: &Rules, actor: &Actor, stat: &str) -> Vec<String> {
    let text = match explain::explain(rules, actor, stat) {
        Ok((e, _)) => explain::render(&e),
        Err(ExplainError::Eval(e)) => explain::render(&e),
        Err(_) => return Vec::new(),
    };
    text.lines().take(EXPLAIN_LINES).map(str::to_string).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn knight() -> (Rules, Engine) {
        let text = std::fs::read_to_string("docs/examples/knight.stat").unwrap();
        let rules = Rules::from_analysis(crate::rules::compile_str("knight.stat", text)).unwrap();
        let engine = Engine::new(&rules, Backend::Interpreter).unwrap();
        (rules, engine)
    }

    fn actor(strength: f64) -> Actor {
        let json = format!(
            r#"[{{"primary": [{{"dimension": "strength", "bucket": "FLAT", "value": {strength}, "system": "a"}}]}}]"#
        );
        serde_json::from_str(&json).unwrap()
    }

    /// Real engines agree, so a disagreement is made here from two different actors.
    #[test]
    fn disagreements_name_each_stat_and_both_results() {
        let (_, engine) = knight();
        let (a, b) = (engine.evaluate(&actor(30.0)), engine.evaluate(&actor(31.0)));
        let found: Vec<String> = disagreements(&a, &b)
            .iter()
            .map(|f| match f {
                Failure::Disagreement { stat, jit, interpreter } => format!("{stat:?}: {jit} / {interpreter}"),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(found, [r#"Some("strength"): 30 / 31"#, r#"Some("attack"): 61 / 63"#]);
        assert!(disagreements(&a, &a.clone()).is_empty());
        let error = Err(ActorError::from(InputError {
            actor: None,
            subsystem: None,
            field: String::new(),
            message: "boom".into(),
        }));
        match &disagreements(&a, &error)[..] {
            [Failure::Disagreement { stat: None, jit, interpreter }] => {
                assert_eq!((jit.as_str(), interpreter.as_str()), ("evaluated", "error: boom"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn paths_join_lexically() {
        assert_eq!(join(Path::new("rules/rpg/tests"), ".."), Path::new("rules/rpg"));
        assert_eq!(join(Path::new("t"), "../../x.ndjson"), Path::new("../x.ndjson"));
        assert_eq!(join(Path::new(""), "."), Path::new("."));
        assert_eq!(join(Path::new("a"), "/abs/rules"), Path::new("/abs/rules"));
    }
}
