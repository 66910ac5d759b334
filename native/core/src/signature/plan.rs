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

use super::block::{Simd, Task, LANE_CHOICES};
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
    /// Segments the forward sweep advances per pass over the state: 1, 2 or
    /// 4 (others round down to one of these). Also applies to the forward
    /// sweep inside the backward (to depth m-1); the stream forward always
    /// takes 1 (it needs every prefix).
    pub segments_per_pass: Option<usize>,
    /// `Some(true)`: transpose increments into the kernels' layout lane by
    /// lane (the scalar gather) instead of with SIMD shuffles (`fill.rs`);
    /// results are bit-identical, for A/B timing and tests.
    pub scalar_fill: Option<bool>,
}

/// Segments per pass the kernels are compiled for.
pub const SEGMENTS_PER_PASS_CHOICES: [usize; 3] = [1, 2, 4];

/// Segments per pass over the state (`horner::mul_exp_steps`), for the top
/// level `top` of the sweep (m forward, m-1 for the backward's recompute),
/// from the sweep over segments per pass (`npm run bench:signature-sweep`,
/// CPU ms per call, AVX-512, 2 threads, 2026-12-02):
/// * forward, top level (d^m · lanes entries) past L1 (> 64 KiB): 4 per pass,
///   a quarter of the L2 traffic of one (shape c, d = 8, m = 4: 8 float64
///   lanes 16.7 ms at 4 per pass, 29 at 1; 16 float32 lanes 8.1 at 4, 15 at 1).
/// * forward, state in L1: 2 per pass for float64 (8-15% less than 1 on
///   shapes a and d, a tie on b; the single step does one load and one store
///   per multiply-add of the top level), 1 for float32 (2 and 4 tied or lost,
///   up to 25% on shape d) except with 3 channels: 2 (sigbench after the
///   SIMD fill, `fill.rs`: 1 thread, 16 lanes, wall ms, medians of 31 over
///   three alternating runs, load ~4.7 on 2 cores, 2026-12-03: shape a
///   1.37-1.41 at 1 -> 1.24-1.34 at 2, b 3.47-4.10 -> 2.90-2.92, d = 3,
///   m = 5 10.5 -> 8.8; with 2 channels 2 per pass lost: 0.64-0.89 -> 1.02
///   at m = 3, 2.6-3.4 -> 3.5 at m = 5).
/// * 8 per pass (tried 2026-12-03 with `MAX_SEGMENTS_PER_PASS` raised to 8;
///   sigbench `--sweep --sweep-per-pass 2,4,8`, AVX-512, 2 threads, forward
///   CPU ms, 8 f64 / 16 f32 lanes) lost to the choice above on every shape:
///   c f64 13.8 vs 10.7 at 4, c f32 8.1 vs 5.9, a f64 2.7 vs 2.1, d f32 15.3
///   vs 11.5 (the P partial products and P·d scaled increments no longer fit
///   the 32 vector registers), so 4 stays the most per pass.
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
        4
    } else if f32 && shape.channels() != 3 {
        1
    } else {
        2
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
///   Forward: one register (8 float64 / 16 float32 lanes) with 4 segments
///   per pass ([`default_segments_per_pass`]): 4 lanes at 2 per pass, the
///   earlier choice, took 1.4x (float64) and 1.6x (float32) the CPU time
///   (sweep of 2026-12-02, shape c). Backward: 8 float64 / 4 float32 lanes
///   (best by 10-20%).
/// * larger: 2 lanes (state of 16384 · 2 float64 = 256 KiB per block).
pub(crate) fn default_lanes(shape: &TensorShape, backward: bool, f32: bool) -> usize {
    let siglen = shape.siglen();
    if siglen > 16384 {
        2
    } else if siglen > 4096 && backward {
        if f32 { 4 } else { 8 }
    } else if f32 {
        16
    } else {
        8
    }
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
    /// Segments per pass of the forward sweeps (1, 2 or 4).
    pub per_pass: usize,
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
        let transpose = Transpose::new(simd, tuning.scalar_fill == Some(true));
        Plan { lanes, f32, chunks, per_pass, simd, transpose, tasks }
    }
}
