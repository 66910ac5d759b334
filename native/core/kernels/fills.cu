// Execution simulator (fills): CUDA mirror of native/core/src/fills/cpu.rs
// (`bin_step_with`, the spec; the rules are listed in fills/mod.rs), launched
// by native/core/src/fills/cuda.rs.
//
// Layout: price, volume, schedule row-major [batch, h]; per-order arrays
// [batch]. One thread per order runs its h bins in order. Every operation is
// an explicitly rounded IEEE double operation (__dadd_rn, __dmul_rn, ...), so
// nvcc cannot fuse a multiply and an add: results equal the CPU's bit for bit
// (pow for beta other than 0.5 and 1 may differ in the last bits).
// flag[b] = 1 marks an order with an invalid input: the host re-runs the CPU
// validation so that the error is the CPU's. Cost: one read of the three
// [batch, h] arrays and one write of the two per-bin results.

#include <math.h>

#define ADD(a, b) __dadd_rn((a), (b))
#define SUB(a, b) __dsub_rn((a), (b))
#define MUL(a, b) __dmul_rn((a), (b))
#define DIV(a, b) __ddiv_rn((a), (b))

// The 11 f64 results per order, in the order of fills::ORDER_F64_FIELDS.
enum {
  O_FILLED = 0,
  O_NOTIONAL,
  O_SPREAD,
  O_TEMP,
  O_PERM,
  O_FEE,
  O_BLOCKED,
  O_MAXPART,
  O_MKT_V,
  O_MKT_VWAP,
  O_SHORTFALL,
  O_COUNT
};

__device__ __forceinline__ bool finite_nonneg(double x) { return x >= 0.0 && x < INFINITY; }
__device__ __forceinline__ bool finite_pos(double x) { return x > 0.0 && x < INFINITY; }

