//! Block kernels: the forward and backward sweeps of up to `W` tasks (lanes)
//! through their segments, built on the step functions of `horner.rs`, and
//! the choice of instruction set and channel specialisation at run time.
//!
//! A task is a run of consecutive segments of one path: the whole path, or a
//! chunk of it when the path is split along its length. Increments are formed
//! in float64 from the float64 values of the points (whatever `T` is), rounded
//! once to the kernels' arithmetic type `E` (f32 or f64, see `lane.rs`), and
//! transposed tile by tile (`TILE` segments) into `[segment][channel][lane]`
//! so that the step functions read contiguous lanes; the gather runs over
//! (segment, channel) outside and lanes inside, i.e. W steady sequential
//! streams that the hardware prefetcher follows (2.5x the throughput of
//! reading one lane's run after the other), with SIMD transposes when every
//! lane has the whole tile (`fill.rs`). Lanes without a task,
//! and tasks shorter than the block, see zero increments, which leave the
//! state unchanged exactly (S ⊗ exp(0) = S) and whose gradients are dropped.
//!
//! Memory per block: O(W · siglen) (state, adjoint, scratch), independent of
//! the length: the backward recovers S^{n-1} from S^n (reversibility) instead
//! of storing prefixes. Work: O(W · segments · siglen).
//!
//! Code structure: the sweeps (`forward_sweep`, `backward_sweep`) are generic
//! only in the channel count (`Dim`), the arithmetic type, the lanes and FMA,
//! and are compiled once per instruction set (portable; AVX2+FMA and AVX-512
//! on x86-64, chosen at run time by [`Simd::detect`]; FMA on aarch64);
//! everything that depends on the element type (reading
//! points, writing results) sits behind one dynamic call per tile or per
//! segment, so the number of compiled variants stays small.
//!
//! Gradient layout: a task over increments `first..first+count` (1-based,
//! increment n joins points n-1 and n, point indices counting the basepoint)
//! writes the full gradient `z̄_n - z̄_{n+1}` of its interior points
//! `first..first+count-1` and returns the two partials that its boundary
//! points share with the neighbouring tasks: `-z̄_first` (point first-1) and
//! `z̄_last` (point first+count-1), see `partials`.

use super::by_letter;
use super::fill::{self, Transpose};
use super::horner::{mul_exp_backward_step, mul_exp_step, mul_exp_steps, Dim, Fixed, Runtime, StepScratch};
use super::lane::{Lane, Lines};
use super::options::SigFloat;
use super::tensor::TensorShape;

/// Segments per transposed tile of increments.
pub(crate) const TILE: usize = 64;

/// A run of `count` segments of path `batch_index`, increments
/// `first..first+count` (1-based, in points counting the basepoint).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Task {
    pub batch_index: usize,
    pub first: usize,
    pub count: usize,
}

/// Read access to `path[batch][point][channel]` with the optional zero basepoint.
pub(crate) struct PathSource<'a, T> {
    pub data: &'a [T],
    pub length: usize,
    pub channels: usize,
    pub basepoint: bool,
    /// How full tiles are transposed (SIMD or scalar, `Tuning::scalar_fill`).
    pub transpose: Transpose,
}

impl<T: SigFloat> PathSource<'_, T> {
    /// Row of point `p` (point indices count the basepoint), `None` for the basepoint.
    #[inline(always)]
    fn row(&self, b: usize, p: usize) -> Option<&[T]> {
        let bp = usize::from(self.basepoint);
        if p < bp {
            None
        } else {
            let start = (b * self.length + p - bp) * self.channels;
            Some(&self.data[start..start + self.channels])
        }
    }
}

/// Fills tiles of increments for a block (the element-type-dependent input).
pub(crate) trait Increments<E: Lane, const W: usize>: Sync {
    /// Increments of segments `s0..s0+ns` of every lane into `tile`
    /// (`[segment][channel][lane]`), zeros past each task's end and for lanes
    /// without a task. Returns false if an increment is not finite.
    fn fill(&self, tasks: &[Task], s0: usize, ns: usize, tile: &mut [[E; W]]) -> bool;
}

