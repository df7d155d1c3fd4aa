//! The cache key: a 128-bit XXH3 hash of an actor's whole input, from an unambiguous
//! encoding of every field (numbers by their bits, so ±0 differ) under a random
//! per-process seed, and [`KeyedActor`], an actor that carries its hash.

use crate::input::{Actor, CapContribution, Contribution, Meta, ModifierPack, Name, SubsystemOutput};
use std::hash::BuildHasher;
use std::sync::OnceLock;
use xxhash_rust::xxh3::xxh3_128_with_seed;

/// Appends an unambiguous encoding of the whole input (every field; numbers by their bits,
/// so ±0 and NaN payloads differ) to `out`. Destructuring keeps it in step with the types.
fn encode(a: &Actor, out: &mut Vec<u8>) {
    fn text(out: &mut Vec<u8>, t: &str) {
        out.extend_from_slice(&(t.len() as u64).to_le_bytes());
        out.extend_from_slice(t.as_bytes());
    }
    fn int(out: &mut Vec<u8>, x: i64) {
        out.extend_from_slice(&x.to_le_bytes());
    }
    fn num(out: &mut Vec<u8>, x: f64) {
        out.extend_from_slice(&x.to_bits().to_le_bytes());
    }
    fn opt<T: ?Sized>(out: &mut Vec<u8>, x: Option<&T>, f: impl FnOnce(&mut Vec<u8>, &T)) {
        out.push(x.is_some() as u8);
        if let Some(x) = x {
            f(out, x);
        }
    }
    fn names(out: &mut Vec<u8>, list: &[Name]) {
        int(out, list.len() as i64);
        for n in list {
            text(out, n);
        }
    }
    let Actor { id, version, subsystems, tags } = a;
    opt(out, id.as_deref(), text);
    int(out, *version);
    names(out, tags);
    int(out, subsystems.len() as i64);
    for s in subsystems {
        let SubsystemOutput { primary, derived, caps, context, meta } = s;
        for list in [primary, derived] {
            int(out, list.len() as i64);
            for c in list {
                let Contribution { dimension, bucket, value, system, priority, requires, stack } = c;
                text(out, dimension);
                text(out, bucket);
                num(out, *value);
                text(out, system);
                opt(out, priority.as_ref(), |o, p| int(o, *p));
                names(out, requires);
                // `"g"` and `{"group": "g", "key": ""}` are the same stack.
                opt(out, stack.as_ref(), |o, s| {
                    text(o, s.group());
                    text(o, s.key());
                });
            }
        }
        int(out, caps.len() as i64);
        for c in caps {
            let CapContribution { system, dimension, mode, kind, value, priority, scope, realm, tags, requires } = c;
            for t in [system, dimension, mode, kind] {
                text(out, t);
            }
            num(out, *value);
            opt(out, priority.as_ref(), |o, p| int(o, *p));
            opt(out, scope.as_deref(), text);
            opt(out, realm.as_deref(), text);
            opt(out, tags.as_deref(), |o, tags: &[String]| {
                int(o, tags.len() as i64);
                for t in tags {
                    text(o, t);
                }
            });
            names(out, requires);
        }
        opt(out, context.as_ref(), |o, ctx| {
            int(o, ctx.len() as i64);
            for (k, p) in ctx {
                let ModifierPack { additive_percent, multipliers, post_add } = p;
                text(o, k);
                num(o, *additive_percent);
                num(o, *post_add);
                int(o, multipliers.len() as i64);
                for m in multipliers {
                    num(o, *m);
                }
            }
        });
        let Meta { system, stage, version } = meta;
        text(out, system);
        opt(out, stage.as_deref(), text);
        opt(out, version.as_ref(), |o, v| int(o, *v));
    }
}

/// The 128-bit hash of the actor's whole input, under a random seed drawn once per process
/// (colliding inputs cannot be prepared offline). `buf` is scratch space.
pub fn input_hash(a: &Actor, buf: &mut Vec<u8>) -> u128 {
    buf.clear();
    encode(a, buf);
    xxh3_128_with_seed(buf, seed())
}

/// The 128-bit hash of an actor document's text under the same seed: equal texts are equal
/// inputs, so it keys an actor as well as [`input_hash`] without parsing it (two texts of
/// one input, spaced differently, only miss each other). A cache is keyed by one or the other.
pub fn text_hash(text: &[u8]) -> u128 {
    xxh3_128_with_seed(text, seed())
}

/// The per-process random seed of the hashes.
fn seed() -> u64 {
    static SEED: OnceLock<u64> = OnceLock::new();
    *SEED.get_or_init(|| std::collections::hash_map::RandomState::new().hash_one(0u8))
}

/// An actor with the hash of its input, computed once. The input changes only through
/// [`KeyedActor::update`], which hashes it again, so [`Cache::evaluate_keyed`](super::Cache::evaluate_keyed) never
/// hashes and never sees a stale hash: a hit is a lookup by id.
#[derive(Debug, Clone)]
pub struct KeyedActor {
    pub(super) actor: Actor,
    pub(super) hash: u128,
}

impl KeyedActor {
    pub fn new(actor: Actor) -> KeyedActor {
        let hash = input_hash(&actor, &mut Vec::new());
        KeyedActor { actor, hash }
    }

    pub fn actor(&self) -> &Actor {
        &self.actor
    }

    /// The hash of its input (see [`input_hash`]).
    pub fn hash(&self) -> u128 {
        self.hash
    }

    /// Changes the input and hashes it again.
    pub fn update(&mut self, change: impl FnOnce(&mut Actor)) {
        change(&mut self.actor);
        self.hash = input_hash(&self.actor, &mut Vec::new());
    }

    pub fn into_actor(self) -> Actor {
        self.actor
    }
}

impl From<Actor> for KeyedActor {
    fn from(actor: Actor) -> KeyedActor {
        KeyedActor::new(actor)
    }
}
