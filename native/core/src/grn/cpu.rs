//! CPU kernel of the fused GRN (math and layout in `mod.rs`) and its plain
//! reference, the specification the tests compare it with.
//!
//! Work split: the S·rows rows are cut into blocks of one stack index and
//! `block_rows` rows (from the shape only, never from the thread count), one
//! pool task per block. A task runs every product of its block on its own
//! thread (the crate's `gemm`, `dense::product_serial`; the epilogue applies
//! the biases, ELU and σ) and the residual sum and normalization, so the
//! block's intermediates stay in cache between the stages. The backward's
//! row-wise parts (ds, da, dgz, de, dz1, dx) are local to a block in the same
//! way; its weight gradients are sums over rows, so each block writes the
//! partial sums of its own rows (one packed vector of one GRN's parameters),
//! and one task per stack index adds its blocks' partials in block order, in
//! f64. The same blocks and the same order on any number of threads: the
//! results are bit-identical on 1 and 2 threads.

use rayon::prelude::*;

use super::{GrnGrads, GrnSavedRef, GrnShape, GrnState, GrnWeights};
use crate::dense::{column_sums, product_serial};
use crate::matmul::{Activation, INLINE_MACS};
use crate::pool;

/// Fewest rows of a block (unless a GRN has fewer): a product over fewer rows
/// runs below the gemm micro-kernels' efficiency, and a task's hand-off
/// (~µs) would weigh. At 256 rows and 32 units an intermediate is 32 KiB, so
/// a block's stages share the L2 cache.
const BLOCK_MIN_ROWS: usize = 256;
/// Most blocks per GRN of the stack (larger blocks beyond that): bounds the
/// partial weight gradients and the reduction over them.
const MAX_BLOCKS_PER_GRN: usize = 64;

/// The parameters of one GRN, in the packed order of `GrnGrads`
/// (w1, b1, w2, b2, wv, bv, wg, bg, [ws, bs], γ, β): their lengths.
fn param_lens(shape: &GrnShape) -> Vec<usize> {
    let (di, h, u) = (shape.in_dim, shape.hidden, shape.units);
    let mut l = vec![di * h, h, h * h, h, h * u, u, h * u, u];
    if shape.projects_skip() {
        l.extend([di * u, u]);
    }
    l.extend([u, u]);
    l
}

/// Rows per block: at least `BLOCK_MIN_ROWS`, at most `MAX_BLOCKS_PER_GRN`
/// blocks per GRN, and enough rows that a block's partial weight gradients
/// (one GRN's parameters) are no larger than its saved activations
/// ((2h + 3u + 1) per row): the partials never outgrow what the forward kept.
fn block_rows(shape: &GrnShape) -> usize {
    let params: usize = param_lens(shape).iter().sum();
    let saved_per_row = 2 * shape.hidden + 3 * shape.units + 1;
    shape.rows.div_ceil(MAX_BLOCKS_PER_GRN).max(BLOCK_MIN_ROWS).max(params.div_ceil(saved_per_row)).clamp(1, shape.rows.max(1))
}

/// A block: stack index, first row and row count.
#[derive(Clone, Copy, Debug)]
struct Block {
    s: usize,
    r0: usize,
    len: usize,
}

/// The blocks in memory order (stack-major, rows ascending) and the blocks per GRN.
fn blocks_of(shape: &GrnShape) -> (Vec<Block>, usize) {
    if shape.rows == 0 {
        return (Vec::new(), 0);
    }
    let per = block_rows(shape);
    let nb = shape.rows.div_ceil(per);
    let blocks = (0..shape.stack)
        .flat_map(|s| (0..nb).map(move |b| Block { s, r0: b * per, len: per.min(shape.rows - b * per) }))
        .collect();
    (blocks, nb)
}

/// `buf` [S, rows, width] cut into the blocks' parts (the blocks cover it in order).
fn cut<'a>(mut buf: &'a mut [f32], width: usize, blocks: &[Block]) -> Vec<&'a mut [f32]> {
    blocks
        .iter()
        .map(|b| {
            let (head, tail) = std::mem::take(&mut buf).split_at_mut(b.len * width);
            buf = tail;
            head
        })
        .collect()
}

/// The next block's part of a `cut` array.
fn take<'a>(parts: &mut std::vec::IntoIter<&'a mut [f32]>) -> &'a mut [f32] {
    parts.next().expect("one part per block")
}

/// The rows of block `b` of a read-only [S, rows, width] array.
fn rows_of<'a>(a: &'a [f32], width: usize, rows: usize, b: &Block) -> &'a [f32] {
    let o = (b.s * rows + b.r0) * width;
    &a[o..o + b.len * width]
}

