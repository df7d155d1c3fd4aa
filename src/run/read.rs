//! Reading actor input: [`DocumentReader`], the one reader over any [`BufRead`] (a single
//! JSON document, or NDJSON lines, blank lines skipped, each line numbered), and picking one
//! actor out of an input ([`pick_actor`]).

use crate::input::InputError;
use crate::input::{Actor, InputLimits, parse_actor_limited, salvage_id};
use std::io::{self, BufRead};
use std::path::Path;

/// How actor input is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputForm {
    /// One actor: the whole input is one JSON document.
    One,
    /// A batch: one actor per line (NDJSON).
    Lines,
}

impl InputForm {
    /// `.json` is one actor, `.ndjson`/`.jsonl` a batch; other names do not say.
    pub fn of_path(path: &Path) -> Option<InputForm> {
        match path.extension().and_then(|e| e.to_str()) {
            Some("json") => Some(InputForm::One),
            Some("ndjson" | "jsonl") => Some(InputForm::Lines),
            _ => None,
        }
    }

    /// A batch when the first line is a whole JSON object by itself, else one document.
    pub fn sniff(first_line: &[u8]) -> InputForm {
        let text = String::from_utf8_lossy(first_line);
        let t = text.trim();
        if t.starts_with('{') && serde_json::from_str::<serde_json::Value>(t).is_ok() {
            InputForm::Lines
        } else {
            InputForm::One
        }
    }
}

/// One actor document as read, with its line terminator if it has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// The one-based line of an NDJSON document; `None` for a one-document input.
    pub line: Option<usize>,
    /// The document as read: all of it, or, past the reader's limit, its first bytes.
    pub bytes: Vec<u8>,
    /// Its whole length in bytes, without a line's `\n`.
    pub len: u64,
}

impl Document {
    /// The document's bytes without the line terminator (`\n`; with `crlf`, `\r\n` too).
    pub fn trimmed(&self, crlf: bool) -> &[u8] {
        let b = self.bytes.strip_suffix(b"\n").unwrap_or(&self.bytes);
        if crlf { b.strip_suffix(b"\r").unwrap_or(b) } else { b }
    }

    /// Parses the document within `limits` (an NDJSON line without its newline, so that a
    /// JSON error's position is on that line). An input error names the line of an NDJSON
    /// document; bytes that are not UTF-8 are an input error.
    pub fn parse(&self, limits: &InputLimits) -> Result<Actor, InputError> {
        if self.len > limits.max_line_bytes as u64 {
            let message = format!("actor is {} bytes, over the limit of {}", self.len, limits.max_line_bytes);
            let actor = salvage_id(&String::from_utf8_lossy(&self.bytes));
            return Err(at_line(InputError { actor, subsystem: None, field: String::new(), message }, self.line));
        }
        let bytes = if self.line.is_some() { self.trimmed(false) } else { &self.bytes };
        parse_document(limits, self.line, bytes)
    }
}

/// Parses `bytes` within `limits`; `line` (one-based, for NDJSON) prefixes the message of
/// an input error.
pub(super) fn parse_document(limits: &InputLimits, line: Option<usize>, bytes: &[u8]) -> Result<Actor, InputError> {
    let text = std::str::from_utf8(bytes).map_err(|e| not_utf8(bytes, e, line))?;
    parse_actor_limited(text, limits).map_err(|e| at_line(e, line))
}

/// `e` with its NDJSON line (`line N: …`), so that every input error of a batch says where.
pub(super) fn at_line(mut e: InputError, line: Option<usize>) -> InputError {
    if let Some(n) = line {
        e.message = format!("line {n}: {}", e.message);
    }
    e
}

/// The input error for an actor document that is not UTF-8 text: the column of the bad
/// byte on an NDJSON line (`line_no`), else its offset.
fn not_utf8(bytes: &[u8], e: std::str::Utf8Error, line_no: Option<usize>) -> InputError {
    let at = e.valid_up_to();
    let message = match line_no {
        Some(n) => format!("line {n}: not valid UTF-8 text (invalid byte at column {})", at + 1),
        None => format!("not valid UTF-8 text (invalid byte at offset {at})"),
    };
    InputError { actor: salvage_id(&String::from_utf8_lossy(bytes)), subsystem: None, field: String::new(), message }
}

