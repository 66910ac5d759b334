/**
 * Which TensorFlow.js backend runs the models: 'native' (the `sigvwap` backend of
 * nativeBackend.ts: the CPU backend with native hot kernels) or 'cpu' (tfjs-backend-cpu, pure
 * JavaScript). Both compute the same functions (parity tests in tests/ops/nativeBackend.test.ts),
 * and both store float32 tensors, so checkpoints are interchangeable.
 *
 * Default (`chooseBackend()` with no request, applied by tf.ts at load): 'native' when the
 * addon has the tensor kernels, else 'cpu' with a warning that says why. An explicit request
 * ('native' from `--backend native`) that cannot be honoured is ERR_ARG, never a silent
 * fallback.
 */
import * as tfc from '@tensorflow/tfjs-core';

import { SigvwapError } from '../errors.js';
import { NATIVE_BACKEND, registerNativeBackend, type NativeBackendStatus } from './nativeBackend.js';

export const BACKENDS = ['native', 'cpu'] as const;
export type BackendName = (typeof BACKENDS)[number];

/** Whether the native backend can run here (registers it on first call). */
export function nativeBackendStatus(): NativeBackendStatus {
  return registerNativeBackend();
}

/** The tfjs name of a backend choice ('native' is registered as 'sigvwap'). */
function tfjsName(name: string): string {
  return name === 'native' || name === NATIVE_BACKEND ? NATIVE_BACKEND : name;
}

/** Switch to a backend: 'native' (alias 'sigvwap') or 'cpu'. ERR_ARG when it cannot run. */
export function useBackend(name: string): void {
  const tfName = tfjsName(name);
  if (tfName === NATIVE_BACKEND) {
    const s = nativeBackendStatus();
    if (!s.available) throw new SigvwapError('ERR_ARG', `backend: 'native' is unavailable: ${s.reason}; use --backend cpu`, { argument: 'backend', value: name });
  } else if (tfName !== 'cpu') {
    throw new SigvwapError('ERR_ARG', `backend: expected one of ${BACKENDS.map((b) => `'${b}'`).join(', ')}, got '${name}'`, { argument: 'backend', value: name });
  }
  if (tfc.getBackend() !== tfName) tfc.setBackend(tfName);
}

/** The backend in use, by its choice name ('native' or 'cpu'). */
export function activeBackend(): BackendName {
  return tfc.getBackend() === NATIVE_BACKEND ? 'native' : 'cpu';
}

/**
 * Apply a request, or the default when there is none; returns what runs and, when the default
 * had to fall back to 'cpu', a warning saying why.
 */
export function chooseBackend(request?: string): { backend: BackendName; warning?: string } {
  if (request !== undefined) {
    useBackend(request);
    return { backend: activeBackend() };
  }
  const s = nativeBackendStatus();
  if (s.available) {
    useBackend('native');
    return { backend: 'native' };
  }
  useBackend('cpu');
  return { backend: 'cpu', warning: `training on tfjs' JavaScript CPU backend: the native backend is unavailable (${s.reason})` };
}
