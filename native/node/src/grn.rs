//! grnForwardF32 / grnBackwardF32: the fused gated residual network
//! (`sigvwap_core::grn`), one call forward and one backward over a stack of
//! S GRNs (`stack`, default 1), each over a block of rows, behind the `grnOp`
//! of src/ops.
//!
//! Sync only, like the backend kernels: the op runs inside a tfjs gradient
//! scope, whose kernels are synchronous; the inputs are the tensors' own typed
//! arrays and the caller allocates every output (no copy either way).
//! Packed arrays (see `packed.rs`), all Float32Array, each part with the
//! stack index first (S = `stack`; each part is the stacked tensor's data):
//!   x       [S, rows, in] → y [S, rows, u], dx [S, rows, in]
//!   params  = W1 [S, in, h] | b1 [S, h] | W2 [S, h, h] | b2 [S, h] | Wv [S, h, u] | bv [S, u]
//!             | Wg [S, h, u] | bg [S, u] | (Ws [S, in, u] | bs [S, u], only when in ≠ u)
//!             | γ [S, u] | β [S, u]
//!   saved   = η [S, rows, h] | e [S, rows, h] | a [S, rows, u] | g [S, rows, u] | n [S, rows, u]
//!             | r [S, rows]
//!   dparams = the gradients of params, in its order.
//!
//! Check order (errors name the argument): the shape options and epsilon
//! (ERR_ARG), that no output shares memory with an input or an earlier output
//! (ERR_ARG naming the output), every length (ERR_SHAPE naming the array), the
//! pool setting.

use napi::bindgen_prelude::Float32Array;
use napi_derive::napi;
use sigvwap_core::grn::{self, GrnGrads, GrnSavedRef, GrnShape, GrnSizes, GrnState, GrnWeights};
use sigvwap_core::{pool, CoreResult};

use crate::args;
use crate::errors::guarded;
use crate::outbuf::byte_range;
use crate::packed::{check_outputs_apart, split, split_mut};

#[napi(object)]
pub struct GrnOptions {
    /// GRNs in the stack, each with its own weights and rows (default 1)
    pub stack: Option<f64>,
    /// rows per GRN
    pub rows: f64,
    pub in_dim: f64,
    pub hidden: f64,
    pub units: f64,
    /// the LayerNorm's ε (forward only; the backward reads the saved 1/√(var + ε))
    pub epsilon: f64,
}

fn parse(o: &GrnOptions) -> CoreResult<(GrnShape, GrnSizes)> {
    let shape = GrnShape {
        stack: args::size("stack", o.stack.unwrap_or(1.0))?,
        rows: args::size("rows", o.rows)?,
        in_dim: args::size("inDim", o.in_dim)?, hidden: args::size("hidden", o.hidden)?, units: args::size("units", o.units)?,
    };
    let sizes = shape.sizes()?;
    Ok((shape, sizes))
}

fn param_parts(shape: &GrnShape, s: &GrnSizes) -> Vec<(&'static str, usize)> {
    let (h, u) = (s.hidden_vec, s.unit_vec);
    let mut p = vec![("w1", s.w1), ("b1", h), ("w2", s.w2), ("b2", h), ("wv", s.w_glu), ("bv", u), ("wg", s.w_glu), ("bg", u)];
    if shape.projects_skip() {
        p.extend([("ws", s.ws), ("bs", u)]);
    }
    p.extend([("gamma", u), ("beta", u)]);
    p
}

fn saved_parts(s: &GrnSizes) -> [(&'static str, usize); 6] {
    [("eta", s.hidden_rows), ("e", s.hidden_rows), ("a", s.unit_rows), ("g", s.unit_rows), ("n", s.unit_rows), ("rstd", s.stack_rows)]
}

fn weights<'a>(shape: &GrnShape, w: &[&'a [f32]]) -> GrnWeights<'a> {
    let p = shape.projects_skip();
    let o = if p { 2 } else { 0 };
    GrnWeights {
        w1: w[0],
        b1: w[1],
        w2: w[2],
        b2: w[3],
        wv: w[4],
        bv: w[5],
        wg: w[6],
        bg: w[7],
        ws: p.then(|| w[8]),
        bs: p.then(|| w[9]),
        gamma: w[8 + o],
        beta: w[9 + o],
    }
}

