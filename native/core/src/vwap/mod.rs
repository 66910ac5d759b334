//! Batched VWAP slippage loss and its gradient (method.md §1): public API,
//! argument checks and the dispatch to a device.
//!
//! Layout: `alloc`, `price`, `volume` are row-major [batch, horizon]; row b is
//! one parent order over `horizon` bars. Each may be f32 or f64; all sums are
//! accumulated in f64.
//!
//! Math, per order b (sums over t in 0..horizon):
//!   A = Σ a_t,  P_ach = Σ a_t p_t / A           (unnormalized allocations work)
//!   V = Σ V_t,  P_mkt = Σ V_t p_t / V
//!   d = P_ach / P_mkt − 1                        (`per_order[b]`)
//!   loss: abs = |d|, quad = d²;  mean over the N orders used.
//! Gradient of the mean loss with respect to a_t:
//!   ∂d/∂a_t = (p_t − P_ach) / (A · P_mkt)
//!   ∂L/∂a_t = l'(d) / N · ∂d/∂a_t,  l'(d) = sign(d) (abs; 0 at d = 0) or 2d (quad).
//! The subgradient 0 at d = 0 is the choice that makes a perfect schedule a
//! stationary point.
//!
//! Module map: `cpu` (the CPU kernel, the specification, and its plain
//! `reference`), `cuda` (feature `cuda`: launchers of kernels/vwap.cu, which
//! mirror `cpu`). [`vwap_loss_on`] runs either on a resolved device with the
//! same results and errors.

mod cpu;
#[cfg(feature = "cuda")]
mod cuda;

use crate::device::{cuda_only, Device};
use crate::error::{CoreError, CoreResult};
use crate::real::Real;

pub use cpu::{reference, row_stats, vwap_loss, vwap_loss_grad, vwap_loss_grad_into, RowStats};

/// Which loss to average.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LossKind {
    Abs,
    Quad,
}

/// What to do with an order whose market volume sums to zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ZeroVolumePolicy {
    Error,
    Skip,
}

#[derive(Clone, Copy, Debug)]
pub struct VwapArgs {
    pub batch: usize,
    pub horizon: usize,
    pub kind: LossKind,
    pub on_zero_volume: ZeroVolumePolicy,
}

/// Forward result. `per_order[b]` is NaN for a skipped order.
#[derive(Clone, Debug, PartialEq)]
pub struct VwapLoss {
    pub mean: f64,
    pub per_order: Vec<f64>,
    /// Orders that entered the mean.
    pub used: usize,
    /// Orders skipped for zero volume (`ZeroVolumePolicy::Skip`).
    pub skipped: usize,
}

/// Rows per work item: large enough to amortize scheduling, small enough to
/// balance two to hundreds of threads.
pub const CHUNK: usize = 4096;

/// Check the three slice lengths against [batch, horizon].
pub fn check_shapes(args: &VwapArgs, a: usize, p: usize, v: usize) -> CoreResult<usize> {
    if args.horizon == 0 {
        return Err(CoreError::arg("horizon", "must be >= 1"));
    }
    let n = args
        .batch
        .checked_mul(args.horizon)
        .ok_or_else(|| CoreError::arg("batch", "batch * horizon overflows"))?;
    let layout = format!("[batch={}, horizon={}]", args.batch, args.horizon);
    for (name, got) in [("alloc", a), ("price", p), ("volume", v)] {
        if got != n {
            return Err(CoreError::shape(name, n, got, &layout));
        }
    }
    Ok(n)
}

/// The loss of `args` on `device`: the forward (mean and per-order slippage)
/// and, with `grad` (alloc's shape and float type), the gradient of the mean
/// loss with respect to `alloc` written into it. Price and volume may each be
/// f32 or f64.
///
/// Results agree across devices to rounding (both sum in f64; CUDA has
/// kernels for all-f32 and all-f64 inputs and widens any other mix to f64
/// first), and errors are the same (the CUDA path re-runs the CPU validation
/// on a flagged row). `Device::Cuda` without a usable GPU, or
/// in a build without the `cuda` feature, is ERR_CUDA_UNAVAILABLE.
pub fn vwap_loss_on<A: Real, P: Real, V: Real>(
    device: Device,
    a: &[A],
    p: &[P],
    v: &[V],
    args: &VwapArgs,
    grad: Option<&mut [A]>,
) -> CoreResult<VwapLoss> {
    match device {
        Device::Cpu => match grad {
            None => vwap_loss(a, p, v, args),
            Some(g) => vwap_loss_grad_into(a, p, v, args, g),
        },
        Device::Cuda => cuda_only!(cuda::vwap_loss(A::floats(a), P::floats(p), V::floats(v), args, grad.map(A::floats_mut))),
    }
}
