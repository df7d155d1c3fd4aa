//! Helpers shared by the test modules: paths relative to the package, snapshots beside
//! their fixtures, and running the `actorc` binary.

use std::path::{Path, PathBuf};

/// The path relative to the package, so snapshots do not depend on the checkout location.
pub fn relative(path: &Path) -> PathBuf {
    path.strip_prefix(env!("CARGO_MANIFEST_DIR")).unwrap_or(path).to_path_buf()
}

/// Runs `f` with its insta snapshots stored in the folder `dir`, named as asserted (no
/// module prefix, no suffix): fixtures keep their snapshots beside them.
pub fn snapshots_in(dir: &Path, f: impl FnOnce()) {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(dir);
    settings.set_prepend_module_to_snapshot(false);
    settings.remove_snapshot_suffix();
    settings.bind(f);
}

/// What a run of the binary gave.
#[cfg(feature = "cli")]
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs the `actorc` binary with `args`, `stdin` as its standard input.
#[cfg(feature = "cli")]
pub fn actorc(args: &[&str], stdin: &str) -> Output {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_actorc"))
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Feed stdin from another thread so a large batch cannot deadlock against a full stdout
    // pipe; the process may exit before reading its input (usage errors): ignore a broken pipe.
    let mut pipe = child.stdin.take().unwrap();
    let input = stdin.to_string();
    let feeder = std::thread::spawn(move || {
        let _ = std::io::Write::write_all(&mut pipe, input.as_bytes());
    });
    let out = child.wait_with_output().unwrap();
    feeder.join().unwrap();
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}
