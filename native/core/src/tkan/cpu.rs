//! CPU kernel of the fused TKAN sequence (math and layout in `mod.rs`) and its
//! plain f64 reference, the specification the tests compare it with.
//!
//! Forward: the input products of every step (x·W + b into the gate rows,
//! x·A_x + a into s) are two GEMMs over all steps·batch rows on the pool; then
//! the batch is split into row blocks (one per pool thread, as the LSTM kernel)
//! and each block is carried through every step: per step seven small products
//! (m·A_m, base·Φ_b, B·Φ_s, φ·M_φ, m·M_m, φ·W_o, h·W_h; single-threaded inside
//! a block) and the element-wise passes row by row. Backward, per block and
//! step in reverse: the gate and memory gradients row by row, the products that
//! carry the gradient to φ, s and the previous step (dμ̃·M_φᵀ, dz_o·W_oᵀ,
//! dφ·Φ_bᵀ, dφ·Φ_sᵀ, ds·A_mᵀ, dμ̃·M_mᵀ, dz·W_hᵀ), the basis and its slope at s.
//! Every step's pre-activation gradients (dz, dμ̃, dφ, ds) and basis are kept,
//! so that the weight gradients and dx are then a dozen GEMMs over all
//! steps·batch rows, run as tasks on the pool. Blocks write disjoint rows of
//! the [steps, batch, ·] arrays, through raw pointers because those rows
//! interleave by step.

use gemm::Parallelism;
use rayon::prelude::*;

use super::{TkanBase, TkanSaved, TkanShape, TkanStates, TkanWeightGrads, TkanWeights};
use crate::lstm::{blocks, product, product_on, sigmoid, tanh_f32, SendPtr};
use crate::pool;

/// Below this many multiply-adds a GEMM before the loop stays on the calling thread
/// (as `matmul::cpu::INLINE_MACS`).
const INLINE_MACS: usize = 1 << 20;

/// The spline grid in the precision the tfjs composition uses: h and the centres in f32.
struct Grid {
    h: f32,
    centres: Vec<f32>,
}

impl Grid {
    fn new(shape: &TkanShape) -> Self {
        let g = shape.grid_size;
        let h = (shape.grid_max - shape.grid_min) / g as f64;
        Grid { h: h as f32, centres: (0..g + 3).map(|j| (shape.grid_min + (j as f64 - 1.0) * h) as f32).collect() }
    }
}

#[inline(always)]
fn base_f32(base: TkanBase, s: f32) -> f32 {
    match base {
        TkanBase::Silu => s * sigmoid(s),
        TkanBase::Relu => s.max(0.0),
        TkanBase::Linear => s,
    }
}

/// d base / ds (ReLU's slope at 0 is 0, as tfjs').
#[inline(always)]
fn base_slope_f32(base: TkanBase, s: f32) -> f32 {
    match base {
        TkanBase::Silu => {
            let sg = sigmoid(s);
            sg * (1.0 + s * (1.0 - sg))
        }
        TkanBase::Relu => {
            if s > 0.0 {
                1.0
            } else {
                0.0
            }
        }
        TkanBase::Linear => 1.0,
    }
}

/// N(v) of a = |v|: ((2 − a)₊³ − 4·(1 − a)₊³)/6.
#[inline(always)]
fn spline_f32(a: f32) -> f32 {
    let p = (2.0 - a).max(0.0);
    let q = (1.0 - a).max(0.0);
    (p * (p * p) - 4.0 * (q * (q * q))) * (1.0 / 6.0)
}

/// dN/da: −(2 − a)₊²/2 + 2·(1 − a)₊².
#[inline(always)]
fn spline_slope_f32(a: f32) -> f32 {
    let p = (2.0 - a).max(0.0);
    let q = (1.0 - a).max(0.0);
    2.0 * (q * q) - 0.5 * (p * p)
}

/// Base path and basis of n rows of s [n, K] into base [n, K] and basis [n, K·nb].
fn basis_rows(grid: &Grid, kind: TkanBase, s: &[f32], base: &mut [f32], basis: &mut [f32]) {
    let nb = grid.centres.len();
    for ((&v, b), sp) in s.iter().zip(base.iter_mut()).zip(basis.chunks_exact_mut(nb)) {
        *b = base_f32(kind, v);
        for (o, &c) in sp.iter_mut().zip(&grid.centres) {
            *o = spline_f32(((v - c) / grid.h).abs());
        }
    }
}

