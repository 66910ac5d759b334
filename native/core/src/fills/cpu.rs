//! The CPU kernel of the fill simulator: the specification that the CUDA
//! kernel (kernels/fills.cu) and the stepped simulator (`stepped.rs`) follow.
//! [`bin_step_with`] is the one per-order-per-bin function, written over a
//! lane type (`f64`: one order; `lane::F8` and its AVX2 / AVX-512 forms:
//! eight orders in SIMD lanes) with every rule a select, so that the batch
//! kernel, the stepped simulator and the CUDA kernel agree bit for bit. The
//! rules are listed in `mod.rs`; the operations below are in exactly that
//! order (f64, no fused multiply-add), which the TypeScript reference in
//! tests/helpers/fillsReference.ts repeats.
//!
//! Batch kernel: chunks of `CHUNK` orders run on the pool's threads; a chunk
//! runs blocks of `BLOCK` = G·L orders: G = 4 independent groups of L = 8
//! lanes, so that the division and square root of one group's bin overlap
//! those of the others (an order's bins depend on each other). Inputs are
//! gathered from the row-major arrays straight into lanes (the block after
//! next is prefetched); fills go through a small time-major scratch into the
//! rows, with streaming stores when the outputs are large.
//!
//! Validation: a branch-free pass over each block's inputs (in lanes, during
//! the simulation); a block that fails is rescanned order by order to name
//! the element, and its results are not written. Errors come from the lowest
//! failing order (chunks are collected in order), whatever the number of
//! threads.
//!
//! Cost per order-bin: reads price, volume, schedule (24 B), writes filled
//! and fill price (16 B), plus 42 B of per-order inputs and 96 B of per-order
//! results per order (11.5 B per order-bin at 12 bins); one division and one
//! square root (β = 0.5) in every lane, plus one division per order in the
//! last bin (sweep) and one for the market VWAP. Measured on 2 cores
//! (AVX-512): ~4 ns per order-bin with data in cache, ~4.5 ns per order-bin
//! at 1M orders × 12 bins (2.2·10⁸ order-bins/s, memory-bound).

use rayon::prelude::*;

use super::lane::{prefetch, stream_fence, stream_store, Lane, Lanes8, F8};
use super::{check_call, FillInputs, FillOut, FillParams, FinalBin, OrderOut, Passive, CHUNK};
use crate::error::{CoreError, CoreResult};

/// How x^β is evaluated.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Power {
    /// β = 0.5: `sqrt(x)` (correctly rounded everywhere).
    Sqrt,
    /// β = 1: `x`.
    Linear,
    /// Other β: `x.powf(β)`.
    Pow(f64),
}

/// The parameters in the form [`bin_step`] uses them.
#[derive(Clone, Copy, Debug)]
pub struct BinParams {
    pub rho: f64,
    pub power: Power,
    pub gamma: f64,
    /// taker_fee_bps · 1e−4
    pub taker_rate: f64,
    /// maker_fee_bps · 1e−4
    pub maker_rate: f64,
    pub sweep: bool,
    /// M − 1
    pub sweep_extra: f64,
    /// stop_slippage_bps · 1e−4
    pub stop_rel: f64,
    /// The stop is on (stop_bps is not +∞).
    pub stop_on: bool,
    pub passive_share: f64,
}

impl BinParams {
    pub fn of(p: &FillParams) -> Self {
        let power = if p.impact_beta == 0.5 {
            Power::Sqrt
        } else if p.impact_beta == 1.0 {
            Power::Linear
        } else {
            Power::Pow(p.impact_beta)
        };
        BinParams {
            rho: p.max_participation,
            power,
            gamma: p.permanent_gamma,
            taker_rate: p.taker_fee_bps * 1e-4,
            maker_rate: p.maker_fee_bps * 1e-4,
            sweep: p.final_bin == FinalBin::Sweep,
            sweep_extra: p.sweep_impact_multiplier - 1.0,
            stop_rel: p.stop_slippage_bps * 1e-4,
            stop_on: p.stop_slippage_bps != f64::INFINITY,
            passive_share: p.passive_fill_share,
        }
    }
}

/// One order's constants (or, with `V = F8`, eight orders').
#[derive(Clone, Copy, Debug, Default)]
pub struct OrderConst<V: Lane = f64> {
    /// Q
    pub qty: V,
    /// +1 or −1
    pub side: V,
    /// η · σ
    pub eta_sigma: V,
    /// half_spread_bps · 1e−4
    pub half_spread: V,
    /// Limit price, NaN = none.
    pub limit: V,
    pub passive: V::M,
}

impl OrderConst {
    /// Order `b` of validated inputs.
    #[inline(always)]
    pub fn of(i: &FillInputs, p: &FillParams, b: usize) -> Self {
        OrderConst {
            qty: i.quantity[b],
            side: i.side[b] as f64,
            eta_sigma: p.impact_eta * i.sigma[b],
            half_spread: i.half_spread_bps[b] * 1e-4,
            limit: i.limit_price.map_or(f64::NAN, |l| l[b]),
            passive: match i.passive {
                Passive::None => false,
                Passive::All => true,
                Passive::PerOrder(x) => x[b] != 0,
            },
        }
    }
}

