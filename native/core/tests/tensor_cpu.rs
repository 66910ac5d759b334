//! Element-wise, strided-copy and reduction kernels vs their plain references
//! on named shapes (scalars, batch 1, odd sizes, every broadcasting pattern,
//! transposes and slices), and the typed errors naming the argument.

mod common;
use common::Rng;
use sigvwap_core::tensor::binary::{self, BinaryOp};
use sigvwap_core::tensor::reduce::{self, ReduceOp};
use sigvwap_core::tensor::strided::{self, View};
use sigvwap_core::tensor::unary::{self, UnaryOp};
use sigvwap_core::ErrorCode;

fn rnd(len: usize, seed: u64) -> Vec<f32> {
    let mut r = Rng::new(seed);
    (0..len).map(|_| (r.next() * 4.0 - 2.0) as f32).collect()
}

const BINARY_SHAPES: &[(&str, &[usize], &[usize])] = &[
    ("scalar-scalar", &[], &[]),
    ("vector-scalar", &[7], &[]),
    ("scalar-vector", &[], &[7]),
    ("same-odd", &[3, 5], &[3, 5]),
    ("row-bcast", &[1024, 13], &[13]),
    ("column-bcast", &[33, 5], &[33, 1]),
    ("both-bcast", &[4, 1, 3], &[1, 5, 1]),
    ("batch1", &[1, 16], &[1, 16]),
    ("rank4-middle", &[2, 3, 4, 5], &[3, 1, 5]),
    ("empty", &[0, 3], &[3]),
];

#[test]
fn binary_matches_reference_for_every_op_and_broadcast() {
    for &(name, sa, sb) in BINARY_SHAPES {
        for op in [BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul, BinaryOp::Div, BinaryOp::Max, BinaryOp::Min] {
            let a = rnd(sa.iter().product(), 1);
            let b = rnd(sb.iter().product(), 2);
            let shape = binary::broadcast_shape(sa, sb).unwrap();
            let mut out = vec![f32::NAN; shape.iter().product()];
            binary::binary(op, &a, sa, &b, sb, &mut out).unwrap();
            let want = binary::reference(op, &a, sa, &b, sb);
            assert_eq!(out, want, "{name} {op:?}");
        }
    }
}

#[test]
fn binary_errors_name_the_argument() {
    let e = binary::binary(BinaryOp::Add, &[0.0; 6], &[2, 3], &[0.0; 4], &[4], &mut [0.0; 6]).unwrap_err();
    assert_eq!((e.code, e.message.starts_with("b:")), (ErrorCode::Shape, true), "{}", e.message);
    let e = binary::binary(BinaryOp::Add, &[0.0; 5], &[2, 3], &[0.0; 3], &[3], &mut [0.0; 6]).unwrap_err();
    assert!(e.message.starts_with("a:"), "{}", e.message);
    let e = binary::binary(BinaryOp::Add, &[0.0; 6], &[2, 3], &[0.0; 3], &[3], &mut [0.0; 5]).unwrap_err();
    assert!(e.message.starts_with("out:"), "{}", e.message);
    assert!(BinaryOp::parse("pow").unwrap_err().message.starts_with("op:"));
}

#[test]
fn unary_matches_its_definition() {
    let x = [-3.0f32, -0.5, 0.0, 0.25, 2.0, 40.0, -40.0];
    for op in [UnaryOp::Sigmoid, UnaryOp::Tanh, UnaryOp::Relu, UnaryOp::Exp, UnaryOp::Neg, UnaryOp::Abs, UnaryOp::Square] {
        let mut out = [0f32; 7];
        unary::unary(op, &x, &mut out).unwrap();
        for (i, &v) in x.iter().enumerate() {
            let want = match op {
                UnaryOp::Sigmoid => (1.0 / (1.0 + (-(v as f64)).exp())) as f32,
                UnaryOp::Tanh => (v as f64).tanh() as f32,
                UnaryOp::Relu => v.max(0.0),
                UnaryOp::Exp => (v as f64).exp() as f32,
                UnaryOp::Neg => -v,
                UnaryOp::Abs => v.abs(),
                UnaryOp::Square => v * v,
            };
            assert_eq!(out[i], want, "{op:?}({v})");
        }
    }
    assert!(UnaryOp::Relu.apply(f32::NAN).is_nan(), "relu keeps NaN like tfjs");
}

