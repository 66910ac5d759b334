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

use crate::real::{Floats, FloatsMut};

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
    /// `s` with its type named (`fill::store_rows`).
    fn floats(s: &[Self]) -> Floats<'_>;
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
    fn floats(s: &[Self]) -> Floats<'_> {
        Floats::F64(s)
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
    fn floats(s: &[Self]) -> Floats<'_> {
        Floats::F32(s)
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

/// A fixed-length heap buffer whose first element sits on a 64-byte
/// boundary (a cache line, and one AVX-512 register of lanes), for the
/// blocks' `[entry][lane]` tensors: with `W` lanes filling a register, every
/// entry is then one aligned line. A `Vec<[E; W]>` is only aligned to `E`
/// (glibc gives 16 bytes, and large blocks come from mmap at a page plus
/// 16): then every 512-bit load and store of an entry straddles two lines,
/// twice the L1 accesses, and which buffers did depended on the build (the
/// float64 forward of shape c moved between 13 and 17 ms from one build to
/// the next with the same loop; aligned, 11.2-11.5 ms, and shape a 1.85 ms
/// against 2.7-3.1: sigbench, 1 thread, alternating runs, 2026-12-03).
pub(crate) struct Lines<T: Copy> {
    ptr: std::ptr::NonNull<T>,
    len: usize,
}

// SAFETY: `Lines` owns its elements like a `Vec<T>`.
unsafe impl<T: Copy + Send> Send for Lines<T> {}
// SAFETY: as above; shared access hands out `&[T]` only.
unsafe impl<T: Copy + Sync> Sync for Lines<T> {}

impl<T: Copy> Lines<T> {
    const ALIGN: usize = if std::mem::align_of::<T>() > 64 { std::mem::align_of::<T>() } else { 64 };

    fn layout(len: usize) -> std::alloc::Layout {
        let bytes = std::mem::size_of::<T>().checked_mul(len).expect("Lines: size overflows");
        std::alloc::Layout::from_size_align(bytes, Self::ALIGN).expect("Lines: layout")
    }

    /// `len` copies of `value`.
    pub(crate) fn new(len: usize, value: T) -> Self {
        let layout = Self::layout(len);
        let ptr = if layout.size() == 0 {
            // Aligned and non-null; never dereferenced for a zero size.
            std::ptr::NonNull::new(Self::ALIGN as *mut T).expect("nonzero")
        } else {
            // SAFETY: the layout has a nonzero size.
            let raw = unsafe { std::alloc::alloc(layout) } as *mut T;
            let Some(p) = std::ptr::NonNull::new(raw) else { std::alloc::handle_alloc_error(layout) };
            for i in 0..len {
                // SAFETY: i < len elements were allocated.
                unsafe { p.as_ptr().add(i).write(value) };
            }
            p
        };
        Lines { ptr, len }
    }
}

impl<T: Copy> Drop for Lines<T> {
    fn drop(&mut self) {
        let layout = Self::layout(self.len);
        if layout.size() != 0 {
            // SAFETY: allocated in `new` with this layout.
            unsafe { std::alloc::dealloc(self.ptr.as_ptr() as *mut u8, layout) };
        }
    }
}

impl<T: Copy> std::ops::Deref for Lines<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        // SAFETY: `len` initialised elements at `ptr`, owned by self.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl<T: Copy> std::ops::DerefMut for Lines<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        // SAFETY: as above, borrowed mutably through self.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

/// `T` on a 64-byte boundary (stack arrays of lanes, see [`Lines`]).
#[derive(Clone, Copy)]
#[repr(C, align(64))]
pub(crate) struct Line<T>(pub T);

#[cfg(test)]
mod tests {
    use super::*;

    /// Every buffer starts on a line, holds its values, and zero lengths
    /// allocate nothing (named lengths: empty, one entry, odd, a shape-c state).
    #[test]
    fn lines_are_aligned_and_hold_their_values() {
        for (name, len) in [("empty", 0), ("one", 1), ("odd", 39), ("shape c", 4680)] {
            let mut a = Lines::new(len, [1.5f64; 8]);
            let mut b = Lines::new(len, [2.5f32; 3]);
            assert_eq!((a.len(), b.len()), (len, len), "{name}");
            assert_eq!(a.as_ptr() as usize % 64, 0, "{name}: [f64; 8]");
            assert_eq!(b.as_ptr() as usize % 64, 0, "{name}: [f32; 3]");
            assert!(a.iter().all(|v| *v == [1.5; 8]) && b.iter().all(|v| *v == [2.5; 3]), "{name}");
            if len > 0 {
                a[len - 1][7] = -1.0;
                b[0][2] = -2.0;
                assert_eq!((a[len - 1][7], b[0][2]), (-1.0, -2.0), "{name}");
            }
        }
        let mut l = Line([0.0f32; 5]);
        l.0[4] = 1.0;
        assert_eq!(&l as *const _ as usize % 64, 0);
    }
}
