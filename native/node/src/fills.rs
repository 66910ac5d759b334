//! simulateFills (sync and Async) and the stepped `FillSimulator` class: the
//! N-API boundary of `sigvwap_core::fills` (the model is documented there).
//!
//! Only typed arrays and integer shapes cross: market and order arrays are
//! Float64Array (`side` Int8Array, `passive` Uint8Array or a boolean for all
//! orders), per-order integer results Int32Array.
//!
//! Check order (every error names the argument): the options, then the input
//! shapes, the schedule, the output arrays (sync form: lengths, then no
//! memory shared with an input or another output), then the values inside
//! the kernel's pass (lowest failing order first).
//!
//! Ownership (the rule of `outbuf.rs`): the sync form reads the caller's
//! arrays and writes the `out` arrays it is given while no JavaScript runs
//! (the TypeScript wrapper allocates the results, so that the garbage
//! collector frees them in synchronous loops, and this module advises huge
//! pages for the large ones before the kernel first writes them: a fresh
//! 1M × 12 result then takes ~50 page faults instead of ~24,000). The Async
//! form copies its inputs on the JavaScript thread when called and writes
//! only Rust-owned memory, zeroed by the OS and huge-page backed when large
//! (core `buffer`), handed over without a copy; so do sync calls for the
//! results they are not given. The class copies what it needs in its
//! constructor, and each `step` writes the caller's arrays synchronously.

use napi::bindgen_prelude::{AsyncTask, Either, Float64Array, Int32Array, Int8Array, Uint8Array};
use napi::{Env, Task};
use napi_derive::napi;
use sigvwap_core::buffer::{self, ZeroedBuf};
use sigvwap_core::device::{self, Device, DeviceRequest};
use sigvwap_core::fills::{self, FillInputs, FillOut, FillOutputs, FillParams, FillSimulator, FinalBin, OrderOut, Passive};
use sigvwap_core::{pool, CoreError, CoreResult};

use crate::args;
use crate::errors::guarded;

/// The market and the orders: per-bin arrays [batch, horizon] row-major,
/// per-order arrays [batch].
#[napi(object)]
pub struct FillMarket {
    pub batch: f64,
    pub horizon: f64,
    /// Bin price (the bar VWAP), finite > 0.
    pub price: Float64Array,
    /// Market volume, finite >= 0.
    pub volume: Float64Array,
    /// Causal per-bin relative volatility, finite >= 0.
    pub sigma: Float64Array,
    pub half_spread_bps: Float64Array,
    /// Order size in base units, finite >= 0.
    pub quantity: Float64Array,
    /// +1 buy, -1 sell.
    pub side: Int8Array,
    /// NaN = no collar.
    pub limit_price: Option<Float64Array>,
    /// For `shortfallCost` (NaN without it).
    pub arrival_price: Option<Float64Array>,
    /// true: every order rests passively; Uint8Array [batch]: 1 passive, 0 aggressive.
    pub passive: Option<Either<bool, Uint8Array>>,
}

/// Cost and risk parameters (defaults in `sigvwap_core::fills::FillParams`).
#[napi(object)]
pub struct FillOptions {
    pub max_participation: Option<f64>,
    pub impact_eta: Option<f64>,
    pub impact_beta: Option<f64>,
    pub permanent_gamma: Option<f64>,
    pub taker_fee_bps: Option<f64>,
    pub maker_fee_bps: Option<f64>,
    /// 'sweep' (default) or 'leave'.
    pub final_bin: Option<String>,
    pub sweep_impact_multiplier: Option<f64>,
    /// Infinity (default) = off.
    pub stop_slippage_bps: Option<f64>,
    pub passive_fill_share: Option<f64>,
    /// 'auto' (default), 'cpu' or 'cuda' (simulateFills only; the stepped simulator runs on the CPU).
    pub device: Option<String>,
}

