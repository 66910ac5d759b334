//! CPU kernel of the fused GRN (math and layout in `mod.rs`) and its plain
//! reference, the specification the tests compare it with.
//!
//! Products are whole-array calls to the crate's `matmul` over all rows (its
//! fused epilogue applies the biases, ELU and σ); the residual sum and the
//! normalization, and their gradients, run row by row over row blocks on the pool.

use rayon::prelude::*;

use super::{GrnGrads, GrnSavedRef, GrnShape, GrnState, GrnWeights};
use crate::dense::{block_rows, column_sums, product, MIN_BLOCK_ROWS};
use crate::matmul::Activation;
use crate::pool;

/// Run `f(first_row, a, b, c)` over row blocks of three row-major arrays of
/// widths `wa`, `wb`, `wc` (rows·width each), on the pool when there is more than one block.
#[allow(clippy::too_many_arguments)]
fn row_blocks3<F>(rows: usize, a: &mut [f32], wa: usize, b: &mut [f32], wb: usize, c: &mut [f32], wc: usize, f: F)
where
    F: Fn(usize, &mut [f32], &mut [f32], &mut [f32]) + Sync + Send,
{
    if rows == 0 {
        return;
    }
    let per = block_rows(rows, MIN_BLOCK_ROWS);
    if per >= rows {
        f(0, a, b, c);
        return;
    }
    pool::install(|| {
        a.par_chunks_mut(per * wa)
            .zip(b.par_chunks_mut(per * wb))
            .zip(c.par_chunks_mut(per * wc))
            .enumerate()
            .for_each(|(i, ((ca, cb), cc))| f(i * per, ca, cb, cc))
    });
}

/// The forward pass (lengths checked by `super::grn_forward`).
pub fn grn_forward_into(shape: &GrnShape, x: &[f32], w: GrnWeights<'_>, epsilon: f32, y: &mut [f32], state: GrnState<'_>) {
    let GrnShape { rows: nr, in_dim: di, hidden: h, units: u } = *shape;
    if nr == 0 {
        return;
    }
    let GrnState { eta, e, a, g, n, rstd } = state;
    product(x, w.w1, Some(w.b1), Activation::Elu, nr, di, h, false, false, eta);
    product(eta, w.w2, Some(w.b2), Activation::Linear, nr, h, h, false, false, e);
    product(e, w.wv, Some(w.bv), Activation::Linear, nr, h, u, false, false, a);
    product(e, w.wg, Some(w.bg), Activation::Sigmoid, nr, h, u, false, false, g);
    // y holds skip(x) until the normalization overwrites it
    match w.ws {
        Some(ws) => product(x, ws, w.bs, Activation::Linear, nr, di, u, false, false, y),
        None => y.copy_from_slice(x),
    }
    let (a, g) = (&*a, &*g);
    let eps = epsilon as f64;
    row_blocks3(nr, y, u, n, u, rstd, 1, |r0, yb, nb, rb| {
        let mut s = vec![0f32; u];
        for (i, ((yr, nrow), rs)) in yb.chunks_exact_mut(u).zip(nb.chunks_exact_mut(u)).zip(rb.iter_mut()).enumerate() {
            let o = (r0 + i) * u;
            for j in 0..u {
                s[j] = yr[j] + a[o + j] * g[o + j];
            }
            let mean = s.iter().map(|&v| v as f64).sum::<f64>() / u as f64;
            let var = s.iter().map(|&v| (v as f64 - mean) * (v as f64 - mean)).sum::<f64>() / u as f64;
            let r = (1.0 / (var + eps).sqrt()) as f32;
            *rs = r;
            let mean = mean as f32;
            for j in 0..u {
                let nv = (s[j] - mean) * r;
                nrow[j] = nv;
                yr[j] = nv * w.gamma[j] + w.beta[j];
            }
        }
    });
}

