//! Fused TKAN sequence ('kan' cell of src/layers/tkan.ts) over a time-major
//! sequence: one call for the whole forward pass and one for
//! back-propagation through time (the `tkanSequence` op of src/ops; its tfjs
//! composition is the reference the parity tests compare with). CPU only:
//! there is no CUDA kernel for TKAN (the device path of training is the LSTM's).
//!
//! Math, per step t and row (σ = logistic; states start at zero):
//!   s_t = x_t·A_x + m_{t-1}·A_m + a                 KAN input              [K]
//!   φ_t = base(s_t)·Φ_b + B(s_t)·Φ_s                 KAN layer K → K        [K]
//!   m_t = tanh(φ_t·M_φ + m_{t-1}·M_m + μ)            the KAN's memory       [K]
//!   [i, f, g] = [σ, σ, tanh](x_t·W + h_{t-1}·W_h + b)   gates i, f, g      [3U]
//!   o_t = σ(φ_t·W_o + b_o)                           output gate            [U]
//!   c_t = f ⊙ c_{t-1} + i ⊙ g,   h_t = o_t ⊙ tanh(c_t)
//! base: SiLU s·σ(s), ReLU max(s, 0) or identity. B(s) [K·(G+3)]: for input k
//! the G+3 cubic B-splines of centres c_j = gridMin + (j − 1)·h, j = 0..G+2,
//! h = (gridMax − gridMin)/G:  N(v) = ((2 − |v|)₊³ − 4·(1 − |v|)₊³)/6,
//! v = (s − c_j)/h, at column k·(G+3) + j.
//! Backward, given dh_t (∂L/∂h_t from above):
//!   dh = dh_t + dz_{t+1}·W_hᵀ,  dc = dh ⊙ o ⊙ (1 − tanh²c) + dc_{t+1} ⊙ f_{t+1}
//!   dz_i = dc ⊙ g ⊙ i(1−i), dz_f = dc ⊙ c_{t-1} ⊙ f(1−f), dz_g = dc ⊙ i ⊙ (1−g²),
//!   dz_o = dh ⊙ tanh c ⊙ o(1−o)
//!   dμ̃ = dm_t ⊙ (1 − m_t²)  with dm_t = ds_{t+1}·A_mᵀ + dμ̃_{t+1}·M_mᵀ (0 at the end)
//!   dφ = dμ̃·M_φᵀ + dz_o·W_oᵀ,  ds = (dφ·Φ_bᵀ) ⊙ base'(s) + Σ_j (dφ·Φ_sᵀ)_{k,j} N'(v)/h
//!   weight gradients: the inputs of each product transposed times its output's
//!   gradient, summed over steps and rows; dx_t = dz·Wᵀ + ds·A_xᵀ.
//! Layout (row-major, f32): x [steps, batch, channels]; the layer's weights
//!   (names as src/layers/tkan.ts): kernel W [C, 3U], recurrentKernel W_h
//!   [U, 3U], bias b [3U], kanKernel A_x [C, K], kanRecurrentKernel A_m [K, K],
//!   kanBias a [K], splineKernel Φ_s [K·(G+3), K], baseKernel Φ_b [K, K],
//!   memoryKernel M_φ [K, K], memoryRecurrentKernel M_m [K, K], memoryBias μ
//!   [K], outputKernel W_o [K, U], outputBias b_o [U]. The forward writes h and
//!   c [steps, batch, U], the activated gates i, f, g, o [steps, batch, 4U] and
//!   the KAN's s, φ, m [steps, batch, K] each: what the backward pass reads.
//! Cost per step and row: forward 3U·(C + U) + K·(C + K) + K²·(G + 4) + 2K² + K·U
//!   multiply-adds (the input products of every step are two GEMMs before the
//!   loop), backward about twice that (the weight gradients and dx are GEMMs over
//!   all steps after the loop), plus K·(G+3) spline evaluations and 4U + K
//!   exponentials. Memory saved by the forward: 6U + 3K floats per step and row;
//!   the backward allocates (4U + 4K + K·(G+3)) floats per step and row (the
//!   gradients of every step's pre-activations and the basis, for those GEMMs).
//!   Threads: the batch is split into row blocks carried through every step on
//!   one pool thread each (rows never interact); the GEMMs before and after the
//!   loop run on the pool.
//! Precision: f32 storage and products (f32 accumulation in `gemm`), the bias
//!   gradients summed in f64; activations on the LSTM kernel's polynomial e^x.
//!
//! Module map: `cpu` (the kernel and its plain f64 `reference`, the specification).

