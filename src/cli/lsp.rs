//! `actorc lsp`: a language server over standard input and output. It only translates the
//! Language Server Protocol to and from [`crate::ide`] (LSP positions are UTF-16 code units
//! per line; the analysis speaks byte offsets).
//!
//! One thread, one message at a time: each edit recomputes the rule set (a few
//! milliseconds) before the next message is read. Messages use `lsp-server`'s types, but
//! frames are read here, forgivingly: a frame that is not JSON is answered with a JSON-RPC
//! parse error and skipped, and stray lines between frames are ignored, so no input ends
//! the server but `exit` or the end of its input.

use crate::diag::Severity;
use crate::ide::{self, Project, SymbolKind, TokenKind, Workspace};
use lsp_server::{Message, Notification, Request, Response};
use lsp_types as lsp;
use serde_json::Value;
use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

/// Largest message read, in bytes.
const MAX_MESSAGE: usize = 64 << 20;

#[derive(clap::Args, Debug)]
pub struct LspArgs {
    /// Accepted for editors that pass it; standard input and output are always used.
    #[arg(long)]
    stdio: bool,
}

/// JSON-RPC error codes.
const PARSE_ERROR: i32 = -32700;
const INVALID_REQUEST: i32 = -32600;
const METHOD_NOT_FOUND: i32 = -32601;
const INVALID_PARAMS: i32 = -32602;
const SERVER_NOT_INITIALIZED: i32 = -32002;
const REQUEST_FAILED: i32 = -32803;

/// The semantic token types, in legend order.
const TOKEN_TYPES: &[&str] = &[
    "variable",
    "enumMember",
    "type",
    "namespace",
    "enum",
    "struct",
    "class",
    "function",
    "parameter",
    "keyword",
    "number",
    "comment",
    "string",
];
/// The semantic token modifiers, in legend order (bit 0 first).
const TOKEN_MODIFIERS: &[&str] = &["declaration", "readonly", "documentation", "defaultLibrary"];

pub fn lsp(_: LspArgs) -> super::Exit {
    let stdin = std::io::stdin();
    let mut server = Server::new(std::io::stdout());
    let code = server.run(&mut stdin.lock());
    Ok(code)
}

struct Server<W: Write> {
    out: W,
    ws: Workspace,
    initialized: bool,
    shutdown: bool,
    /// What was last published per file (to publish only changes, and clear files).
    published: HashMap<lsp::Url, Vec<lsp::Diagnostic>>,
    /// The project problems last shown.
    shown: Vec<String>,
}

impl<W: Write> Server<W> {
    fn new(out: W) -> Server<W> {
        Server {
            out,
            ws: Workspace::new(None),
            initialized: false,
            shutdown: false,
            published: HashMap::new(),
            shown: Vec::new(),
        }
    }

    /// Serves until `exit` or the end of input: 0 after a `shutdown`, else 1.
    fn run(&mut self, input: &mut impl BufRead) -> i32 {
        loop {
            let body = match read_frame(input) {
                Ok(Some(b)) => b,
                Ok(None) | Err(_) => return i32::from(!self.shutdown),
            };
            match serde_json::from_slice::<Value>(&body) {
                Err(e) => self.raw_error(PARSE_ERROR, &format!("not JSON: {e}")),
                Ok(v) => match serde_json::from_value::<Message>(v) {
                    Err(e) => self.raw_error(INVALID_REQUEST, &format!("not a JSON-RPC message: {e}")),
                    Ok(Message::Request(r)) => self.request(r),
                    Ok(Message::Notification(n)) if n.method == "exit" => return i32::from(!self.shutdown),
                    Ok(Message::Notification(n)) => self.notification(n),
                    Ok(Message::Response(_)) => {}
                },
            }
        }
    }

    fn send(&mut self, msg: Message) {
        // A client that went away ends the server at its next read.
        let _ = msg.write(&mut self.out);
    }

    fn raw_error(&mut self, code: i32, message: &str) {
        let v = serde_json::json!({"jsonrpc": "2.0", "id": null, "error": {"code": code, "message": message}});
        let text = v.to_string();
        let _ = write!(self.out, "Content-Length: {}\r\n\r\n{text}", text.len()).and_then(|()| self.out.flush());
    }

