// Fused LSTM, element-wise passes: CUDA mirror of the row loops of
// native/core/src/lstm/cpu.rs (the spec), run in the order of
// native/core/src/lstm/steps.rs (the products between them are cuBLAS
// SGEMMs) and launched by native/core/src/lstm/cuda.rs.
//
// Layout (row-major f32): gates [rows, 4u] in gate order i, f, g, o; c, h,
// dh, dh_next, dc_next [rows, u]; one step's arrays are `batch` rows.
// Math (σ = logistic):
//   forward:  i, f, o = σ(z), g = tanh(z); c = f⊙c_prev + i⊙g; h = o⊙tanh c
//   backward: dh' = dh + dh_next; dc = dh'⊙o⊙(1 − tanh²c) + dc_next
//             dz_i = dc⊙g⊙i(1−i), dz_f = dc⊙c_prev⊙f(1−f), dz_g = dc⊙i⊙(1−g²),
//             dz_o = dh'⊙tanh c⊙o(1−o); dc_next = dc⊙f
// The CPU evaluates e^x with a polynomial (relative error < 3e-7) and tanh as
// 2σ(2z) − 1; here expf and tanhf (a few ulp): the parity tolerance (1e-4)
// covers both. Products are written in the CPU's operand order.
// Cost per step: one thread per (row, unit), 4 gate reads and writes plus
// c and h (forward) or 4 gate reads, 4 dz writes and 5 state reads
// (backward); memory-bound, grid-stride loops. Column sums: f64 partial sums
// of 8·P row strides in blocks of 32 columns, then one f64 total per column.

__device__ __forceinline__ float sigmoid(float z) { return 1.0f / (1.0f + expf(-z)); }

extern "C" __global__ void lstm_fill_rows(float* dst, long long rows, int width, const float* row) {
  const long long n = rows * (long long)width;
  for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
    dst[i] = row[i % width];
}

extern "C" __global__ void lstm_forward_step(float* gates, const float* c_prev, int has_prev, float* c, float* h, int batch,
                                             int units) {
  const long long n = (long long)batch * units;
  for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
    const long long r = i / units;
    const int j = (int)(i - r * units);
    float* gr = gates + r * 4 * units;
    const float ig = sigmoid(gr[j]), fg = sigmoid(gr[units + j]), gg = tanhf(gr[2 * units + j]),
                og = sigmoid(gr[3 * units + j]);
    gr[j] = ig;
    gr[units + j] = fg;
    gr[2 * units + j] = gg;
    gr[3 * units + j] = og;
    const float cv = has_prev ? fg * c_prev[i] + ig * gg : ig * gg;
    c[i] = cv;
    h[i] = og * tanhf(cv);
  }
}

extern "C" __global__ void lstm_backward_step(const float* gates, const float* c, const float* c_prev, int has_prev,
                                              const float* dh, const float* dh_next, float* dc_next, float* dz, int batch,
                                              int units) {
  const long long n = (long long)batch * units;
  for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
    const long long r = i / units;
    const int j = (int)(i - r * units);
    const float* gr = gates + r * 4 * units;
    const float ig = gr[j], fg = gr[units + j], gg = gr[2 * units + j], og = gr[3 * units + j];
    const float tc = tanhf(c[i]);
    const float dhv = dh[i] + dh_next[i];
    const float dc = dhv * og * (1.0f - tc * tc) + dc_next[i];
    const float cp = has_prev ? c_prev[i] : 0.0f;
    float* d = dz + r * 4 * units;
    d[j] = dc * gg * ig * (1.0f - ig);
    d[units + j] = dc * cp * fg * (1.0f - fg);
    d[2 * units + j] = dc * ig * (1.0f - gg * gg);
    d[3 * units + j] = dhv * tc * og * (1.0f - og);
    dc_next[i] = dc * fg;
  }
}

// Block (32, 8), grid (ceil(cols / 32), parts): partial[p, j] = Σ x[r, j] over
// the rows r ≡ 8p + y (mod 8·parts) of thread row y, summed in f64.
extern "C" __global__ void lstm_column_sums_partial(const float* x, long long rows, int cols, double* partial) {
  __shared__ double acc[8][33];
  const int j = blockIdx.x * 32 + threadIdx.x;
  double s = 0.0;
  if (j < cols)
    for (long long r = (long long)blockIdx.y * 8 + threadIdx.y; r < rows; r += 8LL * gridDim.y) s += (double)x[r * cols + j];
  acc[threadIdx.y][threadIdx.x] = s;
  __syncthreads();
  if (threadIdx.y == 0 && j < cols) {
    double t = 0.0;
    for (int q = 0; q < 8; ++q) t += acc[q][threadIdx.x];
    partial[(long long)blockIdx.y * cols + j] = t;
  }
}

extern "C" __global__ void lstm_column_sums_finish(const double* partial, int parts, int cols, float* out) {
  for (int j = blockIdx.x * blockDim.x + threadIdx.x; j < cols; j += gridDim.x * blockDim.x) {
    double t = 0.0;
    for (int p = 0; p < parts; ++p) t += partial[(long long)p * cols + j];
    out[j] = (float)t;
  }
}
