//! Truncated path signatures: forward, stream, and backward, on the CPU (this
//! module: the fast path) or on CUDA (`cuda.rs`), dispatched by
//! [`signature_on`] / [`signature_backward_on`].
//!
//! Math. For a path of points x_0..x_N in R^d (piecewise linear between them;
//! with `basepoint` a zero point is prepended), the depth-m signature is the
//! collection of iterated integrals
//!   S_k[i_1..i_k] = ∫_{0<t_1<...<t_k<T} dX^{i_1}_{t_1} ... dX^{i_k}_{t_k},  k = 1..m,
//! computed by Chen's identity S^n = S^{n-1} ⊗ exp(z_n), z_n = x_n - x_{n-1},
//! with a fused multiply-exponentiate in Horner form (`horner.rs`).
//!
//! Layout (iisignature's): `[batch, siglen]`, levels 1..m concatenated without
//! the leading 1, word (i_1..i_k) at `i_1 d^(k-1) + ... + i_k` inside level k.
//! With `stream`, `[batch, L'-1, siglen]`, entry i the signature of points
//! 0..=i+1 (the last one equals the plain signature). Inputs `path`
//! `[batch, length, channels]`, row-major.
//!
//! Precision. Increments are always formed in float64 from the points (the
//! difference of two float32 points is exact in float64), then rounded once
//! to the arithmetic type of the kernels, chosen by `opts.precision`
//! ([`Precision`], `lane.rs`): by default the element type, i.e. float32
//! lanes for float32 paths (16 per 512-bit register instead of 8; ~1e-6
//! relative error on the test vectors against their 1e-4 float32 tolerance,
//! 4e-6 on a 20,000-point backward), float64 for float64 paths; `F64` keeps
//! float64 arithmetic for float32 paths (results rounded once), `F32` runs
//! float32 arithmetic on float64 paths. Chunk signatures and the glue of
//! split paths stay float64. A float32 path itself holds ~7 significant digits per point:
//! prices ~1e3 moving by ~1e-2, or increments 1e-6 of the values, lose digits
//! in the cast to float32 already; rebase such paths (subtract their first
//! point, in float64) before casting; signatures are translation invariant.
//!
//! Cost. Forward O(batch · N · siglen) multiply-adds (exactly
//! N · Σ_{k=2..m} Σ_{i=2..k} d^i per path), memory O(siglen) per path in
//! flight. Backward: a forward sweep to the final state and, per segment, an
//! undo step S^{n-1} = S^n ⊗ exp(-z_n) (both to depth m-1 only: level m of the
//! state never reaches the gradient) and the reverse Horner sweep (two
//! multiply-adds per adjoint entry); ~2.5-3.5x the forward's time, memory
//! again O(siglen) per path, independent of the length (nothing is stored
//! per segment).
//!
//! Parallelism. Blocks of up to 16 paths share SIMD lanes (`block.rs`; AVX-512,
//! AVX2+FMA or portable code, picked at run time); blocks
//! run on the sigvwap pool (`crate::pool`). Few long paths are split along the
//! length (`plan.rs`) and the chunks glued with Chen's identity here.
//!
//! Module map: `options` (types, sizes, checks), `lane` (the kernels'
//! arithmetic type and [`Precision`]), `tensor` (scalar tensor
//! algebra), `cpu` (reference implementation, the specification), `horner`
//! (per-segment step functions), `block` (sweeps over a block of lanes, SIMD
//! dispatch), `fill` (SIMD transposes of the increments into the lanes'
//! layout), `plan` (blocks and chunks), `cuda` (feature `cuda`: launchers
//! of kernels/signature.cu, held to the CPU results by tests/signature_cuda.rs).

mod block;
mod by_letter;
pub mod cpu;
#[cfg(feature = "cuda")]
mod cuda;
mod fill;
mod horner;
mod lane;
pub mod options;
mod plan;
pub mod tensor;

use rayon::prelude::*;

use crate::device::{cuda_only, Device};
use crate::error::{CoreError, CoreResult, ErrorCode};
use crate::real::{Floats, FloatsMut};

