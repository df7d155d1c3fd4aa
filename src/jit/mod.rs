//! The Cranelift JIT back end: the IR compiled into native kernels (one per few stats or
//! families of stats, compiled in parallel) that evaluate every stat for two actors at once
//! (one per `F64X2` lane); families first, then the other stats in id order.
//!
//! - [`Compiled`] owns the generated code (one `JITModule` per rule set, freed on drop).
//! - [`ChunkLayout`] is one parallel task's prepared actors laid out structure-of-arrays for
//!   the kernel (module `layout`); [`Compiled::lay_out`] fills one.
//! - [`Compiled::snapshots`] and [`Compiled::values`] run the kernel over every lane pair of
//!   a layout and turn each lane into exactly the result the interpreter returns (same
//!   snapshot bits, same `EvalError`).
//!
//! The engine drives: it chunks batches, runs the chunks in parallel and places input errors;
//! this module only evaluates one chunk. The contract with the generated code is `abi`.
//!
//! Invariant: every number goes through the same IEEE operation, in the same order, as in
//! [`crate::eval`]; lanes never mix, so batch size and thread count never change a bit.
//!
//! Debugging: with `ACTORC_JIT_DUMP` set, compiling prints the CLIF, the code size and the
//! machine code to stderr.

// The only module allowed `unsafe` (calling generated code, freeing it, prefetching); every
// block carries a `// SAFETY:` note.
#![allow(unsafe_code)]

mod abi;
mod codegen;
mod family;
mod layout;

use crate::eval::EvalError;
use crate::ingest::Prepared;
use crate::input::Actor;
use crate::ir::{Ir, Mode, StatId};
use crate::snapshot::{Entry, Snapshot};
use abi::{Kernel, decode_error};
use codegen::{Libm, Translator};
use cranelift_codegen::ir::{AbiParam, FuncRef, Signature, UserFuncName};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::{FuncId, Linkage, Module, ModuleReloc, default_libcall_names};
pub(crate) use layout::ChunkLayout;
use rayon::prelude::*;
use std::ops::Range;
use std::sync::{Arc, Mutex};

/// Units (stats or families of stats) compiled into one native function.
pub(crate) const UNITS_PER_FUNCTION: usize = 4;

/// A parallel task's reused buffers: layout, one pair's kernel output, a lane's entries.
#[derive(Default)]
pub(crate) struct Buffers {
    layout: ChunkLayout,
    out: Vec<u64>,
    entries: Vec<Entry>,
}

/// A native function to build: a kernel function over a few units, or the shared function
/// of a pipeline or operator.
enum Job<'a> {
    Kernel(&'a [family::Unit]),
    Pipeline(Mode),
}

/// One function's machine code, compiled off the module, to be placed into it.
struct Function {
    alignment: u64,
    bytes: Vec<u8>,
    relocs: Vec<ModuleReloc>,
    dump_text: String,
}

/// `lookup(table, key)` for JIT code, which passes the address of a table's [`Points`](crate::ir::Points).
extern "C" fn lookup(table: *const u8, key: f64) -> f64 {
    // SAFETY: the code passes the address of a table of the `Ir` that its `Compiled` holds in
    // an `Arc`, never mutated, for as long as the code can run.
    unsafe { &*table.cast::<crate::ir::Points>() }.get(key)
}

/// `at(curve, x)` for JIT code, which passes the address of a curve's [`Points`](crate::ir::Points).
extern "C" fn curve_at(curve: *const u8, x: f64) -> f64 {
    // SAFETY: as for `lookup`: a curve of the `Ir` the running code's `Compiled` holds.
    unsafe { &*curve.cast::<crate::ir::Points>() }.at(x)
}

/// Imports function `id` of the module into `func`, as `Module::declare_func_in_func`
/// does (which needs the module mutably, so not from several threads).
fn import(func: &mut cranelift_codegen::ir::Function, id: FuncId, sig: Signature) -> FuncRef {
    use cranelift_codegen::ir::{ExtFuncData, ExternalName, UserExternalName};
    let signature = func.import_signature(sig);
    let name = func.declare_imported_user_function(UserExternalName { namespace: 0, index: id.as_u32() });
    func.import_function(ExtFuncData { name: ExternalName::user(name), signature, colocated: false, patchable: false })
}

