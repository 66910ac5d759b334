/**
 * The signature-branch paths (src/features/signaturePath.ts) against direct computations from
 * the series, their shapes (with lead-lag), causality (bars from the order's start on are never
 * read), and the clamp at the series start.
 */
import { describe, expect, it } from 'vitest';

import { buildAssetSeries, datasetConfigFrom } from '../../src/data/index.js';
import type { MarketSeries, OrderBatch } from '../../src/data/marketSeries.js';
import {
  DEFAULT_SIGNATURE_PATH, type SignaturePathSpec, computeSignaturePath, signaturePathChannelNames, signaturePathShape, signaturePathSpecSchema,
} from '../../src/features/signaturePath.js';
import { leadLag } from '../../src/native/signature.js';
import { HOUR_MS, perturbFrom, seasonalBars } from '../helpers/market.js';

const bars = seasonalBars(900, 5);
const config = datasetConfigFrom({});
const series: MarketSeries = buildAssetSeries(bars, HOUR_MS, config, 'SYN').series;
const orders = (s: MarketSeries, ...r: number[]): OrderBatch => ({ series: [s], assetIndex: new Int32Array(r.length), bar: Int32Array.from(r), horizon: 12 });

/** The path of one order by the header's definitions, in float64. */
function direct(s: MarketSeries, r: number, spec: SignaturePathSpec, lookahead = 0): number[][] {
  const e = r - 1 + lookahead;
  const from = Math.max(0, e - spec.baselineBars + 1);
  let m = 0;
  for (let j = from; j <= e; j++) m += s.volume[j]!;
  m /= e - from + 1;
  return Array.from({ length: spec.length }, (_, i) => {
    const j = Math.max(0, e - spec.length + 1 + i);
    const v = s.volume[j]! / m;
    if (spec.channels === 'volumeHour') return [v, new Date(s.openTimeMs[j]!).getUTCHours() / 24];
    return [spec.length > 1 ? i / (spec.length - 1) : 0, v, Math.log(s.price[j]! / s.price[e]!)];
  });
}

const SPECS: [string, SignaturePathSpec][] = [
  ['volumeHour l400 (the paper)', DEFAULT_SIGNATURE_PATH],
  ['timeVolumePrice l24', { length: 24, channels: 'timeVolumePrice', leadLag: false, baselineBars: 336 }],
  ['timeVolumePrice l1', { length: 1, channels: 'timeVolumePrice', leadLag: false, baselineBars: 48 }],
  ['volumeHour l7 lead-lag', { length: 7, channels: 'volumeHour', leadLag: true, baselineBars: 336 }],
  ['timeVolumePrice l2 lead-lag', { length: 2, channels: 'timeVolumePrice', leadLag: true, baselineBars: 24 }],
];

describe('computeSignaturePath', () => {
  it.each(SPECS)('%s: values and shape match a direct computation', (_name, spec) => {
    expect(signaturePathSpecSchema.parse(spec)).toEqual(spec);
    const rs = [450, 611, 887];
    const { path, shape } = computeSignaturePath(orders(series, ...rs), spec);
    expect(shape).toEqual(signaturePathShape(spec, rs.length));
    expect(signaturePathChannelNames(spec)).toHaveLength(shape.channels);
    expect(path).toHaveLength(shape.batch * shape.length * shape.channels);
    const C = spec.channels === 'volumeHour' ? 2 : 3;
    const plain = new Float32Array(rs.length * spec.length * C);
    rs.forEach((r, b) => direct(series, r, spec).forEach((point, i) => plain.set(point, (b * spec.length + i) * C)));
    const want = spec.leadLag ? leadLag(plain, { batch: rs.length, length: spec.length, channels: C }).path : plain;
    for (let i = 0; i < want.length; i++) expect(path[i]).toBeCloseTo(want[i]!, 5);
  });

  it.each(SPECS)('%s: bars from the order start on are never read (lookahead 0)', (_name, spec) => {
    const r = 700;
    const changed = buildAssetSeries(perturbFrom(bars, r), HOUR_MS, config, 'SYN').series;
    expect(Array.from(computeSignaturePath(orders(changed, r), spec).path)).toEqual(Array.from(computeSignaturePath(orders(series, r), spec).path));
    // and bar r - 1 is read: the path ends there
    const last = buildAssetSeries(perturbFrom(bars, r - 1), HOUR_MS, config, 'SYN').series;
    expect(Array.from(computeSignaturePath(orders(last, r), spec).path)).not.toEqual(Array.from(computeSignaturePath(orders(series, r), spec).path));
  });

  it.each([
    ['lookahead 1 ends at bar r', 1],
    ['lookahead 3 ends at bar r + 2', 3],
  ] as const)('%s', (_name, k) => {
    const spec: SignaturePathSpec = { length: 9, channels: 'timeVolumePrice', leadLag: false, baselineBars: 48 };
    const { path } = computeSignaturePath(orders(series, 500), spec, k);
    const want = direct(series, 500, spec, k).flat();
    for (let i = 0; i < want.length; i++) expect(path[i]).toBeCloseTo(want[i]!, 5);
  });

  it.each([
    ['an order at bar 3 repeats bar 0 before the series start', 3, null],
    ['an order at bar 0 has no bar before it', 0, 'ERR_ARG'],
  ] as const)('%s', (_name, r, code) => {
    const spec: SignaturePathSpec = { length: 6, channels: 'volumeHour', leadLag: false, baselineBars: 24 };
    if (code) {
      expect(() => computeSignaturePath(orders(series, r), spec)).toThrow(expect.objectContaining({ code, message: expect.stringContaining('order 0') }));
      return;
    }
    const { path } = computeSignaturePath(orders(series, r), spec);
    // points 0..3 are bar 0 (clamped), then bars 1 and 2
    expect(Array.from(path.slice(0, 8))).toEqual(Array.from(path.slice(0, 2)).concat(Array.from(path.slice(0, 2)), Array.from(path.slice(0, 2)), Array.from(path.slice(0, 2))));
    expect(path[8]).toBeCloseTo(direct(series, r, spec)[4]![0]!, 5);
  });
});