/// Arrays the sync form writes into (any subset; the others are allocated).
#[napi(object)]
pub struct FillOutArrays {
    pub filled: Option<Float64Array>,
    pub fill_price: Option<Float64Array>,
    pub filled_qty: Option<Float64Array>,
    pub notional: Option<Float64Array>,
    pub spread_cost: Option<Float64Array>,
    pub temporary_impact_cost: Option<Float64Array>,
    pub permanent_impact_cost: Option<Float64Array>,
    pub fee_cost: Option<Float64Array>,
    pub collar_blocked_qty: Option<Float64Array>,
    pub max_participation: Option<Float64Array>,
    pub market_volume: Option<Float64Array>,
    pub market_vwap: Option<Float64Array>,
    pub shortfall_cost: Option<Float64Array>,
    pub zero_volume_bins: Option<Int32Array>,
    pub stopped_at: Option<Int32Array>,
}

/// The results: the caller's `out` arrays where given, fresh arrays elsewhere.
#[napi(object)]
pub struct FillResult {
    pub filled: Float64Array,
    pub fill_price: Float64Array,
    pub filled_qty: Float64Array,
    pub notional: Float64Array,
    pub spread_cost: Float64Array,
    pub temporary_impact_cost: Float64Array,
    pub permanent_impact_cost: Float64Array,
    pub fee_cost: Float64Array,
    pub collar_blocked_qty: Float64Array,
    pub max_participation: Float64Array,
    pub market_volume: Float64Array,
    pub market_vwap: Float64Array,
    pub shortfall_cost: Float64Array,
    pub zero_volume_bins: Int32Array,
    pub stopped_at: Int32Array,
    pub device: String,
}

/// Results owned by Rust (the stepped simulator's `finish`), handed over without a copy.
fn result_of(o: FillOutputs, d: Device) -> FillResult {
    FillResult {
        filled: Float64Array::new(o.filled),
        fill_price: Float64Array::new(o.fill_price),
        filled_qty: Float64Array::new(o.filled_qty),
        notional: Float64Array::new(o.notional),
        spread_cost: Float64Array::new(o.spread_cost),
        temporary_impact_cost: Float64Array::new(o.temporary_impact_cost),
        permanent_impact_cost: Float64Array::new(o.permanent_impact_cost),
        fee_cost: Float64Array::new(o.fee_cost),
        collar_blocked_qty: Float64Array::new(o.collar_blocked_qty),
        max_participation: Float64Array::new(o.max_participation),
        market_volume: Float64Array::new(o.market_volume),
        market_vwap: Float64Array::new(o.market_vwap),
        shortfall_cost: Float64Array::new(o.shortfall_cost),
        zero_volume_bins: Int32Array::new(o.zero_volume_bins),
        stopped_at: Int32Array::new(o.stopped_at),
        device: d.as_str().to_string(),
    }
}

/// A fresh f64 result handed to JavaScript without a copy.
fn wrap_f64(buf: ZeroedBuf<f64>) -> Float64Array {
    if buf.is_empty() {
        return Float64Array::new(Vec::new());
    }
    let (p, len, backing) = buf.into_raw();
    // SAFETY: `p` is valid for `len` elements until the finalizer, which
    // rebuilds the buffer from the parts `into_raw` gave, frees it once.
    unsafe { Float64Array::with_external_data(p, len, move |p, len| drop(ZeroedBuf::from_raw(p, len, backing))) }
}

/// One f64 output of a call: the caller's array (sync form) or a fresh buffer.
enum SlotF {
    Given(Float64Array),
    Fresh(ZeroedBuf<f64>),
}

impl SlotF {
    /// The caller's array, or `len` fresh zeros (large ones huge-page backed,
    /// first touched by the kernel's threads: see core `buffer`). The 4 GiB
    /// limit of natively made arrays (`outbuf::fresh`) cannot bind today: every
    /// output has at most the elements of an f64 input, which Node already caps
    /// at 4 GiB; it is checked anyway so that a narrower input type added
    /// later cannot end an Async call's process.
    fn new(given: Option<Float64Array>, len: usize) -> CoreResult<Self> {
        Ok(match given {
            Some(a) => SlotF::Given(a),
            None => SlotF::Fresh(crate::outbuf::fresh::<f64>(len, "batch")?),
        })
    }

