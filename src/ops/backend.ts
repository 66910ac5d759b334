/**
 * Which TensorFlow.js backend runs the models: 'native' (the `sigvwap` backend of
 * nativeBackend.ts: the CPU backend with native hot kernels and the fused LSTM), 'wasm'
 * (tfjs-backend-wasm, wasmBackend.ts: the peer the native backend is measured against) or
 * 'cpu' (tfjs-backend-cpu, pure JavaScript). All three compute the same float32 functions
 * (parity tests in tests/ops/nativeBackend.test.ts and tests/ops/wasmBackend.test.ts), so
 * checkpoints are interchangeable: weights are stored as float32 bytes, whichever backend
 * trained them (tests/train/backends.test.ts).
 *
 * Default (`defaultBackend()`, applied by tf.ts at load, synchronously): 'native' when the
 * addon has the tensor kernels, else 'cpu' with a warning that says why. An explicit request
 * (`--backend native|wasm|cpu`) that cannot be honoured is ERR_ARG, never a silent fallback.
 *
 * Synchronous and asynchronous: 'native' and 'cpu' are ready at once, but 'wasm' compiles
 * its module asynchronously. `initBackend(name)` (or `chooseBackend(name)`, which also
 * switches) awaits that once; afterwards `useBackend('wasm')` switches synchronously like the
 * others, which is what tests and benchmarks that flip between backends need. `useBackend`
 * on a wasm backend that was never initialised is ERR_ARG saying to await `initBackend`.
 */
import * as tfc from '@tensorflow/tfjs-core';

import { SigvwapError } from '../errors.js';
import { NATIVE_BACKEND, registerNativeBackend, type NativeBackendStatus } from './nativeBackend.js';
import { WASM_BACKEND, initWasmBackend, wasmBackendReady, wasmBackendStatus, type WasmBackendStatus } from './wasmBackend.js';

export const BACKENDS = ['native', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKENDS)[number];

/** Whether the native backend can run here (registers it on first call). */
export function nativeBackendStatus(): NativeBackendStatus {
  return registerNativeBackend();
}

export { wasmBackendStatus, type WasmBackendStatus };

/** The tfjs name of a backend choice ('native' is registered as 'sigvwap'). */
function tfjsName(name: string): string {
  return name === 'native' || name === NATIVE_BACKEND ? NATIVE_BACKEND : name;
}

function unknown(name: string): SigvwapError {
  return new SigvwapError('ERR_ARG', `backend: expected one of ${BACKENDS.map((b) => `'${b}'`).join(', ')}, got '${name}'`, { argument: 'backend', value: name });
}

function unavailable(name: BackendName, reason: string | undefined, value: string): SigvwapError {
  const others = BACKENDS.filter((b) => b !== name).join(' or ');
  return new SigvwapError('ERR_ARG', `backend: '${name}' is unavailable: ${reason}; use --backend ${others}`, { argument: 'backend', value });
}

/**
 * Make a backend ready to switch to: 'wasm' loads and initialises tfjs-backend-wasm (once per
 * process); 'native' registers the native backend; 'cpu' is always ready. Does not switch.
 * ERR_ARG when the backend is unknown or cannot run here, with the reason.
 */
export async function initBackend(name: string): Promise<void> {
  const tfName = tfjsName(name);
  if (tfName === WASM_BACKEND) {
    const s = await initWasmBackend();
    if (!s.available) throw unavailable('wasm', s.reason, name);
  } else if (tfName === NATIVE_BACKEND) {
    const s = nativeBackendStatus();
    if (!s.available) throw unavailable('native', s.reason, name);
  } else if (tfName !== 'cpu') {
    throw unknown(name);
  }
}

/**
 * Switch to a backend: 'native' (alias 'sigvwap'), 'cpu', or 'wasm' once `initBackend('wasm')`
 * has resolved. Synchronous. ERR_ARG when it cannot run (or, for wasm, is not initialised).
 */
export function useBackend(name: string): void {
  const tfName = tfjsName(name);
  if (tfName === NATIVE_BACKEND) {
    const s = nativeBackendStatus();
    if (!s.available) throw unavailable('native', s.reason, name);
  } else if (tfName === WASM_BACKEND) {
    const s = wasmBackendStatus();
    if (s && !s.available) throw unavailable('wasm', s.reason, name);
    if (!wasmBackendReady()) throw new SigvwapError('ERR_ARG', "backend: 'wasm' initialises asynchronously: await initBackend('wasm') or chooseBackend('wasm') before switching to it", { argument: 'backend', value: name });
  } else if (tfName !== 'cpu') {
    throw unknown(name);
  }
  // synchronous for an initialised backend: tfjs' setBackend awaits nothing then
  if (tfc.getBackend() !== tfName) void tfc.setBackend(tfName);
}

/** The backend in use, by its choice name ('native', 'wasm' or 'cpu'). */
export function activeBackend(): BackendName {
  const b = tfc.getBackend();
  return b === NATIVE_BACKEND ? 'native' : b === WASM_BACKEND ? 'wasm' : 'cpu';
}

/**
 * The default, synchronously: 'native' when available, else 'cpu' and a warning saying why.
 * Switches to it and returns what runs.
 */
export function defaultBackend(): { backend: BackendName; warning?: string } {
  const s = nativeBackendStatus();
  if (s.available) {
    useBackend('native');
    return { backend: 'native' };
  }
  useBackend('cpu');
  return { backend: 'cpu', warning: `training on tfjs' JavaScript CPU backend: the native backend is unavailable (${s.reason})` };
}

/**
 * Apply a request (initialising it first, so 'wasm' works), or the default when there is
 * none; returns what runs and, when the default had to fall back to 'cpu', a warning saying
 * why. ERR_ARG for a request that cannot be honoured.
 */
export async function chooseBackend(request?: string): Promise<{ backend: BackendName; warning?: string }> {
  if (request === undefined) return defaultBackend();
  await initBackend(request);
  useBackend(request);
  return { backend: activeBackend() };
}
