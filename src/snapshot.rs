//! [`Snapshot`]: one actor's evaluated stats, compact inside (entries by stat id), named only
//! when serialized to the v3 JSON form.

use crate::input::ModifierPack;
use crate::ir::{Schema, StatId};
use serde::ser::{Serialize, SerializeMap, Serializer};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The entry has a value (else it only has caps: `CapsUsed` but no `Primary`/`Derived`).
pub const HAS_VALUE: u8 = 1;
/// The value goes to `Derived` (else `Primary`).
pub const DERIVED: u8 = 2;
/// Encoding only: the range is stored (else it is the stat's default range).
const EXPLICIT_RANGE: u8 = 0x40;

/// One stat of a snapshot, unpacked.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Entry {
    pub stat: StatId,
    /// Bits read by [`Entry::has_value`] and [`Entry::is_derived`].
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

    /// Whether the value is reported under `Derived` (else `Primary`).
    pub fn is_derived(&self) -> bool {
        self.flags & DERIVED != 0
    }

    /// Every field equal, numbers by their bits.
    pub fn same_bits(&self, other: &Entry) -> bool {
        self.stat == other.stat
            && self.flags == other.flags
            && self.value.to_bits() == other.value.to_bits()
            && self.min.to_bits() == other.min.to_bits()
            && self.max.to_bits() == other.max.to_bits()
    }
}

/// One actor's evaluated stats. Entries are stored packed in one allocation, in stat
/// order: a bitmap of the stats that have one, their flags (a byte each), then per entry
/// its value if it has one and its range unless it is the stat's default (8 bytes a
/// number). A standard v3 actor takes about 225 bytes instead of 416 as [`Entry`] values.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub version: i64,
    len: u32,
    packed: Box<[u8]>,
    /// Combined context packs (not part of the four v3 fields).
    pub context: BTreeMap<String, ModifierPack>,
    schema: Arc<Schema>,
}

impl PartialEq for Snapshot {
    /// Bit-for-bit equality of every number.
    fn eq(&self, other: &Snapshot) -> bool {
        self.version == other.version
            && self.context == other.context
            && self.len == other.len
            && self.entries().zip(other.entries()).all(|(a, b)| a.same_bits(&b))
    }
}

/// Bytes of the presence bitmap of a rule set with `stats` stats.
fn bitmap_len(stats: usize) -> usize {
    stats.div_ceil(8)
}

/// Appends the packed form of `entries` (sorted by stat id, each of a stat of `schema`) to `out`.
fn encode(entries: &[Entry], schema: &Schema, out: &mut Vec<u8>) {
    let explicit = |e: &Entry| !schema.is_default(e.stat, e.min, e.max);
    let data: usize = entries.iter().map(|e| 8 * usize::from(e.has_value()) + 16 * usize::from(explicit(e))).sum();
    let head = bitmap_len(schema.names.len()) + entries.len();
    // One exact allocation (boxing the buffer then copies nothing), written through a slice.
    let start = out.len();
    out.reserve_exact(head + data);
    out.resize(start + head + data, 0);
    let (head, body) = out[start..].split_at_mut(head);
    let (bitmap, flags) = head.split_at_mut(head.len() - entries.len());
    let mut at = 0;
    let mut put = |x: f64| {
        body[at..at + 8].copy_from_slice(&x.to_bits().to_le_bytes());
        at += 8;
    };
    for (e, flag) in entries.iter().zip(flags) {
        bitmap[e.stat.index() / 8] |= 1 << (e.stat.index() % 8);
        let explicit = explicit(e);
        *flag = e.flags | if explicit { EXPLICIT_RANGE } else { 0 };
        if e.has_value() {
            put(e.value);
        }
        if explicit {
            put(e.min);
            put(e.max);
        }
    }
}

/// Walks the places of packed entries in stat order, reading only the bitmap and flags.
struct Places {
    /// Bytes of the bitmap; entries in all.
    bitmap: usize,
    len: usize,
    /// The next entry's ordinal, the next stat to look at, the next number's offset.
    next: usize,
    stat: usize,
    data: usize,
}

/// Where one entry is stored.
struct Place {
    stat: StatId,
    /// The stored flags (with `EXPLICIT_RANGE`).
    stored: u8,
    /// Offset of its numbers in the packed buffer.
    data: usize,
}

impl Places {
    fn new(schema: &Schema, len: usize) -> Places {
        let bitmap = bitmap_len(schema.names.len());
        Places { bitmap, len, next: 0, stat: 0, data: bitmap + len }
    }

