//! pest pairs → AST. One declaration is parsed at a time so that errors do not cascade.

use super::ast::*;
use crate::diag::Diagnostic;
use crate::source::{FileId, Span};
use pest::Parser;
use pest::iterators::Pair;

#[derive(pest_derive::Parser)]
#[grammar = "../grammar/stat.pest"]
struct StatParser;

/// Bounds that keep hostile input from exhausting the stack.
#[derive(Debug, Clone, Copy)]
pub struct ParseLimits {
    /// Deepest allowed nesting of expressions: of parentheses, and of expression nodes
    /// (operator chains, `-`, calls and `if`). A chain (`a + b - c …`) is one level however
    /// long.
    pub max_depth: usize,
}

impl Default for ParseLimits {
    fn default() -> Self {
        ParseLimits { max_depth: 64 }
    }
}

/// The largest nesting limit accepted; deeper trees would risk the native stack.
pub const MAX_DEPTH_LIMIT: usize = 1000;

/// Parses one file. Returns every declaration that parsed and a diagnostic for each that did not.
pub fn parse_file(file: FileId, text: &str, limits: ParseLimits) -> (Ast, Vec<Diagnostic>) {
    let mut p = FileParser { file, text, max_depth: limits.max_depth.min(MAX_DEPTH_LIMIT), out: Parsed::default() };
    for (start, end) in split_declarations(text) {
        p.declarations(start, end);
    }
    (p.out.ast, p.out.diags)
}

#[derive(Default)]
struct Parsed {
    ast: Ast,
    diags: Vec<Diagnostic>,
}

struct FileParser<'t> {
    file: FileId,
    text: &'t str,
    max_depth: usize,
    out: Parsed,
}

/// How many places where a declaration could begin are tried for a forgotten `;` before a
/// syntax error (the last ones before it): bounds the work on hostile text.
const SEMICOLON_TRIES: usize = 3;

/// Recoveries within one stretch of text that has no certain declaration start (see
/// [`certain_start`]); past them, the rest of the stretch is one error. Each costs the
/// parser the stretch again, so this bounds the work on hostile text.
const STRETCH_RECOVERIES: usize = 8;

