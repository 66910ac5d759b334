//! Kernel timings of the CUDA path next to the CPU path, for a machine with
//! a GPU: `cargo run --release -p sigvwap-core --features cuda --example
//! cuda_timing` (flags: `--reps N`, default 20). Without a usable GPU and
//! libcublas it prints SKIPPED and exits 0.
//!
//! GPU figures: CUDA events around each run after warm-up, on device-resident
//! random data (no host copy inside), median of the runs. CPU figures: wall
//! time of the CPU kernels (the `gemm` crate, cpu.rs) on the native pool,
//! median of fewer runs. Each case is checked first (the GPU result against
//! the CPU one) so that nothing wrong is timed. GFLOP/s count the products'
//! multiply-adds as 2 flops (the LSTM's element-wise work is not counted).
//! Output: one line per case, `name  device  median ms  GFLOP/s (or GB/s)`.

use std::time::Instant;

use sigvwap_core::adam::AdamOptions;
use sigvwap_core::cuda_timing::{adam_ms, lstm_ms, random_f32 as rnd, sgemm_ms};
use sigvwap_core::device::{cublas_status, cuda_status, Device};
use sigvwap_core::lstm::{lstm_backward, lstm_forward, lstm_forward_on, DeviceLstmTrainer, LstmGrads, LstmParams, LstmSaved, LstmShape};
use sigvwap_core::matmul::{matmul, matmul_on, Activation, MatmulShape};
use sigvwap_core::pool;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn wall_ms(warmup: usize, reps: usize, mut f: impl FnMut()) -> Vec<f64> {
    for _ in 0..warmup {
        f();
    }
    (0..reps)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect()
}

fn row(name: &str, device: &str, ms: f64, rate: f64, unit: &str) {
    println!("{name:<40} {device:<5} {ms:>10.3} ms {rate:>10.1} {unit}");
}

fn max_rel(got: &[f32], want: &[f32]) -> f64 {
    got.iter().zip(want).map(|(&a, &b)| (a as f64 - b as f64).abs() / (1.0 + (b as f64).abs())).fold(0.0, f64::max)
}

