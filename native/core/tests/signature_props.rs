//! Identities and cross-checks of the signature engine, on named shapes
//! (`b{batch}-l{length}-c{channels}-m{depth}`) and on random ones (proptest):
//! fast path == reference (forward, stream, backward, stream backward,
//! basepoint, float32), Chen's identity, repeated points, finite-difference
//! gradients, split along the length == unsplit, basepoint == explicit zero
//! point, exact zeros for one point / constant paths, and a 100,000-point path
//! through the backward (memory independent of the length; reversal drift).

#[path = "signature_util.rs"]
mod util;

use proptest::prelude::*;
use sigvwap_core::signature::tensor::{mul, TensorShape};
use sigvwap_core::signature::{
    signature, signature_backward, signature_backward_reference, signature_backward_with, signature_reference,
    signature_with, Precision, SigOptions, Simd, Tuning,
};
use util::{random_walk, rel_error, to_f32, to_f64, worst_level_error_pooled, worst_level_error_variation, Rng};

/// Named shapes: batch 1, length 1 and 2, depth 1, odd sizes, partial SIMD
/// blocks (batch 9 with 8 lanes), a run-time channel count (9 > 8), long
/// paths that get split along the length.
const SHAPES: &[(&str, usize, usize, usize, usize)] = &[
    ("b1-l1-c3-m3", 1, 1, 3, 3),
    ("b1-l2-c3-m1", 1, 2, 3, 1),
    ("b1-l2-c2-m4", 1, 2, 2, 4),
    ("b3-l7-c5-m3", 3, 7, 5, 3),
    ("b2-l10-c1-m5", 2, 10, 1, 5),
    ("b9-l33-c3-m3", 9, 33, 3, 3),
    ("b4-l20-c9-m2", 4, 20, 9, 2),
    ("b2-l12-c4-m4", 2, 12, 4, 4),
    ("b1-l700-c3-m3", 1, 700, 3, 3),
    ("b3-l300-c2-m5", 3, 300, 2, 5),
    ("b17-l65-c6-m2", 17, 65, 6, 2),
    ("b3-l9-c10-m3", 3, 9, 10, 3),
    ("b2-l6-c8-m4", 2, 6, 8, 4),
];

fn opts(shape: &(&str, usize, usize, usize, usize)) -> SigOptions {
    SigOptions::new(shape.1, shape.2, shape.3, shape.4)
}

fn tshape(o: &SigOptions) -> TensorShape {
    TensorShape::new(o.channels, o.depth).unwrap()
}

fn path_for(o: &SigOptions, seed: u64) -> Vec<f64> {
    let mut rng = Rng::new(seed);
    random_walk(&mut rng, o.batch, o.length, o.channels, 1.0 / (o.length as f64).sqrt())
}

fn check_close(what: &str, got: &[f64], want: &[f64], tol: f64) {
    let e = rel_error(got, want);
    assert!(e <= tol, "{what}: rel error {e:.3e} > {tol:.0e}");
}

fn check_levels(what: &str, shape: &TensorShape, got: &[f64], want: &[f64], tol: f64) {
    let (e, level) = worst_level_error_pooled(shape, got, want);
    assert!(e <= tol, "{what}: level {level} rel error {e:.3e} > {tol:.0e}");
}

