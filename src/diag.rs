//! Diagnostics as data, and the ways the edge shows them: text with source excerpts (with
//! the `cli` feature), plain text, and JSON.
//!
//! Invariant: stages only create [`Diagnostic`]s; rendering happens here, called from the edge.

use crate::source::{SourceMap, Span};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Label {
    pub span: Span,
    pub message: String,
    pub primary: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    pub code: &'static str,
    pub severity: Severity,
    pub message: String,
    pub labels: Vec<Label>,
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn error(code: &'static str, message: impl Into<String>) -> Diagnostic {
        Diagnostic { code, severity: Severity::Error, message: message.into(), labels: vec![], help: None }
    }

    pub fn warning(code: &'static str, message: impl Into<String>) -> Diagnostic {
        Diagnostic { severity: Severity::Warning, ..Diagnostic::error(code, message) }
    }

    pub fn primary(mut self, span: Span, message: impl Into<String>) -> Diagnostic {
        self.labels.push(Label { span, message: message.into(), primary: true });
        self
    }

    pub fn secondary(mut self, span: Span, message: impl Into<String>) -> Diagnostic {
        self.labels.push(Label { span, message: message.into(), primary: false });
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// The span of the first primary label, for sorting and `file:line:col`.
    pub fn main_span(&self) -> Option<Span> {
        self.labels.iter().find(|l| l.primary).or(self.labels.first()).map(|l| l.span)
    }
}

/// The closest candidate within a small edit distance (a third of the name's length, at
/// least 1; case-insensitive; ties go to the first in byte order). Cheap whatever the input:
/// candidates whose length alone rules them out are skipped, and one lookup compares at most
/// [`SUGGESTION_WORK`] pairs of characters, so a huge name gets no suggestion.
pub fn did_you_mean<'c>(name: &str, candidates: impl IntoIterator<Item = &'c str>) -> Option<&'c str> {
    let len = name.chars().count();
    let limit = (len / 3).max(1);
    let name = name.to_lowercase();
    let mut work = 0;
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        let c_len = c.chars().count();
        if c_len.abs_diff(len) > limit {
            continue;
        }
        work += len * c_len;
        if work > SUGGESTION_WORK {
            break;
        }
        let d = strsim::levenshtein(&name, &c.to_lowercase());
        if d <= limit && best.is_none_or(|b| (d, c) < b) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c)
}

/// Character pairs one [`did_you_mean`] compares at most (about 0.1 ms): 400 candidates
/// of a name of 15 characters, so that thousands of unknown names check in a second.
pub const SUGGESTION_WORK: usize = 100_000;

/// ` (did you mean `s`?)` after a message, or nothing without a suggestion.
pub fn did_you_mean_suffix(suggestion: Option<&str>) -> String {
    suggestion.map(|s| format!(" (did you mean `{s}`?)")).unwrap_or_default()
}

/// Sorts by file, position, then code so output is stable whatever order stages ran in.
pub fn sort(diags: &mut [Diagnostic]) {
    diags.sort_by(|a, b| {
        let key = |d: &Diagnostic| d.main_span().map(|s| (s.file, s.start, s.end));
        key(a).cmp(&key(b)).then(a.code.cmp(b.code)).then(a.message.cmp(&b.message))
    });
}

/// Renders diagnostics as plain text, one `file:line:col: severity[code]: message` line
/// each (with its help); the library's rendering without the `cli` feature.
pub fn render_plain(sources: &SourceMap, diags: &[Diagnostic]) -> String {
    let mut out = String::new();
    for d in diags {
        if let Some(span) = d.main_span() {
            let f = sources.get(span.file);
            let (line, col) = f.line_col(span.start as usize);
            out.push_str(&format!("{}:{line}:{col}: ", f.name));
        }
        let severity = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        out.push_str(&format!("{severity}[{}]: {}\n", d.code, d.message));
        if let Some(h) = &d.help {
            out.push_str(&format!("  help: {h}\n"));
        }
    }
    out
}

#[cfg(feature = "cli")]
pub use term::render;

/// Text with source excerpts (codespan-reporting), for terminals.
#[cfg(feature = "cli")]
mod term {
    use super::{Diagnostic, Severity};
    use crate::source::{FileId, SourceMap};
    use codespan_reporting::diagnostic as cs;
    use codespan_reporting::files::{Error as FilesError, Files};
    use codespan_reporting::term;