/// One order's state between bins (or, with `V = F8`, eight orders'). The
/// counters are numbers of the lane type too, so that states vectorize.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OrderState<V: Lane = f64> {
    pub carry: V,
    pub filled: V,
    pub notional: V,
    pub spread_cost: V,
    pub temp_cost: V,
    pub perm_cost: V,
    pub fee_cost: V,
    /// Σ q_s / V_s over the bins filled so far.
    pub part_sum: V,
    pub max_part: V,
    pub blocked: V,
    /// Σ V_s over the bins so far.
    pub mkt_v: V,
    /// Σ V_s·p_s over the bins so far.
    pub mkt_vp: V,
    /// Zero-volume bins so far (a count).
    pub zero_bins: V,
    /// −1 until the order stops, then the bin it stopped after.
    pub stopped_at: V,
}

impl<V: Lane> OrderState<V> {
    /// The state before the first bin.
    pub fn start() -> Self {
        let z = V::splat(0.0);
        OrderState {
            carry: z,
            filled: z,
            notional: z,
            spread_cost: z,
            temp_cost: z,
            perm_cost: z,
            fee_cost: z,
            part_sum: z,
            max_part: z,
            blocked: z,
            mkt_v: z,
            mkt_vp: z,
            zero_bins: z,
            stopped_at: V::splat(-1.0),
        }
    }
}

impl Default for OrderState {
    fn default() -> Self {
        OrderState::start()
    }
}

/// What one bin filled: quantity (0 when nothing) and price (NaN when nothing).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BinFill<V: Lane = f64> {
    pub q: V,
    pub price: V,
}

/// x^β by [`Power`] (as a const generic, so that the batch kernel's loops
/// have no call and no branch in them for β ∈ {0.5, 1}).
const POW_SQRT: u8 = 0;
const POW_LINEAR: u8 = 1;
const POW_GENERAL: u8 = 2;

/// The rules of one order in one bin (`mod.rs` lists them; this is their
/// definition). `a` is the schedule's fraction of Q for this bin, `p` and
/// `v` the bin's price and market volume, `t` the bin index and `last`
/// whether it is the order's last bin.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub fn bin_step(st: &mut OrderState, c: &OrderConst, k: &BinParams, a: f64, p: f64, v: f64, t: usize, last: bool) -> BinFill {
    match (k.power, k.stop_on) {
        (Power::Sqrt, false) => bin_step_with::<f64, POW_SQRT, false>(st, c, k, a, p, v, t, last),
        (Power::Sqrt, true) => bin_step_with::<f64, POW_SQRT, true>(st, c, k, a, p, v, t, last),
        (Power::Linear, false) => bin_step_with::<f64, POW_LINEAR, false>(st, c, k, a, p, v, t, last),
        (Power::Linear, true) => bin_step_with::<f64, POW_LINEAR, true>(st, c, k, a, p, v, t, last),
        (Power::Pow(_), false) => bin_step_with::<f64, POW_GENERAL, false>(st, c, k, a, p, v, t, last),
        (Power::Pow(_), true) => bin_step_with::<f64, POW_GENERAL, true>(st, c, k, a, p, v, t, last),
    }
}