mod cpu;

use crate::error::{CoreError, CoreResult};

pub use cpu::{reference_backward, reference_forward, tkan_backward_into, tkan_forward_into, TkanReference};

/// The KAN's base path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TkanBase {
    Silu,
    Relu,
    Linear,
}

impl TkanBase {
    /// Parse the layer's `baseActivation` name (ERR_ARG naming `baseActivation`).
    pub fn parse(name: &str) -> CoreResult<Self> {
        match name {
            "silu" => Ok(TkanBase::Silu),
            "relu" => Ok(TkanBase::Relu),
            "linear" => Ok(TkanBase::Linear),
            _ => Err(CoreError::arg("baseActivation", format!("expected 'silu', 'relu' or 'linear', got '{name}'")).with("value", name.to_string())),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TkanBase::Silu => "silu",
            TkanBase::Relu => "relu",
            TkanBase::Linear => "linear",
        }
    }
}

/// Sizes and grid of one TKAN call.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TkanShape {
    pub steps: usize,
    pub batch: usize,
    pub channels: usize,
    /// U, the width of h and c
    pub units: usize,
    /// K, the KAN's width
    pub kan_units: usize,
    /// G, intervals of the spline grid
    pub grid_size: usize,
    pub grid_min: f64,
    pub grid_max: f64,
    pub base: TkanBase,
}

/// Element counts of every array of a call (overflow-checked).
#[derive(Clone, Copy, Debug)]
pub struct TkanSizes {
    pub x: usize,
    /// h and c: steps·batch·U
    pub state: usize,
    /// steps·batch·4U
    pub gates: usize,
    /// s, φ and m: steps·batch·K
    pub kan_state: usize,
    /// B-splines per KAN input, G + 3
    pub basis: usize,
}

impl TkanShape {
    pub fn layout(&self) -> String {
        format!(
            "[steps={}, batch={}, channels={}, units={}, kanUnits={}, gridSize={}]",
            self.steps, self.batch, self.channels, self.units, self.kan_units, self.grid_size
        )
    }

    /// ERR_ARG for a zero width or grid, or a grid that is not finite and increasing.
    pub fn check(&self) -> CoreResult<()> {
        for (name, v) in [("units", self.units), ("kanUnits", self.kan_units), ("gridSize", self.grid_size)] {
            if v == 0 {
                return Err(CoreError::arg(name, format!("must be at least 1, got 0: {}", self.layout())).with("value", 0.0));
            }
        }
        if !(self.grid_min.is_finite() && self.grid_max.is_finite() && self.grid_max > self.grid_min) {
            return Err(CoreError::arg("gridMax", format!("expected finite gridMin < gridMax, got [{}, {}]", self.grid_min, self.grid_max)).with("value", self.grid_max));
        }
        Ok(())
    }

    pub fn sizes(&self) -> CoreResult<TkanSizes> {
        self.check()?;
        let mul = |a: usize, b: usize, what: &str| {
            a.checked_mul(b).ok_or_else(|| CoreError::arg(what, format!("the TKAN's arrays would have more elements than fit in memory: {}", self.layout())))
        };
        let rows = mul(self.steps, self.batch, "batch")?;
        let basis = self.grid_size.checked_add(3).ok_or_else(|| CoreError::arg("gridSize", "too large"))?;
        mul(mul(self.kan_units, basis, "gridSize")?, self.kan_units, "kanUnits")?;
        mul(rows, mul(self.kan_units, basis, "gridSize")?, "kanUnits")?;
        Ok(TkanSizes {
            x: mul(rows, self.channels, "channels")?,
            state: mul(rows, self.units, "units")?,
            gates: mul(rows, mul(4, self.units, "units")?, "units")?,
            kan_state: mul(rows, self.kan_units, "kanUnits")?,
            basis,
        })
    }

