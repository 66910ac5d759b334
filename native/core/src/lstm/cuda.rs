//! The fused LSTM on CUDA (feature `cuda`): `steps.rs`'s plan executed with
//! cuBLAS products and the passes of kernels/lstm.cu ([`GpuExec`]); the
//! host-array launchers behind `lstm_forward_on` / `lstm_backward_on`; and
//! [`Trainer`], the device-resident training state behind
//! `DeviceLstmTrainer`.
//!
//! Cost of the host-array launchers: the inputs copied in, the plan (see
//! `steps.rs`), the outputs copied back (h, gates and c are 6·units floats a
//! row: for long sequences the copies cost about as much as the compute).
//! The trainer copies only x and dh in and h out per step.

use std::sync::MutexGuard;

use cudarc::cublas::CudaBlas;
use cudarc::driver::{CudaFunction, CudaSlice, LaunchConfig, PushKernelArg};

use super::steps::{self, Addr, BackwardAddrs, Exec, ForwardAddrs};
use super::{LstmGrads, LstmParams, LstmSaved, LstmShape, LstmSizes};
use crate::adam::{self, AdamOptions};
use crate::cuda::blas::{blas, int, sgemm, RowMajor};
use crate::cuda::{addr, e, grid_stride_cfg, upload, zeros, Gpu};
use crate::error::{CoreError, CoreResult};

/// Partial sums per column in the bias gradient's first pass (grid rows).
const SUM_PARTS: usize = 64;

/// The kernels of kernels/lstm.cu.
struct Kernels {
    fill_rows: CudaFunction,
    forward_step: CudaFunction,
    backward_step: CudaFunction,
    sums_partial: CudaFunction,
    sums_finish: CudaFunction,
}

impl Kernels {
    fn load(g: &Gpu) -> CoreResult<Self> {
        Ok(Kernels {
            fill_rows: g.function("lstm", "lstm_fill_rows")?,
            forward_step: g.function("lstm", "lstm_forward_step")?,
            backward_step: g.function("lstm", "lstm_backward_step")?,
            sums_partial: g.function("lstm", "lstm_column_sums_partial")?,
            sums_finish: g.function("lstm", "lstm_column_sums_finish")?,
        })
    }
}

/// [`Exec`] on the GPU: every operation is queued on the shared stream.
pub(super) struct GpuExec<'a> {
    g: &'a Gpu,
    blas: &'a CudaBlas,
    k: &'a Kernels,
    /// Address of [SUM_PARTS, 4·units] f64 for the partial column sums.
    partial: u64,
}

/// `batch · units` as the kernels' int arguments.
fn step_args(batch: usize, units: usize) -> CoreResult<(i32, i32)> {
    Ok((int("batch", batch)?, int("units", units)?))
}

