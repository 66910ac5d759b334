//! Row-major helpers shared by the fused layer kernels (`attention`, `grn`):
//! a dense product on the crate's [`matmul`](crate::matmul) (packed `gemm`
//! micro-kernels, threaded by matmul's own rules, or on the calling thread for
//! kernels whose pool tasks are row blocks), and column sums in f64 (the
//! bias gradients).
//!
//! Lengths are the callers' responsibility (their `mod.rs` checks every array
//! before the kernel runs); the debug assertions restate them.

use crate::matmul::{self, Activation, MatmulShape};

/// `out[m×n] = act(op(a)·op(b) + bias)`; a is [m, k] ([k, m] when `ta`), b is
/// [k, n] ([n, k] when `tb`), row-major. `out` is overwritten.
#[allow(clippy::too_many_arguments)]
pub(crate) fn product(a: &[f32], b: &[f32], bias: Option<&[f32]>, act: Activation, m: usize, k: usize, n: usize, ta: bool, tb: bool, out: &mut [f32]) {
    debug_assert!(a.len() == m * k && b.len() == k * n && out.len() == m * n);
    if m == 0 || n == 0 {
        return;
    }
    let shape = MatmulShape { batch_a: 1, batch_b: 1, m, k, n, transpose_a: ta, transpose_b: tb };
    matmul::matmul_into(a, b, bias, act, &shape, 1, out);
}

/// [`product`] on the calling thread, whatever its size (for kernels whose
/// pool tasks are blocks of rows, each running its own products).
#[allow(clippy::too_many_arguments)]
pub(crate) fn product_serial(a: &[f32], b: &[f32], bias: Option<&[f32]>, act: Activation, m: usize, k: usize, n: usize, ta: bool, tb: bool, out: &mut [f32]) {
    debug_assert!(a.len() == m * k && b.len() == k * n && out.len() == m * n);
    if m == 0 || n == 0 {
        return;
    }
    let shape = MatmulShape { batch_a: 1, batch_b: 1, m, k, n, transpose_a: ta, transpose_b: tb };
    matmul::matmul_serial_into(a, b, bias, act, &shape, out);
}

/// `out[j] = Σ_rows a[r, j]` for a [rows, n], summed in f64, rounded once.
pub(crate) fn column_sums(a: &[f32], n: usize, out: &mut [f32]) {
    debug_assert!(out.len() == n && (n == 0 || a.len() % n == 0));
    let mut acc = vec![0f64; n];
    if n > 0 {
        for row in a.chunks_exact(n) {
            for (s, &v) in acc.iter_mut().zip(row) {
                *s += v as f64;
            }
        }
    }
    for (o, s) in out.iter_mut().zip(acc) {
        *o = s as f32;
    }
}
