//! `actorc run` end to end: input forms, bad input (spec §8), batches and exit codes.

use crate::common::actorc;

const GOOD: &str = r#"{"id":"good","version":3,"subsystems":[{"primary":[{"dimension":"strength","bucket":"FLAT","value":10,"system":"a"}],"derived":[],"caps":[],"meta":{"system":"a"}}]}"#;

fn contrib(field: &str) -> String {
    format!(
        r#"{{"id":"bad","subsystems":[{{"primary":[],"derived":[],"caps":[],"meta":{{"system":"ok"}}}},{{"primary":[{}],"derived":[],"caps":[],"meta":{{"system":"items"}}}}]}}"#,
        field
    )
}

fn cap(field: &str) -> String {
    format!(
        r#"{{"id":"bad","subsystems":[{{"primary":[],"derived":[],"caps":[{}],"meta":{{"system":"world"}}}}]}}"#,
        field
    )
}

/// Runs `good, bad, good` as a batch; the bad actor's error must mention every `needles`
/// and both good actors must come out intact and in order.
fn bad_batch(bad: &str, needles: &[&str]) -> String {
    let input = format!("{GOOD}\n{bad}\n{}\n", GOOD.replace("\"good\"", "\"good2\""));
    let out = actorc(&["run", "rules/actor_core_v3", "--input", "-", "--quiet"], &input);
    assert_eq!(out.code, 1, "one actor failed: exit 1\n{}", out.stderr);
    let lines: Vec<serde_json::Value> = out.stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["id"], "good");
    assert_eq!(lines[0]["snapshot"]["Primary"]["strength"], 10.0);
    assert_eq!(lines[0]["snapshot"]["Version"], 3);
    assert_eq!(lines[2]["id"], "good2");
    assert_eq!(lines[2]["snapshot"]["Primary"]["strength"], 10.0);
    let err = &lines[1]["error"];
    let text = err.to_string();
    for n in needles {
        assert!(text.contains(n), "error {text} should mention {n}");
    }
    text
}

