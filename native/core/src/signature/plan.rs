//! How a call is cut into work: lanes per block, chunks per path, and
//! segments per pass of the forward sweep.
//!
//! Blocks of `lanes` tasks run in parallel on the sigvwap pool. With many
//! paths a task is a whole path. When there are too few paths to fill every
//! thread's SIMD lanes (batch < 2 · threads · lanes), each path is split along
//! its length into `chunks` runs of equal length; the chunk signatures are
//! glued with Chen's identity sig(x ⋆ y) = sig(x) ⊗ sig(y) (see `mod.rs`),
//! which costs ~ (m - 1) d^m per chunk, so chunks are kept >= `min_chunk`
//! segments long. `stream` outputs are never split.
//!
//! The plan depends on the number of pool threads, so results for different
//! thread counts agree to rounding, not bit for bit; for one thread count they
//! are deterministic.

use super::block::{Pass, Simd, Task, LANE_CHOICES};
use super::fill::Transpose;
use super::options::SigOptions;
use super::tensor::TensorShape;

/// Overrides of the automatic plan, for tests and benchmarks. The default
/// (`Tuning::default()`) lets the library decide.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tuning {
    /// Paths per SIMD block: 1, 2, 4, 8 or 16.
    pub lanes: Option<usize>,
    /// Chunks per path (>= 1; 1 disables splitting along the length). Capped
    /// at the number of segments; ignored with `stream`.
    pub chunks: Option<usize>,
    /// Instruction set (falls back to portable code when not available).
    pub simd: Option<Simd>,
    /// Pretend the pool has this many threads when planning.
    pub threads: Option<usize>,
    /// Segments the forward sweep advances per pass over the state: 1, 2, 4
    /// or 8 (others round down to one of these). Also applies to the forward
    /// sweep inside the backward (to depth m-1); the stream forward always
    /// takes 1 (it needs every prefix).
    pub segments_per_pass: Option<usize>,
    /// `Some(true)`: transpose increments into the kernels' layout lane by
    /// lane (the scalar gather) instead of with SIMD shuffles (`fill.rs`);
    /// results are bit-identical, for A/B timing and tests.
    pub scalar_fill: Option<bool>,
    /// Run the forward sweeps one first letter at a time with the state in
    /// registers (`by_letter.rs`) where the channel count and top level fit:
    /// `Some(true)` under any instruction set and lane count, `Some(false)`
    /// never; `None`: [`default_by_letter`]. Results are bit-identical either
    /// way (for A/B timing and tests).
    pub by_letter: Option<bool>,
    /// Whether the SIMD fill prefetches the next tile's rows (`fill.rs`);
    /// `None`: [`default_prefetch`]. Results are bit-identical either way.
    pub prefetch: Option<bool>,
}

/// Segments per pass the kernels are compiled for.
pub const SEGMENTS_PER_PASS_CHOICES: [usize; 4] = [1, 2, 4, 8];

/// Segments per pass over the state (`horner::mul_exp_steps`), for the top
/// level `top` of the sweep (m forward, m-1 for the backward's recompute).
/// Forward, from sigbench runs on two machines (2 threads, AVX-512, 8 float64
/// / 16 float32 lanes; `npm run bench:signature-sweep` reruns them):
/// * top level (d^m · lanes entries) past L1 (> 64 KiB): 8 per pass, an
///   eighth of the L2 traffic of one. Shape c (d = 8, m = 4), wall ms:
///   float64 5.2-5.3 at 8 vs 6.2-6.4 at 4 (57% vs 48% of the FMA peak;
///   AMD EPYC Zen 4, 2026-12-04, alternating runs), 10.6 vs 11.6 CPU ms
///   (Intel Emerald Rapids, 2026-12-03); float32 2.83-2.87 vs 2.89-2.92
///   (Zen 4), 5.4 vs 6.4 CPU ms (EMR). 8 per pass lost everywhere while the
///   2P scaled increments were separate row slices (2P base pointers,
///   spilled); they are one local array since, read through one closure.
///   16 per pass lost on c (12.3 ms vs 9.6 at 8, 1 thread, EMR): 8 is the
///   most compiled.
/// * state in L1, float64: 4 per pass (Zen 4, wall ms, three alternating
///   runs: shape a 1.32-1.51 at 4 vs 1.45-1.55 at 2, b 2.97-3.59 vs
///   3.53-3.68, d 12.0-13.5 vs 13.2-14.1, d = 2, m = 4 a tie; EMR the same
///   order); 8 lost on all of them (a: 1.85-2.03, d: 20-24).
/// * state in L1, float32: 2 per pass (Zen 4, three alternating runs:
///   shape d 6.6-6.8 at 2 vs 9.4-9.9 at 1 and 8.7-11.5 at 4; d = 2, m = 4
///   2.43-2.57 vs 2.76-3.10 at 1; a and b tied between 2 and 4).
/// * backward (its forward sweep and chunk signatures, to depth m-1): 2 once
///   the top level outgrows L1 (>= 2048 lane entries), else 1, as before
///   the sweep over this parameter (the backward met its targets).
pub(crate) fn default_segments_per_pass(shape: &TensorShape, lanes: usize, f32: bool, backward: bool) -> usize {
    let top = if backward { shape.depth() - 1 } else { shape.depth() };
    if top < 2 {
        return 1;
    }
    let entries = shape.level_size(top) * lanes;
    if backward {
        return if entries >= 2048 { 2 } else { 1 };
    }
    let bytes = entries * if f32 { 4 } else { 8 };
    if bytes > 64 << 10 {
        8
    } else if f32 {
        2
    } else {
        4
    }
}