    /// The weights' names, lengths and layouts, in the layer's order.
    pub fn weight_layouts(&self) -> CoreResult<[(&'static str, usize, &'static str); 13]> {
        let s = self.sizes()?;
        let (c, u, k) = (self.channels, self.units, self.kan_units);
        Ok([
            ("kernel", c * 3 * u, "[channels, 3·units]"),
            ("recurrentKernel", u * 3 * u, "[units, 3·units]"),
            ("bias", 3 * u, "[3·units]"),
            ("kanKernel", c * k, "[channels, kanUnits]"),
            ("kanRecurrentKernel", k * k, "[kanUnits, kanUnits]"),
            ("kanBias", k, "[kanUnits]"),
            ("splineKernel", k * s.basis * k, "[kanUnits·(gridSize+3), kanUnits]"),
            ("baseKernel", k * k, "[kanUnits, kanUnits]"),
            ("memoryKernel", k * k, "[kanUnits, kanUnits]"),
            ("memoryRecurrentKernel", k * k, "[kanUnits, kanUnits]"),
            ("memoryBias", k, "[kanUnits]"),
            ("outputKernel", k * u, "[kanUnits, units]"),
            ("outputBias", u, "[units]"),
        ])
    }
}

/// The layer's weights (layouts in the module header).
#[derive(Clone, Copy)]
pub struct TkanWeights<'a> {
    pub kernel: &'a [f32],
    pub recurrent_kernel: &'a [f32],
    pub bias: &'a [f32],
    pub kan_kernel: &'a [f32],
    pub kan_recurrent_kernel: &'a [f32],
    pub kan_bias: &'a [f32],
    pub spline_kernel: &'a [f32],
    pub base_kernel: &'a [f32],
    pub memory_kernel: &'a [f32],
    pub memory_recurrent_kernel: &'a [f32],
    pub memory_bias: &'a [f32],
    pub output_kernel: &'a [f32],
    pub output_bias: &'a [f32],
}

impl TkanWeights<'_> {
    /// Lengths in the order of [`TkanShape::weight_layouts`].
    pub fn lens(&self) -> [usize; 13] {
        [
            self.kernel.len(),
            self.recurrent_kernel.len(),
            self.bias.len(),
            self.kan_kernel.len(),
            self.kan_recurrent_kernel.len(),
            self.kan_bias.len(),
            self.spline_kernel.len(),
            self.base_kernel.len(),
            self.memory_kernel.len(),
            self.memory_recurrent_kernel.len(),
            self.memory_bias.len(),
            self.output_kernel.len(),
            self.output_bias.len(),
        ]
    }
}

/// Where the backward pass writes the weights' gradients (every element is overwritten).
pub struct TkanWeightGrads<'a> {
    pub kernel: &'a mut [f32],
    pub recurrent_kernel: &'a mut [f32],
    pub bias: &'a mut [f32],
    pub kan_kernel: &'a mut [f32],
    pub kan_recurrent_kernel: &'a mut [f32],
    pub kan_bias: &'a mut [f32],
    pub spline_kernel: &'a mut [f32],
    pub base_kernel: &'a mut [f32],
    pub memory_kernel: &'a mut [f32],
    pub memory_recurrent_kernel: &'a mut [f32],
    pub memory_bias: &'a mut [f32],
    pub output_kernel: &'a mut [f32],
    pub output_bias: &'a mut [f32],
}

impl TkanWeightGrads<'_> {
    /// Lengths in the order of [`TkanShape::weight_layouts`].
    pub fn lens(&self) -> [usize; 13] {
        [
            self.kernel.len(),
            self.recurrent_kernel.len(),
            self.bias.len(),
            self.kan_kernel.len(),
            self.kan_recurrent_kernel.len(),
            self.kan_bias.len(),
            self.spline_kernel.len(),
            self.base_kernel.len(),
            self.memory_kernel.len(),
            self.memory_recurrent_kernel.len(),
            self.memory_bias.len(),
            self.output_kernel.len(),
            self.output_bias.len(),
        ]
    }
}

