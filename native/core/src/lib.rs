//! sigvwap-core: the numerical kernels of sigvwap, free of any Node.js type.
//!
//! CPU code is the specification; CUDA kernels (feature `cuda`) mirror it and
//! are tested against it.

#[cfg(feature = "cuda")]
pub mod cuda;
pub mod buffer;
pub mod device;
pub mod error;
pub mod pool;
pub mod signature;
pub mod real;
pub mod simd;
pub mod vwap;

pub use error::{CoreError, CoreResult, ErrorCode};
pub use buffer::ZeroedBuf;
pub use real::Real;
