//! Translation of the IR into Cranelift functions, each evaluating a few units (stats, or
//! families of stats: see [`super::family`]) for one lane pair (two actors, one per `F64X2`
//! lane).
//!
//! Signature: `extern "C" fn(slots, stats, values, caps, out)` (`abi::Kernel`) — `slots` and
//! `stats` point at the pair's descriptors, `values` and `caps` at its chunk layout's pools,
//! `out` at the pair's output words (see `super::abi`). A stat outside a family calls the shared function
//! of its pipeline or operator ([`Translator::pipeline_function`]). Every operation mirrors
//! [`crate::eval`] one for one: the same fold order and starts, `fmin`/`fmax` for min/max,
//! `nearest` for round, calls to [`crate::num`] for pow/exp/ln (per lane), both branches of
//! `if` then a select. A failed check records each failing lane's error in the output's error
//! words from a cold block, entered only when some lane failed; each lane keeps its smallest
//! error code, which is its first failing check in id order.

use super::abi::{
    self, Dims, SLOT_COUNTS, SLOT_SIZE, SLOT_START, STAT_CAPS, STAT_CAPS_LEN, STAT_ENTRY, STAT_OUT_WORDS, STAT_SIZE,
    STAT_VALUED, UNROLLED, error_code, record_words,
};
use super::family;
use crate::eval::Phase;
use crate::ir::{BinOp, Expr, Fold, Ir, Mode, Node, Operator, Policy, StatId, UnOp};
use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::types::{F64, F64X2, I64, I64X2};
use cranelift_codegen::ir::{AbiParam, FuncRef, InstBuilder, MemFlagsData, Value};
use cranelift_frontend::{FunctionBuilder, Variable};

/// The functions JIT code calls (`pow`, `exp`, `ln`, `%`, `lookup`, `at`), imported into the
/// function being built, and the pointer type.
pub(crate) struct Libm {
    pub pow: FuncRef,
    pub exp: FuncRef,
    pub ln: FuncRef,
    pub rem: FuncRef,
    /// `(table address, key)`.
    pub lookup: FuncRef,
    /// `(curve address, x)`.
    pub at: FuncRef,
    pub ptr: cranelift_codegen::ir::Type,
}

pub(crate) struct Translator<'a, 'b> {
    pub b: FunctionBuilder<'b>,
    pub ir: &'a Ir,
    pub dims: &'a Dims,
    pub libm: Libm,
    pipelines: Vec<(Mode, FuncRef)>,
    slots: Value,
    stats: Value,
    values: Value,
    caps: Value,
    out: Value,
    /// Each stat's final value per lane (0 where a lane has none).
    /// Values of the stats compiled in this function; earlier chunks' are loaded from `out`.
    stat_vals: Vec<Option<Value>>,
    zero: Value,
    zero_mask: Value,
}

fn mem() -> MemFlagsData {
    // Pools are `Vec`s of 8-byte words: loads are not 16-byte aligned.
    MemFlagsData::new().with_notrap()
}

impl<'a, 'b> Translator<'a, 'b> {
    /// Starts a kernel function (see the module doc): entry block and parameters. The error
    /// words live in `out` (zeroed by the caller before the first function runs), not in
    /// variables: a value live across every loop of the function would cost register
    /// allocation dearly. `pipelines` are the shared pipeline functions, by mode.
    pub fn new(
        b: FunctionBuilder<'b>,
        ir: &'a Ir,
        dims: &'a Dims,
        libm: Libm,
        pipelines: Vec<(Mode, FuncRef)>,
    ) -> Self {
        let (t, _) = Self::start(b, ir, dims, libm, pipelines, |p| [p[0], p[1], p[2], p[3], p[4]]);
        t
    }

    /// `pointers` picks `slots`, `stats`, `values`, `caps` and `out` among the parameters.
    fn start(
        mut b: FunctionBuilder<'b>,
        ir: &'a Ir,
        dims: &'a Dims,
        libm: Libm,
        pipelines: Vec<(Mode, FuncRef)>,
        pointers: fn(&[Value]) -> [Value; 5],
    ) -> (Self, Vec<Value>) {
        let entry = b.create_block();
        b.append_block_params_for_function_params(entry);
        b.switch_to_block(entry);
        let p = b.block_params(entry).to_vec();
        let z = b.ins().f64const(0.0);
        let zero = b.ins().splat(F64X2, z);
        let zi = b.ins().iconst(I64, 0);
        let zero_mask = b.ins().splat(I64X2, zi);
        let [slots, stats, values, caps, out] = pointers(&p);
        let t = Translator {
            b,
            ir,
            dims,
            libm,
            pipelines,
            slots,
            stats,
            values,
            caps,
            out,
            stat_vals: vec![None; ir.stats.len()],
            zero,
            zero_mask,
        };
        (t, p)
    }

