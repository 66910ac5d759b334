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

/// `len` values uniform in [-scale, scale), rounded to f32 (seeded).
pub fn uniform_f32(len: usize, scale: f64, seed: u64) -> Vec<f32> {
    let mut r = Rng::new(seed);
    (0..len).map(|_| ((r.next() * 2.0 - 1.0) * scale) as f32).collect()
}

/// Every |got − want| ≤ tol·(1 + |want|); a failure names the case, the
/// array, the index and the two sides (`labels`: what got and want are).
pub fn assert_close_f32(name: &str, what: &str, got: &[f32], want: &[f32], tol: f64, labels: (&str, &str)) {
    assert_eq!(got.len(), want.len(), "{name} {what}: length");
    for (i, (&a, &b)) in got.iter().zip(want).enumerate() {
        let err = (a as f64 - b as f64).abs() / (1.0 + (b as f64).abs());
        assert!(err <= tol, "{name} {what}[{i}]: {} {a}, {} {b} (error {err:.2e} > {tol:.0e})", labels.0, labels.1);
    }
}

/// An LSTM shape by its four sizes.
pub fn lstm_shape(steps: usize, batch: usize, channels: usize, units: usize) -> sigvwap_core::lstm::LstmShape {
    sigvwap_core::lstm::LstmShape { steps, batch, channels, units }
}

/// A matmul shape by its sizes and transposes.
pub fn matmul_shape(batch_a: usize, batch_b: usize, m: usize, k: usize, n: usize, transpose_a: bool, transpose_b: bool) -> sigvwap_core::matmul::MatmulShape {
    sigvwap_core::matmul::MatmulShape { batch_a, batch_b, m, k, n, transpose_a, transpose_b }
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
