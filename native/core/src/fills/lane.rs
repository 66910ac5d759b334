//! The number types [`bin_step_with`](super::cpu::bin_step_with) is written
//! over: `f64` (one order: the stepped simulator, tests) and [`F8`] (eight
//! orders in SIMD lanes: the batch kernel). The rules are written once; every
//! `F8` operation is the same IEEE operation per lane (add, sub, mul, div,
//! sqrt are correctly rounded; no fused multiply-add), so both give the same
//! bits. `F8`'s operations are element-wise loops over `[f64; 8]` that the
//! compiler turns into vector instructions (AVX-512, AVX2 or SSE2 by the
//! caller's target features).
//!
//! The AVX-512 types need Rust >= 1.89 (AVX-512 intrinsics and target
//! features were stabilized there).

// Index loops over the 8 lanes are the form the compiler vectorizes.
#![allow(clippy::needless_range_loop)]

use std::ops::{Add, BitAnd, Div, Mul, Not, Sub};

/// A number type of the fill rules, with its comparison mask type.
pub trait Lane: Copy + Add<Output = Self> + Sub<Output = Self> + Mul<Output = Self> + Div<Output = Self> {
    type M: Copy + BitAnd<Output = Self::M> + Not<Output = Self::M>;
    fn splat(x: f64) -> Self;
    fn mask(b: bool) -> Self::M;
    fn sqrt(self) -> Self;
    fn powf(self, beta: f64) -> Self;
    /// self > o (false when either is NaN)
    fn gt(self, o: Self) -> Self::M;
    /// self < o (false when either is NaN)
    fn lt(self, o: Self) -> Self::M;
    /// self >= o (false when either is NaN)
    fn ge(self, o: Self) -> Self::M;
    /// self == o
    fn eq(self, o: Self) -> Self::M;
    /// `a` where `m`, else `b`.
    fn select(m: Self::M, a: Self, b: Self) -> Self;
}

impl Lane for f64 {
    type M = bool;
    #[inline(always)]
    fn splat(x: f64) -> Self {
        x
    }
    #[inline(always)]
    fn mask(b: bool) -> bool {
        b
    }
    #[inline(always)]
    fn sqrt(self) -> Self {
        f64::sqrt(self)
    }
    #[inline(always)]
    fn powf(self, beta: f64) -> Self {
        f64::powf(self, beta)
    }
    #[inline(always)]
    fn gt(self, o: Self) -> bool {
        self > o
    }
    #[inline(always)]
    fn lt(self, o: Self) -> bool {
        self < o
    }
    #[inline(always)]
    fn ge(self, o: Self) -> bool {
        self >= o
    }
    #[inline(always)]
    fn eq(self, o: Self) -> bool {
        self == o
    }
    #[inline(always)]
    fn select(m: bool, a: Self, b: Self) -> Self {
        if m {
            a
        } else {
            b
        }
    }
}

/// Eight f64 lanes.
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C, align(64))]
pub struct F8(pub [f64; 8]);

/// Eight lane masks: all ones (true) or zero (false).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C, align(64))]
pub struct M8(pub [u64; 8]);

macro_rules! lanewise {
    ($tr:ident, $f:ident, $op:tt) => {
        impl $tr for F8 {
            type Output = F8;
            #[inline(always)]
            fn $f(self, o: F8) -> F8 {
                let mut r = [0.0; 8];
                for l in 0..8 {
                    r[l] = self.0[l] $op o.0[l];
                }
                F8(r)
            }
        }
    };
}
lanewise!(Add, add, +);
lanewise!(Sub, sub, -);
lanewise!(Mul, mul, *);
lanewise!(Div, div, /);

impl BitAnd for M8 {
    type Output = M8;
    #[inline(always)]
    fn bitand(self, o: M8) -> M8 {
        let mut r = [0u64; 8];
        for l in 0..8 {
            r[l] = self.0[l] & o.0[l];
        }
        M8(r)
    }
}

