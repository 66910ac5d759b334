//! CUDA runtime of sigvwap (feature `cuda`).
//!
//! The driver (libcuda) is loaded dynamically by cudarc at first use, so a
//! binary built with the feature loads and runs on machines without a GPU:
//! `status()` then reports `available: false` with the reason. Kernels are
//! embedded as fatbins compiled by build.rs (sm_80, sm_90 cubins + PTX).
//! One context on device 0 and its default stream serve all calls; calls are
//! serialized by a mutex (the kernels here are bandwidth-bound and large).

pub mod signature;
pub mod vwap;

use std::sync::{Arc, Mutex, OnceLock};

use cudarc::driver::{CudaContext, CudaFunction, CudaModule, CudaStream};
use cudarc::nvrtc::Ptx;

use crate::device::CudaStatus;
use crate::error::{CoreError, CoreResult, ErrorCode};

/// Embedded kernel images, by module name.
pub const MODULES: &[(&str, &[u8])] = &[
    ("signature", include_bytes!(concat!(env!("OUT_DIR"), "/signature.fatbin"))),
    ("vwap", include_bytes!(concat!(env!("OUT_DIR"), "/vwap.fatbin"))),
];

pub struct Gpu {
    pub ctx: Arc<CudaContext>,
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

/// `map_err` adapter for [`gpu`]'s reason.
pub(crate) fn unavailable(msg: &str) -> CoreError {
    CoreError::new(ErrorCode::CudaUnavailable, format!("CUDA unavailable: {msg}"))
}

/// One thread per element, default block size.
pub(crate) fn launch_cfg(n: usize) -> cudarc::driver::LaunchConfig {
    cudarc::driver::LaunchConfig::for_num_elems(n as u32)
}

/// Element types with a kernel instantiation.
pub trait GpuReal: crate::real::Real + cudarc::driver::DeviceRepr + cudarc::driver::ValidAsZeroBits {}
impl GpuReal for f32 {}
impl GpuReal for f64 {}

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
        Ok(Gpu { ctx, stream, name, modules, lock: Mutex::new(()) })
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

pub fn status() -> CudaStatus {
    if std::env::var_os("SIGVWAP_DISABLE_CUDA").is_some() {
        return CudaStatus {
            compiled: true,
            available: false,
            devices: Vec::new(),
            reason: Some("disabled by the environment variable SIGVWAP_DISABLE_CUDA".into()),
        };
    }
    match gpu() {
        Ok(g) => CudaStatus { compiled: true, available: true, devices: vec![g.name.clone()], reason: None },
        Err(e) => CudaStatus { compiled: true, available: false, devices: Vec::new(), reason: Some(e.to_string()) },
    }
}
