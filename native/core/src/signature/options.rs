//! Options, sizes and argument checks of the signature kernels.
//!
//! Shapes (row-major, names as everywhere in sigvwap):
//! * `path`     `[batch, length, channels]`, points of a piecewise-linear path;
//! * `out`      `[batch, siglen]`, or with `stream` `[batch, L' - 1, siglen]`;
//! * `gradOut`  the shape of `out`; the backward returns the shape of `path`.
//!
//! `L' = length + basepoint` is the number of points after the optional zero
//! point is prepended; the path has `N = L' - 1` segments (increments) and
//! `siglen = d + d^2 + ... + d^m` (`d = channels`, `m = depth`, no leading 1).
//!
//! Every size is computed with checked arithmetic; anything whose output or
//! workspace would exceed [`MAX_BYTES`] is refused with `ERR_ARG` stating the
//! computed size, before anything is allocated.

use crate::error::{CoreError, CoreResult, ErrorCode};

pub use super::lane::Precision;

pub use crate::buffer::MAX_BYTES;
pub(crate) use crate::buffer::{check_alloc, zeroed_vec};

/// Element type of paths and signatures: the crate's [`Real`] (f32, f64)
/// under the name the signature API has always used. Increments are formed in
/// float64 from the float64 values of the points (so float32 paths with large
/// offsets and tiny increments keep their accuracy); the recursion runs in the
/// arithmetic of [`SigOptions::precision`] (default: this type); the result is
/// rounded once to `Self`.
pub use crate::real::Real as SigFloat;

/// Shape and mode of one signature call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SigOptions {
    /// Number of independent paths.
    pub batch: usize,
    /// Points per path (before the optional basepoint), >= 1.
    pub length: usize,
    /// Dimension `d` of each point, >= 1.
    pub channels: usize,
    /// Truncation level `m`, >= 1.
    pub depth: usize,
    /// Return the signature of every prefix `points[0..=i+1]`, `i < L' - 1`.
    pub stream: bool,
    /// Prepend a zero point to every path.
    pub basepoint: bool,
    /// Arithmetic of the CPU kernels (see [`Precision`]); default `Auto`:
    /// the element type of `path`.
    pub precision: Precision,
}

impl SigOptions {
    /// Plain signature (no stream, no basepoint).
    pub fn new(batch: usize, length: usize, channels: usize, depth: usize) -> Self {
        SigOptions { batch, length, channels, depth, stream: false, basepoint: false, precision: Precision::Auto }
    }

    pub fn with_precision(mut self, precision: Precision) -> Self {
        self.precision = precision;
        self
    }

    pub fn with_stream(mut self, stream: bool) -> Self {
        self.stream = stream;
        self
    }

    pub fn with_basepoint(mut self, basepoint: bool) -> Self {
        self.basepoint = basepoint;
        self
    }

    /// `L'`: points after the optional basepoint.
    pub fn points(&self) -> usize {
        self.length + usize::from(self.basepoint)
    }

    /// `N = L' - 1`: segments (increments) per path.
    pub fn segments(&self) -> usize {
        self.points().saturating_sub(1)
    }
}

/// Largest truncation depth accepted (`ERR_ARG` naming `depth` beyond it).
///
/// Why a cap: with one channel the signature has only `m` entries, so no
/// memory limit bounds the depth, yet the setup is O(m) (level tables) and
/// the kernels O(m^2) per segment; `depth = 2^31` used to allocate 16 GiB of
/// level tables (an abort) or spin for minutes. Level k of a one-channel path
/// is z^k / k!, which is 0 or overflows float64 long before k = 1024; with
/// two or more channels the 16 GiB output limit already stops at m < 34.
pub const MAX_DEPTH: usize = 1024;

