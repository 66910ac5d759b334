//! The element-wise, copy and reduction kernels of the `sigvwap` tfjs backend
//! (`sigvwap_core::tensor`): binaryF32, unaryF32, stridedCopyF32, reduceF32,
//! softmaxF32. Sync only (tfjs kernels are synchronous); the caller's arrays
//! are read and `out` / `dst` written in place. Shapes, offsets and strides
//! cross as arrays of non-negative integers (ERR_ARG naming the argument
//! otherwise); lengths are checked against them (ERR_SHAPE naming the array);
//! `out` must not share memory with an input (ERR_ARG naming `out`).

use napi::bindgen_prelude::Float32Array;
use napi_derive::napi;
use sigvwap_core::tensor::{binary, reduce, strided, unary};
use sigvwap_core::{CoreError, CoreResult};

use crate::args;
use crate::errors::guarded;
use crate::matmul::check_disjoint;

fn sizes(name: &str, v: &[f64]) -> CoreResult<Vec<usize>> {
    v.iter()
        .map(|&x| args::size(name, x))
        .collect::<CoreResult<Vec<_>>>()
        .map_err(|e| CoreError::arg(name, format!("must hold non-negative integers: {}", e.message)))
}

/// out = a ∘ b with broadcasting; op is 'add', 'sub', 'mul', 'div', 'max' or 'min'.
#[napi(js_name = "binaryF32")]
pub fn binary_f32(op: String, a: Float32Array, a_shape: Vec<f64>, b: Float32Array, b_shape: Vec<f64>, mut out: Float32Array) -> napi::Result<()> {
    guarded("binaryF32", || {
        let op = binary::BinaryOp::parse(&op)?;
        let (sa, sb) = (sizes("aShape", &a_shape)?, sizes("bShape", &b_shape)?);
        binary::check(a.len(), &sa, b.len(), &sb, out.len())?;
        // SAFETY: a sync call: no JavaScript runs while this slice aliases `out`.
        let dst: &mut [f32] = unsafe { out.as_mut() };
        check_disjoint(dst, &[("a", &a[..]), ("b", &b[..])])?;
        binary::binary(op, &a, &sa, &b, &sb, dst)
    })
}

/// out = f(x); op is 'sigmoid', 'tanh', 'relu', 'exp', 'neg', 'abs' or 'square'.
#[napi(js_name = "unaryF32")]
pub fn unary_f32(op: String, x: Float32Array, mut out: Float32Array) -> napi::Result<()> {
    guarded("unaryF32", || {
        let op = unary::UnaryOp::parse(&op)?;
        // SAFETY: as above.
        let dst: &mut [f32] = unsafe { out.as_mut() };
        if dst.len() != x.len() {
            return Err(CoreError::shape("out", x.len(), dst.len(), "the length of x"));
        }
        check_disjoint(dst, &[("x", &x[..])])?;
        unary::unary(op, &x, dst)
    })
}

/// dst[dstOffset + Σ i·dstStrides] = src[srcOffset + Σ i·srcStrides] over `shape`.
#[napi(js_name = "stridedCopyF32")]
pub fn strided_copy_f32(
    shape: Vec<f64>,
    src: Float32Array,
    src_offset: f64,
    src_strides: Vec<f64>,
    mut dst: Float32Array,
    dst_offset: f64,
    dst_strides: Vec<f64>,
) -> napi::Result<()> {
    guarded("stridedCopyF32", || {
        let shape = sizes("shape", &shape)?;
        let sv = strided::View { offset: args::size("srcOffset", src_offset)?, strides: sizes("srcStrides", &src_strides)? };
        let dv = strided::View { offset: args::size("dstOffset", dst_offset)?, strides: sizes("dstStrides", &dst_strides)? };
        // SAFETY: as above.
        let d: &mut [f32] = unsafe { dst.as_mut() };
        strided::check(&shape, src.len(), &sv, d.len(), &dv)?;
        check_disjoint(d, &[("src", &src[..])]).map_err(|_| CoreError::arg("dst", "must not share memory with src"))?;
        strided::copy(&shape, &src, &sv, d, &dv)
    })
}

/// out[o, i] = op over j of x[o, j, i] for x viewed as [outer, n, inner]; op 'sum', 'mean' or 'max'.
#[napi(js_name = "reduceF32")]
pub fn reduce_f32(op: String, x: Float32Array, mut out: Float32Array, outer: f64, n: f64, inner: f64) -> napi::Result<()> {
    guarded("reduceF32", || {
        let op = reduce::ReduceOp::parse(&op)?;
        let (outer, n, inner) = (args::size("outer", outer)?, args::size("n", n)?, args::size("inner", inner)?);
        // SAFETY: as above.
        let dst: &mut [f32] = unsafe { out.as_mut() };
        reduce::check(x.len(), dst.len(), outer, n, inner)?;
        check_disjoint(dst, &[("x", &x[..])])?;
        reduce::reduce(op, &x, dst, outer, n, inner)
    })
}

/// Row softmax of x [rows, n].
#[napi(js_name = "softmaxF32")]
pub fn softmax_f32(x: Float32Array, mut out: Float32Array, rows: f64, n: f64) -> napi::Result<()> {
    guarded("softmaxF32", || {
        let (rows, n) = (args::size("rows", rows)?, args::size("n", n)?);
        // SAFETY: as above.
        let dst: &mut [f32] = unsafe { out.as_mut() };
        reduce::check(x.len(), rows, rows, n, 1)?;
        if dst.len() != x.len() {
            return Err(CoreError::shape("out", x.len(), dst.len(), &format!("[rows={rows}, n={n}]")));
        }
        check_disjoint(dst, &[("x", &x[..])])?;
        reduce::softmax(&x, dst, rows, n)
    })
}