impl Exec for GpuExec<'_> {
    unsafe fn gemm(&mut self, p: &RowMajor, beta: f32, a: Addr, b: Addr, c: Addr) -> CoreResult<()> {
        // SAFETY: the trait's contract (addresses hold what the sizes reach).
        unsafe { sgemm(self.blas, p, beta, a.0, b.0, c.0, 1, (0, 0, 0)) }
    }

    unsafe fn fill_rows(&mut self, dst: Addr, rows: usize, width: usize, row: Addr) -> CoreResult<()> {
        let (rows64, w32) = (rows as i64, int("units", width)?);
        let mut l = self.g.stream.launch_builder(&self.k.fill_rows);
        l.arg(&dst.0).arg(&rows64).arg(&w32).arg(&row.0);
        // SAFETY: matches lstm_fill_rows; sizes per the trait's contract.
        unsafe { l.launch(grid_stride_cfg(rows * width)) }.map_err(e("launch lstm_fill_rows"))?;
        Ok(())
    }

    unsafe fn zero(&mut self, dst: Addr, n: usize) -> CoreResult<()> {
        if n == 0 {
            return Ok(());
        }
        // SAFETY: dst holds n floats (the trait's contract); stream-ordered.
        unsafe { cudarc::driver::result::memset_d8_async(dst.0, 0, 4 * n, self.g.stream.cu_stream()) }.map_err(e("memset"))
    }

    unsafe fn forward_step(&mut self, gates: Addr, c_prev: Option<Addr>, c: Addr, h: Addr, batch: usize, units: usize) -> CoreResult<()> {
        let (b32, u32_) = step_args(batch, units)?;
        let (cp, has_prev) = (c_prev.unwrap_or(c).0, i32::from(c_prev.is_some()));
        let mut l = self.g.stream.launch_builder(&self.k.forward_step);
        l.arg(&gates.0).arg(&cp).arg(&has_prev).arg(&c.0).arg(&h.0).arg(&b32).arg(&u32_);
        // SAFETY: matches lstm_forward_step; sizes per the trait's contract.
        unsafe { l.launch(grid_stride_cfg(batch * units)) }.map_err(e("launch lstm_forward_step"))?;
        Ok(())
    }

    unsafe fn backward_step(&mut self, gates: Addr, c: Addr, c_prev: Option<Addr>, dh: Addr, dh_next: Addr, dc_next: Addr, dz: Addr, batch: usize, units: usize) -> CoreResult<()> {
        let (b32, u32_) = step_args(batch, units)?;
        let (cp, has_prev) = (c_prev.unwrap_or(c).0, i32::from(c_prev.is_some()));
        let mut l = self.g.stream.launch_builder(&self.k.backward_step);
        l.arg(&gates.0).arg(&c.0).arg(&cp).arg(&has_prev).arg(&dh.0).arg(&dh_next.0).arg(&dc_next.0).arg(&dz.0).arg(&b32).arg(&u32_);
        // SAFETY: matches lstm_backward_step; sizes per the trait's contract.
        unsafe { l.launch(grid_stride_cfg(batch * units)) }.map_err(e("launch lstm_backward_step"))?;
        Ok(())
    }

    unsafe fn column_sums(&mut self, x: Addr, rows: usize, cols: usize, out: Addr) -> CoreResult<()> {
        if cols == 0 {
            return Ok(());
        }
        let (rows64, c32, parts) = (rows as i64, int("units", cols)?, SUM_PARTS as i32);
        let pp = self.partial;
        let cfg = LaunchConfig { grid_dim: (cols.div_ceil(32) as u32, SUM_PARTS as u32, 1), block_dim: (32, 8, 1), shared_mem_bytes: 0 };
        let mut l = self.g.stream.launch_builder(&self.k.sums_partial);
        l.arg(&x.0).arg(&rows64).arg(&c32).arg(&pp);
        // SAFETY: matches lstm_column_sums_partial; partial holds SUM_PARTS·4u ≥ SUM_PARTS·cols doubles.
        unsafe { l.launch(cfg) }.map_err(e("launch lstm_column_sums_partial"))?;
        let mut l = self.g.stream.launch_builder(&self.k.sums_finish);
        l.arg(&pp).arg(&parts).arg(&c32).arg(&out.0);
        // SAFETY: matches lstm_column_sums_finish; out holds cols floats.
        unsafe { l.launch(grid_stride_cfg(cols)) }.map_err(e("launch lstm_column_sums_finish"))?;
        Ok(())
    }
}

/// Checks shared by every CUDA entry: the kernels' int arguments fit.
fn check_dims(shape: &LstmShape) -> CoreResult<()> {
    let rows = shape.steps.checked_mul(shape.batch).ok_or_else(|| CoreError::arg("batch", "steps·batch overflows"))?;
    int("batch", rows)?;
    int("channels", shape.channels)?;
    int("units", shape.units.checked_mul(4).ok_or_else(|| CoreError::arg("units", "4·units overflows"))?)?;
    Ok(())
}

