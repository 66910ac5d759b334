// Truncated path signatures: CUDA mirror of native/core/src/signature (the
// CPU code is the spec; see horner.rs for the math, restated here), launched
// by native/core/src/signature/cuda.rs.
//
// Conventions: path [batch, length, channels] of T (float or double), levels
// 1..m concatenated without the leading 1, word (i1..ik) at
// i1·d^(k-1) + ... + ik inside level k. Increments are formed in double and
// all arithmetic is double; outputs are rounded once to T.
//
// Per segment z (Horner, levels overwritten from k = m down to 1):
//   A_1 = z/k + S_1,  A_{i+1} = A_i ⊗ z/(k-i) + S_{i+1},  S_k ← A_k.
// Backward per segment, given S = S^n, its adjoint Sbar (in place) and z:
//   undo: S ← S ⊗ exp(-z) (the same step with -z); then for k = 1..m:
//   recompute A_1..A_{k-1}; Ā_k = Sbar_k; for i = k-1..1:
//     Ā_i[w] = Σ_a Ā_{i+1}[w a] z_a/(k-i);  Sbar_{i+1} += Ā_{i+1} (i+1 < k);
//     zbar_a += Σ_w Ā_{i+1}[w a] A_i[w]/(k-i);
//   Sbar_1 += Ā_1 (k > 1); zbar += Ā_1/k.
//
// Parallelism: the forward runs one thread per (path, chunk of segments);
// `sig_combine` multiplies the chunk signatures of a path with Chen's
// identity. The stream and the backward run one thread per path. Per-thread
// state lives in a global workspace laid out [entry][thread] so that a warp's
// accesses coalesce. Depth is limited to MAX_DEPTH (host checks).

#define MAX_DEPTH 12

struct Dims {
  int d, m, siglen;
  int off[MAX_DEPTH + 2];  // off[k] = offset of level k (k = 1..m), off[m+1] = siglen
  int pw[MAX_DEPTH + 1];   // pw[k] = d^k
};

__device__ __forceinline__ Dims make_dims(int d, int m) {
  Dims D;
  D.d = d;
  D.m = m;
  D.pw[0] = 1;
  for (int k = 1; k <= m; ++k) D.pw[k] = D.pw[k - 1] * d;
  D.off[1] = 0;
  for (int k = 1; k <= m; ++k) D.off[k + 1] = D.off[k] + D.pw[k];
  D.siglen = D.off[m + 1];
  return D;
}

// Strided view: entry i of this thread's array at base[i * P + t].
struct Vec {
  double* base;
  long long P, t;
  __device__ __forceinline__ double& operator[](long long i) const { return base[i * P + t]; }
};

// z: this thread's increment (d doubles, strided). S ← S ⊗ exp(sign · z).
__device__ void horner_step(const Dims& D, Vec S, Vec z, double sign, Vec bufA, Vec bufB) {
  const int d = D.d;
  for (int k = D.m; k >= 1; --k) {
    if (k == 1) {
      for (int a = 0; a < d; ++a) S[D.off[1] + a] += sign * z[a];
      break;
    }
    Vec cur = bufA, nxt = bufB;
    for (int a = 0; a < d; ++a) cur[a] = sign * z[a] / k + S[D.off[1] + a];
    for (int i = 1; i <= k - 1; ++i) {
      const double inv = sign / (double)(k - i);
      const int n = D.pw[i];
      if (i == k - 1) {
        // last factor writes level k in place: each entry reads only itself.
        for (int w = 0; w < n; ++w)
          for (int a = 0; a < d; ++a) S[D.off[k] + w * d + a] += cur[w] * z[a] * inv;
      } else {
        for (int w = 0; w < n; ++w)
          for (int a = 0; a < d; ++a) nxt[w * d + a] = cur[w] * z[a] * inv + S[D.off[i + 1] + w * d + a];
        Vec tmp = cur;
        cur = nxt;
        nxt = tmp;
      }
    }
  }
}

template <typename T>
__device__ __forceinline__ double point(const T* path, long long b, int j, int c, int length, int d, int basepoint) {
  // j indexes the basepointed sequence; with basepoint, point 0 is zero.
  if (basepoint) {
    if (j == 0) return 0.0;
    j -= 1;
  }
  return (double)path[((long long)b * length + j) * d + c];
}

template <typename T>
__device__ void load_z(const T* path, long long b, int seg, int length, int d, int basepoint, Vec z) {
  for (int c = 0; c < d; ++c) z[c] = point(path, b, seg + 1, c, length, d, basepoint) - point(path, b, seg, c, length, d, basepoint);
}

