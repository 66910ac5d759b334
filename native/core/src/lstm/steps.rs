//! The fused LSTM as a sequence of device operations (math and layout in
//! `mod.rs`, `cpu.rs` is the spec): which products and element-wise passes
//! run, in what order, on which offsets of the arrays. Written once over an
//! executor ([`Exec`]): `cuda.rs` runs it on the GPU (products on cuBLAS,
//! passes as kernels/lstm.cu), and the test below runs it on a CPU
//! emulation of the same operations, so that the offsets, strides and
//! transposes are checked against the reference on every machine (the GPU's
//! own parity test, tests/lstm_cuda.rs, needs a GPU).
//!
//! Forward: gates = bias (every row), gates += x·Wx for all steps at once
//! (the input projection does not depend on the recurrence: one product of
//! steps·batch rows), then per step t: gates_t += h_{t-1}·Wh (t > 0) and one
//! pass that activates the gates and writes c_t and h_t.
//! Backward: per step t in reverse, one pass writing dz_t (kept for every
//! step) and the carried dc, then dh_{t-1} = dz_t·Whᵀ (t > 0); after the
//! loop, all-step products dWx = xᵀ·dz, dWh = h_{0..S-2}ᵀ·dz_{1..S-1},
//! dx = dz·Wxᵀ (when asked), and db = the column sums of dz (f64).
//! Cost: the products of `mod.rs` (forward 4U(C+U)·S·B multiply-adds,
//! backward about twice), S step passes each way, and a workspace of
//! dz [S·B, 4U] plus dh_next and dc_next [B, U].

use crate::error::CoreResult;
use crate::matmul::RowMajor;

use super::LstmShape;

/// A device address of f32 values; [`Addr::at`] moves by elements.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Addr(pub u64);

impl Addr {
    pub fn at(self, elements: usize) -> Addr {
        Addr(self.0 + 4 * elements as u64)
    }
}

/// The operations the LSTM needs from a device, in stream order.
///
/// # Safety (every method)
/// Each address must hold every element the sizes reach, and outputs must
/// not overlap inputs, except where a method says it works in place.
pub(crate) trait Exec {
    /// `C = op(A)·op(B) + beta·C` with k > 0.
    unsafe fn gemm(&mut self, p: &RowMajor, beta: f32, a: Addr, b: Addr, c: Addr) -> CoreResult<()>;
    /// Every one of `rows` rows of `dst` (width `width`) set to `row`.
    unsafe fn fill_rows(&mut self, dst: Addr, rows: usize, width: usize, row: Addr) -> CoreResult<()>;
    /// `n` zeros at `dst`.
    unsafe fn zero(&mut self, dst: Addr, n: usize) -> CoreResult<()>;
    /// One forward step for `batch` rows: gates [batch, 4u] from
    /// pre-activations to activations in place; c = f⊙c_prev + i⊙g (no
    /// c_prev at the first step); h = o⊙tanh c.
    unsafe fn forward_step(&mut self, gates: Addr, c_prev: Option<Addr>, c: Addr, h: Addr, batch: usize, units: usize) -> CoreResult<()>;
    /// One backward step (cpu.rs's row loop): dz [batch, 4u] from the saved
    /// gates and c (c_prev: none at step 0), the incoming dh and the dh_next
    /// from step t+1; dc_next updated in place.
    #[allow(clippy::too_many_arguments)]
    unsafe fn backward_step(&mut self, gates: Addr, c: Addr, c_prev: Option<Addr>, dh: Addr, dh_next: Addr, dc_next: Addr, dz: Addr, batch: usize, units: usize) -> CoreResult<()>;
    /// `out[j] = Σ_r x[r, j]` over `rows` rows of width `cols`, summed in f64.
    unsafe fn column_sums(&mut self, x: Addr, rows: usize, cols: usize, out: Addr) -> CoreResult<()>;
}

/// Addresses of a forward call: inputs, then outputs (lengths as `mod.rs`).
pub(crate) struct ForwardAddrs {
    pub x: Addr,
    pub wx: Addr,
    pub wh: Addr,
    pub bias: Addr,
    pub h: Addr,
    pub gates: Addr,
    pub c: Addr,
}

/// Addresses of a backward call: what the forward kept, the incoming
/// gradient, the outputs, and the workspace (dz [steps·batch, 4u], dh_next
/// and dc_next [batch, u]).
pub(crate) struct BackwardAddrs {
    pub x: Addr,
    pub wx: Addr,
    pub wh: Addr,
    pub h: Addr,
    pub gates: Addr,
    pub c: Addr,
    pub dh: Addr,
    pub dwx: Addr,
    pub dwh: Addr,
    pub dbias: Addr,
    pub dx: Option<Addr>,
    pub dz: Addr,
    pub dh_next: Addr,
    pub dc_next: Addr,
}

