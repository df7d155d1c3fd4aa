//! The analysis as data: one lone rule file held in memory (it exists on no disk).

use super::*;
use std::path::{Path, PathBuf};

const RULES: &str = "\
bucket FLAT fold sum apply value + x;
pipeline base = FLAT;
default pipeline base;
/// Grows with level.
const SCALE = 2.5;
table bonus = [1: 10, 2: 20];
curve falloff = [0: 1, 10: 0];
primary level in 1 .. 60 default 1;
derived power = level * SCALE + lookup(bonus, 1) + at(falloff, level) in 0 .. 1000;
derived total in 0 .. level merge max;
";

fn file() -> PathBuf {
    Path::new("/nonexistent-actorc-ide-test/game.stat").to_path_buf()
}

fn ws(text: &str) -> Workspace {
    let mut ws = Workspace::new(None);
    ws.set_text(&file(), text.to_string());
    ws
}

fn offset(needle: &str, nth: usize) -> usize {
    RULES.match_indices(needle).nth(nth).unwrap().0
}

fn texts(ranges: &[FileRange]) -> Vec<(usize, &str)> {
    ranges.iter().map(|r| (RULES[..r.range.start].matches('\n').count() + 1, &RULES[r.range.clone()])).collect()
}

#[test]
fn diagnostics_follow_the_text() {
    let mut w = ws(&RULES.replace("level * SCALE", "levl * SCALE"));
    let d = w.diagnostics();
    assert_eq!(d.len(), 1);
    let codes: Vec<&str> = d[0].1.iter().map(|p| p.code).collect();
    assert_eq!(codes, ["E0101"]);
    assert!(d[0].1[0].message.contains("did you mean `level`"), "{}", d[0].1[0].message);
    w.set_text(&file(), RULES.to_string());
    assert_eq!(w.diagnostics(), [(file(), Vec::new())]);
}

#[test]
fn navigation_resolves_constants_tables_and_curves() {
    let w = ws(RULES);
    let f = file();
    assert_eq!(texts(&w.definition(&f, offset("SCALE +", 0))), [(5, "SCALE")]);
    assert_eq!(texts(&w.definition(&f, offset("bonus, 1", 0))), [(6, "bonus")]);
    assert_eq!(
        texts(&w.references(&f, offset("level in", 0), true)),
        [(8, "level"), (9, "level"), (9, "level"), (10, "level")]
    );
    assert_eq!(texts(&w.references(&f, offset("falloff", 0), false)), [(9, "falloff")]);
    assert_eq!(texts(&w.definition(&f, offset("base;", 0))), [(2, "base")]);
    assert!(w.definition(&f, offset("lookup", 0)).is_empty());
}

#[test]
fn hover_says_what_a_name_is() {
    let w = ws(RULES);
    let f = file();
    let h = |needle, nth| w.hover(&f, offset(needle, nth)).map(|h| h.markdown).unwrap_or_default();
    assert_eq!(h("SCALE +", 0), "```stat\nconst SCALE = 2.5\n```\n\nGrows with level.\n");
    let power = h("power =", 0);
    assert!(power.contains("- formula: `level * SCALE + lookup(bonus, 1) + at(falloff, level)`"), "{power}");
    assert!(power.contains("- default pipeline `base`: FLAT"), "{power}");
    assert!(h("total", 0).contains("- operator: `merge max`"));
    assert!(h("lookup", 0).starts_with("```stat\nlookup(table, key): "));
    assert!(h("bonus", 0).contains("A table: read with `lookup(bonus, key)`."));
    assert_eq!(w.hover(&f, RULES.len() + 100), None);
}

#[test]
fn completion_fits_the_context() {
    let labels = |text: &str| {
        let w = ws(text);
        w.completion(&file(), text.len()).into_iter().map(|c| c.label).collect::<Vec<_>>()
    };
    assert_eq!(labels(&format!("{RULES}derived x = lookup(")), ["bonus"]);
    assert_eq!(labels(&format!("{RULES}derived x = at(")), ["falloff"]);
    assert_eq!(labels(&format!("{RULES}derived x in 0 .. 1 merge a")), ["average"]);
    assert_eq!(labels(&format!("{RULES}derived x = 1 pipeline ")), ["base"]);
    assert_eq!(labels(&format!("{RULES}derived x = le")), ["level"]);
    assert_eq!(labels(&format!("{RULES}derived x = 1 default SC")), ["SCALE"]);
    assert_eq!(labels(&format!("{RULES}der")), ["derived"]);
    assert!(labels(&format!("{RULES}// a comment ")).is_empty());
}

#[test]
fn rename_edits_every_use_or_refuses() {
    let w = ws(RULES);
    let f = file();
    let edits = w.rename(&f, offset("level in", 0), "lvl").unwrap();
    assert_eq!(edits.len(), 1);
    assert_eq!(edits[0].1.len(), 4);
    assert!(w.rename(&f, offset("level in", 0), "power").unwrap_err().contains("already declares"));
    assert!(w.rename(&f, offset("level in", 0), "SCALE").unwrap_err().contains("not a valid stat name"));
    assert!(w.rename(&f, offset("level in", 0), "scale_2").is_ok());
    assert!(w.rename(&f, offset("SCALE", 0), "level").unwrap_err().contains("is a stat"));
    assert!(w.rename(&f, offset("lookup", 0), "find").unwrap_err().contains("cannot be renamed"));
}

#[test]
fn symbols_tokens_and_format() {
    let w = ws(RULES);
    let f = file();
    let names: Vec<String> = w.document_symbols(&f).into_iter().map(|s| s.name).collect();
    assert_eq!(names, ["FLAT", "base", "SCALE", "bonus", "falloff", "level", "power", "total"]);
    assert_eq!(w.format(&f), Ok(None));
    let messy = ws(&RULES.replace("primary level in 1 .. 60 default 1;", "primary   level in 1..60 default 1 ;"));
    assert_eq!(messy.format(&f), Ok(Some(RULES.to_string())));
    let broken = ws(&RULES.replace("in 1 .. 60", "in 1 .."));
    assert!(broken.format(&f).unwrap_err().starts_with("not formatted: syntax error"));
    // Without a sample actor there are no values to show.
    assert!(w.inlay_hints(&f).is_empty());
}

/// Hostile texts and every offset: no answer panics, tokens never overlap.
#[test]
fn any_text_any_offset() {
    let texts = [
        "",
        "derived",
        "derived x = lookup(",
        "derived é = ((((1",
        "bucket B fold each apply value + x; pipeline P = B, B, C; view v = nope with a, b;",
        "\u{feff}tag a; tag group g = a, g; stack s limit 0 keep worst; const c = c;",
        "layers A requires realm, B policy intersect unscoped A; derived y = \"str\" // c\n/// doc",
    ];
    for text in texts {
        let w = ws(text);
        let f = file();
        let tokens = w.semantic_tokens(&f);
        assert!(tokens.windows(2).all(|t| t[0].range.end <= t[1].range.start), "{text}: {tokens:?}");
        for at in 0..=text.len() + 1 {
            let _ = (w.hover(&f, at), w.definition(&f, at), w.references(&f, at, true), w.completion(&f, at));
            let _ = w.rename(&f, at, "y");
        }
        let _ = (w.inlay_hints(&f), w.document_symbols(&f), w.format(&f), w.diagnostics());
    }
}
