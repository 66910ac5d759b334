//! Fused GRN, plain and stacked: the kernel vs the plain f64 reference on
//! named shapes (stack 1, 2 and 7; one row; odd sizes; with and without the
//! skip projection; several row blocks per GRN), the reference's gradient
//! against finite differences for every weight and the input (stack 1 and 2),
//! bit-identical results on 1 and 2 threads, and the typed errors.

mod common;
use common::uniform_f32 as rnd;
use sigvwap_core::grn::{grn_backward, grn_forward, reference_backward, reference_forward, GrnGrads, GrnSavedRef, GrnShape, GrnState, GrnWeights};
use sigvwap_core::{pool, ErrorCode};

const EPS: f32 = 1e-3;
const NAMES: [&str; 13] = ["w1", "b1", "w2", "b2", "wv", "bv", "wg", "bg", "ws", "bs", "gamma", "beta", "x"];

fn shape(stack: usize, rows: usize, in_dim: usize, hidden: usize, units: usize) -> GrnShape {
    GrnShape { stack, rows, in_dim, hidden, units }
}

/// Weights in `NAMES` order (ws, bs empty without the projection), then x and dy.
#[derive(Clone)]
struct Case {
    w: [Vec<f32>; 12],
    x: Vec<f32>,
    dy: Vec<f32>,
}

fn opt(v: &[f32]) -> Option<&[f32]> {
    if v.is_empty() {
        None
    } else {
        Some(v)
    }
}

impl Case {
    fn weights(&self) -> GrnWeights<'_> {
        let w = &self.w;
        GrnWeights { w1: &w[0], b1: &w[1], w2: &w[2], b2: &w[3], wv: &w[4], bv: &w[5], wg: &w[6], bg: &w[7], ws: opt(&w[8]), bs: opt(&w[9]), gamma: &w[10], beta: &w[11] }
    }
}

fn case(s: &GrnShape, seed: u64) -> Case {
    let (st, di, h, u) = (s.stack, s.in_dim, s.hidden, s.units);
    let p = s.projects_skip();
    let lens = [di * h, h, h * h, h, h * u, u, h * u, u, if p { di * u } else { 0 }, if p { u } else { 0 }, u, u];
    Case { w: std::array::from_fn(|i| rnd(st * lens[i], 0.8, seed + 1 + i as u64)), x: rnd(st * s.rows * di, 1.5, seed), dy: rnd(st * s.rows * u, 1.0, seed + 30) }
}

/// Named shapes: stack-rows-in-hidden-units.
fn cases() -> Vec<(&'static str, GrnShape)> {
    vec![
        ("s1-r1-d1-h1-u1 (identity skip, one unit)", shape(1, 1, 1, 1, 1)),
        ("s1-r1-d3-h3-u3 (identity skip)", shape(1, 1, 3, 3, 3)),
        ("s1-r15-d5-h4-u3 (skip projection)", shape(1, 15, 5, 4, 3)),
        ("s1-r6-d4-h5-u7 (skip projection, wider out)", shape(1, 6, 4, 5, 7)),
        ("s1-r301-d8-h8-u8 (two row blocks)", shape(1, 301, 8, 8, 8)),
        ("s2-r1-d3-h4-u3 (stacked, one row, identity skip)", shape(2, 1, 3, 4, 3)),
        ("s2-r9-d3-h5-u4 (stacked, skip projection)", shape(2, 9, 3, 5, 4)),
        ("s7-r13-d3-h8-u6 (VariableSelection-like: seven variables, d = 3)", shape(7, 13, 3, 8, 6)),
        ("s7-r5-d4-h3-u4 (seven GRNs, identity skip)", shape(7, 5, 4, 3, 4)),
        ("s3-r600-d3-h16-u16 (stacked, three row blocks each, the last short)", shape(3, 600, 3, 16, 16)),
        ("s2-r0-d3-h4-u5 (no rows: zero gradients)", shape(2, 0, 3, 4, 5)),
    ]
}

