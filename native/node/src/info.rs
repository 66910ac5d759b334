//! backendInfo(), setThreads(), and test hooks: one that panics on purpose,
//! one that lists the spare result buffers (`outbuf.rs`).

use napi::bindgen_prelude::AsyncTask;
use napi::{Env, Task};
use napi_derive::napi;
use sigvwap_core::device::cuda_status;
use sigvwap_core::pool;

use crate::errors::guarded;

#[napi(object)]
pub struct CudaInfo {
    pub compiled: bool,
    pub available: bool,
    pub devices: Vec<String>,
    pub reason: Option<String>,
}

#[napi(object)]
pub struct BackendInfo {
    pub version: String,
    pub simd: String,
    pub threads: u32,
    pub cuda: CudaInfo,
}

/// ERR_ARG naming SIGVWAP_THREADS when the variable is invalid (and
/// `setThreads` has not overridden it): `sigvwap info` reports it instead of
/// showing a thread count that the variable did not set.
#[napi]
pub fn backend_info() -> napi::Result<BackendInfo> {
    guarded("backendInfo", || {
        pool::check()?;
        let c = cuda_status();
        Ok(BackendInfo {
            version: env!("CARGO_PKG_VERSION").to_string(),
            simd: sigvwap_core::simd::simd_level().to_string(),
            threads: pool::threads() as u32,
            cuda: CudaInfo { compiled: c.compiled, available: c.available, devices: c.devices, reason: c.reason },
        })
    })
}

/// Overrides SIGVWAP_THREADS (valid or not).
#[napi]
pub fn set_threads(n: f64) -> napi::Result<()> {
    guarded("setThreads", || pool::set_threads(crate::args::size("threads", n)?))
}

/// Panics inside the native code on purpose, to test that a panic becomes
/// ERR_PANIC (sync) or a rejected promise (async) and never aborts Node.
#[napi]
pub fn debug_panic(message: String) -> napi::Result<()> {
    guarded("debugPanic", || -> sigvwap_core::CoreResult<()> { panic!("{message}") })
}

pub struct PanicTask(String);

impl Task for PanicTask {
    type Output = ();
    type JsValue = ();
    fn compute(&mut self) -> napi::Result<()> {
        let m = self.0.clone();
        guarded("debugPanicAsync", move || -> sigvwap_core::CoreResult<()> {
            // Panic on a rayon worker too: the panic must cross back to this thread.
            sigvwap_core::pool::install(|| panic!("{m}"))
        })
    }
    fn resolve(&mut self, _env: Env, _out: ()) -> napi::Result<()> {
        Ok(())
    }
}

#[napi(ts_return_type = "Promise<void>")]
pub fn debug_panic_async(message: String) -> AsyncTask<PanicTask> {
    AsyncTask::new(PanicTask(message))
}

#[napi(object)]
pub struct FmaPeak {
    /// GFLOP/s over all pool threads (an FMA counts 2).
    pub gflops: f64,
    pub threads: u32,
    /// Vector lanes of one FMA instruction measured.
    pub lanes: u32,
    /// "avx512f", "avx2+fma" or "portable".
    pub simd: String,
}

/// Measured FMA throughput of the pool's threads (`sigvwap_core::fma_peak`):
/// float32 when `f32`, else float64. Blocks for ~30 ms.
#[napi]
pub fn fma_peak(f32: bool) -> napi::Result<FmaPeak> {
    guarded("fmaPeak", || {
        pool::check()?;
        let p = sigvwap_core::fma_peak::fma_peak(f32);
        Ok(FmaPeak { gflops: p.gflops, threads: p.threads as u32, lanes: p.lanes as u32, simd: p.simd.to_string() })
    })
}

#[napi(object)]
pub struct SpareBuffer {
    pub f64: bool,
    pub length: f64,
}

/// The spare buffers kept for reuse (`outbuf::park`), oldest first: lets a
/// test see that a collected result was kept and that the next result of its
/// size took it.
#[napi]
pub fn debug_spares() -> Vec<SpareBuffer> {
    crate::outbuf::spares().into_iter().map(|(f64, len)| SpareBuffer { f64, length: len as f64 }).collect()
}
