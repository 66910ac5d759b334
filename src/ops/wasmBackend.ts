/**
 * The `wasm` TensorFlow.js backend (@tensorflow/tfjs-backend-wasm, XNNPACK compiled to
 * WebAssembly): the peer that the native backend is measured against, and a portable third
 * way to run the same float32 models (tensor storage lives in the wasm heap; custom ops read
 * it with dataSync like on any backend).
 *
 * Loading: the package ships its three binaries in its dist/ folder
 * (tfjs-backend-wasm.wasm, -simd.wasm, -threaded-simd.wasm). `setWasmPaths` points the
 * loader at that folder, resolved from the installed package as a file URL, so it does not
 * depend on where the emscripten glue guesses its own directory to be (bundlers, tsx,
 * vitest). Under Node 20 tfjs declares WASM_HAS_MULTITHREAD_SUPPORT false (its threaded build
 * starts browser Workers from Blob URLs; tfjs issue 3830; forcing the flag fails to
 * initialise), and WebAssembly SIMD is available, so Node runs
 * **tfjs-backend-wasm-simd.wasm on one thread** (`getThreadsCount()` is 1; `setThreadsCount`
 * only sizes the threaded build's pool, so it is not called). `wasmBackendStatus()` reports
 * the binary and the threads once initialised.
 *
 * Initialisation is asynchronous (it compiles the module): `initWasmBackend()` imports the
 * package, points it at its binaries, and awaits `tf.setBackend('wasm')`, then returns to the
 * backend that was active (src/ops/backend.ts switches). It runs once; a failure (package
 * missing, binary unreadable) is remembered and reported with its reason, never retried into
 * a half-initialised engine. The package is imported dynamically so that a missing package
 * costs only the wasm choice, not the module graph. Emscripten's Node glue installs
 * process-wide `uncaughtException`/`unhandledRejection` handlers that rethrow (which turns
 * a crash's exit code into 7); they are removed again, so the process behaves as before.
 * Cost: ~10 ms to compile and instantiate the module, once per process.
 */
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import * as tfc from '@tensorflow/tfjs-core';

export const WASM_BACKEND = 'wasm';
const WASM_PACKAGE = '@tensorflow/tfjs-backend-wasm';

export interface WasmBackendStatus {
  available: boolean;
  /** why not, when unavailable */
  reason?: string;
  /** the binary the loader chose (file name in the package's dist/), when available */
  binary?: string;
  /** XNNPACK threads, when available */
  threads?: number;
  /** the folder the binaries are read from (file URL), when the package resolves */
  wasmDir?: string;
}

let initialised: Promise<WasmBackendStatus> | undefined;
let settled: WasmBackendStatus | undefined;

/** The file URL of the package's dist/ folder (ends in '/'), or why it does not resolve. */
export function wasmDistDir(): { url: string } | { reason: string } {
  try {
    // the package has no "exports" map: its main is dist/tf-backend-wasm.node.js, next to the binaries
    const main = createRequire(import.meta.url).resolve(WASM_PACKAGE);
    return { url: new URL('./', pathToFileURL(main)).href };
  } catch (e) {
    return { reason: `${WASM_PACKAGE} is not installed (${(e as Error).message.split('\n')[0]}); run npm install` };
  }
}

/** The binary tfjs-backend-wasm loads for these capabilities (its own rule, backend_wasm.ts). */
function binaryFor(simd: boolean, threads: boolean): string {
  if (simd && threads) return 'tfjs-backend-wasm-threaded-simd.wasm';
  return simd ? 'tfjs-backend-wasm-simd.wasm' : 'tfjs-backend-wasm.wasm';
}

/** Whether the wasm backend has been initialised (then `tf.setBackend('wasm')` is synchronous). */
export function wasmBackendReady(): boolean {
  return settled?.available === true;
}

/** The outcome of `initWasmBackend`, or undefined before it settled. */
export function wasmBackendStatus(): WasmBackendStatus | undefined {
  return settled;
}

/** Load and initialise the wasm backend once; leaves the active backend as it was. */
export function initWasmBackend(): Promise<WasmBackendStatus> {
  initialised ??= init().then((s) => (settled = s));
  return initialised;
}

async function init(): Promise<WasmBackendStatus> {
  const dir = wasmDistDir();
  if ('reason' in dir) return { available: false, reason: dir.reason };
  let wasm: typeof import('@tensorflow/tfjs-backend-wasm');
  try {
    wasm = await import(WASM_PACKAGE);
  } catch (e) {
    return { available: false, reason: `${WASM_PACKAGE} does not load: ${(e as Error).message}`, wasmDir: dir.url };
  }
  try {
    // module-global in the package (shared with another copy of this module, src and dist):
    // setting the same folder again is harmless; it throws only after a failed initialisation
    wasm.setWasmPaths(dir.url);
  } catch (e) {
    return { available: false, reason: `${WASM_PACKAGE}: ${(e as Error).message}`, wasmDir: dir.url };
  }
  const previous = tfc.getBackend();
  const uncaught = process.listeners('uncaughtException');
  const unhandled = process.listeners('unhandledRejection');
  let ok = false;
  let failure = '';
  try {
    ok = await tfc.setBackend(WASM_BACKEND);
  } catch (e) {
    // emscripten rejects with a plain { message } object
    failure = String((e as { message?: unknown })?.message ?? e);
  } finally {
    for (const l of process.listeners('uncaughtException')) if (!uncaught.includes(l)) process.off('uncaughtException', l);
    for (const l of process.listeners('unhandledRejection')) if (!unhandled.includes(l)) process.off('unhandledRejection', l);
    // back to where we were (synchronous: that backend is initialised)
    if (previous !== WASM_BACKEND) void tfc.setBackend(previous);
  }
  if (!ok) return { available: false, reason: `${WASM_PACKAGE} failed to initialise from ${dir.url}${failure ? `: ${failure}` : ''}`, wasmDir: dir.url };
  const [simd, threads] = await Promise.all([tfc.env().getAsync('WASM_HAS_SIMD_SUPPORT'), tfc.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT')]);
  return { available: true, binary: binaryFor(Boolean(simd), Boolean(threads)), threads: wasm.getThreadsCount(), wasmDir: dir.url };
}
