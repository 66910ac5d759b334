/**
 * The `sigvwap` TensorFlow.js backend: tfjs-backend-cpu's MathBackendCPU with its hot kernels
 * replaced by native ones (the Rust core through N-API), so that models stay written with the
 * tfjs API and its autodiff while the heavy arithmetic runs natively.
 *
 * How: every kernel config tfjs-backend-cpu registers for 'cpu' is registered again under
 * 'sigvwap' (every op works from day one, with the CPU code), then the native kernels of
 * `nativeKernels/` replace those they implement. Tensor storage is the CPU backend's: one
 * typed array per tensor, which native kernels read and write in place (no copies cross
 * N-API, only the arrays and integer shapes). Gradients are registered per kernel name, not
 * per backend, so autodiff needs nothing here. Each native kernel falls back to the CPU
 * kernel for what it does not take (dtypes, shapes; see each module's header).
 * Registration needs the addon with its tensor kernels; without it `registerNativeBackend`
 * says why and registers nothing (src/ops/backend.ts then stays on 'cpu').
 * Cost: registering copies ~170 kernel configs once.
 */
import * as tfc from '@tensorflow/tfjs-core';
import type { KernelConfig, KernelFunc } from '@tensorflow/tfjs-core';
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';

import { nativeTensorKernels } from '../native/tensorKernels.js';
import { nativeCopyKernels } from './nativeKernels/copy.js';
import { nativeElementwiseKernels } from './nativeKernels/elementwise.js';
import { nativeMatmulKernels } from './nativeKernels/matMul.js';
import { nativeReduceKernels } from './nativeKernels/reduce.js';

export const NATIVE_BACKEND = 'sigvwap';

/** The CPU backend, under its own name so tfjs keeps its tensors apart from 'cpu''s. */
export class MathBackendSigvwap extends MathBackendCPU {}

export interface NativeBackendStatus {
  available: boolean;
  /** why not, when unavailable */
  reason?: string;
}

let status: NativeBackendStatus | undefined;

/** The 'cpu' kernel function of `name` (what a native kernel falls back to). */
function cpuKernel(name: string): KernelFunc {
  const k = tfc.getKernel(name, 'cpu');
  if (!k) throw new Error(`tfjs-backend-cpu has no kernel ${name}`);
  return k.kernelFunc;
}

/** The native kernels, by kernel name. */
function nativeKernels(): KernelConfig[] {
  return [...nativeMatmulKernels(cpuKernel), ...nativeElementwiseKernels(cpuKernel), ...nativeCopyKernels(cpuKernel), ...nativeReduceKernels(cpuKernel)];
}

/** Register the `sigvwap` backend (once); whether it is available, and why not. */
export function registerNativeBackend(): NativeBackendStatus {
  if (status) return status;
  const addon = nativeTensorKernels();
  if (!addon.available) {
    status = { available: false, reason: addon.reason };
    return status;
  }
  // registered already by another copy of this module in the process (src and dist both
  // loaded): tfjs' registries are global, so it is there; registering again only warns
  if (tfc.findBackendFactory(NATIVE_BACKEND)) {
    status = { available: true };
    return status;
  }
  // priority 0 (cpu has 1): tfjs never picks it by itself; src/ops/backend.ts chooses
  tfc.registerBackend(NATIVE_BACKEND, () => new MathBackendSigvwap(), 0);
  const native = new Map(nativeKernels().map((k) => [k.kernelName, k]));
  for (const k of tfc.getKernelsForBackend('cpu')) {
    tfc.registerKernel({ ...k, ...(native.get(k.kernelName) ?? {}), backendName: NATIVE_BACKEND });
  }
  for (const [name, k] of native) {
    if (!tfc.getKernel(name, NATIVE_BACKEND)) tfc.registerKernel({ ...k, backendName: NATIVE_BACKEND });
  }
  status = { available: true };
  return status;
}

/** Names of the kernels that run natively on the `sigvwap` backend. */
export function nativeKernelNames(): string[] {
  return nativeKernels().map((k) => k.kernelName);
}