/// Fill the first `width` columns of n rows of stride `stride` with `v`.
fn fill_rows(dst: &mut [f32], stride: usize, v: &[f32]) {
    for row in dst.chunks_mut(stride) {
        row[..v.len()].copy_from_slice(v);
    }
}

/// The forward pass (lengths checked by `super::tkan_forward`).
pub fn tkan_forward_into(shape: &TkanShape, x: &[f32], w: TkanWeights<'_>, out: TkanStates<'_>) {
    let TkanShape { steps: st, batch: b, channels: ch, units: u, kan_units: k, base: kind, .. } = *shape;
    let (g, u3) = (4 * u, 3 * u);
    let grid = Grid::new(shape);
    let nb = grid.centres.len();
    let kb = k * nb;
    let rows = st * b;
    if rows == 0 {
        return;
    }
    let TkanStates { h, c, gates, s, phi, m } = out;
    // the input products of every step: gates[:, ..3U] = x·W + b, s = x·A_x + a
    fill_rows(gates, g, w.bias);
    fill_rows(s, k, w.kan_bias);
    let par = if rows * ch * (u3 + k) < INLINE_MACS { Parallelism::None } else { Parallelism::Rayon(pool::threads()) };
    let (gp, sp) = (SendPtr(gates.as_mut_ptr()), SendPtr(s.as_mut_ptr()));
    pool::install(|| {
        // SAFETY: gates holds rows·4U and s rows·K values, x rows·C (checked); the
        // destinations do not overlap the operands.
        unsafe {
            product_on(rows, u3, ch, gp.get(), g, true, x.as_ptr(), ch, 1, w.kernel.as_ptr(), u3, 1, par);
            product_on(rows, k, ch, sp.get(), k, true, x.as_ptr(), ch, 1, w.kan_kernel.as_ptr(), k, 1, par);
        }
    });
    let (hp, cp, php, mp) = (SendPtr(h.as_mut_ptr()), SendPtr(c.as_mut_ptr()), SendPtr(phi.as_mut_ptr()), SendPtr(m.as_mut_ptr()));
    let run = |(r0, r1): (usize, usize)| {
        let n = r1 - r0;
        let mut base = vec![0f32; n * k];
        let mut basis = vec![0f32; n * kb];
        for t in 0..st {
            let first = t * b + r0;
            let prev = if t > 0 { Some(first - b) } else { None };
            // SAFETY (this block): rows first..first+n of step t (and of step t-1) of
            // every state belong to this block; the states hold steps·batch rows
            // (checked); the destination of each product is a different array (or
            // another step's rows) than its operands.
            unsafe {
                let sr = sp.get().add(first * k);
                if let Some(p) = prev {
                    product(n, k, k, sr, k, true, mp.get().add(p * k), k, 1, w.kan_recurrent_kernel.as_ptr(), k, 1);
                }
                basis_rows(&grid, kind, std::slice::from_raw_parts(sr, n * k), &mut base, &mut basis);
                let phr = php.get().add(first * k);
                product(n, k, k, phr, k, false, base.as_ptr(), k, 1, w.base_kernel.as_ptr(), k, 1);
                product(n, k, kb, phr, k, true, basis.as_ptr(), kb, 1, w.spline_kernel.as_ptr(), k, 1);
                let mr = mp.get().add(first * k);
                let mrow = std::slice::from_raw_parts_mut(mr, n * k);
                fill_rows(mrow, k, w.memory_bias);
                product(n, k, k, mr, k, true, phr, k, 1, w.memory_kernel.as_ptr(), k, 1);
                if let Some(p) = prev {
                    product(n, k, k, mr, k, true, mp.get().add(p * k), k, 1, w.memory_recurrent_kernel.as_ptr(), k, 1);
                }
                for v in mrow.iter_mut() {
                    *v = tanh_f32(*v);
                }
                let gr = gp.get().add(first * g);
                for row in std::slice::from_raw_parts_mut(gr, n * g).chunks_exact_mut(g) {
                    row[u3..].copy_from_slice(w.output_bias);
                }
                product(n, u, k, gr.add(u3), g, true, phr, k, 1, w.output_kernel.as_ptr(), u, 1);
                if let Some(p) = prev {
                    product(n, u3, u, gr, g, true, hp.get().add(p * u), u, 1, w.recurrent_kernel.as_ptr(), u3, 1);
                }
                let gates = std::slice::from_raw_parts_mut(gr, n * g);
                let cr = std::slice::from_raw_parts_mut(cp.get().add(first * u), n * u);
                let hr = std::slice::from_raw_parts_mut(hp.get().add(first * u), n * u);
                let c_prev = prev.map(|p| std::slice::from_raw_parts(cp.get().add(p * u), n * u) as &[f32]);
                activate(gates, c_prev, cr, hr, u);
            }
        }
    };
    let bl = blocks(b);
    if bl.len() == 1 {
        run(bl[0]);
    } else {
        pool::install(|| bl.par_iter().for_each(|&blk| run(blk)));
    }
}

