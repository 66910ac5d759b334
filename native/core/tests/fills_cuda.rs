//! CPU-vs-CUDA parity of the fill simulator (feature `cuda`), through the
//! device dispatch `simulate_fills_on`. Without a usable GPU each test prints
//! a visible SKIPPED line and returns.
#![cfg(feature = "cuda")]

mod common;
use common::gpu_or_skip;
use sigvwap_core::device::Device;
use sigvwap_core::fills::{simulate_fills, simulate_fills_on, FillInputs, FillOutputs, FillParams, FinalBin, Passive};
use sigvwap_core::ErrorCode;


/// Owned random market exercising every rule (as in fills_cpu.rs).
struct Data {
    batch: usize,
    horizon: usize,
    price: Vec<f64>,
    volume: Vec<f64>,
    schedule: Vec<f64>,
    sigma: Vec<f64>,
    hs: Vec<f64>,
    qty: Vec<f64>,
    side: Vec<i8>,
    limit: Vec<f64>,
    arrival: Vec<f64>,
    passive: Vec<u8>,
}

fn data(batch: usize, horizon: usize, seed: u64) -> Data {
    let mut s = seed.wrapping_mul(0x9E3779B97F4A7C15) | 1;
    let mut r = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 11) as f64 / (1u64 << 53) as f64
    };
    let n = batch * horizon;
    let (mut price, mut volume, mut schedule) = (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
    for _ in 0..batch {
        let mut p = 100.0 * (0.5 + r());
        let mut row = Vec::with_capacity(horizon);
        for _ in 0..horizon {
            p *= 1.0 + 0.01 * (r() - 0.5);
            price.push(p);
            volume.push(if r() < 0.05 { 0.0 } else { 10.0 + 1000.0 * r() });
            row.push(if r() < 0.1 { 0.0 } else { r() });
        }
        let sum: f64 = row.iter().sum::<f64>().max(1e-9);
        schedule.extend(row.iter().map(|x| x / sum));
    }
    let side: Vec<i8> = (0..batch).map(|_| if r() < 0.5 { 1 } else { -1 }).collect();
    let limit = (0..batch).map(|b| if r() < 0.5 { f64::NAN } else { price[b * horizon] * (1.0 + 0.008 * side[b] as f64 * r()) }).collect();
    Data {
        batch,
        horizon,
        sigma: (0..batch).map(|_| 0.02 * r()).collect(),
        hs: (0..batch).map(|_| 5.0 * r()).collect(),
        qty: (0..batch).map(|_| 2000.0 * r()).collect(),
        arrival: (0..batch).map(|b| price[b * horizon]).collect(),
        passive: (0..batch).map(|_| u8::from(r() < 0.3)).collect(),
        side,
        limit,
        price,
        volume,
        schedule,
    }
}

impl Data {
    fn inputs(&self) -> FillInputs<'_> {
        FillInputs {
            batch: self.batch,
            horizon: self.horizon,
            price: &self.price,
            volume: &self.volume,
            sigma: &self.sigma,
            half_spread_bps: &self.hs,
            quantity: &self.qty,
            side: &self.side,
            limit_price: Some(&self.limit),
            arrival_price: Some(&self.arrival),
            passive: Passive::PerOrder(&self.passive),
        }
    }
}

fn run(d: &Data, p: &FillParams, device: Device) -> FillOutputs {
    let mut o = FillOutputs::new(d.batch, d.horizon).unwrap();
    simulate_fills_on(device, &d.inputs(), &d.schedule, p, &mut o.as_out()).unwrap();
    o
}

/// Bit-for-bit equality (NaN == NaN), or, when `tol` > 0, |x - y| <= tol ·
/// max(|s_i|, 1) with s = `scale`, or x itself when `None`: for a difference
/// of large terms, the magnitude of those terms (a last-bit difference in
/// them is not small relative to the difference).
fn same(a: &[f64], b: &[f64], scale: Option<&[f64]>, tol: f64) -> Result<(), String> {
    if a.len() != b.len() || scale.is_some_and(|s| s.len() != a.len()) {
        return Err(format!("lengths {} and {} (scale {:?})", a.len(), b.len(), scale.map(<[f64]>::len)));
    }
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        let s = scale.map_or(*x, |s| s[i]);
        if x.to_bits() != y.to_bits() && !(tol > 0.0 && x.is_finite() && (x - y).abs() <= tol * s.abs().max(1.0)) {
            return Err(format!("[{i}]: CPU {x:e}, CUDA {y:e}, difference {:e} against scale {s:e}", (x - y).abs()));
        }
    }
    Ok(())
}