/// `d + d^2 + ... + d^m`, the number of entries of a depth-`m` signature of a
/// `d`-channel path (levels 1..m, no leading 1).
///
/// Cost: O(1) for one channel (the sum is m) and at most 64 checked steps
/// otherwise (d^k overflows usize by k = 64 for d >= 2): bounded for every
/// argument, so a huge `depth` fails fast with `ERR_ARG` naming it.
pub fn sig_length(channels: usize, depth: usize) -> CoreResult<usize> {
    if channels == 0 {
        return Err(CoreError::arg("channels", "must be >= 1, got 0").with("got", 0usize));
    }
    if depth == 0 {
        return Err(CoreError::arg("depth", "must be >= 1, got 0").with("got", 0usize));
    }
    if depth > MAX_DEPTH {
        return Err(CoreError::arg("depth", format!("must be <= {MAX_DEPTH}, got {depth}"))
            .with("got", depth)
            .with("max", MAX_DEPTH));
    }
    if channels == 1 {
        return Ok(depth);
    }
    let mut total: usize = 0;
    let mut level: usize = 1;
    for _ in 0..depth {
        // d >= 2: the level doubles at least, so this overflows within 64 steps.
        match level.checked_mul(channels).and_then(|l| total.checked_add(l).map(|t| (l, t))) {
            Some((l, t)) => (level, total) = (l, t),
            None => {
                let log10 = log10_sig_length(channels, depth);
                // Name what the caller can lower: depth, or channels at depth 1
                // (unreachable: d^1 always fits) and 2 (d^2 overflows).
                let name = if depth <= 2 { "channels" } else { "depth" };
                return Err(CoreError::arg(
                    name,
                    format!(
                        "signature of {channels} channels at depth {depth} has ~{} entries, more than fits in memory",
                        format_pow10(log10)
                    ),
                )
                .with("channels", channels)
                .with("depth", depth)
                .with("size", 10f64.powf(log10))
                .with("log10Size", log10));
            }
        }
    }
    Ok(total)
}

/// log10(d + ... + d^m) for d >= 2, in closed form (O(1) for any m):
/// the sum is d^m · (1 - d^-m) / (1 - 1/d) and (1 - d^-m) is 1 to float precision here.
fn log10_sig_length(channels: usize, depth: usize) -> f64 {
    let d = channels as f64;
    depth as f64 * d.log10() - (1.0 - 1.0 / d).log10()
}

/// `10^x` as `m.mmme+E` (values far beyond f64's range included).
fn format_pow10(log10: f64) -> String {
    let e = log10.floor();
    format!("{:.3}e{}", 10f64.powf(log10 - e), e as i64)
}

/// Number of elements of the forward output (`[batch, siglen]` or
/// `[batch, L'-1, siglen]` with `stream`).
pub fn output_len(opts: &SigOptions) -> CoreResult<usize> {
    let shape = output_shape(opts)?;
    // Overflow can only come from the dimension the caller scales: name it.
    let name = if opts.stream && shape[1].checked_mul(shape[2]).is_none() { "length" } else { "batch" };
    checked_product(name, &shape)
}

/// Shape of the forward output (also the shape `gradOut` must have).
pub fn output_shape(opts: &SigOptions) -> CoreResult<Vec<usize>> {
    check_options(opts)?;
    let siglen = sig_length(opts.channels, opts.depth)?;
    Ok(if opts.stream { vec![opts.batch, opts.segments(), siglen] } else { vec![opts.batch, siglen] })
}

/// Number of elements of `path` (and of the backward's result).
pub fn path_len(opts: &SigOptions) -> CoreResult<usize> {
    check_options(opts)?;
    let name = if opts.length.checked_mul(opts.channels).is_none() { "length" } else { "batch" };
    checked_product(name, &[opts.batch, opts.length, opts.channels])
}

fn check_options(opts: &SigOptions) -> CoreResult<()> {
    sig_length(opts.channels, opts.depth)?;
    if opts.length == 0 {
        return Err(CoreError::arg("length", "must be >= 1 (a path needs at least one point), got 0")
            .with("got", 0usize));
    }
    Ok(())
}

