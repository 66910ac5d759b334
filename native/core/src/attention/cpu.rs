//! CPU kernel of the fused causal attention (math and layout in `mod.rs`) and
//! its plain reference, the specification the tests compare it with.
//!
//! The four projections and their gradients are whole-array products on the
//! crate's `matmul` ([rows = batch·time, ·]); the attention core (scores,
//! causal softmax, weighted sum, and their gradients) runs per sequence, one
//! sequence per pool task, each writing only its own rows of the outputs.

use rayon::prelude::*;

use super::{AttentionGrads, AttentionSavedRef, AttentionShape, AttentionState, AttentionWeights};
use crate::dense::{column_sums, product};
use crate::matmul::Activation;
use crate::pool;

/// Below this many multiply-adds in the attention core, stay on the calling thread.
const INLINE_CORE_MACS: usize = 1 << 16;

/// 1/√K as the layer forms it (f64, then one f32 rounding).
fn scale_of(key_dim: usize) -> f32 {
    (1.0 / (key_dim as f64).sqrt()) as f32
}

fn dot64(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(&p, &q)| p as f64 * q as f64).sum()
}

/// Run `f(sequence, chunks...)` for every sequence, on the pool when the core is large enough.
fn per_sequence<F>(shape: &AttentionShape, a: &mut [f32], a_len: usize, b: &mut [f32], b_len: usize, c: Option<&mut [f32]>, f: F)
where
    F: Fn(usize, &mut [f32], &mut [f32], Option<&mut [f32]>) + Sync + Send,
{
    let AttentionShape { batch, time, heads, key_dim, .. } = *shape;
    let macs = batch.saturating_mul(heads).saturating_mul(time).saturating_mul(time).saturating_mul(key_dim.max(1));
    let c_len = if c.is_some() { b_len } else { 0 };
    let mut empty: [f32; 0] = [];
    let c = c.unwrap_or(&mut empty);
    let (has_c, a_len, b_len) = (c_len > 0, a_len.max(1), b_len.max(1));
    if batch <= 1 || macs < INLINE_CORE_MACS {
        let mut cs = c.chunks_mut(c_len.max(1));
        for (i, (ac, bc)) in a.chunks_mut(a_len).zip(b.chunks_mut(b_len)).enumerate() {
            f(i, ac, bc, if has_c { cs.next() } else { None });
        }
        return;
    }
    pool::install(|| {
        if has_c {
            a.par_chunks_mut(a_len).zip(b.par_chunks_mut(b_len)).zip(c.par_chunks_mut(c_len)).enumerate().for_each(|(i, ((ac, bc), cc))| f(i, ac, bc, Some(cc)));
        } else {
            a.par_chunks_mut(a_len).zip(b.par_chunks_mut(b_len)).enumerate().for_each(|(i, (ac, bc))| f(i, ac, bc, None));
        }
    });
}