    pub fn signature_params(ptr: cranelift_codegen::ir::Type) -> Vec<AbiParam> {
        vec![AbiParam::new(ptr); 5]
    }

    /// The signature of a shared pipeline function: the kernel's `values`, `caps` and `out`
    /// (at the pair's), then the stat's slot descriptors, stat descriptor and output words,
    /// its base value, bounds and error code; it returns the value.
    pub fn pipeline_signature(ptr: cranelift_codegen::ir::Type) -> (Vec<AbiParam>, Vec<AbiParam>) {
        let mut params = vec![AbiParam::new(ptr); 6];
        params.extend([F64X2, F64X2, F64X2, I64X2].map(AbiParam::new));
        (params, vec![AbiParam::new(F64X2)])
    }

    /// Builds the shared function of the pipeline or operator `mode`: one copy of its code
    /// that every stat with this mode outside a family calls, instead of one copy per stat
    /// (code size, not call overhead, is what limits a large rule set's kernels).
    pub fn pipeline_function(
        b: FunctionBuilder<'b>,
        ir: &'a Ir,
        dims: &'a Dims,
        libm: Libm,
        mode: Mode,
        config: cranelift_codegen::isa::TargetFrontendConfig,
    ) {
        // Only `values`, `caps` and `out` are read through the translator's own pointers.
        let (mut t, p) = Self::start(b, ir, dims, libm, Vec::new(), |p| [p[3], p[4], p[0], p[1], p[2]]);
        let at = |base| At { base, offset: 0 };
        let value = t.pipeline(mode, StatAt { slots: at(p[3]), stat: at(p[4]), out: at(p[5]) }, p[6], p[7], p[8], p[9]);
        t.b.ins().return_(&[value]);
        t.b.seal_all_blocks();
        t.b.finalize(config);
    }

    fn splat(&mut self, c: f64) -> Value {
        let s = self.b.ins().f64const(c);
        self.b.ins().splat(F64X2, s)
    }

    fn splat_i(&mut self, c: i64) -> Value {
        let s = self.b.ins().iconst(I64, c);
        self.b.ins().splat(I64X2, s)
    }

    fn as_f(&mut self, m: Value) -> Value {
        self.b.ins().bitcast(F64X2, MemFlagsData::new(), m)
    }

    /// `m ? x : y` per lane; `m` is an I64X2 mask.
    fn select(&mut self, m: Value, x: Value, y: Value) -> Value {
        let mf = self.as_f(m);
        self.b.ins().bitselect(mf, x, y)
    }

    fn bool_to_f64(&mut self, m: Value) -> Value {
        let one = self.splat(1.0);
        self.select(m, one, self.zero)
    }

    /// Calls `f` once per lane.
    fn per_lane(&mut self, f: FuncRef, args: &[Value]) -> Value {
        self.per_lane_after(f, &[], args)
    }

    /// Calls `f` once per lane, with the scalars `first` before the lane's `args`.
    fn per_lane_after(&mut self, f: FuncRef, first: &[Value], args: &[Value]) -> Value {
        let mut out = None;
        for lane in 0..2u8 {
            let mut xs = first.to_vec();
            xs.extend(args.iter().map(|&a| self.b.ins().extractlane(a, lane)));
            let call = self.b.ins().call(f, &xs);
            let r = self.b.inst_results(call)[0];
            out = Some(match out {
                None => self.b.ins().splat(F64X2, r),
                Some(v) => self.b.ins().insertlane(v, r, lane),
            });
        }
        out.expect("two lanes")
    }

