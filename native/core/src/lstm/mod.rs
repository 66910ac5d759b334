//! Fused single-layer LSTM over a time-major sequence: one call for the whole
//! forward pass and one for back-propagation through time (the `lstmSequence`
//! op of src/ops; its TypeScript loops and its tfjs composition are the
//! references the parity tests compare with).
//!
//! Math (gate order i, f, g, o; σ = logistic):
//!   z_t = x_t·Wx + h_{t-1}·Wh + b,  i = σ(z_i), f = σ(z_f), g = tanh(z_g), o = σ(z_o)
//!   c_t = f ⊙ c_{t-1} + i ⊙ g,      h_t = o ⊙ tanh(c_t),   h_{-1} = c_{-1} = 0.
//! Backward, given dh_t = ∂L/∂h_t from above (plus what step t+1 sends back):
//!   dc_t = dh_t ⊙ o ⊙ (1 − tanh²c_t) + dc_{t+1} ⊙ f_{t+1}
//!   dz_i = dc ⊙ g ⊙ i(1−i), dz_f = dc ⊙ c_{t-1} ⊙ f(1−f), dz_g = dc ⊙ i ⊙ (1−g²),
//!   dz_o = dh ⊙ tanh(c_t) ⊙ o(1−o)
//!   dWx += x_tᵀ·dz, dWh += h_{t-1}ᵀ·dz, db += Σ_rows dz,
//!   dh_{t-1} += dz·Whᵀ, dx_t = dz·Wxᵀ (only when asked: the encoder's input is data).
//! Layout (row-major, f32): x [steps, batch, channels], Wx [channels, 4·units],
//!   Wh [units, 4·units], b [4·units]; outputs h and c [steps, batch, units] and the
//!   activated gates [steps, batch, 4·units] (what the backward pass reads).
//! Cost: forward 4·units·(channels+units)·steps·batch multiply-adds on the `gemm`
//!   crate plus 5·units·steps·batch exponentials; backward about twice the products.
//!   Threads: the batch is split into row blocks, each carried through every step
//!   on one pool thread (rows never interact, so no step needs a barrier).
//!   Memory: the caller's arrays (the forward builds each step's pre-activations in
//!   its gate rows); backward, per thread a block of 6·units·rows floats and one
//!   partial gradient of the weights ((channels+units+1)·4·units).
//! Precision: f32 storage and products (f32 accumulation in `gemm`); activations in
//!   f32 on a polynomial e^x (cpu.rs `exp_f32`, relative error < 3e-7) that vectorizes; the weight gradients of the row blocks are summed in f64.
//!
//! Module map: `cpu` (the kernel and its plain `reference`, the specification).

mod cpu;

use crate::error::{CoreError, CoreResult};

pub use cpu::{lstm_backward_into, lstm_forward_into, reference_backward, reference_forward};

/// Sizes of one LSTM call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LstmShape {
    pub steps: usize,
    pub batch: usize,
    pub channels: usize,
    pub units: usize,
}

/// Element counts of every array of a call (overflow-checked).
#[derive(Clone, Copy, Debug)]
pub struct LstmSizes {
    pub x: usize,
    pub wx: usize,
    pub wh: usize,
    pub bias: usize,
    /// h and c
    pub state: usize,
    pub gates: usize,
}

impl LstmShape {
    pub fn layout(&self) -> String {
        format!("[steps={}, batch={}, channels={}, units={}]", self.steps, self.batch, self.channels, self.units)
    }

    pub fn sizes(&self) -> CoreResult<LstmSizes> {
        let mul = |a: usize, b: usize, what: &str| {
            a.checked_mul(b).ok_or_else(|| CoreError::arg(what, format!("the LSTM's arrays would have more elements than fit in memory: {}", self.layout())))
        };
        let g = mul(4, self.units, "units")?;
        let rows = mul(self.steps, self.batch, "batch")?;
        Ok(LstmSizes {
            x: mul(rows, self.channels, "channels")?,
            wx: mul(self.channels, g, "channels")?,
            wh: mul(self.units, g, "units")?,
            bias: g,
            state: mul(rows, self.units, "units")?,
            gates: mul(rows, g, "units")?,
        })
    }
}

