/**
 * Plain float64 references of the layers' math, written from the module headers (and
 * docs/method.md §5) with loops over rows, not from the layers' tensor code: GLU, GRN,
 * VariableSelection, CausalMultiHeadAttention and the KAN cell of TKAN. Weights are read by
 * name from a built layer (`<layer>/<weight>`).
 */
import type { Layer } from './layers.js';

interface Weight {
  shape: number[];
  data: Float64Array;
}

/** The layer's weights by their name inside the layer (after `<layer name>/`). */
export function weightsByName(layer: Layer): Map<string, Weight> {
  const out = new Map<string, Weight>();
  const values = layer.getWeights();
  layer.weights.forEach((w, i) => {
    const name = w.originalName.slice(layer.name.length + 1);
    out.set(name, { shape: w.shape as number[], data: Float64Array.from(values[i]!.dataSync()) });
  });
  return out;
}

/** y = x·W (+ b) for one row x [in], W [in, out] at offset `wo` (stacked weights), b at `bo`. */
function affine(x: ArrayLike<number>, w: Weight, b?: Weight, wo = 0, bo = 0): Float64Array {
  const inDim = w.shape[w.shape.length - 2]!;
  const outDim = w.shape[w.shape.length - 1]!;
  const y = new Float64Array(outDim);
  for (let o = 0; o < outDim; o++) {
    let s = b ? b.data[bo + o]! : 0;
    for (let i = 0; i < inDim; i++) s += x[i]! * w.data[wo + i * outDim + o]!;
    y[o] = s;
  }
  return y;
}

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));
const elu = (z: number) => (z > 0 ? z : Math.exp(z) - 1);

function get(w: Map<string, Weight>, name: string): Weight {
  const v = w.get(name);
  if (!v) throw new Error(`no weight ${name} (have ${[...w.keys()].join(', ')})`);
  return v;
}

/** GLU(e) = (e·W + b) ⊙ σ(e·W' + b'), weights `${p}valueKernel` etc.; `s` = stack index. */
export function gluRow(w: Map<string, Weight>, p: string, e: ArrayLike<number>, s = 0): Float64Array {
  const vk = get(w, `${p}valueKernel`);
  const units = vk.shape[vk.shape.length - 1]!;
  const inDim = vk.shape[vk.shape.length - 2]!;
  const value = affine(e, vk, get(w, `${p}valueBias`), s * inDim * units, s * units);
  const gate = affine(e, get(w, `${p}gateKernel`), get(w, `${p}gateBias`), s * inDim * units, s * units);
  return value.map((v, i) => v * sigmoid(gate[i]!));
}

/** GRN(x) = LayerNorm(skip(x) + GLU(ELU(x·W_1 + c·W_c + b_1)·W_2 + b_2)) for one row. */
export function grnRow(w: Map<string, Weight>, p: string, x: ArrayLike<number>, context: ArrayLike<number> | null, epsilon: number, s = 0): Float64Array {
  const hk = get(w, `${p}hiddenKernel`);
  const inDim = hk.shape[hk.shape.length - 2]!;
  const h = hk.shape[hk.shape.length - 1]!;
  const pre = affine(x, hk, get(w, `${p}hiddenBias`), s * inDim * h, s * h);
  if (context) {
    const ck = get(w, `${p}contextKernel`);
    const c = affine(context, ck, undefined, s * ck.shape[ck.shape.length - 2]! * h);
    for (let i = 0; i < h; i++) pre[i]! += c[i]!;
  }
  const e = affine(pre.map(elu), get(w, `${p}outKernel`), get(w, `${p}outBias`), s * h * h, s * h);
  const g = gluRow(w, `${p}glu/`, e, s);
  const units = g.length;
  const skip = w.has(`${p}skipKernel`) ? affine(x, get(w, `${p}skipKernel`), get(w, `${p}skipBias`), s * inDim * units, s * units) : Float64Array.from(x);
  const z = g.map((v, i) => v + skip[i]!);
  const mean = z.reduce((a, v) => a + v, 0) / units;
  const variance = z.reduce((a, v) => a + (v - mean) ** 2, 0) / units;
  const gamma = get(w, `${p}gamma`).data;
  const beta = get(w, `${p}beta`).data;
  return z.map((v, i) => ((v - mean) / Math.sqrt(variance + epsilon)) * gamma[s * units + i]! + beta[s * units + i]!);
}

