//! The `differential` fuzz target over deterministic pseudo-random inputs, counting what it
//! saw: replaying the corpus passes just as well when the generator makes nothing new, this
//! does not. Over `ACTORC_GENERATOR_CASES` inputs (default 300; a failure names its seed),
//! every generated rule set checks clean, its named values fold as the generator folds them,
//! both engines agree on every actor (errors included), and a fair share of the rule sets
//! hold each construct of the language where the engines evaluate it: constants (some
//! naming others, named in formulas, bounds, defaults and bucket applies), tables and
//! curves, `lookup` and `at`, `^`, `%`, `and`, `or` and `not`. Some actors miss a table's
//! key, and both engines fail them with the same "has no key" error.

use crate::fuzz_logic::{Outcome, differential_outcome};
use crate::jit::generator_bytes;
use actorc::ir::{BinOp, Node, UnOp};
use actorc::source::FileId;
use actorc::syntax::{ClauseKind, Expr, ItemKind, parse_file};
use actorc::{ActorError, LoadOptions};

/// How many rule sets held each construct, and what their actors gave.
#[derive(Debug, Default)]
struct Seen {
    rule_sets: usize,
    constants: usize,
    constant_of_constants: usize,
    tables: usize,
    curves: usize,
    // Named constants, where they are named.
    in_formula: usize,
    in_bound: usize,
    in_default: usize,
    in_apply: usize,
    in_entry: usize,
    // IR nodes: what the engines evaluate.
    lookup: usize,
    at: usize,
    pow: usize,
    rem: usize,
    and: usize,
    or: usize,
    not: usize,
    actors: usize,
    ok: usize,
    input_errors: usize,
    eval_errors: usize,
    /// Actors that failed on a key missing from a table.
    missing_key: usize,
    /// Actors that evaluated a `lookup` (in a rule set whose stats have one) without error.
    ok_with_lookup: usize,
}

fn names_constant(e: &Expr) -> bool {
    let mut named = false;
    e.for_each_name(&mut |n, _| named |= n.starts_with('c') && n[1..].bytes().all(|b| b.is_ascii_digit()));
    named
}

fn cases() -> u64 {
    std::env::var("ACTORC_GENERATOR_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(300)
}

#[test]
fn differential_generates_every_construct() {
    let mut seen = Seen::default();
    let mut skipped = 0;
    for seed in 0..cases() {
        let bytes = generator_bytes(seed, 5);
        let outcome = std::panic::catch_unwind(|| differential_outcome(&bytes))
            .unwrap_or_else(|_| panic!("seed {seed} fails (crate::jit::generator_bytes({seed}, 5))"));
        let Outcome::Ran { rules, text, actors, results } = outcome else {
            skipped += 1;
            continue;
        };
        seen.rule_sets += 1;
        let ir = &rules.ir;
        let count = |hit: bool, n: &mut usize| *n += usize::from(hit);
        count(!ir.constants.is_empty(), &mut seen.constants);
        count(!ir.tables.is_empty(), &mut seen.tables);
        count(!ir.curves.is_empty(), &mut seen.curves);

        let (ast, diags) = parse_file(FileId(0), &text, LoadOptions::default().parse);
        assert!(diags.is_empty(), "seed {seed}: {diags:?}");
        let (mut of_constants, mut formula, mut bound, mut default, mut apply, mut entry) = Default::default();
        for item in &ast.items {
            match &item.kind {
                ItemKind::Const(c) => of_constants |= names_constant(&c.value),
                ItemKind::Table(t) | ItemKind::Curve(t) => {
                    entry |= t.points.iter().any(|(k, v)| names_constant(k) || names_constant(v))
                }
                ItemKind::Bucket(b) => apply |= names_constant(&b.apply),
                ItemKind::Stat(s) => {
                    for c in &s.clauses {
                        match &c.kind {
                            ClauseKind::Formula(e) => formula |= names_constant(e),
                            ClauseKind::Range(lo, hi) => bound |= names_constant(lo) || names_constant(hi),
                            ClauseKind::Default(e) => default |= names_constant(e),
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
        count(of_constants, &mut seen.constant_of_constants);
        count(formula, &mut seen.in_formula);
        count(bound, &mut seen.in_bound);
        count(default, &mut seen.in_default);
        count(apply, &mut seen.in_apply);
        count(entry, &mut seen.in_entry);

        let has = |f: &dyn Fn(&Node) -> bool| ir.nodes.iter().any(f);
        let lookup = has(&|n| matches!(n, Node::Lookup(..)));
        count(lookup, &mut seen.lookup);
        count(has(&|n| matches!(n, Node::At(..))), &mut seen.at);
        count(has(&|n| matches!(n, Node::Binary(BinOp::Pow, ..))), &mut seen.pow);
        count(has(&|n| matches!(n, Node::Binary(BinOp::Rem, ..))), &mut seen.rem);
        count(has(&|n| matches!(n, Node::Binary(BinOp::And, ..))), &mut seen.and);
        count(has(&|n| matches!(n, Node::Binary(BinOp::Or, ..))), &mut seen.or);
        count(has(&|n| matches!(n, Node::Unary(UnOp::Not, _))), &mut seen.not);

        seen.actors += actors.len();
        for r in &results {
            match r {
                Ok(_) => {
                    seen.ok += 1;
                    seen.ok_with_lookup += usize::from(lookup);
                }
                Err(ActorError::Eval(e)) => {
                    seen.eval_errors += 1;
                    seen.missing_key += usize::from(e.message.contains("has no key"));
                }
                Err(ActorError::Input(_)) => seen.input_errors += 1,
            }
        }
    }
    eprintln!("generator: {seen:?}, {skipped} inputs skipped");
    if std::env::var_os("ACTORC_GENERATOR_CASES").is_some() {
        return;
    }
    assert!(skipped * 20 <= seen.rule_sets, "too few inputs made a rule set: {skipped} skipped, {seen:?}");
    // Each construct in at least one rule set in six, most in far more.
    let n = seen.rule_sets;
    for (what, k) in [
        ("constants", seen.constants),
        ("a constant naming a constant", seen.constant_of_constants),
        ("tables", seen.tables),
        ("curves", seen.curves),
        ("a constant in a formula", seen.in_formula),
        ("a constant in a bound", seen.in_bound),
        ("a constant in a default", seen.in_default),
        ("a constant in an apply", seen.in_apply),
        ("a constant in a table entry or curve point", seen.in_entry),
        ("lookup", seen.lookup),
        ("at", seen.at),
        ("^", seen.pow),
        ("%", seen.rem),
        ("and", seen.and),
        ("or", seen.or),
        ("not", seen.not),
    ] {
        assert!(k * 6 >= n, "only {k} of {n} rule sets have {what}: {seen:?}");
    }
    // Of the actors that were evaluated (the target's actors are often malformed input), some
    // miss a table's key, which fails them alike in both engines; yet lookups mostly find
    // their key, and most actors evaluate without error.
    let evaluated = seen.ok + seen.eval_errors;
    assert!(seen.missing_key * 50 >= evaluated, "too few actors miss a table's key: {seen:?}");
    assert!(seen.ok_with_lookup * 5 >= evaluated, "too few actors evaluate a lookup: {seen:?}");
    assert!(seen.ok * 2 >= evaluated, "too few actors evaluate without error: {seen:?}");
}
