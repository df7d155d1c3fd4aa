#[path = "../benches/common/mod.rs"]
mod common;
use actorc::{Backend, Engine};
use std::time::Instant;
fn main() {
    let which = std::env::args().nth(1).unwrap_or("v3".into());
    let mode = std::env::args().nth(2).unwrap_or("kept".into());
    let path = if which == "v3" { "rules/actor_core_v3" } else { "rules/rpg" };
    let rules = common::load_rules(path).unwrap();
    let w = common::Workload::from_ir(&rules.ir);
    let actors = w.actors(std::env::var("ACTORS").map(|v| v.parse().unwrap()).unwrap_or(common::ACTORS), common::SEED);
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
    pool.install(|| {
        let backend = if mode == "interp" || mode == "values" && std::env::var_os("INTERP").is_some() {
            Backend::Interpreter
        } else {
            Backend::Jit
        };
        let e = Engine::new(&rules, backend).unwrap();
        let batch = e.prepare_batch(&actors);
        let layout = e.layout(&batch);
        if let Some(l) = &layout {
            let (a, b, c, d) = l.kernel_bytes();
            let n = actors.len();
            println!("per actor: slots {} stats {} values {} caps {}", a / n, b / n, c / n, d / n);
        }
        for _ in 0..3 {
            let t = Instant::now();
            let n: usize = std::env::var("N").map(|v| v.parse().unwrap()).unwrap_or(20);
            for _ in 0..n {
                match mode.as_str() {
                    "ingest" => {
                        std::hint::black_box(e.prepare_batch(&actors));
                    }
                    "batch" => {
                        std::hint::black_box(e.evaluate_batch(&actors));
                    }
                    "vkept" => {
                        std::hint::black_box(e.evaluate_layout_values(layout.as_ref().unwrap()));
                    }
                    "values" => {
                        std::hint::black_box(e.evaluate_values(&batch));
                    }
                    "kept" => {
                        std::hint::black_box(e.evaluate_layout(layout.as_ref().unwrap()));
                    }
                    _ => {
                        std::hint::black_box(e.evaluate_prepared_batch(&batch));
                    }
                }
            }
            println!("{mode}: {:.0} ns/actor", t.elapsed().as_nanos() as f64 / (n * actors.len()) as f64);
        }
    });
}