impl<T: SigFloat, E: Lane, const W: usize> Increments<E, W> for PathSource<'_, T> {
    fn fill(&self, tasks: &[Task], s0: usize, ns: usize, tile: &mut [[E; W]]) -> bool {
        let d = self.channels;
        let bp = usize::from(self.basepoint);
        let full = tasks.len() == W && tasks.iter().all(|t| t.count >= s0 + ns && t.first + s0 > bp);
        if full {
            // Every lane has all `ns` segments and none starts at the
            // basepoint: z[j] = x[j + d] - x[j] over whole rows (`fill.rs`).
            let starts: [usize; W] = std::array::from_fn(|lane| {
                let t = tasks[lane];
                (t.batch_index * self.length + t.first + s0 - 1 - bp) * d
            });
            return fill::full(self.transpose, self.data, &starts, d, ns * d, tile);
        }
        for lane in 0..W {
            let valid = match tasks.get(lane) {
                Some(t) if t.count > s0 => (t.count - s0).min(ns),
                _ => 0,
            };
            let mut done = 0;
            if valid > 0 {
                let t = tasks[lane];
                // Segment s joins points p0 + s and p0 + s + 1.
                let mut p0 = t.first + s0 - 1;
                if p0 < bp {
                    // The first segment starts at the zero basepoint.
                    let x = self.row(t.batch_index, p0 + 1).expect("a segment ends at a stored point");
                    for (zv, v) in tile[..d].iter_mut().zip(x) {
                        zv[lane] = E::from_f64(v.to_f64());
                    }
                    done = d;
                    p0 += 1;
                }
                // Flattened over (segment, channel): z[j] = x[j + d] - x[j], so
                // the loop does not depend on the channel count.
                let start = (t.batch_index * self.length + p0 - bp) * d;
                let n = valid * d - done;
                let x = &self.data[start..start + n + d];
                for ((zv, hi), lo) in tile[done..done + n].iter_mut().zip(&x[d..]).zip(x) {
                    zv[lane] = E::from_f64(hi.to_f64() - lo.to_f64());
                }
            }
            for zv in &mut tile[valid * d..ns * d] {
                zv[lane] = E::ZERO;
            }
        }
        let mut finite = true;
        for zv in &tile[..ns * d] {
            for &z in zv {
                finite &= z.is_finite();
            }
        }
        finite
    }
}

/// Workspace of one block of `W` lanes.
pub(crate) struct BlockState<E: Lane, const W: usize> {
    /// S, `[siglen][lane]`.
    pub state: Lines<[E; W]>,
    /// ∂L/∂S (backward only).
    pub adjoint: Lines<[E; W]>,
    /// ∂L/∂z of the current segment.
    pub zbar: Lines<[E; W]>,
    /// ∂L/∂z of the segments of the current tile, plus one row: that of the
    /// segment after the tile (`[TILE + 1][channel][lane]`, backward only).
    pub zbar_tile: Lines<[E; W]>,
    scratch: StepScratch<E, W>,
    tile: Lines<[E; W]>,
    /// The tile's increments halved (`by_letter.rs`).
    half: Lines<[E; W]>,
    /// Set by a forward sweep without a visit: every entry of `state` is
    /// finite at its end (`forward_block` then spares the caller a scan of
    /// the output).
    pub state_finite: bool,
}

impl<E: Lane, const W: usize> BlockState<E, W> {
    pub(crate) fn new(shape: &TensorShape, backward: bool) -> Self {
        let d = shape.channels();
        let sized = |n: usize| Lines::new(if backward { n } else { 0 }, [E::ZERO; W]);
        BlockState {
            state: Lines::new(shape.siglen(), [E::ZERO; W]),
            adjoint: sized(shape.siglen()),
            zbar: Lines::new(d, [E::ZERO; W]),
            zbar_tile: sized((TILE + 1) * d),
            scratch: StepScratch::new(shape),
            tile: Lines::new(TILE * d, [E::ZERO; W]),
            half: Lines::new(TILE * d, [E::ZERO; W]),
            state_finite: false,
        }
    }

    /// Zero the state (and adjoint) for the next block.
    fn reset(&mut self) {
        self.state.iter_mut().for_each(|v| *v = [E::ZERO; W]);
        self.adjoint.iter_mut().for_each(|v| *v = [E::ZERO; W]);
    }

    /// Set lane `lane` of `state` (or `adjoint`) from a row of siglen values.
    fn load_lane<G: SigFloat>(dst: &mut [[E; W]], lane: usize, row: &[G]) {
        for (s, v) in dst.iter_mut().zip(row) {
            s[lane] = E::from_f64(v.to_f64());
        }
    }
}

