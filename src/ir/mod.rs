//! The lowered rule set: flat arenas addressed by newtype ids, names interned once.
//!
//! Invariants: stats are stored in dependency order (a stat only reads stats with smaller
//! ids); an expression is a contiguous range of [`Node`]s in post-order (children before
//! parents), so it can be evaluated by one forward pass; lowering only runs on a rule set
//! that checked without errors.

mod dump;
mod names;

pub use dump::{dump, expr_text};

use crate::diag::{did_you_mean, did_you_mean_suffix};
use crate::source::Span;
use crate::syntax::Category;
pub use names::NameMap;

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
id!(TagId);
id!(TagGroupId);
id!(StackId);
id!(ConstId);
id!(TableId);
id!(CurveId);

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
    /// `not a`: 1 when `a` is 0, else 0.
    Not,
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
    /// The floored remainder (`%`).
    Rem,
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
    And,
    Or,
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
    /// `lookup(table, key)`: NaN for a missing key.
    Lookup(TableId, NodeId),
    /// `at(curve, x)`.
    At(CurveId, NodeId),
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

/// `ALL`, `keyword` and `from_keyword` for an enum whose variants the rule language spells
/// with one keyword each: the one table of those keywords.
macro_rules! keywords {
    ($ty:ident { $($variant:ident => $word:literal),+ $(,)? }) => {
        impl $ty {
            /// Every variant, in declaration order (the order diagnostics list them in).
            pub const ALL: &'static [$ty] = &[$($ty::$variant),+];

            /// How the rule language spells it.
            pub fn keyword(self) -> &'static str {
                match self {
                    $($ty::$variant => $word),+
                }
            }

            /// The variant spelled `word`, if any.
            pub fn from_keyword(word: &str) -> Option<$ty> {
                match word {
                    $($word => Some($ty::$variant),)+
                    _ => None,
                }
            }
        }
    };
}

keywords!(Fold {
    Sum => "sum",
    Product => "product",
    DeltaProduct => "delta_product",
    Min => "min",
    Max => "max",
    First => "first",
    Each => "each",
});

keywords!(Operator {
    Sum => "sum",
    Max => "max",
    Min => "min",
    Average => "average",
    Multiply => "multiply",
});

/// Which contributions of one stacking group and key are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Keep {
    /// Value descending.
    Highest,
    /// Value ascending.
    Lowest,
    /// Canonical order.
    First,
}

keywords!(Keep {
    Highest => "highest",
    Lowest => "lowest",
    First => "first",
});

keywords!(Policy {
    Intersect => "intersect",
    PrioritizedOverride => "prioritized_override",
});

impl UnOp {
    /// `op a`, as every engine computes it (and check folds constants).
    pub fn apply(self, a: f64) -> f64 {
        use crate::num;
        match self {
            UnOp::Neg => -a,
            UnOp::Abs => a.abs(),
            UnOp::Floor => a.floor(),
            UnOp::Ceil => a.ceil(),
            UnOp::Round => num::round(a),
            UnOp::Sqrt => a.sqrt(),
            UnOp::Exp => num::exp(a),
            UnOp::Ln => num::ln(a),
            UnOp::Not => num::bool_to_f64(!num::truthy(a)),
        }
    }

    /// The unary functions of the language (negation is the `-` operator, not a function).
    pub const FUNCTIONS: &'static [UnOp] =
        &[UnOp::Abs, UnOp::Floor, UnOp::Ceil, UnOp::Round, UnOp::Sqrt, UnOp::Exp, UnOp::Ln];

    /// The function's name; `neg` for negation.
    pub fn name(self) -> &'static str {
        match self {
            UnOp::Neg => "neg",
            UnOp::Abs => "abs",
            UnOp::Floor => "floor",
            UnOp::Ceil => "ceil",
            UnOp::Round => "round",
            UnOp::Sqrt => "sqrt",
            UnOp::Exp => "exp",
            UnOp::Ln => "ln",
            UnOp::Not => "not",
        }
    }
}

/// A function of the rule language, as written in a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    Unary(UnOp),
    /// Two or more arguments, folded left.
    Min,
    Max,
    /// `clamp(v, lo, hi)`: `min(max(v, lo), hi)`.
    Clamp,
    Pow,
    /// `lookup(table, key)`.
    Lookup,
    /// `at(curve, x)`.
    At,
}

impl Function {
    /// Every function: the unary ones, then `min`, `max`, `clamp`, `pow`, `lookup`, `at`.
    pub fn all() -> impl Iterator<Item = Function> {
        UnOp::FUNCTIONS.iter().map(|&op| Function::Unary(op)).chain([
            Function::Min,
            Function::Max,
            Function::Clamp,
            Function::Pow,
            Function::Lookup,
            Function::At,
        ])
    }