/// Lanes per block, from the block-size sweep (`npm run
/// bench:signature-sweep`, CPU ms per call on the four benchmark shapes,
/// AVX-512, 2 threads; AVX2 measured the same ordering):
/// * siglen <= 4096 (the block's state, siglen · lanes entries, stays within
///   L1/L2): one 512-bit register per tensor entry, i.e. 8 float64 or 16
///   float32 lanes. Float64: 8 beat 4 by 10-25% (forward) and 15-35%
///   (backward, which used to prefer 4 lanes under AVX2) and tied 16; float32:
///   16 beat 8 by 20-35% both ways.
/// * 4096 < siglen <= 16384 (e.g. d = 8, m = 4): the state outgrows L1.
///   Forward: one register (8 float64 / 16 float32 lanes) with several
///   segments per pass ([`default_segments_per_pass`]): 4 lanes at 2 per pass, the
///   earlier choice, took 1.4x (float64) and 1.6x (float32) the CPU time
///   (sweep of 2026-12-02, shape c). Backward: 8 lanes, float64 and
///   float32. Float32 took 4 until the sweeps of 2026-12-03 (Intel Emerald
///   Rapids, CPU ms 20-22 at 8 vs 24-27 at 4) and 2026-12-04 (AMD EPYC Zen 4:
///   11.6 vs 15.3; wall 5.72-5.78 ms vs 7.54-7.64 in three alternating
///   sigbench runs) both put 8 ahead; 16 splits them (EMR 16-21, Zen 4 12.3).
///   The float32 forward stays at 16, though Zen 4 ran 8 faster (wall
///   2.35-2.38 ms vs 2.53-2.61, three alternating runs), because EMR ran 16
///   much faster (6.3 vs 9.7 CPU ms, 4 per pass).
/// * larger: 2 lanes (state of 16384 · 2 float64 = 256 KiB per block).
pub(crate) fn default_lanes(shape: &TensorShape, backward: bool, f32: bool) -> usize {
    let siglen = shape.siglen();
    if siglen > 16384 {
        2
    } else if siglen > 4096 && backward {
        8
    } else if f32 {
        16
    } else {
        8
    }
}

/// Whether the forward sweeps go one first letter at a time where the state
/// fits (`by_letter.rs`): with AVX-512 and one register per tensor entry
/// (lanes of at most 64 bytes), so that a letter's group (at most 16
/// entries) and the increments stay within the 32 vector registers. AVX2 has
/// 16, and the portable code 16 of 16 bytes: the group would spill. Measured
/// against the per-segment step (`sigbench --no-by-letter`, 2 threads,
/// AMD EPYC Zen 4, 2026-12-05, wall ms, alternating runs): shape a
/// (d = 3, m = 3) forward float64 0.61-0.70 vs 0.84-0.95, float32 0.35 vs
/// 0.49-0.55; d = 2, m = 4 forward float64 0.54-0.55 vs 1.10-1.13; the
/// backward, whose forward sweep to depth m-1 takes it: shape a 2.67-2.68
/// vs 2.89-2.95, b 7.0-7.4 vs 7.5-8.7 (float64), d 29.2-29.3 vs 32.0-33.4.
/// With the halved increments formed once per tile, pairs of first letters
/// for m = 4 and d = 4 at depth 3 (same machine and method): shape b
/// (d = 3, m = 4) forward float64 1.78-1.93 vs 2.32-2.38, shape d (d = 4,
/// m = 3) 7.6-8.1 vs 8.7-9.1.
pub(crate) fn default_by_letter(simd: Simd, lanes: usize, f32: bool) -> bool {
    simd == Simd::Avx512 && simd.available() && lanes * if f32 { 4 } else { 8 } <= simd.vector_bytes()
}