    /// The next entry's place; `head` holds at least the bitmap and the flags.
    fn next(&mut self, head: &[u8]) -> Option<Place> {
        if self.next == self.len {
            return None;
        }
        loop {
            let bits = head[self.stat / 8] >> (self.stat % 8);
            if bits != 0 {
                self.stat += bits.trailing_zeros() as usize;
                break;
            }
            self.stat = (self.stat / 8 + 1) * 8;
        }
        let stored = head[self.bitmap + self.next];
        let place = Place { stat: StatId(self.stat as u32), stored, data: self.data };
        (self.stat, self.next) = (self.stat + 1, self.next + 1);
        self.data += 8 * usize::from(stored & HAS_VALUE != 0) + 16 * usize::from(stored & EXPLICIT_RANGE != 0);
        Some(place)
    }
}

/// Decodes packed entries in stat order.
pub struct Entries<'a> {
    packed: &'a [u8],
    schema: &'a Schema,
    places: Places,
}

impl Iterator for Entries<'_> {
    type Item = Entry;

    fn next(&mut self) -> Option<Entry> {
        let Place { stat, stored, mut data } = self.places.next(self.packed)?;
        let word = |at: usize| u64::from_le_bytes(self.packed[at..at + 8].try_into().expect("8 bytes"));
        let mut e = Entry { stat, flags: stored & !EXPLICIT_RANGE, value: 0.0, min: 0.0, max: 0.0 };
        if e.has_value() {
            e.value = f64::from_bits(word(data));
            data += 8;
        }
        if stored & EXPLICIT_RANGE != 0 {
            (e.min, e.max) = (f64::from_bits(word(data)), f64::from_bits(word(data + 8)));
        } else {
            (e.min, e.max) = self.schema.default_ranges[stat.index()].expect("encoded as default");
        }
        Some(e)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.places.len - self.places.next;
        (left, Some(left))
    }
}

impl ExactSizeIterator for Entries<'_> {}

impl Snapshot {
    /// `entries` are sorted by stat id, each of a stat of `schema`.
    pub(crate) fn new(
        version: i64,
        entries: &[Entry],
        context: BTreeMap<String, ModifierPack>,
        schema: Arc<Schema>,
    ) -> Self {
        let mut packed = Vec::new();
        encode(entries, &schema, &mut packed);
        Snapshot { version, len: entries.len() as u32, packed: packed.into_boxed_slice(), context, schema }
    }

    /// Replaces the entries (sorted by stat id) and the schema, reusing the allocation when
    /// the size is unchanged; `buf` is scratch space.
    pub(crate) fn set_entries(&mut self, entries: &[Entry], schema: Arc<Schema>, buf: &mut Vec<u8>) {
        buf.clear();
        encode(entries, &schema, buf);
        if buf.len() == self.packed.len() {
            self.packed.copy_from_slice(buf);
        } else {
            self.packed = buf.as_slice().into();
        }
        self.len = entries.len() as u32;
        self.schema = schema;
    }

    /// Whether `stat` has an entry.
    pub fn has_entry(&self, stat: StatId) -> bool {
        stat.index() < self.schema.names.len() && self.packed[stat.index() / 8] >> (stat.index() % 8) & 1 == 1
    }

    /// Overwrites the entries of `updates` (sorted by stat id) in place and takes `schema`,
    /// when that changes no size and no encoding: each update's stat has an entry with the
    /// same flags and the same range stored or implied, and both schemas have the same
    /// default ranges. Otherwise returns false and changes nothing.
    pub(crate) fn patch(&mut self, updates: &[Entry], schema: &Arc<Schema>) -> bool {
        let same_defaults = Arc::ptr_eq(&self.schema, schema)
            || (self.schema.default_ranges.len() == schema.default_ranges.len()
                && self.schema.default_ranges.iter().zip(&schema.default_ranges).all(|(a, b)| {
                    let bits = |r: &Option<(f64, f64)>| r.map(|(lo, hi)| (lo.to_bits(), hi.to_bits()));
                    bits(a) == bits(b)
                }));
        if !same_defaults {
            return false;
        }
        // Where each update goes, if it keeps its encoding: all are found and checked, in one
        // walk over the bitmap and flags, before any number is written.
        let mut walk = Places::new(&self.schema, self.len as usize);
        let mut places = Vec::with_capacity(updates.len());
        for u in updates {
            let place = std::iter::from_fn(|| walk.next(&self.packed)).find(|p| p.stat >= u.stat);
            let explicit = !schema.is_default(u.stat, u.min, u.max);
            let stored = u.flags | if explicit { EXPLICIT_RANGE } else { 0 };
            match place.filter(|p| p.stat == u.stat && p.stored == stored) {
                Some(p) => places.push((p.data, explicit)),
                None => return false,
            }
        }
        for (u, (mut at, explicit)) in updates.iter().zip(places) {
            let mut put = |x: f64| {
                self.packed[at..at + 8].copy_from_slice(&x.to_bits().to_le_bytes());
                at += 8;
            };
            if u.has_value() {
                put(u.value);
            }
            if explicit {
                put(u.min);
                put(u.max);
            }
        }
        self.schema = schema.clone();
        true
    }