/// The forward pass's outputs (every element is written).
pub struct TkanStates<'a> {
    /// h [steps, batch, U]: the layer's output sequence
    pub h: &'a mut [f32],
    /// c [steps, batch, U]
    pub c: &'a mut [f32],
    /// activated i, f, g, o [steps, batch, 4U]
    pub gates: &'a mut [f32],
    /// KAN input s, KAN output φ and memory m [steps, batch, K] each
    pub s: &'a mut [f32],
    pub phi: &'a mut [f32],
    pub m: &'a mut [f32],
}

/// What the forward pass kept, read by the backward pass.
#[derive(Clone, Copy)]
pub struct TkanSaved<'a> {
    pub x: &'a [f32],
    pub h: &'a [f32],
    pub c: &'a [f32],
    pub gates: &'a [f32],
    pub s: &'a [f32],
    pub phi: &'a [f32],
    pub m: &'a [f32],
}

fn check_len(name: &str, expected: usize, got: usize, layout: &str) -> CoreResult<()> {
    if expected != got {
        return Err(CoreError::shape(name, expected, got, layout));
    }
    Ok(())
}

/// The weights' lengths against the shape (ERR_SHAPE naming the weight, `prefix` + its name).
fn check_weights(shape: &TkanShape, lens: [usize; 13], prefix: &str) -> CoreResult<()> {
    let layout = shape.layout();
    for ((name, want, l), got) in shape.weight_layouts()?.into_iter().zip(lens) {
        let name = if prefix.is_empty() { name.to_string() } else { format!("{prefix}{}{}", name[..1].to_uppercase(), &name[1..]) };
        check_len(&name, want, got, &format!("{l} of {layout}"))?;
    }
    Ok(())
}

/// The saved states' lengths (ERR_SHAPE naming the array).
fn check_states(shape: &TkanShape, s: &TkanSizes, lens: [(&str, usize); 6]) -> CoreResult<()> {
    let layout = shape.layout();
    for (name, got) in lens {
        let (want, l) = match name {
            "h" | "c" => (s.state, "[steps, batch, units]"),
            "gates" => (s.gates, "[steps, batch, 4·units]"),
            _ => (s.kan_state, "[steps, batch, kanUnits]"),
        };
        check_len(name, want, got, &format!("{l} of {layout}"))?;
    }
    Ok(())
}

/// The forward pass: writes every state. Lengths are checked (ERR_SHAPE naming the array),
/// the shape too (ERR_ARG).
pub fn tkan_forward(shape: &TkanShape, x: &[f32], w: TkanWeights<'_>, out: TkanStates<'_>) -> CoreResult<()> {
    let s = shape.sizes()?;
    check_len("x", s.x, x.len(), &format!("[steps, batch, channels] of {}", shape.layout()))?;
    check_weights(shape, w.lens(), "")?;
    check_states(shape, &s, [("h", out.h.len()), ("c", out.c.len()), ("gates", out.gates.len()), ("s", out.s.len()), ("phi", out.phi.len()), ("m", out.m.len())])?;
    tkan_forward_into(shape, x, w, out);
    Ok(())
}

/// Back-propagation through time of Σ dh ⊙ h: every weight's gradient, and ∂L/∂x when `dx`
/// is given. Lengths are checked (ERR_SHAPE naming the array; gradients as `d` + the
/// weight's name, e.g. `dRecurrentKernel`).
pub fn tkan_backward(shape: &TkanShape, saved: TkanSaved<'_>, w: TkanWeights<'_>, dh: &[f32], grads: TkanWeightGrads<'_>, dx: Option<&mut [f32]>) -> CoreResult<()> {
    let s = shape.sizes()?;
    let layout = shape.layout();
    check_len("x", s.x, saved.x.len(), &format!("[steps, batch, channels] of {layout}"))?;
    check_weights(shape, w.lens(), "")?;
    check_states(shape, &s, [("h", saved.h.len()), ("c", saved.c.len()), ("gates", saved.gates.len()), ("s", saved.s.len()), ("phi", saved.phi.len()), ("m", saved.m.len())])?;
    check_len("dh", s.state, dh.len(), &format!("[steps, batch, units] of {layout}"))?;
    check_weights(shape, grads.lens(), "d")?;
    if let Some(dx) = &dx {
        check_len("dx", s.x, dx.len(), &format!("[steps, batch, channels] of {layout}"))?;
    }
    tkan_backward_into(shape, saved, w, dh, grads, dx);
    Ok(())
}
