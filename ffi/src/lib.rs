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
    let text = |s: String| CString::new(s.replace('\0', "\u{FFFD}")).unwrap_or_default();
    LAST.with(|last| {
        let mut last = last.borrow_mut();
        last.message = text(failure.message);
        last.diagnostics = text(failure.diagnostics.unwrap_or_else(|| "[]".into()));
    });
    failure.status
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
        let handle = Box::into_raw(Box::new(ActorcRules { rules, names }));
        // SAFETY: the caller's contract.
        unsafe { put(out, handle, "out") }.inspect_err(|_| {
            // SAFETY: made just above and not handed out.
            drop(unsafe { Box::from_raw(handle) });
        })
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
        let handle = Box::into_raw(Box::new(ActorcEngine { engine, rules: rules.rules.clone() }));
        // SAFETY: the caller's contract.
        unsafe { put(out, handle, "out") }.inspect_err(|_| {
            // SAFETY: made just above and not handed out.
            drop(unsafe { Box::from_raw(handle) });
        })
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
        let raw = CString::new(text).expect("JSON has no NUL").into_raw();
        // SAFETY: the caller's contract.
        unsafe { put(out, raw, "out") }.inspect_err(|_| {
            // SAFETY: made just above and not handed out.
            drop(unsafe { CString::from_raw(raw) });
        })
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
