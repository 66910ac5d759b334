//! One segment of the signature recursion for `W` paths at once (lanes):
//! the fused multiply-exponentiate `S ← S ⊗ exp(z)` in Horner form (one or
//! several segments per call), and its reverse-mode step (undo the segment, then
//! backpropagate through it). These are the per-segment step functions a GPU
//! port mirrors; `block.rs` drives them, `cpu.rs` is their specification.
//!
//! Data layout (structure of arrays): a tensor of `W` paths is a slice of
//! `[E; W]` (`E` = f32 or f64, the arithmetic type), entry `idx` of path
//! `lane` at `[idx][lane]`, levels 1..m concatenated as in [`TensorShape`].
//! Every inner loop is a plain `for lane in 0..W` over contiguous memory,
//! which LLVM turns into SIMD (the caller compiles these functions with
//! AVX-512 or AVX2+FMA where available: `[f64; 8]` and `[f32; 16]` are one
//! 512-bit register), and the
//! channel loops unroll when `d` is a compile-time constant ([`Fixed`]). The
//! step functions take the raw increment `z` (d entries) and form each
//! layer's `z/c` in a local array (registers) rather than storing a table of
//! them every segment.
//!
//! Forward, level k (S_0 = 1):
//!   R_k = Σ_{j=0..k} S_j ⊗ z^{⊗(k-j)}/(k-j)!
//!       = (((z/k + S_1) ⊗ z/(k-1) + S_2) ⊗ z/(k-2) + ... + S_{k-1}) ⊗ z + S_k,
//! i.e. A_1 = z/k + S_1, A_{i+1} = A_i ⊗ z/(k-i) + S_{i+1}, R_k = A_k.
//! R_k needs only S_1..S_k, so the levels are overwritten from k = m down to 1
//! (in place; A_1..A_{k-2} in two ping-pong buffers of d^(m-2) lanes, the last
//! two layers fused so that A_{k-1} stays in registers).
//! Cost per segment and path: Σ_{k=2..m} Σ_{i=2..k} d^i multiply-adds
//! (~ siglen · d/(d-1)) plus d additions; one load and one store per entry of
//! S. [`mul_exp_steps`] advances P segments per pass over the top two levels
//! (same operations, 1/P of the loads and stores of those levels; how many is
//! a plan parameter, `plan.rs`).
//!
//! Backward, given S = S^n, its adjoint T̄ and z = z_n:
//! (a) undo: S^{n-1} = S^n ⊗ exp(-z) (the same forward step, exact up to
//! rounding);
//! (b) for each level k, recompute Horner's A_i from S^{n-1} and run Horner
//! backwards: Ā_k = T̄_k, and for i = k-1..1
//!     Ā_i[w] = Σ_a Ā_{i+1}[w a] z_a/(k-i),   S̄_{i+1} += Ā_{i+1},
//!     z̄_a   += Σ_w Ā_{i+1}[w a] A_i[w]/(k-i),
//! finally S̄_1 += Ā_1, z̄ += Ā_1/k (A_1..A_{k-2} are stored, A_{k-1} is formed
//! on the fly in the first reverse layer). Levels go k = 2..m upwards so that
//! the adjoint is updated in place (level k only receives from levels > k).
//!
//! Level m of S^{n-1} is never read by (b) (level k uses S_1..S_{k-1}), and
//! the adjoint recursion does not involve S at all, so the backward carries
//! S only to depth m-1: the undo step (and the forward sweep that produces the
//! final state) skip the top level, which holds (d-1)/d of the entries.
//! Cost: two depth-(m-1) forward steps (sweep + undo), the recompute of
//! A_2..A_{k-2}, and two multiply-adds per adjoint entry of levels >= 2 for
//! the reverse sweep: ~2.5-3.5x the forward.

// Loops over a channel index address several arrays of length d at once;
// with d a compile-time constant this is the form that unrolls cleanly.
#![allow(clippy::needless_range_loop)]

use super::lane::{Lane, Line, Lines};
use super::tensor::TensorShape;

/// The channel count `d` of the step functions: a compile-time constant
/// ([`Fixed`], so that the loops over a channel unroll) or a run-time value.
pub(crate) trait Dim: Copy + Send + Sync + 'static {
    /// The compile-time channel count, 0 for [`Runtime`].
    const FIXED: usize;
    fn from_channels(channels: usize) -> Self;
    fn get(self) -> usize;
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct Fixed<const D: usize>;

