//! Ingest: an [`Actor`] checked against a rule set and turned into a [`Prepared`] actor —
//! names resolved to ids, contributions grouped per stat and bucket in canonical order, caps
//! reduced per stat and layer. Shared by every engine.
//!
//! [`json`] ingests an actor straight from its JSON text when it can.
//!
//! Invariant: the output depends only on the multiset of contributions and caps, never on
//! their order of arrival (every tie is broken down to the value's bits).

mod json;
mod situation;

use crate::diag::did_you_mean_suffix;
use crate::input::{Actor, InputError, ModifierPack};
use crate::ir::{BucketId, Ir, LayerId, Mode, StatId};
pub use json::prepare_json;
pub use situation::{Fate, Fates, Situation};

use serde::Serialize;
use std::collections::BTreeMap;

/// Where a stat's contributions came from (decides Primary or Derived in the snapshot).
pub const FROM_PRIMARY: u8 = 1;
pub const FROM_DERIVED: u8 = 2;

/// A contributed stat or a capped one.
#[derive(Debug, Clone, PartialEq)]
pub struct PreparedStat {
    pub stat: StatId,
    /// `FROM_PRIMARY | FROM_DERIVED` bits; 0 when the stat only has caps.
    pub from: u8,
    /// Range into [`Prepared::groups`].
    pub groups: (u32, u32),
    /// Range into [`Prepared::layers`].
    pub layers: (u32, u32),
}

/// Contributions of one bucket (its position in the stat's pipeline), or all of an operator
/// stat's (position 0), as a range into [`Prepared::values`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Group {
    pub slot: u32,
    pub start: u32,
    pub end: u32,
}

/// One side (max or min) of one layer, reduced within the layer (spec §4).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Side {
    /// The override, else baseline + additive, else unbounded (±∞).
    pub candidate: f64,
    /// Tightest hard bound, else unbounded.
    pub hard: f64,
    pub has_override: bool,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LayerCaps {
    pub layer: LayerId,
    pub max: Side,
    pub min: Side,
}

/// An actor ready to evaluate: no strings, only ids and numbers.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Prepared {
    pub version: i64,
    /// Sorted by stat id.
    pub stats: Vec<PreparedStat>,
    pub groups: Vec<Group>,
    pub values: Vec<f64>,
    pub layers: Vec<LayerCaps>,
    /// Combined context packs by name (spec §6).
    pub context: BTreeMap<String, ModifierPack>,
}

#[derive(Clone, Copy)]
struct Item<'a> {
    origin: Origin,
    stat: StatId,
    /// Dense (stat, slot) index, see [`Ir::slot_base`]; the slot is `group - slot_base[stat]`
    /// (not kept: an item of 56 bytes rather than 64).
    group: u32,
    priority: i64,
    system: &'a str,
    value: f64,
    /// Its requirements and stack, an index of [`Situation`]'s; `u32::MAX` for none.
    situation: u32,
}

impl<'a> Item<'a> {
    fn new(
        ir: &Ir,
        origin: Origin,
        stat: StatId,
        slot: u32,
        priority: Option<i64>,
        system: &'a str,
        value: f64,
    ) -> Self {
        let group = ir.slot_base[stat.index()] + slot;
        Item { origin, stat, group, priority: priority.unwrap_or(0), system, value, situation: u32::MAX }
    }

    /// Its position in its stat's pipeline (0 for an operator stat).
    fn slot(&self, ir: &Ir) -> u32 {
        self.group - ir.slot_base[self.stat.index()]
    }
}

