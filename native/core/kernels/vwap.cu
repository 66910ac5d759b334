// Batched VWAP slippage loss: CUDA mirror of native/core/src/vwap/cpu.rs (the
// spec), launched by native/core/src/vwap/cuda.rs.
//
// Layout: alloc, price, volume row-major [batch, horizon]; one thread per order.
// Forward writes per_order[b] = P_ach / P_mkt - 1 and flag[b]:
//   0 ok, 1 zero market volume, 2 invalid row (non-finite, negative, zero alloc
//   sum); the host re-runs the CPU validation for flag 2 so that the error
//   message is the same on every device.
// Gradient writes grad[b, t] = scale * l'(d) * (p_t - P_ach) / (A * P_mkt),
// scale = 1 / (orders used), and zeros for skipped orders.
// Sums use f64 for both input types, like the CPU. Cost: one read of the
// three arrays per kernel; memory-bound.

template <typename T>
struct RowSums {
  double sa, sap, sv, svp;
  bool bad;
};

template <typename T>
__device__ __forceinline__ RowSums<T> row_sums(const T* a, const T* p, const T* v, int h) {
  RowSums<T> s = {0.0, 0.0, 0.0, 0.0, false};
  double mn = 1.0, mp = 1.0;
  for (int t = 0; t < h; ++t) {
    double x = (double)a[t], y = (double)p[t], z = (double)v[t];
    s.sa += x;
    s.sap += x * y;
    s.sv += z;
    s.svp += z * y;
    mn = fmin(mn, fmin(x, z));
    mp = fmin(mp, y);
  }
  bool finite = isfinite(s.sa) && isfinite(s.sap) && isfinite(s.sv) && isfinite(s.svp);
  s.bad = !finite || mn < 0.0 || mp <= 0.0 || s.sa <= 0.0;
  return s;
}

template <typename T>
__device__ void forward(const T* a, const T* p, const T* v, long long batch, int h, double* per_order, int* flag) {
  long long b = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (b >= batch) return;
  const long long o = b * h;
  RowSums<T> s = row_sums<T>(a + o, p + o, v + o, h);
  if (s.bad) {
    flag[b] = 2;
    per_order[b] = 0.0;
    return;
  }
  if (s.sv == 0.0) {
    flag[b] = 1;
    per_order[b] = nan("");
    return;
  }
  flag[b] = 0;
  per_order[b] = (s.sap / s.sa) / (s.svp / s.sv) - 1.0;
}

template <typename T>
__device__ void gradient(const T* a, const T* p, const T* v, long long batch, int h, int kind, double scale, T* grad) {
  long long b = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (b >= batch) return;
  const long long o = b * h;
  RowSums<T> s = row_sums<T>(a + o, p + o, v + o, h);
  if (s.bad || s.sv == 0.0) {
    for (int t = 0; t < h; ++t) grad[o + t] = (T)0;
    return;
  }
  double p_ach = s.sap / s.sa, p_mkt = s.svp / s.sv;
  double d = p_ach / p_mkt - 1.0;
  double dl = kind == 0 ? (d > 0.0 ? 1.0 : (d < 0.0 ? -1.0 : 0.0)) : 2.0 * d;
  double w = scale * dl / (s.sa * p_mkt);
  for (int t = 0; t < h; ++t) grad[o + t] = (T)(w * ((double)p[o + t] - p_ach) + 0.0);
}

extern "C" __global__ void vwap_forward_f32(const float* a, const float* p, const float* v, long long batch, int h,
                                            double* per_order, int* flag) {
  forward<float>(a, p, v, batch, h, per_order, flag);
}
extern "C" __global__ void vwap_forward_f64(const double* a, const double* p, const double* v, long long batch, int h,
                                            double* per_order, int* flag) {
  forward<double>(a, p, v, batch, h, per_order, flag);
}
extern "C" __global__ void vwap_grad_f32(const float* a, const float* p, const float* v, long long batch, int h, int kind,
                                         double scale, float* grad) {
  gradient<float>(a, p, v, batch, h, kind, scale, grad);
}
extern "C" __global__ void vwap_grad_f64(const double* a, const double* p, const double* v, long long batch, int h,
                                         int kind, double scale, double* grad) {
  gradient<double>(a, p, v, batch, h, kind, scale, grad);
}
