//! Batched execution simulator (method.md §8, issue F): turns schedules into
//! fills bar by bar, with a participation cap and carry-over, a final sweep,
//! half spread, temporary and permanent impact, fees, passive fills, a limit
//! price collar and an emergency stop. Public API, argument checks and the
//! dispatch to a device.
//!
//! # Units and layout
//! Quantities are in base units, prices in quote per base, costs in quote
//! currency (positive = a cost to the order). `side` is +1 (buy) or −1
//! (sell). All arithmetic is f64. Per-bin arrays are row-major [batch, horizon]
//! (order b, bin t); per-order arrays are [batch].
//!
//! # The model: one order, one bin (the spec is [`cpu::bin_step`])
//! Inputs of order b: Q = `quantity`, s = `side`, σ = `sigma` (causal per-bin
//! volatility, relative), hs = `half_spread_bps`·1e−4, L = `limit_price`
//! (NaN = no collar), passive flag; of bin t: p_t = `price` (bar VWAP),
//! V_t = `volume` (market volume), a_t = the schedule's fraction of Q.
//! State: carry, filled, Σ_{s<t} q_s/V_s, running market sums, stopped.
//! For t = 0 .. T−1 (`last` = t is T−1; `sweep` = last and finalBin 'sweep'):
//! 1. market sums: ΣV += V_t, ΣVp += V_t·p_t (always; `marketVwap` = ΣVp/ΣV);
//!    `zeroVolumeBins` += 1 when V_t = 0 (always: a property of the data).
//! 2. target = Q·a_t + carry. A stopped order fills nothing from here on
//!    (carry = target, no sweep).
//! 3. V_t = 0: no fill, carry = target (the whole target is carried).
//! 4. cap = ρ·V_t, times `passive_fill_share` for a passive order outside the
//!    sweep; q = target in the sweep bin, else min(target, cap). q = 0: no fill.
//! 5. x = q / V_t (participation), perm = γ·Σ_{s<t} q_s/V_s,
//!    temp = (η·σ)·x^β  (x^β is `sqrt(x)` for β = 0.5, `x` for β = 1, else
//!    `powf`); in the sweep bin with q > cap, temp ×= 1 + (M − 1)·(q − cap)/q
//!    with M = `sweep_impact_multiplier`: the part above the cap pays M times
//!    the impact, both parts at the bin's participation x (M = 1 leaves temp
//!    unchanged: the higher participation already raises it).
//! 6. spread = 0 for a passive order outside the sweep, else hs; fill price
//!    f = p_t·(1 + s·((spread + temp) + perm)).
//! 7. collar: when s·(f − L) > 0 the bin fills nothing: `collarBlockedQty` += q,
//!    carry = target (blocked quantity is retried in later bins).
//! 8. fill: filled += q, notional += q·f, spreadCost += (p_t·q)·spread,
//!    temporaryImpactCost += (p_t·q)·temp, permanentImpactCost += (p_t·q)·perm,
//!    feeCost += (fee·1e−4)·(q·f) with fee = maker for a passive order outside
//!    the sweep, else taker; Σ q/V += x; maxParticipation = max(·, x);
//!    carry = target − q.
//! 9. emergency stop (t < T−1, stopSlippageBps S not +∞, filled > 0): the
//!    running slippage s·((notional/filled) / (ΣVp/ΣV) − 1)·1e4 over bins
//!    0..t exceeds S, evaluated without division as
//!    s·(notional·ΣV − filled·ΣVp) > (S·1e−4)·(filled·ΣVp)
//!    (the same inequality times filled·ΣVp > 0; only its rounding at the
//!    boundary differs). The order then stops (`stoppedAt` = t): no more
//!    fills, no sweep, the rest stays unfilled. Fees are not part of this
//!    slippage.
//!
//! The final sweep is always aggressive (half spread and taker fee, even for
//! a passive order): the remainder must be taken from the book.
//!
//! # Outputs (see [`FillOut`])
//! Per bin: `filled` q (0 when nothing filled) and `fill_price` f (NaN when
//! nothing filled). Per order: `filled_qty` Σq, `notional` Σq·f, the four
//! costs, `collar_blocked_qty`, `zero_volume_bins`, `stopped_at` (−1 = never),
//! `max_participation` (0 when nothing filled), `market_volume` ΣV_t and
//! `market_vwap` ΣV_t·p_t/ΣV_t over all T bins (NaN when ΣV = 0), and
//! `shortfall_cost` = s·(notional − filled_qty·arrival) (NaN without
//! `arrival_price`).
//!
//! # TCA formulas (computed outside the core from these outputs)
//! - completion = filled_qty / Q; unfilled = Q − filled_qty.
//! - average price  P̄ = notional / filled_qty (undefined when filled_qty = 0).
//! - slippage vs the interval VWAP, bps = s·(P̄ / market_vwap − 1)·1e4 (positive = cost);
//!   hit = slippage < 0.
//! - implementation shortfall, bps = s·(P̄ / arrival − 1)·1e4
//!   = shortfall_cost / (filled_qty·arrival)·1e4.
//! - cost c (spread, temporary, permanent, fee) in bps of the executed notional
//!   = c / notional·1e4.
//! - average participation = filled_qty / market_volume; maximum = max_participation.
//! - identity (up to rounding): s·(notional − Σ_t q_t·p_t) = spread + temporary + permanent,
//!   so s·(notional − filled_qty·market_vwap) = s·(Σ q_t·p_t − filled_qty·market_vwap) [timing]
//!   + spread + temporary + permanent.
//!
//! # Entry points (one per-order-per-bin function, so they agree bit for bit)
//! - [`simulate_fills`] / [`simulate_fills_on`]: open loop, a whole schedule
//!   [batch, horizon] at once, threaded over orders (CUDA mirror in
//!   kernels/fills.cu).
//! - [`FillSimulator`]: stepped (closed loop): `step(fractions [batch])` runs
//!   one bin for all orders, threaded over orders; `finish()` returns the
//!   same outputs as the batch call. CPU only.
//!
//! # Defaults (see [`FillParams::default`])
//! ρ = 0.1 (method.md: typical 10–20 %); β = 0.5 (square-root law); η = 0.5:
//! for a fill inside one bin of length τ, the square-root law
//! I = Y·σ_day·sqrt(Q/V_day) with Q = x·V_bin reads I = Y·σ_bin·sqrt(x), so η
//! is the law's Y, empirically of order one (≈ 0.5–1; Tóth et al. 2011,
//! Bouchaud et al. 2018 ch. 12), whatever the bar length; we take the lower
//! end. γ = 0: the spec's permanent term γ·Σ q_s/V_s has no σ, so no value
//! carries across assets and bar lengths (Almgren et al. 2005's γ_A·σ_day·X/V_day
//! maps to γ = γ_A·σ_day/(bins per day), e.g. ≈ 4e−4 for hourly BTC at
//! σ_day = 3 %); set it per market. Fees: taker 2 bps, maker 0 bps
//! (institutional crypto tiers and equity agency commissions; retail Binance
//! spot is 10/10 bps); negative fees are rebates. finalBin 'sweep', M = 1,
//! no stop, passive fill share 0.5 (a resting order is assumed to get half of
//! what the cap would allow an aggressive one).