impl FileParser<'_> {
    /// Parses `text[start..end]`: normally one declaration, ended by its `;`. When that fails
    /// and the text before a later declaration (or before the end of the file) is one whole
    /// declaration, its `;` was forgotten: it is kept, the missing `;` reported, and the rest
    /// parsed on its own. A declaration that fails otherwise is reported, and the rest is
    /// parsed from the next declaration (a declaration keyword first on its line).
    fn declarations(&mut self, mut start: usize, end: usize) {
        let mut stretch = (usize::MAX, 0);
        loop {
            let rest = &self.text[start..end];
            if is_trivia(rest) {
                return;
            }
            // pest gets the text only up to the next line that must begin a declaration: a
            // failed parse costs it all the text after the failure (it searches back from the
            // end for the line's start), so the rest of a long chunk must not be part of
            // every attempt.
            let part = &rest[..certain_start(rest).unwrap_or(rest.len())];
            let part_end = start + part.len();
            stretch = if stretch.0 == part_end { (part_end, stretch.1 + 1) } else { (part_end, 0) };
            let recover = stretch.1 < STRETCH_RECOVERIES;
            let (diag, error_at) = match paren_depth_exceeds(part, self.max_depth) {
                Some(at) => (too_deep(Span::new(self.file, start + at, start + at + 1), self.max_depth), at),
                None => match StatParser::parse(Rule::item, part) {
                    Ok(mut pairs) => {
                        let item = pairs.next().expect("item rule always yields one pair");
                        self.build(start, part, item);
                        start = part_end;
                        continue;
                    }
                    Err(e) => {
                        if recover && let Some(cut) = self.missing_semicolon(start, part, rest, &e) {
                            start += cut;
                            continue;
                        }
                        let at = error_position(&e);
                        // What was found is described from `rest`: the part may end just
                        // before the next declaration's keyword.
                        (syntax_error(self.file, start, rest, e), at)
                    }
                },
            };
            self.out.diags.push(diag);
            let resume = next_declaration(part, error_at).filter(|&cut| recover && !is_trivia(&part[..cut]));
            let cut = resume.unwrap_or(part.len());
            self.lost(&part[..cut]);
            start += cut;
        }
    }

    /// The AST of one declaration parsed from `part` (at `start`), or its diagnostic.
    fn build(&mut self, start: usize, part: &str, item: P) {
        let mut b = Builder { file: self.file, base: start, max_depth: self.max_depth, error: None };
        match b.item(item) {
            Some(item) => self.out.ast.items.push(item),
            None => {
                self.out.diags.extend(b.error);
                self.lost(part);
            }
        }
    }

    /// Records what the declaration in `part`, which did not parse, would have declared.
    fn lost(&mut self, part: &str) {
        self.out.ast.unparsed.extend(declared_by(part));
    }

    /// When `part` failed to parse with `error` because a `;` is missing: keeps the
    /// declaration before it, reports the missing `;` and returns where the rest begins.
    /// `rest` is the text from `start` to the end of the chunk, `part` what of it was parsed.
    fn missing_semicolon(
        &mut self,
        start: usize,
        part: &str,
        rest: &str,
        error: &pest::error::Error<Rule>,
    ) -> Option<usize> {
        let error_at = error_position(error);
        let mut cuts = declaration_starts(part, error_at);
        if !part.ends_with(';') {
            cuts.push(part.len());
        }
        // The last places first (the longest declaration that parses), but `pipeline NAME =`
        // first on an unindented line first of all: more likely a declaration than a stat's
        // `pipeline` clause and formula.
        let unindented_pipeline =
            |&c: &usize| (c == 0 || part[..c].ends_with('\n')) && declaration_keyword(&part[c..]) == Some(false);
        cuts.reverse();
        cuts.sort_by_key(|c| !unindented_pipeline(c)); // stable: the last first in each group
        for &cut in cuts.iter().take(SEMICOLON_TRIES) {
            let Ok(mut pairs) = StatParser::parse(Rule::open_item, &part[..cut]) else { continue };
            let item = pairs.next().expect("open_item rule always yields one pair");
            let decl = item.clone().into_inner().find(|p| !matches!(p.as_rule(), Rule::doc | Rule::EOI))?;
            // Just after its last token (a rule's own span may take in the blanks after it).
            let last_token = decl.clone().into_inner().flatten().last().unwrap_or_else(|| decl.clone());
            let after = start + last_token.as_span().end();
            let ends_in_expression = matches!(
                decl.clone().into_inner().last().map(|p| p.as_rule()),
                Some(Rule::expr | Rule::formula_clause | Rule::range_clause | Rule::default_clause)
            );
            let what = if ends_in_expression { "expression" } else { "declaration" };
            let mut d = Diagnostic::error("E0001", format!("expected `;` after this {what}"))
                .primary(Span::new(self.file, after, after), "expected `;`");
            if cut < rest.len() {
                let next = start + cut;
                let len = if rest[cut..].starts_with("///") { 3 } else { found_len(&rest[cut..]) };
                d = d.secondary(Span::new(self.file, next, next + len), "the next declaration starts here");
            }
            self.out.diags.push(d.help("every declaration ends with `;`"));
            self.build(start, &part[..cut], item);
            return Some(cut);
        }
        None
    }
}

fn error_position(e: &pest::error::Error<Rule>) -> usize {
    match e.location {
        pest::error::InputLocation::Pos(p) => p,
        pest::error::InputLocation::Span((s, _)) => s,
    }
}

/// Offsets in `part`, up to `until`, where a declaration could begin: a declaration keyword
/// or a doc comment first on its line, or at `until` itself. (Lines are read only up to
/// `until`, which the parser read already.)
fn declaration_starts(part: &str, until: usize) -> Vec<usize> {
    let mut starts = Vec::new();
    let mut line = Some(0);
    while let Some(at) = line.filter(|&l| l <= until) {
        let token = at + indentation(&part[at..]);
        if token <= until && begins_declaration(&part[token..]) {
            starts.push(token);
        }
        line = part[at..].find('\n').map(|n| at + n + 1);
    }
    if until < part.len() && starts.last() != Some(&until) && begins_declaration(&part[until..]) {
        starts.push(until);
    }
    starts
}

/// Where, after the declaration `text` begins with, the line that must begin the next one
/// is: the first that starts with a doc comment or a keyword that cannot continue a
/// declaration (see [`declaration_keyword`]).
fn certain_start(text: &str) -> Option<usize> {
    let mut begun = false;
    let mut line = 0;
    loop {
        let token = line + indentation(&text[line..]);
        let rest = &text[token..];
        if begun && declaration_keyword(rest) == Some(true) {
            return Some(token);
        }
        begun |= !(rest.starts_with("//") || rest.starts_with('\n') || rest.is_empty());
        line = token + rest.find('\n')? + 1;
    }
}