/// The forward pass (lengths checked by `super::attention_forward`).
pub fn attention_forward_into(shape: &AttentionShape, x: &[f32], w: AttentionWeights<'_>, y: &mut [f32], state: AttentionState<'_>) {
    let AttentionShape { batch: b, time: t, width: d, heads: h, key_dim: kd, units: u } = *shape;
    let hk = h * kd;
    let rows = b * t;
    if rows == 0 {
        return;
    }
    let AttentionState { q, k, v, probs, merged } = state;
    product(x, w.wq, Some(w.bq), Activation::Linear, rows, d, hk, false, false, q);
    product(x, w.wk, None, Activation::Linear, rows, d, hk, false, false, k);
    product(x, w.wv, Some(w.bv), Activation::Linear, rows, d, hk, false, false, v);
    let (q, k, v) = (&*q, &*k, &*v);
    let scale = scale_of(kd);
    per_sequence(shape, probs, h * t * t, merged, t * hk, None, |bi, pb, mb, _| {
        let mut s = vec![0f64; t];
        let mut acc = vec![0f64; kd];
        for hh in 0..h {
            let off = hh * kd;
            for i in 0..t {
                let qi = &q[(bi * t + i) * hk + off..][..kd];
                let mut mx = f64::NEG_INFINITY;
                for j in 0..=i {
                    let kj = &k[(bi * t + j) * hk + off..][..kd];
                    // the layer's order: the product in f32, then × 1/√K in f32
                    let sc = ((dot64(qi, kj) as f32) * scale) as f64;
                    s[j] = sc;
                    mx = mx.max(sc);
                }
                let mut sum = 0f64;
                for sj in s.iter_mut().take(i + 1) {
                    *sj = (*sj - mx).exp();
                    sum += *sj;
                }
                let prow = &mut pb[(hh * t + i) * t..][..t];
                for j in 0..t {
                    prow[j] = if j <= i { (s[j] / sum) as f32 } else { 0.0 };
                }
                acc.fill(0.0);
                for j in 0..=i {
                    let p = prow[j] as f64;
                    let vj = &v[(bi * t + j) * hk + off..][..kd];
                    for (a, &vv) in acc.iter_mut().zip(vj) {
                        *a += p * vv as f64;
                    }
                }
                for (m, &a) in mb[i * hk + off..][..kd].iter_mut().zip(&acc) {
                    *m = a as f32;
                }
            }
        }
    });
    product(merged, w.wo, Some(w.bo), Activation::Linear, rows, hk, u, false, false, y);
}

/// The backward pass (lengths checked by `super::attention_backward`).
pub fn attention_backward_into(shape: &AttentionShape, x: &[f32], w: AttentionWeights<'_>, saved: AttentionSavedRef<'_>, dy: &[f32], grads: AttentionGrads<'_>) {
    let AttentionShape { batch: b, time: t, width: d, heads: h, key_dim: kd, units: u } = *shape;
    let hk = h * kd;
    let rows = b * t;
    let AttentionGrads { dwq, dbq, dwk, dwv, dbv, dwo, dbo, dx } = grads;
    let AttentionSavedRef { q, k, v, probs, merged } = saved;
    if rows == 0 {
        for g in [dwq, dbq, dwk, dwv, dbv, dwo, dbo] {
            g.fill(0.0);
        }
        return;
    }
    // output projection
    product(merged, dy, None, Activation::Linear, hk, rows, u, true, false, dwo);
    column_sums(dy, u, dbo);
    let mut dm = vec![0f32; rows * hk];
    product(dy, w.wo, None, Activation::Linear, rows, u, hk, false, true, &mut dm);
    // attention core, per sequence
    let (mut dq, mut dk, mut dv) = (vec![0f32; rows * hk], vec![0f32; rows * hk], vec![0f32; rows * hk]);
    let scale = scale_of(kd) as f64;
    let dm = &dm;
    per_sequence(shape, &mut dq, t * hk, &mut dk, t * hk, Some(&mut dv), |bi, dqb, dkb, dvb| {
        let dvb = dvb.expect("dv chunk");
        let (mut aq, mut ak, mut av) = (vec![0f64; t * hk], vec![0f64; t * hk], vec![0f64; t * hk]);
        let mut da = vec![0f64; t];
        for hh in 0..h {
            let off = hh * kd;
            for i in 0..t {
                let dmi = &dm[(bi * t + i) * hk + off..][..kd];
                let qi = &q[(bi * t + i) * hk + off..][..kd];
                let prow = &probs[((bi * h + hh) * t + i) * t..][..t];
                let mut r = 0f64;
                for j in 0..=i {
                    da[j] = dot64(dmi, &v[(bi * t + j) * hk + off..][..kd]);
                    r += da[j] * prow[j] as f64;
                }
                for j in 0..=i {
                    let p = prow[j] as f64;
                    let ds = p * (da[j] - r) * scale;
                    let kj = &k[(bi * t + j) * hk + off..][..kd];
                    let (qo, jo) = (i * hk + off, j * hk + off);
                    for c in 0..kd {
                        aq[qo + c] += ds * kj[c] as f64;
                        ak[jo + c] += ds * qi[c] as f64;
                        av[jo + c] += p * dmi[c] as f64;
                    }
                }
            }
        }
        for (o, a) in [(dqb, &aq), (dkb, &ak), (dvb, &av)] {
            for (x, &y) in o.iter_mut().zip(a.iter()) {
                *x = y as f32;
            }
        }
    });
    // input projections
    product(x, &dq, None, Activation::Linear, d, rows, hk, true, false, dwq);
    product(x, &dk, None, Activation::Linear, d, rows, hk, true, false, dwk);
    product(x, &dv, None, Activation::Linear, d, rows, hk, true, false, dwv);
    column_sums(&dq, hk, dbq);
    column_sums(&dv, hk, dbv);
    if let Some(dx) = dx {
        product(&dq, w.wq, None, Activation::Linear, rows, hk, d, false, true, dx);
        let mut part = vec![0f32; rows * d];
        for (src, wt) in [(&dk, w.wk), (&dv, w.wv)] {
            product(src, wt, None, Activation::Linear, rows, hk, d, false, true, &mut part);
            for (o, &p) in dx.iter_mut().zip(&part) {
                *o += p;
            }
        }
    }
}