impl<const D: usize> Dim for Fixed<D> {
    const FIXED: usize = D;
    #[inline(always)]
    fn from_channels(channels: usize) -> Self {
        debug_assert_eq!(channels, D);
        Fixed
    }
    #[inline(always)]
    fn get(self) -> usize {
        D
    }
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct Runtime(usize);

impl Dim for Runtime {
    const FIXED: usize = 0;
    #[inline(always)]
    fn from_channels(channels: usize) -> Self {
        Runtime(channels)
    }
    #[inline(always)]
    fn get(self) -> usize {
        self.0
    }
}

/// `a * b + c`, fused when the target has FMA (the `FMA` kernels are only
/// compiled with that feature; otherwise `mul_add` would be a libm call).
#[inline(always)]
pub(crate) fn fmadd<E: Lane, const FMA: bool>(a: E, b: E, c: E) -> E {
    if FMA {
        a.mul_add(b, c)
    } else {
        a * b + c
    }
}

// Lane arithmetic by value: whole `[E; W]` arrays are loaded, combined and
// stored, so LLVM need not prove that a store cannot alias a later load of
// the same lane loop (it cannot through slices, and then leaves it scalar).

/// `a * b + c` lane by lane.
#[inline(always)]
pub(crate) fn lanes_fma<E: Lane, const W: usize, const FMA: bool>(a: [E; W], b: [E; W], c: [E; W]) -> [E; W] {
    let mut r = [E::ZERO; W];
    for lane in 0..W {
        r[lane] = fmadd::<E, FMA>(a[lane], b[lane], c[lane]);
    }
    r
}

/// `a + b` lane by lane.
#[inline(always)]
pub(crate) fn lanes_add<E: Lane, const W: usize>(a: [E; W], b: [E; W]) -> [E; W] {
    let mut r = [E::ZERO; W];
    for lane in 0..W {
        r[lane] = a[lane] + b[lane];
    }
    r
}

/// `a * s` lane by lane.
#[inline(always)]
pub(crate) fn lanes_scale<E: Lane, const W: usize>(a: [E; W], s: f64) -> [E; W] {
    let mut r = [E::ZERO; W];
    for lane in 0..W {
        r[lane] = a[lane] * E::from_f64(s);
    }
    r
}

/// Channel counts up to this keep per-channel values (the scaled increment of
/// a layer, the z̄ accumulators) in a local array, which LLVM holds in
/// registers when the count is a compile-time constant.
const LOCAL_CHANNELS: usize = 8;

/// Copy `src[..d]` into a local array (when `d <= LOCAL_CHANNELS`).
#[inline(always)]
fn local_copy<E: Lane, const W: usize>(src: &[[E; W]], d: usize) -> [[E; W]; LOCAL_CHANNELS] {
    let mut out = [[E::ZERO; W]; LOCAL_CHANNELS];
    out[..d].copy_from_slice(&src[..d]);
    out
}

/// Rows of d scaled increments in the scratch when d > LOCAL_CHANNELS: z and
/// z/2 of every segment of a multi-segment pass, plus one for a Horner chain.
const ZC_ROWS: usize = 2 * MAX_SEGMENTS_PER_PASS + 1;

/// Scratch of the step functions for one block of `W` lanes.
pub(crate) struct StepScratch<E: Lane, const W: usize> {
    /// Horner ping-pong buffers, d^(m-1) each.
    buf0: Lines<[E; W]>,
    buf1: Lines<[E; W]>,
    /// Recomputed A_1..A_{m-2} (backward), laid out like levels 1..m-2.
    horner: Lines<[E; W]>,
    /// Scaled increments when d > LOCAL_CHANNELS (rows of d, see `heap_rows`).
    zc: Lines<[E; W]>,
    /// P_j, Q_j of the multi-segment step, d^(m-2) each, for up to
    /// `MAX_SEGMENTS_PER_PASS` segments.
    pair: Lines<[E; W]>,
}

impl<E: Lane, const W: usize> StepScratch<E, W> {
    pub(crate) fn new(shape: &TensorShape) -> Self {
        let top = shape.level_size(shape.depth() - 1).max(1);
        let d = shape.channels();
        let below_top = shape.level_size(shape.depth().saturating_sub(2));
        StepScratch {
            buf0: Lines::new(top, [E::ZERO; W]),
            buf1: Lines::new(top, [E::ZERO; W]),
            horner: Lines::new(shape.level_start(shape.depth()).max(1), [E::ZERO; W]),
            zc: Lines::new(if d > LOCAL_CHANNELS { ZC_ROWS * d } else { 0 }, [E::ZERO; W]),
            pair: Lines::new(2 * MAX_SEGMENTS_PER_PASS * below_top, [E::ZERO; W]),
        }
    }