mod cpu;
#[cfg(feature = "cuda")]
mod cuda;
pub mod lane;
mod stepped;

use crate::device::{cuda_only, Device};
use crate::error::{CoreError, CoreResult};

pub use cpu::{bin_step, bin_step_with, simulate_fills, BinFill, BinParams, OrderConst, OrderState, Power};
pub use stepped::FillSimulator;

/// Orders per work item of the threaded loops.
pub const CHUNK: usize = 2048;

/// What happens to the remainder in the last bin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FinalBin {
    /// Take all that is left (above the cap, at the sweep's impact).
    Sweep,
    /// Leave it unfilled (reported through `filled_qty` < Q).
    Leave,
}

/// Cost and risk parameters of a simulation (see the module header).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FillParams {
    /// ρ: most of a bin's market volume an order may take (> 0).
    pub max_participation: f64,
    /// η: temporary impact coefficient (>= 0).
    pub impact_eta: f64,
    /// β: temporary impact exponent (> 0).
    pub impact_beta: f64,
    /// γ: permanent impact per unit of participation (>= 0).
    pub permanent_gamma: f64,
    /// Fee of aggressive fills, bps of the fill's notional (finite; < 0 = rebate).
    pub taker_fee_bps: f64,
    /// Fee of passive fills, bps (finite; < 0 = rebate).
    pub maker_fee_bps: f64,
    pub final_bin: FinalBin,
    /// M: factor on the temporary impact of the part of a sweep above the cap (>= 0).
    pub sweep_impact_multiplier: f64,
    /// Emergency stop on the running slippage, bps; +∞ = off (not NaN).
    pub stop_slippage_bps: f64,
    /// Share of the cap a passive order can fill, in [0, 1].
    pub passive_fill_share: f64,
}