pub use block::Simd;
pub use cpu::{signature_backward_reference, signature_reference};
pub use lane::Precision;
pub use options::{check_inputs, output_len, output_shape, path_len, sig_length, SigFloat, SigOptions, MAX_BYTES, MAX_DEPTH};
pub use plan::{Tuning, SEGMENTS_PER_PASS_CHOICES};

use lane::Lane;
use block::{backward_block, block_workspace_elements, forward_block, sweeps, BlockState, PathSource, Task, Upstream};
use options::{
    check_alloc, check_call, check_grad_finite, check_grad_result_finite, check_out_len, check_output_finite,
    check_path_len, find_non_finite, zeroed_vec, Checked,
};
use plan::Plan;
use tensor::{left_contract_into, mul_into, right_contract_into, TensorShape};

/// Signature of every path (or, with `opts.stream`, of every prefix).
///
/// `path` is `[batch, length, channels]`; the result is `[batch, siglen]` or
/// `[batch, L'-1, siglen]`. Errors: `ERR_ARG` (channels, depth or length 0, or
/// sizes too large), `ERR_SHAPE` (`path` of the wrong length), `ERR_NONFINITE`
/// (NaN/Inf in `path`, with `batch`, `step`, `channel`).
pub fn signature<T: SigFloat>(path: &[T], opts: &SigOptions) -> CoreResult<Vec<T>> {
    signature_with(path, opts, &Tuning::default())
}

/// [`signature`] into a caller-provided `out` of [`output_len`] elements
/// (`ERR_SHAPE` naming `out` otherwise). On error `out` may be partly written.
pub fn signature_into<T: SigFloat>(path: &[T], opts: &SigOptions, out: &mut [T]) -> CoreResult<()> {
    signature_into_with(path, opts, out, &Tuning::default())
}

/// [`signature`] with an explicit work plan (tests, benchmarks).
pub fn signature_with<T: SigFloat>(path: &[T], opts: &SigOptions, tuning: &Tuning) -> CoreResult<Vec<T>> {
    let checked = check_call(path, opts)?;
    let mut out = zeroed_vec::<T>("batch", checked.out_len)?;
    forward_impl(path, opts, tuning, &mut out, checked)?;
    Ok(out)
}

/// [`signature_into`] with an explicit work plan (tests, benchmarks).
pub fn signature_into_with<T: SigFloat>(
    path: &[T],
    opts: &SigOptions,
    out: &mut [T],
    tuning: &Tuning,
) -> CoreResult<()> {
    let checked = check_call(path, opts)?;
    check_out_len("out", checked.out_len, out.len(), opts)?;
    forward_impl(path, opts, tuning, out, checked)
}

/// Gradient of `Σ gradOut · signature(path)` with respect to `path` (shape of
/// `path`); `grad_out` has the forward output's shape (stream or not).
/// Errors as [`signature`], plus `ERR_SHAPE` / `ERR_NONFINITE` naming `gradOut`.
pub fn signature_backward<T: SigFloat>(path: &[T], grad_out: &[T], opts: &SigOptions) -> CoreResult<Vec<T>> {
    signature_backward_with(path, grad_out, opts, &Tuning::default())
}

/// [`signature_backward`] into a caller-provided `grad` of [`path_len`]
/// elements (`ERR_SHAPE` naming `grad` otherwise).
pub fn signature_backward_into<T: SigFloat>(
    path: &[T],
    grad_out: &[T],
    opts: &SigOptions,
    grad: &mut [T],
) -> CoreResult<()> {
    signature_backward_into_with(path, grad_out, opts, grad, &Tuning::default())
}

/// [`signature_backward`] with an explicit work plan (tests, benchmarks).
pub fn signature_backward_with<T: SigFloat>(
    path: &[T],
    grad_out: &[T],
    opts: &SigOptions,
    tuning: &Tuning,
) -> CoreResult<Vec<T>> {
    let checked = check_call(path, opts)?;
    let mut grad = zeroed_vec::<T>("batch", checked.path_len)?;
    backward_impl(path, grad_out, opts, tuning, &mut grad, checked)?;
    Ok(grad)
}