/// [`bin_step`] over a lane type `V` (one order, or eight in SIMD lanes),
/// with the power rule `POW` and the stop (`STOP` = k.stop_on) fixed at
/// compile time. Every rule is a select, not a branch, so that it runs in
/// lanes; a select that adds 0.0 leaves a sum unchanged (the sums here are
/// never −0). Only `last` and the parameters (the same for every lane) branch.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub fn bin_step_with<V: Lane, const POW: u8, const STOP: bool>(
    st: &mut OrderState<V>,
    c: &OrderConst<V>,
    k: &BinParams,
    a: V,
    p: V,
    v: V,
    t: usize,
    last: bool,
) -> BinFill<V> {
    let zero = V::splat(0.0);
    let one = V::splat(1.0);
    // 1. market sums (always)
    st.mkt_v = st.mkt_v + v;
    st.mkt_vp = st.mkt_vp + v * p;
    st.zero_bins = st.zero_bins + V::select(v.eq(zero), one, zero);
    // 2.-3. target; a stopped order and a zero-volume bin fill nothing
    let target = c.qty * a + st.carry;
    let running = st.stopped_at.lt(zero);
    let active = running & v.gt(zero);
    // 4. cap and quantity
    let sweep = last & k.sweep;
    let passive = c.passive & V::mask(!sweep);
    let cap = V::splat(k.rho) * v * V::select(passive, V::splat(k.passive_share), one);
    let q = if sweep { target } else { V::select(cap.lt(target), cap, target) };
    // 5. impact (computed in every lane; used only where the bin fills)
    let x = q / v;
    let pw = match POW {
        POW_SQRT => x.sqrt(),
        POW_LINEAR => x,
        _ => match k.power {
            Power::Pow(beta) => x.powf(beta),
            _ => unreachable!("bin_step dispatches Power::Pow here"),
        },
    };
    let mut temp = c.eta_sigma * pw;
    if sweep {
        let above = one + V::splat(k.sweep_extra) * ((q - cap) / q);
        temp = V::select(q.gt(cap), temp * above, temp);
    }
    let perm = V::splat(k.gamma) * st.part_sum;
    // 6. price
    let spread = V::select(passive, zero, c.half_spread);
    let f = p * (one + c.side * ((spread + temp) + perm));
    // 7. collar (NaN limit: the comparison is false)
    let tries = active & q.gt(zero);
    let blocked = (c.side * (f - c.limit)).gt(zero);
    let fills = tries & !blocked;
    st.blocked = st.blocked + V::select(tries & blocked, q, zero);
    // 8. fill
    let qf = q * f;
    let pq = p * q;
    let rate = V::select(passive, V::splat(k.maker_rate), V::splat(k.taker_rate));
    st.filled = st.filled + V::select(fills, q, zero);
    st.notional = st.notional + V::select(fills, qf, zero);
    st.spread_cost = st.spread_cost + V::select(fills, pq * spread, zero);
    st.temp_cost = st.temp_cost + V::select(fills, pq * temp, zero);
    st.perm_cost = st.perm_cost + V::select(fills, pq * perm, zero);
    st.fee_cost = st.fee_cost + V::select(fills, rate * qf, zero);
    st.part_sum = st.part_sum + V::select(fills, x, zero);
    st.max_part = V::select(fills & x.gt(st.max_part), x, st.max_part);
    st.carry = V::select(fills, target - q, target);
    // 9. emergency stop (not after the last bin)
    // side·(N/F ÷ MVP/MV − 1)·1e4 > S  ⟺  side·(N·MV − F·MVP) > (S·1e−4)·(F·MVP)
    // for F > 0 and MVP > 0 (no division: it would dominate the bin's cost).
    if STOP && !last {
        let fw = st.filled * st.mkt_vp;
        let excess = c.side * (st.notional * st.mkt_v - fw);
        let stop = running & st.filled.gt(zero) & excess.gt(V::splat(k.stop_rel) * fw);
        st.stopped_at = V::select(stop, V::splat(t as f64), st.stopped_at);
    }
    BinFill { q: V::select(fills, q, zero), price: V::select(fills, f, V::splat(f64::NAN)) }
}

/// Write order `r` of a chunk's per-order outputs from its final state.
#[inline(always)]
pub(super) fn write_order(o: &mut OrderOut, r: usize, st: &OrderState, c: &OrderConst, arrival: f64) {
    o.filled_qty[r] = st.filled;
    o.notional[r] = st.notional;
    o.spread_cost[r] = st.spread_cost;
    o.temporary_impact_cost[r] = st.temp_cost;
    o.permanent_impact_cost[r] = st.perm_cost;
    o.fee_cost[r] = st.fee_cost;
    o.collar_blocked_qty[r] = st.blocked;
    o.max_participation[r] = st.max_part;
    o.market_volume[r] = st.mkt_v;
    o.market_vwap[r] = st.mkt_vp / st.mkt_v;
    o.shortfall_cost[r] = c.side * (st.notional - st.filled * arrival);
    o.zero_volume_bins[r] = st.zero_bins as i32;
    o.stopped_at[r] = st.stopped_at as i32;
}

fn non_finite(name: &str, idx: usize, x: f64, b: usize) -> CoreError {
    CoreError::non_finite(name, idx, x).with("order", b)
}

fn bad_value(name: &str, idx: usize, x: f64, b: usize, what: &str) -> CoreError {
    CoreError::arg(name, format!("{name}[{idx}] = {x} (order {b}) must be {what}")).with("index", idx).with("order", b)
}

