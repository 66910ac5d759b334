// Epilogue of the batched matrix product: CUDA mirror of `Activation::apply`
// and `epilogue` in native/core/src/matmul/{mod.rs,cpu.rs} (the spec),
// launched by native/core/src/matmul/cuda.rs after the product ran on cuBLAS.
//
// Layout: out row-major [rows, n] (all batch entries stacked), bias [n] or
// absent (has_bias = 0). out[r, j] = act(out[r, j] + bias[j]).
// Activations (act): 0 linear, 1 relu, 2 relu6, 3 sigmoid, 4 elu, 5 leakyrelu
// (slope alpha). Sigmoid and elu are evaluated in f64 and rounded once to
// f32, like the CPU (and tfjs' CPU backend). The comparisons are written so
// that NaN propagates as on the CPU (fminf/fmaxf would drop it).
// Cost: one read and one write of out; memory-bound, one thread per element
// (grid-stride loop).

__device__ __forceinline__ float activate(float x, int act, float alpha) {
  switch (act) {
    case 1:
      return x < 0.0f ? 0.0f : x;
    case 2:
      return x < 0.0f ? 0.0f : (x > 6.0f ? 6.0f : x);
    case 3:
      return (float)(1.0 / (1.0 + exp(-(double)x)));
    case 4:
      return x >= 0.0f ? x : (float)(exp((double)x) - 1.0);
    case 5:
      return x < 0.0f ? alpha * x : x;
    default:
      return x;
  }
}

extern "C" __global__ void matmul_epilogue(float* out, long long rows, int n, const float* bias, int has_bias, int act,
                                           float alpha) {
  const long long total = rows * (long long)n;
  for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (long long)gridDim.x * blockDim.x) {
    float x = out[i];
    if (has_bias) x = x + bias[i % n];
    out[i] = activate(x, act, alpha);
  }
}