    fn notify(&mut self, method: &str, params: impl serde::Serialize) {
        self.send(Message::Notification(Notification::new(method.into(), params)));
    }

    fn request(&mut self, r: Request) {
        let id = r.id.clone();
        let result = if r.method == "initialize" {
            self.initialize(r.params)
        } else if !self.initialized {
            Err((SERVER_NOT_INITIALIZED, "initialize first".into()))
        } else if self.shutdown {
            Err((INVALID_REQUEST, "the server is shutting down".into()))
        } else if r.method == "shutdown" {
            self.shutdown = true;
            Ok(Value::Null)
        } else {
            self.answer(&r.method, r.params)
        };
        let response = match result {
            Ok(v) => Response { id, result: Some(v), error: None },
            Err((code, message)) => Response::new_err(id, code, message),
        };
        self.send(Message::Response(response));
    }

    fn initialize(&mut self, params: Value) -> Result<Value, (i32, String)> {
        let p: lsp::InitializeParams = parse(params)?;
        #[allow(deprecated)] // root_uri: older clients send only it
        let root = p
            .workspace_folders
            .as_ref()
            .and_then(|f| f.first())
            .map(|f| f.uri.clone())
            .or(p.root_uri)
            .and_then(|u| u.to_file_path().ok());
        self.initialized = true;
        if let Some(root) = root {
            self.discover(&root);
        }
        let caps = lsp::ServerCapabilities {
            text_document_sync: Some(lsp::TextDocumentSyncKind::FULL.into()),
            hover_provider: Some(lsp::HoverProviderCapability::Simple(true)),
            definition_provider: Some(lsp::OneOf::Left(true)),
            references_provider: Some(lsp::OneOf::Left(true)),
            rename_provider: Some(lsp::OneOf::Left(true)),
            completion_provider: Some(lsp::CompletionOptions {
                trigger_characters: Some(vec!["(".into(), ",".into(), " ".into()]),
                ..Default::default()
            }),
            inlay_hint_provider: Some(lsp::OneOf::Left(true)),
            semantic_tokens_provider: Some(
                lsp::SemanticTokensOptions {
                    legend: lsp::SemanticTokensLegend {
                        token_types: TOKEN_TYPES.iter().map(|t| lsp::SemanticTokenType::new(t)).collect(),
                        token_modifiers: TOKEN_MODIFIERS.iter().map(|t| lsp::SemanticTokenModifier::new(t)).collect(),
                    },
                    full: Some(lsp::SemanticTokensFullOptions::Bool(true)),
                    range: None,
                    ..Default::default()
                }
                .into(),
            ),
            document_symbol_provider: Some(lsp::OneOf::Left(true)),
            document_formatting_provider: Some(lsp::OneOf::Left(true)),
            ..Default::default()
        };
        let result = lsp::InitializeResult {
            capabilities: caps,
            server_info: Some(lsp::ServerInfo {
                name: "actorc".into(),
                version: Some(env!("CARGO_PKG_VERSION").into()),
            }),
        };
        serde_json::to_value(result).map_err(|e| (REQUEST_FAILED, e.to_string()))
    }

    /// Takes the project file found in `dir` or above it, if any.
    fn discover(&mut self, dir: &Path) {
        match Project::discover(dir) {
            Some(Ok(p)) => self.ws.set_project(Some(p)),
            Some(Err(e)) => self.show(vec![e]),
            None => {}
        }
    }

    fn notification(&mut self, n: Notification) {
        if !self.initialized {
            return;
        }
        match n.method.as_str() {
            "textDocument/didOpen" => {
                let Ok(p) = parse::<lsp::DidOpenTextDocumentParams>(n.params) else { return };
                let Some(path) = file_path(&p.text_document.uri) else { return };
                if self.ws.project().is_none()
                    && let Some(dir) = path.parent()
                {
                    self.discover(dir);
                }
                self.ws.set_text(&path, p.text_document.text);
            }
            "textDocument/didChange" => {
                let Ok(p) = parse::<lsp::DidChangeTextDocumentParams>(n.params) else { return };
                let Some(path) = file_path(&p.text_document.uri) else { return };
                // Full synchronization: the last change holds the whole text.
                let Some(text) = p.content_changes.into_iter().last().map(|c| c.text) else { return };
                self.ws.set_text(&path, text);
            }
            "textDocument/didClose" => {
                let Ok(p) = parse::<lsp::DidCloseTextDocumentParams>(n.params) else { return };
                let Some(path) = file_path(&p.text_document.uri) else { return };
                self.ws.close(&path);
            }
            _ => return,
        }
        self.publish();
    }

