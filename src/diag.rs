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

/// The closest candidate within a small edit distance.
pub fn did_you_mean<'c>(name: &str, candidates: impl IntoIterator<Item = &'c str>) -> Option<&'c str> {
    let limit = (name.chars().count() / 3).max(1);
    candidates.into_iter().map(|c| (edit_distance(name, c), c)).filter(|(d, _)| *d <= limit).min().map(|(_, c)| c)
}

/// ` (did you mean `s`?)` after a message, or nothing without a suggestion.
pub fn did_you_mean_suffix(suggestion: Option<&str>) -> String {
    suggestion.map(|s| format!(" (did you mean `{s}`?)")).unwrap_or_default()
}

fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.to_lowercase().chars().collect();
    let b: Vec<char> = b.to_lowercase().chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != cb)).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
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

    /// Renders diagnostics as text with source excerpts; `color` only for terminals.
    pub fn render(sources: &SourceMap, diags: &[Diagnostic], color: bool) -> String {
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