    /// # Safety
    /// For `Given`, the slice aliases JavaScript memory: sync calls only.
    unsafe fn slice(&mut self) -> &mut [f64] {
        match self {
            SlotF::Given(a) => unsafe { a.as_mut() },
            SlotF::Fresh(b) => b.as_mut_slice(),
        }
    }

    fn into_js(self) -> Float64Array {
        match self {
            SlotF::Given(a) => a,
            SlotF::Fresh(b) => wrap_f64(b),
        }
    }
}

/// One i32 output: the caller's array or a fresh vector (per order: small).
enum SlotI {
    Given(Int32Array),
    Fresh(Vec<i32>),
}

impl SlotI {
    fn new(given: Option<Int32Array>, len: usize) -> CoreResult<Self> {
        Ok(match given {
            Some(a) => SlotI::Given(a),
            None => {
                let mut v = Vec::new();
                v.try_reserve_exact(len).map_err(|_| CoreError::arg("batch", format!("cannot allocate {len} results")))?;
                v.resize(len, 0);
                SlotI::Fresh(v)
            }
        })
    }

    /// # Safety
    /// As [`SlotF::slice`].
    unsafe fn slice(&mut self) -> &mut [i32] {
        match self {
            SlotI::Given(a) => unsafe { a.as_mut() },
            SlotI::Fresh(v) => v,
        }
    }

    fn into_js(self) -> Int32Array {
        match self {
            SlotI::Given(a) => a,
            SlotI::Fresh(v) => Int32Array::new(v),
        }
    }
}

/// Every output of a call (given or fresh), in `FillOut` order.
struct Outs {
    bins: [SlotF; 2],
    orders: [SlotF; 11],
    ints: [SlotI; 2],
}

impl Outs {
    /// The caller's arrays where given (`None`: an Async call), fresh ones elsewhere.
    fn new(given: Option<FillOutArrays>, batch: usize, horizon: usize) -> CoreResult<Self> {
        let n = fills::bins_of(batch, horizon)?;
        let g = given.unwrap_or(FillOutArrays {
            filled: None,
            fill_price: None,
            filled_qty: None,
            notional: None,
            spread_cost: None,
            temporary_impact_cost: None,
            permanent_impact_cost: None,
            fee_cost: None,
            collar_blocked_qty: None,
            max_participation: None,
            market_volume: None,
            market_vwap: None,
            shortfall_cost: None,
            zero_volume_bins: None,
            stopped_at: None,
        });
        Ok(Outs {
            bins: [SlotF::new(g.filled, n)?, SlotF::new(g.fill_price, n)?],
            orders: [
                SlotF::new(g.filled_qty, batch)?,
                SlotF::new(g.notional, batch)?,
                SlotF::new(g.spread_cost, batch)?,
                SlotF::new(g.temporary_impact_cost, batch)?,
                SlotF::new(g.permanent_impact_cost, batch)?,
                SlotF::new(g.fee_cost, batch)?,
                SlotF::new(g.collar_blocked_qty, batch)?,
                SlotF::new(g.max_participation, batch)?,
                SlotF::new(g.market_volume, batch)?,
                SlotF::new(g.market_vwap, batch)?,
                SlotF::new(g.shortfall_cost, batch)?,
            ],
            ints: [SlotI::new(g.zero_volume_bins, batch)?, SlotI::new(g.stopped_at, batch)?],
        })
    }