    /// Publishes the diagnostics that changed, clears those of files that left every rule
    /// set, and shows new project problems.
    fn publish(&mut self) {
        let mut seen = Vec::new();
        for (path, problems) in self.ws.diagnostics() {
            let Ok(uri) = lsp::Url::from_file_path(&path) else { continue };
            let text = self.ws.text(&path).unwrap_or("");
            let diags: Vec<lsp::Diagnostic> = problems.iter().map(|p| self.diagnostic(text, p)).collect();
            seen.push(uri.clone());
            // A clean file that showed nothing needs no message.
            if self.published.get(&uri).map_or(!diags.is_empty(), |old| *old != diags) {
                self.published.insert(uri.clone(), diags.clone());
                self.notify("textDocument/publishDiagnostics", lsp::PublishDiagnosticsParams::new(uri, diags, None));
            }
        }
        let gone: Vec<lsp::Url> = self.published.keys().filter(|u| !seen.contains(u)).cloned().collect();
        for uri in gone {
            self.published.remove(&uri);
            self.notify("textDocument/publishDiagnostics", lsp::PublishDiagnosticsParams::new(uri, Vec::new(), None));
        }
        let errors = self.ws.project_errors();
        self.show(errors);
    }

    fn show(&mut self, errors: Vec<String>) {
        if errors != self.shown {
            let new: Vec<String> = errors.iter().filter(|e| !self.shown.contains(e)).cloned().collect();
            for e in new {
                let params = lsp::ShowMessageParams { typ: lsp::MessageType::WARNING, message: format!("actorc: {e}") };
                self.notify("window/showMessage", params);
            }
            self.shown = errors;
        }
    }

    fn diagnostic(&self, text: &str, p: &ide::Problem) -> lsp::Diagnostic {
        let related = p
            .related
            .iter()
            .filter_map(|r| {
                let uri = lsp::Url::from_file_path(&r.at.path).ok()?;
                let text = self.ws.text(&r.at.path).unwrap_or("");
                let range = range(text, &r.at.range);
                Some(lsp::DiagnosticRelatedInformation {
                    location: lsp::Location { uri, range },
                    message: if r.message.is_empty() { "here".into() } else { r.message.clone() },
                })
            })
            .collect::<Vec<_>>();
        lsp::Diagnostic {
            range: range(text, &p.range),
            severity: Some(match p.severity {
                Severity::Error => lsp::DiagnosticSeverity::ERROR,
                Severity::Warning => lsp::DiagnosticSeverity::WARNING,
            }),
            code: Some(lsp::NumberOrString::String(p.code.into())),
            source: Some("actorc".into()),
            message: p.message.clone(),
            related_information: (!related.is_empty()).then_some(related),
            ..Default::default()
        }
    }

