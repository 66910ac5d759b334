//! Execution simulator (fills): hand-computed cases for each rule, named
//! shapes, stepped == batch bit for bit, thread invariance, and every error.

mod common;
use common::Rng;
use sigvwap_core::fills::{simulate_fills, FillInputs, FillOutputs, FillParams, FillSimulator, FinalBin, Passive};
use sigvwap_core::{pool, CoreError, ErrorCode};

/// One order's market and order data (owned), for building `FillInputs`.
#[derive(Clone, Debug)]
struct Book {
    batch: usize,
    horizon: usize,
    price: Vec<f64>,
    volume: Vec<f64>,
    sigma: Vec<f64>,
    half_spread_bps: Vec<f64>,
    quantity: Vec<f64>,
    side: Vec<i8>,
    limit: Option<Vec<f64>>,
    arrival: Option<Vec<f64>>,
    passive: Option<Vec<u8>>,
    passive_all: bool,
}

impl Book {
    /// One order: quantity q, side s, no spread, no volatility.
    fn one(price: &[f64], volume: &[f64], q: f64, side: i8) -> Book {
        Book {
            batch: 1,
            horizon: price.len(),
            price: price.to_vec(),
            volume: volume.to_vec(),
            sigma: vec![0.0],
            half_spread_bps: vec![0.0],
            quantity: vec![q],
            side: vec![side],
            limit: None,
            arrival: None,
            passive: None,
            passive_all: false,
        }
    }

    fn inputs(&self) -> FillInputs<'_> {
        FillInputs {
            batch: self.batch,
            horizon: self.horizon,
            price: &self.price,
            volume: &self.volume,
            sigma: &self.sigma,
            half_spread_bps: &self.half_spread_bps,
            quantity: &self.quantity,
            side: &self.side,
            limit_price: self.limit.as_deref(),
            arrival_price: self.arrival.as_deref(),
            passive: match (&self.passive, self.passive_all) {
                (Some(p), _) => Passive::PerOrder(p),
                (None, true) => Passive::All,
                (None, false) => Passive::None,
            },
        }
    }
}

/// No costs at all: impact, spread and fees off.
fn free() -> FillParams {
    FillParams { impact_eta: 0.0, taker_fee_bps: 0.0, maker_fee_bps: 0.0, ..FillParams::default() }
}

fn batch_run(book: &Book, schedule: &[f64], p: &FillParams) -> Result<FillOutputs, CoreError> {
    let mut o = FillOutputs::new(book.batch, book.horizon).unwrap();
    simulate_fills(&book.inputs(), schedule, p, &mut o.as_out())?;
    Ok(o)
}

/// Batch and stepped runs, which must agree bit for bit; returns the batch's.
fn run(book: &Book, schedule: &[f64], p: &FillParams) -> FillOutputs {
    let a = batch_run(book, schedule, p).unwrap();
    let b = stepped_only(book, schedule, p).unwrap();
    assert_same(&a, &b, "batch vs stepped");
    a
}

fn stepped_only(book: &Book, schedule: &[f64], p: &FillParams) -> Result<FillOutputs, CoreError> {
    let (b, h) = (book.batch, book.horizon);
    let mut sim = FillSimulator::new(&book.inputs(), p)?;
    let (mut f, mut fp) = (vec![0.0; b], vec![0.0; b]);
    let mut cols_f = vec![0.0; b * h];
    let mut cols_p = vec![0.0; b * h];
    for t in 0..h {
        let col: Vec<f64> = (0..b).map(|i| schedule[i * h + t]).collect();
        sim.step(&col, &mut f, &mut fp, None)?;
        for i in 0..b {
            cols_f[i * h + t] = f[i];
            cols_p[i * h + t] = fp[i];
        }
    }
    let out = sim.finish()?;
    // What each step returned is what finish reports.
    assert!(bits_eq(&cols_f, &out.filled) && bits_eq(&cols_p, &out.fill_price), "step outputs vs finish");
    Ok(out)
}

fn bits_eq(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}

fn assert_same(a: &FillOutputs, b: &FillOutputs, what: &str) {
    let pairs: [(&str, &[f64], &[f64]); 13] = [
        ("filled", &a.filled, &b.filled),
        ("fillPrice", &a.fill_price, &b.fill_price),
        ("filledQty", &a.filled_qty, &b.filled_qty),
        ("notional", &a.notional, &b.notional),
        ("spreadCost", &a.spread_cost, &b.spread_cost),
        ("temporaryImpactCost", &a.temporary_impact_cost, &b.temporary_impact_cost),
        ("permanentImpactCost", &a.permanent_impact_cost, &b.permanent_impact_cost),
        ("feeCost", &a.fee_cost, &b.fee_cost),
        ("collarBlockedQty", &a.collar_blocked_qty, &b.collar_blocked_qty),
        ("maxParticipation", &a.max_participation, &b.max_participation),
        ("marketVolume", &a.market_volume, &b.market_volume),
        ("marketVwap", &a.market_vwap, &b.market_vwap),
        ("shortfallCost", &a.shortfall_cost, &b.shortfall_cost),
    ];
    for (name, x, y) in pairs {
        assert!(bits_eq(x, y), "{what}: {name} differs:\n{x:?}\n{y:?}");
    }
    assert_eq!(a.zero_volume_bins, b.zero_volume_bins, "{what}: zeroVolumeBins");
    assert_eq!(a.stopped_at, b.stopped_at, "{what}: stoppedAt");
}

