//! Batched matrix product: the `gemm` kernel vs the plain reference on named
//! shapes (batch 1, odd sizes, transposes, broadcast batches, every
//! activation, the threading paths), thread invariance, and the typed errors.

mod common;
use common::matmul_shape as shape;
use sigvwap_core::matmul::{check, matmul, reference, Activation, MatmulShape};
use sigvwap_core::{pool, ErrorCode};

fn rnd(len: usize, seed: u64) -> Vec<f32> {
    common::uniform_f32(len, 1.0, seed)
}

/// Named cases: (name, shape). Sizes cross every threading path of cpu.rs.
fn cases() -> Vec<(&'static str, MatmulShape)> {
    vec![
        ("1x1x1", shape(1, 1, 1, 1, 1, false, false)),
        ("batch1-row", shape(1, 1, 1, 7, 5, false, false)),
        ("odd-3x5x7", shape(1, 1, 3, 5, 7, false, false)),
        ("odd-tA", shape(1, 1, 3, 5, 7, true, false)),
        ("odd-tB", shape(1, 1, 3, 5, 7, false, true)),
        ("odd-tAtB", shape(1, 1, 3, 5, 7, true, true)),
        ("k0", shape(1, 1, 4, 0, 3, false, false)),
        ("dense-1024x77x12", shape(1, 1, 1024, 77, 12, false, false)),
        ("grad-dW-77x1024x12", shape(1, 1, 77, 1024, 12, true, false)),
        ("batched-11x1024x16x16", shape(11, 11, 1024, 16, 16, false, false)),
        ("bcast-a1", shape(1, 5, 33, 17, 9, false, false)),
        ("bcast-b1-tB", shape(6, 1, 31, 19, 13, false, true)),
        ("narrow-n64-tA", shape(1, 1, 129, 33, 64, true, false)),
        ("just-too-wide-n65", shape(1, 1, 129, 33, 65, false, false)),
        ("large-257x129x263", shape(1, 1, 257, 129, 263, false, false)),
        ("large-batch2-tAtB", shape(2, 2, 200, 300, 170, true, true)),
    ]
}

fn check_case(name: &str, s: &MatmulShape, bias: bool, act: Activation) {
    let sizes = s.sizes().unwrap();
    let a = rnd(sizes.a, 1 + s.m as u64);
    let b = rnd(sizes.b, 2 + s.n as u64);
    let c = bias.then(|| rnd(s.n, 3));
    let want = reference(&a, &b, c.as_deref(), act, s);
    let mut out = vec![f32::NAN; sizes.out];
    matmul(&a, &b, c.as_deref(), act, s, &mut out).unwrap();
    // f32 accumulation in gemm vs f64 in the reference: |error| <= k·eps·Σ|a||b| <= k·2^-23·k
    let tol = 1e-6 * (s.k as f32 + 1.0) * 4.0;
    for (i, (x, y)) in out.iter().zip(&want).enumerate() {
        assert!((x - y).abs() <= tol, "{name} bias={bias} {act:?}: out[{i}] = {x}, reference {y}");
    }
}

#[test]
fn gemm_matches_reference_on_named_shapes() {
    for (name, s) in cases() {
        check_case(name, &s, false, Activation::Linear);
    }
}

#[test]
fn epilogue_matches_reference_for_every_activation() {
    let acts = [Activation::Linear, Activation::Relu, Activation::Relu6, Activation::Sigmoid, Activation::Elu, Activation::LeakyRelu(0.3)];
    for (name, s) in [("odd-tB", shape(1, 1, 3, 5, 7, false, true)), ("bcast-a1", shape(1, 5, 33, 17, 9, false, false)), ("large", shape(1, 1, 257, 129, 263, false, false))] {
        for act in acts {
            check_case(name, &s, true, act);
            check_case(name, &s, false, act);
        }
    }
}

#[test]
fn activation_values_follow_tfjs() {
    let cases: &[(Activation, f32, f32)] = &[
        (Activation::Relu, -2.0, 0.0),
        (Activation::Relu, 3.0, 3.0),
        (Activation::Relu6, 7.5, 6.0),
        (Activation::Relu6, -1.0, 0.0),
        (Activation::Sigmoid, 0.0, 0.5),
        (Activation::Elu, -1.0, (-1f64).exp() as f32 - 1.0),
        (Activation::Elu, 2.0, 2.0),
        (Activation::LeakyRelu(0.2), -5.0, -1.0),
        (Activation::LeakyRelu(0.2), 5.0, 5.0),
    ];
    for &(act, x, want) in cases {
        assert_eq!(act.apply(x), want, "{act:?}({x})");
    }
    assert!(Activation::Relu.apply(f32::NAN).is_nan(), "relu propagates NaN like tfjs");
}

#[test]
fn result_does_not_depend_on_thread_count() {
    let s = shape(1, 1, 300, 200, 250, false, false);
    let sizes = s.sizes().unwrap();
    let (a, b) = (rnd(sizes.a, 5), rnd(sizes.b, 6));
    let mut one = vec![0f32; sizes.out];
    let mut two = vec![0f32; sizes.out];
    pool::set_threads(1).unwrap();
    matmul(&a, &b, None, Activation::Linear, &s, &mut one).unwrap();
    pool::set_threads(2).unwrap();
    matmul(&a, &b, None, Activation::Linear, &s, &mut two).unwrap();
    let want = reference(&a, &b, None, Activation::Linear, &s);
    for i in 0..sizes.out {
        assert!((one[i] - want[i]).abs() <= 1e-3 && (two[i] - want[i]).abs() <= 1e-3, "out[{i}]");
    }
}

#[test]
fn bad_shapes_are_typed_errors_naming_the_argument() {
    let s = shape(2, 3, 2, 2, 2, false, false);
    let e = s.sizes().unwrap_err();
    assert_eq!((e.code, e.message.starts_with("batchB:")), (ErrorCode::Arg, true), "{}", e.message);
    let s = shape(1, 1, 2, 3, 4, false, false);
    let cases: &[(&str, usize, usize, Option<usize>, usize)] =
        &[("a", 5, 12, None, 8), ("b", 6, 11, None, 8), ("bias", 6, 12, Some(3), 8), ("out", 6, 12, Some(4), 9)];
    for &(name, a, b, bias, out) in cases {
        let e = check(&s, a, b, bias, out).unwrap_err();
        assert_eq!(e.code, ErrorCode::Shape, "{name}");
        assert!(e.message.starts_with(&format!("{name}:")), "{name}: {}", e.message);
    }
    let e = shape(1, 1, usize::MAX / 2, 3, 1, false, false).sizes().unwrap_err();
    assert_eq!(e.code, ErrorCode::Arg, "overflow: {}", e.message);
    let e = Activation::parse("gelu", None).unwrap_err();
    assert!(e.message.starts_with("activation:"), "{}", e.message);
}