impl Not for M8 {
    type Output = M8;
    #[inline(always)]
    fn not(self) -> M8 {
        let mut r = [0u64; 8];
        for l in 0..8 {
            r[l] = !self.0[l];
        }
        M8(r)
    }
}

macro_rules! compare {
    ($f:ident, $op:tt) => {
        #[inline(always)]
        fn $f(self, o: F8) -> M8 {
            let mut r = [0u64; 8];
            for l in 0..8 {
                r[l] = if self.0[l] $op o.0[l] { !0 } else { 0 };
            }
            M8(r)
        }
    };
}

impl Lane for F8 {
    type M = M8;
    #[inline(always)]
    fn splat(x: f64) -> Self {
        F8([x; 8])
    }
    #[inline(always)]
    fn mask(b: bool) -> M8 {
        M8([if b { !0 } else { 0 }; 8])
    }
    #[inline(always)]
    fn sqrt(self) -> Self {
        let mut r = [0.0; 8];
        for l in 0..8 {
            r[l] = self.0[l].sqrt();
        }
        F8(r)
    }
    #[inline(always)]
    fn powf(self, beta: f64) -> Self {
        let mut r = [0.0; 8];
        for l in 0..8 {
            r[l] = self.0[l].powf(beta);
        }
        F8(r)
    }
    compare!(gt, >);
    compare!(lt, <);
    compare!(ge, >=);
    compare!(eq, ==);
    #[inline(always)]
    fn select(m: M8, a: F8, b: F8) -> F8 {
        let mut r = [0.0; 8];
        for l in 0..8 {
            r[l] = f64::from_bits((a.0[l].to_bits() & m.0[l]) | (b.0[l].to_bits() & !m.0[l]));
        }
        F8(r)
    }
}

/// Eight lanes that the batch kernel loads from and stores to `[f64; 8]`.
pub trait Lanes8: Lane {
    /// Whether `gather` is a fast instruction (else the kernel transposes
    /// through a scratch buffer).
    const GATHER: bool;
    fn load(a: &[f64; 8]) -> Self;
    fn store(self) -> [f64; 8];
    fn mask_of(b: [bool; 8]) -> Self::M;
    /// Whether every lane of `m` is set.
    fn all(m: Self::M) -> bool;
    /// Lanes `src[first + l·stride]`, l = 0..8 (panics when out of bounds).
    fn gather(src: &[f64], first: usize, stride: usize) -> Self;
    /// `src[first..first + 8]` (panics when out of bounds).
    #[inline(always)]
    fn load_at(src: &[f64], first: usize) -> Self {
        Self::load(src[first..first + 8].try_into().expect("8 lanes"))
    }
    /// Write the lanes to `dst[first..first + 8]` (panics when out of bounds).
    #[inline(always)]
    fn store_at(self, dst: &mut [f64], first: usize) {
        dst[first..first + 8].copy_from_slice(&self.store());
    }
}

impl Lanes8 for F8 {
    const GATHER: bool = false;
    #[inline(always)]
    fn load(a: &[f64; 8]) -> Self {
        F8(*a)
    }
    #[inline(always)]
    fn store(self) -> [f64; 8] {
        self.0
    }
    #[inline(always)]
    fn mask_of(b: [bool; 8]) -> M8 {
        M8(b.map(|x| if x { !0 } else { 0 }))
    }
    #[inline(always)]
    fn all(m: M8) -> bool {
        m.0.iter().all(|&x| x != 0)
    }
    #[inline(always)]
    fn gather(src: &[f64], first: usize, stride: usize) -> Self {
        let s = &src[first..=first + 7 * stride];
        F8(std::array::from_fn(|l| s[l * stride]))
    }
}

#[cfg(target_arch = "x86_64")]
pub use x86::{Avx2F8, Avx512F8};

