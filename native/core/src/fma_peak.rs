//! The measured fused multiply-add throughput of this machine: the peak that
//! the benchmarks' "share of peak" figures divide by.
//!
//! Why measure it: peak = threads × clock × FMA pipes × lanes × 2 FLOP, and
//! neither the clock under load (turbo, shared hosts) nor the number of FMA
//! pipes can be read reliably. CPUID does not say whether an AVX-512 core has
//! one 512-bit FMA unit or two (Skylake-SP Silver vs Gold, Sapphire Rapids,
//! Zen 4 double-pumped), and a VM's /proc/cpuinfo shows the nominal clock.
//! A formula from those guesses was off by 2x on the machine this was written
//! on (two 512-bit pipes, turbo above the 2.3 GHz shown).
//!
//! Method: every pool thread at once (`broadcast`) runs `CHAINS` independent
//! chains `a <- a * b + c` on registers of the widest vectors the signature
//! kernels use for that float type (512-bit with AVX-512, 256-bit with
//! AVX2+FMA, else plain `a * b + c` on arrays, which LLVM vectorizes to the
//! baseline). 16 chains cover the FMA latency (4 cycles) times two pipes with
//! room to spare, so the loop is bound by FMA issue, not by latency.
//! FLOP = 2 · lanes · CHAINS · iterations · threads over the caller's wall
//! time of one round (wake-up included: an honest bound, ~1% of a round);
//! the best of `ROUNDS` rounds. Cost: ~`ROUNDS` × 5 ms per float type.

use std::time::Instant;

use crate::pool;

/// Independent accumulator chains per thread.
const CHAINS: usize = 16;
/// Loop trips per round and thread (~5 ms at 2 FMA/cycle and 3 GHz).
const ITERATIONS: u64 = 1 << 20;
/// Rounds; the best is reported.
const ROUNDS: usize = 5;

/// One measurement of [`fma_peak`].
#[derive(Clone, Debug, PartialEq)]
pub struct FmaPeak {
    /// Floating-point operations per second over all threads, in 1e9 (an FMA counts 2).
    pub gflops: f64,
    /// Pool threads that ran at once.
    pub threads: usize,
    /// Vector lanes of one FMA instruction (8 or 16 with AVX-512, 4 or 8 with AVX2, else the array width).
    pub lanes: usize,
    /// The instruction set measured: "avx512f", "avx2+fma" or "portable".
    pub simd: &'static str,
}

/// Measure the FMA peak of the pool's threads for float32 (`f32`) or float64.
pub fn fma_peak(f32: bool) -> FmaPeak {
    let (simd, lanes, run) = kernel(f32);
    let pool = pool::current();
    let threads = pool.current_num_threads();
    // One untimed round: wakes the threads and brings the clock up.
    pool.broadcast(|_| run(ITERATIONS / 8));
    let best = (0..ROUNDS)
        .map(|_| {
            let t0 = Instant::now();
            let sums = pool.broadcast(|_| run(ITERATIONS));
            let secs = t0.elapsed().as_secs_f64();
            // The results are used, so no chain can be dropped.
            assert!(sums.iter().all(|s| s.is_finite()), "FMA chains stay finite");
            secs
        })
        .fold(f64::INFINITY, f64::min);
    let flop = 2.0 * lanes as f64 * CHAINS as f64 * ITERATIONS as f64 * threads as f64;
    FmaPeak { gflops: flop / best / 1e9, threads, lanes, simd }
}

type Run = fn(u64) -> f64;

fn kernel(f32: bool) -> (&'static str, usize, Run) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            return if f32 { ("avx512f", 16, x86::ps512) } else { ("avx512f", 8, x86::pd512) };
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
            return if f32 { ("avx2+fma", 8, x86::ps256) } else { ("avx2+fma", 4, x86::pd256) };
        }
    }
    if f32 {
        ("portable", 8, portable::<f32, 8>)
    } else {
        ("portable", 4, portable::<f64, 4>)
    }
}

