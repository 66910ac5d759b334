//! Reductions over the middle axis of a row-major [outer, n, inner] view
//! (tfjs' Sum, Mean and Max over a contiguous run of axes map onto it:
//! leading axes give outer = 1, trailing axes inner = 1):
//!   out[o, i] = Σ_j x[o, j, i]   (sum; mean divides by n; max keeps NaN)
//! and the row softmax over the last axis of [rows, n]:
//!   out[r, j] = e^(x[r,j] - m_r) / Σ_j' e^(x[r,j'] - m_r),  m_r = max_j x[r, j].
//! Sums accumulate in f64 (tfjs' CPU backend accumulates in doubles too),
//! rounded once to f32. Cost: one pass over x (softmax: two, plus n exps per
//! row in f64).

use super::size_of;
use crate::error::{CoreError, CoreResult};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReduceOp {
    Sum,
    Mean,
    Max,
}

impl ReduceOp {
    pub fn parse(name: &str) -> CoreResult<Self> {
        Ok(match name {
            "sum" => ReduceOp::Sum,
            "mean" => ReduceOp::Mean,
            "max" => ReduceOp::Max,
            o => return Err(CoreError::arg("op", format!("must be one of 'sum', 'mean', 'max', got '{o}'"))),
        })
    }
}

pub fn check(x: usize, out: usize, outer: usize, n: usize, inner: usize) -> CoreResult<()> {
    let want = size_of("x", &[outer, n, inner])?;
    if x != want {
        return Err(CoreError::shape("x", want, x, &format!("[outer={outer}, n={n}, inner={inner}]")));
    }
    if out != outer * inner {
        return Err(CoreError::shape("out", outer * inner, out, &format!("[outer={outer}, inner={inner}]")));
    }
    Ok(())
}

pub fn reduce(op: ReduceOp, x: &[f32], out: &mut [f32], outer: usize, n: usize, inner: usize) -> CoreResult<()> {
    check(x.len(), out.len(), outer, n, inner)?;
    if op == ReduceOp::Max && n == 0 {
        return Err(CoreError::arg("n", "max over an empty axis"));
    }
    if inner == 1 {
        // reducing the last axis: one contiguous row per output (the per-row loop
        // below would handle 1-element rows one at a time, slower than tfjs)
        for (o, dst) in out.iter_mut().enumerate() {
            let row = &x[o * n..(o + 1) * n];
            *dst = match op {
                ReduceOp::Sum => row.iter().fold(0f64, |a, &v| a + v as f64) as f32,
                ReduceOp::Mean => (row.iter().fold(0f64, |a, &v| a + v as f64) / n as f64) as f32,
                ReduceOp::Max => row[1..].iter().fold(row[0], |m, &v| if v > m || v.is_nan() { v } else { m }),
            };
        }
        return Ok(());
    }
    let mut acc = vec![0f64; inner];
    for o in 0..outer {
        let block = &x[o * n * inner..(o + 1) * n * inner];
        match op {
            ReduceOp::Sum | ReduceOp::Mean => {
                acc.fill(0.0);
                for row in block.chunks_exact(inner.max(1)).take(n) {
                    for (a, &v) in acc.iter_mut().zip(row) {
                        *a += v as f64;
                    }
                }
                let scale = if op == ReduceOp::Mean { 1.0 / n as f64 } else { 1.0 };
                for (dst, &a) in out[o * inner..(o + 1) * inner].iter_mut().zip(&acc) {
                    *dst = (a * scale) as f32;
                }
            }
            ReduceOp::Max => {
                let dst = &mut out[o * inner..(o + 1) * inner];
                dst.copy_from_slice(&block[..inner]);
                for row in block.chunks_exact(inner.max(1)).skip(1).take(n - 1) {
                    for (d, &v) in dst.iter_mut().zip(row) {
                        if v > *d || v.is_nan() {
                            *d = v;
                        }
                    }
                }
            }
        }
    }
    Ok(())
}

/// The specification of `reduce`: one output element at a time.
pub fn reference(op: ReduceOp, x: &[f32], outer: usize, n: usize, inner: usize) -> Vec<f32> {
    let mut out = vec![0f32; outer * inner];
    for o in 0..outer {
        for i in 0..inner {
            let vals = (0..n).map(|j| x[(o * n + j) * inner + i]);
            out[o * inner + i] = match op {
                ReduceOp::Sum => vals.map(|v| v as f64).sum::<f64>() as f32,
                ReduceOp::Mean => (vals.map(|v| v as f64).sum::<f64>() / n as f64) as f32,
                ReduceOp::Max => {
                    let v: Vec<f32> = vals.collect();
                    if v.iter().any(|x| x.is_nan()) {
                        f32::NAN
                    } else {
                        v.into_iter().fold(f32::NEG_INFINITY, f32::max)
                    }
                }
            };
        }
    }
    out
}

/// Row softmax of x [rows, n] into out.
pub fn softmax(x: &[f32], out: &mut [f32], rows: usize, n: usize) -> CoreResult<()> {
    check(x.len(), out.len() / n.max(1), rows, n, 1)?;
    if out.len() != x.len() {
        return Err(CoreError::shape("out", x.len(), out.len(), &format!("[rows={rows}, n={n}]")));
    }
    if n == 0 {
        return Ok(());
    }
    for (xr, or) in x.chunks_exact(n).zip(out.chunks_exact_mut(n)) {
        let m = xr.iter().fold(f32::NEG_INFINITY, |m, &v| if v > m || v.is_nan() { v } else { m }) as f64;
        let mut sum = 0f64;
        for (o, &v) in or.iter_mut().zip(xr) {
            let e = (v as f64 - m).exp();
            *o = e as f32;
            sum += e;
        }
        let inv = 1.0 / sum;
        for o in or.iter_mut() {
            *o = (*o as f64 * inv) as f32;
        }
    }
    Ok(())
}

/// The specification of `softmax`, one row at a time in f64.
pub fn softmax_reference(x: &[f32], rows: usize, n: usize) -> Vec<f32> {
    let mut out = vec![0f32; rows * n];
    for r in 0..rows {
        let row = &x[r * n..(r + 1) * n];
        let m = row.iter().map(|&v| v as f64).fold(f64::NEG_INFINITY, f64::max);
        let s: f64 = row.iter().map(|&v| (v as f64 - m).exp()).sum();
        for j in 0..n {
            out[r * n + j] = ((row[j] as f64 - m).exp() / s) as f32;
        }
    }
    out
}