/// Named views: (name, shape, src len, src view, dst len, dst view).
fn views() -> Vec<(&'static str, Vec<usize>, usize, View, usize, View)> {
    let v = |offset: usize, strides: &[usize]| View { offset, strides: strides.to_vec() };
    vec![
        ("contiguous", vec![3, 5], 15, v(0, &[5, 1]), 15, v(0, &[5, 1])),
        ("transpose-2d", vec![5, 3], 15, v(0, &[1, 5]), 15, v(0, &[3, 1])),
        ("transpose-3d-021", vec![2, 4, 3], 24, v(0, &[12, 1, 4]), 24, v(0, &[12, 3, 1])),
        ("slice-columns", vec![7, 2], 7 * 5, v(3, &[5, 1]), 14, v(0, &[2, 1])),
        ("concat-into-offset", vec![4, 3], 12, v(0, &[3, 1]), 4 * 8, v(5, &[8, 1])),
        ("scalar", vec![], 4, v(2, &[]), 3, v(1, &[])),
        ("empty", vec![0, 3], 0, v(0, &[3, 1]), 0, v(0, &[3, 1])),
        ("batch1", vec![1, 1, 9], 9, v(0, &[9, 9, 1]), 9, v(0, &[9, 9, 1])),
    ]
}

#[test]
fn strided_copy_matches_reference() {
    for (name, shape, sl, sv, dl, dv) in views() {
        let src = rnd(sl, 3);
        let mut got = vec![-9f32; dl];
        let mut want = vec![-9f32; dl];
        strided::copy(&shape, &src, &sv, &mut got, &dv).unwrap();
        strided::reference(&shape, &src, &sv, &mut want, &dv);
        assert_eq!(got, want, "{name}");
    }
}

#[test]
fn strided_views_out_of_bounds_are_errors() {
    let v = |offset: usize, strides: &[usize]| View { offset, strides: strides.to_vec() };
    let e = strided::copy(&[3, 5], &[0.0; 14], &v(0, &[5, 1]), &mut [0.0; 15], &v(0, &[5, 1])).unwrap_err();
    assert_eq!((e.code, e.message.starts_with("src:")), (ErrorCode::Shape, true), "{}", e.message);
    let e = strided::copy(&[3, 5], &[0.0; 15], &v(0, &[5, 1]), &mut [0.0; 15], &v(1, &[5, 1])).unwrap_err();
    assert!(e.message.starts_with("dst:"), "{}", e.message);
    let e = strided::copy(&[3, 5], &[0.0; 15], &v(0, &[5]), &mut [0.0; 15], &v(0, &[5, 1])).unwrap_err();
    assert!(e.message.starts_with("srcStrides:"), "{}", e.message);
}

#[test]
fn reductions_match_reference() {
    let cases: &[(&str, usize, usize, usize)] =
        &[("all", 1, 17, 1), ("rows", 1024, 12, 1), ("columns", 1, 1024, 13), ("middle", 3, 5, 7), ("batch1", 1, 1, 16), ("n0", 2, 0, 3)];
    for &(name, outer, n, inner) in cases {
        let x = rnd(outer * n * inner, 4);
        for op in [ReduceOp::Sum, ReduceOp::Mean, ReduceOp::Max] {
            if op == ReduceOp::Max && n == 0 {
                continue;
            }
            let mut out = vec![0f32; outer * inner];
            reduce::reduce(op, &x, &mut out, outer, n, inner).unwrap();
            let want = reduce::reference(op, &x, outer, n, inner);
            for i in 0..out.len() {
                assert!((out[i] - want[i]).abs() <= 1e-6 * want[i].abs().max(1.0) || (out[i].is_nan() && want[i].is_nan()), "{name} {op:?}[{i}]: {} vs {}", out[i], want[i]);
            }
        }
    }
    let e = reduce::reduce(ReduceOp::Sum, &[0.0; 5], &mut [0.0; 2], 2, 3, 1).unwrap_err();
    assert!(e.message.starts_with("x:"), "{}", e.message);
}

#[test]
fn softmax_matches_reference() {
    for &(name, rows, n) in &[("1x1", 1, 1), ("batch1-h12", 1, 12), ("1024x12", 1024, 12), ("odd-7x5", 7, 5)] {
        let mut x = rnd(rows * n, 5);
        x[0] = 80.0; // large logits: the max shift keeps e^x finite
        let mut out = vec![0f32; rows * n];
        reduce::softmax(&x, &mut out, rows, n).unwrap();
        let want = reduce::softmax_reference(&x, rows, n);
        for i in 0..out.len() {
            assert!((out[i] - want[i]).abs() <= 1e-7, "{name}[{i}]: {} vs {}", out[i], want[i]);
        }
    }
}