fn close(got: f64, want: f64, tol: f64, what: &str) {
    assert!((got - want).abs() <= tol * want.abs().max(1.0), "{what}: got {got}, want {want}");
}

// ---------------------------------------------------------------- rules

#[test]
fn cap_and_carry() {
    // Q = 100 over 3 bins, cap 10 % of volume: bin 0 is capped at 20, the
    // 30 left over carries into bin 1 (target 60 <= cap 100).
    let book = Book::one(&[100.0; 3], &[200.0, 1000.0, 1000.0], 100.0, 1);
    let o = run(&book, &[0.5, 0.3, 0.2], &FillParams { final_bin: FinalBin::Leave, ..free() });
    assert_eq!(o.filled, vec![20.0, 60.0, 20.0]);
    assert_eq!(o.fill_price, vec![100.0; 3]);
    assert_eq!(o.filled_qty, vec![100.0]);
    assert_eq!(o.notional, vec![10_000.0]);
    assert_eq!(o.max_participation, vec![0.1]);
    assert_eq!(o.market_volume, vec![2200.0]);
    assert_eq!(o.market_vwap, vec![100.0]);
    assert_eq!(o.stopped_at, vec![-1]);
    assert!(o.shortfall_cost[0].is_nan(), "no arrival price: NaN");
}

#[test]
fn final_sweep_vs_leave() {
    // Bin 0: target 50, cap 10 -> 10, carry 40. Bin 1: target 90, cap 10.
    let book = Book::one(&[100.0, 100.0], &[100.0, 100.0], 100.0, 1);
    let leave = run(&book, &[0.5, 0.5], &FillParams { final_bin: FinalBin::Leave, ..free() });
    assert_eq!(leave.filled, vec![10.0, 10.0]);
    assert_eq!(leave.filled_qty, vec![20.0]);
    let sweep = run(&book, &[0.5, 0.5], &free());
    assert_eq!(sweep.filled, vec![10.0, 90.0]);
    assert_eq!(sweep.filled_qty, vec![100.0]);
    assert_eq!(sweep.max_participation, vec![0.9]);

    // With impact: σ = 0.01, η = 0.5. Bin 0: x = 0.1, temp = 0.005·√0.1 =
    // 0.00158113883; bin 1 sweeps x = 0.9: temp = 0.005·√0.9 = 0.00474341649.
    let mut b2 = book.clone();
    b2.sigma = vec![0.01];
    let p = FillParams { impact_eta: 0.5, ..free() };
    let o = run(&b2, &[0.5, 0.5], &p);
    close(o.fill_price[0], 100.158113883, 1e-11, "bin 0 price");
    close(o.fill_price[1], 100.474341649, 1e-11, "sweep price (M = 1)");
    close(o.temporary_impact_cost[0], 10.0 * 0.158113883 + 90.0 * 0.474341649, 1e-9, "temporary cost");
    // M = 3: the 80 above the cap pay 3×: temp ×= 1 + 2·80/90 = 2.7777...
    let o3 = run(&b2, &[0.5, 0.5], &FillParams { sweep_impact_multiplier: 3.0, ..p });
    close(o3.fill_price[1], 100.0 * (1.0 + 0.00474341649 * (1.0 + 2.0 * 80.0 / 90.0)), 1e-11, "sweep price (M = 3)");
    assert_eq!(o3.fill_price[0], o.fill_price[0], "M only acts on the sweep");
    // A sweep within the cap pays no extra: targets 5 and 5 <= cap 10.
    let o4 = run(&b2, &[0.05, 0.05], &FillParams { sweep_impact_multiplier: 3.0, ..p });
    let o5 = run(&b2, &[0.05, 0.05], &p);
    assert_eq!(o4.filled, vec![5.0, 5.0]);
    assert_eq!(o4.fill_price, o5.fill_price);
}

#[test]
fn single_bin_sweeps_everything_or_leaves_the_rest() {
    // T = 1: the only bin is the last one.
    let book = Book::one(&[50.0], &[10.0], 7.0, -1);
    let o = run(&book, &[1.0], &free());
    assert_eq!(o.filled, vec![7.0]);
    assert_eq!(o.max_participation, vec![0.7]);
    let o = run(&book, &[1.0], &FillParams { final_bin: FinalBin::Leave, ..free() });
    assert_eq!(o.filled, vec![1.0]);
    assert_eq!(o.filled_qty, vec![1.0]);
}

