//! Scalar operations of the truncated tensor algebra T^(m)(R^d), one element
//! at a time, in float64.
//!
//! An element `a = (1, a_1, ..., a_m)` is stored without its level 0 (always 1
//! for the group-like elements used here): levels 1..m concatenated, level k
//! holding `d^k` entries indexed by words `(i_1..i_k)` at
//! `i_1 d^(k-1) + ... + i_k` (first letter most significant; iisignature's
//! order). So `(a ⊗ b)_k[u v] = a_j[u] b_{k-j}[v]` with `u v` at `u d^(k-j) + v`.
//!
//! Used by the reference implementation (`cpu.rs`) and to glue the pieces of a
//! path split along its length (Chen's identity). Costs, per element:
//! `exp` ~ siglen, `mul` and the two contractions ~ (m - 1) d^m multiply-adds.

use std::ops::Range;

use crate::error::CoreResult;

use super::options::sig_length;

/// Sizes and offsets of the levels of T^(m)(R^d).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TensorShape {
    channels: usize,
    depth: usize,
    /// `pow[k] = d^k`, k = 0..=m.
    pow: Vec<usize>,
    /// `start[k]` = offset of level k (k = 1..=m+1; `start[m+1] = siglen`).
    start: Vec<usize>,
}

impl TensorShape {
    /// `ERR_ARG` when channels or depth is 0 or the size overflows.
    pub fn new(channels: usize, depth: usize) -> CoreResult<Self> {
        let siglen = sig_length(channels, depth)?;
        let mut pow = Vec::with_capacity(depth + 1);
        let mut start = vec![0usize; depth + 2];
        pow.push(1usize);
        for k in 1..=depth {
            pow.push(pow[k - 1] * channels);
            start[k + 1] = start[k] + pow[k];
        }
        debug_assert_eq!(start[depth + 1], siglen);
        Ok(TensorShape { channels, depth, pow, start })
    }

    pub fn channels(&self) -> usize {
        self.channels
    }

    pub fn depth(&self) -> usize {
        self.depth
    }

    /// `d + ... + d^m`.
    pub fn siglen(&self) -> usize {
        self.start[self.depth + 1]
    }

    /// `d^k`, k = 0..=m.
    pub fn level_size(&self, k: usize) -> usize {
        self.pow[k]
    }

    /// Offset of level k (k = 1..=m+1).
    pub fn level_start(&self, k: usize) -> usize {
        self.start[k]
    }

    /// Index range of level k (k = 1..=m).
    pub fn level(&self, k: usize) -> Range<usize> {
        self.start[k]..self.start[k + 1]
    }
}

/// `out = exp(z)` without level 0: `out_k = z^{⊗k} / k!`.
pub fn exp_into(shape: &TensorShape, z: &[f64], out: &mut [f64]) {
    let d = shape.channels;
    out[..d].copy_from_slice(&z[..d]);
    for k in 2..=shape.depth {
        let (lower, upper) = out.split_at_mut(shape.start[k]);
        let prev = &lower[shape.level(k - 1)];
        let cur = &mut upper[..shape.pow[k]];
        let inv_k = 1.0 / k as f64;
        for (w, &p) in prev.iter().enumerate() {
            for a in 0..d {
                cur[w * d + a] = p * z[a] * inv_k;
            }
        }
    }
}

/// `out = a ⊗ b` for elements with level 0 equal to 1:
/// `out_k = a_k + b_k + sum_{j=1}^{k-1} a_j ⊗ b_{k-j}`.
pub fn mul_into(shape: &TensorShape, a: &[f64], b: &[f64], out: &mut [f64]) {
    for k in 1..=shape.depth {
        let lk = shape.level(k);
        for idx in lk.clone() {
            out[idx] = a[idx] + b[idx];
        }
        for j in 1..k {
            let i = k - j;
            let ni = shape.pow[i];
            let bi = &b[shape.level(i)];
            for (u, &au) in a[shape.level(j)].iter().enumerate() {
                let row = &mut out[lk.start + u * ni..lk.start + (u + 1) * ni];
                for (o, &bv) in row.iter_mut().zip(bi) {
                    *o += au * bv;
                }
            }
        }
    }
}

/// `a ⊗ b` as a new vector.
pub fn mul(shape: &TensorShape, a: &[f64], b: &[f64]) -> Vec<f64> {
    let mut out = vec![0.0; shape.siglen()];
    mul_into(shape, a, b, &mut out);
    out
}

/// Adjoint of `a ↦ a ⊗ b` (b group-like): `out_l[x] = g_l[x] + sum_{k=1}^{m-l}
/// sum_w g_{l+k}[x w] b_k[w]`, i.e. `g` contracted on the right with `b`.
pub fn right_contract_into(shape: &TensorShape, g: &[f64], b: &[f64], out: &mut [f64]) {
    for l in 1..=shape.depth {
        let ll = shape.level(l);
        for x in 0..shape.pow[l] {
            let mut acc = g[ll.start + x];
            for k in 1..=shape.depth - l {
                let nk = shape.pow[k];
                let row = &g[shape.start[l + k] + x * nk..shape.start[l + k] + (x + 1) * nk];
                for (gv, bv) in row.iter().zip(&b[shape.level(k)]) {
                    acc += gv * bv;
                }
            }
            out[ll.start + x] = acc;
        }
    }
}

/// Adjoint of `b ↦ p ⊗ b` (p group-like): `out_j[v] = h_j[v] + sum_{i=1}^{m-j}
/// sum_u h_{i+j}[u v] p_i[u]`, i.e. `h` contracted on the left with `p`.
pub fn left_contract_into(shape: &TensorShape, p: &[f64], h: &[f64], out: &mut [f64]) {
    for j in 1..=shape.depth {
        let lj = shape.level(j);
        let nj = shape.pow[j];
        out[lj.clone()].copy_from_slice(&h[lj.clone()]);
        for i in 1..=shape.depth - j {
            let base = shape.start[i + j];
            for (u, &pu) in p[shape.level(i)].iter().enumerate() {
                let row = &h[base + u * nj..base + (u + 1) * nj];
                for (o, &hv) in out[lj.clone()].iter_mut().zip(row) {
                    *o += pu * hv;
                }
            }
        }
    }
}

/// Reverse mode of `e = exp(z)`: given `e` and its adjoint `ebar` (which is
/// consumed as scratch), adds `d<ebar, exp(z)>/dz` to `zbar`. Follows the
/// recursion `e_k[w a] = e_{k-1}[w] z[a] / k` backwards from level m.
pub fn exp_backward(shape: &TensorShape, z: &[f64], e: &[f64], ebar: &mut [f64], zbar: &mut [f64]) {
    let d = shape.channels;
    for k in (2..=shape.depth).rev() {
        let inv_k = 1.0 / k as f64;
        let (lower, upper) = ebar.split_at_mut(shape.start[k]);
        let cur = &upper[..shape.pow[k]];
        let prev_bar = &mut lower[shape.level(k - 1)];
        let prev = &e[shape.level(k - 1)];
        for w in 0..shape.pow[k - 1] {
            for a in 0..d {
                let g = cur[w * d + a] * inv_k;
                prev_bar[w] += g * z[a];
                zbar[a] += g * prev[w];
            }
        }
    }
    for a in 0..d {
        zbar[a] += ebar[a];
    }
}