/// Sorts contributions canonically: (stat, bucket slot, priority descending, system
/// ascending, value ascending by `total_cmp`), then primary before derived. Stable, so items
/// with equal keys keep their order of arrival; they are indistinguishable in the output
/// (the list breaks the last tie because stacking may keep one of two otherwise equal
/// contributions, and the list of those kept decides where the stat is reported).
///
/// A counting sort on the dense (stat, slot) index, then an insertion sort within each
/// group (groups hold a handful of items); a comparison sort when the index range is much
/// larger than the actor.
fn sort_canonical<'a>(items: &mut Vec<Item<'a>>, groups: usize) {
    fn within<'a>(i: &Item<'a>) -> (std::cmp::Reverse<i64>, &'a str, i64, u8) {
        (std::cmp::Reverse(i.priority), i.system, total_order_key(i.value), i.origin.list)
    }
    if groups > 4 * items.len() + 64 {
        items.sort_by_key(|i| (i.group, within(i)));
        return;
    }
    let mut start = vec![0u32; groups + 1];
    for i in items.iter() {
        start[i.group as usize + 1] += 1;
    }
    for g in 0..groups {
        start[g + 1] += start[g];
    }
    let mut next = start.clone();
    let mut sorted = items.clone();
    for i in items.iter() {
        let at = &mut next[i.group as usize];
        sorted[*at as usize] = *i;
        *at += 1;
    }
    for g in 0..groups {
        let run = &mut sorted[start[g] as usize..start[g + 1] as usize];
        if run.len() > 16 {
            run.sort_by_key(within);
            continue;
        }
        for j in 1..run.len() {
            let mut k = j;
            while k > 0 && within(&run[k - 1]) > within(&run[k]) {
                run.swap(k - 1, k);
                k -= 1;
            }
        }
    }
    *items = sorted;
}

/// An integer that orders like `f64::total_cmp`.
pub(crate) fn total_order_key(v: f64) -> i64 {
    let b = v.to_bits() as i64;
    b ^ ((((b >> 63) as u64) >> 1) as i64)
}

/// How a cap combines within its layer and side (the order reduction takes them in).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CapMode {
    Baseline,
    Additive,
    Override,
    HardMax,
    HardMin,
}

#[derive(Clone, Copy)]
struct CapItem<'a> {
    origin: Origin,
    stat: StatId,
    layer: LayerId,
    is_max: bool,
    mode: CapMode,
    priority: i64,
    system: &'a str,
    value: f64,
    /// As [`Item::situation`].
    situation: u32,
}

/// Where a prepared number came from in the actor's input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Origin {
    /// Index of the subsystem.
    pub subsystem: u32,
    /// `FROM_PRIMARY` or `FROM_DERIVED` for contributions, 0 for caps.
    pub list: u8,
    /// Index within that list (or within `caps`).
    pub index: u32,
}

/// The input origin of every prepared number, for explanations.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Provenance {
    /// Parallel to [`Prepared::values`].
    pub values: Vec<Origin>,
    /// Every cap in canonical order: (stat, layer, is_max, origin).
    pub caps: Vec<(StatId, LayerId, bool, Origin)>,
    /// The contributions and caps that did not apply, and why.
    pub fates: Fates,
}

/// Checks `actor` against `ir` and prepares it (spec §8 lists what is checked).
pub fn prepare(ir: &Ir, actor: &Actor) -> Result<Prepared, InputError> {
    prepare_inner(ir, actor, None)
}

/// As [`prepare`], and also where each prepared number came from.
pub fn prepare_with_provenance(ir: &Ir, actor: &Actor) -> Result<(Prepared, Provenance), InputError> {
    let mut prov = Provenance::default();
    let p = prepare_inner(ir, actor, Some(&mut prov))?;
    Ok((p, prov))
}

