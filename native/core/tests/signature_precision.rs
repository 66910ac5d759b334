//! The float32 arithmetic path and the instruction sets of the block kernels
//! against the reference (`signature::cpu`, float64), on named shapes
//! (`b{batch}-l{length}-c{channels}-m{depth}`: batch 1, length 1 and 2,
//! odd sizes, channels and depths, partial blocks of 16 lanes, a run-time
//! channel count, paths split along the length).
//!
//! Tolerances: float64 arithmetic 1e-12 per level (forward) / per array
//! (backward); float32 arithmetic 1e-4, the float32 tolerance of the test
//! vectors (measured there: ~4e-6 forward, ~2e-6 backward).

#[path = "signature_util.rs"]
mod util;

use sigvwap_core::signature::tensor::TensorShape;
use sigvwap_core::signature::{
    signature, signature_backward, signature_backward_reference, signature_backward_with, signature_reference,
    signature_with, Precision, SigOptions, Simd, Tuning,
};
use util::{random_walk, rel_error, to_f32, to_f64, worst_level_error_pooled, Rng};

const TOL_F64: f64 = 1e-12;
const TOL_F32: f64 = 1e-4;

const SHAPES: &[(&str, usize, usize, usize, usize)] = &[
    ("b1-l1-c3-m3", 1, 1, 3, 3),
    ("b1-l2-c3-m1", 1, 2, 3, 1),
    ("b1-l2-c2-m4", 1, 2, 2, 4),
    ("b3-l7-c5-m3", 3, 7, 5, 3),
    ("b2-l10-c1-m5", 2, 10, 1, 5),
    ("b17-l33-c3-m3", 17, 33, 3, 3),
    ("b4-l20-c9-m2", 4, 20, 9, 2),
    ("b19-l12-c4-m4", 19, 12, 4, 4),
    ("b1-l700-c3-m3", 1, 700, 3, 3),
    ("b3-l9-c10-m3", 3, 9, 10, 3),
    ("b2-l6-c8-m4", 2, 6, 8, 4),
    ("b5-l41-c7-m5", 5, 41, 7, 5),
];

fn opts(shape: &(&str, usize, usize, usize, usize)) -> SigOptions {
    SigOptions::new(shape.1, shape.2, shape.3, shape.4)
}

fn path_for(o: &SigOptions, seed: u64) -> Vec<f64> {
    random_walk(&mut Rng::new(seed), o.batch, o.length, o.channels, 1.0 / (o.length as f64).sqrt())
}

/// Instruction sets this machine runs (the portable code always).
fn simds() -> Vec<Simd> {
    [Simd::Portable, Simd::Fma, Simd::Avx2Fma, Simd::Avx512].into_iter().filter(|s| s.available()).collect()
}

struct Failures(Vec<String>);

impl Failures {
    fn level(&mut self, what: String, shape: &TensorShape, got: &[f64], want: &[f64], tol: f64) {
        let (e, level) = worst_level_error_pooled(shape, got, want);
        // `!(e <= tol)`: a NaN error fails.
        if !(e <= tol) {
            self.0.push(format!("{what}: level {level} rel error {e:.3e} > {tol:.0e}"));
        }
    }
    fn array(&mut self, what: String, got: &[f64], want: &[f64], tol: f64) {
        let e = rel_error(got, want);
        if !(e <= tol) {
            self.0.push(format!("{what}: rel error {e:.3e} > {tol:.0e}"));
        }
    }
    fn finish(self, checks: usize) {
        println!("{checks} checks");
        assert!(self.0.is_empty(), "{} failure(s):\n{}", self.0.len(), self.0.join("\n"));
    }
}

