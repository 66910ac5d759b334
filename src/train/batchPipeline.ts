/**
 * BatchPipeline: the training batches' inputs and targets, built ahead of time by worker
 * threads while the training thread runs the model on the previous batch.
 *
 * Why: building a batch (static features, encoder sequence, execution state, targets) is plain
 * JavaScript and costs 3–17 ms per 1024 orders; on the native backend it was 81% of a static
 * step and 6–12% of a dynamic one (bench/train.bench.ts --profile). With `workers` ≥ 1 the
 * training thread only waits for batches that are not ready yet (1–3% of a dynamic step with
 * one or two workers on 2 cores) — a gain only where cores are free for the workers
 * (defaultDataWorkers).
 *
 * Order and bytes: batch k of `batches(spec, ids, size)` holds anchors ids[k·size ..
 * (k+1)·size - 1], built by features/orderInputs.ts exactly as NeuralAllocator.inputs builds it
 * on the training thread, so training is bit-identical with any number of workers
 * (tests/train/batchPipeline.test.ts). `workers: 0` builds in this thread (the reference).
 *
 * Layout: the dataset's series are copied once into SharedArrayBuffers that every worker maps
 * (about 25 bytes per bar: open time, price, volume, missing flag); batch arrays come back by
 * transfer (no copy). At most `depth` batches are in flight (default 2 per worker).
 * Errors: a batch that fails in a worker rejects with its SigvwapError (code kept); a worker
 * that dies fails every pending batch with ERR_WORKER; close() ends the threads.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { type ErrorCode, SigvwapError } from '../errors.js';
import type { Dataset } from '../data/index.js';
import { type MarketSeries, datasetSeries, orderTargets, ordersFromDataset } from '../data/marketSeries.js';
import { type OrderInputSpec, type OrderInputs, buildOrderInputs } from '../features/orderInputs.js';
import type { BatchWorkerReply, BatchWorkerRequest } from './batchWorker.js';

export interface PreparedBatch {
  /** index of the batch in its epoch */
  index: number;
  /** the anchors of the batch (a view of the ids given) */
  ids: Int32Array;
  inputs: OrderInputs;
  targets: { price: Float64Array; volume: Float64Array };
}

export interface BatchPipelineOptions {
  /** worker threads (0 = build in the calling thread) */
  workers: number;
  /** batches in flight at most (default 2 per worker) */
  depth?: number;
}

/**
 * Data workers when none is asked for: cores − 2, at most 4. A worker only helps when a core is
 * free for it: the native kernels already run the step on every core, and on 2 cores one or two
 * data workers measured 0.52–0.57× (static) and 0.77–1.02× (dynamic) the in-thread step
 * (`bench/train.bench.ts --profile --data-workers N`), so 2 cores build in the training thread.
 * A static batch costs about 4× its step's compute, so up to 4 workers keep it ahead.
 */
export function defaultDataWorkers(cores = availableParallelism()): number {
  return Math.max(0, Math.min(4, cores - 2));
}

const sharedCache = new WeakMap<Dataset, MarketSeries[]>();

/** The dataset's series with their arrays on SharedArrayBuffers (copied once per dataset). */
export function sharedSeries(dataset: Dataset): MarketSeries[] {
  let s = sharedCache.get(dataset);
  if (!s) {
    s = datasetSeries(dataset).map((x) => ({
      intervalMs: x.intervalMs,
      bars: x.bars,
      openTimeMs: shared(x.openTimeMs, Float64Array),
      price: shared(x.price, Float64Array),
      volume: shared(x.volume, Float64Array),
      missing: shared(x.missing, Uint8Array),
    }));
    sharedCache.set(dataset, s);
  }
  return s;
}

function shared<T extends Float64Array | Uint8Array>(a: T, Ctor: { new (b: SharedArrayBuffer): T; BYTES_PER_ELEMENT: number }): T {
  if (a.buffer instanceof SharedArrayBuffer) return a;
  const out = new Ctor(new SharedArrayBuffer(a.length * Ctor.BYTES_PER_ELEMENT));
  out.set(a);
  return out;
}

