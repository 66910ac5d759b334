/**
 * Benchmark of the fill simulator (issue F): 1,000,000 orders × 12 bins × 5
 * open-loop schedules (TWAP, immediate, front-loaded, U-shaped, random), CPU,
 * all threads. Before anything is timed, each schedule's results on the first
 * 2,000 orders are checked bit for bit against the plain TypeScript reference
 * (tests/helpers/fillsReference.ts).
 *
 * Cases: the default parameters (stop off) and "all rules on" (permanent
 * impact, sweep multiplier, emergency stop, maker rebate), both writing into
 * reused `out` arrays (a backtest loop's steady state); the defaults also
 * into fresh arrays (allocation and first-touch page faults included) and on
 * one thread. Every market has collars on half the orders, 30 % passive
 * orders, 2 % zero-volume bins and sizes from 0.1 % to 20 % of the order's
 * market volume (so caps bind and final sweeps happen).
 *
 * Reports median ms for the 5 schedules, order-bins/s (target >= 2·10⁸ on the
 * 2-core machine), bytes touched per order-bin and GB/s next to the
 * single-thread memcpy bandwidth of bench/common.ts (as traffic: a memcpy
 * reads and writes each byte it copies). Bytes per order-bin:
 * price, volume, schedule read (24) + filled, fillPrice written (16) + the
 * per-order inputs (σ, half spread, Q, limit, arrival: 40, side and passive:
 * 2) and outputs (11 f64 + 2 i32: 96) spread over the 12 bins (11.5) = 51.5.
 * Appends to bench/results/history.jsonl.
 *
 * Run: npx tsx bench/backtest.bench.ts   (SIGVWAP_THREADS to change the thread count)
 */
import { backendInfo, setThreads } from '../src/native/backend.js';
import { simulateFills, type FillArrays, type FillMarketInput, type FillParamsInput } from '../src/native/simulateFills.js';
import { simulateFillsReference } from '../tests/helpers/fillsReference.js';
import { rng } from '../tests/helpers/random.js';
import { appendHistory, fingerprint, gitCommit, measure, memcpyGBs, table } from './common.js';

const batch = 1_000_000;
const horizon = 12;
const checkOrders = 2000;
const BYTES_PER_ORDER_BIN = 24 + 16 + (40 + 2 + 96) / horizon;

function market(seed: number): FillMarketInput {
  const r = rng(seed);
  const n = batch * horizon;
  const price = new Float64Array(n), volume = new Float64Array(n);
  const quantity = new Float64Array(batch);
  for (let b = 0; b < batch; b++) {
    let p = 50 + 100 * r();
    let v = 0;
    for (let t = 0; t < horizon; t++) {
      const i = b * horizon + t;
      p *= 1 + 0.004 * (r() - 0.5);
      price[i] = p;
      volume[i] = r() < 0.02 ? 0 : 10 + 1000 * r();
      v += volume[i]!;
    }
    quantity[b] = v * 0.001 * Math.pow(200, r()); // 0.1 % .. 20 % of the order's market volume
  }
  const side = Int8Array.from({ length: batch }, () => (r() < 0.5 ? 1 : -1));
  return {
    batch,
    horizon,
    price,
    volume,
    sigma: Float64Array.from({ length: batch }, () => 0.002 + 0.01 * r()),
    halfSpreadBps: Float64Array.from({ length: batch }, () => 0.5 + 4 * r()),
    quantity,
    side,
    limitPrice: Float64Array.from({ length: batch }, (_, b) => (r() < 0.5 ? NaN : price[b * horizon]! * (1 + 0.003 * side[b]!))),
    arrivalPrice: Float64Array.from({ length: batch }, (_, b) => price[b * horizon]!),
    passive: Uint8Array.from({ length: batch }, () => (r() < 0.3 ? 1 : 0)),
  };
}

/** The five open-loop schedules, each [batch, horizon] with rows summing to 1. */
function schedules(seed: number): { name: string; schedule: Float64Array }[] {
  const row = (w: (t: number) => number) => {
    const x = Array.from({ length: horizon }, (_, t) => w(t));
    const s = x.reduce((a, b) => a + b, 0);
    return x.map((v) => v / s);
  };
  const fixed = (w: (t: number) => number) => {
    const one = row(w);
    const s = new Float64Array(batch * horizon);
    for (let b = 0; b < batch; b++) s.set(one, b * horizon);
    return s;
  };
  const r = rng(seed);
  const random = new Float64Array(batch * horizon);
  for (let b = 0; b < batch; b++) random.set(row(() => r()), b * horizon);
  return [
    { name: 'twap', schedule: fixed(() => 1) },
    { name: 'immediate', schedule: fixed((t) => (t === 0 ? 1 : 0)) },
    { name: 'front', schedule: fixed((t) => horizon - t) },
    { name: 'ushape', schedule: fixed((t) => 1 + 2 * ((t - (horizon - 1) / 2) / ((horizon - 1) / 2)) ** 2) },
    { name: 'random', schedule: random },
  ];
}

function sub(m: FillMarketInput, n: number): FillMarketInput {
  const bins = (x: Float64Array) => x.subarray(0, n * horizon);
  return {
    ...m,
    batch: n,
    price: bins(m.price),
    volume: bins(m.volume),
    sigma: m.sigma.subarray(0, n),
    halfSpreadBps: m.halfSpreadBps.subarray(0, n),
    quantity: m.quantity.subarray(0, n),
    side: m.side.subarray(0, n),
    limitPrice: m.limitPrice!.subarray(0, n),
    arrivalPrice: m.arrivalPrice!.subarray(0, n),
    passive: (m.passive as Uint8Array).subarray(0, n),
  };
}

