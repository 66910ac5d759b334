//! VWAP loss: fast path vs the plain reference, finite differences, thread
//! invariance and every error code, on named shapes.

mod common;
use common::Rng;
use sigvwap_core::vwap::{reference::vwap_loss_ref, vwap_loss, vwap_loss_grad, LossKind, VwapArgs, ZeroVolumePolicy};
use sigvwap_core::{pool, ErrorCode};

/// Random orders: unnormalized allocations, prices near 100, volumes > 0.
fn data(batch: usize, horizon: usize, seed: u64) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let mut r = Rng::new(seed);
    let n = batch * horizon;
    let a = (0..n).map(|_| 0.01 + r.next() * 3.0).collect();
    let p = (0..n).map(|_| 100.0 * (1.0 + 0.02 * (r.next() - 0.5))).collect();
    let v = (0..n).map(|_| r.next() * 50.0 + 0.1).collect();
    (a, p, v)
}

fn args(batch: usize, horizon: usize, kind: LossKind) -> VwapArgs {
    VwapArgs { batch, horizon, kind, on_zero_volume: ZeroVolumePolicy::Error }
}

const SHAPES: &[(&str, usize, usize)] =
    &[("b1-h1", 1, 1), ("b1-h12", 1, 12), ("b3-h2", 3, 2), ("b7-h5", 7, 5), ("b4097-h12", 4097, 12), ("b9000-h13", 9000, 13)];

#[test]
fn fast_path_matches_reference_f64_and_f32() {
    for &(name, batch, horizon) in SHAPES {
        for kind in [LossKind::Abs, LossKind::Quad] {
            let (a, p, v) = data(batch, horizon, batch as u64 * 31 + horizon as u64);
            let ar = args(batch, horizon, kind);
            let (mean_ref, per_ref, grad_ref) = vwap_loss_ref(&a, &p, &v, &ar);
            let out = vwap_loss(&a, &p, &v, &ar).unwrap();
            let (grad, out2) = vwap_loss_grad(&a, &p, &v, &ar).unwrap();
            assert_eq!(out, out2, "{name} {kind:?}: forward of grad call differs");
            assert!((out.mean - mean_ref).abs() <= 1e-12 * mean_ref.abs().max(1e-300), "{name} {kind:?} mean");
            for b in 0..batch {
                assert!((out.per_order[b] - per_ref[b]).abs() <= 1e-13, "{name} {kind:?} per_order[{b}]");
            }
            let gmax = grad_ref.iter().fold(0.0f64, |m, x| m.max(x.abs()));
            for i in 0..grad.len() {
                assert!((grad[i] - grad_ref[i]).abs() <= 1e-10 * gmax, "{name} {kind:?} grad[{i}]");
            }
            // f32 inputs, f64 accumulation.
            let (a32, p32, v32): (Vec<f32>, Vec<f32>, Vec<f32>) = (
                a.iter().map(|&x| x as f32).collect(),
                p.iter().map(|&x| x as f32).collect(),
                v.iter().map(|&x| x as f32).collect(),
            );
            let (g32, o32) = vwap_loss_grad(&a32, &p32, &v32, &ar).unwrap();
            let (a64, p64, v64): (Vec<f64>, Vec<f64>, Vec<f64>) = (
                a32.iter().map(|&x| x as f64).collect(),
                p32.iter().map(|&x| x as f64).collect(),
                v32.iter().map(|&x| x as f64).collect(),
            );
            let (m64, _, gr64) = vwap_loss_ref(&a64, &p64, &v64, &ar);
            assert!((o32.mean - m64).abs() <= 1e-12 * m64.abs().max(1e-300), "{name} {kind:?} f32 mean");
            let gmax = gr64.iter().fold(0.0f64, |m, x| m.max(x.abs()));
            for i in 0..g32.len() {
                assert!((g32[i] as f64 - gr64[i]).abs() <= 1e-6 * gmax, "{name} {kind:?} f32 grad[{i}]");
            }
        }
    }
}

#[test]
fn gradient_matches_central_differences() {
    for &(name, batch, horizon) in &SHAPES[..4] {
        for kind in [LossKind::Abs, LossKind::Quad] {
            let (a, p, v) = data(batch, horizon, 7 + batch as u64);
            let ar = args(batch, horizon, kind);
            let (grad, _) = vwap_loss_grad(&a, &p, &v, &ar).unwrap();
            for i in 0..a.len() {
                let h = 1e-4 * a[i].abs().max(1e-2);
                let (mut up, mut dn) = (a.clone(), a.clone());
                up[i] += h;
                dn[i] -= h;
                let fd = (vwap_loss(&up, &p, &v, &ar).unwrap().mean - vwap_loss(&dn, &p, &v, &ar).unwrap().mean) / (2.0 * h);
                let tol = 1e-5 * grad[i].abs() + 1e-10;
                assert!((fd - grad[i]).abs() <= tol, "{name} {kind:?} d/dalloc[{i}]: fd {fd} vs {}", grad[i]);
            }
        }
    }
}

#[test]
fn abs_gradient_is_zero_at_zero_slippage() {
    // alloc proportional to volume => P_ach == P_mkt exactly (same sums).
    let (p, v) = (vec![100.0, 101.0, 99.0], vec![1.0, 2.0, 3.0]);
    let ar = args(1, 3, LossKind::Abs);
    let (grad, out) = vwap_loss_grad(&v.clone(), &p, &v, &ar).unwrap();
    assert_eq!(out.per_order[0], 0.0);
    assert!(grad.iter().all(|&g| g == 0.0));
}

