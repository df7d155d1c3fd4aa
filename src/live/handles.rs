//! Handles: names of a rule set resolved once ([`Engine::stat`], [`Engine::bucket`] …), the
//! modifiers and caps a live actor is given in terms of them, and the typed errors of
//! input that does not fit the rules.
//!
//! Invariant: a [`Modifier`] or [`Cap`] that [`check_modifier`] / [`check_cap`] accepts
//! ingests without error: these are ingest's checks, on ids instead of names.

use crate::diag::did_you_mean;
use crate::engine::Engine;
use crate::ingest::{CapMode, FROM_DERIVED, FROM_PRIMARY};
use crate::input::Name;
use crate::ir::{BucketId, Ir, LayerId, Mode, StatId, TagId};
use crate::syntax::Category;

/// One contribution to a stat, by handles: `value` into `bucket` of `stat`'s pipeline (any
/// declared bucket for an operator stat), ordered by `priority` (higher first) and then by
/// its source's name, as in actor input.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Modifier {
    pub stat: StatId,
    pub bucket: BucketId,
    pub value: f64,
    pub priority: i64,
    /// The input list it counts as (`primary` or `derived`), which decides where a stat's
    /// value is reported; `None`: the stat's own category.
    pub section: Option<Section>,
}

impl Modifier {
    /// Priority 0, in the stat's own section.
    pub fn new(stat: StatId, bucket: BucketId, value: f64) -> Modifier {
        Modifier { stat, bucket, value, priority: 0, section: None }
    }

    pub fn priority(self, priority: i64) -> Modifier {
        Modifier { priority, ..self }
    }

    pub fn section(self, section: Section) -> Modifier {
        Modifier { section: Some(section), ..self }
    }

    /// Equal fields, numbers by their bits.
    pub(super) fn same(&self, other: &Modifier) -> bool {
        (self.stat, self.bucket, self.value.to_bits(), self.priority, self.section)
            == (other.stat, other.bucket, other.value.to_bits(), other.priority, other.section)
    }
}

/// The list of actor input a modifier belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Section {
    Primary,
    Derived,
}

impl Section {
    /// The section of `stat` when none is given: its declared category.
    pub(super) fn of(ir: &Ir, stat: StatId, section: Option<Section>) -> Section {
        section.unwrap_or(match ir.stat(stat).category {
            Category::Primary => Section::Primary,
            Category::Derived => Section::Derived,
        })
    }

    /// Ingest's list bit.
    pub(super) fn bit(self) -> u8 {
        match self {
            Section::Primary => FROM_PRIMARY,
            Section::Derived => FROM_DERIVED,
        }
    }
}

/// Which side of the range a cap bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CapKind {
    Max,
    Min,
}

impl CapKind {
    pub fn keyword(self) -> &'static str {
        match self {
            CapKind::Max => "max",
            CapKind::Min => "min",
        }
    }
}

/// One bound on a stat in a cap layer, by handles.
#[derive(Debug, Clone, PartialEq)]
pub struct Cap {
    pub stat: StatId,
    pub layer: LayerId,
    pub kind: CapKind,
    pub mode: CapMode,
    pub value: f64,
    pub priority: i64,
    /// Required in a layer declared `requires realm` (metadata, not evaluated).
    pub realm: Option<Name>,
}

impl Cap {
    /// Priority 0, no realm.
    pub fn new(stat: StatId, layer: LayerId, kind: CapKind, mode: CapMode, value: f64) -> Cap {
        Cap { stat, layer, kind, mode, value, priority: 0, realm: None }
    }

    pub fn priority(self, priority: i64) -> Cap {
        Cap { priority, ..self }
    }

    pub fn realm(self, realm: &str) -> Cap {
        Cap { realm: Some(realm.into()), ..self }
    }

    /// Equal fields, numbers by their bits.
    pub(super) fn same(&self, other: &Cap) -> bool {
        (self.stat, self.layer, self.kind, self.mode, self.value.to_bits(), self.priority, &self.realm)
            == (other.stat, other.layer, other.kind, other.mode, other.value.to_bits(), other.priority, &other.realm)
    }
}