/// The forward pass: writes h, gates and c.
///
/// # Safety
/// The addresses hold the arrays of `shape` (see `mod.rs`), outputs apart from inputs.
pub(crate) unsafe fn forward<E: Exec>(ex: &mut E, shape: &LstmShape, p: &ForwardAddrs) -> CoreResult<()> {
    let LstmShape { steps: s, batch: b, channels: ch, units: u } = *shape;
    let g = 4 * u;
    let rows = s * b;
    if rows == 0 || u == 0 {
        return Ok(());
    }
    unsafe {
        ex.fill_rows(p.gates, rows, g, p.bias)?;
        if ch > 0 {
            ex.gemm(&RowMajor::dense(rows, g, ch, false, false), 1.0, p.x, p.wx, p.gates)?;
        }
        for t in 0..s {
            let gates_t = p.gates.at(t * b * g);
            if t > 0 {
                ex.gemm(&RowMajor::dense(b, g, u, false, false), 1.0, p.h.at((t - 1) * b * u), p.wh, gates_t)?;
            }
            let c_prev = (t > 0).then(|| p.c.at((t - 1) * b * u));
            ex.forward_step(gates_t, c_prev, p.c.at(t * b * u), p.h.at(t * b * u), b, u)?;
        }
    }
    Ok(())
}