/// n rows of gates [n, 4U] from pre-activations to i, f, g, o; c = f ⊙ c_prev + i ⊙ g;
/// h = o ⊙ tanh c.
fn activate(gates: &mut [f32], c_prev: Option<&[f32]>, c: &mut [f32], h: &mut [f32], u: usize) {
    for (r, gr) in gates.chunks_exact_mut(4 * u).enumerate() {
        let (ifg, go) = gr.split_at_mut(2 * u);
        let (gg, og) = go.split_at_mut(u);
        for v in ifg.iter_mut().chain(og.iter_mut()) {
            *v = sigmoid(*v);
        }
        for v in gg.iter_mut() {
            *v = tanh_f32(*v);
        }
        let (ig, fg) = ifg.split_at(u);
        let (cr, hr) = (&mut c[r * u..(r + 1) * u], &mut h[r * u..(r + 1) * u]);
        for j in 0..u {
            let keep = c_prev.map_or(0.0, |p| fg[j] * p[r * u + j]);
            cr[j] = keep + ig[j] * gg[j];
            hr[j] = og[j] * tanh_f32(cr[j]);
        }
    }
}

/// Back-propagation through time (lengths checked by `super::tkan_backward`).
pub fn tkan_backward_into(shape: &TkanShape, saved: TkanSaved<'_>, w: TkanWeights<'_>, dh: &[f32], grads: TkanWeightGrads<'_>, dx: Option<&mut [f32]>) {
    let TkanShape { steps: st, batch: b, channels: ch, units: u, kan_units: k, base: kind, .. } = *shape;
    let (g, u3) = (4 * u, 3 * u);
    let grid = Grid::new(shape);
    let nb = grid.centres.len();
    let kb = k * nb;
    let rows = st * b;
    let TkanSaved { x, h, c, gates, s, phi, m } = saved;
    // every step's gradients of the pre-activations and the basis, for the GEMMs after the loop
    let mut dg = vec![0f32; rows * g];
    let mut ds = vec![0f32; rows * k];
    let mut dphi = vec![0f32; rows * k];
    let mut dmu = vec![0f32; rows * k];
    let mut base = vec![0f32; rows * k];
    let mut basis = vec![0f32; rows * kb];
    let (dgp, dsp, dphip, dmup, basep, basisp) =
        (SendPtr(dg.as_mut_ptr()), SendPtr(ds.as_mut_ptr()), SendPtr(dphi.as_mut_ptr()), SendPtr(dmu.as_mut_ptr()), SendPtr(base.as_mut_ptr()), SendPtr(basis.as_mut_ptr()));
    let run = |(r0, r1): (usize, usize)| {
        let n = r1 - r0;
        let mut dh_next = vec![0f32; n * u];
        let mut dc_next = vec![0f32; n * u];
        let mut dm_next = vec![0f32; n * k];
        let mut dbase = vec![0f32; n * k];
        let mut dbasis = vec![0f32; n * kb];
        for t in (0..st).rev() {
            let first = t * b + r0;
            // SAFETY (this block): rows first..first+n of step t of the gradient
            // buffers belong to this block (each holds steps·batch rows); the saved
            // arrays hold steps·batch rows (checked); destinations and operands of a
            // product are different arrays.
            unsafe {
                let dgr = std::slice::from_raw_parts_mut(dgp.get().add(first * g), n * g);
                let dmur = std::slice::from_raw_parts_mut(dmup.get().add(first * k), n * k);
                for r in 0..n {
                    let row = first + r;
                    let gr = &gates[row * g..(row + 1) * g];
                    let cr = &c[row * u..(row + 1) * u];
                    let dhr = &dh[row * u..(row + 1) * u];
                    let dzr = &mut dgr[r * g..(r + 1) * g];
                    for j in 0..u {
                        let (ig, fg, gg, og) = (gr[j], gr[u + j], gr[2 * u + j], gr[3 * u + j]);
                        let tc = tanh_f32(cr[j]);
                        let dhv = dhr[j] + dh_next[r * u + j];
                        let dc = dhv * og * (1.0 - tc * tc) + dc_next[r * u + j];
                        let c_prev = if t > 0 { c[(row - b) * u + j] } else { 0.0 };
                        dzr[j] = dc * gg * ig * (1.0 - ig);
                        dzr[u + j] = dc * c_prev * fg * (1.0 - fg);
                        dzr[2 * u + j] = dc * ig * (1.0 - gg * gg);
                        dzr[3 * u + j] = dhv * tc * og * (1.0 - og);
                        dc_next[r * u + j] = dc * fg;
                    }
                    let mr = &m[row * k..(row + 1) * k];
                    for q in 0..k {
                        dmur[r * k + q] = dm_next[r * k + q] * (1.0 - mr[q] * mr[q]);
                    }
                }
                // dφ = dμ̃·M_φᵀ + dz_o·W_oᵀ;  d base = dφ·Φ_bᵀ;  d basis = dφ·Φ_sᵀ
                let dphr = dphip.get().add(first * k);
                product(n, k, k, dphr, k, false, dmur.as_ptr(), k, 1, w.memory_kernel.as_ptr(), 1, k);
                product(n, k, u, dphr, k, true, dgr.as_ptr().add(u3), g, 1, w.output_kernel.as_ptr(), 1, u);
                product(n, k, k, dbase.as_mut_ptr(), k, false, dphr, k, 1, w.base_kernel.as_ptr(), 1, k);
                product(n, kb, k, dbasis.as_mut_ptr(), kb, false, dphr, k, 1, w.spline_kernel.as_ptr(), 1, k);
                // the basis at s (kept for dΦ_b, dΦ_s) and ds
                let sr = &s[first * k..(first + n) * k];
                let baser = std::slice::from_raw_parts_mut(basep.get().add(first * k), n * k);
                let basisr = std::slice::from_raw_parts_mut(basisp.get().add(first * kb), n * kb);
                basis_rows(&grid, kind, sr, baser, basisr);
                let dsr = std::slice::from_raw_parts_mut(dsp.get().add(first * k), n * k);
                let inv_h = 1.0 / grid.h;
                for (i, &v) in sr.iter().enumerate() {
                    let mut acc = dbase[i] * base_slope_f32(kind, v);
                    for (j, &cj) in grid.centres.iter().enumerate() {
                        let d = (v - cj) / grid.h;
                        // tfjs' |·| has slope −1 at 0, where N' is 0 anyway
                        let sign = if d > 0.0 { 1.0 } else { -1.0 };
                        acc += dbasis[i * nb + j] * spline_slope_f32(d.abs()) * sign * inv_h;
                    }
                    dsr[i] = acc;
                }
                if t > 0 {
                    // to the previous step: dm = ds·A_mᵀ + dμ̃·M_mᵀ, dh = dz·W_hᵀ
                    product(n, k, k, dm_next.as_mut_ptr(), k, false, dsr.as_ptr(), k, 1, w.kan_recurrent_kernel.as_ptr(), 1, k);
                    product(n, k, k, dm_next.as_mut_ptr(), k, true, dmur.as_ptr(), k, 1, w.memory_recurrent_kernel.as_ptr(), 1, k);
                    product(n, u, u3, dh_next.as_mut_ptr(), u, false, dgr.as_ptr(), g, 1, w.recurrent_kernel.as_ptr(), 1, u3);
                }
            }
        }
    };
    let bl = blocks(b);
    if bl.len() == 1 {
        run(bl[0]);
    } else if bl.len() > 1 {
        pool::install(|| bl.par_iter().for_each(|&blk| run(blk)));
    }
    weight_gradients(shape, &Grads { x, h, m, phi, dg: &dg, ds: &ds, dphi: &dphi, dmu: &dmu, base: &base, basis: &basis }, w, grads, dx, (u, k, kb, ch, rows));
}

