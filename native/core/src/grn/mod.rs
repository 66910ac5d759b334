//! Fused gated residual network (GRN, docs/method.md §5): one call for the
//! forward pass and one for the backward pass over a stack of S independent
//! GRNs, each over a block of rows (the `grnOp` of src/ops; the tfjs
//! composition of src/layers/grn.ts, `applyGrn`, is the reference the parity
//! tests compare with, and this is exactly its math). S = 1 is the plain GRN
//! (the gft encoder's, VariableSelection's selection GRN); S = V is
//! VariableSelection's per-variable GRNs, one per variable, each on its own
//! embeddings with its own weights.
//!
//! Math, per stack index s and row x [in] (h = hidden, u = units, ε = epsilon;
//! every weight is that of GRN s):
//!   η = ELU(x·W1 + b1)                    ELU(z) = z (z ≥ 0), e^z − 1 (z < 0)   [h]
//!   e = η·W2 + b2                                                               [h]
//!   a = e·Wv + bv,  g = σ(e·Wg + bg),  GLU = a ⊙ g                              [u]
//!   s = skip(x) + GLU,  skip(x) = x (in = u) or x·Ws + bs (in ≠ u)
//!   n = (s − mean(s)) / √(var(s) + ε)    (population variance over the u values)
//!   y = n ⊙ γ + β                                                               [u]
//! Fused here: the layer without a context input, plain or stacked; the context
//! input (c·Wc) stays on the tfjs composition.
//! Backward, given dy = ∂L/∂y (r = 1/√(var + ε)), per stack index over its rows:
//!   dγ = Σ dy ⊙ n, dβ = Σ dy;  dn = dy ⊙ γ
//!   ds = r · (dn − mean(dn) − n · mean(dn ⊙ n))
//!   da = ds ⊙ g, dgz = ds ⊙ a ⊙ g(1 − g);  dWv = eᵀ·da, dbv = Σ da, dWg = eᵀ·dgz, dbg = Σ dgz
//!   de = da·Wvᵀ + dgz·Wgᵀ;  dW2 = ηᵀ·de, db2 = Σ de;  dη = de·W2ᵀ
//!   dz1 = dη ⊙ (η ≥ 0 ? 1 : η + 1);  dW1 = xᵀ·dz1, db1 = Σ dz1
//!   dWs = xᵀ·ds, dbs = Σ ds (with the projection)
//!   dx = dz1·W1ᵀ + (ds·Wsᵀ or ds) (only when asked).
//! Layout (row-major, f32), the stack index first: x [S, rows, in];
//!   W1 [S, in, h], b1 [S, h]; W2 [S, h, h], b2 [S, h]; Wv, Wg [S, h, u],
//!   bv, bg [S, u]; Ws [S, in, u], bs [S, u] (only when in ≠ u); γ, β [S, u]
//!   (tfjs-layers' stacked weights as `addGrnWeights` lays them out; S = 1 is
//!   also the unstacked layout); y [S, rows, u]. Saved for the backward pass:
//!   η, e [S, rows, h]; a, g, n [S, rows, u]; r [S, rows].
//! Work split (`cpu.rs`): the S·rows rows are cut into blocks of one stack
//! index (a fixed number of rows, from the shape only), one pool task each,
//! running all of that block's products (on the crate's `gemm`, on the task's
//! thread) and element-wise passes while its arrays are in cache. The backward's
//! weight gradients are per-block partial sums, added in block order: results
//! do not depend on the number of threads.
//! Cost per row and stack index: in·h + h² + 2·h·u (+ in·u) multiply-adds in
//!   the products, h exponentials, u sigmoids, two reductions; backward about
//!   twice the products, plus the partial sums' reduction (blocks·(S·params)).
//!   Memory: the saved arrays, S·rows·(2h + 3u + 1) floats; backward a block's
//!   scratch per task and the partial weight gradients (at most the saved
//!   arrays' size, see `cpu.rs`).
//! Precision: f32 storage and products; ELU and σ in f64 rounded once (as the
//!   tfjs CPU backend), the normalization's moments, the bias and γ/β
//!   gradients and the sum of the partial weight gradients in f64.
//! CPU only: no CUDA kernel (the tfjs `sigvwap` backend runs it on the host).
//!
//! Module map: `cpu` (the kernel and its plain f64 `reference`, the specification).

mod cpu;

use crate::error::{CoreError, CoreResult};

pub use cpu::{grn_backward_into, grn_forward_into, reference_backward, reference_forward, GrnRefGrads};