/// Multiply-adds of one row's forward products.
fn row_macs(shape: &GrnShape) -> usize {
    let (di, h, u) = (shape.in_dim, shape.hidden, shape.units);
    di * h + h * h + 2 * h * u + if shape.projects_skip() { di * u } else { 0 }
}

/// Run `f` on every task: on the pool when there are several and the call is
/// large enough (`INLINE_MACS`, as the crate's matmul), else on this thread.
fn run<T: Send, F: Fn(T) + Sync + Send>(tasks: Vec<T>, macs: usize, f: F) {
    if tasks.len() <= 1 || macs < INLINE_MACS {
        tasks.into_iter().for_each(f);
    } else {
        pool::install(|| tasks.into_par_iter().for_each(f));
    }
}

struct ForwardTask<'a> {
    b: Block,
    y: &'a mut [f32],
    eta: &'a mut [f32],
    e: &'a mut [f32],
    a: &'a mut [f32],
    g: &'a mut [f32],
    n: &'a mut [f32],
    rstd: &'a mut [f32],
}

/// The forward pass (lengths checked by `super::grn_forward`).
pub fn grn_forward_into(shape: &GrnShape, x: &[f32], w: GrnWeights<'_>, epsilon: f32, y: &mut [f32], state: GrnState<'_>) {
    let GrnShape { rows, in_dim: di, hidden: h, units: u, .. } = *shape;
    let (blocks, _) = blocks_of(shape);
    if blocks.is_empty() {
        return;
    }
    let GrnState { eta, e, a, g, n, rstd } = state;
    let mut parts = [cut(y, u, &blocks), cut(eta, h, &blocks), cut(e, h, &blocks), cut(a, u, &blocks), cut(g, u, &blocks), cut(n, u, &blocks), cut(rstd, 1, &blocks)].map(|v| v.into_iter());
    let tasks: Vec<ForwardTask<'_>> = blocks
        .iter()
        .map(|&b| {
            let [y, eta, e, a, g, n, rstd] = &mut parts;
            ForwardTask { b, y: take(y), eta: take(eta), e: take(e), a: take(a), g: take(g), n: take(n), rstd: take(rstd) }
        })
        .collect();
    let eps = epsilon as f64;
    let macs = shape.stack.saturating_mul(rows).saturating_mul(row_macs(shape));
    run(tasks, macs, |t| {
        let ForwardTask { b, y, eta, e, a, g, n, rstd } = t;
        let ws = w.at(shape, b.s);
        let m = b.len;
        let xb = rows_of(x, di, rows, &b);
        product_serial(xb, ws.w1, Some(ws.b1), Activation::Elu, m, di, h, false, false, eta);
        product_serial(eta, ws.w2, Some(ws.b2), Activation::Linear, m, h, h, false, false, e);
        product_serial(e, ws.wv, Some(ws.bv), Activation::Linear, m, h, u, false, false, a);
        product_serial(e, ws.wg, Some(ws.bg), Activation::Sigmoid, m, h, u, false, false, g);
        // y holds skip(x) until the normalization overwrites it
        match ws.ws {
            Some(wsk) => product_serial(xb, wsk, ws.bs, Activation::Linear, m, di, u, false, false, y),
            None => y.copy_from_slice(xb),
        }
        let mut s = vec![0f32; u];
        for (i, ((yr, nrow), rs)) in y.chunks_exact_mut(u).zip(n.chunks_exact_mut(u)).zip(rstd.iter_mut()).enumerate() {
            let o = i * u;
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
                yr[j] = nv * ws.gamma[j] + ws.beta[j];
            }
        }
    });
}

struct BackwardTask<'a> {
    b: Block,
    /// this block's partial weight gradients, packed as `param_lens`
    partial: &'a mut [f32],
    dx: Option<&'a mut [f32]>,
}

/// `v` cut into consecutive parts of the given lengths.
fn split_lens<'a>(mut v: &'a mut [f32], lens: &[usize]) -> Vec<&'a mut [f32]> {
    lens.iter()
        .map(|&n| {
            let (head, tail) = std::mem::take(&mut v).split_at_mut(n);
            v = tail;
            head
        })
        .collect()
}

