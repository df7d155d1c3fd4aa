//! The Bevy sample of docs/embedding.md is the crate's doc test, so it compiles and runs.

/// The lines of the first code block after `after` in `text`, with `prefix` stripped from
/// each line and the hidden (`# `) lines left out.
fn block(text: &str, after: &str, prefix: &str) -> Vec<String> {
    let lines = text.lines().map(|l| l.strip_prefix(prefix).or(l.strip_prefix(prefix.trim_end())).unwrap_or(l));
    let mut lines = lines.skip_while(|l| !l.contains(after));
    let _fence = lines.find(|l| l.starts_with("```"));
    lines.take_while(|l| !l.starts_with("```")).filter(|l| !l.starts_with("# ")).map(str::to_string).collect()
}

#[test]
fn the_documented_sample_is_the_doc_test() {
    let readme = std::fs::read_to_string("../docs/embedding.md").unwrap();
    let lib = std::fs::read_to_string("src/lib.rs").unwrap();
    let sample = block(&readme, "## In a Bevy game", "");
    let doc = block(&lib, "actorc in a Bevy app", "//! ");
    assert!(sample.len() > 10, "{sample:?}");
    assert_eq!(sample, doc);
}
