//! `actorc graph`: the stat dependency graph as Graphviz DOT or JSON.

use super::{Color, Exit, LimitArgs, load_rules, print_json, print_out, usage_error, use_color};
use clap::ValueEnum;
use std::path::PathBuf;

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub(super) enum GraphFormat {
    Dot,
    Json,
}

#[derive(clap::Args, Debug)]
pub(super) struct GraphArgs {
    /// The rule set: .stat files and folders, loaded together.
    #[arg(default_value = "rules")]
    rules: Vec<PathBuf>,
    #[arg(long, value_enum, default_value_t = GraphFormat::Dot)]
    format: GraphFormat,
    /// Keep only this stat, the stats it reads (transitively) and the stats reading it.
    #[arg(long)]
    stat: Option<String>,
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    color: Color,
    #[command(flatten)]
    limits: LimitArgs,
}

pub(super) fn graph(a: GraphArgs) -> Exit {
    let rules = load_rules(&a.rules, &a.limits, use_color(a.color))?;
    let g = crate::graph::graph(&rules, a.stat.as_deref()).map_err(|e| usage_error(&e.to_string()))?;
    match a.format {
        GraphFormat::Dot => print_out(&crate::graph::to_dot(&g))?,
        GraphFormat::Json => print_json(&g)?,
    }
    Ok(0)
}