/// The forward pass in f64: (Q, Kp, V, A, M, y).
#[allow(clippy::type_complexity)]
fn forward64(shape: &AttentionShape, x: &[f32], w: &AttentionWeights<'_>) -> (Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>) {
    let AttentionShape { batch: b, time: t, width: d, heads: h, key_dim: kd, units: u } = *shape;
    let hk = h * kd;
    let rows = b * t;
    let proj = |wt: &[f32], bias: Option<&[f32]>| {
        let mut out = vec![0f64; rows * hk];
        for r in 0..rows {
            for j in 0..hk {
                out[r * hk + j] = bias.map_or(0.0, |c| c[j] as f64) + (0..d).map(|c| x[r * d + c] as f64 * wt[c * hk + j] as f64).sum::<f64>();
            }
        }
        out
    };
    let (q, k, v) = (proj(w.wq, Some(w.bq)), proj(w.wk, None), proj(w.wv, Some(w.bv)));
    let scale = 1.0 / (kd as f64).sqrt();
    let mut a = vec![0f64; b * h * t * t];
    let mut m = vec![0f64; rows * hk];
    for bi in 0..b {
        for hh in 0..h {
            for i in 0..t {
                let score = |j: usize| (0..kd).map(|c| q[(bi * t + i) * hk + hh * kd + c] * k[(bi * t + j) * hk + hh * kd + c]).sum::<f64>() * scale;
                let mx = (0..=i).map(score).fold(f64::NEG_INFINITY, f64::max);
                let e: Vec<f64> = (0..=i).map(|j| (score(j) - mx).exp()).collect();
                let sum: f64 = e.iter().sum();
                for j in 0..=i {
                    a[((bi * h + hh) * t + i) * t + j] = e[j] / sum;
                }
                for c in 0..kd {
                    m[(bi * t + i) * hk + hh * kd + c] = (0..=i).map(|j| a[((bi * h + hh) * t + i) * t + j] * v[(bi * t + j) * hk + hh * kd + c]).sum();
                }
            }
        }
    }
    let mut y = vec![0f64; rows * u];
    for r in 0..rows {
        for j in 0..u {
            y[r * u + j] = w.bo[j] as f64 + (0..hk).map(|c| m[r * hk + c] * w.wo[c * u + j] as f64).sum::<f64>();
        }
    }
    (q, k, v, a, m, y)
}

fn to_f32(v: &[f64]) -> Vec<f32> {
    v.iter().map(|&a| a as f32).collect()
}