fn prepare_inner(ir: &Ir, actor: &Actor, provenance: Option<&mut Provenance>) -> Result<Prepared, InputError> {
    let err = |sub: Option<usize>, field: String, message: String| {
        let subsystem = sub.map(|i| {
            let sys = &actor.subsystems[i].meta.system;
            if sys.is_empty() { format!("#{i}") } else { format!("#{i} ({sys})") }
        });
        InputError { actor: actor.id.clone(), subsystem, field, message }
    };
    let (contributions, cap_count) =
        actor.subsystems.iter().fold((0, 0), |(n, c), s| (n + s.primary.len() + s.derived.len(), c + s.caps.len()));
    // Room for a copy of each for a view, if there are views.
    let copies = usize::from(!ir.view_ids.is_empty());
    let mut items: Vec<Item> = Vec::with_capacity(contributions * (1 + copies));
    let mut caps: Vec<CapItem> = Vec::with_capacity(cap_count * (1 + copies));
    let mut context: BTreeMap<&str, Vec<(&str, &ModifierPack)>> = BTreeMap::new();
    let mut situation = match ir.is_situational() || !actor.tags.is_empty() {
        true => Some(Situation::new(ir, &actor.tags).map_err(|m| err(None, "tags".into(), m))?),
        false => None,
    };
    for (si, sub) in actor.subsystems.iter().enumerate() {
        let lists = [(&sub.primary, "primary", FROM_PRIMARY), (&sub.derived, "derived", FROM_DERIVED)];
        for (list, list_name, bit) in lists {
            for (ci, c) in list.iter().enumerate() {
                let at = |f: &str| format!("subsystems[{si}].{list_name}[{ci}].{f}");
                let stat = resolve_stat(ir, &c.dimension).map_err(|m| err(Some(si), at("dimension"), m))?;
                if !c.value.is_finite() {
                    return Err(err(Some(si), at("value"), format!("value {} is not a finite number", c.value)));
                }
                let Some(slot) = slot_of(ir, stat, &c.bucket) else {
                    let message = match (ir.bucket_ids.contains_key(&c.bucket), ir.stat(stat).mode) {
                        (true, Mode::Pipeline(p)) => format!(
                            "bucket `{}` is not in pipeline `{}` of stat `{}`",
                            c.bucket,
                            ir.pipeline(p).name,
                            c.dimension
                        ),
                        _ => unknown_bucket(ir, &c.bucket),
                    };
                    return Err(err(Some(si), at("bucket"), message));
                };
                let origin = Origin { subsystem: si as u32, list: bit, index: ci as u32 };
                let mut item = Item::new(ir, origin, stat, slot, c.priority, &c.system, c.value);
                if !c.requires.is_empty() || c.stack.is_some() {
                    // Stacks part by bucket.
                    let bucket = match c.stack {
                        Some(_) => bucket_at(ir, stat, slot, &c.bucket),
                        None => BucketId(0),
                    };
                    let s = situation.get_or_insert_with(|| Situation::empty(ir));
                    item.situation = s
                        .add(ir, &c.requires, c.stack.as_ref().map(|s| (s.group(), s.key())), bucket)
                        .map_err(|(field, m)| err(Some(si), at(field), m))?;
                }
                items.push(item);
            }
        }
        for (ci, c) in sub.caps.iter().enumerate() {
            let at = |f: &str| format!("subsystems[{si}].caps[{ci}].{f}");
            let stat = resolve_stat(ir, &c.dimension).map_err(|m| err(Some(si), at("dimension"), m))?;
            if !c.value.is_finite() {
                return Err(err(Some(si), at("value"), format!("value {} is not a finite number", c.value)));
            }
            let Some(is_max) = cap_kind(&c.kind) else {
                let message = format!("unknown cap kind `{}` (expected `max` or `min`)", c.kind);
                return Err(err(Some(si), at("kind"), message));
            };
            let Some(mode) = CapMode::from_keyword(&c.mode) else {
                let message = format!(
                    "unknown cap mode `{}` (expected BASELINE, ADDITIVE, OVERRIDE, HARD_MAX or HARD_MIN)",
                    c.mode
                );
                return Err(err(Some(si), at("mode"), message));
            };
            if !mode.fits(is_max) {
                return Err(err(
                    Some(si),
                    at("kind"),
                    format!(
                        "cap mode {} needs kind `{}`, not `{}`",
                        c.mode,
                        if is_max { "min" } else { "max" },
                        c.kind
                    ),
                ));
            }
            let layer = match cap_layer(ir, c.scope.as_deref()) {
                Some(l) => l,
                None => match &c.scope {
                    Some(s) => {
                        let names: Vec<&str> = ir.layers.iter().map(|l| l.name.as_str()).collect();
                        return Err(err(
                            Some(si),
                            at("scope"),
                            format!("unknown cap layer `{s}` (layers: {})", names.join(", ")),
                        ));
                    }
                    None => {
                        return Err(err(
                            Some(si),
                            at("scope"),
                            "cap has no scope and the rule set declares no `unscoped` layer".into(),
                        ));
                    }
                },
            };
            if !realm_given(ir, layer, c.realm.as_deref()) {
                return Err(err(
                    Some(si),
                    at("realm"),
                    format!("caps in layer {} must name their `realm`", ir.layers[layer.index()].name),
                ));
            }
            let origin = Origin { subsystem: si as u32, list: 0, index: ci as u32 };
            let mut situated = u32::MAX;
            if !c.requires.is_empty() {
                let s = situation.get_or_insert_with(|| Situation::empty(ir));
                situated =
                    s.add(ir, &c.requires, None, BucketId(0)).map_err(|(field, m)| err(Some(si), at(field), m))?;
            }
            caps.push(CapItem {
                origin,
                stat,
                layer,
                is_max,
                mode,
                priority: c.priority.unwrap_or(0),
                system: &c.system,
                value: c.value,
                situation: situated,
            });
        }
        if let Some(ctx) = &sub.context {
            for (name, pack) in ctx {
                let at = |f: &str| format!("subsystems[{si}].context.{name}.{f}");
                for (f, v) in [("additive_percent", pack.additive_percent), ("post_add", pack.post_add)] {
                    if !v.is_finite() {
                        return Err(err(Some(si), at(f), format!("{v} is not a finite number")));
                    }
                }
                if pack.multipliers.iter().any(|m| !m.is_finite()) {
                    return Err(err(Some(si), at("multipliers"), "multipliers must be finite numbers".into()));
                }
                context.entry(name).or_default().push((&sub.meta.system, pack));
            }
        }
    }
    Ok(finish(ir, actor.version, items, caps, context, provenance, situation.as_ref()))
}

