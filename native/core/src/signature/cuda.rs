//! Launchers of kernels/signature.cu (feature `cuda`): forward (chunked along
//! the length, combined with Chen's identity), stream and backward. Same
//! contract as the CPU code (`mod.rs`; `cpu.rs` is the spec): arguments are
//! validated by the same CPU checks before anything is copied to the device,
//! and results are written into the caller's slice.
//!
//! Cost: the path (and `gradOut`) copied to the device, the result copied
//! back; f64 workspaces of `siglen + d + 2·d^(m-1)` (forward, per thread) or
//! `3·siglen + 2·d + 2·d^(m-1)` (backward, per path) elements.

use cudarc::driver::PushKernelArg;

use super::options::{check_alloc, check_call, check_grad_finite, check_out_len, check_path_len, find_non_finite, Checked};
use super::{SigFloat, SigOptions};
use crate::cuda::{e, gpu, launch_cfg};
use crate::error::{CoreError, CoreResult};

/// Depth limit of the CUDA kernels (`MAX_DEPTH` in signature.cu).
pub const MAX_DEPTH: usize = 12;

/// What the kernels need beyond the CPU's argument checks (after `check_call`).
fn device_checks<T: SigFloat>(path: &[T], opts: &SigOptions) -> CoreResult<()> {
    if let Some(err) = find_non_finite(path, opts) {
        return Err(err);
    }
    if opts.depth > MAX_DEPTH {
        return Err(CoreError::arg("depth", format!("the CUDA kernels support depth <= {MAX_DEPTH}, got {}", opts.depth)));
    }
    if opts.batch > i32::MAX as usize / 4 || opts.length > i32::MAX as usize / 4 {
        return Err(CoreError::arg("batch", "too large for the CUDA kernels"));
    }
    Ok(())
}

fn half(opts: &SigOptions) -> usize {
    opts.channels.pow(opts.depth.saturating_sub(1).max(1) as u32)
}

/// Forward (or stream) on the GPU into `out` ([`super::output_len`] elements).
pub(super) fn signature_into<T: SigFloat>(path: &[T], opts: &SigOptions, out: &mut [T]) -> CoreResult<()> {
    let Checked { siglen, out_len, .. } = check_call(path, opts)?;
    check_out_len("out", out_len, out.len(), opts)?;
    device_checks(path, opts)?;
    let segs = opts.segments();
    if opts.batch == 0 || segs == 0 || out_len == 0 {
        out.fill(T::from_f64(0.0));
        return Ok(());
    }
    let g = gpu().map_err(CoreError::cuda_unavailable)?;
    let _guard = g.lock.lock().unwrap_or_else(|p| p.into_inner());
    let s = &g.stream;
    let (b64, len32, d32, m32, bp32) = (opts.batch as i64, opts.length as i32, opts.channels as i32, opts.depth as i32, opts.basepoint as i32);
    let dpath = s.clone_htod(path).map_err(e("copy path"))?;
    let mut dout = s.alloc_zeros::<T>(out_len).map_err(e("alloc output"))?;
    let per_thread = siglen + opts.channels + 2 * half(opts);
    if opts.stream {
        check_alloc("batch", per_thread * opts.batch, 8)?;
        let mut ws = s.alloc_zeros::<f64>(per_thread * opts.batch).map_err(e("alloc workspace"))?;
        let f = g.function("signature", &format!("sig_stream_{}", T::NAME))?;
        let mut l = s.launch_builder(&f);
        l.arg(&dpath).arg(&b64).arg(&len32).arg(&d32).arg(&m32).arg(&bp32).arg(&mut ws).arg(&mut dout);
        // SAFETY: the argument list matches sig_stream_* in signature.cu.
        unsafe { l.launch(launch_cfg(opts.batch)) }.map_err(e("launch stream"))?;
    } else {
        // Enough threads to fill the GPU, at least 8 segments each.
        let chunks = (32_768usize.div_ceil(opts.batch)).clamp(1, segs.div_ceil(8).max(1));
        let seg_per_chunk = segs.div_ceil(chunks);
        let threads = opts.batch * chunks;
        check_alloc("batch", per_thread * threads, 8)?;
        let mut ws = s.alloc_zeros::<f64>(per_thread * threads).map_err(e("alloc workspace"))?;
        let (c32, spc32) = (chunks as i32, seg_per_chunk as i32);
        let f = g.function("signature", &format!("sig_forward_chunks_{}", T::NAME))?;
        let mut l = s.launch_builder(&f);
        l.arg(&dpath).arg(&b64).arg(&len32).arg(&d32).arg(&m32).arg(&bp32).arg(&c32).arg(&spc32).arg(&mut ws);
        // SAFETY: the argument list matches sig_forward_chunks_* in signature.cu.
        unsafe { l.launch(launch_cfg(threads)) }.map_err(e("launch forward"))?;
        let f = g.function("signature", &format!("sig_combine_{}", T::NAME))?;
        let mut l = s.launch_builder(&f);
        l.arg(&b64).arg(&d32).arg(&m32).arg(&c32).arg(&ws).arg(&mut dout);
        // SAFETY: the argument list matches sig_combine_* in signature.cu.
        unsafe { l.launch(launch_cfg(opts.batch)) }.map_err(e("launch combine"))?;
    }
    s.memcpy_dtoh(&dout, out).map_err(e("copy back"))?;
    Ok(())
}