    pub fn name(self) -> &'static str {
        match self {
            Function::Unary(op) => op.name(),
            Function::Min => "min",
            Function::Max => "max",
            Function::Clamp => "clamp",
            Function::Pow => "pow",
            Function::Lookup => "lookup",
            Function::At => "at",
        }
    }

    /// The function called `name`, if any.
    pub fn from_name(name: &str) -> Option<Function> {
        Function::all().find(|f| f.name() == name)
    }

    /// How it is called, for messages: `clamp(v, lo, hi)`.
    pub fn signature(self) -> String {
        match self {
            Function::Unary(op) => format!("{}(x)", op.name()),
            Function::Min | Function::Max => format!("{}(a, b, …)", self.name()),
            Function::Clamp => "clamp(v, lo, hi)".into(),
            Function::Pow => "pow(base, exponent)".into(),
            Function::Lookup => "lookup(table, key)".into(),
            Function::At => "at(curve, x)".into(),
        }
    }

    /// The number of arguments it takes: (at least, at most).
    pub fn arity(self) -> (usize, usize) {
        match self {
            Function::Unary(_) => (1, 1),
            Function::Min | Function::Max => (2, usize::MAX),
            Function::Clamp => (3, 3),
            Function::Pow | Function::Lookup | Function::At => (2, 2),
        }
    }
}

impl BinOp {
    /// `a op b`, as every engine computes it (and check folds constants).
    pub fn apply(self, a: f64, b: f64) -> f64 {
        use crate::num;
        match self {
            BinOp::Add => a + b,
            BinOp::Sub => a - b,
            BinOp::Mul => a * b,
            BinOp::Div => a / b,
            BinOp::Min => num::fmin(a, b),
            BinOp::Max => num::fmax(a, b),
            BinOp::Pow => num::pow(a, b),
            BinOp::Rem => num::rem(a, b),
            BinOp::And => num::bool_to_f64(num::truthy(a) && num::truthy(b)),
            BinOp::Or => num::bool_to_f64(num::truthy(a) || num::truthy(b)),
            BinOp::Lt => num::bool_to_f64(a < b),
            BinOp::Le => num::bool_to_f64(a <= b),
            BinOp::Gt => num::bool_to_f64(a > b),
            BinOp::Ge => num::bool_to_f64(a >= b),
            BinOp::Eq => num::bool_to_f64(a == b),
            BinOp::Ne => num::bool_to_f64(a != b),
        }
    }

    /// How the rule language spells it: an infix symbol (`+`, `<=`, …) or, for
    /// [`is_function`](BinOp::is_function), a function name (`min`, `max`, `pow`).
    pub fn keyword(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Min => "min",
            BinOp::Max => "max",
            BinOp::Pow => "pow",
            BinOp::Rem => "%",
            BinOp::And => "and",
            BinOp::Or => "or",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
        }
    }

    /// Written as a call, `min(a, b)`, rather than infix.
    pub fn is_function(self) -> bool {
        matches!(self, BinOp::Min | BinOp::Max | BinOp::Pow)
    }
}

impl From<crate::syntax::BinOp> for BinOp {
    fn from(op: crate::syntax::BinOp) -> BinOp {
        use crate::syntax::BinOp as S;
        match op {
            S::Add => BinOp::Add,
            S::Sub => BinOp::Sub,
            S::Mul => BinOp::Mul,
            S::Div => BinOp::Div,
            S::Rem => BinOp::Rem,
            S::And => BinOp::And,
            S::Or => BinOp::Or,
            S::Lt => BinOp::Lt,
            S::Le => BinOp::Le,
            S::Gt => BinOp::Gt,
            S::Ge => BinOp::Ge,
            S::Eq => BinOp::Eq,
            S::Ne => BinOp::Ne,
        }
    }
}

/// A stat name, as declared (E0310) and as actor input names it: `^[a-z][a-z0-9_]*$`.
pub fn valid_stat_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
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

/// Most requirements one contribution or cap may carry (ingest refuses more; the cost
/// bound counts this many checks).
pub const MAX_REQUIREMENTS: usize = 16;

/// A set of tags: one bit per [`TagId`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct TagSet(Box<[u64]>);

impl TagSet {
    /// An empty set for `tags` tags.
    pub fn empty(tags: usize) -> TagSet {
        TagSet(vec![0; TagSet::words(tags)].into_boxed_slice())
    }

