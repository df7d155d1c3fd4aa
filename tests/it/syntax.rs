//! Round trip: formatting an AST and parsing the text again gives the same AST.

use actorc::source::{FileId, Span};
use actorc::syntax::*;
use proptest::prelude::*;

fn parse(text: &str) -> Ast {
    let (ast, diags) = parse_file(FileId(0), text, ParseLimits::default());
    assert!(diags.is_empty(), "{text}\n{diags:?}");
    ast
}

fn erase_expr(e: &mut Expr) {
    e.span = Span::default();
    match &mut e.kind {
        ExprKind::Number(_) | ExprKind::Name(_) => {}
        ExprKind::Neg(a) | ExprKind::Not(a) => erase_expr(a),
        ExprKind::Power(a, b) => {
            erase_expr(a);
            erase_expr(b);
        }
        ExprKind::Chain(first, rest) => {
            erase_expr(first);
            rest.iter_mut().for_each(|(_, e)| erase_expr(e));
        }
        ExprKind::If(c, t, f) => {
            erase_expr(c);
            erase_expr(t);
            erase_expr(f);
        }
        ExprKind::Call(f, args) => {
            f.span = Span::default();
            args.iter_mut().for_each(erase_expr);
        }
    }
}

/// `ast` without its spans, to compare ASTs of different texts.
pub fn erase(mut ast: Ast) -> Ast {
    let id = |i: &mut Ident| i.span = Span::default();
    for item in &mut ast.items {
        item.span = Span::default();
        match &mut item.kind {
            ItemKind::Import(i) => i.span = Span::default(),
            ItemKind::Bucket(b) => {
                id(&mut b.name);
                id(&mut b.fold);
                erase_expr(&mut b.apply);
            }
            ItemKind::Pipeline(p) => {
                id(&mut p.name);
                p.buckets.iter_mut().for_each(id);
            }
            ItemKind::DefaultPipeline(p) => id(p),
            ItemKind::Const(c) => {
                id(&mut c.name);
                erase_expr(&mut c.value);
            }
            ItemKind::Table(t) | ItemKind::Curve(t) => {
                id(&mut t.name);
                t.list_span = Span::default();
                for (k, v) in &mut t.points {
                    erase_expr(k);
                    erase_expr(v);
                }
            }
            ItemKind::Tags(tags) => tags.iter_mut().for_each(id),
            ItemKind::TagGroup(g) => {
                id(&mut g.name);
                g.members.iter_mut().for_each(id);
            }
            ItemKind::Stack(st) => {
                id(&mut st.name);
                id(&mut st.keep);
                st.limit_span = Span::default();
            }
            ItemKind::View(v) => {
                id(&mut v.name);
                id(&mut v.source);
                v.tags.iter_mut().for_each(id);
            }
            ItemKind::Layers(l) => {
                for layer in &mut l.layers {
                    id(&mut layer.name);
                    layer.requires.iter_mut().for_each(id);
                }
                l.policies.iter_mut().for_each(id);
                l.unscoped.iter_mut().for_each(id);
            }
            ItemKind::Stat(s) => {
                id(&mut s.name);
                for c in &mut s.clauses {
                    c.span = Span::default();
                    match &mut c.kind {
                        ClauseKind::Formula(e) | ClauseKind::Default(e) => erase_expr(e),
                        ClauseKind::Range(a, b) => {
                            erase_expr(a);
                            erase_expr(b);
                        }
                        ClauseKind::Merge(i) | ClauseKind::Pipeline(i) => id(i),
                    }
                }
            }
        }
    }
    ast
}

fn round_trip(text: &str) {
    let ast = parse(text);
    let printed = format_file(&ast, text);
    let again = parse(&printed);
    assert_eq!(erase(ast), erase(again), "round trip changed the AST:\n{printed}");
}

#[test]
fn shipped_and_fixture_files_round_trip() {
    let mut files = actorc::load::stat_files_in(std::path::Path::new("rules")).unwrap();
    files.push("tests/data/check/ok_everything.stat".into());
    files.push("tests/data/situational/rules.stat".into());
    for f in files {
        round_trip(&std::fs::read_to_string(&f).unwrap());
    }
}

fn name() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["a", "b", "hp_max", "value", "x", "crit_rate"]).prop_map(String::from)
}

fn expr() -> impl Strategy<Value = Expr> {
    let leaf = prop_oneof![
        (0u32..10_000, 0u32..4).prop_map(|(m, e)| ExprKind::Number(m as f64 / 10f64.powi(e as i32))),
        Just(ExprKind::Number(1e300)),
        Just(ExprKind::Number(5e-324)),
        name().prop_map(ExprKind::Name),
    ]
    .prop_map(|kind| Expr { kind, span: Span::default() });
    leaf.prop_recursive(5, 48, 3, |inner| {
        // A chain's operators share one precedence; a comparison chain has one operator.
        let ops = prop_oneof![
            prop::collection::vec(prop::sample::select(vec![BinOp::Add, BinOp::Sub]), 1..4),
            prop::collection::vec(prop::sample::select(vec![BinOp::Mul, BinOp::Div, BinOp::Rem]), 1..4),
            prop::collection::vec(Just(BinOp::And), 1..3),
            prop::collection::vec(Just(BinOp::Or), 1..3),
            prop::sample::select(vec![BinOp::Lt, BinOp::Le, BinOp::Gt, BinOp::Ge, BinOp::Eq, BinOp::Ne])
                .prop_map(|op| vec![op]),
        ];
        let func = prop::sample::select(vec!["min", "max", "clamp", "pow", "sqrt", "ln", "lookup", "at"]);
        prop_oneof![
            inner.clone().prop_map(|a| ExprKind::Neg(Box::new(a))),
            inner.clone().prop_map(|a| ExprKind::Not(Box::new(a))),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| ExprKind::Power(Box::new(a), Box::new(b))),
            (ops, inner.clone(), prop::collection::vec(inner.clone(), 3)).prop_map(|(ops, first, operands)| {
                ExprKind::Chain(Box::new(first), ops.into_iter().zip(operands).collect())
            }),
            (inner.clone(), inner.clone(), inner.clone()).prop_map(|(c, t, f)| ExprKind::If(
                Box::new(c),
                Box::new(t),
                Box::new(f)
            )),
            (func, prop::collection::vec(inner, 1..4))
                .prop_map(|(f, args)| ExprKind::Call(Ident { name: f.into(), span: Span::default() }, args)),
        ]
        .prop_map(|kind| Expr { kind, span: Span::default() })
    })
}