fn checked_product(name: &str, dims: &[usize]) -> CoreResult<usize> {
    dims.iter().try_fold(1usize, |acc, &n| acc.checked_mul(n)).ok_or_else(|| {
        let approx: f64 = dims.iter().map(|&n| n as f64).product();
        CoreError::arg(name, format!("{dims:?} has ~{approx:.3e} elements, more than fits in memory"))
            .with("size", approx)
    })
}

/// `ERR_ARG` when the forward output of `out_len` elements of `elem_bytes`
/// exceeds [`MAX_BYTES`], naming the argument that makes it too large: `depth`
/// (or `channels` at depth 1) when one signature alone is too large, `length`
/// when one path's stream is, else `batch`.
pub(crate) fn check_output_size(opts: &SigOptions, siglen: usize, out_len: usize, elem_bytes: usize) -> CoreResult<()> {
    let too_big = |n: usize| n as u128 * elem_bytes as u128 > MAX_BYTES;
    if !too_big(out_len) {
        return Ok(());
    }
    let name = if too_big(siglen) {
        if opts.depth == 1 { "channels" } else { "depth" }
    } else if opts.stream && too_big(siglen.saturating_mul(opts.segments())) {
        "length"
    } else {
        "batch"
    };
    let bytes = out_len as u128 * elem_bytes as u128;
    Err(CoreError::arg(
        name,
        format!(
            "the signature output would need {out_len} elements ({bytes} bytes), more than the limit of {MAX_BYTES} bytes \
             (batch={}, length={}, channels={}, depth={}, stream={})",
            opts.batch, opts.length, opts.channels, opts.depth, opts.stream
        ),
    )
    .with("output", "signature")
    .with("elements", out_len)
    .with("bytes", bytes as f64))
}

/// A non-finite value as JavaScript prints it (Infinity, -Infinity, NaN).
fn js_number(v: f64) -> String {
    match v {
        v if v.is_nan() => "NaN".into(),
        v if v == f64::INFINITY => "Infinity".into(),
        v if v == f64::NEG_INFINITY => "-Infinity".into(),
        v => v.to_string(),
    }
}

/// Level k (1..=m) of signature entry `entry` (levels hold d, d^2, ... entries).
fn level_of(entry: usize, channels: usize) -> usize {
    let (mut e, mut size, mut k) = (entry, channels, 1);
    while e >= size {
        e -= size;
        size = size.saturating_mul(channels);
        k += 1;
    }
    k
}

/// `ERR_NONFINITE` when a forward output computed from a finite path holds
/// Infinity or NaN: the iterated integrals grew past the float range (level k
/// scales like |z|^k; 1e200 increments overflow float64 at level 2, 3e38
/// overflows float32 when rounded). Names the level, path and stream step.
///
/// Cost: one parallel scan of the output after the kernel (not a check per
/// operation, which would slow the fast path); the output is `siglen` per path,
/// or the stream's `(L'-1) · siglen`.
pub(crate) fn check_output_finite<T: SigFloat>(out: &[T], opts: &SigOptions, siglen: usize) -> CoreResult<()> {
    let Some(index) = first_non_finite(out) else { return Ok(()) };
    let value = out[index].to_f64();
    let entry = index % siglen;
    let level = level_of(entry, opts.channels);
    let (batch, step) = if opts.stream {
        let n = opts.segments().max(1);
        (index / (siglen * n), Some((index / siglen) % n))
    } else {
        (index / siglen, None)
    };
    let what = format!("overflowed to {}", js_number(value));
    let at = step.map(|s| format!(" at stream step {s}")).unwrap_or_default();
    let hint = if T::NAME == "f32" { "; pass a Float64Array or rescale the path" } else { "; rescale the path" };
    let mut err = CoreError::new(
        ErrorCode::NonFinite,
        format!("signature level {level} {what} for path {batch}{at}: the path is finite but its iterated integrals exceed the {} range{hint}", T::NAME),
    )
    .with("argument", "path")
    .with("output", "signature")
    .with("level", level)
    .with("batch", batch)
    .with("index", index)
    .with("entry", entry);
    if let Some(s) = step {
        err = err.with("step", s);
    }
    Err(err)
}