    /// Elements (of `f64`) held, for workspace size checks.
    pub(crate) fn elements(shape: &TensorShape) -> usize {
        W * (2 * shape.level_size(shape.depth() - 1).max(1)
            + shape.level_start(shape.depth()).max(1)
            + ZC_ROWS * shape.channels()
            + 2 * MAX_SEGMENTS_PER_PASS * shape.level_size(shape.depth().saturating_sub(2)))
    }
}

/// `f · z` (f = ±1/c, the increment of one Horner layer) in `local` when
/// d <= LOCAL_CHANNELS, else in `heap` (d entries).
#[inline(always)]
fn scaled<'a, E: Lane, const W: usize>(
    z: &[[E; W]],
    f: f64,
    d: usize,
    local: &'a mut [[E; W]; LOCAL_CHANNELS],
    heap: &'a mut [[E; W]],
) -> &'a [[E; W]] {
    let out: &'a mut [[E; W]] = if d <= LOCAL_CHANNELS { &mut local[..d] } else { &mut heap[..d] };
    for (o, zv) in out.iter_mut().zip(&z[..d]) {
        *o = lanes_scale(*zv, f);
    }
    out
}

/// `N` disjoint rows of d entries of `heap` (the scratch for scaled
/// increments when d > LOCAL_CHANNELS; empty rows otherwise).
#[inline(always)]
fn heap_rows<E: Lane, const W: usize, const N: usize>(heap: &mut [[E; W]], d: usize) -> [&mut [[E; W]]; N] {
    let mut rest = heap;
    std::array::from_fn(|_| {
        let take = d.min(rest.len());
        let (row, tail) = std::mem::take(&mut rest).split_at_mut(take);
        rest = tail;
        row
    })
}

/// `next[w d + a] = cur[w] · zc[a] + s[w d + a]`, w < cur.len().
#[inline(always)]
fn horner_layer<D: Dim, E: Lane, const W: usize, const FMA: bool>(
    dim: D,
    cur: &[[E; W]],
    zc: &[[E; W]],
    s: &[[E; W]],
    next: &mut [[E; W]],
) {
    let d = dim.get();
    let zc = &zc[..d];
    let (s, next) = (&s[..cur.len() * d], &mut next[..cur.len() * d]);
    for (w, cw) in cur.iter().enumerate() {
        let c = *cw;
        let (srow, nrow) = (&s[w * d..w * d + d], &mut next[w * d..w * d + d]);
        for a in 0..d {
            nrow[a] = lanes_fma::<E, W, FMA>(c, zc[a], srow[a]);
        }
    }
}

/// `A_1 = z/k + S_1` (`zk = ±z/k`).
#[inline(always)]
fn horner_first<D: Dim, E: Lane, const W: usize>(dim: D, zk: &[[E; W]], s1: &[[E; W]], out: &mut [[E; W]]) {
    let d = dim.get();
    let (zk, s1, out) = (&zk[..d], &s1[..d], &mut out[..d]);
    for a in 0..d {
        out[a] = lanes_add(zk[a], s1[a]);
    }
}

/// A_1..A_{upto} of level k (Horner's intermediates for `sign · z`) from the
/// levels of `state`, ping-ponging through `bufs`; returns the buffer holding
/// A_{upto} (`upto >= 1`).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn horner_chain<'a, D: Dim, E: Lane, const W: usize, const FMA: bool>(
    dim: D,
    shape: &TensorShape,
    state: &[[E; W]],
    z: &[[E; W]],
    sign: f64,
    k: usize,
    upto: usize,
    bufs: (&'a mut [[E; W]], &'a mut [[E; W]]),
    heap: &mut [[E; W]],
) -> &'a [[E; W]] {
    let d = dim.get();
    let (mut cur, mut next) = bufs;
    let mut zl = Line([[E::ZERO; W]; LOCAL_CHANNELS]);
    let zk = scaled(z, sign / k as f64, d, &mut zl.0, heap);
    horner_first(dim, zk, &state[..d], &mut cur[..d]);
    for i in 1..upto {
        let n_i = shape.level_size(i);
        let zc = scaled(z, sign / (k - i) as f64, d, &mut zl.0, heap);
        horner_layer::<D, E, W, FMA>(dim, &cur[..n_i], zc, &state[shape.level(i + 1)], &mut next[..n_i * d]);
        std::mem::swap(&mut cur, &mut next);
    }
    cur
}

