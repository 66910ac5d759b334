//! The CPU kernel of the VWAP loss: the specification that the CUDA kernels
//! (kernels/vwap.cu) mirror and are tested against. Math and layout: see
//! `mod.rs`.
//!
//! Validation is fused into the one pass over the data: non-finite inputs
//! make the row sums non-finite, and per-row minima catch negative prices,
//! volumes and allocations; only a flagged row is rescanned to name the exact
//! element. Cost: one read of 3·batch·horizon elements (the forward is
//! memory-bound), plus one write of the gradient.
//!
//! Determinism: rows are processed in fixed chunks of `CHUNK` rows and the
//! chunk partial sums are added in chunk order, so `mean` does not depend on
//! the number of threads.

use rayon::prelude::*;

use super::{check_shapes, LossKind, VwapArgs, VwapLoss, ZeroVolumePolicy, CHUNK};
use crate::error::{CoreError, CoreResult, ErrorCode};
use crate::real::Real;

/// Per-order sums. `bad` is set when the row needs a rescan for an error.
#[derive(Clone, Copy, Debug, Default)]
pub struct RowStats {
    pub sum_a: f64,
    pub sum_ap: f64,
    pub sum_v: f64,
    pub sum_vp: f64,
    pub bad: bool,
}

impl RowStats {
    #[inline(always)]
    pub fn p_ach(&self) -> f64 {
        self.sum_ap / self.sum_a
    }
    #[inline(always)]
    pub fn p_mkt(&self) -> f64 {
        self.sum_vp / self.sum_v
    }
    #[inline(always)]
    pub fn slippage(&self) -> f64 {
        self.p_ach() / self.p_mkt() - 1.0
    }
}

/// Row sums with four independent lanes so that the compiler can vectorize
/// the loop without reassociating one accumulator; the minima detect
/// negative inputs in the same pass.
#[inline(always)]
pub fn row_stats<A: Real, P: Real, V: Real>(a: &[A], p: &[P], v: &[V]) -> RowStats {
    const W: usize = 4;
    let h = a.len();
    let (mut sa, mut sap, mut sv, mut svp) = ([0.0f64; W], [0.0f64; W], [0.0f64; W], [0.0f64; W]);
    let (mut min_a, mut min_p, mut min_v) = ([f64::INFINITY; W], [f64::INFINITY; W], [f64::INFINITY; W]);
    let full = h / W * W;
    let mut t = 0;
    while t < full {
        for l in 0..W {
            let (x, y, z) = (a[t + l].to_f64(), p[t + l].to_f64(), v[t + l].to_f64());
            sa[l] += x;
            sap[l] += x * y;
            sv[l] += z;
            svp[l] += z * y;
            min_a[l] = min_a[l].min(x);
            min_p[l] = min_p[l].min(y);
            min_v[l] = min_v[l].min(z);
        }
        t += W;
    }
    for (l, t) in (full..h).enumerate() {
        let (x, y, z) = (a[t].to_f64(), p[t].to_f64(), v[t].to_f64());
        sa[l] += x;
        sap[l] += x * y;
        sv[l] += z;
        svp[l] += z * y;
        min_a[l] = min_a[l].min(x);
        min_p[l] = min_p[l].min(y);
        min_v[l] = min_v[l].min(z);
    }
    let s = RowStats {
        sum_a: (sa[0] + sa[1]) + (sa[2] + sa[3]),
        sum_ap: (sap[0] + sap[1]) + (sap[2] + sap[3]),
        sum_v: (sv[0] + sv[1]) + (sv[2] + sv[3]),
        sum_vp: (svp[0] + svp[1]) + (svp[2] + svp[3]),
        bad: false,
    };
    let mins = min_a.iter().chain(&min_p).chain(&min_v).fold(f64::INFINITY, |m, &x| m.min(x));
    let min_p_all = min_p.iter().fold(f64::INFINITY, |m, &x| m.min(x));
    // NaN compares false everywhere; the finiteness of the sums catches it.
    let finite = s.sum_a.is_finite() && s.sum_ap.is_finite() && s.sum_v.is_finite() && s.sum_vp.is_finite();
    RowStats { bad: !finite || mins < 0.0 || min_p_all <= 0.0 || s.sum_a <= 0.0, ..s }
}

