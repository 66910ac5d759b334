/**
 * The strategy registry with its built-ins, and the one place a strategy name becomes a
 * Strategy: a registered strategy (immediate, twap, passiveTwap, pov, histCurve), else any
 * allocator of the allocator registry or a checkpoint path (allocatorStrategy.ts).
 */
import './simple.js';
import './histCurve.js';
import { SigvwapError } from '../../errors.js';
import { isAllocatorSpec, registeredAllocators, resolveAllocator } from '../../allocators/index.js';
import { findStrategy, registeredStrategies, type Strategy, type StrategyOptions } from '../strategy.js';
import { allocatorStrategy } from './allocatorStrategy.js';

export { registerStrategy, registeredStrategies, type Strategy, type StrategyContext, type StrategyOptions } from '../strategy.js';
export { allocatorStrategy } from './allocatorStrategy.js';

/** A strategy by name or checkpoint path; `context` is what an allocator needs to match. */
export function resolveStrategy(spec: string, options: StrategyOptions & { horizon?: number; intervalMs?: number } = {}): Strategy {
  const entry = findStrategy(spec);
  if (entry) return entry.create(options);
  if (!isAllocatorSpec(spec)) {
    throw new SigvwapError('ERR_ARG', `strategies: ${JSON.stringify(spec)} is neither a strategy (${registeredStrategies().map((e) => e.name).join(', ')}), an allocator (${registeredAllocators().map((e) => e.name).join(', ')}) nor a checkpoint path or pretrained:<name>`, {
      argument: 'strategies', value: spec,
    });
  }
  return allocatorStrategy(resolveAllocator(spec, { horizon: options.horizon, intervalMs: options.intervalMs, histDays: options.histDays }));
}
