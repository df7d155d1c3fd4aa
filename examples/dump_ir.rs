fn main() {
    let p = std::env::args().nth(1).unwrap();
    let c = actorc::rules::compile(&[p.into()], &Default::default()).unwrap();
    print!("{}", actorc::diag::render(&c.sources, &c.diagnostics, false));
    if let Some(ir) = c.ir {
        print!("{}", actorc::ir::dump(&ir));
    }
}
