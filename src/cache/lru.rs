//! The cache's storage: a dense slab of entries in one `Vec`, linked most recent first by
//! `u32` indices, and found by id through a hash table of slot numbers (hashed by their
//! slot's id, so each id is stored once).
//!
//! Invariant: the slab is dense. A removal moves the last slot into the hole, so nothing
//! removed stays alive and slot numbers stay below [`Lru::len`].

use hashbrown::HashTable;
use std::hash::BuildHasher;

/// No slot: the end of the list.
const NIL: u32 = u32::MAX;

/// The most entries an [`Lru`] can hold (slot numbers are `u32`, one value is [`NIL`]).
pub(super) const MAX_LEN: usize = NIL as usize - 1;

struct Slot<T> {
    id: Box<str>,
    value: T,
    prev: u32,
    next: u32,
}

fn id_hash(id: &str) -> u64 {
    rustc_hash::FxBuildHasher.hash_one(id)
}

/// Entries by id, in least-recently-used order. It never evicts by itself: the owner
/// removes [`Lru::least_recent`] when it is full.
pub(super) struct Lru<T> {
    /// Slot numbers, hashed by their slot's id.
    index: HashTable<u32>,
    slots: Vec<Slot<T>>,
    head: u32,
    tail: u32,
}

impl<T> Lru<T> {
    pub(super) fn new() -> Lru<T> {
        Lru { index: HashTable::new(), slots: Vec::new(), head: NIL, tail: NIL }
    }

    pub(super) fn len(&self) -> usize {
        self.index.len()
    }

    /// The slot of `id`.
    pub(super) fn find(&self, id: &str) -> Option<usize> {
        self.index.find(id_hash(id), |&i| *self.slots[i as usize].id == *id).map(|&i| i as usize)
    }

    pub(super) fn get(&self, i: usize) -> &T {
        &self.slots[i].value
    }

    pub(super) fn get_mut(&mut self, i: usize) -> &mut T {
        &mut self.slots[i].value
    }

    /// The least recently used slot.
    pub(super) fn least_recent(&self) -> Option<usize> {
        (self.tail != NIL).then_some(self.tail as usize)
    }

    /// Makes slot `i` the most recently used.
    pub(super) fn touch(&mut self, i: usize) {
        self.unlink(i);
        self.push_front(i);
    }

    /// Adds `id` (not present) as the most recently used entry and returns its slot.
    pub(super) fn insert(&mut self, id: &str, value: T) -> usize {
        self.slots.push(Slot { id: id.into(), value, prev: NIL, next: NIL });
        let i = self.slots.len() - 1;
        let slots = &self.slots;
        self.index.insert_unique(id_hash(id), i as u32, |&k| id_hash(&slots[k as usize].id));
        self.push_front(i);
        i
    }

    /// Removes slot `i` and drops what it holds; the last slot moves into its place.
    pub(super) fn remove(&mut self, i: usize) {
        self.unlink(i);
        if let Ok(e) = self.index.find_entry(id_hash(&self.slots[i].id), |&k| k as usize == i) {
            e.remove();
        }
        let last = self.slots.len() - 1;
        self.slots.swap_remove(i);
        if i == last {
            return;
        }
        if let Ok(mut e) = self.index.find_entry(id_hash(&self.slots[i].id), |&k| k as usize == last) {
            *e.get_mut() = i as u32;
        }
        let (p, n) = (self.slots[i].prev, self.slots[i].next);
        if p == NIL {
            self.head = i as u32
        } else {
            self.slots[p as usize].next = i as u32
        }
        if n == NIL { self.tail = i as u32 } else { self.slots[n as usize].prev = i as u32 }
    }

    fn unlink(&mut self, i: usize) {
        let (p, n) = (self.slots[i].prev, self.slots[i].next);
        if p == NIL {
            self.head = n
        } else {
            self.slots[p as usize].next = n
        }
        if n == NIL { self.tail = p } else { self.slots[n as usize].prev = p }
    }

    fn push_front(&mut self, i: usize) {
        self.slots[i].prev = NIL;
        self.slots[i].next = self.head;
        if self.head != NIL {
            self.slots[self.head as usize].prev = i as u32;
        }
        self.head = i as u32;
        if self.tail == NIL {
            self.tail = i as u32;
        }
    }
}