    /// Evaluates `e` (post-order nodes) with the bucket variables `value` and `x`.
    fn expr(&mut self, e: Expr, value: Value, x: Value) -> Value {
        let start = e.start as usize;
        let mut vals: Vec<Value> = Vec::with_capacity(e.range().len());
        for i in e.range() {
            let at = |n: crate::ir::NodeId| n.index() - start;
            let v = match self.ir.nodes[i] {
                Node::Const(c) => self.splat(c),
                Node::Stat(s) => match self.stat_vals[s.index()] {
                    Some(v) => v,
                    None => {
                        let o = s.index() as i32 * STAT_OUT_WORDS as i32 * 8;
                        self.b.ins().load(F64X2, mem(), self.out, o)
                    }
                },
                Node::Value => value,
                Node::X => x,
                Node::Unary(op, a) => {
                    let a = vals[at(a)];
                    match op {
                        UnOp::Neg => self.b.ins().fneg(a),
                        UnOp::Abs => self.b.ins().fabs(a),
                        UnOp::Floor => self.b.ins().floor(a),
                        UnOp::Ceil => self.b.ins().ceil(a),
                        UnOp::Round => self.b.ins().nearest(a),
                        UnOp::Sqrt => self.b.ins().sqrt(a),
                        UnOp::Exp => self.per_lane(self.libm.exp, &[a]),
                        UnOp::Ln => self.per_lane(self.libm.ln, &[a]),
                        UnOp::Not => {
                            let m = self.b.ins().fcmp(FloatCC::Equal, a, self.zero);
                            self.bool_to_f64(m)
                        }
                    }
                }
                Node::Binary(op, a, c) => {
                    let (a, c) = (vals[at(a)], vals[at(c)]);
                    let cmp = |t: &mut Self, cc: FloatCC| {
                        let m = t.b.ins().fcmp(cc, a, c);
                        t.bool_to_f64(m)
                    };
                    match op {
                        BinOp::Add => self.b.ins().fadd(a, c),
                        BinOp::Sub => self.b.ins().fsub(a, c),
                        BinOp::Mul => self.b.ins().fmul(a, c),
                        BinOp::Div => self.b.ins().fdiv(a, c),
                        BinOp::Min => self.b.ins().fmin(a, c),
                        BinOp::Max => self.b.ins().fmax(a, c),
                        BinOp::Pow => self.per_lane(self.libm.pow, &[a, c]),
                        BinOp::Rem => self.per_lane(self.libm.rem, &[a, c]),
                        BinOp::And | BinOp::Or => {
                            // `truthy` is `!= 0`, NaN included (unordered or not equal).
                            let ma = self.b.ins().fcmp(FloatCC::NotEqual, a, self.zero);
                            let mc = self.b.ins().fcmp(FloatCC::NotEqual, c, self.zero);
                            let m = if op == BinOp::And { self.b.ins().band(ma, mc) } else { self.b.ins().bor(ma, mc) };
                            self.bool_to_f64(m)
                        }
                        BinOp::Lt => cmp(self, FloatCC::LessThan),
                        BinOp::Le => cmp(self, FloatCC::LessThanOrEqual),
                        BinOp::Gt => cmp(self, FloatCC::GreaterThan),
                        BinOp::Ge => cmp(self, FloatCC::GreaterThanOrEqual),
                        BinOp::Eq => cmp(self, FloatCC::Equal),
                        // Unordered or not equal, like Rust's `!=`.
                        BinOp::Ne => cmp(self, FloatCC::NotEqual),
                    }
                }
                Node::Select(c, a, f) => {
                    // `truthy(c)` is `c != 0`: NaN counts as true.
                    let m = self.b.ins().fcmp(FloatCC::NotEqual, vals[at(c)], self.zero);
                    self.select(m, vals[at(a)], vals[at(f)])
                }
                Node::Lookup(t, k) => {
                    let table: *const crate::ir::Points = &self.ir.tables[t.index()];
                    let address = self.b.ins().iconst(self.libm.ptr, table as i64);
                    self.per_lane_after(self.libm.lookup, &[address], &[vals[at(k)]])
                }
                Node::At(c, x) => {
                    let curve: *const crate::ir::Points = &self.ir.curves[c.index()];
                    let address = self.b.ins().iconst(self.libm.ptr, curve as i64);
                    self.per_lane_after(self.libm.at, &[address], &[vals[at(x)]])
                }
            };
            vals.push(v);
        }
        *vals.last().expect("an expression has a root")
    }

    /// Records the failure `code` (an I64X2 splat) with `got` in every lane of `bad` whose
    /// recorded error, if any, has a larger code. Codes grow with the stat id and then the
    /// phase, so each lane ends with its first failing check in evaluation order, whatever
    /// order the checks ran in (families run before the other stats).
    ///
    /// Failures are rare: the common path only tests `bad`, so that no chain of loads and
    /// stores of the error words runs through every check of a function.
    fn check(&mut self, bad: Value, code_v: Value, got: Value) {
        let any = self.b.ins().vany_true(bad);
        let record = self.b.create_block();
        let next = self.b.create_block();
        self.b.set_cold_block(record);
        self.b.ins().brif(any, record, &[], next, &[]);
        self.b.switch_to_block(record);
        self.b.seal_block(record);
        let o = self.error_offset();
        let old_code = self.b.ins().load(I64X2, mem(), self.out, o);
        let clean = self.b.ins().icmp(IntCC::Equal, old_code, self.zero_mask);
        let later = self.b.ins().icmp(IntCC::SignedGreaterThan, old_code, code_v);
        let first = self.b.ins().bor(clean, later);
        let new = self.b.ins().band(bad, first);
        let c = self.b.ins().bitselect(new, code_v, old_code);
        self.b.ins().store(mem(), c, self.out, o);
        let old_got = self.b.ins().load(F64X2, mem(), self.out, o + 16);
        let g = self.select(new, got, old_got);
        self.b.ins().store(mem(), g, self.out, o + 16);
        self.b.ins().jump(next, &[]);
        self.b.switch_to_block(next);
        self.b.seal_block(next);
    }

