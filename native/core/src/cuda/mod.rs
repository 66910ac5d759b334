//! CUDA runtime shared by the ops (feature `cuda`): context, kernel modules,
//! launch helpers, and cuBLAS ([`blas`]). The ops' launchers live in their
//! folders (`vwap/cuda.rs`, `signature/cuda.rs`, `lstm/cuda.rs` ...); this
//! module knows none of them.
//!
//! The driver (libcuda) is loaded dynamically by cudarc at first use, so a
//! binary built with the feature loads and runs on machines without a GPU:
//! [`gpu`] then returns the reason, which the `device` module reports as
//! `available: false`. Kernels are embedded as fatbins compiled by build.rs
//! from every kernels/<op>.cu (sm_80, sm_90 cubins + PTX), one module per
//! file. One context on device 0 and its default stream serve all calls;
//! calls are serialized by a mutex (the kernels here are bandwidth-bound and
//! large).

pub(crate) mod blas;

use std::sync::{Arc, Mutex, OnceLock};

use cudarc::driver::{CudaContext, CudaFunction, CudaModule, CudaSlice, CudaStream, DevicePtr, DeviceRepr, ValidAsZeroBits};
use cudarc::nvrtc::Ptx;

use crate::error::{CoreError, CoreResult, ErrorCode};

/// Embedded kernel images, by module name (the .cu file's stem), listed by build.rs.
pub const MODULES: &[(&str, &[u8])] = include!(concat!(env!("OUT_DIR"), "/modules.rs"));

