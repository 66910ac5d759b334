//! Fused LSTM: the kernel vs the plain f64 reference on named shapes (batch 1,
//! steps 1 and 2, odd sizes, no input channel, several row blocks), the
//! reference's gradient against finite differences, the same results on 1 and
//! 2 threads, and the typed errors.

mod common;
use common::{lstm_shape as shape, uniform_f32 as rnd};
use sigvwap_core::lstm::{lstm_backward, lstm_forward, reference_backward, reference_forward, LstmGrads, LstmSaved, LstmShape};
use sigvwap_core::{pool, ErrorCode};

struct Case {
    x: Vec<f32>,
    wx: Vec<f32>,
    wh: Vec<f32>,
    bias: Vec<f32>,
    dh: Vec<f32>,
}

fn case(s: &LstmShape, seed: u64) -> Case {
    let (g, rows) = (4 * s.units, s.steps * s.batch);
    Case {
        x: rnd(rows * s.channels, 1.0, seed),
        wx: rnd(s.channels * g, 0.6, seed + 1),
        wh: rnd(s.units * g, 0.6, seed + 2),
        bias: rnd(g, 0.3, seed + 3),
        dh: rnd(rows * s.units, 1.0, seed + 4),
    }
}

/// Named shapes; "blocks" has more rows than one block (several pool threads).
fn cases() -> Vec<(&'static str, LstmShape)> {
    vec![
        ("batch1-step1", shape(1, 1, 3, 2)),
        ("steps2", shape(2, 3, 2, 3)),
        ("odd-5x7x3x5", shape(5, 7, 3, 5)),
        ("no-channels", shape(3, 4, 0, 3)),
        ("unit1", shape(4, 2, 2, 1)),
        ("blocks-9x101x6x16", shape(9, 101, 6, 16)),
    ]
}