/// Name the first problem of a flagged row `b` (inputs are scanned in the
/// order alloc, price, volume). Returns None when the row is valid.
fn diagnose_row<A: Real, P: Real, V: Real>(b: usize, a: &[A], p: &[P], v: &[V], horizon: usize) -> Option<CoreError> {
    let base = b * horizon;
    for (name, row) in [("alloc", 0usize), ("price", 1), ("volume", 2)] {
        for t in 0..horizon {
            let x = match row {
                0 => a[t].to_f64(),
                1 => p[t].to_f64(),
                _ => v[t].to_f64(),
            };
            if !x.is_finite() {
                return Some(CoreError::non_finite(name, base + t, x).with("order", b).with("step", t));
            }
        }
    }
    for t in 0..horizon {
        let x = p[t].to_f64();
        if x <= 0.0 {
            return Some(
                CoreError::arg("price", format!("price[{}] = {x} (order {b}, step {t}) must be > 0", base + t))
                    .with("index", base + t)
                    .with("order", b),
            );
        }
    }
    for (name, is_alloc) in [("alloc", true), ("volume", false)] {
        for t in 0..horizon {
            let x = if is_alloc { a[t].to_f64() } else { v[t].to_f64() };
            if x < 0.0 {
                return Some(
                    CoreError::arg(name, format!("{name}[{}] = {x} (order {b}, step {t}) must be >= 0", base + t))
                        .with("index", base + t)
                        .with("order", b),
                );
            }
        }
    }
    let sum_a: f64 = a.iter().map(|x| x.to_f64()).sum();
    if !(sum_a > 0.0) || !sum_a.is_finite() {
        return Some(
            CoreError::arg("alloc", format!("order {b}: allocations sum to {sum_a}; they must have a positive finite sum"))
                .with("order", b),
        );
    }
    // Sums can overflow with finite inputs (e.g. 1e300 prices).
    let s = row_stats(a, p, v);
    if !(s.sum_ap.is_finite() && s.sum_vp.is_finite() && s.sum_v.is_finite()) {
        return Some(CoreError::arg("price", format!("order {b}: sums overflow f64")).with("order", b));
    }
    None
}

pub(super) fn zero_volume_error(b: usize) -> CoreError {
    CoreError::new(
        ErrorCode::ZeroVolume,
        format!("order {b}: market volume sums to 0, so its VWAP is undefined (pass onZeroVolume: 'skip' to skip such orders)"),
    )
    .with("argument", "volume")
    .with("order", b)
}

#[inline(always)]
pub(super) fn loss_of(kind: LossKind, d: f64) -> f64 {
    match kind {
        LossKind::Abs => d.abs(),
        LossKind::Quad => d * d,
    }
}

#[inline(always)]
fn dloss(kind: LossKind, d: f64) -> f64 {
    match kind {
        LossKind::Abs => {
            if d > 0.0 {
                1.0
            } else if d < 0.0 {
                -1.0
            } else {
                0.0
            }
        }
        LossKind::Quad => 2.0 * d,
    }
}

/// Result of one chunk: loss sum, counts, and the first error (lowest row).
struct ChunkOut {
    loss_sum: f64,
    used: usize,
    skipped: usize,
    error: Option<(usize, CoreError)>,
}

/// Process one chunk of rows: fill `per_order` (and `grad` when given, scaled
/// by `grad_scale` = 1/batch).
#[allow(clippy::too_many_arguments)]
fn run_chunk<A: Real, P: Real, V: Real, G: Real>(
    row0: usize,
    a: &[A],
    p: &[P],
    v: &[V],
    per_order: &mut [f64],
    mut grad: Option<&mut [G]>,
    args: &VwapArgs,
    grad_scale: f64,
) -> ChunkOut {
    let h = args.horizon;
    let mut out = ChunkOut { loss_sum: 0.0, used: 0, skipped: 0, error: None };
    for (i, d_out) in per_order.iter_mut().enumerate() {
        let (ra, rp, rv) = (&a[i * h..(i + 1) * h], &p[i * h..(i + 1) * h], &v[i * h..(i + 1) * h]);
        let s = row_stats(ra, rp, rv);
        let b = row0 + i;
        if s.bad {
            if let Some(e) = diagnose_row(b, ra, rp, rv, h) {
                out.error = Some((b, e));
                return out;
            }
        }
        if s.sum_v == 0.0 {
            match args.on_zero_volume {
                ZeroVolumePolicy::Error => {
                    out.error = Some((b, zero_volume_error(b)));
                    return out;
                }
                ZeroVolumePolicy::Skip => {
                    *d_out = f64::NAN;
                    out.skipped += 1;
                    if let Some(g) = grad.as_deref_mut() {
                        g[i * h..(i + 1) * h].iter_mut().for_each(|x| *x = G::from_f64(0.0));
                    }
                    continue;
                }
            }
        }
        let d = s.slippage();
        *d_out = d;
        out.loss_sum += loss_of(args.kind, d);
        out.used += 1;
        if let Some(g) = grad.as_deref_mut() {
            let (p_ach, p_mkt) = (s.p_ach(), s.p_mkt());
            let w = grad_scale * dloss(args.kind, d) / (s.sum_a * p_mkt);
            for (gt, pt) in g[i * h..(i + 1) * h].iter_mut().zip(rp) {
                *gt = G::from_f64(w * (pt.to_f64() - p_ach) + 0.0); // + 0.0: no -0 when d = 0
            }
        }
    }
    out
}

