//! The lowered rule set: flat arenas addressed by newtype ids, names interned once.
//!
//! Invariants: stats are stored in dependency order (a stat only reads stats with smaller
//! ids); an expression is a contiguous range of [`Node`]s in post-order (children before
//! parents), so it can be evaluated by one forward pass; lowering only runs on a rule set
//! that checked without errors.

mod dump;
mod lower;
mod names;

pub use dump::{dump, expr_text, fold_name, operator_name};
pub use lower::lower;

use crate::diag::{did_you_mean, did_you_mean_suffix};
use crate::source::Span;
use crate::syntax::Category;
pub use names::NameMap;
use rustc_hash::FxHashMap;

macro_rules! id {
    ($name:ident) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub u32);
        impl $name {
            pub fn index(self) -> usize {
                self.0 as usize
            }
        }
    };
}
id!(StatId);
id!(BucketId);
id!(PipelineId);
id!(LayerId);
id!(NodeId);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UnOp {
    Neg,
    Abs,
    Floor,
    Ceil,
    Round,
    Sqrt,
    Exp,
    Ln,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Min,
    Max,
    Pow,
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Node {
    Const(f64),
    /// Another stat's final value (0 when it has none).
    Stat(StatId),
    /// The running value, inside a bucket's `apply`.
    Value,
    /// The folded value (or one contribution, for `fold each`), inside `apply`.
    X,
    Unary(UnOp, NodeId),
    Binary(BinOp, NodeId, NodeId),
    /// `if c then a else b`.
    Select(NodeId, NodeId, NodeId),
}

/// A post-order node range; the root is the last node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Expr {
    pub start: u32,
    pub end: u32,
}

impl Expr {
    pub fn root(self) -> NodeId {
        NodeId(self.end - 1)
    }

    pub fn range(self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fold {
    Sum,
    Product,
    /// Π (1 + x).
    DeltaProduct,
    Min,
    Max,
    First,
    /// `apply` once per contribution, with `x` the contribution.
    Each,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operator {
    Sum,
    Max,
    Min,
    Average,
    Multiply,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    Pipeline(PipelineId),
    Operator(Operator),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Policy {
    Intersect,
    PrioritizedOverride,
}

#[derive(Debug, Clone)]
pub struct Stat {
    pub name: String,
    pub category: Category,
    pub mode: Mode,
    pub formula: Option<Expr>,
    pub min: Option<Expr>,
    pub max: Option<Expr>,
    pub default: Option<f64>,
    /// Stats read by the formula or the range bounds.
    pub deps: Vec<StatId>,
    pub doc: Vec<String>,
    pub span: Span,
    /// Source text of the formula and bounds, for messages.
    pub formula_text: Option<String>,
    pub min_text: Option<String>,
    pub max_text: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Bucket {
    pub name: String,
    pub fold: Fold,
    pub apply: Expr,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct Pipeline {
    pub name: String,
    pub buckets: Vec<BucketId>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct Layer {
    pub name: String,
    /// Caps in this layer must carry a `realm`.
    pub requires_realm: bool,
    pub span: Span,
}

/// The snapshots' schema: what every snapshot of one rule set shares: stat names, and each stat's range when no
/// cap narrows it (when the rules give it as constants), which snapshots do not store.
#[derive(Debug, Default)]
pub struct Schema {
    pub names: Box<[String]>,
    pub default_ranges: Box<[Option<(f64, f64)>]>,
}

impl Schema {
    /// Whether `(min, max)` is `stat`'s constant range, bit for bit.
    pub fn is_default(&self, stat: StatId, min: f64, max: f64) -> bool {
        matches!(self.default_ranges.get(stat.index()), Some(Some((lo, hi)))
            if lo.to_bits() == min.to_bits() && hi.to_bits() == max.to_bits())
    }
}

/// A stat name the rule set does not declare, with the closest declared one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownStat {
    pub name: String,
    pub suggestion: Option<String>,
}

impl std::fmt::Display for UnknownStat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "unknown stat `{}`{}", self.name, did_you_mean_suffix(self.suggestion.as_deref()))
    }
}

impl std::error::Error for UnknownStat {}

#[derive(Debug, Clone)]
pub struct Ir {
    pub stats: Vec<Stat>,
    pub buckets: Vec<Bucket>,
    pub pipelines: Vec<Pipeline>,
    pub layers: Vec<Layer>,
    pub policy: Option<Policy>,
    pub unscoped: Option<LayerId>,
    pub nodes: Vec<Node>,
    /// Stat names and constant ranges by id, shared with every snapshot.
    pub schema: std::sync::Arc<Schema>,
    /// Dense numbering of every (stat, pipeline position): the slots of stat `s` are
    /// `slot_base[s] ..` (an operator stat has one); the last entry is the total.
    pub slot_base: Vec<u32>,
    pub stat_ids: NameMap<StatId>,
    pub bucket_ids: NameMap<BucketId>,
    pub layer_ids: NameMap<LayerId>,
}

impl Ir {
    /// The value of `e` when it is a constant (a number, or a negated one).
    pub fn constant(&self, e: Expr) -> Option<f64> {
        match self.nodes[e.range()] {
            [Node::Const(c)] => Some(c),
            [Node::Const(c), Node::Unary(UnOp::Neg, _)] => Some(-c),
            _ => None,
        }
    }

    pub fn stat(&self, id: StatId) -> &Stat {
        &self.stats[id.index()]
    }

    pub fn bucket(&self, id: BucketId) -> &Bucket {
        &self.buckets[id.index()]
    }

    pub fn pipeline(&self, id: PipelineId) -> &Pipeline {
        &self.pipelines[id.index()]
    }

    /// The stat named `name`, or the closest declared name (did you mean) when there is none.
    pub fn find_stat(&self, name: &str) -> Result<StatId, Option<&str>> {
        self.stat_ids.get(name).copied().ok_or_else(|| did_you_mean(name, self.stats.iter().map(|s| s.name.as_str())))
    }

    /// [`Ir::find_stat`] as an error that says what is wrong.
    pub fn resolve_stat(&self, name: &str) -> Result<StatId, UnknownStat> {
        self.find_stat(name).map_err(|s| UnknownStat { name: name.to_string(), suggestion: s.map(str::to_string) })
    }

    /// The bucket named `name`, or the closest declared name when there is none.
    pub fn find_bucket(&self, name: &str) -> Result<BucketId, Option<&str>> {
        self.bucket_ids
            .get(name)
            .copied()
            .ok_or_else(|| did_you_mean(name, self.buckets.iter().map(|b| b.name.as_str())))
    }

    pub fn stat_ids(&self) -> impl Iterator<Item = StatId> + use<> {
        (0..self.stats.len() as u32).map(StatId)
    }

    pub fn policy(&self) -> Policy {
        self.policy.unwrap_or(Policy::Intersect)
    }
}
