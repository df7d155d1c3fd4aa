//! `actorc fmt`: rewrites rule files in their canonical layout ([`format_file`]), or with
//! `--check` lists those that are not in it. A file with syntax errors is reported and left
//! alone; a byte-order mark is kept. A rewrite is atomic: the text goes to a temporary file in the same folder, which
//! then replaces the file.

use super::{Color, Exit, LimitArgs, print_diagnostics, print_out, usage_error, use_color};
use crate::load::{Loaded, parse_bytes, read_bounded, stat_files_in};
use crate::syntax::format_file;
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug)]
pub(super) struct FmtArgs {
    /// .stat files, or folders (every .stat file under them). `-` formats standard input to
    /// standard output. Default: the current folder.
    paths: Vec<PathBuf>,
    /// Change nothing: list the files that are not formatted, and exit 1 if there are any.
    #[arg(long)]
    check: bool,
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    color: Color,
    #[command(flatten)]
    limits: LimitArgs,
}

/// What is formatted: a file, or standard input.
#[derive(Debug, PartialEq, Eq)]
enum Target {
    File(PathBuf),
    Stdin,
}

const BYTE_ORDER_MARK: &str = "\u{feff}";

/// The name standard input goes by in messages.
const STDIN_NAME: &str = "<stdin>";

pub(super) fn fmt(a: FmtArgs) -> Exit {
    let targets = targets(&a.paths).map_err(|e| usage_error(&e))?;
    let color = use_color(a.color);
    let mut code = 0;
    let (mut files, mut changed) = (0, 0);
    for target in &targets {
        let result = match target {
            Target::Stdin => format_stdin(&a, color),
            Target::File(path) => {
                files += 1;
                format_path(path, &a, color)
            }
        };
        match result {
            Ok(false) => {}
            Ok(true) => {
                changed += usize::from(matches!(target, Target::File(_)));
                code = code.max(i32::from(a.check));
            }
            Err(c) => code = code.max(c),
        }
    }
    if files > 0 {
        let plural = if files == 1 { "" } else { "s" };
        match a.check {
            true => errln!("{changed} of {files} file{plural} would be reformatted"),
            false => errln!("reformatted {changed} of {files} file{plural}"),
        }
    }
    Ok(code)
}

/// The files under `paths`, in order, each once; the current folder when there are none.
fn targets(paths: &[PathBuf]) -> Result<Vec<Target>, String> {
    let here = [PathBuf::from(".")];
    let paths = if paths.is_empty() { &here[..] } else { paths };
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for p in paths {
        if p.as_os_str() == "-" {
            if out.contains(&Target::Stdin) {
                return Err("`-` (standard input) is given twice".into());
            }
            out.push(Target::Stdin);
            continue;
        }
        let files = if p.is_dir() {
            stat_files_in(p).map_err(|e| format!("cannot read folder {}: {e}", p.display()))?
        } else if p.exists() {
            vec![p.clone()]
        } else {
            return Err(format!("{} does not exist", p.display()));
        };
        for f in files {
            let f = f.strip_prefix(".").map_or(f.clone(), Path::to_path_buf);
            if seen.insert(std::fs::canonicalize(&f).unwrap_or_else(|_| f.clone())) {
                out.push(Target::File(f));
            }
        }
    }
    Ok(out)
}

/// Formats one file: `Ok(true)` when it changes (or, with `--check`, would).
fn format_path(path: &Path, a: &FmtArgs, color: bool) -> Result<bool, i32> {
    let limit = a.limits.max_file_size;
    let bytes = read_bounded(path, limit).map_err(|e| usage_error(&format!("cannot read {}: {e}", path.display())))?;
    if bytes.len() as u64 > limit {
        return Err(too_large(path, limit));
    }
    let Some(formatted) = format_text(path, &bytes, a, color)? else { return Ok(false) };
    if a.check {
        print_out(&format!("{}\n", path.display()))?;
        err!("{}", first_difference(&String::from_utf8_lossy(&bytes), &formatted));
    } else {
        write_atomically(path, &formatted)
            .map_err(|e| usage_error(&format!("cannot write {}: {e}", path.display())))?;
    }
    Ok(true)
}