/// The GPU, its cuBLAS handle and the lock held for a call, with the context bound.
fn acquire() -> CoreResult<(&'static Gpu, &'static CudaBlas, MutexGuard<'static, ()>)> {
    let (g, b) = blas().map_err(CoreError::cuda_unavailable)?;
    let guard = g.lock.lock().unwrap_or_else(|p| p.into_inner());
    g.stream.context().bind_to_thread().map_err(e("bind context"))?;
    Ok((g, b, guard))
}

/// Forward on host arrays (lengths checked by `super::lstm_forward_on`).
#[allow(clippy::too_many_arguments)]
pub(super) fn lstm_forward(shape: &LstmShape, x: &[f32], wx: &[f32], wh: &[f32], bias: &[f32], h: &mut [f32], gates: &mut [f32], c: &mut [f32]) -> CoreResult<()> {
    check_dims(shape)?;
    let (g, b, _guard) = acquire()?;
    let s = &g.stream;
    let (dx, dwx, dwh, dbias) = (upload(s, x, "copy x")?, upload(s, wx, "copy wx")?, upload(s, wh, "copy wh")?, upload(s, bias, "copy bias")?);
    let (dh, dgates, dc) = (zeros::<f32>(s, h.len())?, zeros::<f32>(s, gates.len())?, zeros::<f32>(s, c.len())?);
    let p = ForwardAddrs {
        x: Addr(addr(&dx, s)),
        wx: Addr(addr(&dwx, s)),
        wh: Addr(addr(&dwh, s)),
        bias: Addr(addr(&dbias, s)),
        h: Addr(addr(&dh, s)),
        gates: Addr(addr(&dgates, s)),
        c: Addr(addr(&dc, s)),
    };
    let k = Kernels::load(g)?;
    let mut ex = GpuExec { g, blas: b, k: &k, partial: 0 };
    // SAFETY: every buffer was allocated for this shape (lengths checked by
    // the caller), outputs are fresh allocations; the lock is held.
    unsafe { steps::forward(&mut ex, shape, &p) }?;
    for (dst, src) in [(h, &dh), (gates, &dgates), (c, &dc)] {
        if !dst.is_empty() {
            s.memcpy_dtoh(src, dst).map_err(e("copy back"))?;
        }
    }
    Ok(())
}

/// Backward on host arrays (lengths checked by `super::lstm_backward_on`).
pub(super) fn lstm_backward(shape: &LstmShape, saved: LstmSaved<'_>, dh: &[f32], grads: LstmGrads<'_>) -> CoreResult<()> {
    check_dims(shape)?;
    let (g, b, _guard) = acquire()?;
    let s = &g.stream;
    let up = |x: &[f32], what| upload(s, x, what);
    let (dx_in, dwx_in, dwh_in) = (up(saved.x, "copy x")?, up(saved.wx, "copy wx")?, up(saved.wh, "copy wh")?);
    let (dh_in, dgates, dc) = (up(saved.h, "copy h")?, up(saved.gates, "copy gates")?, up(saved.c, "copy c")?);
    let ddh = up(dh, "copy dh")?;
    let LstmGrads { dwx, dwh, dbias, dx } = grads;
    let (odwx, odwh, odb) = (zeros::<f32>(s, dwx.len())?, zeros::<f32>(s, dwh.len())?, zeros::<f32>(s, dbias.len())?);
    let odx = match &dx {
        Some(d) => Some(zeros::<f32>(s, d.len())?),
        None => None,
    };
    let bu = shape.batch * shape.units;
    let (dz, dh_next, dc_next) = (zeros::<f32>(s, saved.gates.len())?, zeros::<f32>(s, bu)?, zeros::<f32>(s, bu)?);
    let a = |x: &CudaSlice<f32>| Addr(addr(x, s));
    let p = BackwardAddrs {
        x: a(&dx_in),
        wx: a(&dwx_in),
        wh: a(&dwh_in),
        h: a(&dh_in),
        gates: a(&dgates),
        c: a(&dc),
        dh: a(&ddh),
        dwx: a(&odwx),
        dwh: a(&odwh),
        dbias: a(&odb),
        dx: odx.as_ref().map(a),
        dz: a(&dz),
        dh_next: a(&dh_next),
        dc_next: a(&dc_next),
    };
    let (k, partial) = (Kernels::load(g)?, zeros::<f64>(s, SUM_PARTS * 4 * shape.units)?);
    let mut ex = GpuExec { g, blas: b, k: &k, partial: addr(&partial, s) };
    // SAFETY: every buffer was allocated for this shape (lengths checked by
    // the caller), outputs and workspace are fresh allocations; the lock is held.
    unsafe { steps::backward(&mut ex, shape, &p) }?;
    let mut outs: Vec<(&mut [f32], &CudaSlice<f32>)> = vec![(dwx, &odwx), (dwh, &odwh), (dbias, &odb)];
    if let (Some(d), Some(o)) = (dx, odx.as_ref()) {
        outs.push((d, o));
    }
    for (dst, src) in outs {
        if !dst.is_empty() {
            s.memcpy_dtoh(src, dst).map_err(e("copy back"))?;
        }
    }
    Ok(())
}