/// A_{upto} of level k (as [`horner_chain`], sign +1) written into every
/// `stride`-th entry of `out` (d^upto entries, the first at `out[0]`): the
/// chain runs to A_{upto-1} in `bufs` and its last layer stores straight into
/// `out` (for upto = 1, A_1 = z/k + S_1 without a buffer): a separate copy
/// pass showed in the profile of shape a (d = 3, m = 3).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn horner_chain_into<D: Dim, E: Lane, const W: usize, const FMA: bool>(
    dim: D,
    shape: &TensorShape,
    state: &[[E; W]],
    z: &[[E; W]],
    k: usize,
    upto: usize,
    bufs: (&mut [[E; W]], &mut [[E; W]]),
    heap: &mut [[E; W]],
    out: &mut [[E; W]],
    stride: usize,
) {
    let d = dim.get();
    let mut zl = Line([[E::ZERO; W]; LOCAL_CHANNELS]);
    if upto == 1 {
        let zk = scaled(z, 1.0 / k as f64, d, &mut zl.0, heap);
        for (o, (zv, sv)) in out.iter_mut().step_by(stride).zip(zk[..d].iter().zip(&state[..d])) {
            *o = lanes_add(*zv, *sv);
        }
        return;
    }
    let cur = horner_chain::<D, E, W, FMA>(dim, shape, state, z, 1.0, k, upto - 1, bufs, heap);
    let n = shape.level_size(upto - 1);
    let zc = scaled(z, 1.0 / (k - upto + 1) as f64, d, &mut zl.0, heap);
    let (zc, s) = (&zc[..d], &state[shape.level(upto)]);
    let mut dst = out.iter_mut().step_by(stride);
    for (w, cw) in cur[..n].iter().enumerate() {
        let srow = &s[w * d..w * d + d];
        for a in 0..d {
            if let Some(o) = dst.next() {
                *o = lanes_fma::<E, W, FMA>(*cw, zc[a], srow[a]);
            }
        }
    }
}

/// The last two Horner layers of level k fused, so that the largest
/// intermediate A_{k-1} is never stored: for each prefix w' (an entry of
/// `cur` = A_{k-2}; for k = 2, `cur` = [1] standing for A_0),
///   t_b = A_{k-2}[w'] · z_b/2 + S_{k-1}[w' b]   (= A_{k-1}[w' b], in registers)
///   S_k[w' b a] += t_b · z_a.
/// `zc2 = ±z/2`, `z1 = ±z`.
#[inline(always)]
fn horner_last_two<D: Dim, E: Lane, const W: usize, const FMA: bool>(
    dim: D,
    cur: &[[E; W]],
    zc2: &[[E; W]],
    z1: &[[E; W]],
    s_below: &[[E; W]],
    s_top: &mut [[E; W]],
) {
    let d = dim.get();
    let n = cur.len();
    let (s_below, s_top, zc2, z1) = (&s_below[..n * d], &mut s_top[..n * d * d], &zc2[..d], &z1[..d]);
    for (wp, cw) in cur.iter().enumerate() {
        let c = *cw;
        let below = &s_below[wp * d..wp * d + d];
        let top = &mut s_top[wp * d * d..(wp + 1) * d * d];
        for b in 0..d {
            let t = lanes_fma::<E, W, FMA>(c, zc2[b], below[b]);
            let row = &mut top[b * d..b * d + d];
            for a in 0..d {
                row[a] = lanes_fma::<E, W, FMA>(t, z1[a], row[a]);
            }
        }
    }
}