/// Whether the fill prefetches each row's next tile: where the paths
/// (`values` numbers) are unlikely to sit in the last-level cache. Measured
/// (`sigbench --prefetch` / `--no-prefetch`, 1 thread, AMD EPYC Zen 4 with
/// 32 MiB of L3, 2026-12-05, wall ms, alternating runs): shape d (10.2 M
/// float64 values, 82 MB) 15.1-15.6 with vs 16.2-16.5 without; shape a
/// (1.2 M values, 9.8 MB, in L3) 1.29-1.31 with vs 1.23-1.27 without (the
/// prefetches only cost instructions there).
pub(crate) fn default_prefetch(values: usize) -> bool {
    values > 4 << 20
}

/// Shortest chunk worth its glueing cost.
fn min_chunk(shape: &TensorShape) -> usize {
    (64 * shape.depth().saturating_sub(1)).max(64)
}

#[derive(Clone, Debug)]
pub(crate) struct Plan {
    pub lanes: usize,
    /// Float32 arithmetic (else float64), from the call's precision.
    pub f32: bool,
    pub chunks: usize,
    /// Segments per pass of the forward sweeps (1, 2, 4 or 8).
    pub per_pass: usize,
    /// Forward sweeps one first letter at a time where the state fits.
    pub by_letter: bool,
    pub simd: Simd,
    /// How full tiles of increments are transposed.
    pub transpose: Transpose,
    /// `batch · chunks` tasks, path-major: tasks of path b are `b·chunks ..`.
    pub tasks: Vec<Task>,
}

impl Plan {
    pub(crate) fn new(shape: &TensorShape, opts: &SigOptions, f32: bool, backward: bool, tuning: &Tuning) -> Plan {
        let (batch, segments, stream) = (opts.batch, opts.segments(), opts.stream);
        let lanes = match tuning.lanes {
            Some(l) if LANE_CHOICES.contains(&l) => l,
            Some(l) => LANE_CHOICES.iter().copied().filter(|&c| c <= l.max(1)).max().unwrap_or(1),
            None => default_lanes(shape, backward, f32),
        };
        let simd = tuning.simd.unwrap_or_else(Simd::detect);
        let per_pass = match tuning.segments_per_pass {
            Some(p) => SEGMENTS_PER_PASS_CHOICES.iter().copied().filter(|&c| c <= p.max(1)).max().unwrap_or(1),
            None => default_segments_per_pass(shape, lanes, f32, backward),
        };
        let threads = tuning.threads.unwrap_or_else(crate::pool::threads).max(1);
        let chunks = if stream || segments == 0 {
            1
        } else {
            match tuning.chunks {
                Some(c) => c.clamp(1, segments),
                None => {
                    let want_tasks = 2 * threads * lanes;
                    if batch >= want_tasks {
                        1
                    } else {
                        let by_work = want_tasks.div_ceil(batch.max(1));
                        let by_length = (segments / min_chunk(shape)).max(1);
                        by_work.min(by_length)
                    }
                }
            }
        };
        // Equal chunks (the last possibly shorter), none empty.
        let chunk_len = segments.div_ceil(chunks).max(1);
        let chunks = if segments == 0 { 1 } else { segments.div_ceil(chunk_len) };
        let mut tasks = Vec::with_capacity(batch * chunks);
        for b in 0..batch {
            for c in 0..chunks {
                let first = 1 + c * chunk_len;
                let count = if segments == 0 { 0 } else { chunk_len.min(segments + 1 - first) };
                tasks.push(Task { batch_index: b, first, count });
            }
        }
        let prefetch = tuning.prefetch.unwrap_or_else(|| default_prefetch(batch * opts.length * opts.channels));
        let transpose = Transpose::new(simd, tuning.scalar_fill == Some(true), prefetch);
        let by_letter = tuning.by_letter.unwrap_or_else(|| default_by_letter(simd, lanes, f32));
        Plan { lanes, f32, chunks, per_pass, by_letter, simd, transpose, tasks }
    }

    /// How the forward sweeps advance.
    pub(crate) fn pass(&self) -> Pass {
        Pass { per_pass: self.per_pass, by_letter: self.by_letter }
    }
}
