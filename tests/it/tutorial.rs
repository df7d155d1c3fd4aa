//! docs/tutorial.md, followed as a reader follows it: in an empty temporary folder, its
//! blocks are taken in order. A ```` ```console ```` block is a terminal session: each
//! `$ actorc …` line runs (in the current folder of the session, which `$ cd DIR` changes;
//! no other command is allowed) and must print the lines shown under it, standard output
//! then standard error, where a line `…` stands for any lines. A block whose info string is
//! `LANG OP FILE` edits a file of the project, as the text around it tells the reader to:
//!
//! - `create FILE` writes the block as the whole file;
//! - `append FILE` adds a blank line and the block at the end of the file;
//! - `replace FILE` replaces, for each line of the block, the one line of the file that
//!   starts with the same two words (`derived attack`, `actors =`).
//!
//! `run --watch` cannot end by itself: its block is started, the next edit block of the
//! page is applied while it watches, and it is stopped once generation 2 is written. Its
//! changes come as records through a pipe; they are compared as the lines a terminal shows
//! (`paladin attack: 82.0 → 117.0`), with every duration (`40.2 ms`) left out and `^C`
//! (the reader's Ctrl-C) skipped. So any edit of the page's commands, files or outputs that
//! does not match what actorc does fails this test.

use crate::init::{Run, actorc_in, temp_folder};
use std::path::{Path, PathBuf};

const PAGE: &str = "docs/tutorial.md";

/// A fenced block of the page.
enum Block {
    /// A terminal session: commands with the lines shown under each.
    Console(Vec<(String, Vec<String>)>),
    /// An edit of a project file.
    Edit { op: String, file: String, text: String },
}

/// The console and edit blocks of `page`, in order, with the line each starts on.
fn blocks(page: &str) -> Vec<(usize, Block)> {
    let mut out = Vec::new();
    let mut lines = page.lines().enumerate();
    while let Some((n, line)) = lines.next() {
        let Some(info) = line.strip_prefix("```") else { continue };
        let body: Vec<&str> = lines.by_ref().map(|(_, l)| l).take_while(|l| !l.starts_with("```")).collect();
        let words: Vec<&str> = info.split_whitespace().collect();
        match words[..] {
            ["console"] => {
                let mut session: Vec<(String, Vec<String>)> = Vec::new();
                for l in body {
                    match (l.strip_prefix("$ "), session.last_mut()) {
                        (Some(command), _) => session.push((command.to_string(), Vec::new())),
                        (None, Some((_, shown))) => shown.push(l.to_string()),
                        (None, None) => panic!("{PAGE}:{}: a console block starts with `$ `", n + 1),
                    }
                }
                out.push((n + 1, Block::Console(session)));
            }
            [_, op, file] => {
                assert!(["create", "append", "replace"].contains(&op), "{PAGE}:{}: unknown edit `{op}`", n + 1);
                let text = body.iter().map(|l| format!("{l}\n")).collect();
                out.push((n + 1, Block::Edit { op: op.to_string(), file: file.to_string(), text }));
            }
            _ => {}
        }
    }
    out
}

/// Replaces the file `path` by `text` at once (a watch never sees it empty).
fn save(path: &Path, text: &str) {
    let temp = path.with_extension("tutorial-save");
    std::fs::write(&temp, text).unwrap();
    std::fs::rename(&temp, path).unwrap();
}

/// Applies an edit block to the file `path`.
fn edit(path: &Path, op: &str, text: &str, at: usize) {
    let what = format!("{PAGE}:{at}: {op} {}", path.display());
    match op {
        "create" => {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            save(path, text);
        }
        "append" => {
            let old = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{what}: {e}"));
            save(path, &format!("{old}\n{text}"));
        }
        _ => {
            let mut old = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{what}: {e}"));
            for new in text.lines() {
                let key: Vec<&str> = new.split_whitespace().take(2).collect();
                let starts = |l: &str| l.split_whitespace().take(2).eq(key.iter().copied());
                let found: Vec<&str> = old.lines().filter(|l| starts(l)).collect();
                assert_eq!(found.len(), 1, "{what}: {} lines start with `{}`", found.len(), key.join(" "));
                old = old.replacen(found[0], new, 1);
            }
            save(path, &old);
        }
    }
}

/// Whether `printed` is `shown`, where a shown line `…` stands for any lines (none too).
fn matches(shown: &[String], printed: &[&str]) -> bool {
    match shown.split_first() {
        None => printed.is_empty(),
        Some((first, rest)) if first == "…" => (0..=printed.len()).any(|k| matches(rest, &printed[k..])),
        Some((first, rest)) => printed.first() == Some(&first.as_str()) && matches(rest, &printed[1..]),
    }
}