fn assert_parity(c: &FillOutputs, g: &FillOutputs, tol: f64, what: &str) {
    // shortfallCost = side · (notional - filled · arrival): measured against
    // the notional, which pow's last bits (beta != 1) move.
    let pairs: [(&str, &[f64], &[f64], Option<&[f64]>); 13] = [
        ("filled", &c.filled, &g.filled, None),
        ("fillPrice", &c.fill_price, &g.fill_price, None),
        ("filledQty", &c.filled_qty, &g.filled_qty, None),
        ("notional", &c.notional, &g.notional, None),
        ("spreadCost", &c.spread_cost, &g.spread_cost, None),
        ("temporaryImpactCost", &c.temporary_impact_cost, &g.temporary_impact_cost, None),
        ("permanentImpactCost", &c.permanent_impact_cost, &g.permanent_impact_cost, None),
        ("feeCost", &c.fee_cost, &g.fee_cost, None),
        ("collarBlockedQty", &c.collar_blocked_qty, &g.collar_blocked_qty, None),
        ("maxParticipation", &c.max_participation, &g.max_participation, None),
        ("marketVolume", &c.market_volume, &g.market_volume, None),
        ("marketVwap", &c.market_vwap, &g.market_vwap, None),
        ("shortfallCost", &c.shortfall_cost, &g.shortfall_cost, Some(&c.notional)),
    ];
    for (name, x, y, scale) in pairs {
        if let Err(at) = same(x, y, scale, tol) {
            panic!("{what}: {name} differs between CPU and CUDA at {at}");
        }
    }
    assert_eq!(c.zero_volume_bins, g.zero_volume_bins, "{what}: zeroVolumeBins");
    assert_eq!(c.stopped_at, g.stopped_at, "{what}: stoppedAt");
}

#[test]
fn cuda_matches_cpu_bit_for_bit() {
    if !gpu_or_skip("cuda_matches_cpu_bit_for_bit") {
        return;
    }
    let all_on = FillParams { permanent_gamma: 0.05, sweep_impact_multiplier: 2.0, stop_slippage_bps: 30.0, maker_fee_bps: -0.5, ..FillParams::default() };
    for (name, batch, horizon) in [("b1-h1", 1, 1), ("b3-h2", 3, 2), ("b7-h5", 7, 5), ("b1000-h12", 1000, 12), ("b100003-h13", 100_003, 13)] {
        let d = data(batch, horizon, batch as u64 + 7);
        for (pname, p, tol) in [
            ("defaults", FillParams::default(), 0.0),
            ("all-on", all_on, 0.0),
            ("leave-linear", FillParams { final_bin: FinalBin::Leave, impact_beta: 1.0, ..all_on }, 0.0),
            // pow: CUDA's and libm's may differ in the last bits.
            ("beta0.6", FillParams { impact_beta: 0.6, ..all_on }, 1e-12),
        ] {
            let c = run(&d, &p, Device::Cpu);
            let g = run(&d, &p, Device::Cuda);
            assert_parity(&c, &g, tol, &format!("{name} {pname}"));
        }
    }
}

#[test]
fn cuda_errors_are_the_cpus() {
    if !gpu_or_skip("cuda_errors_are_the_cpus") {
        return;
    }
    let mut d = data(5000, 6, 3);
    d.volume[4000 * 6 + 2] = -1.0;
    d.price[4500 * 6] = f64::NAN;
    let p = FillParams::default();
    let mut o = FillOutputs::new(d.batch, d.horizon).unwrap();
    let cpu = simulate_fills(&d.inputs(), &d.schedule, &p, &mut o.as_out()).unwrap_err();
    let gpu = simulate_fills_on(Device::Cuda, &d.inputs(), &d.schedule, &p, &mut o.as_out()).unwrap_err();
    assert_eq!(cpu, gpu);
    assert_eq!(gpu.code, ErrorCode::Arg);
    assert!(gpu.message.contains("volume[24002]"), "{gpu}");
}
