//! The data of an explanation: [`RuleExplanation`] (a stat's rule as declared) and
//! [`Explanation`] (one actor's evaluation of one stat, step by step), with their rows.
//! Plain serializable data: built by [`super::build`], rendered by [`super::render`].

pub use crate::ingest::Fate;

use crate::eval::EvalError;
use crate::input::InputError;
use crate::ir::UnknownStat;
use serde::Serialize;

/// Why no explanation could be made.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ExplainError {
    UnknownStat(UnknownStat),
    Input(InputError),
    /// The actor's evaluation failed: the explanation up to the failure, with its
    /// [`Explanation::failure`].
    Eval(Box<Explanation>),
}

impl std::fmt::Display for ExplainError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExplainError::UnknownStat(e) => write!(f, "{e}"),
            ExplainError::Input(e) => write!(f, "{e}"),
            ExplainError::Eval(e) => write!(f, "{}", e.failure.as_ref().map_or("", |x| x.error.message.as_str())),
        }
    }
}

impl std::error::Error for ExplainError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ExplainError::UnknownStat(e) => Some(e),
            ExplainError::Input(e) => Some(e),
            ExplainError::Eval(e) => e.failure.as_ref().map(|x| &x.error as _),
        }
    }
}

/// A stat's rule as declared, with where each part is written.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleExplanation {
    pub stat: String,
    pub category: &'static str,
    /// `file:line:col` of the declaration.
    pub location: String,
    pub doc: Vec<String>,
    /// The whole rule on one line, e.g. `hp_max = clamp(first(OVERRIDE) ?? ((base + Σ FLAT) ×
    /// Π(1 + MULT) + Σ POST_ADD), 1, 2000000)`.
    pub whiteboard: String,
    pub base: BaseRule,
    pub range: RangeRule,
    /// `pipeline` or `operator`.
    pub mode: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pipeline: Option<PipelineRule>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operator: Option<&'static str>,
    pub policy: &'static str,
    pub layers: Vec<LayerRule>,
    /// A view: the stat whose rule it is, and the tags it adds to the context.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub view: Option<ViewRule>,
    /// The views of this stat.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub views: Vec<String>,
}

/// What makes a stat a view.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ViewRule {
    pub source: String,
    /// `file:line:col` of the source's declaration.
    pub source_location: String,
    /// The tags and tag groups the declaration lists.
    pub with: Vec<String>,
    /// The tags it adds to the context (groups expanded), in declaration order.
    pub tags: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BaseRule {
    /// `formula`, `default` or `zero`.
    pub source: &'static str,
    /// The formula's source text or the default's value.
    pub text: String,
    /// Stats the formula reads.
    pub reads: Vec<String>,
    /// Constants the formula names.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub constants: Vec<ConstantValue>,
}

/// A named constant and its value.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConstantValue {
    pub name: String,
    pub value: f64,
}

/// One `lookup(table, key)` or `at(curve, x)` of an evaluation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PointsRead {
    /// `lookup` or `at`.
    pub function: &'static str,
    /// The table or curve.
    pub name: String,
    /// The key or `x`.
    pub argument: f64,
    pub result: f64,
    /// For `at`: where `x` fell.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub segment: Option<SegmentUsed>,
}

/// The part of a curve `at` read: between two points, or beyond an end (one point).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SegmentUsed {
    /// `before`, `between` or `after`.
    pub position: &'static str,
    /// The points used, as `[x, y]`.
    pub points: Vec<[f64; 2]>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RangeRule {
    pub min: String,
    pub max: String,
    /// Stats the bounds read.
    pub reads: Vec<String>,
    /// Constants the bounds name.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub constants: Vec<ConstantValue>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PipelineRule {
    pub name: String,
    pub location: String,
    pub steps: Vec<BucketRule>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BucketRule {
    pub bucket: String,
    pub fold: &'static str,
    /// The apply expression as written in the IR (`value`, `x`).
    pub apply: String,
    /// One step of the whiteboard: `value ← value + Σ FLAT`.
    pub step: String,
    pub location: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LayerRule {
    pub layer: String,
    pub requires_realm: bool,
    pub unscoped: bool,
    pub location: String,
}

/// An evaluation of one stat for one actor, step by step.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Explanation {
    pub actor: Option<String>,
    pub rule: RuleExplanation,
    /// The tags the stat was evaluated with (rules that declare tags, stacks or views).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<Context>,
    /// The final value; `None` when the stat has only caps, or nothing at all.
    pub value: Option<f64>,
    /// The stat has a snapshot entry (a value or caps); without one it was skipped and
    /// readers see 0.
    pub in_snapshot: bool,
    /// The contributions that apply, in canonical order.
    pub contributions: Vec<ContributionRow>,
    /// The contributions to the stat (to its source, for a view) that do not apply:
    /// skipped by a requirement or dropped by stacking, in canonical order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_applied: Vec<NotAppliedRow>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base: Option<BaseStep>,
    pub buckets: Vec<BucketStep>,
    /// Operator-mode result.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operator: Option<f64>,
    pub range: RangeStep,
    pub layers: Vec<LayerStep>,
    /// The caps that do not apply: skipped by a requirement.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub caps_not_applied: Vec<CapNotApplied>,
    /// Effective range (`CapsUsed`), `null` = unbounded.
    pub min: f64,
    pub max: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clamp: Option<ClampStep>,
    /// The actor's evaluation failed; the steps above are those made before it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<Failure>,
}

/// The context of an evaluation: the actor's tags, plus a view's.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Context {
    /// The actor's situation, in declaration order.
    pub actor: Vec<String>,
    /// The tags a view adds (none for a stat that is not a view).
    pub view: Vec<String>,
    /// Every tag of the context, in declaration order.
    pub tags: Vec<String>,
}