/// `ERR_NONFINITE` when the backward's gradient, computed from a finite path
/// and gradOut, holds Infinity or NaN (the adjoints grew past the float
/// range). Names the path point. Cost: one parallel scan of the gradient.
pub(crate) fn check_grad_result_finite<T: SigFloat>(grad: &[T], opts: &SigOptions) -> CoreResult<()> {
    let Some(index) = first_non_finite(grad) else { return Ok(()) };
    let value = grad[index].to_f64();
    let (c, l) = (opts.channels, opts.length);
    let (batch, step, channel) = (index / (l * c), (index / c) % l, index % c);
    Err(CoreError::new(
        ErrorCode::NonFinite,
        format!(
            "signatureBackward: the gradient at path[{batch}][{step}][{channel}] overflowed to {}: \
             path and gradOut are finite but the adjoints exceed the {} range; rescale the path or gradOut",
            js_number(value),
            T::NAME
        ),
    )
    .with("argument", "path")
    .with("output", "grad")
    .with("index", index)
    .with("batch", batch)
    .with("step", step)
    .with("channel", channel))
}

/// Validated sizes of one call.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Checked {
    pub siglen: usize,
    /// Elements of the forward output.
    pub out_len: usize,
    /// Elements of `path`.
    pub path_len: usize,
}

/// Check options and the length of `path`.
pub(crate) fn check_call<T: SigFloat>(path: &[T], opts: &SigOptions) -> CoreResult<Checked> {
    let checked = check_sizes::<T>(opts)?;
    check_path_len("path", checked.path_len, path.len(), opts)?;
    Ok(checked)
}

/// The sizes of a call with element type `T`, `ERR_ARG` naming the argument
/// when they overflow or exceed [`MAX_BYTES`] (checked before any length).
pub(crate) fn check_sizes<T: SigFloat>(opts: &SigOptions) -> CoreResult<Checked> {
    let siglen = sig_length(opts.channels, opts.depth)?;
    let path_len = path_len(opts)?;
    let out_len = output_len(opts)?;
    check_output_size(opts, siglen, out_len, std::mem::size_of::<T>())?;
    Ok(Checked { siglen, out_len, path_len })
}

/// The argument checks of a call, in the order a caller reads them: options
/// and sizes, then the length of `path`, then (backward) the length of
/// `gradOut`. The N-API layer runs this before it looks at `out`, so that a
/// wrong input is blamed on that input and never on `out`.
pub fn check_inputs<T: SigFloat>(opts: &SigOptions, path_len: usize, grad_out_len: Option<usize>) -> CoreResult<()> {
    let checked = check_sizes::<T>(opts)?;
    check_path_len("path", checked.path_len, path_len, opts)?;
    if let Some(g) = grad_out_len {
        check_out_len("gradOut", checked.out_len, g, opts)?;
    }
    Ok(())
}

/// `ERR_SHAPE` for a path-shaped slice (`path`, or the backward's result) of the wrong length.
pub(crate) fn check_path_len(name: &str, want: usize, got: usize, opts: &SigOptions) -> CoreResult<()> {
    if want != got {
        let layout = format!("[batch={}, length={}, channels={}]", opts.batch, opts.length, opts.channels);
        return Err(CoreError::shape(name, want, got, &layout));
    }
    Ok(())
}

