//! The forward sweep of small states held in registers, one first letter
//! (or pair of first letters) at a time: `S ← S ⊗ exp(z_1) ⊗ ... ⊗ exp(z_n)`
//! over a tile of increments with exactly the operations and roundings of n
//! [`mul_exp_step`]s.
//!
//! Why it is exact to split by the first letter: level k of the step reads
//! levels 1..k of the state at one word's prefixes only. With a word
//! w = (i, w_2, ..., w_k), Horner's intermediates are
//!   A_1 = z_i/k + S_1[i],  A_l = A_{l-1} · z_{w_l}/(k-l+1) + S_l[w_1..w_l],
//! and R_k[w] = A_k, so the entries whose words start with letter i,
//!   G_i = { S_k[i w'] : k = 1..M, w' any word of length k-1 },
//! evolve among themselves (given z). This module keeps G_i (Σ_{k<M} d^k
//! entries: 13 for d = 3, M = 3; 15 for d = 2, M = 4; 21 for d = 4, M = 3)
//! in vector registers, runs it through every segment of the tile, and
//! stores it back: no load or store of the state per segment, where the
//! per-segment step (`horner.rs`) loads and stores every entry, a cost the
//! FMAs of so small a state do not hide (shape a, d = 3, m = 3: the step
//! kernel ran at ~50% of the FMA peak in a one-thread profile). For M = 4
//! with d = 3 or 4, G_i (40 or 85 entries) does not fit the 32 registers;
//! the same argument splits it by the first two letters,
//!   G_ij = { S_1[i] } ∪ { S_k[i j w'] : k = 2..M },
//! 14 entries for d = 3 and 22 for d = 4, where S_1[i] is shared by the d
//! groups of letter i: each recomputes it (the same additions in the same
//! order, so the copies agree bit for bit) and the last one stores it.
//!
//! Registers, not arrays: the group is one local per level (`s1`, `[R; d]`,
//! `[[R; d]; d]`, ...) of a register type `R` ([`Reg`]: `__m512d` / `__m512`
//! under AVX-512, else the lane array). One flat array for the group, or lane
//! arrays `[E; W]`, stayed on the stack in part (LLVM stored 7-13 of the 13
//! entries every segment; the lane arrays were split into xmm pieces): a
//! stand-alone copy of the d = 3, M = 3 loop ran at 26-31 GFLOP/s that way
//! and 43 GFLOP/s with per-level locals of `__m512d` (one thread, Zen 4).
//!
//! Per segment and group the arithmetic is that of the step for the group's
//! entries. The halved increments z·½ are formed once per tile into `half`
//! and read as memory operands (the step forms them once per segment;
//! forming them per letter, d multiplies per letter and segment, ran slower
//! in a stand-alone copy of the d = 3, M = 3 loop); z_i·(1/3), z_i·(1/4),
//! and for M = 4 z_a·(1/3), are formed per group. Operation for operation (same fused
//! multiply-adds, same order) it is the step of `horner.rs`: `mul_exp_step`
//! forms A_1 = z·(1/k) + S_1 with a rounded multiply and an add, the middle
//! layers as fma(A, z·(1/(k-l+1)), S), and the last two as
//! t = fma(A_{k-2}, z·½, S_{k-1}), S_k = fma(t, z, S_k) (for k = 2,
//! t = z·½ + S_1), then S_1 += z; so both sweeps give bit-identical states
//! (a test checks it).
//!
//! Which states: [`fits`] (compile-time channel counts whose group has at
//! most 22 entries and two levels or more); `plan.rs` takes it by default
//! only where the group stays in registers (AVX-512, one register per
//! tensor entry). Memory traffic per tile: the state once in and once out
//! per group, the tile's d·ns increments (and as many halves) once per
//! group, against the step's two accesses per state entry and segment.
//! Work: the step's, plus per group and segment (M-2) multiplies and adds
//! for the A_1s, (M = 4, d = 2) d multiplies for z·(1/3), and (pairs) one
//! multiply for z_j·(1/3) and the recomputed S_1[i]. Measured against the
//! step: `plan.rs`, [`default_by_letter`](super::plan::default_by_letter).

#![allow(clippy::needless_range_loop)]

use super::horner::{lanes_add, lanes_fma, lanes_scale, Dim};
use super::lane::Lane;
use super::tensor::TensorShape;

/// The (channels, top level) pairs this sweep is compiled for: groups of at
/// most 22 entries with two levels or more, by the first letter, or by the
/// first two for M = 4 with d = 3, 4 (d = 1 is left to the step kernels: its
/// state is m numbers).
pub(crate) fn fits(channels: usize, top: usize) -> bool {
    matches!((channels, top), (2..=4, 2..=4) | (5..=8, 2))
}

