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
//! Module map: `cpu` (the kernel and its plain `reference`, the
//! specification); `steps` (the device plan: products and element-wise passes
//! in order, over an executor); `cuda` (feature `cuda`: the plan on cuBLAS
//! and kernels/lstm.cu, and the device-resident trainer). [`lstm_forward`] /
//! [`lstm_backward`] are the CPU kernel (the tfjs backend's);
//! [`lstm_forward_on`] / [`lstm_backward_on`] dispatch to a resolved device
//! (resolve with `device::resolve_blas`: the CUDA path needs cuBLAS);
//! [`DeviceLstmTrainer`] keeps weights and Adam's moments on the GPU across
//! training steps.

mod cpu;
#[cfg(feature = "cuda")]
pub(crate) mod cuda;
#[cfg(any(feature = "cuda", test))]
mod steps;

use crate::adam::AdamOptions;
use crate::device::{cuda_only, Device};
use crate::error::{CoreError, CoreResult};

pub use cpu::{lstm_backward_into, lstm_forward_into, reference_backward, reference_forward};
/// The kernel's building blocks, shared with the fused TKAN (`crate::tkan`).
pub(crate) use cpu::{blocks, product, product_on, sigmoid, tanh_f32, SendPtr};

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
    check_backward(shape, &saved, dh, &grads)?;
    lstm_backward_into(shape, saved, dh, grads);
    Ok(())
}

fn check_backward(shape: &LstmShape, saved: &LstmSaved<'_>, dh: &[f32], grads: &LstmGrads<'_>) -> CoreResult<()> {
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
    Ok(())
}

/// [`lstm_forward`] on `device`. CUDA agrees with the CPU to f32 rounding
/// (products on cuBLAS in f32, activations with expf/tanhf instead of the
/// CPU's polynomial); without a GPU or libcublas, or in a build without the
/// `cuda` feature, `Device::Cuda` is ERR_CUDA_UNAVAILABLE with the reason.
#[allow(clippy::too_many_arguments)]
pub fn lstm_forward_on(
    device: Device,
    shape: &LstmShape,
    x: &[f32],
    wx: &[f32],
    wh: &[f32],
    bias: &[f32],
    h: &mut [f32],
    gates: &mut [f32],
    c: &mut [f32],
) -> CoreResult<()> {
    match device {
        Device::Cpu => lstm_forward(shape, x, wx, wh, bias, h, gates, c),
        Device::Cuda => {
            let s = check_inputs(shape, x.len(), wx.len(), wh.len(), Some(bias.len()))?;
            let layout = shape.layout();
            check_len("h", s.state, h.len(), &format!("[steps, batch, units] of {layout}"))?;
            check_len("gates", s.gates, gates.len(), &format!("[steps, batch, 4·units] of {layout}"))?;
            check_len("c", s.state, c.len(), &format!("[steps, batch, units] of {layout}"))?;
            cuda_only!(cuda::lstm_forward(shape, x, wx, wh, bias, h, gates, c))
        }
    }
}

/// [`lstm_backward`] on `device` (see [`lstm_forward_on`] for the CUDA path).
pub fn lstm_backward_on(device: Device, shape: &LstmShape, saved: LstmSaved<'_>, dh: &[f32], grads: LstmGrads<'_>) -> CoreResult<()> {
    match device {
        Device::Cpu => lstm_backward(shape, saved, dh, grads),
        Device::Cuda => {
            check_backward(shape, &saved, dh, &grads)?;
            cuda_only!(cuda::lstm_backward(shape, saved, dh, grads))
        }
    }
}

/// The LSTM's parameters (or their gradients, or an Adam moment of them):
/// Wx [channels, 4·units], Wh [units, 4·units], b [4·units].
#[derive(Clone, Debug, PartialEq)]
pub struct LstmParams {
    pub wx: Vec<f32>,
    pub wh: Vec<f32>,
    pub bias: Vec<f32>,
}

/// LSTM training state that stays on the GPU across steps: the weights,
/// their gradients and Adam's moments are uploaded once (`new`), then each
/// step is [`forward`](Self::forward) (x in) → [`read_h`](Self::read_h) (h
/// out, for the layers above, which compute dh) → [`backward`](Self::backward)
/// (dh in) → [`apply_adam`](Self::apply_adam) (src/train/adam.ts's update, as
/// `crate::adam`), with no weight traffic; [`weights`](Self::weights) copies
/// them back only when asked (a checkpoint, the end of training). The shape
/// (steps and batch too) is fixed at construction: every buffer is
/// allocated once.
///
/// In a build without the `cuda` feature, or without a GPU or libcublas,
/// `new` is ERR_CUDA_UNAVAILABLE with the reason.
pub struct DeviceLstmTrainer {
    shape: LstmShape,
    #[cfg(feature = "cuda")]
    inner: cuda::Trainer,
    #[cfg(not(feature = "cuda"))]
    never: std::convert::Infallible,
}

