//! [`NameMap`]: names to ids, looked up by comparing integers rather than bytes. Names of
//! up to 31 bytes (all but freak ones) are packed with their length into four words and
//! kept in an open-addressing table; longer names go to an ordinary hash map.

use rustc_hash::FxHashMap;

const PACKED: usize = 31;

type Packed = [u64; 4];

/// Word `i` of the packed form of `bytes`: whole words are read straight from the text,
/// a partial one by overlapping reads. Each word is computed into a register: building the
/// key in a buffer and reading it back as a vector stalls on store-to-load forwarding.
#[inline(always)]
fn chunk(bytes: &[u8], i: usize) -> u64 {
    let word = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
    let half = |at: usize| u64::from(u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes")));
    let (len, start) = (bytes.len(), 8 * i);
    if len >= start + 8 {
        return word(start);
    }
    if len <= start {
        return 0;
    }
    let rest = len - start;
    if len >= 8 {
        word(len - 8) >> (8 * (8 - rest))
    } else if rest >= 4 {
        half(0) | half(len - 4) << (8 * (rest - 4))
    } else {
        let b = |k: usize| u64::from(bytes[k]) << (8 * k);
        b(0) | b(rest / 2) | b(rest - 1)
    }
}

#[inline(always)]
fn pack(name: &str) -> Option<Packed> {
    let bytes = name.as_bytes();
    let len = bytes.len();
    if len > PACKED {
        return None;
    }
    // `len + 1` in the top byte, so no name packs to all zeros, the table's empty slot.
    Some([chunk(bytes, 0), chunk(bytes, 1), chunk(bytes, 2), chunk(bytes, 3) | (len as u64 + 1) << 56])
}

/// Word by word, so that a key held in registers is not spilled for a vector compare.
#[inline(always)]
fn same(a: &Packed, b: &Packed) -> bool {
    (a[0] ^ b[0]) | (a[1] ^ b[1]) | (a[2] ^ b[2]) | (a[3] ^ b[3]) == 0
}

fn slot_hash(key: &Packed) -> u64 {
    let mixed = key[0] ^ key[1].rotate_left(17) ^ key[2].rotate_left(31) ^ key[3].rotate_left(47);
    mixed.wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

const EMPTY: Packed = [0; 4];

#[derive(Debug, Clone)]
pub struct NameMap<V> {
    /// Power-of-two sized, at most half full; `EMPTY` keys are free slots.
    slots: Vec<(Packed, Option<V>)>,
    short: usize,
    long: FxHashMap<Box<str>, V>,
}

impl<V> Default for NameMap<V> {
    fn default() -> Self {
        NameMap { slots: Vec::new(), short: 0, long: FxHashMap::default() }
    }
}

impl<V> NameMap<V> {
    /// The slot holding `key`, or the free slot where it belongs.
    #[inline(always)]
    fn find(&self, key: &Packed) -> usize {
        let mask = self.slots.len() - 1;
        let mut i = (slot_hash(key) >> 32) as usize & mask;
        while !same(&self.slots[i].0, key) && !same(&self.slots[i].0, &EMPTY) {
            i = (i + 1) & mask;
        }
        i
    }

    #[inline]
    pub fn get(&self, name: &str) -> Option<&V> {
        match pack(name) {
            Some(_) if self.slots.is_empty() => None,
            Some(key) => self.slots[self.find(&key)].1.as_ref(),
            None => self.long.get(name),
        }
    }

    pub fn contains_key(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    fn grow(&mut self) {
        let old = std::mem::take(&mut self.slots);
        let size = (old.len() * 2).max(16);
        self.slots = (0..size).map(|_| (EMPTY, None)).collect();
        for (key, value) in old {
            if key != EMPTY {
                let i = self.find(&key);
                self.slots[i] = (key, value);
            }
        }
    }

    /// The slot for `key`, inserted with `value` if it was free; whether it was free.
    fn slot(&mut self, key: Packed, value: V) -> (usize, bool) {
        if 2 * (self.short + 1) > self.slots.len() {
            self.grow();
        }
        let i = self.find(&key);
        let free = self.slots[i].0 == EMPTY;
        if free {
            self.slots[i] = (key, Some(value));
            self.short += 1;
        }
        (i, free)
    }

    /// Inserts or replaces; returns the value that was there.
    pub fn insert(&mut self, name: &str, value: V) -> Option<V> {
        match pack(name) {
            Some(key) => {
                if 2 * (self.short + 1) > self.slots.len() {
                    self.grow();
                }
                let i = self.find(&key);
                if self.slots[i].0 == EMPTY {
                    self.short += 1;
                }
                self.slots[i].0 = key;
                self.slots[i].1.replace(value)
            }
            None => self.long.insert(name.into(), value),
        }
    }

    /// The value of `name`, after inserting `value` for it if it had none.
    pub fn get_or_insert(&mut self, name: &str, value: V) -> &V {
        match pack(name) {
            Some(key) => {
                let (i, _) = self.slot(key, value);
                self.slots[i].1.as_ref().expect("occupied slot")
            }
            None => self.long.entry(name.into()).or_insert(value),
        }
    }

    pub fn len(&self) -> usize {
        self.short + self.long.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::NameMap;

    #[test]
    fn short_long_and_padding_names_stay_distinct() {
        let long = "x".repeat(40);
        let names = ["", "a", "a\0", "a\0\0", "hp_max", "exactly_thirty_one_bytes_long_x", &long];
        let mut map = NameMap::default();
        for (i, n) in names.iter().enumerate() {
            assert_eq!(map.insert(n, i), None, "{n:?}");
        }
        for (i, n) in names.iter().enumerate() {
            assert_eq!(map.get(n), Some(&i), "{n:?}");
        }
        assert_eq!(map.len(), names.len());
        assert_eq!(map.get("b"), None);
        assert_eq!(map.get(&"x".repeat(41)), None);
        assert_eq!(map.get_or_insert("a", 99), &1);
        assert_eq!(map.get_or_insert("b", 99), &99);
        // Every length, each against a name differing only in its last byte.
        let mut map = NameMap::default();
        for len in 1..=40 {
            let name: String = (0..len).map(|i| char::from(b'a' + (i * 7 % 26) as u8)).collect();
            let other = format!("{}_", &name[..len - 1]);
            map.insert(&name, len);
            assert_eq!(map.get(&name), Some(&len), "{name}");
            assert_eq!(map.get(&other), None, "{other}");
        }
        assert_eq!(map.get("exactly_thirty_one_bytes_long_"), None);
    }
}