/// `ERR_SHAPE` for an output slice of the wrong length.
pub(crate) fn check_out_len(name: &str, want: usize, got: usize, opts: &SigOptions) -> CoreResult<()> {
    if want != got {
        let layout = if opts.stream {
            format!("[batch={}, L'-1={}, siglen]", opts.batch, opts.segments())
        } else {
            format!("[batch={}, siglen]", opts.batch)
        };
        return Err(CoreError::shape(name, want, got, &layout));
    }
    Ok(())
}

/// `ERR_NONFINITE` for `path[batch][step][channel]`.
pub(crate) fn non_finite_path(batch: usize, step: usize, channel: usize, index: usize, value: f64) -> CoreError {
    CoreError::new(
        ErrorCode::NonFinite,
        format!("path[{batch}][{step}][{channel}] is {value}, not a finite number"),
    )
    .with("argument", "path")
    .with("index", index)
    .with("batch", batch)
    .with("step", step)
    .with("channel", channel)
}

/// Locate the first non-finite point of `path`, or else the first increment
/// that overflows float64 (finite points 1e308 apart). `None` when neither.
pub(crate) fn find_non_finite<T: SigFloat>(path: &[T], opts: &SigOptions) -> Option<CoreError> {
    if let Some(index) = first_non_finite(path) {
        let (channels, length) = (opts.channels, opts.length);
        let value = path[index].to_f64();
        return Some(non_finite_path(index / (length * channels), (index / channels) % length, index % channels, index, value));
    }
    let (channels, length) = (opts.channels, opts.length);
    for b in 0..opts.batch {
        for t in 1..length {
            for c in 0..channels {
                let i = (b * length + t) * channels + c;
                let z = path[i].to_f64() - path[i - channels].to_f64();
                if !z.is_finite() {
                    return Some(
                        CoreError::new(
                            ErrorCode::NonFinite,
                            format!(
                                "path[{b}][{t}][{c}] - path[{b}][{}][{c}] overflows float64",
                                t - 1
                            ),
                        )
                        .with("argument", "path")
                        .with("index", i)
                        .with("batch", b)
                        .with("step", t)
                        .with("channel", c),
                    );
                }
            }
        }
    }
    None
}

/// Index of the first NaN/Inf of `v`, scanned in parallel chunks.
fn first_non_finite<T: SigFloat>(v: &[T]) -> Option<usize> {
    use rayon::prelude::*;
    // Chunks checked with a branch-free fold (vectorized); rayon's per-item
    // `position_first` costs ~10 cycles an element.
    const CHUNK: usize = 1 << 14;
    crate::pool::install(|| {
        v.par_chunks(CHUNK).enumerate().find_map_first(|(i, c)| {
            if c.iter().fold(true, |ok, x| ok & x.to_f64().is_finite()) {
                None
            } else {
                c.iter().position(|x| !x.to_f64().is_finite()).map(|p| i * CHUNK + p)
            }
        })
    })
}

/// `ERR_NONFINITE` for the first NaN/Inf of `gradOut`, located by batch,
/// stream step (with `stream`) and signature entry.
pub(crate) fn check_grad_finite<T: SigFloat>(grad_out: &[T], opts: &SigOptions, siglen: usize) -> CoreResult<()> {
    if let Some(index) = first_non_finite(grad_out) {
        let value = grad_out[index].to_f64();
        let entry = index % siglen;
        let (batch, step) = if opts.stream {
            let n = opts.segments().max(1);
            (index / (siglen * n), Some((index / siglen) % n))
        } else {
            (index / siglen, None)
        };
        let place = match step {
            Some(s) => format!("gradOut[{batch}][{s}][{entry}]"),
            None => format!("gradOut[{batch}][{entry}]"),
        };
        let mut err = CoreError::new(ErrorCode::NonFinite, format!("{place} is {value}, not a finite number"))
            .with("argument", "gradOut")
            .with("index", index)
            .with("batch", batch);
        if let Some(s) = step {
            err = err.with("step", s);
        }
        return Err(err.with("entry", entry));
    }
    Ok(())
}
