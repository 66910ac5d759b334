//! CPU-vs-CUDA parity of the fused LSTM (feature `cuda`): forward and
//! backward through `lstm_forward_on` / `lstm_backward_on(Device::Cuda, …)`
//! against cpu.rs on named shapes, and N training steps of the
//! device-resident `DeviceLstmTrainer` against the same steps with cpu.rs and
//! the CPU Adam. Without a usable GPU and libcublas each test prints a
//! visible SKIPPED line and returns.
#![cfg(feature = "cuda")]

mod common;
use common::{blas_or_skip, lstm_shape as shape, uniform_f32 as rnd};
use sigvwap_core::adam::{adam_update_on, AdamOptions};
use sigvwap_core::device::Device;
use sigvwap_core::lstm::{lstm_backward_on, lstm_forward_on, DeviceLstmTrainer, LstmGrads, LstmParams, LstmSaved, LstmShape};
use sigvwap_core::ErrorCode;

/// Named shapes: batch 1, steps 1 and 2, odd units and channels, no input
/// channel, one unit, and a training-like size (cuBLAS picks other kernels).
fn cases() -> Vec<(&'static str, LstmShape)> {
    vec![
        ("batch1-step1", shape(1, 1, 3, 2)),
        ("batch1-steps2", shape(2, 1, 5, 3)),
        ("steps2", shape(2, 3, 2, 3)),
        ("odd-5x7x3x5", shape(5, 7, 3, 5)),
        ("no-channels", shape(3, 4, 0, 3)),
        ("unit1", shape(4, 2, 2, 1)),
        ("odd-9x101x7x17", shape(9, 101, 7, 17)),
        ("train-12x1024x10x64", shape(12, 1024, 10, 64)),
    ]
}

/// |got − want| ≤ tol·(1 + |want|), the measure of tests/lstm_cpu.rs.
fn assert_close(name: &str, what: &str, got: &[f32], want: &[f32], tol: f64) {
    common::assert_close_f32(name, what, got, want, tol, ("cuda", "cpu"));
}

struct Run {
    h: Vec<f32>,
    gates: Vec<f32>,
    c: Vec<f32>,
    dwx: Vec<f32>,
    dwh: Vec<f32>,
    db: Vec<f32>,
    dx: Vec<f32>,
}

fn run(device: Device, s: &LstmShape, x: &[f32], w: &LstmParams, dh: &[f32]) -> Run {
    let z = s.sizes().unwrap();
    let (mut h, mut gates, mut c) = (vec![f32::NAN; z.state], vec![f32::NAN; z.gates], vec![f32::NAN; z.state]);
    lstm_forward_on(device, s, x, &w.wx, &w.wh, &w.bias, &mut h, &mut gates, &mut c).unwrap();
    let (mut dwx, mut dwh, mut db, mut dx) = (vec![f32::NAN; z.wx], vec![f32::NAN; z.wh], vec![f32::NAN; z.bias], vec![f32::NAN; z.x]);
    let saved = LstmSaved { x, wx: &w.wx, wh: &w.wh, h: &h, gates: &gates, c: &c };
    lstm_backward_on(device, s, saved, dh, LstmGrads { dwx: &mut dwx, dwh: &mut dwh, dbias: &mut db, dx: Some(&mut dx) }).unwrap();
    Run { h, gates, c, dwx, dwh, db, dx }
}

fn weights(s: &LstmShape, seed: u64) -> LstmParams {
    let z = s.sizes().unwrap();
    LstmParams { wx: rnd(z.wx, 0.6, seed), wh: rnd(z.wh, 0.6, seed + 1), bias: rnd(z.bias, 0.3, seed + 2) }
}