#[cfg(target_arch = "x86_64")]
mod x86 {
    //! `F8` with explicit AVX-512 and AVX2 instructions. SAFETY of every
    //! `unsafe` block below: these types are only used inside the batch
    //! kernel's `#[target_feature(enable = "avx512f")]` / `"avx2"` entry
    //! points (fills/cpu.rs), which run only where `is_x86_feature_detected!`
    //! found the feature; all methods are `#[inline(always)]` into them.
    use std::arch::x86_64::*;
    use std::ops::{Add, BitAnd, Div, Mul, Not, Sub};

    use super::{Lane, Lanes8};

    /// Eight f64 lanes in one AVX-512 register.
    #[derive(Clone, Copy, Debug)]
    pub struct Avx512F8(__m512d);

    /// An AVX-512 lane mask.
    #[derive(Clone, Copy, Debug)]
    pub struct K8(__mmask8);

    impl BitAnd for K8 {
        type Output = K8;
        #[inline(always)]
        fn bitand(self, o: K8) -> K8 {
            K8(self.0 & o.0)
        }
    }
    impl Not for K8 {
        type Output = K8;
        #[inline(always)]
        fn not(self) -> K8 {
            K8(!self.0)
        }
    }

    macro_rules! op512 {
        ($tr:ident, $f:ident, $intr:ident) => {
            impl $tr for Avx512F8 {
                type Output = Avx512F8;
                #[inline(always)]
                fn $f(self, o: Avx512F8) -> Avx512F8 {
                    Avx512F8(unsafe { $intr(self.0, o.0) })
                }
            }
        };
    }
    op512!(Add, add, _mm512_add_pd);
    op512!(Sub, sub, _mm512_sub_pd);
    op512!(Mul, mul, _mm512_mul_pd);
    op512!(Div, div, _mm512_div_pd);

    impl Lane for Avx512F8 {
        type M = K8;
        #[inline(always)]
        fn splat(x: f64) -> Self {
            Avx512F8(unsafe { _mm512_set1_pd(x) })
        }
        #[inline(always)]
        fn mask(b: bool) -> K8 {
            K8(if b { 0xff } else { 0 })
        }
        #[inline(always)]
        fn sqrt(self) -> Self {
            Avx512F8(unsafe { _mm512_sqrt_pd(self.0) })
        }
        #[inline(always)]
        fn powf(self, beta: f64) -> Self {
            Self::load(&self.store().map(|x| x.powf(beta)))
        }
        #[inline(always)]
        fn gt(self, o: Self) -> K8 {
            K8(unsafe { _mm512_cmp_pd_mask::<_CMP_GT_OQ>(self.0, o.0) })
        }
        #[inline(always)]
        fn ge(self, o: Self) -> K8 {
            K8(unsafe { _mm512_cmp_pd_mask::<_CMP_GE_OQ>(self.0, o.0) })
        }
        #[inline(always)]
        fn lt(self, o: Self) -> K8 {
            K8(unsafe { _mm512_cmp_pd_mask::<_CMP_LT_OQ>(self.0, o.0) })
        }
        #[inline(always)]
        fn eq(self, o: Self) -> K8 {
            K8(unsafe { _mm512_cmp_pd_mask::<_CMP_EQ_OQ>(self.0, o.0) })
        }
        #[inline(always)]
        fn select(m: K8, a: Self, b: Self) -> Self {
            // blend: lanes with the mask bit set come from the second operand
            Avx512F8(unsafe { _mm512_mask_blend_pd(m.0, b.0, a.0) })
        }
    }