fn main() {
    let mut reps = 20usize;
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--reps") {
        reps = args.get(i + 1).and_then(|v| v.parse().ok()).unwrap_or(reps);
    }
    let cuda = cuda_status();
    let blas = cublas_status();
    if !blas.available {
        println!("SKIPPED cuda_timing: CUDA with cuBLAS unavailable ({})", blas.reason.unwrap_or_default());
        return;
    }
    println!("device: {}; CPU threads: {}; GPU reps: {reps} after warm-up", cuda.devices.join(", "), pool::threads());
    println!("{:<40} {:<5} {:>13} {:>14}", "case", "dev", "median", "rate");

    // SGEMM 1024³: check, then time
    let n = 1024;
    let s = MatmulShape { batch_a: 1, batch_b: 1, m: n, k: n, n, transpose_a: false, transpose_b: false };
    let (a, b) = (rnd(n * n, 1.0, 1), rnd(n * n, 1.0, 2));
    let (mut cpu_out, mut gpu_out) = (vec![0f32; n * n], vec![0f32; n * n]);
    matmul(&a, &b, None, Activation::Linear, &s, &mut cpu_out).unwrap();
    matmul_on(Device::Cuda, &a, &b, None, Activation::Linear, &s, &mut gpu_out).unwrap();
    let err = max_rel(&gpu_out, &cpu_out);
    assert!(err < 1e-3, "sgemm check: max error {err:e}");
    let flops = 2.0 * (n * n * n) as f64;
    let g = median(sgemm_ms(n, n, n, 5, reps).unwrap().into_iter().map(f64::from).collect());
    row("matmul/cuda/1024x1024x1024", "cuda", g, flops / g / 1e6, "GFLOP/s");
    let c = median(wall_ms(1, 3, || matmul(&a, &b, None, Activation::Linear, &s, &mut cpu_out).unwrap()));
    row("matmul/cpu/1024x1024x1024", "cpu", c, flops / c / 1e6, "GFLOP/s");

    // LSTM forward + backward at (batch 1024, steps 72, channels 10, units 64)
    let ls = LstmShape { steps: 72, batch: 1024, channels: 10, units: 64 };
    let z = ls.sizes().unwrap();
    let w = LstmParams { wx: rnd(z.wx, 0.3, 3), wh: rnd(z.wh, 0.3, 4), bias: rnd(z.bias, 0.1, 5) };
    let (x, dh) = (rnd(z.x, 1.0, 6), rnd(z.state, 1.0, 7));
    let (mut h, mut gates, mut cst) = (vec![0f32; z.state], vec![0f32; z.gates], vec![0f32; z.state]);
    let (mut h2, mut gates2, mut c2) = (vec![0f32; z.state], vec![0f32; z.gates], vec![0f32; z.state]);
    lstm_forward(&ls, &x, &w.wx, &w.wh, &w.bias, &mut h, &mut gates, &mut cst).unwrap();
    lstm_forward_on(Device::Cuda, &ls, &x, &w.wx, &w.wh, &w.bias, &mut h2, &mut gates2, &mut c2).unwrap();
    let err = max_rel(&h2, &h);
    assert!(err < 1e-4, "lstm check: max error of h {err:e}");
    let (u, ch, rows) = (ls.units as f64, ls.channels as f64, (ls.steps * ls.batch) as f64);
    let fwd_flops = 2.0 * 4.0 * u * (ch + u) * rows;
    // dWx over all rows, dWh and dh_{t-1} over (steps − 1)·batch rows
    let bwd_flops = 2.0 * 4.0 * u * ch * rows + 2.0 * 2.0 * 4.0 * u * u * ((ls.steps - 1) * ls.batch) as f64;
    let (f, bk) = lstm_ms(&ls, 3, reps).unwrap();
    let (f, bk) = (median(f.into_iter().map(f64::from).collect()), median(bk.into_iter().map(f64::from).collect()));
    let name = "lstm/cuda/b1024-s72-c10-u64";
    row(&format!("{name} forward"), "cuda", f, fwd_flops / f / 1e6, "GFLOP/s");
    row(&format!("{name} backward"), "cuda", bk, bwd_flops / bk / 1e6, "GFLOP/s");
    row(&format!("{name} fwd+bwd"), "cuda", f + bk, (fwd_flops + bwd_flops) / (f + bk) / 1e6, "GFLOP/s");
    let cf = median(wall_ms(1, 3, || lstm_forward(&ls, &x, &w.wx, &w.wh, &w.bias, &mut h, &mut gates, &mut cst).unwrap()));
    let (mut dwx, mut dwh, mut db) = (vec![0f32; z.wx], vec![0f32; z.wh], vec![0f32; z.bias]);
    let cb = median(wall_ms(1, 3, || {
        let saved = LstmSaved { x: &x, wx: &w.wx, wh: &w.wh, h: &h, gates: &gates, c: &cst };
        lstm_backward(&ls, saved, &dh, LstmGrads { dwx: &mut dwx, dwh: &mut dwh, dbias: &mut db, dx: None }).unwrap()
    }));
    let name = "lstm/cpu/b1024-s72-c10-u64";
    row(&format!("{name} forward"), "cpu", cf, fwd_flops / cf / 1e6, "GFLOP/s");
    row(&format!("{name} backward"), "cpu", cb, bwd_flops / cb / 1e6, "GFLOP/s");
    row(&format!("{name} fwd+bwd"), "cpu", cf + cb, (fwd_flops + bwd_flops) / (cf + cb) / 1e6, "GFLOP/s");

    // one device-resident training step, wall time (x and dh in, h out, Adam on device)
    let mut trainer = DeviceLstmTrainer::new(&ls, &w, &AdamOptions::default()).unwrap();
    let y = rnd(z.state, 0.5, 8);
    let mut loss_grad = |hv: &[f32], d: &mut [f32]| d.iter_mut().zip(hv).zip(&y).for_each(|((d, &a), &b)| *d = a - b);
    let t = median(wall_ms(2, reps.min(10), || trainer.train_step(&x, &mut loss_grad).unwrap()));
    row("lstm-trainer/cuda/b1024-s72-c10-u64 step", "cuda", t, ls.batch as f64 / t * 1e3, "samples/s");

    // Adam over 10M parameters: 4 reads and 3 writes of 4 bytes per value
    let n = 10_000_000;
    let a = median(adam_ms(n, 3, reps).unwrap().into_iter().map(f64::from).collect());
    row("adam/cuda/n10M", "cuda", a, 28.0 * n as f64 / a / 1e6, "GB/s");
}
