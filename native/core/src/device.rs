//! Device selection: `auto` uses CUDA when it is compiled in and a device
//! works, else the CPU; `cuda` demands it (ERR_CUDA_UNAVAILABLE with the
//! reason otherwise); `cpu` never touches the driver.
//!
//! Dependencies run one way: this module asks the CUDA runtime (module
//! `cuda`, feature `cuda`) whether a GPU is up and turns the answer into
//! [`CudaStatus`]; the runtime knows nothing of devices or requests. Each op
//! (`vwap`, `signature`) takes a resolved [`Device`] and dispatches to its
//! CPU or CUDA code; `cuda_only!` gives those dispatches their typed error in
//! a build without the feature.

use crate::error::{CoreError, CoreResult};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceRequest {
    Auto,
    Cpu,
    Cuda,
}

impl DeviceRequest {
    pub fn parse(s: Option<&str>) -> CoreResult<Self> {
        match s {
            None | Some("auto") => Ok(DeviceRequest::Auto),
            Some("cpu") => Ok(DeviceRequest::Cpu),
            Some("cuda") => Ok(DeviceRequest::Cuda),
            Some(other) => Err(CoreError::arg("device", format!("must be 'auto', 'cpu' or 'cuda', got '{other}'"))),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Device {
    Cpu,
    Cuda,
}

impl Device {
    /// The name JavaScript sees (`result.device`).
    pub fn as_str(self) -> &'static str {
        match self {
            Device::Cpu => "cpu",
            Device::Cuda => "cuda",
        }
    }
}

/// What `backendInfo().cuda` reports.
#[derive(Clone, Debug, PartialEq)]
pub struct CudaStatus {
    /// Built with the `cuda` feature.
    pub compiled: bool,
    /// Driver loaded and at least one device initialised.
    pub available: bool,
    /// Device names (with compute capability).
    pub devices: Vec<String>,
    /// Why CUDA is not available (None when it is).
    pub reason: Option<String>,
}

/// Why CUDA is unavailable in a build without the `cuda` feature.
pub const NOT_COMPILED: &str =
    "this build of sigvwap was compiled without the `cuda` feature (build with `npm run build:cuda`)";

pub fn cuda_status() -> CudaStatus {
    #[cfg(feature = "cuda")]
    {
        if std::env::var_os("SIGVWAP_DISABLE_CUDA").is_some() {
            // Checked before the runtime is touched: the driver is never loaded then.
            return CudaStatus {
                compiled: true,
                available: false,
                devices: Vec::new(),
                reason: Some("disabled by the environment variable SIGVWAP_DISABLE_CUDA".into()),
            };
        }
        match crate::cuda::gpu() {
            Ok(g) => CudaStatus { compiled: true, available: true, devices: vec![g.name.clone()], reason: None },
            Err(e) => CudaStatus { compiled: true, available: false, devices: Vec::new(), reason: Some(e.to_string()) },
        }
    }
    #[cfg(not(feature = "cuda"))]
    {
        CudaStatus { compiled: false, available: false, devices: Vec::new(), reason: Some(NOT_COMPILED.into()) }
    }
}

/// What `backendInfo().cuda.cublas` reports: whether the ops whose CUDA path
/// runs its products on cuBLAS (matmul, lstm) can use the GPU. libcublas is
/// part of the CUDA toolkit, not of the driver, so it can be missing where
/// the other kernels run.
#[derive(Clone, Debug, PartialEq)]
pub struct CublasStatus {
    /// The driver, a device and libcublas all loaded, and a handle created.
    pub available: bool,
    /// Why not (None when available): the driver's reason first.
    pub reason: Option<String>,
}

/// Loads libcublas at the first call (cached); `cuda_status` never does.
pub fn cublas_status() -> CublasStatus {
    let s = cuda_status();
    if !s.available {
        return CublasStatus { available: false, reason: s.reason };
    }
    #[cfg(feature = "cuda")]
    {
        match crate::cuda::blas::blas() {
            Ok(_) => CublasStatus { available: true, reason: None },
            Err(e) => CublasStatus { available: false, reason: Some(e.to_string()) },
        }
    }
    #[cfg(not(feature = "cuda"))]
    {
        CublasStatus { available: false, reason: Some(NOT_COMPILED.into()) }
    }
}

/// [`resolve`] for the ops whose CUDA path needs cuBLAS (matmul, lstm):
/// `auto` stays on the CPU when the driver works but libcublas does not
/// load; `cuda` is then ERR_CUDA_UNAVAILABLE with that reason.
pub fn resolve_blas(req: DeviceRequest) -> CoreResult<Device> {
    match req {
        DeviceRequest::Cpu => Ok(Device::Cpu),
        DeviceRequest::Auto => Ok(if cublas_status().available { Device::Cuda } else { Device::Cpu }),
        DeviceRequest::Cuda => {
            let s = cublas_status();
            if s.available {
                Ok(Device::Cuda)
            } else {
                Err(CoreError::cuda_unavailable(s.reason.unwrap_or_else(|| "unknown".into())))
            }
        }
    }
}

/// Resolve a request to the device that will run the kernel.
pub fn resolve(req: DeviceRequest) -> CoreResult<Device> {
    match req {
        DeviceRequest::Cpu => Ok(Device::Cpu),
        DeviceRequest::Auto => Ok(if cuda_status().available { Device::Cuda } else { Device::Cpu }),
        DeviceRequest::Cuda => {
            let s = cuda_status();
            if s.available {
                Ok(Device::Cuda)
            } else {
                Err(CoreError::cuda_unavailable(s.reason.unwrap_or_else(|| "unknown".into())))
            }
        }
    }
}

/// `cuda_only!(expr)`: `expr` (an op's CUDA path, a `CoreResult`) in a build
/// with the `cuda` feature; in a build without it, `expr` is not compiled and
/// the value is ERR_CUDA_UNAVAILABLE naming the missing feature. The ops'
/// dispatch on [`Device::Cuda`] goes through it, so that their CUDA modules
/// (compiled only with the feature) need no stubs.
macro_rules! cuda_only {
    ($e:expr) => {{
        #[cfg(feature = "cuda")]
        {
            $e
        }
        #[cfg(not(feature = "cuda"))]
        {
            Err($crate::error::CoreError::cuda_unavailable($crate::device::NOT_COMPILED))
        }
    }};
}
pub(crate) use cuda_only;