    impl<'a> Files<'a> for SourceMap {
        type FileId = FileId;
        type Name = &'a str;
        type Source = &'a str;

        fn name(&'a self, id: FileId) -> Result<&'a str, FilesError> {
            Ok(&self.get(id).name)
        }

        fn source(&'a self, id: FileId) -> Result<&'a str, FilesError> {
            Ok(&self.get(id).text)
        }

        fn line_index(&'a self, id: FileId, byte_index: usize) -> Result<usize, FilesError> {
            Ok(self.get(id).line_index(byte_index))
        }

        fn line_range(&'a self, id: FileId, line_index: usize) -> Result<std::ops::Range<usize>, FilesError> {
            let f = self.get(id);
            let start = f
                .line_start(line_index)
                .ok_or(FilesError::LineTooLarge { given: line_index, max: f.line_count() - 1 })?;
            let end = f.line_start(line_index + 1).unwrap_or(f.text.len());
            Ok(start..end)
        }
    }

    fn to_codespan(d: &Diagnostic) -> cs::Diagnostic<FileId> {
        let base = match d.severity {
            Severity::Error => cs::Diagnostic::error(),
            Severity::Warning => cs::Diagnostic::warning(),
        };
        let labels = d
            .labels
            .iter()
            .map(|l| {
                let style = if l.primary { cs::LabelStyle::Primary } else { cs::LabelStyle::Secondary };
                cs::Label::new(style, l.span.file, l.span.range()).with_message(&l.message)
            })
            .collect();
        let notes = d.help.iter().map(|h| format!("help: {h}")).collect();
        base.with_code(d.code).with_message(&d.message).with_labels(labels).with_notes(notes)
    }

    /// A diagnostic codespan cannot show (a label outside its file): its plain form, so that
    /// no diagnostic is lost.
    fn fallback(sources: &SourceMap, d: &Diagnostic) -> String {
        super::render_plain(sources, std::slice::from_ref(d))
    }

    /// Lines longer than this many bytes are shown cut around the label, not whole.
    const LONG_LINE: usize = 240;

    /// The line (its text, without the line break) that holds byte `offset` of `file`.
    fn line_of(sources: &SourceMap, file: FileId, offset: usize) -> (usize, &str) {
        let f = sources.get(file);
        let i = f.line_index(offset.min(f.text.len()));
        let start = f.line_start(i).unwrap_or(0);
        let end = f.line_start(i + 1).unwrap_or(f.text.len());
        (start, f.text[start..end].trim_end_matches(['\n', '\r']))
    }

    /// A diagnostic whose main label sits on a very long line: its plain header and about 120
    /// characters of the line around the label, so that the output stays small. Works on a
    /// window of bytes around the label, never on the whole line.
    fn cut_excerpt(sources: &SourceMap, d: &Diagnostic) -> Option<String> {
        if !on_long_line(sources, d) {
            return None;
        }
        let span = d.main_span()?;
        let (start, line) = line_of(sources, span.file, span.start as usize);
        let at = (span.start as usize - start).min(line.len());
        let from = floor_boundary(line, at.saturating_sub(60));
        let to = floor_boundary(line, (at + 60).min(line.len()));
        let (open, close) = (if from > 0 { "…" } else { "" }, if to < line.len() { "…" } else { "" });
        let pad = " ".repeat(line[from..floor_boundary(line, at)].chars().count() + usize::from(from > 0));
        let label = d.labels.iter().find(|l| l.primary).map_or("", |l| l.message.as_str());
        let mut out = super::render_plain(sources, std::slice::from_ref(d));
        out.push_str(&format!("  │ {open}{}{close}\n  │ {pad}^ {label}\n\n", &line[from..to]));
        Some(out)
    }

    /// Whether `d`'s main label sits on a line longer than [`LONG_LINE`].
    fn on_long_line(sources: &SourceMap, d: &Diagnostic) -> bool {
        d.main_span().is_some_and(|span| line_of(sources, span.file, span.start as usize).1.len() > LONG_LINE)
    }

    /// The largest character boundary of `s` at or before byte `i`.
    fn floor_boundary(s: &str, mut i: usize) -> usize {
        while !s.is_char_boundary(i) {
            i -= 1;
        }
        i
    }

    /// Renders diagnostics as text with source excerpts; `color` only for terminals. A very
    /// long line is cut around its label.
    pub fn render(sources: &SourceMap, diags: &[Diagnostic], color: bool) -> String {
        if let [d] = diags
            && let Some(cut) = cut_excerpt(sources, d)
        {
            return cut;
        }
        if diags.iter().any(|d| on_long_line(sources, d)) {
            return diags.iter().map(|d| render(sources, std::slice::from_ref(d), color)).collect();
        }
        let config = term::Config::default();
        if color {
            let mut buf = term::termcolor::Buffer::ansi();
            for d in diags {
                if term::emit_to_write_style(&mut buf, &config, sources, &to_codespan(d)).is_err() {
                    std::io::Write::write_all(&mut buf, fallback(sources, d).as_bytes())
                        .expect("a buffer takes any bytes");
                }
            }
            String::from_utf8_lossy(buf.as_slice()).into_owned()
        } else {
            let mut out = String::new();
            for d in diags {
                if term::emit_to_string(&mut out, &config, sources, &to_codespan(d)).is_err() {
                    out.push_str(&fallback(sources, d));
                }
            }
            out
        }
    }
}

#[derive(Serialize)]
struct JsonLabel<'a> {
    file: &'a str,
    line: usize,
    col: usize,
    end_line: usize,
    end_col: usize,
    message: &'a str,
    primary: bool,
}

#[derive(Serialize)]
struct JsonDiagnostic<'a> {
    code: &'a str,
    severity: Severity,
    message: &'a str,
    file: Option<&'a str>,
    line: Option<usize>,
    col: Option<usize>,
    labels: Vec<JsonLabel<'a>>,
    help: Option<&'a str>,
}

