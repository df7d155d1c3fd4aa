//! A forgiving scan of rule text into words, numbers, strings, comments and punctuation, for
//! what the AST does not hold (keywords, comments) and for text that does not parse.
//!
//! Invariant: it accepts any text and never splits a UTF-8 character (a token ends only at
//! an ASCII byte or the end).

/// What a lexeme is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lex {
    Word,
    Number,
    /// `"…"` (an import path), up to the closing quote or the end of the line.
    String,
    Comment,
    /// `/// …`.
    DocComment,
    /// Any other character that is not white space.
    Punct,
}

/// One lexeme: its kind and byte range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lexeme {
    pub kind: Lex,
    pub start: usize,
    pub end: usize,
}

/// The lexemes of `text`, in order.
pub fn lex(text: &str) -> Vec<Lexeme> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    while i < b.len() {
        let c = b[i];
        let start = i;
        let kind = if c.is_ascii_whitespace() {
            i += 1;
            continue;
        } else if b[i..].starts_with(b"//") {
            i = memchr::memchr(b'\n', &b[i..]).map_or(b.len(), |n| i + n);
            let doc = b[start..].starts_with(b"///") && !b[start..].starts_with(b"////");
            if doc { Lex::DocComment } else { Lex::Comment }
        } else if c == b'"' {
            i += 1;
            while i < b.len() && b[i] != b'"' && b[i] != b'\n' {
                i += 1;
            }
            if i < b.len() && b[i] == b'"' {
                i += 1;
            }
            Lex::String
        } else if c.is_ascii_digit() {
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            if i + 1 < b.len() && b[i] == b'.' && b[i + 1].is_ascii_digit() {
                i += 1;
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
            }
            if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
                let mut j = i + 1;
                if j < b.len() && (b[j] == b'+' || b[j] == b'-') {
                    j += 1;
                }
                if j < b.len() && b[j].is_ascii_digit() {
                    i = j;
                    while i < b.len() && b[i].is_ascii_digit() {
                        i += 1;
                    }
                }
            }
            Lex::Number
        } else if word(c) {
            while i < b.len() && word(b[i]) {
                i += 1;
            }
            Lex::Word
        } else {
            // One character, whole.
            i += text[i..].chars().next().map_or(1, char::len_utf8);
            Lex::Punct
        };
        out.push(Lexeme { kind, start, end: i });
    }
    out
}

/// The reserved words, and the words that are keywords where they shape a declaration.
pub const KEYWORDS: &[&str] = &[
    "import", "bucket", "fold", "apply", "pipeline", "default", "layers", "requires", "policy", "unscoped", "primary",
    "derived", "in", "merge", "if", "then", "else", "and", "or", "not", "tag", "group", "stack", "limit", "keep",
    "view", "with", "const", "table", "curve",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind() {
        let text = "/// doc\nderived a = 1.5e3 in 0 .. 1; // c\nimport \"x\"; é";
        let got: Vec<(Lex, &str)> = lex(text).iter().map(|l| (l.kind, &text[l.start..l.end])).collect();
        assert_eq!(
            got,
            [
                (Lex::DocComment, "/// doc"),
                (Lex::Word, "derived"),
                (Lex::Word, "a"),
                (Lex::Punct, "="),
                (Lex::Number, "1.5e3"),
                (Lex::Word, "in"),
                (Lex::Number, "0"),
                (Lex::Punct, "."),
                (Lex::Punct, "."),
                (Lex::Number, "1"),
                (Lex::Punct, ";"),
                (Lex::Comment, "// c"),
                (Lex::Word, "import"),
                (Lex::String, "\"x\""),
                (Lex::Punct, ";"),
                (Lex::Punct, "é"),
            ]
        );
    }
}
