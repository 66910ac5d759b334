//! cuBLAS for the ops' matrix products (feature `cuda`): one handle on the
//! shared stream, created at the first call that needs it, and row-major
//! SGEMM on device addresses.
//!
//! libcublas belongs to the CUDA toolkit, not to the driver: a machine can
//! run our kernels (driver only) and still lack it. cudarc loads it
//! dynamically (libcublas.so.13 and the other names cudarc tries, found
//! through the loader's search path, so LD_LIBRARY_PATH may name the folder
//! of a pip-installed `nvidia-cublas`); when it cannot, [`blas`] returns the
//! reason and the ops that need it (matmul, lstm) report
//! ERR_CUDA_UNAVAILABLE with it, while `auto` falls back to the CPU
//! (`device::resolve_blas`). The library is loaded only when an op or
//! `device::cublas_status` asks, never by `device::cuda_status`: it maps
//! several hundred MB.
//!
//! Row-major to column-major: a row-major [r, c] matrix with row stride ld is
//! the column-major [c, r] matrix with leading dimension ld, its transpose.
//! So row-major C = op(A)·op(B) is column-major Cᵀ = op(B)ᵀ·op(A)ᵀ: cuBLAS
//! gets B as its first operand and A as its second, m and n swapped, and the
//! same transpose flags ([`col_major`]; its test emulates the column-major
//! call on the CPU).
//!
//! Precision: the handle keeps CUBLAS_DEFAULT_MATH, i.e. plain f32 FMA
//! arithmetic (no TF32 tensor cores, which round the inputs to 10 mantissa
//! bits and would break parity with the CPU at 1e-4).

use std::sync::OnceLock;

use cudarc::cublas::sys::{cublasMath_t, cublasOperation_t};
use cudarc::cublas::{result as cublas, sys, CudaBlas};

use super::{gpu, Gpu};
use crate::error::{CoreError, CoreResult, ErrorCode};

static BLAS: OnceLock<Result<CudaBlas, String>> = OnceLock::new();

fn init(g: &Gpu) -> Result<CudaBlas, String> {
    // SAFETY: probing for the shared library has no preconditions.
    if !unsafe { sys::is_culib_present() } {
        return Err(
            "the cuBLAS library (libcublas.so.13, part of the CUDA toolkit, not of the driver) was not found; \
             put the folder that holds it on LD_LIBRARY_PATH (for a pip install: site-packages/nvidia/cu13/lib)"
                .into(),
        );
    }
    // cudarc panics on a missing symbol (a libcublas older than the API we bind).
    let r = std::panic::catch_unwind(|| -> Result<CudaBlas, String> {
        let b = CudaBlas::new(g.stream.clone()).map_err(|e| format!("cannot create a cuBLAS handle: {e:?}"))?;
        // SAFETY: the handle was just created and is not in use elsewhere.
        unsafe { sys::cublasSetMathMode(*b.handle(), cublasMath_t::CUBLAS_DEFAULT_MATH) }
            .result()
            .map_err(|e| format!("cannot set the cuBLAS math mode: {e:?}"))?;
        Ok(b)
    });
    match r {
        Ok(x) => x,
        Err(p) => Err(format!(
            "cuBLAS could not be initialised: {}",
            p.downcast_ref::<String>().cloned().or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string())).unwrap_or_default()
        )),
    }
}

/// The GPU and its cuBLAS handle, or why either is missing (cached after the
/// first call; the GPU's reason comes first).
pub fn blas() -> Result<(&'static Gpu, &'static CudaBlas), &'static str> {
    let g = gpu()?;
    match BLAS.get_or_init(|| init(g)) {
        Ok(b) => Ok((g, b)),
        Err(e) => Err(e.as_str()),
    }
}

fn blas_error(what: &str, e: impl std::fmt::Debug) -> CoreError {
    CoreError::new(ErrorCode::CudaUnavailable, format!("cuBLAS error during {what}: {e:?}"))
}

