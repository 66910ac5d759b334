//! signature / signatureBackward (sync and Async), sigLength.
//!
//! Parses the options, resolves the device and calls
//! `sigvwap_core::signature::{signature_on, signature_backward_on}`, which
//! run the CPU or CUDA kernels. `path` is Float32Array or Float64Array
//! [batch, length, channels]; outputs have the path's float type. `gradOut`
//! must have the path's float type. An optional last argument `out` receives
//! the result (and is returned); otherwise a fresh buffer is handed over
//! without a copy (`outbuf.rs`).
//!
//! Check order (every error names the argument the caller got wrong): the
//! options, then `path`, then `gradOut`, then `out`; only then is memory
//! allocated and the kernel run.
//!
//! Async forms follow the ownership rule of `outbuf.rs`: `path` and `gradOut`
//! are copied on the JavaScript thread when the call is made, the kernel
//! writes Rust-owned memory, and `out` is written back on completion if it
//! is still attached.

use napi::bindgen_prelude::AsyncTask;
use napi::{Env, Task};
use napi_derive::napi;
use sigvwap_core::device::{self, Device};
use sigvwap_core::signature::{self as sig, SigOptions};
use sigvwap_core::{pool, CoreError, CoreResult};

use crate::args::{self, FloatArray};
use crate::errors::guarded;
use crate::outbuf::{check_out, dest, recycled, scratch, write_back, Floats, InputCopy, OutMeta, Owned, Typed};

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
    /// Arithmetic of the CPU kernels: 'auto' (default: the element type of
    /// `path`, float32 lanes for Float32Array), 'f32' or 'f64'.
    pub precision: Option<String>,
}

fn parse(o: &SignatureOptions) -> CoreResult<(SigOptions, Device)> {
    let opts = SigOptions {
        batch: args::size("batch", o.batch)?,
        length: args::size("length", o.length)?,
        channels: args::size("channels", o.channels)?,
        depth: args::size("depth", o.depth)?,
        stream: o.stream.unwrap_or(false),
        basepoint: o.basepoint.unwrap_or(false),
        precision: precision(&o.precision)?,
    };
    let dev = device::resolve(args::device(&o.device)?)?;
    Ok((opts, dev))
}

/// The `precision` option (ERR_ARG naming it on an unknown value).
fn precision(v: &Option<String>) -> CoreResult<sig::Precision> {
    match v.as_deref() {
        None => Ok(sig::Precision::Auto),
        Some(s) => sig::Precision::parse(s)
            .ok_or_else(|| CoreError::arg("precision", format!("must be 'auto', 'f32' or 'f64', got '{s}'")).with("got", s)),
    }
}

#[napi]
pub fn sig_length(channels: f64, depth: f64) -> napi::Result<f64> {
    guarded("sigLength", || Ok(sig::sig_length(args::size("channels", channels)?, args::size("depth", depth)?)? as f64))
}

/// The inputs of one call, wherever their memory lives.
#[derive(Clone, Copy)]
struct Inputs<'a> {
    path: Floats<'a>,
    /// `Some` for the backward.
    grad_out: Option<Floats<'a>>,
}

impl Inputs<'_> {
    /// (name, memory range) of each input, for the overlap check of `out`.
    fn ranges(&self) -> Vec<(&'static str, (usize, usize))> {
        let mut r = vec![("path", self.path.range())];
        if let Some(g) = self.grad_out {
            r.push(("gradOut", g.range()));
        }
        r
    }
}

/// Check the inputs in the caller's order (options and sizes, `path`,
/// `gradOut`); returns the result's length and layout.
fn check_inputs<T: Typed>(path: &[T], grad_out: Option<&[T]>, opts: &SigOptions) -> CoreResult<(usize, String)> {
    sig::check_inputs::<T>(opts, path.len(), grad_out.map(<[T]>::len))?;
    Ok(match grad_out {
        None => {
            let layout = match sig::output_shape(opts)?.as_slice() {
                [b, n, s] => format!("[batch={b}, segments={n}, siglen={s}]"),
                s => format!("[batch={}, siglen={}]", s[0], s[1]),
            };
            (sig::output_len(opts)?, layout)
        }
        Some(_) => (sig::path_len(opts)?, format!("[batch={}, length={}, channels={}]", opts.batch, opts.length, opts.channels)),
    })
}

