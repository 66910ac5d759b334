//! Element-wise, copy and reduction kernels of the `sigvwap` tfjs backend on
//! f32 tensors (row-major, dense, shapes as integer lists):
//!   `binary`   a ∘ b with numpy/tfjs broadcasting (add, sub, mul, div, max, min)
//!   `unary`    activations and maps (sigmoid, tanh, relu, exp, neg, abs, square)
//!   `strided`  a copy between two strided views: Transpose, Slice, Concat,
//!              Pad, Split and Unpack are all this one loop
//!   `reduce`   sum / mean / max over the middle axis of an [outer, n, inner]
//!              view, and the row softmax
//! Each file holds its kernel, the plain reference the tests compare it with,
//! and its cost. Values are not checked for finiteness: NaN propagates as in
//! tfjs. Shapes are checked (ERR_SHAPE / ERR_ARG naming the argument).
//! One thread: at training sizes (10⁴–10⁵ values) these ops are memory-bound
//! and finish in microseconds, below what waking the pool costs.

pub mod binary;
pub mod reduce;
pub mod strided;
pub mod unary;

use crate::error::{CoreError, CoreResult};

/// Element count of `shape`, ERR_ARG naming `name` on overflow.
pub fn size_of(name: &str, shape: &[usize]) -> CoreResult<usize> {
    shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| CoreError::arg(name, format!("shape {shape:?} overflows")))
}

/// ERR_SHAPE unless `len` equals the size of `shape`.
pub fn check_len(name: &str, len: usize, shape: &[usize]) -> CoreResult<()> {
    let want = size_of(name, shape)?;
    if len != want {
        return Err(CoreError::shape(name, want, len, &format!("shape {shape:?}")));
    }
    Ok(())
}

/// Most dimensions a shape may have (tfjs tensors rarely exceed 6).
pub const MAX_RANK: usize = 8;

pub fn check_rank(name: &str, rank: usize) -> CoreResult<()> {
    if rank > MAX_RANK {
        return Err(CoreError::arg(name, format!("rank {rank} exceeds {MAX_RANK}")));
    }
    Ok(())
}