/// `S ← S ⊗ exp(sign · z)` for W lanes (see the module header), levels
/// 1..=`top` only (`top <= m`; level k depends on levels <= k alone, so the
/// levels above `top` are left alone). A zero increment leaves S unchanged
/// exactly.
#[inline(always)]
pub(crate) fn mul_exp_step<D: Dim, E: Lane, const W: usize, const FMA: bool>(
    dim: D,
    shape: &TensorShape,
    state: &mut [[E; W]],
    z: &[[E; W]],
    sign: f64,
    scratch: &mut StepScratch<E, W>,
    top: usize,
) {
    let d = dim.get();
    if top == 0 {
        return;
    }
    if top == 1 && sign == 1.0 {
        // S_1 += z (the level below the pair of a depth-3 multi-segment pass).
        let s1 = &mut state[..d];
        for a in 0..d {
            s1[a] = lanes_add(s1[a], z[a]);
        }
        return;
    }
    let [heap1, heap2, heap3] = heap_rows::<E, W, 3>(&mut scratch.zc, d);
    let (mut l1, mut l2) = (Line([[E::ZERO; W]; LOCAL_CHANNELS]), Line([[E::ZERO; W]; LOCAL_CHANNELS]));
    let z1 = scaled(z, sign, d, &mut l1.0, heap1);
    let zc2 = scaled(z, sign * 0.5, d, &mut l2.0, heap2);
    for k in (2..=top).rev() {
        let (lower, upper) = state.split_at_mut(shape.level_start(k));
        let level_top = &mut upper[..shape.level_size(k)];
        let below = &lower[shape.level(k - 1)];
        if k == 2 {
            horner_last_two::<D, E, W, FMA>(dim, &[[E::ONE; W]], zc2, z1, below, level_top);
        } else {
            // A_1 .. A_{k-2}, then the fused last two layers.
            let bufs = (&mut scratch.buf0[..], &mut scratch.buf1[..]);
            let a = horner_chain::<D, E, W, FMA>(dim, shape, lower, z, sign, k, k - 2, bufs, heap3);
            horner_last_two::<D, E, W, FMA>(dim, &a[..shape.level_size(k - 2)], zc2, z1, below, level_top);
        }
    }
    let s1 = &mut state[..d];
    for a in 0..d {
        s1[a] = lanes_add(s1[a], z1[a]);
    }
}

/// Most segments one pass of [`mul_exp_steps`] advances (the scratch is sized
/// for it).
pub(crate) const MAX_SEGMENTS_PER_PASS: usize = 8;

/// `P` segments at once, `S ← S ⊗ exp(z_1) ⊗ ... ⊗ exp(z_P)`, levels
/// 1..=`top` (`top <= m`, `1 <= P <= MAX_SEGMENTS_PER_PASS`), with exactly the
/// operations (and roundings) of `P` [`mul_exp_step`]s but one pass over the
/// top two levels instead of `P` (each pass loads and stores every entry;
/// once the state is in L2 that traffic is the bound, and even in L1 the
/// single step does one load and one store per multiply-add of the top
/// level). With M = `top`, for each segment j in turn the Horner
/// intermediates P_j = A^(M)_{M-2}(S; z_j) and Q_j = A^(M-1)_{M-2}(S; z_j) are
/// formed (d^(M-2) entries each; A_0 = 1 when M = 2) and the levels < M-1
/// advanced by z_j (a [`mul_exp_step`] to depth M-2, small); then for each
/// prefix w' (d^(M-2)) and letter b, in registers:
///   s = S_{M-1}[w'b];  for j = 1..P: t_j = P_j[w'] z_jb/2 + s;  s = Q_j[w'] z_jb + s;
///   S_{M-1}[w'b] = s;  S_M[w'ba] = (...(S_M[w'ba] + t_1 z_1a) + ...) + t_P z_Pa.
/// `P = 1` is [`mul_exp_step`] (called as such).
#[inline(always)]
pub(crate) fn mul_exp_steps<D: Dim, E: Lane, const W: usize, const FMA: bool, const P: usize>(
    dim: D,
    shape: &TensorShape,
    state: &mut [[E; W]],
    zs: [&[[E; W]]; P],
    scratch: &mut StepScratch<E, W>,
    top: usize,
) {
    const { assert!(P >= 1 && P <= MAX_SEGMENTS_PER_PASS) };
    let d = dim.get();
    if P == 1 || top <= 1 {
        for z in zs {
            mul_exp_step::<D, E, W, FMA>(dim, shape, state, z, 1.0, scratch, top);
        }
        return;
    }
    let n = shape.level_size(top - 2);
    if top == 2 {
        // A_0 = 1 for both levels and every segment.
        scratch.pair[..2 * P].fill([E::ONE; W]);
    } else {
        // Layout [w'][j][P, Q]: the loop below reads P_j[w'], Q_j[w'] of
        // all segments from consecutive entries. (As [j][P, Q][w'] they
        // were 4 KiB apart for d = 8, m = 4, all in one set of L1; no
        // measurable change at P <= 4, but a wider pass would miss there.)
        for (j, z) in zs.into_iter().enumerate() {
            let StepScratch { buf0, buf1, zc: heap, pair, .. } = &mut *scratch;
            let [heap_row] = heap_rows::<E, W, 1>(heap, d);
            let pq = &mut pair[2 * j..2 * P * n];
            horner_chain_into::<D, E, W, FMA>(dim, shape, state, z, top, top - 2, (&mut buf0[..], &mut buf1[..]), heap_row, pq, 2 * P);
            let pq = &mut pair[2 * j + 1..2 * P * n];
            horner_chain_into::<D, E, W, FMA>(dim, shape, state, z, top - 1, top - 2, (&mut buf0[..], &mut buf1[..]), heap_row, pq, 2 * P);
            mul_exp_step::<D, E, W, FMA>(dim, shape, state, z, 1.0, scratch, top - 2);
        }
    }
    let StepScratch { zc: heap, pair, .. } = &mut *scratch;
    let (lower, upper) = state.split_at_mut(shape.level_start(top));
    let below = &mut lower[shape.level(top - 1)];
    let level_top = &mut upper[..shape.level_size(top)];
    let pq = &pair[..2 * P * n];
    // z_j and z_j/2 of every segment, read through a closure so that the
    // loop below sees one base address: a local array when d is small (the
    // channel loops then index registers or one stack block; as 2P separate
    // row slices they were 2P base pointers, spilled at P = 8, and the
    // accumulation over j stayed rolled), else 2P heap rows of d.
    if d <= LOCAL_CHANNELS {
        let mut zl = Line([[[[E::ZERO; W]; LOCAL_CHANNELS]; 2]; P]);
        for (j, z) in zs.into_iter().enumerate() {
            for a in 0..d {
                zl.0[j][0][a] = z[a];
                zl.0[j][1][a] = lanes_scale(z[a], 0.5);
            }
        }
        top_two_levels::<D, E, W, FMA, P>(dim, n, pq, below, level_top, |j, half, a| zl.0[j][half as usize][a]);
    } else {
        let rows = &mut heap[..2 * P * d];
        for (j, z) in zs.into_iter().enumerate() {
            for a in 0..d {
                rows[2 * j * d + a] = z[a];
                rows[(2 * j + 1) * d + a] = lanes_scale(z[a], 0.5);
            }
        }
        let rows = &*rows;
        top_two_levels::<D, E, W, FMA, P>(dim, n, pq, below, level_top, |j, half, a| rows[(2 * j + half as usize) * d + a]);
    }
}

