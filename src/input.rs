//! Actor input: the three forms of the v3 format (bare array, one object, NDJSON) as data.
//!
//! Invariant: parsing keeps names as strings; validation against a rule set happens in
//! ingest, so every error can name the actor, subsystem and field.

use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;

/// A bad actor: which one, where, and what is wrong.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InputError {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    /// Index of the subsystem and its `meta.system`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subsystem: Option<String>,
    /// JSON path of the field, e.g. `subsystems[1].caps[0].mode`.
    pub field: String,
    pub message: String,
}

impl std::error::Error for InputError {}

impl std::fmt::Display for InputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(a) = &self.actor {
            write!(f, "actor `{a}`: ")?;
        }
        if let Some(s) = &self.subsystem {
            write!(f, "subsystem {s}: ")?;
        }
        if !self.field.is_empty() {
            write!(f, "{}: ", self.field)?;
        }
        f.write_str(&self.message)
    }
}

/// A name in actor input (dimension, bucket, system, cap mode …): up to 24 bytes are stored
/// inline, so parsing allocates nothing for them and ingest reads them without a pointer chase.
pub type Name = compact_str::CompactString;

/// One contribution to a stat.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contribution {
    pub dimension: Name,
    pub bucket: Name,
    pub value: f64,
    pub system: Name,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<i64>,
    /// Tags or tag groups that must hold (`"fire"`) or not hold (`"!low_life"`) in the
    /// context for the contribution to apply.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requires: Vec<Name>,
    /// Boxed: most contributions have none, and a small contribution ingests faster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack: Option<Box<Stack>>,
}

/// A contribution's stacking group, with a key (`""` when only the group is named).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Stack {
    Group(Name),
    Keyed(KeyedStack),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyedStack {
    pub group: Name,
    pub key: String,
}

impl Stack {
    pub fn group(&self) -> &str {
        match self {
            Stack::Group(g) => g,
            Stack::Keyed(k) => &k.group,
        }
    }

    pub fn key(&self) -> &str {
        match self {
            Stack::Group(_) => "",
            Stack::Keyed(k) => &k.key,
        }
    }
}

/// One bound on a stat, in a cap layer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CapContribution {
    pub system: Name,
    pub dimension: Name,
    pub mode: Name,
    pub kind: Name,
    pub value: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<Name>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub realm: Option<Name>,
    /// Metadata, not read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    /// As a contribution's: the cap applies only when these hold.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requires: Vec<Name>,
}

/// Context modifiers (spec §6).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModifierPack {
    #[serde(default)]
    pub additive_percent: f64,
    #[serde(default)]
    pub multipliers: Vec<f64>,
    #[serde(default)]
    pub post_add: f64,
}

impl ModifierPack {
    /// `base × (1 + additive_percent) × Π multipliers + post_add`.
    pub fn apply(&self, base: f64) -> f64 {
        let mut v = base * (1.0 + self.additive_percent);
        for m in &self.multipliers {
            v *= m;
        }
        v + self.post_add
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Meta {
    #[serde(default)]
    pub system: Name,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
}

/// What one subsystem of the game contributes to an actor.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubsystemOutput {
    #[serde(default)]
    pub primary: Vec<Contribution>,
    #[serde(default)]
    pub derived: Vec<Contribution>,
    #[serde(default)]
    pub caps: Vec<CapContribution>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<BTreeMap<String, ModifierPack>>,
    #[serde(default)]
    pub meta: Meta,
}

/// One actor: its id, version and subsystems. Deserializes from a bare array of
/// subsystems (version 1, no id) or from `{ "id", "version", "subsystems", "extra" }`;
/// an unknown field is an error. A numeric id keeps its text through [`parse_actor`] (serde
/// alone sees only its double).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Actor {
    pub id: Option<String>,
    pub version: i64,
    pub subsystems: Vec<SubsystemOutput>,
    /// The situation the actor is in: tags of the rule set.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Name>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum ActorForm {
    Bare(Vec<SubsystemOutput>),
    Object(ActorObject),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ActorObject {
    #[serde(default)]
    id: Option<Id>,
    #[serde(default)]
    version: Option<i64>,
    subsystems: Vec<SubsystemOutput>,
    #[serde(default)]
    tags: Vec<Name>,
    /// The one place for a game's own data: any JSON, ignored.
    #[serde(default, rename = "extra")]
    _extra: Option<serde::de::IgnoredAny>,
}

/// An actor's id: a string, or a number kept as written.
#[derive(Deserialize)]
#[serde(untagged)]
pub(crate) enum Id {
    Text(String),
    Number(serde_json::Number),
}

impl Id {
    /// A number as the shortest text of its double (the text it was read from is gone).
    pub(crate) fn into_string(self) -> String {
        match self {
            Id::Text(s) => s,
            Id::Number(n) => n.to_string(),
        }
    }