/// What the GEMMs after the loop read: inputs and outputs of every step's products.
struct Grads<'a> {
    x: &'a [f32],
    h: &'a [f32],
    m: &'a [f32],
    phi: &'a [f32],
    dg: &'a [f32],
    ds: &'a [f32],
    dphi: &'a [f32],
    dmu: &'a [f32],
    base: &'a [f32],
    basis: &'a [f32],
}

type Job<'a> = Box<dyn FnOnce() + Send + 'a>;

/// dst [p, q] = Aᵀ·D over `r` rows: A [r, p] with row stride `a_rs`, D [r, q] with row
/// stride `d_rs` (both starting at the given offsets), as one GEMM; zeros when r = 0.
#[allow(clippy::too_many_arguments)]
fn at_d(dst: &mut [f32], p: usize, q: usize, r: usize, a: &[f32], a_rs: usize, d: &[f32], d_rs: usize) {
    debug_assert!(dst.len() == p * q);
    debug_assert!(r == 0 || (a.len() >= (r - 1) * a_rs + p && d.len() >= (r - 1) * d_rs + q));
    // SAFETY: the sizes and strides stay inside a and d (asserted by the callers' layout);
    // dst is a distinct mutable borrow.
    unsafe { product(p, q, r, dst.as_mut_ptr(), q, false, a.as_ptr(), 1, a_rs, d.as_ptr(), d_rs, 1) }
}

