/**
 * Whether the loaded addon has the tensor kernels the `sigvwap` tfjs backend calls
 * (src/ops/nativeBackend.ts): an addon built before them, or none at all, leaves training on
 * tfjs' CPU backend, with the reason.
 */
import { native } from './binding.js';

/** Functions of the addon the backend needs. */
export const TENSOR_KERNEL_FUNCTIONS = ['matmulF32', 'binaryF32', 'unaryF32', 'stridedCopyF32', 'reduceF32', 'softmaxF32', 'lstmForwardF32', 'lstmBackwardF32', 'tkanForwardF32', 'tkanBackwardF32', 'attentionForwardF32', 'attentionBackwardF32', 'grnForwardF32', 'grnBackwardF32'] as const;

export function nativeTensorKernels(): { available: boolean; reason?: string } {
  let binding: Record<string, unknown>;
  try {
    binding = native() as unknown as Record<string, unknown>;
  } catch (e) {
    return { available: false, reason: `the native addon did not load: ${(e as Error).message.split('\n')[0]}` };
  }
  const missing = TENSOR_KERNEL_FUNCTIONS.filter((f) => typeof binding[f] !== 'function');
  if (missing.length > 0) return { available: false, reason: `the native addon lacks ${missing.join(', ')} (built before them: run npm run build)` };
  return { available: true };
}