/// Backward on the GPU into `grad` ([`super::path_len`] elements; one thread
/// per path, reversible walk).
pub(super) fn signature_backward_into<T: SigFloat>(path: &[T], grad_out: &[T], opts: &SigOptions, grad: &mut [T]) -> CoreResult<()> {
    let Checked { siglen, out_len: want, path_len } = check_call(path, opts)?;
    check_path_len("grad", path_len, grad.len(), opts)?;
    device_checks(path, opts)?;
    if grad_out.len() != want {
        return Err(CoreError::shape("gradOut", want, grad_out.len(), "the shape of the forward output"));
    }
    check_grad_finite(grad_out, opts, siglen)?;
    if opts.batch == 0 || opts.segments() == 0 {
        grad.fill(T::from_f64(0.0));
        return Ok(());
    }
    let g = gpu().map_err(CoreError::cuda_unavailable)?;
    let _guard = g.lock.lock().unwrap_or_else(|p| p.into_inner());
    let s = &g.stream;
    let per_thread = 3 * siglen + 2 * opts.channels + 2 * half(opts);
    check_alloc("batch", per_thread * opts.batch, 8)?;
    let dpath = s.clone_htod(path).map_err(e("copy path"))?;
    let dgout = s.clone_htod(grad_out).map_err(e("copy gradOut"))?;
    let mut dgrad = s.alloc_zeros::<T>(path.len()).map_err(e("alloc grad"))?;
    let mut ws = s.alloc_zeros::<f64>(per_thread * opts.batch).map_err(e("alloc workspace"))?;
    let (b64, len32, d32, m32, bp32, st32) =
        (opts.batch as i64, opts.length as i32, opts.channels as i32, opts.depth as i32, opts.basepoint as i32, opts.stream as i32);
    let f = g.function("signature", &format!("sig_backward_{}", T::NAME))?;
    let mut l = s.launch_builder(&f);
    l.arg(&dpath).arg(&dgout).arg(&b64).arg(&len32).arg(&d32).arg(&m32).arg(&bp32).arg(&st32).arg(&mut ws).arg(&mut dgrad);
    // SAFETY: the argument list matches sig_backward_* in signature.cu.
    unsafe { l.launch(launch_cfg(opts.batch)) }.map_err(e("launch backward"))?;
    s.memcpy_dtoh(&dgrad, grad).map_err(e("copy back"))?;
    Ok(())
}
