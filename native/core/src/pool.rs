//! The one rayon pool of sigvwap.
//!
//! Every parallel kernel runs inside `install`. The pool is sized by
//! `set_threads` (N-API `setThreads`), or at first use by the environment
//! variable `SIGVWAP_THREADS`, or else by the number of available cores.
//! Resizing builds a new pool; calls already running keep the old one alive
//! through their `Arc` and finish on it.
//!
//! `SIGVWAP_THREADS` is validated like `set_threads` (an integer in
//! 1..=[`MAX_THREADS`]; unset or empty means "the number of cores"). An
//! invalid value is never used: the pool then falls back to the cores, and
//! [`check`] returns `ERR_ARG` naming the variable, which the N-API layer
//! calls before every pool-using entry point (and `backendInfo`) until
//! `set_threads` overrides the variable. Why not silently ignore it: `0` or
//! `abc` used to be ignored and `100000` started tens of thousands of
//! threads; a setting the user made must either apply or be reported.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock, RwLock};

use rayon::{ThreadPool, ThreadPoolBuilder};

use crate::error::{CoreError, CoreResult};

/// Most threads a pool may have (`set_threads` and `SIGVWAP_THREADS`).
pub const MAX_THREADS: usize = 1024;

/// The environment variable that sizes the pool at first use.
pub const ENV_VAR: &str = "SIGVWAP_THREADS";

static POOL: OnceLock<RwLock<Arc<ThreadPool>>> = OnceLock::new();

/// Set once `set_threads` succeeded: an explicit size overrides the variable.
static SIZED_EXPLICITLY: AtomicBool = AtomicBool::new(false);

/// Parse a value of `SIGVWAP_THREADS`: `Ok(None)` for an empty (or blank)
/// value, `Ok(Some(n))` for an integer in 1..=MAX_THREADS (surrounding
/// blanks allowed), else `ERR_ARG` naming the variable. O(length of `raw`).
pub fn parse_env_threads(raw: &str) -> CoreResult<Option<usize>> {
    let v = raw.trim();
    if v.is_empty() {
        return Ok(None);
    }
    // Digits only: "1e3", "+4", "4.0" and "0x10" are refused, not guessed at.
    let n = if v.bytes().all(|b| b.is_ascii_digit()) { v.parse::<usize>().ok() } else { None };
    match n {
        Some(n) if (1..=MAX_THREADS).contains(&n) => Ok(Some(n)),
        _ => {
            let shown: String = raw.chars().take(40).collect();
            Err(CoreError::arg(
                ENV_VAR,
                format!(
                    "the environment variable must be an integer in 1..={MAX_THREADS} (like setThreads), got '{shown}'; \
                     unset it to use every core"
                ),
            )
            .with("value", shown))
        }
    }
}

/// `SIGVWAP_THREADS`, validated (`Ok(None)` when unset or empty).
pub fn env_threads() -> CoreResult<Option<usize>> {
    match std::env::var(ENV_VAR) {
        Ok(v) => parse_env_threads(&v),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => Err(CoreError::arg(ENV_VAR, "the environment variable is not valid Unicode")),
    }
}

/// `ERR_ARG` naming `SIGVWAP_THREADS` when it is set to an invalid value and
/// `set_threads` has not overridden it; `Ok` otherwise. Cheap (reads the
/// environment once per call).
pub fn check() -> CoreResult<()> {
    if SIZED_EXPLICITLY.load(Ordering::Acquire) {
        return Ok(());
    }
    env_threads().map(|_| ())
}

fn default_threads() -> usize {
    match env_threads() {
        Ok(Some(n)) => n,
        // An invalid value is reported by `check`, never used.
        _ => std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
    }
}

fn build(n: usize) -> CoreResult<ThreadPool> {
    ThreadPoolBuilder::new()
        .num_threads(n)
        .thread_name(|i| format!("sigvwap-{i}"))
        .build()
        .map_err(|e| CoreError::arg("threads", format!("cannot start {n} threads: {e}")))
}

fn cell() -> &'static RwLock<Arc<ThreadPool>> {
    POOL.get_or_init(|| {
        let n = default_threads();
        let pool = build(n).or_else(|_| build(1)).expect("a one-thread pool always starts");
        RwLock::new(Arc::new(pool))
    })
}

/// The current pool (cheap: one atomic increment).
pub fn current() -> Arc<ThreadPool> {
    cell().read().unwrap_or_else(|p| p.into_inner()).clone()
}

/// Run `f` inside the pool, so that rayon iterators in `f` use its threads.
pub fn install<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    current().install(f)
}

/// Number of threads of the current pool.
pub fn threads() -> usize {
    current().current_num_threads()
}

/// Resize the pool; `n` must be in 1..=MAX_THREADS. Overrides `SIGVWAP_THREADS`.
pub fn set_threads(n: usize) -> CoreResult<()> {
    if n == 0 || n > MAX_THREADS {
        return Err(CoreError::arg("threads", format!("must be in 1..={MAX_THREADS}, got {n}")));
    }
    let pool = Arc::new(build(n)?);
    *cell().write().unwrap_or_else(|p| p.into_inner()) = pool;
    SIZED_EXPLICITLY.store(true, Ordering::Release);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse_env_threads;

    #[test]
    fn env_values_are_validated_like_set_threads() {
        for (raw, want) in [("", None), ("  ", None), ("1", Some(1)), (" 4\n", Some(4)), ("1024", Some(1024))] {
            assert_eq!(parse_env_threads(raw).unwrap(), want, "{raw:?}");
        }
        for raw in ["0", "1025", "100000", "abc", "-1", "4.0", "1e3", "+4", "99999999999999999999999"] {
            let e = parse_env_threads(raw).unwrap_err();
            assert_eq!(e.code.as_str(), "ERR_ARG", "{raw:?}");
            assert!(e.message.starts_with("SIGVWAP_THREADS:"), "{raw:?}: {}", e.message);
            assert!(e.data_json().contains("\"argument\":\"SIGVWAP_THREADS\""), "{raw:?}");
        }
    }
}