/// The backward pass (lengths checked by `super::grn_backward`).
pub fn grn_backward_into(shape: &GrnShape, x: &[f32], w: GrnWeights<'_>, saved: GrnSavedRef<'_>, dy: &[f32], grads: GrnGrads<'_>) {
    let GrnShape { rows: nr, in_dim: di, hidden: h, units: u } = *shape;
    let GrnGrads { dw1, db1, dw2, db2, dwv, dbv, dwg, dbg, dws, dbs, dgamma, dbeta, dx } = grads;
    let GrnSavedRef { eta, e, a, g, n, rstd } = saved;
    // γ and β
    let mut acc = vec![0f64; u];
    for (dr, nrow) in dy.chunks_exact(u.max(1)).zip(n.chunks_exact(u.max(1))) {
        for j in 0..u {
            acc[j] += dr[j] as f64 * nrow[j] as f64;
        }
    }
    for (o, v) in dgamma.iter_mut().zip(&acc) {
        *o = *v as f32;
    }
    column_sums(dy, u, dbeta);
    // the normalization and the GLU, row by row: ds, da, dgz
    let (mut ds, mut da, mut dgz) = (vec![0f32; nr * u], vec![0f32; nr * u], vec![0f32; nr * u]);
    row_blocks3(nr, &mut ds, u, &mut da, u, &mut dgz, u, |r0, sb, ab, gb| {
        let mut dn = vec![0f32; u];
        for (i, ((sr, ar), gr)) in sb.chunks_exact_mut(u).zip(ab.chunks_exact_mut(u)).zip(gb.chunks_exact_mut(u)).enumerate() {
            let row = r0 + i;
            let o = row * u;
            let (mut m1, mut m2) = (0f64, 0f64);
            for j in 0..u {
                dn[j] = dy[o + j] * w.gamma[j];
                m1 += dn[j] as f64;
                m2 += dn[j] as f64 * n[o + j] as f64;
            }
            let (m1, m2) = ((m1 / u as f64) as f32, (m2 / u as f64) as f32);
            let r = rstd[row];
            for j in 0..u {
                let d = r * (dn[j] - m1 - n[o + j] * m2);
                sr[j] = d;
                let gv = g[o + j];
                ar[j] = d * gv;
                gr[j] = d * a[o + j] * gv * (1.0 - gv);
            }
        }
    });
    if nr == 0 {
        for z in [dw1, db1, dw2, db2, dwv, dbv, dwg, dbg] {
            z.fill(0.0);
        }
        if let Some(z) = dws {
            z.fill(0.0);
        }
        if let Some(z) = dbs {
            z.fill(0.0);
        }
        return;
    }
    product(e, &da, None, Activation::Linear, h, nr, u, true, false, dwv);
    column_sums(&da, u, dbv);
    product(e, &dgz, None, Activation::Linear, h, nr, u, true, false, dwg);
    column_sums(&dgz, u, dbg);
    let mut de = vec![0f32; nr * h];
    let mut part = vec![0f32; nr * h];
    product(&da, w.wv, None, Activation::Linear, nr, u, h, false, true, &mut de);
    product(&dgz, w.wg, None, Activation::Linear, nr, u, h, false, true, &mut part);
    for (o, &p) in de.iter_mut().zip(&part) {
        *o += p;
    }
    product(eta, &de, None, Activation::Linear, h, nr, h, true, false, dw2);
    column_sums(&de, h, db2);
    // dz1 = (de·W2ᵀ) ⊙ ELU'(z1), into `part`
    product(&de, w.w2, None, Activation::Linear, nr, h, h, false, true, &mut part);
    for (d, &et) in part.iter_mut().zip(eta) {
        if et < 0.0 {
            *d *= et + 1.0;
        }
    }
    let dz1 = part;
    product(x, &dz1, None, Activation::Linear, di, nr, h, true, false, dw1);
    column_sums(&dz1, h, db1);
    if let (Some(dws), Some(dbs)) = (dws, dbs) {
        product(x, &ds, None, Activation::Linear, di, nr, u, true, false, dws);
        column_sums(&ds, u, dbs);
    }
    if let Some(dx) = dx {
        product(&dz1, w.w1, None, Activation::Linear, nr, h, di, false, true, dx);
        match w.ws {
            Some(ws) => {
                let mut skip = vec![0f32; nr * di];
                product(&ds, ws, None, Activation::Linear, nr, u, di, false, true, &mut skip);
                for (o, &p) in dx.iter_mut().zip(&skip) {
                    *o += p;
                }
            }
            None => {
                for (o, &p) in dx.iter_mut().zip(&ds) {
                    *o += p;
                }
            }
        }
    }
}