/// The second half of ingest, shared with [`json`]: contributions and caps resolved to ids,
/// in order of arrival, put in canonical order, grouped and reduced.
fn finish<'a>(
    ir: &Ir,
    version: i64,
    mut items: Vec<Item<'a>>,
    mut caps: Vec<CapItem<'a>>,
    context: BTreeMap<&str, Vec<(&str, &ModifierPack)>>,
    mut provenance: Option<&mut Provenance>,
    situation: Option<&Situation<'a>>,
) -> Prepared {
    if let Some(s) = situation {
        s.expand(ir, &mut items, &mut caps, provenance.as_deref_mut().map(|p| &mut p.fates));
    }
    sort_canonical(&mut items, *ir.slot_base.last().unwrap_or(&0) as usize);
    if let Some(s) = situation {
        s.stack(ir, &mut items, provenance.as_deref_mut().map(|p| &mut p.fates));
    }
    let mut out = Prepared { version, ..Prepared::default() };
    out.values = items.iter().map(|i| i.value).collect();
    if let Some(prov) = provenance.as_deref_mut() {
        prov.values = items.iter().map(|i| i.origin).collect();
    }
    caps.sort_by_key(|c| {
        (c.stat, c.layer, c.is_max, c.mode, std::cmp::Reverse(c.priority), c.system, total_order_key(c.value))
    });
    if let Some(prov) = provenance {
        prov.caps = caps.iter().map(|c| (c.stat, c.layer, c.is_max, c.origin)).collect();
    }
    // Exact sizes, so a prepared actor (kept by the cache) carries no spare capacity.
    let runs = |n: usize, same: &dyn Fn(usize) -> bool| (1..n).filter(|&j| !same(j)).count() + usize::from(n > 0);
    let groups = runs(items.len(), &|j| items[j - 1].group == items[j].group);
    let layers = runs(caps.len(), &|j| (caps[j - 1].stat, caps[j - 1].layer) == (caps[j].stat, caps[j].layer));
    out.groups.reserve_exact(groups);
    out.layers.reserve_exact(layers);
    // At most one stat per group or layer; trimmed below.
    out.stats.reserve_exact(ir.stats.len().min(groups + layers));
    // Walk contributions and caps together, stat by stat.
    let (mut i, mut k) = (0, 0);
    while i < items.len() || k < caps.len() {
        let stat = match (items.get(i), caps.get(k)) {
            (Some(a), Some(c)) => a.stat.min(c.stat),
            (Some(a), None) => a.stat,
            (None, Some(c)) => c.stat,
            (None, None) => break,
        };
        let g0 = out.groups.len() as u32;
        let mut from = 0;
        while i < items.len() && items[i].stat == stat {
            let (group, slot) = (items[i].group, items[i].slot(ir));
            let start = i as u32;
            while i < items.len() && items[i].group == group {
                from |= items[i].origin.list;
                i += 1;
            }
            out.groups.push(Group { slot, start, end: i as u32 });
        }
        let l0 = out.layers.len() as u32;
        while k < caps.len() && caps[k].stat == stat {
            let layer = caps[k].layer;
            let mut lc = LayerCaps { layer, max: unbounded(true), min: unbounded(false) };
            let mut sides = [Reduce::default(), Reduce::default()];
            while k < caps.len() && caps[k].stat == stat && caps[k].layer == layer {
                let c = &caps[k];
                sides[usize::from(c.is_max)].add(c.mode, c.value);
                k += 1;
            }
            lc.max = sides[1].finish(true);
            lc.min = sides[0].finish(false);
            out.layers.push(lc);
        }
        out.stats.push(PreparedStat {
            stat,
            from,
            groups: (g0, out.groups.len() as u32),
            layers: (l0, out.layers.len() as u32),
        });
    }
    out.stats.shrink_to_fit();
    for (name, mut parts) in context {
        parts.sort_by(|a, b| {
            a.0.cmp(b.0)
                .then(a.1.additive_percent.total_cmp(&b.1.additive_percent))
                .then(a.1.post_add.total_cmp(&b.1.post_add))
                .then_with(|| {
                    let bits = |p: &ModifierPack| p.multipliers.iter().map(|m| m.to_bits()).collect::<Vec<_>>();
                    bits(a.1).cmp(&bits(b.1))
                })
        });
        let mut pack = ModifierPack::default();
        for (_, p) in &parts {
            pack.additive_percent += p.additive_percent;
            pack.post_add += p.post_add;
            pack.multipliers.extend_from_slice(&p.multipliers);
        }
        out.context.insert(name.to_string(), pack);
    }
    out
}

