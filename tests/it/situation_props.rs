//! Properties of situations over random rule sets × random actors (the fuzz crate's
//! generator, `fuzz/src/random.rs`, which declares tags, tag groups, stacking groups and
//! views, and gives actors tags, requirements and stacks):
//!
//! - the input's order changes no bit: subsystems, contributions, caps, tags and requirements
//!   shuffled give the same prepared actor and the same snapshot, in both engines;
//! - ingest straight from JSON gives what parsing and preparing gives;
//!
//! and the cases they found, as regression tests.
//!
//! `ACTORC_SITUATION_CASES` rule sets each (default 300); a failure names its seed.

use crate::fuzz_logic::random::{self, RuleSpec};
use crate::jit::{generator_bytes, random_case};
use actorc::input::{Actor, InputLimits};
use actorc::{Backend, Engine, Rules};
use arbitrary::Unstructured;

fn cases() -> u64 {
    std::env::var("ACTORC_SITUATION_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(300)
}

/// The rules of `spec` when they check, and whether they use situations.
fn rules(spec: &RuleSpec) -> Option<(Rules, bool)> {
    let rules = random::rules(&spec.text()).ok()?;
    let situational = rules.ir.is_situational();
    Some((rules, situational))
}

/// `actor` without requirements (`requires`) or without stacks (`stacks`).
fn without(actor: &Actor, requires: bool, stacks: bool) -> Actor {
    let mut a = actor.clone();
    for sub in &mut a.subsystems {
        for c in sub.primary.iter_mut().chain(&mut sub.derived) {
            if requires {
                c.requires.clear();
            }
            if stacks {
                c.stack = None;
            }
        }
        if requires {
            sub.caps.iter_mut().for_each(|c| c.requires.clear());
        }
    }
    a
}

#[derive(Debug, Default)]
struct Coverage {
    rule_sets: usize,
    situational: usize,
    with_views: usize,
    actors: usize,
    /// Actors whose snapshot changes without their requirements, or without their stacks.
    filtered: usize,
    stacked: usize,
}

#[test]
fn input_order_changes_no_bit() {
    let mut seen = Coverage::default();
    for seed in 0..cases() {
        let (spec, actors) = random_case(seed, 24);
        let Some((rules, situational)) = rules(&spec) else { continue };
        let text = spec.text();
        seen.rule_sets += 1;
        seen.situational += usize::from(situational);
        seen.with_views += usize::from(!spec.situations.views.is_empty());
        let interp = Engine::new(&rules, Backend::Interpreter).unwrap();
        let jit = Engine::jit_with_function_size(&rules, [1, 3, 16][seed as usize % 3]).unwrap();
        let bytes = generator_bytes(seed ^ 0xdead_beef, actors.len());
        let mut u = Unstructured::new(&bytes);
        let permuted: Vec<Actor> = actors.iter().map(|a| random::permute(&mut u, a).unwrap()).collect();
        let want = interp.evaluate_batch(&actors);
        let got = jit.evaluate_batch(&permuted);
        for (i, (a, b)) in actors.iter().zip(&permuted).enumerate() {
            let at = || format!("seed {seed}, actor {i}\nrules:\n{text}\nactor: {a:?}\npermuted: {b:?}");
            assert!(interp.prepare(a) == interp.prepare(b), "prepared differently: {}", at());
            assert!(interp.evaluate(b) == want[i], "interpreter: {}", at());
            assert!(got[i] == want[i], "jit: {}\n want: {:?}\n  got: {:?}", at(), want[i], got[i]);
            if situational && want[i].is_ok() {
                seen.actors += 1;
                seen.filtered += usize::from(interp.evaluate(&without(a, true, false)) != want[i]);
                seen.stacked += usize::from(interp.evaluate(&without(a, false, true)) != want[i]);
            }
        }
    }
    eprintln!("input order: {seen:?}");
    if std::env::var_os("ACTORC_SITUATION_CASES").is_none() {
        // Most rule sets use situations, and in them requirements and stacks often matter.
        assert!(seen.situational * 2 >= seen.rule_sets, "{seen:?}");
        assert!(seen.with_views * 4 >= seen.rule_sets, "{seen:?}");
        assert!(seen.filtered * 5 >= seen.actors && seen.stacked * 10 >= seen.actors, "{seen:?}");
    }
}

#[test]
fn json_path_equals_parse_then_prepare() {
    let limits = InputLimits::default();
    let (mut clean, mut taken) = (0, 0);
    for seed in 0..cases() {
        let bytes = generator_bytes(seed ^ 0x1501, 24);
        let mut u = Unstructured::new(&bytes);
        let spec = random::rule_spec(&mut u).unwrap();
        let Some((rules, _)) = rules(&spec) else { continue };
        let engine = Engine::new(&rules, Backend::Interpreter).unwrap();
        for i in 0..24 {
            // Half the actors now and then malformed, half clean and without context packs
            // (which the direct path leaves to the ordinary one).
            let actor = if i % 2 == 0 {
                random::actor(&mut u, &spec, i).unwrap()
            } else {
                let mut a = random::clean_actor(&mut u, &spec, i).unwrap();
                a.subsystems.iter_mut().for_each(|s| s.context = None);
                a
            };
            let text = serde_json::to_string(&actor).unwrap();
            let direct = engine.prepare_json(&text, &limits);
            let parsed = actorc::input::parse_actor(&text);
            let at = || format!("seed {seed}, actor {i}\nrules:\n{}\nactor: {text}", spec.text());
            if i % 2 == 1 {
                clean += 1;
                assert!(direct.is_some(), "a clean actor is left to the ordinary path: {}", at());
            }
            let Some((id, prepared)) = direct else { continue };
            taken += 1;
            let parsed = parsed.unwrap_or_else(|e| panic!("taken, yet it does not parse ({e}): {}", at()));
            assert!(id == parsed.id, "ids differ: {}", at());
            let want = engine.prepare(&parsed);
            assert!(
                want.as_ref() == Ok(&prepared),
                "prepared differently: {}\n want: {want:?}\n  got: {prepared:?}",
                at()
            );
        }
    }
    eprintln!("json path: {taken} taken, {clean} clean");
}

// ---------------------------------------------------------------------------------------
// What the properties found.

/// Two stacked contributions equal in all but their list (primary, derived), one beyond the
/// limit: which one is kept decides where the stat is reported, so it must not depend on
/// their order of arrival.
#[test]
fn stacking_ties_between_lists_do_not_depend_on_order() {
    let text = "bucket FLAT fold sum apply value + x;\npipeline p = FLAT;\ndefault pipeline p;\n\
                stack once limit 1 keep highest;\nderived power;\n";
    let rules = random::rules(text).unwrap();
    let json = |first: &str, second: &str| {
        let c = r#"{"dimension": "power", "bucket": "FLAT", "value": 5, "system": "s", "stack": "once"}"#;
        format!(r#"{{"subsystems": [{{"{first}": [{c}]}}, {{"{second}": [{c}]}}]}}"#)
    };
    for backend in [Backend::Interpreter, Backend::Jit] {
        let engine = Engine::new(&rules, backend).unwrap();
        let snaps: Vec<_> = [json("primary", "derived"), json("derived", "primary")]
            .iter()
            .map(|t| engine.evaluate(&actorc::input::parse_actor(t).unwrap()).unwrap())
            .collect();
        assert_eq!(snaps[0].get("power"), Some(5.0));
        assert!(snaps[0] == snaps[1], "{backend:?}: {:?} vs {:?}", snaps[0], snaps[1]);
    }
}

/// A keyed stack with a field of its own: the ordinary path refuses it, so the direct JSON
/// path must leave it to that one.
#[test]
fn json_path_refuses_unknown_stack_fields() {
    let text = "bucket FLAT fold sum apply value + x;\npipeline p = FLAT;\ndefault pipeline p;\n\
                stack once limit 1 keep highest;\nderived power;\n";
    let engine = Engine::new(&random::rules(text).unwrap(), Backend::Interpreter).unwrap();
    let actor = |stack: &str| {
        format!(
            r#"{{"subsystems": [{{"primary": [{{"dimension": "power", "bucket": "FLAT", "value": 5, "system": "s", "stack": {stack}}}]}}]}}"#
        )
    };
    let limits = InputLimits::default();
    assert!(engine.prepare_json(&actor(r#"{"group": "once", "key": "a"}"#), &limits).is_some());
    for wrong in [r#"{"group": "once", "key": "a", "keep": "highest"}"#, r#"{"group": "once"}"#, "7"] {
        let text = actor(wrong);
        let parsed = actorc::input::parse_actor(&text);
        assert!(parsed.is_err(), "{wrong}: {parsed:?}");
        assert!(engine.prepare_json(&text, &limits).is_none(), "{wrong}: taken");
    }
}