struct Forward64 {
    eta: Vec<f64>,
    e: Vec<f64>,
    a: Vec<f64>,
    g: Vec<f64>,
    n: Vec<f64>,
    rstd: Vec<f64>,
    y: Vec<f64>,
}

fn dense64(x: &[f64], wt: &[f32], bias: Option<&[f32]>, rows: usize, k: usize, n: usize) -> Vec<f64> {
    let mut out = vec![0f64; rows * n];
    for r in 0..rows {
        for j in 0..n {
            out[r * n + j] = bias.map_or(0.0, |b| b[j] as f64) + (0..k).map(|c| x[r * k + c] * wt[c * n + j] as f64).sum::<f64>();
        }
    }
    out
}

fn forward64(shape: &GrnShape, x: &[f32], w: &GrnWeights<'_>, epsilon: f32) -> Forward64 {
    let GrnShape { rows: nr, in_dim: di, hidden: h, units: u } = *shape;
    let x64: Vec<f64> = x.iter().map(|&v| v as f64).collect();
    let eta: Vec<f64> = dense64(&x64, w.w1, Some(w.b1), nr, di, h).into_iter().map(|z| if z >= 0.0 { z } else { z.exp() - 1.0 }).collect();
    let e = dense64(&eta, w.w2, Some(w.b2), nr, h, h);
    let a = dense64(&e, w.wv, Some(w.bv), nr, h, u);
    let g: Vec<f64> = dense64(&e, w.wg, Some(w.bg), nr, h, u).into_iter().map(|z| 1.0 / (1.0 + (-z).exp())).collect();
    let skip = match w.ws {
        Some(ws) => dense64(&x64, ws, w.bs, nr, di, u),
        None => x64.clone(),
    };
    let (mut n, mut rstd, mut y) = (vec![0f64; nr * u], vec![0f64; nr], vec![0f64; nr * u]);
    for r in 0..nr {
        let s: Vec<f64> = (0..u).map(|j| skip[r * u + j] + a[r * u + j] * g[r * u + j]).collect();
        let mean = s.iter().sum::<f64>() / u as f64;
        let var = s.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / u as f64;
        rstd[r] = 1.0 / (var + epsilon as f64).sqrt();
        for j in 0..u {
            n[r * u + j] = (s[j] - mean) * rstd[r];
            y[r * u + j] = n[r * u + j] * w.gamma[j] as f64 + w.beta[j] as f64;
        }
    }
    Forward64 { eta, e, a, g, n, rstd, y }
}

fn to_f32(v: &[f64]) -> Vec<f32> {
    v.iter().map(|&a| a as f32).collect()
}

/// Forward, the specification: scalar loops in f64. Returns y.
pub fn reference_forward(shape: &GrnShape, x: &[f32], w: GrnWeights<'_>, epsilon: f32) -> Vec<f32> {
    to_f32(&forward64(shape, x, &w, epsilon).y)
}

/// Gradients of the reference, in the order of `GrnGrads` (dws, dbs empty
/// without the projection): [dw1, db1, dw2, db2, dwv, dbv, dwg, dbg, dws, dbs, dgamma, dbeta, dx].
pub type GrnRefGrads = [Vec<f32>; 13];