/// Float64 elements of workspace one backward block holds (for size checks).
pub(crate) fn block_workspace_elements(shape: &TensorShape, lanes: usize) -> usize {
    let (d, siglen) = (shape.channels(), shape.siglen());
    lanes * (2 * siglen + (TILE + 1) * d + 2 * TILE * d + d) + StepScratch::<f64, 1>::elements(shape) * lanes
}

/// Callback after each forward segment: `(segment, state)`.
pub(crate) type ForwardVisit<'a, E, const W: usize> = Option<&'a mut dyn FnMut(usize, &[[E; W]])>;
/// `tile(s0, ns, zbar_tile)`: ∂L/∂z of segments `s0..s0+ns`.
pub(crate) type TileVisit<'a, E, const W: usize> = &'a mut dyn FnMut(usize, usize, &[[E; W]]);
/// `segment(n, adjoint)`: called after segment n >= 1 was undone.
pub(crate) type SegmentVisit<'a, E, const W: usize> = &'a mut dyn FnMut(usize, &mut [[E; W]]);

/// Callbacks of the backward sweep: `tile` after each tile (segments
/// `s0..s0+ns`, rows of `BlockState::zbar_tile`), and, with `stream`,
/// `segment(n, adjoint)` after each segment n >= 1, when the adjoint has just
/// become that of S^n (the caller adds the upstream gradient of S^n).
pub(crate) struct BackwardVisit<'a, E: Lane, const W: usize> {
    pub tile: TileVisit<'a, E, W>,
    pub segment: Option<SegmentVisit<'a, E, W>>,
}