/** VariableSelection of one row x [V]: Σ_v softmax(GRN_sel(e))_v · GRN_v(e_v); also the weights. */
export function variableSelectionRow(w: Map<string, Weight>, x: ArrayLike<number>, epsilon: number): { out: Float64Array; weights: Float64Array } {
  const E = get(w, 'embedKernel');
  const [V, d] = E.shape as [number, number];
  const Eb = get(w, 'embedBias').data;
  const emb = Array.from({ length: V }, (_, v) => Float64Array.from({ length: d }, (_, k) => x[v]! * E.data[v * d + k]! + Eb[v * d + k]!));
  const flat = Float64Array.from(emb.flatMap((e) => Array.from(e)));
  const logits = grnRow(w, 'selection/', flat, null, epsilon);
  const mx = Math.max(...logits);
  const ex = logits.map((l) => Math.exp(l - mx));
  const sum = ex.reduce((a, v) => a + v, 0);
  const weights = ex.map((v) => v / sum);
  let out: Float64Array | null = null;
  for (let v = 0; v < V; v++) {
    const g = grnRow(w, 'variable/', emb[v]!, null, epsilon, v);
    out ??= new Float64Array(g.length);
    for (let i = 0; i < g.length; i++) out[i]! += weights[v]! * g[i]!;
  }
  return { out: out!, weights };
}

/** Causal multi-head attention of one sequence x [T][D] → [T][units]. */
export function causalAttentionSequence(w: Map<string, Weight>, x: ArrayLike<number>[], heads: number): Float64Array[] {
  const q = x.map((r) => affine(r, get(w, 'queryKernel'), get(w, 'queryBias')));
  const k = x.map((r) => affine(r, get(w, 'keyKernel')));
  const v = x.map((r) => affine(r, get(w, 'valueKernel'), get(w, 'valueBias')));
  const kd = q[0]!.length / heads;
  return x.map((_, i) => {
    const merged = new Float64Array(heads * kd);
    for (let h = 0; h < heads; h++) {
      const scores: number[] = [];
      for (let j = 0; j <= i; j++) {
        let s = 0;
        for (let c = 0; c < kd; c++) s += q[i]![h * kd + c]! * k[j]![h * kd + c]!;
        scores.push(s / Math.sqrt(kd));
      }
      const mx = Math.max(...scores);
      const ex = scores.map((s) => Math.exp(s - mx));
      const sum = ex.reduce((a, b) => a + b, 0);
      for (let j = 0; j <= i; j++) for (let c = 0; c < kd; c++) merged[h * kd + c]! += (ex[j]! / sum) * v[j]![h * kd + c]!;
    }
    return affine(merged, get(w, 'outputKernel'), get(w, 'outputBias'));
  });
}

/** Cardinal cubic B-spline centred at 0 (support [-2, 2]). */
export function cubicBSpline(v: number): number {
  const a = Math.abs(v);
  if (a < 1) return 2 / 3 - a * a + (a * a * a) / 2;
  if (a < 2) return (2 - a) ** 3 / 6;
  return 0;
}

/** The KAN cell of TKAN over one sequence x [T][C] → h [T][U] (tkan.ts header). */
export function tkanKanSequence(w: Map<string, Weight>, x: ArrayLike<number>[], opts: { gridSize: number; gridMin: number; gridMax: number; base: 'silu' | 'relu' | 'linear' }): Float64Array[] {
  const U = get(w, 'recurrentKernel').shape[0]!;
  const K = get(w, 'kanRecurrentKernel').shape[0]!;
  const G = opts.gridSize;
  const step = (opts.gridMax - opts.gridMin) / G;
  const base = (s: number) => (opts.base === 'relu' ? Math.max(0, s) : opts.base === 'linear' ? s : s * sigmoid(s));
  let h = new Float64Array(U);
  let c = new Float64Array(U);
  let m = new Float64Array(K);
  return x.map((xt) => {
    const s = affine(xt, get(w, 'kanKernel'), get(w, 'kanBias'));
    const sm = affine(m, get(w, 'kanRecurrentKernel'));
    for (let k = 0; k < K; k++) s[k]! += sm[k]!;
    const basis = new Float64Array(K * (G + 3));
    for (let k = 0; k < K; k++) for (let j = 0; j < G + 3; j++) basis[k * (G + 3) + j] = cubicBSpline((s[k]! - (opts.gridMin + (j - 1) * step)) / step);
    const phi = affine(s.map(base), get(w, 'baseKernel'));
    const spl = affine(basis, get(w, 'splineKernel'));
    for (let k = 0; k < K; k++) phi[k]! += spl[k]!;
    const mPre = affine(phi, get(w, 'memoryKernel'), get(w, 'memoryBias'));
    const mRec = affine(m, get(w, 'memoryRecurrentKernel'));
    m = mPre.map((v, k) => Math.tanh(v + mRec[k]!));
    const z = affine(xt, get(w, 'kernel'), get(w, 'bias'));
    const zh = affine(h, get(w, 'recurrentKernel'));
    const o = affine(phi, get(w, 'outputKernel'), get(w, 'outputBias')).map(sigmoid);
    const cNext = new Float64Array(U);
    const hNext = new Float64Array(U);
    for (let u = 0; u < U; u++) {
      const i = sigmoid(z[u]! + zh[u]!);
      const f = sigmoid(z[U + u]! + zh[U + u]!);
      const g = Math.tanh(z[2 * U + u]! + zh[2 * U + u]!);
      cNext[u] = f * c[u]! + i * g;
      hNext[u] = o[u]! * Math.tanh(cNext[u]!);
    }
    c = cNext;
    h = hNext;
    return h;
  });
}