/// Where the trainer is in its step: what the next call may be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// No forward on the current weights yet.
    Idle,
    /// h, gates and c hold the forward of the current weights.
    Forward,
    /// The gradients of that forward are ready for an update.
    Backward,
}

/// Device-resident LSTM training state (behind `super::DeviceLstmTrainer`):
/// parameters, gradients and Adam's moments each one device array laid out
/// [Wx | Wh | b], so that one Adam launch updates them all; the forward's
/// saved arrays and the backward's workspace allocated once for the shape.
pub(super) struct Trainer {
    shape: LstmShape,
    sizes: LstmSizes,
    opts: AdamOptions,
    /// Adam steps taken (adam.ts `step`).
    step: u64,
    phase: Phase,
    params: CudaSlice<f32>,
    grads: CudaSlice<f32>,
    m: CudaSlice<f32>,
    v: CudaSlice<f32>,
    x: CudaSlice<f32>,
    dh: CudaSlice<f32>,
    h: CudaSlice<f32>,
    gates: CudaSlice<f32>,
    c: CudaSlice<f32>,
    dz: CudaSlice<f32>,
    dh_next: CudaSlice<f32>,
    dc_next: CudaSlice<f32>,
    partial: CudaSlice<f64>,
    kernels: Kernels,
}

impl Trainer {
    pub(super) fn new(shape: &LstmShape, sizes: LstmSizes, init: &LstmParams, opts: &AdamOptions) -> CoreResult<Self> {
        check_dims(shape)?;
        let (g, _b, _guard) = acquire()?;
        let s = &g.stream;
        let n = sizes.wx + sizes.wh + sizes.bias;
        let mut packed = Vec::with_capacity(n);
        packed.extend_from_slice(&init.wx);
        packed.extend_from_slice(&init.wh);
        packed.extend_from_slice(&init.bias);
        let bu = shape.batch * shape.units;
        Ok(Trainer {
            shape: *shape,
            sizes,
            opts: *opts,
            step: 0,
            phase: Phase::Idle,
            params: upload(s, &packed, "copy weights")?,
            grads: zeros(s, n)?,
            m: zeros(s, n)?,
            v: zeros(s, n)?,
            x: zeros(s, sizes.x)?,
            dh: zeros(s, sizes.state)?,
            h: zeros(s, sizes.state)?,
            gates: zeros(s, sizes.gates)?,
            c: zeros(s, sizes.state)?,
            dz: zeros(s, sizes.gates)?,
            dh_next: zeros(s, bu)?,
            dc_next: zeros(s, bu)?,
            partial: zeros(s, SUM_PARTS * sizes.bias)?,
            kernels: Kernels::load(g)?,
        })
    }

    pub(super) fn steps_taken(&self) -> u64 {
        self.step
    }

    /// Offsets of Wx, Wh and b in the packed arrays.
    fn offsets(&self) -> (usize, usize) {
        (self.sizes.wx, self.sizes.wx + self.sizes.wh)
    }

