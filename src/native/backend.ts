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