fn run_kernel(s: &GrnShape, k: &Case) -> (Vec<f32>, Vec<Vec<f32>>) {
    let (nr, h, u) = (s.stack * s.rows, s.hidden, s.units);
    let nan = |n: usize| vec![f32::NAN; n];
    let (mut eta, mut e, mut a, mut g, mut n, mut rstd, mut y) = (nan(nr * h), nan(nr * h), nan(nr * u), nan(nr * u), nan(nr * u), nan(nr), nan(nr * u));
    grn_forward(s, &k.x, k.weights(), EPS, &mut y, GrnState { eta: &mut eta, e: &mut e, a: &mut a, g: &mut g, n: &mut n, rstd: &mut rstd }).unwrap();
    let mut out: Vec<Vec<f32>> = k.w.iter().map(|w| nan(w.len())).collect();
    let mut dx = nan(k.x.len());
    {
        let [dw1, db1, dw2, db2, dwv, dbv, dwg, dbg, dws, dbs, dgamma, dbeta] = &mut out[..] else { unreachable!() };
        let (dws, dbs) = if s.projects_skip() { (Some(&mut dws[..]), Some(&mut dbs[..])) } else { (None, None) };
        let saved = GrnSavedRef { eta: &eta, e: &e, a: &a, g: &g, n: &n, rstd: &rstd };
        grn_backward(s, &k.x, k.weights(), saved, &k.dy, GrnGrads { dw1, db1, dw2, db2, dwv, dbv, dwg, dbg, dws, dbs, dgamma, dbeta, dx: Some(&mut dx) }).unwrap();
    }
    out.push(dx);
    (y, out)
}

#[test]
fn kernel_matches_the_reference_on_named_shapes() {
    for (name, s) in cases() {
        let k = case(&s, 13);
        let (y, grads) = run_kernel(&s, &k);
        common::assert_close_f32(name, "y", &y, &reference_forward(&s, &k.x, k.weights(), EPS), 1e-5, ("kernel", "reference"));
        let want = reference_backward(&s, &k.x, k.weights(), EPS, &k.dy);
        for ((what, got), want) in NAMES.iter().zip(&grads).zip(&want) {
            common::assert_close_f32(name, &format!("d{what}"), got, want, 1e-4, ("kernel", "reference"));
        }
    }
}

fn loss(s: &GrnShape, k: &Case) -> f64 {
    reference_forward(s, &k.x, k.weights(), EPS).iter().zip(&k.dy).map(|(&a, &b)| a as f64 * b as f64).sum()
}

#[test]
fn reference_gradient_matches_finite_differences() {
    for s in [shape(1, 3, 2, 3, 2), shape(1, 2, 3, 3, 3), shape(2, 3, 2, 3, 2), shape(2, 2, 3, 4, 3)] {
        let k = case(&s, 43);
        let grads = reference_backward(&s, &k.x, k.weights(), EPS, &k.dy);
        let eps = 1e-2f32;
        for (which, g) in grads.iter().enumerate() {
            for (i, &gv) in g.iter().enumerate() {
                let at = |delta: f32| {
                    let mut p = k.clone();
                    if which < 12 { p.w[which][i] += delta } else { p.x[i] += delta }
                    loss(&s, &p)
                };
                let f = (at(eps) - at(-eps)) / (2.0 * eps as f64);
                assert!((gv as f64 - f).abs() <= 3e-3 * (1.0 + f.abs()), "{s:?} d{}[{i}]: analytic {gv}, finite difference {f}", NAMES[which]);
            }
        }
    }
}

#[test]
fn one_and_two_threads_agree_bit_for_bit() {
    // large enough for the pool (over 2^20 multiply-adds), several blocks per GRN
    for s in [shape(7, 700, 3, 16, 16), shape(1, 2000, 12, 24, 12)] {
        let k = case(&s, 9);
        let runs: Vec<_> = [1, 2]
            .into_iter()
            .map(|n| {
                pool::set_threads(n).unwrap();
                run_kernel(&s, &k)
            })
            .collect();
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&runs[0].0), bits(&runs[1].0), "{s:?} y");
        for (i, (a, b)) in runs[0].1.iter().zip(&runs[1].1).enumerate() {
            assert_eq!(bits(a), bits(b), "{s:?} d{}", NAMES[i]);
        }
    }
}

