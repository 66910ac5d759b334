//! vwapLoss / vwapLossGrad (sync and Async) over Float32Array | Float64Array.
//!
//! Parses the options, resolves the device and calls
//! `sigvwap_core::vwap::vwap_loss_on`, which runs the CPU or CUDA kernels.
//! Each of alloc, price, volume may be f32 or f64 independently (8
//! monomorphized calls). The gradient goes into an optional last argument
//! `out` (same float type as alloc; returned as `grad`) or a fresh zero-copy
//! buffer (`outbuf.rs`).
//!
//! Check order (every error names the argument the caller got wrong): the
//! options, then the lengths of alloc, price and volume, then `out`, then the
//! values (inside the kernel's one pass). Async forms copy the three inputs
//! on the JavaScript thread when called and write `out` back on completion
//! (the ownership rule of `outbuf.rs`).

use napi::bindgen_prelude::{AsyncTask, Either, Float32Array, Float64Array};
use napi::{Env, Task};
use napi_derive::napi;
use sigvwap_core::device::{self, Device};
use sigvwap_core::vwap::{self, LossKind, VwapArgs, VwapLoss, ZeroVolumePolicy};
use sigvwap_core::{pool, CoreError, CoreResult, Real};

use crate::args::{self, FloatArray};
use crate::errors::guarded;
use crate::outbuf::{check_out, dest, recycled, scratch, write_back, Floats, InputCopy, OutMeta, Owned, Typed};

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

/// The inputs of one call, wherever their memory lives.
#[derive(Clone, Copy)]
struct Inputs<'a> {
    alloc: Floats<'a>,
    price: Floats<'a>,
    volume: Floats<'a>,
}

impl<'a> Inputs<'a> {
    fn of(a: &'a FloatArray, p: &'a FloatArray, v: &'a FloatArray) -> Self {
        Inputs { alloc: Floats::of(a), price: Floats::of(p), volume: Floats::of(v) }
    }

