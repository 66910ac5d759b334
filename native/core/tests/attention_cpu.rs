//! Fused causal attention: the kernel vs the plain f64 reference on named
//! shapes (batch 1, time 1 and 2, odd sizes, a width that heads do not divide,
//! several pool tasks), the reference's gradient against finite differences for
//! every weight and the input, causality of the saved weights, the same results
//! on 1 and 2 threads, and the typed errors.

mod common;
use common::uniform_f32 as rnd;
use sigvwap_core::attention::{attention_backward, attention_forward, reference_backward, reference_forward, AttentionGrads, AttentionSavedRef, AttentionShape, AttentionState, AttentionWeights};
use sigvwap_core::{pool, ErrorCode};

fn shape(batch: usize, time: usize, width: usize, heads: usize, key_dim: usize, units: usize) -> AttentionShape {
    AttentionShape { batch, time, width, heads, key_dim, units }
}

#[derive(Clone)]
struct Case {
    x: Vec<f32>,
    w: [Vec<f32>; 7],
    dy: Vec<f32>,
}

const NAMES: [&str; 7] = ["wq", "bq", "wk", "wv", "bv", "wo", "bo"];

impl Case {
    fn weights(&self) -> AttentionWeights<'_> {
        let w = &self.w;
        AttentionWeights { wq: &w[0], bq: &w[1], wk: &w[2], wv: &w[3], bv: &w[4], wo: &w[5], bo: &w[6] }
    }
}

fn case(s: &AttentionShape, seed: u64) -> Case {
    let hk = s.heads * s.key_dim;
    let rows = s.batch * s.time;
    let lens = [s.width * hk, hk, s.width * hk, s.width * hk, hk, hk * s.units, s.units];
    Case {
        x: rnd(rows * s.width, 1.0, seed),
        w: std::array::from_fn(|i| rnd(lens[i], 0.7, seed + 1 + i as u64)),
        dy: rnd(rows * s.units, 1.0, seed + 20),
    }
}

/// Named shapes: B-T-width-heads-keyDim-units.
fn cases() -> Vec<(&'static str, AttentionShape)> {
    vec![
        ("b1-t1-d1-h3-k1-u1", shape(1, 1, 1, 3, 1, 1)),
        ("b1-t2-d4-h2-k2-u4", shape(1, 2, 4, 2, 2, 4)),
        ("b3-t5-d7-h3-k3-u7 (width not divisible by heads: keyDim ceil(7/3))", shape(3, 5, 7, 3, 3, 7)),
        ("b2-t5-d7-h2-k3-u4", shape(2, 5, 7, 2, 3, 4)),
        ("b64-t9-d8-h3-k3-u8 (several pool tasks)", shape(64, 9, 8, 3, 3, 8)),
    ]
}

fn assert_close(name: &str, what: &str, got: &[f32], want: &[f32], tol: f64) {
    common::assert_close_f32(name, what, got, want, tol, ("kernel", "reference"));
}

struct Run {
    y: Vec<f32>,
    probs: Vec<f32>,
    grads: Vec<Vec<f32>>,
}

fn run_kernel(s: &AttentionShape, k: &Case) -> Run {
    let hk = s.heads * s.key_dim;
    let rows = s.batch * s.time;
    let nan = |n: usize| vec![f32::NAN; n];
    let (mut q, mut kk, mut v, mut m) = (nan(rows * hk), nan(rows * hk), nan(rows * hk), nan(rows * hk));
    let mut probs = nan(s.batch * s.heads * s.time * s.time);
    let mut y = nan(rows * s.units);
    attention_forward(s, &k.x, k.weights(), &mut y, AttentionState { q: &mut q, k: &mut kk, v: &mut v, probs: &mut probs, merged: &mut m }).unwrap();
    let mut g: Vec<Vec<f32>> = k.w.iter().map(|w| nan(w.len())).collect();
    let mut dx = nan(k.x.len());
    {
        let [dwq, dbq, dwk, dwv, dbv, dwo, dbo] = &mut g[..] else { unreachable!() };
        let saved = AttentionSavedRef { q: &q, k: &kk, v: &v, probs: &probs, merged: &m };
        attention_backward(s, &k.x, k.weights(), saved, &k.dy, AttentionGrads { dwq, dbq, dwk, dwv, dbv, dwo, dbo, dx: Some(&mut dx) }).unwrap();
    }
    g.push(dx);
    Run { y, probs, grads: g }
}

#[test]
fn kernel_matches_the_reference_on_named_shapes() {
    for (name, s) in cases() {
        let k = case(&s, 11);
        let r = run_kernel(&s, &k);
        let (y, probs) = reference_forward(&s, &k.x, k.weights());
        assert_close(name, "y", &r.y, &y, 1e-5);
        assert_close(name, "probs", &r.probs, &probs, 1e-5);
        let (dwq, dbq, dwk, dwv, dbv, dwo, dbo, dx) = reference_backward(&s, &k.x, k.weights(), &k.dy);
        for (what, got, want) in NAMES.iter().map(|n| format!("d{n}")).chain(["dx".to_string()]).zip(&r.grads).zip([dwq, dbq, dwk, dwv, dbv, dwo, dbo, dx]).map(|((n, g), w)| (n, g, w)) {
            assert_close(name, &what, got, &want, 1e-4);
        }
    }
}