#[test]
fn collar_blocks_a_bin_and_the_quantity_carries() {
    // Buy, limit 100.05, half spread 2 bps: bin 0 fills at 100.02, bin 1
    // would fill at 100.1·1.0002 = 100.12002 > limit: blocked, carried.
    let mut book = Book::one(&[100.0, 100.1, 100.0], &[1e6; 3], 30.0, 1);
    book.half_spread_bps = vec![2.0];
    book.limit = Some(vec![100.05]);
    let o = run(&book, &[0.5, 0.25, 0.25], &free());
    assert_eq!(o.filled, vec![15.0, 0.0, 15.0]);
    close(o.fill_price[0], 100.02, 1e-14, "bin 0");
    assert!(o.fill_price[1].is_nan());
    close(o.fill_price[2], 100.02, 1e-14, "bin 2");
    assert_eq!(o.collar_blocked_qty, vec![7.5]);
    close(o.spread_cost[0], 30.0 * 100.0 * 2e-4, 1e-12, "spread cost");

    // Sell, limit 99.95: bin 1 at 99.9·(1 − 0.0002) = 99.88002 < limit: blocked.
    let mut sell = Book::one(&[100.0, 99.9, 100.0], &[1e6; 3], 30.0, -1);
    sell.half_spread_bps = vec![2.0];
    sell.limit = Some(vec![99.95]);
    let o = run(&sell, &[0.5, 0.25, 0.25], &free());
    assert_eq!(o.filled, vec![15.0, 0.0, 15.0]);
    close(o.fill_price[0], 99.98, 1e-14, "sell bin 0");
    assert_eq!(o.collar_blocked_qty, vec![7.5]);

    // NaN limit: no collar.
    sell.limit = Some(vec![f64::NAN]);
    let o = run(&sell, &[0.5, 0.25, 0.25], &free());
    assert_eq!(o.filled, vec![15.0, 7.5, 7.5]);
    assert_eq!(o.collar_blocked_qty, vec![0.0]);

    // A blocked sweep leaves the remainder unfilled.
    let mut last = Book::one(&[100.0, 101.0], &[1e6; 2], 10.0, 1);
    last.limit = Some(vec![100.5]);
    let o = run(&last, &[0.5, 0.5], &free());
    assert_eq!(o.filled, vec![5.0, 0.0]);
    assert_eq!(o.filled_qty, vec![5.0]);
    assert_eq!(o.collar_blocked_qty, vec![5.0]);
}

#[test]
fn emergency_stop() {
    // Buy 100 over prices 100, 110, 90 (volume 1000 each, no cap binding).
    // After bin 1: average (10·100 + 60·110)/70 = 108.5714, market VWAP 105:
    // slippage 340.1 bps > 50 -> stop at bin 1; bin 2 (and the sweep) fill nothing.
    let book = Book::one(&[100.0, 110.0, 90.0], &[1000.0; 3], 100.0, 1);
    let p = FillParams { stop_slippage_bps: 50.0, ..free() };
    let o = run(&book, &[0.1, 0.6, 0.3], &p);
    assert_eq!(o.stopped_at, vec![1]);
    assert_eq!(o.filled, vec![10.0, 60.0, 0.0]);
    assert_eq!(o.filled_qty, vec![70.0]);
    // Just above the running slippage: no stop.
    let slip = ((7600.0 / 70.0) / 105.0 - 1.0) * 1e4;
    close(slip, 340.136054, 1e-8, "hand-computed slippage");
    let o = run(&book, &[0.1, 0.6, 0.3], &FillParams { stop_slippage_bps: 340.2, ..free() });
    assert_eq!(o.stopped_at, vec![-1]);
    assert_eq!(o.filled_qty, vec![100.0]);
    // The last bin never stops an order (nothing left to stop).
    let late = Book::one(&[100.0, 120.0], &[1000.0; 2], 100.0, 1);
    let o = run(&late, &[0.1, 0.9], &FillParams { stop_slippage_bps: 1.0, ..free() });
    assert_eq!(o.stopped_at, vec![-1]);
    // Sell side: prices falling is the cost.
    let sell = Book::one(&[100.0, 90.0, 110.0], &[1000.0; 3], 100.0, -1);
    let o = run(&sell, &[0.1, 0.6, 0.3], &p);
    assert_eq!(o.stopped_at, vec![1]);
    assert_eq!(o.filled_qty, vec![70.0]);
    // Default: off.
    let o = run(&book, &[0.1, 0.6, 0.3], &free());
    assert_eq!(o.stopped_at, vec![-1]);
}

#[test]
fn temporary_and_permanent_impact() {
    // σ = 0.02, η = 0.5, γ = 0.1, V = 1000, q = 50 per bin: x = 0.05,
    // temp = 0.01·√0.05 = 0.0022360679775; perm(bin 1) = 0.1·0.05 = 0.005.
    let mut book = Book::one(&[100.0, 100.0], &[1000.0, 1000.0], 100.0, 1);
    book.sigma = vec![0.02];
    let p = FillParams { impact_eta: 0.5, permanent_gamma: 0.1, ..free() };
    let o = run(&book, &[0.5, 0.5], &p);
    close(o.fill_price[0], 100.22360679775, 1e-11, "bin 0");
    close(o.fill_price[1], 100.72360679775, 1e-11, "bin 1");
    close(o.temporary_impact_cost[0], 2.0 * 5000.0 * 0.0022360679775, 1e-9, "temporary cost");
    close(o.permanent_impact_cost[0], 25.0, 1e-12, "permanent cost");
    // Identity: side·(notional − Σ q p) = spread + temporary + permanent.
    let excess = o.notional[0] - 100.0 * 100.0;
    close(excess, o.spread_cost[0] + o.temporary_impact_cost[0] + o.permanent_impact_cost[0], 1e-12, "identity");

    // A sell pays the same costs (prices move down).
    let mut sell = book.clone();
    sell.side = vec![-1];
    let s = run(&sell, &[0.5, 0.5], &p);
    close(s.fill_price[1], 99.27639320225, 1e-11, "sell bin 1");
    assert_eq!(s.temporary_impact_cost, o.temporary_impact_cost);
    assert_eq!(s.permanent_impact_cost, o.permanent_impact_cost);

    // β = 1 (linear) and β = 0.6 (pow).
    let lin = run(&book, &[0.5, 0.5], &FillParams { impact_beta: 1.0, ..p });
    close(lin.fill_price[0], 100.0 * (1.0 + 0.01 * 0.05), 1e-14, "beta 1");
    let b6 = run(&book, &[0.5, 0.5], &FillParams { impact_beta: 0.6, ..p });
    close(b6.fill_price[0], 100.0 * (1.0 + 0.01 * 0.05f64.powf(0.6)), 1e-14, "beta 0.6");
    close(0.05f64.powf(0.6), 0.16573, 1e-4, "hand value of 0.05^0.6");
}

