/** Seeded random numbers for tests (mulberry32): reproducible data, no dependency. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `n` seeded values uniform in [-0.5, 0.5): test paths and weights. */
export function centeredUniform(n: number, seed: number): Float64Array {
  const r = rng(seed);
  return Float64Array.from({ length: n }, () => r() - 0.5);
}

/** Random orders: unnormalized allocations, prices near 100, positive volumes. */
export function randomOrders(batch: number, horizon: number, seed: number) {
  const r = rng(seed);
  const n = batch * horizon;
  const alloc = new Float64Array(n);
  const price = new Float64Array(n);
  const volume = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    alloc[i] = 0.01 + 3 * r();
    price[i] = 100 * (1 + 0.02 * (r() - 0.5));
    volume[i] = 0.1 + 50 * r();
  }
  return { alloc, price, volume };
}
