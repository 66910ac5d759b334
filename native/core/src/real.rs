//! `Real`: the element types that cross the boundary (f32, f64). Kernels are
//! generic over them and always accumulate in f64.

pub trait Real: Copy + Send + Sync + PartialOrd + 'static {
    /// Name used in messages and in the CUDA kernel suffix (`f32` / `f64`).
    const NAME: &'static str;
    fn to_f64(self) -> f64;
    fn from_f64(v: f64) -> Self;
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
}