#[test]
fn fees_taker_and_maker() {
    let mut book = Book::one(&[100.0, 100.0], &[1e6; 2], 10.0, 1);
    book.half_spread_bps = vec![1.0];
    let p = FillParams { taker_fee_bps: 2.0, maker_fee_bps: -1.0, ..free() };
    let o = run(&book, &[0.5, 0.5], &p);
    // Both bins fill 5 at 100.01: fee = 0.0002 · 5 · 100.01 each.
    close(o.fee_cost[0], 2.0 * 0.0002 * 5.0 * 100.01, 1e-14, "taker fee");
    // Passive: no spread, maker rebate (−1 bps) at the bin price.
    book.passive_all = true;
    let o = run(&book, &[0.5, 0.5], &FillParams { final_bin: FinalBin::Leave, ..p });
    close(o.fee_cost[0], -2.0 * 0.0001 * 5.0 * 100.0, 1e-14, "maker rebate");
    assert_eq!(o.spread_cost, vec![0.0]);
    assert_eq!(o.fill_price, vec![100.0, 100.0]);
}

#[test]
fn passive_fills_at_most_a_share_of_the_cap_and_the_sweep_is_aggressive() {
    // Cap 10 % of 1000 = 100; passive share 0.5 -> 50 per bin.
    let mut book = Book::one(&[100.0; 3], &[1000.0; 3], 150.0, 1);
    book.half_spread_bps = vec![3.0];
    book.passive = Some(vec![1]);
    let p = FillParams { taker_fee_bps: 2.0, maker_fee_bps: 0.5, ..free() };
    let o = run(&book, &[1.0, 0.0, 0.0], &FillParams { final_bin: FinalBin::Leave, ..p });
    assert_eq!(o.filled, vec![50.0, 50.0, 50.0]);
    assert_eq!(o.fill_price, vec![100.0; 3]);
    assert_eq!(o.spread_cost, vec![0.0]);
    close(o.fee_cost[0], 0.5e-4 * 150.0 * 100.0, 1e-14, "maker fee");
    // With the sweep, the last bin crosses the spread and pays the taker fee.
    let o = run(&book, &[0.8, 0.2, 0.0], &p);
    assert_eq!(o.filled, vec![50.0, 50.0, 50.0]);
    close(o.fill_price[2], 100.03, 1e-14, "sweep price");
    close(o.spread_cost[0], 50.0 * 100.0 * 3e-4, 1e-12, "spread only on the sweep");
    close(o.fee_cost[0], 0.5e-4 * 100.0 * 100.0 + 2e-4 * 50.0 * 100.03, 1e-12, "maker + taker");
    // passiveFillShare 1: the same cap as an aggressive order.
    let o = run(&book, &[1.0, 0.0, 0.0], &FillParams { passive_fill_share: 1.0, final_bin: FinalBin::Leave, ..p });
    assert_eq!(o.filled, vec![100.0, 50.0, 0.0]);
    // Per order: order 1 aggressive.
    let mut two = book.clone();
    two.batch = 2;
    two.price = vec![100.0; 6];
    two.volume = vec![1000.0; 6];
    two.sigma = vec![0.0; 2];
    two.half_spread_bps = vec![3.0; 2];
    two.quantity = vec![150.0; 2];
    two.side = vec![1, 1];
    two.passive = Some(vec![1, 0]);
    let o = run(&two, &[1.0, 0.0, 0.0, 1.0, 0.0, 0.0], &FillParams { final_bin: FinalBin::Leave, ..p });
    assert_eq!(o.filled, vec![50.0, 50.0, 50.0, 100.0, 50.0, 0.0]);
}

#[test]
fn zero_volume_bins_carry_everything() {
    let book = Book::one(&[100.0, 100.0], &[0.0, 1000.0], 100.0, 1);
    let o = run(&book, &[0.5, 0.5], &FillParams { final_bin: FinalBin::Leave, ..free() });
    assert_eq!(o.filled, vec![0.0, 100.0]);
    assert!(o.fill_price[0].is_nan());
    assert_eq!(o.zero_volume_bins, vec![1]);
    // A zero-volume last bin cannot be swept: the remainder stays unfilled.
    let book = Book::one(&[100.0, 100.0], &[1000.0, 0.0], 100.0, 1);
    let o = run(&book, &[0.5, 0.5], &free());
    assert_eq!(o.filled, vec![50.0, 0.0]);
    assert_eq!(o.zero_volume_bins, vec![1]);
    // No volume at all: nothing fills, the market VWAP is undefined.
    let book = Book::one(&[100.0, 100.0], &[0.0, 0.0], 100.0, 1);
    let o = run(&book, &[0.5, 0.5], &free());
    assert_eq!(o.filled_qty, vec![0.0]);
    assert_eq!(o.zero_volume_bins, vec![2]);
    assert!(o.market_vwap[0].is_nan());
    assert_eq!(o.max_participation, vec![0.0]);
}

