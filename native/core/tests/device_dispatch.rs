//! The ops' device dispatch (`vwap_loss_on`, `signature_on`,
//! `signature_backward_on`, `matmul_on`, `lstm_forward_on`,
//! `lstm_backward_on`, `adam_update_on`, `DeviceLstmTrainer::new`): `Device::Cpu` gives exactly the CPU functions'
//! results; `Device::Cuda` without a usable GPU (in a build without the
//! `cuda` feature: naming the missing feature) is a typed
//! ERR_CUDA_UNAVAILABLE with the reason, never a panic.

use sigvwap_core::device::Device;
use sigvwap_core::error::DataValue;
use sigvwap_core::{CoreError, ErrorCode};
use sigvwap_core::signature::{self as sig, SigOptions};
use sigvwap_core::vwap::{self, LossKind, VwapArgs, ZeroVolumePolicy};
use sigvwap_core::adam::{self, AdamOptions};
use sigvwap_core::lstm::{self, LstmParams, LstmShape};
use sigvwap_core::matmul::{self, Activation, MatmulShape};

fn vwap_data(batch: usize, horizon: usize) -> (Vec<f64>, Vec<f32>, Vec<f64>) {
    let n = batch * horizon;
    let a = (0..n).map(|i| 0.5 + (i % 7) as f64 * 0.1).collect();
    let p = (0..n).map(|i| 100.0 + (i % 5) as f32 * 0.25).collect();
    let v = (0..n).map(|i| 1.0 + (i % 3) as f64).collect();
    (a, p, v)
}

fn sig_data(opts: &SigOptions) -> Vec<f64> {
    (0..opts.batch * opts.length * opts.channels).map(|i| ((i * 37) % 11) as f64 * 0.1 - 0.5).collect()
}

#[test]
fn cpu_dispatch_equals_cpu_functions() {
    let (a, p, v) = vwap_data(5, 4);
    let args = VwapArgs { batch: 5, horizon: 4, kind: LossKind::Quad, on_zero_volume: ZeroVolumePolicy::Error };
    assert_eq!(vwap::vwap_loss_on(Device::Cpu, &a, &p, &v, &args, None).unwrap(), vwap::vwap_loss(&a, &p, &v, &args).unwrap());
    let mut g = vec![0.0; a.len()];
    let out = vwap::vwap_loss_on(Device::Cpu, &a, &p, &v, &args, Some(&mut g)).unwrap();
    let (g_ref, out_ref) = vwap::vwap_loss_grad(&a, &p, &v, &args).unwrap();
    assert_eq!((g, out), (g_ref, out_ref));

    let opts = SigOptions { batch: 3, length: 6, channels: 2, depth: 3, stream: false, basepoint: true, precision: Default::default() };
    let path = sig_data(&opts);
    let mut out = vec![0.0; sig::output_len(&opts).unwrap()];
    sig::signature_on(Device::Cpu, &path, &opts, &mut out).unwrap();
    assert_eq!(out, sig::signature(&path, &opts).unwrap());
    let mut grad = vec![0.0; path.len()];
    sig::signature_backward_on(Device::Cpu, &path, &out, &opts, &mut grad).unwrap();
    assert_eq!(grad, sig::signature_backward(&path, &out, &opts).unwrap());
}

