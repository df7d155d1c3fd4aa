//! `actorc explain`: a stat's rule, or how one actor's value came about.

use super::{Color, Exit, Format, LimitArgs, load_rules, open_input, print_json, print_out, usage_error, use_color};
use crate::explain::{self, ExplainError, explain_rule, render, render_rule, resolve};
use crate::input::InputLimits;
use crate::run::{DocumentReader, InputForm, PickError, pick_actor};
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
        Err(ExplainError::Eval(e)) => {
            // The steps up to the failure, then the error.
            match a.format {
                Format::Text => print_out(&render(&e))?,
                Format::Json => print_json(&e)?,
            }
            if let Some(f) = &e.failure {
                errln!("error: {}", f.error.message);
            }
            Ok(1)
        }
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
    pick_actor(reader, id, limits).map_err(|e| match e {
        PickError::Read(e) => cannot_read(e),
        // Bad actor data (exit 1), as in `run`.
        PickError::Input(e) => {
            errln!("error: {}: {e}", path.display());
            1
        }
        PickError::NotFound(want) => usage_error(&format!("actor `{want}` not found in {}", path.display())),
        PickError::Empty => usage_error(&format!("{} holds no actors", path.display())),
        PickError::Repeated(want) => usage_error(&format!("actor id `{want}` appears more than once")),
        PickError::Several(n) => usage_error(&format!("{} holds {n} actors: pick one with --actor ID", path.display())),
    })
}
