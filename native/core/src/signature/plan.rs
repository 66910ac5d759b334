//! How a call is cut into work: lanes per block and chunks per path.
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
}

/// Lanes per block, for float64 arithmetic: 8 paths while a block's state
/// (8 · siglen doubles, plus the adjoint in the backward) stays well inside
/// L2; fewer above. The backward keeps more values live per channel (z, z/2
/// and the z̄ accumulators, 3 · d · W/4 vector registers), so from d = 3 on
/// it runs 4 lanes, which measured 7-18% faster there (and the forward 5-15%
/// slower). Float32 arithmetic runs twice the lanes at the same number of
/// bytes per block and per register (16 = one 512-bit or two 256-bit
/// registers), except where the block's state would outgrow L2.
pub(crate) fn default_lanes(shape: &TensorShape, backward: bool, f32: bool) -> usize {
    let siglen = shape.siglen();
    let lanes64 = if siglen > 16384 {
        2
    } else if siglen > 4096 || (backward && shape.channels() >= 3) {
        4
    } else {
        8
    };
    if f32 { (2 * lanes64).min(16) } else { lanes64 }
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
    pub simd: Simd,
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
        Plan { lanes, f32, chunks, simd, tasks }
    }
}