/// The register part of [`mul_exp_steps`]: for each prefix w' (`n` of them)
/// and letter b, advance S_{M-1}[w'b] (`below`) and the row S_M[w'b·]
/// (`level_top`) by the P segments, given P_j, Q_j (`pq`, layout
/// [w'][j][P, Q]) and `z(j, half, a)` = z_ja, or z_ja/2 when `half`.
#[inline(always)]
fn top_two_levels<D: Dim, E: Lane, const W: usize, const FMA: bool, const P: usize>(
    dim: D,
    n: usize,
    pq: &[[E; W]],
    below: &mut [[E; W]],
    level_top: &mut [[E; W]],
    z: impl Fn(usize, bool, usize) -> [E; W],
) {
    let d = dim.get();
    let (pq, below, level_top) = (&pq[..2 * P * n], &mut below[..n * d], &mut level_top[..n * d * d]);
    for wp in 0..n {
        let pw: [[E; W]; P] = std::array::from_fn(|j| pq[2 * (wp * P + j)]);
        let qw: [[E; W]; P] = std::array::from_fn(|j| pq[2 * (wp * P + j) + 1]);
        for b in 0..d {
            let w = wp * d + b;
            let mut s = below[w];
            let mut t = [[E::ZERO; W]; P];
            for j in 0..P {
                t[j] = lanes_fma::<E, W, FMA>(pw[j], z(j, true, b), s);
                s = lanes_fma::<E, W, FMA>(qw[j], z(j, false, b), s);
            }
            below[w] = s;
            let row = &mut level_top[w * d..w * d + d];
            for a in 0..d {
                let mut r = row[a];
                for j in 0..P {
                    r = lanes_fma::<E, W, FMA>(t[j], z(j, false, a), r);
                }
                row[a] = r;
            }
        }
    }
}