impl Default for FillParams {
    fn default() -> Self {
        FillParams {
            max_participation: 0.1,
            impact_eta: 0.5,
            impact_beta: 0.5,
            permanent_gamma: 0.0,
            taker_fee_bps: 2.0,
            maker_fee_bps: 0.0,
            final_bin: FinalBin::Sweep,
            sweep_impact_multiplier: 1.0,
            stop_slippage_bps: f64::INFINITY,
            passive_fill_share: 0.5,
        }
    }
}

impl FillParams {
    /// ERR_ARG naming the first invalid parameter (camelCase, as in JavaScript).
    pub fn check(&self) -> CoreResult<()> {
        fn need(name: &str, v: f64, ok: bool, what: &str) -> CoreResult<()> {
            if ok {
                Ok(())
            } else {
                Err(CoreError::arg(name, format!("must be {what}, got {v}")).with("value", v))
            }
        }
        let p = self;
        need("maxParticipation", p.max_participation, p.max_participation.is_finite() && p.max_participation > 0.0, "a finite number > 0")?;
        need("impactEta", p.impact_eta, p.impact_eta.is_finite() && p.impact_eta >= 0.0, "a finite number >= 0")?;
        need("impactBeta", p.impact_beta, p.impact_beta.is_finite() && p.impact_beta > 0.0, "a finite number > 0")?;
        need("permanentGamma", p.permanent_gamma, p.permanent_gamma.is_finite() && p.permanent_gamma >= 0.0, "a finite number >= 0")?;
        need("takerFeeBps", p.taker_fee_bps, p.taker_fee_bps.is_finite(), "a finite number")?;
        need("makerFeeBps", p.maker_fee_bps, p.maker_fee_bps.is_finite(), "a finite number")?;
        need(
            "sweepImpactMultiplier",
            p.sweep_impact_multiplier,
            p.sweep_impact_multiplier.is_finite() && p.sweep_impact_multiplier >= 0.0,
            "a finite number >= 0",
        )?;
        need("stopSlippageBps", p.stop_slippage_bps, !p.stop_slippage_bps.is_nan(), "a number (Infinity turns the stop off)")?;
        need(
            "passiveFillShare",
            p.passive_fill_share,
            (0.0..=1.0).contains(&p.passive_fill_share),
            "a number in [0, 1]",
        )?;
        Ok(())
    }
}

/// Which orders rest passively.
#[derive(Clone, Copy, Debug)]
pub enum Passive<'a> {
    /// None (every fill is aggressive).
    None,
    /// All orders.
    All,
    /// Per order: 1 passive, 0 aggressive ([batch]).
    PerOrder(&'a [u8]),
}

/// The market and the orders of one simulation (borrowed).
#[derive(Clone, Copy, Debug)]
pub struct FillInputs<'a> {
    pub batch: usize,
    pub horizon: usize,
    /// Bin price p (the bar VWAP), [batch, horizon], finite > 0.
    pub price: &'a [f64],
    /// Market volume V, [batch, horizon], finite >= 0.
    pub volume: &'a [f64],
    /// Causal per-bin relative volatility σ, [batch], finite >= 0.
    pub sigma: &'a [f64],
    /// Half spread in bps, [batch], finite >= 0.
    pub half_spread_bps: &'a [f64],
    /// Order size Q in base units, [batch], finite >= 0.
    pub quantity: &'a [f64],
    /// +1 buy, −1 sell, [batch].
    pub side: &'a [i8],
    /// Limit price, [batch]: NaN = no collar, else finite > 0. None = no collar at all.
    pub limit_price: Option<&'a [f64]>,
    /// Arrival price for `shortfall_cost`, [batch], finite > 0. None: NaN costs.
    pub arrival_price: Option<&'a [f64]>,
    pub passive: Passive<'a>,
}

/// Where a simulation writes its results (borrowed; see the module header).
pub struct FillOut<'a> {
    /// [batch, horizon]
    pub filled: &'a mut [f64],
    /// [batch, horizon], NaN where nothing filled.
    pub fill_price: &'a mut [f64],
    pub orders: OrderOut<'a>,
}

/// Per-order results, each [batch].
pub struct OrderOut<'a> {
    pub filled_qty: &'a mut [f64],
    pub notional: &'a mut [f64],
    pub spread_cost: &'a mut [f64],
    pub temporary_impact_cost: &'a mut [f64],
    pub permanent_impact_cost: &'a mut [f64],
    pub fee_cost: &'a mut [f64],
    pub collar_blocked_qty: &'a mut [f64],
    pub max_participation: &'a mut [f64],
    pub market_volume: &'a mut [f64],
    pub market_vwap: &'a mut [f64],
    pub shortfall_cost: &'a mut [f64],
    pub zero_volume_bins: &'a mut [i32],
    pub stopped_at: &'a mut [i32],
}