/// Order `b`'s own inputs: quantity, side, sigma, halfSpreadBps, limitPrice,
/// arrivalPrice, passive (in that order).
pub(super) fn check_order(i: &FillInputs, b: usize) -> CoreResult<()> {
    let non_negative = |name: &str, x: f64| -> CoreResult<()> {
        if !x.is_finite() {
            return Err(non_finite(name, b, x, b));
        }
        if x < 0.0 {
            return Err(bad_value(name, b, x, b, ">= 0"));
        }
        Ok(())
    };
    non_negative("quantity", i.quantity[b])?;
    let s = i.side[b];
    if s != 1 && s != -1 {
        return Err(CoreError::arg("side", format!("side[{b}] = {s} must be +1 (buy) or -1 (sell)")).with("index", b).with("order", b));
    }
    non_negative("sigma", i.sigma[b])?;
    non_negative("halfSpreadBps", i.half_spread_bps[b])?;
    if let Some(l) = i.limit_price {
        let x = l[b];
        if !x.is_nan() {
            if !x.is_finite() {
                return Err(non_finite("limitPrice", b, x, b));
            }
            if x <= 0.0 {
                return Err(bad_value("limitPrice", b, x, b, "> 0 (or NaN for no collar)"));
            }
        }
    }
    if let Some(a) = i.arrival_price {
        let x = a[b];
        if !x.is_finite() {
            return Err(non_finite("arrivalPrice", b, x, b));
        }
        if x <= 0.0 {
            return Err(bad_value("arrivalPrice", b, x, b, "> 0"));
        }
    }
    if let Passive::PerOrder(p) = i.passive {
        if p[b] > 1 {
            return Err(CoreError::arg("passive", format!("passive[{b}] = {} must be 0 or 1", p[b])).with("index", b).with("order", b));
        }
    }
    Ok(())
}

/// Branch-free test of a bin row: price finite > 0, volume and schedule
/// finite >= 0 (NaN fails every comparison).
#[inline(always)]
#[allow(clippy::manual_range_contains)] // `&` of comparisons: no branch
pub(super) fn row_ok(p: &[f64], v: &[f64], a: Option<&[f64]>) -> bool {
    let mut ok = true;
    for t in 0..p.len() {
        ok &= (p[t] > 0.0) & (p[t] < f64::INFINITY) & (v[t] >= 0.0) & (v[t] < f64::INFINITY);
    }
    if let Some(a) = a {
        for &x in &a[..p.len()] {
            ok &= (x >= 0.0) & (x < f64::INFINITY);
        }
    }
    ok
}

/// The first bad element of a row named `name` at flat offset `base`.
pub(super) fn diagnose(name: &str, row: &[f64], base: usize, b: usize, positive: bool) -> Option<CoreError> {
    for (t, &x) in row.iter().enumerate() {
        if !x.is_finite() {
            return Some(non_finite(name, base + t, x, b).with("bin", t));
        }
        if (positive && x <= 0.0) || x < 0.0 {
            return Some(bad_value(name, base + t, x, b, if positive { "> 0" } else { ">= 0" }).with("bin", t));
        }
    }
    None
}

/// Order `b`'s rows (price, volume, then `sched` named `sched_name`), rescanned to name the problem.
pub(super) fn diagnose_rows(b: usize, h: usize, p: &[f64], v: &[f64], sched: Option<(&str, &[f64], usize)>) -> Option<CoreError> {
    let base = b * h;
    diagnose("price", p, base, b, true)
        .or_else(|| diagnose("volume", v, base, b, false))
        .or_else(|| sched.and_then(|(name, a, base)| diagnose(name, a, base, b, false)))
}

/// Split `n` leading elements off `s`.
fn take<'a, T>(s: &mut &'a mut [T], n: usize) -> &'a mut [T] {
    let (head, tail) = std::mem::take(s).split_at_mut(n);
    *s = tail;
    head
}

/// Orders [row0, row0 + rows) of a batch call.
pub(super) struct Chunk<'a> {
    pub(super) row0: usize,
    pub(super) rows: usize,
    /// Write the results with streaming (non-temporal) stores: the call's
    /// outputs are much larger than the caches.
    pub(super) stream: bool,
    pub(super) filled: &'a mut [f64],
    pub(super) fill_price: &'a mut [f64],
    pub(super) orders: OrderOut<'a>,
}

/// Split the outputs into chunks of CHUNK orders.
pub(super) fn chunks<'a>(out: &'a mut FillOut, batch: usize, h: usize) -> Vec<Chunk<'a>> {
    let stream = batch * h * 16 >= STREAM_MIN_BYTES;
    let mut filled: &mut [f64] = &mut *out.filled;
    let mut fill_price: &mut [f64] = &mut *out.fill_price;
    let o = &mut out.orders;
    let (mut a, mut b, mut c, mut d, mut e, mut f, mut g) = (
        &mut *o.filled_qty,
        &mut *o.notional,
        &mut *o.spread_cost,
        &mut *o.temporary_impact_cost,
        &mut *o.permanent_impact_cost,
        &mut *o.fee_cost,
        &mut *o.collar_blocked_qty,
    );
    let (mut i, mut j, mut k, mut l, mut m, mut n) = (
        &mut *o.max_participation,
        &mut *o.market_volume,
        &mut *o.market_vwap,
        &mut *o.shortfall_cost,
        &mut *o.zero_volume_bins,
        &mut *o.stopped_at,
    );
    let mut v = Vec::with_capacity(batch.div_ceil(CHUNK));
    let mut row0 = 0;
    while row0 < batch {
        let rows = CHUNK.min(batch - row0);
        v.push(Chunk {
            row0,
            rows,
            stream,
            filled: take(&mut filled, rows * h),
            fill_price: take(&mut fill_price, rows * h),
            orders: OrderOut {
                filled_qty: take(&mut a, rows),
                notional: take(&mut b, rows),
                spread_cost: take(&mut c, rows),
                temporary_impact_cost: take(&mut d, rows),
                permanent_impact_cost: take(&mut e, rows),
                fee_cost: take(&mut f, rows),
                collar_blocked_qty: take(&mut g, rows),
                max_participation: take(&mut i, rows),
                market_volume: take(&mut j, rows),
                market_vwap: take(&mut k, rows),
                shortfall_cost: take(&mut l, rows),
                zero_volume_bins: take(&mut m, rows),
                stopped_at: take(&mut n, rows),
            },
        });
        row0 += rows;
    }
    v
}

