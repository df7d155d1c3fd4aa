//! [`Snapshot`]: one actor's evaluated stats, compact inside (entries by stat id), named only
//! when serialized to the v3 JSON form.

use crate::input::ModifierPack;
use crate::ir::StatId;
use serde::ser::{Serialize, SerializeMap, Serializer};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The entry has a value (else it only has caps: `CapsUsed` but no `Primary`/`Derived`).
pub const HAS_VALUE: u8 = 1;
/// The value goes to `Derived` (else `Primary`).
pub const DERIVED: u8 = 2;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Entry {
    pub stat: StatId,
    pub flags: u8,
    pub value: f64,
    /// The effective range (`CapsUsed`).
    pub min: f64,
    pub max: f64,
}

impl Entry {
    pub fn has_value(&self) -> bool {
        self.flags & HAS_VALUE != 0
    }
}

#[derive(Debug, Clone)]
pub struct Snapshot {
    pub version: i64,
    /// Sorted by stat id.
    pub entries: Vec<Entry>,
    /// Combined context packs (not part of the four v3 fields).
    pub context: BTreeMap<String, ModifierPack>,
    names: Arc<[String]>,
}

impl PartialEq for Snapshot {
    /// Bit-for-bit equality of every number.
    fn eq(&self, other: &Snapshot) -> bool {
        self.version == other.version
            && self.context == other.context
            && self.entries.len() == other.entries.len()
            && self.entries.iter().zip(&other.entries).all(|(a, b)| {
                a.stat == b.stat
                    && a.flags == b.flags
                    && a.value.to_bits() == b.value.to_bits()
                    && a.min.to_bits() == b.min.to_bits()
                    && a.max.to_bits() == b.max.to_bits()
            })
    }
}

impl Snapshot {
    pub fn new(
        version: i64,
        entries: Vec<Entry>,
        context: BTreeMap<String, ModifierPack>,
        names: Arc<[String]>,
    ) -> Self {
        Snapshot { version, entries, context, names }
    }

    /// The stat names of another generation of the same structure.
    pub(crate) fn set_names(&mut self, names: Arc<[String]>) {
        self.names = names;
    }

    pub fn entry(&self, stat: StatId) -> Option<&Entry> {
        self.entries.binary_search_by_key(&stat, |e| e.stat).ok().map(|i| &self.entries[i])
    }

    /// The value of a stat by name, if it has one.
    pub fn get(&self, name: &str) -> Option<f64> {
        let id = self.names.iter().position(|n| n == name)?;
        self.entry(StatId(id as u32)).filter(|e| e.has_value()).map(|e| e.value)
    }

    /// `(Min, Max)` of a stat by name, if it has an entry.
    pub fn caps_used(&self, name: &str) -> Option<(f64, f64)> {
        let id = self.names.iter().position(|n| n == name)?;
        self.entry(StatId(id as u32)).map(|e| (e.min, e.max))
    }

    pub fn name(&self, stat: StatId) -> &str {
        &self.names[stat.index()]
    }

    /// Applies the named context pack to a base value (spec §6).
    pub fn apply_context(&self, name: &str, base: f64) -> Option<f64> {
        self.context.get(name).map(|p| p.apply(base))
    }
}

struct Section<'a>(&'a Snapshot, Option<bool>);

impl Serialize for Section<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let snap = self.0;
        let mut m = s.serialize_map(None)?;
        for e in &snap.entries {
            match self.1 {
                Some(derived) if e.has_value() && (e.flags & DERIVED != 0) == derived => {
                    m.serialize_entry(snap.name(e.stat), &e.value)?;
                }
                None => m.serialize_entry(snap.name(e.stat), &MinMax(e.min, e.max))?,
                _ => {}
            }
        }
        m.end()
    }
}

struct MinMax(f64, f64);

impl Serialize for MinMax {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("Min", &self.0)?;
        m.serialize_entry("Max", &self.1)?;
        m.end()
    }
}

impl Serialize for Snapshot {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("Primary", &Section(self, Some(false)))?;
        m.serialize_entry("Derived", &Section(self, Some(true)))?;
        m.serialize_entry("CapsUsed", &Section(self, None))?;
        m.serialize_entry("Version", &self.version)?;
        if !self.context.is_empty() {
            m.serialize_entry("Context", &self.context)?;
        }
        m.end()
    }
}