/// Names of the per-order f64 outputs, in [`OrderOut::f64_fields`] order.
pub const ORDER_F64_FIELDS: [&str; 11] = [
    "filledQty",
    "notional",
    "spreadCost",
    "temporaryImpactCost",
    "permanentImpactCost",
    "feeCost",
    "collarBlockedQty",
    "maxParticipation",
    "marketVolume",
    "marketVwap",
    "shortfallCost",
];

impl<'a> OrderOut<'a> {
    /// The f64 outputs in [`ORDER_F64_FIELDS`] order.
    pub fn f64_fields(&mut self) -> [&mut [f64]; 11] {
        [
            &mut *self.filled_qty,
            &mut *self.notional,
            &mut *self.spread_cost,
            &mut *self.temporary_impact_cost,
            &mut *self.permanent_impact_cost,
            &mut *self.fee_cost,
            &mut *self.collar_blocked_qty,
            &mut *self.max_participation,
            &mut *self.market_volume,
            &mut *self.market_vwap,
            &mut *self.shortfall_cost,
        ]
    }

    fn lens(&self) -> [(&'static str, usize); 13] {
        [
            ("filledQty", self.filled_qty.len()),
            ("notional", self.notional.len()),
            ("spreadCost", self.spread_cost.len()),
            ("temporaryImpactCost", self.temporary_impact_cost.len()),
            ("permanentImpactCost", self.permanent_impact_cost.len()),
            ("feeCost", self.fee_cost.len()),
            ("collarBlockedQty", self.collar_blocked_qty.len()),
            ("maxParticipation", self.max_participation.len()),
            ("marketVolume", self.market_volume.len()),
            ("marketVwap", self.market_vwap.len()),
            ("shortfallCost", self.shortfall_cost.len()),
            ("zeroVolumeBins", self.zero_volume_bins.len()),
            ("stoppedAt", self.stopped_at.len()),
        ]
    }
}

/// Owned results of a simulation (what [`FillOut`] borrows).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct FillOutputs {
    pub batch: usize,
    pub horizon: usize,
    pub filled: Vec<f64>,
    pub fill_price: Vec<f64>,
    pub filled_qty: Vec<f64>,
    pub notional: Vec<f64>,
    pub spread_cost: Vec<f64>,
    pub temporary_impact_cost: Vec<f64>,
    pub permanent_impact_cost: Vec<f64>,
    pub fee_cost: Vec<f64>,
    pub collar_blocked_qty: Vec<f64>,
    pub max_participation: Vec<f64>,
    pub market_volume: Vec<f64>,
    pub market_vwap: Vec<f64>,
    pub shortfall_cost: Vec<f64>,
    pub zero_volume_bins: Vec<i32>,
    pub stopped_at: Vec<i32>,
}

impl FillOutputs {
    /// Zero-filled outputs for [batch, horizon] (ERR_ARG naming `batch` when too large).
    pub fn new(batch: usize, horizon: usize) -> CoreResult<Self> {
        let n = batch.checked_mul(horizon).ok_or_else(|| CoreError::arg("batch", "batch * horizon overflows"))?;
        let bins = crate::buffer::zeroed_vec::<f64>("batch", n)?;
        let per = || crate::buffer::zeroed_vec::<f64>("batch", batch);
        let ints = || -> CoreResult<Vec<i32>> {
            crate::buffer::check_alloc("batch", batch, 4)?;
            Ok(vec![0i32; batch])
        };
        Ok(FillOutputs {
            batch,
            horizon,
            fill_price: crate::buffer::zeroed_vec::<f64>("batch", n)?,
            filled: bins,
            filled_qty: per()?,
            notional: per()?,
            spread_cost: per()?,
            temporary_impact_cost: per()?,
            permanent_impact_cost: per()?,
            fee_cost: per()?,
            collar_blocked_qty: per()?,
            max_participation: per()?,
            market_volume: per()?,
            market_vwap: per()?,
            shortfall_cost: per()?,
            zero_volume_bins: ints()?,
            stopped_at: ints()?,
        })
    }