/// Native code for one rule set. Cloning the [`Arc`] around it shares the code; the code is
/// freed when the last owner drops it.
pub struct Compiled {
    ir: Arc<Ir>,
    dims: abi::Dims,
    /// Kept only to free the code on drop (`JITModule` is `Send` but not `Sync`).
    module: Mutex<Option<JITModule>>,
    /// One function per few units (families first, then stats in id order), called in order.
    kernels: Vec<Kernel>,
    /// The family rows the kernels read by address (see [`family::Plan::rows`]).
    _rows: Box<[abi::Row]>,
}

impl std::fmt::Debug for Compiled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Compiled").field("stats", &self.dims.stats).field("slots", &self.dims.slots).finish()
    }
}

impl Drop for Compiled {
    fn drop(&mut self) {
        let module = self.module.get_mut().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(module) = module {
            // SAFETY: the kernel pointers live only in `self`, which is being dropped, so no
            // kernel is running and none can be called after this.
            unsafe { module.free_memory() };
        }
    }
}

/// Why Cranelift could not compile a rule set: its own error, as the source.
pub(crate) type CompileError = Box<dyn std::error::Error + Send + Sync>;

fn err(e: impl std::error::Error + Send + Sync + 'static) -> CompileError {
    Box::new(e)
}

impl Compiled {
    /// Compiles `ir` (`opt_level=speed`) into native functions of at most
    /// `units_per_function` units (stats or families) each.
    pub fn with_function_size(ir: Arc<Ir>, units_per_function: usize) -> Result<Compiled, CompileError> {
        let verifier = if cfg!(debug_assertions) { "true" } else { "false" };
        let flags = [("opt_level", "speed"), ("enable_verifier", verifier)];
        let mut builder = JITBuilder::with_flags(&flags, default_libcall_names()).map_err(err)?;
        builder.symbol("actorc_pow", crate::num::pow as *const u8);
        builder.symbol("actorc_exp", crate::num::exp as *const u8);
        builder.symbol("actorc_ln", crate::num::ln as *const u8);
        builder.symbol("actorc_rem", crate::num::rem as *const u8);
        builder.symbol("actorc_lookup", lookup as *const u8);
        builder.symbol("actorc_at", curve_at as *const u8);
        let mut module = JITModule::new(builder);
        let dims = abi::Dims::new(&ir);
        let plan = family::plan(&ir, units_per_function);
        match Self::build(&ir, &dims, &plan, &mut module) {
            Ok(kernels) => Ok(Compiled { ir, dims, module: Mutex::new(Some(module)), kernels, _rows: plan.rows }),
            Err(e) => {
                // SAFETY: no function of this module was ever handed out or called.
                unsafe { module.free_memory() };
                Err(e)
            }
        }
    }

