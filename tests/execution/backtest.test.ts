/**
 * Backtests (issue F): TCA on a hand-computed market, the reference strategies' schedules,
 * closed-loop strategies that react to capped fills, strategy resolution, and the command
 * end to end on a synthetic crypto store and on the shared equity data (skipped with a message
 * when ../shared is absent).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tableFromIPC } from 'apache-arrow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultModelConfig, type ModelConfig } from '../../src/allocators/neural/modelConfig.js';
import { buildAssetSeries, datasetConfigFrom } from '../../src/data/index.js';
import type { MarketSeries } from '../../src/data/marketSeries.js';
import type { BacktestOrders } from '../../src/execution/backtestOrders.js';
import type { OrderMarket } from '../../src/execution/orderBins.js';
import { runBacktest } from '../../src/execution/runBacktest.js';
import { allocatorStrategy, resolveStrategy } from '../../src/execution/strategies/index.js';
import { immediateStrategy, povStrategy, twapStrategy } from '../../src/execution/strategies/simple.js';
import { runBacktestCli } from '../../src/cli/backtest.js';
import { HOUR_MS, removeDir, seasonalBars, tempDir } from '../helpers/market.js';
import { captureIo, twoAssetStore } from '../helpers/cli.js';
import { randomizedModel } from '../helpers/models.js';
import { sharedPath } from '../helpers/sharedDir.js';
import { ingest } from '../../src/data/ingest.js';

const dir = tempDir();
afterAll(() => removeDir(dir));

/** One buy order of 10 over bins priced `price` with volume `volume`. */
function oneOrder(price: number[], volume: number[], quantity = 10): { orders: BacktestOrders; market: OrderMarket } {
  const T = price.length;
  return {
    orders: { symbols: ['X'], assetIndex: Int32Array.of(0), startBar: Int32Array.of(1), bins: T, binBars: 1, side: Int8Array.of(1), quantity: Float64Array.of(quantity), adv: Float64Array.of(1000), skipped: [] },
    market: { bins: T, binBars: 1, price: Float64Array.from(price), volume: Float64Array.from(volume), sigma: Float64Array.of(0.01), arrivalPrice: Float64Array.of(100), halfSpreadBps: Float64Array.of(0), startTimeMs: Float64Array.of(0) },
  };
}
const free = { impactEta: 0, takerFeeBps: 0, makerFeeBps: 0 };

describe('TCA on a hand-computed market (no spread, impact or fees)', () => {
  // bins at 100 and 110 with equal volume: VWAP 105. TWAP buys 5 + 5 at 105 on average: no
  // slippage. Immediate buys 10 at 100: -476.19 bps (beats VWAP), PA +476.19 vs TWAP.
  const { orders, market } = oneOrder([100, 110], [1000, 1000]);
  const r = runBacktest({ orders, series: [], market, strategies: [twapStrategy(), immediateStrategy()], params: free });
  it.each([
    ['twap', 0, 105, NaN, 0.5 * 0.005 + 0.5 * 0.005],
    ['immediate', (100 / 105 - 1) * 1e4, 100, ((105 - 100) / 105) * 1e4, 0.005],
  ])('%s: slippage %f bps at an average price of %f', (name, slippage, avg, pa, participation) => {
    const s = r.strategies.find((x) => x.name === name)!;
    expect(s.tca.avgPrice[0]).toBeCloseTo(avg, 10);
    expect(s.tca.slippageBps[0]).toBeCloseTo(slippage, 8);
    expect(s.tca.shortfallBps[0]).toBeCloseTo((avg / 100 - 1) * 1e4, 8);
    if (Number.isNaN(pa)) expect(s.tca.paBps[0]).toBeNaN();
    else expect(s.tca.paBps[0]).toBeCloseTo(pa, 8);
    expect(s.summary.completion).toBe(1);
    expect(s.tca.meanParticipation[0]).toBeCloseTo(participation, 12);
    expect(s.summary.hitRate).toBe(slippage < 0 ? 1 : 0);
  });

  it('a capped bin carries on: immediate with a 10% cap on 50 units of volume fills 5 then 5', () => {
    const m = oneOrder([100, 110], [50, 1000]);
    const s = runBacktest({ ...m, series: [], strategies: [immediateStrategy()], params: free }).strategies[0]!;
    expect(Array.from(s.fills.filled)).toEqual([5, 5]);
    expect(s.tca.avgPrice[0]).toBeCloseTo(105, 10);
  });
});

describe('reference schedules', () => {
  it('pov releases its rate times the previous bin\'s volume, the bin before the order first', () => {
    const series: MarketSeries[] = [{ intervalMs: HOUR_MS, bars: 4, openTimeMs: Float64Array.of(0, 1, 2, 3), price: Float64Array.of(100, 100, 100, 100), volume: Float64Array.of(40, 20, 30, 50), missing: new Uint8Array(4) }];
    const { orders, market } = oneOrder([100, 100, 100], [20, 30, 50]);
    const a = povStrategy(0.1).schedule!({ orders, series, market });
    // bin -1 (bar 0) had 40: 4 units = 0.4 of 10; then 2 (bar 1), then 3 capped by the 0.4 left
    expect(Array.from(a).map((x) => +x.toFixed(12))).toEqual([0.4, 0.2, 0.3]);
  });

  it.each([
    ['an unknown name', 'nope', /neither a strategy \(immediate, twap, passiveTwap, pov, histCurve\)/],
    ['a missing checkpoint', join(dir, 'missing.ckpt'), /missing\.ckpt/],
  ])('resolveStrategy rejects %s', (_name, spec, message) => {
    expect(() => resolveStrategy(spec)).toThrow(expect.objectContaining({ message: expect.stringMatching(message) }));
  });
});

