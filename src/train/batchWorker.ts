/**
 * Worker thread of the batch pipeline (batchPipeline.ts): builds the inputs and targets of the
 * batches the training thread asks for, so that feature building overlaps training compute.
 *   init  { series }                 the dataset's series, their arrays on SharedArrayBuffers
 *                                    (shared, not copied); kept for the worker's life, so the
 *                                    per-series prefix sums (seriesStats) are built once
 *   batch { seq, spec, assetIndex, bar, horizon }
 *      -> { seq, inputs, targets }   arrays transferred (the worker gives them up)
 *      -> { seq, error }             a SigvwapError as plain data (its code survives the thread)
 * Cost per batch: buildOrderInputs + orderTargets of the batch, as on the training thread.
 */
import { parentPort } from 'node:worker_threads';
import { SigvwapError } from '../errors.js';
import type { MarketSeries, OrderBatch } from '../data/marketSeries.js';
import { orderTargets } from '../data/marketSeries.js';
import { type OrderInputSpec, buildOrderInputs, orderInputBuffers } from '../features/orderInputs.js';

export type BatchWorkerRequest =
  | { type: 'init'; series: MarketSeries[] }
  | { type: 'batch'; seq: number; spec: OrderInputSpec; assetIndex: Int32Array; bar: Int32Array; horizon: number };

export type BatchWorkerReply =
  | { seq: number; inputs: import('../features/orderInputs.js').OrderInputs; targets: { price: Float64Array; volume: Float64Array } }
  | { seq: number; error: { code?: string; message: string; data?: Record<string, unknown> } };

let series: MarketSeries[] = [];

parentPort!.on('message', (m: BatchWorkerRequest) => {
  if (m.type === 'init') {
    series = m.series;
    return;
  }
  try {
    const orders: OrderBatch = { series, assetIndex: m.assetIndex, bar: m.bar, horizon: m.horizon };
    const inputs = buildOrderInputs(orders, m.spec);
    const targets = orderTargets(orders);
    const reply: BatchWorkerReply = { seq: m.seq, inputs, targets };
    parentPort!.postMessage(reply, [...orderInputBuffers(inputs), targets.price.buffer as ArrayBuffer, targets.volume.buffer as ArrayBuffer]);
  } catch (err) {
    const error = err instanceof SigvwapError
      ? { code: err.code, message: err.message, data: err.data }
      : { message: err instanceof Error ? (err.stack ?? err.message) : String(err) };
    parentPort!.postMessage({ seq: m.seq, error } satisfies BatchWorkerReply);
  }
});
