//! Batched f32 matrix product with a fused epilogue (bias, activation): the
//! MatMul / BatchMatMul / _FusedMatMul kernels of the `sigvwap` tfjs backend.
//!
//! Math, per batch entry i in 0..max(batch_a, batch_b):
//!   out_i = act(op(A_i) · op(B_i) + bias),  op(X) = Xᵀ when transposed,
//!   A_i = A[i mod batch_a], B_i = B[i mod batch_b] (a batch of 1 broadcasts).
//!   Activations as tfjs defines them: linear x, relu max(x, 0), relu6
//!   min(max(x, 0), 6), sigmoid 1/(1 + e^-x) (evaluated in f64 like the tfjs
//!   CPU backend), elu (x ≥ 0 ? x : e^x - 1), leakyrelu (x < 0 ? αx : x).
//! Layout: row-major. A is [batch_a, m, k] ([batch_a, k, m] when transposed),
//!   B is [batch_b, k, n] ([batch_b, n, k] when transposed), out is
//!   [batch, m, n], bias (optional) has n values added to every row.
//!   Only batch_a = batch_b or a batch of 1 is accepted: that is every case
//!   where tfjs' flattened batch index (i mod batch) equals true broadcasting;
//!   the TypeScript backend sends other shapes to the tfjs kernel.
//! Values are not checked for finiteness: a backend kernel propagates NaN like
//!   tfjs does (the model's loss is checked by training instead).
//! Cost: batch·m·n·k multiply-adds on the `gemm` crate's packed AVX2/AVX-512
//!   micro-kernels (f32 accumulation), plus batch·m·n for the epilogue.
//!   Threads: see `cpu.rs`.
//!
//! Module map: `cpu` (the kernel on `gemm`, and its plain `reference`, the
//! specification the tests compare it with), `cuda` (feature `cuda`: the
//! product on cuBLAS, the epilogue in kernels/matmul.cu). [`matmul`] is the
//! CPU kernel (the tfjs backend's); [`matmul_on`] dispatches to a resolved
//! device (resolve with `device::resolve_blas`: the CUDA path needs cuBLAS).

mod cpu;
#[cfg(feature = "cuda")]
mod cuda;

use crate::device::{cuda_only, Device};
use crate::error::{CoreError, CoreResult};

pub use cpu::{matmul_into, reference, INLINE_MACS};
pub(crate) use cpu::matmul_serial_into;

/// One row-major product `C[m×n] = op(A)·op(B) + beta·C` as a device call
/// sees it: A stored [m, k] ([k, m] when `ta`) with row stride `lda`, B
/// [k, n] ([n, k] when `tb`) with `ldb`, C [m, n] with `ldc` (strides in
/// elements). The cuBLAS wrapper (`cuda::blas`) and the LSTM's device plan
/// (`lstm::steps`) both describe their products with it.
#[cfg(any(feature = "cuda", test))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RowMajor {
    pub m: usize,
    pub n: usize,
    pub k: usize,
    pub ta: bool,
    pub tb: bool,
    pub lda: usize,
    pub ldb: usize,
    pub ldc: usize,
}

#[cfg(any(feature = "cuda", test))]
impl RowMajor {
    /// Densely stored operands (row strides equal to the stored widths).
    pub fn dense(m: usize, n: usize, k: usize, ta: bool, tb: bool) -> Self {
        RowMajor { m, n, k, ta, tb, lda: if ta { m } else { k }, ldb: if tb { k } else { n }, ldc: n }
    }
}

/// The activation of the epilogue (tfjs `Activation` names).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Activation {
    Linear,
    Relu,
    Relu6,
    Sigmoid,
    Elu,
    LeakyRelu(f32),
}

impl Activation {
    /// Parse a tfjs activation name; `alpha` is leakyrelu's slope (tfjs default 0.2).
    pub fn parse(name: &str, alpha: Option<f64>) -> CoreResult<Self> {
        Ok(match name {
            "linear" => Activation::Linear,
            "relu" => Activation::Relu,
            "relu6" => Activation::Relu6,
            "sigmoid" => Activation::Sigmoid,
            "elu" => Activation::Elu,
            "leakyrelu" => {
                let a = alpha.unwrap_or(0.2);
                if !a.is_finite() {
                    return Err(CoreError::arg("leakyreluAlpha", format!("must be a finite number, got {a}")));
                }
                Activation::LeakyRelu(a as f32)
            }
            other => {
                return Err(CoreError::arg(
                    "activation",
                    format!("must be one of 'linear', 'relu', 'relu6', 'sigmoid', 'elu', 'leakyrelu', got '{other}'"),
                ))
            }
        })
    }