/// `n` as a cuBLAS int, or ERR_ARG naming the dimension.
pub(crate) fn int(name: &str, n: usize) -> CoreResult<i32> {
    i32::try_from(n).map_err(|_| CoreError::arg(name, format!("{n} is too large for one cuBLAS call (at most {})", i32::MAX)))
}

/// The product description shared with the LSTM's device plan.
pub(crate) use crate::matmul::RowMajor;

/// The column-major call computing a [`RowMajor`] product: cuBLAS's
/// (transa, transb, m, n, k, lda, ldb, ldc) with its first operand our B and
/// its second our A. Leading dimensions are at least 1, as cuBLAS requires
/// even when a dimension is 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ColMajor {
    pub trans_first: bool,
    pub trans_second: bool,
    pub m: usize,
    pub n: usize,
    pub k: usize,
    pub ld_first: usize,
    pub ld_second: usize,
    pub ldc: usize,
}

pub(crate) fn col_major(p: &RowMajor) -> ColMajor {
    ColMajor {
        trans_first: p.tb,
        trans_second: p.ta,
        m: p.n,
        n: p.m,
        k: p.k,
        ld_first: p.ldb.max(1),
        ld_second: p.lda.max(1),
        ldc: p.ldc.max(1),
    }
}

fn op(t: bool) -> cublasOperation_t {
    if t {
        cublasOperation_t::CUBLAS_OP_T
    } else {
        cublasOperation_t::CUBLAS_OP_N
    }
}

/// `C = op(A)·op(B) + beta·C` on device addresses (row-major, see
/// [`RowMajor`]), `batch` times with element strides `stride_a`, `stride_b`,
/// `stride_c` between the matrices (0 repeats one operand). Nothing is
/// launched when m or n is 0; k = 0 must be handled by the caller (the
/// product is then 0, and callers either skip an accumulation or zero C).
///
/// # Safety
/// Every element the sizes, strides and `batch` reach must lie in live
/// device allocations of f32 on this handle's context, and C must not
/// overlap A or B. The caller holds the GPU lock, with the context bound to
/// this thread.
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn sgemm(
    blas: &CudaBlas,
    p: &RowMajor,
    beta: f32,
    a: u64,
    b: u64,
    c: u64,
    batch: usize,
    (stride_a, stride_b, stride_c): (usize, usize, usize),
) -> CoreResult<()> {
    if p.m == 0 || p.n == 0 || batch == 0 {
        return Ok(());
    }
    if p.k == 0 {
        return Err(CoreError::arg("k", "a product over k = 0 must be handled by the caller"));
    }
    let q = col_major(p);
    let (m, n, k) = (int("n", q.m)?, int("m", q.n)?, int("k", q.k)?);
    let (ld1, ld2, ldc) = (int("ldb", q.ld_first)?, int("lda", q.ld_second)?, int("ldc", q.ldc)?);
    let alpha = 1.0f32;
    // SAFETY: see the function's contract; alpha and beta are host scalars
    // (the handle's default pointer mode).
    unsafe {
        if batch == 1 {
            cublas::sgemm(
                *blas.handle(),
                op(q.trans_first),
                op(q.trans_second),
                m,
                n,
                k,
                &alpha,
                b as *const f32,
                ld1,
                a as *const f32,
                ld2,
                &beta,
                c as *mut f32,
                ldc,
            )
            .map_err(|e| blas_error("sgemm", e))
        } else {
            cublas::sgemm_strided_batched(
                *blas.handle(),
                op(q.trans_first),
                op(q.trans_second),
                m,
                n,
                k,
                &alpha,
                b as *const f32,
                ld1,
                stride_b as i64,
                a as *const f32,
                ld2,
                stride_a as i64,
                &beta,
                c as *mut f32,
                ldc,
                stride_c as i64,
                int("batch", batch)?,
            )
            .map_err(|e| blas_error("sgemm_strided_batched", e))
        }
    }
}