/// Outputs from this size on (per-bin results, bytes) are written with
/// streaming stores: they would not stay in the caches anyway, and streaming
/// saves reading each line before it is overwritten.
const STREAM_MIN_BYTES: usize = 16 << 20;

/// `dst[o0..o0 + 8] = v`, streamed or not.
#[inline(always)]
fn put<W: Lanes8>(dst: &mut [f64], o0: usize, v: W, stream: bool) {
    if stream {
        let a = v.store();
        for (l, &x) in a.iter().enumerate() {
            stream_store(dst, o0 + l, x);
        }
    } else {
        v.store_at(dst, o0);
    }
}

/// Orders per SIMD group of the batch kernel.
const L: usize = 8;
/// Groups simulated together: the bins of one order depend on each other
/// (carry, collar, stop) through a division and a square root, so one group
/// alone waits on that latency; G independent groups keep the units busy.
const G: usize = 4;
/// Orders per block (G groups of L lanes).
const BLOCK: usize = G * L;

/// A block's scratch: its inputs and fills, time-major [horizon][G][L].
struct Scratch {
    a: Vec<[[f64; L]; G]>,
    p: Vec<[[f64; L]; G]>,
    v: Vec<[[f64; L]; G]>,
    q: Vec<[[f64; L]; G]>,
    f: Vec<[[f64; L]; G]>,
}

/// Branch-free test of orders [b0, b0 + n): their own inputs are valid
/// (what `check_order` checks, without naming anything).
#[inline(always)]
#[allow(clippy::manual_range_contains)] // `&` of comparisons: no branch
fn orders_ok(i: &FillInputs, b0: usize, n: usize) -> bool {
    let r = b0..b0 + n;
    let mut ok = true;
    for ((&q, &s), (&sg, &hs)) in i.quantity[r.clone()].iter().zip(&i.side[r.clone()]).zip(i.sigma[r.clone()].iter().zip(&i.half_spread_bps[r.clone()])) {
        ok &= (q >= 0.0) & (q < f64::INFINITY) & (sg >= 0.0) & (sg < f64::INFINITY) & (hs >= 0.0) & (hs < f64::INFINITY) & ((s == 1) | (s == -1));
    }
    if let Some(l) = i.limit_price {
        for &x in &l[r.clone()] {
            ok &= x.is_nan() | ((x > 0.0) & (x < f64::INFINITY));
        }
    }
    if let Some(a) = i.arrival_price {
        for &x in &a[r.clone()] {
            ok &= (x > 0.0) & (x < f64::INFINITY);
        }
    }
    if let Passive::PerOrder(p) = i.passive {
        for &x in &p[r] {
            ok &= x <= 1;
        }
    }
    ok
}

/// The error of a block that failed the fast checks: its lowest failing
/// order's, named exactly (None if the fast check was a false alarm).
#[cold]
fn block_error(i: &FillInputs, schedule: &[f64], b0: usize, n: usize) -> Option<CoreError> {
    let h = i.horizon;
    for b in b0..b0 + n {
        if let Err(e) = check_order(i, b) {
            return Some(e);
        }
        let row = b * h..(b + 1) * h;
        let sched = Some(("schedule", &schedule[row.clone()], b * h));
        if let Some(e) = diagnose_rows(b, h, &i.price[row.clone()], &i.volume[row], sched) {
            return Some(e);
        }
    }
    None
}