/**
 * The worker script: the compiled .js twin, or (running from the TypeScript sources: tests,
 * benches under tsx) the .ts source behind a bootstrap that registers tsx's ESM hooks first.
 */
function workerScript(): URL {
  const js = new URL('./batchWorker.js', import.meta.url);
  if (existsSync(fileURLToPath(js))) return js;
  const ts = new URL('./batchWorker.ts', import.meta.url);
  if (existsSync(fileURLToPath(ts))) {
    const api = tsxEsmApi();
    if (api) return new URL(`data:text/javascript,${encodeURIComponent(`import { register } from ${JSON.stringify(api)}; register(); await import(${JSON.stringify(ts.href)});`)}`);
  }
  throw new SigvwapError('ERR_WORKER', `batch worker ${fileURLToPath(js)} not found: build with \`npm run build:ts\`, or use 0 data workers`, { task: 'batch', file: fileURLToPath(js) });
}

/** file: URL of tsx's ESM register API (a dev dependency), if installed. */
function tsxEsmApi(): string | undefined {
  try {
    const req = createRequire(import.meta.url);
    const pkgPath = req.resolve('tsx/package.json');
    const pkg = JSON.parse(readFileSync(pkgPath, 'utf8')) as { exports?: Record<string, { import?: { default?: string } }> };
    const rel = pkg.exports?.['./esm/api']?.import?.default;
    return rel ? pathToFileURL(join(dirname(pkgPath), rel)).href : undefined;
  } catch {
    return undefined;
  }
}

interface Pending {
  resolve: (b: { inputs: OrderInputs; targets: PreparedBatch['targets'] }) => void;
  reject: (err: unknown) => void;
}

export class BatchPipeline {
  readonly workers: number;
  readonly depth: number;
  readonly #dataset: Dataset;
  #threads: Worker[] = [];
  #pending = new Map<number, Pending>();
  #seq = 0;
  #next = 0;
  #failure: SigvwapError | undefined;
  #closed = false;

  constructor(dataset: Dataset, options: BatchPipelineOptions) {
    const { workers } = options;
    if (!Number.isInteger(workers) || workers < 0) throw new SigvwapError('ERR_ARG', `dataWorkers: expected a non-negative integer, got ${workers}`, { argument: 'dataWorkers', value: workers });
    const depth = options.depth ?? 2 * Math.max(1, workers);
    if (!Number.isInteger(depth) || depth < 1) throw new SigvwapError('ERR_ARG', `depth: expected a positive integer, got ${depth}`, { argument: 'depth', value: depth });
    this.#dataset = dataset;
    this.workers = workers;
    this.depth = depth;
  }

