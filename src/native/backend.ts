/**
 * Backend facts and settings: version, SIMD level, thread count, CUDA status.
 */
import { fromNative, SigvwapError } from '../errors.js';
import { native, nativePath } from './binding.js';
import type { BackendInfo } from './binding.js';

export type { BackendInfo };

/** Where kernels run: `auto` = CUDA when available, else CPU. */
export type DeviceName = 'auto' | 'cpu' | 'cuda';

export interface BackendReport extends BackendInfo {
  /** Path of the loaded native binary. */
  binary: string;
}

/**
 * Throws ERR_ARG with `data.argument = 'SIGVWAP_THREADS'` when that variable
 * is set to anything but an integer in 1..1024 (and setThreads has not
 * overridden it), as does every native kernel: an invalid value is
 * reported, never ignored or used.
 */
export function backendInfo(): BackendReport {
  try {
    return { ...native().backendInfo(), binary: nativePath() };
  } catch (e) {
    throw fromNative(e);
  }
}

/**
 * Size the native thread pool (1..1024). Also settable with the environment
 * variable SIGVWAP_THREADS (same range, read when the pool is first used);
 * setThreads overrides it.
 */
export function setThreads(threads: number): void {
  if (!Number.isInteger(threads) || threads < 1 || threads > 1024) {
    throw new SigvwapError('ERR_ARG', `threads: must be an integer in 1..1024, got ${threads}`, { argument: 'threads' });
  }
  try {
    native().setThreads(threads);
  } catch (e) {
    throw fromNative(e);
  }
}

/** A measured FMA peak (see `fmaPeak`). */
export interface FmaPeakReport {
  /** Floating-point operations per second over all pool threads, in 1e9 (an FMA counts 2). */
  gflops: number;
  /** Pool threads that ran at once. */
  threads: number;
  /** Vector lanes of one FMA instruction measured. */
  lanes: number;
  /** Instruction set measured: 'avx512f', 'avx2+fma' or 'portable'. */
  simd: string;
  dtype: 'f32' | 'f64';
}

/**
 * The FMA throughput of the native pool's threads, measured (~30 ms): the
 * denominator of the benchmarks' "share of peak". Measured because neither
 * the clock under load nor the number of FMA pipes per core (one or two
 * 512-bit units on AVX-512 parts) can be read from the system.
 */
export function fmaPeak(dtype: 'f32' | 'f64' = 'f64'): FmaPeakReport {
  if (dtype !== 'f32' && dtype !== 'f64') {
    throw new SigvwapError('ERR_ARG', `dtype: must be 'f32' or 'f64', got ${String(dtype)}`, { argument: 'dtype' });
  }
  try {
    return { ...native().fmaPeak(dtype === 'f32'), dtype };
  } catch (e) {
    throw fromNative(e);
  }
}
