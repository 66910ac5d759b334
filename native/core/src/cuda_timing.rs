//! Kernel timings on the GPU (feature `cuda`), for the timing example
//! (`cargo run --release -p sigvwap-core --features cuda --example
//! cuda_timing`): each function runs its operation on device-resident
//! random data, `warmup` times untimed and then `reps` times between two
//! CUDA events on the shared stream, and returns the milliseconds of each
//! timed run (no host copy is inside a timing). ERR_CUDA_UNAVAILABLE with
//! the reason without a GPU (or libcublas, for sgemm and lstm).

use crate::error::CoreResult;
use crate::lstm::LstmShape;

/// One row-major SGEMM [m, k]·[k, n] on cuBLAS (f32, no TF32).
pub fn sgemm_ms(m: usize, n: usize, k: usize, warmup: usize, reps: usize) -> CoreResult<Vec<f32>> {
    crate::cuda::blas::time_sgemm(m, n, k, warmup, reps)
}

/// The fused LSTM's forward and backward (weight gradients, no dx: the
/// training case), timed apart: (forward ms, backward ms) per repetition.
pub fn lstm_ms(shape: &LstmShape, warmup: usize, reps: usize) -> CoreResult<(Vec<f32>, Vec<f32>)> {
    crate::lstm::cuda::time_forward_backward(shape, warmup, reps)
}

/// One Adam update of `n` parameters.
pub fn adam_ms(n: usize, warmup: usize, reps: usize) -> CoreResult<Vec<f32>> {
    crate::adam::cuda::time_update(n, warmup, reps)
}

/// `n` pseudo-random values in [-scale, scale) (xorshift): the non-zero data
/// the timings run on, for a caller's CPU-side comparison on the same values.
pub fn random_f32(n: usize, scale: f32, seed: u64) -> Vec<f32> {
    crate::cuda::random_f32(n, scale, seed)
}
