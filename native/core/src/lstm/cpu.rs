//! CPU kernel of the fused LSTM (math and layout in `mod.rs`) and its plain
//! reference, the specification the tests compare it with.
//!
//! The kernel splits the batch into row blocks (one per pool thread, at least
//! [`MIN_BLOCK_ROWS`] rows) and carries each block through every step: per
//! step one product [rows, channels]·Wx and one [rows, units]·Wh into the
//! gate block (gemm, single-threaded inside a block), then the gates and
//! states row by row. Backward, per step in reverse: the gate gradients row by
//! row, then three products (xᵀ·dz and h_{t-1}ᵀ·dz accumulated into the
//! block's weight gradients, dz·Whᵀ for the previous step; dz·Wxᵀ when dx is
//! asked). Blocks write disjoint rows of the outputs, through raw pointers
//! because those rows interleave by step ([steps, batch, ·] layout).

use gemm::Parallelism;
use rayon::prelude::*;

use super::{LstmGrads, LstmSaved, LstmShape};
use crate::pool;

/// Smallest row block worth its own thread (smaller blocks make the products
/// inefficient and the pool's wake-up dominate).
pub const MIN_BLOCK_ROWS: usize = 32;

/// Row blocks [r0, r1) of a batch: about one per pool thread.
pub(crate) fn blocks(batch: usize) -> Vec<(usize, usize)> {
    if batch == 0 {
        return Vec::new();
    }
    let rows = batch.div_ceil(pool::threads().max(1)).max(MIN_BLOCK_ROWS);
    (0..batch).step_by(rows).map(|r0| (r0, (r0 + rows).min(batch))).collect()
}

/// A pointer that crosses to pool threads; each block touches only its own rows.
#[derive(Clone, Copy)]
pub(crate) struct SendPtr(pub(crate) *mut f32);
// SAFETY: the kernels below give every block a disjoint set of rows to write,
// and every thread finishes before the borrow the pointer came from ends
// (`pool::install` joins).
unsafe impl Send for SendPtr {}
unsafe impl Sync for SendPtr {}

impl SendPtr {
    /// The pointer (a method, so that closures capture the whole `SendPtr`, not its field).
    pub(crate) fn get(self) -> *mut f32 {
        self.0
    }
}

/// `dst[m×n] = (accumulate ? dst : 0) + A·B` for matrices given by strides
/// (element (i, j) of a matrix at `i·rs + j·cs`); single-threaded.
///
/// # Safety
/// Every element the sizes and strides reach must be valid, and `dst` must not
/// overlap `a` or `b`.
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn product(m: usize, n: usize, k: usize, dst: *mut f32, dst_rs: usize, accumulate: bool, a: *const f32, a_rs: usize, a_cs: usize, b: *const f32, b_rs: usize, b_cs: usize) {
    unsafe { product_on(m, n, k, dst, dst_rs, accumulate, a, a_rs, a_cs, b, b_rs, b_cs, Parallelism::None) }
}

/// As [`product`], split over the pool by `gemm` itself when `par` says so.
///
/// # Safety
/// As [`product`].
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn product_on(m: usize, n: usize, k: usize, dst: *mut f32, dst_rs: usize, accumulate: bool, a: *const f32, a_rs: usize, a_cs: usize, b: *const f32, b_rs: usize, b_cs: usize, par: Parallelism) {
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            for i in 0..m {
                unsafe { std::slice::from_raw_parts_mut(dst.add(i * dst_rs), n) }.fill(0.0);
            }
        }
        return;
    }
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst,
            1,
            dst_rs as isize,
            accumulate,
            a,
            a_cs as isize,
            a_rs as isize,
            b,
            b_cs as isize,
            b_rs as isize,
            if accumulate { 1.0 } else { 0.0 },
            1.0,
            false,
            false,
            false,
            par,
        );
    }
}

