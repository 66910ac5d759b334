/**
 * Plain float64 TypeScript reference of the VWAP loss (method.md §1): the
 * specification the native kernels are tested against. No shortcuts.
 */
export function vwapLossReference(
  alloc: ArrayLike<number>,
  price: ArrayLike<number>,
  volume: ArrayLike<number>,
  batch: number,
  horizon: number,
  kind: 'abs' | 'quad',
): { mean: number; perOrder: number[]; grad: number[] } {
  const perOrder: number[] = [];
  const stats: { sa: number; pAch: number; pMkt: number }[] = [];
  let sum = 0;
  let used = 0;
  for (let b = 0; b < batch; b++) {
    let sa = 0, sap = 0, sv = 0, svp = 0;
    for (let t = 0; t < horizon; t++) {
      const i = b * horizon + t;
      sa += alloc[i]!;
      sap += alloc[i]! * price[i]!;
      sv += volume[i]!;
      svp += volume[i]! * price[i]!;
    }
    if (sv === 0) {
      perOrder.push(NaN);
      stats.push({ sa, pAch: NaN, pMkt: NaN });
      continue;
    }
    const pAch = sap / sa;
    const pMkt = svp / sv;
    const d = pAch / pMkt - 1;
    perOrder.push(d);
    stats.push({ sa, pAch, pMkt });
    sum += kind === 'abs' ? Math.abs(d) : d * d;
    used++;
  }
  const grad = new Array<number>(batch * horizon).fill(0);
  for (let b = 0; b < batch; b++) {
    const d = perOrder[b]!;
    if (Number.isNaN(d)) continue;
    const { sa, pAch, pMkt } = stats[b]!;
    const dl = kind === 'abs' ? Math.sign(d) : 2 * d;
    for (let t = 0; t < horizon; t++) {
      const i = b * horizon + t;
      grad[i] = ((dl / used) * (price[i]! - pAch)) / (sa * pMkt);
    }
  }
  return { mean: sum / used, perOrder, grad };
}