/// Column sums (f64) of `r` rows of stride `rs`: the first `dst.len()` columns of each row.
fn col_sums(dst: &mut [f32], src: &[f32], rs: usize, r: usize) {
    let mut acc = vec![0f64; dst.len()];
    for row in 0..r {
        for (a, &v) in acc.iter_mut().zip(&src[row * rs..row * rs + dst.len()]) {
            *a += v as f64;
        }
    }
    for (o, a) in dst.iter_mut().zip(acc) {
        *o = a as f32;
    }
}

/// The weight gradients and dx from every step's gradients: GEMMs over all rows, as
/// pool tasks (each writes its own output).
fn weight_gradients<'g>(shape: &TkanShape, v: &'g Grads<'g>, w: TkanWeights<'_>, grads: TkanWeightGrads<'_>, dx: Option<&mut [f32]>, dims: (usize, usize, usize, usize, usize)) {
    let (u, k, kb, ch, rows) = dims;
    let (g, u3, b) = (4 * u, 3 * u, shape.batch);
    // rows of steps 1.. against the states of steps ..T-1
    let shifted = rows.saturating_sub(b);
    fn skip(a: &[f32], rows: usize) -> &[f32] {
        &a[rows.min(a.len())..]
    }
    let later = |a: &'g [f32], width: usize| skip(a, if shifted > 0 { b * width } else { 0 });
    let TkanWeightGrads {
        kernel,
        recurrent_kernel,
        bias,
        kan_kernel,
        kan_recurrent_kernel,
        kan_bias,
        spline_kernel,
        base_kernel,
        memory_kernel,
        memory_recurrent_kernel,
        memory_bias,
        output_kernel,
        output_bias,
    } = grads;
    let mut jobs: Vec<Job<'_>> = vec![
        Box::new(move || at_d(kernel, ch, u3, rows, v.x, ch, v.dg, g)),
        Box::new(move || at_d(recurrent_kernel, u, u3, shifted, v.h, u, later(v.dg, g), g)),
        Box::new(move || at_d(kan_kernel, ch, k, rows, v.x, ch, v.ds, k)),
        Box::new(move || at_d(kan_recurrent_kernel, k, k, shifted, v.m, k, later(v.ds, k), k)),
        Box::new(move || at_d(spline_kernel, kb, k, rows, v.basis, kb, v.dphi, k)),
        Box::new(move || at_d(base_kernel, k, k, rows, v.base, k, v.dphi, k)),
        Box::new(move || at_d(memory_kernel, k, k, rows, v.phi, k, v.dmu, k)),
        Box::new(move || at_d(memory_recurrent_kernel, k, k, shifted, v.m, k, later(v.dmu, k), k)),
        Box::new(move || at_d(output_kernel, k, u, rows, v.phi, k, &v.dg[u3.min(v.dg.len())..], g)),
        Box::new(move || {
            col_sums(bias, v.dg, g, rows);
            col_sums(output_bias, &v.dg[u3.min(v.dg.len())..], g, rows);
            col_sums(kan_bias, v.ds, k, rows);
            col_sums(memory_bias, v.dmu, k, rows);
        }),
    ];
    if let Some(dx) = dx {
        // dx = dz·Wᵀ + ds·A_xᵀ, in row chunks
        let chunk = rows.div_ceil(pool::threads().max(1)).max(1);
        for (i, part) in dx.chunks_mut(chunk * ch.max(1)).enumerate() {
            let r0 = i * chunk;
            let n = if ch == 0 { 0 } else { part.len() / ch };
            jobs.push(Box::new(move || {
                // SAFETY: rows r0..r0+n of dg [rows, 4U] and ds [rows, K]; part is [n, C].
                unsafe {
                    product(n, ch, u3, part.as_mut_ptr(), ch, false, v.dg.as_ptr().add(r0 * g), g, 1, w.kernel.as_ptr(), 1, u3);
                    product(n, ch, k, part.as_mut_ptr(), ch, true, v.ds.as_ptr().add(r0 * k), k, 1, w.kan_kernel.as_ptr(), 1, k);
                }
            }));
        }
    }
    if rows * (ch + u + kb) * (u + k) < INLINE_MACS {
        for j in jobs {
            j();
        }
    } else {
        pool::install(|| jobs.into_par_iter().for_each(|j| j()));
    }
}

