//! A copy between two strided views of the same shape:
//!   dst[dst_offset + Σ i_d·dst_strides_d] = src[src_offset + Σ i_d·src_strides_d]
//! for every index i of `shape`. Transpose (permuted source strides), Slice
//! (offset source), Concat and Pad (offset destination), Split and Unpack
//! (several slices) are this one loop. Strides count elements and may be any
//! non-negative values; every index reached is checked to lie inside its
//! array before anything is copied (ERR_SHAPE naming the array), so a bad
//! view is an error, never an out-of-bounds access. Overlapping src and dst
//! cannot occur (distinct borrows). Cost: one pass over `shape`; when both
//! innermost strides are 1 the innermost dimension is one memcpy.

use super::{check_rank, size_of};
use crate::error::{CoreError, CoreResult};

/// A strided view: first element and the step of each dimension (elements).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct View {
    pub offset: usize,
    pub strides: Vec<usize>,
}

/// Largest index the view reaches for `shape` (None when the shape is empty).
fn last_index(name: &str, v: &View, shape: &[usize]) -> CoreResult<Option<usize>> {
    if shape.iter().any(|&d| d == 0) {
        return Ok(None);
    }
    let mut last = v.offset;
    for (&d, &s) in shape.iter().zip(&v.strides) {
        last = (d - 1)
            .checked_mul(s)
            .and_then(|x| x.checked_add(last))
            .ok_or_else(|| CoreError::arg(name, "strides overflow"))?;
    }
    Ok(Some(last))
}

pub fn check(shape: &[usize], src_len: usize, src: &View, dst_len: usize, dst: &View) -> CoreResult<()> {
    check_rank("shape", shape.len())?;
    size_of("shape", shape)?;
    for (name, v, len) in [("src", src, src_len), ("dst", dst, dst_len)] {
        if v.strides.len() != shape.len() {
            return Err(CoreError::arg(
                if name == "src" { "srcStrides" } else { "dstStrides" },
                format!("expected {} strides (the rank of shape), got {}", shape.len(), v.strides.len()),
            ));
        }
        if let Some(last) = last_index(name, v, shape)? {
            if last >= len {
                return Err(CoreError::new(
                    crate::ErrorCode::Shape,
                    format!("{name}: the view reaches index {last}, the array has {len} elements"),
                )
                .with("argument", name)
                .with("index", last)
                .with("got", len));
            }
        }
    }
    Ok(())
}

pub fn copy(shape: &[usize], src: &[f32], sv: &View, dst: &mut [f32], dv: &View) -> CoreResult<()> {
    check(shape, src.len(), sv, dst.len(), dv)?;
    if shape.iter().any(|&d| d == 0) {
        return Ok(());
    }
    if shape.is_empty() {
        dst[dv.offset] = src[sv.offset];
        return Ok(());
    }
    let rank = shape.len();
    let last = shape[rank - 1];
    let (ss, ds) = (sv.strides[rank - 1], dv.strides[rank - 1]);
    let outer: usize = shape[..rank - 1].iter().product();
    let mut idx = vec![0usize; rank - 1];
    let (mut so, mut d_o) = (sv.offset, dv.offset);
    for _ in 0..outer {
        if ss == 1 && ds == 1 {
            dst[d_o..d_o + last].copy_from_slice(&src[so..so + last]);
        } else {
            for j in 0..last {
                dst[d_o + j * ds] = src[so + j * ss];
            }
        }
        for d in (0..rank - 1).rev() {
            idx[d] += 1;
            so += sv.strides[d];
            d_o += dv.strides[d];
            if idx[d] < shape[d] {
                break;
            }
            so -= sv.strides[d] * shape[d];
            d_o -= dv.strides[d] * shape[d];
            idx[d] = 0;
        }
    }
    Ok(())
}

/// The specification: per flat index of `shape`, its coordinates and both offsets.
pub fn reference(shape: &[usize], src: &[f32], sv: &View, dst: &mut [f32], dv: &View) {
    let n: usize = shape.iter().product();
    for flat in 0..n {
        let mut rem = flat;
        let (mut so, mut d_o) = (sv.offset, dv.offset);
        for d in (0..shape.len()).rev() {
            let c = rem % shape[d];
            rem /= shape[d];
            so += c * sv.strides[d];
            d_o += c * dv.strides[d];
        }
        dst[d_o] = src[so];
    }
}