fn ident(s: &str) -> Ident {
    Ident { name: s.into(), span: Span::default() }
}

fn item() -> impl Strategy<Value = Item> {
    let clause = prop_oneof![
        expr().prop_map(ClauseKind::Formula),
        (expr(), expr()).prop_map(|(a, b)| ClauseKind::Range(a, b)),
        Just(ClauseKind::Merge(ident("max"))),
        Just(ClauseKind::Pipeline(ident("v3"))),
        expr().prop_map(ClauseKind::Default),
    ]
    .prop_map(|kind| StatClause { kind, span: Span::default() });
    let stat = (any::<bool>(), name(), prop::collection::vec(clause, 0..4)).prop_map(|(p, n, clauses)| {
        ItemKind::Stat(StatDecl {
            category: if p { Category::Primary } else { Category::Derived },
            name: ident(&n.replace("value", "v").replace('x', "y")),
            clauses,
        })
    });
    let bucket = expr().prop_map(|apply| ItemKind::Bucket(BucketDecl { name: ident("B"), fold: ident("each"), apply }));
    let others = prop_oneof![
        Just(ItemKind::Pipeline(PipelineDecl { name: ident("p"), buckets: vec![ident("A"), ident("B")] })),
        Just(ItemKind::DefaultPipeline(ident("p"))),
        Just(ItemKind::Import(Import { path: "../core".into(), span: Span::default() })),
        Just(ItemKind::Layers(LayersDecl {
            layers: vec![
                LayerDef { name: ident("R"), requires: Some(ident("realm")) },
                LayerDef { name: ident("T"), requires: None }
            ],
            policies: vec![ident("intersect")],
            unscoped: vec![ident("T")],
        })),
        // The situation keywords are names elsewhere: a tag may be called `group`.
        Just(ItemKind::Tags(vec![ident("group"), ident("fire")])),
        Just(ItemKind::TagGroup(TagGroupDecl { name: ident("hot"), members: vec![ident("fire"), ident("view")] })),
        (1u32..4, prop::sample::select(vec!["highest", "lowest", "first"])).prop_map(|(limit, keep)| {
            ItemKind::Stack(StackDecl {
                name: ident("limit"),
                limit: limit.into(),
                limit_span: Span::default(),
                keep: ident(keep),
            })
        }),
        (name(), expr()).prop_map(|(n, value)| ItemKind::Const(ConstDecl { name: ident(&n.to_uppercase()), value })),
        (any::<bool>(), prop::collection::vec((expr(), expr()), 0..4)).prop_map(|(table, points)| {
            let decl = PointsDecl { name: ident("curve"), points, list_span: Span::default() };
            if table { ItemKind::Table(decl) } else { ItemKind::Curve(decl) }
        }),
        Just(ItemKind::View(ViewDecl {
            name: ident("fire_a"),
            source: ident("a"),
            tags: vec![ident("fire"), ident("with")]
        })),
    ];
    let doc = prop::collection::vec(prop::sample::select(vec!["", "A doc line.", "  indented"]), 0..2);
    (prop_oneof![stat, bucket, others], doc).prop_map(|(kind, doc)| Item {
        doc: doc.into_iter().map(|d| d.trim_end().to_string()).collect(),
        kind,
        span: Span::default(),
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn format_then_parse_is_identity(items in prop::collection::vec(item(), 0..6)) {
        let ast = Ast { items, ..Ast::default() };
        let printed = format_ast(&ast);
        let (again, diags) = parse_file(FileId(0), &printed, ParseLimits::default());
        prop_assert!(diags.is_empty(), "{printed}\n{diags:?}");
        prop_assert_eq!(erase(ast), erase(again), "{}", printed);
    }
}

/// A forgotten `;` costs nothing but its diagnostic: the declaration before it is kept, and
/// the doc comment after it still documents the next one.
#[test]
fn missing_semicolon_keeps_the_declarations() {
    let text = "primary a\nderived b = a * 2\n/// Doc.\nderived c = b + a;\nderived d = c";
    let (ast, diags) = parse_file(FileId(0), text, ParseLimits::default());
    let names: Vec<(&str, &[String])> = ast
        .items
        .iter()
        .map(|i| match &i.kind {
            ItemKind::Stat(s) => (s.name.name.as_str(), i.doc.as_slice()),
            _ => unreachable!(),
        })
        .collect();
    let doc = ["Doc.".to_string()];
    assert_eq!(names, [("a", &[][..]), ("b", &[][..]), ("c", &doc[..]), ("d", &[][..])]);
    let messages: Vec<(&str, usize)> =
        diags.iter().map(|d| (d.message.as_str(), d.main_span().unwrap().start as usize)).collect();
    assert_eq!(
        messages,
        [
            ("expected `;` after this declaration", "primary a".len()),
            ("expected `;` after this expression", text.find("2\n").unwrap() + 1),
            ("expected `;` after this expression", text.len()),
        ]
    );
    assert!(ast.unparsed.is_empty());
}