/// Every mode of the fast path against the reference, for each named shape.
#[test]
fn fast_matches_reference_on_named_shapes() {
    for (i, sh) in SHAPES.iter().enumerate() {
        for stream in [false, true] {
            for basepoint in [false, true] {
                let o = opts(sh).with_stream(stream).with_basepoint(basepoint);
                let name = format!("{} stream={stream} basepoint={basepoint}", sh.0);
                let ts = tshape(&o);
                let path = path_for(&o, 100 + i as u64);
                let want = signature_reference(&path, &o).unwrap();
                let got = signature(&path, &o).unwrap();
                check_levels(&format!("{name} forward"), &ts, &got, &want, 1e-12);

                let mut rng = Rng::new(7 + i as u64);
                let grad_out = rng.vec(want.len(), 1.0);
                let want = signature_backward_reference(&path, &grad_out, &o).unwrap();
                let got = signature_backward(&path, &grad_out, &o).unwrap();
                check_close(&format!("{name} backward"), &got, &want, 1e-11);

                // float32 input: same increments (the path is exactly representable
                // after the cast, and the reference sees the same f32 values).
                // Float64 arithmetic rounds once at the end (~1e-7); float32
                // arithmetic (the default for f32 input) within the float32
                // tolerance of the test vectors, relative to the level's scale
                // along the path (b2-l10-c1-m5 with basepoint returns near its
                // start: level 5 ends 1e-3 below the terms it sums).
                let p32 = to_f32(&path);
                let want_sig = signature_reference(&to_f64(&p32), &o).unwrap();
                let want_grad = signature_backward_reference(&to_f64(&p32), &to_f64(&to_f32(&grad_out)), &o).unwrap();
                let got = to_f64(&signature(&p32, &o.with_precision(Precision::F64)).unwrap());
                check_levels(&format!("{name} forward f32 F64"), &ts, &got, &want_sig, 1e-6);
                let got = to_f64(&signature(&p32, &o).unwrap());
                let (e, level) = worst_level_error_variation(&ts, &got, &want_sig, &to_f64(&p32), &o);
                assert!(e <= 1e-4, "{name} forward f32 Auto: level {level} rel error {e:.3e} (of the variation bound)");
                for (precision, tol) in [(Precision::F64, 1e-6), (Precision::Auto, 1e-4)] {
                    let o = o.with_precision(precision);
                    let got = to_f64(&signature_backward(&p32, &to_f32(&grad_out), &o).unwrap());
                    check_close(&format!("{name} backward f32 {precision:?}"), &got, &want_grad, tol);
                }
            }
        }
    }
}

/// Every plan (lanes, chunks, portable code) agrees with the reference.
#[test]
fn plans_match_reference() {
    let plans = [
        Tuning { lanes: Some(1), ..Tuning::default() },
        Tuning { lanes: Some(2), chunks: Some(5), ..Tuning::default() },
        Tuning { lanes: Some(4), chunks: Some(2), ..Tuning::default() },
        Tuning { lanes: Some(8), chunks: Some(1), simd: Some(Simd::Portable), ..Tuning::default() },
        Tuning { chunks: Some(64), threads: Some(7), ..Tuning::default() },
    ];
    for (i, sh) in SHAPES.iter().enumerate() {
        for basepoint in [false, true] {
            let o = opts(sh).with_basepoint(basepoint);
            let ts = tshape(&o);
            let path = path_for(&o, 300 + i as u64);
            let want = signature_reference(&path, &o).unwrap();
            let mut rng = Rng::new(9 + i as u64);
            let grad_out = rng.vec(want.len(), 1.0);
            let want_grad = signature_backward_reference(&path, &grad_out, &o).unwrap();
            for t in &plans {
                let name = format!("{} basepoint={basepoint} {t:?}", sh.0);
                let got = signature_with(&path, &o, t).unwrap();
                check_levels(&format!("{name} forward"), &ts, &got, &want, 1e-12);
                let got = signature_backward_with(&path, &grad_out, &o, t).unwrap();
                check_close(&format!("{name} backward"), &got, &want_grad, 1e-11);
            }
        }
    }
}

/// Splitting along the length (Chen's identity inside) equals not splitting.
#[test]
fn split_along_length_equals_unsplit() {
    let o = SigOptions::new(2, 513, 3, 4);
    let ts = tshape(&o);
    let path = path_for(&o, 5);
    let whole = Tuning { chunks: Some(1), ..Tuning::default() };
    let base = signature_with(&path, &o, &whole).unwrap();
    let mut rng = Rng::new(6);
    let grad_out = rng.vec(base.len(), 1.0);
    let base_grad = signature_backward_with(&path, &grad_out, &o, &whole).unwrap();
    for chunks in [2, 3, 8, 100, 512, 10_000] {
        let t = Tuning { chunks: Some(chunks), ..Tuning::default() };
        let got = signature_with(&path, &o, &t).unwrap();
        check_levels(&format!("chunks={chunks} forward"), &ts, &got, &base, 1e-13);
        let got = signature_backward_with(&path, &grad_out, &o, &t).unwrap();
        check_close(&format!("chunks={chunks} backward"), &got, &base_grad, 1e-12);
    }
}

