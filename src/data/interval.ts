/**
 * Bar intervals: names like `1m`, `1h`, `1d`, `1w` <-> milliseconds, and the
 * interval of a series inferred from its positive timestamp steps (`inferIntervalMs`).
 *
 * Cost: `inferIntervalMs` is O(n log n) in the number of steps (it sorts a copy).
 */
import { SigvwapError } from '../errors.js';

const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;
type Unit = keyof typeof UNIT_MS;

/** Parse `15m`, `1h`, `1d`, ... into milliseconds; ERR_ARG naming the value otherwise. */
export function intervalToMs(interval: string): number {
  const m = /^(\d+)(s|m|h|d|w)$/.exec(interval);
  if (!m) {
    throw new SigvwapError('ERR_ARG', `interval: expected a number and a unit s|m|h|d|w (e.g. "1h"), got ${JSON.stringify(interval)}`, {
      argument: 'interval',
      value: interval,
    });
  }
  const count = Number(m[1]);
  if (!(count > 0)) throw new SigvwapError('ERR_ARG', `interval: must be positive, got ${JSON.stringify(interval)}`, { argument: 'interval', value: interval });
  return count * UNIT_MS[m[2] as Unit];
}

/** Largest unit that divides `ms` evenly: 3_600_000 -> "1h", 90_000 -> "90s". */
export function msToInterval(ms: number): string {
  if (!Number.isInteger(ms) || ms < 1000) {
    throw new SigvwapError('ERR_DATA', `bar interval of ${ms} ms is not a whole number of seconds`, { intervalMs: ms });
  }
  for (const unit of ['w', 'd', 'h', 'm', 's'] as const) {
    if (ms % UNIT_MS[unit] === 0) return `${ms / UNIT_MS[unit]}${unit}`;
  }
  return `${ms / 1000}s`;
}

/** share of the steps a step below the median must make up to be the interval (sparse series) */
export const SPARSE_STEP_SHARE = 0.1;

/**
 * The bar interval of sorted timestamps (ms): the smallest positive step that makes up at
 * least 10% of the steps, else the median step; undefined when there are fewer than two
 * distinct times. A dense series (every Binance kline file) gives its median step, as
 * before; a sparse one, such as an illiquid ETF's minute bars with most minutes missing
 * (median step 2-3 minutes, 20-25% of the steps one minute), gives its true interval.
 */
export function inferIntervalMs(openTimeMs: ArrayLike<number>): number | undefined {
  const steps: number[] = [];
  for (let i = 1; i < openTimeMs.length; i++) {
    const d = openTimeMs[i]! - openTimeMs[i - 1]!;
    if (d > 0) steps.push(d);
  }
  if (steps.length === 0) return undefined;
  steps.sort((a, b) => a - b);
  const median = steps[steps.length >> 1]!;
  const need = Math.max(1, Math.ceil(steps.length * SPARSE_STEP_SHARE));
  for (let i = 0; i < steps.length && steps[i]! < median; ) {
    let j = i;
    while (j < steps.length && steps[j] === steps[i]) j++;
    if (j - i >= need) return steps[i];
    i = j;
  }
  return median;
}
