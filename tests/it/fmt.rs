//! `actorc fmt`: the fixtures in `tests/data/fmt` with snapshots of their formatted text
//! beside them (`comments.stat` has `comments.fmt.snap`), the formatter's promises checked
//! on every fixture and shipped rule file, and the command line.

use crate::common::{relative, snapshots_in};
use crate::syntax::erase;
use actorc::source::FileId;
use actorc::syntax::{Ast, ParseLimits, format_file, parse_file};
use std::path::{Path, PathBuf};

fn parse(text: &str, what: &str) -> Ast {
    let (ast, diags) = parse_file(FileId(0), text, ParseLimits::default());
    assert!(diags.is_empty(), "{what} does not parse:\n{text}\n{diags:?}");
    ast
}

fn format(text: &str) -> String {
    format_file(&parse(text, "the input"), text)
}

#[test]
fn fixtures() {
    insta::glob!("../data/fmt", "*.stat", |path| {
        let text = std::fs::read_to_string(path).unwrap();
        let stem = path.file_stem().unwrap().to_string_lossy();
        snapshots_in(path.parent().unwrap(), || insta::assert_snapshot!(format!("{stem}.fmt"), format(&text)));
    });
}

/// The comments of `text` in order (`//` outside strings to the end of the line), their
/// trailing blanks left out: read line by line, apart from the formatter's own scan (a `///`
/// on a line of its own inside a declaration is beyond it).
fn comments(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for line in text.lines() {
        let mut in_string = false;
        for (i, c) in line.char_indices() {
            match c {
                '"' => in_string = !in_string,
                // `a /// b` is `a / b` and a comment: a doc comment only follows a `;`.
                '/' if line[i..].starts_with("///")
                    && !matches!(line[..i].trim_end().chars().last(), None | Some(';')) => {}
                '/' if !in_string && line[i..].starts_with("//") => {
                    out.push(line[i..].trim_end());
                    break;
                }
                _ => {}
            }
        }
    }
    out
}

/// What formatting promises for a text that parses: the result parses to the same AST,
/// keeps every comment in order, has no line with trailing blanks, and is its own format.
fn assert_formats_well(text: &str, what: &str) {
    let ast = parse(text, what);
    let once = format_file(&ast, text);
    let again = parse(&once, &format!("the format of {what}"));
    assert_eq!(erase(ast), erase(again.clone()), "formatting {what} changed the AST:\n{once}");
    assert_eq!(comments(text), comments(&once), "formatting {what} lost or moved comments:\n{once}");
    assert!(once.lines().all(|l| l.trim_end() == l), "trailing blanks in the format of {what}:\n{once}");
    assert!(once.is_empty() || (once.ends_with('\n') && !once.ends_with("\n\n")), "{what}: bad end:\n{once:?}");
    assert!(!once.starts_with('\n'), "{what}: a blank line first:\n{once}");
    let twice = format_file(&again, &once);
    assert_eq!(once, twice, "formatting {what} is not idempotent");
}

/// The fixtures, the shipped rules and examples, and every test rule file that parses.
fn rule_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for dir in ["tests/data", "rules", "docs/examples"] {
        files.extend(actorc::load::stat_files_in(Path::new(dir)).unwrap());
    }
    files
}

#[test]
fn every_rule_file_formats_well() {
    let mut checked = 0;
    for path in rule_files() {
        let Ok(text) = std::fs::read_to_string(&path) else { continue };
        let text = text.trim_start_matches('\u{feff}');
        if parse_file(FileId(0), text, ParseLimits::default()).1.is_empty() {
            assert_formats_well(text, &relative(&path).display().to_string());
            checked += 1;
        }
    }
    assert!(checked > 20, "only {checked} files checked");
}

/// A comment put between any two tokens of a fixture (before any blank) is kept, in order,
/// and the result is idempotent: a comment in any place a user could put one.
#[test]
fn a_comment_anywhere_is_kept() {
    let mut files: Vec<PathBuf> = actorc::load::stat_files_in(Path::new("tests/data/fmt")).unwrap();
    files.push("docs/examples/knight.stat".into());
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        let spots: Vec<usize> = text
            .char_indices()
            .filter(|&(i, c)| c.is_ascii_whitespace() && outside_comment_and_string(&text, i))
            .map(|(i, _)| i)
            .collect();
        for at in spots {
            for inserted in ["// note\n", "\n// note\n"] {
                let variant = format!("{}{inserted}{}", &text[..at], &text[at..]);
                assert_formats_well(&variant, &format!("{} with a comment at byte {at}", path.display()));
            }
        }
    }
}

/// Whether byte `at` of `text` is outside comments and strings.
fn outside_comment_and_string(text: &str, at: usize) -> bool {
    let line_start = text[..at].rfind('\n').map_or(0, |n| n + 1);
    let before = &text[line_start..at];
    !before.contains("//") && before.matches('"').count().is_multiple_of(2)
}

#[test]
fn numbers_keep_their_spelling_and_lines_their_width() {
    let text = "derived x = 0.050 + 1E3 * 007 in 0 .. 1000000;\n";
    assert_eq!(format(text), text);
    let long = format!("derived x = {} in 0 .. 1;\n", vec!["a * 2"; 30].join(" + "));
    let out = format(&long);
    assert!(out.lines().all(|l| l.chars().count() <= actorc::syntax::WIDTH), "{out}");
    assert!(out.lines().nth(1).unwrap().starts_with("    + a * 2"), "{out}");
}

