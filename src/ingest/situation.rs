//! Situations in ingest: requirements and stacks resolved to ids, then, once per actor, each
//! contribution and cap filtered for every context it is evaluated in (the actor's own, and
//! each view's) and the stacked contributions cut to their groups' limits.
//!
//! Invariant: what is kept depends only on the actor's input and the rules, never on the
//! order of arrival; a rule set without tags, stacks or views never comes here.

use super::{CapItem, Item, Origin, total_order_key};
use crate::diag::did_you_mean_suffix;
use crate::ir::{BucketId, Ir, Keep, StackId, StatId, TagGroupId, TagId, TagSet};
use serde::Serialize;
use std::borrow::Cow;

/// The group of a contribution that stacking drops, until it is removed.
const DROPPED: u32 = u32::MAX;

pub use crate::ir::MAX_REQUIREMENTS;

/// One requirement: a tag or a group, held or (negated) not held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Requirement {
    pub on: Holder,
    pub negated: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holder {
    Tag(TagId),
    Group(TagGroupId),
}

impl Requirement {
    fn holds(self, ir: &Ir, context: &TagSet) -> bool {
        let present = match self.on {
            Holder::Tag(t) => context.contains(t),
            Holder::Group(g) => context.meets(&ir.tag_groups[g.index()].members),
        };
        present != self.negated
    }

    /// As written: `fire`, `!low_life`.
    pub fn text(self, ir: &Ir) -> String {
        let name = match self.on {
            Holder::Tag(t) => &ir.tags[t.index()].name,
            Holder::Group(g) => &ir.tag_groups[g.index()].name,
        };
        if self.negated { format!("!{name}") } else { name.clone() }
    }
}

/// The situational part of one contribution or cap: its requirements (a range of
/// [`Situation::requirements`]) and, for a contribution, its stack.
#[derive(Debug, Clone, Copy)]
pub(super) struct Situated<'a> {
    pub requirements: (u32, u32),
    pub stack: Option<(StackId, &'a str)>,
    pub bucket: BucketId,
}

/// An actor's situation: its context, and the requirements and stacks of its contributions.
#[derive(Debug, Default)]
pub struct Situation<'a> {
    pub(super) context: TagSet,
    pub(super) requirements: Vec<Requirement>,
    /// Indexed by [`Item::situation`] and [`CapItem::situation`].
    pub(super) situated: Vec<Situated<'a>>,
}

/// What became of one contribution or cap in one context, for explanations.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "fate", rename_all = "snake_case")]
pub enum Fate {
    /// A requirement does not hold in the context (`!x` when `x` is in it).
    Skipped { requirement: String },
    /// Beyond its stacking group's limit: `rank` (1-based) in the group's order.
    Dropped { group: String, key: String, limit: u32, keep: &'static str, rank: u32 },
}

/// The fate of every contribution and cap that did not apply, per stat (a view's own).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Fates {
    /// (stat, origin, fate), contributions and caps (origin list 0) alike.
    pub entries: Vec<(StatId, Origin, Fate)>,
}

