//! `actorc graph`: the stat dependency graph of a rule set, as Graphviz DOT or JSON.
//!
//! Invariant: the edges are exactly the IR's `Stat.deps` (every stat a formula or range bound
//! reads), each labelled by where it is read — found by walking the formula's and the
//! bounds' `Node::Stat` nodes — plus one edge from each view's source to the view; nodes
//! are grouped by the source file that declares them.

use crate::ir::{Expr, Ir, Mode, Node, StatId, UnknownStat};
use crate::rules::Rules;
use serde::Serialize;
use std::collections::BTreeSet;
use std::fmt::Write;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Graph {
    /// In stat id (dependency) order.
    pub nodes: Vec<GraphNode>,
    /// From the stat read to the stat reading it.
    pub edges: Vec<Edge>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GraphNode {
    pub stat: String,
    /// `primary`, `derived` or `operator`.
    pub kind: &'static str,
    /// The pipeline name, or `merge <operator>`.
    pub mode: String,
    pub has_formula: bool,
    /// A view: the stat whose rule it evaluates with more tags.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub view_of: Option<String>,
    /// The declaring file as given to the loader, and its line.
    pub file: String,
    pub line: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Edge {
    pub from: String,
    pub to: String,
    /// `formula`, `range` or `formula+range`; `view` from a view's source to the view.
    pub via: &'static str,
    /// A `view` edge: the tags and groups the view adds.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub with: Vec<String>,
}

fn reads(ir: &Ir, e: Option<Expr>, s: StatId) -> bool {
    e.is_some_and(|e| ir.nodes[e.range()].contains(&Node::Stat(s)))
}

/// The graph of `rules`; with `focus`, only that stat, its ancestors and its dependents.
pub fn graph(rules: &Rules, focus: Option<&str>) -> Result<Graph, UnknownStat> {
    let ir = &rules.ir;
    let n = ir.stats.len();
    let keep: Vec<bool> = match focus {
        None => vec![true; n],
        Some(name) => {
            let id = ir.resolve_stat(name)?;
            // What a stat is drawn from: the stats it reads, and a view's source.
            let from = |i: usize| {
                let s = &ir.stats[i];
                s.deps.iter().copied().chain(s.view.as_ref().map(|v| v.source))
            };
            let mut to = vec![Vec::new(); n];
            for i in 0..n {
                for d in from(i) {
                    to[d.index()].push(i);
                }
            }
            let up = reach(n, id.index(), |i| from(i).map(StatId::index).collect());
            let down = reach(n, id.index(), |i| to[i].clone());
            up.iter().zip(&down).map(|(u, d)| *u || *d).collect()
        }
    };
    let mut nodes = Vec::new();
    let mut edges = Vec::new();
    for (i, s) in ir.stats.iter().enumerate() {
        if !keep[i] {
            continue;
        }
        let (kind, mode) = match s.mode {
            Mode::Operator(op) => ("operator", format!("merge {}", op.keyword())),
            Mode::Pipeline(p) => (s.category.keyword(), ir.pipeline(p).name.clone()),
        };
        let f = rules.sources.get(s.span.file);
        let (line, _) = f.line_col(s.span.start as usize);
        nodes.push(GraphNode {
            stat: s.name.clone(),
            kind,
            mode,
            has_formula: s.formula.is_some(),
            view_of: s.view.as_ref().map(|v| ir.stat(v.source).name.clone()),
            file: f.name.clone(),
            line,
        });
        if let Some(v) = &s.view
            && keep[v.source.index()]
        {
            let (from, to) = (ir.stat(v.source).name.clone(), s.name.clone());
            edges.push(Edge { from, to, via: "view", with: v.listed.clone() });
        }
        let mut deps: Vec<StatId> = s.deps.clone();
        deps.sort();
        deps.dedup();
        for d in deps {
            if !keep[d.index()] {
                continue;
            }
            let in_formula = reads(ir, s.formula, d);
            let in_range = reads(ir, s.min, d) || reads(ir, s.max, d);
            let via = match (in_formula, in_range) {
                (true, true) => "formula+range",
                (false, true) => "range",
                _ => "formula",
            };
            edges.push(Edge { from: ir.stat(d).name.clone(), to: s.name.clone(), via, with: vec![] });
        }
    }
    Ok(Graph { nodes, edges })
}

/// The stats reachable from `start` (itself included) along `next`.
fn reach(n: usize, start: usize, next: impl Fn(usize) -> Vec<usize>) -> Vec<bool> {
    let mut seen = vec![false; n];
    seen[start] = true;
    let mut todo = vec![start];
    while let Some(i) = todo.pop() {
        for j in next(i) {
            if !seen[j] {
                seen[j] = true;
                todo.push(j);
            }
        }
    }
    seen
}

fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

fn file_label(path: &str) -> String {
    std::path::Path::new(path).file_name().map_or(path.to_string(), |f| f.to_string_lossy().into_owned())
}

/// Graphviz DOT: one cluster per source file; primaries are blue boxes, derived stats
/// yellow ellipses (grey when they have no formula), operator stats pink hexagons, a view
/// with a dashed outline. A formula's edge is grey, a range bound's dashed red, and a stat
/// read by both gets both lines side by side; a view's edge from its source is bold
/// orange, labelled with the view's tags.
pub fn to_dot(g: &Graph) -> String {
    let mut out = String::new();
    write_dot(g, &mut out).expect("writing to a String cannot fail");
    out
}

fn write_dot(g: &Graph, out: &mut String) -> std::fmt::Result {
    out.push_str("digraph stats {\n");
    out.push_str("  rankdir=LR;\n  newrank=true;\n");
    out.push_str("  graph [fontname=\"Helvetica\", fontsize=12, style=rounded, color=gray60];\n");
    out.push_str("  node [fontname=\"Helvetica\", fontsize=10, style=filled];\n");
    out.push_str("  edge [color=gray40, arrowsize=0.6];\n");
    let files: BTreeSet<&str> = g.nodes.iter().map(|n| n.file.as_str()).collect();
    for (i, file) in files.iter().enumerate() {
        writeln!(out, "  subgraph cluster_{i} {{")?;
        writeln!(out, "    label={};", quote(&file_label(file)))?;
        for n in g.nodes.iter().filter(|n| n.file == *file) {
            let (shape, fill) = match (n.kind, n.has_formula) {
                ("primary", _) => ("box", "#cfe2ff"),
                ("operator", _) => ("hexagon", "#f8d7da"),
                (_, true) => ("ellipse", "#fff3cd"),
                _ => ("ellipse", "#e9ecef"),
            };
            let (style, of) = match &n.view_of {
                Some(source) => (", style=\"filled,dashed\"", format!("view of {source}, ")),
                None => ("", String::new()),
            };
            writeln!(
                out,
                "    {} [shape={shape}, fillcolor={}{style}, tooltip={}];",
                quote(&n.stat),
                quote(fill),
                quote(&format!("{of}{} {} ({}:{})", n.kind, n.mode, n.file, n.line))
            )?;
        }
        out.push_str("  }\n");
    }
    for e in &g.edges {
        let style = match e.via {
            "range" => " [style=dashed, color=firebrick]".to_string(),
            "formula+range" => " [color=\"gray40:firebrick\"]".to_string(),
            "view" => {
                let label = quote(&format!("with {}", e.with.join(", ")));
                format!(" [style=bold, color=darkorange, fontname=\"Helvetica\", fontsize=9, label={label}]")
            }
            _ => String::new(),
        };
        writeln!(out, "  {} -> {}{style};", quote(&e.from), quote(&e.to))?;
    }
    out.push_str("}\n");
    Ok(())
}