/// Reverse Horner layer i of level k: from `src` = Ā_{i+1} (n·d entries) and
/// `a_i` = A_i (n entries) compute `dst` = Ā_i, add it to the adjoint level i
/// (`adj`), and add `scale · Σ_w Ā_{i+1}[w a] A_i[w]` to `zbar[a]`.
/// `zc = z/(k-i)`, `scale = 1/(k-i)`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn horner_layer_backward<D: Dim, E: Lane, const W: usize, const FMA: bool>(
    dim: D,
    src: &[[E; W]],
    a_i: &[[E; W]],
    zc: &[[E; W]],
    scale: f64,
    dst: &mut [[E; W]],
    adj: &mut [[E; W]],
    zbar: &mut [[E; W]],
) {
    let d = dim.get();
    let n = a_i.len();
    let (src, zc, zbar) = (&src[..n * d], &zc[..d], &mut zbar[..d]);
    let (dst, adj) = (&mut dst[..n], &mut adj[..n]);
    for w in 0..n {
        let srow = &src[w * d..w * d + d];
        let mut acc = [E::ZERO; W];
        let aws = lanes_scale(a_i[w], scale);
        for a in 0..d {
            let g = srow[a];
            acc = lanes_fma::<E, W, FMA>(g, zc[a], acc);
            zbar[a] = lanes_fma::<E, W, FMA>(g, aws, zbar[a]);
        }
        dst[w] = acc;
        adj[w] = lanes_add(adj[w], acc);
    }
}

/// Reverse layer i = k-1 of level k, with A_{k-1} recomputed on the fly
/// instead of stored: for w = w' b, A_{k-1}[w] = A_{k-2}[w'] · z_b/2 + S_{k-1}[w]
/// (`cur` = A_{k-2}, or [1] for k = 2). From `src` = T̄_k computes `dst` =
/// Ā_{k-1}, adds it to `adj` (level k-1) and adds Σ_w T̄_k[w a] A_{k-1}[w] to
/// `zbar[a]` (scale 1/(k-(k-1)) = 1). `zc2 = z/2`, `z1 = z`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn horner_top_backward<D: Dim, E: Lane, const W: usize, const FMA: bool>(
    dim: D,
    src: &[[E; W]],
    cur: &[[E; W]],
    s_below: &[[E; W]],
    zc2: &[[E; W]],
    z1: &[[E; W]],
    dst: &mut [[E; W]],
    adj: &mut [[E; W]],
    zbar: &mut [[E; W]],
) {
    let d = dim.get();
    let n = cur.len();
    let (src, s_below, zc2, z1, zbar) = (&src[..n * d * d], &s_below[..n * d], &zc2[..d], &z1[..d], &mut zbar[..d]);
    let (dst, adj) = (&mut dst[..n * d], &mut adj[..n * d]);
    for (wp, cw) in cur.iter().enumerate() {
        let c = *cw;
        for b in 0..d {
            let w = wp * d + b;
            let aw = lanes_fma::<E, W, FMA>(c, zc2[b], s_below[w]);
            let srow = &src[w * d..w * d + d];
            let mut acc = [E::ZERO; W];
            for a in 0..d {
                let g = srow[a];
                acc = lanes_fma::<E, W, FMA>(g, z1[a], acc);
                zbar[a] = lanes_fma::<E, W, FMA>(g, aw, zbar[a]);
            }
            dst[w] = acc;
            adj[w] = lanes_add(adj[w], acc);
        }
    }
}

/// One reverse step for W lanes (see the module header): on entry `state` =
/// S^n and `adjoint` = ∂L/∂S^n; on exit `state` = S^{n-1}, `adjoint` =
/// ∂L/∂S^{n-1} (the part flowing through this segment) and `zbar` = ∂L/∂z_n
/// (`z` = z_n, d entries). Only levels 1..m-1 of `state` are used and
/// maintained (level m of any S^n never influences the gradient: it feeds
/// level m alone, linearly).
#[inline(always)]
pub(crate) fn mul_exp_backward_step<D: Dim, E: Lane, const W: usize, const FMA: bool>(
    dim: D,
    shape: &TensorShape,
    state: &mut [[E; W]],
    adjoint: &mut [[E; W]],
    z: &[[E; W]],
    zbar: &mut [[E; W]],
    scratch: &mut StepScratch<E, W>,
) {
    let d = dim.get();
    // Level m of S^{n-1} is never read below (the reverse step of level k
    // uses levels < k of S^{n-1}), so the undo stops at level m-1.
    mul_exp_step::<D, E, W, FMA>(dim, shape, state, z, -1.0, scratch, shape.depth() - 1);
    // Level 1: T_1 = z + S_1, so z̄ starts as T̄_1. The accumulators live in a
    // local array (registers) for the whole step.
    if d <= LOCAL_CHANNELS {
        let mut acc = local_copy(&adjoint[..d], d);
        reverse_levels::<D, E, W, FMA>(dim, shape, state, adjoint, z, &mut acc[..d], scratch);
        zbar[..d].copy_from_slice(&acc[..d]);
    } else {
        zbar[..d].copy_from_slice(&adjoint[..d]);
        reverse_levels::<D, E, W, FMA>(dim, shape, state, adjoint, z, zbar, scratch);
    }
}

