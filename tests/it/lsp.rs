//! `actorc lsp` driven over its real stdio transport: Content-Length framed JSON-RPC in,
//! answers and notifications out, snapshotted with the workspace's path replaced by `/WS`.

use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

/// A copy of the example game (rules, sample actor, project file) in a temporary folder.
fn workspace(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("actorc-lsp-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for set in ["rpg", "actor_core_v3"] {
        let to = dir.join("rules").join(set);
        std::fs::create_dir_all(&to).unwrap();
        for f in std::fs::read_dir(Path::new("rules").join(set)).unwrap() {
            let f = f.unwrap().path();
            if f.extension().is_some_and(|e| e == "stat") {
                std::fs::copy(&f, to.join(f.file_name().unwrap())).unwrap();
            }
        }
    }
    std::fs::create_dir_all(dir.join("examples")).unwrap();
    std::fs::copy("examples/hero.json", dir.join("examples/hero.json")).unwrap();
    std::fs::copy("actorc.toml", dir.join("actorc.toml")).unwrap();
    std::fs::canonicalize(&dir).unwrap()
}

struct Client {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    root: PathBuf,
    next_id: i64,
    /// Notifications received while waiting for answers.
    notes: Vec<Value>,
}

impl Client {
    fn start(root: &Path) -> Client {
        let mut child = Command::new(env!("CARGO_BIN_EXE_actorc"))
            .arg("lsp")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Client { child, stdin, stdout, root: root.to_path_buf(), next_id: 0, notes: Vec::new() }
    }

    fn uri(&self, rel: &str) -> String {
        format!("file://{}/{rel}", self.root.display())
    }

    fn write_raw(&mut self, body: &[u8]) {
        write!(self.stdin, "Content-Length: {}\r\n\r\n", body.len()).unwrap();
        self.stdin.write_all(body).unwrap();
        self.stdin.flush().unwrap();
    }

    fn send(&mut self, msg: Value) {
        self.write_raw(msg.to_string().as_bytes());
    }

    fn read(&mut self) -> Value {
        let mut length = 0;
        loop {
            let mut line = String::new();
            assert!(self.stdout.read_line(&mut line).unwrap() > 0, "the server ended");
            let line = line.trim();
            if line.is_empty() {
                break;
            }
            if let Some(n) = line.strip_prefix("Content-Length: ") {
                length = n.parse().unwrap();
            }
        }
        let mut body = vec![0; length];
        self.stdout.read_exact(&mut body).unwrap();
        serde_json::from_slice(&body).unwrap()
    }

