//! attentionForwardF32 / attentionBackwardF32: the fused causal multi-head
//! attention (`sigvwap_core::attention`), one call forward and one backward,
//! behind the `causalAttention` op of src/ops.
//!
//! Sync only, like the backend kernels: the op runs inside a tfjs gradient
//! scope, whose kernels are synchronous; the inputs are the tensors' own typed
//! arrays and the caller allocates every output (no copy either way).
//! Packed arrays (see `packed.rs`), all Float32Array:
//!   params  = Wq [width, HK] | bq [HK] | Wk [width, HK] | Wv [width, HK] | bv [HK] | Wo [HK, units] | bo [units]
//!   saved   = Q | Kp | V | M [batch, time, HK] each | A [batch, heads, time, time]
//!   dparams = the gradients of params, in its order.
//!
//! Check order (errors name the argument): the shape options (ERR_ARG), that
//! no output shares memory with an input or an earlier output (ERR_ARG naming
//! the output), every length (ERR_SHAPE naming the array), the pool setting.

use napi::bindgen_prelude::Float32Array;
use napi_derive::napi;
use sigvwap_core::attention::{self, AttentionGrads, AttentionSavedRef, AttentionShape, AttentionSizes, AttentionState, AttentionWeights};
use sigvwap_core::{pool, CoreResult};

use crate::args;
use crate::errors::guarded;
use crate::outbuf::byte_range;
use crate::packed::{check_outputs_apart, split, split_mut};

#[napi(object)]
pub struct AttentionOptions {
    pub batch: f64,
    pub time: f64,
    pub width: f64,
    pub heads: f64,
    pub key_dim: f64,
    pub units: f64,
}

fn parse(o: &AttentionOptions) -> CoreResult<(AttentionShape, AttentionSizes)> {
    let shape = AttentionShape {
        batch: args::size("batch", o.batch)?,
        time: args::size("time", o.time)?,
        width: args::size("width", o.width)?,
        heads: args::size("heads", o.heads)?,
        key_dim: args::size("keyDim", o.key_dim)?,
        units: args::size("units", o.units)?,
    };
    let sizes = shape.sizes()?;
    Ok((shape, sizes))
}

fn param_parts(shape: &AttentionShape, s: &AttentionSizes) -> [(&'static str, usize); 7] {
    [("wq", s.w_in), ("bq", s.hk), ("wk", s.w_in), ("wv", s.w_in), ("bv", s.hk), ("wo", s.w_out), ("bo", shape.units)]
}

fn saved_parts(s: &AttentionSizes) -> [(&'static str, usize); 5] {
    [("q", s.proj), ("k", s.proj), ("v", s.proj), ("merged", s.proj), ("probs", s.probs)]
}

fn weights<'a>(w: &[&'a [f32]]) -> AttentionWeights<'a> {
    AttentionWeights { wq: w[0], bq: w[1], wk: w[2], wv: w[3], bv: w[4], wo: w[5], bo: w[6] }
}

/// Forward: writes y [batch, time, units] and saved; see sigvwap_core::attention.
#[napi(js_name = "attentionForwardF32")]
pub fn attention_forward_f32(x: Float32Array, params: Float32Array, mut y: Float32Array, mut saved: Float32Array, options: AttentionOptions) -> napi::Result<()> {
    guarded("attentionForwardF32", || {
        let (shape, sizes) = parse(&options)?;
        let r = |a: &[f32]| byte_range(a);
        check_outputs_apart(&[("x", r(&x)), ("params", r(&params))], &[("y", r(&y)), ("saved", r(&saved))])?;
        let w = weights(&split("params", &params, &param_parts(&shape, &sizes))?);
        // SAFETY: a sync call: no JavaScript runs while these slices alias the
        // outputs, which were just checked to be apart from each other and the inputs.
        let (y, saved): (&mut [f32], &mut [f32]) = unsafe { (y.as_mut(), saved.as_mut()) };
        let mut parts = split_mut("saved", saved, &saved_parts(&sizes))?.into_iter();
        let mut next = || parts.next().expect("five parts");
        let state = AttentionState { q: next(), k: next(), v: next(), merged: next(), probs: next() };
        pool::check()?;
        attention::attention_forward(&shape, &x, w, y, state)
    })
}

/// Backward of Σ dy ⊙ y: writes dparams and (when given) dx [batch, time, width].
#[napi(js_name = "attentionBackwardF32")]
pub fn attention_backward_f32(
    x: Float32Array,
    params: Float32Array,
    saved: Float32Array,
    dy: Float32Array,
    mut dparams: Float32Array,
    mut dx: Option<Float32Array>,
    options: AttentionOptions,
) -> napi::Result<()> {
    guarded("attentionBackwardF32", || {
        let (shape, sizes) = parse(&options)?;
        let r = |a: &[f32]| byte_range(a);
        let inputs = [("x", r(&x)), ("params", r(&params)), ("saved", r(&saved)), ("dy", r(&dy))];
        let outs: Vec<_> = [("dparams", r(&dparams))].into_iter().chain(dx.as_ref().map(|d| ("dx", r(d)))).collect();
        check_outputs_apart(&inputs, &outs)?;
        let w = weights(&split("params", &params, &param_parts(&shape, &sizes))?);
        let sv = split("saved", &saved, &saved_parts(&sizes))?;
        let saved_ref = AttentionSavedRef { q: sv[0], k: sv[1], v: sv[2], merged: sv[3], probs: sv[4] };
        // SAFETY: as in the forward: sync, and the outputs are apart from everything else.
        let dparams: &mut [f32] = unsafe { dparams.as_mut() };
        let dx: Option<&mut [f32]> = dx.as_mut().map(|d| unsafe { d.as_mut() });
        let mut g = split_mut("dparams", dparams, &param_parts(&shape, &sizes))?.into_iter();
        let mut next = || g.next().expect("seven parts");
        let grads = AttentionGrads { dwq: next(), dbq: next(), dwk: next(), dwv: next(), dbv: next(), dwo: next(), dbo: next(), dx };
        pool::check()?;
        attention::attention_backward(&shape, &x, w, saved_ref, &dy, grads)
    })
}
