//! Actor input: the three forms of the v3 format (bare array, one object, NDJSON) as data.
//!
//! Invariant: parsing keeps names as strings; validation against a rule set happens in
//! [`ingest`](crate::ingest), so every error can name the actor, subsystem and field.

use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;

/// One contribution to a stat.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Contribution {
    pub dimension: String,
    pub bucket: String,
    pub value: f64,
    pub system: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<i64>,
}

/// One bound on a stat, in a cap layer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CapContribution {
    pub system: String,
    pub dimension: String,
    pub mode: String,
    pub kind: String,
    pub value: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub realm: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
}

/// Context modifiers (spec §6).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
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
pub struct Meta {
    #[serde(default)]
    pub system: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
}

/// What one subsystem of the game contributes to an actor.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
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
/// subsystems (version 1, no id) or from `{ "id", "version", "subsystems" }`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Actor {
    pub id: Option<String>,
    pub version: i64,
    pub subsystems: Vec<SubsystemOutput>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum ActorForm {
    Bare(Vec<SubsystemOutput>),
    Object(ActorObject),
}

#[derive(Deserialize)]
struct ActorObject {
    #[serde(default)]
    id: Option<Id>,
    #[serde(default)]
    version: Option<i64>,
    subsystems: Vec<SubsystemOutput>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Id {
    Text(String),
    Number(serde_json::Number),
}

impl<'de> Deserialize<'de> for Actor {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Actor, D::Error> {
        Ok(match ActorForm::deserialize(d)? {
            ActorForm::Bare(subsystems) => Actor { id: None, version: 1, subsystems },
            ActorForm::Object(o) => Actor {
                id: o.id.map(|id| match id {
                    Id::Text(s) => s,
                    Id::Number(n) => n.to_string(),
                }),
                version: o.version.unwrap_or(1),
                subsystems: o.subsystems,
            },
        })
    }
}

/// Parses one actor document with precise errors: the JSON is read as a value first (syntax
/// errors carry line and column), then as an actor (shape errors name the field).
pub fn parse_actor(text: &str) -> Result<Actor, String> {
    let value: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| format!("malformed JSON at line {}, column {}: {e}", e.line(), e.column()))?;
    actor_from_value(value)
}

pub fn actor_from_value(value: serde_json::Value) -> Result<Actor, String> {
    match &value {
        serde_json::Value::Array(_) => {
            let subs: Vec<SubsystemOutput> = serde_path(value)?;
            Ok(Actor { id: None, version: 1, subsystems: subs })
        }
        serde_json::Value::Object(map) => {
            if !map.contains_key("subsystems") {
                return Err("actor object has no `subsystems` field".into());
            }
            let o: ActorObject = serde_path(value)?;
            let mut a = Actor { id: None, version: o.version.unwrap_or(1), subsystems: o.subsystems };
            a.id = o.id.map(|id| match id {
                Id::Text(s) => s,
                Id::Number(n) => n.to_string(),
            });
            Ok(a)
        }
        _ => Err("an actor is a JSON array of subsystems or an object with `subsystems`".into()),
    }
}

/// Deserializes with the path of the offending field in the message.
fn serde_path<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> Result<T, String> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        if path == "." { e.inner().to_string() } else { format!("{path}: {}", e.inner()) }
    })
}

/// The id of an actor line even when the actor itself is malformed, for error records.
pub fn salvage_id(text: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(text).ok()?;
    match v.get("id")? {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}