#[test]
fn shortfall_cost_against_the_arrival_price() {
    let mut book = Book::one(&[101.0, 99.0], &[1e6; 2], 10.0, -1);
    book.arrival = Some(vec![100.0]);
    let o = run(&book, &[0.5, 0.5], &free());
    // Sell 5 at 101 and 5 at 99: notional 1000 = 10 · arrival: no shortfall.
    assert_eq!(o.shortfall_cost, vec![0.0]);
    book.price = vec![99.0, 99.0];
    let o = run(&book, &[0.5, 0.5], &free());
    assert_eq!(o.shortfall_cost, vec![10.0]);
}

#[test]
fn stepped_strategy_reacts_to_a_capped_fill() {
    // A strategy that wants 60 in bin 0, sees only 10 filled (cap 10 % of 100)
    // and, rather than letting the 50 carry into bin 1, asks for nothing new
    // there: bin 1's target is just the carry.
    let book = Book::one(&[100.0; 3], &[100.0, 1000.0, 1000.0], 100.0, 1);
    let mut sim = FillSimulator::new(&book.inputs(), &free()).unwrap();
    let (mut f, mut fp, mut c) = ([0.0], [0.0], [0.0]);
    sim.step(&[0.6], &mut f, &mut fp, Some(&mut c)).unwrap();
    assert_eq!((f[0], c[0]), (10.0, 50.0));
    let next = if f[0] < 60.0 { 0.0 } else { 0.2 };
    sim.step(&[next], &mut f, &mut fp, Some(&mut c)).unwrap();
    assert_eq!((f[0], c[0]), (50.0, 0.0));
    assert_eq!(sim.filled_so_far(), vec![60.0]);
    sim.step(&[0.4], &mut f, &mut fp, Some(&mut c)).unwrap();
    assert_eq!(f[0], 40.0);
    let o = sim.finish().unwrap();
    assert_eq!(o.filled, vec![10.0, 50.0, 40.0]);
    assert_eq!(o.filled_qty, vec![100.0]);
}

// ---------------------------------------------------------------- shapes, parity, threads

/// Random orders exercising every rule: caps, zero-volume bins, collars,
/// passive orders, sells; schedules with zeros.
fn random_book(batch: usize, horizon: usize, seed: u64) -> (Book, Vec<f64>) {
    let mut r = Rng::new(seed);
    let n = batch * horizon;
    let mut price = Vec::with_capacity(n);
    let mut volume = Vec::with_capacity(n);
    let mut schedule = Vec::with_capacity(n);
    for _ in 0..batch {
        let mut p = 100.0 * (0.5 + r.next());
        let mut row = Vec::with_capacity(horizon);
        for _ in 0..horizon {
            p *= 1.0 + 0.01 * (r.next() - 0.5);
            price.push(p);
            volume.push(if r.next() < 0.05 { 0.0 } else { 10.0 + 1000.0 * r.next() });
            row.push(if r.next() < 0.1 { 0.0 } else { r.next() });
        }
        let s: f64 = row.iter().sum::<f64>().max(1e-9);
        schedule.extend(row.iter().map(|x| x / s));
    }
    let mut book = Book {
        batch,
        horizon,
        sigma: (0..batch).map(|_| 0.02 * r.next()).collect(),
        half_spread_bps: (0..batch).map(|_| 5.0 * r.next()).collect(),
        quantity: (0..batch).map(|_| 2000.0 * r.next()).collect(),
        side: (0..batch).map(|_| if r.next() < 0.5 { 1 } else { -1 }).collect(),
        limit: None,
        arrival: None,
        passive: Some((0..batch).map(|_| u8::from(r.next() < 0.3)).collect()),
        passive_all: false,
        price,
        volume,
    };
    book.limit = Some(
        (0..batch)
            .map(|b| if r.next() < 0.5 { f64::NAN } else { book.price[b * horizon] * (1.0 + 0.004 * (2 * book.side[b] as i32) as f64 * r.next()) })
            .collect(),
    );
    book.arrival = Some((0..batch).map(|b| book.price[b * horizon]).collect());
    (book, schedule)
}


fn all_on() -> FillParams {
    FillParams {
        permanent_gamma: 0.05,
        sweep_impact_multiplier: 2.0,
        stop_slippage_bps: 30.0,
        maker_fee_bps: -0.5,
        ..FillParams::default()
    }
}

const SHAPES: &[(&str, usize, usize)] =
    &[("b1-h1", 1, 1), ("b1-h2", 1, 2), ("b3-h2", 3, 2), ("b7-h5", 7, 5), ("b1-h12", 1, 12), ("b4097-h12", 4097, 12), ("b2049-h13", 2049, 13)];