    /// (name, memory range) of each input, for the overlap check of `out`.
    fn ranges(&self) -> [(&'static str, (usize, usize)); 3] {
        [("alloc", self.alloc.range()), ("price", self.price.range()), ("volume", self.volume.range())]
    }

    /// The inputs' lengths against [batch, horizon], before anything about `out`.
    fn check(&self, args: &VwapArgs) -> CoreResult<usize> {
        vwap::check_shapes(args, self.alloc.len(), self.price.len(), self.volume.len())
    }
}

/// Where the gradient goes.
enum GradTo<'a> {
    /// Loss only.
    None,
    /// A sync call: the caller's `out` (checked here) or a fresh buffer.
    Sync(Option<&'a mut FloatArray>),
    /// An Async call: a Rust-owned buffer, after checking what the call saw of `out`.
    Owned(Option<&'a OutMeta>, &'a [(&'static str, (usize, usize))]),
}

/// The gradient of a call: not requested, written into the caller's `out`,
/// fresh (sync: a JavaScript array), or Rust-owned (Async: written back or
/// handed over on completion).
pub enum Grad {
    None,
    IntoOut,
    Fresh(FloatArray),
    Owned(Owned),
}

/// One call on `device` with alloc, price, volume of types A, P, V.
fn typed<A: Typed, P: Real, V: Real>(
    device: Device,
    (a, p, v): (&[A], &[P], &[V]),
    i: Inputs<'_>,
    args: &VwapArgs,
    to: GradTo<'_>,
) -> CoreResult<(VwapLoss, Grad)> {
    let n = i.check(args)?;
    let layout = format!("[batch={}, horizon={}]", args.batch, args.horizon);
    match to {
        GradTo::None => Ok((vwap::vwap_loss_on(device, a, p, v, args, None)?, Grad::None)),
        GradTo::Sync(out) => {
            // SAFETY: sync call: no JavaScript runs while `d` aliases `out`.
            let mut d = unsafe { dest::<A>(out, "alloc", n, &layout, &i.ranges(), "batch")? };
            let loss = vwap::vwap_loss_on(device, a, p, v, args, Some(d.slice()))?;
            Ok((loss, d.into_fresh().map_or(Grad::IntoOut, |b| Grad::Fresh(A::wrap(b)))))
        }
        GradTo::Owned(meta, ranges) => {
            if let Some(m) = meta {
                check_out::<A>(m, "alloc", n, &layout, ranges)?;
            }
            // With `out` the gradient stays native until it is copied into `out`
            // (no size cap), and may be a spare: the kernel writes every element.
            let mut buf = if meta.is_some() { scratch::<A>("batch", n)? } else { recycled::<A>(n, "batch")? };
            let loss = vwap::vwap_loss_on(device, a, p, v, args, Some(buf.as_mut_slice()))?;
            Ok((loss, Grad::Owned(A::owned(buf))))
        }
    }
}

macro_rules! with_slices {
    ($a:expr, $p:expr, $v:expr, |$x:ident, $y:ident, $z:ident| $body:expr) => {
        match ($a, $p, $v) {
            (Floats::F32($x), Floats::F32($y), Floats::F32($z)) => $body,
            (Floats::F32($x), Floats::F32($y), Floats::F64($z)) => $body,
            (Floats::F32($x), Floats::F64($y), Floats::F32($z)) => $body,
            (Floats::F32($x), Floats::F64($y), Floats::F64($z)) => $body,
            (Floats::F64($x), Floats::F32($y), Floats::F32($z)) => $body,
            (Floats::F64($x), Floats::F32($y), Floats::F64($z)) => $body,
            (Floats::F64($x), Floats::F64($y), Floats::F32($z)) => $body,
            (Floats::F64($x), Floats::F64($y), Floats::F64($z)) => $body,
        }
    };
}

/// Options, then the inputs, then `out`, then the kernel (8 monomorphized type combinations).
fn run(i: Inputs<'_>, o: &VwapOptions, to: GradTo<'_>) -> CoreResult<(VwapLoss, Grad, Device)> {
    pool::check()?;
    let parsed = parse(o)?;
    let (loss, g) = with_slices!(i.alloc, i.price, i.volume, |x, y, z| typed(parsed.device, (x, y, z), i, &parsed.args, to))?;
    Ok((loss, g, parsed.device))
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

#[napi(ts_args_type = "alloc: Float32Array | Float64Array, price: Float32Array | Float64Array, volume: Float32Array | Float64Array, options: VwapOptions")]
pub fn vwap_loss(alloc: FloatArray, price: FloatArray, volume: FloatArray, options: VwapOptions) -> napi::Result<VwapLossResult> {
    guarded("vwapLoss", || {
        let (out, _, d) = run(Inputs::of(&alloc, &price, &volume), &options, GradTo::None)?;
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
    let (loss, g, d) = guarded("vwapLossGrad", || run(Inputs::of(&alloc, &price, &volume), &options, GradTo::Sync(out.as_mut())))?;
    let grad = match (g, out) {
        (Grad::Fresh(f), _) => f,
        (Grad::IntoOut, Some(o)) => o,
        _ => unreachable!("a sync gradient call yields a fresh gradient or fills out"),
    };
    Ok(grad_result(loss, grad, d))
}

/// What an Async call copied when it was made (see `outbuf.rs`).
struct Copied {
    alloc: InputCopy,
    price: InputCopy,
    volume: InputCopy,
}

pub struct VwapTask {
    /// The copies of the inputs, or the error met while copying (reported by compute).
    inputs: CoreResult<Copied>,
    /// Where the inputs were in JavaScript memory when copied (overlap check of `out`).
    input_ranges: [(&'static str, (usize, usize)); 3],
    options: VwapOptions,
    grad: bool,
    /// The caller's `out`: a handle only, never dereferenced off the JavaScript thread.
    out: Option<FloatArray>,
    out_meta: Option<OutMeta>,
}

impl VwapTask {
    /// On the JavaScript thread: copy the inputs, note `out`'s type, length and memory.
    fn new(alloc: FloatArray, price: FloatArray, volume: FloatArray, options: VwapOptions, grad: bool, out: Option<FloatArray>) -> Self {
        let input_ranges = Inputs::of(&alloc, &price, &volume).ranges();
        let inputs = (|| {
            Ok(Copied {
                alloc: InputCopy::of("alloc", &alloc)?,
                price: InputCopy::of("price", &price)?,
                volume: InputCopy::of("volume", &volume)?,
            })
        })();
        let out_meta = out.as_ref().map(OutMeta::of);
        VwapTask { inputs, input_ranges, options, grad, out, out_meta }
    }
}

pub enum VwapTaskOutput {
    Loss(VwapLoss, Device),
    Grad(VwapLoss, Owned, Device),
}

impl Task for VwapTask {
    type Output = VwapTaskOutput;
    type JsValue = Either<VwapLossResult, VwapGradResult>;

    fn compute(&mut self) -> napi::Result<VwapTaskOutput> {
        let name = if self.grad { "vwapLossGradAsync" } else { "vwapLossAsync" };
        guarded(name, || {
            let c = self.inputs.as_ref().map_err(Clone::clone)?;
            let i = Inputs { alloc: c.alloc.floats(), price: c.price.floats(), volume: c.volume.floats() };
            let to = if self.grad { GradTo::Owned(self.out_meta.as_ref(), &self.input_ranges) } else { GradTo::None };
            Ok(match run(i, &self.options, to)? {
                (loss, Grad::Owned(g), d) => VwapTaskOutput::Grad(loss, g, d),
                (loss, _, d) => VwapTaskOutput::Loss(loss, d),
            })
        })
    }

    fn resolve(&mut self, env: Env, out: VwapTaskOutput) -> napi::Result<Self::JsValue> {
        Ok(match out {
            VwapTaskOutput::Loss(o, d) => Either::A(loss_result(o, d)),
            VwapTaskOutput::Grad(o, g, d) => {
                let grad = match self.out.take() {
                    Some(out) => write_back(&env, out, g)?,
                    None => g.wrap(),
                };
                Either::B(grad_result(o, grad, d))
            }
        })
    }
}

/// Copies the inputs now (see `outbuf.rs`).
#[napi(
    ts_args_type = "alloc: Float32Array | Float64Array, price: Float32Array | Float64Array, volume: Float32Array | Float64Array, options: VwapOptions",
    ts_return_type = "Promise<VwapLossResult>"
)]
pub fn vwap_loss_async(alloc: FloatArray, price: FloatArray, volume: FloatArray, options: VwapOptions) -> AsyncTask<VwapTask> {
    AsyncTask::new(VwapTask::new(alloc, price, volume, options, false, None))
}

/// Copies the inputs now; `out` is written when the promise settles (rejects
/// naming `out` if it was detached meanwhile).
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
    AsyncTask::new(VwapTask::new(alloc, price, volume, options, true, out))
}