/// [`signature_backward_into`] with an explicit work plan.
pub fn signature_backward_into_with<T: SigFloat>(
    path: &[T],
    grad_out: &[T],
    opts: &SigOptions,
    grad: &mut [T],
    tuning: &Tuning,
) -> CoreResult<()> {
    let checked = check_call(path, opts)?;
    check_path_len("grad", checked.path_len, grad.len(), opts)?;
    backward_impl(path, grad_out, opts, tuning, grad, checked)
}

/// [`signature_into`] on `device`: the signature (or stream) of `path` into
/// `out` of [`output_len`] elements. Results agree across devices to
/// rounding, and an invalid argument gets the same error (the CUDA path runs
/// the CPU checks before the launch); the CUDA kernels also refuse depth > 12
/// (ERR_ARG).
/// `Device::Cuda` without a usable GPU, or in a build without the `cuda`
/// feature, is ERR_CUDA_UNAVAILABLE.
pub fn signature_on<T: SigFloat>(device: Device, path: &[T], opts: &SigOptions, out: &mut [T]) -> CoreResult<()> {
    match device {
        Device::Cpu => signature_into(path, opts, out),
        Device::Cuda => cuda_only!(cuda::signature_into(path, opts, out)
            .and_then(|()| check_output_finite(out, opts, sig_length(opts.channels, opts.depth)?))),
    }
}

/// [`signature_backward_into`] on `device`: the gradient with respect to
/// `path` into `grad` of [`path_len`] elements. Devices as [`signature_on`].
pub fn signature_backward_on<T: SigFloat>(
    device: Device,
    path: &[T],
    grad_out: &[T],
    opts: &SigOptions,
    grad: &mut [T],
) -> CoreResult<()> {
    match device {
        Device::Cpu => signature_backward_into(path, grad_out, opts, grad),
        Device::Cuda => cuda_only!(cuda::signature_backward_into(path, grad_out, opts, grad)
            .and_then(|()| check_grad_result_finite(grad, opts))),
    }
}

/// The error for a non-finite increment found by a kernel.
fn non_finite_error<T: SigFloat>(path: &[T], opts: &SigOptions) -> CoreError {
    find_non_finite(path, opts)
        .unwrap_or_else(|| CoreError::new(ErrorCode::NonFinite, "path: an increment is not finite").with("argument", "path"))
}

/// Refuse plans whose temporaries and per-block workspaces exceed the limit,
/// naming what the caller can lower: `depth` when the per-thread workspaces
/// alone (they scale with siglen) are too large, else `batch` (temporaries
/// scale with the number of paths and chunks).
fn check_workspace(shape: &TensorShape, plan: &Plan, temporaries: usize) -> CoreResult<()> {
    let threads = crate::pool::threads();
    let per_block = block_workspace_elements(shape, plan.lanes).saturating_mul(threads);
    let total = per_block.saturating_add(temporaries);
    let name = if check_alloc("depth", per_block, 8).is_err() { "depth" } else { "batch" };
    check_alloc(name, total, std::mem::size_of::<f64>()).map_err(|e| e.with("output", "workspace"))
}

fn path_source<'a, T>(path: &'a [T], opts: &SigOptions, plan: &Plan) -> PathSource<'a, T> {
    PathSource {
        data: path,
        length: opts.length,
        channels: opts.channels,
        basepoint: opts.basepoint,
        transpose: plan.transpose,
    }
}

// The generic entry points hand their slices to one non-generic function per
// element type, so that the kernels (2 arithmetics x 5 lane counts x 9
// channel specialisations x 3 instruction sets) are compiled once, in this
// crate, instead of again in every crate that calls `signature::<T>`.

fn forward_impl<T: SigFloat>(path: &[T], opts: &SigOptions, tuning: &Tuning, out: &mut [T], checked: Checked) -> CoreResult<()> {
    match (T::floats(path), T::floats_mut(out)) {
        (Floats::F32(p), FloatsMut::F32(o)) => forward_f32(p, opts, tuning, o, checked),
        (Floats::F64(p), FloatsMut::F64(o)) => forward_f64(p, opts, tuning, o, checked),
        _ => unreachable!("path and out have the element type T"),
    }
}