#[test]
fn stepped_equals_batch_bit_for_bit_on_named_shapes() {
    for &(name, batch, horizon) in SHAPES {
        for (pname, p) in [
            ("defaults", FillParams::default()),
            ("all-on", all_on()),
            ("leave-beta0.6", FillParams { final_bin: FinalBin::Leave, impact_beta: 0.6, ..all_on() }),
        ] {
            let (book, schedule) = random_book(batch, horizon, batch as u64 * 131 + horizon as u64);
            let a = batch_run(&book, &schedule, &p).unwrap();
            let b = stepped_only(&book, &schedule, &p).unwrap();
            assert_same(&a, &b, &format!("{name} {pname}"));
            // Sanity: never more than the quantity (sweep may reach it), costs >= 0 except fees.
            for i in 0..batch {
                assert!(a.filled_qty[i] <= book.quantity[i] * (1.0 + 1e-12), "{name} {pname} order {i} overfilled");
                assert!(a.spread_cost[i] >= 0.0 && a.temporary_impact_cost[i] >= 0.0 && a.permanent_impact_cost[i] >= 0.0);
            }
        }
    }
}

#[test]
fn the_rules_are_exercised_by_the_random_books() {
    let (book, schedule) = random_book(4097, 12, 7);
    let o = batch_run(&book, &schedule, &all_on()).unwrap();
    let count = |f: &dyn Fn(usize) -> bool| (0..4097).filter(|&i| f(i)).count();
    assert!(count(&|i| o.stopped_at[i] >= 0) > 10, "stops");
    assert!(count(&|i| o.collar_blocked_qty[i] > 0.0) > 10, "collars");
    assert!(count(&|i| o.zero_volume_bins[i] > 0) > 10, "zero-volume bins");
    assert!(count(&|i| o.max_participation[i] > 0.1 + 1e-12) > 10, "sweeps above the cap");
    assert!(count(&|i| o.fee_cost[i] < 0.0) > 10, "maker rebates");
}

#[test]
fn threads_do_not_change_results() {
    let (book, schedule) = random_book(9001, 12, 99);
    let p = all_on();
    pool::set_threads(1).unwrap();
    let one = batch_run(&book, &schedule, &p).unwrap();
    let one_s = stepped_only(&book, &schedule, &p).unwrap();
    pool::set_threads(3).unwrap();
    let three = batch_run(&book, &schedule, &p).unwrap();
    let three_s = stepped_only(&book, &schedule, &p).unwrap();
    pool::set_threads(std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2)).unwrap();
    assert_same(&one, &three, "1 vs 3 threads");
    assert_same(&one_s, &three_s, "stepped, 1 vs 3 threads");
    assert_same(&one, &one_s, "batch vs stepped");
}

#[test]
fn empty_batch() {
    let book = Book { batch: 0, horizon: 3, price: vec![], volume: vec![], sigma: vec![], half_spread_bps: vec![], quantity: vec![], side: vec![], limit: None, arrival: None, passive: None, passive_all: false };
    let o = run(&book, &[], &FillParams::default());
    assert!(o.filled.is_empty() && o.filled_qty.is_empty());
}

// ---------------------------------------------------------------- errors

fn expect_err(r: Result<FillOutputs, CoreError>, code: ErrorCode, argument: &str, needle: &str) -> CoreError {
    let e = r.expect_err("expected an error");
    assert_eq!(e.code, code, "{e}");
    assert!(e.data_json().contains(&format!("\"argument\":\"{argument}\"")), "{argument}: {}", e.data_json());
    assert!(e.message.contains(needle), "{needle:?} not in {:?}", e.message);
    e
}

#[test]
fn parameter_errors_name_the_parameter() {
    let (book, s) = random_book(3, 4, 1);
    let d = FillParams::default();
    let cases: Vec<(FillParams, &str)> = vec![
        (FillParams { max_participation: 0.0, ..d }, "maxParticipation"),
        (FillParams { max_participation: f64::NAN, ..d }, "maxParticipation"),
        (FillParams { impact_eta: -1.0, ..d }, "impactEta"),
        (FillParams { impact_beta: 0.0, ..d }, "impactBeta"),
        (FillParams { permanent_gamma: f64::INFINITY, ..d }, "permanentGamma"),
        (FillParams { taker_fee_bps: f64::NAN, ..d }, "takerFeeBps"),
        (FillParams { maker_fee_bps: f64::NEG_INFINITY, ..d }, "makerFeeBps"),
        (FillParams { sweep_impact_multiplier: -0.5, ..d }, "sweepImpactMultiplier"),
        (FillParams { stop_slippage_bps: f64::NAN, ..d }, "stopSlippageBps"),
        (FillParams { passive_fill_share: 1.5, ..d }, "passiveFillShare"),
    ];
    for (p, name) in cases {
        expect_err(batch_run(&book, &s, &p), ErrorCode::Arg, name, name);
        expect_err(stepped_only(&book, &s, &p), ErrorCode::Arg, name, name);
    }
}