#[test]
fn unknown_dimension() {
    let e = bad_batch(
        &contrib(r#"{"dimension":"strenght","bucket":"FLAT","value":1,"system":"items"}"#),
        &["bad", "#1 (items)", "subsystems[1].primary[0].dimension", "unknown dimension `strenght`", "strength"],
    );
    insta::assert_snapshot!(e);
}

#[test]
fn invalid_dimension_name() {
    bad_batch(
        &contrib(r#"{"dimension":"Strength","bucket":"FLAT","value":1,"system":"items"}"#),
        &["subsystems[1].primary[0].dimension", "^[a-z][a-z0-9_]*$"],
    );
}

#[test]
fn unknown_bucket() {
    bad_batch(
        &contrib(r#"{"dimension":"strength","bucket":"FLATT","value":1,"system":"items"}"#),
        &["subsystems[1].primary[0].bucket", "unknown bucket `FLATT`", "FLAT"],
    );
}

#[test]
fn non_finite_number() {
    bad_batch(
        &contrib(r#"{"dimension":"strength","bucket":"FLAT","value":1e999,"system":"items"}"#),
        &["bad", "line 2", "column", "not a finite"],
    );
}

#[test]
fn unknown_cap_mode() {
    bad_batch(
        &cap(r#"{"system":"w","dimension":"strength","mode":"SOFT","kind":"max","value":5,"scope":"WORLD"}"#),
        &["subsystems[0].caps[0].mode", "unknown cap mode `SOFT`"],
    );
}

#[test]
fn unknown_layer() {
    bad_batch(
        &cap(r#"{"system":"w","dimension":"strength","mode":"BASELINE","kind":"max","value":5,"scope":"GALAXY"}"#),
        &["subsystems[0].caps[0].scope", "unknown cap layer `GALAXY`", "REALM, WORLD, EVENT, TOTAL"],
    );
}

#[test]
fn mode_kind_mismatch() {
    bad_batch(
        &cap(r#"{"system":"w","dimension":"strength","mode":"HARD_MAX","kind":"min","value":5,"scope":"WORLD"}"#),
        &["subsystems[0].caps[0].kind", "HARD_MAX needs kind `max`"],
    );
    bad_batch(
        &cap(r#"{"system":"w","dimension":"strength","mode":"HARD_MIN","kind":"max","value":5}"#),
        &["HARD_MIN needs kind `min`"],
    );
}

#[test]
fn realm_scope_without_realm() {
    bad_batch(
        &cap(r#"{"system":"w","dimension":"strength","mode":"HARD_MAX","kind":"max","value":5,"scope":"REALM"}"#),
        &["subsystems[0].caps[0].realm", "REALM must name their `realm`"],
    );
}

#[test]
fn malformed_json() {
    let e = bad_batch(r#"{"id":"bad","subsystems":[{"primary":[}]}"#, &["line 2", "malformed JSON at line 1, column"]);
    insta::assert_snapshot!(e);
}

/// Line buffers are reused: a blank line's bytes must not stay in front of the next line
/// (found by the `actor_input` fuzz corpus: the error then said "at line 2").
#[test]
fn blank_lines_leave_no_trace() {
    let input = format!("{GOOD}\n   \n{{\"id\" 1}}\n\n{}\n", GOOD.replace("\"good\"", "\"good2\""));
    let out = actorc(&["run", "rules/actor_core_v3", "--input", "-", "--quiet"], &input);
    assert_eq!(out.code, 1, "one actor failed: exit 1\n{}", out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{}", out.stdout);
    assert!(lines[1].contains("line 3: malformed JSON at line 1, column 7"), "{}", lines[1]);
    assert!(lines[2].contains(r#""id":"good2""#), "{}", lines[2]);
}

#[test]
fn missing_field() {
    bad_batch(
        &contrib(r#"{"dimension":"strength","bucket":"FLAT","system":"items"}"#),
        &["subsystems[1].primary[0]", "missing field `value`"],
    );
}

/// Found by the `actor_input` fuzz target (`fuzz/regressions/actor_input/`): a line that is
/// not UTF-8 used to end the whole batch with an I/O error (exit 2).
#[test]
fn input_not_utf8_costs_only_that_actor() {
    let dir = std::env::temp_dir().join(format!("actorc-not-utf8-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let batch = dir.join("batch.ndjson");
    let mut input = format!("{GOOD}\n").into_bytes();
    input.extend_from_slice(b"{\"id\":\"bad\",\"subsystems\":[]}\xff\n");
    input.extend_from_slice(format!("{}\n", GOOD.replace("\"good\"", "\"good2\"")).as_bytes());
    std::fs::write(&batch, &input).unwrap();
    let out = actorc(&["run", "rules/actor_core_v3", "--input", batch.to_str().unwrap(), "--quiet"], "");
    assert_eq!(out.code, 1, "one actor failed: exit 1\n{}", out.stderr);
    let lines: Vec<serde_json::Value> = out.stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 3, "{}", out.stdout);
    assert_eq!(lines[0]["snapshot"]["Primary"]["strength"], 10.0);
    assert_eq!(lines[1]["id"], "bad");
    assert_eq!(lines[1]["error"]["kind"], "input");
    assert!(lines[1]["error"]["message"].as_str().unwrap().starts_with("line 2: not valid UTF-8"), "{}", lines[1]);
    assert_eq!(lines[2]["snapshot"]["Primary"]["strength"], 10.0);
    // The cached path (`--stats`, as with `--watch`) gives the same records.
    let cached = actorc(&["run", "rules/actor_core_v3", "--input", batch.to_str().unwrap(), "--stats"], "");
    assert_eq!(cached.code, 1, "{}", cached.stderr);
    assert_eq!(cached.stdout, out.stdout, "{}", cached.stderr);
    // … also into a file with --output, and from standard input.
    let written = dir.join("out.ndjson");
    let to_file = actorc(
        &["run", "rules/actor_core_v3", "--input", "-", "--stats", "-o", written.to_str().unwrap()],
        &String::from_utf8_lossy(&input),
    );
    assert_eq!(to_file.code, 1, "{}", to_file.stderr);
    assert_eq!(to_file.stdout, "");
    let from_file = std::fs::read_to_string(&written).unwrap();
    assert_eq!(from_file.lines().count(), 3);
    assert_eq!(from_file.lines().next(), out.stdout.lines().next());
    let one = dir.join("one.json");
    std::fs::write(&one, b"[\xff]").unwrap();
    let out = actorc(&["run", "rules/actor_core_v3", "--input", one.to_str().unwrap()], "");
    assert_eq!(out.code, 1, "a bad actor, not an I/O error\n{}", out.stderr);
    assert!(out.stderr.contains("not valid UTF-8"), "{}", out.stderr);
    // `explain` says the same, with the line, and exits 1 (bad data), not 2 (I/O).
    let args =
        ["explain", "rules/actor_core_v3", "--stat", "strength", "--actor", "bad", "--input", batch.to_str().unwrap()];
    let out = actorc(&args, "");
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("line 2: not valid UTF-8 text (invalid byte at column 29)"), "{}", out.stderr);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn unknown_fields_are_errors_with_a_suggestion() {
    let unknown = std::fs::read_to_string("tests/data/input/unknown_fields.ndjson").unwrap();
    let out = actorc(&["run", "rules/actor_core_v3", "--input", "-", "--quiet"], &unknown);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let errors: Vec<(String, String)> = out
        .stdout
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            let field = v["error"]["field"].as_str().unwrap().to_string();
            (field, v["error"]["message"].as_str().unwrap().to_string())
        })
        .collect();
    let expected = [
        ("subsystems[0].primary[1].priorty", "line 1: unknown field `priorty` (did you mean `priority`?)"),
        ("subsystems[0].primay", "line 2: unknown field `primay` (did you mean `primary`?)"),
        ("subsystems[0].caps[0].scop", "line 3: unknown field `scop` (did you mean `scope`?)"),
        ("subsystems[0].context.combat.post_ad", "line 4: unknown field `post_ad` (did you mean `post_add`?)"),
        ("subsystems[0].meta.sistem", "line 5: unknown field `sistem` (did you mean `system`?)"),
        ("hp", "line 6: unknown field `hp` (known fields: id, version, subsystems, tags, extra)"),
        (
            "subsystems[0].primary[0].source",
            "line 7: unknown field `source` (known fields: dimension, bucket, value, system, priority, requires, stack)",
        ),
    ];
    let expected: Vec<(String, String)> = expected.iter().map(|(f, m)| (f.to_string(), m.to_string())).collect();
    assert_eq!(errors, expected);
}

const STACK_SHAPE_12: &str = r#"line 12: a stack is a stacking group's name or {"group": NAME, "key": TEXT}"#;
const STACK_SHAPE_13: &str = r#"line 13: a stack is a stacking group's name or {"group": NAME, "key": TEXT}"#;

/// Every bad situational input is an error of that actor alone, naming the field.
#[test]
fn situation_errors_cost_only_their_actor() {
    let input = std::fs::read_to_string("tests/data/input/situation_errors.ndjson").unwrap();
    let good = std::fs::read_to_string("tests/data/situational/s01_tags_and_views/actor.json").unwrap();
    let good: serde_json::Value = serde_json::from_str(&good).unwrap();
    let input = format!("{input}{good}\n");
    for engine in ["interp", "jit"] {
        let args = ["run", "tests/data/situational/rules.stat", "--engine", engine, "--input", "-", "--quiet"];
        let out = actorc(&args, &input);
        assert_eq!(out.code, 1, "{}", out.stderr);
        let records: Vec<serde_json::Value> = out.stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        let errors: Vec<(String, String)> = records[..records.len() - 1]
            .iter()
            .map(|v| (v["error"]["field"].as_str().unwrap().into(), v["error"]["message"].as_str().unwrap().into()))
            .collect();
        let expected = [
            ("tags", "line 1: unknown tag `fier`"),
            ("tags", "line 2: `elemental` is a tag group: an actor's situation lists tags"),
            ("subsystems[0].derived[0].requires", "line 3: unknown tag `spel` (did you mean `spell`?)"),
            ("subsystems[0].derived[0].requires", "line 4: requirement 1 (`!`) names no tag"),
            ("subsystems[0].derived[0].requires", "line 5: requirement `fire` is listed twice"),
            ("subsystems[0].derived[0].requires", "line 6: 17 requirements, over the limit of 16"),
            ("subsystems[0].derived[0].stack", "line 7: unknown stacking group `frenzi` (did you mean `frenzy`?)"),
            ("subsystems[0].caps[0].stack", "line 8: a cap cannot have a `stack`: stacking groups hold contributions"),
            (
                "subsystems[0].derived[0].dimension",
                "line 9: `fire_spell_damage` is a view of `damage`: contributions and caps name `damage`",
            ),
            (
                "subsystems[0].caps[0].dimension",
                "line 10: `fire_spell_damage` is a view of `damage`: contributions and caps name `damage`",
            ),
            ("subsystems[0].caps[0].requires", "line 11: unknown tag `undead`"),
            ("subsystems[0].derived[0].stack", STACK_SHAPE_12),
            ("subsystems[0].derived[0].stack", STACK_SHAPE_13),
        ];
        let expected: Vec<(String, String)> = expected.iter().map(|(f, m)| (f.to_string(), m.to_string())).collect();
        assert_eq!(errors, expected, "{engine}");
        assert!(records.last().unwrap().get("snapshot").is_some(), "the good actor after them is evaluated");
    }
}

#[test]
fn single_actor_forms() {
    let bare = r#"[{"primary":[{"dimension":"strength","bucket":"FLAT","value":7,"system":"a"}],"derived":[],"caps":[],"meta":{"system":"a"}}]"#;
    let out = actorc(&["run", "rules/actor_core_v3", "--input", "-"], bare);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["Primary"]["strength"], 7.0);
    assert_eq!(v["Version"], 1);
    let pretty = serde_json::to_string_pretty(&serde_json::from_str::<serde_json::Value>(GOOD).unwrap()).unwrap();
    let out = actorc(&["run", "rules/actor_core_v3", "--input", "-"], &pretty);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["Version"], 3);
}

#[test]
fn usage_and_io_errors_exit_2() {
    assert_eq!(actorc(&["run", "rules/actor_core_v3", "--input", "/no/such/file.json"], "").code, 2);
    assert_eq!(actorc(&["run", "/no/such/rules", "--input", "-"], "[]").code, 2);
    assert_eq!(actorc(&["run", "rules/actor_core_v3"], "").code, 2);
    assert_eq!(actorc(&["check", "--bogus"], "").code, 2);
    assert_eq!(actorc(&["check", "/no/such/path"], "").code, 2);
    assert_eq!(actorc(&["--help"], "").code, 0);
}

#[test]
fn broken_rules_exit_1_with_diagnostics() {
    let out = actorc(&["run", "tests/data/check/E0301_cycle.stat", "--input", "-"], "[]");
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("E0301"), "{}", out.stderr);
}

#[test]
fn check_exit_codes_and_json() {
    let out = actorc(&["check", "rules"], "");
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("checked rules/actor_core_v3: 0 errors, 0 warnings"), "{}", out.stderr);
    let out = actorc(&["check", "tests/data/check/E0101_unknown_stat.stat", "--format", "json"], "");
    assert_eq!(out.code, 1);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let d = &v[0]["diagnostics"][0];
    assert_eq!(d["code"], "E0101");
    assert_eq!(d["line"], 6);
    let out = actorc(&["check", "tests/data/check/W0001_unused_bucket.stat"], "");
    assert_eq!(out.code, 0, "warnings alone do not fail");
    let out = actorc(&["check", "rules/actor_core_v3", "--emit", "ir"], "");
    assert!(out.stdout.contains("stat S0 strength primary pipeline P0"), "{}", out.stdout);
}

#[test]
fn eval_error_names_stat_and_formula() {
    let rules = "bucket FLAT fold sum apply value + x;\npipeline p = FLAT;\ndefault pipeline p;\nprimary a;\nderived b = ln(a);\n";
    let dir = std::env::temp_dir().join(format!("actorc-eval-error-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("r.stat"), rules).unwrap();
    let input = r#"{"id":"neg","subsystems":[{"primary":[{"dimension":"a","bucket":"FLAT","value":-1,"system":"s"}]}]}
{"id":"pos","subsystems":[{"primary":[{"dimension":"a","bucket":"FLAT","value":1,"system":"s"}]}]}
"#;
    let out = actorc(&["run", dir.to_str().unwrap(), "--input", "-", "--quiet"], input);
    assert_eq!(out.code, 1);
    let lines: Vec<serde_json::Value> = out.stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines[0]["error"]["kind"], "eval");
    assert_eq!(lines[0]["error"]["stat"], "b");
    assert_eq!(lines[0]["error"]["formula"], "ln(a)");
    assert_eq!(lines[0]["error"]["message"], "stat `b`: base formula `ln(a)` produced NaN");
    assert_eq!(lines[1]["snapshot"]["Derived"]["b"], 0.0);
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn cost_bound_and_budget() {
    let out = actorc(&["check", "rules/actor_core_v3", "--cost"], "");
    assert_eq!(out.code, 0);
    assert!(out.stderr.contains("cost ≤ 552 + 2 per contribution"), "{}", out.stderr);
    assert!(out.stdout.lines().any(|l| l.starts_with("crit_rate ")), "{}", out.stdout);
    let out = actorc(&["check", "rules/actor_core_v3", "--max-cost", "1000", "--cost-contributions", "100"], "");
    assert_eq!(out.code, 0, "552 + 2 × 100 fits in 1000: {}", out.stderr);
    let out = actorc(&["check", "rules/actor_core_v3", "--max-cost", "700", "--cost-contributions", "100"], "");
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("E0401") && out.stderr.contains("752 exceeds the budget of 700"), "{}", out.stderr);
}

/// Situations in the cost bound: a contribution is filtered, stacked and evaluated once for
/// its stat and once for each view of it; the stacking sort adds ⌈log2 n⌉ levels; a view is
/// a stat.
#[test]
fn cost_counts_filtering_stacking_and_views() {
    use actorc::cost::{PER_SORT_LEVEL, PER_STACKED, cost, levels};
    use actorc::ir::MAX_REQUIREMENTS;
    assert_eq!([0, 1, 2, 3, 4, 5, 4096, 4097].map(levels), [0, 0, 1, 2, 2, 3, 12, 13]);
    let compile = |text: &str| actorc::Rules::from_analysis(actorc::rules::compile_str("cost.stat", text)).unwrap();
    let plain = "bucket FLAT fold sum apply value + x; pipeline p = FLAT; default pipeline p;
        layers TOTAL policy intersect unscoped TOTAL; derived damage in 0 .. 100;";
    let base = cost(&compile(plain).ir);
    assert_eq!((base.per_contribution, base.per_contribution_log), (2, 0));
    // Tags: each requirement of the contribution is checked in its one context.
    let tagged = cost(&compile(&format!("{plain} tag fire, cold;")).ir);
    assert_eq!(tagged.fixed, base.fixed);
    assert_eq!(tagged.per_contribution, 2 + MAX_REQUIREMENTS as u64);
    // Two views: three contexts, three evaluations, and two more stats.
    let viewed =
        cost(&compile(&format!("{plain} tag fire, cold; view a = damage with fire; view b = damage with cold;")).ir);
    assert_eq!(viewed.per_contribution, 3 * (2 + MAX_REQUIREMENTS as u64));
    assert_eq!(viewed.fixed, 3 * base.fixed + 2, "each view's fixed part, and its context");
    assert_eq!(viewed.stats[1].view_of.as_deref(), Some("damage"));
    assert_eq!(viewed.stats[1].per_contribution, 0, "contributions name the source");
    // Stacking: the walk per context, and the sorts' levels.
    let stacked = cost(
        &compile(&format!("{plain} tag fire, cold; view a = damage with fire; stack frenzy limit 3 keep highest;")).ir,
    );
    assert_eq!(stacked.per_contribution, 2 * (2 + MAX_REQUIREMENTS as u64 + PER_STACKED));
    assert_eq!(stacked.per_contribution_log, 2 * PER_SORT_LEVEL);
    let n = 1000;
    assert_eq!(stacked.bound(n), stacked.fixed + n * (stacked.per_contribution + stacked.per_contribution_log * 10));

    // From the command line: the summary, the table and the budget.
    let rules = "tests/data/situational/rules.stat";
    let out = actorc(&["check", rules, "--cost"], "");
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("cost ≤ 168 + (60 + 6 × ⌈log2 n⌉) per contribution"), "{}", out.stderr);
    assert!(
        out.stdout.lines().any(|l| l.starts_with("fire_spell_damage ") && l.contains("(in damage)")),
        "{}",
        out.stdout
    );
    // 168 + 100 × (60 + 6 × 7) = 10368.
    let out = actorc(&["check", rules, "--max-cost", "10368", "--cost-contributions", "100"], "");
    assert_eq!(out.code, 0, "{}", out.stderr);
    let out = actorc(&["check", rules, "--max-cost", "10367", "--cost-contributions", "100"], "");
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("10368 exceeds the budget of 10367"), "{}", out.stderr);
    let out = actorc(&["check", rules, "--format", "json"], "");
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v[0]["cost"]["per_contribution_log"], 6);
}

#[test]
fn input_limits_cost_only_the_actor() {
    let deep = format!(r#"{{"id":"deep","subsystems":[{{"meta":{{"system":"{}"}}}}]}}"#, "x");
    let nested = format!(r#"{{"id":"nested","subsystems":[],"junk":{}1{}}}"#, "[".repeat(40), "]".repeat(40));
    let many = format!(
        r#"{{"id":"many","subsystems":[{}]}}"#,
        [r#"{"primary":[{"dimension":"strength","bucket":"FLAT","value":1,"system":"a"}]}"#; 5].join(",")
    );
    let input = format!("{GOOD}\n{nested}\n{many}\n{deep}\n");
    let out = actorc(
        &["run", "rules/actor_core_v3", "--input", "-", "--quiet", "--max-subsystems", "4", "--max-json-depth", "32"],
        &input,
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    let lines: Vec<serde_json::Value> = out.stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 4);
    assert!(lines[0]["snapshot"].is_object());
    assert_eq!(lines[1]["id"], "nested");
    assert!(lines[1]["error"]["message"].as_str().unwrap().contains("nested deeper than 32"));
    assert_eq!(lines[2]["id"], "many");
    assert!(lines[2]["error"]["message"].as_str().unwrap().contains("5 subsystems, over the limit of 4"));
    assert!(lines[3]["snapshot"].is_object());
}

/// `--values` writes the chosen stats' values, equal to the snapshots' (0 where a stat has
/// no value), with both engines; errors stay per actor.
#[test]
fn values_are_the_snapshot_values() {
    let party = std::fs::read_to_string("examples/party.ndjson").unwrap();
    let errors = std::fs::read_to_string("tests/data/eval/errors/actors.ndjson").unwrap();
    // Over two chunks of `run` (2,048 lines each), the second shorter: one value table
    // serves the whole run.
    let many_errors = errors.repeat(2_600usize.div_ceil(errors.lines().count()));
    let cases = [
        ("rules/rpg", party.as_str(), "hp_max,max_health,crit_chance,lifesteal,level"),
        ("tests/data/eval/errors", errors.as_str(), "inverse,a,bounded"),
        ("tests/data/eval/errors", many_errors.as_str(), "inverse,a,bounded"),
    ];
    for (rules, input, stats) in cases {
        let snapshots = actorc(&["run", rules, "--input", "-", "-q", "--engine", "interp"], input);
        let names: Vec<&str> = stats.split(',').collect();
        for engine in ["interp", "jit"] {
            let out = actorc(&["run", rules, "--input", "-", "-q", "--engine", engine, "--values", stats], input);
            assert_eq!(out.code, snapshots.code, "{rules} {engine}: {}", out.stderr);
            let (want, got): (Vec<&str>, Vec<&str>) =
                (snapshots.stdout.lines().collect(), out.stdout.lines().collect());
            assert_eq!(want.len(), got.len());
            for (w, g) in want.iter().zip(&got) {
                let w: serde_json::Value = serde_json::from_str(w).unwrap();
                let g: serde_json::Value = serde_json::from_str(g).unwrap();
                assert_eq!(w["id"], g["id"]);
                if w.get("error").is_some() {
                    assert_eq!(w["error"], g["error"], "{rules} {engine}");
                    continue;
                }
                let keys: Vec<&str> = g["values"].as_object().unwrap().keys().map(String::as_str).collect();
                assert_eq!(keys.len(), names.len(), "{g}");
                for name in &names {
                    let snap = &w["snapshot"];
                    let want = snap["Primary"].get(name).or_else(|| snap["Derived"].get(name));
                    let want = want.and_then(|v| v.as_f64()).unwrap_or(0.0);
                    assert_eq!(g["values"][name].as_f64(), Some(want), "{rules} {engine} {name}: {g}");
                }
            }
        }
    }
    // The values of one actor document.
    let hero = actorc(&["run", "rules/rpg", "--input", "examples/hero.json", "--values", "level,luck"], "");
    assert_eq!(hero.code, 0, "{}", hero.stderr);
    assert_eq!(hero.stdout.trim(), r#"{"id":"hero","values":{"level":42.0,"luck":5.0}}"#);
}

/// `--values` through the result cache (`--stats`, as `--watch` evaluates) writes what a
/// plain run writes.
#[test]
fn values_with_stats_are_values_as_run_writes_them() {
    let args = ["run", "rules/rpg", "--input", "examples/party.ndjson", "-q", "--values", "level,persuasion"];
    let plain = actorc(&args, "");
    let cached = actorc(&[&args[..], &["--stats"]].concat(), "");
    assert_eq!(plain.code, 0, "{}", plain.stderr);
    assert_eq!(cached.stdout, plain.stdout, "{}", cached.stderr);
    assert!(cached.stderr.starts_with("generation 1 serving") && cached.stderr.contains("cache: 0 hits, 6 misses"));
}

#[test]
fn values_usage_errors() {
    let out = actorc(&["run", "rules/rpg", "--input", "examples/party.ndjson", "--values", "hp_mx"], "");
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("unknown stat `hp_mx` (did you mean `hp_max`?)"), "{}", out.stderr);
    let out = actorc(&["run", "rules/rpg", "--input", "examples/party.ndjson", "--values", "hp_mx", "--stats"], "");
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("unknown stat `hp_mx` (did you mean `hp_max`?)"), "{}", out.stderr);
    let out = actorc(&["run", "rules/rpg", "--input", "examples/party.ndjson", "--values", "level,,luck"], "");
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("a stat name is empty"), "{}", out.stderr);
}

#[test]
fn threads_out_of_range_are_a_usage_error() {
    for n in ["0", "100000"] {
        let out = actorc(&["run", "rules/rpg", "--input", "examples/party.ndjson", "--threads", n], "");
        assert_eq!(out.code, 2, "--threads {n}: {}", out.stderr);
        assert!(out.stderr.contains("1..=1024"), "{}", out.stderr);
    }
    let out = actorc(&["run", "rules/rpg", "--input", "examples/party.ndjson", "--threads", "2", "-q"], "");
    assert_eq!((out.code, out.stdout.lines().count()), (0, 6), "{}", out.stderr);
}

#[test]
fn output_over_the_input_is_refused() {
    let dir = std::env::temp_dir().join(format!("actorc-output-over-input-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let input = dir.join("party.ndjson");
    std::fs::copy("examples/party.ndjson", &input).unwrap();
    let link = dir.join("link.ndjson");
    let _ = std::fs::remove_file(&link);
    #[cfg(unix)]
    std::os::unix::fs::symlink(&input, &link).unwrap();
    #[cfg(not(unix))]
    std::fs::hard_link(&input, &link).unwrap();
    let before = std::fs::read(&input).unwrap();
    for output in [&input, &link] {
        let (i, o) = (input.to_str().unwrap(), output.to_str().unwrap());
        for watch in [false, true] {
            let mut args = vec!["run", "rules/rpg", "--input", i, "--output", o, "-q"];
            if watch {
                args.push("--stats");
            }
            let out = actorc(&args, "");
            assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
            assert!(out.stderr.contains("is the input file"), "{}", out.stderr);
        }
    }
    assert_eq!(std::fs::read(&input).unwrap(), before, "the input is untouched");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn stats_names_an_actor_without_id_as_run_does() {
    let no_id = GOOD.replace(r#""id":"good","#, "");
    let input = format!("{GOOD}\n{no_id}\n");
    let plain = actorc(&["run", "rules/actor_core_v3", "--input", "-", "-q"], &input);
    let stats = actorc(&["run", "rules/actor_core_v3", "--input", "-", "-q", "--stats"], &input);
    assert_eq!(plain.code, 0, "{}", plain.stderr);
    assert!(plain.stdout.lines().nth(1).unwrap().starts_with(r#"{"id":null,"#), "{}", plain.stdout);
    assert_eq!(stats.stdout, plain.stdout, "{}", stats.stderr);
}

#[test]
fn duplicate_keys_are_errors() {
    let twice = GOOD.replace(r#""value":10"#, r#""value":5,"value":50"#);
    assert_ne!(twice, GOOD);
    // A batch line (the direct JSON path declines it) and one document (the ordinary path).
    let batch = actorc(&["run", "rules/actor_core_v3", "--input", "-", "-q"], &format!("{GOOD}\n{twice}\n"));
    assert_eq!(batch.code, 1, "{}", batch.stderr);
    let second = batch.stdout.lines().nth(1).unwrap();
    assert!(second.contains(r#""error""#) && second.contains("duplicate key `value`"), "{second}");
    let dir = std::env::temp_dir().join(format!("actorc-duplicate-keys-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let one = dir.join("actor.json");
    std::fs::write(&one, &twice).unwrap();
    let out = actorc(&["run", "rules/actor_core_v3", "--input", one.to_str().unwrap(), "-q"], "");
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(out.stderr.contains("duplicate key `value`"), "{}", out.stderr);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Runs the binary with standard output and error sent where `stdout` and `stderr` say.
#[cfg(target_os = "linux")]
fn actorc_to(args: &[&str], stdout: std::process::Stdio, stderr: std::process::Stdio) -> std::process::ExitStatus {
    std::process::Command::new(env!("CARGO_BIN_EXE_actorc")).args(args).stdout(stdout).stderr(stderr).status().unwrap()
}

#[test]
#[cfg(target_os = "linux")]
fn a_full_disk_is_exit_2_and_never_a_panic() {
    use std::process::Stdio;
    let full = || Stdio::from(std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap());
    let commands: [&[&str]; 5] = [
        &["run", "rules/rpg", "--input", "examples/party.ndjson"],
        &["check", "rules/rpg", "--emit", "ir"],
        &["check", "rules/rpg", "--format", "json"],
        &["graph", "rules/rpg"],
        &["explain", "rules/rpg", "--input", "examples/hero.json", "--stat", "health"],
    ];
    for args in commands {
        // Output to a full disk: one message, exit 2.
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_actorc")).args(args).stdout(full()).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.matches("cannot write output").count(), 1, "{args:?}: {stderr}");
        // Messages to a full disk too: still exit 2, never a panic (101).
        assert_eq!(actorc_to(args, full(), full()).code(), Some(2), "{args:?}");
        // Only messages: exit 2 if the command had one to write, else its own 0.
        let code = actorc_to(args, Stdio::null(), full()).code();
        assert!(matches!(code, Some(0 | 2)), "{args:?}, stderr full: {code:?}");
    }
    // `check` always writes its summary to standard error.
    assert_eq!(actorc_to(&["check", "rules/rpg"], Stdio::null(), full()).code(), Some(2));
    // Rule errors keep their own code when their messages cannot be written.
    let status = actorc_to(&["check", "tests/data/check/E0101_unknown_stat.stat"], Stdio::null(), full());
    assert_eq!(status.code(), Some(1));
}

#[test]
fn a_closed_pipe_ends_quietly() {
    let dir = std::env::temp_dir().join(format!("actorc-closed-pipe-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let input = dir.join("many.ndjson");
    std::fs::write(&input, std::fs::read_to_string("examples/party.ndjson").unwrap().repeat(500)).unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_actorc"))
        .args(["run", "rules/rpg", "--input", input.to_str().unwrap(), "-q"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // About 750 KB of records, far more than a pipe holds: the run meets the closed end.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn every_input_error_of_a_batch_names_its_line() {
    let unknown = GOOD.replace(r#""dimension":"strength""#, r#""dimension":"strenght""#);
    let input = format!("{GOOD}\n{unknown}\n{{\"id\":\"cut\",\n");
    let plain = actorc(&["run", "rules/actor_core_v3", "--input", "-", "-q"], &input);
    let lines: Vec<&str> = plain.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{}", plain.stdout);
    assert!(lines[1].contains(r#""message":"line 2: unknown dimension `strenght`"#), "{}", lines[1]);
    assert!(lines[2].contains(r#""message":"line 3: malformed JSON"#), "{}", lines[2]);
    let stats = actorc(&["run", "rules/actor_core_v3", "--input", "-", "-q", "--stats"], &input);
    assert_eq!(stats.stdout, plain.stdout, "{}", stats.stderr);
}

/// `n` actors of the v3 rules, each with 100 contributions over 5 subsystems (about 10 KB of
/// JSON, like the benchmark workload's), written to a file in `dir`.
#[cfg(target_os = "linux")]
fn many_actors(dir: &std::path::Path, n: usize) -> std::path::PathBuf {
    use std::fmt::Write;
    let dims = ["strength", "intelligence", "spirit", "hp_max", "attack_power", "defense", "crit_rate"];
    let buckets = ["FLAT", "MULT", "POST_ADD"];
    let mut text = String::new();
    for i in 0..n {
        write!(text, r#"{{"id":"actor-{i:06}","version":3,"subsystems":["#).unwrap();
        for s in 0..5 {
            let contributions: Vec<String> = (0..20)
                .map(|c| {
                    let (d, b) = (dims[(i + s + c) % dims.len()], buckets[c % buckets.len()]);
                    let value = if b == "MULT" { 0.01 * (c % 7) as f64 } else { (i % 97 + c) as f64 };
                    format!(
                        r#"{{"dimension":"{d}","bucket":"{b}","value":{value},"system":"system-{s}","priority":{c}}}"#
                    )
                })
                .collect();
            let sep = if s == 0 { "" } else { "," };
            write!(text, r#"{sep}{{"primary":[{}],"meta":{{"system":"system-{s}"}}}}"#, contributions.join(","))
                .unwrap();
        }
        text.push_str("]}\n");
    }
    let path = dir.join(format!("actors-{n}.ndjson"));
    std::fs::write(&path, text).unwrap();
    path
}

/// A child's peak resident memory in kB (`VmHWM`), read until it exits.
#[cfg(target_os = "linux")]
fn peak_kb(mut child: std::process::Child) -> u64 {
    let status = format!("/proc/{}/status", child.id());
    let mut peak = 0;
    while child.try_wait().unwrap().is_none() {
        let hwm = std::fs::read_to_string(&status).ok().and_then(|s| {
            s.lines().find_map(|l| l.strip_prefix("VmHWM:").and_then(|v| v.trim().trim_end_matches(" kB").parse().ok()))
        });
        peak = peak.max(hwm.unwrap_or(0));
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    peak
}

/// `run --stats` streams as `run` does: its peak memory does not grow with the input (it
/// held every actor: 384 MB for 20,000 of the benchmark's, against 52 MB for `run`).
#[test]
#[cfg(target_os = "linux")]
fn run_stats_streams_like_run() {
    let dir = std::env::temp_dir().join(format!("actorc-stats-memory-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let input = many_actors(&dir, 2000);
    let peak = |more: &[&str]| {
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_actorc"))
            .args(["run", "rules/actor_core_v3", "--input", input.to_str().unwrap(), "-q", "-o", "/dev/null"])
            .args(more)
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        peak_kb(child)
    };
    let (plain, stats) = (peak(&[]), peak(&["--stats"]));
    assert!(stats * 5 <= plain * 6, "--stats peaks at {stats} kB, run at {plain} kB");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `run --watch` keeps a few KB per actor (its place in the input, the hash of its text, its
/// result and the cache's prepared form; it kept every parsed actor, 21.7 KB each).
#[test]
#[cfg(target_os = "linux")]
fn run_watch_holds_little_per_actor() {
    use std::io::BufRead;
    let dir = std::env::temp_dir().join(format!("actorc-watch-memory-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let rss_kb = |n: usize| {
        let input = many_actors(&dir, n);
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_actorc"))
            .args(["run", "rules/actor_core_v3", "--input", input.to_str().unwrap(), "-o", "/dev/null", "--watch"])
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let err = std::io::BufReader::new(child.stderr.take().unwrap());
        let watching = err.lines().map_while(Result::ok).any(|l| l.contains("watching for rule changes"));
        let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(watching, "the watch started");
        let rss = status.lines().find_map(|l| l.strip_prefix("VmRSS:")).unwrap();
        rss.trim().trim_end_matches(" kB").parse::<u64>().unwrap()
    };
    let (one, many) = (rss_kb(1), rss_kb(2001));
    let per_actor = (many.saturating_sub(one)) as f64 / 2000.0;
    assert!(per_actor < 6.0, "{per_actor:.1} kB per actor ({one} kB for 1, {many} kB for 2,001)");
    std::fs::remove_dir_all(&dir).unwrap();
}