    pub fn as_out(&mut self) -> FillOut<'_> {
        FillOut {
            filled: &mut self.filled,
            fill_price: &mut self.fill_price,
            orders: OrderOut {
                filled_qty: &mut self.filled_qty,
                notional: &mut self.notional,
                spread_cost: &mut self.spread_cost,
                temporary_impact_cost: &mut self.temporary_impact_cost,
                permanent_impact_cost: &mut self.permanent_impact_cost,
                fee_cost: &mut self.fee_cost,
                collar_blocked_qty: &mut self.collar_blocked_qty,
                max_participation: &mut self.max_participation,
                market_volume: &mut self.market_volume,
                market_vwap: &mut self.market_vwap,
                shortfall_cost: &mut self.shortfall_cost,
                zero_volume_bins: &mut self.zero_volume_bins,
                stopped_at: &mut self.stopped_at,
            },
        }
    }
}

fn layout(batch: usize, horizon: usize) -> String {
    format!("[batch={batch}, horizon={horizon}]")
}

/// `batch · horizon`, ERR_ARG for horizon 0 or an overflow.
pub fn bins_of(batch: usize, horizon: usize) -> CoreResult<usize> {
    if horizon == 0 {
        return Err(CoreError::arg("horizon", "must be >= 1"));
    }
    batch.checked_mul(horizon).ok_or_else(|| CoreError::arg("batch", "batch * horizon overflows"))
}

/// Lengths of the market and order arrays (ERR_SHAPE naming the array).
pub fn check_input_shapes(i: &FillInputs) -> CoreResult<usize> {
    let n = bins_of(i.batch, i.horizon)?;
    let lay = layout(i.batch, i.horizon);
    for (name, got) in [("price", i.price.len()), ("volume", i.volume.len())] {
        if got != n {
            return Err(CoreError::shape(name, n, got, &lay));
        }
    }
    let per = format!("[batch={}]", i.batch);
    let mut arrays = vec![
        ("sigma", i.sigma.len()),
        ("halfSpreadBps", i.half_spread_bps.len()),
        ("quantity", i.quantity.len()),
        ("side", i.side.len()),
    ];
    if let Some(l) = i.limit_price {
        arrays.push(("limitPrice", l.len()));
    }
    if let Some(a) = i.arrival_price {
        arrays.push(("arrivalPrice", a.len()));
    }
    if let Passive::PerOrder(p) = i.passive {
        arrays.push(("passive", p.len()));
    }
    for (name, got) in arrays {
        if got != i.batch {
            return Err(CoreError::shape(name, i.batch, got, &per));
        }
    }
    Ok(n)
}

/// Lengths of the outputs (ERR_SHAPE naming `out.<field>`).
pub fn check_out_shapes(batch: usize, horizon: usize, out: &FillOut) -> CoreResult<()> {
    let n = bins_of(batch, horizon)?;
    let lay = layout(batch, horizon);
    for (name, got) in [("out.filled", out.filled.len()), ("out.fillPrice", out.fill_price.len())] {
        if got != n {
            return Err(CoreError::shape(name, n, got, &lay));
        }
    }
    let per = format!("[batch={batch}]");
    for (name, got) in out.orders.lens() {
        if got != batch {
            let full = format!("out.{name}");
            return Err(CoreError::shape(&full, batch, got, &per));
        }
    }
    Ok(())
}

/// Everything about a batch call that can be checked without reading values:
/// parameters, then input shapes, then the schedule, then the outputs.
pub fn check_call(i: &FillInputs, schedule_len: usize, params: &FillParams, out: &FillOut) -> CoreResult<()> {
    params.check()?;
    let n = check_input_shapes(i)?;
    if schedule_len != n {
        return Err(CoreError::shape("schedule", n, schedule_len, &layout(i.batch, i.horizon)));
    }
    check_out_shapes(i.batch, i.horizon, out)
}

/// [`simulate_fills`] on `device`. Results agree bit for bit across devices
/// for β ∈ {0.5, 1} (the CUDA kernel uses unfused IEEE operations; other β
/// go through `pow`, whose last bit may differ), and errors are the same (a
/// row the kernel flags is re-validated on the CPU). `Device::Cuda` without
/// a usable GPU, or in a build without the `cuda` feature, is
/// ERR_CUDA_UNAVAILABLE.
pub fn simulate_fills_on(device: Device, inputs: &FillInputs, schedule: &[f64], params: &FillParams, out: &mut FillOut) -> CoreResult<()> {
    match device {
        Device::Cpu => simulate_fills(inputs, schedule, params, out),
        Device::Cuda => cuda_only!(cuda::simulate_fills(inputs, schedule, params, out)),
    }
}
