//! actorc's C ABI: load rules, build an engine, evaluate actors, read values, through opaque
//! handles. `include/actorc.h` is generated from this file by cbindgen.
//!
//! Conventions:
//! - Every fallible function returns an [`ActorcStatus`]; `ACTORC_STATUS_OK` is 0. On any
//!   other status, [`actorc_last_error`] gives a message for the calling thread's last
//!   failure (and [`actorc_last_diagnostics_json`] the diagnostics of a rule set that did not
//!   check).
//! - Results come back through out-pointers, written only on success.
//! - A handle is freed with its `_free` function (null is accepted); strings returned as
//!   `char *` are freed with [`actorc_string_free`]; `const char *` results belong to their
//!   handle or to the thread's last error and must not be freed.
//! - No panic crosses the boundary: one becomes `ACTORC_STATUS_PANIC`.
//! - Handles may be shared between threads for reading (an engine evaluates from many
//!   threads at once); a live actor is used by one thread at a time.

use actorc::{Backend, Engine, Rules};
use std::cell::RefCell;
use std::ffi::{CStr, CString, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};

/// What a call did.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActorcStatus {
    Ok = 0,
    /// A pointer argument was null.
    NullArgument = 1,
    /// A string argument was not UTF-8.
    InvalidUtf8 = 2,
    /// A path could not be read.
    Io = 3,
    /// The rules have errors: see `actorc_last_diagnostics_json`.
    InvalidRules = 4,
    /// The JIT could not compile the rules (the interpreter can still run them).
    Jit = 5,
    /// An actor's input is malformed or does not fit the rules.
    InvalidActor = 6,
    /// An actor's evaluation produced NaN or an infinity.
    EvalFailed = 7,
    /// No stat, bucket or source of that name.
    UnknownName = 8,
    /// An index or buffer length out of range.
    OutOfRange = 9,
    /// actorc panicked: a bug, reported rather than crossing into C.
    Panic = 99,
}

/// Which engine evaluates.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActorcBackend {
    Interpreter = 0,
    Jit = 1,
}

/// A checked rule set.
pub struct ActorcRules {
    rules: Rules,
    /// Stat names by id, as C strings.
    names: Vec<CString>,
}

/// An engine over a rule set (it keeps the rules alive).
pub struct ActorcEngine {
    engine: Engine,
    rules: Rules,
}

struct LastError {
    message: CString,
    diagnostics: CString,
}

thread_local! {
    static LAST: RefCell<LastError> = RefCell::new(LastError { message: CString::default(), diagnostics: c"[]".into() });
}

/// A failure: its status and message (and the diagnostics of rules that did not check).
struct Failure {
    status: ActorcStatus,
    message: String,
    diagnostics: Option<String>,
}

impl Failure {
    fn new(status: ActorcStatus, message: impl Into<String>) -> Failure {
        Failure { status, message: message.into(), diagnostics: None }
    }
}

/// Runs `body`, turning its failure or panic into a status and the thread's last error.
fn call(body: impl FnOnce() -> Result<(), Failure>) -> ActorcStatus {
    let failure = match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => return ActorcStatus::Ok,
        Ok(Err(f)) => f,
        Err(_) => Failure::new(ActorcStatus::Panic, "actorc panicked (a bug: please report it)"),
    };
    LAST.with(|last| {
        let mut last = last.borrow_mut();
        last.message = c_string(failure.message);
        last.diagnostics = c_string(failure.diagnostics.unwrap_or_else(|| "[]".into()));
    });
    failure.status
}

/// `s` as a C string (a NUL inside becomes U+FFFD).
fn c_string(s: String) -> CString {
    CString::new(s.replace('\0', "\u{FFFD}")).unwrap_or_default()
}

/// `ptr` as a reference; a failure when it is null.
///
/// # Safety
/// `ptr` is null or points to a live `T` that nothing mutates while the reference lives.
unsafe fn get<'a, T>(ptr: *const T, what: &str) -> Result<&'a T, Failure> {
    // SAFETY: the caller's contract: null or a live, unaliased-for-writing `T`.
    unsafe { ptr.as_ref() }.ok_or_else(|| Failure::new(ActorcStatus::NullArgument, format!("`{what}` is null")))
}

