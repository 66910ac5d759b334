//! lstmForwardF32 / lstmBackwardF32: the fused LSTM (`sigvwap_core::lstm`),
//! one call for a whole sequence forward and one for its back-propagation
//! through time, behind the `lstmSequence` op of src/ops.
//!
//! Sync only, like the backend kernels: the op runs inside a tfjs gradient
//! scope, whose kernels are synchronous; the inputs are the tensors' own typed
//! arrays and the caller allocates every output (no copy either way).
//!
//! Check order (errors name the argument): the shape options (ERR_ARG), that
//! no output shares memory with an input or an earlier output (ERR_ARG naming
//! the output), every length (ERR_SHAPE naming the array), the pool setting.

use napi::bindgen_prelude::Float32Array;
use napi_derive::napi;
use sigvwap_core::lstm::{self, LstmGrads, LstmSaved, LstmShape};
use sigvwap_core::{pool, CoreResult};

use crate::args;
use crate::errors::guarded;
use crate::outbuf::byte_range;
use crate::packed::check_outputs_apart;

#[napi(object)]
pub struct LstmOptions {
    pub steps: f64,
    pub batch: f64,
    pub channels: f64,
    pub units: f64,
}

fn parse(o: &LstmOptions) -> CoreResult<LstmShape> {
    Ok(LstmShape {
        steps: args::size("steps", o.steps)?,
        batch: args::size("batch", o.batch)?,
        channels: args::size("channels", o.channels)?,
        units: args::size("units", o.units)?,
    })
}

/// Forward: writes h, gates and c [steps, batch, ·]; see sigvwap_core::lstm.
#[napi(js_name = "lstmForwardF32")]
#[allow(clippy::too_many_arguments)]
pub fn lstm_forward_f32(
    x: Float32Array,
    wx: Float32Array,
    wh: Float32Array,
    bias: Float32Array,
    mut h: Float32Array,
    mut gates: Float32Array,
    mut c: Float32Array,
    options: LstmOptions,
) -> napi::Result<()> {
    guarded("lstmForwardF32", || {
        let shape = parse(&options)?;
        let r = |a: &[f32]| byte_range(a);
        check_outputs_apart(&[("x", r(&x)), ("wx", r(&wx)), ("wh", r(&wh)), ("bias", r(&bias))], &[("h", r(&h)), ("gates", r(&gates)), ("c", r(&c))])?;
        // SAFETY: a sync call: no JavaScript runs while these slices alias the
        // outputs, which were just checked to be apart from each other and the inputs.
        let (h, gates, c): (&mut [f32], &mut [f32], &mut [f32]) = unsafe { (h.as_mut(), gates.as_mut(), c.as_mut()) };
        pool::check()?;
        lstm::lstm_forward(&shape, &x, &wx, &wh, &bias, h, gates, c)
    })
}

/// Backward of Σ dh ⊙ h: writes dwx, dwh, dbias and (when given) dx.
#[napi(js_name = "lstmBackwardF32")]
#[allow(clippy::too_many_arguments)]
pub fn lstm_backward_f32(
    x: Float32Array,
    wx: Float32Array,
    wh: Float32Array,
    h: Float32Array,
    gates: Float32Array,
    c: Float32Array,
    dh: Float32Array,
    mut dwx: Float32Array,
    mut dwh: Float32Array,
    mut dbias: Float32Array,
    mut dx: Option<Float32Array>,
    options: LstmOptions,
) -> napi::Result<()> {
    guarded("lstmBackwardF32", || {
        let shape = parse(&options)?;
        let r = |a: &[f32]| byte_range(a);
        let inputs = [("x", r(&x)), ("wx", r(&wx)), ("wh", r(&wh)), ("h", r(&h)), ("gates", r(&gates)), ("c", r(&c)), ("dh", r(&dh))];
        let outs: Vec<_> = [("dwx", r(&dwx)), ("dwh", r(&dwh)), ("dbias", r(&dbias))].into_iter().chain(dx.as_ref().map(|d| ("dx", r(d)))).collect();
        check_outputs_apart(&inputs, &outs)?;
        // SAFETY: as in the forward: sync, and the outputs are apart from everything else.
        let (dwx, dwh, dbias): (&mut [f32], &mut [f32], &mut [f32]) = unsafe { (dwx.as_mut(), dwh.as_mut(), dbias.as_mut()) };
        let dx: Option<&mut [f32]> = dx.as_mut().map(|d| unsafe { d.as_mut() });
        pool::check()?;
        let saved = LstmSaved { x: &x, wx: &wx, wh: &wh, h: &h, gates: &gates, c: &c };
        lstm::lstm_backward(&shape, saved, &dh, LstmGrads { dwx, dwh, dbias, dx })
    })
}
