/**
 * TWAP: a_t = 1/H for every order; reads no bar. Cost O(B·H).
 */
import type { OrderBatch } from '../data/marketSeries.js';
import type { Allocator } from './allocator.js';
import { registerAllocator } from './registry.js';

export function twapAllocator(): Allocator {
  return {
    label: 'twap',
    kind: 'twap',
    lookahead: 0,
    horizon: undefined,
    adaptive: false,
    historyBars: () => 0,
    allocate(orders: OrderBatch): Float64Array {
      return new Float64Array(orders.bar.length * orders.horizon).fill(1 / orders.horizon);
    },
  };
}

registerAllocator({ name: 'twap', description: 'a_t = 1/H (the reference every improvement is measured against)', create: () => twapAllocator() });