/// `ptr` as a string; a failure when it is null or not UTF-8.
///
/// # Safety
/// `ptr` is null or a NUL-terminated string that outlives the returned reference.
unsafe fn text<'a>(ptr: *const c_char, what: &str) -> Result<&'a str, Failure> {
    if ptr.is_null() {
        return Err(Failure::new(ActorcStatus::NullArgument, format!("`{what}` is null")));
    }
    // SAFETY: not null, and NUL-terminated by the caller's contract.
    let s = unsafe { CStr::from_ptr(ptr) };
    s.to_str().map_err(|_| Failure::new(ActorcStatus::InvalidUtf8, format!("`{what}` is not UTF-8")))
}

/// Writes `value` through the out-pointer `out`.
///
/// # Safety
/// `out` is null or valid for a write of `T`.
unsafe fn put<T>(out: *mut T, value: T, what: &str) -> Result<(), Failure> {
    if out.is_null() {
        return Err(Failure::new(ActorcStatus::NullArgument, format!("`{what}` is null")));
    }
    // SAFETY: not null, and valid for writes by the caller's contract.
    unsafe { out.write(value) };
    Ok(())
}

/// Boxes `value` and writes the box's address through `out`, for the caller to free.
///
/// # Safety
/// `out` is null or valid for a write.
unsafe fn hand_out<T>(out: *mut *mut T, value: T) -> Result<(), Failure> {
    let handle = Box::into_raw(Box::new(value));
    // SAFETY: the caller's contract.
    unsafe { put(out, handle, "out") }.inspect_err(|_| {
        // SAFETY: made just above and not handed out.
        drop(unsafe { Box::from_raw(handle) });
    })
}

/// Writes `text` as a C string through `out`, for the caller to free with
/// `actorc_string_free`.
///
/// # Safety
/// `out` is null or valid for a write.
unsafe fn hand_out_string(out: *mut *mut c_char, text: String) -> Result<(), Failure> {
    let raw = c_string(text).into_raw();
    // SAFETY: the caller's contract.
    unsafe { put(out, raw, "out") }.inspect_err(|_| {
        // SAFETY: made just above and not handed out.
        drop(unsafe { CString::from_raw(raw) });
    })
}

/// The message of the calling thread's last failure ("" before any). Valid until the
/// thread's next failing call; do not free it.
#[unsafe(no_mangle)]
pub extern "C" fn actorc_last_error() -> *const c_char {
    LAST.with(|last| last.borrow().message.as_ptr())
}

/// The diagnostics of the calling thread's last `ACTORC_STATUS_INVALID_RULES`, as a JSON
/// array (`[]` otherwise): each with `severity`, `code`, `message`, `file`, `line`, `col`.
/// Valid until the thread's next failing call; do not free it.
#[unsafe(no_mangle)]
pub extern "C" fn actorc_last_diagnostics_json() -> *const c_char {
    LAST.with(|last| last.borrow().diagnostics.as_ptr())
}

/// Frees a string that actorc returned as `char *` (null is accepted).
///
/// # Safety
/// `s` is null or a string from actorc not freed before.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn actorc_string_free(s: *mut c_char) {
    if !s.is_null() {
        // SAFETY: made by `CString::into_raw` in this library, freed once by the contract.
        drop(unsafe { CString::from_raw(s) });
    }
}

/// Loads and checks the rule set at `path` (a `.stat` file or a folder). On
/// `ACTORC_STATUS_INVALID_RULES`, `actorc_last_error` has the rendered diagnostics and
/// `actorc_last_diagnostics_json` the same as data.
///
/// # Safety
/// `path` is a NUL-terminated string; `out` is valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn actorc_rules_load(path: *const c_char, out: *mut *mut ActorcRules) -> ActorcStatus {
    call(|| {
        // SAFETY: the caller's contract.
        let path = unsafe { text(path, "path") }?;
        let rules = Rules::load(path).map_err(|e| match &e {
            actorc::LoadError::Io(_) => Failure::new(ActorcStatus::Io, e.to_string()),
            actorc::LoadError::Invalid { sources, diagnostics } => Failure {
                status: ActorcStatus::InvalidRules,
                message: actorc::diag::render_plain(sources, diagnostics),
                diagnostics: Some(actorc::diag::to_json(sources, diagnostics).to_string()),
            },
        })?;
        let names =
            rules.ir.stats.iter().map(|s| CString::new(s.name.as_str()).expect("stat names are ASCII")).collect();
        // SAFETY: the caller's contract.
        unsafe { hand_out(out, ActorcRules { rules, names }) }
    })
}