    /// # Safety
    /// Given arrays alias JavaScript memory: sync calls only.
    unsafe fn view(&mut self) -> FillOut<'_> {
        let [f, p] = &mut self.bins;
        let [a, b, c, d, e, g, h, i, j, k, l] = &mut self.orders;
        let [z, s] = &mut self.ints;
        unsafe {
            FillOut {
                filled: f.slice(),
                fill_price: p.slice(),
                orders: OrderOut {
                    filled_qty: a.slice(),
                    notional: b.slice(),
                    spread_cost: c.slice(),
                    temporary_impact_cost: d.slice(),
                    permanent_impact_cost: e.slice(),
                    fee_cost: g.slice(),
                    collar_blocked_qty: h.slice(),
                    max_participation: i.slice(),
                    market_volume: j.slice(),
                    market_vwap: k.slice(),
                    shortfall_cost: l.slice(),
                    zero_volume_bins: z.slice(),
                    stopped_at: s.slice(),
                },
            }
        }
    }

    fn into_result(self, d: Device) -> FillResult {
        let [filled, fill_price] = self.bins.map(SlotF::into_js);
        let [filled_qty, notional, spread_cost, temporary_impact_cost, permanent_impact_cost, fee_cost, collar_blocked_qty, max_participation, market_volume, market_vwap, shortfall_cost] =
            self.orders.map(SlotF::into_js);
        let [zero_volume_bins, stopped_at] = self.ints.map(SlotI::into_js);
        FillResult {
            filled,
            fill_price,
            filled_qty,
            notional,
            spread_cost,
            temporary_impact_cost,
            permanent_impact_cost,
            fee_cost,
            collar_blocked_qty,
            max_participation,
            market_volume,
            market_vwap,
            shortfall_cost,
            zero_volume_bins,
            stopped_at,
            device: d.as_str().to_string(),
        }
    }
}

/// The options as parameters (ERR_ARG naming the first invalid one).
fn params_of(o: Option<&FillOptions>) -> CoreResult<FillParams> {
    let d = FillParams::default();
    let Some(o) = o else { return Ok(d) };
    let final_bin = match o.final_bin.as_deref() {
        None | Some("sweep") => FinalBin::Sweep,
        Some("leave") => FinalBin::Leave,
        Some(x) => return Err(CoreError::arg("finalBin", format!("must be 'sweep' or 'leave', got '{x}'"))),
    };
    let p = FillParams {
        max_participation: o.max_participation.unwrap_or(d.max_participation),
        impact_eta: o.impact_eta.unwrap_or(d.impact_eta),
        impact_beta: o.impact_beta.unwrap_or(d.impact_beta),
        permanent_gamma: o.permanent_gamma.unwrap_or(d.permanent_gamma),
        taker_fee_bps: o.taker_fee_bps.unwrap_or(d.taker_fee_bps),
        maker_fee_bps: o.maker_fee_bps.unwrap_or(d.maker_fee_bps),
        final_bin,
        sweep_impact_multiplier: o.sweep_impact_multiplier.unwrap_or(d.sweep_impact_multiplier),
        stop_slippage_bps: o.stop_slippage_bps.unwrap_or(d.stop_slippage_bps),
        passive_fill_share: o.passive_fill_share.unwrap_or(d.passive_fill_share),
    };
    p.check()?;
    Ok(p)
}

fn device_of(o: Option<&FillOptions>) -> CoreResult<DeviceRequest> {
    args::device(&o.and_then(|o| o.device.clone()))
}

/// A memory range (start, end) of a slice.
fn range<T>(s: &[T]) -> (usize, usize) {
    let a = s.as_ptr() as usize;
    (a, a + std::mem::size_of_val(s))
}

