//! The one rayon pool of sigvwap.
//!
//! Every parallel kernel runs inside `install`. The pool is sized by
//! `set_threads` (N-API `setThreads`), or at first use by the environment
//! variable `SIGVWAP_THREADS`, or else by the number of available cores.
//! Resizing builds a new pool; calls already running keep the old one alive
//! through their `Arc` and finish on it.

use std::sync::{Arc, OnceLock, RwLock};

use rayon::{ThreadPool, ThreadPoolBuilder};

use crate::error::{CoreError, CoreResult};

static POOL: OnceLock<RwLock<Arc<ThreadPool>>> = OnceLock::new();

fn default_threads() -> usize {
    if let Ok(v) = std::env::var("SIGVWAP_THREADS") {
        if let Ok(n) = v.trim().parse::<usize>() {
            if n >= 1 {
                return n;
            }
        }
    }
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
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

/// Resize the pool; `n` must be in 1..=1024.
pub fn set_threads(n: usize) -> CoreResult<()> {
    if n == 0 || n > 1024 {
        return Err(CoreError::arg("threads", format!("must be in 1..=1024, got {n}")));
    }
    let pool = Arc::new(build(n)?);
    *cell().write().unwrap_or_else(|p| p.into_inner()) = pool;
    Ok(())
}
