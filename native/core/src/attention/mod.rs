//! Fused causal multi-head self-attention: one call for the forward pass and one
//! for the backward pass (the `causalAttention` op of src/ops; the tfjs
//! composition of src/layers/causalMultiHeadAttention.ts is the reference the
//! parity tests compare with, and these are exactly its math).
//!
//! Math (H heads of width K, HK = H·K, scale = 1/√K, per sequence of T positions):
//!   Q = x·Wq + bq,  Kp = x·Wk (no bias),  V = x·Wv + bv          [T, HK]
//!   S_h[i, j] = scale · Q_h[i]·Kp_h[j]  for j ≤ i (position i sees j ≤ i)
//!   A_h[i, ·] = softmax_j≤i(S_h[i, ·]),  A_h[i, j] = 0 for j > i
//!   M[i, h·K + c] = Σ_j A_h[i, j] · V_h[j, c]                     [T, HK]
//!   y = M·Wo + bo                                                 [T, units]
//! The layer adds −1e9 to the later positions' scores instead; exp(−1e9 − max)
//! is exactly 0 in f32, so its weights there are exact zeros too and the two
//! agree to rounding.
//! Backward, given dy = ∂L/∂y:
//!   dWo = Mᵀ·dy, dbo = Σ dy, dM = dy·Woᵀ
//!   dA_h[i, j] = dM_h[i]·V_h[j], dS = A ⊙ (dA − Σ_j A ⊙ dA) · scale    (j ≤ i)
//!   dQ_h = dS·Kp_h, dKp_h = dSᵀ·Q_h, dV_h = A_hᵀ·dM_h
//!   dWq = xᵀ·dQ, dbq = Σ dQ, dWk = xᵀ·dKp, dWv = xᵀ·dV, dbv = Σ dV
//!   dx = dQ·Wqᵀ + dKp·Wkᵀ + dV·Wvᵀ (only when asked).
//! Layout (row-major, f32): x [batch, time, width]; Wq, Wk, Wv [width, HK];
//!   bq, bv [HK]; Wo [HK, units]; bo [units]; y [batch, time, units]. Saved for
//!   the backward pass: Q, Kp, V and M [batch, time, HK] (head h in columns
//!   h·K..(h+1)·K, the layer's head split) and the weights A [batch, heads, time, time].
//! Cost: 3·B·T·width·HK + B·T·HK·units multiply-adds in the projections (the
//!   crate's `matmul`, packed gemm), B·H·T(T+1)/2·K·2 in the attention core (only
//!   the causal half is computed), B·H·T(T+1)/2 exponentials; backward about
//!   twice. Threads: the projections by matmul's rules, the attention core over
//!   the batch (rows never interact). Memory: the saved arrays,
//!   4·B·T·HK + B·H·T² floats; backward 4·B·T·HK floats of scratch.
//! Precision: f32 storage and products; the attention core's dot products,
//!   softmax and the bias gradients sum in f64.
//! CPU only: no CUDA kernel (the tfjs `sigvwap` backend runs it on the host).
//!
//! Module map: `cpu` (the kernel and its plain f64 `reference`, the specification).

mod cpu;

use crate::error::{CoreError, CoreResult};

pub use cpu::{attention_backward_into, attention_forward_into, reference_backward, reference_forward};

/// Sizes of one attention call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttentionShape {
    pub batch: usize,
    pub time: usize,
    /// input width
    pub width: usize,
    pub heads: usize,
    /// query/key/value width per head
    pub key_dim: usize,
    /// output width
    pub units: usize,
}

/// Element counts of every array of a call (overflow-checked).
#[derive(Clone, Copy, Debug)]
pub struct AttentionSizes {
    /// heads·key_dim
    pub hk: usize,
    pub x: usize,
    /// Wq, Wk, Wv
    pub w_in: usize,
    pub w_out: usize,
    /// Q, Kp, V, M
    pub proj: usize,
    pub probs: usize,
    pub y: usize,
}

impl AttentionShape {
    pub fn layout(&self) -> String {
        format!("[batch={}, time={}, width={}, heads={}, keyDim={}, units={}]", self.batch, self.time, self.width, self.heads, self.key_dim, self.units)
    }

    pub fn sizes(&self) -> CoreResult<AttentionSizes> {
        let mul = |a: usize, b: usize, what: &str| {
            a.checked_mul(b).ok_or_else(|| CoreError::arg(what, format!("the attention's arrays would have more elements than fit in memory: {}", self.layout())))
        };
        for (name, v) in [("heads", self.heads), ("keyDim", self.key_dim)] {
            if v == 0 {
                return Err(CoreError::arg(name, format!("must be at least 1: {}", self.layout())));
            }
        }
        let hk = mul(self.heads, self.key_dim, "keyDim")?;
        let rows = mul(self.batch, self.time, "time")?;
        Ok(AttentionSizes {
            hk,
            x: mul(rows, self.width, "width")?,
            w_in: mul(self.width, hk, "width")?,
            w_out: mul(hk, self.units, "units")?,
            proj: mul(rows, hk, "keyDim")?,
            probs: mul(mul(mul(self.batch, self.heads, "heads")?, self.time, "time")?, self.time, "time")?,
            y: mul(rows, self.units, "units")?,
        })
    }
}

