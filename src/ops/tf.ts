/**
 * The TensorFlow.js runtime of the model layer: tfjs-core with the `sigvwap` backend (the CPU
 * backend with native hot kernels, nativeBackend.ts), the pure-JS CPU backend, or on request
 * the wasm backend (wasmBackend.ts, loaded only when asked for), and
 * the gradient registrations (bundled with tfjs-layers; tfjs-core's own ESM gradient files do
 * not load under Node's ESM resolver). Production mode is switched on: it silences the
 * "install tfjs-node" banner and skips debug checks.
 *
 * Performance notes (tfjs-backend-cpu 4.22, measured here): same-shape and row-broadcast
 * element-wise ops are fast; slicing along dim 0 is a view-like copy; slicing columns,
 * unstacking along an inner axis and column-broadcasting are per-element generic loops
 * (10-100x slower), so models lay data out time-major ([steps, batch, ...]) and keep per-step
 * vectors 1-D. Never return a large typed array from `tf.tidy` (tidy walks the result).
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers';
import { defaultBackend } from './backend.js';

tf.enableProdMode();
// the native backend when the addon has its kernels, else tfjs' CPU backend (backend.ts); the
// train command reports a fallback, and `--backend` chooses explicitly (wasm asynchronously)
defaultBackend();

export { tf };