/// `a * b + c` on arrays of `W` (two operations each; no FMA instruction is assumed).
fn portable<E, const W: usize>(iterations: u64) -> f64
where
    E: crate::Real + std::ops::Mul<Output = E> + std::ops::Add<Output = E>,
{
    let (b, c) = (E::from_f64(0.999_999_9), E::from_f64(1e-9));
    let mut a = [[E::from_f64(1.0); W]; CHAINS];
    for _ in 0..iterations {
        for chain in a.iter_mut() {
            for x in chain.iter_mut() {
                *x = *x * b + c;
            }
        }
    }
    a.iter().flatten().map(|x| x.to_f64()).sum()
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    use super::CHAINS;

    /// A safe entry (`fn(u64) -> f64`) around a `target_feature` loop of
    /// `CHAINS` register-resident FMA chains on one vector type.
    macro_rules! fma_chains {
        ($name:ident, $feature:literal, $vec:ty, $elem:ty, $lanes:literal, $set1:ident, $fmadd:ident) => {
            pub(super) fn $name(iterations: u64) -> f64 {
                #[target_feature(enable = $feature)]
                unsafe fn chains(iterations: u64) -> f64 {
                    let (b, c) = ($set1(0.999_999_9), $set1(1e-9));
                    let mut a: [$vec; CHAINS] = [$set1(1.0); CHAINS];
                    for _ in 0..iterations {
                        for x in a.iter_mut() {
                            *x = $fmadd(*x, b, c);
                        }
                    }
                    // SAFETY: a vector of $lanes $elem has the layout of the array.
                    a.iter().map(|v| unsafe { std::mem::transmute::<$vec, [$elem; $lanes]>(*v) }.iter().map(|&x| x as f64).sum::<f64>()).sum()
                }
                // SAFETY: `kernel` hands out this function only when the CPU has the features.
                unsafe { chains(iterations) }
            }
        };
    }

    fma_chains!(pd512, "avx512f", __m512d, f64, 8, _mm512_set1_pd, _mm512_fmadd_pd);
    fma_chains!(ps512, "avx512f", __m512, f32, 16, _mm512_set1_ps, _mm512_fmadd_ps);
    fma_chains!(pd256, "avx2,fma", __m256d, f64, 4, _mm256_set1_pd, _mm256_fmadd_pd);
    fma_chains!(ps256, "avx2,fma", __m256, f32, 8, _mm256_set1_ps, _mm256_fmadd_ps);
}

#[cfg(test)]
mod tests {
    use super::*;

    // Chains of a <- a b + c with b < 1 converge to c / (1 - b) = 0.01 from
    // 1.0; after n trips a = b^n (1 - 0.01) + 0.01, the same in every lane.
    #[test]
    fn every_kernel_computes_the_chain() {
        let n = 1000u64;
        let b: f64 = 0.999_999_9;
        let want = CHAINS as f64 * (b.powi(n as i32) * (1.0 - 0.01) + 0.01);
        for f32 in [false, true] {
            let (simd, lanes, run) = kernel(f32);
            let got = run(n) / lanes as f64;
            let tol = if f32 { 1e-4 } else { 1e-9 };
            assert!((got - want).abs() <= tol * want, "{simd} f32={f32}: {got} vs {want}");
            let (p, plain) = if f32 { (portable::<f32, 8>(n) / 8.0, "portable f32") } else { (portable::<f64, 4>(n) / 4.0, "portable f64") };
            assert!((p - want).abs() <= tol * want, "{plain}: {p} vs {want}");
        }
    }

    #[test]
    fn the_peak_is_positive_and_names_its_instruction_set() {
        for f32 in [false, true] {
            let p = fma_peak(f32);
            assert!(p.gflops.is_finite() && p.gflops > 0.0, "{p:?}");
            assert_eq!(p.threads, pool::threads());
            assert_eq!(p.simd, kernel(f32).0);
            assert_eq!(p.lanes, kernel(f32).1);
        }
    }
}