/// Every instruction set x arithmetic x lanes per block (16 included: one
/// 512-bit register of float32) x stream / basepoint meets its tolerance
/// against the reference, forward and backward, float64 input.
#[test]
fn every_instruction_set_and_precision_matches_reference() {
    let mut f = Failures(Vec::new());
    let mut checks = 0;
    for (i, sh) in SHAPES.iter().enumerate() {
        for (stream, basepoint) in [(false, false), (true, false), (false, true)] {
            let o = opts(sh).with_stream(stream).with_basepoint(basepoint);
            let ts = TensorShape::new(o.channels, o.depth).unwrap();
            let path = path_for(&o, 300 + i as u64);
            let want = signature_reference(&path, &o).unwrap();
            let grad_out = Rng::new(40 + i as u64).vec(want.len(), 1.0);
            let want_grad = signature_backward_reference(&path, &grad_out, &o).unwrap();
            for simd in simds() {
                for (precision, tol) in [(Precision::F64, TOL_F64), (Precision::F32, TOL_F32)] {
                    for lanes in [None, Some(16), Some(2)] {
                        let o = o.with_precision(precision);
                        let t = Tuning { simd: Some(simd), lanes, ..Tuning::default() };
                        let name = format!("{} stream={stream} basepoint={basepoint} {simd:?} {precision:?} lanes={lanes:?}", sh.0);
                        let got = signature_with(&path, &o, &t).unwrap();
                        f.level(format!("{name} forward"), &ts, &got, &want, tol);
                        let got = signature_backward_with(&path, &grad_out, &o, &t).unwrap();
                        f.array(format!("{name} backward"), &got, &want_grad, tol);
                        checks += 2;
                    }
                }
            }
        }
    }
    f.finish(checks);
}

/// Float32 input: the default (`Auto`) is float32 arithmetic, bit for bit
/// the `F32` result; `F64` is the float64-internal path, within one float32
/// rounding of the reference; both meet their tolerance.
#[test]
fn float32_input_precisions() {
    let mut f = Failures(Vec::new());
    let mut differs = 0;
    for (i, sh) in SHAPES.iter().enumerate() {
        let o = opts(sh);
        let ts = TensorShape::new(o.channels, o.depth).unwrap();
        let p32 = to_f32(&path_for(&o, 500 + i as u64));
        let want = signature_reference(&to_f64(&p32), &o).unwrap();
        let g32 = to_f32(&Rng::new(60 + i as u64).vec(want.len(), 1.0));
        let want_grad = signature_backward_reference(&to_f64(&p32), &to_f64(&g32), &o).unwrap();

        let auto = signature(&p32, &o).unwrap();
        let as_f32 = signature(&p32, &o.with_precision(Precision::F32)).unwrap();
        let as_f64 = signature(&p32, &o.with_precision(Precision::F64)).unwrap();
        if auto.iter().zip(&as_f32).any(|(a, b)| a.to_bits() != b.to_bits()) {
            f.0.push(format!("{}: Auto differs from F32 on float32 input", sh.0));
        }
        differs += usize::from(as_f32.iter().zip(&as_f64).any(|(a, b)| a.to_bits() != b.to_bits()));
        f.level(format!("{} forward F32", sh.0), &ts, &to_f64(&as_f32), &want, TOL_F32);
        f.level(format!("{} forward F64", sh.0), &ts, &to_f64(&as_f64), &want, 1e-6);

        let auto = signature_backward(&p32, &g32, &o).unwrap();
        let as_f64 = signature_backward(&p32, &g32, &o.with_precision(Precision::F64)).unwrap();
        f.array(format!("{} backward Auto", sh.0), &to_f64(&auto), &want_grad, TOL_F32);
        f.array(format!("{} backward F64", sh.0), &to_f64(&as_f64), &want_grad, 1e-6);
    }
    // The option reaches the kernels: float32 and float64 arithmetic round
    // differently on most shapes (not on those with exact zeros or one level).
    assert!(differs >= SHAPES.len() / 2, "F32 and F64 gave identical results on {} of {} shapes", SHAPES.len() - differs, SHAPES.len());
    f.finish(4 * SHAPES.len());
}

/// Paths with a large offset and small moves keep their accuracy in float32
/// arithmetic: the increments are formed in float64 from the points before
/// the cast (a float64 path with prices ~1e3 moving by ~1e-3).
#[test]
fn float32_arithmetic_forms_increments_in_float64() {
    let o = SigOptions::new(4, 200, 3, 4).with_precision(Precision::F32);
    let ts = TensorShape::new(3, 4).unwrap();
    let moves = path_for(&o, 9);
    let path: Vec<f64> = moves.iter().map(|v| 1000.0 + 1e-3 * v).collect();
    let want = signature_reference(&path, &o).unwrap();
    let got = signature(&path, &o).unwrap();
    let (e, level) = worst_level_error_pooled(&ts, &got, &want);
    assert!(e <= TOL_F32, "offset 1e3, moves 1e-3: level {level} rel error {e:.3e}");
}

