//! tkanForwardF32 / tkanBackwardF32: the fused TKAN sequence ('kan' cell,
//! `sigvwap_core::tkan`), one call for a whole sequence forward and one for its
//! back-propagation through time, behind the `tkanSequence` op of src/ops.
//!
//! Sync only, like the LSTM's: the op runs inside a tfjs gradient scope, whose
//! kernels are synchronous; the inputs are the tensors' own typed arrays and the
//! caller allocates every output (no copy either way). Only Float32Arrays and
//! the sizes, grid and base activation (in `options`) cross.
//!
//! Check order (errors name the argument): the options (ERR_ARG: a size that is
//! not a non-negative integer, a zero width or grid, a grid that is not finite
//! and increasing, an unknown base activation), that no output shares memory
//! with an input or an earlier output (ERR_ARG naming the output), every
//! length (ERR_SHAPE naming the array: a weight by its layer name, a gradient
//! as `d` + that name), the pool setting.

use napi::bindgen_prelude::Float32Array;
use napi_derive::napi;
use sigvwap_core::tkan::{self, TkanBase, TkanSaved, TkanShape, TkanStates, TkanWeightGrads, TkanWeights};
use sigvwap_core::{pool, CoreResult};

use crate::args;
use crate::errors::guarded;
use crate::outbuf::byte_range;
use crate::packed::check_outputs_apart;

#[napi(object)]
pub struct TkanOptions {
    pub steps: f64,
    pub batch: f64,
    pub channels: f64,
    pub units: f64,
    pub kan_units: f64,
    pub grid_size: f64,
    pub grid_min: f64,
    pub grid_max: f64,
    /// 'silu', 'relu' or 'linear'
    pub base_activation: String,
}

/// The layer's weights (or their gradients), by the layer's names; layouts in
/// `sigvwap_core::tkan`.
#[napi(object)]
pub struct TkanWeightArrays {
    pub kernel: Float32Array,
    pub recurrent_kernel: Float32Array,
    pub bias: Float32Array,
    pub kan_kernel: Float32Array,
    pub kan_recurrent_kernel: Float32Array,
    pub kan_bias: Float32Array,
    pub spline_kernel: Float32Array,
    pub base_kernel: Float32Array,
    pub memory_kernel: Float32Array,
    pub memory_recurrent_kernel: Float32Array,
    pub memory_bias: Float32Array,
    pub output_kernel: Float32Array,
    pub output_bias: Float32Array,
}

/// What the forward pass writes and the backward pass reads: h, c [steps, batch, units],
/// gates [steps, batch, 4·units], s, phi, m [steps, batch, kanUnits].
#[napi(object)]
pub struct TkanStateArrays {
    pub h: Float32Array,
    pub c: Float32Array,
    pub gates: Float32Array,
    pub s: Float32Array,
    pub phi: Float32Array,
    pub m: Float32Array,
}

fn parse(o: &TkanOptions) -> CoreResult<TkanShape> {
    let shape = TkanShape {
        steps: args::size("steps", o.steps)?,
        batch: args::size("batch", o.batch)?,
        channels: args::size("channels", o.channels)?,
        units: args::size("units", o.units)?,
        kan_units: args::size("kanUnits", o.kan_units)?,
        grid_size: args::size("gridSize", o.grid_size)?,
        grid_min: o.grid_min,
        grid_max: o.grid_max,
        base: TkanBase::parse(&o.base_activation)?,
    };
    shape.check()?;
    Ok(shape)
}

type Range = (usize, usize);

fn weight_ranges(w: &TkanWeightArrays, prefix: &'static [&'static str; 13]) -> Vec<(&'static str, Range)> {
    let r = |a: &[f32]| byte_range(a);
    let all = [
        r(&w.kernel),
        r(&w.recurrent_kernel),
        r(&w.bias),
        r(&w.kan_kernel),
        r(&w.kan_recurrent_kernel),
        r(&w.kan_bias),
        r(&w.spline_kernel),
        r(&w.base_kernel),
        r(&w.memory_kernel),
        r(&w.memory_recurrent_kernel),
        r(&w.memory_bias),
        r(&w.output_kernel),
        r(&w.output_bias),
    ];
    prefix.iter().copied().zip(all).collect()
}

const WEIGHT_NAMES: [&str; 13] = [
    "kernel",
    "recurrentKernel",
    "bias",
    "kanKernel",
    "kanRecurrentKernel",
    "kanBias",
    "splineKernel",
    "baseKernel",
    "memoryKernel",
    "memoryRecurrentKernel",
    "memoryBias",
    "outputKernel",
    "outputBias",
];

