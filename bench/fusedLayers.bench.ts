/**
 * The fused attention and GRN ops against their tfjs compositions, forward + backward (the
 * gradient of Σ y ⊙ R with respect to every weight and the input), on the native backend at
 * the gft encoder's shape: batch 1024, S = 22 steps (lookback 12, horizon 12), hidden 32,
 * 3 heads (keyDim 11). 'tfjs' is what the layers ran before the fused kernels (the same
 * composition on the same backend's kernels); 'native' the fused op. Medians of --reps runs
 * (default 5) after one warm-up, with the load average.
 *
 * Run: npx tsx bench/fusedLayers.bench.ts [--reps N] [--batch B] [--steps S] [--hidden U]
 */
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';

import { useBackend } from '../src/ops/backend.js';
import { causalAttention } from '../src/ops/causalAttention.js';
import { grnOp } from '../src/ops/grnOp.js';
import { opTime } from '../src/ops/opTimer.js';
import { tf } from '../src/ops/tf.js';
import { Rng } from '../src/rng.js';

const { values } = parseArgs({ options: { reps: { type: 'string', default: '5' }, batch: { type: 'string', default: '1024' }, steps: { type: 'string', default: '22' }, hidden: { type: 'string', default: '32' } } });
const reps = Number(values.reps);
const [B, S, U, H] = [Number(values.batch), Number(values.steps), Number(values.hidden), 3];
const K = Math.ceil(U / H);
useBackend('native');
const rng = Rng.fromSeed(7);
const rand = (shape: number[], scale: number) => tf.tensor(Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.nextNormal() * scale), shape);

const x = rand([B, S, U], 1);
const r = rand([B, S, U], 1);
const att = { wq: rand([U, H * K], 0.3), bq: rand([H * K], 0.1), wk: rand([U, H * K], 0.3), wv: rand([U, H * K], 0.3), bv: rand([H * K], 0.1), wo: rand([H * K, U], 0.3), bo: rand([U], 0.1) };
const grn = { w1: rand([U, U], 0.3), b1: rand([U], 0.1), w2: rand([U, U], 0.3), b2: rand([U], 0.1), wv: rand([U, U], 0.3), bv: rand([U], 0.1), wg: rand([U, U], 0.3), bg: rand([U], 0.1), gamma: rand([U], 1), beta: rand([U], 0.1) };

function time(f: (x: tf.Tensor, ws: tf.Tensor[]) => tf.Tensor, ws: tf.Tensor[]): number {
  const once = () => {
    const t0 = performance.now();
    tf.tidy(() => {
      const g = tf.grads((...ts: tf.Tensor[]) => tf.sum(tf.mul(f(ts[0]!, ts.slice(1)), r)))([x, ...ws]);
      for (const t of g) t.dataSync();
    });
    return performance.now() - t0;
  };
  once();
  opTime.clear();
  const ts = Array.from({ length: reps }, once).sort((a, b) => a - b);
  const inside = [...opTime.entries()].map(([k, v]) => `${k} ${(v / reps).toFixed(1)}`).join(', ');
  if (inside) console.log(`  (mean ms per run inside the native calls: ${inside})`);
  return ts[Math.floor(ts.length / 2)]!;
}

const attNames = Object.keys(att) as (keyof typeof att)[];
const grnNames = Object.keys(grn) as (keyof typeof grn)[];
const rows: [string, number][] = [];
for (const impl of ['tfjs', 'native'] as const) {
  rows.push([`attention/${impl}`, time((xx, ws) => causalAttention(xx as tf.Tensor3D, Object.fromEntries(attNames.map((n, i) => [n, ws[i]!])) as typeof att, H, { implementation: impl }), attNames.map((n) => att[n]))]);
  rows.push([`grn/${impl}`, time((xx, ws) => grnOp(xx, Object.fromEntries(grnNames.map((n, i) => [n, ws[i]!])) as typeof grn, 1e-3, { implementation: impl }), grnNames.map((n) => grn[n]))]);
}
console.log(`fused layers, forward+backward, native backend, b${B}-s${S}-u${U}-h${H}, median of ${reps}; load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
for (const [name, ms] of rows) console.log(`${name.padEnd(20)} ${ms.toFixed(1)} ms`);