/// Milliseconds of one dense row-major SGEMM [m, k]·[k, n] on device
/// arrays of random values (see `crate::cuda_timing`).
pub(crate) fn time_sgemm(m: usize, n: usize, k: usize, warmup: usize, reps: usize) -> CoreResult<Vec<f32>> {
    if m == 0 || n == 0 || k == 0 {
        return Err(CoreError::arg("k", "the timed product needs m, n, k ≥ 1"));
    }
    let (g, b) = blas().map_err(CoreError::cuda_unavailable)?;
    let _guard = g.lock.lock().unwrap_or_else(|p| p.into_inner());
    let s = &g.stream;
    s.context().bind_to_thread().map_err(super::e("bind context"))?;
    let da = super::upload(s, &super::random_f32(m * k, 1.0, 1), "copy a")?;
    let db = super::upload(s, &super::random_f32(k * n, 1.0, 2), "copy b")?;
    let dc = super::zeros::<f32>(s, m * n)?;
    let p = RowMajor::dense(m, n, k, false, false);
    let (pa, pb, pc) = (super::addr(&da, s), super::addr(&db, s), super::addr(&dc, s));
    // SAFETY: dense allocations of m·k, k·n and m·n floats; the lock is held.
    super::time_on_stream(g, warmup, reps, &mut || unsafe { sgemm(b, &p, 0.0, pa, pb, pc, 1, (0, 0, 0)) })
}

#[cfg(test)]
mod tests {
    use super::{col_major, RowMajor};

    /// What cuBLAS computes: column-major C = op(X)·op(Y) + beta·C, X the
    /// first operand, element (i, j) of a column-major matrix at i + j·ld.
    #[allow(clippy::too_many_arguments)]
    fn sgemm_col_major(tx: bool, ty: bool, m: usize, n: usize, k: usize, x: &[f32], ldx: usize, y: &[f32], ldy: usize, c: &mut [f32], ldc: usize) {
        for j in 0..n {
            for i in 0..m {
                let mut acc = 0f64;
                for p in 0..k {
                    let xv = if tx { x[p + i * ldx] } else { x[i + p * ldx] };
                    let yv = if ty { y[j + p * ldy] } else { y[p + j * ldy] };
                    acc += xv as f64 * yv as f64;
                }
                c[i + j * ldc] = acc as f32;
            }
        }
    }

    /// The mapping of `col_major` gives the row-major product for every
    /// transpose combination, with dense and with padded row strides.
    #[test]
    fn col_major_call_computes_the_row_major_product() {
        for (m, n, k) in [(1, 1, 1), (3, 5, 7), (17, 33, 65), (4, 1, 6)] {
            for ta in [false, true] {
                for tb in [false, true] {
                    for pad in [0, 3] {
                        let (ar, ac) = if ta { (k, m) } else { (m, k) };
                        let (br, bc) = if tb { (n, k) } else { (k, n) };
                        let p = RowMajor { m, n, k, ta, tb, lda: ac + pad, ldb: bc + pad, ldc: n + pad };
                        let a: Vec<f32> = (0..ar * p.lda).map(|i| ((i * 7) % 13) as f32 - 6.0).collect();
                        let b: Vec<f32> = (0..br * p.ldb).map(|i| ((i * 5) % 11) as f32 - 5.0).collect();
                        let q = col_major(&p);
                        let mut c = vec![0f32; m * p.ldc];
                        sgemm_col_major(q.trans_first, q.trans_second, q.m, q.n, q.k, &b, q.ld_first, &a, q.ld_second, &mut c, q.ldc);
                        for i in 0..m {
                            for j in 0..n {
                                let want: f32 = (0..k)
                                    .map(|s| {
                                        let x = if ta { a[s * p.lda + i] } else { a[i * p.lda + s] };
                                        let y = if tb { b[j * p.ldb + s] } else { b[s * p.ldb + j] };
                                        x * y
                                    })
                                    .sum();
                                assert_eq!(c[i * p.ldc + j], want, "{m}x{n}x{k} ta={ta} tb={tb} pad={pad} at ({i}, {j})");
                            }
                        }
                        let _ = (ar, bc);
                    }
                }
            }
        }
    }
}
