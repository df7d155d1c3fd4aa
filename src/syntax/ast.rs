//! The abstract syntax tree: what a rule file says, with a span on every part.

use crate::source::Span;

/// One parsed `.stat` file.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Ast {
    pub items: Vec<Item>,
    /// What the declarations that did not parse would have declared. A syntax error already
    /// explains their absence, so the checker says nothing about uses of these names.
    pub unparsed: Vec<Unparsed>,
}

/// What a declaration that did not parse (or a file that could not be read) would have
/// declared.
#[derive(Debug, Clone, PartialEq)]
pub enum Unparsed {
    Stat(String),
    Bucket(String),
    Pipeline(String),
    /// A tag or tag group.
    Tag(String),
    /// A constant, table or curve.
    Value(String),
    DefaultPipeline,
    /// A whole file, unread or not text: it may have declared anything.
    Everything,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub doc: Vec<String>,
    pub kind: ItemKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ItemKind {
    Import(Import),
    Bucket(BucketDecl),
    Pipeline(PipelineDecl),
    DefaultPipeline(Ident),
    Layers(LayersDecl),
    Stat(StatDecl),
    /// `tag a, b, c;`
    Tags(Vec<Ident>),
    /// `tag group NAME = a, b;`
    TagGroup(TagGroupDecl),
    /// `stack NAME limit N keep highest|lowest|first;`
    Stack(StackDecl),
    /// `view NAME = SOURCE with TAG, …;`
    View(ViewDecl),
    /// `const NAME = EXPR;`
    Const(ConstDecl),
    /// `table NAME = [KEY: VALUE, …];`
    Table(PointsDecl),
    /// `curve NAME = [X: Y, …];`
    Curve(PointsDecl),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Import {
    pub path: String,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BucketDecl {
    pub name: Ident,
    pub fold: Ident,
    pub apply: Expr,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PipelineDecl {
    pub name: Ident,
    pub buckets: Vec<Ident>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LayersDecl {
    pub layers: Vec<LayerDef>,
    pub policies: Vec<Ident>,
    pub unscoped: Vec<Ident>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LayerDef {
    pub name: Ident,
    /// `requires realm`: caps in this layer must name the field.
    pub requires: Option<Ident>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TagGroupDecl {
    pub name: Ident,
    pub members: Vec<Ident>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StackDecl {
    pub name: Ident,
    /// As written; checked to be a whole number ≥ 1.
    pub limit: f64,
    pub limit_span: Span,
    pub keep: Ident,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ViewDecl {
    pub name: Ident,
    pub source: Ident,
    /// Tags and tag groups added to the context.
    pub tags: Vec<Ident>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ConstDecl {
    pub name: Ident,
    pub value: Expr,
}

/// A table's entries or a curve's points, as written.
#[derive(Debug, Clone, PartialEq)]
pub struct PointsDecl {
    pub name: Ident,
    /// `key: value` (a table) or `x: y` (a curve).
    pub points: Vec<(Expr, Expr)>,
    /// From `[` to `]`.
    pub list_span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    Primary,
    Derived,
}

impl Category {
    /// The declaration keyword: `primary` or `derived`.
    pub fn keyword(self) -> &'static str {
        match self {
            Category::Primary => "primary",
            Category::Derived => "derived",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct StatDecl {
    pub category: Category,
    pub name: Ident,
    pub clauses: Vec<StatClause>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StatClause {
    pub kind: ClauseKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ClauseKind {
    Formula(Expr),
    Range(Expr, Expr),
    Merge(Ident),
    Pipeline(Ident),
    Default(Expr),
}

impl ClauseKind {
    pub fn keyword(&self) -> &'static str {
        match self {
            ClauseKind::Formula(_) => "=",
            ClauseKind::Range(..) => "in",
            ClauseKind::Merge(_) => "merge",
            ClauseKind::Pipeline(_) => "pipeline",
            ClauseKind::Default(_) => "default",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    Number(f64),
    Name(String),
    Neg(Box<Expr>),
    /// `not a`: 1 when `a` is 0, else 0.
    Not(Box<Expr>),
    /// `base ^ exponent`, right-associative: `a ^ b ^ c` is `a ^ (b ^ c)`.
    Power(Box<Expr>, Box<Expr>),
    /// `a op b op c …`, applied left to right (`(a op b) op c`). Its operators share one
    /// precedence (a comparison chain has one), and it has at least one. However long, a
    /// chain is one level of nesting: its operands are a list, so no stage recurses along it.
    Chain(Box<Expr>, Vec<(BinOp, Expr)>),
    If(Box<Expr>, Box<Expr>, Box<Expr>),
    Call(Ident, Vec<Expr>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    /// `%`: the remainder with the sign of the divisor.
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

impl BinOp {
    /// Every infix operator but `^` (which is [`ExprKind::Power`]).
    pub const ALL: &'static [BinOp] = &[
        BinOp::Add,
        BinOp::Sub,
        BinOp::Mul,
        BinOp::Div,
        BinOp::Rem,
        BinOp::Lt,
        BinOp::Le,
        BinOp::Gt,
        BinOp::Ge,
        BinOp::Eq,
        BinOp::Ne,
        BinOp::And,
        BinOp::Or,
    ];

    /// The operator spelled `symbol` (`+`, `<=`, `and` …).
    pub fn from_symbol(symbol: &str) -> Option<BinOp> {
        BinOp::ALL.iter().copied().find(|op| op.symbol() == symbol)
    }

    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Rem => "%",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::And => "and",
            BinOp::Or => "or",
        }
    }

    /// Binding strength: `or` 1, `and` 2, comparisons 4, additive 5, multiplicative 6 (see
    /// [`PREC_NOT`], [`PREC_NEG`] and [`PREC_POWER`] for the others).
    pub fn precedence(self) -> u8 {
        match self {
            BinOp::Or => 1,
            BinOp::And => 2,
            BinOp::Add | BinOp::Sub => 5,
            BinOp::Mul | BinOp::Div | BinOp::Rem => 6,
            BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge | BinOp::Eq | BinOp::Ne => 4,
        }
    }
}

/// Binding strength of `not`: between `and` and the comparisons.
pub const PREC_NOT: u8 = 3;
/// Binding strength of unary minus: above `*`.
pub const PREC_NEG: u8 = 7;
/// Binding strength of `^`: above unary minus (`-2 ^ 2` is `-(2 ^ 2)`).
pub const PREC_POWER: u8 = 8;
/// Binding strength of a number, name, call, `if` or parenthesized expression.
pub const PREC_ATOM: u8 = 9;

impl Expr {
    /// Calls `f` on every name this expression mentions, with its span.
    pub fn for_each_name(&self, f: &mut impl FnMut(&str, Span)) {
        match &self.kind {
            ExprKind::Number(_) => {}
            ExprKind::Name(n) => f(n, self.span),
            ExprKind::Neg(e) | ExprKind::Not(e) => e.for_each_name(f),
            ExprKind::Power(a, b) => {
                a.for_each_name(f);
                b.for_each_name(f);
            }
            ExprKind::Chain(first, rest) => {
                first.for_each_name(f);
                rest.iter().for_each(|(_, e)| e.for_each_name(f));
            }
            ExprKind::If(c, t, e) => {
                c.for_each_name(f);
                t.for_each_name(f);
                e.for_each_name(f);
            }
            ExprKind::Call(_, args) => args.iter().for_each(|a| a.for_each_name(f)),
        }
    }
}