/// The argument that makes a result too large to allocate or hand over: for
/// the forward `depth` when one signature is already 4 GiB, `length` when
/// one path's stream is, else `batch`; for the backward (path-shaped) `batch`.
fn size_arg(opts: &SigOptions, backward: bool) -> &'static str {
    let big = |n: usize| n as u128 * 8 > crate::outbuf::MAX_FRESH_BYTES;
    let siglen = sig::sig_length(opts.channels, opts.depth).unwrap_or(usize::MAX);
    match () {
        _ if backward => "batch",
        _ if big(siglen) => "depth",
        _ if opts.stream && big(siglen.saturating_mul(opts.segments())) => "length",
        _ => "batch",
    }
}

/// `path` (and `gradOut`) as slices of one float type `T`, or ERR_ARG naming `gradOut`.
fn typed<'a, T: Typed>(i: Inputs<'a>) -> CoreResult<(&'a [T], Option<&'a [T]>)> {
    let path = T::of(i.path).expect("dispatched on path's type");
    let grad_out = match i.grad_out {
        None => None,
        Some(g) => Some(T::of(g).ok_or_else(|| {
            CoreError::arg("gradOut", "must have the same float type as path (both Float32Array or both Float64Array)")
        })?),
    };
    Ok((path, grad_out))
}

/// Run the forward (no `grad_out`) or the backward into `out`.
fn kernel<T: Typed>(path: &[T], grad_out: Option<&[T]>, opts: &SigOptions, dev: Device, out: &mut [T]) -> CoreResult<()> {
    match grad_out {
        None => sig::signature_on(dev, path, opts, out),
        Some(g) => sig::signature_backward_on(dev, path, g, opts, out),
    }
}

/// A sync call: the result written into `out`, or `Some(fresh result)`.
fn sync_typed<T: Typed>(i: Inputs<'_>, out: Option<&mut FloatArray>, opts: &SigOptions, dev: Device) -> CoreResult<Option<FloatArray>> {
    let (path, grad_out) = typed::<T>(i)?;
    let (len, layout) = check_inputs(path, grad_out, opts)?;
    // SAFETY: sync call: no JavaScript runs while `d` aliases `out`.
    let mut d = unsafe { dest::<T>(out, "path", len, &layout, &i.ranges(), size_arg(opts, grad_out.is_some()))? };
    kernel(path, grad_out, opts, dev, d.slice())?;
    Ok(d.into_fresh().map(T::wrap))
}

fn sync_call(path: &FloatArray, grad_out: Option<&FloatArray>, out: Option<&mut FloatArray>, o: &SignatureOptions) -> CoreResult<Option<FloatArray>> {
    pool::check()?;
    let (opts, dev) = parse(o)?;
    let i = Inputs { path: Floats::of(path), grad_out: grad_out.map(Floats::of) };
    if i.path.is_f64() {
        sync_typed::<f64>(i, out, &opts, dev)
    } else {
        sync_typed::<f32>(i, out, &opts, dev)
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
    let fresh = guarded("signature", || sync_call(&path, None, out.as_mut(), &options))?;
    Ok(finish(fresh, out))
}

#[napi(
    ts_args_type = "path: Float32Array | Float64Array, gradOut: Float32Array | Float64Array, options: SignatureOptions, out?: Float32Array | Float64Array | undefined | null",
    ts_return_type = "Float32Array | Float64Array"
)]
pub fn signature_backward(path: FloatArray, grad_out: FloatArray, options: SignatureOptions, mut out: Option<FloatArray>) -> napi::Result<FloatArray> {
    let fresh = guarded("signatureBackward", || sync_call(&path, Some(&grad_out), out.as_mut(), &options))?;
    Ok(finish(fresh, out))
}

