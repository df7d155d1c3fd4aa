//! `actorc init [DIR]`: writes a new game's starting point, the files of `templates/init/`
//! (rules, two actors, a balance test, a README), embedded so the binary needs no file of its
//! repository. Invariant: a file that exists is never overwritten without `--force`, and
//! every check comes before the first write, so a refused init writes nothing.

use super::{Exit, print_out, usage_error};
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug)]
pub(super) struct InitArgs {
    /// The new project's folder, created if missing; it may hold other files.
    #[arg(default_value = ".")]
    dir: PathBuf,
    /// The project's name, the title of its README (default: the folder's name).
    #[arg(long)]
    name: Option<String>,
    /// Overwrite the files of the template that already exist.
    #[arg(long)]
    force: bool,
}

/// The template: each file's path in the new project (with `/`) and its text.
const FILES: &[(&str, &str)] = &[
    ("README.md", include_str!("../../templates/init/README.md")),
    ("actors.ndjson", include_str!("../../templates/init/actors.ndjson")),
    ("rules/buckets.stat", include_str!("../../templates/init/rules/buckets.stat")),
    ("rules/stats.stat", include_str!("../../templates/init/rules/stats.stat")),
    ("rules/tests/starter.stat-test.toml", include_str!("../../templates/init/rules/tests/starter.stat-test.toml")),
];

/// What the README's title says until `init` names the project.
const NAME_PLACEHOLDER: &str = "{{name}}";

pub(super) fn init(a: InitArgs) -> Exit {
    let dir = &a.dir;
    if let Ok(meta) = std::fs::metadata(dir)
        && !meta.is_dir()
    {
        return Err(usage_error(&format!("{} exists and is not a folder", dir.display())));
    }
    let name = project_name(a.name.as_deref(), dir)?;
    // Every check first: a folder in the way, or files that exist (unless --force).
    let mut existing = Vec::new();
    for (file, _) in FILES {
        let path = dir.join(file);
        if let Some(blocked) = path.ancestors().skip(1).take_while(|p| *p != dir).find(|p| is_non_folder(p)) {
            return Err(usage_error(&format!("{} exists and is not a folder; nothing was written", blocked.display())));
        }
        match std::fs::symlink_metadata(&path) {
            Ok(meta) if meta.is_dir() => {
                return Err(usage_error(&format!("{} is a folder; nothing was written", path.display())));
            }
            Ok(_) => existing.push(*file),
            Err(_) => {}
        }
    }
    if !existing.is_empty() && !a.force {
        let list: Vec<String> = existing.iter().map(|f| format!("  {}", shown(dir, f))).collect();
        return Err(usage_error(&format!(
            "these files exist already; nothing was written (--force overwrites them):\n{}",
            list.join("\n")
        )));
    }
    for (file, text) in FILES {
        let path = dir.join(file);
        let text = if *file == "README.md" { text.replace(NAME_PLACEHOLDER, &name) } else { text.to_string() };
        let written = match path.parent() {
            Some(parent) => std::fs::create_dir_all(parent).and_then(|()| std::fs::write(&path, text)),
            None => std::fs::write(&path, text),
        };
        written.map_err(|e| usage_error(&format!("cannot write {}: {e}", path.display())))?;
    }
    print_out(&report(dir, &name, &existing))?;
    Ok(0)
}

/// `--name`, else the folder's own name (of the current folder for `.`), else a default.
fn project_name(given: Option<&str>, dir: &Path) -> Result<String, i32> {
    if let Some(name) = given {
        let name = name.trim();
        if name.is_empty() || name.contains(['\n', '\r']) {
            return Err(usage_error("--name must be one line of text"));
        }
        return Ok(name.to_string());
    }
    let absolute = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    // `a/.` and `a/b/..` name their folder by their last normal component.
    let mut parts: Vec<&std::ffi::OsStr> = Vec::new();
    for c in absolute.components() {
        match c {
            std::path::Component::Normal(n) => parts.push(n),
            std::path::Component::ParentDir => {
                parts.pop();
            }
            _ => {}
        }
    }
    Ok(parts.last().and_then(|n| n.to_str()).unwrap_or("my-game").to_string())
}

/// Whether something other than a folder (or a link to one) is at `path`.
fn is_non_folder(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok() && !std::fs::metadata(path).is_ok_and(|m| m.is_dir())
}

/// What was written, and the commands to try next.
fn report(dir: &Path, name: &str, overwritten: &[&str]) -> String {
    let here = is_here(dir);
    let mut out = format!("created the game `{name}`:\n");
    for (file, _) in FILES {
        let note = if overwritten.contains(file) { "  (overwritten)" } else { "" };
        out.push_str(&format!("  {}{note}\n", shown(dir, file)));
    }
    out.push_str("next:\n");
    if !here {
        out.push_str(&format!("  cd {}\n", dir.display()));
    }
    out.push_str(
        "  actorc check                       # check the rules
  actorc run --input actors.ndjson   # evaluate the actors
  actorc explain --input actors.ndjson --actor rogue --stat crit_chance
  actorc test                        # run the balance tests
",
    );
    out
}

/// Whether `dir` is the current folder as written (`.` or nothing).
fn is_here(dir: &Path) -> bool {
    dir.as_os_str().is_empty() || dir == Path::new(".")
}

/// A template file's path as the user wrote its folder: `rules/stats.stat`, `my-game/rules/stats.stat`.
fn shown(dir: &Path, file: &str) -> String {
    if is_here(dir) { file.to_string() } else { dir.join(file).display().to_string() }
}