    /// The answer to a request after `initialize`.
    fn answer(&mut self, method: &str, params: Value) -> Result<Value, (i32, String)> {
        let ws = &self.ws;
        let json = |v: Result<Value, serde_json::Error>| v.map_err(|e| (REQUEST_FAILED, e.to_string()));
        match method {
            "textDocument/hover" => {
                let p: lsp::HoverParams = parse(params)?;
                let Some((path, text, at)) = self.at(&p.text_document_position_params) else { return Ok(Value::Null) };
                let Some(h) = ws.hover(&path, at) else { return Ok(Value::Null) };
                json(serde_json::to_value(lsp::Hover {
                    contents: lsp::HoverContents::Markup(lsp::MarkupContent {
                        kind: lsp::MarkupKind::Markdown,
                        value: h.markdown,
                    }),
                    range: Some(range(text, &h.range)),
                }))
            }
            "textDocument/definition" => {
                let p: lsp::GotoDefinitionParams = parse(params)?;
                let Some((path, _, at)) = self.at(&p.text_document_position_params) else { return Ok(Value::Null) };
                json(serde_json::to_value(self.locations(ws.definition(&path, at))))
            }
            "textDocument/references" => {
                let p: lsp::ReferenceParams = parse(params)?;
                let Some((path, _, at)) = self.at(&p.text_document_position) else { return Ok(Value::Null) };
                json(serde_json::to_value(self.locations(ws.references(&path, at, p.context.include_declaration))))
            }
            "textDocument/rename" => {
                let p: lsp::RenameParams = parse(params)?;
                let Some((path, _, at)) = self.at(&p.text_document_position) else { return Ok(Value::Null) };
                let edits = ws.rename(&path, at, &p.new_name).map_err(|e| (REQUEST_FAILED, e))?;
                let mut changes = HashMap::new();
                for (path, edits) in edits {
                    let Ok(uri) = lsp::Url::from_file_path(&path) else { continue };
                    let text = ws.text(&path).unwrap_or("");
                    let edits = edits
                        .into_iter()
                        .map(|e| lsp::TextEdit { range: range(text, &e.range), new_text: e.text })
                        .collect::<Vec<_>>();
                    changes.insert(uri, edits);
                }
                json(serde_json::to_value(lsp::WorkspaceEdit { changes: Some(changes), ..Default::default() }))
            }
            "textDocument/completion" => {
                let p: lsp::CompletionParams = parse(params)?;
                let Some((path, _, at)) = self.at(&p.text_document_position) else { return Ok(Value::Null) };
                let items: Vec<lsp::CompletionItem> = ws
                    .completion(&path, at)
                    .into_iter()
                    .map(|c| lsp::CompletionItem {
                        label: c.label,
                        kind: Some(completion_kind(c.kind)),
                        detail: Some(c.detail),
                        ..Default::default()
                    })
                    .collect();
                json(serde_json::to_value(items))
            }
            "textDocument/inlayHint" => {
                let p: lsp::InlayHintParams = parse(params)?;
                let Some(path) = file_path(&p.text_document.uri) else { return Ok(Value::Null) };
                let text = ws.text(&path).unwrap_or("");
                let hints: Vec<lsp::InlayHint> = ws
                    .inlay_hints(&path)
                    .into_iter()
                    .map(|h| lsp::InlayHint {
                        position: position(text, h.offset),
                        label: lsp::InlayHintLabel::String(h.label),
                        kind: None,
                        text_edits: None,
                        tooltip: Some(lsp::InlayHintTooltip::String(h.tooltip)),
                        padding_left: Some(true),
                        padding_right: None,
                        data: None,
                    })
                    .filter(|h| h.position >= p.range.start && h.position <= p.range.end)
                    .collect();
                json(serde_json::to_value(hints))
            }
            "textDocument/semanticTokens/full" => {
                let p: lsp::SemanticTokensParams = parse(params)?;
                let Some(path) = file_path(&p.text_document.uri) else { return Ok(Value::Null) };
                let text = ws.text(&path).unwrap_or("");
                let data = semantic_tokens(text, &ws.semantic_tokens(&path));
                json(serde_json::to_value(lsp::SemanticTokens { result_id: None, data }))
            }
            "textDocument/documentSymbol" => {
                let p: lsp::DocumentSymbolParams = parse(params)?;
                let Some(path) = file_path(&p.text_document.uri) else { return Ok(Value::Null) };
                let text = ws.text(&path).unwrap_or("");
                #[allow(deprecated)] // `deprecated` is a required field
                let symbols: Vec<lsp::DocumentSymbol> = ws
                    .document_symbols(&path)
                    .into_iter()
                    .map(|s| lsp::DocumentSymbol {
                        name: s.name,
                        detail: Some(s.detail),
                        kind: symbol_kind(s.kind),
                        tags: None,
                        deprecated: None,
                        range: range(text, &s.range),
                        selection_range: range(text, &s.selection),
                        children: None,
                    })
                    .collect();
                json(serde_json::to_value(symbols))
            }
            "textDocument/formatting" => {
                let p: lsp::DocumentFormattingParams = parse(params)?;
                let Some(path) = file_path(&p.text_document.uri) else { return Ok(Value::Null) };
                let Some(text) = ws.text(&path) else { return Ok(Value::Null) };
                let edits = match ws.format(&path).map_err(|e| (REQUEST_FAILED, e))? {
                    Some(new_text) => vec![lsp::TextEdit { range: range(text, &(0..text.len())), new_text }],
                    None => Vec::new(),
                };
                json(serde_json::to_value(edits))
            }
            _ => Err((METHOD_NOT_FOUND, format!("{method} is not supported"))),
        }
    }

