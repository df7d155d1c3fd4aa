//! What the parser skips: the comments of a file, and where its tokens begin, found by a
//! scan of the text (the grammar's comments are silent). The formatter uses it to put every
//! comment back where it was.
//!
//! Invariant: the scan reads any text without panicking; a `//` inside a string (`import
//! "a//b"`) is not a comment, as in the grammar.

/// A `//` or `///` comment: its text runs to the end of its line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Comment {
    pub start: usize,
    /// After the text, its trailing blanks left out.
    pub end: usize,
    /// Nothing but blanks before it on its line.
    pub own_line: bool,
}

impl Comment {
    pub fn text<'t>(&self, source: &'t str) -> &'t str {
        source.get(self.start..self.end).unwrap_or("")
    }
}

/// The comments and the token starts of one text, in order.
#[derive(Debug, Default)]
pub(super) struct Trivia {
    pub comments: Vec<Comment>,
    /// Where each token begins: a word (letters, digits, `_`), a string, or any other
    /// character.
    tokens: Vec<usize>,
    /// Where each `;` is (a subset of `tokens`).
    semicolons: Vec<usize>,
}

impl Trivia {
    pub fn scan(text: &str) -> Trivia {
        let bytes = text.as_bytes();
        let mut t = Trivia::default();
        let mut code_on_line = false;
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            match b {
                b'\n' => {
                    code_on_line = false;
                    i += 1;
                }
                b' ' | b'\t' | b'\r' => i += 1,
                // Inside a declaration (after a token other than `;`), `///` cannot be a doc
                // comment: the grammar reads a `/` operator and a comment.
                b'/' if bytes.get(i + 1) == Some(&b'/') && !(bytes[i..].starts_with(b"///") && t.inside(bytes)) => {
                    let line_end = memchr::memchr(b'\n', &bytes[i..]).map_or(bytes.len(), |n| i + n);
                    // `/` and `\n` are ASCII, so both ends are character boundaries.
                    let end = i + text[i..line_end].trim_end().len();
                    t.comments.push(Comment { start: i, end, own_line: !code_on_line });
                    i = line_end;
                }
                _ => {
                    t.tokens.push(i);
                    code_on_line = true;
                    i += 1;
                    if b == b';' {
                        t.semicolons.push(i - 1);
                    } else if b == b'"' {
                        while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\n' {
                            i += 1;
                        }
                        i += usize::from(bytes.get(i) == Some(&b'"'));
                    } else if is_word(b) {
                        while i < bytes.len() && is_word(bytes[i]) {
                            i += 1;
                        }
                    }
                }
            }
        }
        t
    }

    /// Whether the tokens so far end inside a declaration: the last is not a `;`.
    fn inside(&self, bytes: &[u8]) -> bool {
        self.tokens.last().is_some_and(|&t| bytes[t] != b';')
    }

    /// The first token that begins at or after `offset`.
    pub fn token_from(&self, offset: usize) -> Option<usize> {
        self.tokens.get(self.tokens.partition_point(|&s| s < offset)).copied()
    }

    /// The last token that begins before `offset`.
    pub fn token_before(&self, offset: usize) -> Option<usize> {
        self.tokens[..self.tokens.partition_point(|&s| s < offset)].last().copied()
    }

    /// The first `;` at or after `offset`.
    pub fn semicolon_from(&self, offset: usize) -> Option<usize> {
        self.semicolons.get(self.semicolons.partition_point(|&s| s < offset)).copied()
    }
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Whether `text[from..to]` holds a line break.
pub(super) fn breaks_line(text: &str, from: usize, to: usize) -> bool {
    newlines(text, from, to) > 0
}

/// Whether `text[from..to]` holds a blank line (two line breaks).
pub(super) fn blank_line(text: &str, from: usize, to: usize) -> bool {
    newlines(text, from, to) > 1
}

fn newlines(text: &str, from: usize, to: usize) -> usize {
    let bytes = text.as_bytes();
    let to = to.min(bytes.len());
    bytes.get(from.min(to)..to).map_or(0, |b| memchr::memchr_iter(b'\n', b).count())
}