  /** Start the threads (on first use). */
  #start(): void {
    if (this.#threads.length > 0 || this.workers === 0) return;
    const script = workerScript();
    const series = sharedSeries(this.#dataset);
    for (let w = 0; w < this.workers; w++) {
      const t = new Worker(script);
      t.unref(); // held (ref) only while batches are pending: an unclosed pipeline never keeps the process alive
      t.on('message', (m: BatchWorkerReply) => this.#reply(m));
      t.on('error', (err) => this.#fail(new SigvwapError('ERR_WORKER', `batch worker ${w} failed: ${err instanceof Error ? err.message : String(err)}`, { task: 'batch', worker: w }, { cause: err })));
      t.on('exit', (code) => {
        if (!this.#closed) this.#fail(new SigvwapError('ERR_WORKER', `batch worker ${w} exited with code ${code}`, { task: 'batch', worker: w, exitCode: code }));
      });
      t.postMessage({ type: 'init', series } satisfies BatchWorkerRequest);
      this.#threads.push(t);
    }
  }

  #reply(m: BatchWorkerReply): void {
    const p = this.#pending.get(m.seq);
    if (!p) return; // an abandoned batch (its epoch ended early)
    this.#pending.delete(m.seq);
    this.#holdProcess();
    if ('error' in m) {
      const e = m.error;
      p.reject(e.code ? new SigvwapError(e.code as ErrorCode, e.message, e.data ?? {}) : new SigvwapError('ERR_WORKER', `batch worker: ${e.message}`, { task: 'batch' }));
    } else {
      p.resolve(m);
    }
  }

  #fail(err: SigvwapError): void {
    this.#failure ??= err;
    for (const p of this.#pending.values()) p.reject(err);
    this.#pending.clear();
    this.#holdProcess();
  }

  /** Keep the process alive exactly while a batch is pending (an awaited batch must arrive). */
  #holdProcess(): void {
    for (const t of this.#threads) {
      if (this.#pending.size > 0) t.ref();
      else t.unref();
    }
  }

  /** Ask a worker (round robin) for one batch. */
  #request(spec: OrderInputSpec, ids: Int32Array): Promise<{ inputs: OrderInputs; targets: PreparedBatch['targets'] }> {
    if (this.#failure) return Promise.reject(this.#failure);
    // ids are checked and turned into (asset, bar) here, so a bad id names itself in this thread
    const orders = ordersFromDataset(this.#dataset, ids);
    const seq = this.#seq++;
    const thread = this.#threads[this.#next++ % this.#threads.length]!;
    const promise = new Promise<{ inputs: OrderInputs; targets: PreparedBatch['targets'] }>((resolve, reject) => this.#pending.set(seq, { resolve, reject }));
    this.#holdProcess();
    const msg: BatchWorkerRequest = { type: 'batch', seq, spec, assetIndex: orders.assetIndex, bar: orders.bar, horizon: orders.horizon };
    thread.postMessage(msg, [orders.assetIndex.buffer as ArrayBuffer, orders.bar.buffer as ArrayBuffer]);
    return promise;
  }

  /**
   * The batches of `ids` in order, `size` anchors each (the last may be shorter). Leaving the
   * loop early abandons the batches in flight (their results are dropped).
   */
  async *batches(spec: OrderInputSpec, ids: Int32Array, size: number): AsyncGenerator<PreparedBatch> {
    if (this.#closed) throw new SigvwapError('ERR_ARG', 'the batch pipeline is closed', { argument: 'pipeline' });
    if (!Number.isInteger(size) || size < 1) throw new SigvwapError('ERR_ARG', `batchSize: expected a positive integer, got ${size}`, { argument: 'batchSize', value: size });
    const count = Math.ceil(ids.length / size);
    const slice = (k: number) => ids.subarray(k * size, Math.min(ids.length, (k + 1) * size));
    if (this.workers === 0) {
      for (let k = 0; k < count; k++) {
        const orders = ordersFromDataset(this.#dataset, slice(k));
        yield { index: k, ids: slice(k), inputs: buildOrderInputs(orders, spec), targets: orderTargets(orders) };
      }
      return;
    }
    this.#start();
    const inFlight: Promise<{ inputs: OrderInputs; targets: PreparedBatch['targets'] }>[] = [];
    const firstSeq = this.#seq;
    let asked = 0;
    try {
      for (let k = 0; k < count; k++) {
        while (asked < count && asked < k + this.depth) {
          const p = this.#request(spec, slice(asked++));
          // a batch that fails while an earlier one is awaited must not be an unhandled
          // rejection: its error reaches the caller when its turn comes (`await` below)
          p.catch(() => undefined);
          inFlight.push(p);
        }
        const r = await inFlight[k]!;
        inFlight[k] = undefined as never; // let the batch's arrays go once consumed
        yield { index: k, ids: slice(k), inputs: r.inputs, targets: r.targets };
      }
    } finally {
      // an early exit: drop what is still in flight (late replies find no pending entry)
      for (let s = firstSeq; s < firstSeq + asked; s++) this.#pending.delete(s);
      this.#holdProcess();
      for (const p of inFlight) p?.catch(() => undefined);
    }
  }

  /** End the worker threads. */
  async close(): Promise<void> {
    this.#closed = true;
    const threads = this.#threads;
    this.#threads = [];
    await Promise.all(threads.map((t) => t.terminate()));
  }
}
