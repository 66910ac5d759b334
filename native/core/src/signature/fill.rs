//! Increments of a full tile, transposed with SIMD shuffles (`block.rs`,
//! `PathSource::fill`: every lane has all the tile's segments), and the same
//! transposes the other way for the results (`store_rows`: final states and
//! stream prefixes from `[entry][lane]` into the output rows).
//!
//! Math. Lane `l` reads the row `x_l = data[starts[l]..][..n + d]` (its
//! points, `[point][channel]` flattened) and gets z_l[j] = E(x_l[j + d] -
//! x_l[j]) for j < n = segments · d (segment s, channel c at j = s·d + c);
//! `tile` is `[j][lane]`, the layout the step functions read.
//!
//! Method. Per group of V lanes (V = one register: 8 f64 / 16 f32 lanes under
//! AVX-512, 4 / 8 under AVX2) and run of V values of j: V unaligned loads of
//! V consecutive values from each lane's row (twice: at j + d and at j), V
//! vector subtractions, a V x V transpose in registers (unpacks within
//! 128-bit blocks, then 128-bit block shuffles: 24 shuffles for 8 x 8 f64, 64
//! for 16 x 16 f32), V whole-row stores. The scalar gather (`scalar`, kept as
//! the fallback and for `Tuning::scalar_fill`) does V² element loads and
//! inserts instead; on small states (shape a) that was 30% of the forward's
//! time. The j tail (n mod V) and lane counts that are not a multiple of V
//! (1, 2, and 4 f32 lanes) take the scalar code.
//!
//! Rounding: bit for bit that of the scalar fill, E(f64(hi) - f64(lo)).
//! Float64 sources are subtracted in float64 (then rounded to float32 lanes
//! by `vcvtpd2ps`, round-to-nearest-even like `as f32`); float32 sources for
//! float64 lanes are widened (exactly) and subtracted in float64. Float32
//! sources for float32 lanes are subtracted in float32 directly: the
//! difference of two float32 values rounded to float64 and then to float32
//! equals it rounded once to float32, because double rounding through a
//! format of p' >= 2p + 2 bits is innocuous for +, - (Figueroa 1995; p = 24,
//! p' = 53); a subnormal difference is exact in both (Hauser), and overflow
//! gives ±inf in both. `tests::f32_difference_through_f64_is_the_f32_difference`
//! checks this on random and adversarial bit patterns.
//!
//! Memory: on small states the loads of the rows wait on the last-level
//! cache (shape a, 9.8 MB of points: the fill took 26-28% of a one-thread
//! profile, its samples on the loads). With `Transpose::prefetch` each row
//! and block also prefetches the same place one tile on, which the sweep
//! between two fills leaves time to arrive; it pays where the paths come
//! from memory and costs instructions where they sit in cache (measured
//! rule: `plan.rs`, `default_prefetch`). A kernel that loaded each value
//! once (transposing the points, then subtracting whole rows, V + d live
//! registers for d <= 8) instead of twice measured no faster on shapes a
//! and d (sigbench, 2 threads, Zen 4, 2026-12-05, median wall ms of
//! alternating runs: a 0.60-0.64 vs 0.62-0.63, d 8.1-9.3 vs 7.9-8.4) and
//! was not kept.
//!
//! Finiteness: acc = fma(z, 0, acc) per vector, which stays 0 unless some z
//! is ±inf or NaN (inf · 0 = NaN), one instruction per vector.
//!
//! Cost per V x V block: 2V loads, V subtractions (+ conversions for mixed
//! types), V FMAs, V log2 V shuffles, V stores; memory traffic is that of the
//! scalar gather (each row read once, tile written once).

use super::block::Simd;
use super::lane::Lane;
use super::options::SigFloat;
#[cfg(target_arch = "x86_64")]
use crate::real::{Floats, FloatsMut};

/// How full tiles are transposed: with the shuffles of an instruction set
/// (`simd`, only one available on this machine, so the kernels may assume
/// its features), or lane by lane (`None`); with `prefetch`, the SIMD
/// kernels also prefetch each row's next tile (one cache line per row and
/// V values, a tile ahead), which the sweep between two fills leaves time
/// to arrive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Transpose {
    simd: Option<Simd>,
    prefetch: bool,
}

impl Transpose {
    /// The SIMD transpose for `simd` (AVX-512 falls back to AVX2 where only
    /// that exists, as the sweeps do), or the scalar one when `scalar` or
    /// there is none (portable code, aarch64).
    pub(crate) fn new(simd: Simd, scalar: bool, prefetch: bool) -> Transpose {
        let simd = match simd {
            _ if scalar => None,
            Simd::Avx512 if Simd::Avx512.available() => Some(Simd::Avx512),
            Simd::Avx512 | Simd::Avx2Fma if Simd::Avx2Fma.available() => Some(Simd::Avx2Fma),
            _ => None,
        };
        Transpose { simd, prefetch }
    }
}

