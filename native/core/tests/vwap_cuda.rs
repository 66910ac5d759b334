//! CPU-vs-CUDA parity of the VWAP loss (feature `cuda`), through the device
//! dispatch `vwap_loss_on`. Without a usable GPU each test prints a visible
//! SKIPPED line and returns.
#![cfg(feature = "cuda")]

mod common;
use common::gpu_or_skip;
use sigvwap_core::device::Device;
use sigvwap_core::vwap::{vwap_loss, vwap_loss_grad, vwap_loss_on, LossKind, VwapArgs, ZeroVolumePolicy};
use sigvwap_core::ErrorCode;


fn data(batch: usize, horizon: usize) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let mut s = 12345u64;
    let mut r = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 11) as f64 / (1u64 << 53) as f64
    };
    let n = batch * horizon;
    let a = (0..n).map(|_| 0.01 + r()).collect();
    let p = (0..n).map(|_| 100.0 + r()).collect();
    let v = (0..n).map(|_| 0.1 + r() * 10.0).collect();
    (a, p, v)
}

#[test]
fn cuda_matches_cpu() {
    if !gpu_or_skip("cuda_matches_cpu") {
        return;
    }
    for (name, batch, horizon) in [("b1-h1", 1, 1), ("b3-h2", 3, 2), ("b1000-h12", 1000, 12), ("b100003-h13", 100_003, 13)] {
        for kind in [LossKind::Abs, LossKind::Quad] {
            let (a, p, v) = data(batch, horizon);
            let args = VwapArgs { batch, horizon, kind, on_zero_volume: ZeroVolumePolicy::Error };
            let (g_cpu, o_cpu) = vwap_loss_grad(&a, &p, &v, &args).unwrap();
            let mut g_gpu = vec![0.0; a.len()];
            let o_gpu = vwap_loss_on(Device::Cuda, &a, &p, &v, &args, Some(&mut g_gpu)).unwrap();
            assert!((o_cpu.mean - o_gpu.mean).abs() <= 1e-12 * o_cpu.mean.abs(), "{name} {kind:?} mean");
            let gmax = g_cpu.iter().fold(0.0f64, |m, x| m.max(x.abs()));
            assert!(g_cpu.iter().zip(&g_gpu).all(|(x, y)| (x - y).abs() <= 1e-10 * gmax), "{name} {kind:?} grad");
            let a32: Vec<f32> = a.iter().map(|&x| x as f32).collect();
            let p32: Vec<f32> = p.iter().map(|&x| x as f32).collect();
            let v32: Vec<f32> = v.iter().map(|&x| x as f32).collect();
            let o32c = vwap_loss(&a32, &p32, &v32, &args).unwrap();
            let o32g = vwap_loss_on(Device::Cuda, &a32, &p32, &v32, &args, None).unwrap();
            assert!((o32c.mean - o32g.mean).abs() <= 1e-12 * o32c.mean.abs(), "{name} {kind:?} f32 mean");
        }
    }
}

/// Mixed float types run the f64 kernels on widened inputs; an f32 `alloc`
/// gets its gradient rounded from the f64 one.
#[test]
fn cuda_mixed_types_match_cpu() {
    if !gpu_or_skip("cuda_mixed_types_match_cpu") {
        return;
    }
    let (batch, horizon) = (1000, 12);
    let (a, p, v) = data(batch, horizon);
    let args = VwapArgs { batch, horizon, kind: LossKind::Quad, on_zero_volume: ZeroVolumePolicy::Error };
    let a32: Vec<f32> = a.iter().map(|&x| x as f32).collect();
    let p32: Vec<f32> = p.iter().map(|&x| x as f32).collect();
    let (g_cpu, o_cpu) = vwap_loss_grad(&a32, &p, &v, &args).unwrap();
    let mut g_gpu = vec![0f32; a.len()];
    let o_gpu = vwap_loss_on(Device::Cuda, &a32, &p, &v, &args, Some(&mut g_gpu)).unwrap();
    assert!((o_cpu.mean - o_gpu.mean).abs() <= 1e-12 * o_cpu.mean.abs(), "f32/f64/f64 mean");
    let gmax = g_cpu.iter().fold(0.0f64, |m, x| m.max(x.abs() as f64));
    assert!(g_cpu.iter().zip(&g_gpu).all(|(x, y)| ((x - y).abs() as f64) <= 1e-6 * gmax), "f32/f64/f64 grad");
    let mut g64 = vec![0f64; a.len()];
    let o_mixed = vwap_loss_on(Device::Cuda, &a, &p32, &v, &args, Some(&mut g64)).unwrap();
    let (g_ref, o_ref) = vwap_loss_grad(&a, &p32, &v, &args).unwrap();
    assert!((o_ref.mean - o_mixed.mean).abs() <= 1e-12 * o_ref.mean.abs(), "f64/f32/f64 mean");
    let gmax = g_ref.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    assert!(g_ref.iter().zip(&g64).all(|(x, y)| (x - y).abs() <= 1e-10 * gmax), "f64/f32/f64 grad");
}

#[test]
fn cuda_errors_match_cpu() {
    if !gpu_or_skip("cuda_errors_match_cpu") {
        return;
    }
    let (a, mut p, mut v) = data(4, 3);
    let args = VwapArgs { batch: 4, horizon: 3, kind: LossKind::Abs, on_zero_volume: ZeroVolumePolicy::Error };
    v[6..9].iter_mut().for_each(|x| *x = 0.0);
    let e = vwap_loss_on(Device::Cuda, &a, &p, &v, &args, None).unwrap_err();
    assert_eq!(e.code, ErrorCode::ZeroVolume);
    p[1] = f64::NAN;
    assert_eq!(vwap_loss_on(Device::Cuda, &a, &p, &v, &args, None).unwrap_err(), vwap_loss(&a, &p, &v, &args).unwrap_err());
}
