//! CPU-vs-CUDA parity of the Adam update (feature `cuda`): the kernel
//! (`adam_update_on(Device::Cuda, …)`) against the CPU mirror of
//! src/train/adam.ts, bit for bit (both evaluate the same f64 operations in
//! the same order with no fused multiply-add). Without a usable GPU the test
//! prints a visible SKIPPED line and returns.
#![cfg(feature = "cuda")]

mod common;
use common::{gpu_or_skip, Rng};
use sigvwap_core::adam::{adam_update_on, AdamOptions};
use sigvwap_core::device::Device;

#[test]
fn cuda_adam_equals_cpu_adam_bit_for_bit() {
    if !gpu_or_skip("cuda_adam_equals_cpu_adam_bit_for_bit") {
        return;
    }
    for (name, n, opts) in [
        ("n1-default", 1, AdamOptions::default()),
        ("n1000003-default", 1_000_003, AdamOptions::default()),
        ("n4099-lr1e-2-b0.5", 4099, AdamOptions { learning_rate: 1e-2, beta1: 0.5, beta2: 0.9, epsilon: 1e-3 }),
    ] {
        let mut r = Rng::new(n as u64);
        let w0: Vec<f32> = (0..n).map(|_| (r.next() * 2.0 - 1.0) as f32).collect();
        let (mut wc, mut mc, mut vc) = (w0.clone(), vec![0f32; n], vec![0f32; n]);
        let (mut wg, mut mg, mut vg) = (w0, vec![0f32; n], vec![0f32; n]);
        for t in 1..=3u64 {
            // gradients across magnitudes, zeros and values far below ε
            let g: Vec<f32> = (0..n).map(|i| if i % 17 == 0 { 0.0 } else { ((r.next() * 2.0 - 1.0) * 10f64.powi((i % 9) as i32 - 6)) as f32 }).collect();
            adam_update_on(Device::Cpu, &opts, t, &mut wc, &g, &mut mc, &mut vc).unwrap();
            adam_update_on(Device::Cuda, &opts, t, &mut wg, &g, &mut mg, &mut vg).unwrap();
            let bits = |x: &[f32]| x.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            for (what, a, b) in [("w", &wg, &wc), ("m", &mg, &mc), ("v", &vg, &vc)] {
                if bits(a) != bits(b) {
                    let i = (0..n).find(|&i| a[i].to_bits() != b[i].to_bits()).unwrap();
                    panic!("{name} step {t} {what}[{i}]: cuda {} ({:#x}), cpu {} ({:#x})", a[i], a[i].to_bits(), b[i], b[i].to_bits());
                }
            }
        }
    }
}