/// Where the declaration after the one that failed at `error_at` begins: at `error_at`
/// when a declaration keyword is there, else at the first line after it that begins one.
fn next_declaration(part: &str, error_at: usize) -> Option<usize> {
    if begins_declaration(&part[error_at..]) {
        return Some(error_at);
    }
    let mut line = error_at + part[error_at..].find('\n')? + 1;
    loop {
        let token = line + indentation(&part[line..]);
        if begins_declaration(&part[token..]) {
            return Some(token);
        }
        line += part[line..].find('\n')? + 1;
    }
}

/// The length of the blanks at the start of a line.
fn indentation(line: &str) -> usize {
    line.len() - line.trim_start_matches([' ', '\t', '\r']).len()
}

/// Whether `rest` starts with a doc comment or a declaration keyword.
fn begins_declaration(rest: &str) -> bool {
    declaration_keyword(rest).is_some()
}

/// `Some(true)` when `rest` starts with what can only begin a declaration: a doc comment,
/// `import`, `bucket`, `layers`, `primary`, `derived` or `default pipeline`. `Some(false)`
/// for `pipeline NAME =`, which begins a declaration or is a stat's `pipeline` clause and
/// its formula. `None` otherwise.
fn declaration_keyword(rest: &str) -> Option<bool> {
    if rest.starts_with("///") {
        return Some(true);
    }
    let word = leading_word(rest);
    let after = rest[word.len()..].trim_start();
    match word {
        "import" | "bucket" | "layers" | "primary" | "derived" => Some(true),
        "default" if leading_word(after) == "pipeline" => Some(true),
        // Keywords only here: `const NAME =`, `table NAME =`, `curve NAME =`.
        "const" | "table" | "curve" => {
            let name = leading_word(after);
            after[name.len()..].trim_start().starts_with('=').then_some(true)
        }
        // Keywords only here: `tag a,`, `tag group g =`, `stack s limit`, `view v =`.
        "tag" | "stack" | "view" => {
            let name = leading_word(after);
            let next = after[name.len()..].trim_start();
            let situational = match word {
                "tag" => name == "group" || next.starts_with([',', ';']),
                "stack" => leading_word(next) == "limit",
                _ => next.starts_with('='),
            };
            situational.then_some(true)
        }
        "pipeline" if after[leading_word(after).len()..].trim_start().starts_with('=') => Some(false),
        _ => None,
    }
}

/// The identifier characters at the start of `text`.
fn leading_word(text: &str) -> &str {
    let n = text.bytes().take_while(|b| b.is_ascii_alphanumeric() || *b == b'_').count();
    &text[..n]
}

/// What the declaration in `text` (which did not parse) names: its keyword and the word
/// after it, skipping comments and doc comments before it.
fn declared_by(text: &str) -> Option<Unparsed> {
    let mut rest = text.trim_start();
    while rest.starts_with("//") {
        rest = rest.find('\n').map_or("", |n| &rest[n + 1..]).trim_start();
    }
    let keyword = leading_word(rest);
    let after = rest[keyword.len()..].trim_start();
    let name = leading_word(after);
    let valid = !name.is_empty() && !name.starts_with(|c: char| c.is_ascii_digit());
    match keyword {
        "default" if name == "pipeline" => Some(Unparsed::DefaultPipeline),
        "primary" | "derived" if valid => Some(Unparsed::Stat(name.into())),
        "bucket" if valid => Some(Unparsed::Bucket(name.into())),
        "pipeline" if valid => Some(Unparsed::Pipeline(name.into())),
        "view" if valid => Some(Unparsed::Stat(name.into())),
        "const" | "table" | "curve" if valid => Some(Unparsed::Value(name.into())),
        "tag" if name == "group" => {
            let group = leading_word(after[name.len()..].trim_start());
            (!group.is_empty()).then(|| Unparsed::Tag(group.into()))
        }
        "tag" if valid => Some(Unparsed::Tag(name.into())),
        _ => None,
    }
}