fn check_len(name: &str, expected: usize, got: usize, layout: &str) -> CoreResult<()> {
    if expected != got {
        return Err(CoreError::shape(name, expected, got, layout));
    }
    Ok(())
}

/// The inputs' lengths against the shape (ERR_SHAPE naming the array); `bias` is `None` for
/// the backward pass, which does not read it.
pub fn check_inputs(shape: &LstmShape, x: usize, wx: usize, wh: usize, bias: Option<usize>) -> CoreResult<LstmSizes> {
    let s = shape.sizes()?;
    let layout = shape.layout();
    check_len("x", s.x, x, &format!("[steps, batch, channels] of {layout}"))?;
    check_len("wx", s.wx, wx, &format!("[channels, 4·units] of {layout}"))?;
    check_len("wh", s.wh, wh, &format!("[units, 4·units] of {layout}"))?;
    if let Some(bias) = bias {
        check_len("bias", s.bias, bias, &format!("[4·units] of {layout}"))?;
    }
    Ok(s)
}

/// The forward pass: writes h, gates and c (every element). Lengths are checked.
#[allow(clippy::too_many_arguments)]
pub fn lstm_forward(
    shape: &LstmShape,
    x: &[f32],
    wx: &[f32],
    wh: &[f32],
    bias: &[f32],
    h: &mut [f32],
    gates: &mut [f32],
    c: &mut [f32],
) -> CoreResult<()> {
    let s = check_inputs(shape, x.len(), wx.len(), wh.len(), Some(bias.len()))?;
    let layout = shape.layout();
    check_len("h", s.state, h.len(), &format!("[steps, batch, units] of {layout}"))?;
    check_len("gates", s.gates, gates.len(), &format!("[steps, batch, 4·units] of {layout}"))?;
    check_len("c", s.state, c.len(), &format!("[steps, batch, units] of {layout}"))?;
    lstm_forward_into(shape, x, wx, wh, bias, h, gates, c);
    Ok(())
}

/// What the forward pass kept, read by the backward pass.
#[derive(Clone, Copy)]
pub struct LstmSaved<'a> {
    pub x: &'a [f32],
    pub wx: &'a [f32],
    pub wh: &'a [f32],
    pub h: &'a [f32],
    pub gates: &'a [f32],
    pub c: &'a [f32],
}

/// Where the backward pass writes (every element is overwritten).
pub struct LstmGrads<'a> {
    pub dwx: &'a mut [f32],
    pub dwh: &'a mut [f32],
    pub dbias: &'a mut [f32],
    /// ∂L/∂x; `None` skips that work (the input is data).
    pub dx: Option<&'a mut [f32]>,
}

/// Back-propagation through time of Σ dh ⊙ h. Lengths are checked.
pub fn lstm_backward(shape: &LstmShape, saved: LstmSaved<'_>, dh: &[f32], grads: LstmGrads<'_>) -> CoreResult<()> {
    let s = check_inputs(shape, saved.x.len(), saved.wx.len(), saved.wh.len(), None)?;
    let layout = shape.layout();
    check_len("h", s.state, saved.h.len(), &format!("[steps, batch, units] of {layout}"))?;
    check_len("gates", s.gates, saved.gates.len(), &format!("[steps, batch, 4·units] of {layout}"))?;
    check_len("c", s.state, saved.c.len(), &format!("[steps, batch, units] of {layout}"))?;
    check_len("dh", s.state, dh.len(), &format!("[steps, batch, units] of {layout}"))?;
    check_len("dwx", s.wx, grads.dwx.len(), &format!("[channels, 4·units] of {layout}"))?;
    check_len("dwh", s.wh, grads.dwh.len(), &format!("[units, 4·units] of {layout}"))?;
    check_len("dbias", s.bias, grads.dbias.len(), &format!("[4·units] of {layout}"))?;
    if let Some(dx) = &grads.dx {
        check_len("dx", s.x, dx.len(), &format!("[steps, batch, channels] of {layout}"))?;
    }
    lstm_backward_into(shape, saved, dh, grads);
    Ok(())
}
