//! matmulF32: the batched f32 matrix product with a fused bias and activation
//! (`sigvwap_core::matmul`), the kernel behind the `sigvwap` tfjs backend's
//! MatMul / BatchMatMul / _FusedMatMul.
//!
//! Sync only, by design: a tfjs backend kernel is synchronous, and its inputs
//! are the tensors' own typed arrays, read and written in place (no copy).
//! The caller allocates `out` (the tensor storage the result becomes).
//!
//! Check order (errors name the argument): the options (sizes, activation),
//! then the lengths of a, b, bias and out (ERR_SHAPE), then that `out` shares
//! no memory with an input (ERR_ARG naming `out`), then the pool setting.

use napi::bindgen_prelude::Float32Array;
use napi_derive::napi;
use sigvwap_core::matmul::{self, Activation, MatmulShape};
use sigvwap_core::{pool, CoreError, CoreResult};

use crate::args;
use crate::errors::guarded;
use crate::outbuf::byte_range;

#[napi(object)]
pub struct MatmulOptions {
    /// Matrices in a (1 broadcasts).
    pub batch_a: f64,
    /// Matrices in b (1 broadcasts).
    pub batch_b: f64,
    /// Rows of op(a) and of the result.
    pub m: f64,
    /// Columns of op(a), rows of op(b).
    pub k: f64,
    /// Columns of op(b) and of the result.
    pub n: f64,
    /// a holds [batchA, k, m] (default false: [batchA, m, k]).
    pub transpose_a: Option<bool>,
    /// b holds [batchB, n, k] (default false: [batchB, k, n]).
    pub transpose_b: Option<bool>,
    /// 'linear' (default), 'relu', 'relu6', 'sigmoid', 'elu' or 'leakyrelu'.
    pub activation: Option<String>,
    /// Slope of 'leakyrelu' for x < 0 (default 0.2, as tfjs).
    pub leakyrelu_alpha: Option<f64>,
}

fn parse(o: &MatmulOptions) -> CoreResult<(MatmulShape, Activation)> {
    let shape = MatmulShape {
        batch_a: args::size("batchA", o.batch_a)?,
        batch_b: args::size("batchB", o.batch_b)?,
        m: args::size("m", o.m)?,
        k: args::size("k", o.k)?,
        n: args::size("n", o.n)?,
        transpose_a: o.transpose_a.unwrap_or(false),
        transpose_b: o.transpose_b.unwrap_or(false),
    };
    let act = Activation::parse(o.activation.as_deref().unwrap_or("linear"), o.leakyrelu_alpha)?;
    Ok((shape, act))
}

/// ERR_ARG naming `out` when it overlaps one of `inputs`.
pub fn check_disjoint(out: &[f32], inputs: &[(&str, &[f32])]) -> CoreResult<()> {
    let (s, e) = byte_range(out);
    for (name, x) in inputs {
        let (a, b) = byte_range(x);
        if s < b && a < e && s < e {
            return Err(CoreError::arg("out", format!("must not share memory with {name} (the kernel reads {name} while writing out)")));
        }
    }
    Ok(())
}

/// out = act(op(a)·op(b) + bias), batched; see sigvwap_core::matmul.
#[napi(js_name = "matmulF32")]
pub fn matmul_f32(a: Float32Array, b: Float32Array, mut out: Float32Array, options: MatmulOptions, bias: Option<Float32Array>) -> napi::Result<()> {
    guarded("matmulF32", || {
        let (shape, act) = parse(&options)?;
        let bias = bias.as_ref().map(|x| &x[..]);
        matmul::check(&shape, a.len(), b.len(), bias.map(<[f32]>::len), out.len())?;
        // SAFETY: a sync call: no JavaScript runs while this slice aliases `out`.
        let dst: &mut [f32] = unsafe { out.as_mut() };
        let mut inputs: Vec<(&str, &[f32])> = vec![("a", &a[..]), ("b", &b[..])];
        if let Some(c) = bias {
            inputs.push(("bias", c));
        }
        check_disjoint(dst, &inputs)?;
        pool::check()?;
        matmul::matmul(&a, &b, bias, act, &shape, dst)
    })
}