/// Byte ranges of the declarations: each ends after its `;` (comments and strings skipped).
fn split_declarations(text: &str) -> Vec<(usize, usize)> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let (mut start, mut i) = (0, 0);
    while i < bytes.len() {
        match bytes[i] {
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b';' => {
                out.push((start, i + 1));
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    if start < bytes.len() {
        out.push((start, bytes.len()));
    }
    out
}

/// Only whitespace and comments (doc comments with nothing to document are allowed at the end).
fn is_trivia(chunk: &str) -> bool {
    chunk.lines().all(|l| {
        let l = l.trim();
        l.is_empty() || l.starts_with("//")
    })
}

/// Offset of the first parenthesis that opens deeper than `max`, if any.
fn paren_depth_exceeds(chunk: &str, max: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut in_comment = false;
    for (i, b) in chunk.bytes().enumerate() {
        match b {
            b'\n' => in_comment = false,
            _ if in_comment => {}
            b'/' if chunk.as_bytes().get(i + 1) == Some(&b'/') => in_comment = true,
            b'(' => {
                depth += 1;
                if depth > max {
                    return Some(i);
                }
            }
            b')' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}

fn too_deep(span: Span, max: usize) -> Diagnostic {
    Diagnostic::error("E0003", format!("expression nested deeper than {max} levels"))
        .primary(span, "too deep")
        .help("split the expression into helper stats, or raise the limit with --max-depth")
}

fn rule_words(rule: &Rule) -> Option<&'static str> {
    Some(match rule {
        Rule::ident | Rule::name | Rule::fold_kind => "a name",
        Rule::number => "a number",
        Rule::string => "a quoted path",
        Rule::expr
        | Rule::if_expr
        | Rule::disjunction
        | Rule::conjunction
        | Rule::inversion
        | Rule::compare
        | Rule::sum
        | Rule::product
        | Rule::unary
        | Rule::power
        | Rule::exponent
        | Rule::call => "an expression",
        Rule::cmp_op => "a comparison",
        Rule::add_op => "`+` or `-`",
        Rule::mul_op => "`*`, `/` or `%`",
        Rule::pow_op => "`^`",
        Rule::or_op => "`or`",
        Rule::and_op => "`and`",
        Rule::not_op => "`not`",
        Rule::neg => "`-`",
        Rule::points => "`[`",
        Rule::point => "a `key: value` entry",
        Rule::lbracket => "`[`",
        Rule::rbracket => "`]`",
        Rule::colon => "`:`",
        Rule::doc | Rule::doc_text => "a doc comment",
        Rule::item
        | Rule::import_decl
        | Rule::bucket_decl
        | Rule::pipeline_decl
        | Rule::default_pipeline_decl
        | Rule::layers_decl
        | Rule::stat_decl
        | Rule::category
        | Rule::kw_primary
        | Rule::kw_derived
        | Rule::kw_import
        | Rule::kw_bucket
        | Rule::kw_layers
        | Rule::tag_decl
        | Rule::tag_group_decl
        | Rule::stack_decl
        | Rule::view_decl
        | Rule::const_decl
        | Rule::table_decl
        | Rule::curve_decl
        | Rule::kw_tag
        | Rule::kw_stack
        | Rule::kw_view
        | Rule::kw_const
        | Rule::kw_table
        | Rule::kw_curve => {
            "a declaration (`primary`, `derived`, `const`, `table`, `curve`, `bucket`, `pipeline`, `default pipeline`, `layers`, `tag`, `stack`, `view` or `import`)"
        }
        Rule::kw_group => "`group`",
        Rule::kw_limit => "`limit`",
        Rule::kw_keep => "`keep`",
        Rule::kw_with => "`with`",
        Rule::formula_clause => "`=`",
        Rule::range_clause | Rule::kw_in => "`in`",
        Rule::merge_clause | Rule::kw_merge => "`merge`",
        Rule::pipeline_clause | Rule::kw_pipeline => "`pipeline`",
        Rule::default_clause | Rule::kw_default => "`default`",
        Rule::policy_clause | Rule::kw_policy => "`policy`",
        Rule::unscoped_clause | Rule::kw_unscoped => "`unscoped`",
        Rule::kw_requires => "`requires`",
        Rule::kw_fold => "`fold`",
        Rule::kw_apply => "`apply`",
        Rule::kw_if => "`if`",
        Rule::kw_then => "`then`",
        Rule::kw_else => "`else`",
        Rule::EOI => "the end of the declaration",
        Rule::semi => "`;`",
        Rule::equals => "`=`",
        Rule::comma => "`,`",
        Rule::dots => "`..`",
        Rule::lparen => "`(`",
        Rule::rparen => "`)`",
        _ => return None,
    })
}

fn syntax_error(file: FileId, base: usize, chunk: &str, e: pest::error::Error<Rule>) -> Diagnostic {
    use pest::error::{ErrorVariant, InputLocation};
    let pos = match e.location {
        InputLocation::Pos(p) => p,
        InputLocation::Span((s, _)) => s,
    };
    let mut found = describe_found(&chunk[pos.min(chunk.len())..]);
    let pos = if found == "the end of the file" {
        // Point just after the last token rather than at trailing blank lines.
        let end = chunk.trim_end().len();
        if pos > end {
            found = "the end of the file".into();
        }
        pos.min(end)
    } else {
        pos
    };
    let (message, label) = match &e.variant {
        ErrorVariant::ParsingError { positives, .. } => {
            let mut words: Vec<&str> = positives.iter().filter_map(rule_words).collect();
            // Where any of several operators may come, say so once.
            let operators = [Rule::mul_op, Rule::add_op, Rule::pow_op, Rule::and_op, Rule::or_op, Rule::cmp_op];
            if positives.iter().filter(|r| operators.contains(r)).count() > 1 {
                let operator_words: Vec<&str> = operators.iter().filter_map(rule_words).collect();
                words.retain(|w| !operator_words.contains(w));
                words.push("an operator");
            }
            words.sort();
            words.dedup();
            // At the start of a declaration the keywords and doc comments say the same thing.
            if let Some(&decl) = words.iter().find(|w| w.starts_with("a declaration")) {
                words = vec![decl];
            }
            let expected = match words.len() {
                0 => "something else".to_string(),
                1 => words[0].to_string(),
                n => format!("{} or {}", words[..n - 1].join(", "), words[n - 1]),
            };
            let label = if expected.starts_with("a declaration") {
                "expected a declaration".into()
            } else {
                format!("expected {expected}")
            };
            (format!("expected {expected}, found {found}"), label)
        }
        ErrorVariant::CustomError { message } if message.contains("limit reached") => {
            let span = Span::new(file, base + pos, base + pos);
            return Diagnostic::error("E0003", "expression nested too deeply to parse")
                .primary(span, "the parser ran out of room here")
                .help("split the expression into helper stats");
        }
        ErrorVariant::CustomError { message } => (message.clone(), message.clone()),
    };
    let end = if found == "the end of the file" { pos } else { (pos + found_len(&chunk[pos..])).min(chunk.len()) };
    let at_declaration = message.starts_with("expected a declaration");
    let mut d = Diagnostic::error("E0001", message).primary(Span::new(file, base + pos, base + end), label);
    if found == "the end of the file" {
        d = d.help("every declaration ends with `;`");
    } else if at_declaration && found.starts_with('`') {
        d = d.help("a stat is declared as `primary NAME …;` or `derived NAME …;`");
    } else if chunk[..pos].trim_end().ends_with('%') {
        d = d.help("`%` is the remainder (`a % b`): write a percentage as a fraction (`75%` is `0.75`)");
    }
    d
}

fn found_len(rest: &str) -> usize {
    let t: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
    if t.is_empty() { rest.chars().next().map_or(0, char::len_utf8) } else { t.len() }
}

fn describe_found(rest: &str) -> String {
    let rest_trim = rest.trim_start();
    if rest_trim.is_empty() {
        return "the end of the file".into();
    }
    let word: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
    if !word.is_empty() {
        return format!("`{word}`");
    }
    match rest.chars().next() {
        Some(c) if c.is_control() || !c.is_ascii() => format!("character {:?}", c),
        Some(c) => format!("`{c}`"),
        None => "the end of the file".into(),
    }
}

struct Builder {
    file: FileId,
    base: usize,
    max_depth: usize,
    error: Option<Diagnostic>,
}

type P<'i> = Pair<'i, Rule>;

impl Builder {
    fn span(&self, p: &P) -> Span {
        let s = p.as_span();
        Span::new(self.file, self.base + s.start(), self.base + s.end())
    }

    fn ident(&self, p: P) -> Ident {
        Ident { name: p.as_str().to_string(), span: self.span(&p) }
    }

    fn item(&mut self, item: P) -> Option<Item> {
        let mut doc = Vec::new();
        let mut decl = None;
        for p in item.into_inner() {
            match p.as_rule() {
                Rule::doc => {
                    let text = p.into_inner().next().map_or("", |t| t.as_str());
                    doc.push(text.strip_prefix(' ').unwrap_or(text).trim_end().to_string());
                }
                Rule::EOI | Rule::semi => {}
                _ => decl = Some(p),
            }
        }
        let decl = decl?;
        let span = self.span(&decl);
        let kind = self.decl(decl)?;
        Some(Item { doc, kind, span })
    }

    fn decl(&mut self, p: P) -> Option<ItemKind> {
        let rule = p.as_rule();
        let mut it = p.into_inner().filter(|p| !is_keyword(p.as_rule()));
        Some(match rule {
            Rule::import_decl => {
                let s = it.next()?;
                let span = self.span(&s);
                let path = s.into_inner().next().map_or("", |i| i.as_str()).to_string();
                ItemKind::Import(Import { path, span })
            }
            Rule::bucket_decl => {
                let name = self.ident(it.next()?);
                let fold = self.ident(it.next()?.into_inner().next()?);
                let apply = self.expr(it.next()?, 1)?;
                ItemKind::Bucket(BucketDecl { name, fold, apply })
            }
            Rule::pipeline_decl => {
                let name = self.ident(it.next()?);
                let buckets =
                    it.next()?.into_inner().filter(|p| p.as_rule() == Rule::ident).map(|p| self.ident(p)).collect();
                ItemKind::Pipeline(PipelineDecl { name, buckets })
            }
            Rule::default_pipeline_decl => ItemKind::DefaultPipeline(self.ident(it.next()?)),
            Rule::layers_decl => {
                let mut d = LayersDecl { layers: vec![], policies: vec![], unscoped: vec![] };
                for p in it {
                    match p.as_rule() {
                        Rule::layer => {
                            let mut li = p.into_inner().filter(|p| p.as_rule() == Rule::ident);
                            let name = self.ident(li.next()?);
                            let requires = li.next().map(|p| self.ident(p));
                            d.layers.push(LayerDef { name, requires });
                        }
                        Rule::policy_clause => d.policies.push(self.ident(last_inner(p)?)),
                        Rule::unscoped_clause => d.unscoped.push(self.ident(last_inner(p)?)),
                        _ => {}
                    }
                }
                ItemKind::Layers(d)
            }
            Rule::stat_decl => {
                let cat = it.next()?;
                let category = match cat.into_inner().next()?.as_rule() {
                    Rule::kw_primary => Category::Primary,
                    _ => Category::Derived,
                };
                let name = self.ident(it.next()?);
                let mut clauses = Vec::new();
                for c in it {
                    let span = self.span(&c);
                    let rule = c.as_rule();
                    let mut ci = c.into_inner().filter(|p| !is_keyword(p.as_rule()));
                    let kind = match rule {
                        Rule::formula_clause => ClauseKind::Formula(self.expr(ci.next()?, 1)?),
                        Rule::range_clause => {
                            let lo = self.expr(ci.next()?, 1)?;
                            let hi = self.expr(ci.next()?, 1)?;
                            ClauseKind::Range(lo, hi)
                        }
                        Rule::merge_clause => ClauseKind::Merge(self.ident(ci.next()?)),
                        Rule::pipeline_clause => ClauseKind::Pipeline(self.ident(ci.next()?)),
                        Rule::default_clause => ClauseKind::Default(self.expr(ci.next()?, 1)?),
                        _ => continue,
                    };
                    clauses.push(StatClause { kind, span });
                }
                ItemKind::Stat(StatDecl { category, name, clauses })
            }
            Rule::tag_decl => ItemKind::Tags(self.idents(it.next()?)),
            Rule::tag_group_decl => {
                let name = self.ident(it.next()?);
                ItemKind::TagGroup(TagGroupDecl { name, members: self.idents(it.next()?) })
            }
            Rule::stack_decl => {
                let name = self.ident(it.next()?);
                let limit = it.next()?;
                let limit_span = self.span(&limit);
                let keep = self.ident(it.next()?);
                ItemKind::Stack(StackDecl { name, limit: limit.as_str().parse().ok()?, limit_span, keep })
            }
            Rule::view_decl => {
                let name = self.ident(it.next()?);
                let source = self.ident(it.next()?);
                ItemKind::View(ViewDecl { name, source, tags: self.idents(it.next()?) })
            }
            Rule::const_decl => {
                let name = self.ident(it.next()?);
                ItemKind::Const(ConstDecl { name, value: self.expr(it.next()?, 1)? })
            }
            Rule::table_decl | Rule::curve_decl => {
                let name = self.ident(it.next()?);
                let list = it.next()?;
                let list_span = self.span(&list);
                let mut points = Vec::new();
                for point in list.into_inner().filter(|p| p.as_rule() == Rule::point) {
                    let mut pi = point.into_inner().filter(|p| p.as_rule() == Rule::expr);
                    let key = self.expr(pi.next()?, 1)?;
                    points.push((key, self.expr(pi.next()?, 1)?));
                }
                let decl = PointsDecl { name, points, list_span };
                if rule == Rule::table_decl { ItemKind::Table(decl) } else { ItemKind::Curve(decl) }
            }
            _ => return None,
        })
    }

    /// The names of an `ident_list`.
    fn idents(&self, list: P) -> Vec<Ident> {
        list.into_inner().filter(|p| p.as_rule() == Rule::ident).map(|p| self.ident(p)).collect()
    }

    /// `None` (and a diagnostic at `at`) when an expression node at `level` is too deep.
    fn deeper(&mut self, at: Span, level: usize) -> Option<()> {
        if level > self.max_depth {
            if self.error.is_none() {
                self.error = Some(too_deep(at, self.max_depth));
            }
            return None;
        }
        Some(())
    }

    /// The expression `p`, whose enclosing nodes are `level - 1` deep. Only nodes (chains,
    /// `-`, calls, `if`) recurse and count as levels; each recursion passes through a few
    /// small functions, so nesting up to the limit fits the stack even in a debug build.
    fn expr(&mut self, p: P, level: usize) -> Option<Expr> {
        let (p, parens) = self.through_parens(p)?;
        let mut e = match p.as_rule() {
            Rule::if_expr => self.if_expr(p, level),
            Rule::disjunction | Rule::conjunction | Rule::compare | Rule::sum | Rule::product => self.chain(p, level),
            Rule::inversion => self.prefixed(p, level, Rule::not_op),
            Rule::unary => self.prefixed(p, level, Rule::neg),
            Rule::power => self.power(p, level),
            Rule::call => self.call(p, level),
            _ => self.leaf(p),
        }?;
        if let Some(span) = parens {
            e.span = span;
        }
        Some(e)
    }

    /// The node `p` stands for: parentheses and the grammar's levels with a single operand
    /// make no node, and are walked through in a loop. `( expr )` keeps its (outermost)
    /// parentheses in its span, so its text is quoted whole.
    fn through_parens<'i>(&self, mut p: P<'i>) -> Option<(P<'i>, Option<Span>)> {
        let mut parens: Option<Span> = None;
        loop {
            match p.as_rule() {
                Rule::expr => p = p.into_inner().next()?,
                Rule::disjunction | Rule::conjunction | Rule::compare | Rule::sum | Rule::product
                    if p.clone().into_inner().nth(1).is_none() =>
                {
                    p = p.into_inner().next()?
                }
                Rule::inversion if p.clone().into_inner().next()?.as_rule() != Rule::not_op => {
                    p = p.into_inner().next()?
                }
                Rule::unary if p.clone().into_inner().next()?.as_rule() != Rule::neg => p = p.into_inner().next()?,
                Rule::power if !p.clone().into_inner().any(|q| q.as_rule() == Rule::pow_op) => {
                    let mut it = p.into_inner();
                    let first = it.next()?;
                    if first.as_rule() == Rule::lparen {
                        let inner = it.next()?;
                        let close = it.next()?;
                        parens.get_or_insert(self.span(&first).to(self.span(&close)));
                        p = inner;
                    } else {
                        p = first;
                    }
                }
                _ => return Some((p, parens)),
            }
        }
    }

    fn if_expr(&mut self, p: P, level: usize) -> Option<Expr> {
        let span = self.span(&p);
        let mut it = p.into_inner();
        self.deeper(self.span(&it.next()?), level)?;
        let mut it = it.filter(|p| p.as_rule() == Rule::expr);
        let c = self.expr(it.next()?, level + 1)?;
        let t = self.expr(it.next()?, level + 1)?;
        let e = self.expr(it.next()?, level + 1)?;
        Some(Expr { kind: ExprKind::If(Box::new(c), Box::new(t), Box::new(e)), span })
    }

    /// `a op b op c …`, read in a loop however long: a chain is one level.
    fn chain(&mut self, p: P, level: usize) -> Option<Expr> {
        let mut it = p.into_inner();
        let first = self.expr(it.next()?, level + 1)?;
        let mut rest = Vec::new();
        while let Some(op) = it.next() {
            if rest.is_empty() {
                self.deeper(self.span(&op), level)?;
            }
            let op = BinOp::from_symbol(op.as_str())?;
            rest.push((op, self.expr(it.next()?, level + 1)?));
        }
        let span = rest.last().map_or(first.span, |(_, last)| first.span.to(last.span));
        Some(Expr { kind: ExprKind::Chain(Box::new(first), rest), span })
    }

    /// `-…-operand` or `not … not operand` (`prefix` says which): each prefix is a level.
    fn prefixed(&mut self, p: P, level: usize, prefix: Rule) -> Option<Expr> {
        let parts: Vec<P> = p.into_inner().collect();
        let n = parts.iter().take_while(|p| p.as_rule() == prefix).count();
        if level + n > self.max_depth + 1 {
            let first_too_deep = &parts[self.max_depth + 1 - level.min(self.max_depth + 1)];
            self.deeper(self.span(first_too_deep), level + n)?;
        }
        let [operand] = &parts[n..] else { return None };
        let mut e = self.expr(operand.clone(), level + n)?;
        for op in parts[..n].iter().rev() {
            let span = self.span(op).to(e.span);
            let inner = Box::new(e);
            e = Expr { kind: if prefix == Rule::neg { ExprKind::Neg(inner) } else { ExprKind::Not(inner) }, span };
        }
        Some(e)
    }

    /// `a ^ b ^ … ^ z`, read as a list and built from the right: `a ^ (b ^ (… ^ z))`, where
    /// an exponent's `-` applies to the rest of the chain (`2 ^ -1 ^ 2` is `2 ^ -(1 ^ 2)`).
    /// Each `^` and `-` is a level.
    fn power(&mut self, p: P, level: usize) -> Option<Expr> {
        let span = self.span(&p);
        let mut base: Vec<P> = p.into_inner().collect();
        let exponents: Vec<Vec<P>> = match base.iter().position(|q| q.as_rule() == Rule::pow_op) {
            Some(i) => base
                .split_off(i)
                .into_iter()
                .filter(|q| q.as_rule() == Rule::exponent)
                .map(|x| x.into_inner().collect())
                .collect(),
            None => Vec::new(),
        };
        let negs = |parts: &[P]| parts.iter().take_while(|q| q.as_rule() == Rule::neg).count();
        let depth = exponents.len() + exponents.iter().map(|x| negs(x)).sum::<usize>();
        self.deeper(span, level + depth - 1)?;
        // Each operand with the spans of the `-`s before it.
        let mut operands = vec![(Vec::new(), self.operand(&base, level + depth)?)];
        for x in &exponents {
            let n = negs(x);
            operands.push((x[..n].iter().map(|q| self.span(q)).collect(), self.operand(&x[n..], level + depth)?));
        }
        let (mut minus, mut e) = operands.pop()?;
        while let Some((next_minus, base)) = operands.pop() {
            for m in minus.iter().rev() {
                e = Expr { span: m.to(e.span), kind: ExprKind::Neg(Box::new(e)) };
            }
            let span = base.span.to(e.span);
            e = Expr { kind: ExprKind::Power(Box::new(base), Box::new(e)), span };
            minus = next_minus;
        }
        Some(e)
    }

    /// An operand of `^`: an atom, or `( expr )` with its parentheses in its span.
    fn operand(&mut self, parts: &[P], level: usize) -> Option<Expr> {
        match parts {
            [open, inner, close] => {
                let mut e = self.expr(inner.clone(), level)?;
                e.span = self.span(open).to(self.span(close));
                Some(e)
            }
            [operand] => self.expr(operand.clone(), level),
            _ => None,
        }
    }

    fn call(&mut self, p: P, level: usize) -> Option<Expr> {
        let span = self.span(&p);
        let mut it = p.into_inner().filter(|p| !is_keyword(p.as_rule()));
        let f = self.ident(it.next()?);
        self.deeper(f.span, level)?;
        let mut args = Vec::new();
        for a in it {
            args.push(self.expr(a, level + 1)?);
        }
        Some(Expr { kind: ExprKind::Call(f, args), span })
    }

    /// A number or a name.
    fn leaf(&mut self, p: P) -> Option<Expr> {
        let span = self.span(&p);
        match p.as_rule() {
            Rule::number => {
                let v: f64 = p.as_str().parse().ok()?;
                if !v.is_finite() {
                    self.error = Some(
                        Diagnostic::error("E0005", "number is too large for a 64-bit float")
                            .primary(span, "out of range"),
                    );
                    return None;
                }
                Some(Expr { kind: ExprKind::Number(v), span })
            }
            Rule::name => Some(Expr { kind: ExprKind::Name(p.as_str().to_string()), span }),
            _ => None,
        }
    }
}

fn last_inner(p: P) -> Option<P> {
    p.into_inner().last()
}

fn is_keyword(r: Rule) -> bool {
    matches!(
        r,
        Rule::semi
            | Rule::equals
            | Rule::comma
            | Rule::dots
            | Rule::lparen
            | Rule::rparen
            | Rule::EOI
            | Rule::kw_import
            | Rule::kw_tag
            | Rule::kw_group
            | Rule::kw_stack
            | Rule::kw_limit
            | Rule::kw_keep
            | Rule::kw_view
            | Rule::kw_with
            | Rule::kw_const
            | Rule::kw_table
            | Rule::kw_curve
            | Rule::lbracket
            | Rule::rbracket
            | Rule::colon
            | Rule::kw_bucket
            | Rule::kw_fold
            | Rule::kw_apply
            | Rule::kw_pipeline
            | Rule::kw_default
            | Rule::kw_layers
            | Rule::kw_requires
            | Rule::kw_policy
            | Rule::kw_unscoped
            | Rule::kw_in
            | Rule::kw_merge
            | Rule::kw_if
            | Rule::kw_then
            | Rule::kw_else
    )
}