    /// The path, analysed text and byte offset of a document position (`None` for a file of
    /// no rule set).
    fn at(&self, p: &lsp::TextDocumentPositionParams) -> Option<(PathBuf, &str, usize)> {
        let path = file_path(&p.text_document.uri)?;
        let text = self.ws.text(&path)?;
        let at = offset(text, p.position);
        Some((path, text, at))
    }

    fn locations(&self, at: Vec<ide::FileRange>) -> Vec<lsp::Location> {
        at.into_iter()
            .filter_map(|r| {
                let uri = lsp::Url::from_file_path(&r.path).ok()?;
                let text = self.ws.text(&r.path).unwrap_or("");
                Some(lsp::Location { uri, range: range(text, &r.range) })
            })
            .collect()
    }
}

/// The next frame's body; `None` at the end of input. Lines before a `Content-Length`
/// header that are not headers are skipped.
fn read_frame(input: &mut impl BufRead) -> std::io::Result<Option<Vec<u8>>> {
    let mut length: Option<usize> = None;
    let mut line = Vec::new();
    loop {
        line.clear();
        if std::io::Read::take(&mut *input, 1 << 16).read_until(b'\n', &mut line)? == 0 {
            return Ok(None);
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim();
        if text.is_empty() {
            match length {
                Some(n) => break read_body(input, n).map(Some),
                None => continue,
            }
        }
        if let Some((name, value)) = text.split_once(':')
            && name.trim().eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().ok().filter(|&n| n <= MAX_MESSAGE);
        }
    }
}

fn read_body(input: &mut impl BufRead, n: usize) -> std::io::Result<Vec<u8>> {
    let mut body = vec![0; n];
    input.read_exact(&mut body)?;
    Ok(body)
}

fn parse<T: serde::de::DeserializeOwned>(params: Value) -> Result<T, (i32, String)> {
    serde_json::from_value(params).map_err(|e| (INVALID_PARAMS, e.to_string()))
}

fn file_path(uri: &lsp::Url) -> Option<PathBuf> {
    (uri.scheme() == "file").then(|| uri.to_file_path().ok()).flatten()
}

/// The byte offset of an LSP position (UTF-16 units into its line), clamped to the line
/// and the text.
fn offset(text: &str, p: lsp::Position) -> usize {
    let mut start = 0;
    for _ in 0..p.line {
        match text[start..].find('\n') {
            Some(i) => start += i + 1,
            None => return text.len(),
        }
    }
    let line = &text[start..];
    let line = &line[..line.find('\n').unwrap_or(line.len())];
    let mut units = 0;
    for (i, c) in line.char_indices() {
        if units >= p.character as usize {
            return start + i;
        }
        units += c.len_utf16();
    }
    start + line.len()
}

/// The LSP position of a byte offset (clamped to the text and to a character boundary).
fn position(text: &str, offset: usize) -> lsp::Position {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = before.matches('\n').count();
    let character: usize = before[line_start..].chars().map(char::len_utf16).sum();
    lsp::Position::new(line as u32, character as u32)
}

fn range(text: &str, r: &std::ops::Range<usize>) -> lsp::Range {
    lsp::Range::new(position(text, r.start), position(text, r.end))
}

/// Tokens as LSP's relative five-number groups (UTF-16 columns and lengths).
fn semantic_tokens(text: &str, tokens: &[ide::Token]) -> Vec<lsp::SemanticToken> {
    let mut out = Vec::with_capacity(tokens.len());
    let (mut line, mut col) = (0, 0);
    // Positions are computed in one pass over the text.
    let mut at = 0;
    let mut pos = lsp::Position::new(0, 0);
    for t in tokens {
        let Some(between) = text.get(at..t.range.start) else { continue };
        for c in between.chars() {
            if c == '\n' {
                pos = lsp::Position::new(pos.line + 1, 0);
            } else {
                pos.character += c.len_utf16() as u32;
            }
        }
        at = t.range.start;
        let length: usize = text.get(t.range.clone()).map_or(0, |s| s.chars().map(char::len_utf16).sum());
        let (ty, mut mods) = token_type(t.kind);
        if t.declaration {
            mods |= 1;
        }
        let delta_line = pos.line - line;
        let delta_start = if delta_line == 0 { pos.character - col } else { pos.character };
        out.push(lsp::SemanticToken {
            delta_line,
            delta_start,
            length: length as u32,
            token_type: ty,
            token_modifiers_bitset: mods,
        });
        (line, col) = (pos.line, pos.character);
    }
    out
}