/// Formats standard input to standard output (nothing with `--check`): `Ok(true)` when
/// the text changes.
fn format_stdin(a: &FmtArgs, color: bool) -> Result<bool, i32> {
    let limit = a.limits.max_file_size;
    let mut bytes = Vec::new();
    std::io::stdin()
        .lock()
        .take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| usage_error(&format!("cannot read standard input: {e}")))?;
    if bytes.len() as u64 > limit {
        return Err(too_large(Path::new(STDIN_NAME), limit));
    }
    let formatted = format_text(Path::new(STDIN_NAME), &bytes, a, color)?;
    let changed = formatted.is_some();
    if a.check {
        if changed {
            print_out(&format!("{STDIN_NAME}\n"))?;
        }
    } else {
        let text = formatted.unwrap_or_else(|| String::from_utf8_lossy(&bytes).into_owned());
        print_out(&text)?;
    }
    Ok(changed)
}

fn too_large(path: &Path, limit: u64) -> i32 {
    usage_error(&format!("{} is over the limit of {limit} bytes (--max-file-size)", path.display()))
}

/// The canonical text of `bytes` when it differs from them. A file that is not UTF-8 or
/// has syntax errors gets its diagnostics printed, and `Err(1)`.
fn format_text(name: &Path, bytes: &[u8], a: &FmtArgs, color: bool) -> Result<Option<String>, i32> {
    let mut loaded = Loaded::default();
    let (file, ast) = parse_bytes(&mut loaded, name, bytes.to_vec(), &a.limits.options());
    if loaded.diags.iter().any(|d| d.is_error()) {
        print_diagnostics(&loaded.sources, &loaded.diags, color, a.limits.error_limit);
        errln!("{}: not formatted (syntax errors)", name.display());
        return Err(1);
    }
    let mut formatted = format_file(&ast, &loaded.sources.get(file).text);
    // The loader drops a byte-order mark; the file keeps it.
    if bytes.starts_with(BYTE_ORDER_MARK.as_bytes()) {
        formatted.insert_str(0, BYTE_ORDER_MARK);
    }
    Ok((formatted.as_bytes() != bytes).then_some(formatted))
}

/// Replaces the file at `path` (or, through a link, the file it leads to) with `text`: the
/// text is written to a new file in the same folder, with the old one's permissions, which
/// is then renamed over it, so the file is never half written.
fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let target = std::fs::canonicalize(path)?;
    let name = target.file_name().map_or_else(|| "stat".into(), |n| n.to_string_lossy());
    let temp = target.with_file_name(format!(".{name}.fmt-{}.tmp", std::process::id()));
    let written = (|| {
        let mut f = std::fs::File::create_new(&temp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        std::fs::set_permissions(&temp, std::fs::metadata(&target)?.permissions())?;
        std::fs::rename(&temp, &target)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written
}

/// The first lines that differ between `old` and `new`, for `--check`: the line number, then
/// up to 3 removed (`-`) and 3 added (`+`) lines.
fn first_difference(old: &str, new: &str) -> String {
    const SHOWN: usize = 3;
    let (old, new): (Vec<&str>, Vec<&str>) = (old.lines().collect(), new.lines().collect());
    let head = old.iter().zip(&new).take_while(|(o, n)| o == n).count();
    let most = old.len().min(new.len()) - head;
    let tail = old.iter().rev().zip(new.iter().rev()).take(most).take_while(|(o, n)| o == n).count();
    let (removed, added) = (&old[head..old.len() - tail], &new[head..new.len() - tail]);
    if removed.is_empty() && added.is_empty() {
        return "  line endings, blanks at line ends or the end of the file change\n".into();
    }
    let mut out = format!("  line {}:\n", head + 1);
    for (sign, lines) in [('-', removed), ('+', added)] {
        for l in lines.iter().take(SHOWN) {
            out.push_str(&format!("  {sign} {l}\n"));
        }
        if lines.len() > SHOWN {
            out.push_str(&format!("  {sign} … ({} more)\n", lines.len() - SHOWN));
        }
    }
    out
}