/// Reads one line into `buf`, keeping at most `keep` bytes of it and skipping the rest, so
/// that memory stays bounded however long the line is: its whole length (with its `\n`),
/// and whether it ended with one; 0 at the end of the input.
fn read_line_bounded<R: BufRead>(input: &mut R, buf: &mut Vec<u8>, keep: usize) -> io::Result<(u64, bool)> {
    let mut total = 0u64;
    loop {
        let available = match input.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            return Ok((total, false));
        }
        let (n, ended) = match memchr::memchr(b'\n', available) {
            Some(i) => (i + 1, true),
            None => (available.len(), false),
        };
        let room = keep.saturating_sub(buf.len());
        buf.extend_from_slice(&available[..n.min(room)]);
        input.consume(n);
        total += n as u64;
        if ended {
            return Ok((total, true));
        }
    }
}

/// The one reader of actor input: the whole input as one document, or its non-blank lines
/// one by one. Line buffers can be handed back for reuse ([`DocumentReader::next_reusing`]).
/// A document longer than the reader's limit is kept only in part (its length is known), so
/// memory stays bounded whatever the input.
pub struct DocumentReader<R> {
    input: R,
    form: InputForm,
    /// Bytes of a document kept (the limit, one more to know it is over, and a `\n`).
    keep: usize,
    /// The whole length of `first` (with its `\n`), and whether it ended with one.
    first_len: (u64, bool),
    /// The first line, read to decide the form and not yet handed out.
    first: Option<Vec<u8>>,
    line_no: usize,
    bytes_read: u64,
    /// Where the last document handed out starts in the input.
    last_start: u64,
    done: bool,
}

impl<R: BufRead> DocumentReader<R> {
    /// Reads the first line; the form is `form`, or else decided by that line
    /// ([`InputForm::sniff`]). Documents longer than `max_bytes` are kept only in part.
    pub fn new(mut input: R, form: Option<InputForm>, max_bytes: usize) -> io::Result<DocumentReader<R>> {
        // Bytes, not text: input that is not UTF-8 is a bad actor, not an I/O error.
        let keep = max_bytes.saturating_add(2);
        let mut first = Vec::new();
        let first_len = read_line_bounded(&mut input, &mut first, keep)?;
        let form = form.unwrap_or_else(|| InputForm::sniff(&first));
        Ok(DocumentReader {
            input,
            form,
            keep,
            first_len,
            first: Some(first),
            line_no: 0,
            bytes_read: 0,
            last_start: 0,
            done: false,
        })
    }

    pub fn form(&self) -> InputForm {
        self.form
    }

    /// Bytes of the documents handed out so far, blank lines included.
    pub fn bytes_read(&self) -> u64 {
        self.bytes_read
    }

    /// Where the last document handed out starts, in bytes from the start of the input: its
    /// bytes (without a line's `\n`) are there again in a file that has not changed.
    pub fn last_start(&self) -> u64 {
        self.last_start
    }

    /// The next document, read into a buffer from `spare` when it has one (blank lines'
    /// buffers go back there); `None` at the end of the input.
    pub fn next_reusing(&mut self, spare: &mut Vec<Vec<u8>>) -> io::Result<Option<Document>> {
        if self.form == InputForm::One {
            let Some(mut bytes) = self.first.take() else { return Ok(None) };
            let mut len = self.first_len.0;
            while let (n @ 1.., _) = read_line_bounded(&mut self.input, &mut bytes, self.keep)? {
                len += n;
            }
            self.last_start = self.bytes_read;
            self.bytes_read += len;
            return Ok(Some(Document { line: None, bytes, len }));
        }
        while !self.done {
            let (line, (len, ended)) = match self.first.take() {
                Some(l) => (l, self.first_len),
                None => {
                    let mut l = spare.pop().unwrap_or_default();
                    l.clear();
                    let read = read_line_bounded(&mut self.input, &mut l, self.keep)?;
                    if read.0 == 0 {
                        self.done = true;
                        break;
                    }
                    (l, read)
                }
            };
            self.line_no += 1;
            self.last_start = self.bytes_read;
            self.bytes_read += len;
            let whole = len as usize == line.len();
            if whole && std::str::from_utf8(&line).is_ok_and(|l| l.trim().is_empty()) {
                // Only an empty input has an empty line.
                self.done |= line.is_empty();
                spare.push(line);
                continue;
            }
            let len = len - u64::from(ended);
            return Ok(Some(Document { line: Some(self.line_no), bytes: line, len }));
        }
        Ok(None)
    }
}

