//! sigvwap-core: the numerical kernels of sigvwap, free of any Node.js type.
//!
//! CPU code is the specification; CUDA kernels (feature `cuda`) mirror it and
//! are tested against it. Each op is a folder (`vwap/`, `signature/`) holding
//! its API and device dispatch (`mod.rs`), its CPU code and its CUDA launcher
//! (`cuda.rs`), plus its kernels in kernels/<op>.cu; `cuda` is the shared
//! CUDA runtime and `device` resolves requests to a device.
//!
//! Module dependencies run one way (no cycle):
//!   error, real, simd: none
//!   buffer: error, real;  pool: error;  cuda (with cuda::blas): error
//!   device: error, cuda
//!   vwap, signature: error, real, pool, cuda, device (signature also buffer)
//!   matmul: error, pool, device, cuda (and the `gemm` crate);  tensor: error
//!   adam: error, device, cuda;  lstm: error, pool, device, cuda, adam
//!   tkan: error, pool, lstm (its products and activations)

pub mod adam;
pub mod attention;
pub mod buffer;
#[cfg(feature = "cuda")]
mod cuda;
#[cfg(feature = "cuda")]
pub mod cuda_timing;
mod dense;
pub mod device;
pub mod error;
pub mod fills;
pub mod fma_peak;
pub mod grn;
pub mod lstm;
pub mod matmul;
pub mod pool;
pub mod real;
pub mod signature;
pub mod tensor;
pub mod tkan;
pub mod simd;
pub mod vwap;

pub use buffer::ZeroedBuf;
pub use device::{Device, DeviceRequest};
pub use error::{CoreError, CoreResult, ErrorCode};
pub use real::Real;