    /// Byte offset of the error words (code, then the value that failed) in `out`.
    fn error_offset(&self) -> i32 {
        self.dims.stats as i32 * STAT_OUT_WORDS as i32 * 8
    }

    /// Mask of lanes where `v` is NaN or infinite.
    fn not_finite(&mut self, v: Value) -> Value {
        let a = self.b.ins().fabs(v);
        let inf = self.splat(f64::INFINITY);
        // Ordered `<`: false for NaN.
        let ok = self.b.ins().fcmp(FloatCC::LessThan, a, inf);
        self.b.ins().bnot(ok)
    }

    fn load_mask(&mut self, base: Value, offset: i32) -> Value {
        self.b.ins().load(I64X2, mem(), base, offset)
    }

    /// A descriptor's mask: two 32-bit lanes, sign-extended to an I64X2 mask.
    fn lane_mask(&mut self, base: Value, offset: i32) -> Value {
        self.b.ins().sload32x2(mem(), base, offset)
    }

    /// The range bound `e`, checked (in lanes with an entry) like `eval`'s `bound`.
    fn bound(&mut self, e: Option<Expr>, inf: f64, entry: Value, code: i64) -> Value {
        // An absent bound or a finite constant never fails its check.
        if let Some(c) = family::fixed_bound(self.ir, e, inf) {
            return self.splat(c);
        }
        let Some(e) = e else { return self.splat(inf) };
        let v = self.expr(e, self.zero, self.zero);
        let nf = self.not_finite(v);
        let bad = self.b.ins().band(nf, entry);
        let code = self.splat_i(code);
        self.check(bad, code, v);
        v
    }

    /// `min` without NaN handling (`minpd` both ways, OR-ed: `min(-0, +0) = -0`). Equal to
    /// `num::fmin` whenever neither operand is NaN, as in the range and clamp code, where
    /// every operand is a finite bound, a cap, ±∞ or a finite value (a lane with a NaN there
    /// has already failed, and a failed lane's results are never read).
    fn min_nn(&mut self, a: Value, b: Value) -> Value {
        let lt = self.b.ins().fcmp(FloatCC::LessThan, a, b);
        let x = self.select(lt, a, b);
        let lt = self.b.ins().fcmp(FloatCC::LessThan, b, a);
        let y = self.select(lt, b, a);
        self.b.ins().bor(x, y)
    }

    /// `max` without NaN handling (`maxpd` both ways, AND-ed: `max(-0, +0) = +0`).
    fn max_nn(&mut self, a: Value, b: Value) -> Value {
        let lt = self.b.ins().fcmp(FloatCC::LessThan, b, a);
        let x = self.select(lt, a, b);
        let lt = self.b.ins().fcmp(FloatCC::LessThan, a, b);
        let y = self.select(lt, b, a);
        self.b.ins().band(x, y)
    }