    /// The entries in stat order.
    pub fn entries(&self) -> Entries<'_> {
        Entries { packed: &self.packed, schema: &self.schema, places: Places::new(&self.schema, self.len as usize) }
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.len as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The first packed byte (0 if none): reading it brings the entries into cache.
    pub(crate) fn first_byte(&self) -> u8 {
        self.packed.first().copied().unwrap_or(0)
    }

    pub fn entry(&self, stat: StatId) -> Option<Entry> {
        self.entries().find(|e| e.stat >= stat).filter(|e| e.stat == stat)
    }

    fn id(&self, name: &str) -> Option<StatId> {
        self.schema.names.iter().position(|n| n == name).map(|i| StatId(i as u32))
    }

    /// The value of a stat by name, if it has one.
    pub fn get(&self, name: &str) -> Option<f64> {
        self.entry(self.id(name)?).filter(|e| e.has_value()).map(|e| e.value)
    }

    /// `(Min, Max)` of a stat by name, if it has an entry.
    pub fn caps_used(&self, name: &str) -> Option<(f64, f64)> {
        self.entry(self.id(name)?).map(|e| (e.min, e.max))
    }

    pub fn name(&self, stat: StatId) -> &str {
        &self.schema.names[stat.index()]
    }

    /// Applies the named context pack to a base value (spec §6).
    pub fn apply_context(&self, name: &str, base: f64) -> Option<f64> {
        self.context.get(name).map(|p| p.apply(base))
    }
}

/// One difference between two snapshots, in the terms of the v3 JSON form. Numbers are
/// compared by their bits, as [`Snapshot`]'s `PartialEq` does.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StatChange<'a> {
    /// A value in `Primary` (`derived` false) or `Derived`; `None` on the side where the stat
    /// has no value in that section (it appeared or disappeared).
    Value { stat: &'a str, derived: bool, old: Option<f64>, new: Option<f64> },
    /// An effective range in `CapsUsed`; `None` on the side where the stat has no entry.
    Range { stat: &'a str, old: Option<(f64, f64)>, new: Option<(f64, f64)> },
}

impl Snapshot {
    /// The stats whose value or range differs from `self` (old) to `other` (new): see `changes`.
    pub fn diff<'a>(&'a self, other: &'a Snapshot) -> Vec<StatChange<'a>> {
        changes(Some(self), Some(other))
    }
}

/// What changed from `old` to `new`, matched by stat name (the two may come from different
/// rule sets); a missing snapshot has no entries. In the order of the JSON form: `Primary`,
/// `Derived`, then `CapsUsed`, each by stat name.
pub fn changes<'a>(old: Option<&'a Snapshot>, new: Option<&'a Snapshot>) -> Vec<StatChange<'a>> {
    let by_name = |s: Option<&'a Snapshot>| -> BTreeMap<&'a str, Entry> {
        s.into_iter().flat_map(|s| s.entries().map(move |e| (s.name(e.stat), e))).collect()
    };
    let (old, new) = (by_name(old), by_name(new));
    let mut names: Vec<&'a str> = old.keys().chain(new.keys()).copied().collect();
    names.sort_unstable();
    names.dedup();
    let same = |a: Option<f64>, b: Option<f64>| a.map(f64::to_bits) == b.map(f64::to_bits);
    let mut out = Vec::new();
    for derived in [false, true] {
        let value = |side: &BTreeMap<&str, Entry>, stat: &str| {
            side.get(stat).filter(|e| e.has_value() && e.is_derived() == derived).map(|e| e.value)
        };
        for &stat in &names {
            let (a, b) = (value(&old, stat), value(&new, stat));
            if !same(a, b) {
                out.push(StatChange::Value { stat, derived, old: a, new: b });
            }
        }
    }
    for &stat in &names {
        let range = |side: &BTreeMap<&str, Entry>| side.get(stat).map(|e| (e.min, e.max));
        let (a, b) = (range(&old), range(&new));
        if !same(a.map(|r| r.0), b.map(|r| r.0)) || !same(a.map(|r| r.1), b.map(|r| r.1)) {
            out.push(StatChange::Range { stat, old: a, new: b });
        }
    }
    out
}

struct Section<'a>(&'a Snapshot, Option<bool>);