/// Forward, the specification: scalar loops in f64 over exactly the causal
/// positions. Returns (y, probs).
pub fn reference_forward(shape: &AttentionShape, x: &[f32], w: AttentionWeights<'_>) -> (Vec<f32>, Vec<f32>) {
    let (_, _, _, a, _, y) = forward64(shape, x, &w);
    (to_f32(&y), to_f32(&a))
}

/// Gradients of the reference: (dwq, dbq, dwk, dwv, dbv, dwo, dbo, dx), in f64, rounded once.
pub type AttentionRefGrads = (Vec<f32>, Vec<f32>, Vec<f32>, Vec<f32>, Vec<f32>, Vec<f32>, Vec<f32>, Vec<f32>);

/// Backward, the specification: recomputes the forward in f64, then scalar
/// back-propagation of Σ dy ⊙ y.
pub fn reference_backward(shape: &AttentionShape, x: &[f32], w: AttentionWeights<'_>, dy: &[f32]) -> AttentionRefGrads {
    let AttentionShape { batch: b, time: t, width: d, heads: h, key_dim: kd, units: u } = *shape;
    let hk = h * kd;
    let rows = b * t;
    let (q, k, v, a, m, _) = forward64(shape, x, &w);
    let scale = 1.0 / (kd as f64).sqrt();
    let (mut dwo, mut dbo, mut dm) = (vec![0f64; hk * u], vec![0f64; u], vec![0f64; rows * hk]);
    for r in 0..rows {
        for j in 0..u {
            let g = dy[r * u + j] as f64;
            dbo[j] += g;
            for c in 0..hk {
                dwo[c * u + j] += m[r * hk + c] * g;
                dm[r * hk + c] += g * w.wo[c * u + j] as f64;
            }
        }
    }
    let (mut dq, mut dk, mut dv) = (vec![0f64; rows * hk], vec![0f64; rows * hk], vec![0f64; rows * hk]);
    for bi in 0..b {
        for hh in 0..h {
            for i in 0..t {
                let at = |j: usize| a[((bi * h + hh) * t + i) * t + j];
                let col = |r: usize, c: usize| r * hk + hh * kd + c;
                let da: Vec<f64> = (0..=i).map(|j| (0..kd).map(|c| dm[col(bi * t + i, c)] * v[col(bi * t + j, c)]).sum()).collect();
                let rsum: f64 = (0..=i).map(|j| da[j] * at(j)).sum();
                for j in 0..=i {
                    let ds = at(j) * (da[j] - rsum) * scale;
                    for c in 0..kd {
                        dq[col(bi * t + i, c)] += ds * k[col(bi * t + j, c)];
                        dk[col(bi * t + j, c)] += ds * q[col(bi * t + i, c)];
                        dv[col(bi * t + j, c)] += at(j) * dm[col(bi * t + i, c)];
                    }
                }
            }
        }
    }
    let wgrad = |g: &[f64]| {
        let mut out = vec![0f64; d * hk];
        for r in 0..rows {
            for c in 0..d {
                for j in 0..hk {
                    out[c * hk + j] += x[r * d + c] as f64 * g[r * hk + j];
                }
            }
        }
        out
    };
    let bgrad = |g: &[f64]| (0..hk).map(|j| (0..rows).map(|r| g[r * hk + j]).sum()).collect::<Vec<f64>>();
    let mut dx = vec![0f64; rows * d];
    for r in 0..rows {
        for c in 0..d {
            dx[r * d + c] = (0..hk).map(|j| dq[r * hk + j] * w.wq[c * hk + j] as f64 + dk[r * hk + j] * w.wk[c * hk + j] as f64 + dv[r * hk + j] * w.wv[c * hk + j] as f64).sum();
        }
    }
    (to_f32(&wgrad(&dq)), to_f32(&bgrad(&dq)), to_f32(&wgrad(&dk)), to_f32(&wgrad(&dv)), to_f32(&bgrad(&dv)), to_f32(&dwo), to_f32(&dbo), to_f32(&dx))
}