    /// The activation of one value (the specification).
    #[inline(always)]
    pub fn apply(self, x: f32) -> f32 {
        match self {
            Activation::Linear => x,
            Activation::Relu => {
                if x < 0.0 {
                    0.0
                } else {
                    x
                }
            }
            Activation::Relu6 => x.clamp(0.0, 6.0),
            // f64 like tfjs-backend-cpu (Math.exp), rounded once to f32
            Activation::Sigmoid => (1.0 / (1.0 + (-(x as f64)).exp())) as f32,
            Activation::Elu => {
                if x >= 0.0 {
                    x
                } else {
                    ((x as f64).exp() - 1.0) as f32
                }
            }
            Activation::LeakyRelu(a) => {
                if x < 0.0 {
                    a * x
                } else {
                    x
                }
            }
        }
    }
}

/// Sizes of one batched product (see the module header for the layout).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MatmulShape {
    pub batch_a: usize,
    pub batch_b: usize,
    pub m: usize,
    pub k: usize,
    pub n: usize,
    pub transpose_a: bool,
    pub transpose_b: bool,
}

/// Element counts of A, B and out, checked against overflow and broadcasting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MatmulSizes {
    pub batch: usize,
    pub a: usize,
    pub b: usize,
    pub out: usize,
}

fn mul(name: &str, xs: &[usize]) -> CoreResult<usize> {
    xs.iter()
        .try_fold(1usize, |acc, &x| acc.checked_mul(x))
        .ok_or_else(|| CoreError::arg(name, format!("size {xs:?} overflows")))
}

impl MatmulShape {
    pub fn sizes(&self) -> CoreResult<MatmulSizes> {
        let (ba, bb) = (self.batch_a, self.batch_b);
        if !(ba == bb || ba == 1 || bb == 1) {
            return Err(CoreError::arg(
                "batchB",
                format!("batch sizes {ba} and {bb} do not broadcast (equal, or one of them 1)"),
            )
            .with("batchA", ba)
            .with("batchB", bb));
        }
        if ba == 0 || bb == 0 {
            return Err(CoreError::arg(if ba == 0 { "batchA" } else { "batchB" }, "must be at least 1"));
        }
        let batch = ba.max(bb);
        Ok(MatmulSizes {
            batch,
            a: mul("a", &[ba, self.m, self.k])?,
            b: mul("b", &[bb, self.k, self.n])?,
            out: mul("out", &[batch, self.m, self.n])?,
        })
    }

    fn layout(&self) -> String {
        let (m, k, n) = (self.m, self.k, self.n);
        let a = if self.transpose_a { format!("[{}, {k}, {m}]", self.batch_a) } else { format!("[{}, {m}, {k}]", self.batch_a) };
        let b = if self.transpose_b { format!("[{}, {n}, {k}]", self.batch_b) } else { format!("[{}, {k}, {n}]", self.batch_b) };
        format!("a {a}, b {b}")
    }
}

/// Check the lengths of every array against `shape`; ERR_SHAPE names the array.
pub fn check(shape: &MatmulShape, a: usize, b: usize, bias: Option<usize>, out: usize) -> CoreResult<MatmulSizes> {
    let s = shape.sizes()?;
    let layout = shape.layout();
    if a != s.a {
        return Err(CoreError::shape("a", s.a, a, &layout));
    }
    if b != s.b {
        return Err(CoreError::shape("b", s.b, b, &layout));
    }
    if let Some(len) = bias {
        if len != shape.n {
            return Err(CoreError::shape("bias", shape.n, len, &format!("[n={}], added to every row", shape.n)));
        }
    }
    if out != s.out {
        return Err(CoreError::shape("out", s.out, out, &format!("[{}, {}, {}]", s.batch, shape.m, shape.n)));
    }
    Ok(s)
}

/// `out = act(op(A)·op(B) + bias)` for every batch entry; `out` is overwritten.
pub fn matmul(
    a: &[f32],
    b: &[f32],
    bias: Option<&[f32]>,
    act: Activation,
    shape: &MatmulShape,
    out: &mut [f32],
) -> CoreResult<()> {
    let sizes = check(shape, a.len(), b.len(), bias.map(|x| x.len()), out.len())?;
    matmul_into(a, b, bias, act, shape, sizes.batch, out);
    Ok(())
}

/// [`matmul`] on `device`. CUDA runs the product on cuBLAS (f32, no TF32) and
/// the epilogue as a kernel: results agree with the CPU to f32 rounding of
/// the k-term sums (both accumulate in f32, in different orders). Without a
/// GPU or libcublas, or in a build without the `cuda` feature,
/// `Device::Cuda` is ERR_CUDA_UNAVAILABLE with the reason.
pub fn matmul_on(
    device: Device,
    a: &[f32],
    b: &[f32],
    bias: Option<&[f32]>,
    act: Activation,
    shape: &MatmulShape,
    out: &mut [f32],
) -> CoreResult<()> {
    let sizes = check(shape, a.len(), b.len(), bias.map(|x| x.len()), out.len())?;
    match device {
        Device::Cpu => {
            matmul_into(a, b, bias, act, shape, sizes.batch, out);
            Ok(())
        }
        Device::Cuda => cuda_only!(cuda::matmul(a, b, bias, act, shape, sizes.batch, out)),
    }
}