impl<'a> Situation<'a> {
    /// The context of an actor whose `tags` are given; an error names a tag it does not know.
    pub fn new(ir: &Ir, tags: &[impl AsRef<str>]) -> Result<Situation<'a>, String> {
        let mut context = TagSet::empty(ir.tags.len());
        for t in tags {
            let t = t.as_ref();
            match ir.tag_ids.get(t) {
                Some(&id) => context.insert(id),
                None if ir.tag_group_ids.contains_key(t) => {
                    return Err(format!("`{t}` is a tag group: an actor's situation lists tags"));
                }
                None => return Err(unknown_tag(ir, t)),
            }
        }
        Ok(Situation { context, ..Situation::default() })
    }

    /// The situation of an actor without tags.
    pub fn empty(ir: &Ir) -> Situation<'a> {
        Situation { context: TagSet::empty(ir.tags.len()), ..Situation::default() }
    }

    /// Records the requirements and stack of one contribution (or cap: no stack) of
    /// `bucket`; its index for [`Item::situation`], or `u32::MAX` when it has neither.
    /// An error says what is wrong and in which field.
    pub(super) fn add(
        &mut self,
        ir: &Ir,
        requires: &[impl AsRef<str>],
        stack: Option<(&str, &'a str)>,
        bucket: BucketId,
    ) -> Result<u32, (&'static str, String)> {
        if requires.is_empty() && stack.is_none() {
            return Ok(u32::MAX);
        }
        if requires.len() > MAX_REQUIREMENTS {
            let message = format!("{} requirements, over the limit of {MAX_REQUIREMENTS}", requires.len());
            return Err(("requires", message));
        }
        if self.situated.capacity() == 0 {
            // A few dozen per actor are usual: no growing one by one.
            self.situated.reserve(32);
            self.requirements.reserve(64);
        }
        let start = self.requirements.len() as u32;
        for (i, r) in requires.iter().enumerate() {
            let r = r.as_ref();
            let (negated, name) = match r.strip_prefix('!') {
                Some(name) => (true, name),
                None => (false, r),
            };
            if name.is_empty() {
                return Err(("requires", format!("requirement {i} (`{r}`) names no tag")));
            }
            let on = match ir.tag_ids.get(name) {
                Some(&t) => Holder::Tag(t),
                None => match ir.tag_group_ids.get(name) {
                    Some(&g) => Holder::Group(g),
                    None => return Err(("requires", unknown_tag(ir, name))),
                },
            };
            let requirement = Requirement { on, negated };
            // Names resolve one to one, so ids compare as the names would.
            if self.requirements[start as usize..].contains(&requirement) {
                return Err(("requires", format!("requirement `{r}` is listed twice")));
            }
            self.requirements.push(requirement);
        }
        let stack = match stack {
            None => None,
            Some((group, key)) => match ir.stack_ids.get(group) {
                Some(&id) => Some((id, key)),
                None => {
                    let names = ir.stacks.iter().map(|s| s.name.as_str());
                    let suggestion = crate::diag::did_you_mean(group, names);
                    let message = format!("unknown stacking group `{group}`{}", did_you_mean_suffix(suggestion));
                    return Err(("stack", message));
                }
            },
        };
        let requirements = (start, self.requirements.len() as u32);
        self.situated.push(Situated { requirements, stack, bucket });
        Ok(self.situated.len() as u32 - 1)
    }

    /// The first requirement of `situation` that does not hold in `context`.
    #[inline]
    fn failing(&self, ir: &Ir, situation: u32, context: &TagSet) -> Option<Requirement> {
        let s = self.situated.get(situation as usize)?;
        let (a, b) = s.requirements;
        if a == b {
            return None;
        }
        self.requirements[a as usize..b as usize].iter().copied().find(|r| !r.holds(ir, context))
    }

    /// The contexts: the actor's, then each view's (by [`View::number`](crate::ir::View)).
    fn contexts<'s>(&'s self, ir: &'s Ir) -> Vec<Cow<'s, TagSet>> {
        let no_tags = self.context.iter().next().is_none();
        let views = ir.view_ids.iter().map(|&v| {
            let tags = &ir.stat(v).view.as_ref().expect("a view").tags;
            if no_tags { Cow::Borrowed(tags) } else { Cow::Owned(self.context.union(tags)) }
        });
        std::iter::once(Cow::Borrowed(&self.context)).chain(views).collect()
    }

    /// Keeps every contribution and cap for its stat where it applies, and adds a copy for
    /// each of the stat's views where it applies in the view's context; records the fates of
    /// the others when `fates` is given. In place: the copies go to the end.
    pub(super) fn expand(
        &self,
        ir: &Ir,
        items: &mut Vec<Item<'a>>,
        caps: &mut Vec<CapItem<'a>>,
        mut fates: Option<&mut Fates>,
    ) {
        if self.situated.is_empty() && ir.view_ids.is_empty() {
            return;
        }
        let contexts = self.contexts(ir);
        let mut skipped = |stat: StatId, origin: Origin, r: Requirement| {
            if let Some(f) = fates.as_deref_mut() {
                f.entries.push((stat, origin, Fate::Skipped { requirement: r.text(ir) }));
            }
        };
        self.expand_list(ir, &contexts, items, &mut skipped);
        self.expand_list(ir, &contexts, caps, &mut skipped);
    }

    /// [`Situation::expand`] of one list: kept in place where an entry applies to its stat,
    /// copies for views at the end.
    fn expand_list<T: Expandable>(
        &self,
        ir: &Ir,
        contexts: &[Cow<TagSet>],
        list: &mut Vec<T>,
        skipped: &mut dyn FnMut(StatId, Origin, Requirement),
    ) {
        let n = list.len();
        let mut kept = 0;
        for k in 0..n {
            let entry = list[k];
            let (stat, origin, situation) = entry.key();
            match self.failing(ir, situation, &contexts[0]) {
                None => {
                    list[kept] = entry;
                    kept += 1;
                }
                Some(r) => skipped(stat, origin, r),
            }
            for &view in ir.views_of(stat) {
                let number = ir.stat(view).view.as_ref().expect("a view").number as usize;
                match self.failing(ir, situation, &contexts[1 + number]) {
                    None => list.push(entry.for_view(ir, view)),
                    Some(r) => skipped(view, origin, r),
                }
            }
        }
        list.drain(kept..n);
    }

    /// Drops, from contributions in canonical order, the stacked ones beyond their
    /// group's limit: per stat, bucket, group and key, in the group's order.
    pub(super) fn stack(&self, ir: &Ir, items: &mut Vec<Item<'a>>, mut fates: Option<&mut Fates>) {
        if self.situated.is_empty() {
            return;
        }
        // (stat, bucket, group, key, position): sorted, a part's members end up together, in
        // canonical order.
        let mut stacked: Vec<(StatId, BucketId, StackId, &str, usize)> = Vec::new();
        for (k, i) in items.iter().enumerate() {
            if let Some((b, g, key)) = self.stacked(i) {
                if stacked.is_empty() {
                    stacked.reserve(16);
                }
                stacked.push((i.stat, b, g, key, k));
            }
        }
        if stacked.is_empty() {
            return;
        }
        stacked.sort_unstable();
        let mut any = false;
        for part in stacked.chunk_by_mut(|x, y| (x.0, x.1, x.2, x.3) == (y.0, y.1, y.2, y.3)) {
            let group = &ir.stacks[part[0].2.index()];
            if part.len() <= group.limit as usize {
                continue;
            }
            // Stable: canonical order breaks ties.
            let value = |x: &(StatId, BucketId, StackId, &str, usize)| total_order_key(items[x.4].value);
            match group.keep {
                Keep::Highest => part.sort_by_key(|x| std::cmp::Reverse(value(x))),
                Keep::Lowest => part.sort_by_key(value),
                Keep::First => {}
            }
            for (rank, x) in part.iter().enumerate().skip(group.limit as usize) {
                if let Some(f) = fates.as_deref_mut() {
                    let fate = Fate::Dropped {
                        group: group.name.clone(),
                        key: x.3.to_string(),
                        limit: group.limit,
                        keep: group.keep.keyword(),
                        rank: rank as u32 + 1,
                    };
                    f.entries.push((x.0, items[x.4].origin, fate));
                }
                // Marked, then removed below.
                items[x.4].group = DROPPED;
                any = true;
            }
        }
        if any {
            items.retain(|i| i.group != DROPPED);
        }
    }

    fn stacked(&self, item: &Item<'a>) -> Option<(BucketId, StackId, &'a str)> {
        let s = self.situated.get(item.situation as usize)?;
        s.stack.map(|(g, key)| (s.bucket, g, key))
    }
}

/// A contribution or a cap, as [`Situation::expand`] filters and copies it.
trait Expandable: Copy {
    /// Its stat, origin and [`Item::situation`].
    fn key(&self) -> (StatId, Origin, u32);
    /// The copy of it that `view` gets.
    fn for_view(self, ir: &Ir, view: StatId) -> Self;
}

impl Expandable for Item<'_> {
    fn key(&self) -> (StatId, Origin, u32) {
        (self.stat, self.origin, self.situation)
    }

    fn for_view(self, ir: &Ir, view: StatId) -> Self {
        Item { stat: view, group: ir.slot_base[view.index()] + self.slot(ir), ..self }
    }
}

impl Expandable for CapItem<'_> {
    fn key(&self) -> (StatId, Origin, u32) {
        (self.stat, self.origin, self.situation)
    }

    fn for_view(self, _: &Ir, view: StatId) -> Self {
        CapItem { stat: view, ..self }
    }
}

fn unknown_tag(ir: &Ir, name: &str) -> String {
    let names = ir.tags.iter().map(|t| t.name.as_str()).chain(ir.tag_groups.iter().map(|g| g.name.as_str()));
    format!("unknown tag `{name}`{}", did_you_mean_suffix(crate::diag::did_you_mean(name, names)))
}