/// One JSON object per diagnostic, as an array.
pub fn to_json(sources: &SourceMap, diags: &[Diagnostic]) -> serde_json::Value {
    let items: Vec<JsonDiagnostic> = diags
        .iter()
        .map(|d| {
            let labels: Vec<JsonLabel> = d
                .labels
                .iter()
                .map(|l| {
                    let f = sources.get(l.span.file);
                    let (line, col) = f.line_col(l.span.start as usize);
                    let (end_line, end_col) = f.line_col(l.span.end as usize);
                    JsonLabel { file: &f.name, line, col, end_line, end_col, message: &l.message, primary: l.primary }
                })
                .collect();
            let main = labels.iter().find(|l| l.primary).or(labels.first());
            JsonDiagnostic {
                code: d.code,
                severity: d.severity,
                message: &d.message,
                file: main.map(|l| l.file),
                line: main.map(|l| l.line),
                col: main.map(|l| l.col),
                help: d.help.as_deref(),
                labels,
            }
        })
        .collect();
    serde_json::to_value(items).expect("diagnostics are strings and numbers, which always serialize")
}

#[cfg(test)]
mod tests {
    use super::did_you_mean;

    #[test]
    fn suggests_the_closest_name() {
        let names = ["strength", "stamina", "Strong"];
        assert_eq!(did_you_mean("strenght", names), Some("strength"));
        assert_eq!(did_you_mean("STRONG", names), Some("Strong"));
        assert_eq!(did_you_mean("luck", names), None);
        // Ties go to the first in byte order, whatever the order of the candidates.
        assert_eq!(did_you_mean("ab", ["ac", "aa"]), Some("aa"));
    }

    #[test]
    fn a_huge_name_costs_a_bounded_amount_of_work() {
        // Comparing these two in full would take minutes.
        let huge = "a".repeat(300_000);
        let typo = format!("{huge}b");
        assert_eq!(did_you_mean(&typo, [huge.as_str()]), None);
        // Candidates whose length rules them out are not compared at all.
        let names: Vec<String> = (0..1_000).map(|i| format!("stat_{i}")).collect();
        assert_eq!(did_you_mean(&typo, names.iter().map(String::as_str)), None);
        assert_eq!(did_you_mean("stat_9999", names.iter().map(String::as_str)), Some("stat_999"));
        // The work is capped: past it, candidates are no longer compared.
        let many: Vec<String> = (0..100_000).map(|i| format!("stat_{i:05}")).collect();
        assert_eq!(did_you_mean("stat_99999x", many.iter().map(String::as_str)), None);
    }
}
