//! Situations in ingest: what the random properties found.

use actorc::input::InputLimits;
use actorc::{Backend, Engine};

fn rules(text: &str) -> actorc::Rules {
    actorc::Rules::from_analysis(actorc::rules::compile_str("t.stat", text)).unwrap()
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
    let rules = rules(text);
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
    let engine = Engine::new(&rules(text), Backend::Interpreter).unwrap();
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