/// ERR_ARG naming the first of `outs` that shares memory with an input or an earlier output.
fn check_disjoint(inputs: &[(&str, (usize, usize))], outs: &[(&'static str, (usize, usize))]) -> CoreResult<()> {
    for (i, (name, (s, e))) in outs.iter().enumerate() {
        let others = inputs.iter().copied().chain(outs[..i].iter().map(|(n, r)| (*n, *r)));
        for (other, (a, b)) in others {
            if s < e && a < b && *s < b && a < *e {
                return Err(CoreError::arg(name, format!("must not share memory with {other}")));
            }
        }
    }
    Ok(())
}

/// Borrowed inputs of a call (JavaScript memory in sync calls, copies in Async ones).
struct Market<'a> {
    batch: f64,
    horizon: f64,
    price: &'a [f64],
    volume: &'a [f64],
    sigma: &'a [f64],
    half_spread_bps: &'a [f64],
    quantity: &'a [f64],
    side: &'a [i8],
    limit_price: Option<&'a [f64]>,
    arrival_price: Option<&'a [f64]>,
    passive: PassiveArg<'a>,
}

#[derive(Clone, Copy)]
enum PassiveArg<'a> {
    Flag(bool),
    PerOrder(&'a [u8]),
}

impl<'a> Market<'a> {
    fn of(m: &'a FillMarket) -> Self {
        Market {
            batch: m.batch,
            horizon: m.horizon,
            price: &m.price,
            volume: &m.volume,
            sigma: &m.sigma,
            half_spread_bps: &m.half_spread_bps,
            quantity: &m.quantity,
            side: &m.side,
            limit_price: m.limit_price.as_deref(),
            arrival_price: m.arrival_price.as_deref(),
            passive: match &m.passive {
                None => PassiveArg::Flag(false),
                Some(Either::A(b)) => PassiveArg::Flag(*b),
                Some(Either::B(p)) => PassiveArg::PerOrder(p),
            },
        }
    }

    fn inputs(&self) -> CoreResult<FillInputs<'a>> {
        Ok(FillInputs {
            batch: args::size("batch", self.batch)?,
            horizon: args::size("horizon", self.horizon)?,
            price: self.price,
            volume: self.volume,
            sigma: self.sigma,
            half_spread_bps: self.half_spread_bps,
            quantity: self.quantity,
            side: self.side,
            limit_price: self.limit_price,
            arrival_price: self.arrival_price,
            passive: match self.passive {
                PassiveArg::Flag(false) => Passive::None,
                PassiveArg::Flag(true) => Passive::All,
                PassiveArg::PerOrder(p) => Passive::PerOrder(p),
            },
        })
    }

    fn ranges(&self, schedule: &[f64]) -> Vec<(&'static str, (usize, usize))> {
        let mut r = vec![
            ("price", range(self.price)),
            ("volume", range(self.volume)),
            ("sigma", range(self.sigma)),
            ("halfSpreadBps", range(self.half_spread_bps)),
            ("quantity", range(self.quantity)),
            ("side", range(self.side)),
            ("schedule", range(schedule)),
        ];
        if let Some(l) = self.limit_price {
            r.push(("limitPrice", range(l)));
        }
        if let Some(a) = self.arrival_price {
            r.push(("arrivalPrice", range(a)));
        }
        if let PassiveArg::PerOrder(p) = self.passive {
            r.push(("passive", range(p)));
        }
        r
    }
}

/// Check (options, input shapes, schedule), allocate the missing outputs,
/// check the given ones (lengths, no memory shared with an input or another
/// output), resolve the device and run. `given` is the sync form's `out`.
fn run(m: &Market, schedule: &[f64], o: Option<&FillOptions>, given: Option<FillOutArrays>) -> CoreResult<(Outs, Device)> {
    pool::check()?;
    let params = params_of(o)?;
    let req = device_of(o)?;
    let inputs = m.inputs()?;
    let n = fills::check_input_shapes(&inputs)?;
    if schedule.len() != n {
        return Err(CoreError::shape("schedule", n, schedule.len(), &format!("[batch={}, horizon={}]", inputs.batch, inputs.horizon)));
    }
    let mut outs = Outs::new(given, inputs.batch, inputs.horizon)?;
    // SAFETY: only sync calls pass JavaScript arrays in `given`, and no
    // JavaScript runs while `view` aliases them; Async calls own every output.
    let mut view = unsafe { outs.view() };
    fills::check_out_shapes(inputs.batch, inputs.horizon, &view)?;
    check_disjoint(&m.ranges(schedule), &out_ranges(&view))?;
    // The per-bin results (fresh JavaScript arrays, usually) get huge pages
    // before the kernel's threads first touch them.
    buffer::advise_huge_pages(view.filled);
    buffer::advise_huge_pages(view.fill_price);
    let dev = device::resolve(req)?;
    fills::simulate_fills_on(dev, &inputs, schedule, &params, &mut view)?;
    Ok((outs, dev))
}