pub(crate) fn unbounded(is_max: bool) -> Side {
    let inf = if is_max { f64::INFINITY } else { f64::NEG_INFINITY };
    Side { candidate: inf, hard: inf, has_override: false }
}

/// One side of one layer while its caps (in canonical order) are reduced.
#[derive(Default)]
pub(crate) struct Reduce {
    baseline: Option<f64>,
    additive: Option<f64>,
    overriding: Option<f64>,
    hard: Option<f64>,
}

impl Reduce {
    pub(crate) fn add(&mut self, mode: CapMode, value: f64) {
        match mode {
            CapMode::Baseline => self.baseline = Some(self.baseline.unwrap_or(0.0) + value),
            CapMode::Additive => self.additive = Some(self.additive.unwrap_or(0.0) + value),
            CapMode::Override => {
                self.overriding.get_or_insert(value);
            }
            CapMode::HardMax => self.hard = Some(self.hard.map_or(value, |h| crate::num::fmin(h, value))),
            CapMode::HardMin => self.hard = Some(self.hard.map_or(value, |h| crate::num::fmax(h, value))),
        }
    }

    pub(crate) fn finish(&self, is_max: bool) -> Side {
        let inf = if is_max { f64::INFINITY } else { f64::NEG_INFINITY };
        let candidate = match (self.overriding, self.baseline, self.additive) {
            (Some(o), _, _) => o,
            (None, None, None) => inf,
            (None, b, a) => b.unwrap_or(0.0) + a.unwrap_or(0.0),
        };
        Side { candidate, hard: self.hard.unwrap_or(inf), has_override: self.overriding.is_some() }
    }
}