#[inline(never)]
fn forward_f32(path: &[f32], opts: &SigOptions, tuning: &Tuning, out: &mut [f32], checked: Checked) -> CoreResult<()> {
    forward_typed(path, opts, tuning, out, checked)
}

#[inline(never)]
fn forward_f64(path: &[f64], opts: &SigOptions, tuning: &Tuning, out: &mut [f64], checked: Checked) -> CoreResult<()> {
    forward_typed(path, opts, tuning, out, checked)
}

fn backward_impl<T: SigFloat>(
    path: &[T],
    grad_out: &[T],
    opts: &SigOptions,
    tuning: &Tuning,
    grad: &mut [T],
    checked: Checked,
) -> CoreResult<()> {
    match (T::floats(path), T::floats(grad_out), T::floats_mut(grad)) {
        (Floats::F32(p), Floats::F32(g), FloatsMut::F32(o)) => backward_f32(p, g, opts, tuning, o, checked),
        (Floats::F64(p), Floats::F64(g), FloatsMut::F64(o)) => backward_f64(p, g, opts, tuning, o, checked),
        _ => unreachable!("path, gradOut and grad have the element type T"),
    }
}

#[inline(never)]
fn backward_f32(path: &[f32], grad_out: &[f32], opts: &SigOptions, tuning: &Tuning, grad: &mut [f32], checked: Checked) -> CoreResult<()> {
    backward_typed(path, grad_out, opts, tuning, grad, checked)
}

#[inline(never)]
fn backward_f64(path: &[f64], grad_out: &[f64], opts: &SigOptions, tuning: &Tuning, grad: &mut [f64], checked: Checked) -> CoreResult<()> {
    backward_typed(path, grad_out, opts, tuning, grad, checked)
}

fn forward_typed<T: SigFloat>(
    path: &[T],
    opts: &SigOptions,
    tuning: &Tuning,
    out: &mut [T],
    checked: Checked,
) -> CoreResult<()> {
    let shape = TensorShape::new(opts.channels, opts.depth)?;
    let (siglen, segments) = (checked.siglen, opts.segments());
    if opts.batch == 0 || segments == 0 {
        // One point per path: the signature is exactly 0 (the path is still checked).
        if let Some(err) = find_non_finite(path, opts) {
            return Err(err);
        }
        out.iter_mut().for_each(|v| *v = T::from_f64(0.0));
        return Ok(());
    }
    let plan = Plan::new(&shape, opts, opts.precision.is_f32::<T>(), false, tuning);
    let src = path_source(path, opts, &plan);
    let lanes = plan.lanes;
    let (finite, out_finite) = if plan.chunks == 1 {
        check_workspace(&shape, &plan, 0)?;
        with_kernel!(plan.f32, lanes, E, W => forward_blocks::<T, T, E, W>(&shape, &src, &plan, opts.stream, opts.depth, out))
    } else {
        check_workspace(&shape, &plan, plan.tasks.len() * siglen)?;
        let mut parts = zeroed_vec::<f64>("batch", plan.tasks.len() * siglen)?;
        let finite = chunk_signatures(&shape, &src, &plan, opts.depth, &mut parts);
        if finite {
            let chunks = plan.chunks;
            crate::pool::install(|| {
                out.par_chunks_mut(siglen).zip(parts.par_chunks(chunks * siglen)).for_each(|(o, p)| {
                    let mut acc = p[..siglen].to_vec();
                    let mut next = vec![0.0; siglen];
                    for c in 1..chunks {
                        mul_into(&shape, &acc, &p[c * siglen..(c + 1) * siglen], &mut next);
                        std::mem::swap(&mut acc, &mut next);
                    }
                    for (o, &v) in o.iter_mut().zip(&acc) {
                        *o = T::from_f64(v);
                    }
                })
            });
        }
        (finite, false)
    };
    if !finite {
        return Err(non_finite_error(path, opts));
    }
    // Finite inputs can still overflow (|z|^k grows with the level): one scan
    // of the output here instead of a check per multiply-add in the kernels,
    // unless every block found its final state finite (`forward_block`); the
    // scan also locates the first bad entry for the error.
    if out_finite {
        return Ok(());
    }
    check_output_finite(out, opts, siglen)
}