    fn build(
        ir: &Ir,
        dims: &abi::Dims,
        plan: &family::Plan,
        module: &mut JITModule,
    ) -> Result<Vec<Kernel>, CompileError> {
        let f64t = cranelift_codegen::ir::types::F64;
        let mut unary = module.make_signature();
        unary.params.push(AbiParam::new(f64t));
        unary.returns.push(AbiParam::new(f64t));
        let mut binary = unary.clone();
        binary.params.push(AbiParam::new(f64t));
        let pow = module.declare_function("actorc_pow", Linkage::Import, &binary).map_err(err)?;
        let exp = module.declare_function("actorc_exp", Linkage::Import, &unary).map_err(err)?;
        let ln = module.declare_function("actorc_ln", Linkage::Import, &unary).map_err(err)?;
        let rem = module.declare_function("actorc_rem", Linkage::Import, &binary).map_err(err)?;
        let ptr = module.target_config().pointer_type();
        let mut points = module.make_signature();
        points.params.extend([AbiParam::new(ptr), AbiParam::new(f64t)]);
        points.returns.push(AbiParam::new(f64t));
        let lookup = module.declare_function("actorc_lookup", Linkage::Import, &points).map_err(err)?;
        let at = module.declare_function("actorc_at", Linkage::Import, &points).map_err(err)?;
        let imports = [
            (pow, binary.clone()),
            (exp, unary.clone()),
            (ln, unary),
            (rem, binary),
            (lookup, points.clone()),
            (at, points),
        ];

        let mut signature = module.make_signature();
        signature.params = Translator::signature_params(ptr);
        let mut pipeline_sig = module.make_signature();
        (pipeline_sig.params, pipeline_sig.returns) = Translator::pipeline_signature(ptr);
        // One shared function per mode of the stats outside families.
        let mut modes: Vec<Mode> = Vec::new();
        for unit in plan.functions.iter().flatten() {
            if let family::Unit::Stat(id) = unit
                && !modes.contains(&ir.stat(*id).mode)
            {
                modes.push(ir.stat(*id).mode);
            }
        }
        // Kernel functions run one after the other, each on a few units: one function per
        // few units keeps each function small (Cranelift's compile time grows faster than
        // linearly with function size). Every function compiles in parallel with the others;
        // only placing the code in the module is sequential.
        let mut jobs: Vec<Job> = plan.functions.iter().map(|units| Job::Kernel(units)).collect();
        jobs.extend(modes.iter().map(|&m| Job::Pipeline(m)));
        let mut funcs = Vec::with_capacity(jobs.len());
        for (k, job) in jobs.iter().enumerate() {
            let (name, sig) = match job {
                Job::Kernel(_) => (format!("actorc_rules_{k}"), &signature),
                Job::Pipeline(_) => (format!("actorc_pipeline_{k}"), &pipeline_sig),
            };
            funcs.push(module.declare_function(&name, Linkage::Local, sig).map_err(err)?);
        }
        let pipeline_ids: Vec<(Mode, FuncId)> = jobs
            .iter()
            .zip(&funcs)
            .filter_map(|(j, &id)| if let Job::Pipeline(m) = j { Some((*m, id)) } else { None })
            .collect();
        let dump = std::env::var_os("ACTORC_JIT_DUMP").is_some();
        let (isa, config) = (module.isa(), module.target_config());
        let compiled: Vec<Result<Function, CompileError>> = jobs
            .par_iter()
            .enumerate()
            .map_init(
                || (cranelift_codegen::Context::new(), FunctionBuilderContext::new()),
                |(ctx, fctx), (k, job)| {
                    ctx.clear();
                    ctx.set_disasm(dump);
                    ctx.func.name = UserFuncName::user(0, k as u32);
                    let [pow, exp, ln, rem, lookup, at] =
                        imports.clone().map(|(id, sig)| import(&mut ctx.func, id, sig));
                    let libm = Libm { pow, exp, ln, rem, lookup, at, ptr };
                    match job {
                        Job::Kernel(units) => {
                            ctx.func.signature = signature.clone();
                            let pipelines = pipeline_ids
                                .iter()
                                .map(|&(m, id)| (m, import(&mut ctx.func, id, pipeline_sig.clone())))
                                .collect();
                            let b = FunctionBuilder::new(&mut ctx.func, fctx);
                            let mut t = Translator::new(b, ir, dims, libm, pipelines);
                            for unit in *units {
                                match unit {
                                    family::Unit::Family(mode, rows) => t.family(*mode, &plan.rows[rows.clone()]),
                                    family::Unit::Stat(id) => t.stat(*id),
                                }
                            }
                            t.finish(config);
                        }
                        Job::Pipeline(mode) => {
                            ctx.func.signature = pipeline_sig.clone();
                            let b = FunctionBuilder::new(&mut ctx.func, fctx);
                            Translator::pipeline_function(b, ir, dims, libm, *mode, config);
                        }
                    }
                    let clif = if dump { ctx.func.display().to_string() } else { String::new() };
                    let mut plane = cranelift_codegen::control::ControlPlane::default();
                    ctx.compile(isa, &mut plane).map_err(|e| err(e.inner))?;
                    let code = ctx.compiled_code().expect("just compiled");
                    let id = funcs[k];
                    let relocs =
                        code.buffer.relocs().iter().map(|r| ModuleReloc::from_mach_reloc(r, &ctx.func, id)).collect();
                    let mut dump_text = String::new();
                    if dump {
                        dump_text = format!("{clif}\ncode size: {} bytes\n", code.code_info().total_size);
                        if let Some(v) = &code.vcode {
                            dump_text.push_str(v);
                        }
                    }
                    Ok(Function {
                        alignment: code.buffer.alignment as u64,
                        bytes: code.code_buffer().to_vec(),
                        relocs,
                        dump_text,
                    })
                },
            )
            .collect();
        for (k, f) in compiled.into_iter().enumerate() {
            let f = f?;
            if dump {
                eprintln!("{}", f.dump_text);
            }
            module.define_function_bytes(funcs[k], f.alignment, &f.bytes, &f.relocs).map_err(err)?;
        }
        module.finalize_definitions().map_err(err)?;
        let kernels = jobs
            .iter()
            .zip(funcs)
            .filter(|(job, _)| matches!(job, Job::Kernel(_)))
            .map(|(_, id)| {
                let code = module.get_finalized_function(id);
                // SAFETY: `code` is a function just defined with the signature of `Kernel`
                // (five pointer parameters, no result, the ISA's default C calling convention).
                unsafe { std::mem::transmute::<*const u8, Kernel>(code) }
            })
            .collect();
        Ok(kernels)
    }