impl<R: BufRead> Iterator for DocumentReader<R> {
    type Item = io::Result<Document>;

    fn next(&mut self) -> Option<io::Result<Document>> {
        self.next_reusing(&mut Vec::new()).transpose()
    }
}

/// Why no single actor could be picked from an input.
#[derive(Debug)]
pub enum PickError {
    /// The input could not be read.
    Read(io::Error),
    /// The document picked (or the only one) is bad: malformed, not UTF-8, over a limit.
    Input(InputError),
    /// No actor has the id asked for.
    NotFound(String),
    /// A batch without actors.
    Empty,
    /// The id asked for appears more than once.
    Repeated(String),
    /// A batch of this many actors and no id to pick one.
    Several(usize),
}

/// The one actor of `docs`, or the one with id `id`, parsed within `limits` as `run` would.
/// Documents are read one at a time and only the one picked is kept and parsed: the size,
/// encoding or syntax of other lines does not matter (a line is picked by the id a scan
/// finds in it).
pub fn pick_actor<R: BufRead>(
    docs: DocumentReader<R>,
    id: Option<&str>,
    limits: &InputLimits,
) -> Result<Actor, PickError> {
    let mut picked: Option<Document> = None;
    let mut count = 0;
    for doc in docs {
        let doc = doc.map_err(PickError::Read)?;
        if let (Some(want), Some(_)) = (id, doc.line)
            && salvage_id(&String::from_utf8_lossy(doc.trimmed(true))).as_deref() != Some(want)
        {
            continue;
        }
        count += 1;
        match (count, id) {
            (1, _) => picked = Some(doc),
            (_, Some(want)) => return Err(PickError::Repeated(want.to_string())),
            _ => {}
        }
    }
    let doc = match (count, id) {
        (0, Some(want)) => return Err(PickError::NotFound(want.to_string())),
        (0, None) => return Err(PickError::Empty),
        (1, _) => picked.expect("the one document"),
        (n, _) => return Err(PickError::Several(n)),
    };
    let actor = doc.parse(limits).map_err(PickError::Input)?;
    match id {
        // A one-document input is not filtered by the scan.
        Some(want) if actor.id.as_deref() != Some(want) => Err(PickError::NotFound(want.to_string())),
        _ => Ok(actor),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(input: &[u8], form: Option<InputForm>) -> (InputForm, Vec<Document>) {
        let reader = DocumentReader::new(input, form, 1 << 20).unwrap();
        let form = reader.form();
        (form, reader.collect::<io::Result<Vec<_>>>().unwrap())
    }

    #[test]
    fn lines_are_numbered_and_blank_lines_skipped() {
        let (form, docs) = read(b"{\"id\":\"a\"}\n  \n\n{\"id\":\"b\"}\r\n{\"id\":", None);
        assert_eq!(form, InputForm::Lines);
        assert_eq!(docs.iter().map(|d| d.line).collect::<Vec<_>>(), [Some(1), Some(4), Some(5)]);
        assert_eq!(docs[1].trimmed(true), b"{\"id\":\"b\"}");
        assert_eq!(docs[1].trimmed(false), b"{\"id\":\"b\"}\r");
        assert_eq!(docs[2].bytes, b"{\"id\":");
    }

    #[test]
    fn one_document_is_the_whole_input() {
        let text = b"[\n  {\"primary\": []}\n]\n";
        let (form, docs) = read(text, None);
        assert_eq!(form, InputForm::One);
        assert_eq!(docs, [Document { line: None, bytes: text.to_vec(), len: text.len() as u64 }]);
        // Empty input: one empty document, or no lines.
        assert_eq!(read(b"", None).1, [Document { line: None, bytes: Vec::new(), len: 0 }]);
        assert!(read(b"", Some(InputForm::Lines)).1.is_empty());
        assert_eq!(InputForm::of_path(Path::new("a.jsonl")), Some(InputForm::Lines));
        assert_eq!(InputForm::of_path(Path::new("-")), None);
    }

    #[test]
    fn bytes_that_are_not_utf8_name_their_line_and_column() {
        let doc = Document { line: Some(7), bytes: b"{\"id\":\"y\",\xff}".to_vec(), len: 12 };
        let e = doc.parse(&InputLimits::default()).unwrap_err();
        assert_eq!(e.message, "line 7: not valid UTF-8 text (invalid byte at column 11)");
        assert_eq!(e.actor.as_deref(), Some("y"));
    }

    #[test]
    fn each_document_says_where_it_starts() {
        let input = b"{\"id\":\"a\"}\n\n  \n{\"id\":\"b\"}\r\n{\"id\":\"c\"}";
        let mut reader = DocumentReader::new(&input[..], None, 1 << 20).unwrap();
        let mut found = Vec::new();
        while let Some(doc) = reader.next_reusing(&mut Vec::new()).unwrap() {
            let at = reader.last_start() as usize;
            assert_eq!(&input[at..at + doc.len as usize], doc.trimmed(false));
            found.push(at);
        }
        assert_eq!(found, [0, 15, 27]);
    }

    #[test]
    fn one_actor_is_picked_by_id() {
        let a = b"{\"id\":\"a\",\"subsystems\":[]}\n";
        let input = [&a[..], b"{\"id\":\"b\",\"subsystems\":[]}\n", a, b"{\"id\":\"c\"}\n"].concat();
        let pick = |input: &[u8], id: Option<&str>| {
            let limits = InputLimits { max_line_bytes: 64, ..InputLimits::default() };
            pick_actor(DocumentReader::new(input, Some(InputForm::Lines), 64).unwrap(), id, &limits)
        };
        assert_eq!(pick(&input, Some("b")).unwrap().id.as_deref(), Some("b"));
        assert!(matches!(pick(&input, Some("a")), Err(PickError::Repeated(a)) if a == "a"));
        assert!(matches!(pick(&input, Some("z")), Err(PickError::NotFound(z)) if z == "z"));
        assert!(matches!(pick(b"", None), Err(PickError::Empty)));
        assert!(matches!(pick(&input, None), Err(PickError::Several(4))));
        assert!(matches!(pick(&input, Some("c")), Err(PickError::Input(e)) if e.message.starts_with("line 4: ")));
        // Other lines may be anything: not UTF-8, over the limit, malformed.
        let others =
            [&b"{\"id\":\"x\xff\"}\n"[..], &[b'['; 100], b"\n{\n", b"{\"id\":\"b\",\"subsystems\":[]}"].concat();
        assert_eq!(pick(&others, Some("b")).unwrap().id.as_deref(), Some("b"));
        assert!(matches!(pick(&others, Some("x\u{fffd}")), Err(PickError::Input(e)) if e.message.contains("UTF-8")));
    }

    #[test]
    fn a_document_over_the_limit_is_kept_in_part() {
        let long = format!("{{\"id\":\"big\",\"subsystems\":[{}]}}", "0,".repeat(5000));
        let input = format!("{{\"id\":\"a\",\"subsystems\":[]}}\n{long}\n{{\"id\":\"c\",\"subsystems\":[]}}");
        let reader = DocumentReader::new(input.as_bytes(), None, 100).unwrap();
        let docs = reader.collect::<io::Result<Vec<_>>>().unwrap();
        assert_eq!(docs.len(), 3);
        assert_eq!(docs[1].len, long.len() as u64);
        assert_eq!(docs[1].bytes.len(), 102, "the limit, one byte more, and room for a newline");
        let limits = InputLimits { max_line_bytes: 100, ..InputLimits::default() };
        let e = docs[1].parse(&limits).unwrap_err();
        assert_eq!(e.actor.as_deref(), Some("big"));
        assert_eq!(e.message, format!("line 2: actor is {} bytes, over the limit of 100", long.len()));
        assert!(docs[2].parse(&limits).is_ok());
        // One document: the same.
        let reader = DocumentReader::new(long.as_bytes(), Some(InputForm::One), 100).unwrap();
        let docs = reader.collect::<io::Result<Vec<_>>>().unwrap();
        assert_eq!((docs[0].len, docs[0].bytes.len()), (long.len() as u64, 102));
        assert!(docs[0].parse(&limits).unwrap_err().message.starts_with("actor is "));
    }
}