#[test]
fn line_ends_and_tabs_are_normalized() {
    let text = "// a\r\nderived\tx = 1\r\n\tin 0 .. 1; // b\r\n\r\n\r\nprimary y;\r\n";
    assert_eq!(format(text), "// a\nderived x = 1\n  in 0 .. 1; // b\n\nprimary y;\n");
}

#[cfg(feature = "cli")]
mod cli {
    use crate::common::actorc;
    use std::path::{Path, PathBuf};

    /// A fresh folder holding `files` (name, text).
    fn folder(name: &str, files: &[(&str, &str)]) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("actorc-fmt-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for (file, text) in files {
            std::fs::write(dir.join(file), text).unwrap();
        }
        dir
    }

    fn read(dir: &Path, file: &str) -> String {
        std::fs::read_to_string(dir.join(file)).unwrap()
    }

    const UGLY: &str = "derived  x=1   in 0..1 ;\n";
    const PRETTY: &str = "derived x = 1 in 0 .. 1;\n";

    /// What CI runs: the shipped rules, examples and `actorc init`'s templates are formatted.
    #[test]
    fn shipped_rules_are_formatted() {
        let out = actorc(&["fmt", "--check", "rules", "docs/examples", "templates"], "");
        assert_eq!((out.code, out.stdout.as_str()), (0, ""), "{}", out.stderr);
        assert_eq!(out.stderr, "0 of 15 files would be reformatted\n");
    }

    #[test]
    fn check_lists_what_would_change_and_changes_nothing() {
        let dir = folder("check", &[("a.stat", UGLY), ("b.stat", PRETTY)]);
        let d = dir.to_str().unwrap();
        let out = actorc(&["fmt", "--check", d], "");
        assert_eq!(out.code, 1);
        assert_eq!(out.stdout, format!("{}\n", dir.join("a.stat").display()));
        assert_eq!(
            out.stderr,
            "  line 1:\n  - derived  x=1   in 0..1 ;\n  + derived x = 1 in 0 .. 1;\n1 of 2 files would be reformatted\n"
        );
        assert_eq!(read(&dir, "a.stat"), UGLY);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn rewrites_files_that_change() {
        let dir = folder("write", &[("a.stat", UGLY), ("b.stat", PRETTY)]);
        std::fs::create_dir(dir.join("sub")).unwrap();
        std::fs::write(dir.join("sub/c.stat"), UGLY).unwrap();
        std::fs::write(dir.join("sub/notes.txt"), UGLY).unwrap();
        let d = dir.to_str().unwrap();
        let out = actorc(&["fmt", d], "");
        assert_eq!((out.code, out.stdout.as_str(), out.stderr.as_str()), (0, "", "reformatted 2 of 3 files\n"));
        assert_eq!(read(&dir, "a.stat"), PRETTY);
        assert_eq!(read(&dir, "sub/c.stat"), PRETTY);
        assert_eq!(read(&dir, "sub/notes.txt"), UGLY);
        let names: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names.len(), 3, "a temporary file is left: {names:?}");
        let again = actorc(&["fmt", "--check", d], "");
        assert_eq!(again.code, 0, "{}", again.stderr);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn standard_input_to_standard_output() {
        let out = actorc(&["fmt", "-"], UGLY);
        assert_eq!((out.code, out.stdout.as_str(), out.stderr.as_str()), (0, PRETTY, ""));
        let same = actorc(&["fmt", "-"], PRETTY);
        assert_eq!((same.code, same.stdout.as_str()), (0, PRETTY));
        let check = actorc(&["fmt", "--check", "-"], UGLY);
        assert_eq!((check.code, check.stdout.as_str()), (1, "<stdin>\n"));
        let clean = actorc(&["fmt", "--check", "-"], PRETTY);
        assert_eq!((clean.code, clean.stdout.as_str()), (0, ""));
    }

    #[test]
    fn a_file_with_syntax_errors_is_reported_and_left_alone() {
        let broken = "derived x = 1 +;\nderived  y = 2;\n";
        let dir = folder("broken", &[("broken.stat", broken), ("ok.stat", UGLY)]);
        let d = dir.to_str().unwrap();
        let out = actorc(&["fmt", "--color", "never", d], "");
        assert_eq!(out.code, 1);
        assert!(out.stderr.contains("error[E0001]"), "{}", out.stderr);
        assert!(out.stderr.contains("broken.stat: not formatted (syntax errors)"), "{}", out.stderr);
        assert_eq!(read(&dir, "broken.stat"), broken);
        assert_eq!(read(&dir, "ok.stat"), PRETTY, "the other files are formatted");
        let stdin = actorc(&["fmt", "-"], broken);
        assert_eq!((stdin.code, stdin.stdout.as_str()), (1, ""));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn usage_and_limits() {
        let missing = actorc(&["fmt", "no/such/folder"], "");
        assert_eq!((missing.code, missing.stderr.as_str()), (2, "error: no/such/folder does not exist\n"));
        let dir = folder("limit", &[("a.stat", UGLY)]);
        let file = dir.join("a.stat");
        let f = file.to_str().unwrap();
        let out = actorc(&["fmt", "--max-file-size", "8", f], "");
        assert_eq!(out.code, 2, "{}", out.stderr);
        assert!(out.stderr.contains("over the limit of 8 bytes"), "{}", out.stderr);
        assert_eq!(read(&dir, "a.stat"), UGLY);
        let bom = format!("\u{feff}{UGLY}");
        std::fs::write(&file, &bom).unwrap();
        assert_eq!(actorc(&["fmt", f], "").code, 0);
        assert_eq!(read(&dir, "a.stat"), format!("\u{feff}{PRETTY}"), "the byte-order mark is kept");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
