//! `actorc init`: the project it writes checks, runs, tests and is formatted as written; it
//! is the template folder `templates/init/` itself; and a refused init (files in the way, a
//! folder that is a file or cannot be written) exits 2 with a message and writes nothing.

use std::path::{Path, PathBuf};

/// What a run of the binary gave: exit code, standard output, standard error.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `actorc args` in the folder `dir`.
pub fn actorc_in(dir: &Path, args: &[&str]) -> Run {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_actorc"))
        .args(args)
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A fresh, empty folder of this process for `name`.
pub fn temp_folder(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("actorc-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The template's files, relative to `templates/init/`, sorted.
fn template_files() -> Vec<String> {
    fn walk(dir: &Path, base: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, base, out);
            } else {
                out.push(path.strip_prefix(base).unwrap().to_string_lossy().replace('\\', "/"));
            }
        }
    }
    let base = Path::new("templates/init");
    let mut files = Vec::new();
    walk(base, base, &mut files);
    files.sort();
    files
}

#[track_caller]
fn assert_ok(run: &Run, what: &str) {
    assert_eq!(run.code, 0, "{what}:\n{}{}", run.stdout, run.stderr);
}

#[test]
fn the_new_project_checks_runs_tests_and_is_formatted() {
    let root = temp_folder("init-clean");
    let init = actorc_in(&root, &["init", "my-game"]);
    assert_ok(&init, "init");
    assert!(init.stdout.starts_with("created the game `my-game`:\n  my-game/README.md\n"), "{}", init.stdout);
    assert!(init.stdout.contains("next:\n  cd my-game\n  actorc check"), "{}", init.stdout);
    let game = root.join("my-game");
    let readme = std::fs::read_to_string(game.join("README.md")).unwrap();
    assert!(readme.starts_with("# my-game\n") && !readme.contains("{{name}}"), "{readme}");

    let check = actorc_in(&game, &["check"]);
    assert_ok(&check, "check");
    assert!(check.stderr.contains("0 errors, 0 warnings"), "{}", check.stderr);
    let run = actorc_in(&game, &["run", "--input", "actors.ndjson", "--quiet"]);
    assert_ok(&run, "run");
    assert_eq!(run.stdout.lines().count(), 2, "{}", run.stdout);
    assert!(run.stdout.lines().all(|l| l.contains("\"snapshot\"")), "{}", run.stdout);
    let explain =
        actorc_in(&game, &["explain", "--input", "actors.ndjson", "--actor", "rogue", "--stat", "crit_chance"]);
    assert_ok(&explain, "explain");
    let test = actorc_in(&game, &["test"]);
    assert_ok(&test, "test");
    assert!(test.stdout.ends_with(" passed, 0 failed\n"), "{}", test.stdout);
    assert_ok(&actorc_in(&game, &["fmt", "--check"]), "fmt --check");
    std::fs::remove_dir_all(root).unwrap();
}

/// The binary embeds the template folder: init writes exactly its files (the README named).
#[test]
fn init_writes_the_template_folder() {
    let dir = temp_folder("init-template");
    assert_ok(&actorc_in(&dir, &["init", "--name", "Dragon Keep"]), "init .");
    let files = template_files();
    assert!(files.len() >= 5, "{files:?}");
    for file in &files {
        let want = std::fs::read_to_string(Path::new("templates/init").join(file)).unwrap();
        let got = std::fs::read_to_string(dir.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(got, want.replace("{{name}}", "Dragon Keep"), "{file}");
    }
    // The template runs as it is, too: `actorc test templates/init/rules` from the package.
    assert_ok(&actorc_in(Path::new("."), &["test", "templates/init/rules"]), "test templates/init/rules");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn refuses_to_overwrite_and_writes_nothing() {
    let dir = temp_folder("init-refuse");
    std::fs::write(dir.join("notes.txt"), "other files may stay\n").unwrap();
    std::fs::write(dir.join("README.md"), "mine\n").unwrap();
    let refused = actorc_in(&dir, &["init"]);
    assert_eq!(refused.code, 2, "{}{}", refused.stdout, refused.stderr);
    assert_eq!(
        refused.stderr,
        "error: these files exist already; nothing was written (--force overwrites them):\n  README.md\n"
    );
    assert_eq!(std::fs::read_to_string(dir.join("README.md")).unwrap(), "mine\n");
    assert!(!dir.join("rules").exists() && !dir.join("actors.ndjson").exists());

    let forced = actorc_in(&dir, &["init", "--force"]);
    assert_ok(&forced, "init --force");
    assert!(forced.stdout.contains("  README.md  (overwritten)\n  actors.ndjson\n"), "{}", forced.stdout);
    assert_ne!(std::fs::read_to_string(dir.join("README.md")).unwrap(), "mine\n");
    assert_eq!(std::fs::read_to_string(dir.join("notes.txt")).unwrap(), "other files may stay\n");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_folder_that_cannot_be_written_is_a_usage_error() {
    let dir = temp_folder("init-bad");
    std::fs::write(dir.join("a-file"), "").unwrap();
    let file = actorc_in(&dir, &["init", "a-file"]);
    assert_eq!((file.code, file.stderr.as_str()), (2, "error: a-file exists and is not a folder\n"));
    let below = actorc_in(&dir, &["init", "a-file/game"]);
    assert_eq!(below.code, 2);
    assert!(below.stderr.starts_with("error: cannot write a-file/game/README.md: "), "{}", below.stderr);
    // A file where the template needs a folder: refused before anything is written.
    std::fs::create_dir(dir.join("game")).unwrap();
    std::fs::write(dir.join("game/rules"), "").unwrap();
    let blocked = actorc_in(&dir, &["init", "game"]);
    assert_eq!(blocked.stderr, "error: game/rules exists and is not a folder; nothing was written\n");
    assert_eq!((blocked.code, std::fs::read_dir(dir.join("game")).unwrap().count()), (2, 1));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let locked = dir.join("locked");
        std::fs::create_dir(&locked).unwrap();
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o555)).unwrap();
        // Permissions do not stop root: then only the message's shape is left to check.
        let enforced = std::fs::write(locked.join("probe"), "").is_err();
        let run = actorc_in(&dir, &["init", "locked"]);
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o755)).unwrap();
        if enforced {
            assert_eq!(run.code, 2, "{}", run.stdout);
            assert!(run.stderr.starts_with("error: cannot write locked/README.md: "), "{}", run.stderr);
        }
    }
    std::fs::remove_dir_all(dir).unwrap();
}