/// sig(x ⋆ y) = sig(x) ⊗ sig(y) for paths x, y sharing the joining point.
#[test]
fn chens_identity() {
    for (channels, depth, len_x, len_y) in [(2, 4, 7, 5), (3, 3, 2, 2), (5, 3, 11, 3), (1, 5, 4, 9), (9, 2, 3, 6)] {
        let name = format!("c{channels}-m{depth} {len_x}+{len_y}");
        let ts = TensorShape::new(channels, depth).unwrap();
        let mut rng = Rng::new(channels as u64 * 31 + depth as u64);
        let full = random_walk(&mut rng, 1, len_x + len_y - 1, channels, 0.7);
        let x = &full[..len_x * channels];
        let y = &full[(len_x - 1) * channels..];
        let sig_x = signature(x, &SigOptions::new(1, len_x, channels, depth)).unwrap();
        let sig_y = signature(y, &SigOptions::new(1, len_y, channels, depth)).unwrap();
        let sig_full = signature(&full, &SigOptions::new(1, len_x + len_y - 1, channels, depth)).unwrap();
        check_levels(&name, &ts, &mul(&ts, &sig_x, &sig_y), &sig_full, 1e-12);
    }
}

/// Repeating points adds zero segments: the signature does not change, and
/// the stream repeats the previous entry.
#[test]
fn repeated_points_change_nothing() {
    let (length, channels, depth) = (9, 3, 4);
    let ts = TensorShape::new(channels, depth).unwrap();
    let mut rng = Rng::new(21);
    let path = random_walk(&mut rng, 1, length, channels, 0.5);
    let mut repeated = Vec::new();
    for t in 0..length {
        let row = &path[t * channels..(t + 1) * channels];
        let times = 1 + (t % 3);
        for _ in 0..times {
            repeated.extend_from_slice(row);
        }
    }
    let length_rep = repeated.len() / channels;
    let a = signature(&path, &SigOptions::new(1, length, channels, depth)).unwrap();
    let b = signature(&repeated, &SigOptions::new(1, length_rep, channels, depth)).unwrap();
    check_levels("repeated points", &ts, &b, &a, 1e-14);
    let stream = signature(&repeated, &SigOptions::new(1, length_rep, channels, depth).with_stream(true)).unwrap();
    // Points p0, p1, p1, p2, ...: stream entries 0 and 1 both end at p1.
    let siglen = ts.siglen();
    assert_eq!(&stream[..siglen], &stream[siglen..2 * siglen], "a zero segment must repeat the stream entry exactly");
}

/// One point, or a constant path: an exactly zero signature (and stream). The
/// gradient is exactly zero for one point; for a constant path only level 1
/// (x_N - x_0, linear) contributes: -w_1 at the first point, +w_1 at the last,
/// exact zeros between (as in the peer's `edge_constant_*` vectors).
#[test]
fn single_point_and_constant_paths_give_exact_zeros() {
    let (batch, channels, depth) = (3, 4, 3);
    for length in [1, 5] {
        let path: Vec<f64> = (0..batch * length * channels)
            .map(|i| ((i / (length * channels)) as f64 + 1.5) * ((i % channels) as f64 - 0.3))
            .collect();
        // constant in time: every row of a path equals its first row
        let mut constant = path.clone();
        for b in 0..batch {
            for t in 1..length {
                for c in 0..channels {
                    constant[(b * length + t) * channels + c] = path[b * length * channels + c];
                }
            }
        }
        for stream in [false, true] {
            let o = SigOptions::new(batch, length, channels, depth).with_stream(stream);
            let name = format!("length {length} stream={stream}");
            let sig = signature(&constant, &o).unwrap();
            assert!(sig.iter().all(|&v| v == 0.0), "{name}: signature not exactly zero");
            let sig32 = signature(&to_f32(&constant), &o).unwrap();
            assert!(sig32.iter().all(|&v| v == 0.0), "{name}: f32 signature not exactly zero");
            let mut rng = Rng::new(length as u64);
            let grad_out = rng.vec(sig.len(), 1.0);
            let grad = signature_backward(&constant, &grad_out, &o).unwrap();
            if length == 1 {
                assert!(grad.iter().all(|&v| v == 0.0), "{name}: gradient not exactly zero");
            } else if !stream {
                let siglen = sig.len() / batch;
                for b in 0..batch {
                    let w1 = &grad_out[b * siglen..b * siglen + channels];
                    let g = &grad[b * length * channels..(b + 1) * length * channels];
                    for c in 0..channels {
                        assert_eq!(g[c], -w1[c], "{name}: first point");
                        assert_eq!(g[(length - 1) * channels + c], w1[c], "{name}: last point");
                    }
                    assert!(g[channels..(length - 1) * channels].iter().all(|&v| v == 0.0), "{name}: interior");
                }
            } else {
                let want = signature_backward_reference(&constant, &grad_out, &o).unwrap();
                assert_eq!(grad, want, "{name}: stream gradient");
            }
        }
    }
}