    /// `eval::effective_range` for both lanes, over the pair's layer records (see
    /// [`super::layout`]: only layers some lane caps, in layer order).
    /// `sd` is where the stat's descriptor is.
    fn effective_range(&mut self, sd: At, lo: Value, hi: Value) -> (Value, Value) {
        let min_var = self.b.declare_var(F64X2);
        let max_var = self.b.declare_var(F64X2);
        let ninf = self.splat(f64::NEG_INFINITY);
        let pinf = self.splat(f64::INFINITY);
        self.b.def_var(min_var, ninf);
        self.b.def_var(max_var, pinf);
        if self.dims.layers > 0 {
            let policy = self.ir.policy();
            let stride = record_words(policy) as i64 * 8;
            let min_locked = self.b.declare_var(I64X2);
            let max_locked = self.b.declare_var(I64X2);
            self.b.def_var(min_locked, self.zero_mask);
            self.b.def_var(max_locked, self.zero_mask);
            let off = self.b.ins().uload32(mem(), sd.base, sd.offset + STAT_CAPS);
            let len = self.b.ins().uload32(mem(), sd.base, sd.offset + STAT_CAPS_LEN);
            let base = self.b.ins().iadd(self.caps, off);
            let end = self.b.ins().iadd(base, len);
            self.records(base, end, stride, false, |t, r| {
                // `eval::layer_range`; the layout combined each side's candidate and hard cap.
                let max_cap = t.b.ins().load(F64X2, mem(), r, 0);
                let min_cap = t.b.ins().load(F64X2, mem(), r, 16);
                let lmax = t.min_nn(max_cap, hi);
                let lmin = t.max_nn(min_cap, lo);
                let gt = t.b.ins().fcmp(FloatCC::GreaterThan, lmin, lmax);
                let lmin = t.select(gt, lmax, lmin);
                let min = t.b.use_var(min_var);
                let max = t.b.use_var(max_var);
                let (nmin, nmax) = match policy {
                    Policy::Intersect => (t.max_nn(min, lmin), t.min_nn(max, lmax)),
                    Policy::PrioritizedOverride => {
                        let max_o = t.load_mask(r, 2 * 16);
                        let min_o = t.load_mask(r, 3 * 16);
                        let (ml, nl) = (t.b.use_var(max_locked), t.b.use_var(min_locked));
                        let merged = t.min_nn(max, lmax);
                        let unlocked = t.select(max_o, lmax, merged);
                        let nmax = t.select(ml, max, unlocked);
                        let merged = t.max_nn(min, lmin);
                        let unlocked = t.select(min_o, lmin, merged);
                        let nmin = t.select(nl, min, unlocked);
                        // `locked = override` runs only while unlocked: `locked |= override`.
                        let ml = t.b.ins().bor(ml, max_o);
                        let nl = t.b.ins().bor(nl, min_o);
                        t.b.def_var(max_locked, ml);
                        t.b.def_var(min_locked, nl);
                        (nmin, nmax)
                    }
                };
                t.b.def_var(min_var, nmin);
                t.b.def_var(max_var, nmax);
            });
        }
        let min = self.b.use_var(min_var);
        let max = self.b.use_var(max_var);
        let min = self.max_nn(min, lo);
        let max = self.min_nn(max, hi);
        let gt = self.b.ins().fcmp(FloatCC::GreaterThan, min, max);
        let min = self.select(gt, max, min);
        (min, max)
    }

    /// Emits `while p < end { body(p); p += stride }`; with `nonempty` (`p0 < end` is known),
    /// `do { body(p); p += stride } while p < end`.
    fn records(&mut self, p0: Value, end: Value, stride: i64, nonempty: bool, mut body: impl FnMut(&mut Self, Value)) {
        let p_var = self.b.declare_var(I64);
        self.b.def_var(p_var, p0);
        let head = self.b.create_block();
        let exit = self.b.create_block();
        if nonempty {
            self.b.ins().jump(head, &[]);
        } else {
            let more = self.b.ins().icmp(IntCC::UnsignedLessThan, p0, end);
            self.b.ins().brif(more, head, &[], exit, &[]);
        }
        self.b.switch_to_block(head);
        let p = self.b.use_var(p_var);
        body(self, p);
        let next = self.b.ins().iadd_imm_s(p, stride);
        self.b.def_var(p_var, next);
        let more = self.b.ins().icmp(IntCC::UnsignedLessThan, next, end);
        self.b.ins().brif(more, head, &[], exit, &[]);
        self.b.seal_block(head);
        self.b.switch_to_block(exit);
        self.b.seal_block(exit);
    }

    /// Element `i` (at byte offset `o = 8 i`) of both lanes' runs, one per lane.
    fn gather(&mut self, run: Run, o: GatherAt) -> Value {
        let (pa, pb, off) = match o {
            GatherAt::Fixed(i) => (run.a, run.b, i as i32 * 8),
            GatherAt::Offset(o) => (self.b.ins().iadd(run.a, o), self.b.ins().iadd(run.b, o), 0),
        };
        let xa = self.b.ins().load(F64, mem(), pa, off);
        let xb = self.b.ins().load(F64, mem(), pb, off);
        let v = self.b.ins().scalar_to_vector(F64X2, xa);
        self.b.ins().insertlane(v, xb, 1)
    }

    /// Emits `body(o, k)` for every element past the first `from` of a slot whose longest
    /// run is `n > from` elements: `o` is the element's byte offset in each run, `k` its
    /// index splatted (an I64X2, to compare with the counts).
    fn each_element(&mut self, from: usize, n: Value, mut body: impl FnMut(&mut Self, Value, Value)) {
        let k_var = self.b.declare_var(I64X2);
        let k0 = self.splat_i(from as i64);
        self.b.def_var(k_var, k0);
        let one = self.splat_i(1);
        let o0 = self.b.ins().iconst(I64, from as i64 * 8);
        let end = self.b.ins().ishl_imm_s(n, 3);
        self.records(o0, end, 8, true, |t, o| {
            let k = t.b.use_var(k_var);
            body(t, o, k);
            let k = t.b.ins().iadd(k, one);
            t.b.def_var(k_var, k);
        });
    }