    fn exec<'a>(&'a self, g: &'a Gpu, b: &'a CudaBlas) -> GpuExec<'a> {
        GpuExec { g, blas: b, k: &self.kernels, partial: addr(&self.partial, &g.stream) }
    }

    pub(super) fn forward(&mut self, x: &[f32]) -> CoreResult<()> {
        let (g, b, _guard) = acquire()?;
        let s = &g.stream;
        if !x.is_empty() {
            s.memcpy_htod(x, &mut self.x).map_err(e("copy x"))?;
        }
        let (owh, ob) = self.offsets();
        let w = Addr(addr(&self.params, s));
        let p = ForwardAddrs {
            x: Addr(addr(&self.x, s)),
            wx: w,
            wh: w.at(owh),
            bias: w.at(ob),
            h: Addr(addr(&self.h, s)),
            gates: Addr(addr(&self.gates, s)),
            c: Addr(addr(&self.c, s)),
        };
        let mut ex = self.exec(g, b);
        // SAFETY: the buffers were allocated for this shape in `new`; the lock is held.
        unsafe { steps::forward(&mut ex, &self.shape, &p) }?;
        self.phase = Phase::Forward;
        Ok(())
    }

    pub(super) fn read_h(&self, out: &mut [f32]) -> CoreResult<()> {
        let (g, _b, _guard) = acquire()?;
        if !out.is_empty() {
            g.stream.memcpy_dtoh(&self.h, out).map_err(e("copy h"))?;
        }
        Ok(())
    }

    pub(super) fn backward(&mut self, dh: &[f32]) -> CoreResult<()> {
        if self.phase == Phase::Idle {
            return Err(CoreError::arg("dh", "backward needs a forward on the current weights first"));
        }
        let (g, b, _guard) = acquire()?;
        let s = &g.stream;
        if !dh.is_empty() {
            s.memcpy_htod(dh, &mut self.dh).map_err(e("copy dh"))?;
        }
        let (owh, ob) = self.offsets();
        let (w, gr) = (Addr(addr(&self.params, s)), Addr(addr(&self.grads, s)));
        let a = |x: &CudaSlice<f32>| Addr(addr(x, s));
        let p = BackwardAddrs {
            x: a(&self.x),
            wx: w,
            wh: w.at(owh),
            h: a(&self.h),
            gates: a(&self.gates),
            c: a(&self.c),
            dh: a(&self.dh),
            dwx: gr,
            dwh: gr.at(owh),
            dbias: gr.at(ob),
            dx: None,
            dz: a(&self.dz),
            dh_next: a(&self.dh_next),
            dc_next: a(&self.dc_next),
        };
        let mut ex = self.exec(g, b);
        // SAFETY: the buffers were allocated for this shape in `new` (the
        // gradient's three parts are disjoint ranges of one array); the lock is held.
        unsafe { steps::backward(&mut ex, &self.shape, &p) }?;
        self.phase = Phase::Backward;
        Ok(())
    }

    pub(super) fn apply_adam(&mut self) -> CoreResult<()> {
        if self.phase != Phase::Backward {
            return Err(CoreError::arg("gradients", "an Adam update needs a backward pass on the current weights first"));
        }
        let (g, _b, _guard) = acquire()?;
        let s = &g.stream;
        let t = self.step + 1;
        let lr = adam::lr_t(&self.opts, t);
        let n = self.sizes.wx + self.sizes.wh + self.sizes.bias;
        let ptrs = (addr(&self.params, s), addr(&self.grads, s), addr(&self.m, s), addr(&self.v, s));
        // SAFETY: four distinct allocations of n floats; the lock is held.
        unsafe { adam::cuda::update_dev(g, &self.opts, lr, ptrs, n) }?;
        self.step = t;
        self.phase = Phase::Idle;
        Ok(())
    }

    /// One packed array [Wx | Wh | b] copied back and split.
    fn download(&self, which: &CudaSlice<f32>) -> CoreResult<LstmParams> {
        let (g, _b, _guard) = acquire()?;
        let n = self.sizes.wx + self.sizes.wh + self.sizes.bias;
        let mut all = vec![0f32; which.len()];
        g.stream.memcpy_dtoh(which, &mut all).map_err(e("copy back"))?;
        all.truncate(n);
        let (owh, ob) = self.offsets();
        Ok(LstmParams { wx: all[..owh].to_vec(), wh: all[owh..ob].to_vec(), bias: all[ob..].to_vec() })
    }

    pub(super) fn weights(&self) -> CoreResult<LstmParams> {
        self.download(&self.params)
    }

    pub(super) fn gradients(&self) -> CoreResult<LstmParams> {
        if self.phase != Phase::Backward {
            return Err(CoreError::arg("gradients", "no backward pass on the current weights"));
        }
        self.download(&self.grads)
    }

    pub(super) fn moments(&self) -> CoreResult<(LstmParams, LstmParams)> {
        Ok((self.download(&self.m)?, self.download(&self.v)?))
    }
}