/// The stream's last entry is the plain signature, bit for bit: the stream
/// advances one segment at a time, the plain signature two at a time where
/// the top level is large (`mul_exp_step2`, same operations).
#[test]
fn stream_last_entry_is_the_signature() {
    for (name, batch, length, channels, depth) in
        [("b3-l17-c3-m3", 3, 17, 3, 3), ("b2-l12-c8-m4", 2, 12, 8, 4), ("b9-l8-c10-m3", 9, 8, 10, 3), ("b1-l6-c7-m4", 1, 6, 7, 4)]
    {
        let o = SigOptions::new(batch, length, channels, depth);
        let path = path_for(&o, 44);
        for basepoint in [false, true] {
            let o = o.with_basepoint(basepoint);
            let n = o.segments();
            let plain = signature(&path, &o).unwrap();
            let stream = signature(&path, &o.with_stream(true)).unwrap();
            let siglen = plain.len() / batch;
            for b in 0..batch {
                let last = &stream[(b * n + n - 1) * siglen..(b * n + n) * siglen];
                assert_eq!(last, &plain[b * siglen..(b + 1) * siglen], "{name} basepoint={basepoint} batch {b}");
            }
        }
    }
}

/// Basepoint == prepending a zero point by hand (forward, stream, backward).
#[test]
fn basepoint_equals_explicit_zero_point() {
    for sh in SHAPES {
        let o = opts(sh);
        let (l, d) = (o.length, o.channels);
        let path = path_for(&o, 77);
        let mut explicit = Vec::new();
        for row in path.chunks(l * d) {
            explicit.extend(std::iter::repeat_n(0.0, d));
            explicit.extend_from_slice(row);
        }
        let oe = SigOptions::new(o.batch, l + 1, d, o.depth);
        for stream in [false, true] {
            let (ob, oe) = (o.with_basepoint(true).with_stream(stream), oe.with_stream(stream));
            let want = signature(&explicit, &oe).unwrap();
            let got = signature(&path, &ob).unwrap();
            check_levels(&format!("{} stream={stream}", sh.0), &tshape(&o), &got, &want, 1e-13);
            let mut rng = Rng::new(3);
            let grad_out = rng.vec(want.len(), 1.0);
            let full = signature_backward(&explicit, &grad_out, &oe).unwrap();
            let want: Vec<f64> = full.chunks((l + 1) * d).flat_map(|r| r[d..].to_vec()).collect();
            let got = signature_backward(&path, &grad_out, &ob).unwrap();
            check_close(&format!("{} stream={stream} backward", sh.0), &got, &want, 1e-12);
        }
    }
}