pub(crate) fn resolve_stat(ir: &Ir, name: &str) -> Result<StatId, String> {
    // Declared names are valid by construction (E0310), so only a miss needs the pattern.
    if let Some(&id) = ir.stat_ids.get(name) {
        return match &ir.stat(id).view {
            None => Ok(id),
            Some(v) => {
                let source = &ir.stat(v.source).name;
                Err(format!("`{name}` is a view of `{source}`: contributions and caps name `{source}`"))
            }
        };
    }
    if !crate::ir::valid_stat_name(name) {
        return Err(format!("dimension name `{name}` is invalid (must match ^[a-z][a-z0-9_]*$)"));
    }
    ir.find_stat(name).map_err(|suggestion| format!("unknown dimension `{name}`{}", did_you_mean_suffix(suggestion)))
}

/// The bucket at `slot` of `stat` (named `bucket`, which an operator stat needs).
fn bucket_at(ir: &Ir, stat: StatId, slot: u32, bucket: &str) -> BucketId {
    match ir.stat(stat).mode {
        Mode::Pipeline(p) => ir.pipeline(p).buckets[slot as usize],
        Mode::Operator(_) => ir.bucket_ids.get(bucket).copied().unwrap_or(BucketId(0)),
    }
}

/// The position of `bucket` in `stat`'s pipeline (0 for an operator stat, which takes any
/// declared bucket); `None` when the bucket is unknown or not in the pipeline.
pub(crate) fn slot_of(ir: &Ir, stat: StatId, bucket: &str) -> Option<u32> {
    let bucket = ir.bucket_ids.get(bucket)?;
    match ir.stat(stat).mode {
        Mode::Operator(_) => Some(0),
        Mode::Pipeline(p) => ir.pipeline(p).buckets.iter().position(|b| b == bucket).map(|pos| pos as u32),
    }
}

/// Whether a cap of `kind` bounds from above.
pub(crate) fn cap_kind(kind: &str) -> Option<bool> {
    match kind {
        "max" => Some(true),
        "min" => Some(false),
        _ => None,
    }
}

impl CapMode {
    pub const ALL: [CapMode; 5] =
        [CapMode::Baseline, CapMode::Additive, CapMode::Override, CapMode::HardMax, CapMode::HardMin];

    /// The mode written `mode` in actor input, if any.
    pub fn from_keyword(mode: &str) -> Option<CapMode> {
        CapMode::ALL.into_iter().find(|m| m.keyword() == mode)
    }

    /// As written in actor input: `BASELINE`, `HARD_MAX` …
    pub fn keyword(self) -> &'static str {
        match self {
            CapMode::Baseline => "BASELINE",
            CapMode::Additive => "ADDITIVE",
            CapMode::Override => "OVERRIDE",
            CapMode::HardMax => "HARD_MAX",
            CapMode::HardMin => "HARD_MIN",
        }
    }

    /// Whether the mode goes with that kind: HARD_MAX only bounds from above, HARD_MIN
    /// only from below.
    pub(crate) fn fits(self, is_max: bool) -> bool {
        !(self == CapMode::HardMax && !is_max || self == CapMode::HardMin && is_max)
    }
}

/// The layer a cap's scope names, or the unscoped layer for no scope.
fn cap_layer(ir: &Ir, scope: Option<&str>) -> Option<LayerId> {
    match scope {
        Some(s) => ir.layer_ids.get(s).copied(),
        None => ir.unscoped,
    }
}

/// Whether a cap in `layer` names a realm if the layer needs one.
fn realm_given(ir: &Ir, layer: LayerId, realm: Option<&str>) -> bool {
    !ir.layers[layer.index()].requires_realm || realm.is_some_and(|r| !r.is_empty())
}

pub(crate) fn unknown_bucket(ir: &Ir, name: &str) -> String {
    format!("unknown bucket `{name}`{}", did_you_mean_suffix(ir.find_bucket(name).err().flatten()))
}