    /// Lays out `actors` (prepared with this rule set, at most one parallel task's) into `l`.
    pub(crate) fn lay_out(&self, actors: &[&Prepared], l: &mut ChunkLayout) {
        l.fill(&self.ir, &self.dims, actors);
    }

    /// A new layout of `actors` (see [`Compiled::lay_out`]).
    pub(crate) fn layout(&self, actors: &[&Prepared]) -> ChunkLayout {
        let mut l = ChunkLayout::default();
        self.lay_out(actors, &mut l);
        l
    }

    /// Lays out and evaluates `actors` in `bufs`: one result per actor, in order.
    pub(crate) fn evaluate(&self, actors: &[&Prepared], bufs: &mut Buffers) -> Vec<Result<Snapshot, EvalError>> {
        self.lay_out(actors, &mut bufs.layout);
        self.lane_snapshots(&bufs.layout, &mut bufs.out, &mut bufs.entries)
    }

    /// Lays out `actors` in `bufs` and hands each one's values (by its index) to `visit`.
    pub(crate) fn evaluate_values(
        &self,
        actors: &[&Prepared],
        bufs: &mut Buffers,
        visit: impl FnMut(usize, Result<LaneValues, EvalError>),
    ) {
        self.lay_out(actors, &mut bufs.layout);
        self.values(&bufs.layout, &mut bufs.out, visit);
    }

    /// Hands each lane's values of `l` (by lane) to `visit`, in order.
    pub(crate) fn values(
        &self,
        l: &ChunkLayout,
        out: &mut Vec<u64>,
        mut visit: impl FnMut(usize, Result<LaneValues, EvalError>),
    ) {
        self.run_pairs(l, out, |o, lanes| {
            for lane in lanes {
                let k = lane % 2;
                visit(lane, self.error(o, k).map_or(Ok(LaneValues { words: o, k }), Err));
            }
        });
    }

    /// Lane `k`'s error in one pair's output words `o`, if it failed.
    fn error(&self, o: &[u64], k: usize) -> Option<EvalError> {
        let e = self.dims.stats as usize * abi::STAT_OUT_WORDS;
        let code = o[e + k] as i64;
        (code != 0).then(|| {
            let (stat, phase) = decode_error(code);
            // The lane's values of the stats before the failing one.
            let values: Vec<f64> = (0..stat.index()).map(|s| f64::from_bits(o[s * abi::STAT_OUT_WORDS + k])).collect();
            EvalError::of(&self.ir, stat, phase, f64::from_bits(o[e + 2 + k]), &values)
        })
    }

    /// Every lane's result of a kept layout `l`, in order (`bufs`' own layout is not used).
    pub(crate) fn snapshots(&self, l: &ChunkLayout, bufs: &mut Buffers) -> Vec<Result<Snapshot, EvalError>> {
        self.lane_snapshots(l, &mut bufs.out, &mut bufs.entries)
    }

    /// Every lane's result of `l`, in order.
    fn lane_snapshots(
        &self,
        l: &ChunkLayout,
        out: &mut Vec<u64>,
        entries: &mut Vec<Entry>,
    ) -> Vec<Result<Snapshot, EvalError>> {
        let mut snaps = Vec::with_capacity(l.lanes);
        self.run_pairs(l, out, |o, lanes| {
            snaps.extend(lanes.map(|lane| self.snapshot(l, o, lane, entries)));
        });
        snaps
    }

    /// Runs the kernel pair by pair into one pair's output words `out` (which stay in the
    /// core's L1 cache), handing each pair's output and its lanes (indices into `l`'s lanes)
    /// to `visit` at once.
    fn run_pairs(&self, l: &ChunkLayout, out: &mut Vec<u64>, mut visit: impl FnMut(&[u64], Range<usize>)) {
        assert_eq!(l.rules, Arc::as_ptr(&self.ir) as usize, "a layout of other rules");
        out.clear();
        out.resize(self.dims.out_words(), 0);
        for pair in 0..l.pairs {
            out.fill(0);
            self.run_pair(l, pair, out);
            visit(out, 2 * pair..(2 * pair + 2).min(l.lanes));
        }
    }