    /// A number as written in `text`, the document it was read from: ids are identities,
    /// and `12345678901234567890123` is no double.
    pub(crate) fn into_text(self, text: &str) -> String {
        match self {
            Id::Number(n) => raw_number_id(text).map_or_else(|| n.to_string(), str::to_string),
            id => id.into_string(),
        }
    }
}

impl<'de> Deserialize<'de> for Actor {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Actor, D::Error> {
        Ok(match ActorForm::deserialize(d)? {
            ActorForm::Bare(subsystems) => Actor { id: None, version: 1, subsystems, tags: Vec::new() },
            ActorForm::Object(o) => Actor {
                id: o.id.map(Id::into_string),
                version: o.version.unwrap_or(1),
                subsystems: o.subsystems,
                tags: o.tags,
            },
        })
    }
}

/// Parses one actor document with precise errors: JSON syntax errors carry line and column,
/// shape errors the path of the field; the actor's id is kept whenever it can be read.
pub fn parse_actor(text: &str) -> Result<Actor, InputError> {
    match parse_typed(text) {
        Some((actor, _)) => Ok(actor),
        None => parse_precisely(text),
    }
}

/// The fast path: straight into typed structs, `None` on any problem. Also whether the
/// document was an object (or a bare array).
fn parse_typed(text: &str) -> Option<(Actor, bool)> {
    match text.trim_start().as_bytes().first() {
        Some(b'[') => {
            let subsystems = serde_json::from_str::<Vec<SubsystemOutput>>(text).ok()?;
            Some((Actor { id: None, version: 1, subsystems, tags: Vec::new() }, false))
        }
        Some(b'{') => {
            let o = serde_json::from_str::<ActorObject>(text).ok()?;
            let id = o.id.map(|id| id.into_text(text));
            Some((Actor { id, version: o.version.unwrap_or(1), subsystems: o.subsystems, tags: o.tags }, true))
        }
        _ => None,
    }
}

/// The slow path, which says precisely where and what is wrong.
fn parse_precisely(text: &str) -> Result<Actor, InputError> {
    let value = serde_json::from_str::<UniqueKeys>(text).map(|v| v.0).map_err(|e| InputError {
        actor: salvage_id(text),
        subsystem: None,
        field: String::new(),
        message: json_error(&e),
    })?;
    let raw_id = value.get("id").is_some_and(serde_json::Value::is_number).then(|| raw_number_id(text)).flatten();
    let with_raw_id = |id: &mut Option<String>| {
        if let (Some(id), Some(raw)) = (id, raw_id) {
            *id = raw.to_string();
        }
    };
    actor_from_value(value)
        .map(|mut actor| {
            with_raw_id(&mut actor.id);
            actor
        })
        .map_err(|mut e| {
            with_raw_id(&mut e.actor);
            e
        })
}

/// A JSON value in which no object has a key twice (serde_json's `Value` keeps the last).
struct UniqueKeys(serde_json::Value);

impl<'de> Deserialize<'de> for UniqueKeys {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(UniqueKeysVisitor).map(UniqueKeys)
    }
}

struct UniqueKeysVisitor;