    /// One slot: fold its contributions and apply (pipeline), or operate (operator mode).
    /// Updates `v_var` only in lanes with contributions.
    fn slot(&mut self, at: At, v_var: Variable, fold: SlotFold) {
        let (slots, d) = (at.base, at.offset);
        // Both counts as one word: zero when neither lane has contributions here.
        let any = self.b.ins().load(I64, mem(), slots, d + SLOT_COUNTS);
        let body = self.b.create_block();
        let next = self.b.create_block();
        self.b.ins().brif(any, body, &[], next, &[]);
        self.b.switch_to_block(body);
        self.b.seal_block(body);
        let counts = self.b.ins().uload32x2(mem(), slots, d + SLOT_COUNTS);
        let ca = self.b.ins().uload32(mem(), slots, d + SLOT_COUNTS);
        let cb = self.b.ins().uload32(mem(), slots, d + SLOT_COUNTS + 4);
        let n = self.b.ins().umax(ca, cb);
        let sa = self.b.ins().uload32(mem(), slots, d + SLOT_START);
        let sb = self.b.ins().uload32(mem(), slots, d + SLOT_START + 4);
        let run = Run { a: self.b.ins().iadd(self.values, sa), b: self.b.ins().iadd(self.values, sb), n, counts };
        let has = self.b.ins().icmp(IntCC::SignedGreaterThan, counts, self.zero_mask);
        match fold {
            SlotFold::Each(apply) => {
                // The slot holds at least one element (`n > 0`).
                self.each_element(0, n, |t, o, k| {
                    let x = t.gather(run, GatherAt::Offset(o));
                    let live = t.b.ins().icmp(IntCC::SignedLessThan, k, counts);
                    let v = t.b.use_var(v_var);
                    let nv = t.expr(apply, v, x);
                    let nv = t.select(live, nv, v);
                    t.b.def_var(v_var, nv);
                });
            }
            SlotFold::Folded(kind, apply) => {
                // `eval::fold`: Sum starts at 0, Product/DeltaProduct at 1, the rest at x0.
                let (init, from) = match kind {
                    Combine::Sum | Combine::Average => (self.splat(0.0), 0),
                    Combine::Product | Combine::DeltaProduct => (self.splat(1.0), 0),
                    Combine::Min | Combine::Max | Combine::First => (self.gather(run, GatherAt::Fixed(0)), 1),
                };
                let acc = if kind == Combine::First { init } else { self.fold(kind, init, from, run) };
                let nv = match (kind, apply) {
                    (Combine::Average, _) => {
                        let fa = self.b.ins().fcvt_from_uint(F64, ca);
                        let fb = self.b.ins().fcvt_from_uint(F64, cb);
                        let count = self.b.ins().scalar_to_vector(F64X2, fa);
                        let count = self.b.ins().insertlane(count, fb, 1);
                        self.b.ins().fdiv(acc, count)
                    }
                    (_, Some(apply)) => {
                        let v = self.b.use_var(v_var);
                        self.expr(apply, v, acc)
                    }
                    (_, None) => acc,
                };
                let v = self.b.use_var(v_var);
                let nv = self.select(has, nv, v);
                self.b.def_var(v_var, nv);
            }
        }
        self.b.ins().jump(next, &[]);
        self.b.switch_to_block(next);
        self.b.seal_block(next);
    }

    /// Folds a non-empty slot's elements `from..` into `init` with `kind`, in element order.
    /// The first [`UNROLLED`] elements are folded without a branch, the rest (if any) in a
    /// loop. An element a lane does not have (past its count) is replaced by the fold's
    /// neutral element, which leaves the accumulator's bits unchanged; so the common small
    /// slot costs no mispredicted loop exit.
    fn fold(&mut self, kind: Combine, init: Value, from: usize, run: Run) -> Value {
        let one = self.splat(1.0);
        let neutral = kind.neutral().map(|c| self.splat(c));
        let step = |t: &mut Self, a: Value, x: Value, k: Value| {
            let live = t.b.ins().icmp(IntCC::SignedLessThan, k, run.counts);
            let x = match neutral {
                Some(n) => t.select(live, x, n),
                None => {
                    let live = t.as_f(live);
                    t.b.ins().band(x, live)
                }
            };
            match kind {
                Combine::Sum | Combine::Average => t.b.ins().fadd(a, x),
                Combine::Product => t.b.ins().fmul(a, x),
                Combine::DeltaProduct => {
                    let y = t.b.ins().fadd(one, x);
                    t.b.ins().fmul(a, y)
                }
                Combine::Min => t.b.ins().fmin(a, x),
                Combine::Max => t.b.ins().fmax(a, x),
                Combine::First => unreachable!("First does not fold"),
            }
        };
        let mut acc = init;
        for i in from..UNROLLED {
            let x = self.gather(run, GatherAt::Fixed(i));
            let k = self.splat_i(i as i64);
            acc = step(self, acc, x, k);
        }
        let acc_var = self.b.declare_var(F64X2);
        self.b.def_var(acc_var, acc);
        let rest = self.b.create_block();
        let done = self.b.create_block();
        let more = self.b.ins().icmp_imm_s(IntCC::UnsignedGreaterThan, run.n, UNROLLED as i64);
        self.b.ins().brif(more, rest, &[], done, &[]);
        self.b.switch_to_block(rest);
        self.b.seal_block(rest);
        self.each_element(UNROLLED, run.n, |t, o, k| {
            let x = t.gather(run, GatherAt::Offset(o));
            let a = t.b.use_var(acc_var);
            let r = step(t, a, x, k);
            t.b.def_var(acc_var, r);
        });
        self.b.ins().jump(done, &[]);
        self.b.switch_to_block(done);
        self.b.seal_block(done);
        self.b.use_var(acc_var)
    }

