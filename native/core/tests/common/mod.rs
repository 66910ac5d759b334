//! Helpers shared by the core's integration tests (`mod common;` in each; a
//! folder module, so cargo does not build it as a test target of its own).
#![allow(dead_code)]

/// Deterministic pseudo-random numbers (splitmix64), no dependency.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1) (53 bits).
    pub fn next(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// True when a CUDA device can run the test; otherwise prints a visible
/// SKIPPED line with the reason.
#[cfg(feature = "cuda")]
pub fn gpu_or_skip(test: &str) -> bool {
    let s = sigvwap_core::device::cuda_status();
    if !s.available {
        println!("SKIPPED {test}: no usable CUDA device ({})", s.reason.unwrap_or_default());
        return false;
    }
    true
}

/// True when CUDA and cuBLAS can run the test (matmul, lstm); otherwise
/// prints a visible SKIPPED line with the reason (no device, or the driver
/// without libcublas).
#[cfg(feature = "cuda")]
pub fn blas_or_skip(test: &str) -> bool {
    let s = sigvwap_core::device::cublas_status();
    if !s.available {
        println!("SKIPPED {test}: CUDA with cuBLAS unavailable ({})", s.reason.unwrap_or_default());
        return false;
    }
    true
}
