//! `Lane`: the arithmetic type of the block kernels (f32 or f64), which is
//! independent of the element type of the caller's arrays.
//!
//! The kernels hold a block of `W` paths as `[E; W]` per tensor entry; with
//! `E = f32` a 512-bit register holds 16 lanes instead of 8, so the same
//! multiply-adds take half the instructions and the state half the cache.
//! Increments are always formed in float64 from the points (the difference
//! of two float32 points is exact there) and then rounded once to `E`;
//! results are rounded once from `E` to the output type. Which `E` a call
//! uses is its [`Precision`].
//!
//! Cost: none at run time (every method is a single instruction or inlined).

use std::fmt::Debug;
use std::ops::{Add, Mul, Neg, Sub};

use crate::real::FloatsMut;

/// Arithmetic type of the kernels: f32 or f64.
pub(crate) trait Lane:
    Copy + Debug + Default + PartialEq + Send + Sync + 'static + Add<Output = Self> + Sub<Output = Self> + Mul<Output = Self> + Neg<Output = Self>
{
    const ZERO: Self;
    const ONE: Self;
    fn from_f64(v: f64) -> Self;
    fn to_f64(self) -> f64;
    /// `self * b + c` in one rounding (a libm call unless compiled with FMA:
    /// callers use it only in kernels compiled with the feature).
    fn mul_add(self, b: Self, c: Self) -> Self;
    fn is_finite(self) -> bool;
    /// `s` with its type named (for code specialised by type, `fill.rs`).
    fn floats_mut(s: &mut [Self]) -> FloatsMut<'_>;
}

impl Lane for f64 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
    #[inline(always)]
    fn from_f64(v: f64) -> Self {
        v
    }
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self
    }
    #[inline(always)]
    fn mul_add(self, b: Self, c: Self) -> Self {
        f64::mul_add(self, b, c)
    }
    #[inline(always)]
    fn is_finite(self) -> bool {
        f64::is_finite(self)
    }
    fn floats_mut(s: &mut [Self]) -> FloatsMut<'_> {
        FloatsMut::F64(s)
    }
}

impl Lane for f32 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
    #[inline(always)]
    fn from_f64(v: f64) -> Self {
        v as f32
    }
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self as f64
    }
    #[inline(always)]
    fn mul_add(self, b: Self, c: Self) -> Self {
        f32::mul_add(self, b, c)
    }
    #[inline(always)]
    fn is_finite(self) -> bool {
        f32::is_finite(self)
    }
    fn floats_mut(s: &mut [Self]) -> FloatsMut<'_> {
        FloatsMut::F32(s)
    }
}

/// Arithmetic precision of a signature call on the CPU.
///
/// * [`Precision::Auto`] (the default): the element type of `path`, i.e.
///   float32 lanes for float32 paths (twice the SIMD width of float64, half
///   the cache footprint) and float64 lanes for float64 paths.
/// * [`Precision::F64`]: float64 lanes whatever the element type (the
///   engine's behaviour before float32 arithmetic existed; ~1e-16 relative
///   rounding per operation instead of ~6e-8).
/// * [`Precision::F32`]: float32 lanes whatever the element type (for
///   float64 paths that only need float32 accuracy).
///
/// In every case increments are formed in float64 from the points, so a
/// path with a large offset and small moves loses nothing in the difference.
/// The CUDA kernels ignore it (they compute in the element type).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Precision {
    #[default]
    Auto,
    F32,
    F64,
}

impl Precision {
    /// Parse the option's string form (`"auto"`, `"f32"`, `"f64"`).
    pub fn parse(s: &str) -> Option<Precision> {
        match s {
            "auto" => Some(Precision::Auto),
            "f32" => Some(Precision::F32),
            "f64" => Some(Precision::F64),
            _ => None,
        }
    }

    /// The string form.
    pub fn name(self) -> &'static str {
        match self {
            Precision::Auto => "auto",
            Precision::F32 => "f32",
            Precision::F64 => "f64",
        }
    }

    /// Whether the kernels run in float32 for element type `T`.
    pub fn is_f32<T: crate::real::Real>(self) -> bool {
        match self {
            Precision::Auto => T::NAME == "f32",
            Precision::F32 => true,
            Precision::F64 => false,
        }
    }
}
