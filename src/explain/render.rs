//! Text rendering of explanations: aligned sections for people (the JSON form is the
//! model's `Serialize`).

use super::model::*;
use crate::eval::Phase;
use std::fmt::Write;

/// `A = 1, B = 2`.
fn constants_text(list: &[ConstantValue]) -> String {
    list.iter().map(|c| format!("{} = {}", c.name, fmt_num(c.value))).collect::<Vec<_>>().join(", ")
}

/// Shortest text that reads back as the same number; `inf`, `-inf`.
pub fn fmt_num(v: f64) -> String {
    if v.is_infinite() {
        return if v > 0.0 { "inf".into() } else { "-inf".into() };
    }
    format!("{v}")
}

// ---------------------------------------------------------------------------------------
// Text.

/// Left-aligned columns, two spaces apart, each line indented by `indent`.
fn table(out: &mut String, indent: &str, rows: &[Vec<String>]) {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> =
        (0..cols).map(|c| rows.iter().filter_map(|r| r.get(c)).map(|s| s.chars().count()).max().unwrap_or(0)).collect();
    for r in rows {
        let mut line = String::from(indent);
        for (c, cell) in r.iter().enumerate() {
            if c + 1 == r.len() {
                line.push_str(cell);
            } else {
                let pad = widths[c] - cell.chars().count();
                line.push_str(cell);
                line.push_str(&" ".repeat(pad + 2));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
}

/// The rule as a designer would read it.
pub fn render_rule(r: &RuleExplanation) -> String {
    let mut out = String::new();
    write_rule(&mut out, r).expect(INFALLIBLE);
    out
}

/// The `expect` message of writes into a `String`, which cannot fail.
const INFALLIBLE: &str = "a String accepts every write";

fn write_rule(out: &mut String, r: &RuleExplanation) -> std::fmt::Result {
    writeln!(out, "{} {}  ({})", r.category, r.stat, r.location)?;
    for d in &r.doc {
        writeln!(out, "  /// {}", d.trim())?;
    }
    if let Some(v) = &r.view {
        writeln!(out, "  {}", view_line(r, v))?;
        let (source, at) = (&v.source, &v.source_location);
        let tags = v.tags.iter().map(|t| format!("`{t}`")).collect::<Vec<_>>().join(", ");
        writeln!(out, "  {source}'s rule ({at}), evaluated with {tags} added to the actor's tags")?;
    }
    writeln!(out, "\n  {}", r.whiteboard)?;
    if r.whiteboard.contains(" ?? ") {
        writeln!(out, "  (`a ?? b` is a when its bucket or operator has contributions, else b)")?;
    }
    out.push('\n');
    let mut rows = Vec::new();
    let base = match r.base.source {
        "formula" => format!("base = {}", r.base.text),
        "default" => format!("base = {} (default)", r.base.text),
        _ => "base = 0".to_string(),
    };
    rows.push(vec!["1.".into(), base, String::new()]);
    let mut n = 2;
    if let Some(p) = &r.pipeline {
        for s in &p.steps {
            rows.push(vec![format!("{n}."), format!("{} (fold {}): {}", s.bucket, s.fold, s.step), s.location.clone()]);
            n += 1;
        }
    }
    if let Some(op) = r.operator {
        rows.push(vec![format!("{n}."), format!("value = {op} of all contributions (bucket ignored)"), String::new()]);
        n += 1;
    }
    rows.push(vec![
        format!("{n}."),
        format!("caps: per layer, then across layers (policy {})", r.policy),
        r.layers.first().map_or(String::new(), |l| l.location.clone()),
    ]);
    rows.push(vec![
        format!("{}.", n + 1),
        format!("clamp to the stat's range {} .. {} and the caps", r.range.min, r.range.max),
        r.location.clone(),
    ]);
    writeln!(out, "  steps:")?;
    table(out, "    ", &rows);
    if let Some(p) = &r.pipeline {
        writeln!(out, "  pipeline {}  ({})", p.name, p.location)?;
    }
    if !r.base.reads.is_empty() {
        writeln!(out, "  formula reads: {}", r.base.reads.join(", "))?;
    }
    if !r.range.reads.is_empty() {
        writeln!(out, "  range reads: {}", r.range.reads.join(", "))?;
    }
    for (what, list) in [("formula", &r.base.constants), ("range", &r.range.constants)] {
        if !list.is_empty() {
            writeln!(out, "  {what} constants: {}", constants_text(list))?;
        }
    }
    let layers: Vec<String> = r
        .layers
        .iter()
        .map(|l| {
            let mut s = l.layer.clone();
            if l.requires_realm {
                s.push_str(" (requires realm)");
            }
            if l.unscoped {
                s.push_str(" (unscoped)");
            }
            s
        })
        .collect();
    if !layers.is_empty() {
        writeln!(out, "  layers: {}", layers.join(", "))?;
    }
    if !r.views.is_empty() {
        writeln!(out, "  views: {}", r.views.join(", "))?;
    }
    Ok(())
}

/// `view fire_spell_damage = damage with fire, spell`, and the tags of its groups.
fn view_line(r: &RuleExplanation, v: &ViewRule) -> String {
    let mut line = format!("view {} = {} with {}", r.stat, v.source, v.with.join(", "));
    if v.with != v.tags {
        line.push_str(&format!("  (tags {})", v.tags.join(", ")));
    }
    line
}

fn tag_list(tags: &[String]) -> String {
    if tags.is_empty() { "(none)".into() } else { tags.join(", ") }
}

/// A contribution's stack as a cell: `frenzy`, or `unique "might"` with a key.
fn stack_cell(s: &Option<StackRef>) -> String {
    match s {
        None => String::new(),
        Some(s) if s.key.is_empty() => s.group.clone(),
        Some(s) => format!("{} {:?}", s.group, s.key),
    }
}

/// Why a contribution or cap does not apply, in words.
fn fate_text(f: &Fate) -> String {
    match f {
        Fate::Skipped { requirement } => match requirement.strip_prefix('!') {
            Some(name) => format!("skipped: requires {requirement}, and {name} holds in the context"),
            None => format!("skipped: requires {requirement}, which does not hold in the context"),
        },
        Fate::Dropped { group, key, limit, keep, rank } => {
            let key = if key.is_empty() { String::new() } else { format!(" key {key:?}") };
            format!("dropped: rank {rank} in stack {group}{key} (limit {limit}, keep {keep})")
        }
    }
}

fn opt_num(v: Option<f64>) -> String {
    v.map_or("(no value, reads 0)".into(), fmt_num)
}

fn cap_cells(c: &CapRow) -> Vec<String> {
    let mut v = vec![
        format!("#{} ({})", c.subsystem, c.subsystem_system),
        c.system.clone(),
        c.kind.clone(),
        c.mode.clone(),
        format!("prio {}", c.priority),
        fmt_num(c.value),
    ];
    if let Some(r) = &c.realm {
        v.push(format!("realm {r}"));
    }
    if !c.requires.is_empty() {
        v.push(format!("requires {}", c.requires.join(", ")));
    }
    v
}

/// An evaluation as aligned sections.
pub fn render(e: &Explanation) -> String {
    let mut out = String::new();
    write_explanation(&mut out, e).expect(INFALLIBLE);
    out
}

fn write_explanation(out: &mut String, e: &Explanation) -> std::fmt::Result {
    let r = &e.rule;
    let who = e.actor.as_deref().map_or(String::new(), |a| format!(" of actor `{a}`"));
    // Where the actor's evaluation failed, unless this stat's steps were all made.
    let failed = e.failure.as_ref().filter(|f| f.at != "after");
    match failed {
        Some(_) => writeln!(out, "{}{who}: the evaluation failed", r.stat)?,
        None => writeln!(out, "{}{who} = {}", r.stat, opt_num(e.value).replace("(no value, reads 0)", "(no value)"))?,
    }
    writeln!(out, "  {} {}  ({})", r.category, r.stat, r.location)?;
    if let Some(v) = &r.view {
        writeln!(out, "  {}", view_line(r, v))?;
    }
    writeln!(out, "  {}", r.whiteboard)?;
    // Only when it matters: the actor is in a situation, this is a view, or something did
    // not apply.
    let context = e.context.as_ref().filter(|c| {
        !c.actor.is_empty() || r.view.is_some() || !e.not_applied.is_empty() || !e.caps_not_applied.is_empty()
    });
    if let Some(c) = context {
        out.push_str("\ncontext\n");
        let mut rows = vec![vec!["actor's tags".into(), tag_list(&c.actor)]];
        if let Some(v) = &r.view {
            rows.push(vec![format!("view {} adds", r.stat), tag_list(&v.tags)]);
            rows.push(vec!["evaluated with".into(), tag_list(&c.tags)]);
        }
        table(out, "  ", &rows);
    }

    if failed.is_none() && !e.in_snapshot {
        if e.not_applied.is_empty() && e.caps_not_applied.is_empty() {
            out.push_str("\n  no contributions, no caps, no formula and no default: the stat is not in the\n");
        } else {
            out.push_str("\n  no contribution or cap applies, no formula and no default: the stat is not in the\n");
        }
        out.push_str("  snapshot, and formulas that read it see 0\n");
        write_not_applied(out, e)?;
        return failed_later(out, e);
    }
    out.push_str("\ncontributions (canonical order)\n");
    // The requirement and stack columns only when some contribution has one.
    let situated = e.contributions.iter().any(|c| !c.input.requires.is_empty() || c.input.stack.is_some());
    if e.contributions.is_empty() {
        out.push_str("  (none)\n");
    } else {
        let mut head: Vec<String> =
            ["#", "subsystem", "system", "list", "bucket", "prio", "value"].map(String::from).into();
        if situated {
            head.extend(["requires".into(), "stack".into()]);
        }
        head.push(String::new());
        let mut rows = vec![head];
        for c in &e.contributions {
            let mut row = vec![c.index.to_string()];
            row.extend(input_cells(&c.input, situated));
            row.push(c.outcome.unwrap_or("").into());
            rows.push(row);
        }
        table(out, "  ", &rows);
    }
    write_not_applied(out, e)?;

    match failed.map(|f| (f.at, f.error.phase, &f.error)) {
        Some(("before", _, error)) => {
            let stat = &error.stat;
            writeln!(out, "\nfailed\n  before `{}` was reached, at `{stat}`: {}", r.stat, error.message)?;
            return Ok(());
        }
        Some((_, Phase::RangeMin | Phase::RangeMax, error)) => {
            writeln!(out, "\nfailed\n  {}", error.message)?;
            for i in &e.range.inputs {
                writeln!(out, "    {} = {}", i.stat, opt_num(i.value))?;
            }
            return Ok(());
        }
        _ => {}
    }

    out.push_str("\nbase\n");
    match &e.base {
        Some(b) => {
            let what = match b.source {
                "formula" => format!("formula {}", b.text),
                "default" => format!("default {}", b.text),
                _ => "no formula, no default".to_string(),
            };
            let note = if r.mode == "operator" { "  (replaced by the operator when it has contributions)" } else { "" };
            writeln!(out, "  {what} = {}{note}", fmt_num(b.value))?;
            let mut rows: Vec<Vec<String>> =
                b.inputs.iter().map(|i| vec![i.stat.clone(), "=".into(), opt_num(i.value)]).collect();
            rows.extend(
                b.constants
                    .iter()
                    .map(|c| vec![c.name.clone(), "=".into(), format!("{}  (constant)", fmt_num(c.value))]),
            );
            rows.extend(b.reads.iter().map(|p| {
                let call = format!("{}({}, {})", p.function, p.name, fmt_num(p.argument));
                let note = match &p.segment {
                    Some(s) => {
                        let points: Vec<String> =
                            s.points.iter().map(|[x, y]| format!("{}: {}", fmt_num(*x), fmt_num(*y))).collect();
                        match s.position {
                            "between" => format!("  (between points {})", points.join(" and ")),
                            "before" => format!("  (before the first point, {})", points.join("")),
                            _ => format!("  (after the last point, {})", points.join("")),
                        }
                    }
                    None if p.result.is_nan() => "  (no such key)".into(),
                    None => String::new(),
                };
                vec![call, "=".into(), format!("{}{note}", fmt_num(p.result))]
            }));
            table(out, "    ", &rows);
        }
        None => out.push_str("  (no value: the stat only has caps)\n"),
    }
    if let Some(f) = failed.filter(|f| f.error.phase == Phase::Formula) {
        writeln!(out, "  failed: {}", f.error.message)?;
        return Ok(());
    }

    if !e.buckets.is_empty() {
        out.push_str("\nbuckets\n");
        let mut rows = vec![vec![
            "slot".into(),
            "bucket".into(),
            "fold".into(),
            "apply".into(),
            "folded".into(),
            "value after".into(),
        ]];
        for b in &e.buckets {
            rows.push(vec![
                b.slot.to_string(),
                b.bucket.clone(),
                b.fold.into(),
                b.apply.clone(),
                b.folded.map_or("-".into(), fmt_num),
                fmt_num(b.after),
            ]);
            for s in &b.each {
                rows.push(vec![
                    String::new(),
                    format!("  #{}", s.contribution),
                    String::new(),
                    format!("x = {}", fmt_num(s.x)),
                    String::new(),
                    fmt_num(s.after),
                ]);
            }
        }
        table(out, "  ", &rows);
        for b in &e.buckets {
            if let Some(w) = b.won {
                let lost: Vec<String> = b.lost.iter().map(|i| format!("#{i}")).collect();
                let lost = if lost.is_empty() { "none".into() } else { lost.join(", ") };
                writeln!(out, "  {}: #{w} won (first in canonical order); lost: {lost}", b.bucket)?;
            }
        }
    }
    if let Some(v) = e.operator {
        let op = r.operator.unwrap_or("?");
        writeln!(out, "\noperator\n  {op} of {} contributions = {}", e.contributions.len(), fmt_num(v))?;
    }

    out.push_str("\ncaps\n");
    let (lo, hi) = (fmt_num(e.range.min), fmt_num(e.range.max));
    if lo == r.range.min && hi == r.range.max {
        writeln!(out, "  stat range {lo} .. {hi}")?;
    } else {
        writeln!(out, "  stat range {lo} .. {hi}  (declared {} .. {})", r.range.min, r.range.max)?;
    }
    for i in &e.range.inputs {
        writeln!(out, "    {} = {}", i.stat, opt_num(i.value))?;
    }
    if e.layers.is_empty() {
        out.push_str("  no caps\n");
    }
    for l in &e.layers {
        let conflict = if l.conflict { "  (Min > Max: Min lowered to Max)" } else { "" };
        writeln!(out, "  layer {}: Min {}, Max {}{conflict}", l.layer, fmt_num(l.min), fmt_num(l.max))?;
        let rows: Vec<Vec<String>> = l.caps.iter().map(cap_cells).collect();
        table(out, "    ", &rows);
    }
    write_caps_not_applied(out, e);
    writeln!(out, "  effective range ({}): {} .. {}", r.policy, fmt_num(e.min), fmt_num(e.max))?;

    out.push_str("\nresult\n");
    if let Some(f) = failed {
        writeln!(out, "  failed: {}", f.error.message)?;
        return Ok(());
    }
    match &e.clamp {
        Some(c) => match (c.bound, &c.by) {
            (Some(b), Some(by)) => {
                let by = if by == "range" { "the stat's own range".to_string() } else { format!("layer {by}") };
                writeln!(out, "  {} clamped to {} (the {b} bound, set by {by})", fmt_num(c.before), fmt_num(c.after))?;
                let rows: Vec<Vec<String>> = c.caps.iter().map(cap_cells).collect();
                table(out, "    ", &rows);
            }
            _ => {
                writeln!(out, "  {} (within {} .. {}, not clamped)", fmt_num(c.after), fmt_num(e.min), fmt_num(e.max))?;
            }
        },
        None => out.push_str("  no value\n"),
    }
    failed_later(out, e)
}

/// A contribution's cells: subsystem, system, list, bucket, prio, value, and with
/// `situated` its requirements and stack.
fn input_cells(c: &ContributionInput, situated: bool) -> Vec<String> {
    let mut cells = vec![
        format!("#{} ({})", c.subsystem, c.subsystem_system),
        c.system.clone(),
        c.list.into(),
        c.bucket.clone(),
        c.priority.to_string(),
        fmt_num(c.value),
    ];
    if situated {
        cells.extend([c.requires.join(", "), stack_cell(&c.stack)]);
    }
    cells
}

/// The contributions that do not apply, and why.
fn write_not_applied(out: &mut String, e: &Explanation) -> std::fmt::Result {
    if e.not_applied.is_empty() && (e.in_snapshot || e.caps_not_applied.is_empty()) {
        return Ok(());
    }
    out.push_str("\nnot applied\n");
    let head = ["subsystem", "system", "list", "bucket", "prio", "value", "requires", "stack", "why"];
    let mut rows = vec![head.map(String::from).to_vec()];
    for c in &e.not_applied {
        let mut row = input_cells(&c.input, true);
        row.push(fate_text(&c.fate));
        rows.push(row);
    }
    if rows.len() > 1 {
        table(out, "  ", &rows);
    }
    // A stat without a snapshot entry has no caps section.
    if !e.in_snapshot {
        write_caps_not_applied(out, e);
    }
    Ok(())
}

/// The caps that do not apply, and why.
fn write_caps_not_applied(out: &mut String, e: &Explanation) {
    if e.caps_not_applied.is_empty() {
        return;
    }
    out.push_str("  caps not applied\n");
    let rows: Vec<Vec<String>> = e
        .caps_not_applied
        .iter()
        .map(|c| {
            let mut row = vec![format!("layer {}", c.layer)];
            row.extend(cap_cells(&c.cap));
            row.push(fate_text(&c.fate));
            row
        })
        .collect();
    table(out, "    ", &rows);
}

/// The note of an actor that failed at a stat evaluated after this one.
fn failed_later(out: &mut String, e: &Explanation) -> std::fmt::Result {
    match &e.failure {
        Some(f) => writeln!(out, "\nthe actor failed later, at `{}`: {}", f.error.stat, f.error.message),
        None => Ok(()),
    }
}
