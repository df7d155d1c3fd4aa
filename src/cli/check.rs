//! `actorc check`: diagnostics, costs and the IR of rule sets.

use super::{Color, Exit, Format, LimitArgs, print_diagnostics, print_json, print_out, shown, usage_error, use_color};
use crate::diag;
use crate::load::stat_files_in;
use crate::rules::{Analysis, compile};
use clap::ValueEnum;
use std::path::{Path, PathBuf};

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub(super) enum Emit {
    /// The lowered IR as stable text.
    Ir,
}

#[derive(clap::Args, Debug)]
pub(super) struct CheckArgs {
    /// Rule sets: a .stat file, or a folder of them. A folder without .stat files of its own
    /// holds one rule set per subfolder.
    #[arg(default_value = "rules")]
    paths: Vec<PathBuf>,
    /// How to print diagnostics.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Also print a compiled form of each clean rule set.
    #[arg(long, value_enum)]
    emit: Option<Emit>,
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    color: Color,
    #[command(flatten)]
    limits: LimitArgs,
    /// Print each stat's worst-case cost (operations per actor).
    #[arg(long)]
    cost: bool,
    /// Reject rule sets whose worst-case cost for an actor exceeds this many operations.
    /// Implies --sandbox: rules vetted for their cost come from someone else.
    #[arg(long)]
    max_cost: Option<u64>,
    /// Contributions per actor assumed by --max-cost.
    #[arg(long, default_value_t = 4096)]
    cost_contributions: u64,
}

/// The rule sets named by `paths`: a folder with no `.stat` files of its own stands for each
/// of its subfolders.
fn rule_sets(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    for p in paths {
        if !p.is_dir() {
            if !p.exists() {
                return Err(format!("{} does not exist", p.display()));
            }
            out.push(p.clone());
            continue;
        }
        let own = std::fs::read_dir(p)
            .map_err(|e| format!("cannot read folder {}: {e}", p.display()))?
            .filter_map(Result::ok)
            .any(|e| e.path().is_file() && e.path().extension().is_some_and(|x| x == "stat"));
        if own {
            out.push(p.clone());
            continue;
        }
        let mut subs: Vec<PathBuf> = std::fs::read_dir(p)
            .map_err(|e| format!("cannot read folder {}: {e}", p.display()))?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|s| s.is_dir() && stat_files_in(s).is_ok_and(|f| !f.is_empty()))
            .collect();
        if subs.is_empty() {
            return Err(format!("{} holds no .stat files", p.display()));
        }
        subs.sort();
        out.extend(subs);
    }
    Ok(out)
}

pub(super) fn check(a: CheckArgs) -> Exit {
    let sets = rule_sets(&a.paths).map_err(|e| usage_error(&e.to_string()))?;
    let color = use_color(a.color);
    let mut any_error = false;
    let mut json = Vec::new();
    let mut options = a.limits.options();
    options.sandbox |= a.max_cost.is_some();
    for set in &sets {
        let mut analysis = compile(std::slice::from_ref(set), &options).map_err(|e| usage_error(&e.to_string()))?;
        let cost = analysis.ir.as_ref().map(crate::cost::cost);
        if let (Some(ir), Some(c), Some(budget)) = (&analysis.ir, &cost, a.max_cost)
            && let Some(d) = crate::cost::over_budget(ir, c, budget, a.cost_contributions)
        {
            analysis.diagnostics.push(d);
        }
        any_error |= analysis.has_errors();
        match a.format {
            Format::Text => {
                print_diagnostics(&analysis.sources, &analysis.diagnostics, color, a.limits.error_limit);
                let mut line = summary(set, &analysis);
                if let Some(c) = &cost {
                    let per = crate::cost::per_contribution_text(c);
                    line.push_str(&format!(", cost ≤ {} + {per} per contribution", c.fixed));
                }
                errln!("{line}");
                if let (true, Some(c)) = (a.cost, &cost) {
                    print_out(&cost_table(c))?;
                }
            }
            Format::Json => {
                let n = shown(&analysis.diagnostics, a.limits.error_limit);
                let mut record = serde_json::json!({
                    "rule_set": set.display().to_string(),
                    "diagnostics": diag::to_json(&analysis.sources, &analysis.diagnostics[..n]),
                    "cost": cost,
                });
                if n < analysis.diagnostics.len() {
                    record["not_shown"] = (analysis.diagnostics.len() - n).into();
                }
                json.push(record);
            }
        }
        if let (Some(Emit::Ir), Some(ir)) = (a.emit, &analysis.ir) {
            print_out(&crate::ir::dump(ir))?;
        }
    }
    if a.format == Format::Json {
        print_json(&json)?;
    }
    Ok(i32::from(any_error))
}

/// Each stat's cost, then the rule set's; with stacking, the ⌈log2 n⌉ part in its own column.
fn cost_table(c: &crate::cost::Cost) -> String {
    let log = c.per_contribution_log > 0;
    let row = |stat: &str, fixed: u64, per: String, per_log: u64| {
        let mut line = format!("{stat:<32} {fixed:>10} {per:>18}");
        if log {
            line.push_str(&format!(" {per_log:>22}"));
        }
        line + "\n"
    };
    let mut table = format!("{:<32} {:>10} {:>18}", "stat", "fixed", "per contribution");
    if log {
        table.push_str(&format!(" {:>22}", "per contribution level"));
    }
    table.push('\n');
    for s in &c.stats {
        let per = match &s.view_of {
            Some(source) => format!("(in {source})"),
            None => s.per_contribution.to_string(),
        };
        table.push_str(&row(&s.stat, s.fixed, per, s.per_contribution_log));
    }
    table + &row("(rule set)", c.fixed, c.per_contribution.to_string(), c.per_contribution_log)
}

fn summary(set: &Path, c: &Analysis) -> String {
    let errors = c.diagnostics.iter().filter(|d| d.is_error()).count();
    let warnings = c.diagnostics.len() - errors;
    let plural = |n: usize, w: &str| format!("{n} {w}{}", if n == 1 { "" } else { "s" });
    let stats = c.ir.as_ref().map_or(String::new(), |ir| format!(", {}", plural(ir.stats.len(), "stat")));
    format!("checked {}: {}, {}{stats}", set.display(), plural(errors, "error"), plural(warnings, "warning"))
}