    fn notify(&mut self, method: &str, params: Value) {
        self.send(json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }

    /// Sends a request and waits for its answer, keeping the notifications that came first.
    fn request(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        self.answer(json!(id))
    }

    fn answer(&mut self, id: Value) -> Value {
        loop {
            let m = self.read();
            if m.get("id") == Some(&id) && m.get("method").is_none() {
                return m;
            }
            self.notes.push(m);
        }
    }

    /// The notifications so far (sent before the last answer), and a round trip to flush
    /// the ones a notification of ours caused.
    fn notes(&mut self) -> Vec<Value> {
        // Every message is handled in order: an answer to a later request comes after the
        // notifications of everything before it.
        self.request(
            "textDocument/hover",
            json!({"textDocument": {"uri": "file:///nowhere.stat"}, "position": {"line": 0, "character": 0}}),
        );
        std::mem::take(&mut self.notes)
    }

    /// `value` as pretty JSON, the workspace's path as `/WS`.
    fn show(&self, value: &Value) -> String {
        serde_json::to_string_pretty(value).unwrap().replace(&self.root.display().to_string(), "/WS")
    }
}

/// The LSP position (UTF-16) of the `nth` occurrence of `needle` in `text`, `delta` bytes in.
fn pos(text: &str, needle: &str, nth: usize, delta: usize) -> Value {
    let at = text.match_indices(needle).nth(nth).unwrap_or_else(|| panic!("{needle} #{nth}")).0 + delta;
    let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    json!({"line": text[..at].matches('\n').count(), "character": text[line_start..at].encode_utf16().count()})
}

fn at(uri: &str, text: &str, needle: &str, nth: usize, delta: usize) -> Value {
    json!({"textDocument": {"uri": uri}, "position": pos(text, needle, nth, delta)})
}

/// Semantic tokens decoded into `line:col len type [modifiers] text` lines.
fn decode_tokens(text: &str, legend: &Value, data: &[Value]) -> String {
    let types = legend["tokenTypes"].as_array().unwrap();
    let mods = legend["tokenModifiers"].as_array().unwrap();
    let lines: Vec<&str> = text.split('\n').collect();
    let (mut line, mut col) = (0u64, 0u64);
    let mut out = String::new();
    for t in data.chunks(5) {
        let n: Vec<u64> = t.iter().map(|v| v.as_u64().unwrap()).collect();
        if n[0] > 0 {
            col = 0;
        }
        line += n[0];
        col += n[1];
        let units: Vec<u16> = lines[line as usize].encode_utf16().collect();
        let word = String::from_utf16_lossy(&units[col as usize..(col + n[2]) as usize]);
        let m: Vec<&str> =
            (0..mods.len()).filter(|b| n[4] & (1 << b) != 0).map(|b| mods[b].as_str().unwrap()).collect();
        out.push_str(&format!(
            "{}:{} {} {:?} {}\n",
            line + 1,
            col + 1,
            types[n[3] as usize].as_str().unwrap(),
            m,
            word
        ));
    }
    out
}

#[test]
fn a_session_over_stdio() {
    let root = workspace("session");
    let mut c = Client::start(&root);
    let init = c.request(
        "initialize",
        json!({"processId": null, "rootUri": format!("file://{}", root.display()), "capabilities": {}}),
    );
    insta::assert_snapshot!("initialize", c.show(&init));
    let legend = init["result"]["capabilities"]["semanticTokensProvider"]["legend"].clone();
    c.notify("initialized", json!({}));

    let combat_uri = c.uri("rules/rpg/combat.stat");
    let combat = std::fs::read_to_string(root.join("rules/rpg/combat.stat")).unwrap();
    c.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": combat_uri, "languageId": "stat", "version": 1, "text": combat}}),
    );
    // Clean rules: nothing to publish.
    assert_eq!(c.notes(), Vec::<Value>::new());

