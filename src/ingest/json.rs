//! Ingest straight from an actor's JSON text: names are resolved to ids as they are read,
//! with no [`Actor`](crate::input::Actor) built in between.
//!
//! Invariant: this is only a shortcut. It accepts the plain form of an actor object (known
//! fields, names without escapes, no context packs), and for any other text, or any input
//! [`prepare`](super::prepare) would reject, it gives `None`; the caller then takes the
//! ordinary path, which says precisely what is wrong. What it does give equals
//! parsing the text and preparing the actor.

use super::{
    CapItem, CapMode, FROM_DERIVED, FROM_PRIMARY, Item, Origin, Prepared, Situation, bucket_at, cap_kind, cap_layer,
    finish, realm_given, slot_of,
};
// The accepted form is typed, so it nests no deeper than a typed actor.
use crate::input::{Id, InputLimits, ModifierPack, Name, TYPED_DEPTH};
use crate::ir::Ir;
use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use std::collections::BTreeMap;

/// The actor's id and the prepared actor, when `text` is an actor object in the plain form
/// that `ir` accepts within `limits`.
pub fn prepare_json(ir: &Ir, text: &str, limits: &InputLimits) -> Option<(Option<String>, Prepared)> {
    if text.len() > limits.max_line_bytes || limits.max_depth < TYPED_DEPTH {
        return None;
    }
    let situation = match ir.is_situational() {
        true => Some(Situation::empty(ir)),
        false => None,
    };
    let mut reader = Reader { ir, limits, items: Vec::new(), caps: Vec::new(), subsystems: 0, entries: 0, situation };
    let mut de = serde_json::Deserializer::from_str(text);
    let (id, version) = (&mut reader).deserialize(&mut de).ok()?;
    de.end().ok()?;
    let situation = reader.situation.as_ref();
    let prepared = finish(ir, version, reader.items, reader.caps, BTreeMap::new(), None, situation);
    Some((id.map(|id| id.into_text(text)), prepared))
}

/// Why the text is not taken: nothing to report, the ordinary path will say what is wrong.
fn decline<E: serde::de::Error>() -> E {
    E::custom("not the plain form")
}

/// Stores the value of a field seen for the first time; a repeated field declines the text,
/// and the ordinary path reports it.
fn once<T, E: serde::de::Error>(slot: &mut Option<T>, value: T) -> Result<(), E> {
    match slot.replace(value) {
        None => Ok(()),
        Some(_) => Err(decline()),
    }
}

struct Reader<'a, 'de> {
    ir: &'a Ir,
    limits: &'a InputLimits,
    items: Vec<Item<'de>>,
    caps: Vec<CapItem<'de>>,
    subsystems: u32,
    /// Contributions and caps so far.
    entries: usize,
    /// For rules with tags, stacks or views; without, any situational field declines.
    situation: Option<Situation<'de>>,
}

impl Reader<'_, '_> {
    fn count<E: serde::de::Error>(&mut self) -> Result<(), E> {
        self.entries += 1;
        if self.entries > self.limits.max_contributions { Err(decline()) } else { Ok(()) }
    }
}

/// The actor object: its id and version.
impl<'de> DeserializeSeed<'de> for &mut Reader<'_, 'de> {
    type Value = (Option<Id>, i64);

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for &mut Reader<'_, 'de> {
    type Value = (Option<Id>, i64);

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an actor object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let (mut id, mut version, mut subsystems, mut tags) = (None, None, None, None);
        while let Some(key) = map.next_key::<&str>()? {
            match key {
                "id" => once(&mut id, map.next_value::<Option<Id>>()?)?,
                "version" => once(&mut version, map.next_value::<Option<i64>>()?)?,
                "subsystems" => once(&mut subsystems, map.next_value_seed(Subsystems(&mut *self))?)?,
                "tags" => once(&mut tags, map.next_value::<Vec<&'de str>>()?)?,
                _ => return Err(decline()),
            }
        }
        if let Some(tags) = tags.filter(|t| !t.is_empty()) {
            let situation = self.situation.as_mut().ok_or_else(decline)?;
            situation.context = Situation::new(self.ir, &tags).map_err(|_| decline())?.context;
        }
        subsystems.ok_or_else(decline)?;
        Ok((id.flatten(), version.flatten().unwrap_or(1)))
    }
}

struct Subsystems<'r, 'a, 'de>(&'r mut Reader<'a, 'de>);

impl<'de> DeserializeSeed<'de> for Subsystems<'_, '_, 'de> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Subsystems<'_, '_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a list of subsystems")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(Subsystem(&mut *self.0))?.is_some() {
            self.0.subsystems += 1;
            if self.0.subsystems as usize > self.0.limits.max_subsystems {
                return Err(decline());
            }
        }
        Ok(())
    }
}

struct Subsystem<'r, 'a, 'de>(&'r mut Reader<'a, 'de>);