/// W lanes of E in a form LLVM keeps in one (or a few) vector registers.
pub(crate) trait Reg<E: Lane, const W: usize>: Copy {
    fn load(v: &[E; W]) -> Self;
    fn store(self, v: &mut [E; W]);
    fn add(self, b: Self) -> Self;
    /// `self * E::from_f64(s)`, as `lanes_scale`.
    fn scale(self, s: f64) -> Self;
    /// `self * b + c`, fused when `FMA`, as `lanes_fma`.
    fn fma<const FMA: bool>(self, b: Self, c: Self) -> Self;
}

/// The lane array itself (every lane count and instruction set).
#[derive(Clone, Copy)]
pub(crate) struct Lanes<E: Lane, const W: usize>([E; W]);

impl<E: Lane, const W: usize> Reg<E, W> for Lanes<E, W> {
    #[inline(always)]
    fn load(v: &[E; W]) -> Self {
        Lanes(*v)
    }
    #[inline(always)]
    fn store(self, v: &mut [E; W]) {
        *v = self.0;
    }
    #[inline(always)]
    fn add(self, b: Self) -> Self {
        Lanes(lanes_add(self.0, b.0))
    }
    #[inline(always)]
    fn scale(self, s: f64) -> Self {
        Lanes(lanes_scale(self.0, s))
    }
    #[inline(always)]
    fn fma<const FMA: bool>(self, b: Self, c: Self) -> Self {
        Lanes(lanes_fma::<E, W, FMA>(self.0, b.0, c.0))
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    //! `__m512d` (8 float64 lanes) and `__m512` (16 float32 lanes). Only
    //! reached from the AVX-512 sweep (`AVX512 = true` in `block.rs`, which
    //! is handed out after run-time detection), where these inline.
    use super::Reg;
    use std::arch::x86_64::*;

    macro_rules! reg {
        ($t:ty, $e:ty, $w:literal, $load:ident, $store:ident, $add:ident, $mul:ident, $set1:ident, $fmadd:ident) => {
            impl Reg<$e, $w> for $t {
                #[inline(always)]
                fn load(v: &[$e; $w]) -> Self {
                    // SAFETY: AVX-512F is present (see the module header); unaligned load of 64 bytes.
                    unsafe { $load(v.as_ptr()) }
                }
                #[inline(always)]
                fn store(self, v: &mut [$e; $w]) {
                    // SAFETY: as `load`.
                    unsafe { $store(v.as_mut_ptr(), self) }
                }
                #[inline(always)]
                fn add(self, b: Self) -> Self {
                    // SAFETY: as `load`.
                    unsafe { $add(self, b) }
                }
                #[inline(always)]
                fn scale(self, s: f64) -> Self {
                    // SAFETY: as `load`. `s as $e`: the rounding `E::from_f64` does.
                    unsafe { $mul(self, $set1(s as $e)) }
                }
                #[inline(always)]
                fn fma<const FMA: bool>(self, b: Self, c: Self) -> Self {
                    debug_assert!(FMA, "the AVX-512 sweep is compiled with FMA");
                    // SAFETY: as `load`; FMA is part of the AVX-512 sweep's features.
                    unsafe { $fmadd(self, b, c) }
                }
            }
        };
    }
    reg!(
        __m512d,
        f64,
        8,
        _mm512_loadu_pd,
        _mm512_storeu_pd,
        _mm512_add_pd,
        _mm512_mul_pd,
        _mm512_set1_pd,
        _mm512_fmadd_pd
    );
    reg!(
        __m512,
        f32,
        16,
        _mm512_loadu_ps,
        _mm512_storeu_ps,
        _mm512_add_ps,
        _mm512_mul_ps,
        _mm512_set1_ps,
        _mm512_fmadd_ps
    );
}

/// Level k's run of letter i: `state[start(k) + i d^(k-1) ..][.. d^(k-1)]`.
#[inline(always)]
fn run(shape: &TensorShape, k: usize, i: usize) -> usize {
    shape.level_start(k) + i * shape.level_size(k - 1)
}

/// Advance the state (levels 1..=M, `[siglen][lane]`) through the `ns`
/// segments of `tile` (`[segment][channel][lane]`; `half` the same halved),
/// one first letter at a time, M = 2 or 3 (the group in the locals `s1`,
/// `s2`, `s3`, one per level).
#[inline(always)]
fn sweep_m23<
    const D: usize,
    E: Lane,
    const W: usize,
    R: Reg<E, W>,
    const FMA: bool,
    const M: usize,
>(
    shape: &TensorShape,
    state: &mut [[E; W]],
    tile: &[[E; W]],
    half: &[[E; W]],
    ns: usize,
) {
    const { assert!(M == 2 || M == 3) };
    let (tile, half) = (&tile[..ns * D], &half[..ns * D]);
    for i in 0..D {
        let (r2, r3) = (run(shape, 2, i), if M == 3 { run(shape, 3, i) } else { 0 });
        let mut s1 = R::load(&state[i]);
        let mut s2: [R; D] = std::array::from_fn(|c| R::load(&state[r2 + c]));
        // Level 3 only when M = 3 (else unused copies of s1: no memory read).
        let mut s3: [[R; D]; D] =
            std::array::from_fn(|b| std::array::from_fn(|c| if M == 3 { R::load(&state[r3 + b * D + c]) } else { s1 }));
        for s in 0..ns {
            let z: [R; D] = std::array::from_fn(|c| R::load(&tile[s * D + c]));
            // z_i read from memory at a run-time offset: indexing `z` by the
            // run-time letter would keep `z` on the stack. The halves are
            // read where they are used (memory operands of the FMAs).
            let zi = R::load(&tile[s * D + i]);
            let h = |c: usize| R::load(&half[s * D + c]);
            if M == 3 {
                // Level 3: A_1 = z_i·(1/3) + S_1, t_b = A_1·(z_b·½) + S_2[b],
                // S_3[b c] += t_b·z_c.
                let a1 = zi.scale(1.0 / 3.0).add(s1);
                for b in 0..D {
                    let t = a1.fma::<FMA>(h(b), s2[b]);
                    for c in 0..D {
                        s3[b][c] = t.fma::<FMA>(z[c], s3[b][c]);
                    }
                }
            }
            // Level 2: t = z_i·½ + S_1, S_2[c] += t·z_c; level 1.
            let t = h(i).add(s1);
            for c in 0..D {
                s2[c] = t.fma::<FMA>(z[c], s2[c]);
            }
            s1 = s1.add(zi);
        }
        s1.store(&mut state[i]);
        for c in 0..D {
            s2[c].store(&mut state[r2 + c]);
        }
        if M == 3 {
            for b in 0..D {
                for c in 0..D {
                    s3[b][c].store(&mut state[r3 + b * D + c]);
                }
            }
        }
    }
}

/// As [`sweep_m23`] for M = 4, d = 2 (15 entries per letter).
#[inline(always)]
fn sweep_m4<const D: usize, E: Lane, const W: usize, R: Reg<E, W>, const FMA: bool>(
    shape: &TensorShape,
    state: &mut [[E; W]],
    tile: &[[E; W]],
    half: &[[E; W]],
    ns: usize,
) {
    let (tile, half) = (&tile[..ns * D], &half[..ns * D]);
    for i in 0..D {
        let (r2, r3, r4) = (run(shape, 2, i), run(shape, 3, i), run(shape, 4, i));
        let mut s1 = R::load(&state[i]);
        let mut s2: [R; D] = std::array::from_fn(|c| R::load(&state[r2 + c]));
        let mut s3: [[R; D]; D] =
            std::array::from_fn(|b| std::array::from_fn(|c| R::load(&state[r3 + b * D + c])));
        let mut s4: [[[R; D]; D]; D] = std::array::from_fn(|a| {
            std::array::from_fn(|b| {
                std::array::from_fn(|c| R::load(&state[r4 + (a * D + b) * D + c]))
            })
        });
        for s in 0..ns {
            let z: [R; D] = std::array::from_fn(|c| R::load(&tile[s * D + c]));
            let zi = R::load(&tile[s * D + i]);
            let h = |c: usize| R::load(&half[s * D + c]);
            // Level 4: A_1 = z_i·(1/4) + S_1, A_2[a] = A_1·(z_a·(1/3)) + S_2[a],
            // t_ab = A_2[a]·(z_b·½) + S_3[a b], S_4[a b c] += t_ab·z_c.
            let a1 = zi.scale(0.25).add(s1);
            for a in 0..D {
                let a2 = a1.fma::<FMA>(z[a].scale(1.0 / 3.0), s2[a]);
                for b in 0..D {
                    let t = a2.fma::<FMA>(h(b), s3[a][b]);
                    for c in 0..D {
                        s4[a][b][c] = t.fma::<FMA>(z[c], s4[a][b][c]);
                    }
                }
            }
            // Level 3: A_1 = z_i·(1/3) + S_1, t_b = A_1·(z_b·½) + S_2[b], S_3[b c] += t_b·z_c.
            let a1 = zi.scale(1.0 / 3.0).add(s1);
            for b in 0..D {
                let t = a1.fma::<FMA>(h(b), s2[b]);
                for c in 0..D {
                    s3[b][c] = t.fma::<FMA>(z[c], s3[b][c]);
                }
            }
            let t = h(i).add(s1);
            for c in 0..D {
                s2[c] = t.fma::<FMA>(z[c], s2[c]);
            }
            s1 = s1.add(zi);
        }
        s1.store(&mut state[i]);
        for a in 0..D {
            s2[a].store(&mut state[r2 + a]);
            for b in 0..D {
                s3[a][b].store(&mut state[r3 + a * D + b]);
                for c in 0..D {
                    s4[a][b][c].store(&mut state[r4 + (a * D + b) * D + c]);
                }
            }
        }
    }
}

/// M = 4 by the first two letters (i, j), d = 3 or 4: the group of
/// S_1[i], S_2[i j], S_3[i j ·], S_4[i j · ·] (14 entries for d = 3, 22 for
/// d = 4). S_1[i] belongs to the d groups of letter i: each recomputes it
/// (the same additions, so the d copies agree bit for bit) and the last
/// stores it.
#[inline(always)]
fn sweep_pairs_m4<const D: usize, E: Lane, const W: usize, R: Reg<E, W>, const FMA: bool>(
    shape: &TensorShape,
    state: &mut [[E; W]],
    tile: &[[E; W]],
    half: &[[E; W]],
    ns: usize,
) {
    let (tile, half) = (&tile[..ns * D], &half[..ns * D]);
    for i in 0..D {
        for j in 0..D {
            let r2 = run(shape, 2, i) + j;
            let (r3, r4) = (run(shape, 3, i) + j * D, run(shape, 4, i) + j * D * D);
            let mut s1 = R::load(&state[i]);
            let mut s2 = R::load(&state[r2]);
            let mut s3: [R; D] = std::array::from_fn(|a| R::load(&state[r3 + a]));
            let mut s4: [[R; D]; D] =
                std::array::from_fn(|a| std::array::from_fn(|b| R::load(&state[r4 + a * D + b])));
            for s in 0..ns {
                let z: [R; D] = std::array::from_fn(|c| R::load(&tile[s * D + c]));
                let (zi, zj) = (R::load(&tile[s * D + i]), R::load(&tile[s * D + j]));
                let h = |c: usize| R::load(&half[s * D + c]);
                // Level 4: A_1 = z_i·(1/4) + S_1, A_2 = A_1·(z_j·(1/3)) + S_2,
                // t_a = A_2·(z_a·½) + S_3[a], S_4[a b] += t_a·z_b.
                let a1 = zi.scale(0.25).add(s1);
                let a2 = a1.fma::<FMA>(zj.scale(1.0 / 3.0), s2);
                for a in 0..D {
                    let t = a2.fma::<FMA>(h(a), s3[a]);
                    for b in 0..D {
                        s4[a][b] = t.fma::<FMA>(z[b], s4[a][b]);
                    }
                }
                // Level 3: A_1 = z_i·(1/3) + S_1, t = A_1·(z_j·½) + S_2, S_3[a] += t·z_a.
                let a1 = zi.scale(1.0 / 3.0).add(s1);
                let t = a1.fma::<FMA>(h(j), s2);
                for a in 0..D {
                    s3[a] = t.fma::<FMA>(z[a], s3[a]);
                }
                // Level 2: S_2 += (z_i·½ + S_1)·z_j; level 1.
                s2 = h(i).add(s1).fma::<FMA>(zj, s2);
                s1 = s1.add(zi);
            }
            if j == D - 1 {
                s1.store(&mut state[i]);
            }
            s2.store(&mut state[r2]);
            for a in 0..D {
                s3[a].store(&mut state[r3 + a]);
                for b in 0..D {
                    s4[a][b].store(&mut state[r4 + a * D + b]);
                }
            }
        }
    }
}

/// One tile for (`D`, `top`) with register type `R`: the halved increments
/// into `half` (once per tile: the step forms them once per segment), then
/// the groups.
#[inline(always)]
fn sweep_tile<const D: usize, E: Lane, const W: usize, R: Reg<E, W>, const FMA: bool>(
    shape: &TensorShape,
    state: &mut [[E; W]],
    tile: &[[E; W]],
    half: &mut [[E; W]],
    ns: usize,
    top: usize,
) {
    for (h, z) in half[..ns * D].iter_mut().zip(&tile[..ns * D]) {
        R::load(z).scale(0.5).store(h);
    }
    // `D` is a constant: the arms outside `fits` go before code generation.
    match top {
        2 => sweep_m23::<D, E, W, R, FMA, 2>(shape, state, tile, half, ns),
        3 if D <= 4 => sweep_m23::<D, E, W, R, FMA, 3>(shape, state, tile, half, ns),
        4 if D == 2 => sweep_m4::<D, E, W, R, FMA>(shape, state, tile, half, ns),
        4 if D <= 4 => sweep_pairs_m4::<D, E, W, R, FMA>(shape, state, tile, half, ns),
        _ => unreachable!("by_letter::sweep_tile outside `fits`"),
    }
}

/// [`sweep_tile`] with the best register type: `__m512d` / `__m512` when
/// `AVX512` (the caller is the AVX-512 sweep) and the lanes are exactly one
/// register, else the lane array.
#[inline(always)]
fn with_reg<const D: usize, E: Lane, const W: usize, const FMA: bool, const AVX512: bool>(
    shape: &TensorShape,
    state: &mut [[E; W]],
    tile: &[[E; W]],
    half: &mut [[E; W]],
    ns: usize,
    top: usize,
) {
    #[cfg(target_arch = "x86_64")]
    if AVX512 && FMA {
        use std::any::TypeId;
        use std::arch::x86_64::{__m512, __m512d};
        if TypeId::of::<E>() == TypeId::of::<f64>() && W == 8 {
            // SAFETY: E is f64 and W is 8, so [E; W] is [f64; 8] (same type, same layout).
            let (st, ti, ha) = unsafe {
                (
                    cast::<E, W, f64, 8>(state),
                    &*(tile as *const [[E; W]] as *const [[f64; 8]]),
                    cast::<E, W, f64, 8>(half),
                )
            };
            return sweep_tile::<D, f64, 8, __m512d, FMA>(shape, st, ti, ha, ns, top);
        }
        if TypeId::of::<E>() == TypeId::of::<f32>() && W == 16 {
            // SAFETY: E is f32 and W is 16 (as above).
            let (st, ti, ha) = unsafe {
                (
                    cast::<E, W, f32, 16>(state),
                    &*(tile as *const [[E; W]] as *const [[f32; 16]]),
                    cast::<E, W, f32, 16>(half),
                )
            };
            return sweep_tile::<D, f32, 16, __m512, FMA>(shape, st, ti, ha, ns, top);
        }
    }
    sweep_tile::<D, E, W, Lanes<E, W>, FMA>(shape, state, tile, half, ns, top)
}

/// `&mut [[E; W]]` as `&mut [[F; V]]`.
///
/// # Safety
/// `[E; W]` and `[F; V]` must be the same type.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn cast<E, const W: usize, F, const V: usize>(s: &mut [[E; W]]) -> &mut [[F; V]] {
    std::slice::from_raw_parts_mut(s.as_mut_ptr() as *mut [F; V], s.len())
}