/// Shared driver of forward and gradient (gradient when `grad` is Some).
fn drive<A: Real, P: Real, V: Real, G: Real>(
    a: &[A],
    p: &[P],
    v: &[V],
    args: &VwapArgs,
    grad: Option<&mut [G]>,
) -> CoreResult<VwapLoss> {
    check_shapes(args, a.len(), p.len(), v.len())?;
    let (batch, h) = (args.batch, args.horizon);
    let mut per_order = vec![0.0f64; batch];
    let grad_scale = if batch > 0 { 1.0 / batch as f64 } else { 0.0 };
    let step = CHUNK * h;
    let outs: Vec<ChunkOut> = crate::pool::install(|| match grad {
        Some(g) => per_order
            .par_chunks_mut(CHUNK)
            .zip(g.par_chunks_mut(step))
            .enumerate()
            .map(|(c, (po, gc))| {
                let r = c * step..(c * step + po.len() * h);
                run_chunk(c * CHUNK, &a[r.clone()], &p[r.clone()], &v[r], po, Some(gc), args, grad_scale)
            })
            .collect(),
        None => per_order
            .par_chunks_mut(CHUNK)
            .enumerate()
            .map(|(c, po)| {
                let r = c * step..(c * step + po.len() * h);
                run_chunk::<A, P, V, f64>(c * CHUNK, &a[r.clone()], &p[r.clone()], &v[r], po, None, args, grad_scale)
            })
            .collect(),
    });
    let mut total = VwapLoss { mean: 0.0, per_order: Vec::new(), used: 0, skipped: 0 };
    let mut loss_sum = 0.0;
    for o in outs {
        if let Some((_, e)) = o.error {
            return Err(e); // chunks are in row order: this is the lowest failing row
        }
        loss_sum += o.loss_sum;
        total.used += o.used;
        total.skipped += o.skipped;
    }
    total.mean = if total.used > 0 { loss_sum / total.used as f64 } else { f64::NAN };
    total.per_order = per_order;
    Ok(total)
}

/// Forward: mean loss and per-order slippage.
pub fn vwap_loss<A: Real, P: Real, V: Real>(a: &[A], p: &[P], v: &[V], args: &VwapArgs) -> CoreResult<VwapLoss> {
    drive::<A, P, V, f64>(a, p, v, args, None)
}

/// Gradient of the mean loss with respect to `alloc`, written into `grad`
/// ([batch, horizon], same element type as alloc). Returns the forward too.
pub fn vwap_loss_grad_into<A: Real, P: Real, V: Real>(
    a: &[A],
    p: &[P],
    v: &[V],
    args: &VwapArgs,
    grad: &mut [A],
) -> CoreResult<VwapLoss> {
    let n = check_shapes(args, a.len(), p.len(), v.len())?;
    if grad.len() != n {
        return Err(CoreError::shape("grad", n, grad.len(), "[batch, horizon]"));
    }
    let out = drive(a, p, v, args, Some(&mut *grad))?;
    // Rows were scaled by 1/batch; the mean is over the rows used.
    if out.skipped > 0 && out.used > 0 {
        let fix = args.batch as f64 / out.used as f64;
        crate::pool::install(|| grad.par_iter_mut().for_each(|g| *g = A::from_f64(g.to_f64() * fix)));
    }
    Ok(out)
}

/// Allocating form of `vwap_loss_grad_into`.
pub fn vwap_loss_grad<A: Real, P: Real, V: Real>(a: &[A], p: &[P], v: &[V], args: &VwapArgs) -> CoreResult<(Vec<A>, VwapLoss)> {
    let mut grad = vec![A::from_f64(0.0); a.len()];
    let out = vwap_loss_grad_into(a, p, v, args, &mut grad)?;
    Ok((grad, out))
}

/// The plain specification: one row at a time, naive sums, no threads.
/// Tests hold the fast path to it.
pub mod reference {
    use super::*;

    pub fn vwap_loss_ref(a: &[f64], p: &[f64], v: &[f64], args: &VwapArgs) -> (f64, Vec<f64>, Vec<f64>) {
        let h = args.horizon;
        let mut per = vec![f64::NAN; args.batch];
        let mut used = 0usize;
        let mut sum = 0.0;
        for b in 0..args.batch {
            let r = b * h..(b + 1) * h;
            let sv: f64 = v[r.clone()].iter().sum();
            if sv == 0.0 {
                continue;
            }
            let sa: f64 = a[r.clone()].iter().sum();
            let pa = a[r.clone()].iter().zip(&p[r.clone()]).map(|(x, y)| x * y).sum::<f64>() / sa;
            let pm = v[r.clone()].iter().zip(&p[r.clone()]).map(|(x, y)| x * y).sum::<f64>() / sv;
            per[b] = pa / pm - 1.0;
            sum += loss_of(args.kind, per[b]);
            used += 1;
        }
        let mut grad = vec![0.0; a.len()];
        for b in 0..args.batch {
            if per[b].is_nan() {
                continue;
            }
            let r = b * h..(b + 1) * h;
            let sa: f64 = a[r.clone()].iter().sum();
            let sv: f64 = v[r.clone()].iter().sum();
            let pa = a[r.clone()].iter().zip(&p[r.clone()]).map(|(x, y)| x * y).sum::<f64>() / sa;
            let pm = v[r.clone()].iter().zip(&p[r.clone()]).map(|(x, y)| x * y).sum::<f64>() / sv;
            for t in r {
                grad[t] = dloss(args.kind, per[b]) / used as f64 * (p[t] - pa) / (sa * pm);
            }
        }
        (sum / used as f64, per, grad)
    }
}