/// e^x in f32 without a libm call, so that the gate loops vectorize:
/// e^x = 2^n · e^r with n = round(x·log2 e) and r = x − n·ln 2 (|r| ≤ ln2/2,
/// formed with ln 2 split in two parts so that r keeps its bits: Cody–Waite),
/// e^r by its Taylor polynomial of degree 6 (error below 1.3e-7 there). x is
/// clamped to [-87, 88], where 2^n stays a normal f32: e^-87 ≈ 1.6e-38 and
/// e^88 ≈ 1.7e38 are what the gates need at the extremes (σ(±88) rounds to
/// 1 or 0 anyway). NaN propagates.
#[inline(always)]
fn exp_f32(x: f32) -> f32 {
    const LOG2_E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_359_4; // 8 significant bits: n·LN2_HI is exact
    const LN2_LO: f32 = -2.121_944_4e-4;
    // adding and subtracting 1.5·2^23 rounds to the nearest integer without a branch
    const ROUND: f32 = 12_582_912.0;
    let x = x.clamp(-87.0, 88.0);
    let n = (x * LOG2_E + ROUND) - ROUND;
    let r = (x - n * LN2_HI) - n * LN2_LO;
    let p = 1.0 + r * (1.0 + r * (0.5 + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0))))));
    f32::from_bits(((n as i32 + 127) as u32) << 23) * p
}

/// σ(z) = 1 / (1 + e^-z).
#[inline(always)]
pub(crate) fn sigmoid(z: f32) -> f32 {
    1.0 / (1.0 + exp_f32(-z))
}

/// tanh(z) = 2σ(2z) − 1 (absolute error about 1e-7 near 0, where it matters least).
#[inline(always)]
pub(crate) fn tanh_f32(z: f32) -> f32 {
    2.0 * sigmoid(2.0 * z) - 1.0
}

