//! The fused TKAN kernel (sigvwap_core::tkan) against its plain f64 reference on named
//! shapes (batch 1, one and two steps, odd sizes, every base activation, a batch split
//! over the pool), the reference against central finite differences of its own forward
//! pass for every weight and dx, and the typed errors of the checked entry points.

mod common;

use common::{assert_close_f32, uniform_f32};
use sigvwap_core::tkan::{self, TkanBase, TkanSaved, TkanShape, TkanStates, TkanWeightGrads, TkanWeights};
use sigvwap_core::ErrorCode;

/// A shape: steps, batch, channels, units, kan units, grid intervals on [lo, hi], base.
#[allow(clippy::too_many_arguments)]
fn shape(steps: usize, batch: usize, channels: usize, units: usize, kan_units: usize, grid_size: usize, lo: f64, hi: f64, base: TkanBase) -> TkanShape {
    TkanShape { steps, batch, channels, units, kan_units, grid_size, grid_min: lo, grid_max: hi, base }
}

const BASES: [TkanBase; 3] = [TkanBase::Silu, TkanBase::Relu, TkanBase::Linear];

/// The named cases (every one runs with each base activation).
fn cases() -> Vec<(&'static str, TkanShape)> {
    let s = TkanBase::Silu;
    vec![
        ("b1-t1-c1-u1-k1-g1", shape(1, 1, 1, 1, 1, 1, -1.0, 1.0, s)),
        ("b1-t2-c2-u3-k2-g5", shape(2, 1, 2, 3, 2, 5, -1.0, 1.0, s)),
        ("b2-t1-c3-u2-k4-g2", shape(1, 2, 3, 2, 4, 2, -2.0, 3.0, s)),
        ("b3-t5-c7-u5-k3-g4", shape(5, 3, 7, 5, 3, 4, -1.0, 1.0, s)),
        ("b70-t3-c5-u6-k4-g5 (row blocks)", shape(3, 70, 5, 6, 4, 5, -1.0, 1.0, s)),
        ("b256-t4-c16-u16-k16-g5 (pool GEMMs)", shape(4, 256, 16, 16, 16, 5, -1.0, 1.0, s)),
    ]
}

/// Random weights in the layer's order: ±0.6 (s then spans every piece of the splines),
/// Glorot-like ±1.5/√width on the wide shapes (a well-conditioned recurrence, as trained).
fn weights(sh: &TkanShape, seed: u64) -> Vec<Vec<f32>> {
    let width = sh.channels.max(sh.units).max(sh.kan_units) as f64;
    let scale = 0.6f64.min(1.5 / width.sqrt());
    sh.weight_layouts().unwrap().iter().enumerate().map(|(i, &(_, n, _))| uniform_f32(n, scale, seed * 31 + i as u64)).collect()
}

fn view(w: &[Vec<f32>]) -> TkanWeights<'_> {
    TkanWeights {
        kernel: &w[0],
        recurrent_kernel: &w[1],
        bias: &w[2],
        kan_kernel: &w[3],
        kan_recurrent_kernel: &w[4],
        kan_bias: &w[5],
        spline_kernel: &w[6],
        base_kernel: &w[7],
        memory_kernel: &w[8],
        memory_recurrent_kernel: &w[9],
        memory_bias: &w[10],
        output_kernel: &w[11],
        output_bias: &w[12],
    }
}

fn grads_view(d: &mut [Vec<f32>]) -> TkanWeightGrads<'_> {
    let [kernel, recurrent_kernel, bias, kan_kernel, kan_recurrent_kernel, kan_bias, spline_kernel, base_kernel, memory_kernel, memory_recurrent_kernel, memory_bias, output_kernel, output_bias] =
        d
    else {
        panic!("13 gradients")
    };
    TkanWeightGrads {
        kernel,
        recurrent_kernel,
        bias,
        kan_kernel,
        kan_recurrent_kernel,
        kan_bias,
        spline_kernel,
        base_kernel,
        memory_kernel,
        memory_recurrent_kernel,
        memory_bias,
        output_kernel,
        output_bias,
    }
}

struct Run {
    h: Vec<f32>,
    c: Vec<f32>,
    gates: Vec<f32>,
    s: Vec<f32>,
    phi: Vec<f32>,
    m: Vec<f32>,
}