impl DeviceLstmTrainer {
    /// Upload `init` and zero Adam's moments (step 0). Lengths are checked
    /// against `shape` (ERR_SHAPE naming `wx`, `wh` or `bias`), the options
    /// as adam.ts checks them (ERR_ARG).
    pub fn new(shape: &LstmShape, init: &LstmParams, opts: &AdamOptions) -> CoreResult<Self> {
        opts.check()?;
        let sizes = check_inputs(shape, shape.sizes()?.x, init.wx.len(), init.wh.len(), Some(init.bias.len()))?;
        #[cfg(feature = "cuda")]
        {
            Ok(DeviceLstmTrainer { shape: *shape, inner: cuda::Trainer::new(shape, sizes, init, opts)? })
        }
        #[cfg(not(feature = "cuda"))]
        {
            let _ = sizes;
            Err(CoreError::cuda_unavailable(crate::device::NOT_COMPILED))
        }
    }

    pub fn shape(&self) -> &LstmShape {
        &self.shape
    }

    /// Adam steps taken so far (adam.ts `step`).
    pub fn steps_taken(&self) -> u64 {
        #[cfg(feature = "cuda")]
        {
            self.inner.steps_taken()
        }
        #[cfg(not(feature = "cuda"))]
        match self.never {}
    }

    /// The forward pass on the current weights for input x [steps, batch, channels].
    pub fn forward(&mut self, x: &[f32]) -> CoreResult<()> {
        let s = self.shape.sizes()?;
        check_len("x", s.x, x.len(), &format!("[steps, batch, channels] of {}", self.shape.layout()))?;
        #[cfg(feature = "cuda")]
        {
            self.inner.forward(x)
        }
        #[cfg(not(feature = "cuda"))]
        match self.never {}
    }

    /// Copy the last forward's h [steps, batch, units] into `out`.
    pub fn read_h(&self, out: &mut [f32]) -> CoreResult<()> {
        let s = self.shape.sizes()?;
        check_len("h", s.state, out.len(), &format!("[steps, batch, units] of {}", self.shape.layout()))?;
        #[cfg(feature = "cuda")]
        {
            self.inner.read_h(out)
        }
        #[cfg(not(feature = "cuda"))]
        match self.never {}
    }

    /// Back-propagate dh [steps, batch, units] (∂L/∂h) through the last
    /// forward; the weight gradients stay on the device. ERR_ARG when no
    /// forward ran on the current weights.
    pub fn backward(&mut self, dh: &[f32]) -> CoreResult<()> {
        let s = self.shape.sizes()?;
        check_len("dh", s.state, dh.len(), &format!("[steps, batch, units] of {}", self.shape.layout()))?;
        #[cfg(feature = "cuda")]
        {
            self.inner.backward(dh)
        }
        #[cfg(not(feature = "cuda"))]
        match self.never {}
    }

    /// One Adam update of every weight with the last backward's gradients.
    /// ERR_ARG when no backward ran since the last update.
    pub fn apply_adam(&mut self) -> CoreResult<()> {
        #[cfg(feature = "cuda")]
        {
            self.inner.apply_adam()
        }
        #[cfg(not(feature = "cuda"))]
        match self.never {}
    }

    /// One training step: forward on x, `loss_grad(h, dh)` on the host
    /// (writes ∂L/∂h given h), backward, Adam update.
    pub fn train_step(&mut self, x: &[f32], loss_grad: &mut dyn FnMut(&[f32], &mut [f32])) -> CoreResult<()> {
        let n = self.shape.sizes()?.state;
        self.forward(x)?;
        let mut h = vec![0f32; n];
        self.read_h(&mut h)?;
        let mut dh = vec![0f32; n];
        loss_grad(&h, &mut dh);
        self.backward(&dh)?;
        self.apply_adam()
    }

    /// The weights, copied back from the device.
    pub fn weights(&self) -> CoreResult<LstmParams> {
        #[cfg(feature = "cuda")]
        {
            self.inner.weights()
        }
        #[cfg(not(feature = "cuda"))]
        match self.never {}
    }

    /// The last backward's gradients, copied back (ERR_ARG after an update).
    pub fn gradients(&self) -> CoreResult<LstmParams> {
        #[cfg(feature = "cuda")]
        {
            self.inner.gradients()
        }
        #[cfg(not(feature = "cuda"))]
        match self.never {}
    }

    /// Adam's moments (m, v), copied back (a checkpoint of the optimizer).
    pub fn moments(&self) -> CoreResult<(LstmParams, LstmParams)> {
        #[cfg(feature = "cuda")]
        {
            self.inner.moments()
        }
        #[cfg(not(feature = "cuda"))]
        match self.never {}
    }
}
