//! signature / signatureBackward (sync and Async), sigLength.
//!
//! Parses the options, resolves the device and calls
//! `sigvwap_core::signature::{signature_on, signature_backward_on}`, which
//! run the CPU or CUDA kernels. `path` is Float32Array or Float64Array
//! [batch, length, channels]; outputs have the path's float type. `gradOut`
//! must have the path's float type. An optional last argument `out` receives
//! the result in place (and is returned); otherwise a fresh buffer is handed
//! over without a copy (`outbuf.rs`).

use napi::bindgen_prelude::{AsyncTask, Either};
use napi::{Env, Task};
use napi_derive::napi;
use sigvwap_core::device::{self, Device};
use sigvwap_core::signature::{self as sig, SigOptions};
use sigvwap_core::{CoreError, CoreResult};

use crate::args::{self, FloatArray};
use crate::errors::guarded;
use crate::outbuf::{byte_range, dest, out_slice, Typed};

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

fn out_layout(opts: &SigOptions) -> String {
    match sig::output_shape(opts) {
        Ok(s) if s.len() == 3 => format!("[batch={}, segments={}, siglen={}]", s[0], s[1], s[2]),
        Ok(s) => format!("[batch={}, siglen={}]", s[0], s[1]),
        Err(_) => String::new(),
    }
}

/// Forward into `out` or a fresh buffer; `Some(fresh result)` or `None` (written into `out`).
fn forward_typed<T: Typed>(path: &[T], out: Option<&mut [T]>, opts: &SigOptions, dev: Device) -> CoreResult<Option<FloatArray>> {
    let len = sig::output_len(opts)?;
    // SAFETY: see outbuf::dest; the callers hold JavaScript off `out` while this runs.
    let mut d = unsafe { dest(out, len, &out_layout(opts), &[("path", byte_range(path))])? };
    sig::signature_on(dev, path, opts, d.slice())?;
    Ok(d.into_fresh().map(T::wrap))
}

fn backward_typed<T: Typed>(
    path: &[T],
    grad_out: &[T],
    out: Option<&mut [T]>,
    opts: &SigOptions,
    dev: Device,
) -> CoreResult<Option<FloatArray>> {
    let len = sig::path_len(opts)?;
    let layout = format!("[batch={}, length={}, channels={}]", opts.batch, opts.length, opts.channels);
    // SAFETY: as in forward_typed.
    let mut d = unsafe { dest(out, len, &layout, &[("path", byte_range(path)), ("gradOut", byte_range(grad_out))])? };
    sig::signature_backward_on(dev, path, grad_out, opts, d.slice())?;
    Ok(d.into_fresh().map(T::wrap))
}

fn forward(path: &FloatArray, out: Option<&mut FloatArray>, o: &SignatureOptions) -> CoreResult<Option<FloatArray>> {
    let (opts, dev) = parse(o)?;
    // SAFETY (out_slice): the kernel is the only writer while it runs; see outbuf::dest.
    match path {
        Either::A(p) => forward_typed(p, unsafe { out_slice::<f32>(out, "path")? }, &opts, dev),
        Either::B(p) => forward_typed(p, unsafe { out_slice::<f64>(out, "path")? }, &opts, dev),
    }
}

fn backward(path: &FloatArray, grad_out: &FloatArray, out: Option<&mut FloatArray>, o: &SignatureOptions) -> CoreResult<Option<FloatArray>> {
    let (opts, dev) = parse(o)?;
    // SAFETY: as in forward.
    match (path, grad_out) {
        (Either::A(p), Either::A(g)) => backward_typed(p, g, unsafe { out_slice::<f32>(out, "path")? }, &opts, dev),
        (Either::B(p), Either::B(g)) => backward_typed(p, g, unsafe { out_slice::<f64>(out, "path")? }, &opts, dev),
        _ => Err(CoreError::arg("gradOut", "must have the same float type as path (both Float32Array or both Float64Array)")),
    }
}

/// The result: the fresh array, or the caller's `out` itself.
fn finish(fresh: Option<FloatArray>, out: Option<FloatArray>) -> FloatArray {
    fresh.or(out).expect("a result is either fresh or written into out")
}

#[napi(
    ts_args_type = "path: Float32Array | Float64Array, options: SignatureOptions, out?: Float32Array | Float64Array | undefined | null",
    ts_return_type = "Float32Array | Float64Array"
)]
pub fn signature(path: FloatArray, options: SignatureOptions, mut out: Option<FloatArray>) -> napi::Result<FloatArray> {
    let fresh = guarded("signature", || forward(&path, out.as_mut(), &options))?;
    Ok(finish(fresh, out))
}

#[napi(
    ts_args_type = "path: Float32Array | Float64Array, gradOut: Float32Array | Float64Array, options: SignatureOptions, out?: Float32Array | Float64Array | undefined | null",
    ts_return_type = "Float32Array | Float64Array"
)]
pub fn signature_backward(path: FloatArray, grad_out: FloatArray, options: SignatureOptions, mut out: Option<FloatArray>) -> napi::Result<FloatArray> {
    let fresh = guarded("signatureBackward", || backward(&path, &grad_out, out.as_mut(), &options))?;
    Ok(finish(fresh, out))
}

pub struct SignatureTask {
    path: FloatArray,
    grad_out: Option<FloatArray>,
    out: Option<FloatArray>,
    options: SignatureOptions,
}

impl Task for SignatureTask {
    type Output = Option<FloatArray>;
    type JsValue = FloatArray;
    fn compute(&mut self) -> napi::Result<Option<FloatArray>> {
        match &self.grad_out {
            None => guarded("signatureAsync", || forward(&self.path, self.out.as_mut(), &self.options)),
            Some(g) => guarded("signatureBackwardAsync", || backward(&self.path, g, self.out.as_mut(), &self.options)),
        }
    }
    fn resolve(&mut self, _env: Env, fresh: Option<FloatArray>) -> napi::Result<FloatArray> {
        Ok(finish(fresh, self.out.take()))
    }
}

/// `out` must not be touched by JavaScript until the promise settles.
#[napi(
    ts_args_type = "path: Float32Array | Float64Array, options: SignatureOptions, out?: Float32Array | Float64Array | undefined | null",
    ts_return_type = "Promise<Float32Array | Float64Array>"
)]
pub fn signature_async(path: FloatArray, options: SignatureOptions, out: Option<FloatArray>) -> AsyncTask<SignatureTask> {
    AsyncTask::new(SignatureTask { path, grad_out: None, out, options })
}

/// `out` must not be touched by JavaScript until the promise settles.
#[napi(
    ts_args_type = "path: Float32Array | Float64Array, gradOut: Float32Array | Float64Array, options: SignatureOptions, out?: Float32Array | Float64Array | undefined | null",
    ts_return_type = "Promise<Float32Array | Float64Array>"
)]
pub fn signature_backward_async(
    path: FloatArray,
    grad_out: FloatArray,
    options: SignatureOptions,
    out: Option<FloatArray>,
) -> AsyncTask<SignatureTask> {
    AsyncTask::new(SignatureTask { path, grad_out: Some(grad_out), out, options })
}