fn forward(sh: &TkanShape, x: &[f32], w: &[Vec<f32>]) -> Run {
    let z = sh.sizes().unwrap();
    let mut r = Run { h: vec![0.0; z.state], c: vec![0.0; z.state], gates: vec![0.0; z.gates], s: vec![0.0; z.kan_state], phi: vec![0.0; z.kan_state], m: vec![0.0; z.kan_state] };
    tkan::tkan_forward(sh, x, view(w), TkanStates { h: &mut r.h, c: &mut r.c, gates: &mut r.gates, s: &mut r.s, phi: &mut r.phi, m: &mut r.m }).unwrap();
    r
}

fn backward(sh: &TkanShape, x: &[f32], w: &[Vec<f32>], r: &Run, dh: &[f32]) -> (Vec<Vec<f32>>, Vec<f32>) {
    let mut d: Vec<Vec<f32>> = w.iter().map(|v| vec![f32::NAN; v.len()]).collect();
    let mut dx = vec![f32::NAN; x.len()];
    let saved = TkanSaved { x, h: &r.h, c: &r.c, gates: &r.gates, s: &r.s, phi: &r.phi, m: &r.m };
    tkan::tkan_backward(sh, saved, view(w), dh, grads_view(&mut d), Some(&mut dx)).unwrap();
    (d, dx)
}

fn f32s(v: &[f64]) -> Vec<f32> {
    v.iter().map(|&a| a as f32).collect()
}

const LABELS: (&str, &str) = ("kernel", "reference");

#[test]
fn forward_and_backward_match_the_reference_on_named_shapes_for_every_base() {
    for (name, base_shape) in cases() {
        for base in BASES {
            let sh = TkanShape { base, ..base_shape };
            let name = format!("{name} {}", base.as_str());
            let z = sh.sizes().unwrap();
            let x = uniform_f32(z.x, 1.5, 7);
            let w = weights(&sh, 3);
            let dh = uniform_f32(z.state, 1.0, 11);
            let r = forward(&sh, &x, &w);
            let want = tkan::reference_forward(&sh, &x, view(&w));
            for (what, got, want) in [("h", &r.h, &want.h), ("c", &r.c, &want.c), ("gates", &r.gates, &want.gates), ("s", &r.s, &want.s), ("phi", &r.phi, &want.phi), ("m", &r.m, &want.m)] {
                // f32 against f64 through T steps of recurrence (the widest case amplifies an f32
                // rounding of s by about K·|Φ| in φ): 1e-4
                assert_close_f32(&name, what, got, &f32s(want), 1e-4, LABELS);
            }
            let (d, dx) = backward(&sh, &x, &w, &r, &dh);
            let (dw, dxw) = tkan::reference_backward(&sh, &x, view(&w), &dh);
            for ((wname, _, _), (got, want)) in sh.weight_layouts().unwrap().iter().zip(d.iter().zip(&dw)) {
                // sums over steps·batch rows: relative to the largest value of the gradient
                let scale = want.iter().fold(1.0f64, |a, &v| a.max(v.abs()));
                let want: Vec<f32> = want.iter().map(|&v| (v / scale) as f32).collect();
                let got: Vec<f32> = got.iter().map(|&v| (v as f64 / scale) as f32).collect();
                assert_close_f32(&name, &format!("d{wname}"), &got, &want, 1e-4, LABELS);
            }
            assert_close_f32(&name, "dx", &dx, &f32s(&dxw), 1e-4, LABELS);
        }
    }
}

/// Σ dh ⊙ h of the reference forward (f64).
fn loss(sh: &TkanShape, x: &[f32], w: &[Vec<f32>], dh: &[f32]) -> f64 {
    tkan::reference_forward(sh, x, view(w)).h.iter().zip(dh).map(|(&h, &d)| h * d as f64).sum()
}