    impl Lanes8 for Avx512F8 {
        const GATHER: bool = true;
        #[inline(always)]
        fn load(a: &[f64; 8]) -> Self {
            Avx512F8(unsafe { _mm512_loadu_pd(a.as_ptr()) })
        }
        #[inline(always)]
        fn store(self) -> [f64; 8] {
            let mut r = [0.0; 8];
            unsafe { _mm512_storeu_pd(r.as_mut_ptr(), self.0) };
            r
        }
        #[inline(always)]
        fn mask_of(b: [bool; 8]) -> K8 {
            K8(b.iter().enumerate().fold(0u8, |m, (l, &x)| m | ((x as u8) << l)))
        }
        #[inline(always)]
        fn all(m: K8) -> bool {
            m.0 == 0xff
        }
        #[inline(always)]
        fn gather(src: &[f64], first: usize, stride: usize) -> Self {
            assert!(first + 7 * stride < src.len(), "gather out of bounds");
            let s = stride as i64;
            // SAFETY: the 8 offsets first + l·stride are in bounds (asserted).
            unsafe {
                let idx = _mm512_set_epi64(7 * s, 6 * s, 5 * s, 4 * s, 3 * s, 2 * s, s, 0);
                Avx512F8(_mm512_i64gather_pd::<8>(idx, src.as_ptr().add(first)))
            }
        }
    }

    /// Eight f64 lanes in two AVX2 registers.
    #[derive(Clone, Copy, Debug)]
    pub struct Avx2F8(__m256d, __m256d);

    /// An AVX2 lane mask (all-ones lanes), two registers.
    #[derive(Clone, Copy, Debug)]
    pub struct Y8(__m256d, __m256d);

    impl BitAnd for Y8 {
        type Output = Y8;
        #[inline(always)]
        fn bitand(self, o: Y8) -> Y8 {
            unsafe { Y8(_mm256_and_pd(self.0, o.0), _mm256_and_pd(self.1, o.1)) }
        }
    }
    impl Not for Y8 {
        type Output = Y8;
        #[inline(always)]
        fn not(self) -> Y8 {
            unsafe {
                let ones = _mm256_castsi256_pd(_mm256_set1_epi64x(-1));
                Y8(_mm256_xor_pd(self.0, ones), _mm256_xor_pd(self.1, ones))
            }
        }
    }

    macro_rules! op256 {
        ($tr:ident, $f:ident, $intr:ident) => {
            impl $tr for Avx2F8 {
                type Output = Avx2F8;
                #[inline(always)]
                fn $f(self, o: Avx2F8) -> Avx2F8 {
                    unsafe { Avx2F8($intr(self.0, o.0), $intr(self.1, o.1)) }
                }
            }
        };
    }
    op256!(Add, add, _mm256_add_pd);
    op256!(Sub, sub, _mm256_sub_pd);
    op256!(Mul, mul, _mm256_mul_pd);
    op256!(Div, div, _mm256_div_pd);

    impl Lane for Avx2F8 {
        type M = Y8;
        #[inline(always)]
        fn splat(x: f64) -> Self {
            unsafe { Avx2F8(_mm256_set1_pd(x), _mm256_set1_pd(x)) }
        }
        #[inline(always)]
        fn mask(b: bool) -> Y8 {
            unsafe {
                let m = _mm256_castsi256_pd(_mm256_set1_epi64x(if b { -1 } else { 0 }));
                Y8(m, m)
            }
        }
        #[inline(always)]
        fn sqrt(self) -> Self {
            unsafe { Avx2F8(_mm256_sqrt_pd(self.0), _mm256_sqrt_pd(self.1)) }
        }
        #[inline(always)]
        fn powf(self, beta: f64) -> Self {
            Self::load(&self.store().map(|x| x.powf(beta)))
        }
        #[inline(always)]
        fn gt(self, o: Self) -> Y8 {
            unsafe { Y8(_mm256_cmp_pd::<_CMP_GT_OQ>(self.0, o.0), _mm256_cmp_pd::<_CMP_GT_OQ>(self.1, o.1)) }
        }
        #[inline(always)]
        fn ge(self, o: Self) -> Y8 {
            unsafe { Y8(_mm256_cmp_pd::<_CMP_GE_OQ>(self.0, o.0), _mm256_cmp_pd::<_CMP_GE_OQ>(self.1, o.1)) }
        }
        #[inline(always)]
        fn lt(self, o: Self) -> Y8 {
            unsafe { Y8(_mm256_cmp_pd::<_CMP_LT_OQ>(self.0, o.0), _mm256_cmp_pd::<_CMP_LT_OQ>(self.1, o.1)) }
        }
        #[inline(always)]
        fn eq(self, o: Self) -> Y8 {
            unsafe { Y8(_mm256_cmp_pd::<_CMP_EQ_OQ>(self.0, o.0), _mm256_cmp_pd::<_CMP_EQ_OQ>(self.1, o.1)) }
        }
        #[inline(always)]
        fn select(m: Y8, a: Self, b: Self) -> Self {
            // blendv: lanes whose mask sign bit is set come from the second operand
            unsafe { Avx2F8(_mm256_blendv_pd(b.0, a.0, m.0), _mm256_blendv_pd(b.1, a.1, m.1)) }
        }
    }