pub(crate) type ForwardSweep<E, const W: usize> =
    fn(&TensorShape, &dyn Increments<E, W>, &[Task], &mut BlockState<E, W>, ForwardVisit<'_, E, W>, usize, Pass) -> bool;

/// How a forward sweep without a visit advances the state (`Plan`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Pass {
    /// Segments per pass over the state (1, 2, 4 or 8, `horner::mul_exp_steps`).
    pub per_pass: usize,
    /// Whole tiles one first letter at a time, the state in registers
    /// (`by_letter.rs`), where the channel count and top level fit.
    pub by_letter: bool,
}
pub(crate) type BackwardSweep<E, const W: usize> =
    fn(&TensorShape, &dyn Increments<E, W>, &[Task], &mut BlockState<E, W>, BackwardVisit<'_, E, W>) -> bool;

/// Run every lane forward through all its segments from `ws.state` (levels
/// 1..=`top`), calling `visit` after each; when there is no `visit` (the
/// stream needs every prefix), tile by tile one first letter at a time
/// (`by_letter.rs`) where `pass` asks for it and the state fits, else
/// `pass.per_pass` segments (1, 2, 4 or 8) per pass over the state. Returns
/// false if an increment was not finite.
#[inline(always)]
fn forward_sweep<D: Dim, E: Lane, const W: usize, const FMA: bool, const AVX512: bool>(
    shape: &TensorShape,
    inc: &dyn Increments<E, W>,
    tasks: &[Task],
    ws: &mut BlockState<E, W>,
    mut visit: ForwardVisit<'_, E, W>,
    top: usize,
    pass: Pass,
) -> bool {
    let dim = D::from_channels(shape.channels());
    let d = dim.get();
    let steps = tasks.iter().map(|t| t.count).max().unwrap_or(0);
    let per_pass = if visit.is_some() { 1 } else { pass.per_pass };
    let letters = pass.by_letter && visit.is_none() && by_letter::fits(D::FIXED, top);
    let mut finite = true;
    let mut s0 = 0;
    while s0 < steps {
        let ns = TILE.min(steps - s0);
        finite &= inc.fill(tasks, s0, ns, &mut ws.tile);
        if letters {
            by_letter::forward_tile::<D, E, W, FMA, AVX512>(shape, &mut ws.state, &ws.tile, &mut ws.half, ns, top);
            s0 += ns;
            continue;
        }
        let z = |s: usize| &ws.tile[s * d..(s + 1) * d];
        let mut s = 0;
        // The tile's tail (past the last multiple of `per_pass`) in passes of
        // four, two, then one.
        if per_pass >= 8 {
            while s + 8 <= ns {
                let zs = std::array::from_fn(|j| z(s + j));
                mul_exp_steps::<D, E, W, FMA, 8>(dim, shape, &mut ws.state, zs, &mut ws.scratch, top);
                s += 8;
            }
        }
        if per_pass >= 4 {
            while s + 4 <= ns {
                let zs = [z(s), z(s + 1), z(s + 2), z(s + 3)];
                mul_exp_steps::<D, E, W, FMA, 4>(dim, shape, &mut ws.state, zs, &mut ws.scratch, top);
                s += 4;
            }
        }
        if per_pass >= 2 {
            while s + 2 <= ns {
                let zs = [z(s), z(s + 1)];
                mul_exp_steps::<D, E, W, FMA, 2>(dim, shape, &mut ws.state, zs, &mut ws.scratch, top);
                s += 2;
            }
        }
        while s < ns {
            mul_exp_step::<D, E, W, FMA>(dim, shape, &mut ws.state, z(s), 1.0, &mut ws.scratch, top);
            if let Some(v) = visit.as_mut() {
                v(s0 + s, &ws.state);
            }
            s += 1;
        }
        s0 += ns;
    }
    // Here, in the kernel's instruction set and while the state is in cache,
    // rather than as a scan of the caller's output (one more pass over
    // batch · siglen values: ~6% of shape c's forward in a profile on EMR).
    ws.state_finite = visit.is_none() && all_finite(&ws.state);
    finite
}

/// Every entry of `v` finite: `x - x` is +0 for finite x and NaN for ±Inf or
/// NaN, so sums of those are NaN exactly when some entry is not (four
/// accumulators, no branch per entry: vectorizes).
#[inline(always)]
fn all_finite<E: Lane, const W: usize>(v: &[[E; W]]) -> bool {
    let mut acc = [[E::ZERO; W]; 4];
    let quads = v.chunks_exact(4);
    let rest = quads.remainder();
    for q in quads {
        for k in 0..4 {
            for lane in 0..W {
                acc[k][lane] = acc[k][lane] + (q[k][lane] - q[k][lane]);
            }
        }
    }
    for x in rest {
        for lane in 0..W {
            acc[0][lane] = acc[0][lane] + (x[lane] - x[lane]);
        }
    }
    acc.iter().flatten().all(|x| *x == E::ZERO)
}

/// Walk every lane backwards from its final state `ws.state` with adjoint
/// `ws.adjoint`, collecting ∂L/∂z per tile and calling `visit` (see
/// [`BackwardVisit`]). Returns false if an increment was not finite.
#[inline(always)]
fn backward_sweep<D: Dim, E: Lane, const W: usize, const FMA: bool>(
    shape: &TensorShape,
    inc: &dyn Increments<E, W>,
    tasks: &[Task],
    ws: &mut BlockState<E, W>,
    visit: BackwardVisit<'_, E, W>,
) -> bool {
    let BackwardVisit { tile: on_tile, segment: mut on_segment } = visit;
    let dim = D::from_channels(shape.channels());
    let d = dim.get();
    let steps = tasks.iter().map(|t| t.count).max().unwrap_or(0);
    let mut finite = true;
    let mut tile_end = steps;
    while tile_end > 0 {
        let s0 = (tile_end - 1) / TILE * TILE;
        let ns = tile_end - s0;
        finite &= inc.fill(tasks, s0, ns, &mut ws.tile);
        for s in (0..ns).rev() {
            let z = &ws.tile[s * d..(s + 1) * d];
            mul_exp_backward_step::<D, E, W, FMA>(
                dim,
                shape,
                &mut ws.state,
                &mut ws.adjoint,
                z,
                &mut ws.zbar,
                &mut ws.scratch,
            );
            ws.zbar_tile[s * d..(s + 1) * d].copy_from_slice(&ws.zbar);
            if let Some(v) = on_segment.as_mut() {
                if s0 + s >= 1 {
                    v(s0 + s, &mut ws.adjoint);
                }
            }
        }
        on_tile(s0, ns, &ws.zbar_tile);
        // Row TILE of the earlier (full) tile is segment s0 of this one.
        ws.zbar_tile.copy_within(..d, TILE * d);
        tile_end = s0;
    }
    finite
}

/// Forward block: the signature of each task (`out` = `[lanes, siglen]`), or
/// with `stream` every prefix (`out` = `[lanes, count, siglen]`, whole paths),
/// levels 1..=`top` (the others are left zero), advanced as `pass` says
/// (see `forward_sweep`). `ws` is a workspace from
/// `BlockState::new(shape, false)`, reused across blocks. Returns whether
/// every increment was finite, and whether the output is known finite (no
/// stream, the final state finite, and `U` at least as wide as `E`, so that
/// the rounding cannot overflow); when not known, the caller scans it.
#[allow(clippy::too_many_arguments)]
pub(crate) fn forward_block<T: SigFloat, U: SigFloat, E: Lane, const W: usize>(
    sweep: ForwardSweep<E, W>,
    shape: &TensorShape,
    src: &PathSource<T>,
    tasks: &[Task],
    stream: bool,
    top: usize,
    pass: Pass,
    ws: &mut BlockState<E, W>,
    out: &mut [U],
) -> (bool, bool) {
    let siglen = shape.siglen();
    ws.reset();
    let lanes = tasks.len();
    if stream {
        // Stream tasks are whole paths of one length (`Plan` never splits
        // them; `forward_blocks` sizes the rows by the first task), so every
        // lane has every step: each step's prefixes are stored at once.
        debug_assert!(tasks.iter().all(|t| t.count == tasks[0].count));
        let mut visit = |step: usize, state: &[[E; W]]| {
            let starts: [usize; W] = std::array::from_fn(|lane| tasks.get(lane).map_or(0, |t| (lane * t.count + step) * siglen));
            fill::store_rows(src.transpose, state, siglen, &starts[..lanes], out);
        };
        (sweep(shape, src, tasks, ws, Some(&mut visit), top, pass), false)
    } else {
        let finite = sweep(shape, src, tasks, ws, None, top, pass);
        let starts: [usize; W] = std::array::from_fn(|lane| lane * siglen);
        fill::store_rows(src.transpose, &ws.state, siglen, &starts[..lanes], out);
        (finite, ws.state_finite && std::mem::size_of::<U>() >= std::mem::size_of::<E>())
    }
}

/// Upstream gradient of a backward block.
#[derive(Clone, Copy)]
pub(crate) enum Upstream<'a, G> {
    /// `[lanes, siglen]`: adjoint of each task's final state.
    End(&'a [G]),
    /// `[lanes, count, siglen]`: adjoint of every prefix (stream; whole paths).
    Stream(&'a [G]),
}

/// Backward block. `init_state` (`[lanes, siglen]`, float64, levels 1..m-1
/// used) is each task's final state when the caller has it (chunks);
/// otherwise it is recomputed by a forward sweep to depth m-1 (level m of the
/// state never matters to the gradient, see `horner.rs`), advanced as `pass`
/// says. Writes interior
/// point gradients into `interiors[lane]` (`(count - 1) · channels` values)
/// and `partials[lane] = [-z̄_first, z̄_last]` (`2 · channels` values). `ws`
/// is a workspace from `BlockState::new(shape, true)`, reused across blocks.
/// Returns false if an increment was not finite.
#[allow(clippy::too_many_arguments)]
pub(crate) fn backward_block<T: SigFloat, G: SigFloat, E: Lane, const W: usize>(
    sweeps: (ForwardSweep<E, W>, BackwardSweep<E, W>),
    shape: &TensorShape,
    src: &PathSource<T>,
    tasks: &[Task],
    upstream: Upstream<G>,
    init_state: Option<&[f64]>,
    pass: Pass,
    ws: &mut BlockState<E, W>,
    interiors: &mut [&mut [T]],
    partials: &mut [f64],
) -> bool {
    let (d, siglen) = (shape.channels(), shape.siglen());
    ws.reset();
    let mut finite = true;
    match init_state {
        Some(rows) => {
            for (lane, row) in rows.chunks_exact(siglen).take(tasks.len()).enumerate() {
                BlockState::<E, W>::load_lane(&mut ws.state, lane, row);
            }
        }
        None => finite &= (sweeps.0)(shape, src, tasks, ws, None, shape.depth() - 1, pass),
    }
    for (lane, t) in tasks.iter().enumerate() {
        let row = match upstream {
            Upstream::End(g) => &g[lane * siglen..(lane + 1) * siglen],
            Upstream::Stream(g) if t.count > 0 => {
                let r = (lane * t.count + t.count - 1) * siglen;
                &g[r..r + siglen]
            }
            Upstream::Stream(_) => continue,
        };
        BlockState::<E, W>::load_lane(&mut ws.adjoint, lane, row);
    }

    let mut on_tile = |s0: usize, ns: usize, zt: &[[E; W]]| {
        for (lane, t) in tasks.iter().enumerate() {
            if t.count <= s0 {
                continue;
            }
            let part = &mut partials[lane * 2 * d..(lane + 1) * 2 * d];
            // Interior points first+s, s < count-1: z̄_s - z̄_{s+1}, flattened
            // over (segment, channel) as in `fill`.
            let interior_end = (t.count - 1).min(s0 + ns);
            if interior_end > s0 {
                let n = (interior_end - s0) * d;
                let out = &mut interiors[lane][s0 * d..s0 * d + n];
                for ((o, lo), hi) in out.iter_mut().zip(&zt[..n]).zip(&zt[d..n + d]) {
                    *o = T::from_f64((lo[lane] - hi[lane]).to_f64());
                }
            }
            if t.count - 1 < s0 + ns {
                let row = (t.count - 1 - s0) * d;
                for (p, zb) in part[d..].iter_mut().zip(&zt[row..row + d]) {
                    *p = zb[lane].to_f64();
                }
            }
            if s0 == 0 {
                for (p, zb) in part[..d].iter_mut().zip(&zt[..d]) {
                    *p = -zb[lane].to_f64();
                }
            }
        }
    };
    let finite_back = match upstream {
        Upstream::End(_) => (sweeps.1)(shape, src, tasks, ws, BackwardVisit { tile: &mut on_tile, segment: None }),
        Upstream::Stream(g) => {
            let mut on_segment = |step: usize, adjoint: &mut [[E; W]]| {
                for (lane, t) in tasks.iter().enumerate() {
                    if step < t.count {
                        let r = (lane * t.count + step - 1) * siglen;
                        for (a, v) in adjoint.iter_mut().zip(&g[r..r + siglen]) {
                            a[lane] = a[lane] + E::from_f64(v.to_f64());
                        }
                    }
                }
            };
            let visit = BackwardVisit { tile: &mut on_tile, segment: Some(&mut on_segment) };
            (sweeps.1)(shape, src, tasks, ws, visit)
        }
    };
    finite && finite_back
}

/// Instruction set of the block kernels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Simd {
    /// Plain code for the build target (SSE2 on x86-64), separate multiply and add.
    Portable,
    /// Fused multiply-add available without extra features (aarch64).
    Fma,
    /// x86-64 with AVX2 and FMA, detected at run time.
    Avx2Fma,
    /// x86-64 with AVX-512 (F, VL) and FMA, detected at run time: 512-bit
    /// registers, i.e. 8 float64 or 16 float32 lanes per instruction.
    Avx512,
}

impl Simd {
    /// Best instruction set of this machine.
    pub fn detect() -> Simd {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::is_x86_feature_detected as has;
            if has!("avx512f") && has!("avx512vl") && has!("avx2") && has!("fma") {
                return Simd::Avx512;
            }
            if has!("avx2") && has!("fma") {
                return Simd::Avx2Fma;
            }
            Simd::Portable
        }
        #[cfg(target_arch = "aarch64")]
        {
            Simd::Fma
        }
        #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
        {
            Simd::Portable
        }
    }

    /// Whether `self` can run here.
    pub fn available(self) -> bool {
        match self {
            Simd::Portable => true,
            Simd::Fma => cfg!(target_arch = "aarch64"),
            Simd::Avx2Fma => matches!(Simd::detect(), Simd::Avx2Fma | Simd::Avx512),
            Simd::Avx512 => Simd::detect() == Simd::Avx512,
        }
    }

    /// Width of one vector register in bytes (16 for the portable and
    /// aarch64 code: SSE2 / NEON), for choosing lanes per block.
    pub fn vector_bytes(self) -> usize {
        match self {
            Simd::Portable | Simd::Fma => 16,
            Simd::Avx2Fma => 32,
            Simd::Avx512 => 64,
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    //! The sweeps compiled with AVX2+FMA and with AVX-512 (everything below
    //! them is `#[inline(always)]`, so the whole sweep gets the features and
    //! LLVM's vectoriser picks the register width: the lane arrays `[E; W]`
    //! become one zmm register when W · size_of(E) = 64 bytes).
    use super::*;

    macro_rules! entries {
        ($features:literal, $avx512:literal, $fwd:ident, $bwd:ident, $fwd_entry:ident, $bwd_entry:ident, $simd:expr) => {
            #[target_feature(enable = $features)]
            unsafe fn $fwd<D: Dim, E: Lane, const W: usize>(
                shape: &TensorShape,
                inc: &dyn Increments<E, W>,
                tasks: &[Task],
                ws: &mut BlockState<E, W>,
                visit: ForwardVisit<'_, E, W>,
                top: usize,
                pass: Pass,
            ) -> bool {
                forward_sweep::<D, E, W, true, $avx512>(shape, inc, tasks, ws, visit, top, pass)
            }

            #[target_feature(enable = $features)]
            unsafe fn $bwd<D: Dim, E: Lane, const W: usize>(
                shape: &TensorShape,
                inc: &dyn Increments<E, W>,
                tasks: &[Task],
                ws: &mut BlockState<E, W>,
                visit: BackwardVisit<'_, E, W>,
            ) -> bool {
                backward_sweep::<D, E, W, true>(shape, inc, tasks, ws, visit)
            }

            /// Only handed out by `sweeps` after `available()` for its `Simd`.
            pub(super) fn $fwd_entry<D: Dim, E: Lane, const W: usize>(
                shape: &TensorShape,
                inc: &dyn Increments<E, W>,
                tasks: &[Task],
                ws: &mut BlockState<E, W>,
                visit: ForwardVisit<'_, E, W>,
                top: usize,
                pass: Pass,
            ) -> bool {
                debug_assert!($simd.available());
                // SAFETY: selected only when these features were detected on this CPU.
                unsafe { $fwd::<D, E, W>(shape, inc, tasks, ws, visit, top, pass) }
            }

            /// Only handed out by `sweeps` after `available()` for its `Simd`.
            pub(super) fn $bwd_entry<D: Dim, E: Lane, const W: usize>(
                shape: &TensorShape,
                inc: &dyn Increments<E, W>,
                tasks: &[Task],
                ws: &mut BlockState<E, W>,
                visit: BackwardVisit<'_, E, W>,
            ) -> bool {
                debug_assert!($simd.available());
                // SAFETY: selected only when these features were detected on this CPU.
                unsafe { $bwd::<D, E, W>(shape, inc, tasks, ws, visit) }
            }
        };
    }

    entries!("avx2,fma", false, forward_avx2, backward_avx2, forward_entry, backward_entry, Simd::Avx2Fma);
    entries!(
        "avx512f,avx512vl,avx2,fma",
        true,
        forward_avx512,
        backward_avx512,
        forward_entry512,
        backward_entry512,
        Simd::Avx512
    );
}

/// Lane counts the kernels are compiled for.
pub const LANE_CHOICES: [usize; 5] = [1, 2, 4, 8, 16];

fn sweeps_for<D: Dim, E: Lane, const W: usize>(simd: Simd) -> (ForwardSweep<E, W>, BackwardSweep<E, W>) {
    match simd {
        #[cfg(target_arch = "x86_64")]
        Simd::Avx512 if Simd::Avx512.available() => (x86::forward_entry512::<D, E, W>, x86::backward_entry512::<D, E, W>),
        #[cfg(target_arch = "x86_64")]
        Simd::Avx2Fma | Simd::Avx512 if Simd::Avx2Fma.available() => (x86::forward_entry::<D, E, W>, x86::backward_entry::<D, E, W>),
        Simd::Fma if Simd::Fma.available() => (forward_sweep::<D, E, W, true, false>, backward_sweep::<D, E, W, true>),
        _ => (forward_sweep::<D, E, W, false, false>, backward_sweep::<D, E, W, false>),
    }
}

/// The forward and backward sweeps for `channels` and `simd` (portable code
/// when `simd` is not available here). Channel counts 1..=8 get kernels with
/// the channel loops unrolled; larger ones a run-time count.
pub(crate) fn sweeps<E: Lane, const W: usize>(channels: usize, simd: Simd) -> (ForwardSweep<E, W>, BackwardSweep<E, W>) {
    match channels {
        1 => sweeps_for::<Fixed<1>, E, W>(simd),
        2 => sweeps_for::<Fixed<2>, E, W>(simd),
        3 => sweeps_for::<Fixed<3>, E, W>(simd),
        4 => sweeps_for::<Fixed<4>, E, W>(simd),
        5 => sweeps_for::<Fixed<5>, E, W>(simd),
        6 => sweeps_for::<Fixed<6>, E, W>(simd),
        7 => sweeps_for::<Fixed<7>, E, W>(simd),
        8 => sweeps_for::<Fixed<8>, E, W>(simd),
        _ => sweeps_for::<Runtime, E, W>(simd),
    }
}