/// Step 2 of the backward (module header) for levels k = 2..m, given S^{n-1}
/// (levels < m) in `state`; adds to `zbar`.
#[inline(always)]
fn reverse_levels<D: Dim, E: Lane, const W: usize, const FMA: bool>(
    dim: D,
    shape: &TensorShape,
    state: &[[E; W]],
    adjoint: &mut [[E; W]],
    z: &[[E; W]],
    zbar: &mut [[E; W]],
    scratch: &mut StepScratch<E, W>,
) {
    let d = dim.get();
    let StepScratch { buf0, buf1, horner, zc: heap, .. } = scratch;
    let [heap1, heap2, heap3] = heap_rows::<E, W, 3>(heap, d);
    let (mut l1, mut l2, mut l3) =
        ([[E::ZERO; W]; LOCAL_CHANNELS], [[E::ZERO; W]; LOCAL_CHANNELS], [[E::ZERO; W]; LOCAL_CHANNELS]);
    let z1 = scaled(z, 1.0, d, &mut l1, heap1);
    let zc2 = scaled(z, 0.5, d, &mut l2, heap2);
    for k in 2..=shape.depth() {
        // Recompute A_1..A_{k-2} of level k from S^{n-1}, each at its level's
        // offset in `horner` (A_{k-1} is formed on the fly by the first
        // reverse layer).
        if k >= 3 {
            let zk = scaled(z, 1.0 / k as f64, d, &mut l3, heap3);
            horner_first(dim, zk, &state[..d], &mut horner[..d]);
            for i in 1..k - 2 {
                let zc = scaled(z, 1.0 / (k - i) as f64, d, &mut l3, heap3);
                let (done, rest) = horner.split_at_mut(shape.level_start(i + 1));
                horner_layer::<D, E, W, FMA>(
                    dim,
                    &done[shape.level(i)],
                    zc,
                    &state[shape.level(i + 1)],
                    &mut rest[..shape.level_size(i + 1)],
                );
            }
        }
        // Reverse sweep i = k-1..1.
        let (adj_lower, adj_upper) = adjoint.split_at_mut(shape.level_start(k));
        let top = &adj_upper[..shape.level_size(k)];
        let mut cur: &mut [[E; W]] = &mut buf0[..];
        let mut next: &mut [[E; W]] = &mut buf1[..];
        let a_prev: &[[E; W]] = if k == 2 { &[[E::ONE; W]] } else { &horner[shape.level(k - 2)] };
        horner_top_backward::<D, E, W, FMA>(
            dim,
            top,
            a_prev,
            &state[shape.level(k - 1)],
            zc2,
            z1,
            &mut next[..shape.level_size(k - 1)],
            &mut adj_lower[shape.level(k - 1)],
            zbar,
        );
        std::mem::swap(&mut cur, &mut next);
        for i in (1..k - 1).rev() {
            let n_i = shape.level_size(i);
            let scale = 1.0 / (k - i) as f64;
            let zc = scaled(z, scale, d, &mut l3, heap3);
            horner_layer_backward::<D, E, W, FMA>(
                dim,
                &cur[..n_i * d],
                &horner[shape.level(i)],
                zc,
                scale,
                &mut next[..n_i],
                &mut adj_lower[shape.level(i)],
                zbar,
            );
            std::mem::swap(&mut cur, &mut next);
        }
        // A_1 = z/k + S_1: z̄ += Ā_1 / k (S̄_1 += Ā_1 was done above).
        let inv_k = 1.0 / k as f64;
        let (zb, a1) = (&mut zbar[..d], &cur[..d]);
        for a in 0..d {
            zb[a] = lanes_fma::<E, W, FMA>(a1[a], [E::from_f64(inv_k); W], zb[a]);
        }
    }
}