impl<'de> serde::de::Visitor<'de> for UniqueKeysVisitor {
    type Value = serde_json::Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, b: bool) -> Result<Self::Value, E> {
        Ok(b.into())
    }

    fn visit_i64<E>(self, n: i64) -> Result<Self::Value, E> {
        Ok(n.into())
    }

    fn visit_u64<E>(self, n: u64) -> Result<Self::Value, E> {
        Ok(n.into())
    }

    fn visit_f64<E>(self, n: f64) -> Result<Self::Value, E> {
        Ok(n.into())
    }

    fn visit_str<E>(self, s: &str) -> Result<Self::Value, E> {
        Ok(s.into())
    }

    fn visit_string<E>(self, s: String) -> Result<Self::Value, E> {
        Ok(s.into())
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(serde_json::Value::Null)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::new();
        while let Some(UniqueKeys(v)) = seq.next_element()? {
            items.push(v);
        }
        Ok(items.into())
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut object = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                return Err(serde::de::Error::custom(format!("duplicate key `{key}`")));
            }
            let UniqueKeys(v) = map.next_value()?;
            object.insert(key, v);
        }
        Ok(object.into())
    }
}

/// `malformed JSON at line L, column C: what`, once.
pub fn json_error(e: &serde_json::Error) -> String {
    let full = e.to_string();
    let what = full.rsplit_once(" at line ").map_or(full.as_str(), |(w, _)| w);
    let what = if what == "number out of range" { "number out of range (not a finite 64-bit float)" } else { what };
    format!("malformed JSON at line {}, column {}: {what}", e.line(), e.column())
}

