//! vwapLoss / vwapLossGrad (sync and Async) over Float32Array | Float64Array.
//!
//! Each of alloc, price, volume may be f32 or f64 independently on the CPU
//! (8 monomorphized kernels). CUDA kernels exist for all-f32 and all-f64;
//! mixed inputs are widened to f64 on the host first.

use napi::bindgen_prelude::{AsyncTask, Either, Float32Array, Float64Array};
use napi::{Env, Task};
use napi_derive::napi;
use sigvwap_core::device::{self, Device};
use sigvwap_core::vwap::{self, LossKind, VwapArgs, VwapLoss, ZeroVolumePolicy};
use sigvwap_core::{CoreError, CoreResult, Real};

use crate::args::{self, FloatArray};
use crate::errors::guarded;

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

pub enum Grad {
    F32(Vec<f32>),
    F64(Vec<f64>),
}

fn cpu<A: Real, P: Real, V: Real>(a: &[A], p: &[P], v: &[V], args: &VwapArgs, grad: bool) -> CoreResult<(VwapLoss, Option<Vec<A>>)> {
    if grad {
        let (g, out) = vwap::vwap_loss_grad(a, p, v, args)?;
        Ok((out, Some(g)))
    } else {
        Ok((vwap::vwap_loss(a, p, v, args)?, None))
    }
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

/// Widen any float array to an f64 vector (CUDA path with mixed types).
#[cfg(feature = "cuda")]
fn widen(a: &FloatArray) -> Vec<f64> {
    match a {
        Either::A(x) => x.iter().map(|&v| v as f64).collect(),
        Either::B(x) => x.to_vec(),
    }
}

#[cfg(feature = "cuda")]
fn cuda(a: &FloatArray, p: &FloatArray, v: &FloatArray, args: &VwapArgs, grad: bool) -> CoreResult<(VwapLoss, Option<Grad>)> {
    use sigvwap_core::cuda::vwap::vwap_loss_cuda;
    match (a, p, v) {
        (Either::A(x), Either::A(y), Either::A(z)) => {
            let mut g = grad.then(|| vec![0f32; x.len()]);
            let out = vwap_loss_cuda::<f32>(x, y, z, args, g.as_deref_mut())?;
            Ok((out, g.map(Grad::F32)))
        }
        _ => {
            let (x, y, z) = match (a, p, v) {
                (Either::B(x), Either::B(y), Either::B(z)) => (x.to_vec(), y.to_vec(), z.to_vec()),
                _ => (widen(a), widen(p), widen(v)),
            };
            let mut g = grad.then(|| vec![0f64; x.len()]);
            let out = vwap_loss_cuda::<f64>(&x, &y, &z, args, g.as_deref_mut())?;
            let g = g.map(|g| match a {
                Either::A(_) => Grad::F32(g.iter().map(|&v| v as f32).collect()),
                Either::B(_) => Grad::F64(g),
            });
            Ok((out, g))
        }
    }
}

#[cfg(not(feature = "cuda"))]
fn cuda(_: &FloatArray, _: &FloatArray, _: &FloatArray, _: &VwapArgs, _: bool) -> CoreResult<(VwapLoss, Option<Grad>)> {
    unreachable!("device::resolve never selects CUDA in a build without the feature")
}

fn compute(a: &FloatArray, p: &FloatArray, v: &FloatArray, o: &Parsed, grad: bool) -> CoreResult<(VwapLoss, Option<Grad>)> {
    match o.device {
        Device::Cuda => cuda(a, p, v, &o.args, grad),
        Device::Cpu => with_slices!(a, p, v, |x, y, z| {
            let (out, g) = cpu(&x[..], &y[..], &z[..], &o.args, grad)?;
            Ok((out, g.map(|g| to_grad(g))))
        }),
    }
}

/// Box the generic gradient into the enum without copying when possible.
fn to_grad<A: Real>(g: Vec<A>) -> Grad {
    let any: Box<dyn std::any::Any> = Box::new(g);
    match any.downcast::<Vec<f32>>() {
        Ok(v) => Grad::F32(*v),
        Err(any) => Grad::F64(*any.downcast::<Vec<f64>>().expect("Real is f32 or f64")),
    }
}

fn device_name(d: Device) -> String {
    match d {
        Device::Cpu => "cpu".into(),
        Device::Cuda => "cuda".into(),
    }
}

fn loss_result(out: VwapLoss, d: Device) -> VwapLossResult {
    VwapLossResult {
        mean: out.mean,
        per_order: Float64Array::new(out.per_order),
        used: out.used as u32,
        skipped: out.skipped as u32,
        device: device_name(d),
    }
}

fn grad_result(out: VwapLoss, g: Grad, d: Device) -> VwapGradResult {
    VwapGradResult {
        grad: match g {
            Grad::F32(v) => Either::A(Float32Array::new(v)),
            Grad::F64(v) => Either::B(Float64Array::new(v)),
        },
        mean: out.mean,
        per_order: Float64Array::new(out.per_order),
        used: out.used as u32,
        skipped: out.skipped as u32,
        device: device_name(d),
    }
}

fn run(a: &FloatArray, p: &FloatArray, v: &FloatArray, o: &VwapOptions, grad: bool) -> CoreResult<(VwapLoss, Option<Grad>, Device)> {
    let parsed = parse(o)?;
    let (out, g) = compute(a, p, v, &parsed, grad)?;
    Ok((out, g, parsed.device))
}

#[napi(ts_args_type = "alloc: Float32Array | Float64Array, price: Float32Array | Float64Array, volume: Float32Array | Float64Array, options: VwapOptions")]
pub fn vwap_loss(alloc: FloatArray, price: FloatArray, volume: FloatArray, options: VwapOptions) -> napi::Result<VwapLossResult> {
    guarded("vwapLoss", || {
        let (out, _, d) = run(&alloc, &price, &volume, &options, false)?;
        Ok(loss_result(out, d))
    })
}

#[napi(ts_args_type = "alloc: Float32Array | Float64Array, price: Float32Array | Float64Array, volume: Float32Array | Float64Array, options: VwapOptions")]
pub fn vwap_loss_grad(alloc: FloatArray, price: FloatArray, volume: FloatArray, options: VwapOptions) -> napi::Result<VwapGradResult> {
    guarded("vwapLossGrad", || {
        let (out, g, d) = run(&alloc, &price, &volume, &options, true)?;
        Ok(grad_result(out, g.expect("gradient requested"), d))
    })
}

pub struct VwapTask {
    alloc: FloatArray,
    price: FloatArray,
    volume: FloatArray,
    options: VwapOptions,
    grad: bool,
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
            let (out, g, d) = run(&self.alloc, &self.price, &self.volume, &self.options, self.grad)?;
            Ok(match g {
                Some(g) => VwapTaskOutput::Grad(out, g, d),
                None => VwapTaskOutput::Loss(out, d),
            })
        })
    }

    fn resolve(&mut self, _env: Env, out: VwapTaskOutput) -> napi::Result<Self::JsValue> {
        Ok(match out {
            VwapTaskOutput::Loss(o, d) => Either::A(loss_result(o, d)),
            VwapTaskOutput::Grad(o, g, d) => Either::B(grad_result(o, g, d)),
        })
    }
}

#[napi(
    ts_args_type = "alloc: Float32Array | Float64Array, price: Float32Array | Float64Array, volume: Float32Array | Float64Array, options: VwapOptions",
    ts_return_type = "Promise<VwapLossResult>"
)]
pub fn vwap_loss_async(alloc: FloatArray, price: FloatArray, volume: FloatArray, options: VwapOptions) -> AsyncTask<VwapTask> {
    AsyncTask::new(VwapTask { alloc, price, volume, options, grad: false })
}

#[napi(
    ts_args_type = "alloc: Float32Array | Float64Array, price: Float32Array | Float64Array, volume: Float32Array | Float64Array, options: VwapOptions",
    ts_return_type = "Promise<VwapGradResult>"
)]
pub fn vwap_loss_grad_async(alloc: FloatArray, price: FloatArray, volume: FloatArray, options: VwapOptions) -> AsyncTask<VwapTask> {
    AsyncTask::new(VwapTask { alloc, price, volume, options, grad: true })
}

