//! The Cranelift JIT back end: the IR compiled into native kernels (one per few stats or
//! families of stats, compiled in parallel) that evaluate every stat for two actors at once
//! (one per `F64X2` lane); families first, then the other stats in id order.
//!
//! - [`Compiled`] owns the generated code (one `JITModule` per rule set, freed on drop).
//! - [`Batch`] is a batch of prepared actors laid out structure-of-arrays for the kernel
//!   (module `layout`): build it once ([`Compiled::batch`]), evaluate it as often as needed
//!   ([`Compiled::evaluate`]: no ingest, no layout).
//! - [`Compiled::evaluate_prepared`] lays out and evaluates chunk by chunk in per-thread
//!   buffers (the path of `Engine::evaluate_prepared_batch`); [`Compiled::evaluate_actors`]
//!   ingests each chunk first (the path of `Engine::evaluate_batch`).
//!
//! Both run the kernel over every lane pair (in parallel with rayon) and turn each lane into
//! exactly the result the interpreter returns (same snapshot bits, same `EvalError`).
//!
//! Invariant: every number goes through the same IEEE operation, in the same order, as in
//! [`crate::eval`]; lanes never mix, so batch size and thread count never change a bit.
//!
//! Debugging: with `ACTORC_JIT_DUMP` set, compiling prints the CLIF, the code size and the
//! machine code to stderr.

mod codegen;
mod family;
mod layout;

use crate::engine::{ActorError, RowsMut, ValueTable};
use crate::eval::EvalError;
use crate::ingest::{InputError, Prepared};
use crate::input::Actor;
use crate::ir::{Ir, Mode, StatId};
use crate::snapshot::{Entry, Snapshot};
use codegen::{Libm, Translator, decode_error};
use cranelift_codegen::ir::{AbiParam, FuncRef, Signature, UserFuncName};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::{FuncId, Linkage, Module, ModuleReloc, default_libcall_names};
use layout::{Layout, SlotDesc, StatDesc};
use rayon::prelude::*;
use std::ops::Range;
use std::sync::{Arc, Mutex};

/// The kernel: `(slots, stats, values, caps, out)` for one lane pair.
type Kernel = unsafe extern "C" fn(*const SlotDesc, *const StatDesc, *const f64, *const u64, *mut u64);

/// Stats compiled into one native function.
const STATS_PER_FUNCTION: usize = 4;

/// Actors per parallel task (32 lane pairs), and per layout of a [`Batch`].
const ACTORS_PER_TASK: usize = 64;

/// A parallel task's reused buffers: layout, one pair's kernel output, a lane's entries.
#[derive(Default)]
struct Buffers {
    layout: Layout,
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
    shape: layout::Shape,
    /// Kept only to free the code on drop (`JITModule` is `Send` but not `Sync`).
    module: Mutex<Option<JITModule>>,
    /// One function per few units (families first, then stats in id order), called in order.
    kernels: Vec<Kernel>,
    /// The family rows the kernels read by address (see [`family::Plan::rows`]).
    _rows: Box<[family::Row]>,
}

impl std::fmt::Debug for Compiled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Compiled").field("stats", &self.shape.stats).field("slots", &self.shape.slots).finish()
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

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

impl Compiled {
    /// Compiles `ir` (`opt_level=speed`); the error is Cranelift's message.
    pub fn new(ir: Arc<Ir>) -> Result<Compiled, String> {
        Self::with_chunks(ir, STATS_PER_FUNCTION)
    }

