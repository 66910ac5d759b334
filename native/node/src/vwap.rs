//! vwapLoss / vwapLossGrad (sync and Async) over Float32Array | Float64Array.
//!
//! Parses the options, resolves the device and calls
//! `sigvwap_core::vwap::vwap_loss_on`, which runs the CPU or CUDA kernels.
//! Each of alloc, price, volume may be f32 or f64 independently (8
//! monomorphized calls). The gradient goes into an optional last argument
//! `out` (same float type as alloc; returned as `grad`) or a fresh zero-copy
//! buffer (`outbuf.rs`).

use napi::bindgen_prelude::{AsyncTask, Either, Float32Array, Float64Array};
use napi::{Env, Task};
use napi_derive::napi;
use sigvwap_core::device::{self, Device};
use sigvwap_core::vwap::{self, LossKind, VwapArgs, VwapLoss, ZeroVolumePolicy};
use sigvwap_core::{CoreError, CoreResult, Real};

use crate::args::{self, FloatArray};
use crate::errors::guarded;
use crate::outbuf::{byte_range, dest, out_slice, Dest, Typed};

#[napi(object)]
pub struct VwapOptions {
    /// Number of orders (rows).
    pub batch: f64,
    /// Bars per order (columns).
    pub horizon: f64,
    /// 'abs' (mean |d|) or 'quad' (mean d²).
    pub kind: String,
    /// 'error' (default) or 'skip'.
    pub on_zero_volume: Option<String>,
    /// 'auto' (default), 'cpu' or 'cuda'.
    pub device: Option<String>,
}

#[napi(object)]
pub struct VwapLossResult {
    pub mean: f64,
    pub per_order: Float64Array,
    pub used: u32,
    pub skipped: u32,
    pub device: String,
}

#[napi(object)]
pub struct VwapGradResult {
    pub grad: Either<Float32Array, Float64Array>,
    pub mean: f64,
    pub per_order: Float64Array,
    pub used: u32,
    pub skipped: u32,
    pub device: String,
}

struct Parsed {
    args: VwapArgs,
    device: Device,
}

fn parse(o: &VwapOptions) -> CoreResult<Parsed> {
    let kind = match o.kind.as_str() {
        "abs" => LossKind::Abs,
        "quad" => LossKind::Quad,
        k => return Err(CoreError::arg("kind", format!("must be 'abs' or 'quad', got '{k}'"))),
    };
    let on_zero_volume = match o.on_zero_volume.as_deref() {
        None | Some("error") => ZeroVolumePolicy::Error,
        Some("skip") => ZeroVolumePolicy::Skip,
        Some(k) => return Err(CoreError::arg("onZeroVolume", format!("must be 'error' or 'skip', got '{k}'"))),
    };
    let args = VwapArgs { batch: args::size("batch", o.batch)?, horizon: args::size("horizon", o.horizon)?, kind, on_zero_volume };
    let device = device::resolve(args::device(&o.device)?)?;
    Ok(Parsed { args, device })
}

/// The gradient of a call: not requested, written into the caller's `out`, or fresh.
pub enum Grad {
    None,
    IntoOut,
    Fresh(FloatArray),
}

impl Grad {
    fn from_dest<T: Typed>(d: Dest<'_, T>) -> Grad {
        match d.into_fresh() {
            Some(b) => Grad::Fresh(T::wrap(b)),
            None => Grad::IntoOut,
        }
    }
}

/// The gradient's destination: `out` (checked against alloc's type and length,
/// and for overlap with the inputs) or a fresh buffer.
///
/// # Safety
/// See `outbuf::dest`: JavaScript must not touch `out` while the kernel runs.
unsafe fn grad_dest<'a, T: Typed>(a: &[T], p: &FloatArray, v: &FloatArray, out: Option<&'a mut FloatArray>) -> CoreResult<Dest<'a, T>> {
    let out = unsafe { out_slice::<T>(out, "alloc")? };
    let inputs = [("alloc", byte_range(a)), ("price", range_of(p)), ("volume", range_of(v))];
    unsafe { dest(out, a.len(), "[batch, horizon]", &inputs) }
}

fn range_of(x: &FloatArray) -> (usize, usize) {
    match x {
        Either::A(y) => byte_range(&y[..]),
        Either::B(y) => byte_range(&y[..]),
    }
}

/// One call on `device` with alloc, price, volume of types A, P, V.
#[allow(clippy::too_many_arguments)]
fn typed<A: Typed, P: Real, V: Real>(
    device: Device,
    a: &[A],
    p: &[P],
    v: &[V],
    args: &VwapArgs,
    grad: bool,
    pv: (&FloatArray, &FloatArray),
    out: Option<&mut FloatArray>,
) -> CoreResult<(VwapLoss, Grad)> {
    if !grad {
        return Ok((vwap::vwap_loss_on(device, a, p, v, args, None)?, Grad::None));
    }
    // SAFETY: the callers hold JavaScript off `out` while this runs.
    let mut d = unsafe { grad_dest(a, pv.0, pv.1, out)? };
    let loss = vwap::vwap_loss_on(device, a, p, v, args, Some(d.slice()))?;
    Ok((loss, Grad::from_dest(d)))
}

macro_rules! with_slices {
    ($a:expr, $p:expr, $v:expr, |$x:ident, $y:ident, $z:ident| $body:expr) => {
        match ($a, $p, $v) {
            (Either::A($x), Either::A($y), Either::A($z)) => $body,
            (Either::A($x), Either::A($y), Either::B($z)) => $body,
            (Either::A($x), Either::B($y), Either::A($z)) => $body,
            (Either::A($x), Either::B($y), Either::B($z)) => $body,
            (Either::B($x), Either::A($y), Either::A($z)) => $body,
            (Either::B($x), Either::A($y), Either::B($z)) => $body,
            (Either::B($x), Either::B($y), Either::A($z)) => $body,
            (Either::B($x), Either::B($y), Either::B($z)) => $body,
        }
    };
}