/// The forward pass (lengths checked by `super::lstm_forward`).
#[allow(clippy::too_many_arguments)]
pub fn lstm_forward_into(shape: &LstmShape, x: &[f32], wx: &[f32], wh: &[f32], bias: &[f32], h: &mut [f32], gates: &mut [f32], c: &mut [f32]) {
    let LstmShape { steps: s, batch: b, channels: ch, units: u } = *shape;
    let g = 4 * u;
    if s == 0 || b == 0 || u == 0 {
        return;
    }
    let (hp, gp, cp) = (SendPtr(h.as_mut_ptr()), SendPtr(gates.as_mut_ptr()), SendPtr(c.as_mut_ptr()));
    let isa = Isa::detect();
    let run = |(r0, r1): (usize, usize)| {
        let n = r1 - r0;
        for t in 0..s {
            let first = t * b + r0;
            // the pre-activations go straight into this step's gate rows (n·4u
            // values, cache-resident while the step runs): bias, + x_t·Wx, + h_{t-1}·Wh
            // SAFETY: rows first..first+n of step t of gates (and of step t-1 of h)
            // belong to this block; x holds steps·batch rows of ch values (checked).
            unsafe {
                let zr = std::slice::from_raw_parts_mut(gp.get().add(first * g), n * g);
                for row in zr.chunks_exact_mut(g) {
                    row.copy_from_slice(bias);
                }
                product(n, g, ch, zr.as_mut_ptr(), g, true, x.as_ptr().add(first * ch), ch, 1, wx.as_ptr(), g, 1);
                if t > 0 {
                    product(n, g, u, zr.as_mut_ptr(), g, true, hp.get().add((first - b) * u), u, 1, wh.as_ptr(), g, 1);
                }
            }
            // SAFETY: rows first..first+n of step t (and of step t-1 for c_prev)
            // belong to this block; h, gates and c hold steps·batch rows (checked).
            unsafe {
                let gr = std::slice::from_raw_parts_mut(gp.get().add(first * g), n * g);
                let cr = std::slice::from_raw_parts_mut(cp.get().add(first * u), n * u);
                let hr = std::slice::from_raw_parts_mut(hp.get().add(first * u), n * u);
                let c_prev = if t > 0 { Some(std::slice::from_raw_parts(cp.get().add((first - b) * u), n * u) as &[f32]) } else { None };
                activate(isa, gr, c_prev, cr, hr, u);
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

/// The vector instruction set the element-wise loops are compiled for,
/// detected at run time (the crate itself targets baseline x86-64).
#[derive(Clone, Copy)]
enum Isa {
    #[cfg(target_arch = "x86_64")]
    Avx512,
    #[cfg(target_arch = "x86_64")]
    Avx2,
    Base,
}

impl Isa {
    fn detect() -> Self {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f") && std::arch::is_x86_feature_detected!("avx512dq") {
                return Isa::Avx512;
            }
            if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
                return Isa::Avx2;
            }
        }
        Isa::Base
    }
}

/// Activate n rows in place: gates [n, 4u] from pre-activations to i, f, g, o;
/// c = f ⊙ c_prev + i ⊙ g (c_prev [n, u], none at the first step); h = o ⊙ tanh c.
/// Branch-free loops over contiguous slices, so that they vectorize.
#[inline(always)]
fn activate_body(gates: &mut [f32], c_prev: Option<&[f32]>, c: &mut [f32], h: &mut [f32], u: usize) {
    for (r, gr) in gates.chunks_exact_mut(4 * u).enumerate() {
        let (ifg, go) = gr.split_at_mut(2 * u);
        let (gg, og) = go.split_at_mut(u);
        for v in ifg.iter_mut() {
            *v = sigmoid(*v);
        }
        for v in og.iter_mut() {
            *v = sigmoid(*v);
        }
        for v in gg.iter_mut() {
            *v = tanh_f32(*v);
        }
        let (ig, fg) = ifg.split_at(u);
        let (cr, hr) = (&mut c[r * u..(r + 1) * u], &mut h[r * u..(r + 1) * u]);
        match c_prev {
            Some(p) => {
                let p = &p[r * u..(r + 1) * u];
                for j in 0..u {
                    cr[j] = fg[j] * p[j] + ig[j] * gg[j];
                }
            }
            None => {
                for j in 0..u {
                    cr[j] = ig[j] * gg[j];
                }
            }
        }
        for j in 0..u {
            hr[j] = og[j] * tanh_f32(cr[j]);
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512dq,avx2,fma")]
unsafe fn activate_avx512(gates: &mut [f32], c_prev: Option<&[f32]>, c: &mut [f32], h: &mut [f32], u: usize) {
    activate_body(gates, c_prev, c, h, u)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn activate_avx2(gates: &mut [f32], c_prev: Option<&[f32]>, c: &mut [f32], h: &mut [f32], u: usize) {
    activate_body(gates, c_prev, c, h, u)
}

fn activate(isa: Isa, gates: &mut [f32], c_prev: Option<&[f32]>, c: &mut [f32], h: &mut [f32], u: usize) {
    match isa {
        // SAFETY: `Isa::detect` found these features on this CPU.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => unsafe { activate_avx512(gates, c_prev, c, h, u) },
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => unsafe { activate_avx2(gates, c_prev, c, h, u) },
        Isa::Base => activate_body(gates, c_prev, c, h, u),
    }
}

/// One block's weight gradients: dWx [ch, g], dWh [u, g], db [g].
struct Partial {
    dwx: Vec<f32>,
    dwh: Vec<f32>,
    db: Vec<f64>,
}

/// Back-propagation through time (lengths checked by `super::lstm_backward`).
pub fn lstm_backward_into(shape: &LstmShape, saved: LstmSaved<'_>, dh: &[f32], grads: LstmGrads<'_>) {
    let LstmShape { steps: s, batch: b, channels: ch, units: u } = *shape;
    let g = 4 * u;
    let LstmGrads { dwx, dwh, dbias, dx } = grads;
    let want_dx = dx.is_some();
    let dxp = SendPtr(dx.map_or(std::ptr::null_mut(), |d| d.as_mut_ptr()));
    let LstmSaved { x, wx, wh, h, gates, c } = saved;
    let run = |(r0, r1): (usize, usize)| -> Partial {
        let n = r1 - r0;
        let mut p = Partial { dwx: vec![0f32; ch * g], dwh: vec![0f32; u * g], db: vec![0f64; g] };
        let mut dz = vec![0f32; n * g];
        let mut dh_next = vec![0f32; n * u];
        let mut dc_next = vec![0f32; n * u];
        for t in (0..s).rev() {
            for r in 0..n {
                let row = t * b + r0 + r;
                let gr = &gates[row * g..(row + 1) * g];
                let cr = &c[row * u..(row + 1) * u];
                let dhr = &dh[row * u..(row + 1) * u];
                let dzr = &mut dz[r * g..(r + 1) * g];
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
                for (acc, &d) in p.db.iter_mut().zip(dzr.iter()) {
                    *acc += d as f64;
                }
            }
            let xo = (t * b + r0) * ch;
            // SAFETY (all products): the saved arrays hold steps·batch rows (checked);
            // this block reads rows r0..r1 of step t (and t-1) and writes only its
            // own buffers and rows r0..r1 of dx at step t.
            unsafe {
                // dWx += x_tᵀ·dz: x_tᵀ is [ch, n] with element (i, q) at q·ch + i
                product(ch, g, n, p.dwx.as_mut_ptr(), g, true, x.as_ptr().add(xo), 1, ch, dz.as_ptr(), g, 1);
                if t > 0 {
                    product(u, g, n, p.dwh.as_mut_ptr(), g, true, h.as_ptr().add(((t - 1) * b + r0) * u), 1, u, dz.as_ptr(), g, 1);
                    // dh_{t-1} = dz·Whᵀ: Whᵀ is [g, u] with element (q, j) at j·g + q
                    product(n, u, g, dh_next.as_mut_ptr(), u, false, dz.as_ptr(), g, 1, wh.as_ptr(), 1, g);
                }
                if want_dx {
                    product(n, ch, g, dxp.get().add(xo), ch, false, dz.as_ptr(), g, 1, wx.as_ptr(), 1, g);
                }
            }
        }
        p
    };
    let bl = blocks(b);
    let parts: Vec<Partial> = if bl.len() <= 1 { bl.into_iter().map(run).collect() } else { pool::install(|| bl.par_iter().map(|&blk| run(blk)).collect()) };
    let sum = |out: &mut [f32], pick: &dyn Fn(&Partial) -> &[f32]| {
        for (i, o) in out.iter_mut().enumerate() {
            *o = parts.iter().map(|p| pick(p)[i] as f64).sum::<f64>() as f32;
        }
    };
    sum(dwx, &|p| &p.dwx);
    sum(dwh, &|p| &p.dwh);
    for (i, o) in dbias.iter_mut().enumerate() {
        *o = parts.iter().map(|p| p.db[i]).sum::<f64>() as f32;
    }
}

fn sig64(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// Forward, the specification: scalar loops, f64 sums and activations.
/// Returns (h, gates, c).
pub fn reference_forward(shape: &LstmShape, x: &[f32], wx: &[f32], wh: &[f32], bias: &[f32]) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let LstmShape { steps: s, batch: b, channels: ch, units: u } = *shape;
    let g = 4 * u;
    let (mut h, mut gates, mut c) = (vec![0f32; s * b * u], vec![0f32; s * b * g], vec![0f32; s * b * u]);
    let mut c64 = vec![0f64; s * b * u];
    for t in 0..s {
        for r in 0..b {
            let row = t * b + r;
            let mut z = vec![0f64; g];
            for (j, zj) in z.iter_mut().enumerate() {
                let mut acc = bias[j] as f64;
                for k in 0..ch {
                    acc += x[row * ch + k] as f64 * wx[k * g + j] as f64;
                }
                if t > 0 {
                    for k in 0..u {
                        acc += h[(row - b) * u + k] as f64 * wh[k * g + j] as f64;
                    }
                }
                *zj = acc;
            }
            for j in 0..u {
                let (ig, fg, gg, og) = (sig64(z[j]), sig64(z[u + j]), z[2 * u + j].tanh(), sig64(z[3 * u + j]));
                let cv = if t > 0 { fg * c64[(row - b) * u + j] } else { 0.0 } + ig * gg;
                c64[row * u + j] = cv;
                for (q, v) in [ig, fg, gg, og].into_iter().enumerate() {
                    gates[row * g + q * u + j] = v as f32;
                }
                c[row * u + j] = cv as f32;
                h[row * u + j] = (og * cv.tanh()) as f32;
            }
        }
    }
    (h, gates, c)
}

/// Backward, the specification: recomputes the forward in f64, then scalar
/// back-propagation through time. Returns (dwx, dwh, dbias, dx).
pub fn reference_backward(shape: &LstmShape, x: &[f32], wx: &[f32], wh: &[f32], bias: &[f32], dh: &[f32]) -> (Vec<f32>, Vec<f32>, Vec<f32>, Vec<f32>) {
    let LstmShape { steps: s, batch: b, channels: ch, units: u } = *shape;
    let g = 4 * u;
    let (h, gates, c) = reference_forward(shape, x, wx, wh, bias);
    let (mut dwx, mut dwh, mut db, mut dx) = (vec![0f64; ch * g], vec![0f64; u * g], vec![0f64; g], vec![0f32; s * b * ch]);
    let mut dh_next = vec![0f64; b * u];
    let mut dc_next = vec![0f64; b * u];
    for t in (0..s).rev() {
        for r in 0..b {
            let row = t * b + r;
            let mut dz = vec![0f64; g];
            for j in 0..u {
                let gv = |q: usize| gates[row * g + q * u + j] as f64;
                let (ig, fg, gg, og) = (gv(0), gv(1), gv(2), gv(3));
                let tc = (c[row * u + j] as f64).tanh();
                let dhv = dh[row * u + j] as f64 + dh_next[r * u + j];
                let dc = dhv * og * (1.0 - tc * tc) + dc_next[r * u + j];
                let c_prev = if t > 0 { c[(row - b) * u + j] as f64 } else { 0.0 };
                dz[j] = dc * gg * ig * (1.0 - ig);
                dz[u + j] = dc * c_prev * fg * (1.0 - fg);
                dz[2 * u + j] = dc * ig * (1.0 - gg * gg);
                dz[3 * u + j] = dhv * tc * og * (1.0 - og);
                dc_next[r * u + j] = dc * fg;
            }
            for j in 0..g {
                db[j] += dz[j];
                for k in 0..ch {
                    dwx[k * g + j] += x[row * ch + k] as f64 * dz[j];
                }
                if t > 0 {
                    for k in 0..u {
                        dwh[k * g + j] += h[(row - b) * u + k] as f64 * dz[j];
                    }
                }
            }
            for k in 0..ch {
                dx[row * ch + k] = (0..g).map(|j| dz[j] * wx[k * g + j] as f64).sum::<f64>() as f32;
            }
            for k in 0..u {
                dh_next[r * u + k] = if t > 0 { (0..g).map(|j| dz[j] * wh[k * g + j] as f64).sum() } else { 0.0 };
            }
        }
    }
    let f = |v: Vec<f64>| v.into_iter().map(|a| a as f32).collect();
    (f(dwx), f(dwh), f(db), dx)
}

#[cfg(test)]
mod tests {
    use super::{exp_f32, sigmoid, tanh_f32};

    #[test]
    fn exp_f32_is_within_3e_7_relative_of_f64_exp_on_its_range() {
        let mut worst = 0f64;
        let mut x = -87.0f64;
        while x <= 88.0 {
            let got = exp_f32(x as f32) as f64;
            let want = (x as f32 as f64).exp();
            worst = worst.max((got - want).abs() / want);
            x += 0.0137;
        }
        assert!(worst < 3e-7, "worst relative error {worst:e}");
        println!("exp_f32 worst relative error on [-87, 88]: {worst:e}");
    }

    #[test]
    fn activations_saturate_and_propagate_nan() {
        for (z, s, t) in [(1e30f32, 1.0f32, 1.0f32), (-1e30, 0.0, -1.0), (f32::INFINITY, 1.0, 1.0), (f32::NEG_INFINITY, 0.0, -1.0)] {
            assert!((sigmoid(z) - s).abs() < 1e-30 + 1e-7, "sigmoid({z}) = {}", sigmoid(z));
            assert!((tanh_f32(z) - t).abs() < 1e-7, "tanh({z}) = {}", tanh_f32(z));
        }
        assert!(sigmoid(f32::NAN).is_nan() && tanh_f32(f32::NAN).is_nan());
    }
}
