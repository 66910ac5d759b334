/**
 * What every command shares: the streams it writes (results to stdout, progress and logs to
 * stderr; NO_COLOR honoured), option parsers that fail with ERR_ARG naming the option, and the
 * dataset every model command builds from the store.
 */
import { SigvwapError, type ErrorData } from '../errors.js';
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

/** One line for stderr: `sigvwap: ERR_X: message`; anything else is a bug, said as such. */
export function formatCliError(e: unknown, env: NodeJS.ProcessEnv = process.env): string {
  if (e instanceof SigvwapError) return `sigvwap: ${e.code}: ${e.message}`;
  const err = e as { message?: unknown; stack?: unknown };
  const message = typeof err?.message === 'string' ? err.message : String(e);
  const stack = env.SIGVWAP_DEBUG && typeof err?.stack === 'string' ? `\n${err.stack}` : '';
  return `sigvwap: internal error (a bug; please report it with the command line): ${message.split('\n')[0]}${stack}`;
}

/** The error as a JSON-ready object for --json. */
export function cliErrorJson(e: unknown): { code: string; message: string; data: ErrorData } {
  if (e instanceof SigvwapError) return { code: e.code, message: e.message, data: e.data };
  return { code: 'ERR_INTERNAL', message: e instanceof Error ? e.message : String(e), data: {} };
}