impl<'de> DeserializeSeed<'de> for Subsystem<'_, '_, 'de> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Subsystem<'_, '_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a subsystem object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let (mut primary, mut derived, mut caps, mut context, mut meta) = (None, None, None, None, None);
        while let Some(key) = map.next_key::<&str>()? {
            match key {
                "primary" => once(&mut primary, map.next_value_seed(Contributions(&mut *self.0, FROM_PRIMARY))?)?,
                "derived" => once(&mut derived, map.next_value_seed(Contributions(&mut *self.0, FROM_DERIVED))?)?,
                "caps" => once(&mut caps, map.next_value_seed(Caps(&mut *self.0))?)?,
                "context" => once(&mut context, map.next_value::<Option<BTreeMap<String, ModifierPack>>>()?)?,
                "meta" => once(&mut meta, map.next_value::<MetaRead>()?)?,
                _ => return Err(decline()),
            }
        }
        // Context packs are combined across subsystems by `meta.system`: left to the
        // ordinary path.
        if context.flatten().is_some() {
            return Err(decline());
        }
        Ok(())
    }
}

/// `meta` as [`Meta`] reads it, but with no other fields (which could nest deeper).
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct MetaRead {
    #[serde(default, rename = "system")]
    _system: Name,
    #[serde(default, rename = "stage")]
    _stage: Option<String>,
    #[serde(default, rename = "version")]
    _version: Option<i64>,
}

struct Contributions<'r, 'a, 'de>(&'r mut Reader<'a, 'de>, u8);

impl<'de> DeserializeSeed<'de> for Contributions<'_, '_, 'de> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Contributions<'_, '_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a list of contributions")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let Contributions(reader, list) = self;
        let mut index = 0;
        while let Some(c) = seq.next_element::<Contribution<'de>>()? {
            reader.count()?;
            let ir = reader.ir;
            let stat = *ir.stat_ids.get(c.dimension).ok_or_else(decline)?;
            let slot = slot_of(ir, stat, c.bucket).ok_or_else(decline)?;
            let origin = Origin { subsystem: reader.subsystems, list, index };
            let mut item = Item::new(ir, origin, stat, slot, c.priority, c.system, c.value);
            if let Some(s) = reader.situation.as_mut() {
                if ir.stat(stat).view.is_some() {
                    return Err(decline());
                }
                if !c.requires.is_empty() || c.stack.is_some() {
                    let stack = c.stack.map(|s| match s {
                        JsonStack::Group(g) => (g, ""),
                        JsonStack::Keyed(KeyedStack { group, key }) => (group, key),
                    });
                    let bucket = bucket_at(ir, stat, slot, c.bucket);
                    item.situation = s.add(ir, &c.requires, stack, bucket).map_err(|_| decline())?;
                }
            } else if !c.requires.is_empty() || c.stack.is_some() {
                return Err(decline());
            }
            reader.items.push(item);
            index += 1;
        }
        Ok(())
    }
}

/// A contribution as read, its names borrowed from the text.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Contribution<'a> {
    dimension: &'a str,
    bucket: &'a str,
    value: f64,
    system: &'a str,
    #[serde(default)]
    priority: Option<i64>,
    #[serde(default, borrow)]
    requires: Vec<&'a str>,
    #[serde(default, borrow)]
    stack: Option<JsonStack<'a>>,
}

/// A contribution's `stack`, borrowed.
#[derive(serde::Deserialize)]
#[serde(untagged)]
enum JsonStack<'a> {
    Group(&'a str),
    Keyed(#[serde(borrow)] KeyedStack<'a>),
}

/// As [`crate::input::KeyedStack`] reads it: no other fields.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyedStack<'a> {
    group: &'a str,
    key: &'a str,
}

/// A cap as read, its names borrowed from the text.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Cap<'a> {
    system: &'a str,
    dimension: &'a str,
    mode: &'a str,
    kind: &'a str,
    value: f64,
    #[serde(default)]
    priority: Option<i64>,
    #[serde(default, borrow)]
    scope: Option<&'a str>,
    #[serde(default, borrow)]
    realm: Option<&'a str>,
    #[serde(default, rename = "tags")]
    _tags: Option<Vec<String>>,
    #[serde(default, borrow)]
    requires: Vec<&'a str>,
}

struct Caps<'r, 'a, 'de>(&'r mut Reader<'a, 'de>);

impl<'de> DeserializeSeed<'de> for Caps<'_, '_, 'de> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Caps<'_, '_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a list of caps")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let reader = self.0;
        let mut index = 0;
        while let Some(c) = seq.next_element::<Cap<'de>>()? {
            reader.count()?;
            let ir = reader.ir;
            let stat = *ir.stat_ids.get(c.dimension).ok_or_else(decline)?;
            let is_max = cap_kind(c.kind).ok_or_else(decline)?;
            let mode = CapMode::from_keyword(c.mode).filter(|m| m.fits(is_max)).ok_or_else(decline)?;
            let layer = cap_layer(ir, c.scope).filter(|&l| realm_given(ir, l, c.realm)).ok_or_else(decline)?;
            let origin = Origin { subsystem: reader.subsystems, list: 0, index };
            let priority = c.priority.unwrap_or(0);
            let situation = match reader.situation.as_mut() {
                Some(s) if ir.stat(stat).view.is_none() => {
                    s.add(ir, &c.requires, None, crate::ir::BucketId(0)).map_err(|_| decline())?
                }
                None if c.requires.is_empty() => u32::MAX,
                _ => return Err(decline()),
            };
            let (system, value) = (c.system, c.value);
            reader.caps.push(CapItem { origin, stat, layer, is_max, mode, priority, system, value, situation });
            index += 1;
        }
        Ok(())
    }
}