    // A typo breaks this file; a stat removed from another file breaks this one too.
    let broken = combat.replacen("attack_power + strength * 2", "attack_power + strenght * 2", 1);
    c.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": combat_uri, "version": 2}, "contentChanges": [{"text": broken}]}),
    );
    let attributes_uri = c.uri("rules/rpg/attributes.stat");
    let attributes = std::fs::read_to_string(root.join("rules/rpg/attributes.stat")).unwrap();
    let no_luck = attributes.replace("primary luck", "primary lucky");
    c.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": attributes_uri, "languageId": "stat", "version": 1, "text": no_luck}}),
    );
    let notes = c.notes();
    insta::assert_snapshot!("diagnostics_broken", c.show(&json!(notes)));

    // Inlay hints while broken: the last good values.
    let hints = c.request(
        "textDocument/inlayHint",
        json!({"textDocument": {"uri": combat_uri}, "range": {"start": {"line": 0, "character": 0}, "end": {"line": 12, "character": 0}}}),
    );
    insta::assert_snapshot!("inlay_hints_stale", c.show(&hints));

    // Fixed again: both files are cleared.
    c.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": combat_uri, "version": 3}, "contentChanges": [{"text": combat}]}),
    );
    c.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": attributes_uri, "version": 2}, "contentChanges": [{"text": attributes}]}),
    );
    let notes = c.notes();
    insta::assert_snapshot!("diagnostics_fixed", c.show(&json!(notes)));

    let u = &combat_uri;
    let hover_stat = c.request("textDocument/hover", at(u, &combat, "derived physical_attack", 0, 10));
    insta::assert_snapshot!("hover_stat", c.show(&hover_stat));
    let hover_fn = c.request("textDocument/hover", at(u, &combat, "clamp(", 0, 1));
    insta::assert_snapshot!("hover_function", c.show(&hover_fn));
    let hover_pipeline = c.request("textDocument/hover", at(u, &combat, "pipeline scaling", 0, 10));
    insta::assert_snapshot!("hover_pipeline", c.show(&hover_pipeline));

    let def = c.request("textDocument/definition", at(u, &combat, "strength * 2", 0, 0));
    insta::assert_snapshot!("definition", c.show(&def));
    let refs = c.request(
        "textDocument/references",
        json!({"textDocument": {"uri": u}, "position": pos(&combat, ", dodge_limit)", 0, 2), "context": {"includeDeclaration": true}}),
    );
    insta::assert_snapshot!("references", c.show(&refs));

    let after_pipeline = c.request("textDocument/completion", at(u, &combat, "pipeline scaling", 0, 9));
    let in_formula = c.request("textDocument/completion", at(u, &combat, "agility * 0.3", 0, 2));
    insta::assert_snapshot!(
        "completion",
        c.show(&json!({"after pipeline": after_pipeline, "formula, prefix ag": in_formula}))
    );

    let hints = c.request(
        "textDocument/inlayHint",
        json!({"textDocument": {"uri": u}, "range": {"start": {"line": 0, "character": 0}, "end": {"line": 40, "character": 0}}}),
    );
    insta::assert_snapshot!("inlay_hints", c.show(&hints));

    let situations_uri = c.uri("rules/rpg/situations.stat");
    let situations = std::fs::read_to_string(root.join("rules/rpg/situations.stat")).unwrap();
    let tokens = c.request("textDocument/semanticTokens/full", json!({"textDocument": {"uri": situations_uri}}));
    let data = tokens["result"]["data"].as_array().unwrap();
    insta::assert_snapshot!("semantic_tokens", decode_tokens(&situations, &legend, data));
    let symbols = c.request("textDocument/documentSymbol", json!({"textDocument": {"uri": situations_uri}}));
    insta::assert_snapshot!("document_symbols", c.show(&symbols));

    // Formatting: a messy line is rewritten; a file with a syntax error is refused.
    let messy =
        combat.replacen("derived lifesteal in 0 .. 0.5 default 0;", "derived   lifesteal in 0..0.5   default 0 ;", 1);
    c.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": u, "version": 4}, "contentChanges": [{"text": messy}]}),
    );
    let formatted = c.request(
        "textDocument/formatting",
        json!({"textDocument": {"uri": u}, "options": {"tabSize": 2, "insertSpaces": true}}),
    );
    let edit = &formatted["result"][0];
    assert_eq!(edit["newText"].as_str(), Some(combat.as_str()), "{formatted}");
    assert_eq!(edit["range"]["start"], json!({"line": 0, "character": 0}));
    let bad = combat.replacen("in 0 .. 0.5 default 0;", "in 0 .. default 0;", 1);
    c.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": u, "version": 5}, "contentChanges": [{"text": bad}]}),
    );
    let refused = c.request(
        "textDocument/formatting",
        json!({"textDocument": {"uri": u}, "options": {"tabSize": 2, "insertSpaces": true}}),
    );
    insta::assert_snapshot!("formatting_refused", c.show(&refused));
    c.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": u, "version": 6}, "contentChanges": [{"text": combat}]}),
    );

    // Rename a stat across the rule set; refuse a name a stat cannot have.
    let rename = c.request(
        "textDocument/rename",
        json!({"textDocument": {"uri": u}, "position": pos(&combat, ", dodge_limit)", 0, 5), "newName": "dodge_cap"}),
    );
    insta::assert_snapshot!("rename", c.show(&rename));
    let refused = c.request(
        "textDocument/rename",
        json!({"textDocument": {"uri": u}, "position": pos(&combat, ", dodge_limit)", 0, 5), "newName": "Dodge"}),
    );
    insta::assert_snapshot!("rename_refused", c.show(&refused));

    // Garbage, unknown files and methods are answered, and the server carries on.
    c.write_raw(b"{not json");
    let parse_error = c.answer(Value::Null);
    assert_eq!(parse_error["error"]["code"], -32700, "{parse_error}");
    let unknown_file = c.request(
        "textDocument/definition",
        json!({"textDocument": {"uri": "file:///nowhere/x.stat"}, "position": {"line": 3, "character": 4}}),
    );
    assert_eq!(unknown_file["result"], Value::Null);
    let bad_params = c.request("textDocument/hover", json!({"nonsense": true}));
    assert_eq!(bad_params["error"]["code"], -32602, "{bad_params}");
    let unknown_method = c.request("textDocument/unheardOf", json!({}));
    assert_eq!(unknown_method["error"]["code"], -32601, "{unknown_method}");
    let far = c.request(
        "textDocument/hover",
        json!({"textDocument": {"uri": u}, "position": {"line": 99999, "character": 99999}}),
    );
    assert_eq!(far["result"], Value::Null);

    let shutdown = c.request("shutdown", Value::Null);
    assert_eq!(shutdown["result"], Value::Null);
    c.notify("exit", Value::Null);
    let status = c.child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    let _ = std::fs::remove_dir_all(&root);
}