/// Frees a rule set (null is accepted). Engines made from it keep what they need.
///
/// # Safety
/// `rules` is null or from `actorc_rules_load`, not freed before.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn actorc_rules_free(rules: *mut ActorcRules) {
    if !rules.is_null() {
        // SAFETY: made by `Box::into_raw` in `actorc_rules_load`, freed once by the contract.
        drop(unsafe { Box::from_raw(rules) });
    }
}

/// The number of stats; stat ids are `0 .. count`, in evaluation order.
///
/// # Safety
/// `rules` is from `actorc_rules_load`; `out` is valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn actorc_rules_stat_count(rules: *const ActorcRules, out: *mut usize) -> ActorcStatus {
    call(|| {
        // SAFETY: the caller's contract.
        let rules = unsafe { get(rules, "rules") }?;
        // SAFETY: the caller's contract.
        unsafe { put(out, rules.names.len(), "out") }
    })
}

/// The name of stat `id`, owned by `rules`.
///
/// # Safety
/// `rules` is from `actorc_rules_load`; `out` is valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn actorc_rules_stat_name(
    rules: *const ActorcRules,
    id: u32,
    out: *mut *const c_char,
) -> ActorcStatus {
    call(|| {
        // SAFETY: the caller's contract.
        let rules = unsafe { get(rules, "rules") }?;
        let name = rules.names.get(id as usize).ok_or_else(|| {
            Failure::new(ActorcStatus::OutOfRange, format!("no stat {id}: there are {}", rules.names.len()))
        })?;
        // SAFETY: the caller's contract.
        unsafe { put(out, name.as_ptr(), "out") }
    })
}

/// The id of the stat called `name` (`ACTORC_STATUS_UNKNOWN_NAME`, with a did-you-mean in the
/// message, when there is none).
///
/// # Safety
/// `rules` is from `actorc_rules_load`; `name` is a NUL-terminated string; `out` is valid
/// for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn actorc_rules_stat_id(
    rules: *const ActorcRules,
    name: *const c_char,
    out: *mut u32,
) -> ActorcStatus {
    call(|| {
        // SAFETY: the caller's contract.
        let (rules, name) = unsafe { (get(rules, "rules")?, text(name, "name")?) };
        let id =
            rules.rules.ir.resolve_stat(name).map_err(|e| Failure::new(ActorcStatus::UnknownName, e.to_string()))?;
        // SAFETY: the caller's contract.
        unsafe { put(out, id.0, "out") }
    })
}

/// Builds an engine over `rules` (compiling them when `backend` is the JIT).
///
/// # Safety
/// `rules` is from `actorc_rules_load`; `out` is valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn actorc_engine_new(
    rules: *const ActorcRules,
    backend: ActorcBackend,
    out: *mut *mut ActorcEngine,
) -> ActorcStatus {
    call(|| {
        // SAFETY: the caller's contract.
        let rules = unsafe { get(rules, "rules") }?;
        let backend = match backend {
            ActorcBackend::Interpreter => Backend::Interpreter,
            ActorcBackend::Jit => Backend::Jit,
        };
        let engine = Engine::new(&rules.rules, backend).map_err(|e| Failure::new(ActorcStatus::Jit, e.to_string()))?;
        // SAFETY: the caller's contract.
        unsafe { hand_out(out, ActorcEngine { engine, rules: rules.rules.clone() }) }
    })
}

/// Frees an engine (null is accepted).
///
/// # Safety
/// `engine` is null or from `actorc_engine_new`, not freed before, and not in use.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn actorc_engine_free(engine: *mut ActorcEngine) {
    if !engine.is_null() {
        // SAFETY: made by `Box::into_raw` in `actorc_engine_new`, freed once by the contract.
        drop(unsafe { Box::from_raw(engine) });
    }
}

/// The actor of JSON text `actor_json` (the format of docs/input.md) evaluated.
fn evaluate(engine: &ActorcEngine, actor_json: &str) -> Result<actorc::Snapshot, Failure> {
    let actor =
        actorc::input::parse_actor(actor_json).map_err(|e| Failure::new(ActorcStatus::InvalidActor, e.to_string()))?;
    engine.engine.evaluate(&actor).map_err(|e| match e {
        actorc::ActorError::Input(e) => Failure::new(ActorcStatus::InvalidActor, e.to_string()),
        actorc::ActorError::Eval(e) => Failure::new(ActorcStatus::EvalFailed, e.to_string()),
    })
}