fn out_ranges(o: &FillOut) -> Vec<(&'static str, (usize, usize))> {
    let r = &o.orders;
    vec![
        ("out.filled", range(o.filled)),
        ("out.fillPrice", range(o.fill_price)),
        ("out.filledQty", range(r.filled_qty)),
        ("out.notional", range(r.notional)),
        ("out.spreadCost", range(r.spread_cost)),
        ("out.temporaryImpactCost", range(r.temporary_impact_cost)),
        ("out.permanentImpactCost", range(r.permanent_impact_cost)),
        ("out.feeCost", range(r.fee_cost)),
        ("out.collarBlockedQty", range(r.collar_blocked_qty)),
        ("out.maxParticipation", range(r.max_participation)),
        ("out.marketVolume", range(r.market_volume)),
        ("out.marketVwap", range(r.market_vwap)),
        ("out.shortfallCost", range(r.shortfall_cost)),
        ("out.zeroVolumeBins", range(r.zero_volume_bins)),
        ("out.stoppedAt", range(r.stopped_at)),
    ]
}

/// Simulate `schedule` [batch, horizon]. Results go into the arrays `out`
/// gives and into fresh arrays otherwise; all are returned.
#[napi]
pub fn simulate_fills(market: FillMarket, schedule: Float64Array, options: Option<FillOptions>, out: Option<FillOutArrays>) -> napi::Result<FillResult> {
    guarded("simulateFills", || {
        let (outs, dev) = run(&Market::of(&market), &schedule, options.as_ref(), out)?;
        Ok(outs.into_result(dev))
    })
}

/// Rust-owned copies of an Async call's inputs.
struct Copied {
    batch: f64,
    horizon: f64,
    price: Vec<f64>,
    volume: Vec<f64>,
    sigma: Vec<f64>,
    half_spread_bps: Vec<f64>,
    quantity: Vec<f64>,
    side: Vec<i8>,
    limit_price: Option<Vec<f64>>,
    arrival_price: Option<Vec<f64>>,
    passive: Result<bool, Vec<u8>>,
    schedule: Vec<f64>,
}

/// A copy of `s`, or ERR_ARG naming `name` when it cannot be allocated.
fn copy<T: Copy>(name: &str, s: &[T]) -> CoreResult<Vec<T>> {
    let mut v = Vec::new();
    v.try_reserve_exact(s.len())
        .map_err(|_| CoreError::arg(name, format!("cannot allocate a copy of {} elements", s.len())))?;
    v.extend_from_slice(s);
    Ok(v)
}

impl Copied {
    fn of(m: &FillMarket, schedule: &[f64]) -> CoreResult<Self> {
        Ok(Copied {
            batch: m.batch,
            horizon: m.horizon,
            price: copy("price", &m.price)?,
            volume: copy("volume", &m.volume)?,
            sigma: copy("sigma", &m.sigma)?,
            half_spread_bps: copy("halfSpreadBps", &m.half_spread_bps)?,
            quantity: copy("quantity", &m.quantity)?,
            side: copy("side", &m.side)?,
            limit_price: m.limit_price.as_ref().map(|x| copy("limitPrice", x)).transpose()?,
            arrival_price: m.arrival_price.as_ref().map(|x| copy("arrivalPrice", x)).transpose()?,
            passive: match &m.passive {
                None => Ok(false),
                Some(Either::A(b)) => Ok(*b),
                Some(Either::B(p)) => Err(copy("passive", p)?),
            },
            schedule: copy("schedule", schedule)?,
        })
    }

    fn market(&self) -> Market<'_> {
        Market {
            batch: self.batch,
            horizon: self.horizon,
            price: &self.price,
            volume: &self.volume,
            sigma: &self.sigma,
            half_spread_bps: &self.half_spread_bps,
            quantity: &self.quantity,
            side: &self.side,
            limit_price: self.limit_price.as_deref(),
            arrival_price: self.arrival_price.as_deref(),
            passive: match &self.passive {
                Ok(b) => PassiveArg::Flag(*b),
                Err(p) => PassiveArg::PerOrder(p),
            },
        }
    }
}

pub struct FillTask {
    inputs: CoreResult<Copied>,
    options: Option<FillOptions>,
}

/// An Async call's results, Rust-owned until `resolve` hands them over.
pub struct Done(Outs, Device);