/// A long path through the float32 backward, which undoes one segment at a
/// time from the final state (the undo's rounding accumulates along the
/// path): still inside the float32 tolerance at 20,000 points.
#[test]
fn float32_backward_on_a_long_path() {
    let o = SigOptions::new(2, 20_000, 4, 3).with_precision(Precision::F32);
    let path = path_for(&o, 77);
    let want_sig = signature_reference(&path, &o).unwrap();
    let grad_out = Rng::new(78).vec(want_sig.len(), 1.0);
    let want = signature_backward_reference(&path, &grad_out, &o).unwrap();
    for t in [Tuning { chunks: Some(1), ..Tuning::default() }, Tuning::default()] {
        let got = signature_backward_with(&path, &grad_out, &o, &t).unwrap();
        let e = rel_error(&got, &want);
        println!("length 20000, float32, {t:?}: backward rel error {e:.3e}");
        assert!(e <= TOL_F32, "{t:?}: rel error {e:.3e}");
    }
}

/// Several segments per pass of the forward sweep (`segments_per_pass` 2, 4
/// and 8) against one per pass, every instruction set and both arithmetics:
/// segment counts not divisible by the pass (length 1, 2, 4, 6, 8, 70: a tile
/// of 64 plus a tail of 5; 16: a pass of 8, 4, 2 and 1), batch 1 and partial
/// blocks, depths 1 to 5 (top level 1 and 2 take the special cases), a
/// run-time channel count (10, whose scaled increments are heap rows),
/// chunked paths, and the backward, whose recompute sweep uses the same pass.
/// The multi-segment pass does the operations of single steps in the same
/// order, so the results agree to the last bit; the check allows 1e-14
/// (float64) / 1e-6 (float32) relative per level and prints how many calls
/// differed at all.
#[test]
fn segments_per_pass_match_one_segment() {
    const CASES: &[(&str, usize, usize, usize, usize)] = &[
        ("b1-l1-c3-m3", 1, 1, 3, 3),
        ("b1-l2-c3-m3", 1, 2, 3, 3),
        ("b1-l4-c3-m1", 1, 4, 3, 1),
        ("b1-l6-c2-m2", 1, 6, 2, 2),
        ("b3-l8-c3-m4", 3, 8, 3, 4),
        ("b9-l70-c3-m3", 9, 70, 3, 3),
        ("b5-l70-c8-m4", 5, 70, 8, 4),
        ("b2-l23-c4-m5", 2, 23, 4, 5),
        ("b3-l13-c10-m3", 3, 13, 10, 3),
        ("b2-l16-c3-m4", 2, 16, 3, 4),
        ("b2-l11-c10-m4", 2, 11, 10, 4),
    ];
    let mut f = Failures(Vec::new());
    let (mut checks, mut inexact) = (0, 0);
    for (i, sh) in CASES.iter().enumerate() {
        let o = opts(sh);
        let ts = TensorShape::new(o.channels, o.depth).unwrap();
        let path = path_for(&o, 500 + i as u64);
        let grad_out = Rng::new(60 + i as u64).vec(signature_reference(&path, &o).unwrap().len(), 1.0);
        for simd in simds() {
            for (precision, tol) in [(Precision::F64, 1e-14), (Precision::F32, 1e-6)] {
                for (lanes, chunks) in [(None, Some(1)), (Some(1), Some(1)), (Some(4), Some(3))] {
                    let o = o.with_precision(precision);
                    let plan = |p: usize| Tuning { simd: Some(simd), lanes, chunks, segments_per_pass: Some(p), ..Tuning::default() };
                    let one = signature_with(&path, &o, &plan(1)).unwrap();
                    let one_grad = signature_backward_with(&path, &grad_out, &o, &plan(1)).unwrap();
                    for p in [2, 4, 8] {
                        let name = format!("{} {simd:?} {precision:?} lanes={lanes:?} chunks={chunks:?} per_pass={p}", sh.0);
                        let got = signature_with(&path, &o, &plan(p)).unwrap();
                        let got_grad = signature_backward_with(&path, &grad_out, &o, &plan(p)).unwrap();
                        inexact += usize::from(got != one) + usize::from(got_grad != one_grad);
                        f.level(format!("{name} forward"), &ts, &got, &one, tol);
                        f.array(format!("{name} backward"), &got_grad, &one_grad, tol);
                        checks += 2;
                    }
                }
            }
        }
    }
    println!("{inexact} of {checks} results not bit for bit equal to one segment per pass");
    f.finish(checks);
}