fn compute(a: &FloatArray, p: &FloatArray, v: &FloatArray, o: &Parsed, grad: bool, out: Option<&mut FloatArray>) -> CoreResult<(VwapLoss, Grad)> {
    with_slices!(a, p, v, |x, y, z| typed(o.device, &x[..], &y[..], &z[..], &o.args, grad, (p, v), out))
}

fn loss_result(out: VwapLoss, d: Device) -> VwapLossResult {
    VwapLossResult {
        mean: out.mean,
        per_order: Float64Array::new(out.per_order),
        used: out.used as u32,
        skipped: out.skipped as u32,
        device: d.as_str().to_string(),
    }
}

/// `grad` is the fresh gradient, or the caller's `out` it was written into.
fn grad_result(out: VwapLoss, grad: FloatArray, d: Device) -> VwapGradResult {
    VwapGradResult {
        grad,
        mean: out.mean,
        per_order: Float64Array::new(out.per_order),
        used: out.used as u32,
        skipped: out.skipped as u32,
        device: d.as_str().to_string(),
    }
}

fn take_grad(g: Grad, out: Option<FloatArray>) -> FloatArray {
    match (g, out) {
        (Grad::Fresh(f), _) => f,
        (Grad::IntoOut, Some(o)) => o,
        _ => unreachable!("a gradient call yields a fresh gradient or fills out"),
    }
}

fn run(
    a: &FloatArray,
    p: &FloatArray,
    v: &FloatArray,
    o: &VwapOptions,
    grad: bool,
    out: Option<&mut FloatArray>,
) -> CoreResult<(VwapLoss, Grad, Device)> {
    let parsed = parse(o)?;
    let (loss, g) = compute(a, p, v, &parsed, grad, out)?;
    Ok((loss, g, parsed.device))
}

#[napi(ts_args_type = "alloc: Float32Array | Float64Array, price: Float32Array | Float64Array, volume: Float32Array | Float64Array, options: VwapOptions")]
pub fn vwap_loss(alloc: FloatArray, price: FloatArray, volume: FloatArray, options: VwapOptions) -> napi::Result<VwapLossResult> {
    guarded("vwapLoss", || {
        let (out, _, d) = run(&alloc, &price, &volume, &options, false, None)?;
        Ok(loss_result(out, d))
    })
}

#[napi(ts_args_type = "alloc: Float32Array | Float64Array, price: Float32Array | Float64Array, volume: Float32Array | Float64Array, options: VwapOptions, out?: Float32Array | Float64Array | undefined | null")]
pub fn vwap_loss_grad(
    alloc: FloatArray,
    price: FloatArray,
    volume: FloatArray,
    options: VwapOptions,
    mut out: Option<FloatArray>,
) -> napi::Result<VwapGradResult> {
    let (loss, g, d) = guarded("vwapLossGrad", || run(&alloc, &price, &volume, &options, true, out.as_mut()))?;
    Ok(grad_result(loss, take_grad(g, out), d))
}

pub struct VwapTask {
    alloc: FloatArray,
    price: FloatArray,
    volume: FloatArray,
    options: VwapOptions,
    grad: bool,
    out: Option<FloatArray>,
}

pub enum VwapTaskOutput {
    Loss(VwapLoss, Device),
    Grad(VwapLoss, Grad, Device),
}

impl Task for VwapTask {
    type Output = VwapTaskOutput;
    type JsValue = Either<VwapLossResult, VwapGradResult>;

    fn compute(&mut self) -> napi::Result<VwapTaskOutput> {
        let name = if self.grad { "vwapLossGradAsync" } else { "vwapLossAsync" };
        guarded(name, || {
            let (out, g, d) = run(&self.alloc, &self.price, &self.volume, &self.options, self.grad, self.out.as_mut())?;
            Ok(match g {
                Grad::None => VwapTaskOutput::Loss(out, d),
                g => VwapTaskOutput::Grad(out, g, d),
            })
        })
    }

    fn resolve(&mut self, _env: Env, out: VwapTaskOutput) -> napi::Result<Self::JsValue> {
        Ok(match out {
            VwapTaskOutput::Loss(o, d) => Either::A(loss_result(o, d)),
            VwapTaskOutput::Grad(o, g, d) => Either::B(grad_result(o, take_grad(g, self.out.take()), d)),
        })
    }
}

#[napi(
    ts_args_type = "alloc: Float32Array | Float64Array, price: Float32Array | Float64Array, volume: Float32Array | Float64Array, options: VwapOptions",
    ts_return_type = "Promise<VwapLossResult>"
)]
pub fn vwap_loss_async(alloc: FloatArray, price: FloatArray, volume: FloatArray, options: VwapOptions) -> AsyncTask<VwapTask> {
    AsyncTask::new(VwapTask { alloc, price, volume, options, grad: false, out: None })
}

/// `out` must not be touched by JavaScript until the promise settles.
#[napi(
    ts_args_type = "alloc: Float32Array | Float64Array, price: Float32Array | Float64Array, volume: Float32Array | Float64Array, options: VwapOptions, out?: Float32Array | Float64Array | undefined | null",
    ts_return_type = "Promise<VwapGradResult>"
)]
pub fn vwap_loss_grad_async(
    alloc: FloatArray,
    price: FloatArray,
    volume: FloatArray,
    options: VwapOptions,
    out: Option<FloatArray>,
) -> AsyncTask<VwapTask> {
    AsyncTask::new(VwapTask { alloc, price, volume, options, grad: true, out })
}