#[test]
fn shape_errors_name_the_array_and_the_expected_length() {
    let (book, s) = random_book(3, 4, 2);
    let p = FillParams::default();
    type Edit = fn(&mut Book);
    let cases: Vec<(&str, usize, Edit)> = vec![
        ("price", 12, |b| b.price.pop().map(|_| ()).unwrap()),
        ("volume", 12, |b| b.volume.push(1.0)),
        ("sigma", 3, |b| b.sigma.pop().map(|_| ()).unwrap()),
        ("halfSpreadBps", 3, |b| b.half_spread_bps.push(0.0)),
        ("quantity", 3, |b| b.quantity.clear()),
        ("side", 3, |b| b.side.push(1)),
        ("limitPrice", 3, |b| b.limit = Some(vec![f64::NAN])),
        ("arrivalPrice", 3, |b| b.arrival = Some(vec![1.0; 4])),
        ("passive", 3, |b| b.passive = Some(vec![0; 2])),
    ];
    for (name, expected, edit) in cases {
        let mut b = book.clone();
        edit(&mut b);
        let e = expect_err(batch_run(&b, &s, &p), ErrorCode::Shape, name, &format!("expected {expected}"));
        assert_eq!(e.code, ErrorCode::Shape);
        expect_err(stepped_only(&b, &s, &p), ErrorCode::Shape, name, &format!("expected {expected}"));
    }
    expect_err(batch_run(&book, &s[..11], &p), ErrorCode::Shape, "schedule", "expected 12");
    // Outputs.
    let mut o = FillOutputs::new(3, 4).unwrap();
    o.market_vwap.pop();
    let e = simulate_fills(&book.inputs(), &s, &p, &mut o.as_out()).unwrap_err();
    assert_eq!(e.code, ErrorCode::Shape);
    assert!(e.data_json().contains("\"argument\":\"out.marketVwap\""), "{}", e.data_json());
    // horizon 0.
    let mut z = book.clone();
    z.horizon = 0;
    expect_err(batch_run_raw(&z, &s, &p), ErrorCode::Arg, "horizon", ">= 1");
}

fn batch_run_raw(book: &Book, schedule: &[f64], p: &FillParams) -> Result<FillOutputs, CoreError> {
    let mut o = FillOutputs::new(book.batch, 1).unwrap();
    simulate_fills(&book.inputs(), schedule, p, &mut o.as_out())?;
    Ok(o)
}

#[test]
fn value_errors_name_the_array_index_and_order() {
    let (book, s) = random_book(5, 4, 3);
    let p = FillParams::default();
    type Edit = fn(&mut Book, &mut Vec<f64>);
    let cases: Vec<(&str, ErrorCode, &str, Edit)> = vec![
        ("price", ErrorCode::NonFinite, "price[9]", |b, _| b.price[9] = f64::NAN),
        ("price", ErrorCode::Arg, "price[9]", |b, _| b.price[9] = 0.0),
        ("volume", ErrorCode::Arg, "volume[13]", |b, _| b.volume[13] = -1.0),
        ("volume", ErrorCode::NonFinite, "volume[13]", |b, _| b.volume[13] = f64::INFINITY),
        ("schedule", ErrorCode::NonFinite, "schedule[6]", |_, s| s[6] = f64::NAN),
        ("schedule", ErrorCode::Arg, "schedule[6]", |_, s| s[6] = -0.1),
        ("quantity", ErrorCode::Arg, "quantity[2]", |b, _| b.quantity[2] = -5.0),
        ("quantity", ErrorCode::NonFinite, "quantity[2]", |b, _| b.quantity[2] = f64::NAN),
        ("side", ErrorCode::Arg, "side[4]", |b, _| b.side[4] = 0),
        ("sigma", ErrorCode::NonFinite, "sigma[1]", |b, _| b.sigma[1] = f64::INFINITY),
        ("halfSpreadBps", ErrorCode::Arg, "halfSpreadBps[3]", |b, _| b.half_spread_bps[3] = -1.0),
        ("limitPrice", ErrorCode::Arg, "limitPrice[0]", |b, _| b.limit.as_mut().unwrap()[0] = -1.0),
        ("limitPrice", ErrorCode::NonFinite, "limitPrice[0]", |b, _| b.limit.as_mut().unwrap()[0] = f64::INFINITY),
        ("arrivalPrice", ErrorCode::Arg, "arrivalPrice[2]", |b, _| b.arrival.as_mut().unwrap()[2] = 0.0),
        ("passive", ErrorCode::Arg, "passive[1]", |b, _| b.passive.as_mut().unwrap()[1] = 2),
    ];
    for (name, code, needle, edit) in cases {
        let (mut b, mut sc) = (book.clone(), s.clone());
        edit(&mut b, &mut sc);
        expect_err(batch_run(&b, &sc, &p), code, name, needle);
        if name != "schedule" {
            expect_err(stepped_only(&b, &sc, &p), code, name, needle);
        }
    }
}

#[test]
fn the_lowest_failing_order_is_reported_whatever_the_threads() {
    let (mut book, s) = random_book(9000, 3, 4);
    book.price[7000 * 3 + 1] = f64::NAN;
    book.volume[3000 * 3 + 2] = -1.0;
    book.quantity[5000] = -1.0;
    for threads in [1, 2, 4] {
        pool::set_threads(threads).unwrap();
        let e = batch_run(&book, &s, &FillParams::default()).unwrap_err();
        assert!(e.message.contains("volume[9002]") && e.data_json().contains("\"order\":3000"), "{threads}: {e}");
        let e = stepped_only(&book, &s, &FillParams::default()).unwrap_err();
        assert!(e.message.contains("volume[9002]"), "{threads}: {e}");
    }
    pool::set_threads(std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2)).unwrap();
}