fn assert_close(name: &str, what: &str, got: &[f32], want: &[f32], tol: f64) {
    common::assert_close_f32(name, what, got, want, tol, ("kernel", "reference"));
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

fn run_kernel(s: &LstmShape, k: &Case) -> Run {
    let (g, rows) = (4 * s.units, s.steps * s.batch);
    let (mut h, mut gates, mut c) = (vec![f32::NAN; rows * s.units], vec![f32::NAN; rows * g], vec![f32::NAN; rows * s.units]);
    lstm_forward(s, &k.x, &k.wx, &k.wh, &k.bias, &mut h, &mut gates, &mut c).unwrap();
    let (mut dwx, mut dwh, mut db, mut dx) = (vec![f32::NAN; k.wx.len()], vec![f32::NAN; k.wh.len()], vec![f32::NAN; g], vec![f32::NAN; k.x.len()]);
    let saved = LstmSaved { x: &k.x, wx: &k.wx, wh: &k.wh, h: &h, gates: &gates, c: &c };
    lstm_backward(s, saved, &k.dh, LstmGrads { dwx: &mut dwx, dwh: &mut dwh, dbias: &mut db, dx: Some(&mut dx) }).unwrap();
    Run { h, gates, c, dwx, dwh, db, dx }
}

#[test]
fn kernel_matches_the_reference_on_named_shapes() {
    for (name, s) in cases() {
        let k = case(&s, 17);
        let r = run_kernel(&s, &k);
        let (h, gates, c) = reference_forward(&s, &k.x, &k.wx, &k.wh, &k.bias);
        assert_close(name, "h", &r.h, &h, 1e-5);
        assert_close(name, "gates", &r.gates, &gates, 1e-5);
        assert_close(name, "c", &r.c, &c, 1e-5);
        let (dwx, dwh, db, dx) = reference_backward(&s, &k.x, &k.wx, &k.wh, &k.bias, &k.dh);
        assert_close(name, "dwx", &r.dwx, &dwx, 1e-4);
        assert_close(name, "dwh", &r.dwh, &dwh, 1e-4);
        assert_close(name, "dbias", &r.db, &db, 1e-4);
        assert_close(name, "dx", &r.dx, &dx, 1e-4);
    }
}

#[test]
fn without_dx_the_weight_gradients_are_the_same() {
    let s = shape(4, 37, 3, 5);
    let k = case(&s, 5);
    let full = run_kernel(&s, &k);
    let g = 4 * s.units;
    let (mut dwx, mut dwh, mut db) = (vec![0f32; k.wx.len()], vec![0f32; k.wh.len()], vec![0f32; g]);
    let saved = LstmSaved { x: &k.x, wx: &k.wx, wh: &k.wh, h: &full.h, gates: &full.gates, c: &full.c };
    lstm_backward(&s, saved, &k.dh, LstmGrads { dwx: &mut dwx, dwh: &mut dwh, dbias: &mut db, dx: None }).unwrap();
    assert_eq!((dwx, dwh, db), (full.dwx, full.dwh, full.db));
}

/// The loss Σ dh ⊙ h of the reference forward, in f64 from its f32 outputs.
fn loss(s: &LstmShape, k: &Case) -> f64 {
    let (h, _, _) = reference_forward(s, &k.x, &k.wx, &k.wh, &k.bias);
    h.iter().zip(&k.dh).map(|(&a, &b)| a as f64 * b as f64).sum()
}

#[test]
fn reference_gradient_matches_finite_differences() {
    let s = shape(3, 2, 2, 2);
    let k = case(&s, 29);
    let (dwx, dwh, db, dx) = reference_backward(&s, &k.x, &k.wx, &k.wh, &k.bias, &k.dh);
    let eps = 1e-2f32;
    let fd = |pick: &dyn Fn(&mut Case) -> &mut Vec<f32>, i: usize| {
        let mut p = case(&s, 29);
        pick(&mut p)[i] += eps;
        let mut m = case(&s, 29);
        pick(&mut m)[i] -= eps;
        (loss(&s, &p) - loss(&s, &m)) / (2.0 * eps as f64)
    };
    let check = |what: &str, grad: &[f32], pick: &dyn Fn(&mut Case) -> &mut Vec<f32>| {
        for (i, &gv) in grad.iter().enumerate() {
            let f = fd(pick, i);
            assert!((gv as f64 - f).abs() <= 2e-3 * (1.0 + f.abs()), "{what}[{i}]: analytic {gv}, finite difference {f}");
        }
    };
    check("dwx", &dwx, &|c| &mut c.wx);
    check("dwh", &dwh, &|c| &mut c.wh);
    check("dbias", &db, &|c| &mut c.bias);
    check("dx", &dx, &|c| &mut c.x);
}

#[test]
fn one_and_two_threads_give_close_results() {
    let s = shape(6, 203, 4, 8);
    let k = case(&s, 41);
    pool::set_threads(1).unwrap();
    let one = run_kernel(&s, &k);
    pool::set_threads(2).unwrap();
    let two = run_kernel(&s, &k);
    // forward rows never interact: identical; weight gradients differ only by the order of block sums
    assert_eq!(one.h, two.h);
    assert_eq!(one.dx, two.dx);
    assert_close("threads", "dwx", &one.dwx, &two.dwx, 1e-5);
    assert_close("threads", "dwh", &one.dwh, &two.dwh, 1e-5);
}

/// A forward call on the given h, gates and c.
type ForwardCall<'a> = dyn Fn(&mut [f32], &mut [f32], &mut [f32]) -> Result<(), sigvwap_core::CoreError> + 'a;

#[test]
fn wrong_lengths_are_shape_errors_naming_the_array() {
    let s = shape(2, 3, 2, 4);
    let k = case(&s, 3);
    let (mut h, mut gates, mut c) = (vec![0f32; 24], vec![0f32; 96], vec![0f32; 24]);
    let cases: Vec<(&str, Box<ForwardCall>)> = vec![
        ("x", Box::new(|h, g, c| lstm_forward(&s, &k.x[1..], &k.wx, &k.wh, &k.bias, h, g, c))),
        ("wx", Box::new(|h, g, c| lstm_forward(&s, &k.x, &k.wx[1..], &k.wh, &k.bias, h, g, c))),
        ("wh", Box::new(|h, g, c| lstm_forward(&s, &k.x, &k.wx, &k.wh[1..], &k.bias, h, g, c))),
        ("bias", Box::new(|h, g, c| lstm_forward(&s, &k.x, &k.wx, &k.wh, &k.bias[1..], h, g, c))),
        ("h", Box::new(|h, g, c| lstm_forward(&s, &k.x, &k.wx, &k.wh, &k.bias, &mut h[1..], g, c))),
        ("gates", Box::new(|h, g, c| lstm_forward(&s, &k.x, &k.wx, &k.wh, &k.bias, h, &mut g[1..], c))),
        ("c", Box::new(|h, g, c| lstm_forward(&s, &k.x, &k.wx, &k.wh, &k.bias, h, g, &mut c[1..]))),
    ];
    for (name, call) in cases {
        let e = call(&mut h, &mut gates, &mut c).unwrap_err();
        assert_eq!(e.code, ErrorCode::Shape, "{name}: {}", e.message);
        assert!(e.message.starts_with(name), "{name}: {}", e.message);
    }
}