#[test]
fn cuda_forward_and_backward_match_cpu_on_named_shapes() {
    if !blas_or_skip("cuda_forward_and_backward_match_cpu_on_named_shapes") {
        return;
    }
    for (name, s) in cases() {
        let z = s.sizes().unwrap();
        let (x, w, dh) = (rnd(z.x, 1.0, 11), weights(&s, 12), rnd(z.state, 1.0, 15));
        let cpu = run(Device::Cpu, &s, &x, &w, &dh);
        let gpu = run(Device::Cuda, &s, &x, &w, &dh);
        assert_close(name, "h", &gpu.h, &cpu.h, 1e-5);
        assert_close(name, "gates", &gpu.gates, &cpu.gates, 1e-5);
        assert_close(name, "c", &gpu.c, &cpu.c, 1e-5);
        assert_close(name, "dwx", &gpu.dwx, &cpu.dwx, 1e-4);
        assert_close(name, "dwh", &gpu.dwh, &cpu.dwh, 1e-4);
        assert_close(name, "dbias", &gpu.db, &cpu.db, 1e-4);
        assert_close(name, "dx", &gpu.dx, &cpu.dx, 1e-4);
    }
}

#[test]
fn cuda_backward_without_dx_gives_the_same_weight_gradients() {
    if !blas_or_skip("cuda_backward_without_dx_gives_the_same_weight_gradients") {
        return;
    }
    let s = shape(4, 37, 3, 5);
    let z = s.sizes().unwrap();
    let (x, w, dh) = (rnd(z.x, 1.0, 5), weights(&s, 6), rnd(z.state, 1.0, 9));
    let full = run(Device::Cuda, &s, &x, &w, &dh);
    let (mut dwx, mut dwh, mut db) = (vec![0f32; z.wx], vec![0f32; z.wh], vec![0f32; z.bias]);
    let saved = LstmSaved { x: &x, wx: &w.wx, wh: &w.wh, h: &full.h, gates: &full.gates, c: &full.c };
    lstm_backward_on(Device::Cuda, &s, saved, &dh, LstmGrads { dwx: &mut dwx, dwh: &mut dwh, dbias: &mut db, dx: None }).unwrap();
    assert_eq!((dwx, dwh, db), (full.dwx, full.dwh, full.db));
}

/// The loss of the trainer tests: L = ½ Σ (h − y)², so dh = h − y.
fn loss_grad(y: &[f32]) -> impl FnMut(&[f32], &mut [f32]) + '_ {
    move |h, dh| {
        for ((d, &hv), &yv) in dh.iter_mut().zip(h).zip(y) {
            *d = hv - yv;
        }
    }
}

