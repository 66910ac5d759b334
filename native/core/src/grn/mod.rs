//! Fused gated residual network (GRN, docs/method.md §5): one call for the
//! forward pass and one for the backward pass over a block of rows (the
//! `grnOp` of src/ops; the tfjs composition of src/layers/grn.ts, `applyGrn`,
//! is the reference the parity tests compare with, and this is exactly its math).
//!
//! Math, per row x [in] (h = hidden, u = units, ε = epsilon):
//!   η = ELU(x·W1 + b1)                    ELU(z) = z (z ≥ 0), e^z − 1 (z < 0)   [h]
//!   e = η·W2 + b2                                                               [h]
//!   a = e·Wv + bv,  g = σ(e·Wg + bg),  GLU = a ⊙ g                              [u]
//!   s = skip(x) + GLU,  skip(x) = x (in = u) or x·Ws + bs (in ≠ u)
//!   n = (s − mean(s)) / √(var(s) + ε)    (population variance over the u values)
//!   y = n ⊙ γ + β                                                               [u]
//! Fused here: the layer without a context input and unstacked (the GRN of the
//! gft encoder, and VariableSelection's selection GRN); the context input
//! (c·Wc) and the stacked per-variable GRNs stay on the tfjs composition.
//! Backward, given dy = ∂L/∂y (r = 1/√(var + ε)):
//!   dγ = Σ dy ⊙ n, dβ = Σ dy;  dn = dy ⊙ γ
//!   ds = r · (dn − mean(dn) − n · mean(dn ⊙ n))
//!   da = ds ⊙ g, dgz = ds ⊙ a ⊙ g(1 − g);  dWv = eᵀ·da, dbv = Σ da, dWg = eᵀ·dgz, dbg = Σ dgz
//!   de = da·Wvᵀ + dgz·Wgᵀ;  dW2 = ηᵀ·de, db2 = Σ de;  dη = de·W2ᵀ
//!   dz1 = dη ⊙ (η ≥ 0 ? 1 : η + 1);  dW1 = xᵀ·dz1, db1 = Σ dz1
//!   dWs = xᵀ·ds, dbs = Σ ds (with the projection)
//!   dx = dz1·W1ᵀ + (ds·Wsᵀ or ds) (only when asked).
//! Layout (row-major, f32): x [rows, in]; W1 [in, h], b1 [h]; W2 [h, h], b2 [h];
//!   Wv, Wg [h, u], bv, bg [u]; Ws [in, u], bs [u] (only when in ≠ u); γ, β [u];
//!   y [rows, u]. Saved for the backward pass: η, e [rows, h]; a, g, n [rows, u];
//!   r [rows].
//! Cost per row: in·h + h² + 2·h·u (+ in·u) multiply-adds in the products (the
//!   crate's `matmul`, packed gemm, threaded by its rules), h exponentials, u
//!   sigmoids, two reductions; backward about twice the products. The
//!   normalization passes run over row blocks on the pool. Memory: the saved
//!   arrays, rows·(2h + 3u + 1) floats; backward about rows·(2h + 3u) of scratch.
//! Precision: f32 storage and products; ELU and σ in f64 rounded once (as the
//!   tfjs CPU backend), the normalization's moments and the bias and γ/β
//!   gradients summed in f64.
//! CPU only: no CUDA kernel (the tfjs `sigvwap` backend runs it on the host).
//!
//! Module map: `cpu` (the kernel and its plain f64 `reference`, the specification).

mod cpu;

use crate::error::{CoreError, CoreResult};

pub use cpu::{grn_backward_into, grn_forward_into, reference_backward, reference_forward, GrnRefGrads};

/// Sizes of one GRN call. The skip projection exists exactly when `in_dim != units`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GrnShape {
    pub rows: usize,
    pub in_dim: usize,
    pub hidden: usize,
    pub units: usize,
}

/// Element counts of every array of a call (overflow-checked).
#[derive(Clone, Copy, Debug)]
pub struct GrnSizes {
    pub x: usize,
    pub w1: usize,
    pub w2: usize,
    /// Wv, Wg
    pub w_glu: usize,
    /// Ws (0 without the projection)
    pub ws: usize,
    /// rows·hidden: η, e
    pub hidden_rows: usize,
    /// rows·units: y, a, g, n
    pub unit_rows: usize,
}

impl GrnShape {
    pub fn layout(&self) -> String {
        format!("[rows={}, in={}, hidden={}, units={}]", self.rows, self.in_dim, self.hidden, self.units)
    }

    /// True when the skip connection is the projection x·Ws + bs (in ≠ units).
    pub fn projects_skip(&self) -> bool {
        self.in_dim != self.units
    }

