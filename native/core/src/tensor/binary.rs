//! out = a ∘ b with broadcasting (numpy/tfjs rules: shapes aligned at the
//! right, a dimension of 1 repeats). Layout: row-major; out has the broadcast
//! shape. Cost: one pass over out; the innermost dimension runs as a
//! contiguous loop (both operands contiguous, or one of them repeated), which
//! the compiler vectorizes. Division follows IEEE (x/0 = ±Inf or NaN), as tfjs.

use super::{check_len, check_rank, size_of};
use crate::error::{CoreError, CoreResult};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    Max,
    Min,
}

impl BinaryOp {
    pub fn parse(name: &str) -> CoreResult<Self> {
        Ok(match name {
            "add" => BinaryOp::Add,
            "sub" => BinaryOp::Sub,
            "mul" => BinaryOp::Mul,
            "div" => BinaryOp::Div,
            "max" => BinaryOp::Max,
            "min" => BinaryOp::Min,
            o => return Err(CoreError::arg("op", format!("must be one of 'add', 'sub', 'mul', 'div', 'max', 'min', got '{o}'"))),
        })
    }

    /// The specification of one element. Max/min propagate NaN like tfjs (Math.max).
    #[inline(always)]
    pub fn apply(self, x: f32, y: f32) -> f32 {
        match self {
            BinaryOp::Add => x + y,
            BinaryOp::Sub => x - y,
            BinaryOp::Mul => x * y,
            BinaryOp::Div => x / y,
            BinaryOp::Max => {
                if x.is_nan() || y.is_nan() {
                    f32::NAN
                } else {
                    x.max(y)
                }
            }
            BinaryOp::Min => {
                if x.is_nan() || y.is_nan() {
                    f32::NAN
                } else {
                    x.min(y)
                }
            }
        }
    }
}

/// The broadcast shape of a and b, ERR_SHAPE naming b when they do not broadcast.
pub fn broadcast_shape(a: &[usize], b: &[usize]) -> CoreResult<Vec<usize>> {
    let rank = a.len().max(b.len());
    let mut out = vec![0; rank];
    for i in 0..rank {
        let da = if i + a.len() >= rank { a[i + a.len() - rank] } else { 1 };
        let db = if i + b.len() >= rank { b[i + b.len() - rank] } else { 1 };
        out[i] = if da == db || db == 1 {
            da
        } else if da == 1 {
            db
        } else {
            return Err(CoreError::new(crate::ErrorCode::Shape, format!("b: shape {b:?} does not broadcast with a's {a:?}")).with("argument", "b"));
        };
    }
    Ok(out)
}

/// Strides of `shape` (row-major) aligned to `rank` dims, 0 where it broadcasts.
fn broadcast_strides(shape: &[usize], out: &[usize]) -> Vec<usize> {
    let rank = out.len();
    let mut strides = vec![0; rank];
    let mut s = 1;
    for i in (0..shape.len()).rev() {
        let o = i + rank - shape.len();
        strides[o] = if shape[i] == 1 && out[o] != 1 { 0 } else { s };
        s *= shape[i];
    }
    strides
}

/// Check lengths and shapes; the output shape.
pub fn check(a_len: usize, a_shape: &[usize], b_len: usize, b_shape: &[usize], out_len: usize) -> CoreResult<Vec<usize>> {
    check_rank("aShape", a_shape.len())?;
    check_rank("bShape", b_shape.len())?;
    check_len("a", a_len, a_shape)?;
    check_len("b", b_len, b_shape)?;
    let shape = broadcast_shape(a_shape, b_shape)?;
    check_len("out", out_len, &shape)?;
    Ok(shape)
}

#[inline(always)]
fn inner(op: BinaryOp, a: &[f32], sa: usize, b: &[f32], sb: usize, out: &mut [f32]) {
    // specialized so that each loop vectorizes
    macro_rules! run {
        ($f:expr) => {
            match (sa, sb) {
                (1, 1) => out.iter_mut().zip(a).zip(b).for_each(|((o, &x), &y)| *o = $f(x, y)),
                (1, 0) => {
                    let y = b[0];
                    out.iter_mut().zip(a).for_each(|(o, &x)| *o = $f(x, y))
                }
                (0, 1) => {
                    let x = a[0];
                    out.iter_mut().zip(b).for_each(|(o, &y)| *o = $f(x, y))
                }
                _ => {
                    let (x, y) = (a[0], b[0]);
                    out.fill($f(x, y))
                }
            }
        };
    }
    match op {
        BinaryOp::Add => run!(|x: f32, y: f32| x + y),
        BinaryOp::Sub => run!(|x: f32, y: f32| x - y),
        BinaryOp::Mul => run!(|x: f32, y: f32| x * y),
        BinaryOp::Div => run!(|x: f32, y: f32| x / y),
        BinaryOp::Max => run!(|x: f32, y: f32| BinaryOp::Max.apply(x, y)),
        BinaryOp::Min => run!(|x: f32, y: f32| BinaryOp::Min.apply(x, y)),
    }
}

/// out = a ∘ b (broadcast); shapes checked.
pub fn binary(op: BinaryOp, a: &[f32], a_shape: &[usize], b: &[f32], b_shape: &[usize], out: &mut [f32]) -> CoreResult<()> {
    let shape = check(a.len(), a_shape, b.len(), b_shape, out.len())?;
    let n = size_of("out", &shape)?;
    if n == 0 {
        return Ok(());
    }
    if shape.is_empty() {
        out[0] = op.apply(a[0], b[0]);
        return Ok(());
    }
    let rank = shape.len();
    let sa = broadcast_strides(a_shape, &shape);
    let sb = broadcast_strides(b_shape, &shape);
    let last = shape[rank - 1];
    let (ia, ib) = (sa[rank - 1], sb[rank - 1]);
    // odometer over the outer dims; offsets into a and b follow their strides
    let mut idx = vec![0usize; rank - 1];
    let (mut oa, mut ob) = (0usize, 0usize);
    for row in out.chunks_exact_mut(last) {
        let la = if ia == 0 { 1 } else { last };
        let lb = if ib == 0 { 1 } else { last };
        inner(op, &a[oa..oa + la], ia, &b[ob..ob + lb], ib, row);
        for d in (0..rank - 1).rev() {
            idx[d] += 1;
            oa += sa[d];
            ob += sb[d];
            if idx[d] < shape[d] {
                break;
            }
            oa -= sa[d] * shape[d];
            ob -= sb[d] * shape[d];
            idx[d] = 0;
        }
    }
    Ok(())
}

/// The specification: per output element, its broadcast source indices.
pub fn reference(op: BinaryOp, a: &[f32], a_shape: &[usize], b: &[f32], b_shape: &[usize]) -> Vec<f32> {
    let shape = broadcast_shape(a_shape, b_shape).unwrap();
    let n: usize = shape.iter().product();
    let rank = shape.len();
    let index = |src: &[usize], flat: usize| {
        let mut rem = flat;
        let mut coords = vec![0; rank];
        for d in (0..rank).rev() {
            coords[d] = rem % shape[d];
            rem /= shape[d];
        }
        let mut off = 0;
        for (i, &dim) in src.iter().enumerate() {
            let c = coords[i + rank - src.len()];
            off = off * dim + if dim == 1 { 0 } else { c };
        }
        off
    };
    (0..n).map(|i| op.apply(a[index(a_shape, i)], b[index(b_shape, i)])).collect()
}
