// Adam update: CUDA mirror of native/core/src/adam/cpu.rs (the spec, itself
// src/train/adam.ts's loop), launched by native/core/src/adam/cuda.rs.
//
// Layout: w, grad, m, v flat f32 [n]; one thread per value (grid-stride).
//   m = β1·m + (1−β1)·g, v = β2·v + (1−β2)·g·g   (f64, stored as f32)
//   w = w − lr_t·m / (√v + ε)                       (m, v: the stored f32 values)
// Every operation is an explicit round-to-nearest f64 intrinsic so that nvcc
// cannot contract a multiply and an add into an FMA: the result is then the
// same bits as the CPU mirror (Rust does not contract either) and adam.ts.
// Cost: 4 reads and 3 writes of 4 bytes per value; memory-bound.

extern "C" __global__ void adam_update_f32(float* w, const float* grad, float* m, float* v, long long n, double beta1,
                                           double beta2, double lr_t, double epsilon) {
  const double one_m_b1 = __dsub_rn(1.0, beta1), one_m_b2 = __dsub_rn(1.0, beta2);
  for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
    const double g = (double)grad[i];
    const double mi = __dadd_rn(__dmul_rn(beta1, (double)m[i]), __dmul_rn(one_m_b1, g));
    const double vi = __dadd_rn(__dmul_rn(beta2, (double)v[i]), __dmul_rn(__dmul_rn(one_m_b2, g), g));
    const float mf = __double2float_rn(mi), vf = __double2float_rn(vi);
    m[i] = mf;
    v[i] = vf;
    const double step = __ddiv_rn(__dmul_rn(lr_t, (double)mf), __dadd_rn(__dsqrt_rn((double)vf), epsilon));
    w[i] = __double2float_rn(__dsub_rn((double)w[i], step));
  }
}