    pub fn sizes(&self) -> CoreResult<GrnSizes> {
        if self.units == 0 {
            return Err(CoreError::arg("units", format!("must be at least 1 (the normalization's width): {}", self.layout())));
        }
        let mul = |a: usize, b: usize, what: &str| {
            a.checked_mul(b).ok_or_else(|| CoreError::arg(what, format!("the GRN's arrays would have more elements than fit in memory: {}", self.layout())))
        };
        Ok(GrnSizes {
            x: mul(self.rows, self.in_dim, "in")?,
            w1: mul(self.in_dim, self.hidden, "hidden")?,
            w2: mul(self.hidden, self.hidden, "hidden")?,
            w_glu: mul(self.hidden, self.units, "units")?,
            ws: if self.projects_skip() { mul(self.in_dim, self.units, "units")? } else { 0 },
            hidden_rows: mul(self.rows, self.hidden, "hidden")?,
            unit_rows: mul(self.rows, self.units, "units")?,
        })
    }
}

fn check_len(name: &str, expected: usize, got: usize, layout: &str) -> CoreResult<()> {
    if expected != got {
        return Err(CoreError::shape(name, expected, got, layout));
    }
    Ok(())
}

/// The GRN's weights; `ws`/`bs` are `Some` exactly when in ≠ units.
#[derive(Clone, Copy)]
pub struct GrnWeights<'a> {
    pub w1: &'a [f32],
    pub b1: &'a [f32],
    pub w2: &'a [f32],
    pub b2: &'a [f32],
    pub wv: &'a [f32],
    pub bv: &'a [f32],
    pub wg: &'a [f32],
    pub bg: &'a [f32],
    pub ws: Option<&'a [f32]>,
    pub bs: Option<&'a [f32]>,
    pub gamma: &'a [f32],
    pub beta: &'a [f32],
}

/// Where the backward pass writes (every element is overwritten); `dws`/`dbs`
/// exactly when in ≠ units.
pub struct GrnGrads<'a> {
    pub dw1: &'a mut [f32],
    pub db1: &'a mut [f32],
    pub dw2: &'a mut [f32],
    pub db2: &'a mut [f32],
    pub dwv: &'a mut [f32],
    pub dbv: &'a mut [f32],
    pub dwg: &'a mut [f32],
    pub dbg: &'a mut [f32],
    pub dws: Option<&'a mut [f32]>,
    pub dbs: Option<&'a mut [f32]>,
    pub dgamma: &'a mut [f32],
    pub dbeta: &'a mut [f32],
    /// ∂L/∂x; `None` skips that work.
    pub dx: Option<&'a mut [f32]>,
}

/// The saved activations of a forward pass (written by it).
pub struct GrnState<'a> {
    pub eta: &'a mut [f32],
    pub e: &'a mut [f32],
    pub a: &'a mut [f32],
    pub g: &'a mut [f32],
    pub n: &'a mut [f32],
    pub rstd: &'a mut [f32],
}

/// The saved activations, read by the backward pass.
#[derive(Clone, Copy)]
pub struct GrnSavedRef<'a> {
    pub eta: &'a [f32],
    pub e: &'a [f32],
    pub a: &'a [f32],
    pub g: &'a [f32],
    pub n: &'a [f32],
    pub rstd: &'a [f32],
}

fn check_optional(name: &str, expected: usize, got: Option<usize>, projects: bool, layout: &str) -> CoreResult<()> {
    match (projects, got) {
        (true, Some(len)) => check_len(name, expected, len, layout),
        (false, None) => Ok(()),
        (true, None) => Err(CoreError::arg(name, format!("required: in ≠ units, so the skip connection is a projection ({layout})"))),
        (false, Some(_)) => Err(CoreError::arg(name, format!("must be absent: in = units, so the skip connection is the identity ({layout})"))),
    }
}

/// The input and the weights' lengths against the shape (ERR_SHAPE naming the
/// array; ERR_ARG for a skip projection present or missing against in ≠ units).
pub fn check_inputs(shape: &GrnShape, x: usize, w: &GrnWeights<'_>) -> CoreResult<GrnSizes> {
    let s = shape.sizes()?;
    let layout = shape.layout();
    let (h, u, p) = (shape.hidden, shape.units, shape.projects_skip());
    check_len("x", s.x, x, &format!("[rows, in] of {layout}"))?;
    check_len("w1", s.w1, w.w1.len(), &format!("[in, hidden] of {layout}"))?;
    check_len("b1", h, w.b1.len(), &format!("[hidden] of {layout}"))?;
    check_len("w2", s.w2, w.w2.len(), &format!("[hidden, hidden] of {layout}"))?;
    check_len("b2", h, w.b2.len(), &format!("[hidden] of {layout}"))?;
    check_len("wv", s.w_glu, w.wv.len(), &format!("[hidden, units] of {layout}"))?;
    check_len("bv", u, w.bv.len(), &format!("[units] of {layout}"))?;
    check_len("wg", s.w_glu, w.wg.len(), &format!("[hidden, units] of {layout}"))?;
    check_len("bg", u, w.bg.len(), &format!("[units] of {layout}"))?;
    check_optional("ws", s.ws, w.ws.map(|a| a.len()), p, &format!("[in, units] of {layout}"))?;
    check_optional("bs", u, w.bs.map(|a| a.len()), p, &format!("[units] of {layout}"))?;
    check_len("gamma", u, w.gamma.len(), &format!("[units] of {layout}"))?;
    check_len("beta", u, w.beta.len(), &format!("[units] of {layout}"))?;
    Ok(s)
}

