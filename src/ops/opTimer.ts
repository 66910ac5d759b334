/**
 * Wall time of the custom ops whose work is not a tfjs kernel (their loops run in TypeScript
 * or call the addon directly), so that a profile can tell that work from tfjs' per-op
 * overhead: `tf.profile` times kernels only. Always on: one performance.now() pair per call
 * (about 0.1 µs) on ops that take milliseconds. Read and reset by bench/train.bench.ts --profile.
 */
export const opTime = new Map<string, number>();

/** Run `f`, adding its wall time (ms) to `opTime[name]`. */
export function timed<T>(name: string, f: () => T): T {
  const t0 = performance.now();
  try {
    return f();
  } finally {
    opTime.set(name, (opTime.get(name) ?? 0) + performance.now() - t0);
  }
}
