//! `Real`: the element types that cross the boundary (f32, f64). Kernels are
//! generic over them; the VWAP kernels accumulate in f64, the signature
//! kernels in the arithmetic their `precision` option picks.
//!
//! With the feature `cuda`, `Real` also implies cudarc's marker traits (via
//! `DeviceCopy`), so that a generic op can hand its slices to its CUDA
//! launcher without a second trait bound that only exists in one build.
//! [`Floats`] / [`FloatsMut`] name the type at run time, for ops whose
//! arguments have independent types but whose CUDA kernels exist only for
//! all-f32 or all-f64 arguments (VWAP).

/// Element types the CUDA runtime can copy to and from a device.
#[cfg(feature = "cuda")]
pub trait DeviceCopy: cudarc::driver::DeviceRepr + cudarc::driver::ValidAsZeroBits {}
/// Element types the CUDA runtime can copy (no requirement without `cuda`).
#[cfg(not(feature = "cuda"))]
pub trait DeviceCopy {}

impl DeviceCopy for f32 {}
impl DeviceCopy for f64 {}

/// A slice of one of the two element types.
#[derive(Clone, Copy, Debug)]
pub enum Floats<'a> {
    F32(&'a [f32]),
    F64(&'a [f64]),
}

/// A mutable slice of one of the two element types.
#[derive(Debug)]
pub enum FloatsMut<'a> {
    F32(&'a mut [f32]),
    F64(&'a mut [f64]),
}

pub trait Real: DeviceCopy + Copy + Send + Sync + PartialOrd + 'static {
    /// Name used in messages and in the CUDA kernel suffix (`f32` / `f64`).
    const NAME: &'static str;
    fn to_f64(self) -> f64;
    fn from_f64(v: f64) -> Self;
    /// `s` with its element type named.
    fn floats(s: &[Self]) -> Floats<'_>;
    /// `s` with its element type named.
    fn floats_mut(s: &mut [Self]) -> FloatsMut<'_>;
}

impl Real for f32 {
    const NAME: &'static str = "f32";
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self as f64
    }
    #[inline(always)]
    fn from_f64(v: f64) -> Self {
        v as f32
    }
    fn floats(s: &[Self]) -> Floats<'_> {
        Floats::F32(s)
    }
    fn floats_mut(s: &mut [Self]) -> FloatsMut<'_> {
        FloatsMut::F32(s)
    }
}

impl Real for f64 {
    const NAME: &'static str = "f64";
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self
    }
    #[inline(always)]
    fn from_f64(v: f64) -> Self {
        v
    }
    fn floats(s: &[Self]) -> Floats<'_> {
        Floats::F64(s)
    }
    fn floats_mut(s: &mut [Self]) -> FloatsMut<'_> {
        FloatsMut::F64(s)
    }
}
