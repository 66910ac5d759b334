//! cuBLAS launcher of the batched matrix product (feature `cuda`). Same
//! contract as `cpu.rs` (the spec): `out = act(op(A)·op(B) + bias)` per batch
//! entry, a batch of 1 broadcast (a cuBLAS stride of 0), then the epilogue
//! of kernels/matmul.cu when there is a bias or an activation.
//!
//! Cost per call: A, B (and bias) copied to the device, one SGEMM (strided
//! batched when batch > 1) of batch·m·n·k multiply-adds in f32 (no TF32, see
//! `cuda::blas`), the epilogue (one pass over out), out copied back. The
//! copies dominate below about 10⁸ multiply-adds; the device-resident LSTM
//! trainer (`lstm::DeviceLstmTrainer`) is what avoids them in training.

use cudarc::driver::PushKernelArg;

use super::{Activation, MatmulShape};
use crate::cuda::blas::{blas, int, sgemm, RowMajor};
use crate::cuda::{addr, e, grid_stride_cfg, upload, zeros};
use crate::error::{CoreError, CoreResult};

/// The kernel's activation code and slope (kernels/matmul.cu).
fn code(act: Activation) -> (i32, f32) {
    match act {
        Activation::Linear => (0, 0.0),
        Activation::Relu => (1, 0.0),
        Activation::Relu6 => (2, 0.0),
        Activation::Sigmoid => (3, 0.0),
        Activation::Elu => (4, 0.0),
        Activation::LeakyRelu(a) => (5, a),
    }
}

/// The product on the GPU; lengths were checked by `super::check` (`batch` from it).
pub(super) fn matmul(a: &[f32], b: &[f32], bias: Option<&[f32]>, act: Activation, s: &MatmulShape, batch: usize, out: &mut [f32]) -> CoreResult<()> {
    let (m, k, n) = (s.m, s.k, s.n);
    for (name, v) in [("m", m), ("k", k), ("n", n), ("batch", batch)] {
        int(name, v)?;
    }
    let (g, handle) = blas().map_err(CoreError::cuda_unavailable)?;
    let _guard = g.lock.lock().unwrap_or_else(|p| p.into_inner());
    if out.is_empty() {
        return Ok(());
    }
    let st = &g.stream;
    st.context().bind_to_thread().map_err(e("bind context"))?;
    let da = upload(st, a, "copy a")?;
    let db = upload(st, b, "copy b")?;
    let dout = zeros::<f32>(st, out.len())?;
    if k > 0 {
        let p = RowMajor::dense(m, n, k, s.transpose_a, s.transpose_b);
        let strides = (if s.batch_a == 1 { 0 } else { m * k }, if s.batch_b == 1 { 0 } else { k * n }, m * n);
        // SAFETY: A holds batch_a·m·k, B batch_b·k·n and out batch·m·n floats
        // (checked by `super::check`), which the dense strides and the batch
        // (broadcast operands at stride 0) stay inside; out is a fresh
        // allocation; the lock is held and the context bound.
        unsafe { sgemm(handle, &p, 0.0, addr(&da, st), addr(&db, st), addr(&dout, st), batch, strides) }?;
    }
    // k = 0: the product is 0, which the zeroed allocation already holds
    let (act_code, alpha) = code(act);
    if bias.is_some() || act_code != 0 {
        let dbias = upload(st, bias.unwrap_or(&[]), "copy bias")?;
        let f = g.function("matmul", "matmul_epilogue")?;
        let (rows, n32, has_bias) = ((batch * m) as i64, n as i32, i32::from(bias.is_some()));
        let pout = addr(&dout, st);
        let mut l = st.launch_builder(&f);
        l.arg(&pout).arg(&rows).arg(&n32).arg(&dbias).arg(&has_bias).arg(&act_code).arg(&alpha);
        // SAFETY: the argument list matches matmul_epilogue in kernels/matmul.cu;
        // out holds rows·n floats and bias n (or is not read).
        unsafe { l.launch(grid_stride_cfg(out.len())) }.map_err(e("launch matmul_epilogue"))?;
    }
    st.memcpy_dtoh(&dout, out).map_err(e("copy back"))?;
    Ok(())
}