/// `tile[j][lane] = E(x[j + d] - x[j])` with `x = data[starts[lane]..]`,
/// j < n (see the header). Returns false if a value is not finite.
pub(crate) fn full<T: SigFloat, E: Lane, const W: usize>(
    how: Transpose,
    data: &[T],
    starts: &[usize; W],
    d: usize,
    n: usize,
    tile: &mut [[E; W]],
) -> bool {
    // The SIMD kernels read these rows unchecked.
    assert!(starts.iter().all(|&s| s + n + d <= data.len()) && tile.len() >= n, "fill: rows out of bounds");
    #[cfg(target_arch = "x86_64")]
    if let Some(simd) = how.simd {
        let flat = tile[..n].as_flattened_mut();
        // The next tile of each row starts n values on.
        let ahead = if how.prefetch { n } else { 0 };
        let (done, finite) = match (T::floats(data), E::floats_mut(flat)) {
            (Floats::F64(x), FloatsMut::F64(z)) => x86::to_f64(simd, x, starts, d, n, ahead, z),
            (Floats::F32(x), FloatsMut::F64(z)) => x86::to_f64(simd, x, starts, d, n, ahead, z),
            (Floats::F64(x), FloatsMut::F32(z)) => x86::to_f32(simd, x, starts, d, n, ahead, z),
            (Floats::F32(x), FloatsMut::F32(z)) => x86::to_f32(simd, x, starts, d, n, ahead, z),
        };
        return scalar(data, starts, d, done, n, tile) && finite;
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = how;
    scalar(data, starts, d, 0, n, tile)
}

/// `out[starts[lane] + i] = U(state[i][lane])` for i < n and each lane of
/// `starts` (at most W): a block's final states, or one prefix of a stream,
/// from the lanes' `[entry][lane]` into the rows of the output. Where the
/// arithmetic and output types agree and `starts` has all W lanes, V x V
/// blocks go through the transposes of the increments (V loads, the
/// shuffles, V stores of V values); the rest lane by lane (one element load
/// and store each, 64 bytes apart: 20% of the float64 forward of shape c
/// before). Bit for bit the lane-by-lane copy either way (no rounding when
/// the types agree).
pub(crate) fn store_rows<E: Lane, U: SigFloat, const W: usize>(how: Transpose, state: &[[E; W]], n: usize, starts: &[usize], out: &mut [U]) {
    // The SIMD kernels write these rows unchecked.
    assert!(starts.len() <= W && state.len() >= n && starts.iter().all(|&s| s + n <= out.len()), "store_rows: rows out of bounds");
    #[allow(unused_mut)]
    let mut done = 0;
    #[cfg(target_arch = "x86_64")]
    if let (Some(simd), true) = (how.simd, starts.len() == W) {
        let flat = state[..n].as_flattened();
        done = match (E::floats(flat), U::floats_mut(out)) {
            (Floats::F64(x), FloatsMut::F64(o)) => x86::from_f64(simd, x, W, n, starts, o),
            (Floats::F32(x), FloatsMut::F32(o)) => x86::from_f32(simd, x, W, n, starts, o),
            _ => 0,
        };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = how;
    for (lane, &start) in starts.iter().enumerate() {
        for (o, v) in out[start + done..start + n].iter_mut().zip(&state[done..n]) {
            *o = U::from_f64(v[lane].to_f64());
        }
    }
}

/// Rows `j0..n` of the tile, gathered lane by lane for each j: W steady
/// sequential streams (which the hardware prefetcher follows) and whole-row
/// writes. Returns false if a value is not finite.
fn scalar<T: SigFloat, E: Lane, const W: usize>(
    data: &[T],
    starts: &[usize; W],
    d: usize,
    j0: usize,
    n: usize,
    tile: &mut [[E; W]],
) -> bool {
    let rows: [&[T]; W] = std::array::from_fn(|lane| &data[starts[lane]..starts[lane] + n + d]);
    let mut finite = true;
    for (j, zv) in tile[..n].iter_mut().enumerate().skip(j0) {
        let mut v = [E::ZERO; W];
        for lane in 0..W {
            v[lane] = E::from_f64(rows[lane][j + d].to_f64() - rows[lane][j].to_f64());
        }
        for &x in &v {
            finite &= x.is_finite();
        }
        *zv = v;
    }
    finite
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    //! The V x V kernels. Each returns how many rows of the tile it wrote
    //! (a multiple of V, all lanes) and whether they were finite; (0, true)
    //! when the lane count is not a multiple of the register's lanes.
    use std::arch::x86_64::*;

    use super::Simd;

    /// A source element type: V consecutive increments x[k + d] - x[k] of
    /// one row as a register of the lanes' type, rounded as the scalar fill.
    pub(super) trait Source: Copy {
        /// 8 float64 increments.
        unsafe fn diff_pd512(x: *const Self, d: usize) -> __m512d;
        /// 16 float32 increments.
        unsafe fn diff_ps512(x: *const Self, d: usize) -> __m512;
        /// 4 float64 increments.
        unsafe fn diff_pd256(x: *const Self, d: usize) -> __m256d;
        /// 8 float32 increments.
        unsafe fn diff_ps256(x: *const Self, d: usize) -> __m256;
    }

    impl Source for f64 {
        #[target_feature(enable = "avx512f,avx2,fma")]
        #[inline]
        unsafe fn diff_pd512(x: *const f64, d: usize) -> __m512d {
            _mm512_sub_pd(_mm512_loadu_pd(x.add(d)), _mm512_loadu_pd(x))
        }
        #[target_feature(enable = "avx512f,avx2,fma")]
        #[inline]
        unsafe fn diff_ps512(x: *const f64, d: usize) -> __m512 {
            // Subtract in float64, round each half to float32 (RNE, as `as f32`).
            let lo = _mm256_castps_pd(_mm512_cvtpd_ps(Self::diff_pd512(x, d)));
            let hi = _mm256_castps_pd(_mm512_cvtpd_ps(Self::diff_pd512(x.add(8), d)));
            _mm512_castpd_ps(_mm512_insertf64x4::<1>(_mm512_castpd256_pd512(lo), hi))
        }
        #[target_feature(enable = "avx2,fma")]
        #[inline]
        unsafe fn diff_pd256(x: *const f64, d: usize) -> __m256d {
            _mm256_sub_pd(_mm256_loadu_pd(x.add(d)), _mm256_loadu_pd(x))
        }
        #[target_feature(enable = "avx2,fma")]
        #[inline]
        unsafe fn diff_ps256(x: *const f64, d: usize) -> __m256 {
            let lo = _mm256_cvtpd_ps(Self::diff_pd256(x, d));
            let hi = _mm256_cvtpd_ps(Self::diff_pd256(x.add(4), d));
            _mm256_set_m128(hi, lo)
        }
    }

    impl Source for f32 {
        #[target_feature(enable = "avx512f,avx2,fma")]
        #[inline]
        unsafe fn diff_pd512(x: *const f32, d: usize) -> __m512d {
            // Widening is exact: the float64 difference of the float32 values.
            _mm512_sub_pd(_mm512_cvtps_pd(_mm256_loadu_ps(x.add(d))), _mm512_cvtps_pd(_mm256_loadu_ps(x)))
        }
        #[target_feature(enable = "avx512f,avx2,fma")]
        #[inline]
        unsafe fn diff_ps512(x: *const f32, d: usize) -> __m512 {
            // Equal to the float64 difference rounded to float32 (header).
            _mm512_sub_ps(_mm512_loadu_ps(x.add(d)), _mm512_loadu_ps(x))
        }
        #[target_feature(enable = "avx2,fma")]
        #[inline]
        unsafe fn diff_pd256(x: *const f32, d: usize) -> __m256d {
            _mm256_sub_pd(_mm256_cvtps_pd(_mm_loadu_ps(x.add(d))), _mm256_cvtps_pd(_mm_loadu_ps(x)))
        }
        #[target_feature(enable = "avx2,fma")]
        #[inline]
        unsafe fn diff_ps256(x: *const f32, d: usize) -> __m256 {
            _mm256_sub_ps(_mm256_loadu_ps(x.add(d)), _mm256_loadu_ps(x))
        }
    }

    /// 8 x 8 float64: `r[lane][k]` -> `out[k][lane]`.
    #[target_feature(enable = "avx512f,avx2,fma")]
    #[inline]
    unsafe fn transpose_pd512(r: [__m512d; 8]) -> [__m512d; 8] {
        // t[2i] = (r[2i][k], r[2i+1][k]) for even k, t[2i+1] for odd k.
        let mut t = [_mm512_setzero_pd(); 8];
        for i in 0..4 {
            t[2 * i] = _mm512_unpacklo_pd(r[2 * i], r[2 * i + 1]);
            t[2 * i + 1] = _mm512_unpackhi_pd(r[2 * i], r[2 * i + 1]);
        }
        // u[4g + c]: 128-bit blocks (k = c, c + 4) of rows 4g..4g+3 (c < 4).
        let mut u = [_mm512_setzero_pd(); 8];
        for g in 0..2 {
            let (a, b) = (4 * g, 4 * g + 2);
            u[4 * g] = _mm512_shuffle_f64x2::<0x88>(t[a], t[b]);
            u[4 * g + 1] = _mm512_shuffle_f64x2::<0x88>(t[a + 1], t[b + 1]);
            u[4 * g + 2] = _mm512_shuffle_f64x2::<0xdd>(t[a], t[b]);
            u[4 * g + 3] = _mm512_shuffle_f64x2::<0xdd>(t[a + 1], t[b + 1]);
        }
        let mut out = [_mm512_setzero_pd(); 8];
        for c in 0..4 {
            out[c] = _mm512_shuffle_f64x2::<0x88>(u[c], u[4 + c]);
            out[c + 4] = _mm512_shuffle_f64x2::<0xdd>(u[c], u[4 + c]);
        }
        out
    }

    /// 16 x 16 float32: `r[lane][k]` -> `out[k][lane]`.
    #[target_feature(enable = "avx512f,avx2,fma")]
    #[inline]
    unsafe fn transpose_ps512(r: [__m512; 16]) -> [__m512; 16] {
        // Within each 128-bit block: t pairs rows 2i, 2i+1 (columns 0, 1 in
        // t[2i], 2, 3 in t[2i+1]); s[4g + c] holds column c of rows 4g..4g+3.
        let mut t = [_mm512_setzero_ps(); 16];
        for i in 0..8 {
            t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
            t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
        }
        let mut s = [_mm512_setzero_ps(); 16];
        for g in 0..4 {
            let pd = |v: __m512| _mm512_castps_pd(v);
            let (a, b, c, e) = (pd(t[4 * g]), pd(t[4 * g + 1]), pd(t[4 * g + 2]), pd(t[4 * g + 3]));
            s[4 * g] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
            s[4 * g + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
            s[4 * g + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, e));
            s[4 * g + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, e));
        }
        // Column 4k + c gathers block k of s[c], s[4 + c], s[8 + c], s[12 + c].
        let mut out = [_mm512_setzero_ps(); 16];
        for c in 0..4 {
            let x0 = _mm512_shuffle_f32x4::<0x44>(s[c], s[4 + c]);
            let x1 = _mm512_shuffle_f32x4::<0xee>(s[c], s[4 + c]);
            let y0 = _mm512_shuffle_f32x4::<0x44>(s[8 + c], s[12 + c]);
            let y1 = _mm512_shuffle_f32x4::<0xee>(s[8 + c], s[12 + c]);
            out[c] = _mm512_shuffle_f32x4::<0x88>(x0, y0);
            out[4 + c] = _mm512_shuffle_f32x4::<0xdd>(x0, y0);
            out[8 + c] = _mm512_shuffle_f32x4::<0x88>(x1, y1);
            out[12 + c] = _mm512_shuffle_f32x4::<0xdd>(x1, y1);
        }
        out
    }

    /// 4 x 4 float64: `r[lane][k]` -> `out[k][lane]`.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    unsafe fn transpose_pd256(r: [__m256d; 4]) -> [__m256d; 4] {
        let t0 = _mm256_unpacklo_pd(r[0], r[1]);
        let t1 = _mm256_unpackhi_pd(r[0], r[1]);
        let t2 = _mm256_unpacklo_pd(r[2], r[3]);
        let t3 = _mm256_unpackhi_pd(r[2], r[3]);
        [
            _mm256_permute2f128_pd::<0x20>(t0, t2),
            _mm256_permute2f128_pd::<0x20>(t1, t3),
            _mm256_permute2f128_pd::<0x31>(t0, t2),
            _mm256_permute2f128_pd::<0x31>(t1, t3),
        ]
    }

    /// 8 x 8 float32: `r[lane][k]` -> `out[k][lane]` (as `transpose_ps512`,
    /// with two 128-bit blocks).
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    unsafe fn transpose_ps256(r: [__m256; 8]) -> [__m256; 8] {
        let mut t = [_mm256_setzero_ps(); 8];
        for i in 0..4 {
            t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
            t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
        }
        let mut s = [_mm256_setzero_ps(); 8];
        for g in 0..2 {
            let pd = |v: __m256| _mm256_castps_pd(v);
            let (a, b, c, e) = (pd(t[4 * g]), pd(t[4 * g + 1]), pd(t[4 * g + 2]), pd(t[4 * g + 3]));
            s[4 * g] = _mm256_castpd_ps(_mm256_unpacklo_pd(a, c));
            s[4 * g + 1] = _mm256_castpd_ps(_mm256_unpackhi_pd(a, c));
            s[4 * g + 2] = _mm256_castpd_ps(_mm256_unpacklo_pd(b, e));
            s[4 * g + 3] = _mm256_castpd_ps(_mm256_unpackhi_pd(b, e));
        }
        let mut out = [_mm256_setzero_ps(); 8];
        for c in 0..4 {
            out[c] = _mm256_permute2f128_ps::<0x20>(s[c], s[4 + c]);
            out[4 + c] = _mm256_permute2f128_ps::<0x31>(s[c], s[4 + c]);
        }
        out
    }

    /// Whether every lane of the finiteness accumulator is still 0.
    #[target_feature(enable = "avx512f,avx2,fma")]
    #[inline]
    unsafe fn zero_pd512(acc: __m512d) -> bool {
        _mm512_cmp_pd_mask::<_CMP_EQ_OQ>(acc, _mm512_setzero_pd()) == 0xff
    }
    #[target_feature(enable = "avx512f,avx2,fma")]
    #[inline]
    unsafe fn zero_ps512(acc: __m512) -> bool {
        _mm512_cmp_ps_mask::<_CMP_EQ_OQ>(acc, _mm512_setzero_ps()) == 0xffff
    }
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    unsafe fn zero_pd256(acc: __m256d) -> bool {
        _mm256_movemask_pd(_mm256_cmp_pd::<_CMP_EQ_OQ>(acc, _mm256_setzero_pd())) == 0xf
    }
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    unsafe fn zero_ps256(acc: __m256) -> bool {
        _mm256_movemask_ps(_mm256_cmp_ps::<_CMP_EQ_OQ>(acc, _mm256_setzero_ps())) == 0xff
    }

    /// One kernel: rows `0..m` (m a multiple of V) of the tile `out`
    /// (`[j][lane]`, `starts.len()` lanes, a multiple of V), lane groups of V.
    macro_rules! kernel {
        ($name:ident, $features:literal, $e:ty, $v:literal, $vec:ty, $zero:ident, $diff:ident, $fma:ident, $transpose:ident, $store:ident, $all_zero:ident) => {
            /// With `ahead > 0`, also prefetches the row's values `ahead`
            /// on (addresses past `x` are harmless: a prefetch never faults).
            ///
            /// # Safety
            /// The features must be available; every row `starts[l]..+m+d`
            /// must lie in `x`, and `out` hold `m · starts.len()` values.
            #[target_feature(enable = $features)]
            unsafe fn $name<S: Source>(x: &[S], starts: &[usize], d: usize, m: usize, ahead: usize, out: &mut [$e]) -> bool {
                let w = starts.len();
                debug_assert!(w.is_multiple_of($v) && m.is_multiple_of($v) && out.len() >= m * w);
                debug_assert!(starts.iter().all(|&s| s + m + d <= x.len()));
                let (src, dst) = (x.as_ptr(), out.as_mut_ptr());
                let zero = $zero();
                let mut acc = zero;
                let mut rows = [zero; $v];
                // Blocks of j outside, lane groups inside: all W rows advance
                // together (W sequential streams, as the scalar gather).
                for j in (0..m).step_by($v) {
                    for g in (0..w).step_by($v) {
                        for (k, r) in rows.iter_mut().enumerate() {
                            if ahead > 0 {
                                // V values of S: one or two cache lines.
                                let next = src.wrapping_add(starts[g + k] + j + ahead) as *const i8;
                                for line in (0..$v * size_of::<S>()).step_by(64) {
                                    _mm_prefetch::<_MM_HINT_T0>(next.wrapping_add(line));
                                }
                            }
                            *r = S::$diff(src.add(starts[g + k] + j), d);
                            acc = $fma(*r, zero, acc);
                        }
                        for (k, col) in $transpose(rows).into_iter().enumerate() {
                            $store(dst.add((j + k) * w + g), col);
                        }
                    }
                }
                $all_zero(acc)
            }
        };
    }

    #[rustfmt::skip]
    kernel!(pd512, "avx512f,avx2,fma", f64, 8, __m512d, _mm512_setzero_pd, diff_pd512, _mm512_fmadd_pd, transpose_pd512, _mm512_storeu_pd, zero_pd512);
    #[rustfmt::skip]
    kernel!(ps512, "avx512f,avx2,fma", f32, 16, __m512, _mm512_setzero_ps, diff_ps512, _mm512_fmadd_ps, transpose_ps512, _mm512_storeu_ps, zero_ps512);
    #[rustfmt::skip]
    kernel!(pd256, "avx2,fma", f64, 4, __m256d, _mm256_setzero_pd, diff_pd256, _mm256_fmadd_pd, transpose_pd256, _mm256_storeu_pd, zero_pd256);
    #[rustfmt::skip]
    kernel!(ps256, "avx2,fma", f32, 8, __m256, _mm256_setzero_ps, diff_ps256, _mm256_fmadd_ps, transpose_ps256, _mm256_storeu_ps, zero_ps256);

    /// One store kernel (`super::store_rows`): entries `0..m` (m a multiple
    /// of V) of `state` (`[entry][lane]`, w lanes, a multiple of V) to
    /// `out[starts[lane] + i]`.
    macro_rules! store_kernel {
        ($name:ident, $features:literal, $e:ty, $v:literal, $zero:ident, $load:ident, $transpose:ident, $store:ident) => {
            /// # Safety
            /// The features must be available; `state` must hold `m · w`
            /// values and every row `starts[l]..+m` lie in `out`.
            #[target_feature(enable = $features)]
            unsafe fn $name(state: &[$e], w: usize, m: usize, starts: &[usize], out: &mut [$e]) {
                debug_assert!(w.is_multiple_of($v) && m.is_multiple_of($v) && state.len() >= m * w && starts.len() == w);
                debug_assert!(starts.iter().all(|&s| s + m <= out.len()));
                let (src, dst) = (state.as_ptr(), out.as_mut_ptr());
                let mut rows = [$zero(); $v];
                for i in (0..m).step_by($v) {
                    for g in (0..w).step_by($v) {
                        for (k, r) in rows.iter_mut().enumerate() {
                            *r = $load(src.add((i + k) * w + g));
                        }
                        // Column k holds entries i..i+V of lane g + k.
                        for (k, col) in $transpose(rows).into_iter().enumerate() {
                            $store(dst.add(starts[g + k] + i), col);
                        }
                    }
                }
            }
        };
    }

    #[rustfmt::skip]
    store_kernel!(store_pd512, "avx512f,avx2,fma", f64, 8, _mm512_setzero_pd, _mm512_loadu_pd, transpose_pd512, _mm512_storeu_pd);
    #[rustfmt::skip]
    store_kernel!(store_ps512, "avx512f,avx2,fma", f32, 16, _mm512_setzero_ps, _mm512_loadu_ps, transpose_ps512, _mm512_storeu_ps);
    #[rustfmt::skip]
    store_kernel!(store_pd256, "avx2,fma", f64, 4, _mm256_setzero_pd, _mm256_loadu_pd, transpose_pd256, _mm256_storeu_pd);
    #[rustfmt::skip]
    store_kernel!(store_ps256, "avx2,fma", f32, 8, _mm256_setzero_ps, _mm256_loadu_ps, transpose_ps256, _mm256_storeu_ps);

    /// The kernel a call on `w` lanes takes under `simd`, as its register
    /// width in elements: `(v512, true)` for the 512-bit kernel when `w` is
    /// a multiple of `v512`, `(v512 / 2, false)` for the 256-bit one when `w`
    /// is a multiple of that (AVX-512 implies AVX2 and FMA, `Simd::detect`),
    /// else `None` (the caller's scalar path). `simd` is available here
    /// (`Transpose::new`).
    fn width(simd: Simd, w: usize, v512: usize) -> Option<(usize, bool)> {
        match simd {
            Simd::Avx512 if w.is_multiple_of(v512) => Some((v512, true)),
            Simd::Avx512 | Simd::Avx2Fma if w.is_multiple_of(v512 / 2) => Some((v512 / 2, false)),
            _ => None,
        }
    }

    /// Float64 states to float64 rows: 8 x 8 under AVX-512, 4 x 4 under AVX2
    /// (and for 4 lanes under AVX-512). Returns the entries written (a
    /// multiple of V; 0 when the lanes do not fill registers). The caller
    /// checked the bounds.
    pub(super) fn from_f64(simd: Simd, state: &[f64], w: usize, n: usize, starts: &[usize], out: &mut [f64]) -> usize {
        let Some((v, wide)) = width(simd, w, 8) else { return 0 };
        let m = n - n % v;
        // SAFETY: `width` picked a kernel whose features were detected; bounds as above.
        unsafe { if wide { store_pd512(state, w, m, starts, out) } else { store_pd256(state, w, m, starts, out) } };
        m
    }

    /// Float32 states to float32 rows: 16 x 16 under AVX-512, 8 x 8 under
    /// AVX2 (and for 8 lanes under AVX-512). As [`from_f64`].
    pub(super) fn from_f32(simd: Simd, state: &[f32], w: usize, n: usize, starts: &[usize], out: &mut [f32]) -> usize {
        let Some((v, wide)) = width(simd, w, 16) else { return 0 };
        let m = n - n % v;
        // SAFETY: as in `from_f64`.
        unsafe { if wide { store_ps512(state, w, m, starts, out) } else { store_ps256(state, w, m, starts, out) } };
        m
    }

    /// Float64 lanes: 8 x 8 under AVX-512, 4 x 4 under AVX2 (and for 4
    /// lanes under AVX-512). Returns the entries written and whether every
    /// increment was finite. The caller checked the rows' bounds.
    pub(super) fn to_f64<S: Source>(simd: Simd, x: &[S], starts: &[usize], d: usize, n: usize, ahead: usize, out: &mut [f64]) -> (usize, bool) {
        let Some((v, wide)) = width(simd, starts.len(), 8) else { return (0, true) };
        let m = n - n % v;
        // SAFETY: as in `from_f64`.
        (m, unsafe { if wide { pd512(x, starts, d, m, ahead, out) } else { pd256(x, starts, d, m, ahead, out) } })
    }

    /// Float32 lanes: 16 x 16 under AVX-512, 8 x 8 under AVX2 (and for 8
    /// lanes under AVX-512). As [`to_f64`].
    pub(super) fn to_f32<S: Source>(simd: Simd, x: &[S], starts: &[usize], d: usize, n: usize, ahead: usize, out: &mut [f32]) -> (usize, bool) {
        let Some((v, wide)) = width(simd, starts.len(), 16) else { return (0, true) };
        let m = n - n % v;
        // SAFETY: as in `from_f64`.
        (m, unsafe { if wide { ps512(x, starts, d, m, ahead, out) } else { ps256(x, starts, d, m, ahead, out) } })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// splitmix64
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }
        fn unit(&mut self) -> f64 {
            (self.next() >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        }
    }

    /// Every transpose this machine has, then the scalar one.
    fn kinds() -> Vec<Transpose> {
        let mut v: Vec<Transpose> = [Simd::Avx512, Simd::Avx2Fma]
            .into_iter()
            .filter(|s| s.available())
            .flat_map(|s| [false, true].map(|prefetch| Transpose { simd: Some(s), prefetch }))
            .collect();
        v.push(Transpose { simd: None, prefetch: false });
        v
    }

    fn bits<E: Lane, const W: usize>(tile: &[[E; W]]) -> Vec<u64> {
        tile.iter().flatten().map(|v| v.to_f64().to_bits()).collect()
    }

    /// SIMD and scalar fills of random rows agree bit for bit (values and
    /// finiteness) for n and d around the register widths, offsets not
    /// aligned to anything, and a non-finite value in one lane.
    fn agree<T: SigFloat, E: Lane, const W: usize>() {
        let mut rng = Rng(W as u64);
        // Points with a large offset and small moves: the differences round.
        let data: Vec<T> = (0..4000).map(|i| T::from_f64(1e3 + (i % 97) as f64 * 0.1 + rng.unit() * 1e-3)).collect();
        for d in [1, 2, 3, 4, 5, 6, 7, 8, 9] {
            for n in [1, 3, 4, 7, 8, 15, 16, 17, 33, 64 * d] {
                let starts: [usize; W] = std::array::from_fn(|_| (rng.next() % (data.len() - n - d) as u64) as usize);
                let want = {
                    let mut t = vec![[E::ZERO; W]; n];
                    assert!(full(Transpose { simd: None, prefetch: false }, &data, &starts, d, n, &mut t));
                    t
                };
                for how in kinds() {
                    let mut got = vec![[E::from_f64(7.0); W]; n];
                    assert!(full(how, &data, &starts, d, n, &mut got), "{how:?} d={d} n={n}");
                    assert_eq!(bits(&got), bits(&want), "{how:?} W={W} d={d} n={n}");
                }
                // A non-finite point in the last lane, at each of a few places.
                for at in [0, n / 2, n + d - 1] {
                    let mut bad = data.clone();
                    bad[starts[W - 1] + at] = T::from_f64(f64::INFINITY);
                    for how in kinds() {
                        let mut got = vec![[E::ZERO; W]; n];
                        assert!(!full(how, &bad, &starts, d, n, &mut got), "{how:?} W={W} d={d} n={n} at={at}");
                    }
                }
            }
        }
    }

    /// `$check::<A, B, W>()` for every pair (A, B) of f32 and f64 and every
    /// lane count W of the kernels (1, 2, 4, 8, 16).
    macro_rules! for_every_pair_and_width {
        ($check:ident) => {
            for_every_pair_and_width!(@w $check, f64, f64);
            for_every_pair_and_width!(@w $check, f32, f32);
            for_every_pair_and_width!(@w $check, f32, f64);
            for_every_pair_and_width!(@w $check, f64, f32);
        };
        (@w $check:ident, $a:ty, $b:ty) => {
            $check::<$a, $b, 1>();
            $check::<$a, $b, 2>();
            $check::<$a, $b, 4>();
            $check::<$a, $b, 8>();
            $check::<$a, $b, 16>();
        };
    }

    #[test]
    fn simd_fill_is_the_scalar_fill_bit_for_bit() {
        for_every_pair_and_width!(agree);
    }

    /// `store_rows` with every transpose writes what the lane-by-lane copy
    /// writes, bit for bit, and nothing outside the rows: n around the
    /// register widths, all lanes and fewer (the lane-by-lane path), rows in
    /// lane order with gaps and in reverse (a stream's prefixes are strided).
    fn stores_agree<E: Lane, U: SigFloat, const W: usize>() {
        let mut rng = Rng(3 * W as u64 + 1);
        for n in [1, 3, 4, 7, 8, 9, 15, 16, 17, 39, 120, 4680] {
            let state: Vec<[E; W]> = (0..n).map(|_| std::array::from_fn(|_| E::from_f64(rng.unit() * 1e3))).collect();
            for lanes in [W, W - W / 2, 1] {
                for reverse in [false, true] {
                    let gap = 5;
                    let starts: Vec<usize> = (0..lanes).map(|l| if reverse { lanes - 1 - l } else { l } * (n + gap) + 2).collect();
                    let len = lanes * (n + gap) + 2;
                    let mut want = vec![U::from_f64(-7.0); len];
                    for (lane, &st) in starts.iter().enumerate() {
                        for i in 0..n {
                            want[st + i] = U::from_f64(state[i][lane].to_f64());
                        }
                    }
                    for how in kinds() {
                        let mut got = vec![U::from_f64(-7.0); len];
                        store_rows(how, &state, n, &starts, &mut got);
                        let b = |v: &[U]| v.iter().map(|x| x.to_f64().to_bits()).collect::<Vec<_>>();
                        assert_eq!(b(&got), b(&want), "{how:?} W={W} lanes={lanes} n={n} reverse={reverse}");
                    }
                }
            }
        }
    }

    #[test]
    fn simd_store_is_the_lane_by_lane_store_bit_for_bit() {
        for_every_pair_and_width!(stores_agree);
    }

    #[test]
    fn overflowing_differences_of_finite_points_are_not_finite() {
        for how in kinds() {
            let starts = [0usize; 8];
            let (mut t64, mut t32) = (vec![[0.0f64; 8]; 32], vec![[0.0f32; 8]; 32]);
            // f64::MAX - (-f64::MAX) overflows in float64 already.
            let mut x = [0.0f64; 33];
            (x[1], x[2]) = (f64::MAX, -f64::MAX);
            assert!(!full(how, &x, &starts, 1, 32, &mut t64), "{how:?}");
            assert!(!full(how, &x, &starts, 1, 32, &mut t32), "{how:?}");
            // ±1e39 is finite in float64 and overflows float32 lanes.
            let mut y = [0.0f64; 33];
            y[20] = 1e39;
            assert!(full(how, &y, &starts, 1, 32, &mut t64), "{how:?}");
            assert!(!full(how, &y, &starts, 1, 32, &mut t32), "{how:?}");
        }
    }

    /// The header's claim that lets float32 sources be subtracted in float32:
    /// f32(f64(a) - f64(b)) == a - b for float32 a, b (all finite classes,
    /// subnormals, overflow, and pairs whose exact difference lies next to a
    /// float32 rounding boundary).
    #[test]
    fn f32_difference_through_f64_is_the_f32_difference() {
        let mut rng = Rng(1);
        let check = |a: f32, b: f32| {
            let direct = a - b;
            let through = (a as f64 - b as f64) as f32;
            assert!(direct.to_bits() == through.to_bits() || (direct.is_nan() && through.is_nan()), "{a:e} - {b:e}: {direct:e} vs {through:e}");
        };
        for _ in 0..2_000_000 {
            let (x, y) = (rng.next(), rng.next());
            check(f32::from_bits(x as u32), f32::from_bits(y as u32));
            // Same sign and nearby exponents: the cancelling cases.
            let a = f32::from_bits((x as u32) & 0x7fff_ffff);
            let e = ((y >> 32) % 40) as u32;
            check(a, f32::from_bits(a.to_bits().saturating_sub(e << 23) ^ ((y as u32) & 0x007f_ffff)));
            // b half an ulp of a away, plus or minus a few ulps of b: the
            // exact difference sits next to a float32 tie.
            let half_ulp = f32::from_bits(a.to_bits() & 0x7f80_0000) * f32::EPSILON * 0.5;
            let tweak = f32::from_bits(half_ulp.to_bits().wrapping_add(((y >> 40) % 5) as u32).wrapping_sub(2));
            check(a, tweak);
            check(a, -tweak);
        }
        check(f32::MAX, -f32::MAX);
        check(f32::MIN_POSITIVE, f32::from_bits(1));
    }
}