/** The native results on the first `checkOrders` orders equal the reference's bit for bit. */
function check(m: FillMarketInput, name: string, schedule: Float64Array, params: FillParamsInput, got: FillArrays) {
  const want = simulateFillsReference(sub(m, checkOrders), schedule.subarray(0, checkOrders * horizon), params);
  for (const [field, w] of Object.entries(want) as [keyof FillArrays, Float64Array | Int32Array][]) {
    const g = got[field];
    for (let i = 0; i < w.length; i++) {
      if (!Object.is(g[i], w[i])) throw new Error(`check failed: ${name} ${field}[${i}]: native ${g[i]}, reference ${w[i]}`);
    }
  }
}

async function main() {
  const fp = fingerprint();
  const info = backendInfo();
  console.error(`machine: ${fp.cpu}, ${fp.cores} cores, ${fp.simd}; sigvwap threads ${info.threads}`);
  const memcpy = await memcpyGBs();
  const m = market(42);
  const scheds = schedules(7);
  const paramSets: { id: string; params: FillParamsInput }[] = [
    { id: 'defaults', params: {} },
    { id: 'all-rules', params: { permanentGamma: 0.05, sweepImpactMultiplier: 2, stopSlippageBps: 50, makerFeeBps: -0.5 } },
  ];
  const outs = scheds.map(() => {
    const o: Partial<FillArrays> = {
      filled: new Float64Array(batch * horizon),
      fillPrice: new Float64Array(batch * horizon),
    };
    for (const f of ['filledQty', 'notional', 'spreadCost', 'temporaryImpactCost', 'permanentImpactCost', 'feeCost', 'collarBlockedQty', 'maxParticipation', 'marketVolume', 'marketVwap', 'shortfallCost'] as const) {
      o[f] = new Float64Array(batch);
    }
    o.zeroVolumeBins = new Int32Array(batch);
    o.stoppedAt = new Int32Array(batch);
    return o as FillArrays;
  });
  // Check every schedule under every parameter set before timing.
  for (const { id, params } of paramSets) {
    scheds.forEach(({ name, schedule }, k) => {
      const got = simulateFills({ ...m, schedule, device: 'cpu', out: outs[k] }, params);
      check(m, `${id}/${name}`, schedule, params, got);
    });
  }
  console.error(`checked: ${scheds.length} schedules × ${paramSets.length} parameter sets, first ${checkOrders} orders, bit for bit against the TypeScript reference`);

  const orderBins = batch * horizon * scheds.length;
  const rows: Record<string, string | number>[] = [];
  const records: Record<string, unknown>[] = [];
  const threads = info.threads;
  const cases: { name: string; params: FillParamsInput; out: boolean; threads: number }[] = [
    { name: 'defaults/out', params: {}, out: true, threads },
    { name: 'defaults/fresh', params: {}, out: false, threads },
    { name: 'all-rules/out', params: paramSets[1]!.params, out: true, threads },
    { name: 'defaults/out/1-thread', params: {}, out: true, threads: 1 },
  ];
  for (const c of cases) {
    setThreads(c.threads);
    const name = `fills/cpu/b${batch}-h${horizon}-s${scheds.length}/${c.name}`;
    const fn = () => {
      for (let k = 0; k < scheds.length; k++) {
        simulateFills({ ...m, schedule: scheds[k]!.schedule, device: 'cpu', ...(c.out ? { out: outs[k] } : {}) }, c.params);
      }
    };
    const s = await measure(name, fn, { iterations: 10, timeMs: 3000 });
    const rate = orderBins / (s.medianMs / 1000);
    const gbs = (rate * BYTES_PER_ORDER_BIN) / 1e9;
    rows.push({
      case: name,
      threads: c.threads,
      'median ms': s.medianMs,
      'min ms': s.minMs,
      'order-bins/s (M)': rate / 1e6,
      'B/order-bin': BYTES_PER_ORDER_BIN,
      'GB/s': gbs,
      // memcpy moves each byte it copies twice (read + write)
      'of memcpy traffic': `${((100 * gbs) / (2 * memcpy)).toFixed(0)}%`,
      target: rate >= 2e8 ? 'met' : 'missed',
    });
    records.push({ name, threads: c.threads, medianMs: s.medianMs, minMs: s.minMs, maxMs: s.maxMs, orderBinsPerSec: rate, bytesPerOrderBin: BYTES_PER_ORDER_BIN, gbs, memcpyGBs: memcpy });
  }
  setThreads(threads);
  console.log(`memcpy (TypedArray.set, 256 MiB, one thread): ${memcpy.toFixed(2)} GB/s copied = ${(2 * memcpy).toFixed(1)} GB/s of traffic (read + write)`);
  console.log(`work per timed call: ${scheds.length} schedules × ${batch} orders × ${horizon} bins = ${orderBins / 1e6}M order-bins; target 200M order-bins/s\n`);
  console.log(table(rows));
  appendHistory({ suite: 'backtest', commit: gitCommit(), date: new Date().toISOString(), machine: fp, threads, cases: records });
}

await main();