    /// Like [`Compiled::new`], with at most `stats_per_function` units (stats or families)
    /// per native function.
    pub fn with_chunks(ir: Arc<Ir>, stats_per_function: usize) -> Result<Compiled, String> {
        let verifier = if cfg!(debug_assertions) { "true" } else { "false" };
        let flags = [("opt_level", "speed"), ("enable_verifier", verifier)];
        let mut builder = JITBuilder::with_flags(&flags, default_libcall_names()).map_err(err)?;
        builder.symbol("actorc_pow", crate::num::pow as *const u8);
        builder.symbol("actorc_exp", crate::num::exp as *const u8);
        builder.symbol("actorc_ln", crate::num::ln as *const u8);
        let mut module = JITModule::new(builder);
        let shape = layout::Shape::new(&ir);
        let plan = family::plan(&ir, &shape, stats_per_function);
        match Self::build(&ir, &shape, &plan, &mut module) {
            Ok(kernels) => Ok(Compiled { ir, shape, module: Mutex::new(Some(module)), kernels, _rows: plan.rows }),
            Err(e) => {
                // SAFETY: no function of this module was ever handed out or called.
                unsafe { module.free_memory() };
                Err(e)
            }
        }
    }

    fn build(
        ir: &Ir,
        shape: &layout::Shape,
        plan: &family::Plan,
        module: &mut JITModule,
    ) -> Result<Vec<Kernel>, String> {
        let f64t = cranelift_codegen::ir::types::F64;
        let mut unary = module.make_signature();
        unary.params.push(AbiParam::new(f64t));
        unary.returns.push(AbiParam::new(f64t));
        let mut binary = unary.clone();
        binary.params.push(AbiParam::new(f64t));
        let pow = module.declare_function("actorc_pow", Linkage::Import, &binary).map_err(err)?;
        let exp = module.declare_function("actorc_exp", Linkage::Import, &unary).map_err(err)?;
        let ln = module.declare_function("actorc_ln", Linkage::Import, &unary).map_err(err)?;
        let imports = [(pow, binary), (exp, unary.clone()), (ln, unary)];

        let ptr = module.target_config().pointer_type();
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
        let compiled: Vec<Result<Function, String>> = jobs
            .par_iter()
            .enumerate()
            .map_init(
                || (cranelift_codegen::Context::new(), FunctionBuilderContext::new()),
                |(ctx, fctx), (k, job)| {
                    ctx.clear();
                    ctx.set_disasm(dump);
                    ctx.func.name = UserFuncName::user(0, k as u32);
                    let [pow, exp, ln] = imports.clone().map(|(id, sig)| import(&mut ctx.func, id, sig));
                    let libm = Libm { pow, exp, ln };
                    match job {
                        Job::Kernel(units) => {
                            ctx.func.signature = signature.clone();
                            let pipelines = pipeline_ids
                                .iter()
                                .map(|&(m, id)| (m, import(&mut ctx.func, id, pipeline_sig.clone())))
                                .collect();
                            let b = FunctionBuilder::new(&mut ctx.func, fctx);
                            let mut t = Translator::new(b, ir, shape, libm, pipelines);
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
                            Translator::pipeline_function(b, ir, shape, libm, *mode, config);
                        }
                    }
                    let clif = if dump { ctx.func.display().to_string() } else { String::new() };
                    let mut plane = cranelift_codegen::control::ControlPlane::default();
                    ctx.compile(isa, &mut plane).map_err(|e| format!("{:?}", e.inner))?;
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

    pub fn ir(&self) -> &Arc<Ir> {
        &self.ir
    }

    /// Lays out `actors` (prepared with this rule set) for evaluation.
    pub fn batch(&self, actors: &[Result<Prepared, InputError>]) -> Batch {
        let chunks = actors
            .par_chunks(ACTORS_PER_TASK)
            .map(|c| {
                let ok: Vec<&Prepared> = c.iter().filter_map(|a| a.as_ref().ok()).collect();
                Layout::new(&self.ir, &self.shape, &ok)
            })
            .collect();
        Batch { ir: self.ir.clone(), chunks, inputs: actors.iter().map(|a| a.as_ref().err().cloned()).collect() }
    }

    /// Lays out prepared actors (all without input errors).
    pub fn batch_prepared(&self, actors: &[&Prepared]) -> Batch {
        let chunks = actors.par_chunks(ACTORS_PER_TASK).map(|c| Layout::new(&self.ir, &self.shape, c)).collect();
        Batch { ir: self.ir.clone(), chunks, inputs: vec![None; actors.len()] }
    }

    /// Evaluates a laid-out batch: one result per actor, in order.
    ///
    /// # Panics
    /// If `batch` was laid out for another rule set.
    pub fn evaluate(&self, batch: &Batch) -> Vec<Result<Snapshot, ActorError>> {
        assert!(Arc::ptr_eq(&self.ir, &batch.ir), "a JIT batch must be evaluated with the rules it was laid out for");
        let results: Vec<Vec<_>> = batch
            .chunks
            .par_iter()
            .zip(batch.inputs.par_chunks(ACTORS_PER_TASK))
            .map_init(
                || (Vec::new(), Vec::new()),
                |(out, entries), (l, inputs)| {
                    let snaps = self.snapshots(l, out, entries);
                    in_place(inputs.iter().map(Option::as_ref), snaps)
                },
            )
            .collect();
        results.into_iter().flatten().collect()
    }

    /// Every stat's value per actor of a laid-out batch, without snapshots (see
    /// [`ValueTable`]), into `table` (its rows replaced, its memory reused); same numbers and
    /// errors as [`Compiled::evaluate`].
    ///
    /// # Panics
    /// If `batch` was laid out for another rule set.
    pub fn evaluate_values(&self, batch: &Batch, table: &mut ValueTable) {
        assert!(Arc::ptr_eq(&self.ir, &batch.ir), "a JIT batch must be evaluated with the rules it was laid out for");
        table.reset(self.ir.stats.len(), batch.len());
        let tasks = table.par_rows(batch.len(), ACTORS_PER_TASK).zip(&batch.chunks);
        tasks.zip(batch.inputs.par_chunks(ACTORS_PER_TASK)).for_each_init(Vec::new, |out, ((mut rows, l), inputs)| {
            self.fill_rows(l, inputs.iter().map(Option::as_ref), &mut rows, out)
        });
    }

    /// [`Compiled::evaluate_values`] of prepared actors, laid out chunk by chunk on the way
    /// (as [`Compiled::evaluate_prepared`] does).
    pub fn evaluate_prepared_values(&self, actors: &[Result<Prepared, InputError>], table: &mut ValueTable) {
        table.reset(self.ir.stats.len(), actors.len());
        let tasks = table.par_rows(actors.len(), ACTORS_PER_TASK).zip(actors.par_chunks(ACTORS_PER_TASK));
        tasks.for_each_init(Buffers::default, |bufs, (mut rows, chunk)| {
            let ok: Vec<&Prepared> = chunk.iter().filter_map(|a| a.as_ref().ok()).collect();
            bufs.layout.fill(&self.ir, &self.shape, &ok);
            self.fill_rows(&bufs.layout, chunk.iter().map(|a| a.as_ref().err()), &mut rows, &mut bufs.out);
        });
    }

    /// Fills `rows`, one per actor of a chunk: `errors` gives each actor's input error, and
    /// the others are `l`'s lanes, in order.
    fn fill_rows<'e>(
        &self,
        l: &Layout,
        errors: impl Iterator<Item = Option<&'e InputError>>,
        rows: &mut RowsMut,
        out: &mut Vec<u64>,
    ) {
        let mut lane_rows = Vec::with_capacity(l.lanes);
        for (i, e) in errors.enumerate() {
            match e {
                Some(e) => rows.fail(i, ActorError::from(e.clone())),
                None => lane_rows.push(i),
            }
        }
        self.run_pairs(l, out, |o, lanes| lanes.for_each(|lane| self.write_row(rows, lane_rows[lane], o, lane)));
    }

    /// Writes lane `lane`'s values (or its error) from its pair's kernel output `o` into
    /// row `i` of `rows`.
    fn write_row(&self, rows: &mut RowsMut, i: usize, o: &[u64], lane: usize) {
        let k = lane % 2;
        match self.error(o, k) {
            Some(e) => rows.fail(i, e.into()),
            None => {
                let words = o.chunks_exact(layout::STAT_OUT_WORDS);
                for (v, w) in rows.values(i).iter_mut().zip(words) {
                    *v = f64::from_bits(w[k]);
                }
            }
        }
    }

    /// Lane `k`'s error in one pair's output words `o`, if it failed.
    fn error(&self, o: &[u64], k: usize) -> Option<EvalError> {
        let e = self.shape.stats as usize * layout::STAT_OUT_WORDS;
        let code = o[e + k] as i64;
        (code != 0).then(|| {
            let (stat, phase) = decode_error(code);
            EvalError::new(self.ir.stat(stat), phase, f64::from_bits(o[e + 2 + k]))
        })
    }

    /// Evaluates prepared actors without keeping a layout: each parallel task lays out a
    /// chunk into its own reused buffers (hot in cache), runs the kernel and builds the
    /// snapshots. Same results as [`Compiled::batch`] then [`Compiled::evaluate`].
    pub fn evaluate_prepared(&self, actors: &[Result<Prepared, InputError>]) -> Vec<Result<Snapshot, ActorError>> {
        let chunks: Vec<Vec<_>> = actors
            .par_chunks(ACTORS_PER_TASK)
            .map_init(Buffers::default, |bufs, chunk| self.evaluate_chunk(chunk, bufs))
            .collect();
        chunks.into_iter().flatten().collect()
    }

    /// Ingests (with `prepare`) and evaluates `actors` chunk by chunk, so that each chunk's
    /// prepared actors are still in cache when they are laid out.
    pub fn evaluate_actors(
        &self,
        actors: &[Actor],
        prepare: impl Fn(&Actor) -> Result<Prepared, InputError> + Sync,
    ) -> Vec<Result<Snapshot, ActorError>> {
        let chunks: Vec<Vec<_>> = actors
            .par_chunks(ACTORS_PER_TASK)
            .map_init(
                || (Buffers::default(), Vec::new()),
                |(bufs, prepared), chunk| {
                    prepared.clear();
                    prepared.extend(chunk.iter().enumerate().map(|(i, a)| {
                        prefetch_next(chunk, i);
                        prepare(a)
                    }));
                    self.evaluate_chunk(prepared, bufs)
                },
            )
            .collect();
        chunks.into_iter().flatten().collect()
    }

    /// One chunk's results, in order; input errors stay in place.
    fn evaluate_chunk(
        &self,
        chunk: &[Result<Prepared, InputError>],
        bufs: &mut Buffers,
    ) -> Vec<Result<Snapshot, ActorError>> {
        let ok: Vec<&Prepared> = chunk.iter().filter_map(|a| a.as_ref().ok()).collect();
        bufs.layout.fill(&self.ir, &self.shape, &ok);
        let snaps = self.snapshots(&bufs.layout, &mut bufs.out, &mut bufs.entries);
        in_place(chunk.iter().map(|a| a.as_ref().err()), snaps)
    }

    /// Every lane's result of `l`, in order.
    fn snapshots(&self, l: &Layout, out: &mut Vec<u64>, entries: &mut Vec<Entry>) -> Vec<Result<Snapshot, EvalError>> {
        let mut snaps = Vec::with_capacity(l.lanes);
        self.run_pairs(l, out, |o, lanes| {
            snaps.extend(lanes.map(|lane| self.snapshot(l, o, lane, entries)));
        });
        snaps
    }

    /// Runs the kernel pair by pair into one pair's output words `out` (which stay in the
    /// core's L1 cache), handing each pair's output and its lanes (indices into `l`'s lanes)
    /// to `visit` at once.
    fn run_pairs(&self, l: &Layout, out: &mut Vec<u64>, mut visit: impl FnMut(&[u64], Range<usize>)) {
        out.clear();
        out.resize(self.shape.out_words(), 0);
        for pair in 0..l.pairs {
            out.fill(0);
            self.run_pair(l, pair, out);
            visit(out, 2 * pair..(2 * pair + 2).min(l.lanes));
        }
    }

    /// Runs every kernel function on lane pair `pair` of `l`, writing its output words `out`
    /// (zeroed).
    fn run_pair(&self, l: &Layout, pair: usize, out: &mut [u64]) {
        let (slots, stats) = (self.shape.slots as usize, self.shape.stats as usize);
        assert!(
            (pair + 1) * slots <= l.slots.len()
                && (pair + 1) * stats <= l.stats.len()
                && out.len() == self.shape.out_words(),
            "a layout or output of another shape"
        );
        // The functions run in stat order; each reads the values and error words the
        // previous ones wrote to the same output words.
        for kernel in &self.kernels {
            // SAFETY: `l` was laid out for this rule set (checked by `evaluate`): the pair's
            // descriptors are in bounds (asserted above), every offset they hold points into
            // `l.values` / `l.caps` with all the elements the kernel reads, and `out` has the
            // pair's output words. The family rows the code reads by address live in
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
    fn snapshot(&self, l: &Layout, o: &[u64], lane: usize, buf: &mut Vec<Entry>) -> Result<Snapshot, EvalError> {
        let k = lane % 2;
        if let Some(e) = self.error(o, k) {
            return Err(e);
        }
        let meta = &l.actors[lane];
        buf.clear();
        buf.extend(l.entries[meta.entries.0 as usize..meta.entries.1 as usize].iter().map(|&(s, flags)| {
            let w = s as usize * layout::STAT_OUT_WORDS;
            Entry {
                stat: StatId(s),
                flags,
                value: f64::from_bits(o[w + k]),
                min: f64::from_bits(o[w + 2 + k]),
                max: f64::from_bits(o[w + 4 + k]),
            }
        }));
        Ok(Snapshot::new(meta.version, buf, meta.context.clone(), self.ir.shape.clone()))
    }
}

/// One result per actor of a chunk: its input error (from `errors`), or the next of the
/// evaluated lanes' results `evaluated`, in order.
fn in_place<'e, T>(
    errors: impl Iterator<Item = Option<&'e InputError>>,
    evaluated: Vec<Result<T, EvalError>>,
) -> Vec<Result<T, ActorError>> {
    let mut evaluated = evaluated.into_iter();
    errors
        .map(|e| match e {
            Some(e) => Err(ActorError::from(e.clone())),
            None => evaluated.next().expect("one result per evaluated actor").map_err(Into::into),
        })
        .collect()
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

/// Prepared actors laid out for the kernel of one rule set. Evaluating a `Batch` again skips
/// both ingest and layout. Input errors are kept in place, so results line up with the actors.
#[derive(Debug, Clone)]
pub struct Batch {
    ir: Arc<Ir>,
    /// One layout per `ACTORS_PER_TASK` consecutive actors (one parallel task), of the
    /// prepared ones among them.
    chunks: Vec<Layout>,
    /// Per actor: its input error, or `None` when it was prepared.
    inputs: Vec<Option<InputError>>,
}

impl Batch {
    /// Number of actors (prepared or not).
    pub fn len(&self) -> usize {
        self.inputs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.inputs.is_empty()
    }

    /// Bytes of the laid-out numbers and descriptors the kernels read: (slot descriptors,
    /// stat descriptors, contributions, caps).
    pub fn kernel_bytes(&self) -> (usize, usize, usize, usize) {
        self.chunks.iter().fold((0, 0, 0, 0), |(a, b, c, d), l| {
            (
                a + size_of_val(&l.slots[..]),
                b + size_of_val(&l.stats[..]),
                c + size_of_val(&l.values[..]),
                d + size_of_val(&l.caps[..]),
            )
        })
    }
}
