//! `actorc explain`: a stat's rule, or how one actor's value came about.

use super::{Color, Exit, Format, LimitArgs, load_rules, open_input, print_json, print_out, usage_error, use_color};
use crate::explain::{self, ExplainError, explain_rule, render, render_rule, resolve};
use crate::input::InputLimits;
use crate::run::{DocumentReader, InputForm, PickError, pick_actor, utf8_error};
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug)]
pub(super) struct ExplainArgs {
    /// The rule set: .stat files and folders, loaded together.
    #[arg(default_value = "rules")]
    rules: Vec<PathBuf>,
    /// The stat to explain.
    #[arg(long)]
    stat: String,
    /// An actor (JSON file) or a batch (NDJSON, pick one with --actor); `-` for standard input.
    /// Without it, the rule itself is explained.
    #[arg(long, short)]
    input: Option<PathBuf>,
    /// The id of the actor to explain, in an NDJSON batch.
    #[arg(long)]
    actor: Option<String>,
    /// Aligned text for people, or JSON for tools.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    color: Color,
    #[command(flatten)]
    limits: LimitArgs,
    #[command(flatten)]
    input_limits: super::run::InputLimitArgs,
}

pub(super) fn explain(a: ExplainArgs) -> Exit {
    let rules = load_rules(&a.rules, &a.limits, use_color(a.color))?;
    resolve(&rules.ir, &a.stat).map_err(|e| usage_error(&e.to_string()))?;
    let Some(input) = &a.input else {
        if a.actor.is_some() {
            return Err(usage_error("--actor needs --input"));
        }
        let r = explain_rule(&rules, &a.stat).map_err(|e| usage_error(&e.to_string()))?;
        match a.format {
            Format::Text => print_out(&render_rule(&r))?,
            Format::Json => print_json(&r)?,
        }
        return Ok(0);
    };
    let actor = read_actor(input, a.actor.as_deref(), &a.input_limits.limits())?;
    match explain::explain(&rules, &actor, &a.stat) {
        Ok((e, _)) => {
            match a.format {
                Format::Text => print_out(&render(&e))?,
                Format::Json => print_json(&e)?,
            }
            Ok(0)
        }
        Err(e @ ExplainError::UnknownStat(_)) => Err(usage_error(&e.to_string())),
        Err(e) => {
            errln!("error: {e}");
            Ok(1)
        }
    }
}

/// The actor to explain from a JSON or NDJSON input: `Err(code)` after printing why.
fn read_actor(path: &Path, id: Option<&str>, limits: &InputLimits) -> Result<crate::input::Actor, i32> {
    let cannot_read = |e: std::io::Error| usage_error(&format!("cannot read {}: {e}", path.display()));
    let reader =
        DocumentReader::new(open_input(path)?, InputForm::of_path(path), limits.max_line_bytes).map_err(cannot_read)?;
    let docs = reader.collect::<Result<Vec<_>, _>>().map_err(cannot_read)?;
    // The input limits of `run`: a document over the size limit was not read whole.
    if let Some(Err(e)) = docs.iter().find(|d| d.len > limits.max_line_bytes as u64).map(|d| d.parse(limits)) {
        errln!("error: {e}");
        return Err(1);
    }
    // Input that is not UTF-8 is bad actor data (exit 1), not an I/O error.
    if let Some(e) = docs.iter().find_map(|d| utf8_error(&d.bytes, d.line.unwrap_or(1))) {
        errln!("error: {}: {e}", path.display());
        return Err(1);
    }
    pick_actor(&docs, id).map_err(|e| match e {
        PickError::Input(e) => {
            errln!("error: {e}");
            1
        }
        PickError::NotFound(want) => usage_error(&format!("actor `{want}` not found in {}", path.display())),
        PickError::Empty => usage_error(&format!("{} holds no actors", path.display())),
        PickError::Repeated(want) => usage_error(&format!("actor id `{want}` appears more than once")),
        PickError::Several(n) => usage_error(&format!("{} holds {n} actors: pick one with --actor ID", path.display())),
    })
}