/// Evaluates one actor given as JSON text; its snapshot as JSON text (the form `actorc run`
/// writes), to be freed with `actorc_string_free`.
///
/// # Safety
/// `engine` is from `actorc_engine_new`; `actor_json` is a NUL-terminated string; `out` is
/// valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn actorc_evaluate_json(
    engine: *const ActorcEngine,
    actor_json: *const c_char,
    out: *mut *mut c_char,
) -> ActorcStatus {
    call(|| {
        // SAFETY: the caller's contract.
        let (engine, json) = unsafe { (get(engine, "engine")?, text(actor_json, "actor_json")?) };
        let snapshot = evaluate(engine, json)?;
        let text = serde_json::to_string(&snapshot).map_err(|e| Failure::new(ActorcStatus::Panic, e.to_string()))?;
        // SAFETY: the caller's contract.
        unsafe { hand_out_string(out, text) }
    })
}

/// Evaluates one actor given as JSON text into `values[0 .. len]`: the value of stat `id`
/// at `values[id]`, NaN where the actor has none. `len` must be the stat count.
///
/// # Safety
/// `engine` is from `actorc_engine_new`; `actor_json` is a NUL-terminated string; `values`
/// is valid for `len` writes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn actorc_evaluate_values(
    engine: *const ActorcEngine,
    actor_json: *const c_char,
    values: *mut f64,
    len: usize,
) -> ActorcStatus {
    call(|| {
        // SAFETY: the caller's contract.
        let (engine, json) = unsafe { (get(engine, "engine")?, text(actor_json, "actor_json")?) };
        let stats = engine.rules.ir.stats.len();
        if len != stats {
            return Err(Failure::new(
                ActorcStatus::OutOfRange,
                format!("`len` is {len}, the rules have {stats} stats"),
            ));
        }
        if values.is_null() {
            return Err(Failure::new(ActorcStatus::NullArgument, "`values` is null"));
        }
        let snapshot = evaluate(engine, json)?;
        // SAFETY: not null, and valid for `len` writes by the caller's contract.
        let out = unsafe { std::slice::from_raw_parts_mut(values, len) };
        for (id, v) in engine.rules.ir.stat_ids().zip(out.iter_mut()) {
            *v = snapshot.entry(id).filter(|e| e.has_value()).map_or(f64::NAN, |e| e.value);
        }
        Ok(())
    })
}

/// A character kept between frames: its modifiers grouped by source (the sword, a buff),
/// re-evaluated incrementally. Used by one thread at a time.
pub struct ActorcLive {
    live: actorc::LiveActor,
    /// Source names by source id, as C strings.
    names: Vec<CString>,
}

/// One modifier: `value` into `bucket` of `stat` (handles from `actorc_engine_stat` and
/// `actorc_engine_bucket`); higher `priority` comes first where order matters (0 is usual).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ActorcModifier {
    pub stat: u32,
    pub bucket: u32,
    pub value: f64,
    pub priority: i64,
}

/// A stat whose value or range changed in the last evaluation of a live actor.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ActorcChange {
    pub stat: u32,
    /// The value before and after; NaN where the stat had or has none.
    pub old_value: f64,
    pub new_value: f64,
    /// The source whose change reached the stat, or -1 when several did.
    pub cause: i64,
}

fn live_failure(e: actorc::live::LiveError) -> Failure {
    let status = match e {
        actorc::live::LiveError::UnknownName { .. } => ActorcStatus::UnknownName,
        _ => ActorcStatus::InvalidActor,
    };
    Failure::new(status, e.to_string())
}

/// A live actor as a mutable reference.
///
/// # Safety
/// `ptr` is null or from `actorc_live_new`, not freed, and used by no other thread now.
unsafe fn live<'a>(ptr: *mut ActorcLive) -> Result<&'a mut ActorcLive, Failure> {
    // SAFETY: the caller's contract: null or a live handle used by this thread alone.
    unsafe { ptr.as_mut() }.ok_or_else(|| Failure::new(ActorcStatus::NullArgument, "`live` is null"))
}