/// The legend index and modifier bits of a token kind.
fn token_type(kind: TokenKind) -> (u32, u32) {
    const READONLY: u32 = 2;
    const DOCUMENTATION: u32 = 4;
    const LIBRARY: u32 = 8;
    match kind {
        TokenKind::Symbol(k) => match k {
            SymbolKind::Stat | SymbolKind::View => (0, 0),
            SymbolKind::Bucket => (1, 0),
            SymbolKind::Pipeline => (2, 0),
            SymbolKind::Layer => (3, 0),
            SymbolKind::Tag | SymbolKind::TagGroup => (4, 0),
            SymbolKind::Stack => (5, 0),
            SymbolKind::Constant => (0, READONLY),
            SymbolKind::Table | SymbolKind::Curve => (6, READONLY),
            SymbolKind::Function => (7, LIBRARY),
            SymbolKind::Variable => (8, 0),
            SymbolKind::Keyword => (9, 0),
        },
        TokenKind::Number => (10, 0),
        TokenKind::Comment => (11, 0),
        TokenKind::DocComment => (11, DOCUMENTATION),
        TokenKind::String => (12, 0),
    }
}

fn completion_kind(k: SymbolKind) -> lsp::CompletionItemKind {
    use lsp::CompletionItemKind as C;
    match k {
        SymbolKind::Stat | SymbolKind::View => C::FIELD,
        SymbolKind::Bucket => C::ENUM_MEMBER,
        SymbolKind::Pipeline => C::CLASS,
        SymbolKind::Layer => C::MODULE,
        SymbolKind::Tag | SymbolKind::TagGroup => C::ENUM,
        SymbolKind::Stack => C::STRUCT,
        SymbolKind::Constant => C::CONSTANT,
        SymbolKind::Table | SymbolKind::Curve => C::VALUE,
        SymbolKind::Function => C::FUNCTION,
        SymbolKind::Variable => C::VARIABLE,
        SymbolKind::Keyword => C::KEYWORD,
    }
}

fn symbol_kind(k: SymbolKind) -> lsp::SymbolKind {
    use lsp::SymbolKind as S;
    match k {
        SymbolKind::Stat | SymbolKind::View => S::FIELD,
        SymbolKind::Bucket => S::ENUM_MEMBER,
        SymbolKind::Pipeline => S::CLASS,
        SymbolKind::Layer => S::MODULE,
        SymbolKind::Tag | SymbolKind::TagGroup => S::ENUM,
        SymbolKind::Stack => S::STRUCT,
        SymbolKind::Constant => S::CONSTANT,
        SymbolKind::Table | SymbolKind::Curve => S::ARRAY,
        SymbolKind::Function => S::FUNCTION,
        SymbolKind::Variable => S::VARIABLE,
        SymbolKind::Keyword => S::KEY,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_utf16_units() {
        let text = "a\n€𝄞x\n";
        // 𝄞 is two UTF-16 units, four bytes.
        assert_eq!(position(text, 9), lsp::Position::new(1, 3));
        assert_eq!(offset(text, lsp::Position::new(1, 3)), 9);
        assert_eq!(offset(text, lsp::Position::new(1, 99)), 10);
        assert_eq!(offset(text, lsp::Position::new(9, 0)), text.len());
        assert_eq!(position(text, 999), lsp::Position::new(2, 0));
        // Inside a character: its start.
        assert_eq!(position(text, 3), lsp::Position::new(1, 0));
    }

    #[test]
    fn garbage_between_frames_is_skipped() {
        let mut input: &[u8] = b"junk\r\nContent-Length: 2\r\n\r\n{}Content-Length: x\r\n\r\n";
        assert_eq!(read_frame(&mut input).unwrap(), Some(b"{}".to_vec()));
        assert_eq!(read_frame(&mut input).unwrap(), None);
    }
}