#[test]
fn the_reference_gradient_matches_central_finite_differences_for_every_weight_and_dx() {
    let tiny = [
        ("b1-t2-c2-u2-k2-g3", shape(2, 1, 2, 2, 2, 3, -1.0, 1.0, TkanBase::Silu)),
        ("b2-t3-c3-u2-k3-g2", shape(3, 2, 3, 2, 3, 2, -2.0, 3.0, TkanBase::Silu)),
        ("b2-t3-c2-u3-k2-g4 linear", shape(3, 2, 2, 3, 2, 4, -1.0, 1.0, TkanBase::Linear)),
    ];
    for (name, sh) in tiny {
        let z = sh.sizes().unwrap();
        let x = uniform_f32(z.x, 1.5, 5);
        let w = weights(&sh, 9);
        let dh = uniform_f32(z.state, 1.0, 13);
        let (dw, dxw) = tkan::reference_backward(&sh, &x, view(&w), &dh);
        let r = forward(&sh, &x, &w);
        let (dk, dxk) = backward(&sh, &x, &w, &r, &dh);
        let eps = 1e-3f32;
        // the perturbation actually applied (in f32), so the quotient is exact up to O(eps²)
        let fd = |f: &mut dyn FnMut(f32) -> f64, v: f32| {
            let (up, down) = (v + eps, v - eps);
            (f(up) - f(down)) / (up as f64 - down as f64)
        };
        let check = |what: &str, i: usize, numeric: f64, reference: f64, kernel: f32| {
            assert!((numeric - reference).abs() <= 1e-5 * (1.0 + reference.abs()), "{name} {what}[{i}]: finite difference {numeric}, reference {reference}");
            assert!((kernel as f64 - reference).abs() <= 1e-4 * (1.0 + reference.abs()), "{name} {what}[{i}]: kernel {kernel}, reference {reference}");
        };
        let mut nonzero = vec![false; 14];
        for (wi, (wname, n, _)) in sh.weight_layouts().unwrap().into_iter().enumerate() {
            for i in 0..n {
                let mut wp = w.clone();
                let numeric = fd(
                    &mut |v| {
                        wp[wi][i] = v;
                        loss(&sh, &x, &wp, &dh)
                    },
                    w[wi][i],
                );
                check(&format!("d{wname}"), i, numeric, dw[wi][i], dk[wi][i]);
                nonzero[wi] |= numeric.abs() > 1e-6;
            }
        }
        for i in 0..x.len() {
            let mut xp = x.clone();
            let numeric = fd(
                &mut |v| {
                    xp[i] = v;
                    loss(&sh, &xp, &w, &dh)
                },
                x[i],
            );
            check("dx", i, numeric, dxw[i], dxk[i]);
            nonzero[13] |= numeric.abs() > 1e-6;
        }
        // every gradient is exercised, except M_m with two steps (m of the last step is unused)
        let unused = |i: usize| i == 9 && sh.steps < 3;
        assert!(nonzero.iter().enumerate().all(|(i, &b)| b || unused(i)), "{name}: a gradient is identically zero, so the check proves nothing for it: {nonzero:?}");
    }
}

#[test]
fn without_dx_the_weight_gradients_are_the_same() {
    let sh = shape(3, 5, 4, 3, 2, 3, -1.0, 1.0, TkanBase::Silu);
    let z = sh.sizes().unwrap();
    let x = uniform_f32(z.x, 1.0, 1);
    let w = weights(&sh, 2);
    let dh = uniform_f32(z.state, 1.0, 3);
    let r = forward(&sh, &x, &w);
    let (with_dx, _) = backward(&sh, &x, &w, &r, &dh);
    let mut d: Vec<Vec<f32>> = w.iter().map(|v| vec![f32::NAN; v.len()]).collect();
    let saved = TkanSaved { x: &x, h: &r.h, c: &r.c, gates: &r.gates, s: &r.s, phi: &r.phi, m: &r.m };
    tkan::tkan_backward(&sh, saved, view(&w), &dh, grads_view(&mut d), None).unwrap();
    assert_eq!(d, with_dx);
}

