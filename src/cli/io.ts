/**
 * What every command shares: the streams it writes (results to stdout, progress and logs to
 * stderr; NO_COLOR honoured), option parsers that fail with ERR_ARG naming the option, and the
 * dataset every model command builds from the store.
 */
import { SigvwapError } from '../errors.js';
import { buildDataset, type Dataset, type DatasetOptions } from '../data/index.js';

export interface CliIo {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
}

export const processIo = (): CliIo => ({ stdout: process.stdout, stderr: process.stderr, env: process.env });

/** True when colour may be used on this stream (a TTY and NO_COLOR unset or empty). */
export function useColor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv): boolean {
  return Boolean(stream.isTTY) && !(env.NO_COLOR !== undefined && env.NO_COLOR !== '');
}

export function intOption(name: string, min = 0) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new SigvwapError('ERR_ARG', `${name}: expected an integer >= ${min}, got ${JSON.stringify(value)}`, { argument: name, value });
    return n;
  };
}

export function numberOption(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n)) throw new SigvwapError('ERR_ARG', `${name}: expected a number, got ${JSON.stringify(value)}`, { argument: name, value });
    return n;
  };
}

export function intListOption(name: string) {
  return (value: string): number[] => (value.trim() === '' ? [] : value.split(',').map((v) => intOption(name, 0)(v.trim())));
}

export const listOption = (value: string): string[] => value.split(',').map((s) => s.trim()).filter(Boolean);

/** The dataset of the store, with a progress line on a TTY and a summary line on stderr. */
export async function loadDatasetForCli(opts: { store: string; lookback?: number; horizon?: number; workers?: number }, io: CliIo, progress: boolean): Promise<Dataset> {
  const options: DatasetOptions = { store: opts.store };
  if (opts.lookback !== undefined) options.lookback = opts.lookback;
  if (opts.horizon !== undefined) options.horizon = opts.horizon;
  if (opts.workers !== undefined) options.workers = opts.workers;
  const t0 = performance.now();
  const dataset = await buildDataset({
    ...options,
    onProgress: progress && io.stderr.isTTY ? ({ done, total, symbol }) => io.stderr.write(`\rdataset ${done}/${total} ${symbol.padEnd(12)}`) : undefined,
  });
  if (progress && io.stderr.isTTY) io.stderr.write('\r\x1b[K');
  io.stderr.write(`dataset: ${dataset.assets.length} assets, ${dataset.anchorCount} anchors (${((performance.now() - t0) / 1000).toFixed(1)} s)\n`);
  return dataset;
}