/// The VS Code grammar and the extension's JSON files parse.
#[test]
fn vscode_files_are_valid_json() {
    for f in ["package.json", "language-configuration.json", "syntaxes/stat.tmLanguage.json"] {
        let text = std::fs::read_to_string(Path::new("editors/vscode").join(f)).unwrap();
        let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{f}: {e}"));
        assert!(v.is_object(), "{f}");
    }
    let g: Value =
        serde_json::from_str(&std::fs::read_to_string("editors/vscode/syntaxes/stat.tmLanguage.json").unwrap())
            .unwrap();
    assert_eq!(g["scopeName"], "source.stat");
}

/// Whether a tool runs (`name --version`).
fn runs(name: &str) -> bool {
    Command::new(name).arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success())
}

/// The grammar tokenizes every shipped rule file with VS Code's own tokenizer
/// (`editors/vscode/test/tokenize.js`, after `npm ci` in a temporary copy). Skipped without
/// node and npm, except on CI (`CI` set) when node is there.
#[test]
fn vscode_grammar_tokenizes_the_shipped_rules() {
    let ci = std::env::var_os("CI").is_some();
    if !runs("node") || !runs("npm") {
        assert!(!(ci && runs("node")), "CI has node: npm is needed to test the VS Code grammar");
        eprintln!("skipped: node and npm are needed to tokenize with the VS Code grammar");
        return;
    }
    let dir = std::env::temp_dir().join(format!("actorc-vscode-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for sub in ["syntaxes", "test"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
    }
    for f in ["package.json", "package-lock.json", "syntaxes/stat.tmLanguage.json", "test/tokenize.js"] {
        std::fs::copy(Path::new("editors/vscode").join(f), dir.join(f)).unwrap();
    }
    let npm = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--ignore-scripts"])
        .current_dir(&dir)
        .output()
        .unwrap();
    if !npm.status.success() {
        let why = String::from_utf8_lossy(&npm.stderr);
        assert!(!ci, "npm ci failed: {why}");
        eprintln!("skipped: npm ci failed (no registry access?): {why}");
        return;
    }
    let repo = std::env::current_dir().unwrap();
    let out = Command::new("node")
        .arg("test/tokenize.js")
        .arg(repo.join("rules"))
        .arg(repo.join("docs/examples"))
        .current_dir(&dir)
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("every character scoped, none invalid"), "{stdout}");
}