/// Simulate one chunk, BLOCK orders at a time (G groups of L lanes of `W`);
/// the first error (lowest order) stops it.
#[inline(always)]
fn run_chunk_impl<W: Lanes8, const POW: u8, const STOP: bool>(
    i: &FillInputs,
    schedule: &[f64],
    params: &FillParams,
    k: &BinParams,
    ch: Chunk,
) -> CoreResult<()> {
    let h = i.horizon;
    let Chunk { row0, rows, stream, filled, fill_price, mut orders } = ch;
    let z = [[0.0; L]; G];
    let mut sc = Scratch { a: vec![z; h], p: vec![z; h], v: vec![z; h], q: vec![z; h], f: vec![z; h] };
    let mut g0 = 0;
    while g0 < rows {
        let n = BLOCK.min(rows - g0);
        let b0 = row0 + g0;
        if n == BLOCK && W::GATHER {
            if !full_block::<W, POW, STOP>(i, schedule, params, k, b0, g0, &mut sc, &mut orders, stream) {
                if let Some(e) = block_error(i, schedule, b0, n) {
                    return Err(e);
                }
            }
        } else {
            if !(row_ok(&i.price[b0 * h..(b0 + n) * h], &i.volume[b0 * h..(b0 + n) * h], Some(&schedule[b0 * h..(b0 + n) * h]))
                & orders_ok(i, b0, n))
            {
                if let Some(e) = block_error(i, schedule, b0, n) {
                    return Err(e);
                }
            }
            partial_block::<W, POW, STOP>(i, schedule, params, k, b0, g0, n, &mut sc, &mut orders);
        }
        // Per-bin results, from the scratch into the rows (streaming stores:
        // the rows are written whole and not read back here).
        for r in 0..n {
            let (g, l) = (r / L, r % L);
            let row = (g0 + r) * h;
            let (fq, fp) = (&mut filled[row..row + h], &mut fill_price[row..row + h]);
            if stream {
                for t in 0..h {
                    stream_store(fq, t, sc.q[t][g][l]);
                    stream_store(fp, t, sc.f[t][g][l]);
                }
            } else {
                for (((dq, dp), sq), sf) in fq.iter_mut().zip(fp.iter_mut()).zip(&sc.q).zip(&sc.f) {
                    (*dq, *dp) = (sq[g][l], sf[g][l]);
                }
            }
        }
        g0 += n;
    }
    stream_fence();
    Ok(())
}

/// The constants of group `b0 .. b0 + L` (all valid orders) in lanes.
#[inline(always)]
fn const_lanes<W: Lanes8>(i: &FillInputs, params: &FillParams, b0: usize) -> OrderConst<W> {
    OrderConst {
        qty: W::load_at(i.quantity, b0),
        side: W::load(&std::array::from_fn(|l| i.side[b0 + l] as f64)),
        eta_sigma: W::splat(params.impact_eta) * W::load_at(i.sigma, b0),
        half_spread: W::load_at(i.half_spread_bps, b0) * W::splat(1e-4),
        limit: i.limit_price.map_or(W::splat(f64::NAN), |x| W::load_at(x, b0)),
        passive: match i.passive {
            Passive::None => W::mask(false),
            Passive::All => W::mask(true),
            Passive::PerOrder(x) => W::mask_of(std::array::from_fn(|l| x[b0 + l] != 0)),
        },
    }
}

/// A full block of BLOCK orders from `b0` (chunk row `g0`): inputs gathered
/// straight into lanes, validated in lanes (false: some input is invalid,
/// nothing was written), per-order results stored from lanes, fills left in
/// the scratch.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn full_block<W: Lanes8, const POW: u8, const STOP: bool>(
    i: &FillInputs,
    schedule: &[f64],
    params: &FillParams,
    k: &BinParams,
    b0: usize,
    g0: usize,
    sc: &mut Scratch,
    orders: &mut OrderOut,
    stream: bool,
) -> bool {
    let h = i.horizon;
    if !orders_ok(i, b0, BLOCK) {
        return false;
    }
    let c: [OrderConst<W>; G] = std::array::from_fn(|g| const_lanes(i, params, b0 + g * L));
    let mut s = [(); G].map(|_| OrderState::<W>::start());
    let (zero, inf) = (W::splat(0.0), W::splat(f64::INFINITY));
    let mut ok = [W::mask(true); G];
    // Prefetch the block after next (its rows are contiguous: BLOCK·h / 8 =
    // G·h lines per array), one line per array and (t, g) step, spread out so
    // that the requests do not queue up.
    let ahead = (b0 + 2 * BLOCK) * h;
    for t in 0..h {
        let last = t + 1 == h;
        for g in 0..G {
            let line = ahead + (t * G + g) * L;
            prefetch(schedule, line);
            prefetch(i.price, line);
            prefetch(i.volume, line);
            let first = (b0 + g * L) * h + t;
            let (a, p, v) = (W::gather(schedule, first, h), W::gather(i.price, first, h), W::gather(i.volume, first, h));
            ok[g] = ok[g] & a.ge(zero) & a.lt(inf) & p.gt(zero) & p.lt(inf) & v.ge(zero) & v.lt(inf);
            let r = if last {
                bin_step_with::<W, POW, STOP>(&mut s[g], &c[g], k, a, p, v, t, true)
            } else {
                bin_step_with::<W, POW, STOP>(&mut s[g], &c[g], k, a, p, v, t, false)
            };
            sc.q[t][g] = r.q.store();
            sc.f[t][g] = r.price.store();
        }
    }
    if !ok.iter().all(|&m| W::all(m)) {
        return false;
    }
    for g in 0..G {
        let (st, o0) = (&s[g], g0 + g * L);
        put(orders.filled_qty, o0, st.filled, stream);
        put(orders.notional, o0, st.notional, stream);
        put(orders.spread_cost, o0, st.spread_cost, stream);
        put(orders.temporary_impact_cost, o0, st.temp_cost, stream);
        put(orders.permanent_impact_cost, o0, st.perm_cost, stream);
        put(orders.fee_cost, o0, st.fee_cost, stream);
        put(orders.collar_blocked_qty, o0, st.blocked, stream);
        put(orders.max_participation, o0, st.max_part, stream);
        put(orders.market_volume, o0, st.mkt_v, stream);
        put(orders.market_vwap, o0, st.mkt_vp / st.mkt_v, stream);
        let arrival = i.arrival_price.map_or(W::splat(f64::NAN), |x| W::load_at(x, b0 + g * L));
        put(orders.shortfall_cost, o0, c[g].side * (st.notional - st.filled * arrival), stream);
        let (zb, sa) = (st.zero_bins.store(), st.stopped_at.store());
        for l in 0..L {
            orders.zero_volume_bins[o0 + l] = zb[l] as i32;
            orders.stopped_at[o0 + l] = sa[l] as i32;
        }
    }
    true
}