/// Run `$body` with the const `$w` equal to `$lanes` (one of the lane choices).
macro_rules! with_lanes {
    ($lanes:expr, $w:ident => $body:expr) => {
        match $lanes {
            1 => {
                const $w: usize = 1;
                $body
            }
            2 => {
                const $w: usize = 2;
                $body
            }
            4 => {
                const $w: usize = 4;
                $body
            }
            8 => {
                const $w: usize = 8;
                $body
            }
            _ => {
                const $w: usize = 16;
                $body
            }
        }
    };
}
use with_lanes;

/// Run `$body` with the type `$e` the kernels' arithmetic type (f32 when
/// `$f32`, else f64) and the const `$w` equal to `$lanes`.
macro_rules! with_kernel {
    ($f32:expr, $lanes:expr, $e:ident, $w:ident => $body:expr) => {
        if $f32 {
            type $e = f32;
            with_lanes!($lanes, $w => $body)
        } else {
            type $e = f64;
            with_lanes!($lanes, $w => $body)
        }
    };
}
use with_kernel;

/// All forward blocks of `plan` in parallel: `out` is `[tasks, siglen]` or,
/// with `stream`, `[tasks, count, siglen]`, levels 1..=`top`. Returns whether
/// every increment was finite and whether every block knew its output finite
/// (`forward_block`). Workspaces are reused across the blocks a thread runs.
fn forward_blocks<T: SigFloat, U: SigFloat, E: Lane, const W: usize>(
    shape: &TensorShape,
    src: &PathSource<T>,
    plan: &Plan,
    stream: bool,
    top: usize,
    out: &mut [U],
) -> (bool, bool) {
    let (forward, _) = sweeps::<E, W>(shape.channels(), plan.simd);
    let row = if stream { plan.tasks[0].count * shape.siglen() } else { shape.siglen() };
    crate::pool::install(|| {
        out.par_chunks_mut(W * row)
            .zip(plan.tasks.par_chunks(W))
            .map_init(
                || BlockState::<E, W>::new(shape, false),
                |ws, (o, tasks)| forward_block::<T, U, E, W>(forward, shape, src, tasks, stream, top, plan.pass(), ws, o),
            )
            .reduce(|| (true, true), |a, b| (a.0 && b.0, a.1 && b.1))
    })
}

/// Signature of every task (chunk) into `parts` (`[tasks, siglen]`, float64),
/// levels 1..=`top`.
fn chunk_signatures<T: SigFloat>(
    shape: &TensorShape,
    src: &PathSource<T>,
    plan: &Plan,
    top: usize,
    parts: &mut [f64],
) -> bool {
    with_kernel!(plan.f32, plan.lanes, E, W => forward_blocks::<T, f64, E, W>(shape, src, plan, false, top, parts)).0
}

/// All backward blocks of `plan` in parallel (see [`backward_block`]).
#[allow(clippy::too_many_arguments)]
fn backward_blocks<T: SigFloat, G: SigFloat, E: Lane, const W: usize>(
    shape: &TensorShape,
    src: &PathSource<T>,
    plan: &Plan,
    stream: bool,
    upstream: &[G],
    init_states: Option<&[f64]>,
    interiors: &mut [&mut [T]],
    partials: &mut [f64],
) -> bool {
    let sweeps = sweeps::<E, W>(shape.channels(), plan.simd);
    let (d, siglen) = (shape.channels(), shape.siglen());
    let row = if stream { plan.tasks[0].count * siglen } else { siglen };
    crate::pool::install(|| {
        let blocks = interiors
            .par_chunks_mut(W)
            .zip(partials.par_chunks_mut(W * 2 * d))
            .zip(plan.tasks.par_chunks(W))
            .zip(upstream.par_chunks(W * row));
        let new_ws = || BlockState::<E, W>::new(shape, true);
        match init_states {
            None => blocks
                .map_init(new_ws, |ws, (((inner, part), tasks), g)| {
                    let up = if stream { Upstream::Stream(g) } else { Upstream::End(g) };
                    backward_block::<T, G, E, W>(sweeps, shape, src, tasks, up, None, plan.pass(), ws, inner, part)
                })
                .reduce(|| true, |a, b| a && b),
            Some(states) => blocks
                .zip(states.par_chunks(W * siglen))
                .map_init(new_ws, |ws, ((((inner, part), tasks), g), st)| {
                    backward_block::<T, G, E, W>(sweeps, shape, src, tasks, Upstream::End(g), Some(st), plan.pass(), ws, inner, part)
                })
                .reduce(|| true, |a, b| a && b),
        }
    })
}

