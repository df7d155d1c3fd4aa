//! The C ABI as C sees it: the committed header is what cbindgen makes of the code, and the
//! C example compiles against it with the system C compiler and runs.

use std::path::{Path, PathBuf};
use std::process::Command;

const MANIFEST: &str = env!("CARGO_MANIFEST_DIR");

/// The header as cbindgen writes it now.
fn generated_header() -> String {
    let config = cbindgen::Config::from_file(Path::new(MANIFEST).join("cbindgen.toml")).expect("cbindgen.toml");
    let bindings = cbindgen::Builder::new().with_crate(MANIFEST).with_config(config).generate().expect("bindings");
    let mut out = Vec::new();
    bindings.write(&mut out);
    String::from_utf8(out).expect("UTF-8")
}

/// `include/actorc.h` is current; `ACTORC_WRITE_HEADER=1` writes it.
#[test]
fn the_header_is_generated_from_the_code() {
    let path = Path::new(MANIFEST).join("include/actorc.h");
    let header = generated_header();
    if std::env::var_os("ACTORC_WRITE_HEADER").is_some() {
        std::fs::write(&path, &header).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(committed == header, "include/actorc.h is stale: run `ACTORC_WRITE_HEADER=1 cargo test -p actorc-ffi`");
}

/// The folder of this profile's build output (`target/debug`), where the static library is.
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().and_then(Path::parent).unwrap().to_path_buf()
}

/// The C example, compiled with `cc` against the static library, loads the example game,
/// evaluates an actor, changes its gear and prints the stats that changed.
#[test]
fn the_c_example_compiles_and_runs() {
    if Command::new("cc").arg("--version").output().is_err() {
        assert!(std::env::var_os("CI").is_none(), "CI must compile the C example: install a C compiler (cc)");
        eprintln!("skipped: no C compiler (cc)");
        return;
    }
    let lib = profile_dir().join("libactorc_ffi.a");
    assert!(lib.exists(), "{} is missing: `cargo build -p actorc-ffi` builds it", lib.display());
    let out_dir = std::env::temp_dir().join(format!("actorc-ffi-{}", std::process::id()));
    std::fs::create_dir_all(&out_dir).unwrap();
    let exe = out_dir.join("game");
    let root = Path::new(MANIFEST).parent().unwrap();
    let compiled = Command::new("cc")
        .args(["-std=c99", "-Wall", "-Wextra", "-Werror", "-o"])
        .arg(&exe)
        .arg(Path::new(MANIFEST).join("examples/game.c"))
        .arg("-I")
        .arg(Path::new(MANIFEST).join("include"))
        .arg(&lib)
        .args(["-lm", "-lpthread", "-ldl"])
        .output()
        .unwrap();
    assert!(compiled.status.success(), "cc failed:\n{}", String::from_utf8_lossy(&compiled.stderr));
    let run = Command::new(&exe).current_dir(root).output().unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "the example failed:\n{stdout}\n{}", String::from_utf8_lossy(&run.stderr));
    insta_free_compare(&stdout);
    let _ = std::fs::remove_dir_all(&out_dir);
}

/// The example's output, as committed in `examples/game.out`.
fn insta_free_compare(stdout: &str) {
    let path = Path::new(MANIFEST).join("examples/game.out");
    if std::env::var_os("ACTORC_WRITE_HEADER").is_some() {
        std::fs::write(&path, stdout).unwrap();
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    assert_eq!(stdout, expected, "examples/game.out differs from what the example printed");
}