// SAFETY: an Async call's `Outs` hold only fresh Rust-owned buffers (`run`
// gets no JavaScript array from `compute`); they move to the JavaScript
// thread once, for `resolve`.
unsafe impl Send for Done {}

impl Task for FillTask {
    type Output = Done;
    type JsValue = FillResult;

    fn compute(&mut self) -> napi::Result<Done> {
        guarded("simulateFillsAsync", || {
            let c = self.inputs.as_ref().map_err(Clone::clone)?;
            let (outs, dev) = run(&c.market(), &c.schedule, self.options.as_ref(), None)?;
            Ok(Done(outs, dev))
        })
    }

    fn resolve(&mut self, _env: Env, Done(outs, dev): Done) -> napi::Result<FillResult> {
        Ok(outs.into_result(dev))
    }
}

/// Copies the inputs now and resolves to fresh arrays.
#[napi(ts_return_type = "Promise<FillResult>")]
pub fn simulate_fills_async(market: FillMarket, schedule: Float64Array, options: Option<FillOptions>) -> AsyncTask<FillTask> {
    AsyncTask::new(FillTask { inputs: Copied::of(&market, &schedule), options })
}

/// The stepped (closed-loop) simulator: `step(fractions, filled, fillPrice,
/// carry?)` runs the next bin for every order and writes its fills into the
/// given [batch] arrays; `finish()` returns the `simulateFills` results.
#[napi(js_name = "FillSimulator")]
pub struct JsFillSimulator {
    inner: FillSimulator,
}

#[napi]
impl JsFillSimulator {
    /// Checks and copies the market (the arrays may change afterwards).
    #[napi(constructor)]
    pub fn new(market: FillMarket, options: Option<FillOptions>) -> napi::Result<Self> {
        guarded("FillSimulator", || {
            pool::check()?;
            let params = params_of(options.as_ref())?;
            if device_of(options.as_ref())? == DeviceRequest::Cuda {
                return Err(CoreError::arg("device", "the stepped simulator runs on the CPU; pass 'cpu' or 'auto'"));
            }
            let m = Market::of(&market);
            Ok(JsFillSimulator { inner: FillSimulator::new(&m.inputs()?, &params)? })
        })
    }

    #[napi(getter)]
    pub fn batch(&self) -> f64 {
        self.inner.batch() as f64
    }

    #[napi(getter)]
    pub fn horizon(&self) -> f64 {
        self.inner.horizon() as f64
    }

    /// Bins simulated so far (the index of the next one).
    #[napi(getter)]
    pub fn bin(&self) -> f64 {
        self.inner.bin() as f64
    }

    /// Run the next bin with `fractions` [batch] (each order's fraction of its
    /// quantity; the carry is added). Writes `filled`, `fillPrice` (NaN where
    /// nothing filled) and, when given, `carry` [batch]. A failed step changes nothing.
    #[napi]
    pub fn step(&mut self, fractions: Float64Array, mut filled: Float64Array, mut fill_price: Float64Array, carry: Option<Float64Array>) -> napi::Result<()> {
        let mut carry = carry;
        guarded("FillSimulator.step", || {
            pool::check()?;
            let fr: &[f64] = &fractions;
            let ins = [("fractions", range(fr))];
            // SAFETY: sync call: no JavaScript runs while these alias the caller's arrays.
            let (f, p) = unsafe { (filled.as_mut(), fill_price.as_mut()) };
            let c = carry.as_mut().map(|c| unsafe { c.as_mut() });
            let mut outs = vec![("filled", range(f)), ("fillPrice", range(p))];
            if let Some(c) = c.as_deref() {
                outs.push(("carry", range(c)));
            }
            if f.len() == self.inner.batch() && p.len() == self.inner.batch() {
                check_disjoint(&ins, &outs)?;
            }
            self.inner.step(fr, f, p, c)
        })
    }

    /// The results (the `simulateFills` outputs, fresh arrays) once every bin ran.
    #[napi(ts_return_type = "FillResult")]
    pub fn finish(&self) -> napi::Result<FillResult> {
        guarded("FillSimulator.finish", || Ok(result_of(self.inner.finish()?, Device::Cpu)))
    }
}