#[test]
fn result_does_not_depend_on_threads() {
    let (a, p, v) = data(20_000, 12, 99);
    let ar = args(20_000, 12, LossKind::Abs);
    pool::set_threads(1).unwrap();
    let (g1, o1) = vwap_loss_grad(&a, &p, &v, &ar).unwrap();
    pool::set_threads(3).unwrap();
    let (g3, o3) = vwap_loss_grad(&a, &p, &v, &ar).unwrap();
    assert_eq!(o1, o3);
    assert_eq!(g1, g3);
}

#[test]
fn zero_volume_policy() {
    let (a, p, mut v) = data(5, 4, 3);
    for t in 0..4 {
        v[2 * 4 + t] = 0.0;
    }
    let err = vwap_loss(&a, &p, &v, &args(5, 4, LossKind::Abs)).unwrap_err();
    assert_eq!(err.code, ErrorCode::ZeroVolume);
    assert!(err.message.contains("order 2"), "{}", err.message);
    let skip = VwapArgs { on_zero_volume: ZeroVolumePolicy::Skip, ..args(5, 4, LossKind::Abs) };
    let (grad, out) = vwap_loss_grad(&a, &p, &v, &skip).unwrap();
    assert_eq!((out.used, out.skipped), (4, 1));
    assert!(out.per_order[2].is_nan());
    assert!(grad[8..12].iter().all(|&g| g == 0.0));
    // The mean and gradient equal those of the batch without the skipped order.
    let keep: Vec<usize> = (0..20).filter(|i| !(8..12).contains(i)).collect();
    let pick = |x: &Vec<f64>| keep.iter().map(|&i| x[i]).collect::<Vec<f64>>();
    let (g4, o4) = vwap_loss_grad(&pick(&a), &pick(&p), &pick(&v), &args(4, 4, LossKind::Abs)).unwrap();
    assert!((o4.mean - out.mean).abs() < 1e-15);
    assert!(pick(&grad).iter().zip(&g4).all(|(x, y)| (x - y).abs() < 1e-15));
}

#[test]
fn bad_inputs_name_argument_and_index() {
    type Case = (&'static str, fn(&mut Vec<f64>, &mut Vec<f64>, &mut Vec<f64>), ErrorCode, &'static str);
    let cases: &[Case] = &[
        ("nan-alloc", |a, _, _| a[5] = f64::NAN, ErrorCode::NonFinite, "alloc[5]"),
        ("inf-price", |_, p, _| p[7] = f64::INFINITY, ErrorCode::NonFinite, "price[7]"),
        ("nan-volume", |_, _, v| v[9] = f64::NAN, ErrorCode::NonFinite, "volume[9]"),
        ("negative-price", |_, p, _| p[3] = -1.0, ErrorCode::Arg, "price[3]"),
        ("zero-price", |_, p, _| p[3] = 0.0, ErrorCode::Arg, "price[3]"),
        ("negative-volume", |_, _, v| v[4] = -2.0, ErrorCode::Arg, "volume[4]"),
        ("negative-alloc", |a, _, _| a[6] = -0.5, ErrorCode::Arg, "alloc[6]"),
        ("zero-alloc-row", |a, _, _| a[4..8].iter_mut().for_each(|x| *x = 0.0), ErrorCode::Arg, "order 1"),
    ];
    for (name, mutate, code, needle) in cases {
        let (mut a, mut p, mut v) = data(3, 4, 11);
        mutate(&mut a, &mut p, &mut v);
        for ar in [args(3, 4, LossKind::Abs), args(3, 4, LossKind::Quad)] {
            let e = vwap_loss(&a, &p, &v, &ar).unwrap_err();
            assert_eq!(e.code, *code, "{name}: {e}");
            assert!(e.message.contains(needle), "{name}: message '{}' lacks '{needle}'", e.message);
            assert_eq!(vwap_loss_grad(&a, &p, &v, &ar).unwrap_err(), e, "{name}: grad error differs");
        }
    }
}

#[test]
fn wrong_lengths_are_shape_errors() {
    let (a, p, v) = data(3, 4, 1);
    for (name, aa, pp, vv) in [("alloc", &a[..11], &p[..], &v[..]), ("price", &a[..], &[p.clone(), vec![1.0]].concat()[..], &v[..]), ("volume", &a[..], &p[..], &v[..0])] {
        let e = vwap_loss(aa, pp, vv, &args(3, 4, LossKind::Abs)).unwrap_err();
        assert_eq!(e.code, ErrorCode::Shape);
        assert!(e.message.starts_with(name) && e.message.contains("expected 12"), "{}", e.message);
    }
    let e = vwap_loss::<f64, f64, f64>(&[], &[], &[], &args(0, 0, LossKind::Abs)).unwrap_err();
    assert_eq!(e.code, ErrorCode::Arg);
}

#[test]
fn empty_batch_gives_nan_mean_without_error() {
    let out = vwap_loss::<f64, f64, f64>(&[], &[], &[], &args(0, 12, LossKind::Abs)).unwrap();
    assert!(out.mean.is_nan());
    assert_eq!(out.used, 0);
}