#[allow(clippy::too_many_arguments)]
fn check_saved(shape: &GrnShape, s: &GrnSizes, eta: usize, e: usize, a: usize, g: usize, n: usize, rstd: usize) -> CoreResult<()> {
    let layout = shape.layout();
    check_len("eta", s.hidden_rows, eta, &format!("[rows, hidden] of {layout}"))?;
    check_len("e", s.hidden_rows, e, &format!("[rows, hidden] of {layout}"))?;
    for (name, len) in [("a", a), ("g", g), ("n", n)] {
        check_len(name, s.unit_rows, len, &format!("[rows, units] of {layout}"))?;
    }
    check_len("rstd", shape.rows, rstd, &format!("[rows] of {layout}"))
}

fn check_epsilon(epsilon: f32) -> CoreResult<()> {
    if !(epsilon.is_finite() && epsilon >= 0.0) {
        return Err(CoreError::arg("epsilon", format!("must be a finite number ≥ 0, got {epsilon}")));
    }
    Ok(())
}

/// The forward pass: writes y and every saved array. Lengths are checked.
pub fn grn_forward(shape: &GrnShape, x: &[f32], w: GrnWeights<'_>, epsilon: f32, y: &mut [f32], state: GrnState<'_>) -> CoreResult<()> {
    check_epsilon(epsilon)?;
    let s = check_inputs(shape, x.len(), &w)?;
    check_saved(shape, &s, state.eta.len(), state.e.len(), state.a.len(), state.g.len(), state.n.len(), state.rstd.len())?;
    check_len("y", s.unit_rows, y.len(), &format!("[rows, units] of {}", shape.layout()))?;
    grn_forward_into(shape, x, w, epsilon, y, state);
    Ok(())
}

/// The backward pass of Σ dy ⊙ y. Lengths are checked.
pub fn grn_backward(shape: &GrnShape, x: &[f32], w: GrnWeights<'_>, saved: GrnSavedRef<'_>, dy: &[f32], grads: GrnGrads<'_>) -> CoreResult<()> {
    let s = check_inputs(shape, x.len(), &w)?;
    check_saved(shape, &s, saved.eta.len(), saved.e.len(), saved.a.len(), saved.g.len(), saved.n.len(), saved.rstd.len())?;
    let layout = shape.layout();
    let (h, u, p) = (shape.hidden, shape.units, shape.projects_skip());
    check_len("dy", s.unit_rows, dy.len(), &format!("[rows, units] of {layout}"))?;
    check_len("dw1", s.w1, grads.dw1.len(), &format!("[in, hidden] of {layout}"))?;
    check_len("db1", h, grads.db1.len(), &format!("[hidden] of {layout}"))?;
    check_len("dw2", s.w2, grads.dw2.len(), &format!("[hidden, hidden] of {layout}"))?;
    check_len("db2", h, grads.db2.len(), &format!("[hidden] of {layout}"))?;
    check_len("dwv", s.w_glu, grads.dwv.len(), &format!("[hidden, units] of {layout}"))?;
    check_len("dbv", u, grads.dbv.len(), &format!("[units] of {layout}"))?;
    check_len("dwg", s.w_glu, grads.dwg.len(), &format!("[hidden, units] of {layout}"))?;
    check_len("dbg", u, grads.dbg.len(), &format!("[units] of {layout}"))?;
    check_optional("dws", s.ws, grads.dws.as_ref().map(|a| a.len()), p, &format!("[in, units] of {layout}"))?;
    check_optional("dbs", u, grads.dbs.as_ref().map(|a| a.len()), p, &format!("[units] of {layout}"))?;
    check_len("dgamma", u, grads.dgamma.len(), &format!("[units] of {layout}"))?;
    check_len("dbeta", u, grads.dbeta.len(), &format!("[units] of {layout}"))?;
    if let Some(dx) = &grads.dx {
        check_len("dx", s.x, dx.len(), &format!("[rows, in] of {layout}"))?;
    }
    grn_backward_into(shape, x, w, saved, dy, grads);
    Ok(())
}