const GRAD_NAMES: [&str; 13] = [
    "dKernel",
    "dRecurrentKernel",
    "dBias",
    "dKanKernel",
    "dKanRecurrentKernel",
    "dKanBias",
    "dSplineKernel",
    "dBaseKernel",
    "dMemoryKernel",
    "dMemoryRecurrentKernel",
    "dMemoryBias",
    "dOutputKernel",
    "dOutputBias",
];

fn state_ranges(s: &TkanStateArrays) -> [(&'static str, Range); 6] {
    let r = |a: &[f32]| byte_range(a);
    [("h", r(&s.h)), ("c", r(&s.c)), ("gates", r(&s.gates)), ("s", r(&s.s)), ("phi", r(&s.phi)), ("m", r(&s.m))]
}

fn weights(w: &TkanWeightArrays) -> TkanWeights<'_> {
    TkanWeights {
        kernel: &w.kernel,
        recurrent_kernel: &w.recurrent_kernel,
        bias: &w.bias,
        kan_kernel: &w.kan_kernel,
        kan_recurrent_kernel: &w.kan_recurrent_kernel,
        kan_bias: &w.kan_bias,
        spline_kernel: &w.spline_kernel,
        base_kernel: &w.base_kernel,
        memory_kernel: &w.memory_kernel,
        memory_recurrent_kernel: &w.memory_recurrent_kernel,
        memory_bias: &w.memory_bias,
        output_kernel: &w.output_kernel,
        output_bias: &w.output_bias,
    }
}

/// Forward: writes every array of `states`; see sigvwap_core::tkan.
#[napi(js_name = "tkanForwardF32")]
pub fn tkan_forward_f32(x: Float32Array, weights_in: TkanWeightArrays, mut states: TkanStateArrays, options: TkanOptions) -> napi::Result<()> {
    guarded("tkanForwardF32", || {
        let shape = parse(&options)?;
        let mut inputs = vec![("x", byte_range(&x))];
        inputs.extend(weight_ranges(&weights_in, &WEIGHT_NAMES));
        check_outputs_apart(&inputs, &state_ranges(&states))?;
        // SAFETY: a sync call: no JavaScript runs while these slices alias the outputs,
        // which were just checked to be apart from each other and from the inputs.
        let out = unsafe {
            TkanStates { h: states.h.as_mut(), c: states.c.as_mut(), gates: states.gates.as_mut(), s: states.s.as_mut(), phi: states.phi.as_mut(), m: states.m.as_mut() }
        };
        pool::check()?;
        tkan::tkan_forward(&shape, &x, weights(&weights_in), out)
    })
}

/// Backward of Σ dh ⊙ h: writes every array of `grads` and (when given) dx.
#[napi(js_name = "tkanBackwardF32")]
pub fn tkan_backward_f32(
    x: Float32Array,
    weights_in: TkanWeightArrays,
    saved: TkanStateArrays,
    dh: Float32Array,
    mut grads: TkanWeightArrays,
    mut dx: Option<Float32Array>,
    options: TkanOptions,
) -> napi::Result<()> {
    guarded("tkanBackwardF32", || {
        let shape = parse(&options)?;
        let mut inputs = vec![("x", byte_range(&x)), ("dh", byte_range(&dh))];
        inputs.extend(weight_ranges(&weights_in, &WEIGHT_NAMES));
        inputs.extend(state_ranges(&saved));
        let mut outs = weight_ranges(&grads, &GRAD_NAMES);
        outs.extend(dx.as_ref().map(|d| ("dx", byte_range(d))));
        check_outputs_apart(&inputs, &outs)?;
        // SAFETY: as in the forward: sync, and the outputs are apart from everything else.
        let g = unsafe {
            TkanWeightGrads {
                kernel: grads.kernel.as_mut(),
                recurrent_kernel: grads.recurrent_kernel.as_mut(),
                bias: grads.bias.as_mut(),
                kan_kernel: grads.kan_kernel.as_mut(),
                kan_recurrent_kernel: grads.kan_recurrent_kernel.as_mut(),
                kan_bias: grads.kan_bias.as_mut(),
                spline_kernel: grads.spline_kernel.as_mut(),
                base_kernel: grads.base_kernel.as_mut(),
                memory_kernel: grads.memory_kernel.as_mut(),
                memory_recurrent_kernel: grads.memory_recurrent_kernel.as_mut(),
                memory_bias: grads.memory_bias.as_mut(),
                output_kernel: grads.output_kernel.as_mut(),
                output_bias: grads.output_bias.as_mut(),
            }
        };
        let dx: Option<&mut [f32]> = dx.as_mut().map(|d| unsafe { d.as_mut() });
        pool::check()?;
        let saved = TkanSaved { x: &x, h: &saved.h, c: &saved.c, gates: &saved.gates, s: &saved.s, phi: &saved.phi, m: &saved.m };
        tkan::tkan_backward(&shape, saved, weights(&weights_in), &dh, g, dx)
    })
}
