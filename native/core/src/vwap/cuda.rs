//! Launchers of kernels/vwap.cu (feature `cuda`). Same contract as `cpu.rs`
//! (the spec): invalid rows are flagged by the kernel and re-validated on the
//! CPU so that errors are identical across devices; the mean is summed in the
//! CPU's `CHUNK` order.
//!
//! Kernels exist for all-f32 and all-f64 inputs: any other mix is widened to
//! f64 on the host first (exact), and an f32 gradient is then rounded from
//! the f64 one. Cost per call: the three inputs copied to the device, one
//! read of them per kernel (memory-bound), `per_order` and the gradient
//! copied back.

use std::borrow::Cow;

use cudarc::driver::PushKernelArg;

use super::cpu::{loss_of, vwap_loss as vwap_loss_cpu, zero_volume_error};
use super::{check_shapes, LossKind, VwapArgs, VwapLoss, ZeroVolumePolicy, CHUNK};
use crate::cuda::{e, gpu, launch_cfg};
use crate::error::{CoreError, CoreResult};
use crate::real::{Floats, FloatsMut, Real};

/// Forward on the GPU; with `grad` (alloc's shape) also the gradient.
pub(super) fn vwap_loss(a: Floats, p: Floats, v: Floats, args: &VwapArgs, grad: Option<FloatsMut>) -> CoreResult<VwapLoss> {
    match (a, p, v, grad) {
        (Floats::F32(a), Floats::F32(p), Floats::F32(v), None) => launch::<f32>(a, p, v, args, None),
        (Floats::F32(a), Floats::F32(p), Floats::F32(v), Some(FloatsMut::F32(g))) => launch(a, p, v, args, Some(g)),
        (a, p, v, grad) => {
            let (a, p, v) = (widen(a), widen(p), widen(v));
            match grad {
                None => launch::<f64>(&a, &p, &v, args, None),
                Some(FloatsMut::F64(g)) => launch(&a, &p, &v, args, Some(g)),
                Some(FloatsMut::F32(g)) => {
                    let mut wide = vec![0f64; g.len()];
                    let loss = launch(&a, &p, &v, args, Some(&mut wide))?;
                    g.iter_mut().zip(&wide).for_each(|(o, &x)| *o = x as f32);
                    Ok(loss)
                }
            }
        }
    }
}

/// `x` as f64 (borrowed when it already is).
fn widen(x: Floats<'_>) -> Cow<'_, [f64]> {
    match x {
        Floats::F32(s) => Cow::Owned(s.iter().map(|&v| v as f64).collect()),
        Floats::F64(s) => Cow::Borrowed(s),
    }
}

/// Forward, and with `grad` the gradient, with the kernels for `T`.
fn launch<T: Real>(a: &[T], p: &[T], v: &[T], args: &VwapArgs, grad: Option<&mut [T]>) -> CoreResult<VwapLoss> {
    check_shapes(args, a.len(), p.len(), v.len())?;
    if args.batch > u32::MAX as usize / 2 {
        return Err(CoreError::arg("batch", "too large for one CUDA launch"));
    }
    let g = gpu().map_err(CoreError::cuda_unavailable)?;
    let _guard = g.lock.lock().unwrap_or_else(|p| p.into_inner());
    let s = &g.stream;
    let (batch, h) = (args.batch, args.horizon);
    let da = s.clone_htod(a).map_err(e("copy alloc"))?;
    let dp = s.clone_htod(p).map_err(e("copy price"))?;
    let dv = s.clone_htod(v).map_err(e("copy volume"))?;
    let mut per = s.alloc_zeros::<f64>(batch.max(1)).map_err(e("alloc"))?;
    let mut flag = s.alloc_zeros::<i32>(batch.max(1)).map_err(e("alloc"))?;
    let (b64, h32) = (batch as i64, h as i32);
    if batch > 0 {
        let f = g.function("vwap", &format!("vwap_forward_{}", T::NAME))?;
        let mut l = s.launch_builder(&f);
        l.arg(&da).arg(&dp).arg(&dv).arg(&b64).arg(&h32).arg(&mut per).arg(&mut flag);
        // SAFETY: argument list matches the kernel signature in vwap.cu.
        unsafe { l.launch(launch_cfg(batch)) }.map_err(e("launch forward"))?;
    }
    let mut per_order = s.clone_dtoh(&per).map_err(e("copy back"))?;
    let flags = s.clone_dtoh(&flag).map_err(e("copy back"))?;
    per_order.truncate(batch);
    if flags.iter().take(batch).any(|&f| f == 2) {
        // Re-validate on the CPU: produces the exact error (lowest row first).
        vwap_loss_cpu(a, p, v, args)?;
    }
    if args.on_zero_volume == ZeroVolumePolicy::Error {
        if let Some(b) = flags.iter().take(batch).position(|&f| f == 1) {
            return Err(zero_volume_error(b));
        }
    }
    let mut out = VwapLoss { mean: 0.0, per_order, used: 0, skipped: 0 };
    let mut sum = 0.0;
    for (chunk, fl) in out.per_order.chunks(CHUNK).zip(flags.chunks(CHUNK)) {
        let mut part = 0.0;
        for (d, f) in chunk.iter().zip(fl) {
            if *f == 0 {
                part += loss_of(args.kind, *d);
                out.used += 1;
            } else {
                out.skipped += 1;
            }
        }
        sum += part;
    }
    out.mean = if out.used > 0 { sum / out.used as f64 } else { f64::NAN };
    if let Some(gout) = grad {
        if gout.len() != a.len() {
            return Err(CoreError::shape("grad", a.len(), gout.len(), "[batch, horizon]"));
        }
        if batch > 0 {
            let mut dg = s.alloc_zeros::<T>(a.len()).map_err(e("alloc"))?;
            let kind: i32 = if args.kind == LossKind::Abs { 0 } else { 1 };
            let scale = if out.used > 0 { 1.0 / out.used as f64 } else { 0.0 };
            let f = g.function("vwap", &format!("vwap_grad_{}", T::NAME))?;
            let mut l = s.launch_builder(&f);
            l.arg(&da).arg(&dp).arg(&dv).arg(&b64).arg(&h32).arg(&kind).arg(&scale).arg(&mut dg);
            // SAFETY: argument list matches the kernel signature in vwap.cu.
            unsafe { l.launch(launch_cfg(batch)) }.map_err(e("launch gradient"))?;
            s.memcpy_dtoh(&dg, gout).map_err(e("copy back"))?;
        }
    }
    Ok(out)
}