/// What a name or handle names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Stat,
    Bucket,
    Layer,
    Tag,
    Source,
}

impl Kind {
    fn word(self) -> &'static str {
        match self {
            Kind::Stat => "stat",
            Kind::Bucket => "bucket",
            Kind::Layer => "cap layer",
            Kind::Tag => "tag",
            Kind::Source => "source",
        }
    }
}

/// Input a live actor refuses; the actor is left unchanged.
#[derive(Debug, Clone, PartialEq)]
pub enum LiveError {
    /// No such name in the rules (with the closest declared one, if any).
    UnknownName {
        kind: Kind,
        name: String,
        suggestion: Option<String>,
    },
    /// A handle that is not one of these rules (or of this actor, for a source).
    BadHandle {
        kind: Kind,
        index: u32,
    },
    /// Views take their source's modifiers: name the source.
    View {
        view: String,
        source: String,
    },
    BucketNotInPipeline {
        stat: String,
        bucket: String,
        pipeline: String,
    },
    NotFinite {
        stat: String,
        value: f64,
    },
    /// `HARD_MAX` only bounds from above, `HARD_MIN` from below.
    ModeNeedsKind {
        mode: CapMode,
        kind: CapKind,
    },
    RealmRequired {
        layer: String,
    },
    /// Actor input a live actor cannot hold yet (`requires`, `stack`, context packs).
    Unsupported(String),
    /// Actor input that is malformed in a way handles cannot be (an unknown cap mode).
    Invalid(String),
}

impl std::fmt::Display for LiveError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LiveError::UnknownName { kind, name, suggestion } => {
                write!(f, "unknown {} `{name}`", kind.word())?;
                match suggestion {
                    Some(s) => write!(f, " (did you mean `{s}`?)"),
                    None => Ok(()),
                }
            }
            LiveError::BadHandle { kind, index } => write!(f, "{} handle {index} is not of these rules", kind.word()),
            LiveError::View { view, source } => {
                write!(f, "`{view}` is a view of `{source}`: modifiers and caps name `{source}`")
            }
            LiveError::BucketNotInPipeline { stat, bucket, pipeline } => {
                write!(f, "bucket `{bucket}` is not in pipeline `{pipeline}` of stat `{stat}`")
            }
            LiveError::NotFinite { stat, value } => write!(f, "value {value} for `{stat}` is not a finite number"),
            LiveError::ModeNeedsKind { mode, kind } => {
                let needs = if *kind == CapKind::Max { "min" } else { "max" };
                write!(f, "cap mode {} needs kind `{needs}`, not `{}`", mode.keyword(), kind.keyword())
            }
            LiveError::RealmRequired { layer } => write!(f, "caps in layer {layer} must name their `realm`"),
            LiveError::Unsupported(what) => write!(f, "{what} are not supported yet"),
            LiveError::Invalid(what) => write!(f, "invalid {what}"),
        }
    }
}

impl std::error::Error for LiveError {}

fn unknown<'a>(kind: Kind, name: &str, names: impl Iterator<Item = &'a str>) -> LiveError {
    LiveError::UnknownName { kind, name: name.to_string(), suggestion: did_you_mean(name, names).map(str::to_string) }
}

/// Handles: each name resolved once, so that nothing a game calls every frame looks up a string.
impl Engine {
    /// The stat named `name` (a view too: its values can be read, not given modifiers).
    pub fn stat(&self, name: &str) -> Result<StatId, LiveError> {
        stat_of(self.ir(), name)
    }

    pub fn bucket(&self, name: &str) -> Result<BucketId, LiveError> {
        bucket_of(self.ir(), name)
    }

    pub fn layer(&self, name: &str) -> Result<LayerId, LiveError> {
        layer_of(self.ir(), name)
    }

    /// The layer of caps without a scope, if the rules declare one.
    pub fn unscoped_layer(&self) -> Option<LayerId> {
        self.ir().unscoped
    }