/// Split `grad` (`[batch, length, channels]`) into the interior rows of each
/// task (path-major, as `tasks`), skipping the boundary points between tasks
/// (point first-1 of each task, and the last point), which
/// [`assemble_boundaries`] writes.
fn split_interiors<'a, T>(grad: &'a mut [T], tasks: &[Task], opts: &SigOptions) -> Vec<&'a mut [T]> {
    let d = opts.channels;
    let bp = usize::from(opts.basepoint);
    let mut out = Vec::with_capacity(tasks.len());
    let mut rest: &mut [T] = grad;
    let mut next_task = 0;
    for b in 0..opts.batch {
        let (mut rows, tail) = std::mem::take(&mut rest).split_at_mut(opts.length * d);
        rest = tail;
        while next_task < tasks.len() && tasks[next_task].batch_index == b {
            let t = tasks[next_task];
            if t.first > bp {
                rows = &mut std::mem::take(&mut rows)[d..];
            }
            let (inner, tail) = std::mem::take(&mut rows).split_at_mut(t.count.saturating_sub(1) * d);
            out.push(inner);
            rows = tail;
            next_task += 1;
        }
    }
    out
}

/// Write the boundary points of every path from the tasks' partials:
/// point first-1 of chunk c gets `z̄_last(c-1) - z̄_first(c)`, the last point
/// `z̄_last` of the last chunk; the basepoint's gradient is dropped.
fn assemble_boundaries<T: SigFloat>(grad: &mut [T], partials: &[f64], plan: &Plan, opts: &SigOptions) {
    let d = opts.channels;
    let bp = usize::from(opts.basepoint);
    let chunks = plan.chunks;
    let segments = opts.segments();
    for b in 0..opts.batch {
        let base = b * opts.length;
        let part = |c: usize| &partials[(b * chunks + c) * 2 * d..(b * chunks + c + 1) * 2 * d];
        for c in 0..chunks {
            let point = plan.tasks[b * chunks + c].first - 1;
            if point < bp {
                continue;
            }
            let row = &mut grad[(base + point - bp) * d..(base + point - bp + 1) * d];
            for (a, g) in row.iter_mut().enumerate() {
                let before = if c > 0 { part(c - 1)[d + a] } else { 0.0 };
                *g = T::from_f64(before + part(c)[a]);
            }
        }
        let row = &mut grad[(base + segments - bp) * d..(base + segments - bp + 1) * d];
        for (g, &v) in row.iter_mut().zip(&part(chunks - 1)[d..]) {
            *g = T::from_f64(v);
        }
    }
}