/// Sizes of one GRN call: `stack` GRNs, each over `rows` rows. The skip
/// projection exists exactly when `in_dim != units`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GrnShape {
    pub stack: usize,
    pub rows: usize,
    pub in_dim: usize,
    pub hidden: usize,
    pub units: usize,
}

/// Element counts of every array of a call, all stack indices together
/// (overflow-checked).
#[derive(Clone, Copy, Debug)]
pub struct GrnSizes {
    /// S·rows·in: x, dx
    pub x: usize,
    /// S·in·h
    pub w1: usize,
    /// S·h·h
    pub w2: usize,
    /// S·h·u: Wv, Wg
    pub w_glu: usize,
    /// S·in·u: Ws (0 without the projection)
    pub ws: usize,
    /// S·h: b1, b2
    pub hidden_vec: usize,
    /// S·u: bv, bg, bs, γ, β
    pub unit_vec: usize,
    /// S·rows·h: η, e
    pub hidden_rows: usize,
    /// S·rows·u: y, a, g, n
    pub unit_rows: usize,
    /// S·rows: r
    pub stack_rows: usize,
}

impl GrnShape {
    /// One GRN (S = 1).
    pub fn plain(rows: usize, in_dim: usize, hidden: usize, units: usize) -> Self {
        GrnShape { stack: 1, rows, in_dim, hidden, units }
    }

    pub fn layout(&self) -> String {
        format!("[stack={}, rows={}, in={}, hidden={}, units={}]", self.stack, self.rows, self.in_dim, self.hidden, self.units)
    }

    /// True when the skip connection is the projection x·Ws + bs (in ≠ units).
    pub fn projects_skip(&self) -> bool {
        self.in_dim != self.units
    }

    /// The shape of one GRN of the stack.
    pub fn one(&self) -> GrnShape {
        GrnShape { stack: 1, ..*self }
    }