// ws layout per thread (entries): S siglen | z d | bufA pw[m-1] | bufB pw[m-1]
template <typename T>
__device__ void forward_chunks(const T* path, long long batch, int length, int d, int m, int basepoint, int chunks, int seg_per_chunk,
                               double* ws) {
  const Dims D = make_dims(d, m);
  const long long P = batch * chunks;
  const long long t = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (t >= P) return;
  const long long b = t / chunks;
  const int c = (int)(t % chunks);
  const int segs = length + basepoint - 1;
  const int s0 = c * seg_per_chunk, s1 = min(segs, s0 + seg_per_chunk);
  const int half = D.pw[m > 1 ? m - 1 : 1];
  Vec S{ws, P, t}, z{ws + (long long)D.siglen * P, P, t};
  Vec A{ws + (long long)(D.siglen + d) * P, P, t}, B{ws + (long long)(D.siglen + d + half) * P, P, t};
  for (int i = 0; i < D.siglen; ++i) S[i] = 0.0;
  for (int s = s0; s < s1; ++s) {
    load_z(path, b, s, length, d, basepoint, z);
    horner_step(D, S, z, 1.0, A, B);
  }
}

// out[b] = Π_c chunk[b, c] (Chen), written as T. One thread per path; the
// product X ← X ⊗ Y of group-like elements, top level first, in place:
//   X_k ← X_k + Y_k + Σ_{i=1..k-1} X_i ⊗ Y_{k-i}.
template <typename T>
__device__ void combine(long long batch, int d, int m, int chunks, const double* ws, T* out) {
  const Dims D = make_dims(d, m);
  const long long P = batch * chunks;
  const long long b = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (b >= batch) return;
  // Accumulate into chunk 0's slot of this path (owned by this thread now).
  const long long t0 = b * chunks;
  for (int c = 1; c < chunks; ++c) {
    const long long tc = b * chunks + c;
    for (int k = m; k >= 1; --k) {
      const int nk = D.pw[k];
      for (int w = 0; w < nk; ++w) {
        double acc = ws[(long long)(D.off[k] + w) * P + tc];
        for (int i = 1; i <= k - 1; ++i) {
          const int nr = D.pw[k - i];
          const int pre = w / nr, suf = w % nr;
          acc += ws[(long long)(D.off[i] + pre) * P + t0] * ws[(long long)(D.off[k - i] + suf) * P + tc];
        }
        const_cast<double*>(ws)[(long long)(D.off[k] + w) * P + t0] += acc;
      }
    }
  }
  for (int i = 0; i < D.siglen; ++i) out[b * D.siglen + i] = (T)ws[(long long)i * P + t0];
}

// Stream: out[b, s, :] = signature of points 0..s+1. One thread per path.
template <typename T>
__device__ void stream(const T* path, long long batch, int length, int d, int m, int basepoint, double* ws, T* out) {
  const Dims D = make_dims(d, m);
  const long long P = batch;
  const long long t = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (t >= P) return;
  const int segs = length + basepoint - 1;
  const int half = D.pw[m > 1 ? m - 1 : 1];
  Vec S{ws, P, t}, z{ws + (long long)D.siglen * P, P, t};
  Vec A{ws + (long long)(D.siglen + d) * P, P, t}, B{ws + (long long)(D.siglen + d + half) * P, P, t};
  for (int i = 0; i < D.siglen; ++i) S[i] = 0.0;
  for (int s = 0; s < segs; ++s) {
    load_z(path, t, s, length, d, basepoint, z);
    horner_step(D, S, z, 1.0, A, B);
    T* o = out + ((long long)t * segs + s) * D.siglen;
    for (int i = 0; i < D.siglen; ++i) o[i] = (T)S[i];
  }
}