    /// Emits one stat.
    pub fn stat(&mut self, id: StatId) {
        let stat = self.ir.stat(id);
        let sd = At { base: self.stats, offset: id.index() as i32 * STAT_SIZE };
        let entry = self.lane_mask(sd.base, sd.offset + STAT_ENTRY);
        let valued = self.lane_mask(sd.base, sd.offset + STAT_VALUED);
        let lo = self.bound(stat.min, f64::NEG_INFINITY, entry, error_code(id, Phase::RangeMin));
        let hi = self.bound(stat.max, f64::INFINITY, entry, error_code(id, Phase::RangeMax));
        let base = match stat.formula {
            Some(f) => {
                let v = self.expr(f, self.zero, self.zero);
                let nf = self.not_finite(v);
                let bad = self.b.ins().band(nf, valued);
                let code = self.splat_i(error_code(id, Phase::Formula));
                self.check(bad, code, v);
                v
            }
            None => self.splat(stat.default.unwrap_or(0.0)),
        };
        let slots = At { base: self.slots, offset: self.ir.slot_base[id.index()] as i32 * SLOT_SIZE };
        let out = At { base: self.out, offset: id.index() as i32 * STAT_OUT_WORDS as i32 * 8 };
        let code = self.splat_i(error_code(id, Phase::Value));
        let value = match self.pipelines.iter().find(|(m, _)| *m == stat.mode) {
            Some(&(_, f)) => {
                let addr = |t: &mut Self, a: At| t.b.ins().iadd_imm_s(a.base, a.offset as i64);
                let (sl, st, o) = (addr(self, slots), addr(self, sd), addr(self, out));
                let args = [self.values, self.caps, self.out, sl, st, o, base, lo, hi, code];
                let call = self.b.ins().call(f, &args);
                self.b.inst_results(call)[0]
            }
            None => self.pipeline(stat.mode, StatAt { slots, stat: sd, out }, base, lo, hi, code),
        };
        self.stat_vals[id.index()] = Some(value);
    }

    /// Emits one family: a loop over its rows, each one member stat evaluated by one shared
    /// body (the [`abi::Row`] gives the member's bounds, base value, error code and where
    /// its descriptors and output words are).
    pub fn family(&mut self, mode: Mode, rows: &[abi::Row]) {
        let ptr = self.b.func.dfg.value_type(self.values);
        let first = self.b.ins().iconst(ptr, rows.as_ptr() as i64);
        let end = self.b.ins().iconst(ptr, rows.as_ptr_range().end as i64);
        self.records(first, end, abi::ROW_SIZE as i64, !rows.is_empty(), |t, row| {
            let field = |t: &mut Self, o: usize| t.b.ins().load(I64, mem(), row, o as i32);
            let (slots, stat, out) = (field(t, abi::SLOTS), field(t, abi::STAT), field(t, abi::OUT));
            let slots = t.b.ins().iadd(t.slots, slots);
            let stat = t.b.ins().iadd(t.stats, stat);
            let out = t.b.ins().iadd(t.out, out);
            let lo = t.b.ins().load(F64X2, mem(), row, abi::LO as i32);
            let hi = t.b.ins().load(F64X2, mem(), row, abi::HI as i32);
            let base = t.b.ins().load(F64X2, mem(), row, abi::BASE as i32);
            let code = t.b.ins().load(I64X2, mem(), row, abi::CODE as i32);
            let at = |base| At { base, offset: 0 };
            t.pipeline(mode, StatAt { slots: at(slots), stat: at(stat), out: at(out) }, base, lo, hi, code);
        });
    }