/// Adjoint of each chunk's own signature, from the adjoint `g` of the whole
/// path's: with S = C_0 ⊗ ... ⊗ C_{n-1}, P_c = C_0 ⊗ ... ⊗ C_{c-1} and
/// H_c = g contracted on the right with C_{c+1} ⊗ ... (recursively, H_{n-1} = g,
/// H_c = H_{c+1} ◁ C_{c+1}), the adjoint of C_c is P_c ▷ H_c (left contraction).
fn chunk_adjoints(shape: &TensorShape, g: &[f64], parts: &[f64], adj: &mut [f64]) {
    let siglen = shape.siglen();
    let chunks = parts.len() / siglen;
    adj[(chunks - 1) * siglen..].copy_from_slice(g);
    for c in (0..chunks - 1).rev() {
        let (lower, upper) = adj.split_at_mut((c + 1) * siglen);
        right_contract_into(shape, &upper[..siglen], &parts[(c + 1) * siglen..(c + 2) * siglen], &mut lower[c * siglen..]);
    }
    let mut prefix = vec![0.0; siglen];
    let mut next = vec![0.0; siglen];
    let mut h = vec![0.0; siglen];
    for c in 0..chunks {
        let row = &mut adj[c * siglen..(c + 1) * siglen];
        if c > 0 {
            h.copy_from_slice(row);
            left_contract_into(shape, &prefix, &h, row);
        }
        if c + 1 < chunks {
            mul_into(shape, &prefix, &parts[c * siglen..(c + 1) * siglen], &mut next);
            std::mem::swap(&mut prefix, &mut next);
        }
    }
}

fn backward_typed<T: SigFloat>(
    path: &[T],
    grad_out: &[T],
    opts: &SigOptions,
    tuning: &Tuning,
    grad: &mut [T],
    checked: Checked,
) -> CoreResult<()> {
    check_out_len("gradOut", checked.out_len, grad_out.len(), opts)?;
    let shape = TensorShape::new(opts.channels, opts.depth)?;
    let (siglen, segments, d) = (checked.siglen, opts.segments(), opts.channels);
    check_grad_finite(grad_out, opts, siglen)?;
    if opts.batch == 0 || segments == 0 {
        if let Some(err) = find_non_finite(path, opts) {
            return Err(err);
        }
        grad.iter_mut().for_each(|v| *v = T::from_f64(0.0));
        return Ok(());
    }
    let plan = Plan::new(&shape, opts, opts.precision.is_f32::<T>(), true, tuning);
    let src = path_source(path, opts, &plan);
    let lanes = plan.lanes;
    let mut partials = zeroed_vec::<f64>("batch", plan.tasks.len() * 2 * d)?;
    let finite = if plan.chunks == 1 {
        check_workspace(&shape, &plan, 0)?;
        let mut interiors = split_interiors(grad, &plan.tasks, opts);
        with_kernel!(plan.f32, lanes, E, W => backward_blocks::<T, T, E, W>(
            &shape, &src, &plan, opts.stream, grad_out, None, &mut interiors, &mut partials
        ))
    } else {
        let tasks_len = plan.tasks.len();
        check_workspace(&shape, &plan, 2 * tasks_len * siglen)?;
        let mut parts = zeroed_vec::<f64>("batch", tasks_len * siglen)?;
        // Levels 1..m-1 of the chunk signatures are all the glue needs: the
        // adjoint of a chunk, P_c ▷ (H_{c+1} ◁ C_{c+1}), reads levels < m of
        // P_c and C_{c+1} only (and so do the products forming P_c at those
        // levels); level m of `parts` stays zero and the kernels ignore it.
        if !chunk_signatures(&shape, &src, &plan, opts.depth - 1, &mut parts) {
            return Err(non_finite_error(path, opts));
        }
        let mut adj = zeroed_vec::<f64>("batch", tasks_len * siglen)?;
        let chunks = plan.chunks;
        crate::pool::install(|| {
            adj.par_chunks_mut(chunks * siglen)
                .zip(parts.par_chunks(chunks * siglen))
                .zip(grad_out.par_chunks(siglen))
                .for_each(|((a, p), g)| {
                    let g: Vec<f64> = g.iter().map(|v| v.to_f64()).collect();
                    chunk_adjoints(&shape, &g, p, a);
                })
        });
        let mut interiors = split_interiors(grad, &plan.tasks, opts);
        with_kernel!(plan.f32, lanes, E, W => backward_blocks::<T, f64, E, W>(
            &shape, &src, &plan, false, &adj, Some(&parts), &mut interiors, &mut partials
        ))
    };
    if !finite {
        return Err(non_finite_error(path, opts));
    }
    assemble_boundaries(grad, &partials, &plan, opts);
    // As in the forward: one scan for adjoints that overflowed.
    check_grad_result_finite(grad, opts)
}
