//! CPU-vs-CUDA parity of the batched matrix product (feature `cuda`): the
//! product on cuBLAS and the epilogue kernel (`matmul_on(Device::Cuda, …)`)
//! against the `gemm` kernel on named shapes. Without a usable GPU and
//! libcublas each test prints a visible SKIPPED line and returns.
#![cfg(feature = "cuda")]

mod common;
use common::{blas_or_skip, matmul_shape as shape};
use sigvwap_core::device::Device;
use sigvwap_core::matmul::{matmul, matmul_on, Activation, MatmulShape};

fn rnd(len: usize, seed: u64) -> Vec<f32> {
    common::uniform_f32(len, 1.0, seed)
}

/// Named cases: (name, shape): 1×1×1, odd sizes, every transpose, k = 0,
/// batched and broadcast batches, one larger product (cuBLAS picks other kernels there).
fn cases() -> Vec<(&'static str, MatmulShape)> {
    vec![
        ("1x1x1", shape(1, 1, 1, 1, 1, false, false)),
        ("odd-3x5x7", shape(1, 1, 3, 5, 7, false, false)),
        ("odd-3x5x7-tA", shape(1, 1, 3, 5, 7, true, false)),
        ("odd-3x5x7-tB", shape(1, 1, 3, 5, 7, false, true)),
        ("odd-3x5x7-tAtB", shape(1, 1, 3, 5, 7, true, true)),
        ("odd-17x33x65", shape(1, 1, 17, 33, 65, false, false)),
        ("odd-17x33x65-tAtB", shape(1, 1, 17, 33, 65, true, true)),
        ("batch1-row", shape(1, 1, 1, 7, 5, false, false)),
        ("k0", shape(1, 1, 4, 0, 3, false, false)),
        ("batched-3-17x33x65", shape(3, 3, 17, 33, 65, false, true)),
        ("bcast-a1", shape(1, 5, 33, 17, 9, false, false)),
        ("bcast-b1-tB", shape(6, 1, 31, 19, 13, false, true)),
        ("large-257x1029x263", shape(1, 1, 257, 1029, 263, false, false)),
    ]
}

/// `out` within f32 rounding of the CPU's: both sum k products in f32 in
/// different orders, so |error| ≤ about k·2^-23·Σ|a||b| ≤ k·2^-23·k here.
fn check(name: &str, s: &MatmulShape, bias: bool, act: Activation) {
    let sizes = s.sizes().unwrap();
    let a = rnd(sizes.a, 1 + s.m as u64);
    let b = rnd(sizes.b, 2 + s.n as u64);
    let c = bias.then(|| rnd(s.n, 3));
    let mut want = vec![f32::NAN; sizes.out];
    matmul(&a, &b, c.as_deref(), act, s, &mut want).unwrap();
    let mut got = vec![f32::NAN; sizes.out];
    matmul_on(Device::Cuda, &a, &b, c.as_deref(), act, s, &mut got).unwrap();
    let tol = 1e-6 * (s.k as f32 + 1.0) * 4.0;
    for (i, (x, y)) in got.iter().zip(&want).enumerate() {
        assert!((x - y).abs() <= tol * (1.0 + y.abs()), "{name} bias={bias} {act:?}: cuda out[{i}] = {x}, cpu {y}");
    }
}

#[test]
fn cublas_matches_cpu_on_named_shapes() {
    if !blas_or_skip("cublas_matches_cpu_on_named_shapes") {
        return;
    }
    for (name, s) in cases() {
        check(name, &s, false, Activation::Linear);
    }
}

#[test]
fn cuda_epilogue_matches_cpu_for_every_activation() {
    if !blas_or_skip("cuda_epilogue_matches_cpu_for_every_activation") {
        return;
    }
    let acts = [Activation::Linear, Activation::Relu, Activation::Relu6, Activation::Sigmoid, Activation::Elu, Activation::LeakyRelu(0.3)];
    for (name, s) in [("odd-3x5x7", shape(1, 1, 3, 5, 7, false, false)), ("bcast-b1-tB", shape(6, 1, 31, 19, 13, false, true)), ("k0", shape(1, 1, 4, 0, 3, false, false))] {
        for act in acts {
            check(name, &s, true, act);
            check(name, &s, false, act);
        }
    }
}

#[test]
fn cuda_propagates_nan_like_cpu() {
    if !blas_or_skip("cuda_propagates_nan_like_cpu") {
        return;
    }
    let s = shape(1, 1, 2, 2, 2, false, false);
    let a = [f32::NAN, 1.0, 2.0, 3.0];
    let b = [1.0f32, 0.0, 0.0, 1.0];
    for act in [Activation::Relu, Activation::Relu6, Activation::Sigmoid, Activation::Elu, Activation::LeakyRelu(0.2)] {
        let (mut want, mut got) = ([0f32; 4], [0f32; 4]);
        matmul(&a, &b, None, act, &s, &mut want).unwrap();
        matmul_on(Device::Cuda, &a, &b, None, act, &s, &mut got).unwrap();
        assert_eq!(got.map(f32::is_nan), want.map(f32::is_nan), "{act:?}");
    }
}
