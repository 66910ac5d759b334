//! CPU-vs-CUDA parity of the signature kernels (feature `cuda`), through the
//! device dispatch `signature_on` / `signature_backward_on`: forward, stream
//! and backward, f64 and f32, named shapes. Without a usable GPU each test
//! prints a visible SKIPPED line and returns.
#![cfg(feature = "cuda")]

#[path = "signature_util.rs"]
mod util;

mod common;
use common::gpu_or_skip;
use sigvwap_core::device::Device;
use sigvwap_core::signature::{signature, signature_backward, signature_backward_on, signature_on, Precision, SigFloat, SigOptions};
use sigvwap_core::CoreResult;
use util::rel_error;

/// Forward on the GPU into a fresh vector.
fn signature_cuda<T: SigFloat>(path: &[T], opts: &SigOptions) -> CoreResult<Vec<T>> {
    let mut out = vec![T::from_f64(0.0); sigvwap_core::signature::output_len(opts)?];
    signature_on(Device::Cuda, path, opts, &mut out)?;
    Ok(out)
}

/// Backward on the GPU into a fresh vector (the path's length: shape errors
/// come from the path's own check).
fn signature_backward_cuda<T: SigFloat>(path: &[T], grad_out: &[T], opts: &SigOptions) -> CoreResult<Vec<T>> {
    let mut grad = vec![T::from_f64(0.0); path.len()];
    signature_backward_on(Device::Cuda, path, grad_out, opts, &mut grad)?;
    Ok(grad)
}


fn walk(n: usize, seed: u64) -> Vec<f64> {
    let mut s = seed.wrapping_mul(0x9E3779B97F4A7C15) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        })
        .collect()
}

const SHAPES: &[(&str, usize, usize, usize, usize)] = &[
    ("b1-l1-c3-m2", 1, 1, 3, 2),
    ("b1-l2-c2-m3", 1, 2, 2, 3),
    ("b3-l7-c5-m3", 3, 7, 5, 3),
    ("b2-l9-c1-m4", 2, 9, 1, 4),
    ("b64-l400-c3-m4", 64, 400, 3, 4),
    ("b5-l1000-c4-m3", 5, 1000, 4, 3),
];

#[test]
fn cuda_signature_matches_cpu() {
    if !gpu_or_skip("cuda_signature_matches_cpu") {
        return;
    }
    for &(name, batch, length, channels, depth) in SHAPES {
        for (stream, basepoint) in [(false, false), (true, false), (false, true), (true, true)] {
            let opts = SigOptions { batch, length, channels, depth, stream, basepoint, precision: Default::default() };
            let path = walk(batch * length * channels, length as u64);
            let cpu = signature(&path, &opts).unwrap();
            let gpu = signature_cuda(&path, &opts).unwrap();
            assert!(rel_error(&gpu, &cpu) <= 1e-12, "{name} stream={stream} basepoint={basepoint}: forward");
            let w = walk(cpu.len(), 7);
            let gc = signature_backward(&path, &w, &opts).unwrap();
            let gg = signature_backward_cuda(&path, &w, &opts).unwrap();
            assert!(rel_error(&gg, &gc) <= 1e-10, "{name} stream={stream} basepoint={basepoint}: backward");
            // Float32 input: the kernels compute in float64 and round the
            // output once, as the CPU does with precision f64. The CPU's
            // default for float32 input, float32 arithmetic, is printed: its
            // rounding over long paths is held to the vectors' 1e-4
            // (signature_precision.rs), not to this bound.
            let p32: Vec<f32> = path.iter().map(|&x| x as f32).collect();
            let o64 = opts.with_precision(Precision::F64);
            let c32: Vec<f64> = signature(&p32, &o64).unwrap().iter().map(|&x| x as f64).collect();
            let g32: Vec<f64> = signature_cuda(&p32, &opts).unwrap().iter().map(|&x| x as f64).collect();
            let err = rel_error(&g32, &c32);
            assert!(err <= 1e-6, "{name} stream={stream} basepoint={basepoint}: f32 forward, rel error {err:e}");
            let f32_arith: Vec<f64> = signature(&p32, &opts).unwrap().iter().map(|&x| x as f64).collect();
            println!("{name} stream={stream} basepoint={basepoint}: CUDA vs CPU float32 arithmetic, rel error {:.2e}", rel_error(&g32, &f32_arith));
        }
    }
}

#[test]
fn cuda_signature_errors_match_cpu() {
    if !gpu_or_skip("cuda_signature_errors_match_cpu") {
        return;
    }
    let opts = SigOptions { batch: 2, length: 3, channels: 2, depth: 2, stream: false, basepoint: false, precision: Default::default() };
    let mut path = walk(12, 1);
    path[7] = f64::NAN;
    assert_eq!(signature_cuda(&path, &opts).unwrap_err(), signature(&path, &opts).unwrap_err());
    assert_eq!(signature_cuda(&path[..11], &opts).unwrap_err(), signature(&path[..11], &opts).unwrap_err());
}
