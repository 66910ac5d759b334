//! signature / signatureBackward (sync and Async), sigLength.
//!
//! `path` is Float32Array or Float64Array [batch, length, channels]; outputs
//! have the path's float type. `gradOut` must have the path's float type.

use napi::bindgen_prelude::{AsyncTask, Either, Float32Array, Float64Array};
use napi::{Env, Task};
use napi_derive::napi;
use sigvwap_core::device::{self, Device};
use sigvwap_core::signature::{self as sig, SigOptions};
use sigvwap_core::{CoreError, CoreResult};

use crate::args::{self, FloatArray};
use crate::errors::guarded;

#[napi(object)]
pub struct SignatureOptions {
    pub batch: f64,
    pub length: f64,
    pub channels: f64,
    pub depth: f64,
    /// Signature of every prefix: output [batch, length' - 1, siglen].
    pub stream: Option<bool>,
    /// Prepend a zero point to every path.
    pub basepoint: Option<bool>,
    /// 'auto' (default), 'cpu' or 'cuda'.
    pub device: Option<String>,
}

fn parse(o: &SignatureOptions) -> CoreResult<(SigOptions, Device)> {
    let opts = SigOptions {
        batch: args::size("batch", o.batch)?,
        length: args::size("length", o.length)?,
        channels: args::size("channels", o.channels)?,
        depth: args::size("depth", o.depth)?,
        stream: o.stream.unwrap_or(false),
        basepoint: o.basepoint.unwrap_or(false),
    };
    let dev = device::resolve(args::device(&o.device)?)?;
    Ok((opts, dev))
}

#[napi]
pub fn sig_length(channels: f64, depth: f64) -> napi::Result<f64> {
    guarded("sigLength", || Ok(sig::sig_length(args::size("channels", channels)?, args::size("depth", depth)?)? as f64))
}

type Out = Either<Float32Array, Float64Array>;

fn forward(path: &FloatArray, o: &SignatureOptions) -> CoreResult<Out> {
    let (opts, dev) = parse(o)?;
    match dev {
        Device::Cuda => forward_cuda(path, &opts),
        Device::Cpu => Ok(match path {
            Either::A(p) => Either::A(Float32Array::new(sig::signature(&p[..], &opts)?)),
            Either::B(p) => Either::B(Float64Array::new(sig::signature(&p[..], &opts)?)),
        }),
    }
}

fn backward(path: &FloatArray, grad_out: &FloatArray, o: &SignatureOptions) -> CoreResult<Out> {
    let (opts, dev) = parse(o)?;
    match (path, grad_out) {
        (Either::A(p), Either::A(g)) => match dev {
            Device::Cuda => backward_cuda_f32(p, g, &opts),
            Device::Cpu => Ok(Either::A(Float32Array::new(sig::signature_backward(&p[..], &g[..], &opts)?))),
        },
        (Either::B(p), Either::B(g)) => match dev {
            Device::Cuda => backward_cuda_f64(p, g, &opts),
            Device::Cpu => Ok(Either::B(Float64Array::new(sig::signature_backward(&p[..], &g[..], &opts)?))),
        },
        _ => Err(CoreError::arg("gradOut", "must have the same float type as path (both Float32Array or both Float64Array)")),
    }
}

#[cfg(feature = "cuda")]
fn forward_cuda(path: &FloatArray, opts: &SigOptions) -> CoreResult<Out> {
    use sigvwap_core::cuda::signature as cs;
    Ok(match path {
        Either::A(p) => Either::A(Float32Array::new(cs::signature_cuda(&p[..], opts)?)),
        Either::B(p) => Either::B(Float64Array::new(cs::signature_cuda(&p[..], opts)?)),
    })
}
#[cfg(feature = "cuda")]
fn backward_cuda_f32(p: &[f32], g: &[f32], opts: &SigOptions) -> CoreResult<Out> {
    Ok(Either::A(Float32Array::new(sigvwap_core::cuda::signature::signature_backward_cuda(p, g, opts)?)))
}
#[cfg(feature = "cuda")]
fn backward_cuda_f64(p: &[f64], g: &[f64], opts: &SigOptions) -> CoreResult<Out> {
    Ok(Either::B(Float64Array::new(sigvwap_core::cuda::signature::signature_backward_cuda(p, g, opts)?)))
}
#[cfg(not(feature = "cuda"))]
fn forward_cuda(_: &FloatArray, _: &SigOptions) -> CoreResult<Out> {
    unreachable!("device::resolve never selects CUDA in a build without the feature")
}
#[cfg(not(feature = "cuda"))]
fn backward_cuda_f32(_: &[f32], _: &[f32], _: &SigOptions) -> CoreResult<Out> {
    unreachable!("device::resolve never selects CUDA in a build without the feature")
}
#[cfg(not(feature = "cuda"))]
fn backward_cuda_f64(_: &[f64], _: &[f64], _: &SigOptions) -> CoreResult<Out> {
    unreachable!("device::resolve never selects CUDA in a build without the feature")
}


#[napi(ts_args_type = "path: Float32Array | Float64Array, options: SignatureOptions", ts_return_type = "Float32Array | Float64Array")]
pub fn signature(path: FloatArray, options: SignatureOptions) -> napi::Result<Out> {
    guarded("signature", || forward(&path, &options))
}

#[napi(
    ts_args_type = "path: Float32Array | Float64Array, gradOut: Float32Array | Float64Array, options: SignatureOptions",
    ts_return_type = "Float32Array | Float64Array"
)]
pub fn signature_backward(path: FloatArray, grad_out: FloatArray, options: SignatureOptions) -> napi::Result<Out> {
    guarded("signatureBackward", || backward(&path, &grad_out, &options))
}

pub struct SignatureTask {
    path: FloatArray,
    grad_out: Option<FloatArray>,
    options: SignatureOptions,
}

impl Task for SignatureTask {
    type Output = Out;
    type JsValue = Out;
    fn compute(&mut self) -> napi::Result<Out> {
        match &self.grad_out {
            None => guarded("signatureAsync", || forward(&self.path, &self.options)),
            Some(g) => guarded("signatureBackwardAsync", || backward(&self.path, g, &self.options)),
        }
    }
    fn resolve(&mut self, _env: Env, out: Out) -> napi::Result<Out> {
        Ok(out)
    }
}

#[napi(ts_args_type = "path: Float32Array | Float64Array, options: SignatureOptions", ts_return_type = "Promise<Float32Array | Float64Array>")]
pub fn signature_async(path: FloatArray, options: SignatureOptions) -> AsyncTask<SignatureTask> {
    AsyncTask::new(SignatureTask { path, grad_out: None, options })
}

#[napi(
    ts_args_type = "path: Float32Array | Float64Array, gradOut: Float32Array | Float64Array, options: SignatureOptions",
    ts_return_type = "Promise<Float32Array | Float64Array>"
)]
pub fn signature_backward_async(path: FloatArray, grad_out: FloatArray, options: SignatureOptions) -> AsyncTask<SignatureTask> {
    AsyncTask::new(SignatureTask { path, grad_out: Some(grad_out), options })
}