#[test]
fn errors_name_the_argument() {
    let s = shape(1, 4, 3, 2, 5);
    let k = case(&s, 2);
    let buf = |n: usize| vec![0f32; n];
    let mut y = buf(20);
    let mut w = k.weights();
    let short = &k.w[2][1..];
    w.w2 = short;
    let err = grn_forward(&s, &k.x, w, EPS, &mut y, GrnState { eta: &mut buf(8), e: &mut buf(8), a: &mut buf(20), g: &mut buf(20), n: &mut buf(20), rstd: &mut buf(4) }).unwrap_err();
    assert_eq!((err.code, err.message.starts_with("w2:")), (ErrorCode::Shape, true), "{err:?}");
    let mut w = k.weights();
    w.ws = None;
    let err = grn_forward(&s, &k.x, w, EPS, &mut y, GrnState { eta: &mut buf(8), e: &mut buf(8), a: &mut buf(20), g: &mut buf(20), n: &mut buf(20), rstd: &mut buf(4) }).unwrap_err();
    assert_eq!((err.code, err.message.starts_with("ws:")), (ErrorCode::Arg, true), "{err:?}");
    let err = grn_forward(&s, &k.x, k.weights(), f32::NAN, &mut y, GrnState { eta: &mut buf(8), e: &mut buf(8), a: &mut buf(20), g: &mut buf(20), n: &mut buf(20), rstd: &mut buf(3) }).unwrap_err();
    assert_eq!((err.code, err.message.starts_with("epsilon:")), (ErrorCode::Arg, true), "{err:?}");
    let err = grn_forward(&s, &k.x, k.weights(), EPS, &mut y, GrnState { eta: &mut buf(8), e: &mut buf(8), a: &mut buf(20), g: &mut buf(20), n: &mut buf(20), rstd: &mut buf(3) }).unwrap_err();
    assert_eq!((err.code, err.message.starts_with("rstd:")), (ErrorCode::Shape, true), "{err:?}");
}

#[test]
fn stacked_errors_name_the_array_and_the_stack() {
    // two GRNs: every array holds both (the layout names the stack)
    let s = shape(2, 4, 3, 2, 5);
    let k = case(&s, 3);
    let buf = |n: usize| vec![0f32; n];
    let state = |rstd: usize| (buf(16), buf(16), buf(40), buf(40), buf(40), buf(rstd));
    let mut y = buf(40);
    // one GRN's biases where the stack needs two
    let mut w = k.weights();
    w.b1 = &k.w[1][..2];
    let (mut eta, mut e, mut a, mut g, mut n, mut rstd) = state(8);
    let err = grn_forward(&s, &k.x, w, EPS, &mut y, GrnState { eta: &mut eta, e: &mut e, a: &mut a, g: &mut g, n: &mut n, rstd: &mut rstd }).unwrap_err();
    assert_eq!((err.code, err.message.starts_with("b1:"), err.message.contains("stack=2")), (ErrorCode::Shape, true, true), "{err:?}");
    // x of one GRN only
    let (mut eta, mut e, mut a, mut g, mut n, mut rstd) = state(8);
    let err = grn_forward(&s, &k.x[..12], k.weights(), EPS, &mut y, GrnState { eta: &mut eta, e: &mut e, a: &mut a, g: &mut g, n: &mut n, rstd: &mut rstd }).unwrap_err();
    assert_eq!((err.code, err.message.starts_with("x:")), (ErrorCode::Shape, true), "{err:?}");
    // rstd per row of one GRN only
    let (mut eta, mut e, mut a, mut g, mut n, mut rstd) = state(4);
    let err = grn_forward(&s, &k.x, k.weights(), EPS, &mut y, GrnState { eta: &mut eta, e: &mut e, a: &mut a, g: &mut g, n: &mut n, rstd: &mut rstd }).unwrap_err();
    assert_eq!((err.code, err.message.starts_with("rstd:")), (ErrorCode::Shape, true), "{err:?}");
    // a backward gradient array for one GRN only
    let (eta, e, a, g, n, rstd) = state(8);
    let saved = GrnSavedRef { eta: &eta, e: &e, a: &a, g: &g, n: &n, rstd: &rstd };
    let mut out: Vec<Vec<f32>> = k.w.iter().map(|w| buf(w.len())).collect();
    out[10] = buf(5);
    let [dw1, db1, dw2, db2, dwv, dbv, dwg, dbg, dws, dbs, dgamma, dbeta] = &mut out[..] else { unreachable!() };
    let grads = GrnGrads { dw1, db1, dw2, db2, dwv, dbv, dwg, dbg, dws: Some(dws), dbs: Some(dbs), dgamma, dbeta, dx: None };
    let err = grn_backward(&s, &k.x, k.weights(), saved, &k.dy, grads).unwrap_err();
    assert_eq!((err.code, err.message.starts_with("dgamma:")), (ErrorCode::Shape, true), "{err:?}");
}
