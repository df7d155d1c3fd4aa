//! Writes the standard workload as NDJSON, for timing `actorc run` end to end.
//!
//! ```sh
//! ACTORC_NDJSON_OUT=/tmp/actors.ndjson ACTORC_NDJSON_ACTORS=100000 \
//!     cargo bench --bench gen_ndjson
//! time target/release/actorc run rules/actor_core_v3 --input /tmp/actors.ndjson \
//!     --output /dev/null --quiet
//! ```
//!
//! Without `ACTORC_NDJSON_OUT` it does nothing (so `cargo bench` stays quick).
//! `ACTORC_NDJSON_RULES` picks the rule set (default `rules/actor_core_v3`).

mod common;

use common::{SEED, Workload};
use std::io::Write;

fn main() {
    let Ok(out) = std::env::var("ACTORC_NDJSON_OUT") else {
        eprintln!("gen_ndjson: set ACTORC_NDJSON_OUT=FILE (and ACTORC_NDJSON_ACTORS=N) to write actors");
        return;
    };
    let n: usize = std::env::var("ACTORC_NDJSON_ACTORS").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000);
    let rules_path = std::env::var("ACTORC_NDJSON_RULES").unwrap_or_else(|_| "rules/actor_core_v3".into());
    let rules = common::load_rules(&rules_path).expect("rules load");
    let workload = Workload::from_ir(&rules.ir);
    let mut rng = common::Rng::new(SEED);
    let mut w = std::io::BufWriter::new(std::fs::File::create(&out).expect("create output"));
    for i in 0..n {
        let actor = workload.actor(&mut rng, i);
        serde_json::to_writer(&mut w, &actor).expect("write");
        w.write_all(b"\n").expect("write");
    }
    w.flush().expect("flush");
    eprintln!("gen_ndjson: wrote {n} actors over {rules_path} to {out}");
}