fn check_len(name: &str, expected: usize, got: usize, layout: &str) -> CoreResult<()> {
    if expected != got {
        return Err(CoreError::shape(name, expected, got, layout));
    }
    Ok(())
}

/// The attention's weights (or their gradients).
#[derive(Clone, Copy)]
pub struct AttentionWeights<'a> {
    pub wq: &'a [f32],
    pub bq: &'a [f32],
    pub wk: &'a [f32],
    pub wv: &'a [f32],
    pub bv: &'a [f32],
    pub wo: &'a [f32],
    pub bo: &'a [f32],
}

/// Where the backward pass writes the weight gradients (every element is overwritten).
pub struct AttentionGrads<'a> {
    pub dwq: &'a mut [f32],
    pub dbq: &'a mut [f32],
    pub dwk: &'a mut [f32],
    pub dwv: &'a mut [f32],
    pub dbv: &'a mut [f32],
    pub dwo: &'a mut [f32],
    pub dbo: &'a mut [f32],
    /// ∂L/∂x; `None` skips that work.
    pub dx: Option<&'a mut [f32]>,
}

/// The input and the weights' lengths against the shape (ERR_SHAPE naming the array).
pub fn check_inputs(shape: &AttentionShape, x: usize, w: &AttentionWeights<'_>) -> CoreResult<AttentionSizes> {
    let s = shape.sizes()?;
    let layout = shape.layout();
    check_len("x", s.x, x, &format!("[batch, time, width] of {layout}"))?;
    for (name, len) in [("wq", w.wq.len()), ("wk", w.wk.len()), ("wv", w.wv.len())] {
        check_len(name, s.w_in, len, &format!("[width, heads·keyDim] of {layout}"))?;
    }
    for (name, len) in [("bq", w.bq.len()), ("bv", w.bv.len())] {
        check_len(name, s.hk, len, &format!("[heads·keyDim] of {layout}"))?;
    }
    check_len("wo", s.w_out, w.wo.len(), &format!("[heads·keyDim, units] of {layout}"))?;
    check_len("bo", shape.units, w.bo.len(), &format!("[units] of {layout}"))?;
    Ok(s)
}

fn check_saved(shape: &AttentionShape, s: &AttentionSizes, q: usize, k: usize, v: usize, m: usize, probs: usize) -> CoreResult<()> {
    let layout = shape.layout();
    for (name, len) in [("q", q), ("k", k), ("v", v), ("merged", m)] {
        check_len(name, s.proj, len, &format!("[batch, time, heads·keyDim] of {layout}"))?;
    }
    check_len("probs", s.probs, probs, &format!("[batch, heads, time, time] of {layout}"))
}

/// The saved activations of a forward pass (written by it, read by the backward pass).
pub struct AttentionState<'a> {
    pub q: &'a mut [f32],
    pub k: &'a mut [f32],
    pub v: &'a mut [f32],
    pub probs: &'a mut [f32],
    pub merged: &'a mut [f32],
}

/// The saved activations, read-only.
#[derive(Clone, Copy)]
pub struct AttentionSavedRef<'a> {
    pub q: &'a [f32],
    pub k: &'a [f32],
    pub v: &'a [f32],
    pub probs: &'a [f32],
    pub merged: &'a [f32],
}

/// The forward pass: writes y and every saved array (every element). Lengths are checked.
pub fn attention_forward(shape: &AttentionShape, x: &[f32], w: AttentionWeights<'_>, y: &mut [f32], state: AttentionState<'_>) -> CoreResult<()> {
    let s = check_inputs(shape, x.len(), &w)?;
    check_saved(shape, &s, state.q.len(), state.k.len(), state.v.len(), state.merged.len(), state.probs.len())?;
    check_len("y", s.y, y.len(), &format!("[batch, time, units] of {}", shape.layout()))?;
    attention_forward_into(shape, x, w, y, state);
    Ok(())
}

/// The backward pass of Σ dy ⊙ y. Lengths are checked.
pub fn attention_backward(shape: &AttentionShape, x: &[f32], w: AttentionWeights<'_>, saved: AttentionSavedRef<'_>, dy: &[f32], grads: AttentionGrads<'_>) -> CoreResult<()> {
    let s = check_inputs(shape, x.len(), &w)?;
    check_saved(shape, &s, saved.q.len(), saved.k.len(), saved.v.len(), saved.merged.len(), saved.probs.len())?;
    let layout = shape.layout();
    check_len("dy", s.y, dy.len(), &format!("[batch, time, units] of {layout}"))?;
    for (name, len) in [("dwq", grads.dwq.len()), ("dwk", grads.dwk.len()), ("dwv", grads.dwv.len())] {
        check_len(name, s.w_in, len, &format!("[width, heads·keyDim] of {layout}"))?;
    }
    for (name, len) in [("dbq", grads.dbq.len()), ("dbv", grads.dbv.len())] {
        check_len(name, s.hk, len, &format!("[heads·keyDim] of {layout}"))?;
    }
    check_len("dwo", s.w_out, grads.dwo.len(), &format!("[heads·keyDim, units] of {layout}"))?;
    check_len("dbo", shape.units, grads.dbo.len(), &format!("[units] of {layout}"))?;
    if let Some(dx) = &grads.dx {
        check_len("dx", s.x, dx.len(), &format!("[batch, time, width] of {layout}"))?;
    }
    attention_backward_into(shape, x, w, saved, dy, grads);
    Ok(())
}