/// Advance `state` through the `ns` segments of `tile` for (`Dm`'s fixed
/// channel count, `top`), which must satisfy [`fits`]; `half` is scratch of
/// at least `ns · d` rows.
#[inline(always)]
pub(crate) fn forward_tile<
    Dm: Dim,
    E: Lane,
    const W: usize,
    const FMA: bool,
    const AVX512: bool,
>(
    shape: &TensorShape,
    state: &mut [[E; W]],
    tile: &[[E; W]],
    half: &mut [[E; W]],
    ns: usize,
    top: usize,
) {
    debug_assert!(fits(Dm::FIXED, top));
    // `Dm::FIXED` is a constant: each sweep keeps only its channel count's arm.
    match Dm::FIXED {
        2 => with_reg::<2, E, W, FMA, AVX512>(shape, state, tile, half, ns, top),
        3 => with_reg::<3, E, W, FMA, AVX512>(shape, state, tile, half, ns, top),
        4 => with_reg::<4, E, W, FMA, AVX512>(shape, state, tile, half, ns, top),
        5 => with_reg::<5, E, W, FMA, AVX512>(shape, state, tile, half, ns, 2),
        6 => with_reg::<6, E, W, FMA, AVX512>(shape, state, tile, half, ns, 2),
        7 => with_reg::<7, E, W, FMA, AVX512>(shape, state, tile, half, ns, 2),
        8 => with_reg::<8, E, W, FMA, AVX512>(shape, state, tile, half, ns, 2),
        _ => unreachable!("by_letter::forward_tile outside `fits`"),
    }
}
