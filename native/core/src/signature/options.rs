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

pub use crate::buffer::MAX_BYTES;
pub(crate) use crate::buffer::{check_alloc, zeroed_vec};

/// Element type of paths and signatures: the crate's [`Real`] (f32, f64)
/// under the name the signature API has always used. Internally everything is
/// computed in float64 (increments are formed in float64 from the float64
/// values of the points, so float32 paths with large offsets and tiny
/// increments keep their accuracy); the result is rounded once to `Self`.
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
}

impl SigOptions {
    /// Plain signature (no stream, no basepoint).
    pub fn new(batch: usize, length: usize, channels: usize, depth: usize) -> Self {
        SigOptions { batch, length, channels, depth, stream: false, basepoint: false }
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

/// `d + d^2 + ... + d^m`, the number of entries of a depth-`m` signature of a
/// `d`-channel path (levels 1..m, no leading 1).
pub fn sig_length(channels: usize, depth: usize) -> CoreResult<usize> {
    if channels == 0 {
        return Err(CoreError::arg("channels", "must be >= 1, got 0").with("got", 0usize));
    }
    if depth == 0 {
        return Err(CoreError::arg("depth", "must be >= 1, got 0").with("got", 0usize));
    }
    let mut total: usize = 0;
    let mut level: usize = 1;
    for _ in 0..depth {
        let next = level.checked_mul(channels).and_then(|l| total.checked_add(l).map(|t| (l, t)));
        match next {
            Some((l, t)) => {
                level = l;
                total = t;
            }
            None => {
                let approx = approx_sig_length(channels, depth);
                return Err(CoreError::arg(
                    "depth",
                    format!(
                        "signature of {channels} channels at depth {depth} has ~{approx:.3e} entries, \
                         more than fits in memory"
                    ),
                )
                .with("channels", channels)
                .with("depth", depth)
                .with("size", approx));
            }
        }
    }
    Ok(total)
}

fn approx_sig_length(channels: usize, depth: usize) -> f64 {
    let d = channels as f64;
    (1..=depth).map(|k| d.powi(k as i32)).sum()
}

/// Number of elements of the forward output (`[batch, siglen]` or
/// `[batch, L'-1, siglen]` with `stream`).
pub fn output_len(opts: &SigOptions) -> CoreResult<usize> {
    let shape = output_shape(opts)?;
    checked_product("output", &shape)
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
    checked_product("path", &[opts.batch, opts.length, opts.channels])
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
    let siglen = sig_length(opts.channels, opts.depth)?;
    let want_path = path_len(opts)?;
    let out_len = output_len(opts)?;
    check_alloc("output", out_len, std::mem::size_of::<T>())?;
    check_path_len("path", want_path, path.len(), opts)?;
    Ok(Checked { siglen, out_len, path_len: want_path })
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