    pub fn insert(&mut self, t: TagId) {
        self.0[t.index() / 64] |= 1 << (t.index() % 64);
    }

    pub fn contains(&self, t: TagId) -> bool {
        self.0.get(t.index() / 64).is_some_and(|w| w >> (t.index() % 64) & 1 == 1)
    }

    /// Whether the sets share a tag.
    pub fn meets(&self, other: &TagSet) -> bool {
        self.0.iter().zip(other.0.iter()).any(|(a, b)| a & b != 0)
    }

    pub fn union(&self, other: &TagSet) -> TagSet {
        let word = |s: &TagSet, i: usize| s.0.get(i).copied().unwrap_or(0);
        TagSet((0..self.0.len().max(other.0.len())).map(|i| word(self, i) | word(other, i)).collect())
    }

    /// The words of a set for `tags` tags: what one test of a group against a context reads.
    pub fn words(tags: usize) -> usize {
        tags.div_ceil(64)
    }

    /// The tags in the set, in id order.
    pub fn iter(&self) -> impl Iterator<Item = TagId> + '_ {
        (0..self.0.len() * 64).filter(|&i| self.0[i / 64] >> (i % 64) & 1 == 1).map(|i| TagId(i as u32))
    }
}

#[derive(Debug, Clone)]
pub struct Tag {
    pub name: String,
    pub span: Span,
}

/// `tag group NAME = …`: holds when any member is in the context.
#[derive(Debug, Clone)]
pub struct TagGroup {
    pub name: String,
    pub members: TagSet,
    pub span: Span,
}

/// `stack NAME limit N keep …`.
#[derive(Debug, Clone)]
pub struct StackGroup {
    pub name: String,
    pub limit: u32,
    pub keep: Keep,
    pub span: Span,
}

/// `const NAME = …`, folded when the rules are checked.
#[derive(Debug, Clone)]
pub struct Constant {
    pub name: String,
    pub value: f64,
    pub doc: Vec<String>,
    pub span: Span,
}

/// A table (`table NAME = [key: value, …]`: `xs` are its keys) or a curve (`curve NAME =
/// [x: y, …]`, at least two points): points with strictly increasing `x`.
#[derive(Debug, Clone)]
pub struct Points {
    pub name: String,
    pub xs: Box<[f64]>,
    pub ys: Box<[f64]>,
    pub doc: Vec<String>,
    pub span: Span,
}

impl Points {
    /// A table's value at `key`; NaN when it has no such key.
    pub fn get(&self, key: f64) -> f64 {
        crate::num::lookup(&self.xs, &self.ys, key)
    }

    /// A curve's value at `x`.
    pub fn at(&self, x: f64) -> f64 {
        crate::num::curve_at(&self.xs, &self.ys, x)
    }
}

/// What makes a stat a view: its source stat, evaluated with `tags` added to the context.
#[derive(Debug, Clone)]
pub struct View {
    /// Its position in [`Ir::view_ids`].
    pub number: u32,
    pub source: StatId,
    pub tags: TagSet,
    /// The tags and groups as the declaration lists them.
    pub listed: Vec<String>,
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
    /// A view: its rules are its source's, its context has more tags.
    pub view: Option<View>,
    /// The constants its formula names, in order of first mention.
    pub constants: Vec<ConstId>,
    /// The constants its range bounds name.
    pub range_constants: Vec<ConstId>,
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
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
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
    pub tags: Vec<Tag>,
    pub tag_groups: Vec<TagGroup>,
    pub stacks: Vec<StackGroup>,
    pub tag_ids: NameMap<TagId>,
    pub tag_group_ids: NameMap<TagGroupId>,
    pub stack_ids: NameMap<StackId>,
    /// The views of each stat, by source stat id (empty when the rules declare none).
    pub views_of: Vec<Vec<StatId>>,
    /// Every view, in id order.
    pub view_ids: Vec<StatId>,
    pub constants: Vec<Constant>,
    pub tables: Vec<Points>,
    pub curves: Vec<Points>,
    pub const_ids: NameMap<ConstId>,
    pub table_ids: NameMap<TableId>,
    pub curve_ids: NameMap<CurveId>,
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

    /// Whether the rules declare tags, stacking groups or views: without any, actors carry
    /// no situation and ingest takes its plain path.
    pub fn is_situational(&self) -> bool {
        !self.tags.is_empty() || !self.stacks.is_empty() || !self.views_of.is_empty()
    }

    /// The views of `stat` (none for a view).
    pub fn views_of(&self, stat: StatId) -> &[StatId] {
        self.views_of.get(stat.index()).map_or(&[], Vec::as_slice)
    }
}
