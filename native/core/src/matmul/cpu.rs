//! CPU kernel of the batched matrix product on the `gemm` crate, and its
//! plain reference (the specification the tests compare it with).
//!
//! Threads (measured on 2 cores, see bench/gemm.bench.ts and the training
//! profile): a product below [`INLINE_MACS`] multiply-adds in all runs on the
//! calling thread (waking the pool costs more than it saves); a batch of
//! small matrices runs one
//! matrix per task on the pool; a large matrix is split by `gemm` itself
//! over the pool (`Parallelism::Rayon`, inside `pool::install`, so
//! `SIGVWAP_THREADS` / `setThreads` size it).

use gemm::Parallelism;
use rayon::prelude::*;

use super::{Activation, MatmulShape};
use crate::pool;

/// Below this many multiply-adds (the whole call), stay on the calling thread: handing
/// work to the pool and back costs ~10-50 µs on a busy 2-core machine (the training
/// profile's small products, [1024, 16]·[16, 64] and their gradients, took 0.5 ms per call
/// with a 2^16 threshold), while 2^20 multiply-adds take ~10 µs on one core.
pub const INLINE_MACS: usize = 1 << 20;
/// Below this many multiply-adds per matrix, `gemm` itself would not split it
/// (its threading threshold is 48·48·256): parallelize over the batch instead.
pub const PER_MATRIX_SPLIT_MACS: usize = 48 * 48 * 256;

/// One product `out = op(A)·op(B)` of an m×k by k×n matrix (row-major).
fn gemm_one(a: &[f32], b: &[f32], s: &MatmulShape, out: &mut [f32], par: Parallelism) {
    let (m, k, n) = (s.m, s.k, s.n);
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        out.fill(0.0);
        return;
    }
    // strides of the logical matrices: (column stride, row stride)
    let (a_cs, a_rs) = if s.transpose_a { (m as isize, 1) } else { (1, k as isize) };
    let (b_cs, b_rs) = if s.transpose_b { (k as isize, 1) } else { (1, n as isize) };
    debug_assert!(a.len() == m * k && b.len() == k * n && out.len() == m * n);
    // SAFETY: the three slices hold m·k, k·n and m·n elements (checked by the
    // caller), every index the strides reach lies inside them, and `out` does
    // not alias the inputs (distinct Rust borrows).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            out.as_mut_ptr(),
            1,
            n as isize,
            false,
            a.as_ptr(),
            a_cs,
            a_rs,
            b.as_ptr(),
            b_cs,
            b_rs,
            0.0,
            1.0,
            false,
            false,
            false,
            par,
        );
    }
}

/// Bias and activation over one [m, n] result, in place.
fn epilogue(out: &mut [f32], n: usize, bias: Option<&[f32]>, act: Activation) {
    match (bias, act) {
        (None, Activation::Linear) => {}
        (Some(bias), act) => {
            for row in out.chunks_exact_mut(n) {
                for (x, &c) in row.iter_mut().zip(bias) {
                    *x = act.apply(*x + c);
                }
            }
        }
        (None, act) => {
            for x in out.iter_mut() {
                *x = act.apply(*x);
            }
        }
    }
}

/// The kernel; lengths were checked by `super::check` (`batch` from it).
pub fn matmul_into(a: &[f32], b: &[f32], bias: Option<&[f32]>, act: Activation, s: &MatmulShape, batch: usize, out: &mut [f32]) {
    let (mk, kn, mn) = (s.m * s.k, s.k * s.n, s.m * s.n);
    if mn == 0 {
        return;
    }
    let a_of = |i: usize| if s.batch_a == 1 { &a[..mk] } else { &a[i * mk..(i + 1) * mk] };
    let b_of = |i: usize| if s.batch_b == 1 { &b[..kn] } else { &b[i * kn..(i + 1) * kn] };
    let per_matrix = mn.saturating_mul(s.k.max(1));
    let total = per_matrix.saturating_mul(batch);
    if total < INLINE_MACS {
        for (i, o) in out.chunks_exact_mut(mn).enumerate() {
            gemm_one(a_of(i), b_of(i), s, o, Parallelism::None);
            epilogue(o, s.n, bias, act);
        }
    } else if batch > 1 && per_matrix < PER_MATRIX_SPLIT_MACS {
        pool::install(|| {
            out.par_chunks_exact_mut(mn).enumerate().for_each(|(i, o)| {
                gemm_one(a_of(i), b_of(i), s, o, Parallelism::None);
                epilogue(o, s.n, bias, act);
            })
        });
    } else {
        pool::install(|| {
            for (i, o) in out.chunks_exact_mut(mn).enumerate() {
                gemm_one(a_of(i), b_of(i), s, o, Parallelism::Rayon(0));
                // the epilogue is O(m·n) against O(m·n·k): split it by rows too
                if bias.is_some() || act != Activation::Linear {
                    let rows = (s.m / pool::threads().max(1)).max(1);
                    o.par_chunks_mut(rows * s.n).for_each(|c| epilogue(c, s.n, bias, act));
                }
            }
        });
    }
}

/// One product (`batch` 1) on the calling thread, whatever its size: for
/// kernels that already run one pool task per block of rows (the fused GRN),
/// where splitting a block's product over the pool again would only add
/// hand-offs. Lengths as in [`matmul_into`].
pub(crate) fn matmul_serial_into(a: &[f32], b: &[f32], bias: Option<&[f32]>, act: Activation, s: &MatmulShape, out: &mut [f32]) {
    if s.m * s.n == 0 {
        return;
    }
    gemm_one(a, b, s, out, Parallelism::None);
    epilogue(out, s.n, bias, act);
}

/// The specification: triple loop, f64 accumulation, then bias and activation.
pub fn reference(a: &[f32], b: &[f32], bias: Option<&[f32]>, act: Activation, s: &MatmulShape) -> Vec<f32> {
    let batch = s.batch_a.max(s.batch_b);
    let (m, k, n) = (s.m, s.k, s.n);
    let mut out = vec![0f32; batch * m * n];
    for bi in 0..batch {
        let ao = (bi % s.batch_a) * m * k;
        let bo = (bi % s.batch_b) * k * n;
        for i in 0..m {
            for j in 0..n {
                let mut acc = 0f64;
                for p in 0..k {
                    let x = if s.transpose_a { a[ao + p * m + i] } else { a[ao + i * k + p] };
                    let y = if s.transpose_b { b[bo + j * k + p] } else { b[bo + p * n + j] };
                    acc += x as f64 * y as f64;
                }
                let v = acc as f32 + bias.map_or(0.0, |c| c[j]);
                out[(bi * m + i) * n + j] = act.apply(v);
            }
        }
    }
    out
}