/// What an Async call copied when it was made (see `outbuf.rs`).
struct Copied {
    path: InputCopy,
    grad_out: Option<InputCopy>,
}

pub struct SignatureTask {
    name: &'static str,
    /// The copies of the inputs, or the error met while copying (reported by compute).
    inputs: CoreResult<Copied>,
    /// Where the inputs were in JavaScript memory when copied (overlap check of `out`).
    input_ranges: Vec<(&'static str, (usize, usize))>,
    /// The caller's `out`: a handle only, never dereferenced off the JavaScript thread.
    out: Option<FloatArray>,
    out_meta: Option<OutMeta>,
    options: SignatureOptions,
}

impl SignatureTask {
    /// On the JavaScript thread: copy the inputs, note `out`'s type, length and memory.
    fn new(name: &'static str, path: FloatArray, grad_out: Option<FloatArray>, out: Option<FloatArray>, options: SignatureOptions) -> Self {
        let input_ranges = Inputs { path: Floats::of(&path), grad_out: grad_out.as_ref().map(Floats::of) }.ranges();
        let inputs = (|| {
            Ok(Copied {
                path: InputCopy::of("path", &path)?,
                grad_out: grad_out.as_ref().map(|g| InputCopy::of("gradOut", g)).transpose()?,
            })
        })();
        let out_meta = out.as_ref().map(OutMeta::of);
        SignatureTask { name, inputs, input_ranges, out, out_meta, options }
    }

    fn compute_typed<T: Typed>(&self, c: &Copied, opts: &SigOptions, dev: Device) -> CoreResult<Owned> {
        let i = Inputs { path: c.path.floats(), grad_out: c.grad_out.as_ref().map(InputCopy::floats) };
        let (path, grad_out) = typed::<T>(i)?;
        let (len, layout) = check_inputs(path, grad_out, opts)?;
        if let Some(m) = &self.out_meta {
            check_out::<T>(m, "path", len, &layout, &self.input_ranges)?;
        }
        // With `out` the result stays native until it is copied into `out` (no
        // size cap), and may be a spare: the kernels write every element.
        let name = size_arg(opts, grad_out.is_some());
        let mut buf = if self.out_meta.is_some() { scratch::<T>(name, len)? } else { recycled::<T>(len, name)? };
        kernel(path, grad_out, opts, dev, buf.as_mut_slice())?;
        Ok(T::owned(buf))
    }
}

impl Task for SignatureTask {
    type Output = Owned;
    type JsValue = FloatArray;
    fn compute(&mut self) -> napi::Result<Owned> {
        guarded(self.name, || {
            pool::check()?;
            let c = self.inputs.as_ref().map_err(Clone::clone)?;
            let (opts, dev) = parse(&self.options)?;
            if c.path.floats().is_f64() {
                self.compute_typed::<f64>(c, &opts, dev)
            } else {
                self.compute_typed::<f32>(c, &opts, dev)
            }
        })
    }
    fn resolve(&mut self, env: Env, result: Owned) -> napi::Result<FloatArray> {
        match self.out.take() {
            Some(out) => write_back(&env, out, result),
            None => Ok(result.wrap()),
        }
    }
}

/// Copies `path` now; `out` is written when the promise settles (rejects
/// naming `out` if it was detached meanwhile).
#[napi(
    ts_args_type = "path: Float32Array | Float64Array, options: SignatureOptions, out?: Float32Array | Float64Array | undefined | null",
    ts_return_type = "Promise<Float32Array | Float64Array>"
)]
pub fn signature_async(path: FloatArray, options: SignatureOptions, out: Option<FloatArray>) -> AsyncTask<SignatureTask> {
    AsyncTask::new(SignatureTask::new("signatureAsync", path, None, out, options))
}

/// Copies `path` and `gradOut` now; `out` as for `signatureAsync`.
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
    AsyncTask::new(SignatureTask::new("signatureBackwardAsync", path, Some(grad_out), out, options))
}