    /// Runs every kernel function on lane pair `pair` of `l`, writing its output words `out`
    /// (zeroed).
    fn run_pair(&self, l: &ChunkLayout, pair: usize, out: &mut [u64]) {
        let (slots, stats) = (self.dims.slots as usize, self.dims.stats as usize);
        assert!(
            (pair + 1) * slots <= l.slots.len()
                && (pair + 1) * stats <= l.stats.len()
                && out.len() == self.dims.out_words(),
            "a layout or output of other dimensions"
        );
        // The functions run in stat order; each reads the values and error words the
        // previous ones wrote to the same output words.
        for kernel in &self.kernels {
            // SAFETY: `l` was filled by `ChunkLayout::fill` with this code's own `ir` and
            // `dims` (asserted in `run_pairs`: a layout records the `Ir` it was filled for, and
            // a kept layout holds that `Ir` alive, so the address cannot be another's). So
            // the pair's descriptors are in bounds (asserted above), every offset they hold
            // points into `l.values` / `l.caps` with all the elements the kernel reads
            // (`fill` leaves slack for the masked reads past a lane's count), and `out` has
            // the pair's output words. The family rows the code reads by address live in
            // `self._rows`. The kernel only reads those and writes `out`.
            unsafe {
                kernel(
                    l.slots.as_ptr().add(pair * slots),
                    l.stats.as_ptr().add(pair * stats),
                    l.values.as_ptr(),
                    l.caps.as_ptr(),
                    out.as_mut_ptr(),
                )
            }
        }
    }

    /// Lane `lane`'s result from its pair's output words `o`; `buf` is scratch space.
    fn snapshot(&self, l: &ChunkLayout, o: &[u64], lane: usize, buf: &mut Vec<Entry>) -> Result<Snapshot, EvalError> {
        let k = lane % 2;
        if let Some(e) = self.error(o, k) {
            return Err(e);
        }
        let meta = &l.actors[lane];
        buf.clear();
        buf.extend(l.entries[meta.entries.0 as usize..meta.entries.1 as usize].iter().map(|&(s, flags)| {
            let w = s as usize * abi::STAT_OUT_WORDS;
            Entry {
                stat: StatId(s),
                flags,
                value: f64::from_bits(o[w + k]),
                min: f64::from_bits(o[w + 2 + k]),
                max: f64::from_bits(o[w + 4 + k]),
            }
        }));
        Ok(Snapshot::new(meta.version, buf, meta.context.clone(), self.ir.schema.clone()))
    }
}

/// One lane's values in its pair's output words.
pub(crate) struct LaneValues<'o> {
    words: &'o [u64],
    k: usize,
}

impl LaneValues<'_> {
    /// Writes every stat's value, in id order, into `row`.
    pub(crate) fn write(&self, row: &mut [f64]) {
        for (v, w) in row.iter_mut().zip(self.words.chunks_exact(abi::STAT_OUT_WORDS)) {
            *v = f64::from_bits(w[self.k]);
        }
    }
}

/// Starts loading the lists of the actor after `actors[i]` (see [`prefetch_actor`]), so
/// that ingest overlaps its cache misses with the work on `actors[i]`.
pub(crate) fn prefetch_next(actors: &[Actor], i: usize) {
    if let Some(next) = actors.get(i + 1) {
        prefetch_actor(next);
    }
}

/// Starts loading an actor's contribution and cap lists (their first lines; the hardware
/// streams the rest), which live in separate heap blocks that ingest would otherwise
/// meet cold, one cache miss after another.
fn prefetch_actor(a: &Actor) {
    for s in &a.subsystems {
        prefetch_slice(&s.primary[..s.primary.len().min(PREFETCH_ITEMS)]);
        prefetch_slice(&s.derived[..s.derived.len().min(PREFETCH_ITEMS)]);
        prefetch_slice(&s.caps[..s.caps.len().min(PREFETCH_ITEMS)]);
    }
}

/// Items of each list [`prefetch_actor`] asks for.
const PREFETCH_ITEMS: usize = 4;

/// Prefetches every cache line of `xs`.
fn prefetch_slice<T>(xs: &[T]) {
    let bytes = xs.as_ptr_range();
    let (mut p, end) = (bytes.start as usize & !63, bytes.end as usize);
    while p < end {
        prefetch(p as *const u8);
        p += 64;
    }
}

#[cfg(target_arch = "x86_64")]
fn prefetch(p: *const u8) {
    use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
    // SAFETY: a prefetch is only a hint: it never faults and has no visible effect.
    unsafe { _mm_prefetch::<_MM_HINT_T0>(p.cast()) }
}

#[cfg(not(target_arch = "x86_64"))]
fn prefetch(_: *const u8) {}
