/**
 * Per-call time of single tfjs ops on the `cpu` and `sigvwap` backends over sizes 64 .. 65536
 * values, with the native threshold disabled, to find the size where the native kernel (one
 * N-API call, ~1-2 µs fixed) starts to win over tfjs' JavaScript loops: the measurement
 * behind NATIVE_MIN_ELEMENTS (src/ops/nativeKernels/common.ts). Each op's two results are
 * compared first. Medians of 5 repeats of ~30 ms loops; appends suite `kernels` with the
 * load average.
 *
 * Run: npx tsx bench/kernels.bench.ts
 */
import { loadavg } from 'node:os';
import { tf } from '../src/ops/tf.js';
import { nativeBackendStatus, useBackend } from '../src/ops/backend.js';
import { setNativeMinElements } from '../src/ops/nativeKernels/common.js';
import { appendHistory, fingerprint, gitCommit, table } from './common.js';

const status = nativeBackendStatus();
if (!status.available) throw new Error(`native backend unavailable: ${status.reason}`);
setNativeMinElements(0);

const COLS = 16;
const ops: [string, (x: tf.Tensor2D, row: tf.Tensor1D) => tf.Tensor][] = [
  ['add same shape', (x) => tf.add(x, x)],
  ['add row broadcast', (x, row) => tf.add(x, row)],
  ['sigmoid', (x) => tf.sigmoid(x)],
  ['sum axis 1', (x) => tf.sum(x, 1)],
  ['transpose', (x) => tf.transpose(x)],
  ['slice column', (x) => tf.slice(x, [0, 1], [-1, 1])],
  ['matMul by [16, 16]', (x, row) => tf.matMul(x, tf.reshape(tf.tile(row, [16]), [16, 16]))],
];

function perCallUs(f: () => void): number {
  const reps: number[] = [];
  for (let r = 0; r < 5; r++) {
    let n = 0;
    const t0 = performance.now();
    while (performance.now() - t0 < 30) {
      f();
      n++;
    }
    reps.push(((performance.now() - t0) * 1000) / n);
  }
  return reps.sort((a, b) => a - b)[2]!;
}

const rows: Record<string, string | number>[] = [];
for (const [name, op] of ops) {
  for (const size of [64, 256, 1024, 4096, 16384, 65536]) {
    const B = size / COLS;
    const data = Float32Array.from({ length: size }, (_, i) => Math.sin(i));
    const rowData = Float32Array.from({ length: COLS }, (_, i) => Math.cos(i));
    const res: Record<string, number> = {};
    const out: Record<string, Float32Array> = {};
    for (const backend of ['cpu', 'native']) {
      useBackend(backend);
      const x = tf.tensor2d(data, [B, COLS]);
      const row = tf.tensor1d(rowData);
      out[backend] = tf.tidy(() => op(x, row).dataSync() as Float32Array);
      res[backend] = perCallUs(() => tf.tidy(() => { op(x, row); }));
      x.dispose();
      row.dispose();
    }
    const d = out.cpu!.reduce((m, v, i) => Math.max(m, Math.abs(v - out.native![i]!)), 0);
    if (!(d < 1e-4)) throw new Error(`${name} at ${size}: backends differ by ${d}`);
    rows.push({ op: name, size, cpuUs: res.cpu!, nativeUs: res.native!, speedup: res.cpu! / res.native!, load: loadavg()[0]!.toFixed(2) });
  }
}
console.log(table(rows));
appendHistory({ suite: 'kernels', commit: gitCommit(), machine: fingerprint(), date: new Date().toISOString(), loadAverage: loadavg(), rows });