/// Asserts ERR_CUDA_UNAVAILABLE with `argument: device` and a `reason`
/// containing `why`; runs every op on `Device::Cuda`.
fn assert_all_ops_unavailable(why: &str) {
    let check = |e: CoreError| {
        assert_eq!(e.code, ErrorCode::CudaUnavailable, "{e}");
        assert!(e.message.contains(why), "{}", e.message);
        let reason = e.data.iter().find(|(k, _)| *k == "reason").map(|(_, v)| v.clone());
        assert!(matches!(reason, Some(DataValue::Str(r)) if r.contains(why)), "{:?}", e.data);
        assert!(e.data.contains(&("argument", DataValue::Str("device".into()))));
    };
    let (a, p, v) = vwap_data(2, 3);
    let args = VwapArgs { batch: 2, horizon: 3, kind: LossKind::Abs, on_zero_volume: ZeroVolumePolicy::Error };
    check(vwap::vwap_loss_on(Device::Cuda, &a, &p, &v, &args, None).unwrap_err());
    let mut g = vec![0.0; a.len()];
    check(vwap::vwap_loss_on(Device::Cuda, &a, &p, &v, &args, Some(&mut g)).unwrap_err());

    let opts = SigOptions { batch: 2, length: 3, channels: 2, depth: 2, stream: false, basepoint: false, precision: Default::default() };
    let path = sig_data(&opts);
    let mut out = vec![0.0; sig::output_len(&opts).unwrap()];
    check(sig::signature_on(Device::Cuda, &path, &opts, &mut out).unwrap_err());
    let mut grad = vec![0.0; path.len()];
    check(sig::signature_backward_on(Device::Cuda, &path, &out, &opts, &mut grad).unwrap_err());

    // the ops whose CUDA path needs cuBLAS give the driver's reason first
    let ms = MatmulShape { batch_a: 1, batch_b: 1, m: 2, k: 3, n: 2, transpose_a: false, transpose_b: false };
    let mut out = vec![0f32; 4];
    check(matmul::matmul_on(Device::Cuda, &[1.0; 6], &[1.0; 6], None, Activation::Linear, &ms, &mut out).unwrap_err());
    let ls = LstmShape { steps: 2, batch: 1, channels: 1, units: 1 };
    let w = LstmParams { wx: vec![0.1; 4], wh: vec![0.2; 4], bias: vec![0.0; 4] };
    let (mut h, mut gates, mut c) = (vec![0f32; 2], vec![0f32; 8], vec![0f32; 2]);
    check(lstm::lstm_forward_on(Device::Cuda, &ls, &[1.0, 2.0], &w.wx, &w.wh, &w.bias, &mut h, &mut gates, &mut c).unwrap_err());
    let (mut dwx, mut dwh, mut db) = (vec![0f32; 4], vec![0f32; 4], vec![0f32; 4]);
    let saved = lstm::LstmSaved { x: &[1.0, 2.0], wx: &w.wx, wh: &w.wh, h: &h, gates: &gates, c: &c };
    let grads = lstm::LstmGrads { dwx: &mut dwx, dwh: &mut dwh, dbias: &mut db, dx: None };
    check(lstm::lstm_backward_on(Device::Cuda, &ls, saved, &[1.0, 1.0], grads).unwrap_err());
    check(lstm::DeviceLstmTrainer::new(&ls, &w, &AdamOptions::default()).err().unwrap());
    let (mut aw, mut am, mut av) = (vec![0f32; 3], vec![0f32; 3], vec![0f32; 3]);
    check(adam::adam_update_on(Device::Cuda, &AdamOptions::default(), 1, &mut aw, &[1.0; 3], &mut am, &mut av).unwrap_err());
    assert!(!sigvwap_core::device::cublas_status().available);
    assert!(sigvwap_core::device::cublas_status().reason.unwrap().contains(why));
    assert_eq!(sigvwap_core::device::resolve_blas(sigvwap_core::DeviceRequest::Auto).unwrap(), Device::Cpu);
    check(sigvwap_core::device::resolve_blas(sigvwap_core::DeviceRequest::Cuda).unwrap_err());
}

#[cfg(not(feature = "cuda"))]
#[test]
fn cuda_without_the_feature_is_a_typed_error() {
    assert_all_ops_unavailable("without the `cuda` feature");
    // The same error as asking `resolve` for CUDA.
    let opts = SigOptions { batch: 1, length: 2, channels: 1, depth: 1, stream: false, basepoint: false, precision: Default::default() };
    let resolved = sigvwap_core::device::resolve(sigvwap_core::DeviceRequest::Cuda).unwrap_err();
    assert_eq!(resolved, sig::signature_on(Device::Cuda, &[0.0, 1.0], &opts, &mut [0.0]).unwrap_err());
}

/// With the feature but no usable GPU (this machine's case in CI without
/// one), the ops give the runtime's reason.
#[cfg(feature = "cuda")]
#[test]
fn cuda_without_a_gpu_is_a_typed_error() {
    let s = sigvwap_core::device::cuda_status();
    if s.available {
        println!("SKIPPED cuda_without_a_gpu_is_a_typed_error: a CUDA device is available");
        return;
    }
    let reason = s.reason.expect("an unavailable status has a reason");
    if reason.contains("SIGVWAP_DISABLE_CUDA") {
        println!("SKIPPED cuda_without_a_gpu_is_a_typed_error: CUDA disabled by the environment, not absent");
        return;
    }
    assert_all_ops_unavailable(&reason);
}
