//! Situations in ingest: what the random properties found.

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