/// Backward, the specification: recomputes the forward in f64, then scalar
/// back-propagation of Σ dy ⊙ y.
pub fn reference_backward(shape: &GrnShape, x: &[f32], w: GrnWeights<'_>, epsilon: f32, dy: &[f32]) -> GrnRefGrads {
    let GrnShape { rows: nr, in_dim: di, hidden: h, units: u } = *shape;
    let f = forward64(shape, x, &w, epsilon);
    let x64: Vec<f64> = x.iter().map(|&v| v as f64).collect();
    let (mut dgamma, mut dbeta) = (vec![0f64; u], vec![0f64; u]);
    let (mut ds, mut da, mut dgz) = (vec![0f64; nr * u], vec![0f64; nr * u], vec![0f64; nr * u]);
    for r in 0..nr {
        let o = r * u;
        let dn: Vec<f64> = (0..u).map(|j| dy[o + j] as f64 * w.gamma[j] as f64).collect();
        for j in 0..u {
            dgamma[j] += dy[o + j] as f64 * f.n[o + j];
            dbeta[j] += dy[o + j] as f64;
        }
        let m1 = dn.iter().sum::<f64>() / u as f64;
        let m2 = (0..u).map(|j| dn[j] * f.n[o + j]).sum::<f64>() / u as f64;
        for j in 0..u {
            ds[o + j] = f.rstd[r] * (dn[j] - m1 - f.n[o + j] * m2);
            da[o + j] = ds[o + j] * f.g[o + j];
            dgz[o + j] = ds[o + j] * f.a[o + j] * f.g[o + j] * (1.0 - f.g[o + j]);
        }
    }
    // xᵀ·d for x [rows, k], d [rows, n]
    let wgrad = |xs: &[f64], d: &[f64], k: usize, n: usize| {
        let mut out = vec![0f64; k * n];
        for r in 0..nr {
            for c in 0..k {
                for j in 0..n {
                    out[c * n + j] += xs[r * k + c] * d[r * n + j];
                }
            }
        }
        out
    };
    let bgrad = |d: &[f64], n: usize| (0..n).map(|j| (0..nr).map(|r| d[r * n + j]).sum()).collect::<Vec<f64>>();
    // d·Wᵀ for d [rows, n], W [k, n]
    let back = |d: &[f64], wt: &[f32], k: usize, n: usize| {
        let mut out = vec![0f64; nr * k];
        for r in 0..nr {
            for c in 0..k {
                out[r * k + c] = (0..n).map(|j| d[r * n + j] * wt[c * n + j] as f64).sum();
            }
        }
        out
    };
    let dwv = wgrad(&f.e, &da, h, u);
    let dwg = wgrad(&f.e, &dgz, h, u);
    let de: Vec<f64> = back(&da, w.wv, h, u).iter().zip(back(&dgz, w.wg, h, u)).map(|(p, q)| p + q).collect();
    let dw2 = wgrad(&f.eta, &de, h, h);
    let dz1: Vec<f64> = back(&de, w.w2, h, h).iter().zip(&f.eta).map(|(&d, &et)| if et >= 0.0 { d } else { d * (et + 1.0) }).collect();
    let dw1 = wgrad(&x64, &dz1, di, h);
    let mut dx = back(&dz1, w.w1, di, h);
    let (dws, dbs) = match w.ws {
        Some(ws) => {
            for (o, p) in dx.iter_mut().zip(back(&ds, ws, di, u)) {
                *o += p;
            }
            (to_f32(&wgrad(&x64, &ds, di, u)), to_f32(&bgrad(&ds, u)))
        }
        None => {
            for (o, p) in dx.iter_mut().zip(&ds) {
                *o += p;
            }
            (Vec::new(), Vec::new())
        }
    };
    [
        to_f32(&dw1),
        to_f32(&bgrad(&dz1, h)),
        to_f32(&dw2),
        to_f32(&bgrad(&de, h)),
        to_f32(&dwv),
        to_f32(&bgrad(&da, u)),
        to_f32(&dwg),
        to_f32(&bgrad(&dgz, u)),
        dws,
        dbs,
        to_f32(&dgamma),
        to_f32(&dbeta),
        to_f32(&dx),
    ]
}