    impl Lanes8 for Avx2F8 {
        const GATHER: bool = true;
        #[inline(always)]
        fn load(a: &[f64; 8]) -> Self {
            unsafe { Avx2F8(_mm256_loadu_pd(a.as_ptr()), _mm256_loadu_pd(a.as_ptr().add(4))) }
        }
        #[inline(always)]
        fn store(self) -> [f64; 8] {
            let mut r = [0.0; 8];
            unsafe {
                _mm256_storeu_pd(r.as_mut_ptr(), self.0);
                _mm256_storeu_pd(r.as_mut_ptr().add(4), self.1);
            }
            r
        }
        #[inline(always)]
        fn mask_of(b: [bool; 8]) -> Y8 {
            let m = b.map(|x| if x { -1i64 } else { 0 });
            unsafe {
                Y8(
                    _mm256_castsi256_pd(_mm256_set_epi64x(m[3], m[2], m[1], m[0])),
                    _mm256_castsi256_pd(_mm256_set_epi64x(m[7], m[6], m[5], m[4])),
                )
            }
        }
        #[inline(always)]
        fn all(m: Y8) -> bool {
            unsafe { (_mm256_movemask_pd(m.0) & _mm256_movemask_pd(m.1)) == 0xf }
        }
        #[inline(always)]
        fn gather(src: &[f64], first: usize, stride: usize) -> Self {
            assert!(first + 7 * stride < src.len(), "gather out of bounds");
            let s = stride as i64;
            // SAFETY: the 8 offsets first + l·stride are in bounds (asserted).
            unsafe {
                let idx = _mm256_set_epi64x(3 * s, 2 * s, s, 0);
                let base = src.as_ptr().add(first);
                Avx2F8(_mm256_i64gather_pd::<8>(base, idx), _mm256_i64gather_pd::<8>(base.add(4 * stride), idx))
            }
        }
    }
}

/// Hint that `x[i..]` will be read soon (no-op off x86-64 and out of bounds).
#[inline(always)]
pub fn prefetch(x: &[f64], i: usize) {
    #[cfg(target_arch = "x86_64")]
    if i < x.len() {
        // SAFETY: a prefetch never faults; the address is in bounds anyway.
        #[allow(unused_unsafe)]
        unsafe {
            std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(x.as_ptr().add(i).cast())
        };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (x, i);
}

/// `dst[i] = v` bypassing the caches where the CPU allows (x86-64: `movnti`,
/// no read-for-ownership of the line); call [`stream_fence`] before the data
/// is handed to another thread.
#[inline(always)]
pub fn stream_store(dst: &mut [f64], i: usize, v: f64) {
    #[cfg(target_arch = "x86_64")]
    {
        let p: *mut f64 = &mut dst[i];
        // SAFETY: `p` is a valid, aligned, exclusively borrowed f64.
        #[allow(unused_unsafe)]
        unsafe {
            std::arch::x86_64::_mm_stream_si64(p.cast(), v.to_bits() as i64)
        };
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        dst[i] = v;
    }
}

/// Order the stores of [`stream_store`] before what follows.
#[inline(always)]
pub fn stream_fence() {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a fence has no preconditions.
    #[allow(unused_unsafe)]
    unsafe {
        std::arch::x86_64::_mm_sfence()
    };
}
