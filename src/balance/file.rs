//! The test-file format as read by the `toml` crate: every part keeps its byte span, so the
//! runner can locate what is wrong (`file:line:col`). Meaning (paths, actors, stats,
//! expectations) is checked by the runner, which has the rules.

use serde::Deserialize;
use toml::Spanned;

/// A `*.stat-test.toml` file as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFile {
    /// A path or a list of paths, relative to the test file.
    pub rules: Spanned<toml::Value>,
    /// Files of actors (JSON or NDJSON), a path or a list.
    #[serde(default)]
    pub actors: Option<Spanned<toml::Value>>,
    /// Inline actors, `[actor.ID]`: the actor JSON object's fields, without `id`.
    #[serde(default)]
    pub actor: Ordered<Spanned<String>, Spanned<toml::Value>>,
    #[serde(default)]
    pub case: Vec<Spanned<RawCase>>,
}

/// One `[[case]]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCase {
    #[serde(default)]
    pub name: Option<Spanned<String>>,
    pub actor: Spanned<String>,
    /// Stat name → expectation, in the order written.
    #[serde(default)]
    pub expect: Ordered<Spanned<String>, Spanned<toml::Value>>,
    /// The actor must fail with a message containing this text.
    #[serde(default)]
    pub error: Option<Spanned<String>>,
}

/// A TOML table's entries in the order written.
pub(super) struct Ordered<K, V>(pub Vec<(K, V)>);

impl<K, V> Default for Ordered<K, V> {
    fn default() -> Self {
        Ordered(Vec::new())
    }
}

impl<'de, K: Deserialize<'de>, V: Deserialize<'de>> Deserialize<'de> for Ordered<K, V> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit<K, V>(std::marker::PhantomData<(K, V)>);
        impl<'de, K: Deserialize<'de>, V: Deserialize<'de>> serde::de::Visitor<'de> for Visit<K, V> {
            type Value = Ordered<K, V>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a table")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    entries.push(entry);
                }
                Ok(Ordered(entries))
            }
        }
        d.deserialize_map(Visit(std::marker::PhantomData))
    }
}

/// The paths of a `rules` or `actors` value: one string or a non-empty list of them.
pub(super) fn paths(value: &toml::Value) -> Result<Vec<&str>, String> {
    match value {
        toml::Value::String(s) => Ok(vec![s.as_str()]),
        toml::Value::Array(items) if !items.is_empty() => items
            .iter()
            .map(|v| v.as_str().ok_or_else(|| format!("a path is a string, not a {}", v.type_str())))
            .collect(),
        toml::Value::Array(_) => Err("the list of paths is empty".into()),
        other => Err(format!("expected a path or a list of paths, not a {}", other.type_str())),
    }
}

/// A TOML value as JSON, for the actor reader; dates and non-finite numbers have no JSON form.
pub(super) fn to_json(value: &toml::Value) -> Result<serde_json::Value, String> {
    Ok(match value {
        toml::Value::String(s) => s.clone().into(),
        toml::Value::Integer(i) => (*i).into(),
        toml::Value::Float(f) => {
            serde_json::Number::from_f64(*f).ok_or_else(|| format!("{f} is not a finite number"))?.into()
        }
        toml::Value::Boolean(b) => (*b).into(),
        toml::Value::Datetime(d) => return Err(format!("a date ({d}) is not actor input")),
        toml::Value::Array(items) => items.iter().map(to_json).collect::<Result<Vec<_>, _>>()?.into(),
        toml::Value::Table(t) => t
            .iter()
            .map(|(k, v)| Ok((k.clone(), to_json(v)?)))
            .collect::<Result<serde_json::Map<_, _>, String>>()?
            .into(),
    })
}

/// The toml crate's message, with a did-you-mean for an unknown key:
/// ``unknown field `actr`, expected one of `name`, `actor` …`` → ``unknown key `actr` (did you mean `actor`?)``.
pub(super) fn toml_message(message: &str) -> String {
    let message = message.trim_end();
    let Some((key, expected)) = message.strip_prefix("unknown field `").and_then(|r| r.split_once("`, expected "))
    else {
        return message.to_string();
    };
    let known: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
    match crate::diag::did_you_mean(key, known.iter().copied()) {
        Some(s) => format!("unknown key `{key}` (did you mean `{s}`?)"),
        None => format!("unknown key `{key}` (known keys: {})", known.join(", ")),
    }
}