impl Serialize for Section<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let snap = self.0;
        let mut m = s.serialize_map(None)?;
        for e in snap.entries() {
            match self.1 {
                Some(derived) if e.has_value() && e.is_derived() == derived => {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_entries_round_trip() {
        let schema = Arc::new(Schema {
            names: (0..11).map(|i| format!("s{i}")).collect(),
            default_ranges: (0..11).map(|i| (i % 2 == 0).then_some((0.0, 10.0))).collect(),
        });
        let e = |stat, flags, value, min, max| Entry { stat: StatId(stat), flags, value, min, max };
        let entries = [
            e(0, HAS_VALUE, 1.5, 0.0, 10.0),                      // default range
            e(1, HAS_VALUE | DERIVED, -0.0, -1.0, f64::INFINITY), // no default
            e(2, 0, 0.0, 0.0, 9.0),                               // caps only, explicit
            e(8, HAS_VALUE, 3.0, -0.0, 10.0),                     // -0 is not the default 0
            e(10, DERIVED | HAS_VALUE, 5.0, 0.0, 10.0),           // past the first bitmap byte
        ];
        let mut snap = Snapshot::new(7, &entries, BTreeMap::new(), schema.clone());
        let back: Vec<Entry> = snap.entries().collect();
        assert_eq!(back.len(), entries.len());
        assert!(back.iter().zip(&entries).all(|(a, b)| a.same_bits(b)), "{back:?}");
        assert!(snap.entry(StatId(8)).is_some_and(|x| x.same_bits(&entries[3])));
        assert!(snap.entry(StatId(9)).is_none());
        assert_eq!(snap.packed.len(), 2 + 5 + 8 * 4 + 16 * 3);

        // In place: new numbers with the same flags and range encoding.
        let before = snap.clone();
        let moved = [e(1, HAS_VALUE | DERIVED, 7.0, -2.0, 3.0), e(8, HAS_VALUE, 4.0, 1.0, 10.0)];
        assert!(snap.patch(&moved, &schema));
        let now: Vec<Entry> = snap.entries().collect();
        assert!(now[1].same_bits(&moved[0]) && now[3].same_bits(&moved[1]) && now[4].same_bits(&entries[4]));
        // Not in place: a range that becomes the default, a flag, a stat without an entry,
        // other default ranges. Nothing changes.
        let mut kept = before.clone();
        for refused in [e(8, HAS_VALUE, 4.0, 0.0, 10.0), e(0, 0, 0.0, 0.0, 10.0), e(9, HAS_VALUE, 1.0, 0.0, 10.0)] {
            assert!(!kept.patch(&[refused], &schema), "{refused:?}");
            assert_eq!(kept, before);
        }
        let other = Arc::new(Schema { names: schema.names.clone(), default_ranges: vec![None; 11].into() });
        assert!(!kept.patch(&moved, &other));
        assert_eq!(kept, before);

        // A diff by name, section by section: changed, appeared and disappeared.
        let old = Snapshot::new(7, &entries, BTreeMap::new(), schema.clone());
        let new = Snapshot::new(
            7,
            &[e(0, HAS_VALUE, 2.5, 0.0, 10.0), e(2, HAS_VALUE, 1.0, 0.0, 9.0)],
            BTreeMap::new(),
            schema.clone(),
        );
        let names = |c: &StatChange| match *c {
            StatChange::Value { stat, derived, .. } => format!("{}{stat}", if derived { "d:" } else { "p:" }),
            StatChange::Range { stat, .. } => format!("r:{stat}"),
        };
        let diff = old.diff(&new);
        let listed: Vec<String> = diff.iter().map(names).collect();
        assert_eq!(listed, ["p:s0", "p:s2", "p:s8", "d:s1", "d:s10", "r:s1", "r:s10", "r:s8"]);
        assert_eq!(diff[0], StatChange::Value { stat: "s0", derived: false, old: Some(1.5), new: Some(2.5) });
        assert_eq!(diff[1], StatChange::Value { stat: "s2", derived: false, old: None, new: Some(1.0) });
        assert_eq!(diff[5], StatChange::Range { stat: "s1", old: Some((-1.0, f64::INFINITY)), new: None });
        assert!(old.diff(&old).is_empty());
        assert_eq!(changes(None, Some(&new)).len(), 4);

        let mut buf = Vec::new();
        snap.set_entries(&entries[..2], schema, &mut buf);
        assert_eq!(snap.len(), 2);
        assert!(snap.entries().zip(&entries).all(|(a, b)| a.same_bits(b)));
    }
}