// ---- the specification -------------------------------------------------------------------

fn sig64(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

fn base64(kind: TkanBase, s: f64) -> f64 {
    match kind {
        TkanBase::Silu => s * sig64(s),
        TkanBase::Relu => s.max(0.0),
        TkanBase::Linear => s,
    }
}

fn base_slope64(kind: TkanBase, s: f64) -> f64 {
    match kind {
        TkanBase::Silu => sig64(s) * (1.0 + s * (1.0 - sig64(s))),
        TkanBase::Relu => (s > 0.0) as u8 as f64,
        TkanBase::Linear => 1.0,
    }
}

/// N(v) by its pieces: 2/3 − v² + |v|³/2 (|v| < 1), (2 − |v|)³/6 (1 ≤ |v| < 2), 0 else.
fn spline64(v: f64) -> f64 {
    let a = v.abs();
    if a < 1.0 {
        2.0 / 3.0 - a * a + a * a * a / 2.0
    } else if a < 2.0 {
        (2.0 - a).powi(3) / 6.0
    } else {
        0.0
    }
}

/// dN/dv by its pieces.
fn spline_slope64(v: f64) -> f64 {
    let a = v.abs();
    let d = if a < 1.0 {
        -2.0 * a + 1.5 * a * a
    } else if a < 2.0 {
        -(2.0 - a).powi(2) / 2.0
    } else {
        0.0
    };
    d * v.signum()
}

/// Every state of the reference forward pass, in f64 (layouts as the kernel's).
pub struct TkanReference {
    pub h: Vec<f64>,
    pub c: Vec<f64>,
    /// activated i, f, g, o
    pub gates: Vec<f64>,
    pub s: Vec<f64>,
    pub phi: Vec<f64>,
    pub m: Vec<f64>,
}

/// A weight as f64.
fn f64s(a: &[f32]) -> Vec<f64> {
    a.iter().map(|&v| v as f64).collect()
}

/// Forward, the specification: scalar loops in f64.
pub fn reference_forward(shape: &TkanShape, x: &[f32], w: TkanWeights<'_>) -> TkanReference {
    let TkanShape { steps: st, batch: b, channels: ch, units: u, kan_units: k, grid_size, grid_min, grid_max, base: kind } = *shape;
    let nb = grid_size + 3;
    let hg = (grid_max - grid_min) / grid_size as f64;
    let centre = |j: usize| grid_min + (j as f64 - 1.0) * hg;
    let (g, u3) = (4 * u, 3 * u);
    let rows = st * b;
    let mut r = TkanReference { h: vec![0.0; rows * u], c: vec![0.0; rows * u], gates: vec![0.0; rows * g], s: vec![0.0; rows * k], phi: vec![0.0; rows * k], m: vec![0.0; rows * k] };
    let (wk, wr, wb) = (f64s(w.kernel), f64s(w.recurrent_kernel), f64s(w.bias));
    let (ax, am, ab) = (f64s(w.kan_kernel), f64s(w.kan_recurrent_kernel), f64s(w.kan_bias));
    let (ps, pb) = (f64s(w.spline_kernel), f64s(w.base_kernel));
    let (mk, mm, mb) = (f64s(w.memory_kernel), f64s(w.memory_recurrent_kernel), f64s(w.memory_bias));
    let (ok, ob) = (f64s(w.output_kernel), f64s(w.output_bias));
    for t in 0..st {
        for q in 0..b {
            let row = t * b + q;
            let xr: Vec<f64> = x[row * ch..(row + 1) * ch].iter().map(|&v| v as f64).collect();
            let m_prev: Vec<f64> = if t > 0 { r.m[(row - b) * k..(row - b + 1) * k].to_vec() } else { vec![0.0; k] };
            let h_prev: Vec<f64> = if t > 0 { r.h[(row - b) * u..(row - b + 1) * u].to_vec() } else { vec![0.0; u] };
            for j in 0..k {
                r.s[row * k + j] = ab[j] + (0..ch).map(|i| xr[i] * ax[i * k + j]).sum::<f64>() + (0..k).map(|i| m_prev[i] * am[i * k + j]).sum::<f64>();
            }
            let sr = &r.s[row * k..(row + 1) * k];
            let bs: Vec<f64> = sr.iter().map(|&v| base64(kind, v)).collect();
            let sp: Vec<f64> = (0..k * nb).map(|p| spline64((sr[p / nb] - centre(p % nb)) / hg)).collect();
            for j in 0..k {
                r.phi[row * k + j] = (0..k).map(|i| bs[i] * pb[i * k + j]).sum::<f64>() + (0..k * nb).map(|p| sp[p] * ps[p * k + j]).sum::<f64>();
            }
            let ph = r.phi[row * k..(row + 1) * k].to_vec();
            for j in 0..k {
                r.m[row * k + j] = (mb[j] + (0..k).map(|i| ph[i] * mk[i * k + j]).sum::<f64>() + (0..k).map(|i| m_prev[i] * mm[i * k + j]).sum::<f64>()).tanh();
            }
            let z: Vec<f64> = (0..u3).map(|j| wb[j] + (0..ch).map(|i| xr[i] * wk[i * u3 + j]).sum::<f64>() + (0..u).map(|i| h_prev[i] * wr[i * u3 + j]).sum::<f64>()).collect();
            for j in 0..u {
                let (ig, fg, gg) = (sig64(z[j]), sig64(z[u + j]), z[2 * u + j].tanh());
                let og = sig64(ob[j] + (0..k).map(|i| ph[i] * ok[i * u + j]).sum::<f64>());
                let cp = if t > 0 { r.c[(row - b) * u + j] } else { 0.0 };
                let cv = fg * cp + ig * gg;
                r.c[row * u + j] = cv;
                r.h[row * u + j] = og * cv.tanh();
                for (i, v) in [ig, fg, gg, og].into_iter().enumerate() {
                    r.gates[row * g + i * u + j] = v;
                }
            }
        }
    }
    r
}

/// Backward, the specification: the f64 forward, then scalar back-propagation through
/// time. Returns the 13 weight gradients (in the order of `TkanShape::weight_layouts`)
/// and dx.
pub fn reference_backward(shape: &TkanShape, x: &[f32], w: TkanWeights<'_>, dh: &[f32]) -> (Vec<Vec<f64>>, Vec<f64>) {
    let TkanShape { steps: st, batch: b, channels: ch, units: u, kan_units: k, grid_size, grid_min, grid_max, base: kind } = *shape;
    let nb = grid_size + 3;
    let hg = (grid_max - grid_min) / grid_size as f64;
    let centre = |j: usize| grid_min + (j as f64 - 1.0) * hg;
    let (g, u3) = (4 * u, 3 * u);
    let f = reference_forward(shape, x, w);
    let (wk, wr) = (f64s(w.kernel), f64s(w.recurrent_kernel));
    let (ax, am) = (f64s(w.kan_kernel), f64s(w.kan_recurrent_kernel));
    let (ps, pb) = (f64s(w.spline_kernel), f64s(w.base_kernel));
    let (mk, mm) = (f64s(w.memory_kernel), f64s(w.memory_recurrent_kernel));
    let ok = f64s(w.output_kernel);
    let lens = shape.weight_layouts().expect("a valid shape").map(|(_, n, _)| n);
    let mut dw: Vec<Vec<f64>> = lens.iter().map(|&n| vec![0.0; n]).collect();
    let mut dx = vec![0.0; st * b * ch];
    let (mut dh_next, mut dc_next, mut dm_next) = (vec![0.0; b * u], vec![0.0; b * u], vec![0.0; b * k]);
    for t in (0..st).rev() {
        for q in 0..b {
            let row = t * b + q;
            let xr: Vec<f64> = x[row * ch..(row + 1) * ch].iter().map(|&v| v as f64).collect();
            let m_prev: Vec<f64> = if t > 0 { f.m[(row - b) * k..(row - b + 1) * k].to_vec() } else { vec![0.0; k] };
            let h_prev: Vec<f64> = if t > 0 { f.h[(row - b) * u..(row - b + 1) * u].to_vec() } else { vec![0.0; u] };
            let mut dz = vec![0.0; u3];
            let mut dzo = vec![0.0; u];
            for j in 0..u {
                let gv = |i: usize| f.gates[row * g + i * u + j];
                let (ig, fg, gg, og) = (gv(0), gv(1), gv(2), gv(3));
                let tc = f.c[row * u + j].tanh();
                let dhv = dh[row * u + j] as f64 + dh_next[q * u + j];
                let dc = dhv * og * (1.0 - tc * tc) + dc_next[q * u + j];
                let cp = if t > 0 { f.c[(row - b) * u + j] } else { 0.0 };
                dz[j] = dc * gg * ig * (1.0 - ig);
                dz[u + j] = dc * cp * fg * (1.0 - fg);
                dz[2 * u + j] = dc * ig * (1.0 - gg * gg);
                dzo[j] = dhv * tc * og * (1.0 - og);
                dc_next[q * u + j] = dc * fg;
            }
            let ph = &f.phi[row * k..(row + 1) * k];
            let sr = &f.s[row * k..(row + 1) * k];
            let dmu: Vec<f64> = (0..k).map(|j| dm_next[q * k + j] * (1.0 - f.m[row * k + j].powi(2))).collect();
            let dphi: Vec<f64> = (0..k).map(|i| (0..k).map(|j| dmu[j] * mk[i * k + j]).sum::<f64>() + (0..u).map(|j| dzo[j] * ok[i * u + j]).sum::<f64>()).collect();
            let mut ds = vec![0.0; k];
            for i in 0..k {
                let dbase: f64 = (0..k).map(|j| dphi[j] * pb[i * k + j]).sum();
                ds[i] = dbase * base_slope64(kind, sr[i]);
                for jb in 0..nb {
                    let p = i * nb + jb;
                    let dsp: f64 = (0..k).map(|j| dphi[j] * ps[p * k + j]).sum();
                    ds[i] += dsp * spline_slope64((sr[i] - centre(jb)) / hg) / hg;
                    for j in 0..k {
                        dw[6][p * k + j] += spline64((sr[i] - centre(jb)) / hg) * dphi[j];
                    }
                }
                for j in 0..k {
                    dw[7][i * k + j] += base64(kind, sr[i]) * dphi[j];
                }
            }
            // weights: kernel 0, recurrentKernel 1, bias 2, kanKernel 3, kanRecurrentKernel 4,
            // kanBias 5, splineKernel 6, baseKernel 7, memoryKernel 8, memoryRecurrentKernel 9,
            // memoryBias 10, outputKernel 11, outputBias 12
            for j in 0..u3 {
                dw[2][j] += dz[j];
                for i in 0..ch {
                    dw[0][i * u3 + j] += xr[i] * dz[j];
                }
                for i in 0..u {
                    dw[1][i * u3 + j] += h_prev[i] * dz[j];
                }
            }
            for j in 0..k {
                dw[5][j] += ds[j];
                dw[10][j] += dmu[j];
                for i in 0..ch {
                    dw[3][i * k + j] += xr[i] * ds[j];
                }
                for i in 0..k {
                    dw[4][i * k + j] += m_prev[i] * ds[j];
                    dw[8][i * k + j] += ph[i] * dmu[j];
                    dw[9][i * k + j] += m_prev[i] * dmu[j];
                }
            }
            for j in 0..u {
                dw[12][j] += dzo[j];
                for i in 0..k {
                    dw[11][i * u + j] += ph[i] * dzo[j];
                }
            }
            for i in 0..ch {
                dx[row * ch + i] = (0..u3).map(|j| dz[j] * wk[i * u3 + j]).sum::<f64>() + (0..k).map(|j| ds[j] * ax[i * k + j]).sum::<f64>();
            }
            for i in 0..u {
                dh_next[q * u + i] = (0..u3).map(|j| dz[j] * wr[i * u3 + j]).sum();
            }
            for i in 0..k {
                dm_next[q * k + i] = (0..k).map(|j| ds[j] * am[i * k + j]).sum::<f64>() + (0..k).map(|j| dmu[j] * mm[i * k + j]).sum::<f64>();
            }
        }
    }
    (dw, dx)
}