/// The handle of the stat called `name` in the engine's rules.
///
/// # Safety
/// `engine` is from `actorc_engine_new`; `name` is a NUL-terminated string; `out` is valid
/// for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn actorc_engine_stat(
    engine: *const ActorcEngine,
    name: *const c_char,
    out: *mut u32,
) -> ActorcStatus {
    call(|| {
        // SAFETY: the caller's contract.
        let (engine, name) = unsafe { (get(engine, "engine")?, text(name, "name")?) };
        let id = engine.engine.stat(name).map_err(live_failure)?;
        // SAFETY: the caller's contract.
        unsafe { put(out, id.0, "out") }
    })
}

/// The handle of the bucket called `name` in the engine's rules.
///
/// # Safety
/// As `actorc_engine_stat`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn actorc_engine_bucket(
    engine: *const ActorcEngine,
    name: *const c_char,
    out: *mut u32,
) -> ActorcStatus {
    call(|| {
        // SAFETY: the caller's contract.
        let (engine, name) = unsafe { (get(engine, "engine")?, text(name, "name")?) };
        let id = engine.engine.bucket(name).map_err(live_failure)?;
        // SAFETY: the caller's contract.
        unsafe { put(out, id.0, "out") }
    })
}

/// A new live actor, without sources, of the engine's rules (it keeps what it needs of them).
///
/// # Safety
/// `engine` is from `actorc_engine_new`; `out` is valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn actorc_live_new(engine: *const ActorcEngine, out: *mut *mut ActorcLive) -> ActorcStatus {
    call(|| {
        // SAFETY: the caller's contract.
        let engine = unsafe { get(engine, "engine") }?;
        // SAFETY: the caller's contract.
        unsafe { hand_out(out, ActorcLive { live: actorc::LiveActor::new(&engine.engine), names: vec![] }) }
    })
}

/// Frees a live actor (null is accepted).
///
/// # Safety
/// `live` is null or from `actorc_live_new`, not freed before, and not in use.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn actorc_live_free(live: *mut ActorcLive) {
    if !live.is_null() {
        // SAFETY: made by `Box::into_raw` in `actorc_live_new`, freed once by the contract.
        drop(unsafe { Box::from_raw(live) });
    }
}

/// The id of the source called `name` (the sword, a buff), made on first use.
///
/// # Safety
/// `live` is from `actorc_live_new`; `name` is a NUL-terminated string; `out` is valid for a
/// write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn actorc_live_source(live: *mut ActorcLive, name: *const c_char, out: *mut u32) -> ActorcStatus {
    call(|| {
        // SAFETY: the caller's contract.
        let (live, name) = unsafe { (self::live(live)?, text(name, "name")?) };
        let id = live.live.source(name);
        if live.names.len() <= id.0 as usize {
            live.names.resize(id.0 as usize + 1, CString::default());
        }
        live.names[id.0 as usize] = CString::new(name).expect("from a C string");
        // SAFETY: the caller's contract.
        unsafe { put(out, id.0, "out") }
    })
}

/// The name of source `source`, owned by `live`.
///
/// # Safety
/// `live` is from `actorc_live_new`; `out` is valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn actorc_live_source_name(
    live: *mut ActorcLive,
    source: u32,
    out: *mut *const c_char,
) -> ActorcStatus {
    call(|| {
        // SAFETY: the caller's contract.
        let live = unsafe { self::live(live) }?;
        let name = live
            .names
            .get(source as usize)
            .ok_or_else(|| Failure::new(ActorcStatus::OutOfRange, format!("no source {source}")))?;
        // SAFETY: the caller's contract.
        unsafe { put(out, name.as_ptr(), "out") }
    })
}

/// Replaces everything source `source` gives with `modifiers[0 .. count]` (none removes it):
/// equipping, changing or unequipping an item is one call. A refused change (a bucket
/// outside the stat's pipeline, a value that is not finite) leaves the actor as it was.
///
/// # Safety
/// `live` is from `actorc_live_new`; `modifiers` is valid for `count` reads (or null when
/// `count` is 0).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn actorc_live_set_source(
    live: *mut ActorcLive,
    source: u32,
    modifiers: *const ActorcModifier,
    count: usize,
) -> ActorcStatus {
    call(|| {
        // SAFETY: the caller's contract.
        let live = unsafe { self::live(live) }?;
        let given: &[ActorcModifier] = match count {
            0 => &[],
            _ if modifiers.is_null() => return Err(Failure::new(ActorcStatus::NullArgument, "`modifiers` is null")),
            // SAFETY: not null, and valid for `count` reads by the caller's contract.
            _ => unsafe { std::slice::from_raw_parts(modifiers, count) },
        };
        let modifiers: Vec<actorc::live::Modifier> = given
            .iter()
            .map(|m| {
                actorc::live::Modifier::new(actorc::ir::StatId(m.stat), actorc::ir::BucketId(m.bucket), m.value)
                    .priority(m.priority)
            })
            .collect();
        let id = actorc::live::SourceId(source);
        live.live.set_source(id, &modifiers, &[]).map_err(live_failure)
    })
}

