//! The module layers of ARCHITECTURE.md, checked: no module of `src/` names (`crate::…`)
//! a module of its own layer or of a layer above it, and inside `jit/` no file names
//! (`super::…`) a sibling above it. So the module graph has no cycle.

use std::path::Path;

/// Top-level modules, bottom layer first.
const LAYERS: &[&[&str]] = &[
    &["source", "num"],
    &["diag"],
    &["syntax"],
    &["ir"],
    &["load", "check"],
    &["lower"],
    &["cost", "rules", "input"],
    &["snapshot"],
    &["ingest"],
    &["eval"],
    &["jit"],
    &["engine"],
    &["reload", "explain", "graph", "live"],
    &["cache"],
    &["run"],
    &["balance", "ide"],
    &["cli"],
];

/// The files of `jit/`, bottom first.
const JIT_LAYERS: &[&[&str]] = &[&["abi"], &["layout", "family"], &["codegen"], &["mod"]];

fn rank(layers: &[&[&str]], module: &str) -> Option<usize> {
    layers.iter().position(|l| l.contains(&module))
}

/// The code of a Rust file without its comments (line comments are enough here).
fn code(text: &str) -> String {
    text.lines().map(|l| l.split("//").next().unwrap_or("")).collect::<Vec<_>>().join("\n")
}

/// Every first path segment after `prefix::`, including those in `prefix::{a, b::c}` lists.
fn named_after(code: &str, prefix: &str) -> Vec<String> {
    let mut out = Vec::new();
    let pat = format!("{prefix}::");
    let mut rest = code;
    while let Some(i) = rest.find(&pat) {
        let before = rest[..i].chars().next_back();
        rest = &rest[i + pat.len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        if let Some(list) = rest.strip_prefix('{') {
            // The first segment of every item at the top level of the (nested) list.
            let (mut depth, mut item_start) = (0, true);
            for (i, c) in list.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => item_start = true,
                    c if item_start && (c.is_alphanumeric() || c == '_') => {
                        item_start = false;
                        let name: String = list[i..].chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                        if name != "self" {
                            out.push(name);
                        }
                    }
                    _ => {}
                }
            }
        } else {
            let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            out.push(name);
        }
    }
    out
}

/// Every violation in the crate at `src`: "from -> to" pairs that break the layers.
fn violations(src: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let rel = path.strip_prefix(src).unwrap();
            let parts: Vec<String> =
                rel.iter().map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string()).collect();
            let module = parts[0].as_str();
            if module == "lib" || module == "main" {
                continue;
            }
            let text = code(&std::fs::read_to_string(&path).unwrap());
            let own = rank(LAYERS, module)
                .unwrap_or_else(|| panic!("src/{} is in no layer of tests/it/layers.rs", rel.display()));
            for target in named_after(&text, "crate") {
                let Some(r) = rank(LAYERS, &target) else { continue };
                if target != module && r >= own {
                    found.push(format!("src/{}: {module} (layer {own}) -> {target} (layer {r})", rel.display()));
                }
            }
            if module == "jit" {
                let file = parts.get(1).map_or("mod", String::as_str);
                let own = rank(JIT_LAYERS, file).unwrap_or_else(|| panic!("src/jit/{file}.rs is in no jit layer"));
                let siblings: Vec<String> = if file == "mod" { Vec::new() } else { named_after(&text, "super") };
                for target in siblings {
                    let Some(r) = rank(JIT_LAYERS, &target) else { continue };
                    if target != file && r >= own {
                        found.push(format!("src/jit/{file}.rs: jit::{file} -> jit::{target}"));
                    }
                }
            }
        }
    }
    found.sort();
    found
}

#[test]
fn no_module_imports_from_a_layer_above_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let found = violations(&src);
    assert!(found.is_empty(), "imports that break the layers of ARCHITECTURE.md:\n{}", found.join("\n"));
}

#[test]
fn the_check_sees_a_bad_import() {
    let code = code(
        "use crate::engine::Engine; // crate::cli\nuse crate::{ir::{self, Ir}, input};\nuse crate::{eval::{self, X}, jit};\nlet x = super::abi::X;",
    );
    assert_eq!(named_after(&code, "crate"), ["engine", "ir", "input", "eval", "jit"]);
    assert_eq!(named_after(&code, "super"), ["abi"]);
}