/// `line` with every duration (`40.2 ms`) written as `_ ms`.
fn without_durations(line: &str) -> String {
    let words: Vec<&str> = line.split(' ').collect();
    let mut out: Vec<&str> = Vec::new();
    for (i, w) in words.iter().enumerate() {
        let number = w.trim_start_matches('(').parse::<f64>().is_ok();
        let ms = words.get(i + 1).is_some_and(|n| n.trim_end_matches([')', ',']) == "ms");
        out.push(if number && ms { if w.starts_with('(') { "(_" } else { "_" } } else { w });
    }
    out.join(" ")
}

/// A change record of `run --watch` as a terminal shows it: `id stat: old → new`.
fn as_terminal_line(record: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(record).unwrap_or_else(|e| panic!("{e}: {record}"));
    match (v.get("stat"), v.get("generation")) {
        (Some(stat), Some(_)) => {
            let (id, stat) = (v["id"].as_str().unwrap(), stat.as_str().unwrap());
            format!("{id} {stat}: {} → {}", v["old"], v["new"])
        }
        _ => record.to_string(),
    }
}

/// Runs a `--watch` command in `dir`, applies `then` (an edit) while it watches, and gives
/// the lines it printed once generation 2 is written.
fn watch(dir: &Path, args: &[&str], then: impl FnOnce()) -> Vec<String> {
    use std::io::BufRead;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_actorc"))
        .args(args)
        .current_dir(dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut printed = Vec::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let wait_for = |what: &str, printed: &mut Vec<String>| loop {
        match rx.recv_timeout(deadline.saturating_duration_since(std::time::Instant::now())) {
            Ok(l) => {
                let done = l.starts_with(what);
                printed.push(l);
                if done {
                    break;
                }
            }
            Err(_) => panic!("no `{what}` from `actorc {}` within 30 s; it printed {printed:#?}", args.join(" ")),
        }
    };
    wait_for("watching for rule changes", &mut printed);
    then();
    wait_for("generation 2: ", &mut printed);
    child.kill().unwrap();
    let out = child.wait_with_output().unwrap();
    printed.extend(String::from_utf8_lossy(&out.stdout).lines().map(as_terminal_line));
    printed
}

#[test]
fn the_tutorial_runs_as_written() {
    let page = std::fs::read_to_string(PAGE).unwrap();
    let root = temp_folder("tutorial");
    let mut here: PathBuf = root.clone();
    let mut blocks = blocks(&page).into_iter();
    let (mut commands, mut edits) = (0, 0);
    while let Some((at, block)) = blocks.next() {
        let session = match block {
            Block::Edit { op, file, text } => {
                edit(&here.join(&file), &op, &text, at);
                edits += 1;
                continue;
            }
            Block::Console(session) => session,
        };
        for (command, shown) in session {
            let what = format!("{PAGE}:{at}: `$ {command}`");
            if let Some(dir) = command.strip_prefix("cd ") {
                here = here.join(dir.trim());
                continue;
            }
            let Some(args) = command.strip_prefix("actorc ") else {
                panic!("{what}: the tutorial runs only `actorc …` and `cd …`")
            };
            let args: Vec<&str> = args.split_whitespace().collect();
            commands += 1;
            if args.contains(&"--watch") {
                let Some((edit_at, Block::Edit { op, file, text })) = blocks.next() else {
                    panic!("{what}: no edit block follows the watch")
                };
                let printed = watch(&here, &args, || edit(&here.join(&file), &op, &text, edit_at));
                edits += 1;
                let mut printed: Vec<String> = printed.iter().map(|l| without_durations(l)).collect();
                let mut shown: Vec<String> =
                    shown.iter().filter(|l| *l != "^C").map(|l| without_durations(l)).collect();
                printed.sort();
                shown.sort();
                assert_eq!(shown, printed, "{what}: the watch's lines (sorted)");
                continue;
            }
            let Run { stdout, stderr, .. } = actorc_in(&here, &args);
            let printed = format!("{stdout}{stderr}");
            let printed: Vec<&str> = printed.lines().collect();
            assert!(
                matches(&shown, &printed),
                "{what} does not print what the page shows:\n{}\nit prints:\n{}",
                shown.join("\n"),
                printed.join("\n")
            );
        }
    }
    assert!(commands >= 10 && edits >= 5, "only {commands} commands and {edits} edits in {PAGE}");
    std::fs::remove_dir_all(root).unwrap();
}

#[test]
fn durations_are_left_out_and_ellipses_match_any_lines() {
    assert_eq!(
        without_durations("generation 2: 100.4 ms from the event (build 24.3 ms, evaluation 0.1 ms)"),
        "generation 2: _ ms from the event (build _ ms, evaluation _ ms)"
    );
    let shown = |s: &[&str]| s.iter().map(|l| l.to_string()).collect::<Vec<_>>();
    assert!(matches(&shown(&["a", "…", "d"]), &["a", "b", "c", "d"]));
    assert!(matches(&shown(&["a", "…"]), &["a"]));
    assert!(!matches(&shown(&["a", "d"]), &["a", "b", "d"]));
    assert!(!matches(&shown(&["a"]), &["a", "b"]));
}
