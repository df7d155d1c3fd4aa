//! Ingest straight from JSON text (`Engine::prepare_json`): whenever it takes a document, it
//! gives what parsing and preparing it gives; it takes the plain form, and declines the rest.

use crate::eval::{cases, rules_of};
use actorc::input::{InputLimits, parse_actor_limited};
use actorc::{Backend, Engine, Rules};
use proptest::prelude::*;

/// Whether `prepare_json` took `text`; when it did, its id and prepared actor are the
/// ordinary path's.
fn agrees(engine: &Engine, text: &str, limits: &InputLimits) -> bool {
    let Some((id, prepared)) = engine.prepare_json(text, limits) else {
        return false;
    };
    let actor = parse_actor_limited(text, limits).unwrap_or_else(|e| panic!("taken, but {e}: {text}"));
    assert_eq!(id, actor.id, "{text}");
    assert_eq!(Ok(prepared), engine.prepare(&actor), "{text}");
    true
}

fn v3() -> Engine {
    Engine::new(&Rules::load("rules/actor_core_v3").unwrap(), Backend::Interpreter).unwrap()
}

/// One plain v3 actor object, to vary.
const PLAIN: &str = r#"{"id": "a-1", "version": 3, "subsystems": [{"primary": [{"dimension": "strength", "bucket": "FLAT", "value": 10, "system": "race", "priority": 2}, {"dimension": "hp_max", "bucket": "MULT", "value": 0.25, "system": "items"}], "derived": [{"dimension": "lifespan_years", "bucket": "FLAT", "value": 70.5, "system": "race", "priority": null}], "caps": [{"system": "gear", "dimension": "hp_max", "mode": "HARD_MAX", "kind": "max", "value": 900, "scope": "REALM", "realm": "r:1", "tags": ["x"]}, {"system": "gear", "dimension": "strength", "mode": "BASELINE", "kind": "min", "value": 1}], "meta": {"system": "race", "stage": "s", "version": 2}}, {"caps": [], "derived": [{"dimension": "strength", "bucket": "FLAT", "value": -0.0, "system": "buffs"}]}]}"#;

#[test]
fn fixtures_are_taken_and_agree() {
    for case in cases() {
        let engine = Engine::new(&Rules::load(rules_of(&case)).unwrap(), Backend::Interpreter).unwrap();
        let text = std::fs::read_to_string(case.join("actors.ndjson")).unwrap();
        let taken = text.lines().filter(|l| agrees(&engine, l, &InputLimits::default())).count();
        // Every case has plain actors but `errors`, whose actors all fail somewhere.
        let name = case.file_name().unwrap().to_str().unwrap();
        assert!(name == "errors" || taken > 0, "{name}: no actor taken");
    }
}

