//! Launcher of kernels/adam.cu (feature `cuda`): the update on device arrays
//! ([`update_dev`], used by the device-resident trainer with no copy), and on
//! host arrays ([`adam_update`], which copies them in and back: for tests).

use cudarc::driver::PushKernelArg;

use super::AdamOptions;
use crate::cuda::{addr, e, gpu, grid_stride_cfg, upload, zeros, Gpu};
use crate::error::{CoreError, CoreResult};

/// One update of the `n` values at device addresses w, g, m, v.
///
/// # Safety
/// The four addresses must hold `n` f32 each on the GPU's context (w, m, v
/// not overlapping one another or g); the caller holds the GPU lock.
pub(crate) unsafe fn update_dev(g: &Gpu, o: &AdamOptions, lr_t: f64, (w, grad, m, v): (u64, u64, u64, u64), n: usize) -> CoreResult<()> {
    if n == 0 {
        return Ok(());
    }
    let f = g.function("adam", "adam_update_f32")?;
    let n64 = n as i64;
    let mut l = g.stream.launch_builder(&f);
    l.arg(&w).arg(&grad).arg(&m).arg(&v).arg(&n64).arg(&o.beta1).arg(&o.beta2).arg(&lr_t).arg(&o.epsilon);
    // SAFETY: the argument list matches adam_update_f32 in kernels/adam.cu;
    // the addresses hold n floats (the function's contract).
    unsafe { l.launch(grid_stride_cfg(n)) }.map_err(e("launch adam_update_f32"))?;
    Ok(())
}

/// [`update_dev`] on host arrays (lengths checked by the caller).
pub(super) fn adam_update(o: &AdamOptions, lr_t: f64, w: &mut [f32], grad: &[f32], m: &mut [f32], v: &mut [f32]) -> CoreResult<()> {
    let g = gpu().map_err(CoreError::cuda_unavailable)?;
    let _guard = g.lock.lock().unwrap_or_else(|p| p.into_inner());
    if w.is_empty() {
        return Ok(());
    }
    let s = &g.stream;
    let (dw, dg, dm, dv) = (upload(s, w, "copy w")?, upload(s, grad, "copy gradient")?, upload(s, m, "copy m")?, upload(s, v, "copy v")?);
    // SAFETY: four distinct allocations of w.len() floats; the lock is held.
    unsafe { update_dev(g, o, lr_t, (addr(&dw, s), addr(&dg, s), addr(&dm, s), addr(&dv, s)), w.len()) }?;
    s.memcpy_dtoh(&dw, w).map_err(e("copy back"))?;
    s.memcpy_dtoh(&dm, m).map_err(e("copy back"))?;
    s.memcpy_dtoh(&dv, v).map_err(e("copy back"))?;
    Ok(())
}

/// Milliseconds of one update of `n` parameters on device arrays (see `crate::cuda_timing`).
pub(crate) fn time_update(n: usize, warmup: usize, reps: usize) -> CoreResult<Vec<f32>> {
    let g = gpu().map_err(CoreError::cuda_unavailable)?;
    let _guard = g.lock.lock().unwrap_or_else(|p| p.into_inner());
    let s = &g.stream;
    let (w, grad) = (upload(s, &crate::cuda::random_f32(n, 1.0, 1), "copy w")?, upload(s, &crate::cuda::random_f32(n, 1.0, 2), "copy gradient")?);
    let (m, v) = (zeros::<f32>(s, n)?, zeros::<f32>(s, n)?);
    let o = AdamOptions::default();
    let ptrs = (addr(&w, s), addr(&grad, s), addr(&m, s), addr(&v, s));
    // SAFETY: four distinct allocations of n floats; the lock is held.
    crate::cuda::time_on_stream(g, warmup, reps, &mut || unsafe { update_dev(g, &o, super::lr_t(&o, 1), ptrs, n) })
}