fn id_of(value: &serde_json::Value) -> Option<String> {
    match value.get("id")? {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

pub fn actor_from_value(value: serde_json::Value) -> Result<Actor, InputError> {
    let actor = id_of(&value);
    let fail = |field: String, message: String| InputError { actor: actor.clone(), subsystem: None, field, message };
    match &value {
        serde_json::Value::Array(_) => {
            let subsystems: Vec<SubsystemOutput> = serde_path_to_error::deserialize(value)
                .map_err(|e| fail(format!("subsystems{}", e.path()), shape_message(e.inner())))?;
            Ok(Actor { id: None, version: 1, subsystems, tags: Vec::new() })
        }
        serde_json::Value::Object(map) => {
            if !map.contains_key("subsystems") {
                return Err(fail("subsystems".into(), "actor object has no `subsystems` field".into()));
            }
            let o: ActorObject = serde_path_to_error::deserialize(value).map_err(|e| {
                let path = e.path().to_string();
                fail(if path == "." { String::new() } else { path }, shape_message(e.inner()))
            })?;
            let (id, version) = (o.id.map(Id::into_string), o.version.unwrap_or(1));
            Ok(Actor { id, version, subsystems: o.subsystems, tags: o.tags })
        }
        _ => Err(fail(String::new(), "an actor is a JSON array of subsystems or an object with `subsystems`".into())),
    }
}

/// What is wrong with the shape of a document, with a did-you-mean for an unknown field:
/// ``unknown field `priorty` (did you mean `priority`?)``.
fn shape_message(e: &serde_json::Error) -> String {
    let message = e.to_string();
    if message.contains("untagged enum Stack") {
        return r#"a stack is a stacking group's name or {"group": NAME, "key": TEXT}"#.into();
    }
    // serde's words: "unknown field `x`, expected one of `a`, `b`" (or "`a` or `b`").
    let Some((field, expected)) =
        message.strip_prefix("unknown field `").and_then(|rest| rest.split_once("`, expected "))
    else {
        return message;
    };
    let known: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
    if field == "stack" && known.contains(&"scope") {
        return "a cap cannot have a `stack`: stacking groups hold contributions".into();
    }
    match crate::diag::did_you_mean(field, known.iter().copied()) {
        Some(s) => format!("unknown field `{field}` (did you mean `{s}`?)"),
        None => format!("unknown field `{field}` (known fields: {})", known.join(", ")),
    }
}

/// The id of an actor document even when the document is malformed, for error records: a
/// top-level `"id": "…"` or `"id": 123` (as written).
pub fn salvage_id(text: &str) -> Option<String> {
    // A number, even one out of a double's range.
    if let Some(raw) = raw_number_id(text) {
        return Some(raw.to_string());
    }
    // A whole parse only of a small document: a large one (up to the line limit, or cut at
    // it) is only scanned, which allocates nothing.
    let value = match text.len() <= 1 << 16 {
        true => {
            serde_json::from_str::<serde_json::Value>(text).ok().and_then(|mut v| v.get_mut("id").map(std::mem::take))
        }
        false => None,
    };
    let value = match value {
        Some(v) => v,
        None => {
            serde_json::Deserializer::from_str(id_value_text(text)?).into_iter::<serde_json::Value>().next()?.ok()?
        }
    };
    match value {
        serde_json::Value::String(s) => Some(s),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The text of a top-level numeric `"id"` as written.
fn raw_number_id(text: &str) -> Option<&str> {
    let value = id_value_text(text)?;
    let end = value.find(|c: char| !matches!(c, '0'..='9' | '-' | '+' | '.' | 'e' | 'E')).unwrap_or(value.len());
    Some(&value[..end]).filter(|n| !n.is_empty())
}

/// The text from the value of the first top-level `"id"` key to the end of the document,
/// found by a scan that tracks nesting and strings.
fn id_value_text(text: &str) -> Option<&str> {
    let b = text.as_bytes();
    let (mut depth, mut i) = (0usize, 0usize);
    while i < b.len() {
        match b[i] {
            b'{' | b'[' => depth += 1,
            b'}' | b']' => depth = depth.saturating_sub(1),
            b'"' => {
                let start = i + 1;
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                let value = text.get(i + 1..).and_then(|rest| rest.trim_start().strip_prefix(':'));
                if depth == 1 && text.get(start..i) == Some("id") && value.is_some() {
                    return value.map(str::trim_start);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// Bounds on one actor's input, each a per-actor error when exceeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InputLimits {
    /// Deepest JSON nesting of one actor document.
    pub max_depth: usize,
    pub max_subsystems: usize,
    /// Contributions and caps of one actor, all subsystems together.
    pub max_contributions: usize,
    /// Longest NDJSON line, in bytes.
    pub max_line_bytes: usize,
}

impl Default for InputLimits {
    fn default() -> Self {
        InputLimits { max_depth: 32, max_subsystems: 1024, max_contributions: 65_536, max_line_bytes: 16 << 20 }
    }
}

/// Byte offset where `text` nests deeper than `max` arrays/objects (strings skipped).
/// 64 bytes at a time: the bytes of interest are found with word arithmetic, and which of
/// them lie in strings follows from the quotes before them. Blocks with a backslash (or
/// after one) go through the byte-by-byte `DepthScan::bytes`, the definition of the result.
pub fn json_too_deep(text: &str, max: usize) -> Option<usize> {
    let mut scan = DepthScan::default();
    let mut blocks = text.as_bytes().chunks_exact(64);
    for (k, block) in (&mut blocks).enumerate() {
        if let Some(at) = scan.block(block, 64 * k, max) {
            return Some(at);
        }
    }
    let rest = blocks.remainder();
    scan.bytes(rest, text.len() - rest.len(), max)
}

/// Where a depth scan stands between two pieces of text.
#[derive(Default)]
struct DepthScan {
    depth: usize,
    in_string: bool,
    /// The previous byte was a backslash in a string.
    escaped: bool,
}

const ONES: u64 = 0x0101_0101_0101_0101;

/// Bit `k` set when byte `k` of `x` (little-endian) equals `c`.
fn byte_mask(x: u64, c: u8) -> u64 {
    let t = x ^ (ONES * u64::from(c));
    let low = 0x7f7f_7f7f_7f7f_7f7f;
    // High bit of each byte set exactly where the byte of `t` is zero.
    let zero = !(((t & low) + low) | t | low);
    // Gathers bit 7 of every byte, in order, into the top byte (the product wraps).
    (zero >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56
}

impl DepthScan {
    fn bytes(&mut self, bytes: &[u8], base: usize, max: usize) -> Option<usize> {
        for (i, &b) in bytes.iter().enumerate() {
            if self.in_string {
                match b {
                    _ if self.escaped => self.escaped = false,
                    b'\\' => self.escaped = true,
                    b'"' => self.in_string = false,
                    _ => {}
                }
                continue;
            }
            match b {
                b'"' => self.in_string = true,
                b'[' | b'{' => {
                    self.depth += 1;
                    if self.depth > max {
                        return Some(base + i);
                    }
                }
                b']' | b'}' => self.depth = self.depth.saturating_sub(1),
                _ => {}
            }
        }
        None
    }

    fn block(&mut self, block: &[u8], base: usize, max: usize) -> Option<usize> {
        let (mut quote, mut open, mut close, mut backslash) = (0u64, 0u64, 0u64, 0u64);
        for (k, word) in block.chunks_exact(8).enumerate() {
            let x = u64::from_le_bytes(word.try_into().expect("8 bytes"));
            // `[`/`{` and `]`/`}` differ only in bit 5.
            let folded = x | (ONES * 0x20);
            quote |= byte_mask(x, b'"') << (8 * k);
            backslash |= byte_mask(x, b'\\') << (8 * k);
            open |= byte_mask(folded, b'{') << (8 * k);
            close |= byte_mask(folded, b'}') << (8 * k);
        }
        if self.escaped || backslash != 0 {
            return self.bytes(block, base, max);
        }
        // Bit k of the prefix XOR of the quotes: byte k lies between an opening quote
        // (included) and its closing one, counting from a string that is still open.
        let mut inside = quote;
        for shift in [1, 2, 4, 8, 16, 32] {
            inside ^= inside << shift;
        }
        if self.in_string {
            inside = !inside;
        }
        self.in_string = inside >> 63 != 0;
        let mut brackets = (open | close) & !inside;
        while brackets != 0 {
            let k = brackets.trailing_zeros();
            brackets &= brackets - 1;
            if open >> k & 1 == 1 {
                self.depth += 1;
                if self.depth > max {
                    return Some(base + k as usize);
                }
            } else {
                self.depth = self.depth.saturating_sub(1);
            }
        }
        None
    }
}

/// The deepest a typed actor nests: actor, subsystems, subsystem, caps, cap, tags (or
/// subsystem, context, pack, multipliers); an empty `[]` in an ignored field of a cap is
/// as deep.
pub(crate) const TYPED_DEPTH: usize = 6;

/// `{` and `[` bytes in `text`, strings included, less those closed at once (`[]`, `{}`):
/// at least the number of non-empty arrays and objects.
fn open_brackets(text: &str) -> usize {
    // `[` is `{` with bit 5 clear, and each is 2 below its closing bracket.
    let bytes = text.as_bytes();
    let last = bytes.last().is_some_and(|&b| b | 0x20 == b'{');
    // Branch-free and counted in bytes, 255 at a time, so that it compiles to vector code.
    let open = |(&b, &next): (&u8, &u8)| u8::from((b | 0x20 == b'{') & (next != b.wrapping_add(2)));
    let pairs = bytes.len().saturating_sub(1);
    let counted: usize = (0..pairs)
        .step_by(255)
        .map(|at| {
            let end = (at + 255).min(pairs);
            let run = bytes[at..end].iter().zip(&bytes[at + 1..end + 1]);
            usize::from(run.map(open).fold(0u8, u8::wrapping_add))
        })
        .sum();
    counted + usize::from(last)
}

/// Arrays and objects that `actor`'s text certainly held, none of them empty. When the
/// text opens no more ([`open_brackets`]), every non-empty array and object in it is part
/// of the typed actor, so nothing nests deeper than [`TYPED_DEPTH`].
fn typed_brackets(actor: &Actor, object: bool) -> usize {
    let some = |n: usize| usize::from(n > 0);
    let subsystems: usize = actor
        .subsystems
        .iter()
        .map(|s| {
            let lists = [s.primary.len(), s.derived.len(), s.caps.len()];
            let lists: usize = lists.iter().map(|&n| n + some(n)).sum();
            let tags = s.caps.iter().filter(|c| c.tags.as_ref().is_some_and(|t| !t.is_empty())).count()
                + s.caps.iter().filter(|c| !c.requires.is_empty()).count();
            let situation = |c: &Contribution| {
                some(c.requires.len()) + usize::from(matches!(c.stack.as_deref(), Some(Stack::Keyed(_))))
            };
            let tags = tags + s.primary.iter().chain(&s.derived).map(situation).sum::<usize>();
            let context = s.context.as_ref().map_or(0, |packs| {
                let set = packs.values().filter(|p| **p != ModifierPack::default());
                some(packs.len()) + set.map(|p| 1 + some(p.multipliers.len())).sum::<usize>()
            });
            let meta = usize::from(s.meta != Meta::default());
            let inner = lists + tags + context + meta;
            some(inner) + inner
        })
        .sum();
    // The actor object always has `subsystems`.
    subsystems + some(actor.subsystems.len()) + usize::from(object) + some(actor.tags.len())
}

/// Parses one actor document within `limits`.
pub fn parse_actor_limited(text: &str, limits: &InputLimits) -> Result<Actor, InputError> {
    let fail = |field: &str, message: String| InputError {
        actor: salvage_id(text),
        subsystem: None,
        field: field.to_string(),
        message,
    };
    if text.len() > limits.max_line_bytes {
        return Err(fail("", format!("actor is {} bytes, over the limit of {}", text.len(), limits.max_line_bytes)));
    }
    let typed = parse_typed(text);
    // A typed actor nests at most `TYPED_DEPTH` deep, unless some of its brackets went
    // unaccounted for (into ignored fields, say); then the text is scanned.
    let shallow = typed.as_ref().is_some_and(|(actor, object)| {
        limits.max_depth >= TYPED_DEPTH && open_brackets(text) == typed_brackets(actor, *object)
    });
    if !shallow && let Some(at) = json_too_deep(text, limits.max_depth) {
        return Err(fail("", format!("JSON nested deeper than {} levels at byte {at}", limits.max_depth)));
    }
    let actor = match typed {
        Some((actor, _)) => actor,
        None => parse_precisely(text)?,
    };
    if actor.subsystems.len() > limits.max_subsystems {
        return Err(fail(
            "subsystems",
            format!("{} subsystems, over the limit of {}", actor.subsystems.len(), limits.max_subsystems),
        ));
    }
    let count: usize = actor.subsystems.iter().map(|s| s.primary.len() + s.derived.len() + s.caps.len()).sum();
    if count > limits.max_contributions {
        return Err(fail(
            "subsystems",
            format!("{count} contributions and caps, over the limit of {}", limits.max_contributions),
        ));
    }
    Ok(actor)
}

#[cfg(test)]
mod tests {
    use super::{
        DepthScan, InputLimits, json_too_deep, open_brackets, parse_actor, parse_actor_limited, parse_typed,
        typed_brackets,
    };
    use proptest::prelude::*;

    /// `[[…]]` nested `depth` deep (nothing when 0), as an extra value.
    fn nested(depth: usize) -> String {
        format!("{}{}", "[".repeat(depth), "]".repeat(depth))
    }

    /// An actor document in which each part that may be empty, absent, carry an extra
    /// field (unknown, or the actor's `extra`) or hold brackets in a string does so when its
    /// bit of `choices` is set; `deep` nests the extra fields' values.
    fn document(choices: u32, deep: usize, object: bool) -> String {
        let pick = |k: u32, yes: &str, no: &str| if choices >> k & 1 == 1 { yes.to_string() } else { no.to_string() };
        // An unknown field in a subsystem (an error), or the actor's `extra` (ignored).
        let extra = |k: u32| pick(k, &format!(r#""{}": {},"#, if k == 8 { "extra" } else { "x" }, nested(deep)), "");
        let contribution = format!(
            r#"{{{}"dimension": "strength", "bucket": "FLAT", "value": 1.5, "system": "{}"}}"#,
            extra(0),
            pick(1, "a[{b", "race")
        );
        let cap = format!(
            r#"{{{}"system": "gear", "dimension": "hp_max", "mode": "BASELINE", "kind": "max", "value": 9{}}}"#,
            extra(2),
            pick(3, r#", "tags": ["t"]"#, &pick(13, r#", "tags": []"#, ""))
        );
        let pack = format!(r#"{{"post_add": {}, "multipliers": {}}}"#, pick(12, "1", "0"), pick(10, "[]", "[1.5]"));
        let context = pick(4, &format!(r#""context": {{"combat": {pack}}},"#), &pick(11, r#""context": {},"#, ""));
        let meta = pick(7, r#", "meta": {}"#, &pick(9, "", r#", "meta": {"system": "gear"}"#));
        let subsystem = format!(
            r#"{{{}{}"primary": [{contribution}], "derived": {}, "caps": [{cap}]{meta}}}"#,
            extra(5),
            context,
            pick(6, "[]", &format!("[{contribution}]")),
        );
        let subsystems = pick(14, "", &format!("{subsystem}, {}", pick(15, "{}", &subsystem)));
        if object {
            format!(r#"{{{}"id": "a", "subsystems": [{subsystems}]}}"#, extra(8))
        } else {
            format!("[{subsystems}]")
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 4096, ..ProptestConfig::default() })]

        /// Skipping the depth scan for typed actors whose brackets are all accounted for
        /// changes no result: every document gets what a scan before parsing would give.
        #[test]
        fn depth_limit_as_if_scanned(
            choices: u32,
            deep in prop::sample::select(vec![1usize, 2, 4, 9]),
            object: bool,
            max_depth in prop::sample::select(vec![0usize, 4, 5, 6, 7, 9, 32]),
        ) {
            let bit = |k: u32| choices >> k & 1 == 1;
            let text = document(choices, deep, object);
            let unknown_fields = !bit(14) && (bit(0) || bit(2) || bit(5));
            let typed = parse_typed(&text);
            prop_assert_eq!(typed.is_none(), unknown_fields, "{}", text);
            if let Some((actor, _)) = typed {
                let (seen, all) = (typed_brackets(&actor, object), open_brackets(&text));
                // The parts that open non-empty brackets the typed actor does not show.
                let default_pack = !bit(14) && bit(4) && bit(10) && !bit(12);
                let unseen = (!bit(14) && bit(1)) || (deep > 1 && object && bit(8)) || default_pack;
                prop_assert!(if unseen { seen < all } else { seen == all }, "{} {} {}", seen, all, text);
            }
            let limits = InputLimits { max_depth, ..InputLimits::default() };
            let got = parse_actor_limited(&text, &limits);
            match json_too_deep(&text, max_depth) {
                Some(_) => prop_assert!(got.is_err_and(|e| e.message.contains("nested deeper")), "{}", text),
                None => prop_assert_eq!(got, parse_actor(&text), "{}", text),
            }
        }
    }

    /// Quotes and brackets often, backslashes rarely (a block with one is scanned byte by byte).
    const ALPHABET: &[u8] = b"\"\"\"[]{}[]{}aaaaaaaa        \"\"[{]}aaaaaaaaaaaaaaaaaaaaaaaaaaaa\\";

    proptest! {
        /// The block scan agrees with the byte-by-byte scan on text dense in quotes,
        /// backslashes and brackets, across every block boundary.
        #[test]
        fn block_scan_equals_byte_scan(
            text in proptest::collection::vec(proptest::sample::select(ALPHABET.to_vec()), 0..400),
            max in 0usize..8,
        ) {
            let text = String::from_utf8(text).unwrap();
            let expected = DepthScan::default().bytes(text.as_bytes(), 0, max);
            prop_assert_eq!(json_too_deep(&text, max), expected);
        }
    }

    #[test]
    fn salvaged_ids_are_as_written() {
        use super::salvage_id;
        let long = format!(
            r#"{{"name": "id", "pad": "{}", "id": 12345678901234567890123, "subsystems": ["#,
            "x".repeat(1 << 17)
        );
        assert_eq!(salvage_id(&long).as_deref(), Some("12345678901234567890123"));
        assert_eq!(salvage_id(r#"{"id": -1e400, "subsystems": ]"#).as_deref(), Some("-1e400"));
        assert_eq!(salvage_id(r#"{"x": {"id": 1}, "id": "a\"b"}"#).as_deref(), Some("a\"b"));
        assert_eq!(salvage_id(r#"["id", {"id": 1}]"#), None);
    }

    #[test]
    fn depth_of_json() {
        let deep = format!("{}{}", "[".repeat(40), "]".repeat(40));
        assert_eq!(json_too_deep(&deep, 32), Some(32));
        let padded = format!("{{\"k\": \"{}\", \"v\": {deep}}}", "x".repeat(70));
        assert_eq!(json_too_deep(&padded, 32), Some(padded.find('[').unwrap() + 31));
        // Brackets in strings, also after escaped quotes, do not count.
        let quoted = format!("[\"{}\\\"{}\"]", "[".repeat(50), "{".repeat(50));
        assert_eq!(json_too_deep(&quoted, 2), None);
        assert_eq!(json_too_deep(&quoted, 0), Some(0));
    }
}
