/**
 * Benchmark of the batched VWAP loss: batch 1,000,000 × horizon 12, forward
 * and gradient, f32 and f64 inputs, CPU (all threads). Results are checked
 * against the float64 TypeScript reference on the first 2,000 orders before
 * anything is timed. Reports the median time, orders/s and GB/s read (three
 * input arrays; the gradient also writes one), next to the machine's
 * single-thread memcpy bandwidth; appends to bench/results/history.jsonl.
 * The gradient is timed twice: into a fresh array (the plain call) and into
 * a reused `out` (a training loop's steady state: no first-touch page faults
 * on the 48/96 MB result).
 *
 * Run: npm run bench   (SIGVWAP_THREADS to change the thread count)
 */
import { backendInfo, vwapLoss, vwapLossAndGrad } from '../src/index.js';
import { randomOrders } from '../tests/helpers/random.js';
import { vwapLossReference } from '../tests/helpers/vwapReference.js';
import { appendHistory, fingerprint, gitCommit, measure, memcpyGBs, table } from './common.js';

const batch = 1_000_000;
const horizon = 12;

function check(input: Parameters<typeof vwapLossAndGrad>[0]) {
  const out = vwapLossAndGrad(input);
  const n = 2000;
  const sub = (x: Float32Array | Float64Array) => x.subarray(0, n * horizon);
  const ref = vwapLossReference(sub(input.alloc), sub(input.price), sub(input.volume), n, horizon, input.kind);
  for (let b = 0; b < n; b++) {
    if (Math.abs(out.perOrder[b]! - ref.perOrder[b]!) > 1e-12) throw new Error(`check failed: perOrder[${b}]`);
  }
  // The reference gradient is scaled by 1/n, the benchmark's by 1/batch.
  for (let i = 0; i < n * horizon; i++) {
    const want = (ref.grad[i]! * n) / batch;
    if (Math.abs(out.grad[i]! - want) > 1e-6 * Math.abs(want) + 1e-14) throw new Error(`check failed: grad[${i}]`);
  }
}

async function main() {
  const fp = fingerprint();
  const info = backendInfo();
  console.error(`machine: ${fp.cpu}, ${fp.cores} cores, ${fp.simd}; sigvwap threads ${info.threads}`);
  const memcpy = await memcpyGBs();
  const d = randomOrders(batch, horizon, 42);
  const rows: Record<string, string | number>[] = [];
  const records: Record<string, unknown>[] = [];
  for (const dtype of ['f32', 'f64'] as const) {
    const cast = (x: Float64Array) => (dtype === 'f32' ? new Float32Array(x) : x);
    const input = { alloc: cast(d.alloc), price: cast(d.price), volume: cast(d.volume), batch, horizon, kind: 'abs' as const, device: 'cpu' as const };
    check(input);
    const bytesRead = 3 * batch * horizon * (dtype === 'f32' ? 4 : 8);
    const out = dtype === 'f32' ? new Float32Array(batch * horizon) : new Float64Array(batch * horizon);
    const fresh = vwapLossAndGrad(input).grad;
    if (!vwapLossAndGrad({ ...input, out }).grad.every((g, i) => Object.is(g, fresh[i]))) throw new Error('check failed: gradient with out');
    for (const op of ['forward', 'gradient', 'gradient-out'] as const) {
      const name = `vwapLoss/cpu/b${batch}-h${horizon}-${dtype}/${op}`;
      const fn = op === 'forward' ? () => vwapLoss(input) : op === 'gradient' ? () => vwapLossAndGrad(input) : () => vwapLossAndGrad({ ...input, out });
      const s = await measure(name, fn, { iterations: 15, timeMs: 2000 });
      const gbs = bytesRead / (s.medianMs / 1000) / 1e9;
      rows.push({
        case: name,
        'median ms': s.medianMs,
        'min ms': s.minMs,
        'orders/s (M)': batch / (s.medianMs / 1000) / 1e6,
        'GB/s read': gbs,
        'of memcpy': `${((100 * gbs) / memcpy).toFixed(0)}%`,
      });
      records.push({ name, medianMs: s.medianMs, minMs: s.minMs, maxMs: s.maxMs, ordersPerS: batch / (s.medianMs / 1000), gbsRead: gbs, memcpyGBs: memcpy });
    }
  }
  console.log(`memcpy (TypedArray.set, 256 MiB, one thread): ${memcpy.toFixed(2)} GB/s\n`);
  console.log(table(rows));
  appendHistory({ suite: 'vwap', commit: gitCommit(), date: new Date().toISOString(), machine: fp, threads: info.threads, cases: records });
}

await main();
