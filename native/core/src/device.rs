//! Device selection: `auto` uses CUDA when it is compiled in and a device
//! works, else the CPU; `cuda` demands it (ERR_CUDA_UNAVAILABLE with the
//! reason otherwise); `cpu` never touches the driver.

use crate::error::{CoreError, CoreResult, ErrorCode};

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

pub fn cuda_status() -> CudaStatus {
    #[cfg(feature = "cuda")]
    {
        crate::cuda::status()
    }
    #[cfg(not(feature = "cuda"))]
    {
        CudaStatus {
            compiled: false,
            available: false,
            devices: Vec::new(),
            reason: Some("this build of sigvwap was compiled without the `cuda` feature (build with `npm run build:cuda`)".into()),
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
                let reason = s.reason.unwrap_or_else(|| "unknown".into());
                Err(CoreError::new(ErrorCode::CudaUnavailable, format!("device 'cuda' requested but unavailable: {reason}"))
                    .with("argument", "device")
                    .with("reason", reason))
            }
        }
    }
}
