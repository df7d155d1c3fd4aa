//! `actorc test`: runs balance test files and reports as text, JSON or JUnit XML.

use super::{Exit, print_out, usage_error};
use crate::balance::{self, CaseResult, Engines, Failure, FileResult, Options};
use crate::diag;
use clap::ValueEnum;
use std::fmt::Write;
use std::path::PathBuf;

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub(super) enum ReportFormat {
    /// One line per case, failures in detail, then a summary.
    Text,
    /// One JSON document (docs/schema/test-report.schema.json).
    Json,
    /// JUnit XML for CI systems: a testsuite per file, a testcase per case.
    Junit,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub(super) enum EngineChoice {
    /// The JIT and the interpreter, which must agree bit for bit.
    Both,
    Interp,
    Jit,
}

#[derive(clap::Args, Debug)]
pub(super) struct TestArgs {
    /// Test files (*.stat-test.toml) and folders searched for them.
    #[arg(default_value = "rules")]
    paths: Vec<PathBuf>,
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    format: ReportFormat,
    /// The engines that evaluate each case.
    #[arg(long, value_enum, default_value_t = EngineChoice::Both)]
    engine: EngineChoice,
    /// Run only the cases whose name contains this text.
    #[arg(long)]
    filter: Option<String>,
}

pub(super) fn test(a: TestArgs) -> Exit {
    let files = balance::find_test_files(&a.paths).map_err(|e| usage_error(&e.to_string()))?;
    let engines = match a.engine {
        EngineChoice::Both => Engines::Both,
        EngineChoice::Interp => Engines::Interpreter,
        EngineChoice::Jit => Engines::Jit,
    };
    let opts = Options { engines, filter: a.filter };
    let results: Vec<FileResult> = files.iter().map(|f| balance::run_file(f, &opts)).collect();
    let totals = Totals::of(&results);
    let report = match a.format {
        ReportFormat::Text => text(&results, &totals),
        ReportFormat::Json => json(&results, &totals),
        ReportFormat::Junit => junit(&results, &totals),
    };
    print_out(&report)?;
    Ok(if totals.failed + totals.bad_files > 0 { 1 } else { 0 })
}

/// Cases passed and failed, and files that could not run.
struct Totals {
    passed: usize,
    failed: usize,
    bad_files: usize,
}

impl Totals {
    fn of(results: &[FileResult]) -> Totals {
        let cases = || results.iter().flat_map(|r| &r.cases);
        Totals {
            passed: cases().filter(|c| c.passed()).count(),
            failed: cases().filter(|c| !c.passed()).count(),
            bad_files: results.iter().filter(|r| r.is_bad()).count(),
        }
    }
}

/// A file's diagnostics as text with excerpts.
fn diagnostics_text(r: &FileResult) -> String {
    diag::render(&r.sources, &r.diagnostics, false)
}

/// One line per failure detail: what was expected and what came.
fn failure_lines(f: &Failure) -> (String, &[String]) {
    match f {
        Failure::Value { stat, expected, got, explain } => {
            let got = got.map_or_else(|| "no value".to_string(), |v| v.to_string());
            (format!("{stat}: expected {expected}, got {got}"), explain)
        }
        Failure::Disagreement { stat: Some(stat), jit, interpreter } => {
            (format!("{stat}: the engines disagree: JIT {jit}, interpreter {interpreter}"), &[])
        }
        Failure::Disagreement { stat: None, jit, interpreter } => {
            (format!("the engines disagree: JIT {jit}; interpreter {interpreter}"), &[])
        }
        Failure::Error { message, explain } => (format!("the actor failed: {message}"), explain),
        Failure::NoError { expected } => {
            (format!("expected an error containing \"{expected}\", but the actor evaluated"), &[])
        }
        Failure::WrongError { expected, message } => {
            (format!("expected an error containing \"{expected}\", got: {message}"), &[])
        }
    }
}

/// A failed case's details, each line indented by `indent`.
fn failure_text(c: &CaseResult, indent: &str) -> String {
    let mut out = String::new();
    for f in &c.failures {
        let (line, explain) = failure_lines(f);
        let _ = writeln!(out, "{indent}{line}");
        for l in explain {
            let _ = writeln!(out, "{}", format!("{indent}  | {l}").trim_end());
        }
    }
    out
}

fn summary(t: &Totals) -> String {
    let mut s = format!("{} passed, {} failed", t.passed, t.failed);
    if t.bad_files > 0 {
        let _ = write!(s, ", {} bad test file{}", t.bad_files, if t.bad_files == 1 { "" } else { "s" });
    }
    s
}

fn text(results: &[FileResult], totals: &Totals) -> String {
    let mut out = String::new();
    for r in results {
        let _ = writeln!(out, "{}", r.path.display());
        if r.is_bad() {
            let _ = writeln!(out, "  BAD   the file cannot run:\n");
            out.push_str(&diagnostics_text(r));
            continue;
        }
        for c in &r.cases {
            if c.passed() {
                let _ = writeln!(out, "  ok    {}", c.name);
            } else {
                let _ = writeln!(out, "  FAIL  {}  (actor `{}`, line {})", c.name, c.actor, c.line);
                out.push_str(&failure_text(c, "        "));
            }
        }
    }
    let _ = writeln!(out, "{}", summary(totals));
    out
}

fn json(results: &[FileResult], totals: &Totals) -> String {
    let files: Vec<serde_json::Value> = results
        .iter()
        .map(|r| {
            let cases: Vec<serde_json::Value> = r
                .cases
                .iter()
                .map(|c| {
                    serde_json::json!({
                        "name": c.name, "actor": c.actor, "line": c.line, "passed": c.passed(), "failures": c.failures,
                    })
                })
                .collect();
            serde_json::json!({
                "file": r.path.display().to_string(),
                "errors": diag::to_json(&r.sources, &r.diagnostics),
                "cases": cases,
            })
        })
        .collect();
    let report = serde_json::json!({
        "passed": totals.passed, "failed": totals.failed, "bad_files": totals.bad_files, "files": files,
    });
    let mut text = serde_json::to_string_pretty(&report).unwrap_or_default();
    text.push('\n');
    text
}

fn junit(results: &[FileResult], totals: &Totals) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let tests = totals.passed + totals.failed + totals.bad_files;
    let _ = writeln!(
        out,
        "<testsuites name=\"actorc test\" tests=\"{tests}\" failures=\"{}\" errors=\"{}\">",
        totals.failed, totals.bad_files
    );
    for r in results {
        let file = xml(&r.path.display().to_string());
        let failed = r.cases.iter().filter(|c| !c.passed()).count();
        let (tests, errors) = if r.is_bad() { (1, 1) } else { (r.cases.len(), 0) };
        let _ =
            writeln!(out, "  <testsuite name=\"{file}\" tests=\"{tests}\" failures=\"{failed}\" errors=\"{errors}\">");
        if r.is_bad() {
            let message = r.diagnostics.first().map_or("", |d| d.message.as_str());
            let _ = writeln!(out, "    <testcase name=\"(test file)\" classname=\"{file}\" file=\"{file}\">");
            let _ =
                writeln!(out, "      <error message=\"{}\">{}</error>", xml(message), xml_text(&diagnostics_text(r)));
            out.push_str("    </testcase>\n");
        }
        for c in &r.cases {
            let attrs = format!("name=\"{}\" classname=\"{file}\" file=\"{file}\" line=\"{}\"", xml(&c.name), c.line);
            match c.failures.first() {
                None => {
                    let _ = writeln!(out, "    <testcase {attrs}/>");
                }
                Some(first) => {
                    let _ = writeln!(out, "    <testcase {attrs}>");
                    let message = format!("actor `{}`: {}", c.actor, failure_lines(first).0);
                    let details = failure_text(c, "");
                    let _ =
                        writeln!(out, "      <failure message=\"{}\">{}</failure>", xml(&message), xml_text(&details));
                    out.push_str("    </testcase>\n");
                }
            }
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

/// Text escaped for an XML attribute value: line ends and tabs as character references,
/// which survive attribute-value normalization.
fn xml(s: &str) -> String {
    escape(s, true)
}

/// Text escaped for XML character data, lines kept as they are.
fn xml_text(s: &str) -> String {
    escape(s, false)
}

/// Escapes `& < > " '`; characters XML 1.0 does not allow (most control characters) are
/// written as `\u{…}`.
fn escape(s: &str, attribute: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\n' | '\t' if !attribute => out.push(c),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            c if c < ' ' || matches!(c, '\u{7f}' | '\u{fffe}' | '\u{ffff}') => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{xml, xml_text};

    #[test]
    fn xml_escapes_markup_and_control_characters() {
        assert_eq!(xml("a<b & \"c\" 'd'>"), "a&lt;b &amp; &quot;c&quot; &apos;d&apos;&gt;");
        assert_eq!(xml("x\u{1b}[31m\n\u{0}"), "x\\u{1b}[31m&#10;\\u{0}");
        assert_eq!(xml_text("a\n\tb\r"), "a\n\tb&#13;");
    }
}