extern "C" __global__ void fills_f64(const double* __restrict__ price, const double* __restrict__ volume,
                                     const double* __restrict__ schedule, const double* __restrict__ sigma,
                                     const double* __restrict__ half_spread_bps, const double* __restrict__ quantity,
                                     const signed char* __restrict__ side, const double* __restrict__ limit_price,
                                     int has_limit, const double* __restrict__ arrival_price, int has_arrival,
                                     const unsigned char* __restrict__ passive, int passive_mode, long long batch, int h,
                                     double rho, int power, double beta, double eta, double gamma, double taker_rate,
                                     double maker_rate, int sweep_final, double sweep_extra, int stop_on,
                                     double stop_rel, double passive_share, double* __restrict__ filled,
                                     double* __restrict__ fill_price, double* __restrict__ per_order,
                                     int* __restrict__ ints, int* __restrict__ flag) {
  long long b = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (b >= batch) return;
  const long long o = b * (long long)h;

  // Validation (the CPU names the exact problem when this flags the order).
  const double Q = quantity[b], sg = sigma[b], hsb = half_spread_bps[b];
  const int sd = side[b];
  bool ok = finite_nonneg(Q) && finite_nonneg(sg) && finite_nonneg(hsb) && (sd == 1 || sd == -1);
  const double lim = has_limit ? limit_price[b] : NAN;
  if (has_limit) ok = ok && (isnan(lim) || finite_pos(lim));
  const double arrival = has_arrival ? arrival_price[b] : NAN;
  if (has_arrival) ok = ok && finite_pos(arrival);
  if (passive_mode == 2) ok = ok && passive[b] <= 1;
  for (int t = 0; t < h; ++t) {
    ok = ok && finite_pos(price[o + t]) && finite_nonneg(volume[o + t]) && finite_nonneg(schedule[o + t]);
  }
  if (!ok) {
    flag[b] = 1;
    return;
  }
  flag[b] = 0;

  // Constants (OrderConst::of).
  const double s = (double)sd;
  const double eta_sigma = MUL(eta, sg);
  const double hs = MUL(hsb, 1e-4);
  const bool pas = passive_mode == 1 || (passive_mode == 2 && passive[b] != 0);

  // State (OrderState::start).
  double carry = 0.0, fq = 0.0, notional = 0.0, spread_cost = 0.0, temp_cost = 0.0, perm_cost = 0.0, fee_cost = 0.0;
  double part_sum = 0.0, max_part = 0.0, blocked_qty = 0.0, mkt_v = 0.0, mkt_vp = 0.0, zero_bins = 0.0;
  double stopped_at = -1.0;

  for (int t = 0; t < h; ++t) {
    const double a = schedule[o + t], p = price[o + t], v = volume[o + t];
    const bool last = t + 1 == h;
    // 1. market sums
    mkt_v = ADD(mkt_v, v);
    mkt_vp = ADD(mkt_vp, MUL(v, p));
    zero_bins = ADD(zero_bins, v == 0.0 ? 1.0 : 0.0);
    // 2.-3. target; stopped orders and zero-volume bins fill nothing
    const double target = ADD(MUL(Q, a), carry);
    const bool running = stopped_at < 0.0;
    const bool active = running && v > 0.0;
    // 4. cap and quantity
    const bool sweep = last && sweep_final;
    const bool passive_bin = pas && !sweep;
    const double cap = MUL(MUL(rho, v), passive_bin ? passive_share : 1.0);
    const double q = sweep ? target : (cap < target ? cap : target);
    // 5. impact
    const double x = DIV(q, v);
    const double pw = power == 0 ? __dsqrt_rn(x) : (power == 1 ? x : pow(x, beta));
    double temp = MUL(eta_sigma, pw);
    if (sweep && q > cap) temp = MUL(temp, ADD(1.0, MUL(sweep_extra, DIV(SUB(q, cap), q))));
    const double perm = MUL(gamma, part_sum);
    // 6. price
    const double spread = passive_bin ? 0.0 : hs;
    const double f = MUL(p, ADD(1.0, MUL(s, ADD(ADD(spread, temp), perm))));
    // 7. collar (NaN limit: false)
    const bool tries = active && q > 0.0;
    const bool blocked = MUL(s, SUB(f, lim)) > 0.0;
    const bool fills = tries && !blocked;
    if (tries && blocked) blocked_qty = ADD(blocked_qty, q);
    // 8. fill
    if (fills) {
      const double qf = MUL(q, f);
      const double pq = MUL(p, q);
      const double rate = passive_bin ? maker_rate : taker_rate;
      fq = ADD(fq, q);
      notional = ADD(notional, qf);
      spread_cost = ADD(spread_cost, MUL(pq, spread));
      temp_cost = ADD(temp_cost, MUL(pq, temp));
      perm_cost = ADD(perm_cost, MUL(pq, perm));
      fee_cost = ADD(fee_cost, MUL(rate, qf));
      part_sum = ADD(part_sum, x);
      if (x > max_part) max_part = x;
      carry = SUB(target, q);
    } else {
      carry = target;
    }
    // 9. emergency stop
    if (stop_on && !last) {
      const double fw = MUL(fq, mkt_vp);
      const double excess = MUL(s, SUB(MUL(notional, mkt_v), fw));
      if (running && fq > 0.0 && excess > MUL(stop_rel, fw)) stopped_at = (double)t;
    }
    filled[o + t] = fills ? q : 0.0;
    fill_price[o + t] = fills ? f : NAN;
  }

  per_order[O_FILLED * batch + b] = fq;
  per_order[O_NOTIONAL * batch + b] = notional;
  per_order[O_SPREAD * batch + b] = spread_cost;
  per_order[O_TEMP * batch + b] = temp_cost;
  per_order[O_PERM * batch + b] = perm_cost;
  per_order[O_FEE * batch + b] = fee_cost;
  per_order[O_BLOCKED * batch + b] = blocked_qty;
  per_order[O_MAXPART * batch + b] = max_part;
  per_order[O_MKT_V * batch + b] = mkt_v;
  per_order[O_MKT_VWAP * batch + b] = DIV(mkt_vp, mkt_v);
  per_order[O_SHORTFALL * batch + b] = MUL(s, SUB(notional, MUL(fq, arrival)));
  ints[b] = (int)zero_bins;
  ints[batch + b] = (int)stopped_at;
}