/// The backward pass (lengths checked by `super::grn_backward`).
pub fn grn_backward_into(shape: &GrnShape, x: &[f32], w: GrnWeights<'_>, saved: GrnSavedRef<'_>, dy: &[f32], grads: GrnGrads<'_>) {
    let GrnShape { stack, rows, in_dim: di, hidden: h, units: u } = *shape;
    let GrnGrads { dw1, db1, dw2, db2, dwv, dbv, dwg, dbg, dws, dbs, dgamma, dbeta, dx } = grads;
    let GrnSavedRef { eta, e, a, g, n, rstd } = saved;
    let lens = param_lens(shape);
    let params: usize = lens.iter().sum();
    let p = shape.projects_skip();
    let (blocks, nb) = blocks_of(shape);
    let macs = stack.saturating_mul(rows).saturating_mul(row_macs(shape)).saturating_mul(2);

    // 1. per block: the row-wise gradients, dx, and the partial weight gradients
    let mut partials = vec![0f32; blocks.len() * params];
    let mut dxs = dx.map(|d| cut(d, di, &blocks).into_iter());
    let tasks: Vec<BackwardTask<'_>> = blocks
        .iter()
        .zip(partials.chunks_exact_mut(params))
        .map(|(&b, partial)| BackwardTask { b, partial, dx: dxs.as_mut().map(take) })
        .collect();
    run(tasks, macs, |t| {
        let BackwardTask { b, partial, dx } = t;
        let ws = w.at(shape, b.s);
        let m = b.len;
        let xb = rows_of(x, di, rows, &b);
        let (etab, eb) = (rows_of(eta, h, rows, &b), rows_of(e, h, rows, &b));
        let (ab, gb, nbk, dyb) = (rows_of(a, u, rows, &b), rows_of(g, u, rows, &b), rows_of(n, u, rows, &b), rows_of(dy, u, rows, &b));
        let rb = rows_of(rstd, 1, rows, &b);
        let mut parts = split_lens(partial, &lens).into_iter();
        let mut next = || parts.next().expect("every parameter");
        let (pw1, pb1, pw2, pb2, pwv, pbv, pwg, pbg) = (next(), next(), next(), next(), next(), next(), next(), next());
        let (pws, pbs) = if p { (Some(next()), Some(next())) } else { (None, None) };
        let (pgamma, pbeta) = (next(), next());
        // the normalization and the GLU, row by row: ds, da, dgz; γ and β
        let (mut ds, mut da, mut dgz) = (vec![0f32; m * u], vec![0f32; m * u], vec![0f32; m * u]);
        let (mut accg, mut accb) = (vec![0f64; u], vec![0f64; u]);
        let mut dn = vec![0f32; u];
        for i in 0..m {
            let o = i * u;
            let (mut m1, mut m2) = (0f64, 0f64);
            for j in 0..u {
                let d = dyb[o + j];
                accg[j] += d as f64 * nbk[o + j] as f64;
                accb[j] += d as f64;
                dn[j] = d * ws.gamma[j];
                m1 += dn[j] as f64;
                m2 += dn[j] as f64 * nbk[o + j] as f64;
            }
            let (m1, m2) = ((m1 / u as f64) as f32, (m2 / u as f64) as f32);
            let r = rb[i];
            for j in 0..u {
                let d = r * (dn[j] - m1 - nbk[o + j] * m2);
                ds[o + j] = d;
                let gv = gb[o + j];
                da[o + j] = d * gv;
                dgz[o + j] = d * ab[o + j] * gv * (1.0 - gv);
            }
        }
        for (o, v) in pgamma.iter_mut().zip(&accg) {
            *o = *v as f32;
        }
        for (o, v) in pbeta.iter_mut().zip(&accb) {
            *o = *v as f32;
        }
        product_serial(eb, &da, None, Activation::Linear, h, m, u, true, false, pwv);
        column_sums(&da, u, pbv);
        product_serial(eb, &dgz, None, Activation::Linear, h, m, u, true, false, pwg);
        column_sums(&dgz, u, pbg);
        let mut de = vec![0f32; m * h];
        let mut part = vec![0f32; m * h];
        product_serial(&da, ws.wv, None, Activation::Linear, m, u, h, false, true, &mut de);
        product_serial(&dgz, ws.wg, None, Activation::Linear, m, u, h, false, true, &mut part);
        for (o, &q) in de.iter_mut().zip(&part) {
            *o += q;
        }
        product_serial(etab, &de, None, Activation::Linear, h, m, h, true, false, pw2);
        column_sums(&de, h, pb2);
        // dz1 = (de·W2ᵀ) ⊙ ELU'(z1), into `part`
        product_serial(&de, ws.w2, None, Activation::Linear, m, h, h, false, true, &mut part);
        for (d, &et) in part.iter_mut().zip(etab) {
            if et < 0.0 {
                *d *= et + 1.0;
            }
        }
        let dz1 = part;
        product_serial(xb, &dz1, None, Activation::Linear, di, m, h, true, false, pw1);
        column_sums(&dz1, h, pb1);
        if let (Some(pws), Some(pbs)) = (pws, pbs) {
            product_serial(xb, &ds, None, Activation::Linear, di, m, u, true, false, pws);
            column_sums(&ds, u, pbs);
        }
        if let Some(dx) = dx {
            product_serial(&dz1, ws.w1, None, Activation::Linear, m, h, di, false, true, dx);
            match ws.ws {
                Some(wsk) => {
                    let mut skip = vec![0f32; m * di];
                    product_serial(&ds, wsk, None, Activation::Linear, m, u, di, false, true, &mut skip);
                    for (o, &q) in dx.iter_mut().zip(&skip) {
                        *o += q;
                    }
                }
                None => {
                    for (o, &q) in dx.iter_mut().zip(&ds) {
                        *o += q;
                    }
                }
            }
        }
    });

    // 2. per stack index: its blocks' partials added in block order (f64)
    let mut outs: Vec<&mut [f32]> = vec![dw1, db1, dw2, db2, dwv, dbv, dwg, dbg];
    if let (Some(dws), Some(dbs)) = (dws, dbs) {
        outs.extend([dws, dbs]);
    }
    outs.extend([dgamma, dbeta]);
    let mut per_stack: Vec<Vec<&mut [f32]>> = (0..stack).map(|_| Vec::with_capacity(outs.len())).collect();
    for (out, &len) in outs.into_iter().zip(&lens) {
        for (s, part) in split_lens(out, &vec![len; stack]).into_iter().enumerate() {
            per_stack[s].push(part);
        }
    }
    let partials = &partials;
    let reduce_macs = partials.len().saturating_mul(16);
    run(per_stack.into_iter().enumerate().collect(), reduce_macs, |(s, parts)| {
        let mut acc = vec![0f64; params];
        for blk in partials[s * nb * params..(s + 1) * nb * params].chunks_exact(params.max(1)) {
            for (t, &v) in acc.iter_mut().zip(blk) {
                *t += v as f64;
            }
        }
        let mut off = 0;
        for out in parts {
            for (o, &v) in out.iter_mut().zip(&acc[off..]) {
                *o = v as f32;
            }
            off += out.len();
        }
    });
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

/// One GRN's forward in f64 (`shape.stack` is ignored: `w` is one GRN's weights).
fn forward64(shape: &GrnShape, x: &[f32], w: &GrnWeights<'_>, epsilon: f32) -> Forward64 {
    let GrnShape { rows: nr, in_dim: di, hidden: h, units: u, .. } = *shape;
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

/// Forward, the specification: scalar loops in f64, one GRN of the stack after
/// the other (each on its rows of x with its own weights). Returns y [S, rows, u].
pub fn reference_forward(shape: &GrnShape, x: &[f32], w: GrnWeights<'_>, epsilon: f32) -> Vec<f32> {
    let one = shape.one();
    let per = shape.rows * shape.in_dim;
    (0..shape.stack).flat_map(|s| to_f32(&forward64(&one, &x[s * per..(s + 1) * per], &w.at(shape, s), epsilon).y)).collect()
}

/// Gradients of the reference, in the order of `GrnGrads` (dws, dbs empty
/// without the projection), each over the whole stack:
/// [dw1, db1, dw2, db2, dwv, dbv, dwg, dbg, dws, dbs, dgamma, dbeta, dx].
pub type GrnRefGrads = [Vec<f32>; 13];

/// Backward, the specification: for each GRN of the stack, recomputes its
/// forward in f64, then scalar back-propagation of Σ dy ⊙ y; the stack's
/// gradients are the GRNs' gradients one after the other.
pub fn reference_backward(shape: &GrnShape, x: &[f32], w: GrnWeights<'_>, epsilon: f32, dy: &[f32]) -> GrnRefGrads {
    let one = shape.one();
    let (px, py) = (shape.rows * shape.in_dim, shape.rows * shape.units);
    let mut out: GrnRefGrads = Default::default();
    for s in 0..shape.stack {
        let g = reference_backward_one(&one, &x[s * px..(s + 1) * px], &w.at(shape, s), epsilon, &dy[s * py..(s + 1) * py]);
        for (o, part) in out.iter_mut().zip(g) {
            o.extend(part);
        }
    }
    out
}

fn reference_backward_one(shape: &GrnShape, x: &[f32], w: &GrnWeights<'_>, epsilon: f32, dy: &[f32]) -> GrnRefGrads {
    let GrnShape { rows: nr, in_dim: di, hidden: h, units: u, .. } = *shape;
    let f = forward64(shape, x, w, epsilon);
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