    pub fn tag(&self, name: &str) -> Result<TagId, LiveError> {
        tag_of(self.ir(), name)
    }

    /// The name of a stat handle of these rules.
    pub fn stat_name(&self, stat: StatId) -> Option<&str> {
        self.ir().stats.get(stat.index()).map(|s| s.name.as_str())
    }
}

pub(super) fn stat_of(ir: &Ir, name: &str) -> Result<StatId, LiveError> {
    ir.stat_ids.get(name).copied().ok_or_else(|| unknown(Kind::Stat, name, ir.stats.iter().map(|s| s.name.as_str())))
}

pub(super) fn bucket_of(ir: &Ir, name: &str) -> Result<BucketId, LiveError> {
    let names = || ir.buckets.iter().map(|b| b.name.as_str());
    ir.bucket_ids.get(name).copied().ok_or_else(|| unknown(Kind::Bucket, name, names()))
}

pub(super) fn layer_of(ir: &Ir, name: &str) -> Result<LayerId, LiveError> {
    let names = || ir.layers.iter().map(|l| l.name.as_str());
    ir.layer_ids.get(name).copied().ok_or_else(|| unknown(Kind::Layer, name, names()))
}

pub(super) fn tag_of(ir: &Ir, name: &str) -> Result<TagId, LiveError> {
    ir.tag_ids.get(name).copied().ok_or_else(|| unknown(Kind::Tag, name, ir.tags.iter().map(|t| t.name.as_str())))
}

/// `stat` as a target of modifiers and caps: a stat of `ir` that is not a view.
fn target(ir: &Ir, stat: StatId) -> Result<(), LiveError> {
    let Some(s) = ir.stats.get(stat.index()) else {
        return Err(LiveError::BadHandle { kind: Kind::Stat, index: stat.0 });
    };
    match &s.view {
        None => Ok(()),
        Some(v) => Err(LiveError::View { view: s.name.clone(), source: ir.stat(v.source).name.clone() }),
    }
}

/// Checks a modifier as ingest would; its slot in the stat's pipeline.
pub(super) fn check_modifier(ir: &Ir, m: &Modifier) -> Result<u32, LiveError> {
    target(ir, m.stat)?;
    let stat = ir.stat(m.stat);
    if !m.value.is_finite() {
        return Err(LiveError::NotFinite { stat: stat.name.clone(), value: m.value });
    }
    if m.bucket.index() >= ir.buckets.len() {
        return Err(LiveError::BadHandle { kind: Kind::Bucket, index: m.bucket.0 });
    }
    match stat.mode {
        Mode::Operator(_) => Ok(0),
        Mode::Pipeline(p) => {
            let pipeline = ir.pipeline(p);
            match pipeline.buckets.iter().position(|&b| b == m.bucket) {
                Some(slot) => Ok(slot as u32),
                None => Err(LiveError::BucketNotInPipeline {
                    stat: stat.name.clone(),
                    bucket: ir.bucket(m.bucket).name.clone(),
                    pipeline: pipeline.name.clone(),
                }),
            }
        }
    }
}

/// Checks a cap as ingest would.
pub(super) fn check_cap(ir: &Ir, c: &Cap) -> Result<(), LiveError> {
    target(ir, c.stat)?;
    let Some(layer) = ir.layers.get(c.layer.index()) else {
        return Err(LiveError::BadHandle { kind: Kind::Layer, index: c.layer.0 });
    };
    if !c.value.is_finite() {
        return Err(LiveError::NotFinite { stat: ir.stat(c.stat).name.clone(), value: c.value });
    }
    if !c.mode.fits(c.kind == CapKind::Max) {
        return Err(LiveError::ModeNeedsKind { mode: c.mode, kind: c.kind });
    }
    if layer.requires_realm && c.realm.as_deref().is_none_or(str::is_empty) {
        return Err(LiveError::RealmRequired { layer: layer.name.clone() });
    }
    Ok(())
}