#[test]
fn typed_errors_name_the_argument() {
    let sh = shape(2, 3, 4, 3, 2, 3, -1.0, 1.0, TkanBase::Silu);
    let z = sh.sizes().unwrap();
    let x = uniform_f32(z.x, 1.0, 1);
    let w = weights(&sh, 2);
    let r = forward(&sh, &x, &w);
    // the error names the array: ERR_SHAPE, message starting with the name
    let named = |e: sigvwap_core::CoreError, name: &str| {
        assert_eq!(e.code, ErrorCode::Shape, "{name}: {}", e.message);
        assert!(e.message.starts_with(&format!("{name}:")), "{name}: {}", e.message);
    };
    let fwd = |sh: &TkanShape, x: &[f32], w: &[Vec<f32>], o: &mut Run| tkan::tkan_forward(sh, x, view(w), TkanStates { h: &mut o.h, c: &mut o.c, gates: &mut o.gates, s: &mut o.s, phi: &mut o.phi, m: &mut o.m });
    let mut o = Run { h: r.h.clone(), c: r.c.clone(), gates: r.gates.clone(), s: r.s.clone(), phi: r.phi.clone(), m: r.m.clone() };
    named(fwd(&sh, &x[1..], &w, &mut o).unwrap_err(), "x");
    let mut bad = w.clone();
    bad[6].pop();
    named(fwd(&sh, &x, &bad, &mut o).unwrap_err(), "splineKernel");
    o.phi.push(0.0);
    named(fwd(&sh, &x, &w, &mut o).unwrap_err(), "phi");
    // a gradient of the wrong length: d + the weight's name
    let mut d: Vec<Vec<f32>> = w.iter().map(|v| vec![0.0; v.len()]).collect();
    d[9].push(0.0);
    let dh = vec![0.0; z.state];
    let saved = TkanSaved { x: &x, h: &r.h, c: &r.c, gates: &r.gates, s: &r.s, phi: &r.phi, m: &r.m };
    named(tkan::tkan_backward(&sh, saved, view(&w), &dh, grads_view(&mut d), None).unwrap_err(), "dMemoryRecurrentKernel");
    d[9].pop();
    named(tkan::tkan_backward(&sh, saved, view(&w), &dh[1..], grads_view(&mut d), None).unwrap_err(), "dh");
    let mut dx = vec![0.0; z.x + 1];
    named(tkan::tkan_backward(&sh, saved, view(&w), &dh, grads_view(&mut d), Some(&mut dx)).unwrap_err(), "dx");
    // the grid and the widths
    for (bad, arg) in [(TkanShape { grid_max: -1.0, ..sh }, "gridMax"), (TkanShape { grid_min: f64::NAN, ..sh }, "gridMax"), (TkanShape { kan_units: 0, ..sh }, "kanUnits"), (TkanShape { grid_size: 0, ..sh }, "gridSize")] {
        let e = bad.sizes().unwrap_err();
        assert_eq!(e.code, ErrorCode::Arg, "{arg}");
        assert!(e.message.starts_with(&format!("{arg}:")), "{arg}: {}", e.message);
    }
    assert_eq!(TkanBase::parse("gelu").unwrap_err().code, ErrorCode::Arg);
    assert_eq!(TkanBase::parse("relu").unwrap(), TkanBase::Relu);
}

#[test]
fn empty_batch_and_steps_write_zero_gradients() {
    for (steps, batch) in [(0, 3), (2, 0)] {
        let sh = shape(steps, batch, 3, 2, 2, 3, -1.0, 1.0, TkanBase::Silu);
        let w = weights(&sh, 1);
        let r = forward(&sh, &[], &w);
        let (d, dx) = backward(&sh, &[], &w, &r, &[]);
        assert!(dx.is_empty());
        assert!(d.iter().all(|g| g.iter().all(|&v| v == 0.0)), "steps {steps} batch {batch}");
    }
}

#[test]
fn one_and_two_threads_give_the_same_results() {
    let sh = shape(4, 203, 6, 8, 5, 5, -1.0, 1.0, TkanBase::Silu);
    let z = sh.sizes().unwrap();
    let x = uniform_f32(z.x, 1.5, 21);
    let w = weights(&sh, 22);
    let dh = uniform_f32(z.state, 1.0, 23);
    sigvwap_core::pool::set_threads(1).unwrap();
    let r1 = forward(&sh, &x, &w);
    let (d1, dx1) = backward(&sh, &x, &w, &r1, &dh);
    sigvwap_core::pool::set_threads(2).unwrap();
    let r2 = forward(&sh, &x, &w);
    let (d2, dx2) = backward(&sh, &x, &w, &r2, &dh);
    // rows never interact and the weight gradients are whole-batch GEMMs: the split does not matter
    assert_eq!(r1.h, r2.h);
    assert_eq!(r1.m, r2.m);
    assert_close_f32("threads", "dx", &dx1, &dx2, 1e-6, ("1 thread", "2 threads"));
    for (a, b) in d1.iter().zip(&d2) {
        assert_close_f32("threads", "weight gradient", a, b, 1e-6, ("1 thread", "2 threads"));
    }
}