    /// A stat from its base value on: the slots of its pipeline or operator, its effective
    /// range, the check of its value (error `code`), the clamp and the stores. Returns the
    /// value.
    fn pipeline(&mut self, mode: Mode, at: StatAt, base: Value, lo: Value, hi: Value, code: Value) -> Value {
        let ir = self.ir;
        let v_var = self.b.declare_var(F64X2);
        self.b.def_var(v_var, base);
        let slot = |s: usize| At { base: at.slots.base, offset: at.slots.offset + s as i32 * SLOT_SIZE };
        match mode {
            Mode::Pipeline(pid) => {
                for (s, &bid) in ir.pipeline(pid).buckets.iter().enumerate() {
                    let bucket = ir.bucket(bid);
                    let fold = match bucket.fold {
                        Fold::Each => SlotFold::Each(bucket.apply),
                        Fold::Sum => SlotFold::Folded(Combine::Sum, Some(bucket.apply)),
                        Fold::Product => SlotFold::Folded(Combine::Product, Some(bucket.apply)),
                        Fold::DeltaProduct => SlotFold::Folded(Combine::DeltaProduct, Some(bucket.apply)),
                        Fold::Min => SlotFold::Folded(Combine::Min, Some(bucket.apply)),
                        Fold::Max => SlotFold::Folded(Combine::Max, Some(bucket.apply)),
                        Fold::First => SlotFold::Folded(Combine::First, Some(bucket.apply)),
                    };
                    self.slot(slot(s), v_var, fold);
                }
            }
            Mode::Operator(op) => {
                let fold = match op {
                    Operator::Sum => SlotFold::Folded(Combine::Sum, None),
                    Operator::Multiply => SlotFold::Folded(Combine::Product, None),
                    Operator::Max => SlotFold::Folded(Combine::Max, None),
                    Operator::Min => SlotFold::Folded(Combine::Min, None),
                    Operator::Average => SlotFold::Folded(Combine::Average, None),
                };
                self.slot(slot(0), v_var, fold);
            }
        }
        // Computed here, not first, so that neither the range nor the mask is live across the
        // pipeline's loops (fewer values for the register allocator to keep or spill).
        let (min, max) = self.effective_range(at.stat, lo, hi);
        let valued = self.lane_mask(at.stat.base, at.stat.offset + STAT_VALUED);
        let v = self.b.use_var(v_var);
        let nf = self.not_finite(v);
        let bad = self.b.ins().band(nf, valued);
        self.check(bad, code, v);
        // `num::clamp` (no NaN left in lanes that have not failed).
        let m = self.max_nn(v, min);
        let v = self.min_nn(m, max);
        let value = self.select(valued, v, self.zero);
        let (out, o) = (at.out.base, at.out.offset);
        self.b.ins().store(mem(), value, out, o);
        self.b.ins().store(mem(), min, out, o + 16);
        self.b.ins().store(mem(), max, out, o + 32);
        value
    }

    /// Returns.
    pub fn finish(mut self, config: cranelift_codegen::isa::TargetFrontendConfig) {
        self.b.ins().return_(&[]);
        self.b.seal_all_blocks();
        self.b.finalize(config);
    }
}

/// An address: a base value plus an immediate byte offset.
#[derive(Clone, Copy)]
struct At {
    base: Value,
    offset: i32,
}

/// Where one stat's data is, for one lane pair: its first slot descriptor, its stat
/// descriptor and its output words.
#[derive(Clone, Copy)]
struct StatAt {
    slots: At,
    stat: At,
    out: At,
}

/// Both lanes' runs of one slot: where each starts, the longest run's length (I64) and the
/// counts (I64X2).
#[derive(Clone, Copy)]
struct Run {
    a: Value,
    b: Value,
    n: Value,
    counts: Value,
}

/// Which element [`Translator::gather`] loads: a fixed index, or a byte offset value.
#[derive(Clone, Copy)]
enum GatherAt {
    Fixed(usize),
    Offset(Value),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Combine {
    Sum,
    /// A sum, then divided by the count.
    Average,
    Product,
    DeltaProduct,
    Min,
    Max,
    First,
}

impl Combine {
    /// The element that stands for an absent one and leaves the accumulator unchanged, bit
    /// for bit; `None` when +0 does, which a mask makes with one AND where a select takes
    /// several: a sum starts at +0 so is never −0, and a delta product adds 1 + 0.
    fn neutral(self) -> Option<f64> {
        match self {
            Combine::Sum | Combine::Average | Combine::DeltaProduct => None,
            Combine::Product => Some(1.0),
            Combine::Min => Some(f64::INFINITY),
            Combine::Max => Some(f64::NEG_INFINITY),
            Combine::First => unreachable!("First does not fold"),
        }
    }
}

#[derive(Clone, Copy)]
enum SlotFold {
    Each(Expr),
    /// Fold, then apply (pipeline) or take the fold as the value (operator; an average
    /// divides by the count).
    Folded(Combine, Option<Expr>),
}