/// Back-propagation through time: writes dwx, dwh, dbias and (when asked) dx.
///
/// # Safety
/// The addresses hold the arrays of `shape` and the workspace, outputs and
/// workspace apart from the inputs and one another.
pub(crate) unsafe fn backward<E: Exec>(ex: &mut E, shape: &LstmShape, p: &BackwardAddrs) -> CoreResult<()> {
    let LstmShape { steps: s, batch: b, channels: ch, units: u } = *shape;
    let g = 4 * u;
    let rows = s * b;
    unsafe {
        if rows == 0 || u == 0 {
            // no row contributes: zero gradients (dx, when asked, has no element or no column)
            ex.zero(p.dwx, ch * g)?;
            ex.zero(p.dwh, u * g)?;
            ex.zero(p.dbias, g)?;
            if let Some(dx) = p.dx {
                ex.zero(dx, rows * ch)?;
            }
            return Ok(());
        }
        ex.zero(p.dh_next, b * u)?;
        ex.zero(p.dc_next, b * u)?;
        for t in (0..s).rev() {
            let dz_t = p.dz.at(t * b * g);
            let c_prev = (t > 0).then(|| p.c.at((t - 1) * b * u));
            ex.backward_step(p.gates.at(t * b * g), p.c.at(t * b * u), c_prev, p.dh.at(t * b * u), p.dh_next, p.dc_next, dz_t, b, u)?;
            if t > 0 {
                // dh_{t-1} = dz_t·Whᵀ (Wh is stored [u, 4u]: the transpose of the [4u, u] operand)
                ex.gemm(&RowMajor::dense(b, u, g, false, true), 0.0, dz_t, p.wh, p.dh_next)?;
            }
        }
        if ch > 0 {
            // dWx = xᵀ·dz over all steps (x stored [rows, ch])
            ex.gemm(&RowMajor::dense(ch, g, rows, true, false), 0.0, p.x, p.dz, p.dwx)?;
        }
        if s > 1 {
            // dWh = Σ_{t≥1} h_{t-1}ᵀ·dz_t: h's first S-1 steps against dz's last S-1
            ex.gemm(&RowMajor::dense(u, g, (s - 1) * b, true, false), 0.0, p.h, p.dz.at(b * g), p.dwh)?;
        } else {
            ex.zero(p.dwh, u * g)?;
        }
        ex.column_sums(p.dz, rows, g, p.dbias)?;
        if let Some(dx) = p.dx {
            if ch > 0 {
                // dx = dz·Wxᵀ (Wx stored [ch, 4u])
                ex.gemm(&RowMajor::dense(rows, ch, g, false, true), 0.0, p.dz, p.wx, dx)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    //! The plan on a CPU emulation of the device operations (host addresses,
    //! plain loops mirroring kernels/lstm.cu) against cpu.rs's reference.
    use super::*;
    use crate::lstm::{reference_backward, reference_forward};

    struct Emu;

    unsafe fn slice<'a>(a: Addr, n: usize) -> &'a mut [f32] {
        unsafe { std::slice::from_raw_parts_mut(a.0 as *mut f32, n) }
    }

    fn sig(z: f32) -> f32 {
        1.0 / (1.0 + (-z).exp())
    }

    impl Exec for Emu {
        unsafe fn gemm(&mut self, p: &RowMajor, beta: f32, a: Addr, b: Addr, c: Addr) -> CoreResult<()> {
            assert!(p.k > 0);
            let (ar, br) = (if p.ta { p.k } else { p.m }, if p.tb { p.n } else { p.k });
            let (a, b) = unsafe { (slice(a, (ar - 1) * p.lda + if p.ta { p.m } else { p.k }), slice(b, (br - 1) * p.ldb + if p.tb { p.k } else { p.n })) };
            let c = unsafe { slice(c, (p.m - 1) * p.ldc + p.n) };
            for i in 0..p.m {
                for j in 0..p.n {
                    let mut acc = 0f32;
                    for q in 0..p.k {
                        let x = if p.ta { a[q * p.lda + i] } else { a[i * p.lda + q] };
                        let y = if p.tb { b[j * p.ldb + q] } else { b[q * p.ldb + j] };
                        acc += x * y;
                    }
                    let o = &mut c[i * p.ldc + j];
                    *o = acc + if beta == 0.0 { 0.0 } else { beta * *o };
                }
            }
            Ok(())
        }
        unsafe fn fill_rows(&mut self, dst: Addr, rows: usize, width: usize, row: Addr) -> CoreResult<()> {
            let (d, r) = unsafe { (slice(dst, rows * width), slice(row, width)) };
            d.chunks_exact_mut(width).for_each(|x| x.copy_from_slice(r));
            Ok(())
        }
        unsafe fn zero(&mut self, dst: Addr, n: usize) -> CoreResult<()> {
            if n > 0 {
                unsafe { slice(dst, n) }.fill(0.0);
            }
            Ok(())
        }
        unsafe fn forward_step(&mut self, gates: Addr, c_prev: Option<Addr>, c: Addr, h: Addr, batch: usize, u: usize) -> CoreResult<()> {
            let (gs, cs, hs) = unsafe { (slice(gates, batch * 4 * u), slice(c, batch * u), slice(h, batch * u)) };
            let cp = c_prev.map(|a| unsafe { slice(a, batch * u) });
            for i in 0..batch * u {
                let (r, j) = (i / u, i % u);
                let gr = &mut gs[r * 4 * u..(r + 1) * 4 * u];
                let (ig, fg, gg, og) = (sig(gr[j]), sig(gr[u + j]), gr[2 * u + j].tanh(), sig(gr[3 * u + j]));
                (gr[j], gr[u + j], gr[2 * u + j], gr[3 * u + j]) = (ig, fg, gg, og);
                let cv = match &cp {
                    Some(p) => fg * p[i] + ig * gg,
                    None => ig * gg,
                };
                cs[i] = cv;
                hs[i] = og * cv.tanh();
            }
            Ok(())
        }
        unsafe fn backward_step(&mut self, gates: Addr, c: Addr, c_prev: Option<Addr>, dh: Addr, dh_next: Addr, dc_next: Addr, dz: Addr, batch: usize, u: usize) -> CoreResult<()> {
            let (gs, cs, dhs, dhn, dcn, dzs) = unsafe { (slice(gates, batch * 4 * u), slice(c, batch * u), slice(dh, batch * u), slice(dh_next, batch * u), slice(dc_next, batch * u), slice(dz, batch * 4 * u)) };
            let cp = c_prev.map(|a| unsafe { slice(a, batch * u) });
            for i in 0..batch * u {
                let (r, j) = (i / u, i % u);
                let gr = &gs[r * 4 * u..(r + 1) * 4 * u];
                let (ig, fg, gg, og) = (gr[j], gr[u + j], gr[2 * u + j], gr[3 * u + j]);
                let tc = cs[i].tanh();
                let dhv = dhs[i] + dhn[i];
                let dc = dhv * og * (1.0 - tc * tc) + dcn[i];
                let cpv = cp.as_ref().map_or(0.0, |p| p[i]);
                let d = &mut dzs[r * 4 * u..(r + 1) * 4 * u];
                d[j] = dc * gg * ig * (1.0 - ig);
                d[u + j] = dc * cpv * fg * (1.0 - fg);
                d[2 * u + j] = dc * ig * (1.0 - gg * gg);
                d[3 * u + j] = dhv * tc * og * (1.0 - og);
                dcn[i] = dc * fg;
            }
            Ok(())
        }
        unsafe fn column_sums(&mut self, x: Addr, rows: usize, cols: usize, out: Addr) -> CoreResult<()> {
            let (xs, o) = unsafe { (slice(x, rows * cols), slice(out, cols)) };
            for (j, oj) in o.iter_mut().enumerate() {
                *oj = (0..rows).map(|r| xs[r * cols + j] as f64).sum::<f64>() as f32;
            }
            Ok(())
        }
    }

    fn rnd(n: usize, scale: f32, seed: u64) -> Vec<f32> {
        let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                ((s >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0) as f32 * scale
            })
            .collect()
    }

    /// The host address of `v` (the test allocates every array one element
    /// longer, so that an empty one still has a valid address).
    fn addr(v: &mut [f32]) -> Addr {
        Addr(v.as_mut_ptr() as u64)
    }

    fn close(name: &str, what: &str, got: &[f32], want: &[f32], tol: f64) {
        assert_eq!(got.len(), want.len(), "{name} {what}: length");
        for (i, (&a, &b)) in got.iter().zip(want).enumerate() {
            let err = (a as f64 - b as f64).abs() / (1.0 + (b as f64).abs());
            assert!(err <= tol, "{name} {what}[{i}]: plan {a}, reference {b} (error {err:.2e})");
        }
    }

    #[test]
    fn the_plan_on_an_emulated_device_matches_the_reference() {
        let shapes = [
            ("batch1-step1", LstmShape { steps: 1, batch: 1, channels: 3, units: 2 }),
            ("steps2", LstmShape { steps: 2, batch: 3, channels: 2, units: 3 }),
            ("odd-5x7x3x5", LstmShape { steps: 5, batch: 7, channels: 3, units: 5 }),
            ("no-channels", LstmShape { steps: 3, batch: 4, channels: 0, units: 3 }),
            ("unit1", LstmShape { steps: 4, batch: 2, channels: 2, units: 1 }),
            ("batch0", LstmShape { steps: 3, batch: 0, channels: 2, units: 3 }),
        ];
        for (name, s) in shapes {
            let z = s.sizes().unwrap();
            let (mut x, mut wx, mut wh, mut bias, mut dh) = (rnd(z.x + 1, 1.0, 1), rnd(z.wx + 1, 0.6, 2), rnd(z.wh + 1, 0.6, 3), rnd(z.bias + 1, 0.3, 4), rnd(z.state + 1, 1.0, 5));
            let (mut h, mut gates, mut c) = (vec![f32::NAN; z.state + 1], vec![f32::NAN; z.gates + 1], vec![f32::NAN; z.state + 1]);
            let fa = ForwardAddrs { x: addr(&mut x), wx: addr(&mut wx), wh: addr(&mut wh), bias: addr(&mut bias), h: addr(&mut h), gates: addr(&mut gates), c: addr(&mut c) };
            unsafe { forward(&mut Emu, &s, &fa) }.unwrap();
            let (rh, rg, rc) = reference_forward(&s, &x[..z.x], &wx[..z.wx], &wh[..z.wh], &bias[..z.bias]);
            close(name, "h", &h[..z.state], &rh, 1e-5);
            close(name, "gates", &gates[..z.gates], &rg, 1e-5);
            close(name, "c", &c[..z.state], &rc, 1e-5);
            let (mut dwx, mut dwh, mut db, mut dx) = (vec![f32::NAN; z.wx + 1], vec![f32::NAN; z.wh + 1], vec![f32::NAN; z.bias + 1], vec![f32::NAN; z.x + 1]);
            let (mut dz, mut dhn, mut dcn) = (vec![f32::NAN; z.gates + 1], vec![f32::NAN; s.batch * s.units + 1], vec![f32::NAN; s.batch * s.units + 1]);
            let ba = BackwardAddrs {
                x: fa.x,
                wx: fa.wx,
                wh: fa.wh,
                h: fa.h,
                gates: fa.gates,
                c: fa.c,
                dh: addr(&mut dh),
                dwx: addr(&mut dwx),
                dwh: addr(&mut dwh),
                dbias: addr(&mut db),
                dx: Some(addr(&mut dx)),
                dz: addr(&mut dz),
                dh_next: addr(&mut dhn),
                dc_next: addr(&mut dcn),
            };
            unsafe { backward(&mut Emu, &s, &ba) }.unwrap();
            let (rwx, rwh, rdb, rdx) = reference_backward(&s, &x[..z.x], &wx[..z.wx], &wh[..z.wh], &bias[..z.bias], &dh[..z.state]);
            close(name, "dwx", &dwx[..z.wx], &rwx, 1e-4);
            close(name, "dwh", &dwh[..z.wh], &rwh, 1e-4);
            close(name, "dbias", &db[..z.bias], &rdb, 1e-4);
            close(name, "dx", &dx[..z.x], &rdx, 1e-4);
        }
    }
}