#[test]
fn weights_on_later_positions_are_exact_zeros_and_rows_sum_to_one() {
    let s = shape(2, 6, 5, 3, 2, 5);
    let r = run_kernel(&s, &case(&s, 3));
    for (row_index, row) in r.probs.chunks_exact(s.time).enumerate() {
        let i = row_index % s.time;
        assert!(row[i + 1..].iter().all(|&p| p == 0.0), "row {row_index}: {row:?}");
        let sum: f64 = row.iter().map(|&p| p as f64).sum();
        assert!((sum - 1.0).abs() < 1e-6, "row {row_index} sums to {sum}");
    }
}

#[test]
fn outputs_at_i_do_not_depend_on_later_inputs() {
    let s = shape(2, 5, 4, 2, 2, 3);
    let k = case(&s, 8);
    let base = run_kernel(&s, &k).y;
    let mut p = k.clone();
    for b in 0..s.batch {
        for c in 0..s.width {
            p.x[(b * s.time + 4) * s.width + c] += 3.0;
        }
    }
    let moved = run_kernel(&s, &p).y;
    let rows_before = 4 * s.units;
    for b in 0..s.batch {
        let o = b * s.time * s.units;
        assert_eq!(&base[o..o + rows_before], &moved[o..o + rows_before], "sequence {b}");
    }
}

/// The loss Σ dy ⊙ y of the reference forward, in f64 from its f32 outputs.
fn loss(s: &AttentionShape, k: &Case) -> f64 {
    let (y, _) = reference_forward(s, &k.x, k.weights());
    y.iter().zip(&k.dy).map(|(&a, &b)| a as f64 * b as f64).sum()
}

#[test]
fn reference_gradient_matches_finite_differences() {
    for s in [shape(1, 3, 3, 2, 2, 2), shape(2, 2, 3, 1, 3, 2)] {
        let k = case(&s, 41);
        let grads = reference_backward(&s, &k.x, k.weights(), &k.dy);
        let all = [grads.0, grads.1, grads.2, grads.3, grads.4, grads.5, grads.6, grads.7];
        let eps = 1e-2f32;
        for (which, g) in all.iter().enumerate() {
            for (i, &gv) in g.iter().enumerate() {
                let at = |delta: f32| {
                    let mut p = k.clone();
                    if which < 7 { p.w[which][i] += delta } else { p.x[i] += delta }
                    loss(&s, &p)
                };
                let f = (at(eps) - at(-eps)) / (2.0 * eps as f64);
                let what = if which < 7 { NAMES[which] } else { "x" };
                assert!((gv as f64 - f).abs() <= 2e-3 * (1.0 + f.abs()), "{s:?} d{what}[{i}]: analytic {gv}, finite difference {f}");
            }
        }
        // the key projection's gradient is not trivially zero (it would be with a bias only)
        assert!(all[2].iter().any(|&v| v.abs() > 1e-3));
    }
}

#[test]
fn one_and_two_threads_agree() {
    let s = shape(64, 9, 8, 3, 3, 8);
    let k = case(&s, 5);
    let runs: Vec<Run> = [1, 2]
        .into_iter()
        .map(|n| {
            pool::set_threads(n).unwrap();
            run_kernel(&s, &k)
        })
        .collect();
    pool::set_threads(pool::threads()).unwrap();
    assert_close("threads", "y", &runs[0].y, &runs[1].y, 1e-6);
    for (i, (a, b)) in runs[0].grads.iter().zip(&runs[1].grads).enumerate() {
        assert_close("threads", &format!("grad {i}"), a, b, 1e-5);
    }
}

#[test]
fn errors_name_the_argument() {
    let s = shape(2, 3, 4, 2, 2, 3);
    let k = case(&s, 1);
    let rows = s.batch * s.time;
    let hk = 4;
    let buf = |n: usize| vec![0f32; n];
    let (mut q, mut kk, mut v, mut m, mut p, mut y) = (buf(rows * hk), buf(rows * hk), buf(rows * hk), buf(rows * hk), buf(2 * 2 * 9), buf(rows * 3));
    let mut short_w = k.weights();
    let wk_short = &k.w[2][1..];
    short_w.wk = wk_short;
    let e = attention_forward(&s, &k.x, short_w, &mut y, AttentionState { q: &mut q, k: &mut kk, v: &mut v, probs: &mut p, merged: &mut m }).unwrap_err();
    assert_eq!((e.code, e.message.starts_with("wk:")), (ErrorCode::Shape, true), "{e:?}");
    let mut p_short = buf(2 * 2 * 9 - 1);
    let e = attention_forward(&s, &k.x, k.weights(), &mut y, AttentionState { q: &mut q, k: &mut kk, v: &mut v, probs: &mut p_short, merged: &mut m }).unwrap_err();
    assert_eq!((e.code, e.message.starts_with("probs:")), (ErrorCode::Shape, true), "{e:?}");
    let e = attention_forward(&shape(2, 3, 4, 0, 2, 3), &k.x, k.weights(), &mut y, AttentionState { q: &mut q, k: &mut kk, v: &mut v, probs: &mut p, merged: &mut m }).unwrap_err();
    assert_eq!((e.code, e.message.starts_with("heads:")), (ErrorCode::Arg, true), "{e:?}");
}