pub struct Gpu {
    pub stream: Arc<CudaStream>,
    pub name: String,
    modules: Vec<(&'static str, Arc<CudaModule>)>,
    pub lock: Mutex<()>,
}

impl Gpu {
    pub fn function(&self, module: &str, name: &str) -> CoreResult<CudaFunction> {
        let m = self
            .modules
            .iter()
            .find(|(n, _)| *n == module)
            .ok_or_else(|| CoreError::new(ErrorCode::CudaUnavailable, format!("no CUDA module '{module}'")))?;
        m.1.load_function(name).map_err(|e| driver_error(&format!("load {name}"), e))
    }
}

pub fn driver_error(what: &str, e: impl std::fmt::Debug) -> CoreError {
    CoreError::new(ErrorCode::CudaUnavailable, format!("CUDA error during {what}: {e:?}"))
}

/// `map_err` adapter: a driver error during `what`.
pub(crate) fn e(what: &'static str) -> impl Fn(cudarc::driver::DriverError) -> CoreError {
    move |err| driver_error(what, err)
}

/// One thread per element, 256 threads a block. Not cudarc's
/// `for_num_elems` (1024 a block): a block's threads share 65536 registers,
/// so a kernel using more than 64 registers a thread cannot launch 1024 of
/// them. The signature and fill kernels use more, and failed to launch with
/// 1024 (CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES on an H200, nvcc 13.0,
/// 2026-12-04); 256 threads at the per-thread maximum of 255 registers fit.
/// Kernels compare their index with n, so the last block may be partial.
pub(crate) fn launch_cfg(n: usize) -> cudarc::driver::LaunchConfig {
    let blocks = n.div_ceil(256).clamp(1, i32::MAX as usize) as u32;
    cudarc::driver::LaunchConfig { grid_dim: (blocks, 1, 1), block_dim: (256, 1, 1), shared_mem_bytes: 0 }
}

/// For kernels with a grid-stride loop over `n` elements: 256 threads a
/// block, at most 65535 blocks (enough to fill any current GPU).
pub(crate) fn grid_stride_cfg(n: usize) -> cudarc::driver::LaunchConfig {
    let blocks = n.div_ceil(256).clamp(1, 65_535) as u32;
    cudarc::driver::LaunchConfig { grid_dim: (blocks, 1, 1), block_dim: (256, 1, 1), shared_mem_bytes: 0 }
}

/// Milliseconds of `work` on the GPU's stream, by CUDA events around each of
/// `warmup + reps` calls; the first `warmup` are dropped. The caller holds
/// the GPU lock; `work` only queues work on the stream.
pub(crate) fn time_on_stream(g: &Gpu, warmup: usize, reps: usize, work: &mut dyn FnMut() -> CoreResult<()>) -> CoreResult<Vec<f32>> {
    let ctx = g.stream.context();
    let flags = Some(cudarc::driver::sys::CUevent_flags::CU_EVENT_DEFAULT);
    let (start, end) = (ctx.new_event(flags).map_err(e("event"))?, ctx.new_event(flags).map_err(e("event"))?);
    let mut out = Vec::with_capacity(reps);
    for i in 0..warmup + reps {
        start.record(&g.stream).map_err(e("event record"))?;
        work()?;
        end.record(&g.stream).map_err(e("event record"))?;
        let ms = start.elapsed_ms(&end).map_err(e("event elapsed"))?;
        if i >= warmup {
            out.push(ms);
        }
    }
    Ok(out)
}

/// `n` pseudo-random values in [-scale, scale) (xorshift; for timings on non-zero data).
pub(crate) fn random_f32(n: usize, scale: f32, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            ((s >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * scale
        })
        .collect()
}

/// A copy of `host` on the device; an empty slice gets one zeroed element,
/// since the driver refuses allocations of zero bytes.
pub(crate) fn upload<T: DeviceRepr + ValidAsZeroBits + Copy>(s: &Arc<CudaStream>, host: &[T], what: &'static str) -> CoreResult<CudaSlice<T>> {
    if host.is_empty() {
        return s.alloc_zeros::<T>(1).map_err(e(what));
    }
    s.clone_htod(host).map_err(e(what))
}

/// `n` zeroed elements on the device (at least one, see [`upload`]).
pub(crate) fn zeros<T: DeviceRepr + ValidAsZeroBits>(s: &Arc<CudaStream>, n: usize) -> CoreResult<CudaSlice<T>> {
    s.alloc_zeros::<T>(n.max(1)).map_err(e("alloc"))
}

/// The raw device address of `x`, for kernel arguments and cuBLAS calls at
/// an offset. All work here runs on the one stream of [`Gpu`], so the
/// stream-synchronisation record cudarc returns with it has nothing to do
/// (it only acts between several streams) and is dropped at once.
pub(crate) fn addr<T>(x: &CudaSlice<T>, s: &CudaStream) -> u64 {
    x.device_ptr(s).0
}

static GPU: OnceLock<Result<Gpu, String>> = OnceLock::new();

fn init() -> Result<Gpu, String> {
    // SAFETY: probing for the shared library has no preconditions.
    if !unsafe { cudarc::driver::sys::is_culib_present() } {
        return Err("the CUDA driver library (libcuda) was not found on this machine".into());
    }
    // cudarc panics on missing symbols (a driver older than the API we bind).
    let r = std::panic::catch_unwind(|| -> Result<Gpu, String> {
        let n = CudaContext::device_count().map_err(|e| format!("cuInit/device count failed: {e:?}"))?;
        if n < 1 {
            return Err("the CUDA driver reports no device".into());
        }
        let ctx = CudaContext::new(0).map_err(|e| format!("cannot create a context on device 0: {e:?}"))?;
        let (maj, min) = ctx.compute_capability().map_err(|e| format!("{e:?}"))?;
        let name = format!("{} (sm_{maj}{min})", ctx.name().unwrap_or_else(|_| "unknown".into()));
        let mut modules = Vec::new();
        for (mname, image) in MODULES {
            let m = ctx
                .load_module(Ptx::from_binary(image.to_vec()))
                .map_err(|e| format!("cannot load kernel module '{mname}' on {name}: {e:?}"))?;
            modules.push((*mname, m));
        }
        let stream = ctx.default_stream();
        // The stream and the modules keep the context alive.
        Ok(Gpu { stream, name, modules, lock: Mutex::new(()) })
    });
    match r {
        Ok(x) => x,
        Err(p) => Err(format!(
            "the CUDA driver could not be initialised: {}",
            p.downcast_ref::<String>().cloned().or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string())).unwrap_or_default()
        )),
    }
}

/// The initialised GPU, or why there is none (cached after the first call).
pub fn gpu() -> Result<&'static Gpu, &'static str> {
    match GPU.get_or_init(init) {
        Ok(g) => Ok(g),
        Err(e) => Err(e.as_str()),
    }
}