/// The last, partial block of a chunk (n < BLOCK valid orders): inputs
/// copied into the scratch with padding lanes (an empty order).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn partial_block<W: Lanes8, const POW: u8, const STOP: bool>(
    i: &FillInputs,
    schedule: &[f64],
    params: &FillParams,
    k: &BinParams,
    b0: usize,
    g0: usize,
    n: usize,
    sc: &mut Scratch,
    orders: &mut OrderOut,
) {
    let h = i.horizon;
    let span = b0 * h..(b0 + n) * h;
    let (p, v, a) = (&i.price[span.clone()], &i.volume[span.clone()], &schedule[span]);
    let mut cs = [(); G].map(|_| ([0.0; L], [1.0; L], [0.0; L], [0.0; L], [f64::NAN; L], [false; L]));
    for r in 0..BLOCK {
        let (g, l) = (r / L, r % L);
        if r < n {
            let oc = OrderConst::of(i, params, b0 + r);
            let c = &mut cs[g];
            (c.0[l], c.1[l], c.2[l], c.3[l], c.4[l], c.5[l]) = (oc.qty, oc.side, oc.eta_sigma, oc.half_spread, oc.limit, oc.passive);
            let row = r * h..(r + 1) * h;
            let src = a[row.clone()].iter().zip(&p[row.clone()]).zip(&v[row]);
            for (((da, dp), dv), ((&x, &y), &z)) in sc.a.iter_mut().zip(sc.p.iter_mut()).zip(sc.v.iter_mut()).zip(src) {
                (da[g][l], dp[g][l], dv[g][l]) = (x, y, z);
            }
        } else {
            for ((da, dp), dv) in sc.a.iter_mut().zip(sc.p.iter_mut()).zip(sc.v.iter_mut()) {
                (da[g][l], dp[g][l], dv[g][l]) = (0.0, 1.0, 1.0);
            }
        }
    }
    let c = cs.map(|(qty, side, es, hs, lim, pas)| OrderConst::<W> {
        qty: W::load(&qty),
        side: W::load(&side),
        eta_sigma: W::load(&es),
        half_spread: W::load(&hs),
        limit: W::load(&lim),
        passive: W::mask_of(pas),
    });
    let mut s = [(); G].map(|_| OrderState::<W>::start());
    for t in 0..h {
        let last = t + 1 == h;
        for g in 0..G {
            let (a, p, v) = (W::load(&sc.a[t][g]), W::load(&sc.p[t][g]), W::load(&sc.v[t][g]));
            let r = if last {
                bin_step_with::<W, POW, STOP>(&mut s[g], &c[g], k, a, p, v, t, true)
            } else {
                bin_step_with::<W, POW, STOP>(&mut s[g], &c[g], k, a, p, v, t, false)
            };
            sc.q[t][g] = r.q.store();
            sc.f[t][g] = r.price.store();
        }
    }
    let lanes = s.map(|s| LaneStates::of(&s));
    for r in 0..n {
        let (g, l) = (r / L, r % L);
        let b = b0 + r;
        let oc = OrderConst::of(i, params, b);
        let arrival = i.arrival_price.map_or(f64::NAN, |x| x[b]);
        write_order(orders, g0 + r, &lanes[g].get(l), &oc, arrival);
    }
}

/// A group's final states, unpacked from lanes.
struct LaneStates([[f64; L]; 14]);

impl LaneStates {
    #[inline(always)]
    fn of<W: Lanes8>(s: &OrderState<W>) -> Self {
        LaneStates([
            s.carry.store(),
            s.filled.store(),
            s.notional.store(),
            s.spread_cost.store(),
            s.temp_cost.store(),
            s.perm_cost.store(),
            s.fee_cost.store(),
            s.part_sum.store(),
            s.max_part.store(),
            s.blocked.store(),
            s.mkt_v.store(),
            s.mkt_vp.store(),
            s.zero_bins.store(),
            s.stopped_at.store(),
        ])
    }