/// N steps on the device vs the same N steps on the CPU (cpu.rs and the CPU
/// Adam, the mirror of src/train/adam.ts). ε = 1e-3 rather than adam.ts's
/// 1e-7: near g = 0 the update lr·m/(√v + ε) of the first steps is about
/// lr·sign(g) when ε ≪ |g|, so a rounding-level difference in a tiny
/// gradient would flip a whole step; with ε = 1e-3 the update is Lipschitz
/// in g (constant ≤ lr_t/ε) and a 1e-4 tolerance measures the kernels,
/// not that discontinuity. The Adam kernel itself is compared bit for bit
/// with the default ε in tests/adam_cuda.rs.
#[test]
fn device_resident_training_steps_match_cpu_steps() {
    if !blas_or_skip("device_resident_training_steps_match_cpu_steps") {
        return;
    }
    let opts = AdamOptions { learning_rate: 1e-2, epsilon: 1e-3, ..AdamOptions::default() };
    for (name, s, n_steps) in [("batch1-steps2", shape(2, 1, 3, 5), 4), ("odd-6x33x5x7", shape(6, 33, 5, 7), 5), ("train-12x256x10x16", shape(12, 256, 10, 16), 3)] {
        let z = s.sizes().unwrap();
        let init = weights(&s, 21);
        let y = rnd(z.state, 0.5, 25);
        let xs: Vec<Vec<f32>> = (0..n_steps).map(|i| rnd(z.x, 1.0, 30 + i as u64)).collect();

        let mut dev = DeviceLstmTrainer::new(&s, &init, &opts).unwrap();
        let mut cpu = init.clone();
        let n = z.wx + z.wh + z.bias;
        let (mut m, mut v) = (vec![0f32; n], vec![0f32; n]);
        for (step, x) in xs.iter().enumerate() {
            // CPU step
            let mut dh = vec![0f32; z.state];
            let fwd = run(Device::Cpu, &s, x, &cpu, &vec![0f32; z.state]);
            loss_grad(&y)(&fwd.h, &mut dh);
            let r = run(Device::Cpu, &s, x, &cpu, &dh);
            let mut w: Vec<f32> = [cpu.wx.as_slice(), &cpu.wh, &cpu.bias].concat();
            let g: Vec<f32> = [r.dwx.as_slice(), &r.dwh, &r.db].concat();
            // device step, checking h and the gradients on the way
            dev.forward(x).unwrap();
            let mut h = vec![0f32; z.state];
            dev.read_h(&mut h).unwrap();
            assert_close(name, &format!("step {step} h"), &h, &fwd.h, 1e-4);
            let mut dh_dev = vec![0f32; z.state];
            loss_grad(&y)(&h, &mut dh_dev);
            dev.backward(&dh_dev).unwrap();
            let gd = dev.gradients().unwrap();
            assert_close(name, &format!("step {step} dwx"), &gd.wx, &r.dwx, 1e-4);
            assert_close(name, &format!("step {step} dwh"), &gd.wh, &r.dwh, 1e-4);
            assert_close(name, &format!("step {step} dbias"), &gd.bias, &r.db, 1e-4);
            dev.apply_adam().unwrap();
            adam_update_on(Device::Cpu, &opts, step as u64 + 1, &mut w, &g, &mut m, &mut v).unwrap();
            cpu = LstmParams { wx: w[..z.wx].to_vec(), wh: w[z.wx..z.wx + z.wh].to_vec(), bias: w[z.wx + z.wh..].to_vec() };
        }
        assert_eq!(dev.steps_taken(), n_steps as u64);
        let got = dev.weights().unwrap();
        assert_close(name, "final wx", &got.wx, &cpu.wx, 1e-4);
        assert_close(name, "final wh", &got.wh, &cpu.wh, 1e-4);
        assert_close(name, "final bias", &got.bias, &cpu.bias, 1e-4);
        let (dm, dv) = dev.moments().unwrap();
        let m_dev: Vec<f32> = [dm.wx.as_slice(), &dm.wh, &dm.bias].concat();
        let v_dev: Vec<f32> = [dv.wx.as_slice(), &dv.wh, &dv.bias].concat();
        let mmax = m.iter().fold(0f64, |a, &b| a.max(b.abs() as f64));
        let vmax = v.iter().fold(0f64, |a, &b| a.max(b.abs() as f64));
        assert!(m_dev.iter().zip(&m).all(|(a, b)| ((a - b).abs() as f64) <= 1e-4 * (1.0 + mmax)), "{name}: m");
        assert!(v_dev.iter().zip(&v).all(|(a, b)| ((a - b).abs() as f64) <= 1e-4 * (1.0 + vmax)), "{name}: v");
        // train_step is forward, read_h, backward, apply_adam
        dev.train_step(&xs[0], &mut loss_grad(&y)).unwrap();
        assert_eq!(dev.steps_taken(), n_steps as u64 + 1);
    }
}

#[test]
fn trainer_calls_out_of_order_are_typed_errors() {
    if !blas_or_skip("trainer_calls_out_of_order_are_typed_errors") {
        return;
    }
    let s = shape(2, 3, 2, 4);
    let z = s.sizes().unwrap();
    let mut dev = DeviceLstmTrainer::new(&s, &weights(&s, 1), &AdamOptions::default()).unwrap();
    let e = dev.backward(&vec![0f32; z.state]).unwrap_err();
    assert_eq!((e.code, e.message.starts_with("dh")), (ErrorCode::Arg, true), "{}", e.message);
    let e = dev.apply_adam().unwrap_err();
    assert_eq!(e.code, ErrorCode::Arg, "{}", e.message);
    let e = dev.forward(&vec![0f32; z.x - 1]).unwrap_err();
    assert_eq!((e.code, e.message.starts_with("x")), (ErrorCode::Shape, true), "{}", e.message);
    let bad = LstmParams { wh: vec![0f32; z.wh + 1], ..weights(&s, 1) };
    let e = DeviceLstmTrainer::new(&s, &bad, &AdamOptions::default()).err().unwrap();
    assert_eq!((e.code, e.message.starts_with("wh")), (ErrorCode::Shape, true), "{}", e.message);
}