    pub fn sizes(&self) -> CoreResult<GrnSizes> {
        if self.units == 0 {
            return Err(CoreError::arg("units", format!("must be at least 1 (the normalization's width): {}", self.layout())));
        }
        let mul = |a: usize, b: usize, what: &str| {
            a.checked_mul(b).ok_or_else(|| CoreError::arg(what, format!("the GRN's arrays would have more elements than fit in memory: {}", self.layout())))
        };
        let st = self.stack;
        let stack_rows = mul(st, self.rows, "rows")?;
        Ok(GrnSizes {
            x: mul(stack_rows, self.in_dim, "in")?,
            w1: mul(mul(st, self.in_dim, "in")?, self.hidden, "hidden")?,
            w2: mul(mul(st, self.hidden, "hidden")?, self.hidden, "hidden")?,
            w_glu: mul(mul(st, self.hidden, "hidden")?, self.units, "units")?,
            ws: if self.projects_skip() { mul(mul(st, self.in_dim, "in")?, self.units, "units")? } else { 0 },
            hidden_vec: mul(st, self.hidden, "hidden")?,
            unit_vec: mul(st, self.units, "units")?,
            hidden_rows: mul(stack_rows, self.hidden, "hidden")?,
            unit_rows: mul(stack_rows, self.units, "units")?,
            stack_rows,
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

impl<'a> GrnWeights<'a> {
    /// The weights of GRN `s` of the stack (lengths already checked against `shape`).
    pub fn at(&self, shape: &GrnShape, s: usize) -> GrnWeights<'a> {
        let (di, h, u) = (shape.in_dim, shape.hidden, shape.units);
        let part = |a: &'a [f32], n: usize| &a[s * n..(s + 1) * n];
        GrnWeights {
            w1: part(self.w1, di * h),
            b1: part(self.b1, h),
            w2: part(self.w2, h * h),
            b2: part(self.b2, h),
            wv: part(self.wv, h * u),
            bv: part(self.bv, u),
            wg: part(self.wg, h * u),
            bg: part(self.bg, u),
            ws: self.ws.map(|a| part(a, di * u)),
            bs: self.bs.map(|a| part(a, u)),
            gamma: part(self.gamma, u),
            beta: part(self.beta, u),
        }
    }
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
    let p = shape.projects_skip();
    check_len("x", s.x, x, &format!("[stack, rows, in] of {layout}"))?;
    check_len("w1", s.w1, w.w1.len(), &format!("[stack, in, hidden] of {layout}"))?;
    check_len("b1", s.hidden_vec, w.b1.len(), &format!("[stack, hidden] of {layout}"))?;
    check_len("w2", s.w2, w.w2.len(), &format!("[stack, hidden, hidden] of {layout}"))?;
    check_len("b2", s.hidden_vec, w.b2.len(), &format!("[stack, hidden] of {layout}"))?;
    check_len("wv", s.w_glu, w.wv.len(), &format!("[stack, hidden, units] of {layout}"))?;
    check_len("bv", s.unit_vec, w.bv.len(), &format!("[stack, units] of {layout}"))?;
    check_len("wg", s.w_glu, w.wg.len(), &format!("[stack, hidden, units] of {layout}"))?;
    check_len("bg", s.unit_vec, w.bg.len(), &format!("[stack, units] of {layout}"))?;
    check_optional("ws", s.ws, w.ws.map(|a| a.len()), p, &format!("[stack, in, units] of {layout}"))?;
    check_optional("bs", s.unit_vec, w.bs.map(|a| a.len()), p, &format!("[stack, units] of {layout}"))?;
    check_len("gamma", s.unit_vec, w.gamma.len(), &format!("[stack, units] of {layout}"))?;
    check_len("beta", s.unit_vec, w.beta.len(), &format!("[stack, units] of {layout}"))?;
    Ok(s)
}

#[allow(clippy::too_many_arguments)]
fn check_saved(shape: &GrnShape, s: &GrnSizes, eta: usize, e: usize, a: usize, g: usize, n: usize, rstd: usize) -> CoreResult<()> {
    let layout = shape.layout();
    check_len("eta", s.hidden_rows, eta, &format!("[stack, rows, hidden] of {layout}"))?;
    check_len("e", s.hidden_rows, e, &format!("[stack, rows, hidden] of {layout}"))?;
    for (name, len) in [("a", a), ("g", g), ("n", n)] {
        check_len(name, s.unit_rows, len, &format!("[stack, rows, units] of {layout}"))?;
    }
    check_len("rstd", s.stack_rows, rstd, &format!("[stack, rows] of {layout}"))
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
    check_len("y", s.unit_rows, y.len(), &format!("[stack, rows, units] of {}", shape.layout()))?;
    grn_forward_into(shape, x, w, epsilon, y, state);
    Ok(())
}

/// The backward pass of Σ dy ⊙ y. Lengths are checked.
pub fn grn_backward(shape: &GrnShape, x: &[f32], w: GrnWeights<'_>, saved: GrnSavedRef<'_>, dy: &[f32], grads: GrnGrads<'_>) -> CoreResult<()> {
    let s = check_inputs(shape, x.len(), &w)?;
    check_saved(shape, &s, saved.eta.len(), saved.e.len(), saved.a.len(), saved.g.len(), saved.n.len(), saved.rstd.len())?;
    let layout = shape.layout();
    let p = shape.projects_skip();
    check_len("dy", s.unit_rows, dy.len(), &format!("[stack, rows, units] of {layout}"))?;
    check_len("dw1", s.w1, grads.dw1.len(), &format!("[stack, in, hidden] of {layout}"))?;
    check_len("db1", s.hidden_vec, grads.db1.len(), &format!("[stack, hidden] of {layout}"))?;
    check_len("dw2", s.w2, grads.dw2.len(), &format!("[stack, hidden, hidden] of {layout}"))?;
    check_len("db2", s.hidden_vec, grads.db2.len(), &format!("[stack, hidden] of {layout}"))?;
    check_len("dwv", s.w_glu, grads.dwv.len(), &format!("[stack, hidden, units] of {layout}"))?;
    check_len("dbv", s.unit_vec, grads.dbv.len(), &format!("[stack, units] of {layout}"))?;
    check_len("dwg", s.w_glu, grads.dwg.len(), &format!("[stack, hidden, units] of {layout}"))?;
    check_len("dbg", s.unit_vec, grads.dbg.len(), &format!("[stack, units] of {layout}"))?;
    check_optional("dws", s.ws, grads.dws.as_ref().map(|a| a.len()), p, &format!("[stack, in, units] of {layout}"))?;
    check_optional("dbs", s.unit_vec, grads.dbs.as_ref().map(|a| a.len()), p, &format!("[stack, units] of {layout}"))?;
    check_len("dgamma", s.unit_vec, grads.dgamma.len(), &format!("[stack, units] of {layout}"))?;
    check_len("dbeta", s.unit_vec, grads.dbeta.len(), &format!("[stack, units] of {layout}"))?;
    if let Some(dx) = &grads.dx {
        check_len("dx", s.x, dx.len(), &format!("[stack, rows, in] of {layout}"))?;
    }
    grn_backward_into(shape, x, w, saved, dy, grads);
    Ok(())
}