/// Milliseconds of the forward and of the backward (weight gradients, no dx,
/// as in training) on device arrays of random values, per repetition (see
/// `crate::cuda_timing`).
pub(crate) fn time_forward_backward(shape: &LstmShape, warmup: usize, reps: usize) -> CoreResult<(Vec<f32>, Vec<f32>)> {
    check_dims(shape)?;
    let z = shape.sizes()?;
    let (g, b, _guard) = acquire()?;
    let s = &g.stream;
    let r = crate::cuda::random_f32;
    let up = |x: Vec<f32>, what| upload(s, &x, what);
    let (x, wx, wh, bias, dh) = (up(r(z.x, 1.0, 1), "copy x")?, up(r(z.wx, 0.3, 2), "copy wx")?, up(r(z.wh, 0.3, 3), "copy wh")?, up(r(z.bias, 0.1, 4), "copy bias")?, up(r(z.state, 1.0, 5), "copy dh")?);
    let (h, gates, c, dz) = (zeros::<f32>(s, z.state)?, zeros::<f32>(s, z.gates)?, zeros::<f32>(s, z.state)?, zeros::<f32>(s, z.gates)?);
    let (dwx, dwh, db) = (zeros::<f32>(s, z.wx)?, zeros::<f32>(s, z.wh)?, zeros::<f32>(s, z.bias)?);
    let bu = shape.batch * shape.units;
    let (dh_next, dc_next, partial) = (zeros::<f32>(s, bu)?, zeros::<f32>(s, bu)?, zeros::<f64>(s, SUM_PARTS * z.bias)?);
    let a = |v: &CudaSlice<f32>| Addr(addr(v, s));
    let fa = ForwardAddrs { x: a(&x), wx: a(&wx), wh: a(&wh), bias: a(&bias), h: a(&h), gates: a(&gates), c: a(&c) };
    let ba = BackwardAddrs {
        x: fa.x,
        wx: fa.wx,
        wh: fa.wh,
        h: fa.h,
        gates: fa.gates,
        c: fa.c,
        dh: a(&dh),
        dwx: a(&dwx),
        dwh: a(&dwh),
        dbias: a(&db),
        dx: None,
        dz: a(&dz),
        dh_next: a(&dh_next),
        dc_next: a(&dc_next),
    };
    let k = Kernels::load(g)?;
    let mut ex = GpuExec { g, blas: b, k: &k, partial: addr(&partial, s) };
    let (mut fwd, mut bwd) = (Vec::new(), Vec::new());
    for i in 0..warmup + reps {
        // SAFETY: every buffer was allocated for this shape above; the lock is held.
        let f = crate::cuda::time_on_stream(g, 0, 1, &mut || unsafe { steps::forward(&mut ex, shape, &fa) })?;
        let bk = crate::cuda::time_on_stream(g, 0, 1, &mut || unsafe { steps::backward(&mut ex, shape, &ba) })?;
        if i >= warmup {
            fwd.extend(f);
            bwd.extend(bk);
        }
    }
    Ok((fwd, bwd))
}