/// Forward: writes y [stack, rows, units] and saved; see sigvwap_core::grn.
#[napi(js_name = "grnForwardF32")]
pub fn grn_forward_f32(x: Float32Array, params: Float32Array, mut y: Float32Array, mut saved: Float32Array, options: GrnOptions) -> napi::Result<()> {
    guarded("grnForwardF32", || {
        let (shape, sizes) = parse(&options)?;
        let r = |a: &[f32]| byte_range(a);
        check_outputs_apart(&[("x", r(&x)), ("params", r(&params))], &[("y", r(&y)), ("saved", r(&saved))])?;
        let w = weights(&shape, &split("params", &params, &param_parts(&shape, &sizes))?);
        // SAFETY: a sync call: no JavaScript runs while these slices alias the
        // outputs, which were just checked to be apart from each other and the inputs.
        let (y, saved): (&mut [f32], &mut [f32]) = unsafe { (y.as_mut(), saved.as_mut()) };
        let mut parts = split_mut("saved", saved, &saved_parts(&sizes))?.into_iter();
        let mut next = || parts.next().expect("six parts");
        let state = GrnState { eta: next(), e: next(), a: next(), g: next(), n: next(), rstd: next() };
        pool::check()?;
        grn::grn_forward(&shape, &x, w, options.epsilon as f32, y, state)
    })
}

/// Backward of Σ dy ⊙ y: writes dparams and (when given) dx [stack, rows, in].
#[napi(js_name = "grnBackwardF32")]
pub fn grn_backward_f32(
    x: Float32Array,
    params: Float32Array,
    saved: Float32Array,
    dy: Float32Array,
    mut dparams: Float32Array,
    mut dx: Option<Float32Array>,
    options: GrnOptions,
) -> napi::Result<()> {
    guarded("grnBackwardF32", || {
        let (shape, sizes) = parse(&options)?;
        let r = |a: &[f32]| byte_range(a);
        let inputs = [("x", r(&x)), ("params", r(&params)), ("saved", r(&saved)), ("dy", r(&dy))];
        let outs: Vec<_> = [("dparams", r(&dparams))].into_iter().chain(dx.as_ref().map(|d| ("dx", r(d)))).collect();
        check_outputs_apart(&inputs, &outs)?;
        let w = weights(&shape, &split("params", &params, &param_parts(&shape, &sizes))?);
        let sv = split("saved", &saved, &saved_parts(&sizes))?;
        let saved_ref = GrnSavedRef { eta: sv[0], e: sv[1], a: sv[2], g: sv[3], n: sv[4], rstd: sv[5] };
        // SAFETY: as in the forward: sync, and the outputs are apart from everything else.
        let dparams: &mut [f32] = unsafe { dparams.as_mut() };
        let dx: Option<&mut [f32]> = dx.as_mut().map(|d| unsafe { d.as_mut() });
        let p = shape.projects_skip();
        let mut g = split_mut("dparams", dparams, &param_parts(&shape, &sizes))?.into_iter();
        let mut next = || g.next().expect("every part");
        let (dw1, db1, dw2, db2, dwv, dbv, dwg, dbg) = (next(), next(), next(), next(), next(), next(), next(), next());
        let (dws, dbs) = if p { (Some(next()), Some(next())) } else { (None, None) };
        let grads = GrnGrads { dw1, db1, dw2, db2, dwv, dbv, dwg, dbg, dws, dbs, dgamma: next(), dbeta: next(), dx };
        pool::check()?;
        grn::grn_backward(&shape, &x, w, saved_ref, &dy, grads)
    })
}