#[test]
fn plain_form_is_taken() {
    let engine = v3();
    assert!(agrees(&engine, PLAIN, &InputLimits::default()));
    let variants = [
        // Fields in another order, numbers as integers, no id or version.
        PLAIN.replace(r#""id": "a-1", "version": 3, "#, ""),
        PLAIN
            .replace(r#""version": 3, "subsystems""#, r#""subsystems""#)
            .replace(r#"{"id": "a-1", "#, r#"{"version": 7, "#),
        PLAIN.replace(r#""id": "a-1""#, r#""id": 12.50"#),
        PLAIN.replace(r#""caps": [], "derived""#, r#""context": null, "derived""#),
        // An escape in a field name (not in a value) is read like the ordinary path reads it.
        PLAIN.replace(r#""bucket": "MULT""#, r#""buck\u0065t": "MULT""#),
    ];
    for text in variants {
        assert!(agrees(&engine, &text, &InputLimits::default()), "not taken: {text}");
    }
}

#[test]
fn numeric_ids_keep_their_text() {
    let engine = v3();
    for id in ["12345678901234567890123", "12.50", "-0", "1e3"] {
        let text = PLAIN.replace(r#""id": "a-1""#, &format!(r#""id": {id}"#));
        let (got, _) = engine.prepare_json(&text, &InputLimits::default()).expect("taken");
        assert_eq!(got.as_deref(), Some(id));
        assert!(agrees(&engine, &text, &InputLimits::default()));
    }
}

#[test]
fn everything_else_is_declined() {
    let engine = v3();
    let declined = [
        // Forms the ordinary path reads (or rejects) with more care.
        format!("[{}]", &PLAIN[PLAIN.find(r#"{"primary""#).unwrap()..PLAIN.len() - 2]),
        PLAIN.replace(r#""system": "items""#, r#""system": "it\u0065ms""#),
        PLAIN.replace(r#""version": 3"#, r#""version": 3, "extra": [[1]]"#),
        PLAIN.replace(r#""meta": {"system": "race""#, r#""meta": {"x": [[[[[[[1]]]]]]], "system": "race""#),
        PLAIN.replace(r#""tags": ["x"]"#, r#""tags": ["x"], "note": 1"#),
        PLAIN.replace(r#""caps": [], "derived""#, r#""context": {"combat": {"post_add": 1}}, "derived""#),
        PLAIN.replace(r#""caps": [], "derived""#, r#""caps": [], "caps": [], "derived""#),
        PLAIN.replace(r#""value": 10,"#, r#""value": 10, "value": 11,"#),
        PLAIN.replace(r#""version": 3"#, r#""version": 3.5"#),
        PLAIN.replace(r#""priority": 2"#, r#""priority": "2""#),
        // Input errors of every kind.
        PLAIN.replace(
            r#""dimension": "strength", "bucket": "FLAT", "value": 10"#,
            r#""dimension": "strenght", "bucket": "FLAT", "value": 10"#,
        ),
        PLAIN.replace(r#""bucket": "MULT""#, r#""bucket": "MUTL""#),
        PLAIN.replace(
            r#""dimension": "lifespan_years", "bucket": "FLAT""#,
            r#""dimension": "lifespan_years", "bucket": "NOPE""#,
        ),
        PLAIN.replace(r#""kind": "min""#, r#""kind": "low""#),
        PLAIN.replace(r#""mode": "BASELINE""#, r#""mode": "FLOOR""#),
        PLAIN.replace(r#""mode": "HARD_MAX", "kind": "max""#, r#""mode": "HARD_MAX", "kind": "min""#),
        PLAIN.replace(r#""scope": "REALM", "realm": "r:1""#, r#""scope": "REALM""#),
        PLAIN.replace(r#""scope": "REALM""#, r#""scope": "GALAXY""#),
        PLAIN.replace(r#""value": 70.5"#, r#""value": 1e400"#),
        PLAIN.replace(r#""subsystems": ["#, r#""subsystems": {"#),
        format!("{PLAIN} x"),
        PLAIN[..PLAIN.len() - 1].to_string(),
        String::new(),
    ];
    for text in &declined {
        assert!(engine.prepare_json(text, &InputLimits::default()).is_none(), "taken: {text}");
    }
    // Beyond a limit, or with a depth limit below the plain form's own depth.
    let tight = [
        InputLimits { max_subsystems: 1, ..InputLimits::default() },
        InputLimits { max_contributions: 5, ..InputLimits::default() },
        InputLimits { max_line_bytes: PLAIN.len() - 1, ..InputLimits::default() },
        InputLimits { max_depth: 5, ..InputLimits::default() },
    ];
    for limits in &tight {
        assert!(engine.prepare_json(PLAIN, limits).is_none(), "taken within {limits:?}");
        assert!(!agrees(&engine, PLAIN, limits));
    }
    assert!(agrees(&engine, PLAIN, &InputLimits { max_contributions: 6, max_subsystems: 2, ..InputLimits::default() }));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Random v3 actors, written as JSON: each is taken, and agrees.
    #[test]
    fn random_actors_agree(actor in crate::props::actor(), id in proptest::option::of("[a-z0-9-]{1,12}"), version in 0i64..5) {
        let engine = v3();
        let actor = actorc::Actor { id, version, ..actor };
        let text = serde_json::to_string(&actor).unwrap();
        // Actors whose input is wrong (e.g. a cap mode on the wrong kind) are declined.
        let ok = engine.prepare(&actor).is_ok();
        prop_assert_eq!(agrees(&engine, &text, &InputLimits::default()), ok, "{}", text);
    }
}