// Backward by reversibility. gout: [batch, siglen] or, with is_stream,
// [batch, segs, siglen]. grad: [batch, length, d] (zeroed by the host).
// ws per thread: S siglen | Sbar siglen | chain siglen | z d | zbar d | bufA | bufB (pw[m-1] each)
template <typename T>
__device__ void backward(const T* path, const T* gout, long long batch, int length, int d, int m, int basepoint, int is_stream,
                         double* ws, T* grad) {
  const Dims D = make_dims(d, m);
  const long long P = batch;
  const long long t = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (t >= P) return;
  const int segs = length + basepoint - 1;
  const int half = D.pw[m > 1 ? m - 1 : 1];
  const long long L = D.siglen;
  Vec S{ws, P, t}, Sbar{ws + L * P, P, t}, chain{ws + 2 * L * P, P, t};
  Vec z{ws + 3 * L * P, P, t}, zbar{ws + (3 * L + d) * P, P, t};
  Vec A{ws + (3 * L + 2 * d) * P, P, t}, B{ws + (3 * L + 2 * d + half) * P, P, t};
  if (segs < 1) return;
  // Forward to S^N.
  for (int i = 0; i < D.siglen; ++i) S[i] = 0.0;
  for (int s = 0; s < segs; ++s) {
    load_z(path, t, s, length, d, basepoint, z);
    horner_step(D, S, z, 1.0, A, B);
  }
  const T* g0 = is_stream ? gout + ((long long)t * segs + (segs - 1)) * L : gout + (long long)t * L;
  for (int i = 0; i < D.siglen; ++i) Sbar[i] = (double)g0[i];
  for (int s = segs - 1; s >= 0; --s) {
    load_z(path, t, s, length, d, basepoint, z);
    horner_step(D, S, z, -1.0, A, B);  // S = S^{s} (points 0..s)
    for (int a = 0; a < d; ++a) zbar[a] = 0.0;
    for (int k = 1; k <= m; ++k) {
      // chain holds A_1..A_{k-1} at the level offsets.
      for (int a = 0; a < d; ++a) chain[D.off[1] + a] = z[a] / k + S[D.off[1] + a];
      for (int i = 1; i <= k - 2; ++i) {
        const double inv = 1.0 / (double)(k - i);
        for (int w = 0; w < D.pw[i]; ++w)
          for (int a = 0; a < d; ++a)
            chain[D.off[i + 1] + w * d + a] = chain[D.off[i] + w] * z[a] * inv + S[D.off[i + 1] + w * d + a];
      }
      if (k == 1) {
        for (int a = 0; a < d; ++a) zbar[a] += Sbar[D.off[1] + a];
        continue;
      }
      // Ā_{i+1} is read from `up` (Sbar level k for i+1 = k), Ā_i written to `down`.
      Vec up = Sbar, down = A;
      long long up_off = D.off[k];
      for (int i = k - 1; i >= 1; --i) {
        const double inv = 1.0 / (double)(k - i);
        const int n = D.pw[i];
        for (int w = 0; w < n; ++w) {
          double acc = 0.0;
          for (int a = 0; a < d; ++a) {
            const double g = up[up_off + w * d + a];
            acc += g * z[a] * inv;
            zbar[a] += g * chain[D.off[i] + w] * inv;
          }
          down[w] = acc;
        }
        if (i + 1 < k)
          for (int w = 0; w < D.pw[i + 1]; ++w) Sbar[D.off[i + 1] + w] += up[up_off + w];
        // next iteration reads Ā_i from `down` at offset 0
        up = down;
        up_off = 0;
        down = (down.base == A.base) ? B : A;
      }
      for (int a = 0; a < d; ++a) {
        Sbar[D.off[1] + a] += up[a];
        zbar[a] += up[a] / k;
      }
    }
    // z_s = x_{s+1} - x_s in the basepointed sequence.
    const int j1 = s + 1 - basepoint, j0 = s - basepoint;
    for (int c = 0; c < d; ++c) {
      if (j1 >= 0) grad[((long long)t * length + j1) * d + c] += (T)zbar[c];
      if (j0 >= 0) grad[((long long)t * length + j0) * d + c] -= (T)zbar[c];
    }
    if (is_stream && s >= 1) {
      const T* gs = gout + ((long long)t * segs + (s - 1)) * L;
      for (int i = 0; i < D.siglen; ++i) Sbar[i] += (double)gs[i];
    }
  }
}

#define INSTANTIATE(T, SUF)                                                                                                   \
  extern "C" __global__ void sig_forward_chunks_##SUF(const T* path, long long batch, int length, int d, int m, int basepoint, \
                                                      int chunks, int seg_per_chunk, double* ws) {                            \
    forward_chunks<T>(path, batch, length, d, m, basepoint, chunks, seg_per_chunk, ws);                                      \
  }                                                                                                                           \
  extern "C" __global__ void sig_combine_##SUF(long long batch, int d, int m, int chunks, const double* ws, T* out) {         \
    combine<T>(batch, d, m, chunks, ws, out);                                                                                 \
  }                                                                                                                           \
  extern "C" __global__ void sig_stream_##SUF(const T* path, long long batch, int length, int d, int m, int basepoint,       \
                                              double* ws, T* out) {                                                           \
    stream<T>(path, batch, length, d, m, basepoint, ws, out);                                                                 \
  }                                                                                                                           \
  extern "C" __global__ void sig_backward_##SUF(const T* path, const T* gout, long long batch, int length, int d, int m,      \
                                                int basepoint, int is_stream, double* ws, T* grad) {                          \
    backward<T>(path, gout, batch, length, d, m, basepoint, is_stream, ws, grad);                                             \
  }

INSTANTIATE(float, f32)
INSTANTIATE(double, f64)
