//! Conversions of JavaScript arguments with checks that name the argument.

use napi::bindgen_prelude::{Either, Float32Array, Float64Array};
use sigvwap_core::device::DeviceRequest;
use sigvwap_core::{CoreError, CoreResult};

/// A Float32Array or Float64Array argument.
pub type FloatArray = Either<Float32Array, Float64Array>;

/// A non-negative integer that JavaScript passed as a number.
pub fn size(name: &str, v: f64) -> CoreResult<usize> {
    if !v.is_finite() || v < 0.0 || v.fract() != 0.0 || v > 9_007_199_254_740_991.0 {
        return Err(CoreError::arg(name, format!("must be a non-negative integer, got {v}")));
    }
    Ok(v as usize)
}

pub fn device(v: &Option<String>) -> CoreResult<DeviceRequest> {
    DeviceRequest::parse(v.as_deref())
}