/// Central finite differences of `Σ gradOut · signature` against the backward,
/// for the plain signature and the stream.
#[test]
fn backward_matches_finite_differences() {
    for (name, batch, length, channels, depth) in
        [("b1-l2-c2-m3", 1, 2, 2, 3), ("b2-l6-c3-m3", 2, 6, 3, 3), ("b1-l5-c1-m4", 1, 5, 1, 4), ("b1-l7-c5-m2", 1, 7, 5, 2)]
    {
        for stream in [false, true] {
            for basepoint in [false, true] {
                let o = SigOptions::new(batch, length, channels, depth).with_stream(stream).with_basepoint(basepoint);
                let path = path_for(&o, 11);
                let n_out = signature(&path, &o).unwrap().len();
                let mut rng = Rng::new(12);
                let grad_out = rng.vec(n_out, 1.0);
                let loss = |p: &[f64]| -> f64 {
                    signature(p, &o).unwrap().iter().zip(&grad_out).map(|(s, g)| s * g).sum()
                };
                let grad = signature_backward(&path, &grad_out, &o).unwrap();
                let h = 1e-6;
                let mut fd = vec![0.0; path.len()];
                for i in 0..path.len() {
                    let mut p = path.clone();
                    p[i] += h;
                    let up = loss(&p);
                    p[i] -= 2.0 * h;
                    let down = loss(&p);
                    fd[i] = (up - down) / (2.0 * h);
                }
                check_close(&format!("{name} stream={stream} basepoint={basepoint} finite differences"), &grad, &fd, 1e-7);
            }
        }
    }
}

/// A 100,000-point path: the backward walks it backwards by reversibility
/// (workspace independent of the length) and still matches the stored-prefix
/// reference; both as one task (100k reversal steps) and split along the length.
#[test]
fn long_path_backward_matches_reference() {
    let o = SigOptions::new(2, 100_000, 2, 3);
    let ts = tshape(&o);
    let path = path_for(&o, 99);
    let want_sig = signature_reference(&path, &o).unwrap();
    let mut rng = Rng::new(98);
    let grad_out = rng.vec(want_sig.len(), 1.0);
    let want = signature_backward_reference(&path, &grad_out, &o).unwrap();
    for t in [Tuning { chunks: Some(1), ..Tuning::default() }, Tuning::default()] {
        let got = signature_with(&path, &o, &t).unwrap();
        check_levels(&format!("long path forward {t:?}"), &ts, &got, &want_sig, 1e-11);
        let got = signature_backward_with(&path, &grad_out, &o, &t).unwrap();
        println!("length 100000, {t:?}: backward rel error vs stored-prefix reference {:.3e}", rel_error(&got, &want));
        check_close(&format!("long path backward {t:?}"), &got, &want, 1e-9);
        // a few entries one by one, with their absolute error
        for &i in &[0usize, 1, 7, 99_999, 100_000, 150_001, 199_998, 399_999] {
            let e = (got[i] - want[i]).abs();
            assert!(e <= 1e-9 * want.iter().fold(0.0f64, |m, v| m.max(v.abs())), "entry {i}: {} vs {}", got[i], want[i]);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, .. ProptestConfig::default() })]

    /// Random shapes and modes: fast path == reference.
    #[test]
    fn random_shapes_match_reference(
        batch in 1usize..5,
        length in 1usize..24,
        channels in 1usize..6,
        depth in 1usize..5,
        stream in any::<bool>(),
        basepoint in any::<bool>(),
        lanes in prop::sample::select(vec![1usize, 2, 4, 8, 16]),
        chunks in 1usize..6,
        seed in 0u64..1000,
    ) {
        let o = SigOptions::new(batch, length, channels, depth).with_stream(stream).with_basepoint(basepoint);
        let t = Tuning { lanes: Some(lanes), chunks: Some(chunks), ..Tuning::default() };
        let ts = tshape(&o);
        let path = path_for(&o, seed);
        let want = signature_reference(&path, &o).unwrap();
        let got = signature_with(&path, &o, &t).unwrap();
        // relative to the level's scale along the path, not its final value (see the helper)
        let (e, level) = worst_level_error_variation(&ts, &got, &want, &path, &o);
        prop_assert!(e <= 1e-12, "forward level {} error {:.3e}", level, e);
        let mut rng = Rng::new(seed + 1);
        let grad_out = rng.vec(want.len(), 1.0);
        let want = signature_backward_reference(&path, &grad_out, &o).unwrap();
        let got = signature_backward_with(&path, &grad_out, &o, &t).unwrap();
        let e = rel_error(&got, &want);
        prop_assert!(e <= 1e-11, "backward error {:.3e}", e);
    }
}
