//! Result buffers at the boundary: a fresh `ZeroedBuf` handed to JavaScript
//! without a copy, or a caller's `out` typed array written in place.
//!
//! A fresh result becomes an external ArrayBuffer whose finalizer frees the
//! buffer the way it was allocated (heap or mapping; see
//! `sigvwap_core::buffer`). A caller's `out` must have the input's float
//! type and the result's length, and must not share memory with any input:
//! the kernels read the inputs while they write `out`.

use napi::bindgen_prelude::{Either, Float32Array, Float64Array};
use sigvwap_core::buffer::{Backing, ZeroedBuf};
use sigvwap_core::{CoreError, CoreResult, Real};

use crate::args::FloatArray;

/// f32 / f64 and their JavaScript typed arrays.
pub trait Typed: Real {
    fn wrap(buf: ZeroedBuf<Self>) -> FloatArray;
    /// The elements of `a` if it holds this type.
    ///
    /// # Safety
    /// The slice aliases JavaScript memory; see [`dest`].
    unsafe fn slice_of(a: &mut FloatArray) -> Option<&mut [Self]>;
}

fn release<T: Real>(backing: Backing) -> impl FnOnce(*mut T, usize) + 'static {
    // SAFETY (at the call): napi calls this once, with the pointer and length given below.
    move |p, len| drop(unsafe { ZeroedBuf::from_raw(p, len, backing) })
}

impl Typed for f32 {
    fn wrap(buf: ZeroedBuf<f32>) -> FloatArray {
        let (p, len, backing) = buf.into_raw();
        // SAFETY: p is valid for len elements until the finalizer frees it.
        Either::A(unsafe { Float32Array::with_external_data(p, len, release::<f32>(backing)) })
    }
    unsafe fn slice_of(a: &mut FloatArray) -> Option<&mut [f32]> {
        match a {
            Either::A(x) => Some(unsafe { x.as_mut() }),
            Either::B(_) => None,
        }
    }
}

impl Typed for f64 {
    fn wrap(buf: ZeroedBuf<f64>) -> FloatArray {
        let (p, len, backing) = buf.into_raw();
        // SAFETY: as for f32.
        Either::B(unsafe { Float64Array::with_external_data(p, len, release::<f64>(backing)) })
    }
    unsafe fn slice_of(a: &mut FloatArray) -> Option<&mut [f64]> {
        match a {
            Either::B(x) => Some(unsafe { x.as_mut() }),
            Either::A(_) => None,
        }
    }
}

/// Where a kernel writes its result of `len` elements of `T`.
pub enum Dest<'a, T: Real> {
    Fresh(ZeroedBuf<T>),
    Given(&'a mut [T]),
}

impl<T: Real> Dest<'_, T> {
    pub fn slice(&mut self) -> &mut [T] {
        match self {
            Dest::Fresh(b) => b.as_mut_slice(),
            Dest::Given(s) => s,
        }
    }

    /// The fresh buffer, if the result did not go to a caller's `out`.
    pub fn into_fresh(self) -> Option<ZeroedBuf<T>> {
        match self {
            Dest::Fresh(b) => Some(b),
            Dest::Given(_) => None,
        }
    }
}

/// The caller's `out` as `&mut [T]`, `ERR_ARG` naming `out` when its float
/// type is not `T` (that of `like`).
///
/// # Safety
/// As [`Typed::slice_of`].
pub unsafe fn out_slice<'a, T: Typed>(out: Option<&'a mut FloatArray>, like: &str) -> CoreResult<Option<&'a mut [T]>> {
    match out {
        None => Ok(None),
        Some(o) => match unsafe { T::slice_of(o) } {
            Some(s) => Ok(Some(s)),
            None => Err(CoreError::arg("out", format!("must have the same float type as {like} (both Float32Array or both Float64Array)"))),
        },
    }
}

/// A slice's memory as (start, end) addresses.
pub fn byte_range<T>(s: &[T]) -> (usize, usize) {
    let start = s.as_ptr() as usize;
    (start, start + std::mem::size_of_val(s))
}

/// The destination for a result of `len` elements: `out` (checked) or a fresh buffer.
/// `inputs` are the (name, memory range) of the arrays the kernel reads.
///
/// # Safety
/// With `out`, the returned slice aliases JavaScript memory: the caller must
/// not let JavaScript run on it while the slice lives (sync calls; or an
/// async task whose `out` the caller promised not to touch until it settles).
pub unsafe fn dest<'a, T: Real>(
    out: Option<&'a mut [T]>,
    len: usize,
    layout: &str,
    inputs: &[(&str, (usize, usize))],
) -> CoreResult<Dest<'a, T>> {
    let Some(out) = out else { return Ok(Dest::Fresh(ZeroedBuf::new("output", len)?)) };
    if out.len() != len {
        return Err(CoreError::shape("out", len, out.len(), layout));
    }
    let (s, e) = byte_range(out);
    for (name, (a, b)) in inputs {
        if s < *b && *a < e && s < e {
            return Err(CoreError::arg("out", format!("must not share memory with {name} (the kernel reads {name} while writing out)")));
        }
    }
    Ok(Dest::Given(out))
}