#[test]
fn stepped_call_errors() {
    let (book, _) = random_book(3, 2, 5);
    let p = FillParams::default();
    let mut sim = FillSimulator::new(&book.inputs(), &p).unwrap();
    let (mut f, mut fp) = (vec![0.0; 3], vec![0.0; 3]);
    let e = sim.step(&[0.5, 0.5], &mut f, &mut fp, None).unwrap_err();
    assert_eq!(e.code, ErrorCode::Shape);
    assert!(e.message.starts_with("fractions: expected 3"), "{e}");
    let e = sim.step(&[0.5, f64::NAN, 0.5], &mut f, &mut fp, None).unwrap_err();
    assert_eq!(e.code, ErrorCode::NonFinite);
    assert!(e.message.contains("fractions[1]"), "{e}");
    let e = sim.step(&[0.5, 0.5, -1.0], &mut f, &mut fp, None).unwrap_err();
    assert_eq!(e.code, ErrorCode::Arg);
    assert!(e.message.contains("fractions[2]"), "{e}");
    assert_eq!(sim.bin(), 0, "a failed step changes nothing");
    let e = sim.step(&[0.5; 3], &mut [0.0; 2], &mut fp, None).unwrap_err();
    assert!(e.message.starts_with("filled: expected 3"), "{e}");
    let e = sim.finish().unwrap_err();
    assert_eq!(e.code, ErrorCode::Arg);
    assert!(e.message.contains("only 0 of 2 bins"), "{e}");
    sim.step(&[0.5; 3], &mut f, &mut fp, None).unwrap();
    sim.step(&[0.5; 3], &mut f, &mut fp, None).unwrap();
    let e = sim.step(&[0.5; 3], &mut f, &mut fp, None).unwrap_err();
    assert!(e.message.contains("all 2 bins were simulated"), "{e}");
    let a = sim.finish().unwrap();
    let b = sim.finish().unwrap();
    assert_same(&a, &b, "finish twice");
}

/// Throughput probe (not a test of behaviour): `cargo test --release -p
/// sigvwap-core --test fills_cpu speed -- --ignored --nocapture`
/// (`FILLS_SPEED_BATCH` orders, default 200,000; `FILLS_SPEED_ONLY=1-defaults`
/// runs one case). Prints wall and CPU ns per order-bin: the CPU time stays
/// meaningful when other processes share the cores.
#[test]
#[ignore]
fn speed() {
    let horizon = 12;
    let batch: usize = std::env::var("FILLS_SPEED_BATCH").ok().and_then(|v| v.parse().ok()).unwrap_or(200_000);
    let (book, schedule) = random_book(batch, horizon, 1);
    let mut o = FillOutputs::new(batch, horizon).unwrap();
    let only = std::env::var("FILLS_SPEED_ONLY").unwrap_or_default();
    for threads in [1, 2] {
        pool::set_threads(threads).unwrap();
        for (name, p) in [("defaults", FillParams::default()), ("all-on", all_on())] {
            if !only.is_empty() && only != format!("{threads}-{name}") {
                continue;
            }
            let (mut best, mut best_cpu) = (f64::INFINITY, f64::INFINITY);
            for _ in 0..(3_000_000 / batch).clamp(30, 3000) {
                let (t0, c0) = (std::time::Instant::now(), cpu_seconds());
                simulate_fills(&book.inputs(), &schedule, &p, &mut o.as_out()).unwrap();
                best = best.min(t0.elapsed().as_secs_f64());
                best_cpu = best_cpu.min(cpu_seconds() - c0);
            }
            let nb = (batch * horizon) as f64;
            println!(
                "{threads} thr {name}: {:.2} ns/order-bin wall, {:.0} M order-bins/s; {:.2} CPU-ns/order-bin",
                best / nb * 1e9,
                nb / best / 1e6,
                best_cpu / nb * 1e9
            );
        }
    }
}

/// CPU time of this process (all threads), seconds (0 off Linux).
fn cpu_seconds() -> f64 {
    #[cfg(target_os = "linux")]
    {
        let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
        // SAFETY: a valid out-pointer.
        unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
        ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
    }
    #[cfg(not(target_os = "linux"))]
    0.0
}

/// The memory floor of the batch call's access pattern: read three
/// [batch, horizon] arrays, write two (`cargo test ... stream_floor -- --ignored --nocapture`).
#[test]
#[ignore]
fn stream_floor() {
    use rayon::prelude::*;
    let n: usize = std::env::var("FILLS_SPEED_BATCH").ok().and_then(|v| v.parse().ok()).unwrap_or(200_000) * 12;
    let (a, p, v) = (vec![1.0f64; n], vec![2.0f64; n], vec![3.0f64; n]);
    let (mut x, mut y) = (vec![0.0f64; n], vec![0.0f64; n]);
    for threads in [1, 2] {
        pool::set_threads(threads).unwrap();
        let mut best = f64::INFINITY;
        for _ in 0..30 {
            let t0 = std::time::Instant::now();
            pool::install(|| {
                x.par_chunks_mut(1 << 14).zip(y.par_chunks_mut(1 << 14)).enumerate().for_each(|(c, (x, y))| {
                    let o = c << 14;
                    for j in 0..x.len() {
                        x[j] = a[o + j] * p[o + j];
                        y[j] = v[o + j] + p[o + j];
                    }
                })
            });
            best = best.min(t0.elapsed().as_secs_f64());
        }
        println!("{threads} thr stream 3 in 2 out: {:.2} ns/element, {:.1} GB/s", best / n as f64 * 1e9, 40.0 * n as f64 / best / 1e9);
    }
}