/// Where an actor's evaluation failed, seen from the explained stat.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Failure {
    /// `before` (at a stat evaluated earlier: this one was not reached), `here`, or `after`
    /// (this stat's steps are complete).
    pub at: &'static str,
    pub error: EvalError,
}

/// A contribution as the actor's input gives it, applied or not.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ContributionInput {
    pub subsystem: u32,
    /// The subsystem's `meta.system`.
    pub subsystem_system: String,
    /// The contribution's own `system`.
    pub system: String,
    /// `primary` or `derived`.
    pub list: &'static str,
    pub bucket: String,
    pub priority: i64,
    pub value: f64,
    /// The requirements as the input writes them (`fire`, `!low_life`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub requires: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stack: Option<StackRef>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ContributionRow {
    /// Position in canonical order among this stat's contributions.
    pub index: usize,
    #[serde(flatten)]
    pub input: ContributionInput,
    /// `won` or `lost` in a `fold first` bucket.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<&'static str>,
}

/// A contribution's stacking group and key (`""` when the input names only the group).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StackRef {
    pub group: String,
    pub key: String,
}

/// A contribution that does not apply, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NotAppliedRow {
    #[serde(flatten)]
    pub input: ContributionInput,
    /// `skipped` (with the requirement that does not hold in [`Explanation::context`]) or
    /// `dropped` (with its stacking group, key, limit, keep and 1-based rank).
    #[serde(flatten)]
    pub fate: Fate,
}

/// A cap that does not apply, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CapNotApplied {
    pub layer: String,
    #[serde(flatten)]
    pub cap: CapRow,
    #[serde(flatten)]
    pub fate: Fate,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BaseStep {
    pub source: &'static str,
    pub text: String,
    pub value: f64,
    pub inputs: Vec<InputValue>,
    /// The constants the formula names.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub constants: Vec<ConstantValue>,
    /// The tables and curves it read, in evaluation order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reads: Vec<PointsRead>,
}

/// A stat a formula reads and its final value (`None`: no value, read as 0).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InputValue {
    pub stat: String,
    pub value: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BucketStep {
    pub slot: u32,
    pub bucket: String,
    pub fold: &'static str,
    pub apply: String,
    /// Indices into [`Explanation::contributions`].
    pub contributions: Vec<usize>,
    /// The folded value (absent for `fold each`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub folded: Option<f64>,
    /// `fold each`: the running value after each contribution.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub each: Vec<EachStep>,
    /// `fold first`: the winning contribution and the ones that lost.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub won: Option<usize>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub lost: Vec<usize>,
    pub after: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EachStep {
    pub contribution: usize,
    pub x: f64,
    pub after: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RangeStep {
    pub min: f64,
    pub max: f64,
    pub inputs: Vec<InputValue>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LayerStep {
    pub layer: String,
    pub caps: Vec<CapRow>,
    /// `eval::layer_range` within the stat's range.
    pub min: f64,
    pub max: f64,
    /// The caps asked for Min > Max, so Min was lowered to Max.
    pub conflict: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CapRow {
    pub subsystem: u32,
    pub subsystem_system: String,
    pub system: String,
    pub kind: String,
    pub mode: String,
    pub priority: i64,
    pub value: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub realm: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub requires: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClampStep {
    pub before: f64,
    pub after: f64,
    /// `min` or `max` when the clamp changed the value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bound: Option<&'static str>,
    /// The layer that set that bound, or `range` (the stat's own range).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    /// The caps of that layer on that side.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub caps: Vec<CapRow>,
}