    #[inline(always)]
    fn get(&self, r: usize) -> OrderState {
        let x = &self.0;
        OrderState {
            carry: x[0][r],
            filled: x[1][r],
            notional: x[2][r],
            spread_cost: x[3][r],
            temp_cost: x[4][r],
            perm_cost: x[5][r],
            fee_cost: x[6][r],
            part_sum: x[7][r],
            max_part: x[8][r],
            blocked: x[9][r],
            mkt_v: x[10][r],
            mkt_vp: x[11][r],
            zero_bins: x[12][r],
            stopped_at: x[13][r],
        }
    }
}

/// Instruction sets the batch kernel is compiled for (picked at run time).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Isa {
    Portable,
    #[cfg(target_arch = "x86_64")]
    Avx2,
    #[cfg(target_arch = "x86_64")]
    Avx512,
}

impl Isa {
    fn detect() -> Isa {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f") {
                return Isa::Avx512;
            }
            if std::arch::is_x86_feature_detected!("avx2") {
                return Isa::Avx2;
            }
        }
        Isa::Portable
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    //! The chunk kernel compiled with AVX2 / AVX-512 (everything it calls is
    //! `#[inline(always)]`). No FMA is enabled, and Rust never contracts a
    //! multiply and an add: results are the portable build's bit for bit.
    use super::super::lane::{Avx2F8, Avx512F8};
    use super::*;

    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn chunk_avx2<const POW: u8, const STOP: bool>(
        i: &FillInputs,
        schedule: &[f64],
        params: &FillParams,
        k: &BinParams,
        ch: Chunk,
    ) -> CoreResult<()> {
        run_chunk_impl::<Avx2F8, POW, STOP>(i, schedule, params, k, ch)
    }

    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn chunk_avx512<const POW: u8, const STOP: bool>(
        i: &FillInputs,
        schedule: &[f64],
        params: &FillParams,
        k: &BinParams,
        ch: Chunk,
    ) -> CoreResult<()> {
        run_chunk_impl::<Avx512F8, POW, STOP>(i, schedule, params, k, ch)
    }
}

fn run_chunk_isa<const POW: u8, const STOP: bool>(isa: Isa, i: &FillInputs, schedule: &[f64], params: &FillParams, k: &BinParams, ch: Chunk) -> CoreResult<()> {
    match isa {
        Isa::Portable => run_chunk_impl::<F8, POW, STOP>(i, schedule, params, k, ch),
        // SAFETY: `Isa::detect` found the feature on this CPU.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => unsafe { x86::chunk_avx2::<POW, STOP>(i, schedule, params, k, ch) },
        // SAFETY: as above.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => unsafe { x86::chunk_avx512::<POW, STOP>(i, schedule, params, k, ch) },
    }
}

fn run_chunk(isa: Isa, i: &FillInputs, schedule: &[f64], params: &FillParams, k: &BinParams, ch: Chunk) -> CoreResult<()> {
    match (k.power, k.stop_on) {
        (Power::Sqrt, false) => run_chunk_isa::<POW_SQRT, false>(isa, i, schedule, params, k, ch),
        (Power::Sqrt, true) => run_chunk_isa::<POW_SQRT, true>(isa, i, schedule, params, k, ch),
        (Power::Linear, false) => run_chunk_isa::<POW_LINEAR, false>(isa, i, schedule, params, k, ch),
        (Power::Linear, true) => run_chunk_isa::<POW_LINEAR, true>(isa, i, schedule, params, k, ch),
        (Power::Pow(_), false) => run_chunk_isa::<POW_GENERAL, false>(isa, i, schedule, params, k, ch),
        (Power::Pow(_), true) => run_chunk_isa::<POW_GENERAL, true>(isa, i, schedule, params, k, ch),
    }
}

/// Simulate `schedule` ([batch, horizon] fractions of each order's quantity)
/// open loop, threaded over orders, writing `out`. Checks, in order: the
/// parameters, the input shapes, the schedule's shape, the outputs' shapes,
/// then per order its own inputs and its price, volume and schedule rows
/// (the lowest failing order is reported). On error `out` is partly written.
pub fn simulate_fills(i: &FillInputs, schedule: &[f64], params: &FillParams, out: &mut FillOut) -> CoreResult<()> {
    check_call(i, schedule.len(), params, out)?;
    let k = BinParams::of(params);
    let isa = Isa::detect();
    let parts = chunks(out, i.batch, i.horizon);
    let results: Vec<CoreResult<()>> =
        crate::pool::install(|| parts.into_par_iter().map(|ch| run_chunk(isa, i, schedule, params, &k, ch)).collect());
    // Chunks are in order: the first error is the lowest failing order's.
    results.into_iter().collect()
}