describe('closed loop: the dynamic model reacts to its fills', () => {
  const H = 12;
  const bars = seasonalBars(1200, 5);
  const series: MarketSeries[] = [buildAssetSeries(bars, HOUR_MS, datasetConfigFrom({}), 'SYN').series];
  const config: ModelConfig = { ...defaultModelConfig('dynamic'), dynamic: { ...defaultModelConfig('dynamic').dynamic, sequence: { encoderLookback: 8, baselineBars: 336 } } };
  const model = randomizedModel(config, 11);
  const starts = [700, 800, 900, 1000];
  const make = (volumeBin0: number) => {
    const orders: BacktestOrders = {
      symbols: ['SYN'], assetIndex: new Int32Array(starts.length), startBar: Int32Array.from(starts), bins: H, binBars: 1,
      side: new Int8Array(starts.length).fill(1), quantity: new Float64Array(starts.length).fill(1), adv: new Float64Array(starts.length).fill(100), skipped: [],
    };
    const price = new Float64Array(starts.length * H);
    const volume = new Float64Array(starts.length * H);
    starts.forEach((r, b) => {
      for (let t = 0; t < H; t++) {
        price[b * H + t] = series[0]!.price[r + t]!;
        volume[b * H + t] = t === 0 ? volumeBin0 : 1e9;
      }
    });
    const market: OrderMarket = { bins: H, binBars: 1, price, volume, sigma: new Float64Array(starts.length), arrivalPrice: Float64Array.from(starts, (r) => series[0]!.price[r - 1]!), halfSpreadBps: new Float64Array(starts.length), startTimeMs: Float64Array.from(starts, (r) => series[0]!.openTimeMs[r]!) };
    return runBacktest({ orders, series, market, strategies: [allocatorStrategy(model)], params: free }).strategies[0]!;
  };

  it('with room to fill, the closed loop releases exactly the model\'s own allocations', () => {
    const s = make(1e9);
    expect(s.loop).toBe('closed');
    const own = model.allocate({ series, assetIndex: new Int32Array(starts.length), bar: Int32Array.from(starts), horizon: H });
    // float32 model outputs: the last bin also takes the row's rounding (1 - Σ a, about 1e-7)
    for (let i = 0; i < own.length; i++) expect(s.schedule[i]).toBeCloseTo(own[i]!, 6);
  });

  it('when bin 0 cannot fill, the next bins see the executed fraction (0), not the plan', () => {
    const open = make(1e9);
    const capped = make(0);
    for (let b = 0; b < starts.length; b++) {
      expect(capped.fills.filled[b * H]).toBe(0);
      // the model re-plans from what was executed: bin 1 onward differ from the uncapped run
      const later = (s: typeof open) => Array.from(s.schedule.subarray(b * H + 1, (b + 1) * H));
      expect(later(capped)).not.toEqual(later(open));
      expect(capped.fills.filledQty[b]).toBeCloseTo(1, 6);
    }
  });
});

describe('sigvwap backtest', () => {
  let store = '';
  beforeAll(async () => {
    store = await twoAssetStore(join(dir, 'crypto'));
  });

  it('runs the test anchors of a store and writes results.json and orders.arrow', async () => {
    const io = captureIo();
    const out = join(dir, 'bt');
    const r = await runBacktestCli({ store, strategies: ['twap', 'passiveTwap', 'histCurve', 'pov'], orders: 'test-anchors', side: 'buy', size: '1%adv', workers: 0, out, progress: false }, io);
    expect(r.strategies.map((s) => s.name)).toEqual(['twap', 'passiveTwap', 'histCurve', 'pov']);
    expect(io.out()).toContain('| passiveTwap (passive) | open |');
    const json = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as { orders: number; strategies: { name: string }[] };
    expect(json.orders).toBe(r.orders);
    const table = tableFromIPC(readFileSync(join(out, 'orders.arrow')));
    expect(table.numRows).toBe(4 * r.orders);
    expect(existsSync(join(out, '.lock'))).toBe(false);
  });

  it.each([
    ['an invalid cost parameter', { maxParticipation: 0 }, /maxParticipation/],
    ['an unknown strategy', { strategies: ['nope'] }, /strategies: "nope"/],
    ['a size that is not a share of ADV', { size: '5' }, /--size/],
  ])('rejects %s with ERR_ARG naming it', async (_name, patch, message) => {
    await expect(runBacktestCli({ store, strategies: ['twap'], orders: 'test-anchors', side: 'buy', workers: 0, progress: false, ...patch }, captureIo()))
      .rejects.toMatchObject({ code: 'ERR_ARG', message: expect.stringMatching(message) });
  });

  const spy = sharedPath('data/us-equity-spy-1min-2025-07', 'the full-day SPY backtest');
  it.skipIf(!spy)('a full-day equity backtest: one 390-minute order per SPY session', async () => {
    const eq = join(dir, 'eq');
    await ingest([spy!], { store: eq });
    const r = await runBacktestCli({ store: eq, strategies: ['twap', 'histCurve', 'pov'], orders: 'sessions', side: 'sell', size: '0.5%adv', binMinutes: 1, progress: false }, captureIo());
    expect(r.bins).toBe(390);
    expect(r.orders).toBeGreaterThanOrEqual(15);
    for (const s of r.strategies) expect(s.summary.completion).toBeCloseTo(1, 9);
  });
});