/// Evaluates what changed since the last evaluation; `out` gets the number of stats whose
/// value or range changed, read with `actorc_live_change`.
///
/// # Safety
/// `live` is from `actorc_live_new`; `out` is valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn actorc_live_evaluate(live: *mut ActorcLive, out: *mut usize) -> ActorcStatus {
    call(|| {
        // SAFETY: the caller's contract.
        let live = unsafe { self::live(live) }?;
        let n = live.live.evaluate().map_err(|e| Failure::new(ActorcStatus::EvalFailed, e.to_string()))?.len();
        // SAFETY: the caller's contract.
        unsafe { put(out, n, "out") }
    })
}

/// Change `index` of the last evaluation.
///
/// # Safety
/// `live` is from `actorc_live_new`; `out` is valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn actorc_live_change(
    live: *mut ActorcLive,
    index: usize,
    out: *mut ActorcChange,
) -> ActorcStatus {
    call(|| {
        // SAFETY: the caller's contract.
        let live = unsafe { self::live(live) }?;
        let changes = live.live.changes();
        let c = changes.get(index).ok_or_else(|| {
            Failure::new(ActorcStatus::OutOfRange, format!("no change {index}: there are {}", changes.len()))
        })?;
        let change = ActorcChange {
            stat: c.stat.0,
            old_value: c.old_value().unwrap_or(f64::NAN),
            new_value: c.new_value().unwrap_or(f64::NAN),
            cause: c.cause.map_or(-1, |s| i64::from(s.0)),
        };
        // SAFETY: the caller's contract.
        unsafe { put(out, change, "out") }
    })
}

/// The value of `stat` after the last evaluation; NaN when the actor has none.
///
/// # Safety
/// `live` is from `actorc_live_new`; `out` is valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn actorc_live_value(live: *mut ActorcLive, stat: u32, out: *mut f64) -> ActorcStatus {
    call(|| {
        // SAFETY: the caller's contract.
        let live = unsafe { self::live(live) }?;
        let v = live.live.value(actorc::ir::StatId(stat)).unwrap_or(f64::NAN);
        // SAFETY: the caller's contract.
        unsafe { put(out, v, "out") }
    })
}

/// The live actor's inputs as actor JSON (docs/input.md): a save game, loaded back with
/// `actorc_live_from_json`. Free it with `actorc_string_free`.
///
/// # Safety
/// `live` is from `actorc_live_new`; `out` is valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn actorc_live_to_json(live: *mut ActorcLive, out: *mut *mut c_char) -> ActorcStatus {
    call(|| {
        // SAFETY: the caller's contract.
        let live = unsafe { self::live(live) }?;
        // SAFETY: the caller's contract.
        unsafe { hand_out_string(out, live.live.to_json()) }
    })
}

/// A live actor loaded from actor JSON (a save game from `actorc_live_to_json`).
///
/// # Safety
/// `engine` is from `actorc_engine_new`; `json` is a NUL-terminated string; `out` is valid
/// for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn actorc_live_from_json(
    engine: *const ActorcEngine,
    json: *const c_char,
    out: *mut *mut ActorcLive,
) -> ActorcStatus {
    call(|| {
        // SAFETY: the caller's contract.
        let (engine, json) = unsafe { (get(engine, "engine")?, text(json, "json")?) };
        let live = actorc::LiveActor::from_json(&engine.engine, json)
            .map_err(|e| Failure::new(ActorcStatus::InvalidActor, e.to_string()))?;
        let names = live.sources().map(|(_, n)| CString::new(n).unwrap_or_default()).collect();
        // SAFETY: the caller's contract.
        unsafe { hand_out(out, ActorcLive { live, names }) }
    })
}
