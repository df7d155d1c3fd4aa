//! Named values (`const`, `table`, `curve`) and the operators `^ % and or not`: values by
//! hand, both engines bit for bit (a missing key too), and `explain` of each.

use actorc::explain::{explain, render};
use actorc::{Actor, Backend, Engine, Rules};

fn rules() -> Rules {
    Rules::load("tests/data/language/rules.stat").expect("the fixture checks clean")
}

fn actors() -> Vec<Actor> {
    std::fs::read_to_string("tests/data/language/actors.ndjson")
        .unwrap()
        .lines()
        .map(|l| actorc::input::parse_actor(l).unwrap())
        .collect()
}

fn by_id<'a>(actors: &'a [Actor], id: &str) -> &'a Actor {
    actors.iter().find(|a| a.id.as_deref() == Some(id)).unwrap()
}

#[test]
fn values_by_hand() {
    let rules = rules();
    let engine = Engine::new(&rules, Backend::Interpreter).unwrap();
    let actors = actors();
    let get = |id: &str, stat: &str| engine.evaluate(by_id(&actors, id)).unwrap().get(stat).unwrap();
    // level = default 1 + FLAT.
    assert_eq!(get("squire", "level"), 1.0);
    assert_eq!(get("squire", "crit"), 0.05 + 0.01);
    assert_eq!(get("squire", "xp_next"), 0.0);
    assert_eq!(get("squire", "dr"), 0.1); // halfway from 0: 0 to 100: 0.2
    assert_eq!(get("squire", "phase"), 330.0); // -30 % 360 has the divisor's sign
    assert_eq!(get("squire", "veteran"), 0.0); // not (1 < 2) is 0
    assert_eq!(get("squire", "powers"), -3.5); // -(2 ^ 2) + 2 ^ -(1 ^ 2)
    assert_eq!(get("knight", "xp_next"), 250.0);
    assert_eq!(get("knight", "dr"), 0.35);
    assert_eq!(get("knight", "phase"), 5.0);
    assert_eq!(get("knight", "veteran"), 1.0);
    assert_eq!(get("veteran", "dr"), 0.75); // flat beyond the last point
    assert_eq!(get("veteran", "phase"), 0.0);
}

#[test]
fn engines_agree_bit_for_bit_and_on_a_missing_key() {
    let rules = rules();
    let actors = actors();
    let interp = Engine::new(&rules, Backend::Interpreter).unwrap().evaluate_batch(&actors);
    let jit = Engine::new(&rules, Backend::Jit).unwrap().evaluate_batch(&actors);
    for (a, b) in interp.iter().zip(&jit) {
        match (a, b) {
            (Ok(a), Ok(b)) => assert_eq!(serde_json::to_string(a).unwrap(), serde_json::to_string(b).unwrap()),
            (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
            _ => panic!("engines disagree: {a:?} / {b:?}"),
        }
    }
    // `lost` reaches level 5, which the table does not have.
    let error = interp[3].as_ref().unwrap_err().to_string();
    assert!(error.ends_with("table `xp_to_next` has no key 5"), "{error}");
}

#[test]
fn explain_shows_constants_keys_and_segments() {
    let rules = rules();
    let actors = actors();
    for (id, stat) in [("knight", "dr"), ("knight", "crit"), ("veteran", "dr"), ("squire", "xp_next")] {
        let (e, _) = explain(&rules, by_id(&actors, id), stat).unwrap();
        insta::assert_snapshot!(format!("{id}_{stat}_text"), render(&e));
        insta::assert_json_snapshot!(format!("{id}_{stat}_json"), e.base);
    }
    let failed = match explain(&rules, by_id(&actors, "lost"), "xp_next") {
        Err(actorc::explain::ExplainError::Eval(e)) => render(&e),
        other => panic!("{other:?}"),
    };
    insta::assert_snapshot!("lost_xp_next_text", failed);
}
